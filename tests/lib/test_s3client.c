/*
 * tests/lib/test_s3client.c - lib/s3client.c against the loopback S3 test
 * origin (tests/lib/s3_test_origin.c), which checks every signature.
 *
 * Each test runs its own loop and client and ends by freeing the client
 * and asserting that the loop closes (uv_loop_close() == 0).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/s3client.h"
#include "lib/sha.h"
#include "tests/lib/s3_test_origin.h"

#define AKID   "AKIDPIERTEST"
#define SECRET "pier/secret+key=="
#define REGION "eu-test-1"
#define BUCKET "pier"

struct fixture {
    struct s3_test_origin *o;
    uv_loop_t loop;
    struct pier_s3_config cfg;
    struct pier_s3_client *c;
    unsigned bad_signatures; /* the test's deliberate ones */
};

static int
setup_with(void **state, const char *token)
{
    struct fixture *f = pier_calloc(1, sizeof(*f));
    struct pier_err err;

    f->o = s3_test_origin_start(AKID, SECRET, REGION, BUCKET, token);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    pier_s3_config_init(&f->cfg);
    f->cfg.endpoint = s3_test_origin_endpoint(f->o);
    f->cfg.region = REGION;
    f->cfg.bucket = BUCKET;
    f->cfg.access_key_id = AKID;
    f->cfg.secret_access_key = SECRET;
    f->cfg.session_token = token;
    f->cfg.retry_base_ms = 10;
    f->c = pier_s3_client_new(&f->loop, &f->cfg, &err);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    return setup_with(state, NULL);
}

static int
setup_token(void **state)
{
    return setup_with(state, "session/token+value");
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    struct s3_test_origin_stats st;

    pier_s3_client_free(f->c);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    s3_test_origin_stats(f->o, &st);
    s3_test_origin_stop(f->o);
    /* Every test runs with valid keys: no request may have been refused
     * but the ones it meant. */
    assert_int_equal(st.bad_signatures, f->bad_signatures);
    pier_free(f);
    return 0;
}

/* Replace the fixture's client with one built from f->cfg. */
static void
reclient(struct fixture *f)
{
    struct pier_err err;

    pier_s3_client_free(f->c);
    f->c = pier_s3_client_new(&f->loop, &f->cfg, &err);
    assert_non_null(f->c);
}

/* What a done callback saw. */
struct result {
    bool done;
    bool ok;
    struct pier_err err;
    int status;
    unsigned attempts;
    struct pier_buf body;
    char etag[128];
    char ctype[128];
    int64_t content_length;
    struct pier_s3_list list;
    struct pier_buf raw_headers;
    unsigned *counter;
};

static void
result_init(struct result *r)
{
    memset(r, 0, sizeof(*r));
    pier_buf_init(&r->body, SIZE_MAX);
    pier_buf_init(&r->raw_headers, SIZE_MAX);
    pier_s3_list_init(&r->list);
}

static void
result_release(struct result *r)
{
    pier_buf_release(&r->body);
    pier_buf_release(&r->raw_headers);
    pier_s3_list_release(&r->list);
}

static void
on_done(struct pier_s3_response *resp, const struct pier_err *err, void *arg)
{
    struct result *r = arg;
    size_t n;
    char *p;

    assert_false(r->done);
    r->done = true;
    r->ok = err == NULL;
    if (err != NULL) {
        r->err = *err;
    }
    r->status = resp->status;
    r->attempts = resp->attempts;
    r->content_length = resp->content_length;
    snprintf(r->etag, sizeof(r->etag), "%.*s", (int) resp->etag.len,
             resp->etag.ptr);
    snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int) resp->content_type.len,
             resp->content_type.ptr);
    /* Take the body, as the header allows. */
    pier_buf_release(&r->body);
    p = pier_buf_detach(&resp->body, &n);
    pier_buf_init(&r->body, SIZE_MAX);
    assert_int_equal(pier_buf_add(&r->body, p, n), PIER_OK);
    pier_free(p);
    assert_int_equal(
        pier_buf_addstr(&r->raw_headers, pier_buf_str(&resp->headers_raw)),
        PIER_OK);
    pier_s3_list_release(&r->list);
    r->list = resp->list;
    pier_s3_list_init(&resp->list);
    if (r->counter != NULL) {
        (*r->counter)++;
    }
}

static void
wait_for(uv_loop_t *loop, const bool *done)
{
    while (!*done) {
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* Run op to its end; returns whether it succeeded. */
static bool
run(struct fixture *f, enum pier_s3_op op, const struct pier_s3_request *q,
    struct result *r)
{
    struct pier_err err;

    result_init(r);
    assert_int_equal(pier_s3_start(f->c, op, q, on_done, r, &err), PIER_OK);
    assert_false(r->done); /* never called back from inside start */
    wait_for(&f->loop, &r->done);
    return r->ok;
}

static void
put_str(struct fixture *f, const char *key, const char *body)
{
    struct pier_s3_request q = {0};
    struct result r;

    q.key = key;
    q.body = body;
    q.body_len = strlen(body);
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    result_release(&r);
}

/* Fill a file with n deterministic pseudo-random bytes. */
static void
make_file(const char *path, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    unsigned char buf[4096];
    uint32_t x = 2463534242u;
    size_t i, done = 0;

    assert_true(fd >= 0);
    while (done < n) {
        size_t m = n - done < sizeof(buf) ? n - done : sizeof(buf);

        for (i = 0; i < m; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (unsigned char) x;
        }
        assert_int_equal(write(fd, buf, m), (ssize_t) m);
        done += m;
    }
    close(fd);
}

static void
read_file(const char *path, struct pier_buf *out)
{
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    pier_buf_reset(out);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        assert_int_equal(pier_buf_add(out, buf, (size_t) n), PIER_OK);
    }
    close(fd);
}

static void
tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "/tmp/pier-test-s3client-%ld-%s", (long) getpid(), name);
}

