/*
 * sites/redirects.c - _redirects: a byte-at-a-time line splitter, a
 * per-line compiler into patterns and target templates, and the matcher.
 *
 * The splitter is a small state machine (start of line, inside a field,
 * between fields, comment, after CR) that never looks past the byte it
 * is on, so no input can make it read outside [text, text + n). Each
 * complete line is compiled at once, so an error names its line.
 */
#include "config.h"

#include "sites/redirects.h"

#include "sites/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define SITES_REDIRECTS_MAGIC 0x51c7e2a4u
#define FIELDS_MAX            8

enum part_kind {
    PART_LIT = 0,
    PART_VAR,
    PART_SPLAT,
};

/* One piece of a target template. */
struct part {
    enum part_kind kind;
    char *text; /* PART_LIT */
    size_t len;
    unsigned var; /* PART_VAR: index of the placeholder in from */
};

struct rule {
    struct sites_pattern from;
    struct part *parts;
    size_t nparts;
    int status;
    bool force;
};

/* An index entry: a rule by a key it needs the path to have. */
struct idx {
    const char *key;
    size_t len;
    size_t rule;
};

struct sites_redirects {
    unsigned magic;
    struct rule *r;
    size_t n;
    size_t cap;
    /* Sources without placeholder or '*', by the whole decoded path
     * ("/a/b"; "/" for the root): sorted by key, then rule. */
    struct idx *exact;
    size_t nexact;
    char *keys; /* the exact keys, one after another */
    /* Sources with a literal first segment, by that segment. */
    struct idx *lit;
    size_t nlit;
    size_t *any; /* the rest (a placeholder or '*' first), in order */
    size_t nany;
};

static void
rule_release(struct rule *r)
{
    size_t i;

    sites_pattern_release(&r->from);
    for (i = 0; i < r->nparts; i++) {
        pier_free(r->parts[i].text);
    }
    pier_free(r->parts);
    memset(r, 0, sizeof(*r));
}

void
sites_redirects_free(struct sites_redirects *rules)
{
    size_t i;

    if (rules == NULL) {
        return;
    }
    PIER_CHECK_OBJ(rules, SITES_REDIRECTS_MAGIC);
    for (i = 0; i < rules->n; i++) {
        rule_release(&rules->r[i]);
    }
    pier_free(rules->r);
    pier_free(rules->exact);
    pier_free(rules->keys);
    pier_free(rules->lit);
    pier_free(rules->any);
    rules->magic = 0;
    pier_free(rules);
}

size_t
sites_redirects_count(const struct sites_redirects *rules)
{
    PIER_CHECK_OBJ(rules, SITES_REDIRECTS_MAGIC);
    return rules->n;
}

static bool
is_redirect(int status)
{
    return status == 301 || status == 302 || status == 307 || status == 308;
}

static bool
has_prefix(struct pier_str s, const char *prefix)
{
    size_t n = strlen(prefix);

    return s.len >= n && strncasecmp(s.ptr, prefix, n) == 0;
}

static bool
is_url(struct pier_str s)
{
    return has_prefix(s, "http://") || has_prefix(s, "https://");
}

/* Add a literal piece of the target; for redirects bytes outside ASCII
 * are percent-encoded (Location is ASCII), for rewrites escapes are
 * decoded (the target is looked up as a decoded path). */
static int
add_lit(struct rule *r, const char *p, size_t n, char *why, size_t whylen)
{
    struct part *pt;
    size_t i;

    if (n == 0) {
        return PIER_OK;
    }
    pt = &r->parts[r->nparts];
    pt->kind = PART_LIT;
    if (is_redirect(r->status)) {
        struct pier_buf b;

        pier_buf_init(&b, SIZE_MAX);
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char) p[i];
            int rc;

            if (c >= 0x80) {
                rc = pier_buf_addf(&b, "%%%02X", (unsigned) c);
            } else {
                rc = pier_buf_addch(&b, (char) c);
            }
            PIER_ASSERT(rc == PIER_OK);
        }
        pt->text = pier_buf_detach(&b, &pt->len);
    } else {
        pt->text = sites_pct_decode(p, n, &pt->len, why, whylen);
        if (pt->text == NULL) {
            return PIER_ERR;
        }
    }
    r->nparts++;
    return PIER_OK;
}

