/*
 * edge/hosts.h - which site a Host header (or a TLS server name) names.
 *
 * Built once per registry version from every site's domains (exact names
 * and "*." wildcards) and NAME.localhost, then sealed and only read: any
 * thread may look up without a lock. A wildcard matches exactly one more
 * label ("*.example.com" matches "www.example.com", not "example.com" or
 * "a.b.example.com"), as in TLS certificates. An exact name wins over a
 * wildcard. Lookup ignores case, a port and a trailing dot, and allocates
 * nothing.
 */
#ifndef EDGE_HOSTS_H
#define EDGE_HOSTS_H

#include "lib/core.h"
#include "lib/err.h"

struct edge_hosts; /* opaque */

/* The caller owns the result and frees it with edge_hosts_free(), which
 * accepts NULL. */
struct edge_hosts *edge_hosts_new(void);
void edge_hosts_free(struct edge_hosts *h);

/* Map domain ("example.com", "*.example.com") to site (borrowed: the
 * caller keeps it alive as long as h). PIER_ERR when the domain is not a
 * valid name or is mapped already (the message names both). Before
 * seal. */
int edge_hosts_add(struct edge_hosts *h, struct pier_str domain, void *site,
                   struct pier_err *err);
void edge_hosts_seal(struct edge_hosts *h);
size_t edge_hosts_count(const struct edge_hosts *h);

/* The site of a Host value ("Example.COM:8080", "example.com."); NULL
 * when none. After seal. */
void *edge_hosts_find(const struct edge_hosts *h, struct pier_str host);

#endif
