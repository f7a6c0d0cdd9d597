/*
 * lib/par.c - one job per index, on every core (lib/par.h).
 */
#include "config.h"

#include "lib/par.h"

#include <stdatomic.h>
#include <string.h>
#include <uv.h>

struct run {
    const struct pier_par *p;
    size_t n;
    atomic_size_t next;
    uv_mutex_t lock; /* failed, err */
    size_t failed;   /* the lowest failing index, or n */
    struct pier_err err;
};

static void
jobs(struct run *r, void *ctx)
{
    struct pier_err err;
    size_t i;

    while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
        memset(&err, 0, sizeof(err));
        if (r->p->fn(r->p->arg, ctx, i, &err) != PIER_OK) {
            uv_mutex_lock(&r->lock);
            if (i < r->failed) {
                r->failed = i;
                r->err = err;
            }
            uv_mutex_unlock(&r->lock);
        }
    }
}

static void
helper(void *arg)
{
    struct run *r = arg;
    void *ctx = NULL;

    if (r->p->start != NULL && r->p->start(r->p->arg, &ctx) != PIER_OK) {
        return;
    }
    jobs(r, ctx);
    if (r->p->stop != NULL) {
        r->p->stop(r->p->arg, ctx);
    }
}

int
pier_par_each(const struct pier_par *p, size_t n, struct pier_err *err)
{
    struct run r = {.p = p, .n = n, .failed = n};
    uv_thread_t th[PIER_PAR_THREADS_MAX];
    size_t k, nth = p->max != 0 ? p->max : uv_available_parallelism();

    nth = nth > PIER_PAR_THREADS_MAX ? PIER_PAR_THREADS_MAX : nth;
    nth = n < p->min_jobs || nth == 0 ? 1 : nth;
    atomic_init(&r.next, 0);
    PIER_ASSERT(uv_mutex_init(&r.lock) == 0);
    for (k = 1; k < nth; k++) {
        if (uv_thread_create(&th[k], helper, &r) != 0) {
            break; /* fewer threads, the same result */
        }
    }
    nth = k;
    jobs(&r, NULL);
    for (k = 1; k < nth; k++) {
        PIER_ASSERT(uv_thread_join(&th[k]) == 0);
    }
    uv_mutex_destroy(&r.lock);
    if (r.failed < n) {
        *err = r.err;
        return PIER_ERR;
    }
    return PIER_OK;
}