/*
 * Round trips.
 */

static void
test_s3client_put_get_head_delete(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct pier_s3_header extra[] = {
        {PIER_STR("Content-Type"), PIER_STR("text/html; charset=utf-8")},
        {PIER_STR("Cache-Control"), PIER_STR("public, max-age=0")},
        {PIER_STR("x-amz-meta-color"), PIER_STR("blue")},
    };
    struct pier_buf got;
    struct result r;
    char etag[128];

    pier_buf_init(&got, SIZE_MAX);
    q.key = "sites/demo/index.html";
    q.body = "<h1>hello</h1>";
    q.body_len = 14;
    q.headers = extra;
    q.nheaders = PIER_NELEMS(extra);
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 1);
    assert_true(strlen(r.etag) > 2 && r.etag[0] == '"');
    snprintf(etag, sizeof(etag), "%s", r.etag);
    result_release(&r);
    assert_true(s3_test_origin_get(f->o, "sites/demo/index.html", &got));
    assert_string_equal(got.data, "<h1>hello</h1>");
    assert_true(s3_test_origin_header(f->o, "sites/demo/index.html",
                                      "x-amz-meta-color", &got));
    assert_string_equal(got.data, "blue");

    memset(&q, 0, sizeof(q));
    q.key = "sites/demo/index.html";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "<h1>hello</h1>");
    assert_string_equal(r.etag, etag);
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_int_equal(r.content_length, 14);
    result_release(&r);

    assert_true(run(f, PIER_S3_OP_HEAD, &q, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_int_equal(r.content_length, 14);
    assert_string_equal(r.etag, etag);
    {
        struct pier_s3_response fake;
        struct pier_str v;

        pier_s3_response_init(&fake);
        assert_int_equal(
            pier_buf_addstr(&fake.headers_raw, pier_buf_str(&r.raw_headers)),
            PIER_OK);
        assert_true(pier_s3_response_header(&fake, "X-AMZ-META-COLOR", &v));
        assert_true(pier_str_eq(v, PIER_STR("blue")));
        assert_true(pier_s3_response_header(&fake, "cache-control", &v));
        assert_true(pier_str_eq(v, PIER_STR("public, max-age=0")));
        assert_false(pier_s3_response_header(&fake, "x-nope", &v));
        pier_s3_response_release(&fake);
    }
    result_release(&r);

    assert_true(run(f, PIER_S3_OP_DELETE, &q, &r));
    assert_int_equal(r.status, 204);
    result_release(&r);
    assert_false(s3_test_origin_get(f->o, "sites/demo/index.html", &got));

    /* Now it is gone: a 404 with S3's XML, never retried. */
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_NO_SUCH_KEY);
    assert_int_equal(r.err.http, 404);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.err.msg, "NoSuchKey"));
    result_release(&r);
    assert_false(run(f, PIER_S3_OP_HEAD, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_NO_SUCH_KEY);
    result_release(&r);
    pier_buf_release(&got);
}

/* Keys with bytes that must be percent-encoded, and dot segments, reach
 * the store as they were and are signed as sent. */
static void
test_s3client_awkward_keys(void **state)
{
    struct fixture *f = *state;
    static const char *const keys[] = {
        "dir/sp ace+plus%&=?#.txt",
        "caf\xc3\xa9/na\xc3\xafve",
        "a/../b/./c",
        "tilde~under_score-dash.dot",
        "x//double",
    };
    struct pier_s3_request q = {0};
    struct pier_buf got;
    struct result r;
    size_t i;

    pier_buf_init(&got, SIZE_MAX);
    for (i = 0; i < PIER_NELEMS(keys); i++) {
        put_str(f, keys[i], keys[i]);
        assert_true(s3_test_origin_get(f->o, keys[i], &got));
        assert_string_equal(got.data, keys[i]);
        q.key = keys[i];
        assert_true(run(f, PIER_S3_OP_GET, &q, &r));
        assert_string_equal(r.body.data, keys[i]);
        result_release(&r);
    }
    pier_buf_release(&got);
}

/* An endpoint with a path: requests go below it, signed as sent (the
 * origin checks the signature before it looks for the bucket). */
static void
test_s3client_endpoint_path(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r;
    char endpoint[96];

    snprintf(endpoint, sizeof(endpoint), "%s/base/",
             s3_test_origin_endpoint(f->o));
    f->cfg.endpoint = endpoint;
    reclient(f);
    q.key = "k";
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_NO_SUCH_BUCKET);
    assert_int_equal(r.err.http, 404);
    result_release(&r);
}

static void
test_s3client_session_token(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r;

    put_str(f, "k", "v");
    q.key = "k";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "v");
    result_release(&r);
}

