/*
 * lib/sigv4.h - AWS Signature Version 4: signing requests (the S3 client)
 * and verifying them (the object store).
 *
 * Signing builds the canonical request (method, canonical URI, canonical
 * query, canonical headers, signed headers, payload hash), the string to
 * sign (algorithm, date, scope, SHA-256 of the canonical request), derives
 * the signing key (HMAC chain over date, region, service, "aws4_request")
 * and signs, either into an Authorization header value or into presigned
 * query parameters.
 *
 * Canonical URI rules depend on the service, as in the AWS SDKs:
 *   - "s3": the path is taken as sent, without dot-segment or slash
 *     normalisation and without double encoding; only its percent-encoding
 *     is made canonical (unreserved bytes literal, others %XX in upper
 *     case, '/' and "%2F" kept as they are).
 *   - any other service: dot segments and empty segments are removed
 *     (unless PIER_SIGV4_NO_NORMALIZE), then every byte but the unreserved
 *     ones and '/' is percent-encoded, '%' included: a path sent encoded is
 *     encoded twice.
 * The query is split on '&', each name and value percent-decoded ('+' reads
 * as a space, as in Go's and minio's servers), re-encoded with the
 * unreserved set, sorted by name then value, and joined.
 *
 * Canonical headers: names lower-cased; values trimmed, with runs of
 * whitespace (line folds included) collapsed to one space; repeated
 * headers joined with ',' in the order given; sorted by name.
 *
 * Nothing here keeps a pointer to its arguments. Signing allocates
 * (scratch buffers). Verification is on the object store's request path:
 * it parses the query once, hashes the canonical request as it makes it
 * (this thread's SHA-256, lib/sha.h) and keeps its scratch on the stack,
 * taking the heap only for queries of more than 32 parameters or about
 * 680 bytes. Every function may be called from any thread.
 */
#ifndef PIER_SIGV4_H
#define PIER_SIGV4_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <time.h>

#define PIER_SIGV4_ALGORITHM         "AWS4-HMAC-SHA256"
#define PIER_SIGV4_UNSIGNED_PAYLOAD  "UNSIGNED-PAYLOAD"
#define PIER_SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define PIER_SIGV4_STREAMING_TRAILER \
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define PIER_SIGV4_STREAMING_UNSIGNED_TRAILER \
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define PIER_SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define PIER_SIGV4_MAX_EXPIRES_S 604800 /* presigned URLs: 7 days */
#define PIER_SIGV4_MAX_SKEW_S    900    /* request time vs now: 15 min */

/* A header or a query parameter: borrowed views. */
struct pier_kv {
    struct pier_str name;
    struct pier_str value;
};

/* What a signer knows. Borrowed by every call. */
struct pier_sigv4_key {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3": no path normalisation, no double
                                  encoding */
    const char *session_token; /* NULL if none */
};

/* Flags of struct pier_sigv4_req. */
#define PIER_SIGV4_NO_NORMALIZE 0x1u /* non-S3 services: keep dot segments */

/* A request to sign, for the lower-level calls below. */
struct pier_sigv4_req {
    const char *method;
    struct pier_str path;          /* as sent (see the URI rules above) */
    struct pier_str query;         /* raw, without '?'; may be empty */
    const struct pier_kv *headers; /* all signed */
    size_t nheaders;
    const char *payload_hash; /* hex SHA-256, or UNSIGNED-PAYLOAD, ... */
    unsigned flags;           /* PIER_SIGV4_* */
};

/* Compute the Authorization header value (AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...) for a request whose headers (all of
 * which are signed; must include host, x-amz-date, and for s3
 * x-amz-content-sha256) are given. path is the URI-encoded path as sent,
 * query the raw query string as sent (without '?', may be empty; it is
 * canonicalised: split, sorted, re-encoded). amz_date is "YYYYMMDDTHHMMSSZ".
 * payload_hash is the lowercase hex SHA-256 of the body, or
 * "UNSIGNED-PAYLOAD", or a STREAMING-* value. Appends to out.
 * When key->session_token is set and the headers hold no
 * x-amz-security-token, one is signed with the token's value: the caller
 * must send that header too. PIER_ERR (err set) on a malformed amz_date or
 * when out would pass its maximum. */
int pier_sigv4_authorization(const struct pier_sigv4_key *key,
                             const char *amz_date, const char *method,
                             struct pier_str path, struct pier_str query,
                             const struct pier_kv *headers, size_t nheaders,
                             const char *payload_hash, struct pier_buf *out,
                             struct pier_err *err);

/* Presigned URL query parameters: appends to out_query
 * "X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=
 * ...&X-Amz-SignedHeaders=...[&X-Amz-Security-Token=...]&X-Amz-Signature=
 * ...", encoded. The caller joins them to its own query (the one passed
 * here, which is signed too) with '&'. headers are the headers the URL's
 * user will send (at least host), all signed. The payload is
 * UNSIGNED-PAYLOAD for s3, the empty body's hash for other services. */
