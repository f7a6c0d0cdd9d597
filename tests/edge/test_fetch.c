/*
 * tests/edge/test_fetch.c - edge/fetch.c: coalescing, streaming to
 * waiters on several loops, the withheld last byte, verification before
 * caching, failures, leaving early, and many loop threads joining one key
 * at once (exactly one fetch).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/sha.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "edge/fetch.h"

#define BODY_LEN 50000

static unsigned char body[BODY_LEN];
static struct edge_key body_key;

struct loopctx;

struct req {
    struct edge_waiter w;
    struct loopctx *lc;
    unsigned char got[BODY_LEN];
    size_t gotlen;
    int result; /* 0 waiting, 1 complete and equal, -1 failed */
    unsigned calls;
    uint64_t size_seen;
    bool spilled;
};

struct loopctx {
    uv_loop_t loop;
    struct edge_notifier *n;
    int pending; /* requests not finished */
    bool close_when_done;
};

static void
req_done(struct req *r, int result)
{
    r->result = result;
    edge_waiter_leave(&r->w);
    r->lc->pending--;
    if (r->lc->pending == 0 && r->lc->close_when_done) {
        edge_notifier_close(r->lc->n);
        r->lc->n = NULL;
    }
}

/* The waiter's callback: copy what may be sent, as a response would. */
static void
on_news(struct edge_waiter *w)
{
    struct req *r = w->data;
    const unsigned char *p;
    size_t n;
    uint64_t size;
    int rc;
    struct edge_blob *b;

    PIER_ASSERT(r->result == 0);
    r->calls++;
    rc = edge_waiter_peek(w, &p, &n, &size);
    if (rc == PIER_ERR) {
        req_done(r, -1);
        return;
    }
    r->size_seen = size;
    PIER_ASSERT(r->gotlen + n <= BODY_LEN);
    if (n > 0 && p == NULL) {
        /* Spilled: the bytes are in the file, at our offset. */
        PIER_ASSERT(
            pread(edge_waiter_fd(w), r->got + r->gotlen, n, (off_t) w->off)
            == (ssize_t) n);
        r->gotlen += n;
    } else if (n > 0) {
        memcpy(r->got + r->gotlen, p, n);
        r->gotlen += n;
    }
    edge_waiter_consume(w, n);
    if (rc == PIER_OK && edge_waiter_fd(w) >= 0) {
        r->spilled = true;
        req_done(r,
                 r->gotlen == BODY_LEN && memcmp(r->got, body, r->gotlen) == 0
                     ? 1
                     : -1);
    } else if (rc == PIER_OK) {
        b = edge_waiter_blob(w);
        PIER_ASSERT(b->size == r->gotlen);
        req_done(r, memcmp(r->got, b->data, b->size) == 0
                            && memcmp(r->got, body, r->gotlen) == 0
                        ? 1
                        : -1);
        edge_blob_release(b);
    }
}

static void
loop_init(struct loopctx *lc, bool close_when_done)
{
    struct pier_err err;

    memset(lc, 0, sizeof(*lc));
    assert_int_equal(uv_loop_init(&lc->loop), 0);
    lc->n = edge_notifier_new(&lc->loop, &err);
    assert_non_null(lc->n);
    lc->close_when_done = close_when_done;
}

static void
loop_fini(struct loopctx *lc)
{
    if (lc->n != NULL) {
        edge_notifier_close(lc->n);
        lc->n = NULL;
    }
    assert_int_equal(uv_run(&lc->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&lc->loop), 0);
}

static enum edge_join
join(struct edge_fetches *t, struct loopctx *lc, struct req *r,
     struct edge_blob **hit, struct edge_fetch **started)
{
    enum edge_join j;

    memset(r, 0, sizeof(*r));
    edge_waiter_init(&r->w, on_news, r);
    r->lc = lc;
    j = edge_fetches_join(t, &body_key, BODY_LEN, lc->n, &r->w, hit, started);
    if (j != EDGE_JOIN_HIT) {
        lc->pending++;
    }
    return j;
}

static int
setup(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < BODY_LEN; i++) {
        body[i] = (unsigned char) (i * 131 + (i >> 7));
    }
    memset(&body_key, 0, sizeof(body_key));
    SHA256(body, BODY_LEN, body_key.sha);
    body_key.enc = EDGE_ENC_IDENTITY;
    return 0;
}

