/*
 * edge/hazard.c - hazard pointers (see the header).
 *
 * Memory order: the reader's store to its slot and its second load of the
 * source are sequentially consistent, as is the writer's exchange and the
 * reclaimer's loads of the slots. So either the reclaimer sees the slot
 * (and keeps the object), or the reader's second load sees the new
 * pointer (and retries): never neither.
 */
#include "config.h"

#include "edge/hazard.h"

#include <pthread.h>
#include <stdlib.h>

#define HAZARD_MAGIC 0x9d04c7b1U

struct slot {
    _Atomic(void *) p;
    char pad[64 - sizeof(_Atomic(void *))]; /* one cache line each */
};

struct retired {
    void *p;
    void (*free_fn)(void *);
    struct retired *next;
};

struct edge_hazard {
    unsigned magic;
    unsigned nthreads, per_thread;
    struct slot *slots;
    pthread_mutex_t mu; /* retired */
    struct retired *retired;
    size_t nretired;
};

struct edge_hazard *
edge_hazard_new(unsigned nthreads, unsigned per_thread)
{
    struct edge_hazard *h = pier_calloc(1, sizeof(*h));
    size_t i, n = (size_t) nthreads * per_thread;

    PIER_ASSERT(nthreads > 0 && per_thread > 0);
    h->magic = HAZARD_MAGIC;
    h->nthreads = nthreads;
    h->per_thread = per_thread;
    if (posix_memalign((void **) &h->slots, 64, n * sizeof(*h->slots)) != 0) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    for (i = 0; i < n; i++) {
        atomic_init(&h->slots[i].p, NULL);
    }
    PIER_ASSERT(pthread_mutex_init(&h->mu, NULL) == 0);
    return h;
}

void
edge_hazard_free(struct edge_hazard *h)
{
    struct retired *r, *next;
    size_t i, n;

    if (h == NULL) {
        return;
    }
    PIER_CHECK_OBJ(h, HAZARD_MAGIC);
    n = (size_t) h->nthreads * h->per_thread;
    for (i = 0; i < n; i++) {
        PIER_ASSERT(atomic_load(&h->slots[i].p) == NULL);
    }
    for (r = h->retired; r != NULL; r = next) {
        next = r->next;
        r->free_fn(r->p);
        pier_free(r);
    }
    PIER_ASSERT(pthread_mutex_destroy(&h->mu) == 0);
    free(h->slots);
    h->magic = 0;
    pier_free(h);
}

static struct slot *
slot_of(struct edge_hazard *h, unsigned thread, unsigned slot)
{
    PIER_CHECK_OBJ(h, HAZARD_MAGIC);
    PIER_ASSERT(thread < h->nthreads && slot < h->per_thread);
    return &h->slots[(size_t) thread * h->per_thread + slot];
}

void *
edge_hazard_protect(struct edge_hazard *h, unsigned thread, unsigned slot,
                    _Atomic(void *) *src)
{
    struct slot *s = slot_of(h, thread, slot);
    void *p, *again;

    p = atomic_load(src);
    for (;;) {
        atomic_store(&s->p, p);
        again = atomic_load(src);
        if (again == p) {
            return p;
        }
        p = again; /* swapped meanwhile: protect the new one */
    }
}

void
edge_hazard_clear(struct edge_hazard *h, unsigned thread, unsigned slot)
{
    atomic_store_explicit(&slot_of(h, thread, slot)->p, NULL,
                          memory_order_release);
}

void
edge_hazard_retire(struct edge_hazard *h, void *p, void (*free_fn)(void *))
{
    struct retired *r;

    PIER_CHECK_OBJ(h, HAZARD_MAGIC);
    if (p == NULL) {
        return;
    }
    r = pier_malloc(sizeof(*r));
    r->p = p;
    r->free_fn = free_fn;
    PIER_ASSERT(pthread_mutex_lock(&h->mu) == 0);
    r->next = h->retired;
    h->retired = r;
    h->nretired++;
    PIER_ASSERT(pthread_mutex_unlock(&h->mu) == 0);
    (void) edge_hazard_reclaim(h);
}

static bool
held(struct edge_hazard *h, const void *p)
{
    size_t i, n = (size_t) h->nthreads * h->per_thread;

    for (i = 0; i < n; i++) {
        if (atomic_load(&h->slots[i].p) == p) {
            return true;
        }
    }
    return false;
}

size_t
edge_hazard_reclaim(struct edge_hazard *h)
{
    struct retired **pp, *r, *freeable = NULL;
    size_t left;

    PIER_CHECK_OBJ(h, HAZARD_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&h->mu) == 0);
    pp = &h->retired;
    while ((r = *pp) != NULL) {
        if (held(h, r->p)) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->next = freeable;
        freeable = r;
        h->nretired--;
    }
    left = h->nretired;
    PIER_ASSERT(pthread_mutex_unlock(&h->mu) == 0);
    /* Outside the lock: a free function may retire in turn. */
    while ((r = freeable) != NULL) {
        freeable = r->next;
        r->free_fn(r->p);
        pier_free(r);
    }
    return left;
}
