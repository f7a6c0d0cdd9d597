/*
 * lib/buf.h - struct pier_buf, pier's one growable byte buffer.
 *
 * As in git's strbuf, `data` is never NULL, always NUL-terminated, and may
 * hold any byte. As in curl's dynbuf, a maximum is fixed at init: an append
 * that would pass it fails with PIER_ERR and changes nothing (that is how
 * the 431 and 413 limits hold). As in h2o, reserve/commit/consume let a
 * socket read straight into the buffer. Appends must have their result
 * checked (PIER_NODISCARD).
 */
#ifndef PIER_BUF_H
#define PIER_BUF_H

#include "lib/core.h"

#include <stdarg.h>

struct pier_buf {
    char *data;  /* never NULL; data[len] == '\0' */
    size_t len;  /* bytes held */
    size_t cap;  /* bytes allocated, excluding the NUL */
    size_t max;  /* len never exceeds it */
};

/* Initialise empty, holding at most max bytes (SIZE_MAX: no limit).
 * Allocates nothing until the first append. Release with pier_buf_release. */
void pier_buf_init(struct pier_buf *b, size_t max);
/* Free the memory; b is left as after init with the same max. */
void pier_buf_release(struct pier_buf *b);
/* Empty it, keeping the memory. */
void pier_buf_reset(struct pier_buf *b);
/* Hand the bytes over: the caller owns the result (free with pier_free);
 * b is left empty. *len may be NULL. */
char *pier_buf_detach(struct pier_buf *b, size_t *len);

PIER_NODISCARD int pier_buf_add(struct pier_buf *b, const void *p, size_t n);
PIER_NODISCARD int pier_buf_adds(struct pier_buf *b, const char *s);
PIER_NODISCARD int pier_buf_addstr(struct pier_buf *b, struct pier_str s);
PIER_NODISCARD int pier_buf_addch(struct pier_buf *b, char c);
PIER_NODISCARD int pier_buf_addf(struct pier_buf *b, const char *fmt, ...)
    PIER_PRINTF(2, 3);
PIER_NODISCARD int pier_buf_vaddf(struct pier_buf *b, const char *fmt,
                                  va_list ap);

/* Make room for at least n more bytes (fewer when the maximum is near, but
 * at least one) and return where they go; NULL when the buffer is at its
 * maximum. pier_buf_avail() says how many bytes may be written there. */
char *pier_buf_reserve(struct pier_buf *b, size_t n);
size_t pier_buf_avail(const struct pier_buf *b);
/* n bytes were written at pier_buf_reserve()'s pointer. */
void pier_buf_commit(struct pier_buf *b, size_t n);
/* Drop the first n bytes (moving the rest to the front). */
void pier_buf_consume(struct pier_buf *b, size_t n);
/* Shorten to n bytes (n <= len). */
void pier_buf_truncate(struct pier_buf *b, size_t n);

static inline struct pier_str
pier_buf_str(const struct pier_buf *b)
{
    return pier_str_make(b->data, b->len);
}

#endif
