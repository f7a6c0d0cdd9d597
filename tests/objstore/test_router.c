/*
 * tests/objstore/test_router.c - objstore/router.c: operations, path and
 * virtual-host addressing, key decoding, refusals, query helpers.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objstore/router.h"

#include "objstore/store.h"

#include <stdio.h>

static const char *const domains[] = {"localhost", "s3.example.com"};

struct rcase {
    const char *method, *path, *query, *host;
    bool copy;
    int rc;
    enum objstore_op op; /* when PIER_OK */
    enum pier_s3 s3;     /* when PIER_ERR */
    const char *bucket, *key;
};

static void
run(const struct rcase *c)
{
    struct objstore_route_in in = {
        .method = pier_str_cstr(c->method),
        .path = pier_str_cstr(c->path),
        .query = pier_str_cstr(c->query),
        .host = pier_str_cstr(c->host),
        .copy_source = c->copy,
        .domains = domains,
        .ndomains = PIER_NELEMS(domains),
    };
    struct objstore_route r;
    struct pier_err err;
    int rc;

    objstore_route_init(&r);
    rc = objstore_route(&in, &r, &err);
    if (rc != c->rc) {
        fail_msg("%s %s?%s (Host %s): rc %d, want %d (%s)", c->method, c->path,
                 c->query, c->host, rc, c->rc, err.msg);
    }
    if (rc == PIER_OK) {
        if (r.op != c->op) {
            fail_msg("%s %s?%s: %s, want %s", c->method, c->path, c->query,
                     objstore_op_name(r.op), objstore_op_name(c->op));
        }
        assert_string_equal(r.bucket.data, c->bucket != NULL ? c->bucket : "");
        assert_int_equal(r.key.len, strlen(c->key != NULL ? c->key : ""));
        assert_memory_equal(r.key.data, c->key != NULL ? c->key : "",
                            r.key.len);
    } else if (err.s3 != c->s3) {
        fail_msg("%s %s?%s: %s, want %s", c->method, c->path, c->query,
                 pier_s3_code(err.s3), pier_s3_code(c->s3));
    }
    objstore_route_release(&r);
}

#define OK(m, p, q, h, op, b, k)                                         \
    {                                                                    \
        m, p, q, h, false, PIER_OK, OBJSTORE_OP_##op, PIER_S3_NONE, b, k \
    }
#define OKC(m, p, q, h, op, b, k)                                       \
    {                                                                   \
        m, p, q, h, true, PIER_OK, OBJSTORE_OP_##op, PIER_S3_NONE, b, k \
    }
#define NO(m, p, q, h, s3)                                       \
    {                                                            \
        m, p, q, h, false, PIER_ERR, 0, PIER_S3_##s3, NULL, NULL \
    }

