/*
 * objstore/router.c - S3 request routing.
 */
#include "config.h"

#include "objstore/router.h"

#include "objstore/store.h"

#include <strings.h>

static const char *const op_names[OBJSTORE_OP_MAX] = {
#define XX(name, s3name) [OBJSTORE_OP_##name] = s3name,
    OBJSTORE_OPS(XX)
#undef XX
};

const char *
objstore_op_name(enum objstore_op op)
{
    return (unsigned) op < OBJSTORE_OP_MAX ? op_names[op] : "Unknown";
}

/* Sub-resources S3 has and this store does not implement; with their
 * lengths, as every parameter of every request is looked up here. */
#define NAME(lit) {(lit), sizeof(lit) - 1}
static const struct pier_str unsupported[] = {
    NAME("accelerate"),
    NAME("acl"),
    NAME("analytics"),
    NAME("attributes"),
    NAME("cors"),
    NAME("encryption"),
    NAME("intelligent-tiering"),
    NAME("inventory"),
    NAME("legal-hold"),
    NAME("lifecycle"),
    NAME("logging"),
    NAME("metrics"),
    NAME("notification"),
    NAME("object-lock"),
    NAME("ownershipControls"),
    NAME("policy"),
    NAME("policyStatus"),
    NAME("publicAccessBlock"),
    NAME("replication"),
    NAME("requestPayment"),
    NAME("restore"),
    NAME("retention"),
    NAME("select"),
    NAME("tagging"),
    NAME("torrent"),
    NAME("versionId"),
    NAME("versioning"),
    NAME("versions"),
    NAME("website"),
};
#undef NAME

void
objstore_route_init(struct objstore_route *r)
{
    r->op = OBJSTORE_OP_HEALTH;
    r->vhost = false;
    pier_buf_init(&r->bucket, 256);
    pier_buf_init(&r->key, 4 * OBJSTORE_KEY_MAX);
}

void
objstore_route_release(struct objstore_route *r)
{
    pier_buf_release(&r->bucket);
    pier_buf_release(&r->key);
}

/* ---- query strings ---- */

bool
objstore_query_next(struct pier_str query, size_t *pos, struct pier_str *name,
                    struct pier_str *value, bool *has_value)
{
    const char *p, *end = query.ptr + query.len, *amp, *eq;

    while (*pos < query.len) {
        p = query.ptr + *pos;
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        *pos = (size_t) (amp - query.ptr) + 1;
        if (amp == p) {
            continue; /* "a&&b" */
        }
        eq = memchr(p, '=', (size_t) (amp - p));
        if (eq == NULL) {
            *name = pier_str_make(p, (size_t) (amp - p));
            *value = pier_str_make(amp, 0);
        } else {
            *name = pier_str_make(p, (size_t) (eq - p));
            *value = pier_str_make(eq + 1, (size_t) (amp - eq - 1));
        }
        if (has_value != NULL) {
            *has_value = eq != NULL;
        }
        return true;
    }
    return false;
}

bool
objstore_query_has(struct pier_str query, const char *name)
{
    struct pier_str n, v;
    size_t pos = 0;

    while (objstore_query_next(query, &pos, &n, &v, NULL)) {
        if (pier_str_eq(n, pier_str_cstr(name))) {
            return true;
        }
    }
    return false;
}

int
objstore_query_get(struct pier_str query, const char *name,
                   struct pier_buf *out)
{
    struct pier_str n, v;
    size_t pos = 0;

    while (objstore_query_next(query, &pos, &n, &v, NULL)) {
        if (pier_str_eq(n, pier_str_cstr(name))) {
            return objstore_pct_decode(v, true, out);
        }
    }
    return PIER_AGAIN;
}

