/*
 * tests/edge/test_server.c - the edge end to end, in-process: a loopback
 * S3 origin (tests/lib/s3_test_origin.c) holding a site written with
 * sites/'s manifest code, the edge serving it on port 0, libcurl as the
 * client. Covers routing, every serving rule, coalescing (concurrent
 * misses, one origin GET), verification (a corrupt blob is never served
 * whole nor cached), activation by delta, the admin API's token, and a
 * store gone down.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "edge/server.h"
#include "lib/http.h"
#include "lib/log.h"
#include "sites/manifest.h"
#include "tests/lib/s3_test_origin.h"

#define AKID   "AKIDEDGETEST"
#define SECRET "edge-test-secret"
#define REGION "us-east-1"
#define BUCKET "pier"
#define TOKEN  "admin-token-0123456789"

static const char index_v1[] = "<!doctype html><title>Home</title>hello v1\n";
static const char index_v2[] = "<!doctype html><title>Home</title>hello v2!\n";
static const char about[] = "<!doctype html><title>About</title>about\n";
static const char docs[] = "<!doctype html><title>Docs</title>docs\n";
static const char notfound[] = "<!doctype html><title>404</title>lost\n";
static const char appjs[] = "console.log('app');\n";

#define BIG_LEN 300000
static unsigned char big[BIG_LEN];

struct world {
    struct s3_test_origin *o;
    struct edge_server *srv;
    char http[64], admin[64], https[64];
    char dir[256];
    struct sites_manifest *m1;
};

static struct world W;

/* Content and its blob key. */
static void
sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    size_t i;

    SHA256(p, n, md);
    for (i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static size_t
gzip_of(const void *p, size_t n, unsigned char *out, size_t cap)
{
    z_stream z;

    memset(&z, 0, sizeof(z));
    PIER_ASSERT(
        deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY)
        == Z_OK);
    z.next_in = (unsigned char *) p;
    z.avail_in = (uInt) n;
    z.next_out = out;
    z.avail_out = (uInt) cap;
    PIER_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END);
    n = z.total_out;
    deflateEnd(&z);
    return n;
}

/* Upload a file's blob (and its gzip variant when gz) and add its entry. */
static void
add_file(struct sites_manifest *m, const char *path, const void *p, size_t n,
         const char *type, enum sites_class klass, const char *alias, bool gz,
         bool upload)
{
    struct sites_entry e;
    struct pier_err err;
    char key[128];
    static unsigned char zbuf[BIG_LEN + 1024];
    size_t zn;

    memset(&e, 0, sizeof(e));
    e.path = path;
    sha_hex(p, n, e.sha256);
    e.type = type;
    e.size = n;
    e.klass = klass;
    e.alias = alias;
    snprintf(key, sizeof(key), "blobs/%s", e.sha256);
    if (upload) {
        s3_test_origin_put(W.o, key, p, n);
    }
    if (gz) {
        zn = gzip_of(p, n, zbuf, sizeof(zbuf));
        e.enc_size[SITES_ENC_GZIP] = zn;
        snprintf(key, sizeof(key), "blobs/%s.gz", e.sha256);
        if (upload) {
            s3_test_origin_put(W.o, key, zbuf, zn);
        }
    }
    if (sites_manifest_add(m, &e, &err) != PIER_OK) {
        fail_msg("add %s: %s", path, err.msg);
    }
}

static void
publish(struct sites_manifest *m)
{
    struct pier_buf b;
    struct pier_err err;
    char key[256];

    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(sites_manifest_store_zst(m, 3, &b, &err), PIER_OK);
    snprintf(key, sizeof(key), "sites/blog/deploys/%s.json.zst",
             sites_manifest_deploy(m));
    s3_test_origin_put(W.o, key, b.data, b.len);
    pier_buf_release(&b);
    s3_test_origin_put(W.o, "live/blog", sites_manifest_deploy(m),
                       strlen(sites_manifest_deploy(m)));
}

static const char redirects[] = "/old /index.html 301\n"
                                "/spa/* /index.html 200\n";
static const char headers[] = "/about.html\n  X-Frame-Options: DENY\n";

