/*
 * edge/internal.h - what edge/server.c (state, control, admin API) and
 * edge/serve.c (the request path) share. Not for other folders.
 */
#ifndef EDGE_INTERNAL_H
#define EDGE_INTERNAL_H

#include "edge/cache.h"
#include "edge/fetch.h"
#include "edge/hazard.h"
#include "edge/hosts.h"
#include "edge/path.h"
#include "edge/server.h"
#include "lib/http.h"
#include "lib/s3client.h"
#include "sites/manifest.h"
#include "sites/record.h"

#include <pthread.h>
#include <stdatomic.h>

/* Hazard slots of each worker. */
#define EDGE_HZ_REGISTRY 0
#define EDGE_HZ_DEPLOY   1
#define EDGE_HZ_SLOTS    2

#define EDGE_DEPLOY_MAGIC 0x0dd1e5a3U
#define EDGE_SITE_MAGIC   0x51e7b0c2U
#define EDGE_REG_MAGIC    0x7e615e9fU
#define EDGE_WORKER_MAGIC 0x3b0f9ad4U
#define EDGE_REQ_MAGIC    0x6a2c48e1U

/* One live deploy of one site. Immutable. References: one while it is a
 * site's live deploy (dropped when retired and unprotected), one per
 * request that keeps using it after its handler returned (a miss). */
struct edge_deploy {
    unsigned magic;
    atomic_uint refs;
    struct sites_manifest *m;
};

/* A site. Lives until the server is freed (a site removed from the
 * registry stays allocated, unreachable). */
struct edge_site {
    unsigned magic;
    char name[SITES_NAME_MAX + 1];
    _Atomic(void *) live; /* struct edge_deploy *, may be NULL */
    /* The record's TLS options: written by control, read by workers. */
    atomic_bool redirect_https;
    atomic_uint hsts_max_age;
    atomic_bool hsts_subdomains;
    /* Control side only, under the server's ctl_mu: */
    char pointer_etag[128];
    char record_etag[128];
    char **domains;
    size_t ndomains;
    bool listed; /* in the registry: seen by the last complete listing */
    bool seen;   /* seen by the listing under way */
    bool gone;   /* just left the registry: drop its certificates */
    struct edge_site *next;
};

/* Which sites exist and which hosts name them. Immutable; swapped. */
struct edge_registry {
    unsigned magic;
    struct edge_hosts *hosts;
    struct edge_site **sites;
    size_t nsites;
};

struct edge_req;

/* Per worker loop; touched by that loop only. */
/* The counters every request bumps, one set per worker, each set on
 * cache lines of its own (128 bytes apart, whatever the allocation's
 * alignment), so that the loops do not bounce a shared line; summed for
 * the stats. */
struct edge_counters {
    atomic_uint_fast64_t requests, hits, bytes_out;
    char pad[128 - 3 * sizeof(atomic_uint_fast64_t)];
};

struct edge_worker {
    unsigned magic;
    struct edge_server *srv;
    struct pier_http_worker *hw;
    unsigned index;
    uv_loop_t *loop;
    struct edge_notifier *notifier;
    struct pier_s3_client *s3;
    struct edge_req *free_reqs; /* recycled request contexts */
    uv_timer_t poll;            /* worker 0 only */
    bool poll_running;
    bool polling;
};

struct edge_server {
    unsigned magic;
    struct pier_s3_config s3;
    char *s3_strings[6]; /* copies behind s3's strings */
    char *admin_token;
    unsigned nworkers;
    uint64_t poll_ms;
    struct pier_http_server *http;
    struct pier_tls *tls; /* NULL without a TLS listener */
    char *state_dir;      /* manifests kept on disk; NULL: none */
    unsigned https_port;  /* the TLS listener's, for redirects; 0: none */
    struct edge_cache *cache;
    struct edge_fetches *fetches;
    uint64_t fetch_max; /* larger blobs are streamed, from disk too */
    struct edge_hazard *hz;
    _Atomic(void *) registry; /* struct edge_registry * */
    struct edge_worker **workers;
    pthread_mutex_t ctl_mu; /* control: sites list, sync client */
    struct edge_site *sites;
    struct pier_s3_sync *sync;
    struct edge_counters *ctr; /* one per worker */
    atomic_uint_fast64_t misses, not_found, origin_errors;
    atomic_uint_fast64_t activations, activation_us_last;
    atomic_uint_fast64_t disk_read_bytes; /* streamed from the disk tier */
    atomic_uint_fast64_t nsites;
};

/* Worker w's counters; bump them with edge_count(). Worker thread. */
static inline struct edge_counters *
edge_ctr(const struct edge_worker *w)
{
    return &w->srv->ctr[w->index];
}

#define edge_count(w, field, n) \
    atomic_fetch_add_explicit(&edge_ctr(w)->field, (n), memory_order_relaxed)

/* Protect and return the worker's view of the registry. */
struct edge_registry *edge_registry_get(struct edge_server *s, unsigned w);
void edge_deploy_ref(struct edge_deploy *d);
void edge_deploy_release(struct edge_deploy *d);

/* serve.c: the public listener's handler. */
void edge_serve(struct pier_http_req *req, void *udata);
/* Per-worker set-up and tear-down of serve.c's state. */
void edge_serve_worker_stop(struct edge_worker *w);

/* serve.c: start the origin GET of fetch f on worker w's S3 client;
 * takes the driver's reference to f. */
void edge_origin_start(struct edge_worker *w, struct edge_fetch *f);

/* server.c: the admin listener's handler. */
void edge_admin(struct pier_http_req *req, void *udata);

#endif