int
objstore_pct_decode(struct pier_str s, bool plus_space, struct pier_buf *out)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        int hi, lo;

        if (c == '%' && i + 2 < s.len) {
            hi = pier_hexval((unsigned char) s.ptr[i + 1]);
            lo = pier_hexval((unsigned char) s.ptr[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char) (hi * 16 + lo);
                i += 2;
            }
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (pier_buf_addch(out, c) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

/* ---- routing ---- */

/* The bucket named by Host for one of the domains, or an empty view. */
static struct pier_str
vhost_bucket(const struct objstore_route_in *in)
{
    struct pier_str host = in->host;
    size_t i, k;

    /* Strip the port; an IPv6 literal ("[::1]:9000") names no bucket. */
    if (host.len > 0 && host.ptr[0] == '[') {
        return PIER_STR_NULL;
    }
    for (k = 0; k < host.len; k++) {
        if (host.ptr[k] == ':') {
            host.len = k;
            break;
        }
    }
    if (host.len > 0 && host.ptr[host.len - 1] == '.') {
        host.len--; /* a fully qualified "bucket.localhost." */
    }
    for (i = 0; i < in->ndomains; i++) {
        size_t dl = strlen(in->domains[i]);

        if (host.len > dl + 1 && host.ptr[host.len - dl - 1] == '.'
            && strncasecmp(host.ptr + host.len - dl, in->domains[i], dl) == 0) {
            return pier_str_make(host.ptr, host.len - dl - 1);
        }
    }
    return PIER_STR_NULL;
}

static bool
method_is(const struct objstore_route_in *in, const char *m)
{
    return pier_str_eq(in->method, pier_str_cstr(m));
}

static int
service_op(const struct objstore_route_in *in, struct objstore_route *r,
           struct pier_err *err)
{
    if (method_is(in, "GET")) {
        r->op = OBJSTORE_OP_LIST_BUCKETS;
        return PIER_OK;
    }
    return pier_err_s3(err, PIER_S3_METHOD_NOT_ALLOWED, "%.*s on the service",
                       (int) in->method.len, in->method.ptr);
}

static int
bucket_op(const struct objstore_route_in *in, struct objstore_route *r,
          struct pier_err *err)
{
    struct pier_str q = in->query;

    if (method_is(in, "GET")) {
        if (objstore_query_has(q, "location")) {
            r->op = OBJSTORE_OP_GET_BUCKET_LOCATION;
        } else if (objstore_query_has(q, "versioning")) {
            /* Buckets are never versioned; clients (rclone) ask. */
            r->op = OBJSTORE_OP_GET_BUCKET_VERSIONING;
        } else if (objstore_query_has(q, "uploads")) {
            r->op = OBJSTORE_OP_LIST_UPLOADS;
        } else {
            struct pier_buf lt;
            int rc;

            pier_buf_init(&lt, 16);
            rc = objstore_query_get(q, "list-type", &lt);
            r->op =
                rc == PIER_OK && pier_str_eq(pier_buf_str(&lt), PIER_STR("2"))
                    ? OBJSTORE_OP_LIST_OBJECTS_V2
                    : OBJSTORE_OP_LIST_OBJECTS;
            pier_buf_release(&lt);
        }
        return PIER_OK;
    }
    if (method_is(in, "HEAD")) {
        r->op = OBJSTORE_OP_HEAD_BUCKET;
        return PIER_OK;
    }
    if (method_is(in, "PUT")) {
        r->op = OBJSTORE_OP_CREATE_BUCKET;
        return PIER_OK;
    }
    if (method_is(in, "DELETE")) {
        r->op = OBJSTORE_OP_DELETE_BUCKET;
        return PIER_OK;
    }
    if (method_is(in, "POST")) {
        if (objstore_query_has(q, "delete")) {
            r->op = OBJSTORE_OP_DELETE_OBJECTS;
            return PIER_OK;
        }
        /* Browser-form uploads (POST Object). */
        return pier_err_s3(err, PIER_S3_NOT_IMPLEMENTED, "POST on a bucket");
    }
    return pier_err_s3(err, PIER_S3_METHOD_NOT_ALLOWED, "%.*s on a bucket",
                       (int) in->method.len, in->method.ptr);
}

static int
object_op(const struct objstore_route_in *in, struct objstore_route *r,
          struct pier_err *err)
{
    struct pier_str q = in->query;
    bool upload = objstore_query_has(q, "uploadId");

    if (objstore_query_has(in->query, "versioning")) {
        return pier_err_s3(err, PIER_S3_NOT_IMPLEMENTED,
                           "sub-resource 'versioning' on an object");
    }
    if (method_is(in, "GET")) {
        r->op = upload ? OBJSTORE_OP_LIST_PARTS : OBJSTORE_OP_GET_OBJECT;
        return PIER_OK;
    }
    if (method_is(in, "HEAD")) {
        r->op = OBJSTORE_OP_HEAD_OBJECT;
        return PIER_OK;
    }
    if (method_is(in, "PUT")) {
        if (upload || objstore_query_has(q, "partNumber")) {
            if (in->copy_source) {
                return pier_err_s3(err, PIER_S3_NOT_IMPLEMENTED,
                                   "UploadPartCopy");
            }
            if (!upload || !objstore_query_has(q, "partNumber")) {
                return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                                   "uploadId and partNumber go together");
            }
            r->op = OBJSTORE_OP_UPLOAD_PART;
            return PIER_OK;
        }
        r->op =
            in->copy_source ? OBJSTORE_OP_COPY_OBJECT : OBJSTORE_OP_PUT_OBJECT;
        return PIER_OK;
    }
    if (method_is(in, "DELETE")) {
        r->op = upload ? OBJSTORE_OP_ABORT_UPLOAD : OBJSTORE_OP_DELETE_OBJECT;
        return PIER_OK;
    }
    if (method_is(in, "POST")) {
        if (objstore_query_has(q, "uploads")) {
            r->op = OBJSTORE_OP_CREATE_UPLOAD;
            return PIER_OK;
        }
        if (upload) {
            r->op = OBJSTORE_OP_COMPLETE_UPLOAD;
            return PIER_OK;
        }
        return pier_err_s3(err, PIER_S3_NOT_IMPLEMENTED, "POST on an object");
    }
    return pier_err_s3(err, PIER_S3_METHOD_NOT_ALLOWED, "%.*s on an object",
                       (int) in->method.len, in->method.ptr);
}

int
objstore_route(const struct objstore_route_in *in, struct objstore_route *r,
               struct pier_err *err)
{
    struct pier_str path = in->path, vb, seg, rest;
    struct pier_str n, v;
    const char *slash;
    size_t pos = 0, i;

    pier_buf_reset(&r->bucket);
    pier_buf_reset(&r->key);
    r->vhost = false;
    if (path.len == 0 || path.ptr[0] != '/') {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "request target is not an absolute path");
    }
    if (pier_str_eq(path, PIER_STR("/_pier/health"))
        && (method_is(in, "GET") || method_is(in, "HEAD"))
        && vhost_bucket(in).len == 0) {
        r->op = OBJSTORE_OP_HEALTH;
        return PIER_OK;
    }
    while (objstore_query_next(in->query, &pos, &n, &v, NULL)) {
        /* GET ?versioning on a bucket is answered (never versioned);
         * the bucket and object routes refuse every other use of it. */
        if (pier_str_eq(n, PIER_STR("versioning")) && method_is(in, "GET")) {
            continue;
        }
        for (i = 0; i < PIER_NELEMS(unsupported); i++) {
            if (pier_str_eq(n, unsupported[i])) {
                return pier_err_s3(err, PIER_S3_NOT_IMPLEMENTED,
                                   "sub-resource '%s'", unsupported[i].ptr);
            }
        }
    }
    vb = vhost_bucket(in);
    if (vb.len > 0) {
        r->vhost = true;
        if (pier_buf_addstr(&r->bucket, vb) != PIER_OK) {
            return pier_err_s3(err, PIER_S3_INVALID_BUCKET_NAME,
                               "bucket name too long");
        }
        /* Host names are case-insensitive; bucket names are lower case. */
        for (i = 0; i < r->bucket.len; i++) {
            if (r->bucket.data[i] >= 'A' && r->bucket.data[i] <= 'Z') {
                r->bucket.data[i] = (char) (r->bucket.data[i] - 'A' + 'a');
            }
        }
        rest = pier_str_make(path.ptr + 1, path.len - 1);
    } else {
        slash = memchr(path.ptr + 1, '/', path.len - 1);
        seg = pier_str_make(
            path.ptr + 1,
            (size_t) ((slash != NULL ? slash : path.ptr + path.len) - path.ptr
                      - 1));
        if (seg.len == 0) {
            return service_op(in, r, err);
        }
        if (objstore_pct_decode(seg, false, &r->bucket) != PIER_OK) {
            return pier_err_s3(err, PIER_S3_INVALID_BUCKET_NAME,
                               "bucket name too long");
        }
        rest = slash != NULL ? pier_str_make(
                   slash + 1, (size_t) (path.ptr + path.len - slash - 1))
                             : PIER_STR("");
    }
    if (!objstore_bucket_name_ok(pier_buf_str(&r->bucket))) {
        return pier_err_s3(err, PIER_S3_INVALID_BUCKET_NAME,
                           "invalid bucket name");
    }
    if (rest.len == 0) {
        return bucket_op(in, r, err);
    }
    if (objstore_pct_decode(rest, false, &r->key) != PIER_OK
        || r->key.len > OBJSTORE_KEY_MAX) {
        return pier_err_s3(err, PIER_S3_KEY_TOO_LONG, "key too long");
    }
    if (!objstore_utf8_ok(pier_buf_str(&r->key))) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "key is not UTF-8 or holds NUL");
    }
    return object_op(in, r, err);
}