/* Compile the target template of r from to. */
static int
compile_to(struct rule *r, struct pier_str to, char *why, size_t whylen)
{
    size_t i, lit = 0;

    if (!is_redirect(r->status)) {
        if (is_url(to)) {
            snprintf(why, whylen,
                     "status %d to another host (proxying) is not supported",
                     r->status);
            return PIER_ERR;
        }
        if (to.ptr[0] != '/') {
            snprintf(why, whylen, "target '%.*s' does not start with '/'",
                     (int) (to.len > 100 ? 100 : to.len), to.ptr);
            return PIER_ERR;
        }
        if (memchr(to.ptr, '?', to.len) != NULL
            || memchr(to.ptr, '#', to.len) != NULL) {
            snprintf(why, whylen,
                     "the target of status %d has no query "
                     "string or fragment",
                     r->status);
            return PIER_ERR;
        }
    } else if (to.ptr[0] != '/' && !is_url(to)) {
        snprintf(why, whylen,
                 "target '%.*s' is neither a path nor an http(s) URL",
                 (int) (to.len > 100 ? 100 : to.len), to.ptr);
        return PIER_ERR;
    }
    /* At most one literal between placeholders, and one placeholder per
     * two bytes: to.len + 1 pieces is always enough. */
    r->parts = pier_calloc(to.len + 1, sizeof(*r->parts));
    for (i = 0; i < to.len; i++) {
        struct pier_str name;
        size_t k;
        int v;

        if (to.ptr[i] != ':' || i + 1 == to.len
            || !sites_name_start((unsigned char) to.ptr[i + 1])) {
            continue;
        }
        for (k = i + 2;
             k < to.len && sites_name_byte((unsigned char) to.ptr[k]); k++) {
        }
        name = pier_str_make(to.ptr + i + 1, k - i - 1);
        if (add_lit(r, to.ptr + lit, i - lit, why, whylen) != PIER_OK) {
            return PIER_ERR;
        }
        if (pier_str_eq(name, PIER_STR("splat"))) {
            if (!r->from.splat) {
                snprintf(why, whylen,
                         "':splat' in the target but no '*' in "
                         "the source");
                return PIER_ERR;
            }
            r->parts[r->nparts++].kind = PART_SPLAT;
        } else {
            v = sites_pattern_var(&r->from, name);
            if (v < 0) {
                snprintf(why, whylen,
                         "':%.*s' in the target is not a placeholder of the "
                         "source",
                         (int) (name.len > 64 ? 64 : name.len), name.ptr);
                return PIER_ERR;
            }
            r->parts[r->nparts].kind = PART_VAR;
            r->parts[r->nparts++].var = (unsigned) v;
        }
        lit = k;
        i = k - 1;
    }
    return add_lit(r, to.ptr + lit, to.len - lit, why, whylen);
}

static bool
has_byte(struct pier_str s, char c)
{
    return memchr(s.ptr, c, s.len) != NULL;
}

/* Parse "301" or "200!" into r. */
static int
parse_status(struct rule *r, struct pier_str f, char *why, size_t whylen)
{
    int st;

    if (f.len == 4 && f.ptr[3] == '!') {
        r->force = true;
        f.len = 3;
    }
    if (f.len != 3 || f.ptr[0] < '0' || f.ptr[0] > '9' || f.ptr[1] < '0'
        || f.ptr[1] > '9' || f.ptr[2] < '0' || f.ptr[2] > '9') {
        snprintf(why, whylen, "bad status '%.*s'",
                 (int) (f.len > 20 ? 20 : f.len), f.ptr);
        return PIER_ERR;
    }
    st = (f.ptr[0] - '0') * 100 + (f.ptr[1] - '0') * 10 + (f.ptr[2] - '0');
    if (st != 200 && st != 404 && !is_redirect(st)) {
        snprintf(why, whylen,
                 "status %d is not supported (200, 301, 302, 307, 308, 404)",
                 st);
        return PIER_ERR;
    }
    r->status = st;
    return PIER_OK;
}

