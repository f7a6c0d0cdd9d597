/*
 * tests/lib/test_sigv2.c - lib/sigv2.c: every vector of tests/data/sigv2-s3
 * (string to sign, signature, Authorization or query, then verification
 * through pier_sigv4_verify), sub-resources, dates and refusals.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "lib/sha.h"
#include "lib/sigv2.h"
#include "lib/sigv4.h"
#include "tests/lib/sigtest.h"

struct keyring {
    const char *akid;
    const char *secret;
    int calls;
};

static const char *
lookup(void *udata, struct pier_str akid)
{
    struct keyring *k = udata;

    k->calls++;
    return pier_str_eq(akid, pier_str_cstr(k->akid)) ? k->secret : NULL;
}

/* One vector file, loaded. */
struct v2case {
    json_t *j;
    const char *kind;
    const char *akid, *secret;
    struct pier_kv headers[32];
    size_t nheaders;
    char prefix[256];
    char expires[32];
    char *uri;
    struct pier_sigv2_req req;
};

static const char *
jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
v2case_load(struct v2case *c, const char *rel)
{
    json_t *request, *hs, *h, *creds;
    const char *addressing, *host, *q;
    size_t i;

    memset(c, 0, sizeof(*c));
    c->j = sigtest_json(rel);
    c->kind = jstr(c->j, "kind");
    creds = json_object_get(c->j, "credentials");
    c->akid = jstr(creds, "access_key_id");
    c->secret = jstr(creds, "secret_access_key");
    request = json_object_get(c->j, "request");
    hs = json_object_get(request, "headers");
    json_array_foreach(hs, i, h)
    {
        c->headers[c->nheaders].name =
            pier_str_cstr(json_string_value(json_array_get(h, 0)));
        c->headers[c->nheaders].value =
            pier_str_cstr(json_string_value(json_array_get(h, 1)));
        c->nheaders++;
    }
    /* The bucket goes before the path for virtual-hosted and CNAME
     * requests: the caller's job, as lib/sigv4.h says. */
    addressing = jstr(c->j, "bucket_addressing");
    host = jstr(request, "host");
    if (strcmp(addressing, "virtual-hosted") == 0) {
        snprintf(c->prefix, sizeof(c->prefix), "/%.*s",
                 (int) strcspn(host, "."), host);
    } else if (strcmp(addressing, "cname") == 0) {
        snprintf(c->prefix, sizeof(c->prefix), "/%.*s",
                 (int) strcspn(host, ":"), host);
    }
    c->uri = strdup(jstr(request, "uri"));
    q = strchr(c->uri, '?');
    c->req.method = jstr(request, "method");
    c->req.resource_prefix = pier_str_cstr(c->prefix);
    if (q != NULL) {
        c->req.path = pier_str_make(c->uri, (size_t) (q - c->uri));
        c->req.query = pier_str_cstr(q + 1);
    } else {
        c->req.path = pier_str_cstr(c->uri);
        c->req.query = pier_str_make(c->uri + strlen(c->uri), 0);
    }
    c->req.headers = c->headers;
    c->req.nheaders = c->nheaders;
    if (json_object_get(c->j, "expires") != NULL) {
        snprintf(
            c->expires, sizeof(c->expires), "%lld",
            (long long) json_integer_value(json_object_get(c->j, "expires")));
        c->req.expires = c->expires;
    }
}

static void
v2case_free(struct v2case *c)
{
    free(c->uri);
    json_decref(c->j);
}

