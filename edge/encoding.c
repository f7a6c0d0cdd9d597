/*
 * edge/encoding.c - Accept-Encoding (RFC 9110 12.5.3) and variant choice.
 *
 * The grammar, after RFC 9110 5.6.1's list rule:
 *     Accept-Encoding = #( codings [ weight ] )
 *     weight          = OWS ";" OWS "q=" qvalue
 *     qvalue          = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 * Codings and "q" are case-insensitive. Parameters other than q are not in
 * the grammar, but clients send them ("gzip;level=9"); they are skipped
 * rather than make the whole header void. "x-gzip" is gzip (RFC 9110
 * 8.4.1.3). A coding named twice keeps its first weight.
 */
#include "config.h"

#include "edge/encoding.h"

enum {
    a_elem = 0,   /* before an element: OWS and empty elements skipped */
    a_tok,        /* in the coding's name */
    a_after,      /* after a name or a parameter, before ';' or ',' */
    a_param,      /* after ';' */
    a_param_q,    /* a parameter named "q" so far */
    a_param_name, /* in another parameter's name */
    a_param_eq,   /* after another parameter's '=' */
    a_param_val,  /* in a parameter's token value */
    a_param_qs,   /* in a parameter's quoted-string value */
    a_param_qp,   /* after a '\\' in a quoted-string */
    a_q_int,      /* after "q=" */
    a_q0,         /* "q=0" */
    a_q1,         /* "q=1" */
    a_q0_frac,    /* "q=0." and digits */
    a_q1_frac     /* "q=1." and zeros */
};

#define TOK_LONG 0xff

static bool
is_tchar(unsigned char ch)
{
    /* RFC 9110 5.6.2 tchar */
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9')) {
        return true;
    }
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 9110 5.6.4: qdtext, the bytes of a quoted-string as they are. */
static bool
is_qdtext(unsigned char ch)
{
    return ch == '\t' || ch == ' ' || ch == 0x21 || (ch >= 0x23 && ch <= 0x5b)
           || (ch >= 0x5d && ch <= 0x7e) || ch >= 0x80;
}

/* RFC 9110 5.6.4: what a quoted-pair's backslash may escape (HTAB, SP,
 * VCHAR, obs-text). */