static struct sites_manifest *
deploy(const char *id, const char *index, bool upload)
{
    struct pier_err err;
    struct sites_manifest *m =
        sites_manifest_new("blog", id, NULL, NULL, 1795512600, &err);

    assert_non_null(m);
    add_file(m, "/index.html", index, strlen(index), "text/html; charset=utf-8",
             SITES_CLASS_ENTRY, NULL, true, upload);
    add_file(m, "/about.html", about, strlen(about), "text/html; charset=utf-8",
             SITES_CLASS_ENTRY, NULL, false, upload);
    add_file(m, "/docs/index.html", docs, strlen(docs),
             "text/html; charset=utf-8", SITES_CLASS_ENTRY, NULL, false,
             upload);
    add_file(m, "/404.html", notfound, strlen(notfound),
             "text/html; charset=utf-8", SITES_CLASS_ENTRY, NULL, false,
             upload);
    add_file(m, "/app.js", appjs, strlen(appjs), "text/javascript",
             SITES_CLASS_ASSET, "/app.0123abcd.js", false, upload);
    add_file(m, "/big.bin", big, BIG_LEN, "application/octet-stream",
             SITES_CLASS_ENTRY, NULL, false, upload);
    assert_int_equal(sites_manifest_set_rules(m, redirects, strlen(redirects),
                                              headers, strlen(headers), &err),
                     PIER_OK);
    if (sites_manifest_seal(m, &err) != PIER_OK) {
        fail_msg("seal: %s", err.msg);
    }
    return m;
}

/* A self-signed certificate for names into dir/<tag>-{cert,key}.pem,
 * uploaded as tls/<site>/. */
static void
make_cert(const char *site, const char *cn, const char *san)
{
    char cmd[1024], path[512];
    struct pier_buf b;
    FILE *f;
    const char *which[2] = {"cert", "key"};
    int i;
    size_t n;

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "
             "-addext subjectAltName=%s -keyout %s/%s-key.pem "
             "-out %s/%s-cert.pem 2>/dev/null",
             cn, san, W.dir, site, W.dir, site);
    PIER_ASSERT(system(cmd) == 0);
    for (i = 0; i < 2; i++) {
        char buf[8192];

        snprintf(path, sizeof(path), "%s/%s-%s.pem", W.dir, site, which[i]);
        f = fopen(path, "r");
        PIER_ASSERT(f != NULL);
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        pier_buf_init(&b, SIZE_MAX);
        PIER_ASSERT(pier_buf_add(&b, buf, n) == PIER_OK);
        snprintf(path, sizeof(path), "tls/%s/%s.pem", site, which[i]);
        s3_test_origin_put(W.o, path, b.data, b.len);
        pier_buf_release(&b);
    }
}

/* A second site, with its own domain and certificate. */
static void
make_shop(void)
{
    static const char record[] = "[site]\nname = shop\n"
                                 "domain = shop.example.com\n"
                                 "redirect_https = true\nhsts = 600\n";
    static const char page[] = "<!doctype html>shop\n";
    struct pier_err err;
    struct sites_manifest *m = sites_manifest_new(
        "shop", "20261124T093000Z-dddddd", NULL, NULL, 1795512600, &err);
    struct pier_buf b;

    PIER_ASSERT(m != NULL);
    add_file(m, "/index.html", page, strlen(page), "text/html",
             SITES_CLASS_ENTRY, NULL, false, true);
    PIER_ASSERT(sites_manifest_seal(m, &err) == PIER_OK);
    pier_buf_init(&b, SIZE_MAX);
    PIER_ASSERT(sites_manifest_store_zst(m, 3, &b, &err) == PIER_OK);
    s3_test_origin_put(W.o,
                       "sites/shop/deploys/20261124T093000Z-dddddd.json.zst",
                       b.data, b.len);
    s3_test_origin_put(W.o, "live/shop", "20261124T093000Z-dddddd", 23);
    s3_test_origin_put(W.o, "sites/shop.ini", record, strlen(record));
    pier_buf_release(&b);
    sites_manifest_free(m);
    make_cert("shop", "shop.example.com", "DNS:shop.example.com");
}