static void
run_case(const char *rel)
{
    struct v2case c;
    json_t *exp;
    struct pier_buf sts, out, query;
    struct pier_err err;
    char sig[PIER_SIGV2_SIGLEN + 1];
    struct keyring kr;
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    /* The published delete example signs the x-amz-date value in the
     * Date slot, against the page's own rule (see tests/data/README.md):
     * only its HMAC step is checked. */
    bool published_exception = strstr(rel, "05-delete") != NULL;

    v2case_load(&c, rel);
    exp = json_object_get(c.j, "expected");
    pier_buf_init(&sts, SIZE_MAX);
    pier_buf_init(&out, SIZE_MAX);
    pier_buf_init(&query, SIZE_MAX);
    assert_int_equal(pier_sigv2_string_to_sign(&c.req, &sts, &err), PIER_OK);
    if (published_exception) {
        assert_string_not_equal(sts.data, jstr(exp, "string_to_sign"));
        pier_sigv2_signature(c.secret,
                             pier_str_cstr(jstr(exp, "string_to_sign")), sig);
        assert_string_equal(sig, jstr(exp, "signature"));
        goto done;
    }
    if (strcmp(sts.data, jstr(exp, "string_to_sign")) != 0) {
        fail_msg("%s: string to sign\n--- got:\n%s\n--- expected:\n%s", rel,
                 sts.data, jstr(exp, "string_to_sign"));
    }
    pier_sigv2_signature(c.secret, pier_buf_str(&sts), sig);
    assert_string_equal(sig, jstr(exp, "signature"));

    memset(&kr, 0, sizeof(kr));
    kr.akid = c.akid;
    kr.secret = c.secret;
    memset(&vr, 0, sizeof(vr));
    vr.method = pier_str_cstr(c.req.method);
    vr.path = c.req.path;
    vr.query = c.req.query;
    vr.v2_resource_prefix = c.req.resource_prefix;
    vr.lookup = lookup;
    vr.lookup_data = &kr;
    if (strcmp(c.kind, "header") == 0) {
        struct pier_str date;

        assert_int_equal(
            pier_sigv2_authorization(c.akid, c.secret, &c.req, &out, &err),
            PIER_OK);
        assert_string_equal(out.data, jstr(exp, "authorization"));
        c.headers[c.nheaders].name = PIER_STR("Authorization");
        c.headers[c.nheaders].value = pier_buf_str(&out);
        vr.headers = c.headers;
        vr.nheaders = c.nheaders + 1;
        date = pier_kv_get(c.headers, c.nheaders, PIER_STR("Date"));
        assert_int_equal(pier_http_date_parse(date, &vr.now), PIER_OK);
        vr.now += 60;
    } else {
        assert_int_equal(
            pier_sigv2_presign(c.akid, c.secret, &c.req, &out, &err), PIER_OK);
        if (jstr(exp, "signature_urlencoded") != NULL) {
            assert_non_null(
                strstr(out.data, jstr(exp, "signature_urlencoded")));
        }
        assert_int_equal(pier_buf_addstr(&query, c.req.query), PIER_OK);
        if (query.len > 0) {
            assert_int_equal(pier_buf_addch(&query, '&'), PIER_OK);
        }
        /* The published query when there is one (its own order). */
        assert_int_equal(pier_buf_adds(&query, jstr(exp, "query") != NULL
                                                   ? jstr(exp, "query")
                                                   : out.data),
                         PIER_OK);
        vr.query = pier_buf_str(&query);
        vr.headers = c.headers;
        vr.nheaders = c.nheaders;
        vr.now = (time_t) strtoll(c.expires, NULL, 10) - 100;
    }
    if (pier_sigv4_verify(&vr, &auth, &err) != PIER_OK) {
        fail_msg("%s: verify: %s", rel, err.msg);
    }
    assert_string_equal(auth.access_key_id, c.akid);
    assert_int_equal(auth.form, strcmp(c.kind, "header") == 0
                                    ? PIER_AUTH_V2_HEADER
                                    : PIER_AUTH_V2_QUERY);
    assert_int_equal(auth.payload, PIER_PAYLOAD_UNSIGNED);
    assert_int_equal(kr.calls, 1);

    /* A wrong secret fails. */
    kr.secret = "not the secret";
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    /* So does a lost bucket prefix, when there was one. */
    kr.secret = c.secret;
    if (c.prefix[0] != '\0') {
        vr.v2_resource_prefix = PIER_STR_NULL;
        assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
        assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    }
done:
    pier_buf_release(&sts);
    pier_buf_release(&out);
    pier_buf_release(&query);
    v2case_free(&c);
}

static void
test_sigv2_vectors(void **state)
{
    static const char *dirs[] = {"aws-doc-2017", "aws-doc-2020", "botocore"};
    size_t d, i, cases = 0;

    (void) state;
    for (d = 0; d < PIER_NELEMS(dirs); d++) {
        char rel[256];
        char **names;

        snprintf(rel, sizeof(rel), "sigv2-s3/%s", dirs[d]);
        names = sigtest_list(rel);
        for (i = 0; names[i] != NULL; i++) {
            if (strstr(names[i], ".json") == NULL) {
                continue;
            }
            snprintf(rel, sizeof(rel), "sigv2-s3/%s/%s", dirs[d], names[i]);
            run_case(rel);
            cases++;
        }
        sigtest_free_list(names);
    }
    assert_int_equal(cases, 23);
}