int pier_sigv4_presign(const struct pier_sigv4_key *key, const char *amz_date,
                       unsigned expires_s, const char *method,
                       struct pier_str path, struct pier_str query,
                       const struct pier_kv *headers, size_t nheaders,
                       struct pier_buf *out_query, struct pier_err *err);

/* The general forms of the two calls above. req->payload_hash is used as
 * given (presign included). canonical and string_to_sign, when not NULL,
 * get the intermediate texts appended (for tests, and for logging a
 * mismatch: they hold no secret). */
int pier_sigv4_sign_req(const struct pier_sigv4_key *key, const char *amz_date,
                        const struct pier_sigv4_req *req, struct pier_buf *out,
                        struct pier_buf *canonical,
                        struct pier_buf *string_to_sign, struct pier_err *err);
int
pier_sigv4_presign_req(const struct pier_sigv4_key *key, const char *amz_date,
                       unsigned expires_s, const struct pier_sigv4_req *req,
                       struct pier_buf *out_query, struct pier_buf *canonical,
                       struct pier_buf *string_to_sign, struct pier_err *err);

/* Whether service follows S3's URI rules: "s3" (and NULL, the default). */
bool pier_sigv4_is_s3(const char *service);

/* Building blocks. */

/* Append the canonical request of req to out; every header is signed. */
int pier_sigv4_canonical_request(const struct pier_sigv4_req *req,
                                 bool s3_rules, struct pier_buf *out,
                                 struct pier_err *err);
/* Append the canonical query of a raw query string to out. */
int pier_sigv4_canonical_query(struct pier_str query, struct pier_buf *out,
                               struct pier_err *err);
/* Append s percent-encoded with the unreserved set (A-Z a-z 0-9 - . _ ~)
 * left literal; '/' too when keep_slash. */
int pier_sigv4_uri_encode(struct pier_str s, bool keep_slash,
                          struct pier_buf *out, struct pier_err *err);
/* The signing key: HMAC chain "AWS4" + secret, date8 (YYYYMMDD), region,
 * service, "aws4_request". */
void pier_sigv4_signing_key(const char *secret, struct pier_str date8,
                            struct pier_str region, struct pier_str service,
                            unsigned char out[32]);
/* Lowercase hex HMAC-SHA256 of msg under a signing key. */
void pier_sigv4_hmac_hex(const unsigned char key[32], struct pier_str msg,
                         char out[65]);
/* Signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
 * string to sign "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
 * previous signature "\n" SHA-256("") "\n" SHA-256(chunk data). */
void pier_sigv4_chunk_signature(const unsigned char key[32],
                                const char *amz_date, struct pier_str scope,
                                const char *prev_sig,
                                const char *data_sha256_hex, char out[65]);
/* Signature of the trailer (…-PAYLOAD-TRAILER): "AWS4-HMAC-SHA256-TRAILER\n"
 * date "\n" scope "\n" previous signature "\n" SHA-256 of the canonical
 * trailer ("name:value\n" per trailing header). */
void pier_sigv4_trailer_signature(const unsigned char key[32],
                                  const char *amz_date, struct pier_str scope,
                                  const char *prev_sig,
                                  const char *trailer_sha256_hex, char out[65]);
/* Parse "YYYYMMDDTHHMMSSZ" (UTC) into *t; PIER_ERR (nothing set) if it is
 * not one. */
int pier_sigv4_parse_date(struct pier_str s, time_t *t);
/* Format t as "YYYYMMDDTHHMMSSZ". */
void pier_sigv4_format_date(time_t t, char out[17]);

/*
 * Verification (server side).
 *
 * pier_sigv4_verify() takes a parsed request and recognises the four ways
 * S3 clients sign:
 *   - SigV4 header: Authorization: AWS4-HMAC-SHA256 Credential=...
 *   - SigV4 query (presigned): X-Amz-Algorithm, X-Amz-Credential,
 *     X-Amz-Date, X-Amz-Expires (1 s to 7 days, checked against now),
 *     X-Amz-SignedHeaders, X-Amz-Signature
 *   - SigV2 header: Authorization: AWS key:signature (lib/sigv2.h)
 *   - SigV2 query: AWSAccessKeyId, Expires, Signature (lib/sigv2.h)
 * and fills struct pier_sigv4_auth, or refuses with err->s3 set to:
 *   ACCESS_DENIED            no signature at all, an expired or not yet
 *                            valid presigned URL
 *   INVALID_ACCESS_KEY_ID    lookup() does not know the key
 *   SIGNATURE_DOES_NOT_MATCH the signature is wrong
 *   REQUEST_TIME_TOO_SKEWED  header forms: request time more than 15 min
 *                            from now
 *   AUTH_HEADER_MALFORMED    a malformed Authorization header, a credential
 *                            scope for another region, service or date
 *   AUTH_QUERY_PARAMS        the same for presigned query parameters
 *   INVALID_ARGUMENT         a bad x-amz-content-sha256 or x-amz-trailer,
 *                            two forms at once (header and query)
 *   INVALID_REQUEST          SigV4 header form without
 *                            x-amz-content-sha256 (s3)
 * Signatures are compared in constant time (CRYPTO_memcmp).
 *
 * Virtual-hosted buckets: SigV4 signs the path as sent, so it needs
 * nothing more. SigV2's canonical resource starts with the bucket, so the
 * caller passes what goes before the path in v2_resource_prefix: "" for a
 * path-style request ("/bucket/key" is the path already) or a request to
 * the service root; "/bucket" when Host is "bucket.<the store's domain>";
 * "/" + Host without its port when Host is a CNAME for a bucket.
 */