static void
test_router_operations(void **state)
{
    static const struct rcase cases[] = {
        OK("GET", "/", "", "127.0.0.1:9000", LIST_BUCKETS, "", ""),
        OK("GET", "/_pier/health", "", "127.0.0.1", HEALTH, "", ""),
        OK("HEAD", "/_pier/health", "", "127.0.0.1", HEALTH, "", ""),
        OK("PUT", "/bkt", "", "h", CREATE_BUCKET, "bkt", ""),
        OK("PUT", "/bkt/", "", "h", CREATE_BUCKET, "bkt", ""),
        OK("HEAD", "/bkt", "", "h", HEAD_BUCKET, "bkt", ""),
        OK("DELETE", "/bkt", "", "h", DELETE_BUCKET, "bkt", ""),
        OK("GET", "/bkt", "location", "h", GET_BUCKET_LOCATION, "bkt", ""),
        OK("GET", "/bkt", "location=", "h", GET_BUCKET_LOCATION, "bkt", ""),
        OK("GET", "/bkt", "versioning", "h", GET_BUCKET_VERSIONING, "bkt", ""),
        OK("GET", "/bkt", "prefix=a&marker=b", "h", LIST_OBJECTS, "bkt", ""),
        OK("GET", "/bkt/", "list-type=2&prefix=a", "h", LIST_OBJECTS_V2, "bkt",
           ""),
        OK("GET", "/bkt", "list-type=1", "h", LIST_OBJECTS, "bkt", ""),
        OK("GET", "/bkt", "uploads&prefix=x", "h", LIST_UPLOADS, "bkt", ""),
        OK("POST", "/bkt", "delete", "h", DELETE_OBJECTS, "bkt", ""),
        OK("PUT", "/bkt/k", "", "h", PUT_OBJECT, "bkt", "k"),
        OK("PUT", "/bkt/k", "x-id=PutObject", "h", PUT_OBJECT, "bkt", "k"),
        OKC("PUT", "/bkt/k", "", "h", COPY_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/a/b", "", "h", GET_OBJECT, "bkt", "a/b"),
        OK("GET", "/bkt/k", "response-content-type=x", "h", GET_OBJECT, "bkt",
           "k"),
        OK("HEAD", "/bkt/k", "", "h", HEAD_OBJECT, "bkt", "k"),
        OK("DELETE", "/bkt/k", "", "h", DELETE_OBJECT, "bkt", "k"),
        OK("POST", "/bkt/k", "uploads", "h", CREATE_UPLOAD, "bkt", "k"),
        OK("PUT", "/bkt/k", "partNumber=1&uploadId=abc", "h", UPLOAD_PART,
           "bkt", "k"),
        OK("POST", "/bkt/k", "uploadId=abc", "h", COMPLETE_UPLOAD, "bkt", "k"),
        OK("DELETE", "/bkt/k", "uploadId=abc", "h", ABORT_UPLOAD, "bkt", "k"),
        OK("GET", "/bkt/k", "uploadId=abc&max-parts=2", "h", LIST_PARTS, "bkt",
           "k"),
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        run(&cases[i]);
    }
}

static void
test_router_refusals(void **state)
{
    static const struct rcase cases[] = {
        NO("GET", "/bkt", "acl", "h", NOT_IMPLEMENTED),
        NO("PUT", "/bkt/k", "tagging", "h", NOT_IMPLEMENTED),
        NO("PUT", "/bkt", "versioning", "h", NOT_IMPLEMENTED),
        NO("GET", "/bkt/k", "versioning", "h", NOT_IMPLEMENTED),
        NO("GET", "/bkt", "versions", "h", NOT_IMPLEMENTED),
        NO("GET", "/bkt/k", "versionId=3", "h", NOT_IMPLEMENTED),
        NO("PUT", "/bkt", "policy", "h", NOT_IMPLEMENTED),
        NO("POST", "/bkt", "", "h", NOT_IMPLEMENTED),
        NO("POST", "/bkt/k", "", "h", NOT_IMPLEMENTED),
        {"PUT", "/bkt/k", "partNumber=1&uploadId=x", "h", true, PIER_ERR, 0,
         PIER_S3_NOT_IMPLEMENTED, NULL, NULL},
        NO("PUT", "/bkt/k", "partNumber=1", "h", INVALID_ARGUMENT),
        NO("PATCH", "/bkt/k", "", "h", METHOD_NOT_ALLOWED),
        NO("OPTIONS", "/bkt", "", "h", METHOD_NOT_ALLOWED),
        NO("DELETE", "/", "", "h", METHOD_NOT_ALLOWED),
        NO("GET", "/Bad_Bucket/k", "", "h", INVALID_BUCKET_NAME),
        NO("GET", "/_pier/other", "", "h", INVALID_BUCKET_NAME),
        NO("PUT", "/_pier/health", "", "h", INVALID_BUCKET_NAME),
        NO("GET", "/ab/k", "", "h", INVALID_BUCKET_NAME),
        NO("GET", "bkt/k", "", "h", INVALID_REQUEST),
        NO("GET", "/bkt/%ff", "", "h", INVALID_ARGUMENT),
        NO("GET", "/bkt/a%00b", "", "h", INVALID_ARGUMENT),
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        run(&cases[i]);
    }
}

/* Keys are decoded once and kept verbatim: no dot segments, no slash
 * merging, "%2F" is a slash in the key, '+' is a plus. */
static void
test_router_keys_verbatim(void **state)
{
    static const struct rcase cases[] = {
        OK("GET", "/bkt/../../etc/passwd", "", "h", GET_OBJECT, "bkt",
           "../../etc/passwd"),
        OK("GET", "/bkt/a//b/", "", "h", GET_OBJECT, "bkt", "a//b/"),
        OK("GET", "/bkt//lead", "", "h", GET_OBJECT, "bkt", "/lead"),
        OK("GET", "/bkt/a%2Fb", "", "h", GET_OBJECT, "bkt", "a/b"),
        OK("GET", "/bkt/sp%20ace+plus", "", "h", GET_OBJECT, "bkt",
           "sp ace+plus"),
        OK("GET", "/bkt/%C3%A9t%C3%A9", "", "h", GET_OBJECT, "bkt",
           "\xc3\xa9t\xc3\xa9"),
        OK("GET", "/bkt/100%", "", "h", GET_OBJECT, "bkt", "100%"),
        OK("GET", "/bkt/%2525", "", "h", GET_OBJECT, "bkt", "%25"),
    };
    char path[2100], key[1100];
    struct rcase big;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        run(&cases[i]);
    }
    /* 1024 bytes of key pass; 1025 are KeyTooLongError, even encoded. */
    memset(key, 'k', 1024);
    key[1024] = '\0';
    snprintf(path, sizeof(path), "/bkt/%s", key);
    big = (struct rcase) OK("PUT", path, "", "h", PUT_OBJECT, "bkt", key);
    run(&big);
    snprintf(path, sizeof(path), "/bkt/%sk", key);
    big = (struct rcase) NO("PUT", path, "", "h", KEY_TOO_LONG);
    run(&big);
    snprintf(path, sizeof(path), "/bkt/%s%%41", key);
    run(&big);
}