static bool
is_qpair(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool
is_ows(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

void
edge_accept_init(struct edge_accept *acc)
{
    memset(acc, 0, sizeof(*acc));
}

static bool
tok_is(const struct edge_accept *acc, const char *name)
{
    size_t n = strlen(name);

    return acc->toklen == n && memcmp(acc->tok, name, n) == 0;
}

/* An element ended: record its weight, unless its coding is unknown or
 * was named before. */
static void
end_elem(struct edge_accept *acc)
{
    int enc = -1;

    if (acc->bad) {
        acc->bad = false; /* a malformed weight: the element is ignored */
        acc->toklen = 0;
        acc->cur_q = 1000;
        return;
    }
    if (acc->toklen == 0) {
        return; /* an empty list element */
    }
    if (tok_is(acc, "*")) {
        if (!acc->star) {
            acc->star = true;
            acc->star_q = acc->cur_q;
        }
    } else if (tok_is(acc, "br")) {
        enc = EDGE_ENC_BR;
    } else if (tok_is(acc, "zstd")) {
        enc = EDGE_ENC_ZSTD;
    } else if (tok_is(acc, "gzip") || tok_is(acc, "x-gzip")) {
        enc = EDGE_ENC_GZIP;
    } else if (tok_is(acc, "identity")) {
        enc = EDGE_ENC_IDENTITY;
    }
    if (enc >= 0 && !(acc->listed & EDGE_ENC_BIT(enc))) {
        acc->listed |= EDGE_ENC_BIT(enc);
        acc->q[enc] = acc->cur_q;
    }
    acc->toklen = 0;
    acc->cur_q = 1000;
}

int
edge_accept_parse(struct edge_accept *acc, const char *p, size_t n,
                  struct pier_err *err)
{
    const char *end = p + n;
    unsigned state = acc->state;
    unsigned d;

    if (!acc->any) {
        acc->any = true;
        acc->cur_q = 1000;
    }
    for (; p < end; p++) {
        unsigned char ch = (unsigned char) *p;

    reswitch:
        switch (state) {
        case a_elem:
            if (is_ows(ch) || ch == ',') {
                break;
            }
            if (!is_tchar(ch)) {
                goto invalid;
            }
            state = a_tok;
            acc->toklen = 0;
            /* fall through */
        case a_tok:
            if (is_tchar(ch)) {
                if (acc->toklen < sizeof(acc->tok)) {
                    /* ASCII lower case: tchars have no bit 0x20 clash
                     * with other tchars among the names we compare. */
                    acc->tok[acc->toklen++] =
                        (char) (ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
                } else {
                    acc->toklen = TOK_LONG;
                }
                break;
            }
            /* The name ended at this byte. */
            state = a_after;
            /* fall through */
        case a_after:
            if (is_ows(ch)) {
                break;
            }
            if (ch == ',') {
                end_elem(acc);
                state = a_elem;
                break;
            }
            if (ch == ';') {
                state = a_param;
                break;
            }
            goto invalid;
        case a_param:
            if (is_ows(ch)) {
                break;
            }
            if (ch == 'q' || ch == 'Q') {
                state = a_param_q;
                break;
            }
            if (!is_tchar(ch)) {
                goto invalid;
            }
            state = a_param_name;
            break;
        case a_param_q:
            if (ch == '=') {
                state = a_q_int;
                break;
            }
            if (!is_tchar(ch)) {
                goto invalid;
            }
            state = a_param_name; /* "qux=": not a weight */
            break;
        case a_param_name:
            if (ch == '=') {
                state = a_param_eq;
                break;
            }
            if (!is_tchar(ch)) {
                goto invalid;
            }
            break;
        case a_param_eq:
            /* parameter-value = token / quoted-string (RFC 9110 5.6.6) */
            if (ch == '"') {
                state = a_param_qs;
                break;
            }
            if (!is_tchar(ch)) {
                goto invalid;
            }
            state = a_param_val;
            break;
        case a_param_val:
            if (is_tchar(ch)) {
                break;
            }
            state = a_after; /* the byte ends it: read it again */
            goto reswitch;
        case a_param_qs:
            if (ch == '"') {
                state = a_after;
            } else if (ch == '\\') {
                state = a_param_qp;
            } else if (!is_qdtext(ch)) {
                goto invalid;
            }
            break;
        case a_param_qp:
            if (!is_qpair(ch)) {
                goto invalid;
            }
            state = a_param_qs;
            break;
        case a_q_int:
            /* weight = OWS ";" OWS "q=" qvalue, where a qvalue is a bare
             * number (RFC 9110 12.4.2). Anything else that is still a
             * parameter value, a token ("q=2", "q=.5") or a quoted
             * string ("q=\"0.5\""), is a malformed weight: the element
             * is ignored, as if not listed, and the rest of the list
             * counts. Guessing a weight could turn on a coding the
             * client did not ask for, and q=0 could turn off identity. */
            acc->qdigits = 0;
            if (ch == '0') {
                acc->cur_q = 0;
                state = a_q0;
            } else if (ch == '1') {
                acc->cur_q = 1000;
                state = a_q1;
            } else if (ch == '"') {
                acc->bad = true;
                state = a_param_qs;
            } else if (is_tchar(ch)) {
                acc->bad = true;
                state = a_param_val;
            } else {
                goto invalid; /* no value at all */
            }
            break;
        case a_q0:
        case a_q1:
            if (ch == '.') {
                state = state == a_q0 ? a_q0_frac : a_q1_frac;
                break;
            }
            if (is_tchar(ch)) {
                acc->bad = true; /* "q=12", "q=0x" */
                state = a_param_val;
                break;
            }
            state = a_after; /* the byte ends it: read it again */
            goto reswitch;
        case a_q0_frac:
        case a_q1_frac:
            if (ch >= '0' && ch <= '9') {
                d = ch - '0';
                if (acc->qdigits == 3 || (state == a_q1_frac && d != 0)) {
                    acc->bad = true; /* "q=0.1234", "q=1.5" */
                    state = a_param_val;
                    break;
                }
                acc->cur_q += (uint16_t) (d
                                          * (acc->qdigits == 0   ? 100
                                             : acc->qdigits == 1 ? 10
                                                                 : 1));
                acc->qdigits++;
                break;
            }
            if (is_tchar(ch)) {
                acc->bad = true; /* "q=0.5x" */
                state = a_param_val;
                break;
            }
            state = a_after; /* the byte ends it: read it again */
            goto reswitch;
        default:
            PIER_ASSERT(!"bad accept-encoding state");
        }
    }
    acc->state = state;
    return PIER_OK;

invalid:
    acc->state = a_elem;
    acc->bad = false;
    return pier_err_http(err, 400, "bad Accept-Encoding byte 0x%02x",
                         (unsigned) (unsigned char) *p);
}

int
edge_accept_finish(struct edge_accept *acc, struct pier_err *err)
{
    switch (acc->state) {
    case a_elem:
    case a_tok:
    case a_after:
    case a_param_val:
    case a_q0:
    case a_q1:
    case a_q0_frac:
    case a_q1_frac:
        end_elem(acc);
        acc->state = a_elem;
        return PIER_OK;
    default:
        acc->state = a_elem;
        acc->bad = false;
        return pier_err_http(err, 400, "Accept-Encoding cut short");
    }
}

unsigned
edge_accept_weight(const struct edge_accept *acc, enum edge_enc enc)
{
    PIER_ASSERT(enc < EDGE_ENC_MAX);
    if (!acc->any) {
        return enc == EDGE_ENC_IDENTITY ? 1000 : 0;
    }
    if (acc->listed & EDGE_ENC_BIT(enc)) {
        return acc->q[enc];
    }
    if (acc->star) {
        return acc->star_q;
    }
    /* RFC 9110 12.5.3: identity is acceptable unless excluded; give it
     * the lowest weight so that any coding the client names wins. */
    return enc == EDGE_ENC_IDENTITY ? 1 : 0;
}

enum edge_enc
edge_accept_choose(const struct edge_accept *acc, unsigned avail)
{
    static const enum edge_enc order[] = {EDGE_ENC_BR, EDGE_ENC_ZSTD,
                                          EDGE_ENC_GZIP, EDGE_ENC_IDENTITY};
    enum edge_enc best = EDGE_ENC_IDENTITY;
    unsigned best_w = 0, w;
    size_t i;

    avail |= EDGE_ENC_BIT(EDGE_ENC_IDENTITY);
    for (i = 0; i < PIER_NELEMS(order); i++) {
        if (!(avail & EDGE_ENC_BIT(order[i]))) {
            continue;
        }
        w = edge_accept_weight(acc, order[i]);
        if (w > best_w) { /* strictly: earlier codings win ties */
            best_w = w;
            best = order[i];
        }
    }
    return best;
}

const char *
edge_enc_name(enum edge_enc enc)
{
    static const char *const names[EDGE_ENC_MAX] = {NULL, "br", "zstd", "gzip"};

    PIER_ASSERT(enc < EDGE_ENC_MAX);
    return names[enc];
}

const char *
edge_enc_suffix(enum edge_enc enc)
{
    static const char *const suffixes[EDGE_ENC_MAX] = {"", ".br", ".zst",
                                                       ".gz"};

    PIER_ASSERT(enc < EDGE_ENC_MAX);
    return suffixes[enc];
}
