/*
 * edge/path.c - request-target normalisation.
 *
 * Two explicit state machines, one inside the other, in one pass over the
 * target and without a copy:
 *
 *  - the target machine reads raw bytes: the optional "http(s)://authority"
 *    of absolute-form, then the path, where it decodes %XX escapes and
 *    stops at '?';
 *  - the segment machine takes each decoded byte and writes the output:
 *    it drops "." segments, pops the last segment on "..", and merges
 *    duplicate slashes. States are named for what ends the output so far.
 *
 * Dot segments are recognised after decoding, so "%2e%2e" is "..", as RFC
 * 3986 6.2.2.2 says percent-encoded unreserved bytes are the bytes
 * themselves. An encoded '/' or '\' is refused rather than decoded: a
 * separator the client hid from us is how "..%2f" traversals get past a
 * normaliser, and no published file name holds one.
 */
#include "config.h"

#include "edge/path.h"

struct seg {
    enum { g_slash = 0, g_dot, g_dotdot, g_seg } state;
    char *out;
    size_t len; /* bytes written to out */
    size_t max; /* len never passes it (cap - 1, for the NUL) */
};

static int
emit(struct seg *g, char ch, struct pier_err *err)
{
    if (g->len >= g->max) {
        return pier_err_http(err, 400, "path longer than %zu bytes", g->max);
    }
    g->out[g->len++] = ch;
    return PIER_OK;
}

/* The output ends with '/' after a "..": drop the segment before it. */
static int
pop(struct seg *g, struct pier_err *err)
{
    PIER_ASSERT(g->len >= 1 && g->out[g->len - 1] == '/');
    if (g->len == 1) {
        return pier_err_http(err, 400, "path climbs above the root");
    }
    g->len--;
    while (g->out[g->len - 1] != '/') {
        g->len--;
    }
    return PIER_OK;
}

/* Feed one decoded byte to the segment machine. */
static int
seg_step(struct seg *g, unsigned char ch, bool encoded, struct pier_err *err)
{
    if (ch < 0x20 || ch == 0x7f) {
        return pier_err_http(err, 400, "control byte 0x%02x in path",
                             (unsigned) ch);
    }
    if (encoded && (ch == '/' || ch == '\\')) {
        return pier_err_http(err, 400, "encoded '%c' in path", ch);
    }
    switch (g->state) {
    case g_slash: /* the output ends with '/' */
        if (ch == '/') {
            return PIER_OK; /* a duplicate slash */
        }
        if (ch == '.') {
            g->state = g_dot; /* held back until we know the segment */
            return PIER_OK;
        }
        g->state = g_seg;
        return emit(g, (char) ch, err);
    case g_dot: /* "/." so far, the dot not written */
        if (ch == '/') {
            g->state = g_slash; /* "/./" is "/" */
            return PIER_OK;
        }
        if (ch == '.') {
            g->state = g_dotdot;
            return PIER_OK;
        }
        g->state = g_seg; /* ".x": a name that starts with a dot */
        if (emit(g, '.', err) != PIER_OK) {
            return PIER_ERR;
        }
        return emit(g, (char) ch, err);
    case g_dotdot: /* "/.." so far, the dots not written */
        if (ch == '/') {
            g->state = g_slash;
            return pop(g, err);
        }
        g->state = g_seg; /* "...", "..x": ordinary names */
        if (emit(g, '.', err) != PIER_OK || emit(g, '.', err) != PIER_OK) {
            return PIER_ERR;
        }
        return emit(g, (char) ch, err);
    case g_seg: /* inside a name */
        if (ch == '/') {
            g->state = g_slash;
        }
        return emit(g, (char) ch, err);
    }
    PIER_ASSERT(!"unreachable segment state");
    return PIER_ERR;
}

/* The path ended (end of target or '?'): finish a trailing "." or "..". */
static int
seg_end(struct seg *g, struct pier_err *err)
{
    if (g->state == g_dotdot && pop(g, err) != PIER_OK) {
        return PIER_ERR;
    }
    /* A trailing "/." leaves the output ending with '/', as RFC 3986
     * 5.2.4 does ("/a/." is "/a/"). */
    g->out[g->len] = '\0';
    return PIER_OK;
}

