/*
 * edge/server.h - the caching edge: sites and their live manifests, the
 * request path, origin fetches, the admin API. `pier edge` (edge/cmd.c)
 * is this plus options and signals; tests run it in-process.
 *
 * Threads. The HTTP core's worker loops serve requests; each has its own
 * S3 client for origin fetches and its own fetch notifier. The cache, the
 * table of fetches in flight, the site registry and every site's live
 * deploy are shared: the registry and the deploys are swapped whole
 * through atomic pointers and read under hazard pointers (edge/hazard.h),
 * so the hit path takes no lock but the cache shard's. Control work
 * (loading a manifest, polling live/, a full reload asked by the admin
 * API) runs on libuv's thread pool with a synchronous S3 client, one
 * operation at a time.
 */
#ifndef EDGE_SERVER_H
#define EDGE_SERVER_H

#include "edge/cache.h"
#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"

struct pier_http_server;

struct edge_server_opts {
    struct pier_s3_config s3; /* the origin; strings borrowed by _new */
    const char *listen;       /* "127.0.0.1:8080"; port 0 picks one */
    const char *tls_listen;   /* "127.0.0.1:8443"; NULL: no TLS listener.
                                 Certificates: tls/<site>/{cert,key}.pem,
                                 chosen by SNI among the site's names */
    const char *admin;        /* "127.0.0.1:8081"; NULL: no admin API */
    const char *admin_token;  /* required with admin; borrowed by _new */
    struct edge_cache_opts cache;
    unsigned workers;   /* 0: one per core */
    uint64_t poll_ms;   /* listing of live/; 0: 5000 */
    uint64_t fetch_max; /* larger bodies stream through a file; 0: 16 MiB */
};

struct edge_server; /* opaque */

/* Bind the listeners and load every site from the store (list live/,
 * each site's pointer, manifest and record). A site that fails to load is
 * logged and skipped; a store that cannot be listed is an error. NULL with
 * err set on failure. The caller owns the result and frees it with
 * edge_server_free() after edge_server_wait() (or without starting). */
struct edge_server *edge_server_new(const struct edge_server_opts *o,
                                    struct pier_err *err);
void edge_server_free(struct edge_server *s);

/* The HTTP server, for pier_http_server_run() or _start/_stop/_wait. */
struct pier_http_server *edge_server_http(struct edge_server *s);

/* Load (or reload) one site now, from any thread but a worker's loop:
 * PIER_OK when its live deploy is current. */
int edge_server_load_site(struct edge_server *s, const char *site,
                          struct pier_err *err);

/* Poll the store now, as the timer does: list live/ and sites/, load
 * what changed. Any thread but a worker's loop. */
int edge_server_poll(struct edge_server *s, struct pier_err *err);

/* Counters, for tests and the admin API. */
struct edge_server_stats {
    uint64_t requests, hits, misses, not_found, origin_errors;
    uint64_t bytes_out;
    uint64_t disk_read_bytes; /* read to stream large blobs from disk */
    uint64_t activations, activation_us_last;
    uint64_t sites;
};
void edge_server_stats(struct edge_server *s, struct edge_server_stats *st);

#endif
