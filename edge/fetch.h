/*
 * edge/fetch.h - origin fetches in flight, and coalescing: however many
 * requests miss on one blob at once, on whichever loops, the origin sees
 * one GET, and every waiter gets the bytes as they arrive.
 *
 * The table (struct edge_fetches) is shared by all worker loops, sharded
 * by key under mutexes. A request that misses the cache joins the table:
 * it finds the blob in the cache after all (it arrived meanwhile), joins
 * the fetch in flight, or starts one and is handed the fetch to drive (the
 * driver does the signed GET with lib's S3 client and feeds the body in).
 *
 * A fetch writes the body straight into the edge_blob that will be cached,
 * allocated whole once the size is known, so bytes never move and waiters
 * on other loops read them in place. A body larger than fetch_max never
 * enters memory: it is written to a spill file as it arrives, and each
 * waiter reads it back from there at its own pace (so a slow client costs
 * its own read buffer, not the blob, and the origin transfer never waits
 * for it); it is not cached in memory, but with a disk tier the verified
 * file joins it (edge_fetch_spill_take). Each chunk is fed to the
 * verifier (edge/verify.h) as it arrives. Waiters may read everything but
 * the last byte until the SHA-256 matched; then the blob is published in
 * the cache, and only then is the fetch taken out of the table (so a late
 * request finds one or the other, never neither). A mismatch, a short
 * body or an origin error fails the fetch: nothing is cached and every
 * waiter is told to cut its response.
 *
 * Notification across loops: each loop owns a struct edge_notifier, a
 * uv_async_t and a list of its waiters with news. The driver's thread
 * queues waiters on their own loop's notifier and wakes it; the loop
 * calls each waiter's callback on its own thread. A waiter is therefore
 * only ever touched by its loop, except for the list links, which are
 * under the fetch's and the notifier's mutexes (lock order: table shard,
 * fetch, notifier).
 *
 * Time-outs are the callers': the driver finishes a fetch whose origin is
 * too slow with an error; a request that waits too long leaves.
 */
#ifndef EDGE_FETCH_H
#define EDGE_FETCH_H

#include "edge/cache.h"
#include "lib/core.h"
#include "lib/err.h"

#include <uv.h>

struct edge_fetches;  /* opaque: the table */
struct edge_fetch;    /* opaque: one fetch in flight */
struct edge_notifier; /* opaque: one per loop */

#define EDGE_WAITER_MAGIC 0x3ac9e517U

struct edge_waiter;
/* Called on the waiter's loop when there are new bytes, or the fetch
 * ended, or just after joining. Call edge_waiter_peek() to see which. */
typedef void (*edge_waiter_cb)(struct edge_waiter *w);

/* Embedded in the caller's request; the caller sets magic (with
 * edge_waiter_init), cb and data. The other fields are the table's. */
struct edge_waiter {
    unsigned magic;
    edge_waiter_cb cb;
    void *data;
    struct edge_notifier *notifier;
    struct edge_fetch *fetch;
    uint64_t off; /* bytes the caller consumed */
    struct edge_waiter *f_prev, *f_next;
    struct edge_waiter *n_prev, *n_next;
    bool queued;
};

void edge_waiter_init(struct edge_waiter *w, edge_waiter_cb cb, void *data);

/* The notifier of loop, initialised on the loop's thread. The caller owns
 * it and closes it with edge_notifier_close() once every waiter of the
 * loop has left; it is freed when libuv has closed its handle. */
struct edge_notifier *edge_notifier_new(uv_loop_t *loop, struct pier_err *err);
void edge_notifier_close(struct edge_notifier *n);

struct edge_fetches_opts {
    uint64_t fetch_max;    /* larger bodies spill to a file, uncached */
    const char *spill_dir; /* where spill files go (copied); NULL: /tmp */
    bool spill_keep;       /* spill_dir is the disk tier's tmp/: keep the
                              files' names for edge_fetch_spill_take() */
    unsigned shards;       /* a power of two; 0: 16 */
};

struct edge_fetches_stats {
    uint64_t started;   /* origin fetches */
    uint64_t joined;    /* requests that waited on another's fetch */
    uint64_t late_hits; /* misses that found the blob when joining */
    uint64_t failed;    /* fetches failed (origin, size, verification) */
    uint64_t bytes;     /* body bytes received */
    uint64_t in_flight; /* fetches in the table now */
};

/* The caller owns the table and frees it with edge_fetches_free() (NULL
 * is fine) when no fetch is in flight. Borrows o and cache; cache must
 * outlive the table. */
struct edge_fetches *edge_fetches_new(const struct edge_fetches_opts *o,
                                      struct edge_cache *cache);
