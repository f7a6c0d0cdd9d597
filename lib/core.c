/*
 * lib/core.c - panics and allocation.
 */
#include "config.h"

#include "lib/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

void
pier_panic(const char *func, const char *file, int line, const char *expr)
{
    fprintf(stderr, "panic: %s (%s:%d): assertion '%s' failed\n", func, file,
            line, expr);
    abort();
}

static PIER_NORETURN void
oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *
pier_malloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *
pier_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb != 0 ? nmemb : 1, size != 0 ? size : 1);

    if (p == NULL) {
        oom(nmemb * size);
    }
    return p;
}

void *
pier_realloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);

    if (q == NULL) {
        oom(n);
    }
    return q;
}

char *
pier_strdup(const char *s)
{
    return pier_strndup(s, strlen(s));
}

char *
pier_strndup(const char *s, size_t n)
{
    char *p = pier_malloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
pier_free(void *p)
{
    free(p);
}

bool
pier_str_caseeq(struct pier_str a, struct pier_str b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.ptr, b.ptr, a.len) == 0);
}
