/*
 * tests/fuzz/fuzz_edge_encoding.c - Accept-Encoding on any bytes: no
 * crash, the same answer whole and split at any byte, weights in range,
 * and a choice among what is available.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "edge/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edge_accept a, b;
    struct pier_err err;
    size_t cut = size > 0 ? data[0] % (size + 1) : 0;
    int ra, rb;
    unsigned avail, e;

    edge_accept_init(&a);
    ra = edge_accept_parse(&a, (const char *) data, size, &err);
    if (ra == PIER_OK) {
        ra = edge_accept_finish(&a, &err);
    }
    edge_accept_init(&b);
    rb = edge_accept_parse(&b, (const char *) data, cut, &err);
    if (rb == PIER_OK) {
        rb = edge_accept_parse(&b, (const char *) data + cut, size - cut, &err);
    }
    if (rb == PIER_OK) {
        rb = edge_accept_finish(&b, &err);
    }
    if (ra != rb) {
        abort();
    }
    if (ra != PIER_OK) {
        return 0;
    }
    for (e = 0; e < EDGE_ENC_MAX; e++) {
        if (edge_accept_weight(&a, e) > 1000
            || edge_accept_weight(&a, e) != edge_accept_weight(&b, e)) {
            abort();
        }
    }
    for (avail = 0; avail < 16; avail++) {
        e = edge_accept_choose(&a, avail);
        if (e != EDGE_ENC_IDENTITY && !(avail & EDGE_ENC_BIT(e))) {
            abort();
        }
    }
    return 0;
}