static int
setup(void **state)
{
    struct edge_server_opts o;
    struct pier_err err;
    static const char record[] =
        "[site]\nname = blog\ndomain = blog.example.com\n"
        "domain = *.blog.test\n";
    size_t i;

    (void) state;
    pier_log_set_level(PIER_LOG_ERROR);
    for (i = 0; i < BIG_LEN; i++) {
        big[i] = (unsigned char) (i * 7 + (i >> 10));
    }
    memset(&W, 0, sizeof(W));
    W.o = s3_test_origin_start(AKID, SECRET, REGION, BUCKET, NULL);
    W.m1 = deploy("20261124T093000Z-aaaaaa", index_v1, true);
    publish(W.m1);
    s3_test_origin_put(W.o, "sites/blog.ini", record, strlen(record));
    snprintf(W.dir, sizeof(W.dir), "/tmp/pier-test-edge.XXXXXX");
    PIER_ASSERT(mkdtemp(W.dir) != NULL);
    make_cert("blog", "blog.example.com",
              "DNS:blog.example.com,DNS:*.blog.test,DNS:blog.localhost");
    make_shop();

    memset(&o, 0, sizeof(o));
    pier_s3_config_init(&o.s3);
    o.s3.endpoint = s3_test_origin_endpoint(W.o);
    o.s3.region = REGION;
    o.s3.bucket = BUCKET;
    o.s3.access_key_id = AKID;
    o.s3.secret_access_key = SECRET;
    o.s3.max_retries = 1;
    o.s3.retry_base_ms = 10;
    o.s3.connect_timeout_ms = 1000;
    o.s3.idle_timeout_ms = 1500;
    o.listen = "127.0.0.1:0";
    o.admin = "127.0.0.1:0";
    o.admin_token = TOKEN;
    o.cache.mem_max = 64 << 20;
    /* big.bin (300 KB) never enters memory: the disk tier serves it. */
    o.cache.object_max = 100000;
    o.cache.dir = W.dir;
    o.tls_listen = "127.0.0.1:0";
    o.cache.disk_max = 64 << 20;
    o.workers = 2;
    o.poll_ms = 600000; /* the test drives loads itself */
    W.srv = edge_server_new(&o, &err);
    if (W.srv == NULL) {
        fprintf(stderr, "edge: %s\n", err.msg);
        return -1;
    }
    if (pier_http_server_start(edge_server_http(W.srv), &err) != PIER_OK) {
        return -1;
    }
    PIER_ASSERT(pier_http_server_addr(edge_server_http(W.srv), "http", W.http,
                                      sizeof(W.http))
                == PIER_OK);
    PIER_ASSERT(pier_http_server_addr(edge_server_http(W.srv), "admin", W.admin,
                                      sizeof(W.admin))
                == PIER_OK);
    PIER_ASSERT(pier_http_server_addr(edge_server_http(W.srv), "https", W.https,
                                      sizeof(W.https))
                == PIER_OK);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];

    (void) state;
    pier_http_server_stop(edge_server_http(W.srv));
    pier_http_server_wait(edge_server_http(W.srv));
    edge_server_free(W.srv);
    sites_manifest_free(W.m1);
    if (W.o != NULL) {
        s3_test_origin_stop(W.o);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", W.dir);
    PIER_ASSERT(system(cmd) == 0);
    return 0;
}

/* A client. */

struct reply {
    long status;
    CURLcode rc;
    struct pier_buf body;
    struct pier_buf hdrs;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    return pier_buf_add(&r->body, p, size * n) == PIER_OK ? size * n : 0;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    return pier_buf_add(&r->hdrs, p, size * n) == PIER_OK ? size * n : 0;
}

static CURL *
prepare(struct reply *r, const char *method, const char *host, const char *path,
        const char *base, struct curl_slist **hl, const char *h1,
        const char *h2)
{
    CURL *c = curl_easy_init();
    char url[512], hosth[300];

    memset(r, 0, sizeof(*r));
    pier_buf_init(&r->body, SIZE_MAX);
    pier_buf_init(&r->hdrs, SIZE_MAX);
    snprintf(url, sizeof(url), "http://%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    *hl = NULL;
    if (host != NULL) {
        snprintf(hosth, sizeof(hosth), "Host: %s", host);
        *hl = curl_slist_append(*hl, hosth);
    }
    if (h1 != NULL) {
        *hl = curl_slist_append(*hl, h1);
    }
    if (h2 != NULL) {
        *hl = curl_slist_append(*hl, h2);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
    return c;
}

static void
finish(CURL *c, struct reply *r, struct curl_slist *hl)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void
req(struct reply *r, const char *method, const char *host, const char *path,
    const char *h1, const char *h2)
{
    struct curl_slist *hl;
    CURL *c = prepare(r, method, host, path, W.http, &hl, h1, h2);

    r->rc = curl_easy_perform(c);
    finish(c, r, hl);
}

static void
admin(struct reply *r, const char *method, const char *path, const char *auth,
      const char *body)
{
    struct curl_slist *hl;
    CURL *c = prepare(r, method, NULL, path, W.admin, &hl, auth, NULL);

    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    r->rc = curl_easy_perform(c);
    finish(c, r, hl);
}

static void
reply_free(struct reply *r)
{
    pier_buf_release(&r->body);
    pier_buf_release(&r->hdrs);
}

/* The value of header name in r, NUL-terminated in out; false if none. */
static bool
header(const struct reply *r, const char *name, char *out, size_t n)
{
    const char *p = r->hdrs.data;
    size_t nl = strlen(name);

    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e;

            while (*v == ' ') {
                v++;
            }
            e = strstr(v, "\r\n");
            snprintf(out, n, "%.*s", (int) (e - v), v);
            return true;
        }
    }
    return false;
}

