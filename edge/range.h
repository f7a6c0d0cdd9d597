/*
 * edge/range.h - the one byte range the edge serves (RFC 9110 14).
 *
 * `Range: bytes=first-last`, `bytes=first-` and `bytes=-suffix`, on the
 * identity variant. Several ranges, another unit or a malformed value are
 * ignored (RFC 9110 14.2: a server MAY ignore Range) and the whole
 * representation is sent with 200; a well-formed range that misses the
 * representation is 416.
 *
 * An explicit state machine over the whole value; no allocation; any
 * thread.
 */
#ifndef EDGE_RANGE_H
#define EDGE_RANGE_H

#include "lib/core.h"

struct edge_range {
    uint64_t first; /* the first byte sent */
    uint64_t last;  /* the last byte sent, inclusive; < size */
};

/* Apply the n bytes of a Range value to a representation of size bytes.
 * Returns the status to answer with: 206 with *r set, 416, or 200 to
 * ignore the header. Borrows p. */
int edge_range_parse(const char *p, size_t n, uint64_t size,
                     struct edge_range *r);

/* Room for any Content-Range value: "bytes " and three 20-digit numbers,
 * '-', '/' and the NUL. */
#define EDGE_RANGE_CONTENT_RANGE_MAX 72

/* Write the Content-Range value into out, NUL-terminated: "bytes
 * first-last/size" for a 206, or with r NULL the 416 form, an asterisk in
 * place of the range. Returns its length, or 0 if cap is too small. */
size_t edge_range_content_range(const struct edge_range *r, uint64_t size,
                                char *out, size_t cap);

#endif