/* A wrong secret is refused, as SignatureDoesNotMatch, and not retried. */
static void
test_s3client_bad_secret(void **state)
{
    struct s3_test_origin *o =
        s3_test_origin_start(AKID, SECRET, REGION, BUCKET, NULL);
    struct pier_s3_config cfg;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct fixture f;
    struct pier_err err;
    struct result r;

    (void) state;
    assert_int_equal(uv_loop_init(&f.loop), 0);
    pier_s3_config_init(&cfg);
    cfg.endpoint = s3_test_origin_endpoint(o);
    cfg.region = REGION;
    cfg.bucket = BUCKET;
    cfg.access_key_id = AKID;
    cfg.secret_access_key = "wrong";
    f.c = pier_s3_client_new(&f.loop, &cfg, &err);
    assert_non_null(f.c);
    q.key = "k";
    assert_false(run(&f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    assert_int_equal(r.err.http, 403);
    assert_int_equal(r.attempts, 1);
    result_release(&r);
    pier_s3_client_free(f.c);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    s3_test_origin_stats(o, &st);
    assert_int_equal(st.bad_signatures, 1);
    s3_test_origin_stop(o);
}

/*
 * Conditionals and ranges.
 */

static void
test_s3client_conditional_put(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct pier_buf got;
    struct result r;
    char etag[128];

    pier_buf_init(&got, SIZE_MAX);
    /* A blob is written once: If-None-Match: * */
    q.key = "blobs/abc";
    q.body = "first";
    q.body_len = 5;
    q.if_none_match = "*";
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    snprintf(etag, sizeof(etag), "%s", r.etag);
    result_release(&r);
    q.body = "second";
    q.body_len = 6;
    assert_false(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(r.err.http, 412);
    assert_int_equal(r.status, 412);
    assert_int_equal(r.attempts, 1);
    result_release(&r);
    assert_true(s3_test_origin_get(f->o, "blobs/abc", &got));
    assert_string_equal(got.data, "first");

    /* The live pointer flips with If-Match on the old ETag. */
    q.if_none_match = NULL;
    q.if_match = "\"not-the-etag\"";
    assert_false(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_PRECONDITION_FAILED);
    result_release(&r);
    q.if_match = etag;
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_string_not_equal(r.etag, etag);
    result_release(&r);
    assert_true(s3_test_origin_get(f->o, "blobs/abc", &got));
    assert_string_equal(got.data, "second");
    /* The old ETag no longer holds: a second flip from it loses. */
    assert_false(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_PRECONDITION_FAILED);
    result_release(&r);
    pier_buf_release(&got);
}

static void
test_s3client_conditional_get_and_range(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r;
    char etag[128];

    put_str(f, "live/demo", "0123456789");
    q.key = "live/demo";
    assert_true(run(f, PIER_S3_OP_HEAD, &q, &r));
    snprintf(etag, sizeof(etag), "%s", r.etag);
    result_release(&r);

    q.if_none_match = etag;
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_NOT_MODIFIED);
    assert_int_equal(r.err.http, 304);
    result_release(&r);
    q.if_none_match = "\"other\"";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "0123456789");
    result_release(&r);

    q.if_none_match = NULL;
    q.if_match = "\"other\"";
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_PRECONDITION_FAILED);
    result_release(&r);
    q.if_match = etag;
    q.range = "bytes=2-5";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.status, 206);
    assert_string_equal(r.body.data, "2345");
    result_release(&r);
    q.if_match = NULL;
    q.range = "bytes=-3";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "789");
    result_release(&r);
    q.range = "bytes=50-";
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_INVALID_RANGE);
    assert_int_equal(r.err.http, 416);
    result_release(&r);
}

/*
 * Listing.
 */

static void
test_s3client_list_pages(void **state)
{
    struct fixture *f = *state;
    static const char *const keys[] = {
        "a/1", "a/2", "b/1", "c", "d&<e>", "live/x", "live/y", "live/z",
    };
    struct pier_s3_request q = {0};
    struct pier_buf seen;
    struct result r;
    char token[256] = "";
    size_t i, pages = 0;

    pier_buf_init(&seen, SIZE_MAX);
    for (i = 0; i < PIER_NELEMS(keys); i++) {
        put_str(f, keys[i], "12345");
    }
    /* The whole bucket with "/" as delimiter, two entries a page. */
    q.delimiter = "/";
    q.max_keys = 2;
    do {
        q.continuation_token = token[0] != '\0' ? token : NULL;
        assert_true(run(f, PIER_S3_OP_LIST, &q, &r));
        for (i = 0; i < r.list.nobjects; i++) {
            assert_int_equal(pier_buf_addf(&seen, "%s;", r.list.objects[i].key),
                             PIER_OK);
        }
        for (i = 0; i < r.list.nprefixes; i++) {
            assert_int_equal(pier_buf_addf(&seen, "[%s];", r.list.prefixes[i]),
                             PIER_OK);
        }
        assert_true(r.list.nobjects + r.list.nprefixes <= 2);
        if (r.list.truncated) {
            snprintf(token, sizeof(token), "%s", r.list.next_token);
        } else {
            assert_null(r.list.next_token);
            token[0] = '\0';
        }
        pages++;
        result_release(&r);
    } while (token[0] != '\0');
    assert_string_equal(seen.data, "[a/];[b/];c;d&<e>;[live/];");
    assert_int_equal(pages, 3);

    /* One prefix: keys with sizes, ETags and dates. */
    memset(&q, 0, sizeof(q));
    q.prefix = "live/";
    assert_true(run(f, PIER_S3_OP_LIST, &q, &r));
    assert_int_equal(r.list.nobjects, 3);
    assert_int_equal(r.list.nprefixes, 0);
    assert_false(r.list.truncated);
    assert_string_equal(r.list.objects[0].key, "live/x");
    assert_string_equal(r.list.objects[2].key, "live/z");
    assert_int_equal(r.list.objects[1].size, 5);
    assert_true(r.list.objects[1].etag[0] == '"');
    assert_true(r.list.objects[1].last_modified > 1700000000);
    result_release(&r);

    q.prefix = "nothing/";
    assert_true(run(f, PIER_S3_OP_LIST, &q, &r));
    assert_int_equal(r.list.nobjects, 0);
    result_release(&r);
    pier_buf_release(&seen);
}

