/*
 * publish/deploy.h - one publish: from a commit to a live deploy.
 *
 * The steps, in order (ARCHITECTURE.md, "The data model"):
 *   1. read live/<site> (its ETag kept for the flip) and the live
 *      manifest; the same tree as the live deploy's commit is a no-op;
 *   2. the files: the commit's tree from the object database, or the
 *      output of pier.ini's [build] command run in a checkout;
 *      _redirects and _headers become the manifest's rules (a bad line
 *      fails here, before any upload);
 *   3. the asset graph (publish/graph.h): hashed names, rewritten pages;
 *      files whose git blob id the live manifest records are not read,
 *      and unchanged pages are not parsed unless they may reference a
 *      file whose name changed (see make_graph in deploy.c);
 *   4. blobs: those the live manifest lists are skipped without a
 *      request; others are checked with HEAD, and missing ones compressed
 *      on the thread pool and PUT with If-None-Match: * (variants first,
 *      so an existing identity blob means its variants are there too),
 *      `jobs` requests in flight;
 *   5. the manifest, PUT to sites/<site>/deploys/<id>.json.zst;
 *   6. live/<site> flipped with If-Match on the old ETag (If-None-Match: *
 *      for a first deploy); when another deploy won, it stays live and
 *      the result says so;
 *   7. the delta from the live deploy (sites/manifest.h) POSTed to every
 *      edge (publish/notify.h), each answer or failure reported.
 * Nothing is live until step 6, so a failure anywhere before leaves the
 * site as it was; an edge that does not answer does not undo anything.
 *
 * XXX: not done yet: pier.conf's [publish] section, a progress bar, SRI
 * integrity.
 */
#ifndef PUBLISH_DEPLOY_H
#define PUBLISH_DEPLOY_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"
#include "sites/manifest.h"

#define PUBLISH_JOBS_DEFAULT 16

struct publish_opts {
    const char *site;                 /* required */
    const char *repo;                 /* NULL: $GIT_DIR or the current folder */
    const char *ref;                  /* NULL: HEAD */
    bool dry_run;                     /* read only: report what would change */
    unsigned jobs;                    /* requests in flight; 0: 16 */
    const struct pier_s3_config *s3;  /* the store (bucket included) */
    int out_fd;                       /* progress lines; -1: none */
    const char *const *edges;         /* admin URLs the delta is POSTed to */
    size_t nedges;
    const char *edge_token;           /* bearer token, or NULL */
    unsigned edge_timeout_ms;         /* 0: 5000 */
    int64_t now;                      /* 0: the clock (tests set it) */
};

struct publish_result {
    char deploy[SITES_DEPLOY_ID_MAX + 1];   /* the new deploy's id */
    char previous[SITES_DEPLOY_ID_MAX + 1]; /* the live one before; "" */
    char winner[SITES_DEPLOY_ID_MAX + 1];   /* when lost_race: who is live */
    bool noop;      /* the live deploy has the same tree: nothing done */
    bool lost_race; /* another deploy became live first: ours is not */
    size_t files;   /* paths in the new manifest */
    size_t docs_parsed; /* HTML and CSS files parsed (the others carried
                         * over from the live deploy) */
    size_t blobs;   /* distinct blobs (identity) in the new manifest */
    size_t blobs_known;    /* listed by the live manifest: no request */
    size_t blobs_present;  /* found by HEAD */
    size_t blobs_uploaded; /* PUT (identity blobs) */
    size_t variants_uploaded;
    uint64_t bytes_uploaded; /* identity and variants */
    size_t changed;   /* paths in the delta from the live deploy */
    size_t edges_ok, edges_failed;
    size_t warnings;
    double ms_read, ms_graph, ms_upload, ms_activate, ms_notify, ms_total;
};

/* Publish one commit of one site. PIER_OK when the new deploy is live, or
 * it was a no-op, or (dry run) nothing was written; also PIER_OK with
 * res->lost_race set when another deploy won the flip. PIER_ERR with err
 * set otherwise (a failed build, a bad _redirects line, the store). */
int publish_run(const struct publish_opts *o, struct publish_result *res,
                struct pier_err *err);

/* The Cache-Control of each class (ARCHITECTURE.md, classes). */
const char *publish_cache_control(enum sites_class klass);

#endif