static struct edge_cache *
new_cache(void)
{
    struct edge_cache_opts o = {16 << 20, 0, NULL, 0, 4};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);

    assert_non_null(c);
    return c;
}

/* Bodies past 1 MiB would spill, to a directory that does not exist. */
static struct edge_fetches *
new_table(struct edge_cache *c)
{
    struct edge_fetches_opts o = {.fetch_max = 1 << 20,
                                  .spill_dir = "/nonexistent-pier-spill",
                                  .shards = 4};

    return edge_fetches_new(&o, c);
}

static void
run_nowait(struct loopctx *lc)
{
    uv_run(&lc->loop, UV_RUN_NOWAIT);
}

/* Three requests on two loops, one fetch; bytes stream to all of them;
 * the last byte waits for verification; afterwards the blob is a hit. */
static void
test_fetch_coalesces_and_streams(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a, b;
    static struct req r1, r2, r3;
    struct edge_blob *hit;
    struct edge_fetch *f, *f2;
    struct edge_fetches_stats st;
    struct pier_err err;

    (void) state;
    loop_init(&a, false);
    loop_init(&b, false);
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_non_null(f);
    assert_int_equal(join(t, &a, &r2, &hit, &f2), EDGE_JOIN_WAIT);
    assert_null(f2);
    assert_int_equal(join(t, &b, &r3, &hit, &f2), EDGE_JOIN_WAIT);
    assert_true(edge_key_eq(edge_fetch_key(f), &body_key));

    /* The first callback comes at once, with nothing yet. */
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r1.size_seen, UINT64_MAX);

    assert_int_equal(edge_fetch_begin(f, BODY_LEN, &err), PIER_OK);
    run_nowait(&a);
    assert_int_equal(r1.size_seen, BODY_LEN);
    assert_int_equal(edge_fetch_append(f, body, 20000, &err), PIER_OK);
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.gotlen, 20000);
    assert_int_equal(r3.gotlen, 20000);
    assert_int_equal(edge_fetch_append(f, body + 20000, BODY_LEN - 20000, &err),
                     PIER_OK);
    run_nowait(&a);
    run_nowait(&b);
    /* All bytes arrived, none verified yet: the last one is held back. */
    assert_int_equal(r1.gotlen, BODY_LEN - 1);
    assert_int_equal(r2.gotlen, BODY_LEN - 1);
    assert_int_equal(r3.gotlen, BODY_LEN - 1);
    assert_int_equal(r1.result, 0);
    assert_null(edge_cache_find(c, &body_key));

    assert_int_equal(edge_fetch_finish(f, true, NULL), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.result, 1);
    assert_int_equal(r2.result, 1);
    assert_int_equal(r3.result, 1);

    /* Now cached: a join finds it. */
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_HIT);
    assert_non_null(hit);
    assert_memory_equal(hit->data, body, BODY_LEN);
    edge_blob_release(hit);

    edge_fetches_stats(t, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.joined, 2);
    assert_int_equal(st.late_hits, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.bytes, BODY_LEN);
    assert_int_equal(st.in_flight, 0);
    loop_fini(&a);
    loop_fini(&b);
    edge_fetches_free(t);
    edge_cache_assert(c);
    edge_cache_free(c);
}

/* Feed a whole fetch of bytes p..n and finish it; return finish's code. */
static int
drive(struct edge_fetch *f, const unsigned char *p, size_t n, uint64_t size)
{
    struct pier_err err;

    if (edge_fetch_begin(f, size, &err) != PIER_OK
        || edge_fetch_append(f, p, n, &err) != PIER_OK) {
        return edge_fetch_finish(f, false, "driver stopped");
    }
    return edge_fetch_finish(f, true, NULL);
}

/* Wrong bytes are never cached; waiters fail; the next request fetches
 * again. */
static void
test_fetch_mismatch_fails_waiters(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a;
    static struct req r1, r2;
    static unsigned char bad[BODY_LEN];
    struct edge_blob *hit;
    struct edge_fetch *f, *f2;
    struct edge_fetches_stats st;

    (void) state;
    loop_init(&a, false);
    memcpy(bad, body, BODY_LEN);
    bad[BODY_LEN / 2] ^= 1;
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(join(t, &a, &r2, &hit, &f2), EDGE_JOIN_WAIT);
    assert_int_equal(drive(f, bad, BODY_LEN, BODY_LEN), PIER_ERR);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r1.result, -1);
    assert_int_equal(r2.result, -1);
    assert_true(r1.gotlen < BODY_LEN);
    assert_null(edge_cache_find(c, &body_key));

    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, body, BODY_LEN, BODY_LEN), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r1.result, 1);
    edge_fetches_stats(t, &st);
    assert_int_equal(st.started, 2);
    assert_int_equal(st.failed, 1);
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
}