static void
test_s3client_xml_parsers(void **state)
{
    static const char list[] =
        "<?xml version=\"1.0\"?><ListBucketResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>t1"
        "</NextContinuationToken><Contents><Key>k&amp;1</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;e1&quot;</ETag><Size>434234</Size><Owner><ID>x</ID>"
        "</Owner></Contents><CommonPrefixes><Prefix>p/</Prefix>"
        "</CommonPrefixes></ListBucketResult>";
    static const char bad_size[] =
        "<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents>"
        "</ListBucketResult>";
    static const char error[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket"
        "</Code><Message>The specified bucket does not exist</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    struct pier_s3_list l;
    struct pier_err err;

    (void) state;
    pier_s3_list_init(&l);
    assert_int_equal(pier_s3_list_parse(list, sizeof(list) - 1, &l, &err),
                     PIER_OK);
    assert_int_equal(l.nobjects, 1);
    assert_string_equal(l.objects[0].key, "k&1");
    assert_string_equal(l.objects[0].etag, "\"e1\"");
    assert_int_equal(l.objects[0].size, 434234);
    assert_int_equal(l.objects[0].last_modified, 1255369830);
    assert_string_equal(l.objects[0].last_modified_text,
                        "2009-10-12T17:50:30.000Z");
    assert_int_equal(l.nprefixes, 1);
    assert_string_equal(l.prefixes[0], "p/");
    assert_true(l.truncated);
    assert_string_equal(l.next_token, "t1");
    pier_s3_list_release(&l);
    assert_int_equal(
        pier_s3_list_parse(bad_size, sizeof(bad_size) - 1, &l, &err), PIER_ERR);
    pier_s3_list_release(&l);
    assert_int_equal(pier_s3_list_parse("<nope", 5, &l, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
    pier_s3_list_release(&l);

    assert_int_equal(
        pier_s3_error_parse(404, error, sizeof(error) - 1, "GET 'b/k'", &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    assert_int_equal(err.http, 404);
    assert_non_null(strstr(err.msg, "4442587FB7D0A2F9"));
    /* No body (HEAD), or a proxy's HTML: the status decides. */
    pier_s3_error_parse(412, "", 0, "HEAD 'b/k'", &err);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    pier_s3_error_parse(502, "<html>bad gateway</html>", 24, "GET", &err);
    assert_int_equal(err.s3, PIER_S3_INTERNAL_ERROR);
    assert_int_equal(err.http, 502);
    pier_s3_error_parse(418, "", 0, "GET", &err);
    assert_int_equal(err.s3, PIER_S3_NONE);
    assert_int_equal(err.http, 418);
}

/*
 * Connections, retries, time-outs.
 */

static void
test_s3client_keepalive_reuse(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct result r;
    int i;

    put_str(f, "k", "value");
    q.key = "k";
    for (i = 0; i < 20; i++) {
        assert_true(run(f, PIER_S3_OP_GET, &q, &r));
        result_release(&r);
    }
    s3_test_origin_stats(f->o, &st);
    assert_int_equal(st.requests, 21);
    assert_int_equal(st.connections, 1);
    assert_int_equal(pier_s3_client_connections(f->c), 1);
}

static void
test_s3client_retries_5xx(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct result r;
    uint64_t t0;

    f->cfg.retry_base_ms = 40;
    f->cfg.max_retries = 3;
    reclient(f);
    q.key = "k";
    q.body = "retried";
    q.body_len = 7;
    s3_test_origin_fail_next(f->o, 2, 503);
    t0 = uv_hrtime();
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    /* Two backoffs: at least half of 40 ms, then half of 80 ms. */
    assert_true(uv_hrtime() - t0 >= 60ull * 1000 * 1000);
    assert_int_equal(r.attempts, 3);
    result_release(&r);

    /* More failures than retries: the last error comes back. */
    s3_test_origin_fail_next(f->o, 10, 503);
    memset(&q, 0, sizeof(q));
    q.key = "k";
    f->cfg.retry_base_ms = 1;
    f->cfg.max_retries = 2;
    reclient(f);
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_SERVICE_UNAVAILABLE);
    assert_int_equal(r.err.http, 503);
    assert_int_equal(r.attempts, 3);
    result_release(&r);
    s3_test_origin_stats(f->o, &st);
    assert_int_equal(st.requests, 3 + 3);
    s3_test_origin_fail_next(f->o, 0, 0);

    /* 500 is retried too. */
    s3_test_origin_fail_next(f->o, 1, 500);
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "retried");
    assert_int_equal(r.attempts, 2);
    result_release(&r);
}

static void
test_s3client_retries_dropped_connection(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct result r;

    put_str(f, "k", "value");
    s3_test_origin_drop_next(f->o, 2);
    q.key = "k";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "value");
    assert_true(r.attempts >= 2);
    result_release(&r);
    s3_test_origin_stats(f->o, &st);
    assert_int_equal(st.connections, 3);
}

static void
test_s3client_retries_timeout(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r;

    f->cfg.request_timeout_ms = 300;
    reclient(f);
    put_str(f, "k", "value");
    s3_test_origin_stall_next(f->o, 1);
    q.key = "k";
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_string_equal(r.body.data, "value");
    assert_int_equal(r.attempts, 2);
    result_release(&r);

    /* Never answered at all: a time-out error, with ETIMEDOUT. */
    f->cfg.max_retries = 1;
    reclient(f);
    s3_test_origin_stall_next(f->o, 5);
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.sys, ETIMEDOUT);
    assert_int_equal(r.attempts, 2);
    result_release(&r);
    s3_test_origin_stall_next(f->o, 0);
}

static void
test_s3client_connection_refused(void **state)
{
    struct fixture *f = *state;
    struct s3_test_origin *o =
        s3_test_origin_start(AKID, SECRET, REGION, BUCKET, NULL);
    char endpoint[64];
    struct pier_s3_request q = {0};
    struct result r;

    /* A port that was just listening and no longer is. */
    snprintf(endpoint, sizeof(endpoint), "%s", s3_test_origin_endpoint(o));
    s3_test_origin_stop(o);
    f->cfg.endpoint = endpoint;
    f->cfg.max_retries = 2;
    f->cfg.retry_base_ms = 1;
    reclient(f);
    q.key = "k";
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.sys, ECONNREFUSED);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.status, 0);
    result_release(&r);
}

