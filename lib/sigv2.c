/*
 * lib/sigv2.c - AWS Signature Version 2 for S3: string to sign, signing,
 * verification.
 *
 * Reference: "Signing and Authenticating REST Requests", Amazon S3
 * Developer Guide (2017-2020 editions), and botocore's HmacV1Auth, whose
 * sub-resource list and value handling (names raw, values decoded, sorted
 * by name only) clients follow in practice. Vectors: tests/data/sigv2-s3.
 */
#include "config.h"

#include "lib/sigv2.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "lib/sha.h"

static const char *const subresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

bool
pier_sigv2_is_subresource(struct pier_str name)
{
    size_t i;

    for (i = 0; i < PIER_NELEMS(subresources); i++) {
        if (pier_str_eq(name, pier_str_cstr(subresources[i]))) {
            return true;
        }
    }
    return false;
}

static int
full_err(struct pier_err *err)
{
    return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                       "signing buffer passed its maximum");
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Append v trimmed, with line folds (CR or LF and the whitespace around
 * them) made one space; other inner spaces stay. */
static int
add_value(struct pier_buf *out, struct pier_str v)
{
    size_t i = 0, e = v.len;

    while (i < e && is_space((unsigned char) v.ptr[i])) {
        i++;
    }
    while (e > i && is_space((unsigned char) v.ptr[e - 1])) {
        e--;
    }
    while (i < e) {
        unsigned char c = (unsigned char) v.ptr[i];

        if (c == '\r' || c == '\n') {
            size_t k = out->len;

            /* Drop the whitespace already written before the fold. */
            while (k > 0
                   && (out->data[k - 1] == ' ' || out->data[k - 1] == '\t')) {
                k--;
            }
            pier_buf_truncate(out, k);
            while (i < e && is_space((unsigned char) v.ptr[i])) {
                i++;
            }
            if (pier_buf_addch(out, ' ') != PIER_OK) {
                return PIER_ERR;
            }
            continue;
        }
        if (pier_buf_addch(out, (char) c) != PIER_OK) {
            return PIER_ERR;
        }
        i++;
    }
    return PIER_OK;
}