static void
expect_header(const struct reply *r, const char *name, const char *value)
{
    char v[512];

    if (!header(r, name, v, sizeof(v))) {
        fail_msg("no %s in:\n%s", name, r->hdrs.data);
    }
    if (value != NULL && strcmp(v, value) != 0) {
        fail_msg("%s: '%s', expected '%s'", name, v, value);
    }
}

static void
expect_body(const struct reply *r, const char *body)
{
    if (r->body.len != strlen(body)
        || memcmp(r->body.data, body, r->body.len)) {
        fail_msg("body '%s', expected '%s'", r->body.data, body);
    }
}

/* The tests, in order: each builds on the cache state the last left. */

static void
test_server_serves_and_caches(void **state)
{
    struct reply r;
    char etag[128], want[128];

    (void) state;
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    expect_body(&r, index_v1);
    expect_header(&r, "X-Cache", "MISS");
    expect_header(&r, "Content-Type", "text/html; charset=utf-8");
    expect_header(&r, "Cache-Control", "public, max-age=0, must-revalidate");
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    expect_header(&r, "Vary", "Accept-Encoding");
    sha_hex(index_v1, strlen(index_v1), want + 1);
    want[0] = '"';
    memcpy(want + 65, "\"", 2);
    expect_header(&r, "ETag", want);
    reply_free(&r);

    req(&r, "GET", "blog.localhost:8080", "/index.html", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_body(&r, index_v1);
    expect_header(&r, "X-Cache", "HIT");
    expect_header(&r, "Age", NULL);
    assert_true(header(&r, "ETag", etag, sizeof(etag)));
    reply_free(&r);

    /* HEAD: the same headers, no body. */
    req(&r, "HEAD", "blog.localhost", "/", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    snprintf(want, sizeof(want), "%zu", strlen(index_v1));
    expect_header(&r, "Content-Length", want);
    reply_free(&r);
}

static void
test_server_encoding_etag_range(void **state)
{
    struct reply r;
    char inm[200], etag[128], want[64];
    unsigned char z[512];
    size_t zn = gzip_of(index_v1, strlen(index_v1), z, sizeof(z));

    (void) state;
    req(&r, "GET", "blog.localhost", "/", "Accept-Encoding: br;q=1, gzip;q=0.5",
        NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Encoding", "gzip");
    assert_int_equal(r.body.len, zn);
    assert_memory_equal(r.body.data, z, zn);
    assert_true(header(&r, "ETag", etag, sizeof(etag)));
    assert_non_null(strstr(etag, "-gzip\""));
    reply_free(&r);

    /* If-None-Match -> 304, weak comparison, in a list. */
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_true(header(&r, "ETag", etag, sizeof(etag)));
    reply_free(&r);
    snprintf(inm, sizeof(inm), "If-None-Match: \"x\", W/%s", etag);
    req(&r, "GET", "blog.localhost", "/", inm, NULL);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.len, 0);
    expect_header(&r, "ETag", etag);
    reply_free(&r);

    /* Range on the identity variant: 206, then 416. */
    req(&r, "GET", "blog.localhost", "/", "Range: bytes=0-8", NULL);
    assert_int_equal(r.status, 206);
    expect_body(&r, "<!doctype");
    snprintf(want, sizeof(want), "bytes 0-8/%zu", strlen(index_v1));
    expect_header(&r, "Content-Range", want);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/", "Range: bytes=-3", NULL);
    assert_int_equal(r.status, 206);
    expect_body(&r, "v1\n");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/", "Range: bytes=100-", NULL);
    assert_int_equal(r.status, 416);
    snprintf(want, sizeof(want), "bytes */%zu", strlen(index_v1));
    expect_header(&r, "Content-Range", want);
    reply_free(&r);
    /* If-Range naming another version: the whole body. */
    req(&r, "GET", "blog.localhost", "/", "Range: bytes=0-8",
        "If-Range: \"other\"");
    assert_int_equal(r.status, 200);
    expect_body(&r, index_v1);
    reply_free(&r);
}

static void
test_server_rules(void **state)
{
    struct reply r;

    (void) state;
    req(&r, "GET", "blog.localhost", "/about", NULL, NULL); /* pretty URL */
    assert_int_equal(r.status, 200);
    expect_body(&r, about);
    reply_free(&r);
    /* _headers rules match the URL's path, as on Netlify. */
    req(&r, "GET", "blog.localhost", "/about.html", NULL, NULL);
    expect_header(&r, "X-Frame-Options", "DENY");
    reply_free(&r);

    req(&r, "GET", "blog.localhost", "/docs?x=1", NULL, NULL);
    assert_int_equal(r.status, 301);
    expect_header(&r, "Location", "/docs/?x=1");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/docs/", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_body(&r, docs);
    reply_free(&r);

    req(&r, "GET", "blog.localhost", "/old", NULL, NULL); /* _redirects */
    assert_int_equal(r.status, 301);
    expect_header(&r, "Location", "/index.html");
    /* One Cache-Control, not two. */
    assert_non_null(strstr(r.hdrs.data, "Cache-Control"));
    assert_null(
        strstr(strstr(r.hdrs.data, "Cache-Control") + 1, "Cache-Control"));
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/spa/a/b", NULL, NULL); /* rewrite */
    assert_int_equal(r.status, 200);
    expect_body(&r, index_v1);
    reply_free(&r);

    req(&r, "GET", "blog.localhost", "/nope", NULL, NULL);
    assert_int_equal(r.status, 404);
    expect_body(&r, notfound);
    reply_free(&r);

    /* The hashed alias of an asset is immutable; its path is not. */
    req(&r, "GET", "blog.localhost", "/app.0123abcd.js", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_body(&r, appjs);
    expect_header(&r, "Cache-Control", "public, max-age=31536000, immutable");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/app.js", NULL, NULL);
    expect_header(&r, "Cache-Control", "public, max-age=0, must-revalidate");
    reply_free(&r);
}

static void
test_server_routing_and_refusals(void **state)
{
    struct reply r;

    (void) state;
    req(&r, "GET", "blog.example.com", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    req(&r, "GET", "WWW.Blog.Test", "/about.html", NULL, NULL); /* wildcard */
    assert_int_equal(r.status, 200);
    reply_free(&r);
    req(&r, "GET", "a.b.blog.test", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 200); /* sites/record.h's wildcard rule */
    reply_free(&r);
    req(&r, "GET", "blog.test", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_null(strstr(r.body.data, "blog"));
    reply_free(&r);
    req(&r, "GET", "unknown.example", "/", NULL, NULL);
    assert_int_equal(r.status, 404);
    reply_free(&r);
    req(&r, "POST", "blog.localhost", "/", NULL, NULL);
    assert_int_equal(r.status, 405);
    expect_header(&r, "Allow", "GET, HEAD");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/%2e%2e/etc/passwd", NULL, NULL);
    assert_int_equal(r.status, 400);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/a%2fb", NULL, NULL);
    assert_int_equal(r.status, 400);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/a%00b", NULL, NULL);
    assert_int_equal(r.status, 400);
    reply_free(&r);
}

static unsigned long long
stat_of(const char *name)
{
    struct reply r;
    char key[64];
    const char *p;
    unsigned long long v = 0;

    admin(&r, "GET", "/v1/stats", "Authorization: Bearer " TOKEN, NULL);
    assert_int_equal(r.status, 200);
    snprintf(key, sizeof(key), "\"%s\":", name);
    p = strstr(r.body.data, key);
    assert_non_null(p);
    v = strtoull(p + strlen(key), NULL, 10);
    reply_free(&r);
    return v;
}

/* 40 clients miss on one blob at once: one origin fetch. The store
 * stalls the first GET, so that every client surely arrives while the
 * fetch is in flight; the S3 client's idle time-out then retries it. */
static void
test_server_coalesces_misses(void **state)
{
    enum { N = 40 };
    struct reply r[N];
    struct curl_slist *hl[N];
    CURL *c[N];
    CURLM *m = curl_multi_init();
    unsigned long long before = stat_of("origin_fetches");
    unsigned long long waits = stat_of("coalesced_waits");
    struct s3_test_origin_stats os0, os1;
    int running, i;

    (void) state;
    s3_test_origin_stats(W.o, &os0);
    s3_test_origin_stall_next(W.o, 1);
    for (i = 0; i < N; i++) {
        c[i] = prepare(&r[i], "GET", "blog.localhost", "/big.bin", W.http,
                       &hl[i], NULL, NULL);
        curl_multi_add_handle(m, c[i]);
    }
    do {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running > 0) {
            curl_multi_poll(m, NULL, 0, 100, NULL);
        }
    } while (running > 0);
    for (i = 0; i < N; i++) {
        curl_multi_remove_handle(m, c[i]);
        finish(c[i], &r[i], hl[i]);
        assert_int_equal(r[i].status, 200);
        assert_int_equal(r[i].body.len, BIG_LEN);
        assert_memory_equal(r[i].body.data, big, BIG_LEN);
        reply_free(&r[i]);
    }
    curl_multi_cleanup(m);
    assert_int_equal(stat_of("origin_fetches") - before, 1);
    assert_int_equal(stat_of("coalesced_waits") - waits, N - 1);
    s3_test_origin_stats(W.o, &os1);
    /* The stalled GET and its retry; /v1/stats calls are not origin
     * requests. */
    assert_int_equal(os1.requests - os0.requests, 2);
}

/* TLS: each site's certificate by SNI, verified against that site's own
 * self-signed certificate only. */
static void
https_get_verify(struct reply *r, const char *site, const char *host,
                 bool verify_host)
{
    struct curl_slist *hl, *resolve;
    char base[128], ca[512], rs[300];
    const char *port = strrchr(W.https, ':') + 1;
    CURL *c;

    snprintf(base, sizeof(base), "%s:%s", host, port);
    c = prepare(r, "GET", NULL, "/", base, &hl, NULL, NULL);
    snprintf(rs, sizeof(rs), "%s:%s:127.0.0.1", host, port);
    resolve = curl_slist_append(NULL, rs);
    snprintf(ca, sizeof(ca), "%s/%s-cert.pem", W.dir, site);
    {
        char url[256];

        snprintf(url, sizeof(url), "https://%s/", base);
        curl_easy_setopt(c, CURLOPT_URL, url);
    }
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    if (!verify_host) {
        /* Only which certificate came: the chain against site's. */
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    r->rc = curl_easy_perform(c);
    finish(c, r, hl);
    curl_slist_free_all(resolve);
}

static void
https_get(struct reply *r, const char *site, const char *host)
{
    https_get_verify(r, site, host, true);
}

static void
test_server_tls_by_sni(void **state)
{
    struct reply r;
    char port[8], want[128];

    (void) state;
    https_get(&r, "blog", "blog.example.com");
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    assert_false(header(&r, "Strict-Transport-Security", port, 8));
    reply_free(&r);
    https_get(&r, "shop", "shop.example.com");
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    expect_body(&r, "<!doctype html>shop\n");
    expect_header(&r, "Strict-Transport-Security", "max-age=600");
    reply_free(&r);
    /* The shop asks for HTTPS: plain HTTP is redirected. */
    req(&r, "GET", "shop.example.com", "/a/../x?q=1", NULL, NULL);
    assert_int_equal(r.status, 301);
    snprintf(want, sizeof(want), "https://shop.example.com:%s/x?q=1",
             strrchr(W.https, ':') + 1);
    expect_header(&r, "Location", want);
    reply_free(&r);
    /* The other site's certificate does not verify: the right one was
     * chosen by name. */
    https_get(&r, "blog", "shop.example.com");
    assert_int_not_equal(r.rc, CURLE_OK);
    reply_free(&r);
    https_get(&r, "blog", "www.blog.test");
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);
}

/* A record changed with no deploy (a domain added): the poll's listing
 * of sites/ sees its new ETag and the domain routes. */
static void
test_server_record_change(void **state)
{
    static const char record[] = "[site]\nname = blog\n"
                                 "domain = blog.example.com\n"
                                 "domain = *.blog.test\n"
                                 "domain = blog.example.org\n";
    struct reply r;

    (void) state;
    req(&r, "GET", "blog.example.org", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 404);
    reply_free(&r);
    s3_test_origin_put(W.o, "sites/blog.ini", record, strlen(record));
    assert_int_equal(edge_server_poll(W.srv, &(struct pier_err){0}), PIER_OK);
    req(&r, "GET", "blog.example.org", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

/* A domain dropped from a record leaves SNI selection at the next poll,
 * with no restart: the handshake for it gets the default certificate
 * (the blog's, the first loaded), no longer the shop's; put back, it
 * gets the shop's again. */
static void
test_server_dropped_domain_drops_cert(void **state)
{
    static const char dropped[] = "[site]\nname = shop\n"
                                  "domain = shop.example.net\n"
                                  "redirect_https = true\nhsts = 600\n";
    static const char record[] = "[site]\nname = shop\n"
                                 "domain = shop.example.com\n"
                                 "redirect_https = true\nhsts = 600\n";
    struct reply r;

    (void) state;
    /* The default is the blog's: an unknown name gets it. */
    https_get_verify(&r, "blog", "nosuch.example", false);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);
    https_get_verify(&r, "shop", "shop.example.com", false);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);

    s3_test_origin_put(W.o, "sites/shop.ini", dropped, strlen(dropped));
    assert_int_equal(edge_server_poll(W.srv, &(struct pier_err){0}), PIER_OK);
    https_get_verify(&r, "shop", "shop.example.com", false);
    assert_int_not_equal(r.rc, CURLE_OK);
    reply_free(&r);
    https_get_verify(&r, "blog", "shop.example.com", false);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);
    /* The domain that stayed (and the new one) keep the shop's. */
    https_get_verify(&r, "shop", "shop.localhost", false);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);
    https_get_verify(&r, "shop", "shop.example.net", false);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);

    s3_test_origin_put(W.o, "sites/shop.ini", record, strlen(record));
    assert_int_equal(edge_server_poll(W.srv, &(struct pier_err){0}), PIER_OK);
    https_get(&r, "shop", "shop.example.com");
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

/* A blob too large for memory is stored on disk after its fetch, then
 * served from there without the origin. */
static void
test_server_disk_tier(void **state)
{
    struct reply r;
    unsigned long long fetches;
    int i;

    (void) state;
    for (i = 0; i < 200 && stat_of("disk_entries") == 0; i++) {
        usleep(10000); /* the store runs on the thread pool */
    }
    assert_true(stat_of("disk_entries") >= 1);
    fetches = stat_of("origin_fetches");
    req(&r, "GET", "blog.localhost", "/big.bin", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "X-Cache", "HIT");
    assert_int_equal(r.body.len, BIG_LEN);
    assert_memory_equal(r.body.data, big, BIG_LEN);
    reply_free(&r);
    assert_int_equal(stat_of("origin_fetches"), fetches);
}

/* Activation by delta: the changed page is new at once, an unchanged
 * page is still a HIT. */
static void
test_server_activation(void **state)
{
    struct sites_manifest *m2 =
        deploy("20261124T094000Z-bbbbbb", index_v2, true);
    struct sites_delta *d;
    struct pier_buf json;
    struct pier_err err;
    struct reply r;
    char auth[] = "Authorization: Bearer " TOKEN;
    unsigned long long fetches = stat_of("origin_fetches");
    int i;

    (void) state;
    publish(m2);
    d = sites_delta_compute(W.m1, m2, &err);
    assert_non_null(d);
    pier_buf_init(&json, SIZE_MAX);
    assert_int_equal(sites_delta_encode(d, &json, &err), PIER_OK);

    admin(&r, "POST", "/v1/sites/blog/activate", NULL, json.data);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    admin(&r, "POST", "/v1/sites/blog/activate",
          "Authorization: Bearer wrong-token-0123456789", json.data);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    admin(&r, "POST", "/v1/sites/blog/activate", auth, json.data);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"applied\":\"delta\""));
    assert_non_null(strstr(r.body.data, "20261124T094000Z-bbbbbb"));
    reply_free(&r);

    /* The changed entry was prefetched (identity and gzip): once the
     * fetches are done, the first visitor hits. */
    for (i = 0; i < 300
                && (stat_of("origin_fetches") < fetches + 2
                    || stat_of("in_flight") != 0);
         i++) {
        usleep(10000);
    }
    assert_int_equal(stat_of("origin_fetches"), fetches + 2);
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_body(&r, index_v2);
    expect_header(&r, "X-Cache", "HIT");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/about.html", NULL, NULL);
    expect_body(&r, about);
    expect_header(&r, "X-Cache", "HIT");
    reply_free(&r);

    /* A delta from a deploy the edge does not hold: the whole manifest. */
    admin(&r, "POST", "/v1/sites/blog/activate", auth, json.data);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"applied\":\"manifest\""));
    reply_free(&r);

    admin(&r, "GET", "/v1/sites", auth, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"site\":\"blog\""));
    assert_non_null(strstr(r.body.data, "blog.example.com"));
    reply_free(&r);
    admin(&r, "GET", "/metrics", auth, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "pier_edge_hits_total"));
    reply_free(&r);
    admin(&r, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);

    pier_buf_release(&json);
    sites_delta_free(d);
    sites_manifest_free(W.m1);
    W.m1 = m2;
}