/*
 * Streaming.
 */

struct stream {
    struct pier_hash h;
    unsigned headers_calls;
    uint64_t bytes;
    unsigned chunks;
    int headers_status;
    int64_t headers_length;
    uint64_t stop_after;
};

static int
on_stream_data(const void *p, size_t n, void *arg)
{
    struct stream *s = arg;

    assert_int_equal(s->headers_status, 200); /* headers came first */
    pier_hash_update(&s->h, p, n);
    s->bytes += n;
    s->chunks++;
    if (s->stop_after > 0 && s->bytes >= s->stop_after) {
        return PIER_ERR;
    }
    return PIER_OK;
}

static void
on_stream_headers(const struct pier_s3_response *resp, void *arg)
{
    struct stream *s = arg;

    s->headers_calls++;
    s->headers_status = resp->status;
    s->headers_length = resp->content_length;
}

static void
test_s3client_stream_file_up_and_down(void **state)
{
    struct fixture *f = *state;
    const size_t size = 5 * 1024 * 1024 + 17;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct pier_buf want, got;
    struct stream s = {0};
    unsigned char d1[32], d2[32];
    char up[128], down[128];
    struct result r;

    tmp_path(up, sizeof(up), "up");
    tmp_path(down, sizeof(down), "down");
    make_file(up, size);
    pier_buf_init(&want, SIZE_MAX);
    pier_buf_init(&got, SIZE_MAX);
    read_file(up, &want);

    /* Hashed on the thread pool, sent from the file; the first attempt
     * fails, so the second rewinds it. */
    s3_test_origin_fail_next(f->o, 1, 503);
    q.key = "blobs/big";
    q.body_file = up;
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    assert_int_equal(r.attempts, 2);
    result_release(&r);
    assert_true(s3_test_origin_get(f->o, "blobs/big", &got));
    assert_int_equal(got.len, size);
    assert_memory_equal(got.data, want.data, size);
    s3_test_origin_stats(f->o, &st);
    assert_true(st.continues >= 1); /* curl asked before sending 5 MiB */

    /* Streamed to a callback, in many pieces. */
    memset(&q, 0, sizeof(q));
    q.key = "blobs/big";
    q.on_data = on_stream_data;
    q.on_headers = on_stream_headers;
    q.stream_arg = &s;
    pier_hash_init(&s.h, PIER_HASH_SHA256);
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.body.len, 0);
    result_release(&r);
    pier_hash_final(&s.h, d1);
    pier_sha256(want.data, want.len, d2);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(s.bytes, size);
    assert_int_equal(s.headers_length, (int64_t) size);
    assert_true(s.chunks > 1);

    /* A reader that stops: an error, no retry. */
    s.stop_after = 100000;
    s.bytes = 0;
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.attempts, 1);
    result_release(&r);
    pier_hash_release(&s.h);

    /* To a file, after a dropped first attempt. */
    memset(&q, 0, sizeof(q));
    q.key = "blobs/big";
    q.out_file = down;
    s3_test_origin_drop_next(f->o, 1);
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    result_release(&r);
    read_file(down, &got);
    assert_int_equal(got.len, size);
    assert_memory_equal(got.data, want.data, size);

    /* UNSIGNED-PAYLOAD, and a caller-supplied hash. */
    memset(&q, 0, sizeof(q));
    q.key = "blobs/unsigned";
    q.body_file = up;
    q.unsigned_payload = true;
    assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
    result_release(&r);
    assert_true(s3_test_origin_get(f->o, "blobs/unsigned", &got));
    assert_int_equal(got.len, size);
    {
        char hex[65];

        pier_sha256_hex(want.data, want.len, hex);
        q.key = "blobs/hashed";
        q.unsigned_payload = false;
        q.payload_sha256 = hex;
        assert_true(run(f, PIER_S3_OP_PUT, &q, &r));
        result_release(&r);
        /* A wrong hash is caught by the store. */
        hex[0] = hex[0] == '0' ? '1' : '0';
        assert_false(run(f, PIER_S3_OP_PUT, &q, &r));
        assert_int_equal(r.err.http, 403);
        result_release(&r);
    }
    unlink(up);
    unlink(down);
    pier_buf_release(&want);
    pier_buf_release(&got);
    f->bad_signatures = 1; /* the wrong hash */
}

