/*
 * lib/buf.c - the growable buffer.
 */
#include "config.h"

#include "lib/buf.h"

#include <stdio.h>

/* The empty buffer points here, so data is never NULL without allocating. */
static char empty[1];

void
pier_buf_init(struct pier_buf *b, size_t max)
{
    b->data = empty;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
pier_buf_release(struct pier_buf *b)
{
    if (b->data != empty) {
        pier_free(b->data);
    }
    pier_buf_init(b, b->max);
}

void
pier_buf_reset(struct pier_buf *b)
{
    b->len = 0;
    /* The shared empty buffer is never written: threads reset their own
     * empty buffers concurrently (ThreadSanitizer saw it). */
    if (b->data != empty) {
        b->data[0] = '\0';
    }
}

char *
pier_buf_detach(struct pier_buf *b, size_t *len)
{
    char *p;

    if (b->data == empty) {
        p = pier_calloc(1, 1);
    } else {
        p = b->data;
    }
    if (len != NULL) {
        *len = b->len;
    }
    pier_buf_init(b, b->max);
    return p;
}

/* Grow the allocation so that len + n bytes and a NUL fit. The caller has
 * checked the maximum. */
static void
grow(struct pier_buf *b, size_t n)
{
    size_t want = b->len + n, cap;

    if (want <= b->cap) {
        return;
    }
    cap = b->cap != 0 ? b->cap : 64;
    while (cap < want) {
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    }
    if (cap > b->max) {
        cap = b->max > want ? b->max : want;
    }
    if (b->data == empty) {
        b->data = pier_malloc(cap + 1);
        b->data[0] = '\0';
    } else {
        b->data = pier_realloc(b->data, cap + 1);
    }
    b->cap = cap;
}

int
pier_buf_add(struct pier_buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len) {
        return PIER_ERR;
    }
    if (n == 0) {
        return PIER_OK;
    }
    grow(b, n);
    memmove(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return PIER_OK;
}

int
pier_buf_adds(struct pier_buf *b, const char *s)
{
    return pier_buf_add(b, s, strlen(s));
}

int
pier_buf_addstr(struct pier_buf *b, struct pier_str s)
{
    return pier_buf_add(b, s.ptr, s.len);
}

int
pier_buf_addch(struct pier_buf *b, char c)
{
    return pier_buf_add(b, &c, 1);
}

int
pier_buf_vaddf(struct pier_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || (size_t) n > b->max - b->len) {
        return PIER_ERR;
    }
    grow(b, (size_t) n);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    b->len += (size_t) n;
    return PIER_OK;
}

int
pier_buf_addf(struct pier_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pier_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *
pier_buf_reserve(struct pier_buf *b, size_t n)
{
    size_t room = b->max - b->len;

    if (room == 0) {
        return NULL;
    }
    grow(b, n < room ? n : room);
    return b->data + b->len;
}

size_t
pier_buf_avail(const struct pier_buf *b)
{
    size_t room = b->cap - b->len;

    return room < b->max - b->len ? room : b->max - b->len;
}

void
pier_buf_commit(struct pier_buf *b, size_t n)
{
    PIER_ASSERT(n <= pier_buf_avail(b));
    b->len += n;
    b->data[b->len] = '\0';
}

void
pier_buf_consume(struct pier_buf *b, size_t n)
{
    PIER_ASSERT(n <= b->len);
    if (n == 0) {
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void
pier_buf_truncate(struct pier_buf *b, size_t n)
{
    PIER_ASSERT(n <= b->len);
    b->len = n;
    if (b->data != empty) {
        b->data[n] = '\0';
    }
}
