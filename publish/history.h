/*
 * publish/history.h - a site's deploys in the store, and rollback.
 *
 * Deploys are the manifests under sites/<site>/deploys/; ids sort by time
 * (sites_deploy_id_new) to the millisecond, so the listing's order is
 * their history. A
 * rollback flips live/<site> back to an earlier deploy with the same
 * conditional write as a publish (If-Match on the pointer's ETag) and
 * uploads nothing: the earlier deploy's blobs were never deleted while it
 * was kept. Before the flip it refreshes the deploy's old blobs and its
 * manifest, so that a gc running meanwhile keeps them (publish/gc.h,
 * point 5); if gc deleted any first, it fails and live stays.
 */
#ifndef PUBLISH_HISTORY_H
#define PUBLISH_HISTORY_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"
#include "sites/manifest.h"

struct publish_deploy_info {
    char id[SITES_DEPLOY_ID_MAX + 1];
    char commit[SITES_GIT_HEX_MAX + 1]; /* "" when unknown */
    int64_t created;
    size_t files;
    uint64_t bytes;
    bool live;
    bool loaded; /* the manifest was read (else only id and live) */
};

/* List site's deploys in id order (by time, to the second) into *out (the
 * caller frees it with pier_free); the last `load` of them have their manifests
 * read for the details (0: none). */
int publish_deploys_list(struct pier_s3_sync *s3, const char *site, size_t load,
                         struct publish_deploy_info **out, size_t *n,
                         struct pier_err *err);

struct publish_refresh_opts; /* publish/internal.h */

struct publish_rollback_result {
    char from[SITES_DEPLOY_ID_MAX + 1]; /* live before */
    char to[SITES_DEPLOY_ID_MAX + 1];   /* live now */
    size_t changed;                     /* paths in the delta */
    size_t refreshed; /* objects refreshed against gc, the manifest too */
    size_t edges_ok, edges_failed;
};

/* Make deploy `to` of site live (NULL: the live deploy's parent), then
 * POST the delta to the edges (nedges may be 0). cfg is the store behind
 * s3 (the refreshes run on a client of their own); ro how they run (NULL:
 * the defaults). PIER_ERR when there is no live deploy, no such deploy,
 * no parent, gc deleted some of what it needs, or another writer moved
 * the pointer meanwhile (err says so); live is then unchanged. out_fd
 * gets one line per edge (-1: none). */
int publish_rollback(struct pier_s3_sync *s3, const struct pier_s3_config *cfg,
                     const char *site, const char *to,
                     const struct publish_refresh_opts *ro,
                     const char *const *edges, size_t nedges,
                     const char *edge_token, unsigned edge_timeout_ms,
                     int out_fd, struct publish_rollback_result *res,
                     struct pier_err *err);

#endif
