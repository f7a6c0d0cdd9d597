/*
 * sites/record.h - a site's record (sites/<site>.ini in the bucket), the
 * rules for site names, domain names and branches, and the domain -> site
 * table the edge routes requests with.
 *
 * The record is an INI file, read with inih's ini_parse_string and
 * written by sites_record_format:
 *
 *   [site]
 *   name = blog
 *   domain = blog.example.com          one line per domain, in order
 *   domain = *.preview.example.com     a leading "*." is a wildcard
 *   branch = main                      the production branch
 *   redirect_https = true              HTTP -> HTTPS redirect at the edge
 *   hsts = 31536000                    HSTS max-age in seconds, 0: none
 *   hsts_subdomains = false            add includeSubDomains
 *
 * Unknown sections and keys, a scalar set twice and bad values are errors
 * naming `FILE:LINE:`. Domains are stored in lower case. inih reads at most
 * 200 bytes a line (Debian's build), so longer lines are refused rather
 * than split: XXX: that caps a domain in a record at 189 bytes, short of
 * DNS's 253.
 *
 * The domain table is built once (new, add, seal) and is then immutable:
 * any thread may look hosts up in it, and the edge swaps a new one in
 * whole when the registry changes. Lookup allocates nothing.
 */
#ifndef SITES_RECORD_H
#define SITES_RECORD_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <stdint.h>

#define SITES_NAME_MAX           63  /* a site name is one DNS label */
#define SITES_DOMAIN_MAX         253 /* DNS; a record's lines cap it lower */
#define SITES_BRANCH_MAX         128
#define SITES_RECORD_DOMAINS_MAX 100

/* A site name: one DNS label in lower case, [a-z0-9-], 1..63 bytes, no
 * leading or trailing '-'. It appears in object keys and in NAME.localhost,
 * so nothing else is allowed. */
bool sites_name_ok(struct pier_str name);

/* A domain name: lower-case labels of [a-z0-9-] (no leading or trailing
 * '-', 1..63 bytes) joined by '.', at most 253 bytes, no trailing dot;
 * with wildcard true a leading "*." is also accepted, followed by at
 * least two labels (so "*.com" is refused). */
bool sites_domain_ok(struct pier_str domain, bool wildcard);

/* A production branch name: 1..128 bytes of printable ASCII without
 * blanks and without the bytes git forbids in ref names or INI would
 * misread (~ ^ : ? * [ \ ; #), no "..", "@{" or "//", not starting with
 * '-', '/' or '.', not ending with '/', '.' or ".lock". */
bool sites_branch_ok(struct pier_str branch);

struct sites_record {
    char name[SITES_NAME_MAX + 1]; /* "" until set */
    char **domains;                /* lower case, no duplicates */
    size_t ndomains;
    char branch[SITES_BRANCH_MAX + 1]; /* "main" unless set */
    bool redirect_https;
    uint32_t hsts_max_age; /* seconds; 0: no Strict-Transport-Security */
    bool hsts_subdomains;
};

/* An empty record (no name, no domain, branch "main"); allocates
 * nothing. Release with sites_record_release(), which frees the domains
 * and leaves r as after init. */
void sites_record_init(struct sites_record *r);
void sites_record_release(struct sites_record *r);

/* Setters check their input; the record copies it. */
int sites_record_set_name(struct sites_record *r, const char *name,
                          struct pier_err *err);
int sites_record_set_branch(struct sites_record *r, const char *branch,
                            struct pier_err *err);
/* Lower-cases domain, checks it (wildcards allowed) and refuses one the
 * record has already. */
int sites_record_add_domain(struct sites_record *r, const char *domain,
                            struct pier_err *err);
/* PIER_ERR when the record has no such domain. */
int sites_record_remove_domain(struct sites_record *r, const char *domain,
                               struct pier_err *err);

/* Parse n bytes of INI (file names it in messages) into r, which the
 * caller has initialised; on failure r is released. Borrows text. */
int sites_record_parse(struct sites_record *r, const char *file,
                       const char *text, size_t n, struct pier_err *err);
/* Append the INI form of r to out. PIER_ERR when r has no name or out
 * would pass its max. */
int sites_record_format(const struct sites_record *r, struct pier_buf *out,
                        struct pier_err *err);

/* The domain -> site table. */
struct sites_domains; /* opaque */

/* The caller owns the result and frees it with sites_domains_free(),
 * which accepts NULL. */
struct sites_domains *sites_domains_new(void);
void sites_domains_free(struct sites_domains *t);
/* Map domain (exact, or "*.suffix") to site; both copied. Before seal. */
int sites_domains_add(struct sites_domains *t, const char *domain,
                      const char *site, struct pier_err *err);
/* Every domain of r; with localhost also "<name>.localhost", which
 * browsers resolve to loopback. */
int sites_domains_add_record(struct sites_domains *t,
                             const struct sites_record *r, bool localhost,
                             struct pier_err *err);
/* Sort; PIER_ERR when one domain was given to two sites (naming both).
 * The same pair added twice is fine. After PIER_OK the table is
 * read-only. */
int sites_domains_seal(struct sites_domains *t, struct pier_err *err);
size_t sites_domains_count(const struct sites_domains *t);

/* The site serving host (a Host header or SNI name: any case, an optional
 * ":port" and trailing dot are ignored): the exact domain first, then the
 * longest matching wildcard ("*.b.example.com" before "*.example.com"; a
 * wildcard matches one or more labels, never the bare suffix). NULL when
 * none. Valid until t is freed. Allocates nothing; any thread. */
const char *sites_domains_lookup(const struct sites_domains *t,
                                 struct pier_str host);

#endif
