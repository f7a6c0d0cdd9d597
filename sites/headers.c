/*
 * sites/headers.c - _headers parsing and matching; the header check.
 *
 * A byte-at-a-time state machine finds each line, whether it is
 * indented, and refuses NUL and control bytes as it goes; each complete
 * line is then a path (not indented), a header (indented) or a comment.
 * Header names are interned per file at parse time, so matching can join
 * the values of one name across blocks with a small bitset on the stack
 * instead of allocating.
 */
#include "config.h"

#include "sites/headers.h"

#include "sites/internal.h"

#include <stdio.h>
#include <strings.h>

#define SITES_HEADERS_MAGIC 0x7a03d95eu

struct hdr {
    char *name;
    size_t nlen;
    char *value;
    size_t vlen;
    unsigned id; /* index into names: equal for names equal but for case */
};

struct block {
    struct sites_pattern pat;
    struct hdr *h;
    size_t nh;
    size_t cap;
};

struct sites_headers {
    unsigned magic;
    struct block *b;
    size_t n;
    size_t cap;
    const char *names[SITES_HEADERS_NAMES_MAX]; /* views of hdr names */
    size_t nlens[SITES_HEADERS_NAMES_MAX];
    unsigned nnames;
    unsigned set_cookie; /* id of Set-Cookie, or SITES_HEADERS_NAMES_MAX */
};

/* Headers that describe the connection or the message framing: the edge
 * sets them from what it sends, and a site that could set them could
 * split or smuggle responses. */
static const char *const forbidden[] = {
    "connection", "content-encoding",  "content-length",   "content-range",
    "host",       "keep-alive",        "proxy-connection", "te",
    "trailer",    "transfer-encoding", "upgrade",
};

static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int
sites_header_check(struct pier_str name, struct pier_str value,
                   struct pier_err *err)
{
    size_t i;

    if (name.len == 0) {
        return pier_err_set(err, "empty header name");
    }
    if (name.len > SITES_HEADER_NAME_MAX) {
        return pier_err_set(err, "header name longer than %d bytes",
                            SITES_HEADER_NAME_MAX);
    }
    for (i = 0; i < name.len; i++) {
        if (!is_tchar((unsigned char) name.ptr[i])) {
            return pier_err_set(err, "bad byte 0x%02x in header name",
                                (unsigned) (unsigned char) name.ptr[i]);
        }
    }
    if (value.len > SITES_HEADER_VALUE_MAX) {
        return pier_err_set(err, "value of '%.*s' longer than %d bytes",
                            (int) name.len, name.ptr, SITES_HEADER_VALUE_MAX);
    }
    for (i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char) value.ptr[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return pier_err_set(err, "bad byte 0x%02x in value of '%.*s'",
                                (unsigned) c, (int) name.len, name.ptr);
        }
    }
    for (i = 0; i < PIER_NELEMS(forbidden); i++) {
        if (pier_str_caseeq(name, pier_str_cstr(forbidden[i]))) {
            return pier_err_set(err, "header '%.*s' may not be set by a site",
                                (int) name.len, name.ptr);
        }
    }
    return PIER_OK;
}

void
sites_headers_free(struct sites_headers *h)
{
    size_t i, j;

    if (h == NULL) {
        return;
    }
    PIER_CHECK_OBJ(h, SITES_HEADERS_MAGIC);
    for (i = 0; i < h->n; i++) {
        sites_pattern_release(&h->b[i].pat);
        for (j = 0; j < h->b[i].nh; j++) {
            pier_free(h->b[i].h[j].name);
            pier_free(h->b[i].h[j].value);
        }
        pier_free(h->b[i].h);
    }
    pier_free(h->b);
    h->magic = 0;
    pier_free(h);
}

size_t
sites_headers_count(const struct sites_headers *h)
{
    PIER_CHECK_OBJ(h, SITES_HEADERS_MAGIC);
    return h->n;
}

static int
path_line(struct sites_headers *h, const char *name, unsigned line,
          struct pier_str p, struct pier_err *err)
{
    char why[200];
    struct block *b;

    if (p.len > 7
        && (strncasecmp(p.ptr, "http://", 7) == 0
            || strncasecmp(p.ptr, "https://", 8) == 0)) {
        return pier_err_set(err, "%s:%u: a path with a host is not supported",
                            name, line);
    }
    if (p.ptr[0] != '/' && memchr(p.ptr, ':', p.len) != NULL) {
        return pier_err_set(err,
                            "%s:%u: a header line must be indented "
                            "under its path",
                            name, line);
    }
    if (memchr(p.ptr, ' ', p.len) != NULL
        || memchr(p.ptr, '\t', p.len) != NULL) {
        return pier_err_set(err, "%s:%u: a path holds no blank", name, line);
    }
    if (h->n == SITES_HEADERS_BLOCKS_MAX) {
        return pier_err_set(err, "%s:%u: more than %d paths", name, line,
                            SITES_HEADERS_BLOCKS_MAX);
    }
    if (h->n == h->cap) {
        h->cap = h->cap == 0 ? 16 : h->cap * 2;
        h->b = pier_realloc(h->b, h->cap * sizeof(*h->b));
    }
    b = &h->b[h->n];
    memset(b, 0, sizeof(*b));
    why[0] = '\0';
    if (sites_pattern_parse(&b->pat, p, why, sizeof(why)) != PIER_OK) {
        return pier_err_set(err, "%s:%u: %s", name, line, why);
    }
    h->n++;
    return PIER_OK;
}

