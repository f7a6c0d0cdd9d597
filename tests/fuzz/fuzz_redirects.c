/*
 * tests/fuzz/fuzz_redirects.c - sites/redirects.c. The input is the
 * _redirects text, then optionally a NUL and a path to match (the parser
 * refuses NUL, so the split is unambiguous). A redirect target must never
 * hold CR, LF or a space, and a failed parse must name a line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "sites/internal.h"
#include "sites/redirects.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
match(const struct sites_redirects *r, struct pier_str path)
{
    struct pier_buf to, to2;
    struct pier_err err;
    unsigned flags;
    int st;

    pier_buf_init(&to, 1024);
    pier_buf_init(&to2, 1024);
    for (flags = 0; flags <= SITES_REDIRECTS_EXISTS; flags++) {
        pier_buf_reset(&to);
        pier_buf_reset(&to2);
        st = sites_redirects_match(r, path, flags, &to, &err);
        /* The index must not change which rule wins. */
        if (st != sites_redirects_match_linear(r, path, flags, &to2, &err)
            || to.len != to2.len || memcmp(to.data, to2.data, to.len) != 0) {
            abort();
        }
        if (st >= 301 && st <= 308
            && (memchr(to.data, '\r', to.len) != NULL
                || memchr(to.data, '\n', to.len) != NULL
                || memchr(to.data, ' ', to.len) != NULL)) {
            abort();
        }
        if (st == 0 && to.len != 0) {
            abort();
        }
    }
    pier_buf_release(&to);
    pier_buf_release(&to2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *nul = memchr(text, '\0', size);
    size_t n = nul != NULL ? (size_t) (nul - text) : size;
    struct pier_err err;
    struct sites_redirects *r;

    r = sites_redirects_parse("_redirects", text, n, &err);
    if (r == NULL) {
        if (strncmp(err.msg, "_redirects:", 11) != 0) {
            abort();
        }
        return 0;
    }
    if (nul != NULL) {
        match(r, pier_str_make(nul + 1, size - n - 1));
    }
    match(r, PIER_STR("/"));
    match(r, PIER_STR("/a/b c/d\r\n"));
    sites_redirects_free(r);
    return 0;
}
