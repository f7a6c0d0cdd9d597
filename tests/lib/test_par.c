/*
 * tests/lib/test_par.c - lib/par.c: every index once, helper contexts,
 * the lowest failing index's error.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>

#include "lib/par.h"

enum { JOBS = 5000 };

struct counts {
    atomic_int seen[JOBS];
    atomic_int started, stopped, with_ctx;
    int ctx_token;
};

static int
job(void *arg, void *ctx, size_t i, struct pier_err *err)
{
    struct counts *c = arg;

    atomic_fetch_add(&c->seen[i], 1);
    if (ctx != NULL) {
        assert_ptr_equal(ctx, &c->ctx_token);
        atomic_fetch_add(&c->with_ctx, 1);
    }
    if (i == 1700 || i == 4100 || i == 2900) {
        return pier_err_set(err, "job %zu failed", i);
    }
    return PIER_OK;
}

static int
start(void *arg, void **ctx)
{
    struct counts *c = arg;

    atomic_fetch_add(&c->started, 1);
    *ctx = &c->ctx_token;
    return PIER_OK;
}

static void
stop(void *arg, void *ctx)
{
    struct counts *c = arg;

    assert_ptr_equal(ctx, &c->ctx_token);
    atomic_fetch_add(&c->stopped, 1);
}

static void
test_par_every_index_once_lowest_error(void **state)
{
    struct counts *c = calloc(1, sizeof(*c));
    struct pier_par p = {.fn = job, .start = start, .stop = stop, .max = 4};
    struct pier_err err;
    size_t i;

    (void) state;
    assert_non_null(c);
    p.arg = c;
    assert_int_equal(pier_par_each(&p, JOBS, &err), PIER_ERR);
    assert_string_equal(err.msg, "job 1700 failed");
    for (i = 0; i < JOBS; i++) {
        assert_int_equal(atomic_load(&c->seen[i]), 1);
    }
    /* Three helpers beside the calling thread, each started and stopped. */
    assert_int_equal(atomic_load(&c->started), 3);
    assert_int_equal(atomic_load(&c->stopped), 3);
    free(c);
}

static int
refuse(void *arg, void **ctx)
{
    (void) arg;
    (void) ctx;
    return PIER_ERR;
}

/* Helpers that cannot start leave every job to the calling thread; few
 * jobs stay on it too. */
static void
test_par_caller_alone(void **state)
{
    struct counts *c = calloc(1, sizeof(*c));
    struct pier_par p = {.fn = job, .start = refuse, .max = 4};
    struct pier_err err;
    size_t i;

    (void) state;
    assert_non_null(c);
    p.arg = c;
    assert_int_equal(pier_par_each(&p, 1000, &err), PIER_OK);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(atomic_load(&c->seen[i]), 1);
    }
    assert_int_equal(atomic_load(&c->with_ctx), 0);
    p.start = start;
    p.min_jobs = 64;
    assert_int_equal(pier_par_each(&p, 10, &err), PIER_OK);
    assert_int_equal(atomic_load(&c->started), 0);
    assert_int_equal(atomic_load(&c->seen[9]), 2);
    free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_par_every_index_once_lowest_error),
        cmocka_unit_test(test_par_caller_alone),
    };

    return cmocka_run_group_tests_name("lib/par", tests, NULL, NULL);
}