/* Past fetch_max the body streams through a spill file: waiters on two
 * loops read it back as it comes (one joining mid-stream), the last byte
 * waits for verification, nothing enters the cache; a mismatch cuts every
 * waiter. */
static void
test_fetch_spills_large_body(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches_opts o = {.fetch_max = 1000, .shards = 4};
    struct edge_fetches *t;
    struct loopctx a, b;
    static struct req r1, r2, r3;
    static unsigned char bad[BODY_LEN];
    struct edge_blob *hit;
    struct edge_fetch *f, *f2;
    struct pier_err err;
    char dir[] = "/tmp/test_fetch_spill.XXXXXX";

    (void) state;
    assert_non_null(mkdtemp(dir));
    o.spill_dir = dir;
    t = edge_fetches_new(&o, c);
    loop_init(&a, false);
    loop_init(&b, false);
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(join(t, &b, &r2, &hit, &f2), EDGE_JOIN_WAIT);
    assert_int_equal(edge_fetch_begin(f, BODY_LEN, &err), PIER_OK);
    assert_int_equal(edge_fetch_append(f, body, 30000, &err), PIER_OK);
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.gotlen, 30000);
    assert_int_equal(r2.gotlen, 30000);
    /* A late request joins mid-stream and reads from the start. */
    assert_int_equal(join(t, &a, &r3, &hit, &f2), EDGE_JOIN_WAIT);
    assert_int_equal(edge_fetch_append(f, body + 30000, BODY_LEN - 30000, &err),
                     PIER_OK);
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.gotlen, BODY_LEN - 1);
    assert_int_equal(r3.gotlen, BODY_LEN - 1);
    assert_int_equal(r2.result, 0);
    assert_int_equal(edge_fetch_finish(f, true, NULL), PIER_OK);
    assert_null(edge_fetch_blob(f));
    edge_fetch_release(f);
    run_nowait(&a);
    run_nowait(&b);
    assert_int_equal(r1.result, 1);
    assert_int_equal(r2.result, 1);
    assert_int_equal(r3.result, 1);
    assert_true(r1.spilled && r2.spilled && r3.spilled);
    assert_null(edge_cache_find(c, &body_key));

    /* Not cached: the next request fetches again; wrong bytes cut it. */
    memcpy(bad, body, BODY_LEN);
    bad[BODY_LEN - 10] ^= 1;
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, bad, BODY_LEN, BODY_LEN), PIER_ERR);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r1.result, -1);
    assert_true(r1.gotlen < BODY_LEN);
    assert_null(edge_cache_find(c, &body_key));

    loop_fini(&a);
    loop_fini(&b);
    edge_fetches_free(t);
    edge_cache_free(c);
    /* Spill files are unlinked at once: the directory is empty. */
    assert_int_equal(rmdir(dir), 0);
}

/* With spill_keep (the disk tier's tmp/), a verified spill file keeps its
 * name for the driver to hand to the tier; a failed one, or one not
 * taken, goes with the fetch. */
static void
test_fetch_spill_kept_for_the_disk_tier(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches_opts o = {.fetch_max = 1000, .spill_keep = true};
    struct edge_fetches *t;
    struct loopctx a;
    static struct req r;
    struct edge_blob *hit;
    struct edge_fetch *f;
    char dir[] = "/tmp/test_fetch_keep.XXXXXX", *path;
    unsigned char first;

    (void) state;
    assert_non_null(mkdtemp(dir));
    o.spill_dir = dir;
    t = edge_fetches_new(&o, c);
    loop_init(&a, false);
    assert_int_equal(join(t, &a, &r, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, body, BODY_LEN, BODY_LEN), PIER_OK);
    assert_int_equal(edge_fetch_size(f), BODY_LEN);
    path = edge_fetch_spill_take(f);
    assert_non_null(path);
    assert_null(edge_fetch_spill_take(f));
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r.result, 1);
    assert_int_equal(access(path, F_OK), 0); /* the taker's now */
    assert_int_equal(unlink(path), 0);
    pier_free(path);

    /* Failed: removed with the fetch; not taken: the same. */
    first = body[0];
    body[0] ^= 1;
    assert_int_equal(join(t, &a, &r, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, body, BODY_LEN, BODY_LEN), PIER_ERR);
    edge_fetch_release(f);
    body[0] = first;
    run_nowait(&a);
    assert_int_equal(r.result, -1);
    assert_int_equal(join(t, &a, &r, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, body, BODY_LEN, BODY_LEN), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r.result, 1);
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
    assert_int_equal(rmdir(dir), 0);
}

