/*
 * edge/fetch.c - the table of origin fetches in flight, and the waiters
 * each fetch wakes on their own loops.
 *
 * A fetch's life: created by the first join (in the table, state
 * f_waiting), f_receiving once edge_fetch_begin() allocated the body (in
 * memory, or a spill file past fetch_max), then
 * f_done (verified, cached, out of the table) or f_failed (out of the
 * table, nothing cached). References: one for the table while it is in
 * it, one for the driver, one per waiter; the last release frees it.
 *
 * Why the table keeps the fetch until after the cache has the blob: a
 * request misses the cache, then joins. If the fetch left the table first
 * and the blob entered the cache after, a request arriving in between
 * would find neither and start a second origin GET. Joining also looks in
 * the cache again under the table's shard lock, which closes the window
 * from the other side.
 */
#include "config.h"

#include "edge/fetch.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FETCHES_MAGIC  0x7e2b95c4U
#define FETCH_MAGIC    0x1f8d3a66U
#define NOTIFIER_MAGIC 0x4b60e2f9U
#define DEFAULT_SHARDS 16
#define FBUCKETS       64

enum fstate { f_waiting = 0, f_receiving, f_done, f_failed };

struct edge_fetch {
    unsigned magic;
    atomic_uint refs;
    pthread_mutex_t mu; /* state, blob, avail, waiters */
    struct edge_fetches *t;
    struct edge_key key;
    uint64_t decoded_max;
    enum fstate state;
    struct edge_blob *blob;     /* from begin on, unless spilled */
    int fd;                     /* the spill file, or -1 */
    char *spill_path;           /* its name while kept for the disk tier */
    uint64_t size;              /* of the body, from begin on */
    uint64_t avail;             /* body bytes written, under mu */
    struct edge_verify *verify; /* the driver's */
    struct edge_waiter *waiters;
    struct edge_fetch *hnext; /* in its table shard's bucket */
    bool in_table;
};

struct fshard {
    pthread_mutex_t mu;
    struct edge_fetch *buckets[FBUCKETS];
} __attribute__((aligned(64)));

struct edge_fetches {
    unsigned magic;
    unsigned nshards;
    uint64_t fetch_max;
    char *spill_dir;
    bool spill_keep;
    struct edge_cache *cache;
    struct fshard *shards;
    atomic_uint_fast64_t started, joined, late_hits, failed, bytes, in_flight;
};

struct edge_notifier {
    unsigned magic;
    uv_async_t async;
    pthread_mutex_t mu; /* the ready list */
    struct edge_waiter *head, *tail;
    size_t waiters; /* joined and not left */
};

/* Notifiers. */