static int
header_line(struct sites_headers *h, const char *name, unsigned line,
            struct pier_str l, struct pier_err *err)
{
    const char *colon = memchr(l.ptr, ':', l.len);
    struct pier_str hn, hv;
    struct pier_err herr;
    struct block *b;
    struct hdr *x;
    unsigned id;

    if (h->n == 0) {
        return pier_err_set(err, "%s:%u: a header before any path", name, line);
    }
    if (colon == NULL) {
        return pier_err_set(err, "%s:%u: a header line needs 'Name: value'",
                            name, line);
    }
    hn = pier_str_make(l.ptr, (size_t) (colon - l.ptr));
    hv = pier_str_make(colon + 1, l.len - hn.len - 1);
    /* "Name : value" is not HTTP (RFC 9112 5.1 forbids the blank) but is
     * easy to type; trim blanks around both. */
    while (hn.len > 0
           && (hn.ptr[hn.len - 1] == ' ' || hn.ptr[hn.len - 1] == '\t')) {
        hn.len--;
    }
    while (hv.len > 0 && (hv.ptr[0] == ' ' || hv.ptr[0] == '\t')) {
        hv.ptr++;
        hv.len--;
    }
    while (hv.len > 0
           && (hv.ptr[hv.len - 1] == ' ' || hv.ptr[hv.len - 1] == '\t')) {
        hv.len--;
    }
    if (pier_str_caseeq(hn, PIER_STR("Basic-Auth"))) {
        return pier_err_set(err,
                            "%s:%u: Basic-Auth is not supported (it "
                            "would send the passwords to every visitor)",
                            name, line);
    }
    if (sites_header_check(hn, hv, &herr) != PIER_OK) {
        return pier_err_set(err, "%s:%u: %s", name, line, herr.msg);
    }
    for (id = 0; id < h->nnames; id++) {
        if (pier_str_caseeq(hn, pier_str_make(h->names[id], h->nlens[id]))) {
            break;
        }
    }
    if (id == h->nnames && id == SITES_HEADERS_NAMES_MAX) {
        return pier_err_set(err, "%s:%u: more than %d distinct header names",
                            name, line, SITES_HEADERS_NAMES_MAX);
    }
    b = &h->b[h->n - 1];
    if (b->nh == b->cap) {
        b->cap = b->cap == 0 ? 4 : b->cap * 2;
        b->h = pier_realloc(b->h, b->cap * sizeof(*b->h));
    }
    x = &b->h[b->nh++];
    x->name = pier_strndup(hn.ptr, hn.len);
    x->nlen = hn.len;
    x->value = pier_strndup(hv.ptr, hv.len);
    x->vlen = hv.len;
    x->id = id;
    if (id == h->nnames) {
        h->names[id] = x->name;
        h->nlens[id] = x->nlen;
        h->nnames++;
        if (pier_str_caseeq(hn, PIER_STR("Set-Cookie"))) {
            h->set_cookie = id;
        }
    }
    return PIER_OK;
}

/* One complete line: [p, p + len), indented or not. */
static int
do_line(struct sites_headers *h, const char *name, unsigned line, bool indented,
        struct pier_str l, struct pier_err *err)
{
    while (l.len > 0 && (l.ptr[0] == ' ' || l.ptr[0] == '\t')) {
        l.ptr++;
        l.len--;
    }
    while (l.len > 0 && (l.ptr[l.len - 1] == ' ' || l.ptr[l.len - 1] == '\t')) {
        l.len--;
    }
    if (l.len == 0 || l.ptr[0] == '#') {
        return PIER_OK;
    }
    if (!indented) {
        return path_line(h, name, line, l, err);
    }
    return header_line(h, name, line, l, err);
}

struct sites_headers *
sites_headers_parse(const char *name, const char *text, size_t n,
                    struct pier_err *err)
{
    struct sites_headers *h;
    size_t i, start = 0, len = 0;
    unsigned line = 1;
    bool indented = false;
    enum {
        s_start = 0, /* at the start of a line */
        s_body,      /* inside a line, which began at start */
        s_cr,        /* after CR: only LF may follow */
    } state = s_start;