/* A stream cut in the middle goes on from where it stopped, pinned to the
 * object's ETag; each byte reaches the sink once. */
static void
test_s3client_stream_resume(void **state)
{
    struct fixture *f = *state;
    const size_t size = 1024 * 1024 + 3;
    unsigned char *data = pier_malloc(size), d1[32], d2[32];
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct stream s;
    struct result r;
    char etag[128];
    size_t i;
    int round;

    for (i = 0; i < size; i++) {
        data[i] = (unsigned char) (i * 7 + i / 251);
    }
    s3_test_origin_put(f->o, "blobs/resume", data, size);
    pier_sha256(data, size, d2);
    q.key = "blobs/resume";
    assert_true(run(f, PIER_S3_OP_HEAD, &q, &r));
    snprintf(etag, sizeof(etag), "%s", r.etag);
    result_release(&r);

    /* Round 0: the server honours Range; round 1: it answers 200 again
     * and the client drops what the sink already has. */
    for (round = 0; round < 2; round++) {
        memset(&s, 0, sizeof(s));
        pier_hash_init(&s.h, PIER_HASH_SHA256);
        q.on_data = on_stream_data;
        q.on_headers = on_stream_headers;
        q.stream_arg = &s;
        s3_test_origin_ignore_range(f->o, round == 1);
        s3_test_origin_cut_next(f->o, 2, 300000);
        if (!run(f, PIER_S3_OP_GET, &q, &r)) {
            fail_msg("round %d: %s", round, r.err.msg);
        }
        assert_int_equal(r.attempts, 3);
        assert_int_equal(r.status, round == 0 ? 206 : 200);
        result_release(&r);
        pier_hash_final(&s.h, d1);
        pier_hash_release(&s.h);
        assert_int_equal(s.bytes, size);
        assert_memory_equal(d1, d2, 32);
        assert_int_equal(s.headers_calls, 1);
        s3_test_origin_stats(f->o, &st);
        /* Round 0: 300000 from the first answer, 300000 from the second
         * (bytes 300000-599999), the rest from the third. */
        if (round == 0) {
            assert_string_equal(st.last_range, "bytes=600000-");
        } else {
            assert_string_equal(st.last_range, "bytes=300000-");
        }
        assert_string_equal(st.last_if_match, etag);
    }
    s3_test_origin_ignore_range(f->o, false);

    /* A range of the caller's own is not resumed: the cut is an error. */
    memset(&s, 0, sizeof(s));
    pier_hash_init(&s.h, PIER_HASH_SHA256);
    q.range = "bytes=0-";
    q.on_headers = NULL;
    s.headers_status = 200; /* what on_stream_data checks */
    s3_test_origin_cut_next(f->o, 1, 1000);
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.attempts, 1);
    result_release(&r);
    pier_hash_release(&s.h);
    pier_free(data);
}

static void
test_s3client_max_body(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r;

    put_str(f, "k", "0123456789");
    q.key = "k";
    q.max_body = 4;
    assert_false(run(f, PIER_S3_OP_GET, &q, &r));
    assert_int_equal(r.err.s3, PIER_S3_ENTITY_TOO_LARGE);
    assert_int_equal(r.attempts, 1);
    result_release(&r);
    q.max_body = 10;
    assert_true(run(f, PIER_S3_OP_GET, &q, &r));
    result_release(&r);
}

/*
 * Many requests on one loop.
 */

static void
test_s3client_concurrency(void **state)
{
    struct fixture *f = *state;
    enum { N = 64 };
    struct result *rs = pier_calloc(N, sizeof(*rs));
    char keys[N][32], bodies[N][32];
    struct pier_s3_request q;
    struct s3_test_origin_stats st;
    struct pier_err err;
    unsigned finished = 0;
    bool all = false;
    int i;

    for (i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "c/%02d", i);
        snprintf(bodies[i], sizeof(bodies[i]), "body of %d", i);
        memset(&q, 0, sizeof(q));
        q.key = keys[i];
        q.body = bodies[i];
        q.body_len = strlen(bodies[i]);
        result_init(&rs[i]);
        rs[i].counter = &finished;
        assert_int_equal(
            pier_s3_start(f->c, PIER_S3_OP_PUT, &q, on_done, &rs[i], &err),
            PIER_OK);
    }
    while (finished < N) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    for (i = 0; i < N; i++) {
        assert_true(rs[i].ok);
        result_release(&rs[i]);
        memset(&q, 0, sizeof(q));
        q.key = keys[i];
        result_init(&rs[i]);
        rs[i].counter = &finished;
        assert_int_equal(
            pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &rs[i], &err),
            PIER_OK);
    }
    while (finished < 2 * N) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    for (i = 0; i < N; i++) {
        assert_true(rs[i].ok);
        assert_string_equal(rs[i].body.data, bodies[i]);
        result_release(&rs[i]);
    }
    s3_test_origin_stats(f->o, &st);
    assert_int_equal(st.requests, 2 * N);
    /* In parallel, within the per-host cap of 8, reused across requests. */
    assert_true(st.peak_connections > 1);
    assert_true(st.connections <= 8);
    pier_free(rs);
    (void) all;
}