/* Every other way a fetch fails: too long, too short, an origin error, a
 * size past the limit, no answer at all. */
static void
test_fetch_failures(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a;
    static struct req r;
    struct edge_blob *hit;
    struct edge_fetch *f;
    struct edge_fetches_stats st;
    struct pier_err err;
    int i;

    (void) state;
    loop_init(&a, false);
    for (i = 0; i < 5; i++) {
        assert_int_equal(join(t, &a, &r, &hit, &f), EDGE_JOIN_STARTED);
        switch (i) {
        case 0: /* more than announced */
            assert_int_equal(edge_fetch_begin(f, BODY_LEN - 1, &err), PIER_OK);
            assert_int_equal(edge_fetch_append(f, body, BODY_LEN, &err),
                             PIER_ERR);
            assert_int_equal(edge_fetch_append(f, body, 1, &err), PIER_ERR);
            assert_int_equal(edge_fetch_finish(f, true, NULL), PIER_ERR);
            break;
        case 1: /* cut short */
            assert_int_equal(drive(f, body, BODY_LEN - 1, BODY_LEN), PIER_ERR);
            break;
        case 2: /* the origin failed */
            assert_int_equal(edge_fetch_begin(f, BODY_LEN, &err), PIER_OK);
            assert_int_equal(edge_fetch_finish(f, false, "503 from origin"),
                             PIER_ERR);
            break;
        case 3: /* past fetch_max, and no spill file */
            assert_int_equal(edge_fetch_begin(f, 2 << 20, &err), PIER_ERR);
            assert_int_equal(edge_fetch_finish(f, false, "too large"),
                             PIER_ERR);
            break;
        case 4: /* no answer: the driver's time-out */
            assert_int_equal(edge_fetch_finish(f, false, "timed out"),
                             PIER_ERR);
            break;
        }
        edge_fetch_release(f);
        run_nowait(&a);
        assert_int_equal(r.result, -1);
        assert_null(edge_cache_find(c, &body_key));
    }
    edge_fetches_stats(t, &st);
    assert_int_equal(st.failed, 5);
    assert_int_equal(st.in_flight, 0);
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
}

/* A waiter that leaves (a client gone) gets no more callbacks; the fetch
 * goes on and fills the cache. */
