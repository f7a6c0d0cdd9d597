/*
 * objstore/server.c - the S3 API: one struct oreq per request, from the
 * handler through the thread pool and back. See server.h.
 */
#include "config.h"

#include "objstore/server.h"

#include "lib/awschunk.h"
#include "lib/log.h"
#include "lib/sha.h"
#include "lib/sigv2.h"
#include "lib/sigv4.h"
#include "objstore/cond.h"
#include "objstore/router.h"
#include "objstore/xml.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SERVER_MAGIC 0x6d1f0b3au
#define OREQ_MAGIC   0x42c9e870u
#define WHOLE_MAX    (4 * 1024 * 1024) /* XML request bodies */
#define META_MAX     8192              /* stored metadata, all pairs */
#define OWNER_ID     "pier"
#define OWNER_NAME   "pier"
#define READERS_MAX  257 /* worker loops with a reader of their own */

struct objstore_server {
    unsigned magic;
    struct objstore *st;
    char *keys_path;
    char region[64];
    char **domains;
    size_t ndomains;
    pthread_mutex_t mu; /* guards keys */
    struct objstore_keys *keys;
    /* Slot i belongs to worker i's thread: opened there on its first GET,
     * closed by objstore_server_free(). */
    struct objstore_reader *readers[READERS_MAX];
    bool reader_failed[READERS_MAX];
};

struct oreq {
    unsigned magic;
    struct objstore_server *srv;
    struct pier_http_req *req; /* NULL once the core finished it */
    bool busy;                 /* work queued on the thread pool */
    bool answered;
    bool body_asked; /* read_body or read_whole was called */
    uv_work_t work;
    char id[32];

    /* Copies of the request, valid whatever the connection does. */
    struct pier_buf copy;
    struct pier_str method, path, query, host;
    struct pier_kv *hdrs;
    size_t nhdrs;

    struct objstore_keys *keys; /* a reference */
    const struct objstore_key *key;
    struct pier_sigv4_auth auth;
    struct objstore_route route;
    bool route_ok;
    struct pier_err route_err;

    /* Bodies. */
    struct objstore_put *put;
    bool chunked; /* aws-chunked: decode through ck */
    struct pier_awschunk ck;
    struct objstore_put_check check;
    uint8_t md5[16];
    uint8_t sha256[32];
    struct pier_buf body;

    /* The answer. */
    int status;
    struct pier_err err; /* status 0 and err set: an error document */
    bool failed;
    struct pier_buf rh;  /* response headers: "name\0value\0"... */
    struct pier_buf out; /* response body */
    int fd;
    struct objstore_body *mem; /* or the bytes themselves (small objects) */
    uint64_t off, len;
    uint64_t size; /* of the object, for a 416's Content-Range */
};

/* ---- the server ---- */

struct objstore_server *
objstore_server_new(struct objstore *st, const char *keys_path,
                    const struct objstore_server_config *cfg,
                    struct pier_err *err)
{
    struct objstore_server *srv = pier_calloc(1, sizeof(*srv));
    size_t i;

    srv->magic = SERVER_MAGIC;
    srv->st = st;
    srv->keys_path = pier_strdup(keys_path);
    snprintf(srv->region, sizeof(srv->region), "%s",
             cfg != NULL && cfg->region != NULL ? cfg->region : "us-east-1");
    if (cfg != NULL && cfg->ndomains > 0) {
        srv->domains = pier_calloc(cfg->ndomains, sizeof(char *));
        for (i = 0; i < cfg->ndomains; i++) {
            srv->domains[i] = pier_strdup(cfg->domains[i]);
        }
        srv->ndomains = cfg->ndomains;
    }
    PIER_ASSERT(pthread_mutex_init(&srv->mu, NULL) == 0);
    srv->keys = objstore_keys_load(keys_path, false, err);
    if (srv->keys == NULL) {
        objstore_server_free(srv);
        return NULL;
    }
    return srv;
}

void
objstore_server_free(struct objstore_server *srv)
{
    size_t i;

    if (srv == NULL) {
        return;
    }
    PIER_CHECK_OBJ(srv, SERVER_MAGIC);
    for (i = 0; i < READERS_MAX; i++) {
        objstore_reader_close(srv->readers[i]);
    }
    objstore_keys_unref(srv->keys);
    for (i = 0; i < srv->ndomains; i++) {
        pier_free(srv->domains[i]);
    }
    pier_free(srv->domains);
    pier_free(srv->keys_path);
    pthread_mutex_destroy(&srv->mu);
    srv->magic = 0;
    pier_free(srv);
}

int
objstore_server_reload(struct objstore_server *srv, struct pier_err *err)
{
    struct objstore_keys *keys, *old;

    PIER_CHECK_OBJ(srv, SERVER_MAGIC);
    keys = objstore_keys_load(srv->keys_path, false, err);
    if (keys == NULL) {
        return PIER_ERR;
    }
    PIER_ASSERT(pthread_mutex_lock(&srv->mu) == 0);
    old = srv->keys;
    srv->keys = keys;
    PIER_ASSERT(pthread_mutex_unlock(&srv->mu) == 0);
    objstore_keys_unref(old);
    return PIER_OK;
}

static struct objstore_keys *
keys_get(struct objstore_server *srv)
{
    struct objstore_keys *k;

    PIER_ASSERT(pthread_mutex_lock(&srv->mu) == 0);
    k = objstore_keys_ref(srv->keys);
    PIER_ASSERT(pthread_mutex_unlock(&srv->mu) == 0);
    return k;
}

/* ---- small helpers ---- */

/* For appends whose buffer is sized so they cannot fail, or whose failure
 * only shortens an optional part of an answer. */
static void
best_effort(int rc)
{
    (void) rc;
}

static struct pier_str
hdr(const struct oreq *o, const char *name)
{
    return pier_kv_get(o->hdrs, o->nhdrs, pier_str_cstr(name));
}

static bool
hdr_has(const struct oreq *o, const char *name)
{
    return hdr(o, name).ptr != NULL;
}

static void
resp_header(struct oreq *o, const char *name, struct pier_str value)
{
    /* Names and values of responses are ours or stored metadata that was
     * a valid header when it came in; the cap only guards memory. */
    if (objstore_meta_add(&o->rh, pier_str_cstr(name), value) != PIER_OK) {
        pier_log(PIER_LOG_WARN, "objstore",
                 "response headers too large (req %s)", o->id);
    }
}

static void resp_headerf(struct oreq *o, const char *name, const char *fmt, ...)
    PIER_PRINTF(3, 4);

static void
resp_headerf(struct oreq *o, const char *name, const char *fmt, ...)
{
    char v[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    resp_header(o, name, pier_str_cstr(v));
}

/* Two decimal digits of v (0-99) at p. */
static char *
put2(char *p, int v)
{
    p[0] = (char) ('0' + v / 10 % 10);
    p[1] = (char) ('0' + v % 10);
    return p + 2;
}

/* An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes and a NUL):
 * by hand, as every GetObject answers one. */
static void
http_date(int64_t ms, char out[40])
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    int year;
    char *p = out;

    gmtime_r(&t, &tm);
    year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        year = year < 0 ? 0 : 9999;
    }
    memcpy(p, days + 3 * (tm.tm_wday % 7), 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months + 3 * (tm.tm_mon % 12), 3);
    p += 3;
    *p++ = ' ';
    p = put2(p, year / 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
}