void edge_fetches_free(struct edge_fetches *t);

enum edge_join {
    EDGE_JOIN_HIT,     /* *hit: the blob, referenced; w untouched */
    EDGE_JOIN_WAIT,    /* w joined a fetch in flight */
    EDGE_JOIN_STARTED, /* w joined a new fetch; *started is to drive */
};

/* On w's loop (notifier n): find k in the cache, or join or start its
 * fetch. decoded_max bounds the decoding when verifying a compressed
 * variant (the identity size from the manifest). For EDGE_JOIN_STARTED
 * the caller owns a reference to *started for driving it, dropped with
 * edge_fetch_release(). After WAIT or STARTED, w's callback runs once
 * soon, then on news; w must leave (edge_waiter_leave) before it is
 * freed. */
enum edge_join edge_fetches_join(struct edge_fetches *t,
                                 const struct edge_key *k, uint64_t decoded_max,
                                 struct edge_notifier *n, struct edge_waiter *w,
                                 struct edge_blob **hit,
                                 struct edge_fetch **started);

/* Start the fetch of k with no waiter (a prefetch), unless k is cached or
 * in flight already: true with *started set (the caller drives it, as
 * after EDGE_JOIN_STARTED), else false. */
bool edge_fetches_prefetch(struct edge_fetches *t, const struct edge_key *k,
                           uint64_t decoded_max, struct edge_fetch **started);

/* Statistics, summed. */
void edge_fetches_stats(struct edge_fetches *t, struct edge_fetches_stats *st);

/* The driver's side; any one thread at a time. */

/* The origin answered with size bytes coming: allocate the body, or past
 * fetch_max create its spill file (blocking: a file system call on the
 * driver's loop). PIER_ERR (the fetch is failed) when the file cannot be
 * created. */
int edge_fetch_begin(struct edge_fetch *f, uint64_t size, struct pier_err *err);
/* n more body bytes. PIER_ERR (the fetch is failed) when they pass the
 * size, fail to decode or cannot be written to the spill file; the driver
 * then stops the transfer. Borrows p. */
int edge_fetch_append(struct edge_fetch *f, const void *p, size_t n,
                      struct pier_err *err);
/* The transfer ended: ok says whether the origin sent it all. Checks the
 * length and the SHA-256, then caches the blob, or fails the fetch and
 * logs why (never both). Returns what happened: PIER_OK or PIER_ERR. */
int edge_fetch_finish(struct edge_fetch *f, bool ok, const char *why);
void edge_fetch_release(struct edge_fetch *f);
/* After edge_fetch_finish() returned PIER_OK: the verified blob, with a
 * reference for the caller (for the disk tier: it may be too large for
 * memory, so the cache may not have it); NULL for a spilled body. */
struct edge_blob *edge_fetch_blob(struct edge_fetch *f);
const struct edge_key *edge_fetch_key(const struct edge_fetch *f);
/* After edge_fetch_finish() returned PIER_OK on a spilled body with
 * spill_keep: the spill file's name, for the disk tier to adopt
 * (edge_cache_disk_adopt); the caller owns the string (pier_free) and the
 * file. NULL otherwise (the file goes with the fetch). Driver only. */
char *edge_fetch_spill_take(struct edge_fetch *f);
/* The body's size, once begun. */
uint64_t edge_fetch_size(const struct edge_fetch *f);

/* The waiter's side; on its loop. */

/* What w may read now: PIER_AGAIN with *p, *n the bytes not consumed yet
 * that may be sent (maybe none); PIER_OK with the last of them (the body
 * is complete and verified); PIER_ERR when the fetch failed (cut the
 * response). *size is the body's size, or UINT64_MAX before the origin
 * answered. The bytes stay valid until w leaves. For a spilled body *p is
 * NULL: the *n bytes are in edge_waiter_fd() from offset w->off. */
int edge_waiter_peek(struct edge_waiter *w, const unsigned char **p, size_t *n,
                     uint64_t *size);
/* n of the bytes peek gave were sent. */
void edge_waiter_consume(struct edge_waiter *w, size_t n);
/* Once peek gave a size: the spill file to pread() the body from, or -1
 * when the body is in memory. The fetch's: valid until w leaves, and w
 * must not leave while a read of it is in flight. */
int edge_waiter_fd(struct edge_waiter *w);
/* After peek said PIER_OK on a body in memory: the verified blob, with a
 * reference for the caller (it may be cached or not). */
struct edge_blob *edge_waiter_blob(struct edge_waiter *w);
/* Stop waiting; no callback runs for w afterwards. Fine on a waiter that
 * never joined or already left. */
void edge_waiter_leave(struct edge_waiter *w);

#endif
