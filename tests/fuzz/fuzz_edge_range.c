/*
 * tests/fuzz/fuzz_edge_range.c - a Range value on any bytes and sizes: no
 * crash, only 200/206/416, every 206 inside the representation.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "edge/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t sizes[] = {0, 1, 2, 100, 4096, UINT64_MAX};
    struct edge_range r;
    char cr[EDGE_RANGE_CONTENT_RANGE_MAX];
    size_t i;
    int st;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        st = edge_range_parse((const char *) data, size, sizes[i], &r);
        if (st == 206) {
            if (r.first > r.last || r.last >= sizes[i]) {
                abort();
            }
            if (edge_range_content_range(&r, sizes[i], cr, sizeof(cr)) == 0) {
                abort();
            }
        } else if (st != 200 && st != 416) {
            abort();
        }
    }
    return 0;
}