    PIER_ASSERT(name != NULL);
    h = pier_calloc(1, sizeof(*h));
    h->magic = SITES_HEADERS_MAGIC;
    h->set_cookie = SITES_HEADERS_NAMES_MAX;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) text[i];

        if (c == '\n') {
            if (do_line(h, name, line, indented,
                        pier_str_make(text + start, len), err)
                != PIER_OK) {
                goto fail;
            }
            line++;
            len = 0;
            state = s_start;
            continue;
        }
        if (state == s_cr) {
            pier_err_set(err, "%s:%u: CR not followed by LF", name, line);
            goto fail;
        }
        if (c == '\r') {
            state = s_cr;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            pier_err_set(err, "%s:%u: control byte 0x%02x", name, line,
                         (unsigned) c);
            goto fail;
        }
        switch (state) {
        case s_start:
            start = i;
            indented = c == ' ' || c == '\t';
            state = s_body;
            /* fall through */
        case s_body:
            if (++len > SITES_HEADERS_LINE_MAX) {
                pier_err_set(err, "%s:%u: line longer than %d bytes", name,
                             line, SITES_HEADERS_LINE_MAX);
                goto fail;
            }
            break;
        case s_cr:
            PIER_ASSERT(0); /* handled above */
        }
    }
    /* The last line need not end in LF. */
    if (len > 0
        && do_line(h, name, line, indented, pier_str_make(text + start, len),
                   err)
               != PIER_OK) {
        goto fail;
    }
    return h;

fail:
    sites_headers_free(h);
    return NULL;
}

bool
sites_headers_sets(const struct sites_headers *h, struct pier_str path,
                   struct pier_str name)
{
    size_t i, j;

    PIER_CHECK_OBJ(h, SITES_HEADERS_MAGIC);
    for (i = 0; i < h->n; i++) {
        const struct block *b = &h->b[i];

        if (!sites_pattern_match(&b->pat, path, NULL, NULL)) {
            continue;
        }
        for (j = 0; j < b->nh; j++) {
            if (pier_str_caseeq(name,
                                pier_str_make(b->h[j].name, b->h[j].nlen))) {
                return true;
            }
        }
    }
    return false;
}

static bool
is_matched(const uint64_t *matched, size_t i)
{
    return (matched[i / 64] & ((uint64_t) 1 << (i % 64))) != 0;
}

static int
add_line(struct pier_buf *out, const struct hdr *x, bool first)
{
    if (first) {
        if (pier_buf_add(out, x->name, x->nlen) != PIER_OK
            || pier_buf_add(out, ": ", 2) != PIER_OK) {
            return PIER_ERR;
        }
    } else if (pier_buf_add(out, ", ", 2) != PIER_OK) {
        return PIER_ERR;
    }
    return pier_buf_add(out, x->value, x->vlen);
}

/* Append the lines of header id as block b sets it: its values joined
 * into one line, or for Set-Cookie one line each (RFC 6265 3: cookies
 * cannot be joined). *lines counts them. */
static int
emit(const struct sites_headers *h, const struct block *b, unsigned id,
     struct pier_buf *out, int *lines)
{
    bool first = true;
    size_t j;

    for (j = 0; j < b->nh; j++) {
        if (b->h[j].id != id) {
            continue;
        }
        if (add_line(out, &b->h[j], first) != PIER_OK) {
            return PIER_ERR;
        }
        if (id == h->set_cookie) {
            if (pier_buf_add(out, "\r\n", 2) != PIER_OK) {
                return PIER_ERR;
            }
            (*lines)++;
            continue;
        }
        first = false;
    }
    if (id == h->set_cookie) {
        return PIER_OK;
    }
    (*lines)++;
    return pier_buf_add(out, "\r\n", 2);
}

static bool
block_sets(const struct block *b, unsigned id)
{
    size_t j;

    for (j = 0; j < b->nh; j++) {
        if (b->h[j].id == id) {
            return true;
        }
    }
    return false;
}

int
sites_headers_match(const struct sites_headers *h, struct pier_str path,
                    struct pier_buf *out, struct pier_err *err)
{
    uint64_t matched[SITES_HEADERS_BLOCKS_MAX / 64] = {0};
    uint64_t seen[SITES_HEADERS_NAMES_MAX / 64] = {0};
    size_t i, j, k, len0 = out->len;
    int lines = 0;

    PIER_CHECK_OBJ(h, SITES_HEADERS_MAGIC);
    for (i = 0; i < h->n; i++) {
        if (sites_pattern_match(&h->b[i].pat, path, NULL, NULL)) {
            matched[i / 64] |= (uint64_t) 1 << (i % 64);
        }
    }
    /* Each name at the place it first appears, as the last matching
     * block that sets it says (Netlify: a later rule overrides). */
    for (i = 0; i < h->n; i++) {
        const struct block *b = &h->b[i];

        if (!is_matched(matched, i)) {
            continue;
        }
        for (j = 0; j < b->nh; j++) {
            unsigned id = b->h[j].id;

            if ((seen[id / 64] & ((uint64_t) 1 << (id % 64))) != 0) {
                continue;
            }
            seen[id / 64] |= (uint64_t) 1 << (id % 64);
            for (k = h->n - 1; k > i; k--) {
                if (is_matched(matched, k) && block_sets(&h->b[k], id)) {
                    break;
                }
            }
            if (emit(h, &h->b[k], id, out, &lines) != PIER_OK) {
                pier_buf_truncate(out, len0);
                return pier_err_set(err, "headers longer than %zu bytes",
                                    out->max);
            }
        }
    }
    return lines;
}
