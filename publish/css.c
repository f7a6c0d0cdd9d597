/*
 * publish/css.c - the CSS reference scanner.
 *
 * Follows the tokenizer of CSS Syntax Level 3 (section 4.3) only as far as
 * references need it. What a browser would fetch is what we report:
 *   url(x) and url( "x" )        a url token or the url function
 *   @import "x" / @import url(x) the first string or url after @import,
 *                                at parenthesis depth 0
 *   image-set("a.png" 1x, ...)   strings directly inside image-set()
 * Everything else (selectors, values, other functions) is skipped, with
 * comments and strings honoured so that a url( inside either is not a
 * reference.
 */
#include "config.h"

#include "publish/css.h"

enum {
    s_data = 0,
    s_slash,        /* '/' seen: a comment may start */
    s_comment,      /* inside a comment */
    s_comment_star, /* '*' seen inside a comment */
    s_word,         /* inside an identifier, at-keyword or hash */
    s_word_esc,     /* '\' seen inside an identifier */
    s_string,       /* inside a quoted string */
    s_string_esc,   /* '\' seen inside a string */
    s_url_ws,       /* after url(: whitespace before the value */
    s_url,          /* inside an unquoted url token */
    s_url_esc,      /* '\' seen inside an unquoted url */
    s_url_trail,    /* whitespace after an unquoted url, before ')' */
    s_bad_url,      /* a broken url token: skip to ')' */
    s_bad_url_esc,  /* '\' seen inside a broken url */
};

void
publish_css_scanner_init(struct publish_css_scanner *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->state = s_data;
    sc->line = 1;
}

static bool
is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

static bool
is_name(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch >= 0x80;
}

static bool
is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Non-printable code points end an unquoted url as a bad url (4.3.6). */
static bool
is_nonprint(unsigned char ch)
{
    return ch <= 0x08 || ch == 0x0b || (ch >= 0x0e && ch <= 0x1f) || ch == 0x7f;
}

static void
word_start(struct publish_css_scanner *sc, bool fn, bool at)
{
    sc->wordlen = 0;
    sc->word_fn = fn;
    sc->word_at = at;
}