int
edge_path_normalise(const char *target, size_t n, char *out, size_t cap,
                    struct edge_target *t, struct pier_err *err)
{
    static const char https[] = "https";
    const char *p = target, *end = target + n, *auth = NULL;
    struct seg g = {g_slash, out, 0, 0};
    int hi = 0, d;
    size_t slen = 0;
    enum {
        s_start = 0,
        s_scheme,
        s_scheme_slash1,
        s_scheme_slash2,
        s_authority,
        s_path,
        s_pct1,
        s_pct2
    } state = s_start;

    PIER_ASSERT(cap >= 2);
    g.max = cap - 1;
    t->path = PIER_STR_NULL;
    t->query = PIER_STR_NULL;
    t->authority = pier_str_make(target, 0);
    if (n > EDGE_PATH_TARGET_MAX) {
        return pier_err_http(err, 400, "request target longer than %d bytes",
                             EDGE_PATH_TARGET_MAX);
    }

    for (; p < end; p++) {
        unsigned char ch = (unsigned char) *p;

        switch (state) {
        case s_start: /* origin-form's '/' or absolute-form's scheme */
            if (ch == '/') {
                out[g.len++] = '/';
                state = s_path;
                break;
            }
            /* The byte is the scheme's first. */
            state = s_scheme;
            /* fall through */
        case s_scheme: /* "http" or "https", any case, then ':' */
            if (ch == ':' && (slen == 4 || slen == 5)) {
                state = s_scheme_slash1;
                break;
            }
            if (slen >= 5 || (ch | 0x20) != (unsigned char) https[slen]) {
                goto invalid;
            }
            slen++;
            break;
        case s_scheme_slash1:
        case s_scheme_slash2:
            if (ch != '/') {
                goto invalid;
            }
            if (state == s_scheme_slash1) {
                state = s_scheme_slash2;
            } else {
                state = s_authority;
                auth = p + 1;
            }
            break;
        case s_authority: /* host[:port], up to the path or the query */
            if (ch == '/' || ch == '?') {
                t->authority = pier_str_make(auth, (size_t) (p - auth));
                if (t->authority.len == 0) {
                    goto invalid;
                }
                out[g.len++] = '/';
                state = s_path;
                if (ch == '?') {
                    goto query;
                }
                break;
            }
            /* RFC 9110 4.2.4: userinfo is an error in http(s) URIs. */
            if (ch <= 0x20 || ch == 0x7f || ch == '@' || ch == '#'
                || ch == '\\') {
                goto invalid;
            }
            break;
        case s_path:
            if (ch == '?') {
                goto query;
            }
            if (ch == '%') {
                state = s_pct1;
                break;
            }
            if (ch == '\\' || ch == '#') {
                goto invalid;
            }
            if (seg_step(&g, ch, false, err) != PIER_OK) {
                return PIER_ERR;
            }
            break;
        case s_pct1: /* after '%' */
            hi = pier_hexval((unsigned char) ch);
            if (hi < 0) {
                goto invalid;
            }
            state = s_pct2;
            break;
        case s_pct2: /* after '%' and one hex digit */
            d = pier_hexval((unsigned char) ch);
            if (d < 0) {
                goto invalid;
            }
            if (seg_step(&g, (unsigned char) (hi * 16 + d), true, err)
                != PIER_OK) {
                return PIER_ERR;
            }
            state = s_path;
            break;
        }
    }

    switch (state) {
    case s_path:
        break;
    case s_authority: /* "http://host": the path is "/" */
        t->authority = pier_str_make(auth, (size_t) (p - auth));
        if (t->authority.len == 0) {
            return pier_err_http(err, 400, "empty authority");
        }
        out[g.len++] = '/';
        break;
    default:
        return pier_err_http(err, 400, "truncated request target");
    }
    if (seg_end(&g, err) != PIER_OK) {
        return PIER_ERR;
    }
    t->path = pier_str_make(out, g.len);
    return PIER_OK;

query:
    if (seg_end(&g, err) != PIER_OK) {
        return PIER_ERR;
    }
    t->path = pier_str_make(out, g.len);
    t->query = pier_str_make(p + 1, (size_t) (end - p - 1));
    return PIER_OK;

invalid:
    return pier_err_http(err, 400, "bad request target byte 0x%02x at %zu",
                         (unsigned) (unsigned char) *p, (size_t) (p - target));
}
