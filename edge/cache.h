/*
 * edge/cache.h - the blob cache shared by every worker loop of the edge.
 *
 * Keyed by blob: the SHA-256 of a file's content plus the coding of the
 * variant (blobs/<sha256>[.br|.zst|.gz]). Blobs are immutable, so nothing
 * cached is ever stale and there is no invalidation here: only manifests
 * change (edge/cmd.c), and a blob nobody asks for any more ages out.
 *
 * Two tiers:
 *  - memory: a hash table and an LRU list per shard, each shard under its
 *    own mutex, bounded in bytes (--cache-mem split evenly over the
 *    shards; LRU is per shard, which approximates a global LRU because
 *    keys are uniform hashes). Entries are reference-counted: a reader
 *    holds a blob's bytes, lock-free, while another thread evicts it; the
 *    last release frees them. Blobs larger than object_max never enter
 *    memory (they stream through).
 *  - disk (optional): one file per blob under dir/blobs/, written to
 *    dir/tmp/ then renamed, so a reader never sees half a file; bounded
 *    by disk_max with its own LRU index, rebuilt from the directory at
 *    start so the tier survives a restart. A file is verified against its
 *    name when it is read back, so a torn or tampered file is dropped,
 *    never served. Files too large to read whole (a spilled fetch's,
 *    adopted) are streamed instead, and hashed by their reader.
 *
 * Threads: every function may be called from any thread. The memory
 * lookup (edge_cache_get) is the hit path: one mutex, no allocation, no
 * system call. Disk functions block on I/O: call them from a thread pool
 * (uv_queue_work), never from a loop.
 *
 * Lock order: a shard's mutex is taken alone, never with another shard's;
 * callers (edge/fetch.c) may hold their own locks around cache calls, the
 * cache never calls out.
 */
#ifndef EDGE_CACHE_H
#define EDGE_CACHE_H

#include "edge/encoding.h"
#include "edge/verify.h"
#include "lib/core.h"
#include "lib/err.h"

#include <stdatomic.h>
#include <time.h>

struct edge_key {
    uint8_t sha[EDGE_SHA256_LEN]; /* of the identity content */
    uint8_t enc;                  /* enum edge_enc of this variant */
};

/* Parse 64 hex digits (either case) into k with coding enc. */
int edge_key_parse(struct edge_key *k, struct pier_str hex, enum edge_enc enc,
                   struct pier_err *err);
/* Write the blob's object name below blobs/ ("<hex>.br"), NUL-terminated;
 * its length (at most 68), or 0 when cap is too small. */
size_t edge_key_name(const struct edge_key *k, char *out, size_t cap);
bool edge_key_eq(const struct edge_key *a, const struct edge_key *b);

/* A node of a shard's table and LRU list; the cache's, not the caller's. */
struct edge_cache_node {
    struct edge_key key;
    uint64_t cost; /* bytes counted against the tier's bound */
    struct edge_cache_node *hnext;
    struct edge_cache_node *prev, *next;
};

#define EDGE_BLOB_MAGIC 0x8b3f61d2U

/*
 * One variant's bytes. Holders read key, size, stored_s and data and
 * never write them once the blob is published; the rest is the cache's.
 */
struct edge_blob {
    unsigned magic;
    atomic_uint refs;
    struct edge_key key;
    uint64_t size;
    int64_t stored_s; /* wall-clock second the edge got it (for Age) */
    struct edge_cache_node node;
    bool cached; /* linked in a shard's memory tier */
    unsigned char data[];
};

/* A blob of size bytes for k with one reference, the caller's, and its
 * data not yet written. Allocates. Release with edge_blob_release(). */
struct edge_blob *edge_blob_new(const struct edge_key *k, uint64_t size);
/* Take one more reference. */
void edge_blob_ref(struct edge_blob *b);
/* Drop one reference; the last one frees the blob. Accepts NULL. */
void edge_blob_release(struct edge_blob *b);

struct edge_cache_opts {
    uint64_t mem_max;    /* bytes of the memory tier (--cache-mem) */
    uint64_t object_max; /* larger blobs skip memory; 0: mem_max/shards/8 */
    const char *dir;     /* disk tier directory; NULL: no disk tier */
    uint64_t disk_max;   /* bytes of the disk tier (--cache-disk) */
    unsigned shards;     /* a power of two; 0: 16 */
};

struct edge_cache_stats {
    uint64_t mem_bytes, mem_entries, mem_max;
    uint64_t disk_bytes, disk_entries, disk_max;
    uint64_t hits, misses, mem_evictions, disk_evictions;
    uint64_t disk_hits, disk_errors;
};

struct edge_cache; /* opaque */