/* Compile one line of fields into a rule. */
static int
compile_line(struct rule *r, const struct pier_str *f, size_t nf, char *why,
             size_t whylen)
{
    size_t i = 2;

    r->status = 301;
    if (nf < 2) {
        snprintf(why, whylen, "a rule needs a source and a target");
        return PIER_ERR;
    }
    if (is_url(f[0])) {
        snprintf(why, whylen,
                 "a source with a host (domain-level redirect) is not "
                 "supported");
        return PIER_ERR;
    }
    if (has_byte(f[0], '?')) {
        snprintf(why, whylen, "query strings in the source are not supported");
        return PIER_ERR;
    }
    /* "/store id=:id /blog/:id 301": the second field is a query
     * condition, not a target. */
    if (has_byte(f[1], '=') && f[1].ptr[0] != '/' && !is_url(f[1])) {
        snprintf(why, whylen,
                 "query-string conditions ('%.*s') are not supported",
                 (int) (f[1].len > 64 ? 64 : f[1].len), f[1].ptr);
        return PIER_ERR;
    }
    if (sites_pattern_parse(&r->from, f[0], why, whylen) != PIER_OK) {
        return PIER_ERR;
    }
    if (nf > 2 && f[2].ptr[0] >= '0' && f[2].ptr[0] <= '9') {
        if (parse_status(r, f[2], why, whylen) != PIER_OK) {
            return PIER_ERR;
        }
        i = 3;
    }
    if (i < nf) {
        if (has_byte(f[i], '=')) {
            snprintf(why, whylen, "conditions ('%.*s') are not supported",
                     (int) (f[i].len > 64 ? 64 : f[i].len), f[i].ptr);
        } else {
            snprintf(why, whylen, "unexpected field '%.*s'",
                     (int) (f[i].len > 64 ? 64 : f[i].len), f[i].ptr);
        }
        return PIER_ERR;
    }
    return compile_to(r, f[1], why, whylen);
}

static int
add_line(struct sites_redirects *rs, const char *name, unsigned line,
         const struct pier_str *f, size_t nf, struct pier_err *err)
{
    char why[200];
    struct rule *r;

    if (rs->n == SITES_REDIRECTS_RULES_MAX) {
        return pier_err_set(err, "%s:%u: more than %d rules", name, line,
                            SITES_REDIRECTS_RULES_MAX);
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap == 0 ? 16 : rs->cap * 2;
        rs->r = pier_realloc(rs->r, rs->cap * sizeof(*rs->r));
    }
    r = &rs->r[rs->n];
    memset(r, 0, sizeof(*r));
    why[0] = '\0';
    if (compile_line(r, f, nf, why, sizeof(why)) != PIER_OK) {
        rule_release(r);
        return pier_err_set(err, "%s:%u: %s", name, line, why);
    }
    rs->n++;
    return PIER_OK;
}

static int
cmp_idx(const void *a, const void *b)
{
    const struct idx *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->key, y->key, n) : 0;

    if (c != 0) {
        return c;
    }
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Index the rules. A site that moved from another host may carry
 * thousands of "/old/page /new/page" lines; with the index a request
 * looks at the rules whose literal source is its path, at those whose
 * source starts with its first segment, and at the few others, merged in
 * file order, instead of at every rule. */
static void
build_index(struct sites_redirects *rs)
{
    size_t i, k, keylen = 0, off = 0;

    rs->exact = pier_calloc(rs->n + 1, sizeof(*rs->exact));
    rs->lit = pier_calloc(rs->n + 1, sizeof(*rs->lit));
    rs->any = pier_calloc(rs->n + 1, sizeof(*rs->any));
    for (i = 0; i < rs->n; i++) {
        const struct sites_pattern *p = &rs->r[i].from;

        keylen += 1;
        for (k = 0; k < p->nsegs; k++) {
            keylen += p->segs[k].len + 1;
        }
    }
    rs->keys = pier_malloc(keylen + 1);
    for (i = 0; i < rs->n; i++) {
        const struct sites_pattern *p = &rs->r[i].from;
        char *key = rs->keys + off;

        if (p->nvars == 0 && !p->splat) {
            key[0] = '/';
            off++;
            for (k = 0; k < p->nsegs; k++) {
                memcpy(rs->keys + off, p->segs[k].text, p->segs[k].len);
                off += p->segs[k].len;
                rs->keys[off++] = '/';
            }
            /* "/" stays; "/a/b/" loses its last slash. */
            if (p->nsegs > 0) {
                off--;
            }
            rs->exact[rs->nexact++] =
                (struct idx){key, (size_t) (rs->keys + off - key), i};
        } else if (p->segs[0].kind == SITES_SEG_LIT) {
            rs->lit[rs->nlit++] =
                (struct idx){p->segs[0].text, p->segs[0].len, i};
        } else {
            rs->any[rs->nany++] = i;
        }
    }
    PIER_ASSERT(off <= keylen);
    if (rs->nexact > 1) {
        qsort(rs->exact, rs->nexact, sizeof(*rs->exact), cmp_idx);
    }
    if (rs->nlit > 1) {
        qsort(rs->lit, rs->nlit, sizeof(*rs->lit), cmp_idx);
    }
}

