/*
 * sites/headers.h - a site's _headers rules (Netlify syntax), and the
 * check every extra response header of a site goes through.
 */
#ifndef SITES_HEADERS_H
#define SITES_HEADERS_H

#include "lib/core.h"
#include "lib/err.h"

#define SITES_HEADER_NAME_MAX  256
#define SITES_HEADER_VALUE_MAX 4096

/* PIER_OK when a site may send "name: value": name is a token (RFC 9110
 * tchar), value holds no CR, LF, NUL or other control byte but HTAB (no
 * header injection), and name is not one the server alone decides
 * (hop-by-hop and framing: Connection, Keep-Alive, Transfer-Encoding,
 * Content-Length, Content-Encoding, Content-Range, TE, Trailer, Upgrade,
 * Proxy-Connection, Host). err says which rule failed, without a prefix. */
int sites_header_check(struct pier_str name, struct pier_str value,
                       struct pier_err *err);

#endif