static void
test_router_virtual_host(void **state)
{
    static const struct rcase cases[] = {
        OK("GET", "/", "", "bkt.localhost:9000", LIST_OBJECTS, "bkt", ""),
        /* Host names are case-insensitive: the bucket is folded. */
        OK("GET", "/", "list-type=2", "BKT.LOCALHOST", LIST_OBJECTS_V2, "bkt",
           ""),
        OK("GET", "/a/b", "", "my.bucket.s3.example.com", GET_OBJECT,
           "my.bucket", "a/b"),
        OK("PUT", "/", "", "bkt.localhost.", CREATE_BUCKET, "bkt", ""),
        OK("GET", "/_pier/health", "", "bkt.localhost", GET_OBJECT, "bkt",
           "_pier/health"),
        /* The domain itself, IPs and unknown hosts are path style. */
        OK("GET", "/bkt/k", "", "localhost:9000", GET_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/k", "", "s3.example.com", GET_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/k", "", "127.0.0.1:9000", GET_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/k", "", "[::1]:9000", GET_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/k", "", "other.example.org", GET_OBJECT, "bkt", "k"),
        OK("GET", "/bkt/k", "", "xlocalhost", GET_OBJECT, "bkt", "k"),
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        run(&cases[i]);
    }
}

static void
test_router_query_helpers(void **state)
{
    struct pier_str q = PIER_STR("a=1&&b&c=x%20y+z&d=%zz&a=2&e=");
    struct pier_str n, v;
    struct pier_buf out;
    size_t pos = 0;
    bool hv;

    (void) state;
    assert_true(objstore_query_next(q, &pos, &n, &v, &hv));
    assert_true(pier_str_eq(n, PIER_STR("a")) && pier_str_eq(v, PIER_STR("1")));
    assert_true(hv);
    assert_true(objstore_query_next(q, &pos, &n, &v, &hv));
    assert_true(pier_str_eq(n, PIER_STR("b")) && v.len == 0 && !hv);
    assert_true(objstore_query_has(q, "c"));
    assert_true(objstore_query_has(q, "e"));
    assert_false(objstore_query_has(q, "x"));
    pier_buf_init(&out, 64);
    assert_int_equal(objstore_query_get(q, "c", &out), PIER_OK);
    assert_string_equal(out.data, "x y z");
    pier_buf_reset(&out);
    assert_int_equal(objstore_query_get(q, "a", &out), PIER_OK);
    assert_string_equal(out.data, "1");
    pier_buf_reset(&out);
    assert_int_equal(objstore_query_get(q, "d", &out), PIER_OK);
    assert_string_equal(out.data, "%zz");
    pier_buf_reset(&out);
    assert_int_equal(objstore_query_get(q, "nope", &out), PIER_AGAIN);
    pier_buf_release(&out);
    pier_buf_init(&out, 3);
    assert_int_equal(objstore_pct_decode(PIER_STR("abcd"), false, &out),
                     PIER_ERR);
    pier_buf_release(&out);
    assert_string_equal(objstore_op_name(OBJSTORE_OP_COPY_OBJECT),
                        "CopyObject");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_operations),
        cmocka_unit_test(test_router_refusals),
        cmocka_unit_test(test_router_keys_verbatim),
        cmocka_unit_test(test_router_virtual_host),
        cmocka_unit_test(test_router_query_helpers),
    };

    return cmocka_run_group_tests_name("objstore/router", tests, NULL, NULL);
}