struct sites_redirects *
sites_redirects_parse(const char *name, const char *text, size_t n,
                      struct pier_err *err)
{
    struct sites_redirects *rs;
    struct pier_str f[FIELDS_MAX];
    size_t i, nf = 0, linelen = 0, start = 0;
    unsigned line = 1;
    enum {
        s_start = 0, /* at the start of a line: blanks, '#' or a field */
        s_field,     /* inside a field, which began at start */
        s_blank,     /* between fields */
        s_comment,   /* after '#': everything up to LF */
        s_cr,        /* after CR: only LF may follow */
    } state = s_start;

    PIER_ASSERT(name != NULL);
    rs = pier_calloc(1, sizeof(*rs));
    rs->magic = SITES_REDIRECTS_MAGIC;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) text[i];

        if (c == '\n') {
            if (state == s_field) {
                f[nf++] = pier_str_make(text + start, i - start);
            }
            if (nf > 0 && add_line(rs, name, line, f, nf, err) != PIER_OK) {
                goto fail;
            }
            nf = 0;
            linelen = 0;
            line++;
            state = s_start;
            continue;
        }
        if (state == s_cr) {
            pier_err_set(err, "%s:%u: CR not followed by LF", name, line);
            goto fail;
        }
        if (c == '\0') {
            pier_err_set(err, "%s:%u: NUL byte", name, line);
            goto fail;
        }
        if (++linelen > SITES_REDIRECTS_LINE_MAX) {
            pier_err_set(err, "%s:%u: line longer than %d bytes", name, line,
                         SITES_REDIRECTS_LINE_MAX);
            goto fail;
        }
        if (c == '\r') {
            if (state == s_field) {
                f[nf++] = pier_str_make(text + start, i - start);
            }
            state = s_cr;
            continue;
        }
        switch (state) {
        case s_comment:
            break;
        case s_start:
        case s_blank:
            if (c == ' ' || c == '\t') {
                break;
            }
            if (c == '#') {
                state = s_comment;
                break;
            }
            if (nf == FIELDS_MAX) {
                pier_err_set(err, "%s:%u: more than %d fields", name, line,
                             FIELDS_MAX);
                goto fail;
            }
            /* A field begins; its first byte is checked as the rest. */
            start = i;
            state = s_field;
            /* fall through */
        case s_field:
            if (c == ' ' || c == '\t') {
                f[nf++] = pier_str_make(text + start, i - start);
                state = s_blank;
                break;
            }
            if (c < 0x20 || c == 0x7f) {
                pier_err_set(err, "%s:%u: control byte 0x%02x", name, line,
                             (unsigned) c);
                goto fail;
            }
            break;
        case s_cr:
            PIER_ASSERT(0); /* handled above */
        }
    }
    /* The last line need not end in LF. */
    if (state == s_field) {
        f[nf++] = pier_str_make(text + start, n - start);
    }
    if (nf > 0 && add_line(rs, name, line, f, nf, err) != PIER_OK) {
        goto fail;
    }
    build_index(rs);
    return rs;

fail:
    sites_redirects_free(rs);
    return NULL;
}