static void
test_fetch_leave_early(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a;
    static struct req r1, r2;
    struct edge_blob *hit;
    struct edge_fetch *f, *f2;
    struct pier_err err;

    (void) state;
    loop_init(&a, false);
    assert_int_equal(join(t, &a, &r1, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(join(t, &a, &r2, &hit, &f2), EDGE_JOIN_WAIT);
    /* r1 leaves while its first callback is queued. */
    edge_waiter_leave(&r1.w);
    a.pending--;
    edge_waiter_leave(&r1.w); /* twice is fine */
    assert_int_equal(edge_fetch_begin(f, BODY_LEN, &err), PIER_OK);
    assert_int_equal(edge_fetch_append(f, body, 100, &err), PIER_OK);
    run_nowait(&a);
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.gotlen, 100);
    edge_waiter_leave(&r2.w);
    a.pending--;
    assert_int_equal(edge_fetch_append(f, body + 100, BODY_LEN - 100, &err),
                     PIER_OK);
    assert_int_equal(edge_fetch_finish(f, true, NULL), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r2.gotlen, 100);
    hit = edge_cache_find(c, &body_key);
    assert_non_null(hit);
    edge_blob_release(hit);
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
}

/* An empty file is a blob too: nothing to hold back, verified at once. */
static void
test_fetch_empty_body(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a;
    static struct req r;
    struct edge_blob *hit;
    struct edge_fetch *f;
    struct edge_key saved = body_key;

    (void) state;
    loop_init(&a, false);
    SHA256((const unsigned char *) "", 0, body_key.sha);
    assert_int_equal(join(t, &a, &r, &hit, &f), EDGE_JOIN_STARTED);
    assert_int_equal(drive(f, body, 0, 0), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r.result, 1);
    assert_int_equal(r.gotlen, 0);
    body_key = saved;
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
}

/* A prefetch starts a fetch with no waiter, unless the blob is cached or
 * in flight; a request arriving meanwhile joins it. */
static void
test_fetch_prefetch(void **state)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    struct loopctx a;
    static struct req r;
    struct edge_blob *hit;
    struct edge_fetch *f, *f2;
    struct edge_fetches_stats st;

    (void) state;
    loop_init(&a, false);
    assert_true(edge_fetches_prefetch(t, &body_key, BODY_LEN, &f));
    assert_false(edge_fetches_prefetch(t, &body_key, BODY_LEN, &f2));
    assert_null(f2);
    assert_int_equal(join(t, &a, &r, &hit, &f2), EDGE_JOIN_WAIT);
    assert_int_equal(drive(f, body, BODY_LEN, BODY_LEN), PIER_OK);
    edge_fetch_release(f);
    run_nowait(&a);
    assert_int_equal(r.result, 1);
    assert_false(
        edge_fetches_prefetch(t, &body_key, BODY_LEN, &f2)); /* cached */
    edge_fetches_stats(t, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.in_flight, 0);
    loop_fini(&a);
    edge_fetches_free(t);
    edge_cache_free(c);
}

/* Many loop threads, many requests each, one key, all at once. */

#define LOOPS    6
#define PER_LOOP 40

struct storm {
    struct edge_fetches *t;
    pthread_barrier_t *barrier;
    pthread_barrier_t *joined; /* NULL: joins may race with the finish */
    _Atomic(struct edge_fetch *) *driven;
    atomic_int *hits;
    struct loopctx lc;
    struct req *reqs;
    int ok, failed;
};

static void *
storm_loop(void *arg)
{
    struct storm *s = arg;
    struct edge_blob *hit;
    struct edge_fetch *f;
    struct pier_err err;
    int i;

    memset(&s->lc, 0, sizeof(s->lc));
    PIER_ASSERT(uv_loop_init(&s->lc.loop) == 0);
    s->lc.n = edge_notifier_new(&s->lc.loop, &err);
    PIER_ASSERT(s->lc.n != NULL);
    pthread_barrier_wait(s->barrier);
    for (i = 0; i < PER_LOOP; i++) {
        struct req *r = &s->reqs[i];

        memset(r, 0, sizeof(*r));
        edge_waiter_init(&r->w, on_news, r);
        r->lc = &s->lc;
        s->lc.pending++;
        switch (edge_fetches_join(s->t, &body_key, BODY_LEN, s->lc.n, &r->w,
                                  &hit, &f)) {
        case EDGE_JOIN_HIT:
            s->lc.pending--;
            r->result = memcmp(hit->data, body, BODY_LEN) == 0 ? 1 : -1;
            edge_blob_release(hit);
            atomic_fetch_add(s->hits, 1);
            break;
        case EDGE_JOIN_STARTED:
            atomic_store(s->driven, f); /* the origin side takes it */
            break;
        case EDGE_JOIN_WAIT:
            break;
        }
        if (i % 8 == 0) {
            uv_run(&s->lc.loop, UV_RUN_NOWAIT);
        }
    }
    if (s->joined != NULL) {
        pthread_barrier_wait(s->joined);
    }
    s->lc.close_when_done = true;
    if (s->lc.pending == 0) {
        edge_notifier_close(s->lc.n);
        s->lc.n = NULL;
    }
    PIER_ASSERT(uv_run(&s->lc.loop, UV_RUN_DEFAULT) == 0);
    PIER_ASSERT(uv_loop_close(&s->lc.loop) == 0);
    for (i = 0; i < PER_LOOP; i++) {
        if (s->reqs[i].result == 1) {
            s->ok++;
        } else {
            s->failed++;
        }
    }
    return NULL;
}

/* One storm: every loop joins at once while the origin side feeds the
 * body in small chunks. good says whether the body is the right one. */
