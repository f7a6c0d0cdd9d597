/*
 * sites/redirects.h - a site's _redirects rules: parse them, match a path.
 *
 * Owns the parsed rules of one deploy of one site; knows nothing of
 * connections or manifests. Parsing allocates everything, matching
 * nothing but the target it appends to the caller's buffer. Parsed rules
 * are immutable: any thread may match.
 *
 * The syntax is Netlify's, one rule a line:
 *
 *   # comment                        (a field starting with '#' ends the line)
 *   FROM  TO  [STATUS][!]
 *   /old            /new
 *   /blog/:year/:slug  /posts/:year/:slug.html  301
 *   /docs/\*        /manual/:splat   302
 *   /app/\*         /app/index.html  200!
 *   /shop/\*        /shop/404.html   404
 *
 * (Read \* as a plain star: a C comment cannot hold slash-star.)
 *
 * Fields are separated by spaces or tabs; lines end in LF or CRLF.
 * STATUS is 301 (the default), 302, 307, 308 (redirects: TO goes to
 * Location), 200 (a rewrite: TO is served instead, the URL stays) or 404
 * (TO is served with status 404); '!' forces the rule (below).
 *
 * FROM is a path: segments are literals (percent-escapes decoded, as the
 * edge decodes request paths; matching is case-sensitive), `:name`
 * placeholders matching one segment, and `*` as the last segment matching
 * the rest (possibly empty). A trailing slash on FROM or on the path is
 * ignored. TO is a path, or for redirects an http(s) URL; `:name` and
 * `:splat` in it are replaced by what matched. For redirects what matched
 * is percent-encoded as it goes in (the target is a Location value, never
 * holding CR, LF or a space); for 200 and 404 it is copied as is, since
 * the target is a decoded path the caller looks up.
 *
 * Refused with `NAME:LINE: reason`: query-string conditions (`/store
 * id=:id /blog/:id`), Country/Language/Role/Cookie conditions, a FROM
 * with a host (domain-level redirects), 200 or 404 to another host
 * (proxying), other statuses, malformed placeholders, NUL and control
 * bytes. Nothing is read past the n bytes given.
 *
 * The request's query string takes no part in matching; a caller that
 * keeps it (Netlify does, on redirects) appends it to a target that has
 * none of its own.
 *
 * Shadowing: as on Netlify, a rule without '!' does not apply to a path
 * where the site has a file. The caller says so with
 * SITES_REDIRECTS_EXISTS; the first matching rule that applies wins.
 */
#ifndef SITES_REDIRECTS_H
#define SITES_REDIRECTS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#define SITES_REDIRECTS_LINE_MAX  4096 /* bytes of one line */
#define SITES_REDIRECTS_VARS_MAX  16   /* placeholders in one FROM */
#define SITES_REDIRECTS_RULES_MAX 100000

/* The path being matched names a file of the site: skip rules without
 * '!' (shadowing). */
#define SITES_REDIRECTS_EXISTS 0x1u

struct sites_redirects; /* opaque */

/* Parse n bytes of text; messages call it name ("_redirects:12: ...").
 * NULL with err set on failure. Borrows text. The caller owns the result
 * and frees it with sites_redirects_free(), which accepts NULL. An empty
 * text gives an empty rule set. */
struct sites_redirects *sites_redirects_parse(const char *name,
                                              const char *text, size_t n,
                                              struct pier_err *err);
void sites_redirects_free(struct sites_redirects *rules);

/* The number of rules. */
size_t sites_redirects_count(const struct sites_redirects *rules);

/* Match a normalised path (starts with '/', percent-decoded, no query).
 * On a match appends the target to to and returns the rule's status
 * (200, 301, 302, 307, 308 or 404); 0 when no rule matches; PIER_ERR
 * when to would pass its max (to is then as it was). flags:
 * SITES_REDIRECTS_EXISTS or 0. */
int sites_redirects_match(const struct sites_redirects *rules,
                          struct pier_str path, unsigned flags,
                          struct pier_buf *to, struct pier_err *err);

#endif
