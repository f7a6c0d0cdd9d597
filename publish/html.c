/*
 * publish/html.c - HTML references through gumbo.
 *
 * gumbo hands us each attribute twice: decoded (`value`) and as written
 * (`original_value`, quotes included, pointing into our buffer). When the
 * written bytes are the decoded ones (no character reference, no NUL or CR
 * that the tokenizer replaced), a reference's offset in the value is its
 * offset in the document and the rewrite is a splice of the bytes that
 * change. Otherwise the attribute becomes a group (publish/ref.h): its
 * references are kept in value space, and the rewrite re-encodes the
 * attribute's whole value.
 */
#include "config.h"

#include "publish/html.h"

#include "publish/css.h"

#include <gumbo.h>
#include <strings.h>

struct attr_ctx {
    struct publish_refs *refs;
    const char *value; /* decoded */
    size_t base;       /* document offset of value[0] when exact */
    unsigned group;    /* NOGROUP when exact */
    unsigned line;     /* line of value[0] */
    const char *what;
};

static unsigned
line_at(const char *s, size_t off, unsigned line)
{
    size_t i;

    for (i = 0; i < off; i++) {
        if (s[i] == '\n') {
            line++;
        }
    }
    return line;
}

static void
add_url(struct attr_ctx *a, size_t off, size_t len)
{
    struct publish_ref *r;
    size_t base = a->group == PUBLISH_REF_NOGROUP ? a->base : 0;

    if (len == 0) {
        return;
    }
    r = publish_refs_add(a->refs, a->value + off, len, base + off,
                         base + off + len, line_at(a->value, off, a->line));
    r->group = a->group;
    r->esc = PUBLISH_ESC_HTML;
    r->raw_is_url = true;
    r->what = a->what;
}

static void
on_srcset(void *arg, size_t off, size_t len)
{
    add_url(arg, off, len);
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

void
publish_html_srcset(const char *value, size_t n,
                    void (*fn)(void *arg, size_t off, size_t len), void *arg)
{
    size_t i = 0;

    while (i < n) {
        size_t start, end;
        unsigned depth = 0;

        /* Skip whitespace and commas before a candidate. */
        while (i < n && (is_ws(value[i]) || value[i] == ',')) {
            i++;
        }
        if (i == n) {
            break;
        }
        start = i;
        while (i < n && !is_ws(value[i])) {
            i++;
        }
        end = i;
        if (value[end - 1] == ',') {
            /* "a.png," ends the candidate with no descriptors. */
            while (end > start && value[end - 1] == ',') {
                end--;
            }
            fn(arg, start, end - start);
            continue;
        }
        fn(arg, start, end - start);
        /* Descriptors up to a comma outside parentheses. */
        while (i < n && (value[i] != ',' || depth > 0)) {
            if (value[i] == '(') {
                depth++;
            } else if (value[i] == ')' && depth > 0) {
                depth--;
            }
            i++;
        }
    }
}

static bool
rel_has(const char *rel, const char *tok)
{
    size_t tn = strlen(tok);
    const char *p = rel;

    while (*p != '\0') {
        size_t k;

        while (*p != '\0' && is_ws(*p)) {
            p++;
        }
        k = 0;
        while (p[k] != '\0' && !is_ws(p[k])) {
            k++;
        }
        if (k == tn && strncasecmp(p, tok, tn) == 0) {
            return true;
        }
        p += k;
    }
    return false;
}

static bool
link_rel_counts(const GumboVector *attrs)
{
    static const char *const rels[] = {
        "stylesheet", "preload",          "modulepreload", "prefetch",
        "icon",       "apple-touch-icon", "manifest",
    };
    GumboAttribute *rel = gumbo_get_attribute(attrs, "rel");
    size_t i;

    if (rel == NULL) {
        return false;
    }
    for (i = 0; i < PIER_NELEMS(rels); i++) {
        if (rel_has(rel->value, rels[i])) {
            return true;
        }
    }
    return false;
}

/* HTML, "link type": preload fetches with the destination of its as
 * attribute, and only script and style destinations check integrity. */
static bool
link_takes_sri(const GumboVector *attrs)
{
    GumboAttribute *rel = gumbo_get_attribute(attrs, "rel");
    GumboAttribute *as = gumbo_get_attribute(attrs, "as");

    if (rel == NULL) {
        return false;
    }
    if (rel_has(rel->value, "stylesheet")
        || rel_has(rel->value, "modulepreload")) {
        return true;
    }
    return rel_has(rel->value, "preload") && as != NULL
           && (strcasecmp(as->value, "script") == 0
               || strcasecmp(as->value, "style") == 0);
}

void
publish_html_sris_init(struct publish_html_sris *s)
{
    memset(s, 0, sizeof(*s));
}

void
publish_html_sris_release(struct publish_html_sris *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        pier_free(s->v[i].integrity);
    }
    pier_free(s->v);
    publish_html_sris_init(s);
}