static int
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
casecmp(struct pier_str a, struct pier_str b)
{
    size_t i, n = a.len < b.len ? a.len : b.len;

    for (i = 0; i < n; i++) {
        int d =
            lower((unsigned char) a.ptr[i]) - lower((unsigned char) b.ptr[i]);

        if (d != 0) {
            return d;
        }
    }
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static bool
is_amz(struct pier_str name)
{
    return name.len > 6
           && pier_str_caseeq(pier_str_make(name.ptr, 6), PIER_STR("x-amz-"));
}

/* The x-amz-* header lines, sorted, repeats joined. */
static int
amz_headers(const struct pier_kv *h, size_t n, struct pier_buf *out)
{
    size_t *idx, m = 0, i, j, k;
    int rc = PIER_ERR;

    idx = pier_calloc(n + 1, sizeof(*idx));
    for (i = 0; i < n; i++) {
        if (!is_amz(h[i].name)) {
            continue;
        }
        /* Insertion sort by name; equal names keep their order. */
        for (j = m; j > 0 && casecmp(h[idx[j - 1]].name, h[i].name) > 0; j--) {
            idx[j] = idx[j - 1];
        }
        idx[j] = i;
        m++;
    }
    for (i = 0; i < m; i = k) {
        struct pier_str name = h[idx[i]].name;

        for (j = 0; j < name.len; j++) {
            if (pier_buf_addch(out, (char) lower((unsigned char) name.ptr[j]))
                != PIER_OK) {
                goto out;
            }
        }
        if (pier_buf_addch(out, ':') != PIER_OK) {
            goto out;
        }
        for (k = i; k < m && casecmp(h[idx[k]].name, name) == 0; k++) {
            if (k > i && pier_buf_addch(out, ',') != PIER_OK) {
                goto out;
            }
            if (add_value(out, h[idx[k]].value) != PIER_OK) {
                goto out;
            }
        }
        if (pier_buf_addch(out, '\n') != PIER_OK) {
            goto out;
        }
    }
    rc = PIER_OK;
out:
    pier_free(idx);
    return rc;
}

struct subres {
    struct pier_str name;
    struct pier_str value; /* raw, decoded when written */
    bool has_value;
    size_t index;
};

static int
cmp_subres(const void *pa, const void *pb)
{
    const struct subres *a = pa, *b = pb;
    size_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
    int c = memcmp(a->name.ptr, b->name.ptr, n);

    if (c != 0) {
        return c;
    }
    if (a->name.len != b->name.len) {
        return a->name.len < b->name.len ? -1 : 1;
    }
    return a->index < b->index ? -1 : 1;
}

static int
resource(const struct pier_sigv2_req *req, struct pier_buf *out,
         struct pier_err *err)
{
    struct subres *sr = NULL;
    size_t n = 0, cap = 0, i, e;
    int rc = PIER_ERR;

    if (pier_buf_addstr(out, req->resource_prefix) != PIER_OK
        || pier_buf_addstr(out, req->path.len > 0 ? req->path : PIER_STR("/"))
               != PIER_OK) {
        return full_err(err);
    }
    for (i = 0; i < req->query.len; i = e + 1) {
        struct pier_str piece;
        const char *eq;

        for (e = i; e < req->query.len && req->query.ptr[e] != '&'; e++) {
        }
        piece = pier_str_make(req->query.ptr + i, e - i);
        eq = memchr(piece.ptr, '=', piece.len);
        if (n == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            sr = pier_realloc(sr, cap * sizeof(*sr));
        }
        sr[n].name = pier_str_make(
            piece.ptr, eq != NULL ? (size_t) (eq - piece.ptr) : piece.len);
        if (!pier_sigv2_is_subresource(sr[n].name)) {
            continue;
        }
        sr[n].has_value = eq != NULL;
        sr[n].value =
            eq != NULL ? pier_str_make(eq + 1, piece.len - sr[n].name.len - 1)
                       : PIER_STR_NULL;
        sr[n].index = n;
        n++;
    }
    if (n > 0) {
        qsort(sr, n, sizeof(*sr), cmp_subres);
    }
    for (i = 0; i < n; i++) {
        if (pier_buf_addch(out, i == 0 ? '?' : '&') != PIER_OK
            || pier_buf_addstr(out, sr[i].name) != PIER_OK) {
            goto full;
        }
        if (sr[i].has_value
            && (pier_buf_addch(out, '=') != PIER_OK
                || pier_uri_decode(sr[i].value, false, out, err) != PIER_OK)) {
            goto full;
        }
    }
    rc = PIER_OK;
    goto out;
full:
    rc = full_err(err);
out:
    pier_free(sr);
    return rc;
}

int
pier_sigv2_string_to_sign(const struct pier_sigv2_req *req,
                          struct pier_buf *out, struct pier_err *err)
{
    struct pier_str md5, type, date;

    md5 = pier_kv_get(req->headers, req->nheaders, PIER_STR("Content-MD5"));
    type = pier_kv_get(req->headers, req->nheaders, PIER_STR("Content-Type"));
    if (req->expires != NULL) {
        date = pier_str_cstr(req->expires);
    } else if (pier_kv_get(req->headers, req->nheaders, PIER_STR("x-amz-date"))
                   .ptr
               != NULL) {
        date = PIER_STR("");
    } else {
        date = pier_kv_get(req->headers, req->nheaders, PIER_STR("Date"));
    }
    if (pier_buf_adds(out, req->method) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK
        || add_value(out, md5) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK
        || add_value(out, type) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK
        || add_value(out, date) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK
        || amz_headers(req->headers, req->nheaders, out) != PIER_OK) {
        return full_err(err);
    }
    return resource(req, out, err);
}

void
pier_sigv2_signature(const char *secret, struct pier_str sts,
                     char out[PIER_SIGV2_SIGLEN + 1])
{
    unsigned char mac[PIER_SHA1_LEN];

    pier_hmac_sha1(secret, strlen(secret), sts.ptr, sts.len, mac);
    PIER_ASSERT(pier_base64_encode(mac, sizeof(mac), out) == PIER_SIGV2_SIGLEN);
}

int
pier_sigv2_authorization(const char *access_key_id, const char *secret,
                         const struct pier_sigv2_req *req, struct pier_buf *out,
                         struct pier_err *err)
{
    struct pier_buf sts;
    char sig[PIER_SIGV2_SIGLEN + 1];
    int rc;

    pier_buf_init(&sts, SIZE_MAX);
    rc = pier_sigv2_string_to_sign(req, &sts, err);
    if (rc == PIER_OK) {
        pier_sigv2_signature(secret, pier_buf_str(&sts), sig);
        if (pier_buf_addf(out, "AWS %s:%s", access_key_id, sig) != PIER_OK) {
            rc = full_err(err);
        }
    }
    pier_buf_release(&sts);
    return rc;
}

int
pier_sigv2_presign(const char *access_key_id, const char *secret,
                   const struct pier_sigv2_req *req, struct pier_buf *out_query,
                   struct pier_err *err)
{
    struct pier_buf sts;
    char sig[PIER_SIGV2_SIGLEN + 1];
    int rc;

    PIER_ASSERT(req->expires != NULL);
    pier_buf_init(&sts, SIZE_MAX);
    rc = pier_sigv2_string_to_sign(req, &sts, err);
    if (rc == PIER_OK) {
        pier_sigv2_signature(secret, pier_buf_str(&sts), sig);
        if (pier_buf_adds(out_query, "AWSAccessKeyId=") != PIER_OK
            || pier_sigv4_uri_encode(pier_str_cstr(access_key_id), false,
                                     out_query, err)
                   != PIER_OK
            || pier_buf_addf(out_query, "&Expires=%s&Signature=", req->expires)
                   != PIER_OK
            || pier_sigv4_uri_encode(pier_str_cstr(sig), false, out_query, err)
                   != PIER_OK) {
            rc = full_err(err);
        }
    }
    pier_buf_release(&sts);
    return rc;
}

static int
month_of(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int i;

    for (i = 0; i < 12; i++) {
        if (memcmp(p, names + 3 * i, 3) == 0) {
            return i;
        }
    }
    return -1;
}

static bool
all_digits(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

static int
num(const char *p, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int
pier_http_date_parse(struct pier_str s, time_t *t)
{
    /* "Tue, 27 Mar 2007 19:36:42 +0000" or "... GMT"; the day may have
     * one digit. */
    char buf[40];
    const char *p;
    struct tm tm;
    size_t n = s.len, dl;
    long off = 0;
    time_t r;

    if (n < 25 || n >= sizeof(buf)) {
        return PIER_ERR;
    }
    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    if (buf[3] != ',' || buf[4] != ' ') {
        return PIER_ERR;
    }
    p = buf + 5;
    dl = p[1] == ' ' ? 1 : 2;
    if (!all_digits(p, dl) || p[dl] != ' ') {
        return PIER_ERR;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = num(p, dl);
    p += dl + 1;
    if ((size_t) (buf + n - p) < 20) {
        return PIER_ERR;
    }
    tm.tm_mon = month_of(p);
    if (tm.tm_mon < 0 || p[3] != ' ' || !all_digits(p + 4, 4) || p[8] != ' '
        || !all_digits(p + 9, 2) || p[11] != ':' || !all_digits(p + 12, 2)
        || p[14] != ':' || !all_digits(p + 15, 2) || p[17] != ' ') {
        return PIER_ERR;
    }
    tm.tm_year = num(p + 4, 4) - 1900;
    tm.tm_hour = num(p + 9, 2);
    tm.tm_min = num(p + 12, 2);
    tm.tm_sec = num(p + 15, 2);
    p += 18;
    if (strcmp(p, "GMT") == 0 || strcmp(p, "UTC") == 0 || strcmp(p, "Z") == 0) {
        off = 0;
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 5
               && all_digits(p + 1, 4)) {
        off = (num(p + 1, 2) * 60L + num(p + 3, 2)) * 60L;
        if (p[0] == '-') {
            off = -off;
        }
    } else {
        return PIER_ERR;
    }
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
        || tm.tm_sec > 60) {
        return PIER_ERR;
    }
    r = timegm(&tm);
    if (r == (time_t) -1) {
        return PIER_ERR;
    }
    *t = r - off;
    return PIER_OK;
}

int
pier_iso8601_parse(struct pier_str s, int64_t *ms)
{
    struct tm tm;
    const char *p = s.ptr, *end = s.ptr + s.len;
    int frac = 0, scale = 100;
    struct pier_str zone;
    time_t t;

    if (s.len < 20 || !all_digits(p, 4) || p[4] != '-' || !all_digits(p + 5, 2)
        || p[7] != '-' || !all_digits(p + 8, 2)
        || (p[10] != 'T' && p[10] != 't') || !all_digits(p + 11, 2)
        || p[13] != ':' || !all_digits(p + 14, 2) || p[16] != ':'
        || !all_digits(p + 17, 2)) {
        return PIER_ERR;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = num(p, 4) - 1900;
    tm.tm_mon = num(p + 5, 2) - 1;
    tm.tm_mday = num(p + 8, 2);
    tm.tm_hour = num(p + 11, 2);
    tm.tm_min = num(p + 14, 2);
    tm.tm_sec = num(p + 17, 2);
    if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1
        || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
        || tm.tm_sec > 60) {
        return PIER_ERR;
    }
    p += 19;
    if (p < end && *p == '.') {
        if (++p == end || *p < '0' || *p > '9') {
            return PIER_ERR;
        }
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale; /* milliseconds: the rest is 0 */
            scale /= 10;
        }
    }
    zone = pier_str_make(p, (size_t) (end - p));
    if (!pier_str_eq(zone, PIER_STR("Z"))
        && !pier_str_eq(zone, PIER_STR("+00:00"))) {
        return PIER_ERR;
    }
    t = timegm(&tm);
    if (t == (time_t) -1) {
        return PIER_ERR;
    }
    *ms = (int64_t) t * 1000 + frac;
    return PIER_OK;
}

/* The value of query parameter name, decoded, in out; PIER_AGAIN when
 * absent. Signature values keep '+' (base64), as some clients leave it
 * unescaped. */
static int
qparam(struct pier_str query, const char *name, bool plus_literal,
       struct pier_buf *out, struct pier_err *err)
{
    int rc;
    size_t i;

    pier_buf_reset(out);
    rc = pier_query_get(query, pier_str_cstr(name), out, err);
    if (rc != PIER_OK || !plus_literal) {
        return rc;
    }
    /* pier_query_get() read '+' as a space; a base64 value has no
     * spaces, so put them back. */
    for (i = 0; i < out->len; i++) {
        if (out->data[i] == ' ') {
            out->data[i] = '+';
        }
    }
    return PIER_OK;
}

int
pier_sigv2_verify(const struct pier_sigv4_verify_req *req,
                  enum pier_sigv4_form form, struct pier_sigv4_auth *auth,
                  struct pier_err *err)
{
    struct pier_buf akid, sigb, expires, sts;
    struct pier_str authz, sig, date;
    struct pier_sigv2_req v2;
    const char *secret;
    unsigned char want[PIER_SHA1_LEN], got[PIER_SHA1_LEN];
    size_t gotlen = 0;
    time_t t = 0;
    char *method = NULL;
    int rc = PIER_ERR;
    struct pier_err ignore;

    pier_buf_init(&akid, 1024);
    pier_buf_init(&sigb, 1024);
    pier_buf_init(&expires, 64);
    pier_buf_init(&sts, SIZE_MAX);
    memset(&v2, 0, sizeof(v2));
    if (form == PIER_AUTH_V2_HEADER) {
        const char *colon;

        authz =
            pier_kv_get(req->headers, req->nheaders, PIER_STR("Authorization"));
        PIER_ASSERT(authz.len >= 4);
        authz.ptr += 4;
        authz.len -= 4;
        colon = memchr(authz.ptr, ':', authz.len);
        if (colon == NULL || colon == authz.ptr) {
            rc = pier_err_s3(err, PIER_S3_AUTH_HEADER_MALFORMED,
                             "SigV2 Authorization without key:signature");
            goto out;
        }
        if (pier_buf_add(&akid, authz.ptr, (size_t) (colon - authz.ptr))
            != PIER_OK) {
            rc = pier_err_s3(err, PIER_S3_INVALID_ACCESS_KEY_ID,
                             "access key id too long");
            goto out;
        }
        sig = pier_str_make(colon + 1,
                            authz.len - (size_t) (colon - authz.ptr) - 1);
        date = pier_kv_get(req->headers, req->nheaders, PIER_STR("x-amz-date"));
        if (date.ptr == NULL) {
            date = pier_kv_get(req->headers, req->nheaders, PIER_STR("Date"));
        }
        if (date.ptr == NULL) {
            rc = pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                             "SigV2 request without Date or x-amz-date");
            goto out;
        }
        while (date.len > 0 && is_space((unsigned char) date.ptr[0])) {
            date.ptr++;
            date.len--;
        }
        while (date.len > 0
               && is_space((unsigned char) date.ptr[date.len - 1])) {
            date.len--;
        }
        if (pier_http_date_parse(date, &t) != PIER_OK
            && pier_sigv4_parse_date(date, &t) != PIER_OK) {
            rc = pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                             "SigV2 request with a bad date");
            goto out;
        }
    } else {
        const char *p;

        if (qparam(req->query, "AWSAccessKeyId", false, &akid, &ignore)
                != PIER_OK
            || qparam(req->query, "Signature", true, &sigb, &ignore) != PIER_OK
            || qparam(req->query, "Expires", false, &expires, &ignore)
                   != PIER_OK) {
            rc = pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                             "query-string authentication requires the "
                             "Signature, Expires and AWSAccessKeyId "
                             "parameters");
            goto out;
        }
        sig = pier_buf_str(&sigb);
        if (expires.len == 0 || expires.len > 15
            || !all_digits(expires.data, expires.len)) {
            rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                             "bad Expires parameter");
            goto out;
        }
        t = 0;
        for (p = expires.data; *p != '\0'; p++) {
            t = t * 10 + (*p - '0');
        }
        v2.expires = expires.data;
    }
    if (akid.len == 0 || akid.len >= sizeof(auth->access_key_id)) {
        rc = pier_err_s3(err, PIER_S3_INVALID_ACCESS_KEY_ID,
                         "access key id of %zu bytes", akid.len);
        goto out;
    }
    secret = req->lookup(req->lookup_data, pier_buf_str(&akid));
    if (secret == NULL) {
        rc = pier_err_s3(err, PIER_S3_INVALID_ACCESS_KEY_ID,
                         "unknown access key id '%.64s'", akid.data);
        goto out;
    }
    if (form == PIER_AUTH_V2_HEADER) {
        if (t > req->now + PIER_SIGV4_MAX_SKEW_S
            || t < req->now - PIER_SIGV4_MAX_SKEW_S) {
            rc = pier_err_s3(err, PIER_S3_REQUEST_TIME_TOO_SKEWED,
                             "request time %lld is %lld s from now",
                             (long long) t, (long long) (t - req->now));
            goto out;
        }
    } else if (req->now > t) {
        rc = pier_err_s3(err, PIER_S3_ACCESS_DENIED, "request has expired");
        goto out;
    }
    method = pier_strndup(req->method.ptr, req->method.len);
    v2.method = method;
    v2.resource_prefix = req->v2_resource_prefix;
    v2.path = req->path;
    v2.query = req->query;
    v2.headers = req->headers;
    v2.nheaders = req->nheaders;
    if (pier_sigv2_string_to_sign(&v2, &sts, err) != PIER_OK) {
        goto out;
    }
    pier_hmac_sha1(secret, strlen(secret), sts.data, sts.len, want);
    if (pier_base64_decode(sig.ptr, sig.len, got, sizeof(got), &gotlen, &ignore)
            != PIER_OK
        || gotlen != sizeof(got)
        || CRYPTO_memcmp(want, got, sizeof(want)) != 0) {
        rc = pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                         "SigV2 signature does not match for key '%s'",
                         akid.data);
        goto out;
    }
    memset(auth, 0, sizeof(*auth));
    auth->form = form;
    memcpy(auth->access_key_id, akid.data, akid.len + 1);
    auth->payload = PIER_PAYLOAD_UNSIGNED;
    auth->request_time = t;
    rc = PIER_OK;
out:
    pier_free(method);
    pier_buf_release(&akid);
    pier_buf_release(&sigb);
    pier_buf_release(&expires);
    pier_buf_release(&sts);
    return rc;
}
