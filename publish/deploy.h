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
 *      request; others are looked up with one listing of their prefix
 *      (the blob and its variants, with sizes), and missing ones
 *      compressed on the thread pool and PUT with If-None-Match: *
 *      (its variants at once, then the blob itself, so an existing
 *      identity blob means its variants are there too), `jobs` blobs in
 *      flight; many blobs are looked up with a survey of blobs/ instead
 *      (16 listings, see survey() in deploy.c); stored blobs and variants
 *      the deploy reuses that are older than an hour are refreshed (a
 *      copy onto themselves), so that a concurrent `pier gc` keeps them
 *      (publish/gc.h);
 *   5. the manifest, PUT to sites/<site>/deploys/<id>.json.zst;
 *   6. live/<site> flipped with If-Match on the old ETag (If-None-Match: *
 *      for a first deploy); when another deploy won, it stays live and
 *      the result says so;
 *   7. the delta from the live deploy (sites/manifest.h) POSTed to every
 *      edge (publish/notify.h), each answer or failure reported.
 * Nothing is live until step 6, so a failure anywhere before leaves the
 * site as it was; an edge that does not answer does not undo anything.
 *
 * Progress goes to out_fd as publish/report.h describes (a bar on a
 * terminal, phase lines elsewhere, nothing with quiet); the result holds
 * what the closing summary prints.
 */
#ifndef PUBLISH_DEPLOY_H
#define PUBLISH_DEPLOY_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"
#include "publish/notify.h"
#include "sites/manifest.h"

#define PUBLISH_JOBS_DEFAULT 16
#define PUBLISH_CHANGED_SHOW 10  /* changed paths the result names */
#define PUBLISH_PATH_SHOW    256 /* bytes of each, truncated */
#define PUBLISH_EDGES_SHOW   16  /* edges whose answers the result keeps */
#define PUBLISH_URLS_MAX     8   /* URLs of the site in the result */
#define PUBLISH_URL_MAX      300

struct publish_opts {
    const char *site;                /* required */
    const char *repo;                /* NULL: $GIT_DIR or the current folder */
    const char *ref;                 /* NULL: HEAD */
    bool dry_run;                    /* read only: report what would change */
    unsigned jobs;                   /* blobs in flight; 0: 16 */
    const struct pier_s3_config *s3; /* the store (bucket included) */
    int out_fd;                      /* progress and warnings; -1: none */
    bool quiet;                      /* warnings only, no progress */
    const char *local_http; /* the local edge's listener ("HOST:PORT") for
                             * the NAME.localhost URL; NULL: none */
    const char *const *edges;        /* admin URLs the delta is POSTed to */
    size_t nedges;
    const char *edge_token;   /* bearer token, or NULL */
    unsigned edge_timeout_ms; /* 0: 5000 */
    int64_t now;              /* 0: the clock (tests set it) */
    /* Reused blobs older than this are refreshed before the manifest is
     * written (publish/gc.h); 0: PUBLISH_REFRESH_AGE_S; negative: all of
     * them (tests). */
    int64_t refresh_age_s;
    /* Tests: called once, before the first refresh is sent. NULL: none. */
    void (*before_refresh)(void *arg);
    void *hook_arg;
};

struct publish_result {
    char deploy[SITES_DEPLOY_ID_MAX + 1];   /* the new deploy's id */
    char previous[SITES_DEPLOY_ID_MAX + 1]; /* the live one before; "" */
    char winner[SITES_DEPLOY_ID_MAX + 1];   /* when lost_race: who is live */
    bool noop;             /* the live deploy has the same tree: nothing done */
    bool lost_race;        /* another deploy became live first: ours is not */
    size_t files;          /* paths in the new manifest */
    size_t docs_parsed;    /* HTML and CSS files parsed (the others carried
                            * over from the live deploy) */
    size_t blobs;          /* distinct blobs (identity) in the new manifest */
    size_t blobs_known;    /* listed by the live manifest: no request */
    size_t blobs_present;  /* found in the store */
    size_t blobs_uploaded; /* PUT (identity blobs) */
    size_t refreshed;      /* stored objects (blobs, variants) copied onto
                            * themselves for a new LastModified */
    size_t variants_uploaded;
    uint64_t bytes_uploaded; /* identity and variants */
    size_t changed;          /* paths in the delta from the live deploy */
    size_t edges_ok, edges_failed;
    size_t warnings;
    size_t read_files;   /* files whose bytes were read (and hashed) */
    uint64_t read_bytes; /* their bytes */
    /* The first changed paths of the delta, truncated to fit. */
    char changed_show[PUBLISH_CHANGED_SHOW][PUBLISH_PATH_SHOW];
    size_t nchanged_show;
    /* The answer of each edge (the first PUBLISH_EDGES_SHOW). */
    struct publish_edge_result edge_res[PUBLISH_EDGES_SHOW];
    size_t nedge_res;
    /* The site's URLs (publish/report.h, publish_site_urls). */
    char urls[PUBLISH_URLS_MAX][PUBLISH_URL_MAX];
    size_t nurls;
    /* Wall times of the phases; ms_compress is the compression's time
     * summed over the threads that ran it, overlapping the upload. */
    double ms_read, ms_graph, ms_compress, ms_upload, ms_activate, ms_notify,
        ms_total;
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
