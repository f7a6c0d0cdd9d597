/*
 * lib/err.h - the one error struct, and the table that pairs each S3 error
 * code with its HTTP status and standard message.
 *
 * A function that can fail returns PIER_OK, PIER_ERR or PIER_AGAIN and takes
 * `struct pier_err *err` last, filled only on failure. Clients see the
 * status, the S3 code and its standard message; err->msg goes to the log
 * only and never holds a secret.
 */
#ifndef PIER_ERR_H
#define PIER_ERR_H

#include "lib/core.h"

/* XX(NAME, http status, S3 code, standard message) */
#define PIER_S3_ERRORS(XX)                                                     \
    XX(ACCESS_DENIED, 403, "AccessDenied", "Access Denied")                    \
    XX(AUTH_QUERY_PARAMS, 400, "AuthorizationQueryParametersError",            \
       "Error parsing the X-Amz-Credential parameter.")                        \
    XX(AUTH_HEADER_MALFORMED, 400, "AuthorizationHeaderMalformed",             \
       "The authorization header is malformed.")                               \
    XX(BAD_DIGEST, 400, "BadDigest",                                           \
       "The Content-MD5 you specified did not match what we received.")       \
    XX(BUCKET_ALREADY_OWNED, 409, "BucketAlreadyOwnedByYou",                   \
       "Your previous request to create the named bucket succeeded and you "   \
       "already own it.")                                                      \
    XX(BUCKET_NOT_EMPTY, 409, "BucketNotEmpty",                                \
       "The bucket you tried to delete is not empty.")                         \
    XX(ENTITY_TOO_LARGE, 400, "EntityTooLarge",                                \
       "Your proposed upload exceeds the maximum allowed object size.")        \
    XX(ENTITY_TOO_SMALL, 400, "EntityTooSmall",                                \
       "Your proposed upload is smaller than the minimum allowed object "      \
       "size.")                                                                \
    XX(INCOMPLETE_BODY, 400, "IncompleteBody",                                 \
       "You did not provide the number of bytes specified by the "             \
       "Content-Length HTTP header.")                                          \
    XX(INTERNAL_ERROR, 500, "InternalError",                                   \
       "We encountered an internal error. Please try again.")                  \
    XX(INVALID_ACCESS_KEY_ID, 403, "InvalidAccessKeyId",                       \
       "The AWS Access Key Id you provided does not exist in our records.")    \
    XX(INVALID_ARGUMENT, 400, "InvalidArgument", "Invalid Argument")           \
    XX(INVALID_BUCKET_NAME, 400, "InvalidBucketName",                          \
       "The specified bucket is not valid.")                                   \
    XX(INVALID_DIGEST, 400, "InvalidDigest",                                   \
       "The Content-MD5 you specified is not valid.")                          \
    XX(INVALID_PART, 400, "InvalidPart",                                       \
       "One or more of the specified parts could not be found.")               \
    XX(INVALID_PART_ORDER, 400, "InvalidPartOrder",                            \
       "The list of parts was not in ascending order.")                        \
    XX(INVALID_RANGE, 416, "InvalidRange",                                     \
       "The requested range is not satisfiable")                               \
    XX(INVALID_REQUEST, 400, "InvalidRequest", "Invalid Request")              \
    XX(KEY_TOO_LONG, 400, "KeyTooLongError", "Your key is too long")           \
    XX(MALFORMED_XML, 400, "MalformedXML",                                     \
       "The XML you provided was not well-formed or did not validate "         \
       "against our published schema")                                        \
    XX(METHOD_NOT_ALLOWED, 405, "MethodNotAllowed",                            \
       "The specified method is not allowed against this resource.")          \
    XX(MISSING_CONTENT_LENGTH, 411, "MissingContentLength",                    \
       "You must provide the Content-Length HTTP header.")                     \
    XX(NO_SUCH_BUCKET, 404, "NoSuchBucket",                                    \
       "The specified bucket does not exist")                                  \
    XX(NO_SUCH_KEY, 404, "NoSuchKey", "The specified key does not exist.")     \
    XX(NO_SUCH_UPLOAD, 404, "NoSuchUpload",                                    \
       "The specified multipart upload does not exist.")                       \
    XX(NOT_IMPLEMENTED, 501, "NotImplemented",                                 \
       "A header you provided implies functionality that is not "             \
       "implemented")                                                          \
    XX(NOT_MODIFIED, 304, "NotModified", "Not Modified")                       \
    XX(PRECONDITION_FAILED, 412, "PreconditionFailed",                         \
       "At least one of the pre-conditions you specified did not hold")        \
    XX(REQUEST_TIMEOUT, 400, "RequestTimeout",                                 \
       "Your socket connection to the server was not read from or written "    \
       "to within the timeout period.")                                        \
    XX(REQUEST_TIME_TOO_SKEWED, 403, "RequestTimeTooSkewed",                   \
       "The difference between the request time and the server's time is "    \
       "too large.")                                                           \
    XX(SERVICE_UNAVAILABLE, 503, "ServiceUnavailable",                         \
       "Please reduce your request rate.")                                     \
    XX(SIGNATURE_DOES_NOT_MATCH, 403, "SignatureDoesNotMatch",                 \
       "The request signature we calculated does not match the signature "     \
       "you provided. Check your key and signing method.")                    \
    XX(SHA256_MISMATCH, 400, "XAmzContentSHA256Mismatch",                      \
       "The provided 'x-amz-content-sha256' header does not match what was "  \
       "computed.")

enum pier_s3 {
    PIER_S3_NONE = 0,
#define XX(name, status, code, msg) PIER_S3_##name,
    PIER_S3_ERRORS(XX)
#undef XX
        PIER_S3_MAX
};

struct pier_err {
    int sys;         /* errno value, 0 if none */
    int http;        /* status to answer with; 0 outside a request */
    enum pier_s3 s3; /* a row of the table; PIER_S3_NONE outside S3 */
    char msg[256];   /* for the log: what failed, on what; never a secret */
};

/* Fill err with a message; return PIER_ERR (git's error()). */
int pier_err_set(struct pier_err *err, const char *fmt, ...) PIER_PRINTF(2, 3);
/* The same, appending ": strerror(sys)" and recording sys. */
int pier_err_sys(struct pier_err *err, int sys, const char *fmt, ...)
    PIER_PRINTF(3, 4);
/* The same, recording an S3 error and its HTTP status. */
int pier_err_s3(struct pier_err *err, enum pier_s3 s3, const char *fmt, ...)
    PIER_PRINTF(3, 4);
/* An HTTP status without an S3 code (the HTTP core's 400, 413, 431...). */
int pier_err_http(struct pier_err *err, int status, const char *fmt, ...)
    PIER_PRINTF(3, 4);
void pier_err_clear(struct pier_err *err);

/* The table's columns; "InternalError"/500 for PIER_S3_NONE. */
const char *pier_s3_code(enum pier_s3 s3);
const char *pier_s3_message(enum pier_s3 s3);
int pier_s3_status(enum pier_s3 s3);

#endif
