/*
 * lib/par.h - one job per index, on every core.
 *
 * pier_par_each() calls fn(arg, ctx, i, err) once for every i in [0, n),
 * taking indexes from a shared counter on up to max threads, the calling
 * thread among them (its ctx is NULL). A helper thread may make a context
 * of its own first (start) and release it after its last job (stop): a
 * library object that one thread at a time may use, say. A failing job
 * does not stop the others; the error returned is the one of the lowest
 * failing index, as one thread going in order would report it, so the
 * outcome does not depend on the schedule. fn must be thread-safe for
 * distinct indexes.
 */
#ifndef PIER_PAR_H
#define PIER_PAR_H

#include "lib/core.h"
#include "lib/err.h"

#define PIER_PAR_THREADS_MAX 16

struct pier_par {
    int (*fn)(void *arg, void *ctx, size_t i, struct pier_err *err);
    /* Optional. PIER_ERR: this helper takes no job (the others do). */
    int (*start)(void *arg, void **ctx);
    void (*stop)(void *arg, void *ctx); /* optional */
    void *arg;
    size_t max;      /* threads at most; 0: the cores (up to the cap) */
    size_t min_jobs; /* below this many jobs, the calling thread alone */
};

int pier_par_each(const struct pier_par *p, size_t n, struct pier_err *err);

#endif