enum attr_kind { k_url, k_srcset, k_style };

/* Set up ctx for attribute at of doc: exact or a group. False when the
 * attribute's text is not in doc (gumbo made it up) or has no value. */
static bool
attr_setup(struct attr_ctx *a, const char *doc, size_t n,
           const GumboAttribute *at)
{
    const char *raw = at->original_value.data;
    size_t rn = at->original_value.length, vn = strlen(at->value);
    size_t start, inner;
    char q = 0;

    if (vn == 0 || raw == NULL || rn == 0 || raw < doc || raw > doc + n
        || rn > (size_t) (doc + n - raw)) {
        return false;
    }
    start = (size_t) (raw - doc);
    if (raw[0] == '"' || raw[0] == '\'') {
        if (rn < 2 || raw[rn - 1] != raw[0]) {
            return false; /* an unterminated quote: leave it alone */
        }
        q = raw[0];
        raw++;
        inner = rn - 2;
    } else {
        inner = rn;
    }
    a->value = at->value;
    a->line = at->value_start.line;
    if (inner == vn && memcmp(raw, at->value, vn) == 0
        && memchr(raw, '&', inner) == NULL) {
        a->group = PUBLISH_REF_NOGROUP;
        a->base = (size_t) (raw - doc);
    } else {
        a->group = publish_refs_add_group(a->refs, start, start + rn, at->value,
                                          vn, q);
        a->base = 0;
    }
    return true;
}

static void
do_attr(struct publish_refs *refs, const char *doc, size_t n,
        const GumboVector *attrs, const char *name, enum attr_kind kind,
        const char *what)
{
    GumboAttribute *at = gumbo_get_attribute(attrs, name);
    struct attr_ctx a = {.refs = refs, .what = what};
    size_t vn, lo, hi;

    if (at == NULL || !attr_setup(&a, doc, n, at)) {
        return;
    }
    vn = strlen(a.value);
    switch (kind) {
    case k_url:
        /* HTML strips leading and trailing ASCII whitespace from URLs. */
        lo = 0;
        hi = vn;
        while (lo < hi && is_ws(a.value[lo])) {
            lo++;
        }
        while (hi > lo && is_ws(a.value[hi - 1])) {
            hi--;
        }
        add_url(&a, lo, hi - lo);
        break;
    case k_srcset:
        publish_html_srcset(a.value, vn, on_srcset, &a);
        break;
    case k_style:
        publish_css_collect(a.value, vn,
                            a.group == PUBLISH_REF_NOGROUP ? a.base : 0, a.line,
                            a.group, refs);
        break;
    }
}

/* After do_attr() on the tag's src or href: when it added one reference
 * (refs->n was before), record the tag for integrity. */
static void
add_sri(struct publish_html_sris *sris, const struct publish_refs *refs,
        size_t before, const char *doc, const GumboVector *attrs,
        const char *name)
{
    GumboAttribute *at = gumbo_get_attribute(attrs, name);
    GumboAttribute *in = gumbo_get_attribute(attrs, "integrity");
    struct publish_html_sri *s;

    if (sris == NULL || refs->n != before + 1 || at == NULL) {
        return;
    }
    sris->v = pier_realloc(sris->v, (sris->n + 1) * sizeof(*sris->v));
    s = &sris->v[sris->n++];
    s->ref = before;
    /* do_attr() found the value in doc: its end is there too. */
    s->at =
        (size_t) (at->original_value.data - doc) + at->original_value.length;
    s->integrity = in != NULL ? pier_strdup(in->value) : NULL;
    s->line = at->value_start.line;
}

static void
do_style_text(struct publish_refs *refs, const char *doc, size_t n,
              const GumboNode *el)
{
    const GumboVector *kids = &el->v.element.children;
    unsigned i;

    for (i = 0; i < kids->length; i++) {
        const GumboNode *t = kids->data[i];
        const GumboStringPiece *o;

        if (t->type != GUMBO_NODE_TEXT && t->type != GUMBO_NODE_WHITESPACE) {
            continue;
        }
        o = &t->v.text.original_text;
        if (o->data == NULL || o->data < doc || o->data > doc + n
            || o->length > (size_t) (doc + n - o->data)) {
            continue;
        }
        /* <style> is raw text: no character references, so the original
         * bytes are the CSS. */
        publish_css_collect(o->data, o->length, (size_t) (o->data - doc),
                            t->v.text.start_pos.line, PUBLISH_REF_NOGROUP,
                            refs);
    }
}

static void
do_element(struct publish_refs *refs, const char *doc, size_t n,
           const GumboNode *node, struct pier_buf *base, bool *have_base,
           struct publish_html_sris *sris)
{
    const GumboElement *el = &node->v.element;
    const GumboVector *at = &el->attributes;
    size_t before = refs->n;

