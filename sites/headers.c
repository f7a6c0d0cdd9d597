/*
 * sites/headers.c - _headers parsing and matching; the header check.
 */
#include "config.h"

#include "sites/headers.h"

#include <strings.h>

/* Headers that describe the connection or the message framing: the edge
 * sets them from what it sends, and a site that could set them could
 * split or smuggle responses. */
static const char *const forbidden[] = {
    "connection", "content-encoding",  "content-length", "content-range",
    "host",       "keep-alive",        "proxy-connection", "te",
    "trailer",    "transfer-encoding", "upgrade",
};

static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int
sites_header_check(struct pier_str name, struct pier_str value,
                   struct pier_err *err)
{
    size_t i;

    if (name.len == 0) {
        return pier_err_set(err, "empty header name");
    }
    if (name.len > SITES_HEADER_NAME_MAX) {
        return pier_err_set(err, "header name longer than %d bytes",
                            SITES_HEADER_NAME_MAX);
    }
    for (i = 0; i < name.len; i++) {
        if (!is_tchar((unsigned char) name.ptr[i])) {
            return pier_err_set(err, "bad byte 0x%02x in header name",
                                (unsigned) (unsigned char) name.ptr[i]);
        }
    }
    if (value.len > SITES_HEADER_VALUE_MAX) {
        return pier_err_set(err, "value of '%.*s' longer than %d bytes",
                            (int) name.len, name.ptr, SITES_HEADER_VALUE_MAX);
    }
    for (i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char) value.ptr[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return pier_err_set(err, "bad byte 0x%02x in value of '%.*s'",
                                (unsigned) c, (int) name.len, name.ptr);
        }
    }
    for (i = 0; i < PIER_NELEMS(forbidden); i++) {
        if (pier_str_caseeq(name, pier_str_cstr(forbidden[i]))) {
            return pier_err_set(err, "header '%.*s' may not be set by a site",
                                (int) name.len, name.ptr);
        }
    }
    return PIER_OK;
}