/* Freeing the client cancels what is in flight: each callback hears
 * ECANCELED, and the loop still closes. */
static void
test_s3client_free_cancels(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct result r1, r2, r3;
    struct pier_err err;
    char up[128];

    tmp_path(up, sizeof(up), "cancel");
    make_file(up, 1024 * 1024);
    put_str(f, "k", "v");
    s3_test_origin_stall_next(f->o, 1);
    result_init(&r1);
    result_init(&r2);
    result_init(&r3);
    q.key = "k";
    assert_int_equal(
        pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &r1, &err), PIER_OK);
    /* Let the first reach the stalled server. */
    for (int i = 0; i < 20; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(
        pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &r2, &err), PIER_OK);
    q.body_file = up;
    assert_int_equal(
        pier_s3_start(f->c, PIER_S3_OP_PUT, &q, on_done, &r3, &err), PIER_OK);
    pier_s3_client_free(f->c);
    f->c = NULL;
    assert_true(r1.done && r2.done && r3.done);
    assert_int_equal(r1.err.sys, ECANCELED);
    assert_int_equal(r2.err.sys, ECANCELED);
    assert_int_equal(r3.err.sys, ECANCELED);
    result_release(&r1);
    result_release(&r2);
    result_release(&r3);
    unlink(up);
}

static void
test_s3client_bad_requests(void **state)
{
    struct fixture *f = *state;
    struct pier_s3_request q = {0};
    struct pier_s3_header bad[] = {
        {PIER_STR("x-amz-meta-a"), PIER_STR("line\r\nInjected: yes")},
    };
    struct pier_s3_header reserved[] = {
        {PIER_STR("Authorization"), PIER_STR("x")},
    };
    struct pier_err err;
    struct result r;

    result_init(&r);
    assert_int_equal(pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &r, &err),
                     PIER_ERR); /* no key */
    q.key = "k";
    q.headers = bad;
    q.nheaders = 1;
    assert_int_equal(pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &r, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    q.headers = reserved;
    assert_int_equal(pier_s3_start(f->c, PIER_S3_OP_GET, &q, on_done, &r, &err),
                     PIER_ERR);
    q.headers = NULL;
    q.nheaders = 0;
    q.body_file = "/nonexistent/file";
    assert_int_equal(pier_s3_start(f->c, PIER_S3_OP_PUT, &q, on_done, &r, &err),
                     PIER_ERR);
    assert_int_equal(err.sys, ENOENT);
    q.body_file = NULL;
    q.payload_sha256 = "ABC";
    assert_int_equal(pier_s3_start(f->c, PIER_S3_OP_PUT, &q, on_done, &r, &err),
                     PIER_ERR);
    assert_false(r.done);
    result_release(&r);
}