/* A deploy whose new page's blob holds wrong bytes in the store: the
 * client's response is cut (never the whole wrong body), nothing is
 * cached, and a second try fetches again. */
static void
test_server_corrupt_blob_cut(void **state)
{
    static const char page3[] = "<!doctype html>v3 page of some length\n";
    static const char evil[] = "<!doctype html>EVIL page of some length\n";
    struct sites_manifest *m3 = deploy("20261124T095000Z-cccccc", page3, true);
    struct reply r;
    char key[128], sha[65];
    unsigned long long before;

    (void) state;
    sha_hex(page3, strlen(page3), sha);
    snprintf(key, sizeof(key), "blobs/%s", sha);
    s3_test_origin_put(W.o, key, evil, sizeof(evil) - 1);
    publish(m3);
    assert_int_equal(
        edge_server_load_site(W.srv, "blog", &(struct pier_err){0}), PIER_OK);
    before = stat_of("origin_fetches");
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_true(r.rc != CURLE_OK || r.status == 502);
    if (r.status != 502) {
        assert_true(r.body.len < sizeof(evil) - 1); /* cut */
    }
    /* Never the whole wrong body. */
    assert_false(r.body.len == sizeof(evil) - 1
                 && memcmp(r.body.data, evil, r.body.len) == 0);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_true(r.rc != CURLE_OK || r.status == 502);
    reply_free(&r);
    assert_int_equal(stat_of("origin_fetches") - before, 2);
    assert_true(stat_of("fetch_failures") >= 2);
    sites_manifest_free(W.m1);
    W.m1 = m3;
}

