/*
 * tests/fuzz/fuzz_css.c - publish/css.c: the scanner must stay inside its
 * input, give the same references whole and split at any byte, and the
 * rewrite of every reference must succeed.
 */
#include "config.h"

#include "publish/css.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXREFS 4096

static size_t
scan(const char *p, size_t n, size_t split, struct publish_css_ref *out)
{
    struct publish_css_scanner sc;
    size_t off = 0, used, k = 0;

    publish_css_scanner_init(&sc);
    while (off < n && k < MAXREFS) {
        size_t lim = off < split && split < n ? split : n;
        int rc = publish_css_scan(&sc, p + off, p + lim, &out[k], &used);

        PIER_ASSERT(used <= lim - off);
        off += used;
        if (rc == PIER_OK) {
            PIER_ASSERT(out[k].start <= out[k].end && out[k].end <= n);
            k++;
        } else {
            PIER_ASSERT(off == lim);
        }
    }
    return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct publish_css_ref a[MAXREFS], b[MAXREFS];
    const char *p = (const char *) data;
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;
    const char **urls;
    size_t na, nb, i;

    na = scan(p, size, size, a);
    nb = scan(p, size, size / 2, b);
    PIER_ASSERT(na == nb);
    for (i = 0; i < na; i++) {
        PIER_ASSERT(a[i].start == b[i].start && a[i].end == b[i].end);
        PIER_ASSERT(a[i].kind == b[i].kind && a[i].line == b[i].line);
    }
    publish_refs_init(&refs);
    publish_css_collect(p, size, 0, 1, PUBLISH_REF_NOGROUP, &refs);
    urls = calloc(refs.n + 1, sizeof(*urls));
    for (i = 0; i < refs.n; i++) {
        urls[i] = i % 2 == 0 ? "x(\"y\").png" : refs.refs[i].url;
    }
    pier_buf_init(&out, SIZE_MAX);
    PIER_ASSERT(publish_refs_rewrite(&refs, p, size, urls, &out, &err)
                == PIER_OK);
    pier_buf_release(&out);
    free(urls);
    publish_refs_release(&refs);
    return 0;
}
