/*
 * publish/ref.c - the reference list and the splice that rewrites a
 * document at the parsers' byte offsets.
 */
#include "config.h"

#include "publish/ref.h"

#include <stdlib.h>

void
publish_refs_init(struct publish_refs *r)
{
    memset(r, 0, sizeof(*r));
}

void
publish_refs_release(struct publish_refs *r)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        pier_free(r->refs[i].url);
    }
    for (i = 0; i < r->ngroups; i++) {
        pier_free(r->groups[i].value);
    }
    pier_free(r->refs);
    pier_free(r->groups);
    memset(r, 0, sizeof(*r));
}

struct publish_ref *
publish_refs_add(struct publish_refs *r, const char *url, size_t n,
                 size_t start, size_t end, unsigned line)
{
    struct publish_ref *ref;

    PIER_ASSERT(start <= end);
    if (r->n == r->cap) {
        r->cap = r->cap != 0 ? r->cap * 2 : 16;
        r->refs = pier_realloc(r->refs, r->cap * sizeof(*r->refs));
    }
    ref = &r->refs[r->n++];
    memset(ref, 0, sizeof(*ref));
    ref->url = pier_strndup(url, n);
    ref->start = start;
    ref->end = end;
    ref->line = line;
    ref->group = PUBLISH_REF_NOGROUP;
    ref->esc = PUBLISH_ESC_HTML;
    ref->what = "reference";
    return ref;
}

unsigned
publish_refs_add_group(struct publish_refs *r, size_t start, size_t end,
                       const char *value, size_t n, char quote)
{
    struct publish_ref_group *g;

    PIER_ASSERT(start <= end);
    PIER_ASSERT(r->ngroups < PUBLISH_REF_NOGROUP);
    if (r->ngroups == r->gcap) {
        r->gcap = r->gcap != 0 ? r->gcap * 2 : 4;
        r->groups = pier_realloc(r->groups, r->gcap * sizeof(*r->groups));
    }
    g = &r->groups[r->ngroups];
    g->start = start;
    g->end = end;
    g->value = pier_strndup(value, n);
    g->len = n;
    g->quote = quote;
    return (unsigned) r->ngroups++;
}

int
publish_esc_html(struct pier_buf *out, const char *s, size_t n)
{
    size_t i;
    int rc = PIER_OK;

    for (i = 0; i < n && rc == PIER_OK; i++) {
        switch (s[i]) {
        case '&':
            rc = pier_buf_adds(out, "&amp;");
            break;
        case '"':
            rc = pier_buf_adds(out, "&quot;");
            break;
        case '\'':
            rc = pier_buf_adds(out, "&#39;");
            break;
        case '<':
            rc = pier_buf_adds(out, "&lt;");
            break;
        case '>':
            rc = pier_buf_adds(out, "&gt;");
            break;
        default:
            rc = pier_buf_addch(out, s[i]);
        }
    }
    return rc;
}

int
publish_esc_css(struct pier_buf *out, const char *s, size_t n)
{
    size_t i;
    int rc = PIER_OK;

    for (i = 0; i < n && rc == PIER_OK; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '\'' || ch == '\\'
            || ch == '(' || ch == ')' || ch == '&' || ch == '<' || ch == '>') {
            /* The trailing space ends the hex escape, so a hex digit that
             * follows is not swallowed into it (CSS Syntax 4.3.7). */
            rc = pier_buf_addf(out, "\\%x ", (unsigned) ch);
        } else {
            rc = pier_buf_addch(out, (char) ch);
        }
    }
    return rc;
}

/* Append new in place of old, whose raw bytes in the document are old
 * itself: only the differing middle is escaped and written, the common
 * prefix and suffix are copied, so the document keeps every byte it can. */
static int
splice_diff(struct pier_buf *out, const char *old, size_t on, const char *nw,
            size_t nn, enum publish_esc esc)
{
    size_t pre = 0, suf = 0;
    int rc;

    while (pre < on && pre < nn && old[pre] == nw[pre]) {
        pre++;
    }
    while (suf < on - pre && suf < nn - pre
           && old[on - 1 - suf] == nw[nn - 1 - suf]) {
        suf++;
    }
    rc = pier_buf_add(out, old, pre);
    if (rc == PIER_OK) {
        rc = esc == PUBLISH_ESC_CSS
                 ? publish_esc_css(out, nw + pre, nn - pre - suf)
                 : publish_esc_html(out, nw + pre, nn - pre - suf);
    }
    if (rc == PIER_OK) {
        rc = pier_buf_add(out, old + on - suf, suf);
    }
    return rc;
}

/* One reference's replacement, appended to out. text is what the range
 * indexes (the document or a group's value). */