/* The store goes away: cached pages are still served, a miss fails fast
 * with 502. */
static void
test_server_store_down(void **state)
{
    struct reply r;

    (void) state;
    s3_test_origin_stop(W.o);
    W.o = NULL;
    req(&r, "GET", "blog.localhost", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "X-Cache", "HIT");
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/docs/", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/big.bin", NULL, NULL); /* disk */
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, BIG_LEN);
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/404.html", NULL, NULL);
    if (r.status != 200) {
        assert_int_equal(r.status, 502); /* not cached: fails, fast */
    }
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/", NULL, NULL);
    assert_true(r.rc != CURLE_OK || r.status == 502);
    reply_free(&r);
}

/* Restarted while the store is down: the saved manifests and the disk
 * tier serve what was cached. */
static void
test_server_restart_store_down(void **state)
{
    struct edge_server_opts o;
    struct edge_server *old = W.srv;
    struct pier_err err;
    struct reply r;

    (void) state;
    PIER_ASSERT(W.o == NULL); /* stopped by the test before */
    pier_http_server_stop(edge_server_http(old));
    pier_http_server_wait(edge_server_http(old));
    edge_server_free(old);
    W.srv = NULL;

    memset(&o, 0, sizeof(o));
    pier_s3_config_init(&o.s3);
    o.s3.endpoint = "http://127.0.0.1:9"; /* discard: nothing listens */
    o.s3.region = REGION;
    o.s3.bucket = BUCKET;
    o.s3.access_key_id = AKID;
    o.s3.secret_access_key = SECRET;
    o.s3.max_retries = 0;
    o.s3.connect_timeout_ms = 500;
    o.listen = "127.0.0.1:0";
    o.cache.mem_max = 64 << 20;
    o.cache.object_max = 100000;
    o.cache.dir = W.dir;
    o.cache.disk_max = 64 << 20;
    o.workers = 1;
    o.poll_ms = 600000;
    W.srv = edge_server_new(&o, &err);
    if (W.srv == NULL) {
        fail_msg("restart: %s", err.msg);
    }
    assert_int_equal(pier_http_server_start(edge_server_http(W.srv), &err),
                     PIER_OK);
    PIER_ASSERT(pier_http_server_addr(edge_server_http(W.srv), "http", W.http,
                                      sizeof(W.http))
                == PIER_OK);
    req(&r, "GET", "blog.example.com", "/about.html", NULL, NULL);
    assert_int_equal(r.status, 200);
    expect_body(&r, about);
    expect_header(&r, "X-Cache", "HIT"); /* from the disk tier */
    reply_free(&r);
    req(&r, "GET", "shop.example.com", "/", NULL, NULL);
    assert_int_equal(r.status, 200); /* no TLS listener now: no redirect */
    reply_free(&r);
    req(&r, "GET", "blog.localhost", "/big.bin", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, BIG_LEN);
    reply_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_serves_and_caches),
        cmocka_unit_test(test_server_encoding_etag_range),
        cmocka_unit_test(test_server_rules),
        cmocka_unit_test(test_server_routing_and_refusals),
        cmocka_unit_test(test_server_tls_by_sni),
        cmocka_unit_test(test_server_record_change),
        cmocka_unit_test(test_server_dropped_domain_drops_cert),
        cmocka_unit_test(test_server_coalesces_misses),
        cmocka_unit_test(test_server_disk_tier),
        cmocka_unit_test(test_server_activation),
        cmocka_unit_test(test_server_corrupt_blob_cut),
        cmocka_unit_test(test_server_store_down),
        cmocka_unit_test(test_server_restart_store_down),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("edge/server", tests, setup, teardown);
}
