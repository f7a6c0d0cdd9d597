/*
 * lib/sigv2.h - AWS Signature Version 2 for S3 ("AWS key:signature"), the
 * scheme libs3 and old s3cmd sign with: signing, and verification for
 * pier_sigv4_verify(), which dispatches here.
 *
 * String to sign:
 *     METHOD \n Content-MD5 \n Content-Type \n Date \n
 *     CanonicalizedAmzHeaders CanonicalizedResource
 * where Date is the Date header, empty when x-amz-date is present (it is
 * then among the x-amz- headers), or Expires in the query form;
 * CanonicalizedAmzHeaders are the x-amz-* headers, names lower-cased,
 * sorted, repeats joined with ',', values trimmed and unfolded, each
 * "name:value\n"; CanonicalizedResource is the resource prefix (the bucket
 * of a virtual-hosted request), the path exactly as sent (not decoded),
 * then the S3 sub-resources of the query, sorted by name, values decoded:
 * acl, delete, location, logging, notification, partNumber, policy,
 * requestPayment, torrent, uploadId, uploads, versionId, versioning,
 * versions, website, lifecycle, cors, tagging, the response-* overrides,
 * and the later ones botocore also signs (accelerate, restore, select,
 * replication, object-lock, retention, legal-hold, encryption...).
 * The signature is base64(HMAC-SHA1(secret, string to sign)).
 *
 * Nothing here keeps a pointer to its arguments; scratch memory is
 * allocated per call. Any thread.
 */
#ifndef PIER_SIGV2_H
#define PIER_SIGV2_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"
#include "lib/sigv4.h"

#define PIER_SIGV2_SIGLEN 28 /* base64 of 20 bytes */

struct pier_sigv2_req {
    const char *method;
    /* What goes before path in the canonical resource: "" for path-style
     * requests, "/bucket" for virtual-hosted ones, "/" + host for a CNAME
     * (see lib/sigv4.h, Verification). */
    struct pier_str resource_prefix;
    struct pier_str path;  /* as sent, not decoded */
    struct pier_str query; /* raw, without '?' */
    const struct pier_kv *headers;
    size_t nheaders;
    const char *expires; /* query form: the Expires value; NULL: header
                            form */
};

/* Whether name is an S3 sub-resource that the canonical resource keeps. */
bool pier_sigv2_is_subresource(struct pier_str name);

/* Append the string to sign of req to out. */
int pier_sigv2_string_to_sign(const struct pier_sigv2_req *req,
                              struct pier_buf *out, struct pier_err *err);
/* base64(HMAC-SHA1(secret, sts)), NUL-terminated. */
void pier_sigv2_signature(const char *secret, struct pier_str sts,
                          char out[PIER_SIGV2_SIGLEN + 1]);
/* Append the Authorization value "AWS key:signature" to out. */
int pier_sigv2_authorization(const char *access_key_id, const char *secret,
                             const struct pier_sigv2_req *req,
                             struct pier_buf *out, struct pier_err *err);
/* Append "AWSAccessKeyId=...&Expires=...&Signature=..." (encoded) to
 * out_query; req->expires must be set (seconds since the epoch). */
int pier_sigv2_presign(const char *access_key_id, const char *secret,
                       const struct pier_sigv2_req *req,
                       struct pier_buf *out_query, struct pier_err *err);

/* Verify the SigV2 header or query form of req (see pier_sigv4_verify(),
 * which calls this; callers normally use that). form is
 * PIER_AUTH_V2_HEADER or PIER_AUTH_V2_QUERY. */
int pier_sigv2_verify(const struct pier_sigv4_verify_req *req,
                      enum pier_sigv4_form form, struct pier_sigv4_auth *auth,
                      struct pier_err *err);

/* Parse an HTTP date (IMF-fixdate, "GMT" or a numeric zone such as
 * "+0000") into *t; PIER_ERR (nothing set) if it is not one. */
int pier_http_date_parse(struct pier_str s, time_t *t);
/* Parse an ISO 8601 UTC time as S3 writes it ("2026-11-24T09:00:00.123Z",
 * fraction optional, "Z" or "+00:00") into milliseconds since the epoch
 * (digits past the third are dropped); PIER_ERR (nothing set) if it is
 * not one. */
int pier_iso8601_parse(struct pier_str s, int64_t *ms);

#endif