static void
test_sigv2_subresources(void **state)
{
    struct pier_kv h[] = {
        {PIER_STR("Date"), PIER_STR("Thu, 17 Nov 2005 18:49:58 GMT")},
        {PIER_STR("X-Amz-Meta-B"), PIER_STR("  two\r\n   lines  ")},
        {PIER_STR("x-amz-meta-a"), PIER_STR("a  b")},
    };
    struct pier_sigv2_req req = {
        .method = "GET",
        .resource_prefix = PIER_STR("/bucket"),
        .path = PIER_STR("/k%20ey"),
        .query = PIER_STR("versionId=v%2B1&prefix=x&uploadId=u&partNumber=2"
                          "&response-content-type=text%2Fplain&acl"),
        .headers = h,
        .nheaders = PIER_NELEMS(h),
    };
    struct pier_buf sts;
    struct pier_err err;

    (void) state;
    pier_buf_init(&sts, SIZE_MAX);
    assert_int_equal(pier_sigv2_string_to_sign(&req, &sts, &err), PIER_OK);
    assert_string_equal(sts.data, "GET\n\n\nThu, 17 Nov 2005 18:49:58 GMT\n"
                                  "x-amz-meta-a:a  b\n"
                                  "x-amz-meta-b:two lines\n"
                                  "/bucket/k%20ey?acl&partNumber=2"
                                  "&response-content-type=text/plain&uploadId=u"
                                  "&versionId=v+1");
    assert_true(pier_sigv2_is_subresource(PIER_STR("uploads")));
    assert_true(pier_sigv2_is_subresource(PIER_STR("tagging")));
    assert_false(pier_sigv2_is_subresource(PIER_STR("prefix")));
    assert_false(pier_sigv2_is_subresource(PIER_STR("ACL")));
    /* x-amz-date empties the Date slot. */
    h[2].name = PIER_STR("x-amz-date");
    pier_buf_reset(&sts);
    req.query = PIER_STR("");
    assert_int_equal(pier_sigv2_string_to_sign(&req, &sts, &err), PIER_OK);
    assert_string_equal(sts.data, "GET\n\n\n\n"
                                  "x-amz-date:a  b\n"
                                  "x-amz-meta-b:two lines\n"
                                  "/bucket/k%20ey");
    pier_buf_release(&sts);
}

static void
test_sigv2_dates(void **state)
{
    time_t t;

    (void) state;
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mar 2007 19:36:42 +0000"), &t),
        PIER_OK);
    assert_int_equal((long long) t, 1175024202LL);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mar 2007 19:36:42 GMT"), &t),
        PIER_OK);
    assert_int_equal((long long) t, 1175024202LL);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mar 2007 21:36:42 +0200"), &t),
        PIER_OK);
    assert_int_equal((long long) t, 1175024202LL);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 7 Mar 2007 19:36:42 GMT"), &t),
        PIER_OK);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mxr 2007 19:36:42 GMT"), &t),
        PIER_ERR);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mar 2007 19:36:42 EST"), &t),
        PIER_ERR);
    assert_int_equal(pier_http_date_parse(PIER_STR("yesterday"), &t), PIER_ERR);
    assert_int_equal(
        pier_http_date_parse(PIER_STR("Tue, 27 Mar 2007 25:36:42 GMT"), &t),
        PIER_ERR);
}