    if (el->tag_namespace == GUMBO_NAMESPACE_HTML) {
        switch (el->tag) {
        case GUMBO_TAG_A:
            do_attr(refs, doc, n, at, "href", k_url, "a href");
            break;
        case GUMBO_TAG_AREA:
            do_attr(refs, doc, n, at, "href", k_url, "area href");
            break;
        case GUMBO_TAG_LINK:
            if (link_rel_counts(at)) {
                do_attr(refs, doc, n, at, "href", k_url, "link href");
                if (link_takes_sri(at)) {
                    add_sri(sris, refs, before, doc, at, "href");
                }
            }
            do_attr(refs, doc, n, at, "imagesrcset", k_srcset,
                    "link imagesrcset");
            break;
        case GUMBO_TAG_BASE: {
            GumboAttribute *h = gumbo_get_attribute(at, "href");

            /* Only the first <base href> counts (HTML, "frozen base URL"). */
            if (h != NULL && !*have_base && base != NULL) {
                *have_base = true;
                pier_buf_reset(base);
                if (pier_buf_adds(base, h->value) != PIER_OK) {
                    pier_buf_reset(base);
                }
            }
            break;
        }
        case GUMBO_TAG_IMG:
            do_attr(refs, doc, n, at, "src", k_url, "img src");
            do_attr(refs, doc, n, at, "srcset", k_srcset, "img srcset");
            break;
        case GUMBO_TAG_SOURCE:
            do_attr(refs, doc, n, at, "src", k_url, "source src");
            do_attr(refs, doc, n, at, "srcset", k_srcset, "source srcset");
            break;
        case GUMBO_TAG_SCRIPT:
            do_attr(refs, doc, n, at, "src", k_url, "script src");
            add_sri(sris, refs, before, doc, at, "src");
            break;
        case GUMBO_TAG_IFRAME:
        case GUMBO_TAG_EMBED:
        case GUMBO_TAG_AUDIO:
        case GUMBO_TAG_TRACK:
        case GUMBO_TAG_INPUT:
            do_attr(refs, doc, n, at, "src", k_url, "src");
            break;
        case GUMBO_TAG_VIDEO:
            do_attr(refs, doc, n, at, "src", k_url, "video src");
            do_attr(refs, doc, n, at, "poster", k_url, "video poster");
            break;
        case GUMBO_TAG_OBJECT:
            do_attr(refs, doc, n, at, "data", k_url, "object data");
            break;
        case GUMBO_TAG_STYLE:
            do_style_text(refs, doc, n, node);
            break;
        default:
            break;
        }
    }
    do_attr(refs, doc, n, at, "style", k_style, "style attribute");
}

int
publish_html_collect(const char *doc, size_t n, struct publish_refs *refs,
                     struct pier_buf *base, struct pier_err *err)
{
    return publish_html_collect_sri(doc, n, refs, base, NULL, err);
}

int
publish_html_collect_sri(const char *doc, size_t n, struct publish_refs *refs,
                         struct pier_buf *base, struct publish_html_sris *sris,
                         struct pier_err *err)
{
    GumboOptions opts = kGumboDefaultOptions;
    GumboOutput *out;
    const GumboNode **stack;
    size_t sp = 0, cap = 64;
    bool have_base = false;

    if (n > UINT32_MAX / 2) {
        return pier_err_set(err, "HTML document too large (%zu bytes)", n);
    }
    /* Parse errors are not ours to report: do not collect them. */
    opts.max_errors = 0;
    out = gumbo_parse_with_options(&opts, doc, n);
    if (out == NULL) {
        return pier_err_set(err, "cannot parse HTML");
    }
    /* Walk with our own stack: a document can nest deeper than the C
     * stack would like (gumbo itself does not limit depth). */
    stack = pier_malloc(cap * sizeof(*stack));
    stack[sp++] = out->document;
    while (sp > 0) {
        const GumboNode *node = stack[--sp];
        const GumboVector *kids;
        unsigned i;

        if (node->type == GUMBO_NODE_DOCUMENT) {
            kids = &node->v.document.children;
        } else if (node->type == GUMBO_NODE_ELEMENT
                   || node->type == GUMBO_NODE_TEMPLATE) {
            do_element(refs, doc, n, node, base, &have_base, sris);
            kids = &node->v.element.children;
        } else {
            continue;
        }
        /* Pushed in reverse, so that references come in document order. */
        for (i = kids->length; i > 0; i--) {
            if (sp == cap) {
                cap *= 2;
                stack = pier_realloc(stack, cap * sizeof(*stack));
            }
            stack[sp++] = kids->data[i - 1];
        }
    }
    pier_free(stack);
    gumbo_destroy_output(&opts, out);
    return PIER_OK;
}