static void
word_add(struct publish_css_scanner *sc, unsigned char ch)
{
    if (sc->wordlen < sizeof(sc->word)) {
        sc->word[sc->wordlen] = (char) (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    /* Past the buffer the word can match nothing; keep counting so that a
     * long word with a matching prefix does not match. */
    if (sc->wordlen < SIZE_MAX) {
        sc->wordlen++;
    }
}

static bool
word_is(const struct publish_css_scanner *sc, const char *s)
{
    size_t n = strlen(s);

    return sc->wordlen == n && n <= sizeof(sc->word)
           && memcmp(sc->word, s, n) == 0;
}

static void
string_start(struct publish_css_scanner *sc, unsigned char quote,
             enum publish_css_kind kind)
{
    sc->quote = (char) quote;
    sc->tok_start = sc->pos + 1;
    sc->tok_line = sc->line;
    sc->tok_esc = false;
    sc->str_kind = kind;
}

int
publish_css_scan(struct publish_css_scanner *sc, const char *p, const char *end,
                 struct publish_css_ref *ref, size_t *used)
{
    const char *start = p;
    int state = sc->state;
    enum publish_css_kind emit;

    for (; p < end; p++, sc->pos++) {
        unsigned char ch = (unsigned char) *p;

        emit = 0;
    again:
        switch (state) {
        case s_data:
            if (ch == '/') {
                state = s_slash;
            } else if (ch == '"' || ch == '\'') {
                enum publish_css_kind k = 0;

                if (sc->import && sc->depth == 0) {
                    k = PUBLISH_CSS_IMPORT;
                } else if (sc->imgset != 0 && sc->depth == sc->imgset) {
                    k = PUBLISH_CSS_IMAGE_SET;
                }
                string_start(sc, ch, k);
                state = s_string;
            } else if (ch == '(') {
                sc->depth++;
            } else if (ch == ')') {
                if (sc->depth > 0) {
                    sc->depth--;
                }
                if (sc->depth < sc->imgset) {
                    sc->imgset = 0;
                }
            } else if (ch == ';' || ch == '{' || ch == '}') {
                /* A statement or block boundary: nothing open survives it,
                 * which also bounds the damage of unbalanced parentheses. */
                sc->import = false;
                sc->depth = 0;
                sc->imgset = 0;
            } else if (ch == '@' || ch == '#') {
                word_start(sc, false, ch == '@');
                state = s_word;
            } else if (ch == '\\') {
                /* An escape starts an identifier. Escaped names (u\72l)
                 * are not matched against url: XXX a browser would. */
                word_start(sc, true, false);
                sc->wordlen = SIZE_MAX;
                state = s_word_esc;
            } else if (is_name(ch)) {
                word_start(sc, !is_digit(ch), false);
                word_add(sc, ch);
                state = s_word;
            }
            break;

        case s_slash:
            if (ch == '*') {
                state = s_comment;
                break;
            }
            state = s_data;
            goto again;

        case s_comment:
            if (ch == '*') {
                state = s_comment_star;
            }
            break;

        case s_comment_star:
            if (ch == '/') {
                state = s_data;
            } else if (ch != '*') {
                state = s_comment;
            }
            break;

        case s_word:
            if (is_name(ch)) {
                word_add(sc, ch);
                break;
            }
            if (ch == '\\') {
                sc->wordlen = SIZE_MAX;
                state = s_word_esc;
                break;
            }
            if (sc->word_at && word_is(sc, "import")) {
                sc->import = true;
            }
            if (ch == '(' && sc->word_fn && word_is(sc, "url")) {
                state = s_url_ws;
                break;
            }
            if (ch == '(' && sc->word_fn
                && (word_is(sc, "image-set")
                    || word_is(sc, "-webkit-image-set"))) {
                sc->depth++;
                if (sc->imgset == 0) {
                    sc->imgset = sc->depth;
                }
                state = s_data;
                break;
            }
            /* Any other byte ends the word and is data. */
            state = s_data;
            goto again;

        case s_word_esc:
            /* A newline after '\' is no escape (4.3.8); the '\' was a delim
             * and the newline is data. */
            state = s_word;
            if (ch == '\n' || ch == '\r' || ch == '\f') {
                state = s_data;
            }
            break;

        case s_string:
            if (ch == (unsigned char) sc->quote) {
                sc->tok_end = sc->pos;
                state = s_data;
                emit = sc->str_kind;
            } else if (ch == '\\') {
                state = s_string_esc;
            } else if (ch == '\n' || ch == '\r' || ch == '\f') {
                /* An unterminated string ends at the line: a bad string,
                 * which a browser ignores (4.3.5). */
                state = s_data;
            }
            break;

        case s_string_esc:
            sc->tok_esc = true;
            state = s_string;
            break;

        case s_url_ws:
            if (is_ws(ch)) {
                break;
            }
            if (ch == '"' || ch == '\'') {
                /* url( "x" ) is the url function with a string argument;
                 * its ')' closes it like any function's. */
                sc->depth++;
                string_start(sc, ch,
                             sc->import && sc->depth == 1 ? PUBLISH_CSS_IMPORT
                                                          : PUBLISH_CSS_URL);
                state = s_string;
                break;
            }
            if (ch == ')') {
                state = s_data; /* url() is empty: nothing to load */
                break;
            }
            sc->tok_start = sc->pos;
            sc->tok_line = sc->line;
            sc->tok_esc = false;
            state = s_url;
            goto again;

        case s_url:
            if (ch == ')') {
                sc->tok_end = sc->pos;
                state = s_data;
                emit = sc->import && sc->depth == 0 ? PUBLISH_CSS_IMPORT
                                                    : PUBLISH_CSS_URL;
            } else if (is_ws(ch)) {
                sc->tok_end = sc->pos;
                state = s_url_trail;
            } else if (ch == '\\') {
                state = s_url_esc;
            } else if (ch == '"' || ch == '\'' || ch == '('
                       || is_nonprint(ch)) {
                state = s_bad_url;
            }
            break;

        case s_url_esc:
            if (ch == '\n' || ch == '\r' || ch == '\f') {
                state = s_bad_url;
                break;
            }
            sc->tok_esc = true;
            state = s_url;
            break;

        case s_url_trail:
            if (is_ws(ch)) {
                break;
            }
            if (ch == ')') {
                state = s_data;
                emit = sc->import && sc->depth == 0 ? PUBLISH_CSS_IMPORT
                                                    : PUBLISH_CSS_URL;
                break;
            }
            state = s_bad_url;
            goto again;

        case s_bad_url:
            if (ch == ')') {
                state = s_data;
            } else if (ch == '\\') {
                state = s_bad_url_esc;
            }
            break;

        case s_bad_url_esc:
            state = s_bad_url;
            break;

        default:
            PIER_ASSERT(!"css scanner state");
        }

        if (ch == '\n') {
            sc->line++;
        }
        if (emit != 0) {
            sc->import = false;
            ref->kind = emit;
            ref->start = sc->tok_start;
            ref->end = sc->tok_end;
            ref->line = sc->tok_line;
            ref->escaped = sc->tok_esc;
            sc->state = state;
            sc->pos++;
            *used = (size_t) (p + 1 - start);
            return PIER_OK;
        }
    }
    sc->state = state;
    *used = (size_t) (p - start);
    return PIER_AGAIN;
}

static int
add_utf8(struct pier_buf *out, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        cp = 0xfffd; /* 4.3.7: these become the replacement character */
    }
    if (cp < 0x80) {
        u[0] = (char) cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char) (0xc0 | (cp >> 6));
        u[1] = (char) (0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char) (0xe0 | (cp >> 12));
        u[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char) (0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char) (0xf0 | (cp >> 18));
        u[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char) (0x80 | (cp & 0x3f));
        n = 4;
    }
    return pier_buf_add(out, u, n);
}