/* The ETag header of an object: its etag, quoted. */
static void
resp_etag(struct oreq *o, const char *etag)
{
    char v[OBJSTORE_ETAG_MAX + 3];
    size_t n = strlen(etag);

    PIER_ASSERT(n < OBJSTORE_ETAG_MAX);
    v[0] = '"';
    memcpy(v + 1, etag, n);
    v[n + 1] = '"';
    resp_header(o, "ETag", pier_str_make(v, n + 2));
}

/* Fail o with an S3 error (the answer is an error document). */
static void
fail(struct oreq *o, const struct pier_err *err)
{
    o->failed = true;
    o->err = *err;
}

static void
fail_s3(struct oreq *o, enum pier_s3 s3, const char *msg)
{
    struct pier_err err;

    pier_err_s3(&err, s3, "%s", msg);
    fail(o, &err);
}

static void
set_xml(struct oreq *o, int status)
{
    o->status = status;
    resp_header(o, "Content-Type", PIER_STR("application/xml"));
}

static void
out_full(struct oreq *o)
{
    fail_s3(o, PIER_S3_INTERNAL_ERROR, "response too large");
}

/* Parse a decimal count for max-keys and the like; def when absent. */
static int
query_count(struct oreq *o, const char *name, size_t def, size_t *out)
{
    struct pier_buf b;
    int rc;
    size_t i, v = 0;

    pier_buf_init(&b, 32);
    rc = objstore_query_get(o->query, name, &b);
    if (rc == PIER_AGAIN) {
        *out = def;
        pier_buf_release(&b);
        return PIER_OK;
    }
    if (rc != PIER_OK || b.len == 0 || b.len > 9) {
        pier_buf_release(&b);
        fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad count");
        return PIER_ERR;
    }
    for (i = 0; i < b.len; i++) {
        if (b.data[i] < '0' || b.data[i] > '9') {
            pier_buf_release(&b);
            fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad count");
            return PIER_ERR;
        }
        v = v * 10 + (size_t) (b.data[i] - '0');
    }
    pier_buf_release(&b);
    *out = v;
    return PIER_OK;
}

static struct pier_str
bucket(const struct oreq *o)
{
    return pier_buf_str(&o->route.bucket);
}

static struct pier_str
key(const struct oreq *o)
{
    return pier_buf_str(&o->route.key);
}