/* Create the cache; with a disk tier, create dir/blobs and dir/tmp as
 * needed, empty dir/tmp and index dir/blobs (evicting down to disk_max).
 * NULL with err set on failure. Borrows o (dir is copied). The caller owns
 * the result and frees it with edge_cache_free(), which accepts NULL;
 * blobs still held by readers outlive it. */
struct edge_cache *edge_cache_new(const struct edge_cache_opts *o,
                                  struct pier_err *err);
void edge_cache_free(struct edge_cache *c);

/* The hit path: the blob cached in memory under k with a reference for the
 * caller (release it with edge_blob_release()), marked most recently used;
 * NULL on a miss. No allocation. */
struct edge_blob *edge_cache_get(struct edge_cache *c,
                                 const struct edge_key *k);

/* The same, not counted in the hit and miss statistics: for a second look
 * at a key a request already missed (edge/fetch.c). */
struct edge_blob *edge_cache_find(struct edge_cache *c,
                                  const struct edge_key *k);

/* Whether a blob of size bytes may enter the memory tier. */
bool edge_cache_fits(const struct edge_cache *c, uint64_t size);

/* Publish b, whose bytes are written and verified, in the memory tier,
 * evicting least recently used blobs of its shard down to the bound.
 * Borrows b: the cache takes a reference of its own. When a blob with the
 * same key is already there, that one stays and is returned (with a
 * reference for the caller, as is b otherwise). When b does not fit,
 * nothing is cached and b is returned. */
struct edge_blob *edge_cache_put(struct edge_cache *c, struct edge_blob *b);

/* Drop k from both tiers (a purge by blob; rarely needed: blobs are
 * immutable). Readers holding it keep their bytes. */
void edge_cache_drop(struct edge_cache *c, const struct edge_key *k);

/* Whether there is a disk tier. */
bool edge_cache_disk_enabled(const struct edge_cache *c);

/* Disk tier. Blocking: call from a thread pool. Without a disk tier,
 * store does nothing and load finds nothing. */

/* Write b to disk (temp file, then rename) unless it is there already,
 * then evict the least recently used files down to disk_max. Borrows b. */
int edge_cache_disk_store(struct edge_cache *c, const struct edge_blob *b,
                          struct pier_err *err);
/* Whether k is in the disk index (no I/O). */
bool edge_cache_disk_has(struct edge_cache *c, const struct edge_key *k);
/* Read k from disk, verify it against its name and publish it in memory
 * as edge_cache_put() does. PIER_OK with *out a referenced blob (release
 * it), or *out NULL when k is not on disk; PIER_ERR when the file cannot
 * be read or fails verification (it is then removed). decoded_max bounds
 * the decompression of a compressed variant. */
int edge_cache_disk_load(struct edge_cache *c, const struct edge_key *k,
                         uint64_t decoded_max, struct edge_blob **out,
                         struct pier_err *err);

/* Move the complete, verified file tmp (in dir/tmp: a spilled fetch's)
 * to k's place in the tier, unless k is there already or size does not
 * fit the tier; tmp is gone either way. Open descriptors of it stay
 * valid. Only with a disk tier. */
int edge_cache_disk_adopt(struct edge_cache *c, const struct edge_key *k,
                          uint64_t size, const char *tmp, struct pier_err *err);
/* Open k's file for streaming (a blob too large to read whole): *fd the
 * caller's to close, -1 when k is not on disk; *size, and *stored_s for
 * Age. The bytes are NOT verified by this call; *verified says whether
 * the file is known good (written by this process from verified bytes,
 * or read whole and verified since): a reader of part of it may trust
 * it, one of all of it hashes it as it goes and calls
 * edge_cache_disk_verified() on a match, edge_cache_disk_bad() on a
 * mismatch. */
int edge_cache_disk_open(struct edge_cache *c, const struct edge_key *k,
                         int *fd, uint64_t *size, int64_t *stored_s,
                         bool *verified, struct pier_err *err);
/* k's file was read whole and matched its name. No I/O. */
void edge_cache_disk_verified(struct edge_cache *c, const struct edge_key *k);
/* k's file failed verification while streamed: remove it, count it. */
void edge_cache_disk_bad(struct edge_cache *c, const struct edge_key *k);

/* Counters, summed over the shards. */
void edge_cache_stats(struct edge_cache *c, struct edge_cache_stats *st);

/* Check every invariant of every shard (tables and LRU lists agree, byte
 * counts add up, bounds hold, magic numbers and references are sane);
 * panics on a broken one. For tests: takes every shard's lock in turn. */
void edge_cache_assert(struct edge_cache *c);

#endif
