/*
 * tests/fuzz/fuzz_manifest.c - sites/manifest.c's JSON: manifests and
 * deltas. What decodes must encode and decode again to the same bytes;
 * a delta that decodes is applied to a fixed manifest.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "sites/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const struct sites_manifest *m)
{
    struct pier_buf a, b;
    struct pier_err err;
    struct sites_manifest *m2;
    size_t i;

    pier_buf_init(&a, SIZE_MAX);
    pier_buf_init(&b, SIZE_MAX);
    /* Rules that are not UTF-8 cannot be encoded; everything else can. */
    if (sites_manifest_encode(m, &a, &err) == PIER_OK) {
        m2 = sites_manifest_decode(a.data, a.len, &err);
        if (m2 == NULL) {
            abort();
        }
        if (sites_manifest_encode(m2, &b, &err) != PIER_OK || a.len != b.len
            || memcmp(a.data, b.data, a.len) != 0) {
            abort();
        }
        for (i = 0; i < sites_manifest_count(m2); i++) {
            const struct sites_entry *e = sites_manifest_at(m2, i);

            if (sites_manifest_get(m2, pier_str_cstr(e->path), NULL) != e) {
                abort();
            }
            if (e->alias != NULL
                && sites_manifest_get(m2, pier_str_cstr(e->alias), NULL) != e) {
                abort();
            }
        }
        sites_manifest_free(m2);
    }
    pier_buf_release(&a);
    pier_buf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool arena;
    static const char base[] =
        "{\"format\":1,\"site\":\"blog\",\"deploy\":"
        "\"20261124T093000Z-0123456-3f9a1c\",\"created\":0,\"files\":{"
        "\"/a\":{\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaa\",\"type\":\"text/html\",\"size\":1,"
        "\"class\":\"entry\"}},\"redirects\":\"\",\"headers\":\"\"}";
    struct pier_err err;
    struct sites_manifest *m, *from, *to;
    struct sites_delta *d;

    if (!arena) {
        sites_json_init(); /* the arena path pier takes */
        arena = true;
    }
    m = sites_manifest_decode((const char *) data, size, &err);
    if (m != NULL) {
        sites_manifest_assert(m);
        round_trip(m);
        sites_manifest_free(m);
    }
    d = sites_delta_decode((const char *) data, size, &err);
    if (d != NULL) {
        from = sites_manifest_decode(base, sizeof(base) - 1, &err);
        if (from == NULL) {
            abort();
        }
        to = sites_manifest_apply(from, d, &err);
        if (to != NULL) {
            sites_manifest_assert(to);
            round_trip(to);
            sites_manifest_free(to);
        }
        sites_manifest_free(from);
        sites_delta_free(d);
    }
    return 0;
}