static void
on_async(uv_async_t *a)
{
    struct edge_notifier *n = a->data;
    struct edge_waiter *w;
    size_t budget;

    PIER_CHECK_OBJ(n, NOTIFIER_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
    budget = n->waiters;
    PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
    /* One at a time: a callback may make another waiter of this loop
     * leave (and free it), so nothing is kept across a callback. Waiters
     * queued meanwhile were queued with a uv_async_send() that libuv
     * turns into another call of this function once it returns; the
     * budget keeps a fast driver from holding the loop here. */
    while (budget-- > 0) {
        PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
        w = n->head;
        if (w != NULL) {
            n->head = w->n_next;
            if (n->head == NULL) {
                n->tail = NULL;
            } else {
                n->head->n_prev = NULL;
            }
            w->n_next = NULL;
            w->n_prev = NULL;
            w->queued = false;
        }
        PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
        if (w == NULL) {
            break;
        }
        PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
        w->cb(w);
    }
}

struct edge_notifier *
edge_notifier_new(uv_loop_t *loop, struct pier_err *err)
{
    struct edge_notifier *n = pier_calloc(1, sizeof(*n));
    int rc;

    n->magic = NOTIFIER_MAGIC;
    rc = uv_async_init(loop, &n->async, on_async);
    if (rc != 0) {
        pier_free(n);
        pier_err_set(err, "cannot create the fetch notifier: %s",
                     uv_strerror(rc));
        return NULL;
    }
    n->async.data = n;
    PIER_ASSERT(pthread_mutex_init(&n->mu, NULL) == 0);
    return n;
}

static void
on_notifier_closed(uv_handle_t *h)
{
    struct edge_notifier *n = h->data;

    PIER_CHECK_OBJ(n, NOTIFIER_MAGIC);
    PIER_ASSERT(pthread_mutex_destroy(&n->mu) == 0);
    n->magic = 0;
    pier_free(n);
}

void
edge_notifier_close(struct edge_notifier *n)
{
    PIER_CHECK_OBJ(n, NOTIFIER_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
    PIER_ASSERT(n->waiters == 0 && n->head == NULL);
    PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
    uv_close((uv_handle_t *) &n->async, on_notifier_closed);
}

/* Queue w on its loop and wake the loop. Under w's fetch's mutex. */
static void
queue(struct edge_waiter *w)
{
    struct edge_notifier *n = w->notifier;

    PIER_CHECK_OBJ(n, NOTIFIER_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
    if (!w->queued) {
        w->queued = true;
        w->n_next = NULL;
        w->n_prev = n->tail;
        if (n->tail != NULL) {
            n->tail->n_next = w;
        } else {
            n->head = w;
        }
        n->tail = w;
    }
    PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
    PIER_ASSERT(uv_async_send(&n->async) == 0);
}

static void
notify_all(struct edge_fetch *f)
{
    struct edge_waiter *w;

    for (w = f->waiters; w != NULL; w = w->f_next) {
        queue(w);
    }
}

void
edge_waiter_init(struct edge_waiter *w, edge_waiter_cb cb, void *data)
{
    memset(w, 0, sizeof(*w));
    w->magic = EDGE_WAITER_MAGIC;
    w->cb = cb;
    w->data = data;
}

/* The table. */

struct edge_fetches *
edge_fetches_new(const struct edge_fetches_opts *o, struct edge_cache *cache)
{
    struct edge_fetches *t;
    unsigned i, n = o->shards != 0 ? o->shards : DEFAULT_SHARDS;

    PIER_ASSERT(n <= 256 && (n & (n - 1)) == 0);
    t = pier_calloc(1, sizeof(*t));
    t->magic = FETCHES_MAGIC;
    t->nshards = n;
    t->fetch_max = o->fetch_max;
    t->spill_dir = pier_strdup(o->spill_dir != NULL ? o->spill_dir : "/tmp");
    t->spill_keep = o->spill_keep;
    t->cache = cache;
    if (posix_memalign((void **) &t->shards, 64, n * sizeof(*t->shards)) != 0) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    memset(t->shards, 0, n * sizeof(*t->shards));
    for (i = 0; i < n; i++) {
        PIER_ASSERT(pthread_mutex_init(&t->shards[i].mu, NULL) == 0);
    }
    return t;
}

void
edge_fetches_free(struct edge_fetches *t)
{
    unsigned i, j;

    if (t == NULL) {
        return;
    }
    PIER_CHECK_OBJ(t, FETCHES_MAGIC);
    for (i = 0; i < t->nshards; i++) {
        for (j = 0; j < FBUCKETS; j++) {
            PIER_ASSERT(t->shards[i].buckets[j] == NULL);
        }
        PIER_ASSERT(pthread_mutex_destroy(&t->shards[i].mu) == 0);
    }
    free(t->shards);
    pier_free(t->spill_dir);
    t->magic = 0;
    pier_free(t);
}

static struct fshard *
fshard_of(struct edge_fetches *t, const struct edge_key *k)
{
    return &t->shards[k->sha[0] & (t->nshards - 1)];
}

static struct edge_fetch **
bucket_of(struct fshard *s, const struct edge_key *k)
{
    return &s->buckets[(k->sha[1] ^ (unsigned) k->enc * 31) % FBUCKETS];
}

static void
fetch_ref(struct edge_fetch *f)
{
    PIER_ASSERT(atomic_fetch_add(&f->refs, 1) > 0);
}

void
edge_fetch_release(struct edge_fetch *f)
{
    if (f == NULL) {
        return;
    }
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    PIER_ASSERT(!f->in_table && f->waiters == NULL);
    edge_verify_free(f->verify);
    edge_blob_release(f->blob);
    if (f->fd >= 0) {
        PIER_ASSERT(close(f->fd) == 0);
    }
    if (f->spill_path != NULL) {
        (void) unlink(f->spill_path); /* failed, or never adopted */
        pier_free(f->spill_path);
    }
    PIER_ASSERT(pthread_mutex_destroy(&f->mu) == 0);
    f->magic = 0;
    pier_free(f);
}

/* A new fetch of k, to be linked in its bucket by the caller. */
static struct edge_fetch *
fetch_new(struct edge_fetches *t, const struct edge_key *k,
          uint64_t decoded_max)
{
    struct edge_fetch *f = pier_calloc(1, sizeof(*f));

    f->magic = FETCH_MAGIC;
    atomic_init(&f->refs, 2); /* the table's and the driver's */
    PIER_ASSERT(pthread_mutex_init(&f->mu, NULL) == 0);
    f->t = t;
    f->key = *k;
    f->decoded_max = decoded_max;
    f->state = f_waiting;
    f->fd = -1;
    f->in_table = true;
    return f;
}

/* Attach w to f and queue its first callback. Under f->mu. */
static void
attach(struct edge_fetch *f, struct edge_notifier *n, struct edge_waiter *w)
{
    PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
    n->waiters++;
    PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
    w->notifier = n;
    w->fetch = f;
    w->off = 0;
    w->f_prev = NULL;
    w->f_next = f->waiters;
    if (f->waiters != NULL) {
        f->waiters->f_prev = w;
    }
    f->waiters = w;
    fetch_ref(f);
    queue(w);
}

enum edge_join
edge_fetches_join(struct edge_fetches *t, const struct edge_key *k,
                  uint64_t decoded_max, struct edge_notifier *n,
                  struct edge_waiter *w, struct edge_blob **hit,
                  struct edge_fetch **started)
{
    struct fshard *s;
    struct edge_fetch *f, **bucket;
    struct edge_blob *b;

    PIER_CHECK_OBJ(t, FETCHES_MAGIC);
    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    PIER_CHECK_OBJ(n, NOTIFIER_MAGIC);
    PIER_ASSERT(w->fetch == NULL);
    *hit = NULL;
    *started = NULL;
    s = fshard_of(t, k);
    bucket = bucket_of(s, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    for (f = *bucket; f != NULL && !edge_key_eq(&f->key, k); f = f->hnext) {
    }
    if (f != NULL) {
        PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
        attach(f, n, w);
        PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
        PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
        atomic_fetch_add(&t->joined, 1);
        return EDGE_JOIN_WAIT;
    }
    b = edge_cache_find(t->cache, k);
    if (b != NULL) {
        PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
        atomic_fetch_add(&t->late_hits, 1);
        *hit = b;
        return EDGE_JOIN_HIT;
    }
    f = fetch_new(t, k, decoded_max);
    f->hnext = *bucket;
    *bucket = f;
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    attach(f, n, w);
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    atomic_fetch_add(&t->started, 1);
    atomic_fetch_add(&t->in_flight, 1);
    *started = f;
    return EDGE_JOIN_STARTED;
}

bool
edge_fetches_prefetch(struct edge_fetches *t, const struct edge_key *k,
                      uint64_t decoded_max, struct edge_fetch **started)
{
    struct fshard *s;
    struct edge_fetch *f, **bucket;
    struct edge_blob *b;

    PIER_CHECK_OBJ(t, FETCHES_MAGIC);
    *started = NULL;
    s = fshard_of(t, k);
    bucket = bucket_of(s, k);
    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    for (f = *bucket; f != NULL && !edge_key_eq(&f->key, k); f = f->hnext) {
    }
    b = f == NULL ? edge_cache_find(t->cache, k) : NULL;
    if (f != NULL || b != NULL) {
        PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
        edge_blob_release(b);
        return false;
    }
    f = fetch_new(t, k, decoded_max);
    f->hnext = *bucket;
    *bucket = f;
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    atomic_fetch_add(&t->started, 1);
    atomic_fetch_add(&t->in_flight, 1);
    *started = f;
    return true;
}

void
edge_fetches_stats(struct edge_fetches *t, struct edge_fetches_stats *st)
{
    PIER_CHECK_OBJ(t, FETCHES_MAGIC);
    st->started = atomic_load(&t->started);
    st->joined = atomic_load(&t->joined);
    st->late_hits = atomic_load(&t->late_hits);
    st->failed = atomic_load(&t->failed);
    st->bytes = atomic_load(&t->bytes);
    st->in_flight = atomic_load(&t->in_flight);
}

/* Take f out of its table and drop the table's reference; f stays alive
 * through the caller's. */
static void
unlist(struct edge_fetch *f)
{
    struct fshard *s = fshard_of(f->t, &f->key);
    struct edge_fetch **pp;
    bool was = false;

    PIER_ASSERT(pthread_mutex_lock(&s->mu) == 0);
    if (f->in_table) {
        for (pp = bucket_of(s, &f->key); *pp != f; pp = &(*pp)->hnext) {
            PIER_ASSERT(*pp != NULL);
        }
        *pp = f->hnext;
        f->hnext = NULL;
        f->in_table = false;
        was = true;
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->mu) == 0);
    if (was) {
        atomic_fetch_sub(&f->t->in_flight, 1);
        PIER_ASSERT(atomic_fetch_sub(&f->refs, 1) > 1);
    }
}

/* Fail f: out of the table first, so that a new request starts afresh
 * rather than join a fetch that failed; then tell the waiters. Logged
 * here, the one place that decides. */
static int
fail(struct edge_fetch *f, const char *why)
{
    char name[80];
    bool first;

    unlist(f);
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    first = f->state != f_failed && f->state != f_done;
    if (first) {
        f->state = f_failed;
        notify_all(f);
    }
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    if (first) {
        atomic_fetch_add(&f->t->failed, 1);
        PIER_ASSERT(edge_key_name(&f->key, name, sizeof(name)) > 0);
        pier_log(PIER_LOG_WARN, "edge", "origin fetch of blob '%s' failed: %s",
                 name, why);
    }
    return PIER_ERR;
}

/* The spill file of a body too large for memory, created in the spill
 * directory. Unlinked at once, so that it lives exactly as long as the
 * descriptor (the last reference to the fetch closes it), unless the disk
 * tier may adopt it: then its name is kept until then (a crash leaves it
 * in the tier's tmp/, emptied at start). The fd, or PIER_ERR with err
 * set. */
static int
spill_open(struct edge_fetch *f, struct pier_err *err)
{
    char path[PATH_MAX], name[80];
    int fd, sys, n;

    PIER_ASSERT(edge_key_name(&f->key, name, sizeof(name)) > 0);
    n = snprintf(path, sizeof(path), "%s/%s.spill.XXXXXX", f->t->spill_dir,
                 name);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return pier_err_set(err, "spill directory name too long");
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        return pier_err_sys(err, errno, "cannot create '%s'", path);
    }
    if (f->t->spill_keep) {
        f->spill_path = pier_strdup(path);
        return fd;
    }
    if (unlink(path) != 0) {
        sys = errno;
        PIER_ASSERT(close(fd) == 0);
        return pier_err_sys(err, sys, "cannot remove '%s'", path);
    }
    return fd;
}

int
edge_fetch_begin(struct edge_fetch *f, uint64_t size, struct pier_err *err)
{
    struct edge_blob *b = NULL;
    int fd = -1;

    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    PIER_ASSERT(f->state == f_waiting || f->state == f_failed);
    if (f->state == f_failed) {
        return pier_err_set(err, "fetch already failed");
    }
    /* A body past fetch_max streams through a file, never memory: the
     * driver writes it as it comes, whatever the pace of the clients, and
     * each waiter reads it back at its own (a slow client holds nothing
     * but its own read buffer). */
    if (size > f->t->fetch_max) {
        fd = spill_open(f, err);
        if (fd < 0) {
            return fail(f, err->msg);
        }
    } else {
        b = edge_blob_new(&f->key, size);
    }
    f->verify = edge_verify_new(f->key.enc, f->decoded_max);
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    f->blob = b;
    f->fd = fd;
    f->size = size;
    f->state = f_receiving;
    notify_all(f); /* waiters can send their headers */
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    return PIER_OK;
}

/* Write n bytes at off of the spill file. */
static int
spill_write(struct edge_fetch *f, const unsigned char *p, size_t n,
            struct pier_err *err)
{
    uint64_t off = f->avail;
    ssize_t w;

    while (n > 0) {
        w = pwrite(f->fd, p, n, (off_t) off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return pier_err_sys(err, w < 0 ? errno : EIO,
                                "cannot write the spill file");
        }
        p += w;
        n -= (size_t) w;
        off += (uint64_t) w;
    }
    return PIER_OK;
}

int
edge_fetch_append(struct edge_fetch *f, const void *p, size_t n,
                  struct pier_err *err)
{
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    if (f->state == f_failed) {
        return pier_err_set(err, "fetch already failed");
    }
    PIER_ASSERT(f->state == f_receiving);
    /* Only the driver writes avail and the bytes past it, so both are
     * read here without the lock; waiters read below avail only. */
    if (n > f->size - f->avail) {
        pier_err_set(err, "body longer than its %llu bytes",
                     (unsigned long long) f->size);
        return fail(f, err->msg);
    }
    if (edge_verify_update(f->verify, p, n, err) != PIER_OK) {
        return fail(f, err->msg);
    }
    if (f->blob != NULL) {
        memcpy(f->blob->data + f->avail, p, n);
    } else if (spill_write(f, p, n, err) != PIER_OK) {
        /* The page cache takes the write at once; a full disk fails. */
        return fail(f, err->msg);
    }
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    f->avail += n;
    notify_all(f);
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    atomic_fetch_add(&f->t->bytes, n);
    return PIER_OK;
}

int
edge_fetch_finish(struct edge_fetch *f, bool ok, const char *why)
{
    struct pier_err err;
    struct edge_blob *cached;

    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    PIER_ASSERT(f->state != f_done);
    if (f->state == f_failed) {
        return PIER_ERR; /* logged when it failed */
    }
    if (!ok) {
        return fail(f, why != NULL ? why : "transfer failed");
    }
    if (f->state != f_receiving) {
        return fail(f, "no body");
    }
    if (f->avail != f->size) {
        pier_err_set(&err, "body cut at %llu of %llu bytes",
                     (unsigned long long) f->avail,
                     (unsigned long long) f->size);
        return fail(f, err.msg);
    }
    if (edge_verify_final(f->verify, f->key.sha, &err) != PIER_OK) {
        return fail(f, err.msg);
    }
    /* Cache first, then leave the table: see the top of the file. A
     * spilled body is not cached in memory: its waiters read the file to
     * its end, and the driver may hand the file to the disk tier. */
    if (f->blob != NULL) {
        cached = edge_cache_put(f->t->cache, f->blob);
        edge_blob_release(cached);
    }
    unlist(f);
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    f->state = f_done;
    notify_all(f);
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    return PIER_OK;
}

struct edge_blob *
edge_fetch_blob(struct edge_fetch *f)
{
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    PIER_ASSERT(f->state == f_done);
    if (f->blob == NULL) {
        return NULL; /* spilled */
    }
    edge_blob_ref(f->blob);
    return f->blob;
}

char *
edge_fetch_spill_take(struct edge_fetch *f)
{
    char *p;

    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    PIER_ASSERT(f->state == f_done);
    /* Only the driver's thread touches spill_path before the release. */
    p = f->spill_path;
    f->spill_path = NULL;
    return p;
}

uint64_t
edge_fetch_size(const struct edge_fetch *f)
{
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    return f->size;
}

const struct edge_key *
edge_fetch_key(const struct edge_fetch *f)
{
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    return &f->key;
}

/* Waiters. */

int
edge_waiter_peek(struct edge_waiter *w, const unsigned char **p, size_t *n,
                 uint64_t *size)
{
    struct edge_fetch *f;
    uint64_t limit = 0;
    int rc;

    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    f = w->fetch;
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    *p = NULL;
    *n = 0;
    *size = UINT64_MAX;
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    switch (f->state) {
    case f_waiting:
        rc = PIER_AGAIN;
        break;
    case f_receiving:
        /* Everything but the last byte until the hash matched: a client
         * never holds a complete body that was not verified. */
        limit = f->avail;
        if (limit == f->size && limit > 0) {
            limit--;
        }
        rc = PIER_AGAIN;
        break;
    case f_done:
        limit = f->size;
        rc = PIER_OK;
        break;
    case f_failed:
    default:
        rc = PIER_ERR;
        break;
    }
    if (f->state != f_waiting && rc != PIER_ERR) {
        PIER_ASSERT(w->off <= limit);
        *p = f->blob != NULL ? f->blob->data + w->off : NULL;
        *n = (size_t) (limit - w->off);
        *size = f->size;
    }
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    return rc;
}

void
edge_waiter_consume(struct edge_waiter *w, size_t n)
{
    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    PIER_CHECK_OBJ(w->fetch, FETCH_MAGIC);
    if (n == 0) {
        return;
    }
    w->off += n;
    /* Only bytes peek gave: at most the size (the lock is not needed to
     * read size, which is set before any byte could be given). */
    PIER_ASSERT(w->off <= w->fetch->size);
}

int
edge_waiter_fd(struct edge_waiter *w)
{
    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    PIER_CHECK_OBJ(w->fetch, FETCH_MAGIC);
    /* Set with the size, before any byte could be given. */
    return w->fetch->fd;
}

struct edge_blob *
edge_waiter_blob(struct edge_waiter *w)
{
    struct edge_fetch *f;
    struct edge_blob *b;

    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    f = w->fetch;
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    PIER_ASSERT(f->state == f_done && f->blob != NULL);
    b = f->blob;
    edge_blob_ref(b);
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    return b;
}

void
edge_waiter_leave(struct edge_waiter *w)
{
    struct edge_fetch *f;
    struct edge_notifier *n;

    PIER_CHECK_OBJ(w, EDGE_WAITER_MAGIC);
    f = w->fetch;
    if (f == NULL) {
        return;
    }
    PIER_CHECK_OBJ(f, FETCH_MAGIC);
    n = w->notifier;
    PIER_ASSERT(pthread_mutex_lock(&f->mu) == 0);
    if (w->f_prev != NULL) {
        w->f_prev->f_next = w->f_next;
    } else {
        PIER_ASSERT(f->waiters == w);
        f->waiters = w->f_next;
    }
    if (w->f_next != NULL) {
        w->f_next->f_prev = w->f_prev;
    }
    w->f_prev = NULL;
    w->f_next = NULL;
    PIER_ASSERT(pthread_mutex_lock(&n->mu) == 0);
    if (w->queued) {
        if (w->n_prev != NULL) {
            w->n_prev->n_next = w->n_next;
        } else {
            n->head = w->n_next;
        }
        if (w->n_next != NULL) {
            w->n_next->n_prev = w->n_prev;
        } else {
            n->tail = w->n_prev;
        }
        w->n_prev = NULL;
        w->n_next = NULL;
        w->queued = false;
    }
    PIER_ASSERT(n->waiters > 0);
    n->waiters--;
    PIER_ASSERT(pthread_mutex_unlock(&n->mu) == 0);
    PIER_ASSERT(pthread_mutex_unlock(&f->mu) == 0);
    w->fetch = NULL;
    edge_fetch_release(f);
}
