/*
 * objstore/cond.c - HTTP conditions and ranges of object reads.
 */
#include "config.h"

#include "objstore/cond.h"

#include "lib/sigv2.h"

#include <strings.h>
#include <time.h>

/* Whether the ETag list of an If-Match / If-None-Match holds etag. */
bool
objstore_etag_listed(struct pier_str list, const char *etag)
{
    size_t i = 0, start;

    while (i < list.len) {
        while (i < list.len && (list.ptr[i] == ' ' || list.ptr[i] == ',')) {
            i++;
        }
        start = i;
        while (i < list.len && list.ptr[i] != ',') {
            i++;
        }
        if (i > start) {
            struct pier_str one = pier_str_make(list.ptr + start, i - start);

            while (one.len > 0 && one.ptr[one.len - 1] == ' ') {
                one.len--;
            }
            if (pier_str_eq(one, PIER_STR("*"))
                || objstore_etag_eq(one, pier_str_cstr(etag))) {
                return true;
            }
        }
    }
    return false;
}

/* RFC 7232 section 6 order: 0 to proceed, else 304 or 412. For a copy
 * source (is_read false), a failed If-None-Match is 412 too. */
int
objstore_preconditions(struct pier_str im, struct pier_str inm,
                       struct pier_str ims, struct pier_str ius,
                       const struct objstore_obj *obj, bool is_read)
{
    time_t t, mtime = (time_t) (obj->mtime_ms / 1000);

    if (im.ptr != NULL) {
        if (!objstore_etag_listed(im, obj->etag)) {
            return 412;
        }
    } else if (ius.ptr != NULL && pier_http_date_parse(ius, &t) == PIER_OK
               && mtime > t) {
        return 412;
    }
    if (inm.ptr != NULL) {
        if (objstore_etag_listed(inm, obj->etag)) {
            return is_read ? 304 : 412;
        }
    } else if (ims.ptr != NULL && pier_http_date_parse(ims, &t) == PIER_OK
               && mtime <= t) {
        return is_read ? 304 : 412;
    }
    return 0;
}

int
objstore_time_parse(struct pier_str s, int64_t *ms, bool *whole_s)
{
    time_t t;

    if (pier_iso8601_parse(s, ms) == PIER_OK) {
        *whole_s = false;
        return PIER_OK;
    }
    if (pier_http_date_parse(s, &t) == PIER_OK) {
        *ms = (int64_t) t * 1000;
        *whole_s = true;
        return PIER_OK;
    }
    return PIER_ERR;
}

/* Parse one byte range of Range against size: 0 serve all (no or an
 * unusable header), 1 serve [*first, *last], -1 unsatisfiable. */
int
objstore_range_parse(struct pier_str r, uint64_t size, uint64_t *first,
                     uint64_t *last)
{
    uint64_t a = 0, b = 0;
    bool has_a = false, has_b = false;
    size_t i;

    if (r.len < 7 || strncasecmp(r.ptr, "bytes=", 6) != 0) {
        return 0;
    }
    i = 6;
    while (i < r.len && r.ptr[i] >= '0' && r.ptr[i] <= '9') {
        if (a > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        a = a * 10 + (uint64_t) (r.ptr[i++] - '0');
        has_a = true;
    }
    if (i >= r.len || r.ptr[i] != '-') {
        return 0;
    }
    i++;
    while (i < r.len && r.ptr[i] >= '0' && r.ptr[i] <= '9') {
        if (b > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        b = b * 10 + (uint64_t) (r.ptr[i++] - '0');
        has_b = true;
    }
    if (i != r.len) {
        return 0; /* several ranges or junk: the whole object */
    }
    if (!has_a && !has_b) {
        return 0;
    }
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0) {
            return -1;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (has_b && b < a) {
        return 0;
    }
    if (a >= size) {
        return -1;
    }
    *first = a;
    *last = has_b && b < size ? b : size - 1;
    return 1;
}