/* The metadata a PUT, a copy with REPLACE or a multipart create keeps. */
static int
collect_meta(struct oreq *o, struct pier_buf *meta)
{
    static const char *const kept[] = {
        "content-type",     "cache-control", "content-disposition",
        "content-language", "expires",       "content-encoding",
    };
    size_t i, k;

    for (i = 0; i < o->nhdrs; i++) {
        struct pier_str n = o->hdrs[i].name, v = o->hdrs[i].value;
        char lower[256];
        bool keep = false;

        if (n.len >= sizeof(lower)) {
            continue;
        }
        for (k = 0; k < n.len; k++) {
            char c = n.ptr[k];
            lower[k] = (char) (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        lower[n.len] = '\0';
        for (k = 0; k < PIER_NELEMS(kept); k++) {
            keep |= strcmp(lower, kept[k]) == 0;
        }
        keep |= strncmp(lower, "x-amz-meta-", 11) == 0;
        if (!keep) {
            continue;
        }
        if (strcmp(lower, "content-encoding") == 0) {
            /* aws-chunked describes the transfer, not the object. */
            if (pier_str_caseeq(v, PIER_STR("aws-chunked"))) {
                continue;
            }
            if (v.len > 12 && strncasecmp(v.ptr, "aws-chunked,", 12) == 0) {
                v.ptr += 12;
                v.len -= 12;
                while (v.len > 0 && v.ptr[0] == ' ') {
                    v.ptr++;
                    v.len--;
                }
            }
        }
        if (objstore_meta_add(meta, pier_str_cstr(lower), v) != PIER_OK) {
            fail_s3(o, PIER_S3_INVALID_ARGUMENT, "metadata too large");
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

static void
cond_from(struct oreq *o, struct objstore_cond *cond)
{
    struct pier_str inm = hdr(o, "if-none-match");

    memset(cond, 0, sizeof(*cond));
    cond->if_none_match_star =
        inm.ptr != NULL && pier_str_eq(inm, PIER_STR("*"));
    if (hdr_has(o, "if-match")) {
        cond->if_match = hdr(o, "if-match");
    }
}

/* If-None-Match on a write: only "*" is meaningful (as S3). */
static int
check_write_cond(struct oreq *o)
{
    struct pier_str inm = hdr(o, "if-none-match");

    if (inm.ptr != NULL && !pier_str_eq(inm, PIER_STR("*"))) {
        fail_s3(o, PIER_S3_NOT_IMPLEMENTED, "If-None-Match other than *");
        return PIER_ERR;
    }
    return PIER_OK;
}

/* ---- answers ---- */

static void
oreq_free(struct oreq *o)
{
    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    objstore_put_abort(o->put);
    if (o->chunked) {
        pier_awschunk_release(&o->ck);
    }
    if (o->fd != -1) {
        close(o->fd);
    }
    objstore_body_unref(o->mem); /* on the loop of the reader that made it */
    objstore_keys_unref(o->keys);
    objstore_route_release(&o->route);
    pier_buf_release(&o->copy);
    pier_buf_release(&o->body);
    pier_buf_release(&o->rh);
    pier_buf_release(&o->out);
    pier_free(o->hdrs);
    OPENSSL_cleanse(&o->auth, sizeof(o->auth)); /* holds a signing key */
    o->magic = 0;
    pier_free(o);
}

static void
on_finish(struct pier_http_req *req, bool completed, void *ctx)
{
    struct oreq *o = ctx;

    (void) req;
    (void) completed;
    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    o->req = NULL;
    if (!o->busy) {
        oreq_free(o);
    }
}

/* Build the error document of o->err into o's answer. */
static void
error_answer(struct oreq *o)
{
    enum pier_s3 s3 = o->err.s3;
    int status = o->err.http != 0 ? o->err.http : pier_s3_status(s3);
    struct pier_str extra = PIER_STR_NULL;
    const char *extra_name = NULL;

    if (status >= 500) {
        pier_log(PIER_LOG_ERROR, "objstore", "%s %.*s: %s (req %s)",
                 objstore_op_name(o->route.op), (int) o->path.len, o->path.ptr,
                 o->err.msg, o->id);
    } else {
        PIER_DEBUG("objstore", "%s %.*s: %s: %s (req %s)",
                   objstore_op_name(o->route.op), (int) o->path.len,
                   o->path.ptr, pier_s3_code(s3), o->err.msg, o->id);
    }
    pier_buf_reset(&o->rh);
    pier_buf_reset(&o->out);
    if (o->fd != -1) {
        close(o->fd);
        o->fd = -1;
    }
    objstore_body_unref(o->mem);
    o->mem = NULL;
    if (s3 == PIER_S3_NONE && o->err.http != 0) {
        s3 = PIER_S3_NONE; /* a plain HTTP status from below */
    }
    if (s3 == PIER_S3_NO_SUCH_KEY && o->route.key.len > 0) {
        extra_name = "Key";
        extra = key(o);
    } else if (s3 == PIER_S3_NO_SUCH_BUCKET) {
        extra_name = "BucketName";
        extra = bucket(o);
    }
    o->status = status;
    if (status == 304) {
        return;
    }
    resp_header(o, "Content-Type", PIER_STR("application/xml"));
    if (objstore_xml_error(&o->out, s3, o->path, o->id, extra_name, extra)
        != PIER_OK) {
        pier_buf_reset(&o->out);
    }
}

/* Send o's answer on the loop. */
static void
answer(struct oreq *o)
{
    struct pier_http_req *req = o->req;
    struct pier_str n, v;
    size_t pos = 0;
    int fd;

    PIER_ASSERT(req != NULL && !o->answered);
    o->answered = true;
    if (o->failed) {
        error_answer(o);
    }
    /* Each name in rh ends with its NUL (objstore_meta_add). */
    while (objstore_meta_next(&o->rh, &pos, &n, &v)) {
        (void) pier_http_resp_header(req, n.ptr, v);
    }
    (void) pier_http_resp_header(req, "x-amz-request-id", pier_str_cstr(o->id));
    /* A client that asked "Expect: 100-continue" and is answered before
     * its body was asked for may still be about to send one; and
     * botocore, once answered early, loses its place in the stream of
     * responses on a kept-alive connection. Close it (as nginx does). */
    if (req->expect_continue && !o->body_asked) {
        pier_http_resp_close(req);
    }
    (void) pier_http_resp_header(req, "Server", PIER_STR("pier"));
    if (o->fd != -1) {
        fd = o->fd;
        o->fd = -1;
        pier_http_resp_sendfile(req, o->status, fd, o->off, o->len);
        return;
    }
    if (o->mem != NULL) {
        /* Borrowed until the finish callback; oreq_free() drops it. */
        pier_http_resp_send(req, o->status,
                            pier_str_make(o->mem->data + o->off,
                                          (size_t) o->len));
        return;
    }
    pier_http_resp_send(req, o->status, pier_buf_str(&o->out));
}

static void
answer_error(struct oreq *o, const struct pier_err *err)
{
    fail(o, err);
    answer(o);
}

/* ---- operations (thread pool) ---- */

static void
op_list_buckets(struct oreq *o)
{
    struct objstore_bucket_info *all;
    struct pier_err err;
    size_t n, i, k = 0;

    if (objstore_bucket_list(o->srv->st, &all, &n, &err) != PIER_OK) {
        fail(o, &err);
        return;
    }
    for (i = 0; i < n; i++) {
        if (objstore_key_sees_bucket(o->key, pier_str_cstr(all[i].name))) {
            all[k++] = all[i];
        }
    }
    set_xml(o, 200);
    if (objstore_xml_list_buckets(&o->out, all, k, OWNER_ID, OWNER_NAME)
        != PIER_OK) {
        out_full(o);
    }
    pier_free(all);
}

static void
op_create_bucket(struct oreq *o)
{
    struct pier_buf region;
    struct pier_err err;

    pier_buf_init(&region, 64);
    /* The constraint is parsed to refuse bad XML; every bucket lives in
     * the store's one region, the one clients must sign for. */
    if (objstore_xml_parse_location(pier_buf_str(&o->body), &region, &err)
            != PIER_OK
        || objstore_bucket_create(o->srv->st, bucket(o),
                                  pier_str_cstr(o->srv->region), &err)
               != PIER_OK) {
        fail(o, &err);
    } else {
        o->status = 200;
        resp_headerf(o, "Location", "/%.*s", (int) bucket(o).len,
                     bucket(o).ptr);
    }
    pier_buf_release(&region);
}

static void
op_head_bucket(struct oreq *o)
{
    struct pier_err err;

    if (objstore_bucket_get(o->srv->st, bucket(o), NULL, &err) != PIER_OK) {
        fail(o, &err);
        return;
    }
    o->status = 200;
    resp_header(o, "x-amz-bucket-region", pier_str_cstr(o->srv->region));
}

static void
op_delete_bucket(struct oreq *o)
{
    struct pier_err err;

    if (objstore_bucket_delete(o->srv->st, bucket(o), &err) != PIER_OK) {
        fail(o, &err);
        return;
    }
    o->status = 204;
}

static void
op_location(struct oreq *o)
{
    struct pier_err err;

    if (objstore_bucket_get(o->srv->st, bucket(o), NULL, &err) != PIER_OK) {
        fail(o, &err);
        return;
    }
    set_xml(o, 200);
    if (objstore_xml_location(&o->out, pier_str_cstr(o->srv->region))
        != PIER_OK) {
        out_full(o);
    }
}

static void
op_versioning(struct oreq *o)
{
    struct pier_err err;

    if (objstore_bucket_get(o->srv->st, bucket(o), NULL, &err) != PIER_OK) {
        fail(o, &err);
        return;
    }
    set_xml(o, 200);
    if (objstore_xml_versioning(&o->out) != PIER_OK) {
        out_full(o);
    }
}

static void
op_list_objects(struct oreq *o, int version)
{
    struct objstore_xml_listing p = {0};
    struct objstore_list_opts lo = {0};
    struct objstore_list page;
    struct pier_buf prefix, delim, marker, token, after, enc, fo;
    struct pier_err err;
    size_t max;

    if (query_count(o, "max-keys", 1000, &max) != PIER_OK) {
        return;
    }
    pier_buf_init(&prefix, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&delim, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&marker, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&token, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&after, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&enc, 16);
    pier_buf_init(&fo, 16);
    objstore_list_init(&page);
    (void) objstore_query_get(o->query, "prefix", &prefix);
    (void) objstore_query_get(o->query, "delimiter", &delim);
    (void) objstore_query_get(o->query, "encoding-type", &enc);
    (void) objstore_query_get(o->query, "fetch-owner", &fo);
    p.version = version;
    p.bucket = bucket(o);
    p.max_keys = max > 1000 ? 1000 : max;
    p.url = pier_str_eq(pier_buf_str(&enc), PIER_STR("url"));
    p.fetch_owner = pier_str_eq(pier_buf_str(&fo), PIER_STR("true"));
    p.owner_id = OWNER_ID;
    p.owner_name = OWNER_NAME;
    if (enc.len > 0 && !p.url) {
        fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad encoding-type");
        goto out;
    }
    if (version == 2) {
        (void) objstore_query_get(o->query, "start-after", &marker);
        if (objstore_query_get(o->query, "continuation-token", &token)
            == PIER_OK) {
            p.token = pier_buf_str(&token);
            if (objstore_xml_token_decode(p.token, &after, &err) != PIER_OK) {
                fail(o, &err);
                goto out;
            }
        } else {
            best_effort(pier_buf_addstr(&after, pier_buf_str(&marker)));
        }
    } else {
        (void) objstore_query_get(o->query, "marker", &marker);
        best_effort(pier_buf_addstr(&after, pier_buf_str(&marker)));
    }
    p.prefix = pier_buf_str(&prefix);
    p.delimiter = pier_buf_str(&delim);
    p.marker = pier_buf_str(&marker);
    if (!objstore_key_allows(o->key, OBJSTORE_PERM_LIST, bucket(o), p.prefix)) {
        fail_s3(o, PIER_S3_ACCESS_DENIED, "listing outside the grants");
        goto out;
    }
    lo.prefix = p.prefix;
    lo.delimiter = p.delimiter;
    lo.after = pier_buf_str(&after);
    lo.max_keys = p.max_keys;
    if (objstore_list_objects(o->srv->st, bucket(o), &lo, &page, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    set_xml(o, 200);
    if (objstore_xml_list_objects(&o->out, &p, &page) != PIER_OK) {
        out_full(o);
    }
out:
    objstore_list_release(&page);
    pier_buf_release(&prefix);
    pier_buf_release(&delim);
    pier_buf_release(&marker);
    pier_buf_release(&token);
    pier_buf_release(&after);
    pier_buf_release(&enc);
    pier_buf_release(&fo);
}

static void
op_list_uploads(struct oreq *o)
{
    struct objstore_xml_uploads p = {0};
    struct objstore_uploads_opts uo = {0};
    struct objstore_upload_list l;
    struct pier_buf prefix, delim, km, im, enc;
    struct pier_err err;
    size_t max;

    if (query_count(o, "max-uploads", 1000, &max) != PIER_OK) {
        return;
    }
    pier_buf_init(&prefix, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&delim, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&km, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&im, 128);
    pier_buf_init(&enc, 16);
    objstore_upload_list_init(&l);
    (void) objstore_query_get(o->query, "prefix", &prefix);
    (void) objstore_query_get(o->query, "delimiter", &delim);
    (void) objstore_query_get(o->query, "key-marker", &km);
    (void) objstore_query_get(o->query, "upload-id-marker", &im);
    (void) objstore_query_get(o->query, "encoding-type", &enc);
    if (!objstore_key_allows(o->key, OBJSTORE_PERM_UPLOADS, bucket(o),
                             pier_buf_str(&prefix))) {
        fail_s3(o, PIER_S3_ACCESS_DENIED, "uploads outside the grants");
        goto out;
    }
    p.bucket = bucket(o);
    p.prefix = pier_buf_str(&prefix);
    p.delimiter = pier_buf_str(&delim);
    p.key_marker = pier_buf_str(&km);
    p.id_marker = pier_buf_str(&im);
    p.max_uploads = max > 1000 ? 1000 : max;
    p.url = pier_str_eq(pier_buf_str(&enc), PIER_STR("url"));
    p.owner_id = OWNER_ID;
    p.owner_name = OWNER_NAME;
    if (enc.len > 0 && !p.url) {
        fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad encoding-type");
        goto out;
    }
    uo.prefix = p.prefix;
    uo.delimiter = p.delimiter;
    uo.key_marker = p.key_marker;
    uo.id_marker = p.id_marker;
    uo.max = p.max_uploads;
    if (objstore_uploads_list(o->srv->st, bucket(o), &uo, &l, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    set_xml(o, 200);
    if (objstore_xml_list_uploads(&o->out, &p, &l) != PIER_OK) {
        out_full(o);
    }
out:
    objstore_upload_list_release(&l);
    pier_buf_release(&prefix);
    pier_buf_release(&delim);
    pier_buf_release(&km);
    pier_buf_release(&im);
    pier_buf_release(&enc);
}

static void
op_delete_objects(struct oreq *o)
{
    struct objstore_xml_delete d;
    struct pier_err err;
    enum pier_s3 *res = NULL;
    struct pier_str *allowed = NULL;
    enum pier_s3 *ares = NULL;
    struct objstore_del_cond *aconds = NULL;
    size_t i, na = 0;

    objstore_xml_delete_init(&d);
    if (objstore_xml_parse_delete(pier_buf_str(&o->body), &d, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    res = pier_calloc(d.n, sizeof(*res));
    ares = pier_calloc(d.n, sizeof(*ares));
    allowed = pier_calloc(d.n, sizeof(*allowed));
    aconds = pier_calloc(d.n, sizeof(*aconds));
    /* Each key is authorised on its own: a refused key is an AccessDenied
     * entry and stays. */
    for (i = 0; i < d.n; i++) {
        if (objstore_key_allows(o->key, OBJSTORE_PERM_WRITE, bucket(o),
                                d.keys[i])) {
            aconds[na] = d.conds[i];
            allowed[na++] = d.keys[i];
        } else {
            res[i] = PIER_S3_ACCESS_DENIED;
        }
    }
    /* A key whose ETag, LastModifiedTime or Size no longer holds gets a
     * PreconditionFailed entry (Quiet or not: errors always come back)
     * and the others go. */
    if (na > 0
        && objstore_delete_many_if(o->srv->st, bucket(o), allowed, aconds, na,
                                   ares, &err)
               != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    for (i = 0, na = 0; i < d.n; i++) {
        if (res[i] == PIER_S3_NONE) {
            res[i] = ares[na++];
        }
    }
    set_xml(o, 200);
    if (objstore_xml_delete_result(&o->out, d.quiet, d.keys, res, d.n)
        != PIER_OK) {
        out_full(o);
    }
out:
    pier_free(res);
    pier_free(ares);
    pier_free(allowed);
    pier_free(aconds);
    objstore_xml_delete_release(&d);
}

/* Object headers: ETag, Last-Modified, stored metadata, response-*
 * overrides. */
static void
object_headers(struct oreq *o, const struct objstore_obj *obj)
{
    static const char *const overrides[][2] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"},
    };
    struct pier_str n, v;
    struct pier_buf ov;
    char date[40];
    size_t pos = 0, i;
    bool has_type = false;
    /* Most GETs carry no override: skip the twelve query lookups. */
    bool any = o->query.len > 0
               && memmem(o->query.ptr, o->query.len, "response-", 9) != NULL;

    resp_etag(o, obj->etag);
    http_date(obj->mtime_ms, date);
    resp_header(o, "Last-Modified", pier_str_cstr(date));
    resp_header(o, "Accept-Ranges", PIER_STR("bytes"));
    pier_buf_init(&ov, 1024);
    /* Each stored name ends with its NUL (objstore_meta_add). */
    while (objstore_meta_next(&obj->meta, &pos, &n, &v)) {
        const char *name = n.ptr;
        bool overridden = false;

        for (i = 0; any && i < PIER_NELEMS(overrides); i++) {
            if (strcasecmp(name, overrides[i][1]) == 0
                && objstore_query_has(o->query, overrides[i][0])) {
                overridden = true;
            }
        }
        has_type |= strcmp(name, "content-type") == 0;
        if (!overridden) {
            resp_header(o, name, v);
        }
    }
    for (i = 0; any && i < PIER_NELEMS(overrides); i++) {
        pier_buf_reset(&ov);
        if (objstore_query_get(o->query, overrides[i][0], &ov) == PIER_OK
            && memchr(ov.data, '\r', ov.len) == NULL
            && memchr(ov.data, '\n', ov.len) == NULL) {
            resp_header(o, overrides[i][1], pier_buf_str(&ov));
            has_type |= i == 0;
        }
    }
    if (!has_type) {
        resp_header(o, "Content-Type", PIER_STR("binary/octet-stream"));
    }
    pier_buf_release(&ov);
}

/* GetObject and HeadObject, through rd (on the loop) or, when it is NULL,
 * the store's own connection (thread pool). */
static void
op_get_object(struct oreq *o, struct objstore_reader *rd)
{
    struct objstore_obj obj;
    struct pier_err err;
    uint64_t first = 0, last = 0;
    int pc, r;

    objstore_obj_init(&obj);
    if ((rd != NULL ? objstore_reader_get(rd, bucket(o), key(o), &obj, &o->fd,
                                          &o->mem, &err)
                    : objstore_get(o->srv->st, bucket(o), key(o), &obj, &o->fd,
                                   &err))
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    pc = objstore_preconditions(hdr(o, "if-match"), hdr(o, "if-none-match"),
                                hdr(o, "if-modified-since"),
                                hdr(o, "if-unmodified-since"), &obj, true);
    if (pc == 412) {
        fail_s3(o, PIER_S3_PRECONDITION_FAILED, "precondition failed");
        goto out;
    }
    if (pc == 304) {
        if (o->fd != -1) {
            close(o->fd);
            o->fd = -1;
        }
        objstore_body_unref(o->mem);
        o->mem = NULL;
        o->status = 304;
        resp_etag(o, obj.etag);
        goto out;
    }
    object_headers(o, &obj);
    r = objstore_range_parse(hdr(o, "range"), obj.size, &first, &last);
    if (r < 0) {
        struct pier_err rerr;

        pier_err_s3(&rerr, PIER_S3_INVALID_RANGE, "range past the end");
        fail(o, &rerr);
        o->size = obj.size; /* answer_done() adds Content-Range */
        goto out;
    }
    if (r == 1) {
        o->status = 206;
        o->off = first;
        o->len = last - first + 1;
        resp_headerf(o, "Content-Range", "bytes %llu-%llu/%llu",
                     (unsigned long long) first, (unsigned long long) last,
                     (unsigned long long) obj.size);
    } else {
        o->status = 200;
        o->off = 0;
        o->len = obj.size;
    }
out:
    objstore_obj_release(&obj);
}

/* DeleteObject, conditional with If-Match, x-amz-if-match-last-modified-
 * time and x-amz-if-match-size (412 when one fails; see
 * objstore_del_cond for a missing key). */
static void
op_delete_object(struct oreq *o)
{
    struct objstore_del_cond cond;
    struct pier_str v;
    struct pier_err err;
    char num[24];

    memset(&cond, 0, sizeof(cond));
    v = hdr(o, "if-match");
    if (v.ptr != NULL) {
        cond.etag = v;
    }
    v = hdr(o, "x-amz-if-match-last-modified-time");
    if (v.ptr != NULL) {
        cond.has_mtime = true;
        if (objstore_time_parse(v, &cond.mtime_ms, &cond.mtime_whole_s)
            != PIER_OK) {
            fail_s3(o, PIER_S3_INVALID_ARGUMENT,
                    "bad x-amz-if-match-last-modified-time");
            return;
        }
    }
    v = hdr(o, "x-amz-if-match-size");
    if (v.ptr != NULL) {
        char *end;

        cond.has_size = true;
        snprintf(num, sizeof(num), "%.*s", (int) v.len, v.ptr);
        errno = 0;
        cond.size = strtoull(num, &end, 10);
        if (v.len == 0 || v.len >= sizeof(num) || num[0] < '0' || num[0] > '9'
            || *end != '\0' || errno != 0) {
            fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad x-amz-if-match-size");
            return;
        }
    }
    if (objstore_delete_if(o->srv->st, bucket(o), key(o), &cond, NULL, &err)
        != PIER_OK) {
        fail(o, &err);
        return;
    }
    o->status = 204;
}

static void
op_copy_object(struct oreq *o)
{
    struct pier_str src = hdr(o, "x-amz-copy-source"), dir;
    struct pier_buf dec, meta;
    struct pier_str sb, sk;
    struct objstore_obj sobj, out;
    struct objstore_cond cond;
    struct pier_err err;
    const char *q, *slash;
    bool replace, has_cond;
    int pc;

    pier_buf_init(&dec, 4 * OBJSTORE_KEY_MAX);
    pier_buf_init(&meta, META_MAX);
    objstore_obj_init(&sobj);
    objstore_obj_init(&out);
    q = memchr(src.ptr, '?', src.len);
    if (q != NULL) {
        fail_s3(o, PIER_S3_NOT_IMPLEMENTED, "copy of a version");
        goto out;
    }
    if (objstore_pct_decode(src, false, &dec) != PIER_OK) {
        fail_s3(o, PIER_S3_KEY_TOO_LONG, "copy source too long");
        goto out;
    }
    sb = pier_buf_str(&dec);
    if (sb.len > 0 && sb.ptr[0] == '/') {
        sb.ptr++;
        sb.len--;
    }
    slash = memchr(sb.ptr, '/', sb.len);
    if (slash == NULL || slash == sb.ptr || slash + 1 == sb.ptr + sb.len) {
        fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad x-amz-copy-source");
        goto out;
    }
    sk = pier_str_make(slash + 1, (size_t) (sb.ptr + sb.len - slash - 1));
    sb.len = (size_t) (slash - sb.ptr);
    if (!objstore_key_allows(o->key, OBJSTORE_PERM_READ, sb, sk)) {
        fail_s3(o, PIER_S3_ACCESS_DENIED, "copy source outside the grants");
        goto out;
    }
    if (check_write_cond(o) != PIER_OK) {
        goto out;
    }
    dir = hdr(o, "x-amz-metadata-directive");
    replace = dir.ptr != NULL && pier_str_eq(dir, PIER_STR("REPLACE"));
    if (dir.ptr != NULL && !replace && !pier_str_eq(dir, PIER_STR("COPY"))) {
        fail_s3(o, PIER_S3_INVALID_ARGUMENT, "bad metadata directive");
        goto out;
    }
    if (!replace && pier_str_eq(sb, bucket(o)) && pier_str_eq(sk, key(o))) {
        fail_s3(o, PIER_S3_INVALID_REQUEST,
                "copying an object to itself without changing it");
        goto out;
    }
    if (objstore_get(o->srv->st, sb, sk, &sobj, NULL, &err) != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    pc = objstore_preconditions(hdr(o, "x-amz-copy-source-if-match"),
                                hdr(o, "x-amz-copy-source-if-none-match"),
                                hdr(o, "x-amz-copy-source-if-modified-since"),
                                hdr(o, "x-amz-copy-source-if-unmodified-since"),
                                &sobj, false);
    if (pc != 0) {
        fail_s3(o, PIER_S3_PRECONDITION_FAILED, "copy source precondition");
        goto out;
    }
    if (replace && collect_meta(o, &meta) != PIER_OK) {
        goto out;
    }
    cond_from(o, &cond);
    /* The conditions held for the version looked up above: with any of
     * them, copy only that version. */
    has_cond = hdr_has(o, "x-amz-copy-source-if-match")
               || hdr_has(o, "x-amz-copy-source-if-none-match")
               || hdr_has(o, "x-amz-copy-source-if-modified-since")
               || hdr_has(o, "x-amz-copy-source-if-unmodified-since");
    if (objstore_copy_if(o->srv->st, sb, sk,
                         has_cond ? pier_str_cstr(sobj.etag) : PIER_STR(""),
                         bucket(o), key(o), replace ? &meta : NULL, &cond, &out,
                         &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    set_xml(o, 200);
    if (objstore_xml_copy_result(&o->out, out.etag, out.mtime_ms) != PIER_OK) {
        out_full(o);
    }
out:
    objstore_obj_release(&sobj);
    objstore_obj_release(&out);
    pier_buf_release(&dec);
    pier_buf_release(&meta);
}

static void
op_create_upload(struct oreq *o)
{
    char id[OBJSTORE_UPLOAD_ID_LEN + 1];
    struct pier_buf meta;
    struct pier_err err;

    pier_buf_init(&meta, META_MAX);
    if (collect_meta(o, &meta) != PIER_OK) {
        goto out;
    }
    if (objstore_upload_create(o->srv->st, bucket(o), key(o), &meta, id, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    set_xml(o, 200);
    if (objstore_xml_initiate(&o->out, bucket(o), key(o), id) != PIER_OK) {
        out_full(o);
    }
out:
    pier_buf_release(&meta);
}

static void
op_complete_upload(struct oreq *o)
{
    struct objstore_xml_complete c;
    struct objstore_obj obj;
    struct objstore_cond cond;
    struct pier_buf id, loc;
    struct pier_err err;

    objstore_xml_complete_init(&c);
    objstore_obj_init(&obj);
    pier_buf_init(&id, 128);
    pier_buf_init(&loc, 8 * OBJSTORE_KEY_MAX);
    (void) objstore_query_get(o->query, "uploadId", &id);
    if (check_write_cond(o) != PIER_OK) {
        goto out;
    }
    if (objstore_xml_parse_complete(pier_buf_str(&o->body), &c, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    cond_from(o, &cond);
    if (objstore_upload_complete(o->srv->st, bucket(o), key(o),
                                 pier_buf_str(&id), c.parts, c.n, &cond, &obj,
                                 &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    best_effort(pier_buf_addf(&loc, "http://%.*s/%.*s/", (int) o->host.len,
                              o->host.ptr, (int) bucket(o).len, bucket(o).ptr));
    best_effort(objstore_xml_urlencode(&loc, key(o)));
    set_xml(o, 200);
    if (objstore_xml_complete(&o->out, pier_buf_str(&loc), bucket(o), key(o),
                              obj.etag)
        != PIER_OK) {
        out_full(o);
    }
out:
    objstore_xml_complete_release(&c);
    objstore_obj_release(&obj);
    pier_buf_release(&id);
    pier_buf_release(&loc);
}

static void
op_abort_upload(struct oreq *o)
{
    struct pier_buf id;
    struct pier_err err;

    pier_buf_init(&id, 128);
    (void) objstore_query_get(o->query, "uploadId", &id);
    if (objstore_upload_abort(o->srv->st, bucket(o), key(o), pier_buf_str(&id),
                              &err)
        != PIER_OK) {
        fail(o, &err);
    } else {
        o->status = 204;
    }
    pier_buf_release(&id);
}

static void
op_list_parts(struct oreq *o)
{
    struct objstore_xml_parts p = {0};
    struct objstore_part_info *parts = NULL;
    struct pier_buf id;
    struct pier_err err;
    size_t max, marker, n = 0;
    bool trunc = false;

    if (query_count(o, "max-parts", 1000, &max) != PIER_OK
        || query_count(o, "part-number-marker", 0, &marker) != PIER_OK) {
        return;
    }
    pier_buf_init(&id, 128);
    (void) objstore_query_get(o->query, "uploadId", &id);
    if (objstore_parts_list(o->srv->st, bucket(o), key(o), pier_buf_str(&id),
                            (unsigned) (marker > OBJSTORE_PART_MAX
                                            ? OBJSTORE_PART_MAX
                                            : marker),
                            max, &parts, &n, &trunc, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    p.bucket = bucket(o);
    p.key = key(o);
    p.upload_id = pier_buf_str(&id);
    p.marker = (unsigned) marker;
    p.max_parts = max > 1000 ? 1000 : max;
    p.owner_id = OWNER_ID;
    p.owner_name = OWNER_NAME;
    set_xml(o, 200);
    if (objstore_xml_list_parts(&o->out, &p, parts, n, trunc) != PIER_OK) {
        out_full(o);
    }
out:
    pier_free(parts);
    pier_buf_release(&id);
}

/* The end of a PUT or an UploadPart: checks, fsync, rename, the row. */
static void
op_commit(struct oreq *o)
{
    struct objstore_obj obj;
    struct objstore_cond cond;
    struct pier_buf meta;
    struct pier_err err;
    struct objstore_put *p = o->put;

    o->put = NULL;
    objstore_obj_init(&obj);
    pier_buf_init(&meta, META_MAX);
    cond_from(o, &cond);
    if (o->route.op == OBJSTORE_OP_PUT_OBJECT
        && collect_meta(o, &meta) != PIER_OK) {
        objstore_put_abort(p);
        goto out;
    }
    if (objstore_put_commit(
            p, &o->check, o->route.op == OBJSTORE_OP_PUT_OBJECT ? &cond : NULL,
            &meta, &obj, &err)
        != PIER_OK) {
        fail(o, &err);
        goto out;
    }
    o->status = 200;
    resp_etag(o, obj.etag);
out:
    objstore_obj_release(&obj);
    pier_buf_release(&meta);
}

static void
work(uv_work_t *w)
{
    struct oreq *o = w->data;

    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    switch (o->route.op) {
    case OBJSTORE_OP_LIST_BUCKETS:
        op_list_buckets(o);
        break;
    case OBJSTORE_OP_CREATE_BUCKET:
        op_create_bucket(o);
        break;
    case OBJSTORE_OP_HEAD_BUCKET:
        op_head_bucket(o);
        break;
    case OBJSTORE_OP_DELETE_BUCKET:
        op_delete_bucket(o);
        break;
    case OBJSTORE_OP_GET_BUCKET_LOCATION:
        op_location(o);
        break;
    case OBJSTORE_OP_GET_BUCKET_VERSIONING:
        op_versioning(o);
        break;
    case OBJSTORE_OP_LIST_OBJECTS:
        op_list_objects(o, 1);
        break;
    case OBJSTORE_OP_LIST_OBJECTS_V2:
        op_list_objects(o, 2);
        break;
    case OBJSTORE_OP_LIST_UPLOADS:
        op_list_uploads(o);
        break;
    case OBJSTORE_OP_DELETE_OBJECTS:
        op_delete_objects(o);
        break;
    case OBJSTORE_OP_PUT_OBJECT:
    case OBJSTORE_OP_UPLOAD_PART:
        op_commit(o);
        break;
    case OBJSTORE_OP_COPY_OBJECT:
        op_copy_object(o);
        break;
    case OBJSTORE_OP_GET_OBJECT:
    case OBJSTORE_OP_HEAD_OBJECT:
        op_get_object(o, NULL);
        break;
    case OBJSTORE_OP_DELETE_OBJECT:
        op_delete_object(o);
        break;
    case OBJSTORE_OP_CREATE_UPLOAD:
        op_create_upload(o);
        break;
    case OBJSTORE_OP_COMPLETE_UPLOAD:
        op_complete_upload(o);
        break;
    case OBJSTORE_OP_ABORT_UPLOAD:
        op_abort_upload(o);
        break;
    case OBJSTORE_OP_LIST_PARTS:
        op_list_parts(o);
        break;
    case OBJSTORE_OP_HEALTH:
    case OBJSTORE_OP_MAX:
        PIER_ASSERT(!"not a pooled operation");
    }
}

/* Answer an operation that ran. */
static void
answer_done(struct oreq *o)
{
    if (o->failed && o->err.s3 == PIER_S3_INVALID_RANGE) {
        /* A 416 says what the size is (RFC 9110, 15.5.17). */
        error_answer(o);
        o->failed = false;
        resp_headerf(o, "Content-Range", "bytes */%llu",
                     (unsigned long long) o->size);
    }
    answer(o);
}

static void
after_work(uv_work_t *w, int status)
{
    struct oreq *o = w->data;

    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    PIER_ASSERT(status == 0);
    o->busy = false;
    if (o->req == NULL) {
        oreq_free(o); /* the connection went away meanwhile */
        return;
    }
    answer_done(o);
}

static void
queue(struct oreq *o)
{
    o->busy = true;
    o->work.data = o;
    PIER_ASSERT(
        uv_queue_work(pier_http_worker_loop(pier_http_req_worker(o->req)),
                      &o->work, work, after_work)
        == 0);
}

/* The reader of the worker running o, opened on its first use; NULL when
 * it cannot be had (the thread pool serves the request then). */
static struct objstore_reader *
worker_reader(struct oreq *o)
{
    struct objstore_server *srv = o->srv;
    unsigned i = pier_http_worker_index(pier_http_req_worker(o->req));
    struct pier_err err;

    if (i >= READERS_MAX || srv->reader_failed[i]) {
        return NULL;
    }
    if (srv->readers[i] == NULL) {
        srv->readers[i] = objstore_reader_open(srv->st, &err);
        if (srv->readers[i] == NULL) {
            srv->reader_failed[i] = true;
            pier_log(PIER_LOG_WARN, "objstore",
                     "worker %u reads through the thread pool: %s", i, err.msg);
        }
    }
    return srv->readers[i];
}

/* ---- bodies (loop) ---- */

/* Write n bytes of decoded body; answers and returns PIER_ERR on failure. */
static int
put_write(struct oreq *o, const char *p, size_t n)
{
    struct pier_err err;

    if (objstore_put_write(o->put, p, n, &err) != PIER_OK) {
        objstore_put_abort(o->put);
        o->put = NULL;
        answer_error(o, &err);
        return PIER_ERR;
    }
    return PIER_OK;
}

/* Decode an aws-chunked piece; every chunk's signature is checked as its
 * data passes, and the put is committed only after the decoder said the
 * whole body held (PIER_OK). */
static int
put_chunked(struct oreq *o, struct pier_str in)
{
    const char *p = in.ptr, *end = in.ptr + in.len;
    struct pier_str data;
    struct pier_err err;
    size_t used;
    int rc;

    while (p < end && !pier_awschunk_done(&o->ck)) {
        rc = pier_awschunk_decode(&o->ck, p, end, &used, &data, &err);
        if (rc == PIER_ERR) {
            objstore_put_abort(o->put);
            o->put = NULL;
            answer_error(o, &err);
            return PIER_ERR;
        }
        p += used;
        if (data.len > 0 && put_write(o, data.ptr, data.len) != PIER_OK) {
            return PIER_ERR;
        }
        if (used == 0 && data.len == 0) {
            break;
        }
    }
    return PIER_OK;
}

static int
on_put_body(struct pier_http_req *req, struct pier_str data, void *ctx)
{
    struct oreq *o = ctx;
    struct pier_err err;

    (void) req;
    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    if (o->answered || o->put == NULL) {
        return PIER_ERR;
    }
    if (data.len == 0) {
        if (o->chunked && !pier_awschunk_done(&o->ck)) {
            objstore_put_abort(o->put);
            o->put = NULL;
            pier_err_s3(&err, PIER_S3_INCOMPLETE_BODY,
                        "aws-chunked body ended early");
            answer_error(o, &err);
            return PIER_ERR;
        }
        queue(o);
        return PIER_OK;
    }
    if (o->chunked) {
        return put_chunked(o, data);
    }
    return put_write(o, data.ptr, data.len);
}

static void
on_whole(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    struct oreq *o = ctx;

    (void) req;
    PIER_CHECK_OBJ(o, OREQ_MAGIC);
    if (pier_buf_addstr(&o->body, body) != PIER_OK) {
        struct pier_err err;

        pier_err_s3(&err, PIER_S3_MALFORMED_XML, "body too large");
        answer_error(o, &err);
        return;
    }
    queue(o);
}

/* Checks of a PUT body known before it arrives, then start it. */
static int
start_put(struct oreq *o, struct pier_err *err)
{
    struct pier_str cmd5 = hdr(o, "content-md5");
    struct pier_buf n;
    size_t len;
    unsigned long part = 0;
    int rc;

    o->check.size = o->req->has_body && !o->req->chunked
                        ? (int64_t) o->req->content_length
                        : (o->req->has_body ? -1 : 0);
    if (cmd5.ptr != NULL) {
        if (pier_base64_decode(cmd5.ptr, cmd5.len, o->md5, sizeof(o->md5), &len,
                               err)
                != PIER_OK
            || len != 16) {
            return pier_err_s3(err, PIER_S3_INVALID_DIGEST, "bad Content-MD5");
        }
        o->check.md5 = o->md5;
    }
    switch (o->auth.payload) {
    case PIER_PAYLOAD_SIGNED:
        if (pier_unhex(o->auth.payload_sha256, o->sha256, 32) != PIER_OK) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "bad x-amz-content-sha256");
        }
        o->check.sha256 = o->sha256;
        break;
    case PIER_PAYLOAD_UNSIGNED:
        break;
    case PIER_PAYLOAD_STREAMING:
    case PIER_PAYLOAD_STREAMING_TRAILER:
    case PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER: {
        struct pier_str dl = hdr(o, "x-amz-decoded-content-length");
        uint64_t decoded = PIER_AWSCHUNK_UNKNOWN_LENGTH;

        if (dl.ptr != NULL) {
            char tmp[32];
            char *end;

            snprintf(tmp, sizeof(tmp), "%.*s", (int) dl.len, dl.ptr);
            errno = 0;
            decoded = strtoull(tmp, &end, 10);
            if (dl.len == 0 || dl.len >= sizeof(tmp) || *end != '\0'
                || errno != 0 || tmp[0] == '-') {
                return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                                   "bad x-amz-decoded-content-length");
            }
        }
        if (pier_awschunk_init(&o->ck, &o->auth, decoded, err) != PIER_OK) {
            return PIER_ERR;
        }
        o->chunked = true;
        /* The decoder checks the decoded length itself. */
        o->check.size = -1;
        if (decoded != PIER_AWSCHUNK_UNKNOWN_LENGTH
            && decoded > OBJSTORE_MAX_OBJECT) {
            return pier_err_s3(err, PIER_S3_ENTITY_TOO_LARGE, "body too large");
        }
        break;
    }
    }
    if (o->check.size > 0 && (uint64_t) o->check.size > OBJSTORE_MAX_OBJECT) {
        return pier_err_s3(err, PIER_S3_ENTITY_TOO_LARGE, "body too large");
    }
    if (o->route.op == OBJSTORE_OP_PUT_OBJECT) {
        if (check_write_cond(o) != PIER_OK) {
            *err = o->err;
            o->failed = false;
            return PIER_ERR;
        }
        o->put = objstore_put_begin(o->srv->st, bucket(o), key(o), err);
        return o->put != NULL ? PIER_OK : PIER_ERR;
    }
    pier_buf_init(&n, 16);
    rc = objstore_query_get(o->query, "partNumber", &n);
    if (rc == PIER_OK && n.len > 0 && n.len <= 5
        && strspn(n.data, "0123456789") == n.len) {
        part = strtoul(n.data, NULL, 10);
    }
    pier_buf_reset(&n);
    if (part < 1 || part > OBJSTORE_PART_MAX) {
        pier_buf_release(&n);
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT, "bad partNumber");
    }
    pier_buf_release(&n);
    pier_buf_init(&n, 128);
    (void) objstore_query_get(o->query, "uploadId", &n);
    o->put = objstore_part_begin(o->srv->st, bucket(o), key(o),
                                 pier_buf_str(&n), (unsigned) part, err);
    pier_buf_release(&n);
    return o->put != NULL ? PIER_OK : PIER_ERR;
}

/* ---- the handler (loop) ---- */

static const char *
lookup(void *udata, struct pier_str id)
{
    struct oreq *o = udata;

    o->key = objstore_keys_by_id(o->keys, id);
    return o->key != NULL ? o->key->secret : NULL;
}

/* Copy what the request holds into o, so that the thread pool never
 * reads the connection's buffers. */
static void
copy_request(struct oreq *o, const struct pier_http_req *req)
{
    size_t i, total = req->method.len + req->path.len + req->query.len
                      + req->host.len;
    char *p;

    for (i = 0; i < req->nheaders; i++) {
        total += req->headers[i].name.len + req->headers[i].value.len;
    }
    pier_buf_init(&o->copy, SIZE_MAX);
    p = pier_buf_reserve(&o->copy, total + 1);
    PIER_ASSERT(p != NULL);
#define COPY(dst, src)                       \
    do {                                     \
        memcpy(p, (src).ptr, (src).len);     \
        (dst) = pier_str_make(p, (src).len); \
        p += (src).len;                      \
    } while (0)
    COPY(o->method, req->method);
    COPY(o->path, req->path);
    COPY(o->query, req->query);
    COPY(o->host, req->host);
    o->hdrs = pier_calloc(req->nheaders + 1, sizeof(*o->hdrs));
    for (i = 0; i < req->nheaders; i++) {
        COPY(o->hdrs[i].name, req->headers[i].name);
        COPY(o->hdrs[i].value, req->headers[i].value);
    }
#undef COPY
    o->nhdrs = req->nheaders;
    pier_buf_commit(&o->copy, total);
}

/* May the verified key do o's operation? Listings and copies are checked
 * again with their parameters in the thread pool. */
static bool
authorised(const struct oreq *o)
{
    struct pier_str b = bucket(o), k = key(o);

    switch (o->route.op) {
    case OBJSTORE_OP_LIST_BUCKETS:
        return true;
    case OBJSTORE_OP_CREATE_BUCKET:
    case OBJSTORE_OP_DELETE_BUCKET:
        return objstore_key_allows(o->key, OBJSTORE_PERM_ADMIN, b, k);
    case OBJSTORE_OP_HEAD_BUCKET:
    case OBJSTORE_OP_GET_BUCKET_LOCATION:
    case OBJSTORE_OP_GET_BUCKET_VERSIONING:
    case OBJSTORE_OP_LIST_OBJECTS:
    case OBJSTORE_OP_LIST_OBJECTS_V2:
    case OBJSTORE_OP_LIST_UPLOADS:
    case OBJSTORE_OP_DELETE_OBJECTS:
        return objstore_key_allows(o->key, OBJSTORE_PERM_BUCKET, b, k);
    case OBJSTORE_OP_GET_OBJECT:
    case OBJSTORE_OP_HEAD_OBJECT:
        return objstore_key_allows(o->key, OBJSTORE_PERM_READ, b, k);
    case OBJSTORE_OP_PUT_OBJECT:
    case OBJSTORE_OP_COPY_OBJECT:
    case OBJSTORE_OP_DELETE_OBJECT:
    case OBJSTORE_OP_CREATE_UPLOAD:
    case OBJSTORE_OP_UPLOAD_PART:
    case OBJSTORE_OP_COMPLETE_UPLOAD:
    case OBJSTORE_OP_ABORT_UPLOAD:
    case OBJSTORE_OP_LIST_PARTS:
        return objstore_key_allows(o->key, OBJSTORE_PERM_WRITE, b, k);
    case OBJSTORE_OP_HEALTH:
    case OBJSTORE_OP_MAX:
        break;
    }
    return false;
}

void
objstore_server_handle(struct pier_http_req *req, void *udata)
{
    struct objstore_server *srv = udata;
    struct objstore_route_in in;
    struct pier_sigv4_verify_req vr;
    struct pier_buf prefix;
    struct pier_err err;
    struct oreq *o;
    int rc;

    PIER_CHECK_OBJ(srv, SERVER_MAGIC);
    o = pier_calloc(1, sizeof(*o));
    o->magic = OREQ_MAGIC;
    o->srv = srv;
    o->req = req;
    o->fd = -1;
    snprintf(o->id, sizeof(o->id), "%s", req->id);
    pier_buf_init(&o->body, WHOLE_MAX);
    pier_buf_init(&o->rh, 64 * 1024);
    /* A GET's headers fit: one allocation, not four growing ones. */
    (void) pier_buf_reserve(&o->rh, 1024);
    pier_buf_init(&o->out, SIZE_MAX);
    objstore_route_init(&o->route);
    pier_http_req_on_finish(req, on_finish, o);
    copy_request(o, req);

    memset(&in, 0, sizeof(in));
    in.method = o->method;
    in.path = o->path;
    in.query = o->query;
    in.host = o->host;
    in.copy_source = hdr_has(o, "x-amz-copy-source");
    in.domains = (const char *const *) srv->domains;
    in.ndomains = srv->ndomains;
    o->route_ok = objstore_route(&in, &o->route, &o->route_err) == PIER_OK;
    if (o->route_ok && o->route.op == OBJSTORE_OP_HEALTH) {
        resp_header(o, "Content-Type", PIER_STR("text/plain"));
        o->status = 200;
        best_effort(pier_buf_adds(&o->out, "ok\n"));
        answer(o);
        return;
    }

    /* No signature, no data: verify before anything else, even before
     * saying that the request was malformed. */
    o->keys = keys_get(srv);
    pier_buf_init(&prefix, 128);
    if (o->route.vhost) {
        best_effort(pier_buf_addch(&prefix, '/'));
        best_effort(pier_buf_addstr(&prefix, bucket(o)));
    }
    memset(&vr, 0, sizeof(vr));
    vr.method = o->method;
    vr.path = o->path;
    vr.query = o->query;
    vr.headers = o->hdrs;
    vr.nheaders = o->nhdrs;
    vr.now = time(NULL);
    vr.region = srv->region;
    vr.v2_resource_prefix = pier_buf_str(&prefix);
    vr.lookup = lookup;
    vr.lookup_data = o;
    rc = pier_sigv4_verify(&vr, &o->auth, &err);
    pier_buf_release(&prefix);
    if (rc != PIER_OK) {
        answer_error(o, &err);
        return;
    }
    PIER_ASSERT(o->key != NULL);
    if (!o->route_ok) {
        answer_error(o, &o->route_err);
        return;
    }
    if (!authorised(o)) {
        pier_err_s3(&err, PIER_S3_ACCESS_DENIED, "key '%s' may not %s here",
                    o->key->name, objstore_op_name(o->route.op));
        answer_error(o, &err);
        return;
    }
    switch (o->route.op) {
    case OBJSTORE_OP_PUT_OBJECT:
    case OBJSTORE_OP_UPLOAD_PART:
        if (start_put(o, &err) != PIER_OK) {
            answer_error(o, &err);
            return;
        }
        o->body_asked = true;
        pier_http_req_read_body(req, on_put_body, o);
        return;
    case OBJSTORE_OP_CREATE_BUCKET:
    case OBJSTORE_OP_DELETE_OBJECTS:
    case OBJSTORE_OP_COMPLETE_UPLOAD:
        o->body_asked = true;
        pier_http_req_read_whole(req, WHOLE_MAX, on_whole, o);
        return;
    case OBJSTORE_OP_GET_OBJECT:
    case OBJSTORE_OP_HEAD_OBJECT: {
        /* Served on the loop, as a file server does: a lookup in the
         * worker's own read-only connection, open(2), sendfile. */
        struct objstore_reader *rd = worker_reader(o);

        if (rd != NULL) {
            op_get_object(o, rd);
            answer_done(o);
            return;
        }
        queue(o);
        return;
    }
    default:
        queue(o);
        return;
    }
}
