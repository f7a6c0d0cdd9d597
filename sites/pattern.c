/*
 * sites/pattern.c - path patterns shared by _redirects and _headers.
 *
 * Rules are written the way URLs are (percent-escapes), while the edge
 * matches decoded, normalised paths; so literal segments are decoded
 * once here, and a pattern that could never match a normalised path (an
 * encoded '/', a NUL, a dot segment) is refused instead of silently
 * ignored.
 */
#include "config.h"

#include "sites/internal.h"

#include <stdio.h>

bool
sites_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool
sites_name_byte(unsigned char c)
{
    return sites_name_start(c) || (c >= '0' && c <= '9');
}

char *
sites_pct_decode(const char *p, size_t n, size_t *outlen, char *why,
                 size_t whylen)
{
    char *out = pier_malloc(n + 1);
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];

        if (c == '%') {
            int hi = -1, lo = -1;

            /* Both digits must be inside the segment. */
            if (i + 2 < n) {
                hi = pier_hexval((unsigned char) (unsigned char) p[i + 1]);
                lo = pier_hexval((unsigned char) (unsigned char) p[i + 2]);
            }
            if (hi < 0 || lo < 0) {
                snprintf(why, whylen, "bad percent-escape in '%.*s'",
                         (int) (n > 100 ? 100 : n), p);
                pier_free(out);
                return NULL;
            }
            c = (unsigned char) (hi * 16 + lo);
            i += 2;
            if (c == '/' || c == '\\' || c == '\0') {
                snprintf(why, whylen, "encoded '/', '\\' or NUL in '%.*s'",
                         (int) (n > 100 ? 100 : n), p);
                pier_free(out);
                return NULL;
            }
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, whylen, "control byte 0x%02x in a path",
                     (unsigned) c);
            pier_free(out);
            return NULL;
        }
        out[o++] = (char) c;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

void
sites_pattern_release(struct sites_pattern *p)
{
    size_t i;

    for (i = 0; i < p->nsegs; i++) {
        pier_free(p->segs[i].text);
    }
    pier_free(p->segs);
    memset(p, 0, sizeof(*p));
}

static int
fail(struct sites_pattern *p, char *why, size_t whylen, const char *msg)
{
    if (msg != NULL) {
        snprintf(why, whylen, "%s", msg);
    }
    sites_pattern_release(p);
    return PIER_ERR;
}

