/*
 * objstore/xml.h - the S3 XML documents: responses written straight into
 * a pier_buf, request bodies read with libxml2.
 *
 * Requests are parsed with XML_PARSE_NONET and without XML_PARSE_NOENT, and
 * any document with a DTD is refused: no entity is ever expanded, nothing
 * is fetched. Element names are compared without their namespace, so
 * bodies with and without xmlns="http://s3.amazonaws.com/doc/2006-03-01/"
 * both parse. Every malformed body is MalformedXML.
 *
 * Any thread, after objstore_xml_init() ran once on the main thread.
 */
#ifndef OBJSTORE_XML_H
#define OBJSTORE_XML_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include "objstore/store.h"

#define OBJSTORE_XML_NS     "http://s3.amazonaws.com/doc/2006-03-01/"
#define OBJSTORE_DELETE_MAX 1000 /* keys in one DeleteObjects */

/* Initialise libxml2 (xmlInitParser). Main thread, before any parsing. */
void objstore_xml_init(void);

/* Append s as XML character data: & < > " ' escaped, control characters
 * as numeric references (as S3 does). */
PIER_NODISCARD int objstore_xml_escape(struct pier_buf *out, struct pier_str s);
/* Append s percent-encoded for encoding-type=url (unreserved bytes and
 * '/' literal). */
PIER_NODISCARD int objstore_xml_urlencode(struct pier_buf *out,
                                          struct pier_str s);
/* Format ms since the epoch as 2025-05-01T10:00:00.123Z (25 bytes). */
void objstore_xml_time(int64_t ms, char out[32]);

/* Every document begins with the XML declaration. All return PIER_ERR
 * only when out is full. */

/* <Error><Code/><Message/><Resource/><RequestId/></Error>; extra_name and
 * extra_value (may be NULL) add one more element (Key, BucketName,
 * UploadId...). */
PIER_NODISCARD int objstore_xml_error(struct pier_buf *out, enum pier_s3 s3,
                                      struct pier_str resource,
                                      const char *request_id,
                                      const char *extra_name,
                                      struct pier_str extra_value);

/* ListAllMyBucketsResult with Owner (id and display name). */
PIER_NODISCARD int
objstore_xml_list_buckets(struct pier_buf *out,
                          const struct objstore_bucket_info *buckets, size_t n,
                          const char *owner_id, const char *owner_name);

/* What a ListBucketResult echoes back. */
struct objstore_xml_listing {
    int version; /* 1 or 2 */
    struct pier_str bucket;
    struct pier_str prefix;
    struct pier_str delimiter;
    struct pier_str marker; /* v1: Marker; v2: StartAfter */
    struct pier_str token;  /* v2: ContinuationToken as received */
    size_t max_keys;
    bool url;         /* encoding-type=url */
    bool fetch_owner; /* v1 always has Owner; v2 when asked */
    const char *owner_id;
    const char *owner_name;
};
/* ListBucketResult from one page. v1 gives NextMarker when truncated; v2
 * gives KeyCount and, when truncated, NextContinuationToken (the hex of
 * the last key or prefix: objstore_xml_token_decode() reads it back). */
PIER_NODISCARD int
objstore_xml_list_objects(struct pier_buf *out,
                          const struct objstore_xml_listing *params,
                          const struct objstore_list *page);
/* Decode a continuation token into out; PIER_ERR (InvalidArgument) when it
 * is not one of ours. */
int objstore_xml_token_decode(struct pier_str token, struct pier_buf *out,
                              struct pier_err *err);

PIER_NODISCARD int objstore_xml_location(struct pier_buf *out,
                                         struct pier_str region);
/* The versioning state of a bucket that was never versioned: an empty
 * VersioningConfiguration, as S3 answers. */
PIER_NODISCARD int objstore_xml_versioning(struct pier_buf *out);
PIER_NODISCARD int objstore_xml_copy_result(struct pier_buf *out,
                                            const char *etag, int64_t mtime_ms);
PIER_NODISCARD int objstore_xml_initiate(struct pier_buf *out,
                                         struct pier_str bucket,
                                         struct pier_str key,
                                         const char *upload_id);
PIER_NODISCARD int objstore_xml_complete(struct pier_buf *out,
                                         struct pier_str location,
                                         struct pier_str bucket,
                                         struct pier_str key, const char *etag);

struct objstore_xml_parts {
    struct pier_str bucket, key, upload_id;
    unsigned marker; /* PartNumberMarker */
    size_t max_parts;
    const char *owner_id, *owner_name;
};
PIER_NODISCARD int objstore_xml_list_parts(
    struct pier_buf *out, const struct objstore_xml_parts *params,
    const struct objstore_part_info *parts, size_t n, bool truncated);

/* ListMultipartUploadsResult: <Upload>s, then one <CommonPrefixes> per
 * rolled-up prefix; when truncated, the last entry gives NextKeyMarker
 * (and NextUploadIdMarker when it is an upload). */
struct objstore_xml_uploads {
    struct pier_str bucket, prefix, delimiter, key_marker, id_marker;
    size_t max_uploads;
    bool url;
    const char *owner_id, *owner_name;
};
PIER_NODISCARD int
objstore_xml_list_uploads(struct pier_buf *out,
                          const struct objstore_xml_uploads *params,
                          const struct objstore_upload_list *list);

/* DeleteResult: one <Deleted> per key whose result is PIER_S3_NONE
 * (unless quiet), one <Error> per other. */
PIER_NODISCARD int objstore_xml_delete_result(struct pier_buf *out, bool quiet,
                                              const struct pier_str *keys,
                                              const enum pier_s3 *results,
                                              size_t n);

/* ---- request bodies ---- */

/* CreateBucketConfiguration: the LocationConstraint (may be empty)
 * appended to region. An empty body is no configuration: PIER_OK. */
int objstore_xml_parse_location(struct pier_str body, struct pier_buf *region,
                                struct pier_err *err);

/* Delete: Quiet, the keys and their conditions (an <Object>'s ETag,
 * LastModifiedTime and Size: conds[i] belongs to keys[i]). Embedded:
 * init, then release. */
struct objstore_xml_delete {
    bool quiet;
    struct pier_str *keys;           /* into store_ */
    struct objstore_del_cond *conds; /* etags into store_ */
    size_t n;
    struct pier_buf store_;
};
void objstore_xml_delete_init(struct objstore_xml_delete *d);
void objstore_xml_delete_release(struct objstore_xml_delete *d);
/* MalformedXML when malformed, empty, holding more than 1000 keys, or an
 * unreadable LastModifiedTime (objstore_time_parse) or Size. */
int objstore_xml_parse_delete(struct pier_str body,
                              struct objstore_xml_delete *d,
                              struct pier_err *err);

/* CompleteMultipartUpload: the parts as listed. Embedded. */
struct objstore_xml_complete {
    struct objstore_part_ref *parts; /* etags into store_ */
    size_t n;
    struct pier_buf store_;
};
void objstore_xml_complete_init(struct objstore_xml_complete *c);
void objstore_xml_complete_release(struct objstore_xml_complete *c);
/* MalformedXML when malformed, empty, a PartNumber is not 1-10000 or an
 * ETag is missing. */
int objstore_xml_parse_complete(struct pier_str body,
                                struct objstore_xml_complete *c,
                                struct pier_err *err);

#endif