/* Append one captured value: encoded for a Location, as is for a path. */
static int
add_capture(struct pier_buf *to, struct pier_str v, int status)
{
    if (is_redirect(status)) {
        return sites_pct_encode(to, v);
    }
    return pier_buf_addstr(to, v);
}

/* Try rule r on path; on a match append its target and return its
 * status, else 0. */
static int
try_rule(const struct rule *r, struct pier_str path, unsigned flags,
         struct pier_buf *to, struct pier_err *err)
{
    struct pier_str vars[SITES_PATTERN_VARS_MAX], splat;
    size_t k, len0 = to->len;

    if ((flags & SITES_REDIRECTS_EXISTS) != 0 && !r->force) {
        return 0;
    }
    if (!sites_pattern_match(&r->from, path, vars, &splat)) {
        return 0;
    }
    for (k = 0; k < r->nparts; k++) {
        const struct part *pt = &r->parts[k];
        int rc;

        switch (pt->kind) {
        case PART_LIT:
            rc = pier_buf_add(to, pt->text, pt->len);
            break;
        case PART_VAR:
            rc = add_capture(to, vars[pt->var], r->status);
            break;
        case PART_SPLAT:
        default:
            rc = add_capture(to, splat, r->status);
            break;
        }
        if (rc != PIER_OK) {
            pier_buf_truncate(to, len0);
            return pier_err_set(err, "redirect target longer than %zu bytes",
                                to->max);
        }
    }
    return r->status;
}

int
sites_redirects_match_linear(const struct sites_redirects *rules,
                             struct pier_str path, unsigned flags,
                             struct pier_buf *to, struct pier_err *err)
{
    size_t i;
    int st;

    PIER_CHECK_OBJ(rules, SITES_REDIRECTS_MAGIC);
    for (i = 0; i < rules->n; i++) {
        st = try_rule(&rules->r[i], path, flags, to, err);
        if (st != 0) {
            return st;
        }
    }
    return 0;
}

/* The first index entry with key k (rule 0 on), or n. */
static size_t
lower_bound(const struct idx *x, size_t n, struct pier_str k)
{
    struct idx key = {k.ptr, k.len, 0};
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cmp_idx(&x[mid], &key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The rule at x[*pos] if it has key k, else SIZE_MAX. */
static size_t
head(const struct idx *x, size_t n, size_t pos, struct pier_str k)
{
    if (pos < n && x[pos].len == k.len
        && (k.len == 0 || memcmp(x[pos].key, k.ptr, k.len) == 0)) {
        return x[pos].rule;
    }
    return SIZE_MAX;
}

int
sites_redirects_match(const struct sites_redirects *rules, struct pier_str path,
                      unsigned flags, struct pier_buf *to, struct pier_err *err)
{
    struct pier_str whole, first;
    size_t e, l, a = 0;
    const char *slash;
    int st;

    PIER_CHECK_OBJ(rules, SITES_REDIRECTS_MAGIC);
    if (path.ptr == NULL || path.len == 0 || path.ptr[0] != '/') {
        return 0;
    }
    /* The keys as sites_pattern_match sees the path: the trailing slash
     * dropped, then the whole path and its first segment. */
    whole = path;
    if (whole.len > 1 && whole.ptr[whole.len - 1] == '/') {
        whole.len--;
    }
    first = pier_str_make(whole.ptr + 1, whole.len - 1);
    slash = memchr(first.ptr, '/', first.len);
    if (slash != NULL) {
        first.len = (size_t) (slash - first.ptr);
    }
    e = lower_bound(rules->exact, rules->nexact, whole);
    l = lower_bound(rules->lit, rules->nlit, first);
    /* Merge the three candidate lists in file order. */
    for (;;) {
        size_t re = head(rules->exact, rules->nexact, e, whole);
        size_t rl = head(rules->lit, rules->nlit, l, first);
        size_t ra = a < rules->nany ? rules->any[a] : SIZE_MAX;
        size_t i;

        if (re < rl && re < ra) {
            i = re;
            e++;
        } else if (rl < ra) {
            i = rl;
            l++;
        } else if (ra != SIZE_MAX) {
            i = ra;
            a++;
        } else {
            return 0;
        }
        st = try_rule(&rules->r[i], path, flags, to, err);
        if (st != 0) {
            return st;
        }
    }
}
