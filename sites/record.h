/*
 * sites/record.h - a site's record (sites/<site>.ini in the bucket) and
 * the rules for site names and domain names.
 */
#ifndef SITES_RECORD_H
#define SITES_RECORD_H

#include "lib/core.h"
#include "lib/err.h"

#define SITES_NAME_MAX   63  /* a site name is one DNS label */
#define SITES_DOMAIN_MAX 253

/* A site name: one DNS label in lower case, [a-z0-9-], 1..63 bytes, no
 * leading or trailing '-'. It appears in object keys and in NAME.localhost,
 * so nothing else is allowed. */
bool sites_name_ok(struct pier_str name);

/* A domain name: lower-case labels of [a-z0-9-] (no leading or trailing
 * '-', 1..63 bytes) joined by '.', at most 253 bytes, no trailing dot;
 * with wildcard true a leading "*." is also accepted. */
bool sites_domain_ok(struct pier_str domain, bool wildcard);

#endif