/* Return the NUL-terminated secret of access_key_id, valid until
 * pier_sigv4_verify() returns, or NULL when the key is unknown. Called at
 * most once per verification, on the verifying thread. */
typedef const char *pier_sigv4_lookup_fn(void *udata,
                                         struct pier_str access_key_id);

struct pier_sigv4_verify_req {
    struct pier_str method;
    struct pier_str path;  /* raw request-target path, without the query */
    struct pier_str query; /* raw query, without '?'; may be empty */
    const struct pier_kv *headers; /* every header received */
    size_t nheaders;
    time_t now;
    const char *region;  /* the store's region; NULL accepts any */
    const char *service; /* NULL means "s3" */
    struct pier_str v2_resource_prefix; /* SigV2 only; see above */
    pier_sigv4_lookup_fn *lookup;
    void *lookup_data;
};

enum pier_sigv4_form {
    PIER_AUTH_V4_HEADER = 1,
    PIER_AUTH_V4_QUERY,
    PIER_AUTH_V2_HEADER,
    PIER_AUTH_V2_QUERY,
};

/* How the body is protected, from x-amz-content-sha256:
 *   SIGNED: hash the body and compare with payload_sha256
 *     (pier_sigv4_payload_matches(); XAmzContentSHA256Mismatch if not);
 *   UNSIGNED: UNSIGNED-PAYLOAD, presigned URLs and SigV2;
 *   STREAMING: aws-chunked with chunk signatures (lib/awschunk.h);
 *   STREAMING_TRAILER: the same, then a signed checksum trailer;
 *   STREAMING_UNSIGNED_TRAILER: aws-chunked, no chunk signatures, a
 *     checksum trailer. */
enum pier_payload_mode {
    PIER_PAYLOAD_SIGNED = 1,
    PIER_PAYLOAD_UNSIGNED,
    PIER_PAYLOAD_STREAMING,
    PIER_PAYLOAD_STREAMING_TRAILER,
    PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
};

/* A checksum named by x-amz-trailer (aws-chunked trailers). */
enum pier_checksum {
    PIER_CHECKSUM_NONE = 0,
    PIER_CHECKSUM_CRC32,
    PIER_CHECKSUM_CRC32C,
    PIER_CHECKSUM_SHA1,
    PIER_CHECKSUM_SHA256,
};

/* The outcome of a successful verification. Holds copies, no pointers:
 * the caller keeps it (on the stack or in its request) as long as the
 * body streams. It holds the derived signing key: never log it. */
struct pier_sigv4_auth {
    enum pier_sigv4_form form;
    char access_key_id[129];
    enum pier_payload_mode payload;
    char payload_sha256[65]; /* PIER_PAYLOAD_SIGNED: expected lowercase hex */
    enum pier_checksum trailer; /* trailer modes: the declared checksum */
    time_t request_time;        /* when it was signed (X-Amz-Date, Date);
                                   SigV2 query form: its Expires */
    /* What lib/awschunk.h needs to check chunk signatures (SigV4 only). */
    unsigned char signing_key[32];
    char seed_signature[65]; /* the request's signature */
    char amz_date[17];       /* "YYYYMMDDTHHMMSSZ" */
    char scope[128];         /* "date/region/service/aws4_request" */
};

/* PIER_OK with auth filled, or PIER_ERR with err->s3 set (auth is then
 * undefined). Borrows req. Any thread. */
int pier_sigv4_verify(const struct pier_sigv4_verify_req *req,
                      struct pier_sigv4_auth *auth, struct pier_err *err);

/* Whether sha256 (the raw digest of the whole body) is what the request
 * signed. True for every mode but PIER_PAYLOAD_SIGNED, which is the only
 * one that signs a hash of the body. */
bool pier_sigv4_payload_matches(const struct pier_sigv4_auth *auth,
                                const unsigned char sha256[32]);

/* The last value of header name in headers (case-insensitive), or
 * PIER_STR_NULL with ptr NULL when absent. */
struct pier_str pier_kv_get(const struct pier_kv *kv, size_t n,
                            struct pier_str name);
/* Percent-decode s into out; plus_space: '+' means ' ' (queries). A '%'
 * not followed by two hex digits is kept literally. */
int pier_uri_decode(struct pier_str s, bool plus_space, struct pier_buf *out,
                    struct pier_err *err);
/* Find the first query parameter called name in a raw query and
 * append its decoded value to out; PIER_AGAIN when there is none. */
int pier_query_get(struct pier_str query, struct pier_str name,
                   struct pier_buf *out, struct pier_err *err);

#endif
