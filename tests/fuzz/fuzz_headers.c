/*
 * tests/fuzz/fuzz_headers.c - sites/headers.c. The input is the _headers
 * text, then optionally a NUL and a path to match. Every output line must
 * be "Name: value" with no CR or LF inside, the count must agree, and a
 * failed parse must name a line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "sites/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
match(const struct sites_headers *h, struct pier_str path)
{
    struct pier_buf out;
    struct pier_err err;
    const char *p, *end, *eol;
    int n, lines = 0;

    pier_buf_init(&out, 1 << 20);
    n = sites_headers_match(h, path, &out, &err);
    if (n < 0) {
        pier_buf_release(&out);
        return;
    }
    end = out.data + out.len;
    for (p = out.data; p < end; p = eol + 2) {
        eol = memmem(p, (size_t) (end - p), "\r\n", 2);
        if (eol == NULL || memchr(p, ':', (size_t) (eol - p)) == NULL
            || memchr(p, '\n', (size_t) (eol - p)) != NULL
            || memchr(p, '\r', (size_t) (eol - p)) != NULL
            || memchr(p, '\0', (size_t) (eol - p)) != NULL) {
            abort();
        }
        lines++;
    }
    if (lines != n) {
        abort();
    }
    (void) sites_headers_sets(h, path, PIER_STR("cache-control"));
    pier_buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *nul = memchr(text, '\0', size);
    size_t n = nul != NULL ? (size_t) (nul - text) : size;
    struct pier_err err;
    struct sites_headers *h;

    h = sites_headers_parse("_headers", text, n, &err);
    if (h == NULL) {
        if (strncmp(err.msg, "_headers:", 9) != 0) {
            abort();
        }
        return 0;
    }
    if (nul != NULL) {
        match(h, pier_str_make(nul + 1, size - n - 1));
    }
    match(h, PIER_STR("/"));
    match(h, PIER_STR("/a/b"));
    sites_headers_free(h);
    return 0;
}