static void
test_s3client_config(void **state)
{
    struct pier_s3_config cfg;
    struct pier_err err;
    uv_loop_t loop;

    (void) state;
    assert_int_equal(uv_loop_init(&loop), 0);
    pier_s3_config_init(&cfg);
    assert_int_equal(cfg.max_retries, 3);
    setenv("AWS_ACCESS_KEY_ID", "envkey", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_ENDPOINT_URL", "ftp://example.com", 1);
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    setenv("AWS_SESSION_TOKEN", "", 1);
    cfg.session_token = "flag";
    pier_s3_config_from_env(&cfg);
    assert_string_equal(cfg.access_key_id, "envkey");
    assert_string_equal(cfg.secret_access_key, "envsecret");
    assert_string_equal(cfg.region, "eu-west-3");
    assert_string_equal(cfg.session_token, "flag"); /* empty: kept */
    assert_string_equal(cfg.endpoint, "ftp://example.com");
    setenv("AWS_REGION", "ap-south-1", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://s3.example.com", 1);
    pier_s3_config_from_env(&cfg);
    assert_string_equal(cfg.region, "ap-south-1");
    assert_string_equal(cfg.endpoint, "http://s3.example.com");
    unsetenv("AWS_ENDPOINT_URL_S3");
    cfg.endpoint = "ftp://example.com";
    cfg.bucket = "pier";
    assert_null(pier_s3_client_new(&loop, &cfg, &err)); /* ftp */
    cfg.endpoint = "http://[::1]:9000/base/";
    cfg.bucket = NULL;
    assert_null(pier_s3_client_new(&loop, &cfg, &err));
    assert_int_equal(uv_loop_close(&loop), 0);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_SESSION_TOKEN");
}

/* https endpoints: trusted through ca_file, refused without it (and not
 * retried: a bad certificate does not get better), or accepted blindly
 * when insecure. */
static void
test_s3client_tls(void **state)
{
    char cert[128];
    struct s3_test_origin *o;
    struct pier_s3_request q = {0};
    struct s3_test_origin_stats st;
    struct fixture f;
    struct pier_err err;
    struct result r;
    int round;

    (void) state;
    tmp_path(cert, sizeof(cert), "cert.pem");
    o = s3_test_origin_start_tls(AKID, SECRET, REGION, BUCKET, cert);
    assert_int_equal(strncmp(s3_test_origin_endpoint(o), "https://", 8), 0);
    assert_int_equal(uv_loop_init(&f.loop), 0);
    for (round = 0; round < 3; round++) {
        pier_s3_config_init(&f.cfg);
        f.cfg.endpoint = s3_test_origin_endpoint(o);
        f.cfg.region = REGION;
        f.cfg.bucket = BUCKET;
        f.cfg.access_key_id = AKID;
        f.cfg.secret_access_key = SECRET;
        f.cfg.retry_base_ms = 1;
        f.cfg.ca_file = round == 0 ? cert : NULL;
        f.cfg.insecure = round == 2;
        /* Loading the system's CA bundle takes seconds under valgrind. */
        f.cfg.connect_timeout_ms = 60000;
        f.c = pier_s3_client_new(&f.loop, &f.cfg, &err);
        assert_non_null(f.c);
        memset(&q, 0, sizeof(q));
        q.key = "tls/k";
        q.body = "over tls";
        q.body_len = 8;
        if (round == 1) {
            assert_false(run(&f, PIER_S3_OP_PUT, &q, &r));
            if (r.attempts != 1) {
                fail_msg("retried after: %s", r.err.msg);
            }
            assert_int_equal(r.status, 0);
            result_release(&r);
        } else {
            if (!run(&f, PIER_S3_OP_PUT, &q, &r)) {
                fail_msg("round %d: %s", round, r.err.msg);
            }
            result_release(&r);
            q.body = NULL;
            q.body_len = 0;
            assert_true(run(&f, PIER_S3_OP_GET, &q, &r));
            assert_string_equal(r.body.data, "over tls");
            result_release(&r);
        }
        pier_s3_client_free(f.c);
    }
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    s3_test_origin_stats(o, &st);
    assert_int_equal(st.bad_signatures, 0);
    assert_int_equal(st.requests, 4);
    s3_test_origin_stop(o);
    unlink(cert);
}

/* The synchronous wrapper, as `pier site create` uses it. */
static void
test_s3client_sync(void **state)
{
    struct s3_test_origin *o =
        s3_test_origin_start(AKID, SECRET, REGION, BUCKET, NULL);
    struct pier_s3_config cfg;
    struct pier_s3_request q = {0};
    struct pier_s3_response resp;
    struct s3_test_origin_stats st;
    struct pier_s3_sync *s;
    struct pier_err err;

    (void) state;
    pier_s3_config_init(&cfg);
    cfg.endpoint = s3_test_origin_endpoint(o);
    cfg.region = REGION;
    cfg.bucket = BUCKET;
    cfg.access_key_id = AKID;
    cfg.secret_access_key = SECRET;
    s = pier_s3_sync_new(&cfg, &err);
    assert_non_null(s);
    pier_s3_response_init(&resp);
    q.key = "sites/demo.ini";
    q.body = "[site]\n";
    q.body_len = 7;
    q.if_none_match = "*";
    assert_int_equal(pier_s3_sync_run(s, PIER_S3_OP_PUT, &q, &resp, &err),
                     PIER_OK);
    assert_true(resp.etag.len > 2);
    assert_int_equal(pier_s3_sync_run(s, PIER_S3_OP_PUT, &q, &resp, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(resp.status, 412);
    memset(&q, 0, sizeof(q));
    q.key = "sites/demo.ini";
    assert_int_equal(pier_s3_sync_run(s, PIER_S3_OP_GET, &q, &resp, &err),
                     PIER_OK);
    assert_string_equal(resp.body.data, "[site]\n");
    assert_true(resp.etag.len > 2 && resp.etag.ptr[0] == '"');
    memset(&q, 0, sizeof(q));
    q.prefix = "sites/";
    assert_int_equal(pier_s3_sync_run(s, PIER_S3_OP_LIST, &q, &resp, &err),
                     PIER_OK);
    assert_int_equal(resp.list.nobjects, 1);
    pier_s3_response_release(&resp);
    pier_s3_sync_free(s);
    s3_test_origin_stats(o, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.bad_signatures, 0);
    s3_test_origin_stop(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_s3client_put_get_head_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3client_awkward_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_endpoint_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_session_token,
                                        setup_token, teardown),
        cmocka_unit_test(test_s3client_bad_secret),
        cmocka_unit_test_setup_teardown(test_s3client_conditional_put, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_conditional_get_and_range,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3client_list_pages, setup,
                                        teardown),
        cmocka_unit_test(test_s3client_xml_parsers),
        cmocka_unit_test_setup_teardown(test_s3client_keepalive_reuse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_retries_5xx, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_s3client_retries_dropped_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3client_retries_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_connection_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_stream_file_up_and_down,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3client_stream_resume, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_max_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_concurrency, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_free_cancels, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_s3client_bad_requests, setup,
                                        teardown),
        cmocka_unit_test(test_s3client_config),
        cmocka_unit_test(test_s3client_tls),
        cmocka_unit_test(test_s3client_sync),
    };

    /* The test origin is on loopback: no proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    /* The test origin writes to sockets the client may have closed. */
    signal(SIGPIPE, SIG_IGN);
    /* The retries the tests provoke would each log a warning. */
    pier_log_set_level(PIER_LOG_ERROR);
    return cmocka_run_group_tests_name("lib/s3client", tests, NULL, NULL);
}
