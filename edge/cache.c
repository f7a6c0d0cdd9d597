/*
 * edge/cache.c - the blob cache: sharded memory tier with LRU eviction by
 * bytes and reference-counted blobs, and an optional disk tier.
 *
 * A shard is a mutex and two tiers. A tier is a chained hash table plus a
 * doubly linked LRU list through the same nodes (struct edge_cache_node):
 * in memory the node is inside the blob, on disk inside a small index
 * entry. The list's sentinel's next is the most recently used node and
 * its prev the least.
 *
 * References: a blob in the memory tier holds one reference for the cache.
 * A lookup adds one for the reader under the shard's mutex; eviction
 * unlinks the blob under the mutex and drops the cache's reference after
 * unlocking. So a blob is freed exactly when it is neither cached nor
 * held, and freeing never happens under a lock.
 */
#include "config.h"

#include "edge/cache.h"

#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC    0x2d7e40c9U
#define DISK_ENT_MAGIC 0x61f0b83aU
#define DEFAULT_SHARDS 16
#define MIN_BUCKETS    64
#define DISK_BLOCK     4096
#define BLOB_OVERHEAD  ((uint64_t) sizeof(struct edge_blob))

#define container_of(p, type, member) \
    ((type *) (void *) ((char *) (p) -offsetof(type, member)))

struct tier {
    struct edge_cache_node **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t bytes;
    uint64_t max;
    struct edge_cache_node lru; /* sentinel */
};

struct disk_ent {
    unsigned magic;
    struct edge_cache_node node;
    /* The file's bytes are known good: written by this process from
     * verified bytes, or read back whole and verified since. A file found
     * at start is not (a crash may have torn it: no fsync). Under the
     * shard's mutex. */
    bool verified;
};

struct shard {
    pthread_mutex_t mu;
    struct tier mem;
    struct tier disk;
    uint64_t hits, misses, mem_evictions, disk_evictions;
    uint64_t disk_hits, disk_errors;
} __attribute__((aligned(64))); /* no false sharing between shards */

struct edge_cache {
    unsigned magic;
    unsigned nshards; /* a power of two */
    uint64_t object_max;
    uint64_t shard_mem_max;
    char *dir; /* NULL: no disk tier */
    struct shard *shards;
};

/* Keys. */

int
edge_key_parse(struct edge_key *k, struct pier_str hex, enum edge_enc enc,
               struct pier_err *err)
{
    size_t i;
    int hi, lo;