static void
storm(bool good, int *ok_out, int *failed_out, uint64_t *started)
{
    struct edge_cache *c = new_cache();
    struct edge_fetches *t = new_table(c);
    pthread_barrier_t barrier, joined;
    _Atomic(struct edge_fetch *) driven = NULL;
    atomic_int hits = 0;
    static struct storm s[LOOPS];
    static struct req reqs[LOOPS][PER_LOOP];
    static unsigned char bad[BODY_LEN];
    pthread_t th[LOOPS];
    struct edge_fetch *f;
    struct edge_blob *hit;
    struct edge_fetches_stats st;
    struct pier_err err;
    size_t off;
    int i;

    memcpy(bad, body, BODY_LEN);
    bad[BODY_LEN - 1] ^= 0x80; /* wrong in the very last byte */
    pthread_barrier_init(&barrier, NULL, LOOPS + 1);
    pthread_barrier_init(&joined, NULL, LOOPS + 1);
    for (i = 0; i < LOOPS; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        s[i].t = t;
        s[i].barrier = &barrier;
        s[i].joined = good ? NULL : &joined;
        s[i].driven = &driven;
        s[i].hits = &hits;
        s[i].reqs = reqs[i];
        assert_int_equal(pthread_create(&th[i], NULL, storm_loop, &s[i]), 0);
    }
    pthread_barrier_wait(&barrier);
    while ((f = atomic_load(&driven)) == NULL) {
        sched_yield();
    }
    assert_int_equal(edge_fetch_begin(f, BODY_LEN, &err), PIER_OK);
    for (off = 0; off < BODY_LEN; off += 997) {
        size_t n = BODY_LEN - off < 997 ? BODY_LEN - off : 997;

        assert_int_equal(
            edge_fetch_append(f, (good ? body : bad) + off, n, &err), PIER_OK);
        if (off % (997 * 10) == 0) {
            usleep(200);
        }
    }
    if (!good) {
        /* Every request joined before the failure: none starts a fetch
         * of its own that nobody here would drive. */
        pthread_barrier_wait(&joined);
    }
    (void) edge_fetch_finish(f, true, NULL);
    edge_fetch_release(f);
    *ok_out = 0;
    *failed_out = 0;
    for (i = 0; i < LOOPS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        *ok_out += s[i].ok;
        *failed_out += s[i].failed;
    }
    edge_fetches_stats(t, &st);
    *started = st.started;
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.started + st.joined + st.late_hits,
                     (uint64_t) LOOPS * PER_LOOP);
    assert_int_equal(st.late_hits, (uint64_t) atomic_load(&hits));
    hit = edge_cache_find(c, &body_key);
    assert_int_equal(hit != NULL, good);
    edge_blob_release(hit);
    edge_cache_assert(c);
    pthread_barrier_destroy(&barrier);
    pthread_barrier_destroy(&joined);
    edge_fetches_free(t);
    edge_cache_free(c);
}

static void
test_fetch_threads_one_origin_get(void **state)
{
    int ok, failed;
    uint64_t started;

    (void) state;
    storm(true, &ok, &failed, &started);
    assert_int_equal(started, 1);
    assert_int_equal(ok, LOOPS * PER_LOOP);
    assert_int_equal(failed, 0);
}

static void
test_fetch_threads_mismatch_all_fail(void **state)
{
    int ok, failed;
    uint64_t started;

    (void) state;
    storm(false, &ok, &failed, &started);
    assert_int_equal(started, 1);
    assert_int_equal(ok, 0);
    assert_int_equal(failed, LOOPS * PER_LOOP);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_coalesces_and_streams),
        cmocka_unit_test(test_fetch_mismatch_fails_waiters),
        cmocka_unit_test(test_fetch_spills_large_body),
        cmocka_unit_test(test_fetch_spill_kept_for_the_disk_tier),
        cmocka_unit_test(test_fetch_failures),
        cmocka_unit_test(test_fetch_leave_early),
        cmocka_unit_test(test_fetch_empty_body),
        cmocka_unit_test(test_fetch_prefetch),
        cmocka_unit_test(test_fetch_threads_one_origin_get),
        cmocka_unit_test(test_fetch_threads_mismatch_all_fail),
    };

    return cmocka_run_group_tests_name("edge/fetch", tests, setup, NULL);
}
