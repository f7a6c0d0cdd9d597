/*
 * lib/chunked.h - a decoder for HTTP/1.1 chunked bodies (RFC 9112, 7.1).
 *
 * A byte-at-a-time state machine, resumable at any byte, that never
 * allocates. Strict where request smuggling lives: the size is hex digits
 * only (no sign, no spaces, at most 16 digits), an extension is
 * ";name[=value]" with token names and token or quoted-string values,
 * every line ends in CRLF (no bare LF), chunk data must be followed by
 * CRLF, and trailer fields must look like fields (no obs-fold, no
 * whitespace before the colon). Anything else is PIER_ERR.
 */
#ifndef PIER_CHUNKED_H
#define PIER_CHUNKED_H

#include "lib/core.h"
#include "lib/err.h"

struct pier_chunked {
    int state;         /* where the machine is; 0 to start */
    uint64_t size;     /* the current chunk's size */
    uint64_t left;     /* its data bytes still to come */
    uint64_t total;    /* data bytes decoded so far */
    size_t linelen;    /* bytes of the current size or trailer line */
};

/* Ready to decode a new body. */
void pier_chunked_init(struct pier_chunked *ck);

/*
 * Decode from [p, end). Chunk data is moved to the front of the input in
 * place: on return *data_len bytes of body sit at p (the input is
 * overwritten), and *used is how many input bytes were taken. Returns
 * PIER_OK when the body ended (the last chunk and the trailers, CRLF
 * included, were taken: bytes after *used belong to the next request),
 * PIER_AGAIN when it needs more input, and PIER_ERR (err->http 400) on bad
 * framing. max_line caps the size line with its extensions and each
 * trailer line.
 */
int pier_chunked_decode(struct pier_chunked *ck, char *p, const char *end,
                        size_t max_line, size_t *used, size_t *data_len,
                        struct pier_err *err);

#endif