/* Sign, verify, then break one thing at a time. */
static void
test_sigv2_round_trip_and_refusals(void **state)
{
    struct pier_kv h[4] = {
        {PIER_STR("Host"), PIER_STR("bucket.s3.local")},
        {PIER_STR("Date"), PIER_STR("Tue, 27 Mar 2007 19:36:42 GMT")},
        {PIER_STR("Content-Type"), PIER_STR("text/plain")},
    };
    struct pier_sigv2_req req = {
        .method = "PUT",
        .resource_prefix = PIER_STR("/bucket"),
        .path = PIER_STR("/a/b.txt"),
        .query = PIER_STR("uploadId=xyz&partNumber=3"),
        .headers = h,
        .nheaders = 3,
    };
    struct keyring kr = {"AKIDV2", "secretv2", 0};
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    struct pier_buf a, q;
    struct pier_err err;
    time_t t;

    (void) state;
    pier_buf_init(&a, SIZE_MAX);
    pier_buf_init(&q, SIZE_MAX);
    assert_int_equal(
        pier_sigv2_authorization("AKIDV2", "secretv2", &req, &a, &err),
        PIER_OK);
    h[3].name = PIER_STR("Authorization");
    h[3].value = pier_buf_str(&a);
    assert_int_equal(pier_http_date_parse(h[1].value, &t), PIER_OK);
    memset(&vr, 0, sizeof(vr));
    vr.method = PIER_STR("PUT");
    vr.path = req.path;
    vr.query = req.query;
    vr.headers = h;
    vr.nheaders = 4;
    vr.now = t + 899;
    vr.v2_resource_prefix = req.resource_prefix;
    vr.lookup = lookup;
    vr.lookup_data = &kr;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    assert_string_equal(auth.access_key_id, "AKIDV2");

    /* Skew: more than 15 minutes either way. */
    vr.now = t + 901;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_REQUEST_TIME_TOO_SKEWED);
    vr.now = t - 901;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_REQUEST_TIME_TOO_SKEWED);
    vr.now = t;

    /* A changed sub-resource, a changed content type. */
    vr.query = PIER_STR("uploadId=xyz&partNumber=4");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    vr.query = req.query;
    h[2].value = PIER_STR("text/html");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    h[2].value = PIER_STR("text/plain");
    /* A non-sub-resource parameter is not signed. */
    vr.query = PIER_STR("uploadId=xyz&partNumber=3&x-id=UploadPart");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    vr.query = req.query;

    /* A flipped signature byte. */
    a.data[a.len - 3] = a.data[a.len - 3] == 'A' ? 'B' : 'A';
    h[3].value = pier_buf_str(&a);
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    /* Garbage signature, unknown key, no key. */
    h[3].value = PIER_STR("AWS AKIDV2:not base64!");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    h[3].value = PIER_STR("AWS NOBODY:c2WLPFtWHVgbEmeEG93a4cG37dM=");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_ACCESS_KEY_ID);
    h[3].value = PIER_STR("AWS :c2WLPFtWHVgbEmeEG93a4cG37dM=");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_HEADER_MALFORMED);
    h[3].value = PIER_STR("AWS AKIDV2");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_HEADER_MALFORMED);
    h[3].value = PIER_STR("Bearer x");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_HEADER_MALFORMED);
    /* No date at all. */
    h[3].value = pier_buf_str(&a);
    h[1].name = PIER_STR("X-Date");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    h[1].name = PIER_STR("Date");

    /* The query form: valid until Expires, then AccessDenied. */
    req.expires = "1175030000";
    req.nheaders = 3;
    assert_int_equal(pier_sigv2_presign("AKIDV2", "secretv2", &req, &q, &err),
                     PIER_OK);
    assert_int_equal(pier_buf_adds(&q, "&"), PIER_OK);
    assert_int_equal(pier_buf_addstr(&q, req.query), PIER_OK);
    vr.query = pier_buf_str(&q);
    vr.nheaders = 3;
    vr.now = 1175030000;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    assert_int_equal(auth.form, PIER_AUTH_V2_QUERY);
    vr.now = 1175030001;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    /* Header and query at once. */
    vr.now = 1175030000;
    vr.nheaders = 4;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    /* Incomplete query forms. */
    vr.nheaders = 3;
    vr.query = PIER_STR("AWSAccessKeyId=AKIDV2&Expires=1175030000");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    vr.query = PIER_STR("AWSAccessKeyId=AKIDV2&Expires=soon&Signature=x");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_QUERY_PARAMS);
    pier_buf_release(&a);
    pier_buf_release(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv2_vectors),
        cmocka_unit_test(test_sigv2_subresources),
        cmocka_unit_test(test_sigv2_dates),
        cmocka_unit_test(test_sigv2_round_trip_and_refusals),
    };

    return cmocka_run_group_tests_name("lib/sigv2", tests, NULL, NULL);
}
