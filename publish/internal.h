/*
 * publish/internal.h - what publish/'s modules share and nobody else
 * uses: the live pointer, stored manifests, and telling the edges.
 */
#ifndef PUBLISH_INTERNAL_H
#define PUBLISH_INTERNAL_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"
#include "sites/manifest.h"

#define PUBLISH_LIVE_MAX         1024                 /* bytes of live/<site> */
#define PUBLISH_MANIFEST_ZST_MAX (256u * 1024 * 1024) /* a stored manifest */
#define PUBLISH_MANIFEST_MAX     (1024u * 1024 * 1024) /* its JSON */

bool publish_err_is_404(const struct pier_err *err);
bool publish_err_is_412(const struct pier_err *err);

/* Read live/<site>: the deploy id into id ("" when the site has none) and
 * its ETag into *etag (the caller frees it; NULL when none). */
int publish_live_read(struct pier_s3_sync *s3, const char *site,
                      char id[SITES_DEPLOY_ID_MAX + 1], char **etag,
                      struct pier_err *err);

/* Point live/<site> at id, on condition that it still has etag (NULL: that
 * it does not exist). When another writer got there first, PIER_OK with
 * *lost set and winner holding what is live now ("" if unknown). */
int publish_live_flip(struct pier_s3_sync *s3, const char *site, const char *id,
                      const char *etag, bool *lost,
                      char winner[SITES_DEPLOY_ID_MAX + 1],
                      struct pier_err *err);

/* The manifest of deploy id of site. The caller owns the result. */
struct sites_manifest *publish_manifest_fetch(struct pier_s3_sync *s3,
                                              const char *site, const char *id,
                                              struct pier_err *err);

/* How a rollback refreshes its target's blobs (publish_blobs_refresh). */
struct publish_refresh_opts {
    unsigned jobs;         /* requests in flight; 0: PUBLISH_JOBS_DEFAULT */
    int64_t refresh_age_s; /* 0: PUBLISH_REFRESH_AGE_S; < 0: every key */
    void (*before_refresh)(void *arg); /* tests: before the first; NULL */
    void *hook_arg;
};

/* A rollback's guard against gc (publish/gc.h, point 5): every object m's
 * blobs need (each blob, and each variant m lists) whose LastModified is
 * older than the refresh age is refreshed, as a publish refreshes what it
 * reuses (the same survey, lookups and copies, in parallel). Blobs live
 * also lists are left alone, as a publish leaves its base's (point 4):
 * a rollback to the previous deploy costs requests for what changed, not
 * for the whole site. live may be NULL. *gone counts the blobs the store
 * lacks, or lacks a listed variant of (gc deleted them); *refreshed the
 * objects copied. PIER_ERR on any other failure. */
int publish_blobs_refresh(const struct pier_s3_config *cfg,
                          const struct sites_manifest *m,
                          const struct sites_manifest *live,
                          const struct publish_refresh_opts *o,
                          size_t *refreshed, size_t *gone,
                          struct pier_err *err);

/* Refresh deploy id's manifest (a copy onto itself in bucket, with the
 * headers its PUT sent); *gone when the store no longer has it. */
int publish_manifest_refresh(struct pier_s3_sync *s3, const char *bucket,
                             const char *site, const char *id, bool *gone,
                             struct pier_err *err);

/* POST delta to each edge's admin API (edges are base URLs such as
 * "http://127.0.0.1:8081"; the path is /v1/sites/{site}/activate), write
 * one line per edge to out_fd (-1: none) and count the answers. */
int publish_notify_delta(const struct sites_delta *delta,
                         const char *const *edges, size_t nedges,
                         const char *token, unsigned timeout_ms, int out_fd,
                         size_t *ok, size_t *failed, struct pier_err *err);

/* Tests only (publish/gc_cmd.c): create PATH.ready, then wait (at most a
 * minute) until PATH exists. arg is PATH. For the hooks that stage a
 * publish racing gc (PIER_TEST_GC_WAIT, PIER_TEST_PUBLISH_WAIT). */
void publish_test_wait(void *arg);

#endif
