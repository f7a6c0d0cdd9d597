/*
 * sites/headers.h - a site's _headers rules (Netlify syntax): parse them,
 * find the headers of a path; and the check every extra response header
 * of a site goes through.
 *
 * Owns the parsed rules of one deploy of one site. Parsing allocates
 * everything, matching nothing but what it appends to the caller's
 * buffer. Parsed rules are immutable: any thread may match.
 *
 *   # comment
 *   /secure/page.html                a path pattern, not indented
 *     X-Frame-Options: DENY          its headers, indented
 *     Cache-Control: max-age=60
 *   /assets/\*                       `*` as the last segment, `:name`
 *     Access-Control-Allow-Origin: * placeholders (as in _redirects)
 *
 * (Read \* as a plain star: a C comment cannot hold slash-star.)
 *
 * Every block whose pattern matches a path contributes its headers, as
 * Netlify does: values of one header repeated in one block are joined
 * with ", " into one line (Set-Cookie values stay separate lines), and
 * of several matching blocks that set one header (names compared without
 * case) the last one in the file wins, so "/assets/\*" after "/\*" can
 * override a Cache-Control. Lines come in the order the names first
 * appear.
 *
 * Refused with `NAME:LINE: reason`: a header before any path, a header
 * line without ':', names that are not tokens, values with CR, LF, NUL
 * or another control byte but HTAB (header injection), headers the
 * server alone decides (sites_header_check), Netlify's Basic-Auth (a
 * password-protection feature pier does not have: sent as a header it
 * would publish the passwords), patterns with a host or a query.
 */
#ifndef SITES_HEADERS_H
#define SITES_HEADERS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#define SITES_HEADER_NAME_MAX    256
#define SITES_HEADER_VALUE_MAX   4096
#define SITES_HEADERS_LINE_MAX   8192 /* bytes of one line */
#define SITES_HEADERS_BLOCKS_MAX 4096 /* path patterns in one file */
#define SITES_HEADERS_NAMES_MAX  256  /* distinct header names in one file */

struct sites_headers; /* opaque */

/* Parse n bytes of text; messages call it name ("_headers:12: ...").
 * NULL with err set on failure. Borrows text. The caller owns the result
 * and frees it with sites_headers_free(), which accepts NULL. An empty
 * text gives an empty rule set. */
struct sites_headers *sites_headers_parse(const char *name, const char *text,
                                          size_t n, struct pier_err *err);
void sites_headers_free(struct sites_headers *h);

/* The number of path blocks. */
size_t sites_headers_count(const struct sites_headers *h);

/* Append the headers of a normalised path to out as "Name: value\r\n"
 * lines and return how many lines; PIER_ERR when out would pass its max
 * (out is then as it was). */
int sites_headers_match(const struct sites_headers *h, struct pier_str path,
                        struct pier_buf *out, struct pier_err *err);

/* true when a block matching path sets header name (case-insensitive):
 * the edge leaves out its own default then (Cache-Control, say). */
bool sites_headers_sets(const struct sites_headers *h, struct pier_str path,
                        struct pier_str name);

/* PIER_OK when a site may send "name: value": name is a token (RFC 9110
 * tchar), value holds no CR, LF, NUL or other control byte but HTAB (no
 * header injection), and name is not one the server alone decides
 * (hop-by-hop and framing: Connection, Keep-Alive, Transfer-Encoding,
 * Content-Length, Content-Encoding, Content-Range, TE, Trailer, Upgrade,
 * Proxy-Connection, Host). err says which rule failed, without a prefix. */
int sites_header_check(struct pier_str name, struct pier_str value,
                       struct pier_err *err);

#endif
