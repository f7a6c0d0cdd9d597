/*
 * tests/edge/test_hazard.c - edge/hazard.c: a retired object is freed
 * only when no reader holds it, with readers and a writer racing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "edge/hazard.h"

#define OBJ_MAGIC 0x4f424a31U

struct obj {
    unsigned magic;
    unsigned value;
};

static atomic_int freed;

static void
obj_free(void *p)
{
    struct obj *o = p;

    PIER_ASSERT(o->magic == OBJ_MAGIC);
    o->magic = 0;
    pier_free(o);
    atomic_fetch_add(&freed, 1);
}

static struct obj *
obj_new(unsigned v)
{
    struct obj *o = pier_malloc(sizeof(*o));

    o->magic = OBJ_MAGIC;
    o->value = v;
    return o;
}

static void
test_hazard_protected_object_survives(void **state)
{
    struct edge_hazard *h = edge_hazard_new(2, 2);
    _Atomic(void *) cur = obj_new(1);
    struct obj *seen, *old;

    (void) state;
    atomic_store(&freed, 0);
    seen = edge_hazard_protect(h, 1, 0, &cur);
    assert_int_equal(seen->value, 1);
    old = atomic_exchange(&cur, obj_new(2));
    edge_hazard_retire(h, old, obj_free);
    assert_int_equal(atomic_load(&freed), 0); /* held by reader 1 */
    assert_int_equal(seen->magic, OBJ_MAGIC);
    assert_int_equal(edge_hazard_reclaim(h), 1);
    edge_hazard_clear(h, 1, 0);
    assert_int_equal(edge_hazard_reclaim(h), 0);
    assert_int_equal(atomic_load(&freed), 1);

    /* Not held: freed at once. */
    old = atomic_exchange(&cur, NULL);
    edge_hazard_retire(h, old, obj_free);
    assert_int_equal(atomic_load(&freed), 2);
    assert_null(edge_hazard_protect(h, 0, 1, &cur));
    edge_hazard_clear(h, 0, 1);
    edge_hazard_retire(h, NULL, obj_free);
    edge_hazard_free(h);
    edge_hazard_free(NULL);
}

/* Freeing the domain frees what is still retired. */
static void
test_hazard_free_frees_retired(void **state)
{
    struct edge_hazard *h = edge_hazard_new(1, 1);
    _Atomic(void *) cur = obj_new(1);

    (void) state;
    atomic_store(&freed, 0);
    (void) edge_hazard_protect(h, 0, 0, &cur);
    edge_hazard_retire(h, atomic_exchange(&cur, NULL), obj_free);
    assert_int_equal(atomic_load(&freed), 0);
    edge_hazard_clear(h, 0, 0);
    edge_hazard_free(h);
    assert_int_equal(atomic_load(&freed), 1);
}

#define READERS 4
#define SWAPS   20000

struct race {
    struct edge_hazard *h;
    _Atomic(void *) *cur;
    atomic_bool *stop;
    unsigned id;
    atomic_ulong reads;
    unsigned long bad;
};

static void *
reader(void *arg)
{
    struct race *r = arg;
    struct obj *o;
    unsigned last = 0;

    while (!atomic_load(r->stop)) {
        o = edge_hazard_protect(r->h, r->id, 0, r->cur);
        /* Values only grow, and the object is alive while held. */
        if (o->magic != OBJ_MAGIC || o->value < last) {
            r->bad++;
        }
        last = o->value;
        atomic_fetch_add(&r->reads, 1);
        edge_hazard_clear(r->h, r->id, 0);
    }
    return NULL;
}

static void
test_hazard_readers_race_writer(void **state)
{
    struct edge_hazard *h = edge_hazard_new(READERS, 1);
    _Atomic(void *) cur = obj_new(0);
    atomic_bool stop = false;
    struct race r[READERS];
    pthread_t th[READERS];
    unsigned i;

    (void) state;
    atomic_store(&freed, 0);
    unsigned n = 0, busy;

    for (i = 0; i < READERS; i++) {
        r[i].h = h;
        r[i].cur = &cur;
        r[i].stop = &stop;
        r[i].id = i;
        atomic_init(&r[i].reads, 0);
        r[i].bad = 0;
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r[i]), 0);
    }
    /* Swap at least SWAPS times, and until every reader read a while. */
    do {
        n++;
        edge_hazard_retire(h, atomic_exchange(&cur, obj_new(n)), obj_free);
        busy = 0;
        for (i = 0; i < READERS; i++) {
            busy += atomic_load(&r[i].reads) >= 100;
        }
    } while (n < SWAPS || busy < READERS);
    atomic_store(&stop, true);
    for (i = 0; i < READERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(r[i].bad, 0);
        assert_true(r[i].reads > 0);
    }
    assert_int_equal(edge_hazard_reclaim(h), 0);
    assert_int_equal(atomic_load(&freed), n);
    obj_free(atomic_load(&cur));
    edge_hazard_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hazard_protected_object_survives),
        cmocka_unit_test(test_hazard_free_frees_retired),
        cmocka_unit_test(test_hazard_readers_race_writer),
    };

    return cmocka_run_group_tests_name("edge/hazard", tests, NULL, NULL);
}
