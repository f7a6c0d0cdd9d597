/*
 * edge/range.c - a single byte range (RFC 9110 14.1.2, 14.2, 15.3.7,
 * 15.5.17).
 *
 *     Range       = range-unit "=" range-set     ; unit: "bytes", any case
 *     range-set   = 1#range-spec
 *     range-spec  = int-range / suffix-range
 *     int-range   = first-pos "-" [ last-pos ]
 *     suffix-range = "-" suffix-length
 *
 * Numbers saturate at UINT64_MAX rather than fail: "bytes=99999999999999
 * 999999-" is a well-formed range past the end (416), not garbage.
 */
#include "config.h"

#include "edge/range.h"

#include <inttypes.h>
#include <stdio.h>

static uint64_t
add_digit(uint64_t v, unsigned d)
{
    if (v > (UINT64_MAX - d) / 10) {
        return UINT64_MAX;
    }
    return v * 10 + d;
}

int
edge_range_parse(const char *p, size_t n, uint64_t size, struct edge_range *r)
{
    static const char unit[] = "bytes";
    const char *end = p + n;
    uint64_t first = 0, last = 0, suffix = 0;
    size_t ulen = 0;
    bool is_suffix = false, has_last = false;
    enum {
        r_unit = 0,     /* in "bytes" */
        r_list,         /* after '=': OWS and empty elements */
        r_first,        /* in first-pos */
        r_last_start,   /* after "first-" */
        r_last,         /* in last-pos */
        r_suffix_start, /* after a leading '-' */
        r_suffix,       /* in suffix-length */
        r_end           /* after the range: only OWS and ',' may follow */
    } state = r_unit;

    for (; p < end; p++) {
        unsigned char ch = (unsigned char) *p;
        bool digit = ch >= '0' && ch <= '9';

        switch (state) {
        case r_unit:
            if (ulen == 5 && ch == '=') {
                state = r_list;
                break;
            }
            if (ulen == 5 || (ch | 0x20) != (unsigned char) unit[ulen]) {
                return 200; /* another unit, or garbage */
            }
            ulen++;
            break;
        case r_list:
            if (ch == ' ' || ch == '\t' || ch == ',') {
                break;
            }
            if (ch == '-') {
                state = r_suffix_start;
                is_suffix = true;
                break;
            }
            if (!digit) {
                return 200;
            }
            state = r_first;
            /* fall through */
        case r_first:
            if (digit) {
                first = add_digit(first, ch - '0');
                break;
            }
            if (ch != '-') {
                return 200;
            }
            state = r_last_start;
            break;
        case r_last_start:
        case r_last:
            if (digit) {
                last = add_digit(last, ch - '0');
                has_last = true;
                state = r_last;
                break;
            }
            if (ch != ' ' && ch != '\t' && ch != ',') {
                return 200;
            }
            state = r_end;
            break;
        case r_suffix_start:
        case r_suffix:
            if (digit) {
                suffix = add_digit(suffix, ch - '0');
                state = r_suffix;
                break;
            }
            if (state == r_suffix_start
                || (ch != ' ' && ch != '\t' && ch != ',')) {
                return 200;
            }
            state = r_end;
            break;
        case r_end:
            if (ch == ' ' || ch == '\t' || ch == ',') {
                break;
            }
            /* A second range: no multipart/byteranges here, so the whole
             * representation is sent, which RFC 9110 14.2 allows. */
            return 200;
        }
    }

    switch (state) {
    case r_last_start:
    case r_last:
    case r_suffix:
    case r_end:
        break;
    default:
        return 200; /* no complete range */
    }
    if (is_suffix) {
        /* 14.1.1: a suffix range is satisfiable when its length is not
         * zero, and then only if there are bytes to send. */
        if (suffix == 0 || size == 0) {
            return 416;
        }
        r->first = suffix >= size ? 0 : size - suffix;
        r->last = size - 1;
        return 206;
    }
    if (has_last && last < first) {
        return 200; /* 14.1.1: an invalid int-range voids the header */
    }
    if (first >= size) {
        return 416;
    }
    r->first = first;
    r->last = has_last && last < size - 1 ? last : size - 1;
    return 206;
}

size_t
edge_range_content_range(const struct edge_range *r, uint64_t size, char *out,
                         size_t cap)
{
    int len;

    if (r != NULL) {
        len = snprintf(out, cap, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                       r->first, r->last, size);
    } else {
        len = snprintf(out, cap, "bytes */%" PRIu64, size);
    }
    if (len < 0 || (size_t) len >= cap) {
        return 0;
    }
    return (size_t) len;
}