int
sites_pattern_parse(struct sites_pattern *p, struct pier_str src, char *why,
                    size_t whylen)
{
    size_t i, start, nseg = 0, end;

    PIER_ASSERT(p->segs == NULL && p->nsegs == 0);
    if (src.len == 0 || src.ptr[0] != '/') {
        snprintf(why, whylen, "'%.*s' does not start with '/'",
                 (int) (src.len > 100 ? 100 : src.len), src.ptr);
        return PIER_ERR;
    }
    for (i = 0; i < src.len; i++) {
        if (src.ptr[i] == '?' || src.ptr[i] == '#') {
            snprintf(why, whylen,
                     "query strings and fragments in a path pattern are "
                     "not supported");
            return PIER_ERR;
        }
        if (src.ptr[i] == '/') {
            nseg++;
        }
    }
    /* A trailing slash is ignored ("/a/" is "/a"; "/" has no segment). */
    end = src.len;
    if (src.ptr[end - 1] == '/') {
        end--;
        nseg--;
    }
    p->segs = pier_calloc(nseg + 1, sizeof(*p->segs));
    start = 1;
    for (i = 1; i <= end && nseg > 0; i++) {
        struct sites_seg *s;
        const char *sp;
        size_t len, k;

        if (i < end && src.ptr[i] != '/') {
            continue;
        }
        sp = src.ptr + start;
        len = i - start;
        start = i + 1;
        if (p->splat) {
            return fail(p, why, whylen, "'*' must be the last segment");
        }
        if (len == 0) {
            return fail(p, why, whylen, "empty segment ('//') in a path");
        }
        s = &p->segs[p->nsegs++];
        if (len == 1 && sp[0] == '*') {
            s->kind = SITES_SEG_SPLAT;
            p->splat = true;
            continue;
        }
        if (memchr(sp, '*', len) != NULL) {
            return fail(p, why, whylen, "'*' must be a whole segment");
        }
        if (sp[0] == ':') {
            if (len < 2 || !sites_name_start((unsigned char) sp[1])) {
                return fail(p, why, whylen, "bad placeholder name");
            }
            for (k = 2; k < len; k++) {
                if (!sites_name_byte((unsigned char) sp[k])) {
                    return fail(p, why, whylen, "bad placeholder name");
                }
            }
            if (len - 1 == 5 && memcmp(sp + 1, "splat", 5) == 0) {
                return fail(p, why, whylen,
                            "':splat' is written '*' in a pattern");
            }
            if (sites_pattern_var(p, pier_str_make(sp + 1, len - 1)) >= 0) {
                snprintf(why, whylen, "placeholder '%.*s' used twice",
                         (int) (len > 64 ? 64 : len), sp);
                return fail(p, why, whylen, NULL);
            }
            if (p->nvars == SITES_PATTERN_VARS_MAX) {
                snprintf(why, whylen, "more than %d placeholders",
                         SITES_PATTERN_VARS_MAX);
                return fail(p, why, whylen, NULL);
            }
            s->kind = SITES_SEG_VAR;
            s->text = pier_strndup(sp + 1, len - 1);
            s->len = len - 1;
            p->nvars++;
            continue;
        }
        s->kind = SITES_SEG_LIT;
        s->text = sites_pct_decode(sp, len, &s->len, why, whylen);
        if (s->text == NULL) {
            return fail(p, why, whylen, NULL);
        }
        if ((s->len == 1 && s->text[0] == '.')
            || (s->len == 2 && s->text[0] == '.' && s->text[1] == '.')) {
            return fail(p, why, whylen, "'.' or '..' segment in a path");
        }
    }
    return PIER_OK;
}

int
sites_pattern_var(const struct sites_pattern *p, struct pier_str name)
{
    size_t i;
    int k = 0;

    for (i = 0; i < p->nsegs; i++) {
        if (p->segs[i].kind != SITES_SEG_VAR) {
            continue;
        }
        if (p->segs[i].len == name.len
            && memcmp(p->segs[i].text, name.ptr, name.len) == 0) {
            return k;
        }
        k++;
    }
    return -1;
}

bool
sites_pattern_match(const struct sites_pattern *p, struct pier_str path,
                    struct pier_str *vars, struct pier_str *splat)
{
    const char *s, *end, *q;
    bool have;
    size_t i;
    unsigned k = 0;

    if (path.ptr == NULL || path.len == 0 || path.ptr[0] != '/') {
        return false;
    }
    end = path.ptr + path.len;
    if (path.len > 1 && end[-1] == '/') {
        end--;
    }
    s = path.ptr + 1;
    have = s < end;
    for (i = 0; i < p->nsegs; i++) {
        const struct sites_seg *g = &p->segs[i];

        if (g->kind == SITES_SEG_SPLAT) {
            if (splat != NULL) {
                *splat = have ? pier_str_make(s, (size_t) (end - s))
                              : pier_str_make(end, 0);
            }
            return true;
        }
        if (!have) {
            return false;
        }
        q = memchr(s, '/', (size_t) (end - s));
        if (q == NULL) {
            q = end;
        }
        if (g->kind == SITES_SEG_LIT) {
            if ((size_t) (q - s) != g->len || memcmp(s, g->text, g->len) != 0) {
                return false;
            }
        } else {
            if (q == s) {
                return false;
            }
            if (vars != NULL) {
                vars[k] = pier_str_make(s, (size_t) (q - s));
            }
            k++;
        }
        if (q == end) {
            have = false;
        } else {
            s = q + 1;
        }
    }
    return !have;
}

int
sites_pct_encode(struct pier_buf *b, struct pier_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, len0 = b->len;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];
        int r;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL)) {
            r = pier_buf_addch(b, (char) c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};

            r = pier_buf_add(b, e, 3);
        }
        if (r != PIER_OK) {
            pier_buf_truncate(b, len0);
            return PIER_ERR;
        }
    }
    return PIER_OK;
}