    if (hex.len != 2 * EDGE_SHA256_LEN || enc >= EDGE_ENC_MAX) {
        return pier_err_set(err, "blob key '%.*s' is not a SHA-256",
                            (int) (hex.len < 80 ? hex.len : 80), hex.ptr);
    }
    for (i = 0; i < EDGE_SHA256_LEN; i++) {
        hi = pier_hexval((unsigned char) (unsigned char) hex.ptr[2 * i]);
        lo = pier_hexval((unsigned char) (unsigned char) hex.ptr[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return pier_err_set(err, "blob key '%.*s' is not hexadecimal",
                                (int) hex.len, hex.ptr);
        }
        k->sha[i] = (uint8_t) (hi * 16 + lo);
    }
    k->enc = (uint8_t) enc;
    return PIER_OK;
}

size_t
edge_key_name(const struct edge_key *k, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    const char *suffix = edge_enc_suffix(k->enc);
    size_t i, slen = strlen(suffix), n = 2 * EDGE_SHA256_LEN + slen;

    if (cap <= n) {
        return 0;
    }
    for (i = 0; i < EDGE_SHA256_LEN; i++) {
        out[2 * i] = digits[k->sha[i] >> 4];
        out[2 * i + 1] = digits[k->sha[i] & 15];
    }
    memcpy(out + 2 * EDGE_SHA256_LEN, suffix, slen + 1);
    return n;
}

bool
edge_key_eq(const struct edge_key *a, const struct edge_key *b)
{
    return a->enc == b->enc && memcmp(a->sha, b->sha, EDGE_SHA256_LEN) == 0;
}

/* The SHA-256 is uniform: its first byte picks the shard, the next eight
 * the bucket. */
static unsigned
key_shard(const struct edge_cache *c, const struct edge_key *k)
{
    return k->sha[0] & (c->nshards - 1);
}

static uint64_t
key_hash(const struct edge_key *k)
{
    uint64_t h;

    memcpy(&h, k->sha + 1, sizeof(h));
    return h ^ ((uint64_t) k->enc * 0x9e3779b97f4a7c15ULL);
}

/* Blobs. */

struct edge_blob *
edge_blob_new(const struct edge_key *k, uint64_t size)
{
    struct edge_blob *b;

    PIER_ASSERT(size <= SIZE_MAX - sizeof(*b));
    b = pier_malloc(sizeof(*b) + (size_t) size);
    memset(b, 0, sizeof(*b));
    b->magic = EDGE_BLOB_MAGIC;
    atomic_init(&b->refs, 1);
    b->key = *k;
    b->size = size;
    b->stored_s = (int64_t) time(NULL);
    b->node.key = *k;
    b->node.cost = size + BLOB_OVERHEAD;
    return b;
}

void
edge_blob_ref(struct edge_blob *b)
{
    unsigned old;

    PIER_CHECK_OBJ(b, EDGE_BLOB_MAGIC);
    old = atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    PIER_ASSERT(old > 0);
}

void
edge_blob_release(struct edge_blob *b)
{
    unsigned old;

    if (b == NULL) {
        return;
    }
    PIER_CHECK_OBJ(b, EDGE_BLOB_MAGIC);
    /* acq_rel: the last release sees every holder's reads finished. */
    old = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
    PIER_ASSERT(old > 0);
    if (old == 1) {
        PIER_ASSERT(!b->cached);
        b->magic = 0;
        pier_free(b);
    }
}

/* Tiers. */

static void
tier_init(struct tier *t, uint64_t max)
{
    memset(t, 0, sizeof(*t));
    t->nbuckets = MIN_BUCKETS;
    t->buckets = pier_calloc(t->nbuckets, sizeof(*t->buckets));
    t->max = max;
    t->lru.next = &t->lru;
    t->lru.prev = &t->lru;
}

static void
tier_release(struct tier *t)
{
    pier_free(t->buckets);
    t->buckets = NULL;
}

static struct edge_cache_node *
tier_find(const struct tier *t, const struct edge_key *k)
{
    struct edge_cache_node *n = t->buckets[key_hash(k) & (t->nbuckets - 1)];

    while (n != NULL && !edge_key_eq(&n->key, k)) {
        n = n->hnext;
    }
    return n;
}

static void
lru_unlink(struct edge_cache_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = NULL;
    n->next = NULL;
}

static void
lru_push_front(struct tier *t, struct edge_cache_node *n)
{
    n->next = t->lru.next;
    n->prev = &t->lru;
    t->lru.next->prev = n;
    t->lru.next = n;
}

static void
tier_touch(struct tier *t, struct edge_cache_node *n)
{
    if (t->lru.next != n) {
        lru_unlink(n);
        lru_push_front(t, n);
    }
}

/* Double the buckets when the table is fuller than one node per bucket:
 * an allocation, but on the insert (miss) path only. */
static void
tier_grow(struct tier *t)
{
    size_t i, nb = t->nbuckets * 2;
    struct edge_cache_node **b = pier_calloc(nb, sizeof(*b));
    struct edge_cache_node *n, *next;

    for (i = 0; i < t->nbuckets; i++) {
        for (n = t->buckets[i]; n != NULL; n = next) {
            size_t j = key_hash(&n->key) & (nb - 1);

            next = n->hnext;
            n->hnext = b[j];
            b[j] = n;
        }
    }
    pier_free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static void
tier_link(struct tier *t, struct edge_cache_node *n)
{
    size_t i;

    PIER_ASSERT(tier_find(t, &n->key) == NULL);
    if (t->count >= t->nbuckets) {
        tier_grow(t);
    }
    i = key_hash(&n->key) & (t->nbuckets - 1);
    n->hnext = t->buckets[i];
    t->buckets[i] = n;
    lru_push_front(t, n);
    t->count++;
    t->bytes += n->cost;
}

static void
tier_unlink(struct tier *t, struct edge_cache_node *n)
{
    struct edge_cache_node **pp =
        &t->buckets[key_hash(&n->key) & (t->nbuckets - 1)];

    while (*pp != n) {
        PIER_ASSERT(*pp != NULL);
        pp = &(*pp)->hnext;
    }
    *pp = n->hnext;
    n->hnext = NULL;
    lru_unlink(n);
    PIER_ASSERT(t->count > 0 && t->bytes >= n->cost);
    t->count--;
    t->bytes -= n->cost;
}

static struct edge_cache_node *
tier_oldest(const struct tier *t)
{
    return t->lru.prev != &t->lru ? t->lru.prev : NULL;
}

/* The cache. */

static struct shard *
shard_of(struct edge_cache *c, const struct edge_key *k)
{
    return &c->shards[key_shard(c, k)];
}

static int
blob_path(const struct edge_cache *c, const struct edge_key *k, char *out,
          size_t cap)
{
    char name[80];
    int n;

    PIER_ASSERT(edge_key_name(k, name, sizeof(name)) > 0);
    n = snprintf(out, cap, "%s/blobs/%.2s/%s", c->dir, name, name);
    return n > 0 && (size_t) n < cap ? PIER_OK : PIER_ERR;
}

static uint64_t
disk_cost(uint64_t size)
{
    /* Files take whole blocks; an empty one still takes an inode. */
    return (size / DISK_BLOCK + 1) * DISK_BLOCK;
}

static struct disk_ent *
disk_ent_new(const struct edge_key *k, uint64_t size, bool verified)
{
    struct disk_ent *d = pier_calloc(1, sizeof(*d));

    d->magic = DISK_ENT_MAGIC;
    d->node.key = *k;
    d->node.cost = disk_cost(size);
    d->verified = verified;
    return d;
}

static struct disk_ent *
disk_ent_of(struct edge_cache_node *n)
{
    struct disk_ent *d = container_of(n, struct disk_ent, node);

    PIER_CHECK_OBJ(d, DISK_ENT_MAGIC);
    return d;
}

static void
disk_ent_free(struct disk_ent *d)
{
    PIER_CHECK_OBJ(d, DISK_ENT_MAGIC);
    d->magic = 0;
    pier_free(d);
}

/* Unlink the files of the index entries chained through node.hnext and
 * free them; outside any lock. */
static void
disk_unlink_victims(struct edge_cache *c, struct edge_cache_node *victims)
{
    char path[PATH_MAX];
    struct edge_cache_node *n, *next;

    for (n = victims; n != NULL; n = next) {
        next = n->hnext;
        if (blob_path(c, &n->key, path, sizeof(path)) == PIER_OK
            && unlink(path) != 0 && errno != ENOENT) {
            pier_log(PIER_LOG_WARN, "edge", "cannot remove '%s': %s", path,
                     strerror(errno));
        }
        disk_ent_free(container_of(n, struct disk_ent, node));
    }
}

/* Evict the oldest index entries of s's disk tier down to its bound;
 * returns them chained through node.hnext. Under s->mu. */
static struct edge_cache_node *
disk_evict(struct shard *s)
{
    struct edge_cache_node *victims = NULL, *n;

    while (s->disk.bytes > s->disk.max) {
        n = tier_oldest(&s->disk);
        PIER_ASSERT(n != NULL);
        tier_unlink(&s->disk, n);
        n->hnext = victims;
        victims = n;
        s->disk_evictions++;
    }
    return victims;
}

static int
mkdir_p1(const char *path, struct pier_err *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return pier_err_sys(err, errno, "cannot create '%s'", path);
    }
    return PIER_OK;
}

struct scanned {
    struct edge_key key;
    uint64_t size;
    int64_t mtime_ns;
};

static int
cmp_scanned(const void *a, const void *b)
{
    const struct scanned *x = a, *y = b;

    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

/* Parse a file name of blobs/hh/: 64 hex digits and a known suffix. */
static bool
parse_blob_name(const char *name, struct edge_key *k)
{
    struct pier_err err;
    size_t n = strlen(name);
    unsigned e;

    if (n < 2 * EDGE_SHA256_LEN) {
        return false;
    }
    for (e = 0; e < EDGE_ENC_MAX; e++) {
        if (strcmp(name + 2 * EDGE_SHA256_LEN, edge_enc_suffix(e)) == 0) {
            return edge_key_parse(k, pier_str_make(name, 2 * EDGE_SHA256_LEN),
                                  e, &err)
                   == PIER_OK;
        }
    }
    return false;
}

/* Index dir/blobs/ oldest first, so the LRU order survives a restart as
 * well as modification times tell it, then evict down to the bounds. */
static int
disk_scan(struct edge_cache *c, struct pier_err *err)
{
    char path[PATH_MAX], sub[PATH_MAX];
    DIR *top, *d;
    struct dirent *de, *fe;
    struct scanned *all = NULL;
    size_t n = 0, cap = 0, i;
    struct stat st;
    unsigned si;

    if (snprintf(path, sizeof(path), "%s/blobs", c->dir)
        >= (int) sizeof(path)) {
        return pier_err_set(err, "cache directory name too long");
    }
    top = opendir(path);
    if (top == NULL) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    while ((de = readdir(top)) != NULL) {
        if (strlen(de->d_name) != 2 || pier_hexval((unsigned char) (unsigned char) de->d_name[0]) < 0
            || pier_hexval((unsigned char) (unsigned char) de->d_name[1]) < 0) {
            continue;
        }
        if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name)
            >= (int) sizeof(sub)) {
            continue;
        }
        d = opendir(sub);
        if (d == NULL) {
            continue;
        }
        while ((fe = readdir(d)) != NULL) {
            struct edge_key k;

            if (!parse_blob_name(fe->d_name, &k)
                || fstatat(dirfd(d), fe->d_name, &st, 0) != 0
                || !S_ISREG(st.st_mode)) {
                continue;
            }
            if (n == cap) {
                cap = cap != 0 ? cap * 2 : 256;
                all = pier_realloc(all, cap * sizeof(*all));
            }
            all[n].key = k;
            all[n].size = (uint64_t) st.st_size;
            all[n].mtime_ns =
                (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            n++;
        }
        closedir(d);
    }
    closedir(top);
    if (n > 0) {
        qsort(all, n, sizeof(*all), cmp_scanned);
    }
    for (i = 0; i < n; i++) {
        struct shard *s = shard_of(c, &all[i].key);

        if (tier_find(&s->disk, &all[i].key) == NULL) {
            tier_link(&s->disk,
                      &disk_ent_new(&all[i].key, all[i].size, false)->node);
        }
    }
    pier_free(all);
    for (si = 0; si < c->nshards; si++) {
        disk_unlink_victims(c, disk_evict(&c->shards[si]));
    }
    return PIER_OK;
}

/* Remove what a crash left in dir/tmp: never-renamed temp files. */
static void
clean_tmp(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *de;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            (void) unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

struct edge_cache *
edge_cache_new(const struct edge_cache_opts *o, struct pier_err *err)
{
    struct edge_cache *c;
    char path[PATH_MAX];
    unsigned i, n = o->shards != 0 ? o->shards : DEFAULT_SHARDS;

    if ((n & (n - 1)) != 0 || n > 256) {
        pier_err_set(err, "cache shards must be a power of two up to 256");
        return NULL;
    }
    if (o->dir != NULL
        && strlen(o->dir) > PATH_MAX - sizeof("/blobs/00/") - 80) {
        pier_err_set(err, "cache directory name too long");
        return NULL;
    }
    c = pier_calloc(1, sizeof(*c));
    c->magic = CACHE_MAGIC;
    c->nshards = n;
    c->shard_mem_max = o->mem_max / n;
    c->object_max = o->object_max != 0 ? o->object_max : o->mem_max / n / 8;
    /* A blob must fit its shard whole, with its header. */
    if (c->object_max + BLOB_OVERHEAD > o->mem_max / n) {
        c->object_max =
            o->mem_max / n > BLOB_OVERHEAD ? o->mem_max / n - BLOB_OVERHEAD : 0;
    }
    if (posix_memalign((void **) &c->shards, 64, n * sizeof(*c->shards)) != 0) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    for (i = 0; i < n; i++) {
        struct shard *s = &c->shards[i];

        memset(s, 0, sizeof(*s));
        PIER_ASSERT(pthread_mutex_init(&s->mu, NULL) == 0);
        tier_init(&s->mem, o->mem_max / n);
        tier_init(&s->disk, o->dir != NULL ? o->disk_max / n : 0);
    }
    if (o->dir == NULL) {
        return c;
    }
    c->dir = pier_strdup(o->dir);
    if (mkdir_p1(c->dir, err) != PIER_OK) {
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/tmp", c->dir);
    if (mkdir_p1(path, err) != PIER_OK) {
        goto fail;
    }
    clean_tmp(path);
    snprintf(path, sizeof(path), "%s/blobs", c->dir);
    if (mkdir_p1(path, err) != PIER_OK || disk_scan(c, err) != PIER_OK) {
        goto fail;
    }
    return c;

fail:
    edge_cache_free(c);
    return NULL;
}

void
edge_cache_free(struct edge_cache *c)
{
    unsigned i;
    struct edge_cache_node *n;

    if (c == NULL) {
        return;
    }
    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    for (i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shards[i];

        while ((n = tier_oldest(&s->mem)) != NULL) {
            struct edge_blob *b = container_of(n, struct edge_blob, node);

            tier_unlink(&s->mem, n);
            b->cached = false;
            edge_blob_release(b);
        }
        while ((n = tier_oldest(&s->disk)) != NULL) {
            tier_unlink(&s->disk, n);
            disk_ent_free(container_of(n, struct disk_ent, node));
        }
        tier_release(&s->mem);
        tier_release(&s->disk);
        PIER_ASSERT(pthread_mutex_destroy(&s->mu) == 0);
    }
    free(c->shards);
    pier_free(c->dir);
    c->magic = 0;
    pier_free(c);
}

static struct edge_blob *
lookup(struct edge_cache *c, const struct edge_key *k, bool count)
{
    struct shard *s;
    struct edge_cache_node *n;
    struct edge_blob *b = NULL;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    s = shard_of(c, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->mem, k);
    if (n != NULL) {
        b = container_of(n, struct edge_blob, node);
        tier_touch(&s->mem, n);
        edge_blob_ref(b);
    }
    if (count && b != NULL) {
        s->hits++;
    } else if (count) {
        s->misses++;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    return b;
}

struct edge_blob *
edge_cache_get(struct edge_cache *c, const struct edge_key *k)
{
    return lookup(c, k, true);
}

struct edge_blob *
edge_cache_find(struct edge_cache *c, const struct edge_key *k)
{
    return lookup(c, k, false);
}

bool
edge_cache_fits(const struct edge_cache *c, uint64_t size)
{
    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    return size <= c->object_max && size + BLOB_OVERHEAD <= c->shard_mem_max;
}

struct edge_blob *
edge_cache_put(struct edge_cache *c, struct edge_blob *b)
{
    struct shard *s;
    struct edge_cache_node *n, *victims = NULL;
    struct edge_blob *have = NULL, *v;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    PIER_CHECK_OBJ(b, EDGE_BLOB_MAGIC);
    if (!edge_cache_fits(c, b->size)) {
        edge_blob_ref(b);
        return b;
    }
    s = shard_of(c, &b->key);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->mem, &b->key);
    if (n != NULL) {
        have = container_of(n, struct edge_blob, node);
        tier_touch(&s->mem, n);
        edge_blob_ref(have);
    } else {
        PIER_ASSERT(!b->cached);
        edge_blob_ref(b); /* the cache's reference */
        b->cached = true;
        tier_link(&s->mem, &b->node);
        while (s->mem.bytes > s->mem.max) {
            n = tier_oldest(&s->mem);
            PIER_ASSERT(n != NULL && n != &b->node);
            tier_unlink(&s->mem, n);
            v = container_of(n, struct edge_blob, node);
            v->cached = false;
            n->hnext = victims;
            victims = n;
            s->mem_evictions++;
        }
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    while (victims != NULL) {
        n = victims;
        victims = n->hnext;
        n->hnext = NULL;
        edge_blob_release(container_of(n, struct edge_blob, node));
    }
    if (have != NULL) {
        return have;
    }
    edge_blob_ref(b); /* the caller's */
    return b;
}

void
edge_cache_drop(struct edge_cache *c, const struct edge_key *k)
{
    struct shard *s;
    struct edge_cache_node *n, *dvictim = NULL;
    struct edge_blob *b = NULL;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    s = shard_of(c, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->mem, k);
    if (n != NULL) {
        tier_unlink(&s->mem, n);
        b = container_of(n, struct edge_blob, node);
        b->cached = false;
    }
    n = tier_find(&s->disk, k);
    if (n != NULL) {
        tier_unlink(&s->disk, n);
        dvictim = n;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    edge_blob_release(b);
    disk_unlink_victims(c, dvictim);
}

static int
write_all(int fd, const unsigned char *p, uint64_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n < (1U << 30) ? (size_t) n : (1U << 30));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return PIER_ERR;
        }
        p += w;
        n -= (uint64_t) w;
    }
    return PIER_OK;
}

/* Rename the complete file tmp (of verified bytes) to k's name and index
 * it, evicting down to the bound; on failure tmp is removed. */
static int
disk_install(struct edge_cache *c, const struct edge_key *k, uint64_t size,
             const char *tmp, struct pier_err *err)
{
    char path[PATH_MAX];
    struct shard *s = shard_of(c, k);
    struct edge_cache_node *victims = NULL;
    struct disk_ent *d;
    int sys;

    PIER_ASSERT(blob_path(c, k, path, sizeof(path)) == PIER_OK);
    /* The rename is atomic: a reader sees the whole file or none. No
     * fsync: a file torn by a crash fails verification when read back. */
    if (rename(tmp, path) != 0) {
        sys = errno;
        unlink(tmp);
        return pier_err_sys(err, sys, "cannot rename to '%s'", path);
    }
    d = disk_ent_new(k, size, true);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    if (tier_find(&s->disk, k) == NULL) {
        tier_link(&s->disk, &d->node);
        d = NULL;
        victims = disk_evict(s);
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (d != NULL) {
        disk_ent_free(d); /* another thread stored it meanwhile */
    }
    disk_unlink_victims(c, victims);
    return PIER_OK;
}

int
edge_cache_disk_store(struct edge_cache *c, const struct edge_blob *b,
                      struct pier_err *err)
{
    char tmp[PATH_MAX], name[80];
    struct shard *s;
    struct edge_cache_node *n;
    int fd, sys;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    PIER_CHECK_OBJ(b, EDGE_BLOB_MAGIC);
    if (c->dir == NULL) {
        return PIER_OK;
    }
    s = shard_of(c, &b->key);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->disk, &b->key);
    if (n != NULL) {
        tier_touch(&s->disk, n);
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (n != NULL || disk_cost(b->size) > s->disk.max) {
        return PIER_OK; /* there already, or too large for the tier */
    }

    PIER_ASSERT(edge_key_name(&b->key, name, sizeof(name)) > 0);
    snprintf(tmp, sizeof(tmp), "%s/blobs/%.2s", c->dir, name);
    if (mkdir_p1(tmp, err) != PIER_OK) {
        return PIER_ERR;
    }
    snprintf(tmp, sizeof(tmp), "%s/tmp/%s.XXXXXX", c->dir, name);
    fd = mkstemp(tmp);
    if (fd < 0) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    if (write_all(fd, b->data, b->size) != PIER_OK) {
        sys = errno;
        close(fd);
        unlink(tmp);
        return pier_err_sys(err, sys, "cannot write '%s'", tmp);
    }
    if (close(fd) != 0) {
        sys = errno;
        unlink(tmp);
        return pier_err_sys(err, sys, "cannot write '%s'", tmp);
    }
    return disk_install(c, &b->key, b->size, tmp, err);
}

int
edge_cache_disk_adopt(struct edge_cache *c, const struct edge_key *k,
                      uint64_t size, const char *tmp, struct pier_err *err)
{
    char dir[PATH_MAX], name[80];
    struct shard *s;
    struct edge_cache_node *n;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    PIER_ASSERT(c->dir != NULL);
    s = shard_of(c, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->disk, k);
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (n != NULL || disk_cost(size) > s->disk.max) {
        (void) unlink(tmp);
        return PIER_OK; /* there already, or too large for the tier */
    }
    PIER_ASSERT(edge_key_name(k, name, sizeof(name)) > 0);
    snprintf(dir, sizeof(dir), "%s/blobs/%.2s", c->dir, name);
    if (mkdir_p1(dir, err) != PIER_OK) {
        (void) unlink(tmp);
        return PIER_ERR;
    }
    return disk_install(c, k, size, tmp, err);
}

bool
edge_cache_disk_enabled(const struct edge_cache *c)
{
    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    return c->dir != NULL;
}

bool
edge_cache_disk_has(struct edge_cache *c, const struct edge_key *k)
{
    struct shard *s;
    bool has;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    if (c->dir == NULL) {
        return false;
    }
    s = shard_of(c, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    has = tier_find(&s->disk, k) != NULL;
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    return has;
}

/* Forget k on disk after a failed read; count the error. */
static void
disk_forget(struct edge_cache *c, const struct edge_key *k, bool error)
{
    struct shard *s = shard_of(c, k);
    struct edge_cache_node *n;

    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->disk, k);
    if (n != NULL) {
        tier_unlink(&s->disk, n);
    }
    if (error) {
        s->disk_errors++;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (n != NULL) {
        n->hnext = NULL;
        disk_unlink_victims(c, n);
    }
}

/* Open k's file in the disk tier, touching its LRU place: PIER_OK with *fd
 * -1 when the tier has no such blob (or lost its file), with the file open,
 * st filled and *verified told when it has. A file that cannot be opened or stat'ed is
 * dropped from the tier. path receives the file's name for messages. */
static int
disk_open(struct edge_cache *c, const struct edge_key *k, int *fd,
          struct stat *st, bool *verified, char path[PATH_MAX],
          struct pier_err *err)
{
    struct shard *s = shard_of(c, k);
    struct edge_cache_node *n;
    int sys;

    *fd = -1;
    *verified = false;
    if (c->dir == NULL) {
        return PIER_OK;
    }
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->disk, k);
    if (n != NULL) {
        tier_touch(&s->disk, n);
        *verified = disk_ent_of(n)->verified;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (n == NULL) {
        return PIER_OK;
    }
    PIER_ASSERT(blob_path(c, k, path, PATH_MAX) == PIER_OK);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 && errno == ENOENT) {
        disk_forget(c, k, false); /* removed behind our back */
        return PIER_OK;
    }
    if (*fd < 0 || fstat(*fd, st) != 0) {
        sys = errno;
        if (*fd >= 0) {
            close(*fd);
            *fd = -1;
        }
        disk_forget(c, k, true);
        return pier_err_sys(err, sys, "cannot read '%s'", path);
    }
    return PIER_OK;
}

static void
disk_hit(struct edge_cache *c, const struct edge_key *k)
{
    struct shard *s = shard_of(c, k);

    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    s->disk_hits++;
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
}

int
edge_cache_disk_load(struct edge_cache *c, const struct edge_key *k,
                     uint64_t decoded_max, struct edge_blob **out,
                     struct pier_err *err)
{
    char path[PATH_MAX];
    struct edge_blob *b;
    struct stat st;
    uint64_t got = 0;
    ssize_t r;
    int fd, sys;
    bool verified;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    *out = NULL;
    if (disk_open(c, k, &fd, &st, &verified, path, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (fd < 0) {
        return PIER_OK;
    }
    b = edge_blob_new(k, (uint64_t) st.st_size);
    b->stored_s = (int64_t) st.st_mtim.tv_sec;
    while (got < b->size) {
        r = read(fd, b->data + got,
                 b->size - got < (1U << 30) ? (size_t) (b->size - got)
                                            : (1U << 30));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            sys = r < 0 ? errno : EIO;
            close(fd);
            edge_blob_release(b);
            disk_forget(c, k, true);
            return pier_err_sys(err, sys, "cannot read '%s'", path);
        }
        got += (uint64_t) r;
    }
    close(fd);
    if (edge_verify_bytes(k->enc, k->sha, b->data, b->size, decoded_max, err)
        != PIER_OK) {
        edge_blob_release(b);
        disk_forget(c, k, true);
        return pier_err_set(err, "'%s' fails verification, removed", path);
    }
    edge_cache_disk_verified(c, k);
    disk_hit(c, k);
    *out = edge_cache_put(c, b);
    edge_blob_release(b);
    return PIER_OK;
}

int
edge_cache_disk_open(struct edge_cache *c, const struct edge_key *k, int *fd,
                     uint64_t *size, int64_t *stored_s, bool *verified,
                     struct pier_err *err)
{
    char path[PATH_MAX];
    struct stat st;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    if (disk_open(c, k, fd, &st, verified, path, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (*fd < 0) {
        return PIER_OK;
    }
    *size = (uint64_t) st.st_size;
    *stored_s = (int64_t) st.st_mtim.tv_sec;
    disk_hit(c, k);
    return PIER_OK;
}

void
edge_cache_disk_verified(struct edge_cache *c, const struct edge_key *k)
{
    struct shard *s;
    struct edge_cache_node *n;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    if (c->dir == NULL) {
        return;
    }
    s = shard_of(c, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    n = tier_find(&s->disk, k);
    if (n != NULL) {
        disk_ent_of(n)->verified = true;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
}

void
edge_cache_disk_bad(struct edge_cache *c, const struct edge_key *k)
{
    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    if (c->dir != NULL) {
        disk_forget(c, k, true);
    }
}

void
edge_cache_stats(struct edge_cache *c, struct edge_cache_stats *st)
{
    unsigned i;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    memset(st, 0, sizeof(*st));
    for (i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shards[i];

        PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
        st->mem_bytes += s->mem.bytes;
        st->mem_entries += s->mem.count;
        st->mem_max += s->mem.max;
        st->disk_bytes += s->disk.bytes;
        st->disk_entries += s->disk.count;
        st->disk_max += s->disk.max;
        st->hits += s->hits;
        st->misses += s->misses;
        st->mem_evictions += s->mem_evictions;
        st->disk_evictions += s->disk_evictions;
        st->disk_hits += s->disk_hits;
        st->disk_errors += s->disk_errors;
        PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    }
}

/* One tier of shard si: the list and the table hold the same nodes, the
 * counts and bytes add up, the bound holds. */
static void
tier_assert(const struct edge_cache *c, unsigned si, const struct tier *t,
            bool mem)
{
    const struct edge_cache_node *n;
    size_t count = 0, chained = 0, i;
    uint64_t bytes = 0;

    PIER_ASSERT(t->lru.next->prev == &t->lru);
    PIER_ASSERT(t->lru.prev->next == &t->lru);
    for (n = t->lru.next; n != &t->lru; n = n->next) {
        PIER_ASSERT(n->next->prev == n && n->prev->next == n);
        PIER_ASSERT(key_shard(c, &n->key) == si);
        PIER_ASSERT(tier_find(t, &n->key) == n);
        if (mem) {
            const struct edge_blob *b =
                container_of(n, const struct edge_blob, node);

            PIER_CHECK_OBJ(b, EDGE_BLOB_MAGIC);
            PIER_ASSERT(b->cached);
            PIER_ASSERT(atomic_load(&b->refs) >= 1);
            PIER_ASSERT(edge_key_eq(&b->key, &n->key));
            PIER_ASSERT(n->cost == b->size + BLOB_OVERHEAD);
            PIER_ASSERT(b->size <= c->object_max);
        } else {
            PIER_CHECK_OBJ(container_of(n, const struct disk_ent, node),
                           DISK_ENT_MAGIC);
        }
        count++;
        bytes += n->cost;
        PIER_ASSERT(count <= t->count);
    }
    PIER_ASSERT(count == t->count);
    PIER_ASSERT(bytes == t->bytes);
    PIER_ASSERT(t->bytes <= t->max);
    PIER_ASSERT(t->nbuckets >= MIN_BUCKETS
                && (t->nbuckets & (t->nbuckets - 1)) == 0);
    for (i = 0; i < t->nbuckets; i++) {
        for (n = t->buckets[i]; n != NULL; n = n->hnext) {
            PIER_ASSERT((key_hash(&n->key) & (t->nbuckets - 1)) == i);
            chained++;
            PIER_ASSERT(chained <= t->count);
        }
    }
    PIER_ASSERT(chained == t->count);
}

void
edge_cache_assert(struct edge_cache *c)
{
    unsigned i;

    PIER_CHECK_OBJ(c, CACHE_MAGIC);
    PIER_ASSERT(c->nshards > 0 && (c->nshards & (c->nshards - 1)) == 0);
    for (i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shards[i];

        PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
        tier_assert(c, i, &s->mem, true);
        tier_assert(c, i, &s->disk, false);
        PIER_ASSERT(c->dir != NULL || s->disk.count == 0);
        PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    }
}
