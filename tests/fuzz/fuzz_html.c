/*
 * tests/fuzz/fuzz_html.c - publish/html.c: every reference must lie inside
 * the document (or its group's value), exact ones must be their URL's
 * bytes, an integrity insertion point must follow its reference, and the
 * rewrite of every reference and insertion must succeed.
 */
#include "config.h"

#include "publish/html.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *) data;
    struct publish_refs refs;
    struct publish_html_sris sris;
    struct pier_buf out, base;
    struct pier_err err;
    const char **urls;
    size_t i, nrefs;

    publish_refs_init(&refs);
    publish_html_sris_init(&sris);
    pier_buf_init(&base, SIZE_MAX);
    if (publish_html_collect_sri(p, size, &refs, &base, &sris, &err)
        != PIER_OK) {
        publish_refs_release(&refs);
        pier_buf_release(&base);
        return 0;
    }
    nrefs = refs.n;
    for (i = 0; i < sris.n; i++) {
        const struct publish_html_sri *s = &sris.v[i];
        const struct publish_ref *r;
        struct publish_ref *ins;

        PIER_ASSERT(s->ref < nrefs && s->at <= size);
        r = &refs.refs[s->ref];
        PIER_ASSERT(r->group == PUBLISH_REF_NOGROUP
                        ? r->end <= s->at
                        : refs.groups[r->group].end == s->at);
        ins = publish_refs_add(&refs, "", 0, s->at, s->at, s->line);
        ins->esc = PUBLISH_ESC_NONE;
    }
    urls = calloc(refs.n + 1, sizeof(*urls));
    for (i = 0; i < nrefs; i++) {
        const struct publish_ref *r = &refs.refs[i];

        PIER_ASSERT(r->start <= r->end);
        if (r->group == PUBLISH_REF_NOGROUP) {
            PIER_ASSERT(r->end <= size);
            if (r->raw_is_url) {
                PIER_ASSERT(r->end - r->start == strlen(r->url));
                PIER_ASSERT(memcmp(p + r->start, r->url, strlen(r->url)) == 0);
            }
        } else {
            PIER_ASSERT(r->group < refs.ngroups);
            PIER_ASSERT(r->end <= refs.groups[r->group].len);
            PIER_ASSERT(refs.groups[r->group].end <= size);
        }
        urls[i] = i % 3 == 0 ? NULL : "a&b\"c'<d>.png";
    }
    for (i = nrefs; i < refs.n; i++) {
        urls[i] = " integrity=\"sha384-x\"";
    }
    pier_buf_init(&out, SIZE_MAX);
    PIER_ASSERT(publish_refs_rewrite(&refs, p, size, urls, &out, &err)
                == PIER_OK);
    pier_buf_release(&out);
    pier_buf_release(&base);
    free(urls);
    publish_html_sris_release(&sris);
    publish_refs_release(&refs);
    return 0;
}
