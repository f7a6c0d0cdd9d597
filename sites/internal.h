/*
 * sites/internal.h - what sites/ modules share and nobody else uses: path
 * patterns of _redirects and _headers, and percent-encoding.
 *
 * A pattern is a path made of literal segments (stored percent-decoded),
 * `:name` placeholders (one segment each) and an optional `*` as the last
 * segment (the rest of the path, possibly empty). A trailing slash on the
 * pattern or on the path is ignored. Matching allocates nothing.
 */
#ifndef SITES_INTERNAL_H
#define SITES_INTERNAL_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#define SITES_PATTERN_VARS_MAX 16

enum sites_seg_kind {
    SITES_SEG_LIT = 0,
    SITES_SEG_VAR,
    SITES_SEG_SPLAT,
};

struct sites_seg {
    enum sites_seg_kind kind;
    char *text; /* LIT: decoded bytes; VAR: the name without ':' */
    size_t len;
};

struct sites_pattern {
    struct sites_seg *segs;
    size_t nsegs;
    unsigned nvars;
    bool splat;
};

/* Parse src into p (zeroed by the caller). On failure returns PIER_ERR
 * with a reason in why (no prefix), and p needs no release. */
int sites_pattern_parse(struct sites_pattern *p, struct pier_str src, char *why,
                        size_t whylen);
void sites_pattern_release(struct sites_pattern *p);

/* Match a normalised path. vars (SITES_PATTERN_VARS_MAX long) receives
 * the placeholders in order, splat the rest for a `*` pattern; views into
 * path. Either may be NULL. */
bool sites_pattern_match(const struct sites_pattern *p, struct pier_str path,
                         struct pier_str *vars, struct pier_str *splat);

/* Index of placeholder name, or -1. */
int sites_pattern_var(const struct sites_pattern *p, struct pier_str name);

/* true for [A-Za-z_], and [A-Za-z0-9_] after the first byte. */
bool sites_name_start(unsigned char c);
bool sites_name_byte(unsigned char c);

/* Percent-decode n bytes into a new string (*outlen bytes, NUL added);
 * the caller frees it with pier_free. NULL with a reason in why for a bad
 * escape, an encoded '/', '\\' or NUL, or a control byte. */
char *sites_pct_decode(const char *p, size_t n, size_t *outlen, char *why,
                       size_t whylen);

/* Append s to b percent-encoding every byte outside RFC 3986's
 * unreserved, sub-delims, ':', '@' and '/'. */
PIER_NODISCARD int sites_pct_encode(struct pier_buf *b, struct pier_str s);

/* sites_redirects_match without the first-segment index: every rule in
 * order. For tests and fuzzing, which check that both always agree. */
struct sites_redirects;
int sites_redirects_match_linear(const struct sites_redirects *rules,
                                 struct pier_str path, unsigned flags,
                                 struct pier_buf *to, struct pier_err *err);

#endif