static int
splice_one(struct pier_buf *out, const char *text,
           const struct publish_ref *ref, const char *url)
{
    if (ref->esc == PUBLISH_ESC_NONE) {
        return pier_buf_adds(out, url);
    }
    if (ref->raw_is_url) {
        return splice_diff(out, text + ref->start, ref->end - ref->start, url,
                           strlen(url), ref->esc);
    }
    return ref->esc == PUBLISH_ESC_CSS
               ? publish_esc_css(out, url, strlen(url))
               : publish_esc_html(out, url, strlen(url));
}

struct edit {
    size_t start, end;
    size_t ref; /* index of the reference, or SIZE_MAX for a group */
    unsigned group;
};

static int
cmp_edit(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;

    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return 0;
}

/* Rewrite one group's decoded value with its references, then splice it
 * re-encoded and quoted over the attribute's raw value. */
static int
splice_group(const struct publish_refs *r, unsigned gi, const char *const *urls,
             struct pier_buf *out, struct pier_err *err)
{
    const struct publish_ref_group *g = &r->groups[gi];
    struct publish_refs sub;
    const char **suburls;
    struct pier_buf val;
    size_t i, k = 0;
    int rc;

    /* The group's references, as a list over the decoded value. */
    publish_refs_init(&sub);
    suburls = pier_calloc(r->n + 1, sizeof(*suburls));
    for (i = 0; i < r->n; i++) {
        if (r->refs[i].group == gi) {
            struct publish_ref *s = publish_refs_add(
                &sub, r->refs[i].url, strlen(r->refs[i].url), r->refs[i].start,
                r->refs[i].end, r->refs[i].line);

            s->esc = r->refs[i].esc;
            s->raw_is_url = r->refs[i].raw_is_url;
            suburls[k++] = urls[i];
        }
    }
    pier_buf_init(&val, SIZE_MAX);
    rc = publish_refs_rewrite(&sub, g->value, g->len, suburls, &val, err);
    if (rc == PIER_OK) {
        rc = pier_buf_addch(out, '"');
    }
    if (rc == PIER_OK) {
        rc = publish_esc_html(out, val.data, val.len);
    }
    if (rc == PIER_OK) {
        rc = pier_buf_addch(out, '"');
    }
    pier_buf_release(&val);
    pier_free(suburls);
    publish_refs_release(&sub);
    if (rc != PIER_OK && err->msg[0] == '\0') {
        return pier_err_set(err, "rewritten document too large");
    }
    return rc;
}

int
publish_refs_rewrite(const struct publish_refs *r, const char *doc, size_t n,
                     const char *const *urls, struct pier_buf *out,
                     struct pier_err *err)
{
    struct edit *ed;
    size_t i, ne = 0, at = 0;
    bool *gdone;
    int rc = PIER_OK;

    err->msg[0] = '\0';
    ed = pier_calloc(r->n + 1, sizeof(*ed));
    gdone = pier_calloc(r->ngroups + 1, sizeof(*gdone));
    for (i = 0; i < r->n; i++) {
        const struct publish_ref *ref = &r->refs[i];

        if (urls[i] == NULL) {
            continue;
        }
        if (ref->group == PUBLISH_REF_NOGROUP) {
            PIER_ASSERT(ref->end <= n);
            ed[ne++] = (struct edit){ref->start, ref->end, i, 0};
        } else if (!gdone[ref->group]) {
            const struct publish_ref_group *g = &r->groups[ref->group];

            PIER_ASSERT(g->end <= n);
            gdone[ref->group] = true;
            ed[ne++] = (struct edit){g->start, g->end, SIZE_MAX, ref->group};
        }
    }
    qsort(ed, ne, sizeof(*ed), cmp_edit);
    for (i = 0; i < ne && rc == PIER_OK; i++) {
        /* gumbo's adoption agency clones formatting elements with their
         * attributes, so one attribute's bytes can be reported twice:
         * the same range, the same edit. */
        if (i > 0 && ed[i].start == ed[i - 1].start
            && ed[i].end == ed[i - 1].end) {
            continue;
        }
        PIER_ASSERT(ed[i].start >= at);
        rc = pier_buf_add(out, doc + at, ed[i].start - at);
        if (rc != PIER_OK) {
            break;
        }
        if (ed[i].ref != SIZE_MAX) {
            rc = splice_one(out, doc, &r->refs[ed[i].ref], urls[ed[i].ref]);
        } else {
            rc = splice_group(r, ed[i].group, urls, out, err);
        }
        at = ed[i].end;
    }
    if (rc == PIER_OK) {
        rc = pier_buf_add(out, doc + at, n - at);
    }
    pier_free(ed);
    pier_free(gdone);
    if (rc != PIER_OK && err->msg[0] == '\0') {
        return pier_err_set(err, "rewritten document too large");
    }
    return rc;
}
