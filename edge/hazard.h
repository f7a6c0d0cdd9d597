/*
 * edge/hazard.h - hazard pointers: how the worker loops read what the
 * control side swaps (a site's live manifest, the site registry) through
 * an atomic pointer, and when the old one may be freed.
 *
 * A reader (a worker handling a request) publishes the pointer it is
 * about to use in its own slot, then checks that the pointer is still
 * current; from then on the object cannot be freed under it, with no lock
 * and no write to a shared cache line on the hit path. A writer swaps the
 * pointer with atomic_exchange and retires the old object; a retired
 * object is freed once no slot holds it (edge_hazard_reclaim, called
 * after each retire and on a timer). Maged Michael, "Hazard Pointers",
 * IEEE TPDS 2004.
 *
 * Slots: nthreads readers x per_thread slots, each reader thread using
 * only its own row (the worker's index). Retire and reclaim: any thread.
 */
#ifndef EDGE_HAZARD_H
#define EDGE_HAZARD_H

#include "lib/core.h"

#include <stdatomic.h>

struct edge_hazard; /* opaque */

/* The caller owns the result and frees it with edge_hazard_free(), which
 * frees every object still retired (no reader may be left) and accepts
 * NULL. */
struct edge_hazard *edge_hazard_new(unsigned nthreads, unsigned per_thread);
void edge_hazard_free(struct edge_hazard *h);

/* Load *src and protect it in slot (thread, slot) until cleared or
 * replaced; NULL if *src is NULL. Reader thread only. */
void *edge_hazard_protect(struct edge_hazard *h, unsigned thread, unsigned slot,
                          _Atomic(void *) *src);
void edge_hazard_clear(struct edge_hazard *h, unsigned thread, unsigned slot);

/* p was swapped out: call free_fn(p) once no slot holds it. Takes p.
 * Allocates (the retired list's node). */
void edge_hazard_retire(struct edge_hazard *h, void *p,
                        void (*free_fn)(void *));
/* Free what may be freed; returns how many retired objects remain. */
size_t edge_hazard_reclaim(struct edge_hazard *h);

#endif
