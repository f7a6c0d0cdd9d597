/*
 * objstore/router.h - from an HTTP request line and Host to an S3
 * operation, its bucket and its key; and the query-string helpers the
 * operations use.
 *
 * Addressing: virtual-host style when Host (port stripped, case folded) is
 * BUCKET.DOMAIN for one of the store's domains, path style otherwise
 * (/BUCKET/KEY). Keys are percent-decoded from the path and taken
 * verbatim: "a//b", "../x" and "%2F" stay what they are. GET or HEAD of
 * /_pier/health (path style) is the unauthenticated health check; no
 * bucket name starts with '_', so it shadows none.
 *
 * A sub-resource the store does not implement (?acl, ?tagging,
 * ?versioning...) gives NotImplemented; unknown query parameters are
 * ignored, as S3 does (SDKs add x-id=...).
 *
 * Pure functions of their arguments: any thread.
 */
#ifndef OBJSTORE_ROUTER_H
#define OBJSTORE_ROUTER_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#define OBJSTORE_OPS(XX)                           \
    XX(HEALTH, "Health")                           \
    XX(LIST_BUCKETS, "ListBuckets")                \
    XX(CREATE_BUCKET, "CreateBucket")              \
    XX(HEAD_BUCKET, "HeadBucket")                  \
    XX(DELETE_BUCKET, "DeleteBucket")              \
    XX(GET_BUCKET_LOCATION, "GetBucketLocation")   \
    XX(GET_BUCKET_VERSIONING, "GetBucketVersioning") \
    XX(LIST_OBJECTS, "ListObjects")                \
    XX(LIST_OBJECTS_V2, "ListObjectsV2")           \
    XX(LIST_UPLOADS, "ListMultipartUploads")       \
    XX(DELETE_OBJECTS, "DeleteObjects")            \
    XX(PUT_OBJECT, "PutObject")                    \
    XX(COPY_OBJECT, "CopyObject")                  \
    XX(GET_OBJECT, "GetObject")                    \
    XX(HEAD_OBJECT, "HeadObject")                  \
    XX(DELETE_OBJECT, "DeleteObject")              \
    XX(CREATE_UPLOAD, "CreateMultipartUpload")     \
    XX(UPLOAD_PART, "UploadPart")                  \
    XX(COMPLETE_UPLOAD, "CompleteMultipartUpload") \
    XX(ABORT_UPLOAD, "AbortMultipartUpload")       \
    XX(LIST_PARTS, "ListParts")

enum objstore_op {
#define XX(name, s3name) OBJSTORE_OP_##name,
    OBJSTORE_OPS(XX)
#undef XX
        OBJSTORE_OP_MAX
};

/* The operation's S3 name ("PutObject"), for logs. */
const char *objstore_op_name(enum objstore_op op);

struct objstore_route_in {
    struct pier_str method;
    struct pier_str path;       /* raw, starts with '/' */
    struct pier_str query;      /* raw, without '?' */
    struct pier_str host;       /* the Host field */
    bool copy_source;           /* x-amz-copy-source is present */
    const char *const *domains; /* virtual-host domains ("localhost") */
    size_t ndomains;
};

/* The decoded result. Embedded: init, then release. */
struct objstore_route {
    enum objstore_op op;
    struct pier_buf bucket; /* empty for ListBuckets and Health */
    struct pier_buf key;    /* empty for bucket and service operations */
    bool vhost;             /* the bucket came from Host */
};
void objstore_route_init(struct objstore_route *r);
void objstore_route_release(struct objstore_route *r);

/* Route in into r: MethodNotAllowed, NotImplemented, InvalidBucketName,
 * KeyTooLongError, InvalidArgument (a key that is not UTF-8), InvalidURI
 * (InvalidRequest here: a path that is not absolute). */
int objstore_route(const struct objstore_route_in *in, struct objstore_route *r,
                   struct pier_err *err);

/* ---- query strings ---- */

/* Iterate the raw parameters of query: *pos starts at 0. name and value
 * are raw (still encoded) views into query; a parameter without '=' has
 * an empty value and *has_value false (may be NULL). */
bool objstore_query_next(struct pier_str query, size_t *pos,
                         struct pier_str *name, struct pier_str *value,
                         bool *has_value);
/* Whether query holds a parameter called name (raw comparison). */
bool objstore_query_has(struct pier_str query, const char *name);
/* Append the decoded value of the first parameter called name to out:
 * PIER_OK; PIER_AGAIN when absent; PIER_ERR when out is full. */
int objstore_query_get(struct pier_str query, const char *name,
                       struct pier_buf *out);
/* Percent-decode s into out; plus_space: '+' reads as ' ' (queries, not
 * paths). A '%' not followed by two hex digits is kept. PIER_ERR when out
 * is full. */
int objstore_pct_decode(struct pier_str s, bool plus_space,
                        struct pier_buf *out);

#endif
