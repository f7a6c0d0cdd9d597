/*
 * tests/fuzz/fuzz_edge_path.c - edge_path_normalise() on any bytes: no
 * crash, no read or write out of bounds, and an accepted path keeps the
 * invariants a manifest lookup relies on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "edge/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[EDGE_PATH_MAX], small[8];
    struct edge_target t;
    struct pier_err err;
    size_t i;

    if (edge_path_normalise((const char *) data, size, out, sizeof(out), &t,
                            &err)
        == PIER_OK) {
        if (t.path.len == 0 || out[0] != '/' || out[t.path.len] != '\0') {
            abort();
        }
        for (i = 0; i < t.path.len; i++) {
            unsigned char c = (unsigned char) out[i];

            if (c < 0x20 || c == 0x7f || c == '\\') {
                abort();
            }
            if (c == '/' && i > 0 && out[i - 1] == '/') {
                abort();
            }
        }
        if (strstr(out, "/./") != NULL || strstr(out, "/../") != NULL) {
            abort();
        }
        /* Normalising is idempotent. */
        char again[EDGE_PATH_MAX];
        struct edge_target t2;

        if (strchr(out, '%') == NULL && strchr(out, '?') == NULL
            && strchr(out, '#') == NULL) {
            if (edge_path_normalise(out, t.path.len, again, sizeof(again), &t2,
                                    &err)
                    != PIER_OK
                || t2.path.len != t.path.len
                || memcmp(again, out, t.path.len) != 0) {
                abort();
            }
        }
    }
    /* A small output buffer must fail cleanly, never overflow. */
    (void) edge_path_normalise((const char *) data, size, small, sizeof(small),
                               &t, &err);
    return 0;
}
