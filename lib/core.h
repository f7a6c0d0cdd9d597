/*
 * lib/core.h - what every pier file uses: result codes, always-on
 * assertions, allocation that never returns NULL, and the borrowed string
 * view.
 *
 * Assertions stay on in production (Varnish's rule): a broken invariant
 * stops the process at a file and line rather than serve one site's bytes
 * to another. Never assert on input; input gets a struct pier_err.
 */
#ifndef PIER_CORE_H
#define PIER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PIER_OK    0
#define PIER_ERR   (-1)
#define PIER_AGAIN (-2)

#define PIER_NODISCARD __attribute__((warn_unused_result))
#define PIER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PIER_NORETURN __attribute__((noreturn))
#define PIER_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Print "panic: func (file:line): expr" to stderr and abort. */
PIER_NORETURN void pier_panic(const char *func, const char *file, int line,
                              const char *expr);

#define PIER_ASSERT(e) \
    ((e) ? (void) 0 : pier_panic(__func__, __FILE__, __LINE__, #e))
#define PIER_CHECK_OBJ(p, m)            \
    do {                                \
        PIER_ASSERT((p) != NULL);       \
        PIER_ASSERT((p)->magic == (m)); \
    } while (0)

/* Allocation: on failure these print "out of memory" and abort, so callers
 * never check for NULL. pier_free(NULL) is fine. */
void *pier_malloc(size_t n);
void *pier_calloc(size_t nmemb, size_t size);
void *pier_realloc(void *p, size_t n);
char *pier_strdup(const char *s);
char *pier_strndup(const char *s, size_t n);
void pier_free(void *p);

/* A borrowed view of len bytes at ptr (ngx_str_t); not NUL-terminated.
 * Valid as long as whatever it points into. */
struct pier_str {
    const char *ptr;
    size_t len;
};

#define PIER_STR(lit) ((struct pier_str){(lit), sizeof(lit) - 1})
#define PIER_STR_NULL ((struct pier_str){NULL, 0})

static inline struct pier_str
pier_str_make(const char *p, size_t n)
{
    struct pier_str s = {p, n};
    return s;
}

static inline struct pier_str
pier_str_cstr(const char *p)
{
    struct pier_str s = {p, p != NULL ? strlen(p) : 0};
    return s;
}

static inline bool
pier_str_eq(struct pier_str a, struct pier_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The value of a hex digit (either case), or -1. */
static inline int
pier_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20; /* ASCII lower case; digits were handled above */
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* ASCII case-insensitive equality, for header names and tokens. */
bool pier_str_caseeq(struct pier_str a, struct pier_str b);

#endif
