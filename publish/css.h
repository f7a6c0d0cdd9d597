/*
 * publish/css.h - find the URL references of a CSS text: url(...) quoted
 * and unquoted, @import "x" and @import url(x), and the strings of
 * image-set() / -webkit-image-set().
 *
 * The scanner is a byte-at-a-time state machine after CSS Syntax Level 3's
 * tokenizer, cut down to what references need: comments, strings with
 * escapes and line continuations, identifiers (so that `foourl(` is not
 * `url(`), url tokens, and parenthesis depth. It never allocates, never
 * reads outside [p, end), and can stop and resume at any byte: offsets are
 * counted from the first byte ever fed. Malformed CSS never fails: an
 * unterminated string, a bad url token or a url() cut off at the end of the
 * input simply yields no reference, as a browser would load nothing.
 */
#ifndef PUBLISH_CSS_H
#define PUBLISH_CSS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "publish/ref.h"

enum publish_css_kind {
    PUBLISH_CSS_URL = 1,   /* url(x) or url("x") */
    PUBLISH_CSS_IMPORT,    /* @import "x" or @import url(x) */
    PUBLISH_CSS_IMAGE_SET, /* a string in image-set() */
};

struct publish_css_ref {
    enum publish_css_kind kind;
    size_t start, end; /* the URL's raw bytes: inside the quotes, or the
                        * unquoted token without surrounding spaces */
    unsigned line;     /* 1-based line of start */
    bool escaped;      /* the raw bytes hold backslash escapes: decode with
                        * publish_css_unescape() */
};

/* The scanner's state; zero it with publish_css_scanner_init(). Embedded
 * and owned by the caller. */
struct publish_css_scanner {
    int state;
    int after; /* state to go back to after a comment */
    size_t pos;
    unsigned line;
    size_t tok_start, tok_end;
    unsigned tok_line;
    bool tok_esc;
    char quote;
    enum publish_css_kind str_kind; /* what the current string is, 0: none */
    char word[20];                  /* the identifier, lower-cased */
    size_t wordlen;
    bool word_fn;    /* the identifier may name a function */
    bool word_at;    /* it is an at-keyword */
    bool import;     /* after @import, before its first URL */
    unsigned depth;  /* parentheses open */
    unsigned imgset; /* depth inside image-set(), 0 outside */
};

void publish_css_scanner_init(struct publish_css_scanner *sc);

/* Scan [p, end). PIER_OK: one reference was found, *ref is filled and
 * *used bytes were consumed (call again with the rest). PIER_AGAIN: all of
 * the input was consumed and no reference completed; feed more, or stop.
 * Never fails. */
int publish_css_scan(struct publish_css_scanner *sc, const char *p,
                     const char *end, struct publish_css_ref *ref,
                     size_t *used);

/* Append the decoded value of a raw CSS string or url token (escapes,
 * line continuations) to out as UTF-8. PIER_ERR when out is full. */
PIER_NODISCARD int publish_css_unescape(const char *raw, size_t n,
                                        struct pier_buf *out);

/* Scan the whole of css (n bytes) and append its references to refs:
 * offsets and lines are shifted by base and first_line (where the CSS sits
 * in a larger document), esc is PUBLISH_ESC_CSS. group is the group the
 * references belong to (PUBLISH_REF_NOGROUP for a document of its own). */
void publish_css_collect(const char *css, size_t n, size_t base,
                         unsigned first_line, unsigned group,
                         struct publish_refs *refs);

#endif