int
publish_css_unescape(const char *raw, size_t n, struct pier_buf *out)
{
    size_t i = 0;
    int rc = PIER_OK;

    while (i < n && rc == PIER_OK) {
        unsigned char ch = (unsigned char) raw[i];
        uint32_t cp = 0;
        int d, k;

        if (ch != '\\') {
            rc = pier_buf_addch(out, (char) ch);
            i++;
            continue;
        }
        i++;
        if (i == n) {
            break; /* a '\' at the end stands for nothing */
        }
        ch = (unsigned char) raw[i];
        if (ch == '\n' || ch == '\f') {
            i++; /* a line continuation inside a string */
            continue;
        }
        if (ch == '\r') {
            i += (i + 1 < n && raw[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (pier_hexval((unsigned char) ch) < 0) {
            rc = pier_buf_addch(out, (char) ch);
            i++;
            continue;
        }
        for (k = 0; k < 6 && i < n; k++, i++) {
            d = pier_hexval((unsigned char) (unsigned char) raw[i]);
            if (d < 0) {
                break;
            }
            cp = cp * 16 + (uint32_t) d;
        }
        /* One whitespace after a hex escape belongs to it; CRLF is one. */
        if (i + 1 < n && raw[i] == '\r' && raw[i + 1] == '\n') {
            i += 2;
        } else if (i < n && is_ws((unsigned char) raw[i])) {
            i++;
        }
        rc = add_utf8(out, cp);
    }
    return rc;
}

void
publish_css_collect(const char *css, size_t n, size_t base, unsigned first_line,
                    unsigned group, struct publish_refs *refs)
{
    struct publish_css_scanner sc;
    struct publish_css_ref cr;
    struct pier_buf val;
    size_t off = 0, used;

    publish_css_scanner_init(&sc);
    pier_buf_init(&val, SIZE_MAX);
    while (off < n
           && publish_css_scan(&sc, css + off, css + n, &cr, &used)
                  == PIER_OK) {
        struct publish_ref *r;
        const char *url = css + cr.start;
        size_t len = cr.end - cr.start;

        off += used;
        if (cr.escaped) {
            pier_buf_reset(&val);
            /* Unlimited buffer: the add cannot fail. */
            PIER_ASSERT(publish_css_unescape(url, len, &val) == PIER_OK);
            url = val.data;
            len = val.len;
        }
        if (memchr(url, '\0', len) != NULL) {
            /* A browser reads NUL as U+FFFD: no file of ours has that
             * name, and a C string could not hold it. */
            continue;
        }
        r = publish_refs_add(refs, url, len, base + cr.start, base + cr.end,
                             first_line + cr.line - 1);
        r->group = group;
        r->esc = PUBLISH_ESC_CSS;
        r->raw_is_url = !cr.escaped;
        r->what = cr.kind == PUBLISH_CSS_IMPORT      ? "css @import"
                  : cr.kind == PUBLISH_CSS_IMAGE_SET ? "css image-set()"
                                                     : "css url()";
    }
    pier_buf_release(&val);
}
