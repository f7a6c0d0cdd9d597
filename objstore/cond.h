/*
 * objstore/cond.h - the HTTP conditions (RFC 9110 section 13) and the
 * single byte range (section 14) of GetObject, HeadObject and CopyObject's
 * x-amz-copy-source-if-* headers.
 *
 * Pure functions of their arguments: any thread, no allocation.
 */
#ifndef OBJSTORE_COND_H
#define OBJSTORE_COND_H

#include "lib/core.h"

#include "objstore/store.h"

/* Whether the ETag list of an If-Match or If-None-Match value ("a", "b",
 * W/"c" or *) holds etag (bare hex, as the store keeps it). */
bool objstore_etag_listed(struct pier_str list, const char *etag);

/* Evaluate If-Match (im), If-None-Match (inm), If-Modified-Since (ims)
 * and If-Unmodified-Since (ius) against obj, in RFC order: If-Match wins
 * over If-Unmodified-Since, If-None-Match over If-Modified-Since. Absent
 * headers have ptr NULL; unparsable dates are ignored. Returns 0 to
 * proceed, else 304 or 412; for a copy source (is_read false) a matching
 * If-None-Match or an unmodified source is 412, as S3 answers. */
int objstore_preconditions(struct pier_str im, struct pier_str inm,
                           struct pier_str ims, struct pier_str ius,
                           const struct objstore_obj *obj, bool is_read);

/* Parse a timestamp of a conditional delete: ISO 8601 as listings give
 * LastModified ("2025-05-01T10:00:00.123Z"; any number of fraction
 * digits, of which the first three count; "Z" or "+00:00") into *ms with
 * *whole_s false, or an HTTP-date (Last-Modified) with *whole_s true.
 * PIER_ERR when it is neither. */
int objstore_time_parse(struct pier_str s, int64_t *ms, bool *whole_s);

/* Parse a Range value against an object of size bytes: 0 serve it all
 * (no header, another unit, several ranges, or a malformed one, which
 * RFC 9110 says to ignore), 1 serve [*first, *last], -1 unsatisfiable
 * (416). */
int objstore_range_parse(struct pier_str r, uint64_t size, uint64_t *first,
                         uint64_t *last);

#endif
