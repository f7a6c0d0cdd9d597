/*
 * tests/lib/test_sigv4.c - lib/sigv4.c: every vector of tests/data/sigv4
 * (the AWS SigV4 suite, header and query forms) and tests/data/sigv4-s3
 * (the S3 API Reference's worked examples, chunk and trailer signatures
 * included), then sign-and-verify round trips and the verifier's refusals.
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
#include "lib/sigv4.h"
#include "tests/lib/sigtest.h"

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static void
iso_to_amz(const char *iso, char out[17])
{
    size_t i, o = 0;

    for (i = 0; iso[i] != '\0' && o < 16; i++) {
        if (iso[i] != '-' && iso[i] != ':') {
            out[o++] = iso[i];
        }
    }
    out[o] = '\0';
}

static char *
read_case(const char *dir, const char *file)
{
    char rel[512];
    char *s;

    snprintf(rel, sizeof(rel), "sigv4/%s/%s", dir, file);
    s = sigtest_read(rel, NULL);
    if (s == NULL) {
        fail_msg("cannot read %s", rel);
    }
    return s;
}

static void
assert_buf_eq(const struct pier_buf *b, const char *expected, const char *what,
              const char *name)
{
    if (strcmp(b->data, expected) != 0) {
        fprintf(stderr, "%s: %s differs\n--- got:\n%s\n--- expected:\n%s\n",
                name, what, b->data, expected);
        fail();
    }
}

/* The signature after "Signature=" in an Authorization value. */
static const char *
auth_signature(const char *auth)
{
    const char *p = strstr(auth, "Signature=");

    assert_non_null(p);
    return p + strlen("Signature=");
}

static void
run_suite_case(const char *name)
{
    char ctxrel[512], amz_date[17], body_hash[65];
    json_t *ctx, *creds;
    struct pier_sigv4_key key;
    struct sigtest_req r;
    struct pier_kv headers[SIGTEST_MAX_HEADERS + 2];
    struct pier_sigv4_req req;
    struct pier_buf auth, cr, sts, q;
    struct pier_err err;
    char *text, *exp_cr, *exp_sts, *exp_sig, *signed_req, *line;
    size_t len, n;
    bool sign_body, omit_token;

    snprintf(ctxrel, sizeof(ctxrel), "sigv4/%s/context.json", name);
    ctx = sigtest_json(ctxrel);
    creds = json_object_get(ctx, "credentials");
    memset(&key, 0, sizeof(key));
    key.access_key_id = json_string_value(json_object_get(creds,
                                                          "access_key_id"));
    key.secret_access_key =
        json_string_value(json_object_get(creds, "secret_access_key"));
    key.region = json_string_value(json_object_get(ctx, "region"));
    key.service = json_string_value(json_object_get(ctx, "service"));
    sign_body = json_is_true(json_object_get(ctx, "sign_body"));
    omit_token = json_is_true(json_object_get(ctx, "omit_session_token"));
    /* omit_session_token: the token is added after signing, unsigned. */
    key.session_token =
        omit_token ? NULL
                   : json_string_value(json_object_get(creds, "token"));
    iso_to_amz(json_string_value(json_object_get(ctx, "timestamp")),
               amz_date);

    {
        char rel[512];

        snprintf(rel, sizeof(rel), "sigv4/%s/request.txt", name);
        text = sigtest_read(rel, &len);
        assert_non_null(text);
    }
    assert_int_equal(sigtest_parse_request(text, len, &r), 0);
    pier_sha256_hex(r.body.ptr, r.body.len, body_hash);

    /* The header form: X-Amz-Date added, and x-amz-content-sha256 when
     * the context says so. */
    memcpy(headers, r.headers, r.nheaders * sizeof(headers[0]));
    n = r.nheaders;
    headers[n].name = PIER_STR("X-Amz-Date");
    headers[n++].value = pier_str_cstr(amz_date);
    if (sign_body) {
        headers[n].name = PIER_STR("x-amz-content-sha256");
        headers[n++].value = pier_str_cstr(body_hash);
    }
    memset(&req, 0, sizeof(req));
    req.method = strndup(r.method.ptr, r.method.len);
    req.path = r.path;
    req.query = r.query;
    req.headers = headers;
    req.nheaders = n;
    req.payload_hash = body_hash;
    req.flags = json_is_true(json_object_get(ctx, "normalize"))
                    ? 0
                    : PIER_SIGV4_NO_NORMALIZE;
    pier_buf_init(&auth, 4096);
    pier_buf_init(&cr, SIZE_MAX);
    pier_buf_init(&sts, SIZE_MAX);
    assert_int_equal(pier_sigv4_sign_req(&key, amz_date, &req, &auth, &cr,
                                         &sts, &err),
                     PIER_OK);
    exp_cr = read_case(name, "header-canonical-request.txt");
    exp_sts = read_case(name, "header-string-to-sign.txt");
    exp_sig = read_case(name, "header-signature.txt");
    assert_buf_eq(&cr, exp_cr, "header canonical request", name);
    assert_buf_eq(&sts, exp_sts, "header string to sign", name);
    assert_string_equal(auth_signature(auth.data), exp_sig);
    /* The whole Authorization value, as the signed request shows it. */
    signed_req = read_case(name, "header-signed-request.txt");
    line = strstr(signed_req, "\nAuthorization:");
    assert_non_null(line);
    line += strlen("\nAuthorization:");
    assert_memory_equal(line, auth.data, auth.len);
    assert_true(line[auth.len] == '\n');
    free(exp_cr);
    free(exp_sts);
    free(exp_sig);
    free(signed_req);

    /* The query form: the request's own headers only. */
    req.headers = r.headers;
    req.nheaders = r.nheaders;
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_reset(&cr);
    pier_buf_reset(&sts);
    assert_int_equal(
        pier_sigv4_presign_req(
            &key, amz_date,
            (unsigned) json_integer_value(
                json_object_get(ctx, "expiration_in_seconds")),
            &req, &q, &cr, &sts, &err),
        PIER_OK);
    exp_cr = read_case(name, "query-canonical-request.txt");
    exp_sts = read_case(name, "query-string-to-sign.txt");
    exp_sig = read_case(name, "query-signature.txt");
    assert_buf_eq(&cr, exp_cr, "query canonical request", name);
    assert_buf_eq(&sts, exp_sts, "query string to sign", name);
    assert_non_null(strstr(q.data, "&X-Amz-Signature="));
    assert_string_equal(strstr(q.data, "&X-Amz-Signature=") + 17, exp_sig);
    free(exp_cr);
    free(exp_sts);
    free(exp_sig);

    free((char *) req.method);
    pier_buf_release(&auth);
    pier_buf_release(&cr);
    pier_buf_release(&sts);
    pier_buf_release(&q);
    sigtest_req_release(&r);
    free(text);
    json_decref(ctx);
}

static void
test_sigv4_aws_suite(void **state)
{
    char **names = sigtest_list("sigv4");
    size_t i, cases = 0;

    (void) state;
    for (i = 0; names[i] != NULL; i++) {
        char rel[512];
        char *probe;

        snprintf(rel, sizeof(rel), "sigv4/%s/context.json", names[i]);
        probe = sigtest_read(rel, NULL);
        if (probe == NULL) {
            continue; /* LICENSE, NOTICE */
        }
        free(probe);
        run_suite_case(names[i]);
        cases++;
    }
    sigtest_free_list(names);
    assert_int_equal(cases, 38);
}

/* tests/data/sigv4-s3: one JSON object per example. */
struct s3case {
    json_t *j;
    struct pier_sigv4_key key;
    const char *amz_date;
    struct pier_kv headers[32];
    size_t nheaders;
    struct pier_sigv4_req req;
};

static void
s3case_load(struct s3case *c, const char *file)
{
    char rel[512];
    json_t *creds, *request, *hs, *h;
    const char *signed_list;
    size_t i;

    memset(c, 0, sizeof(*c));
    snprintf(rel, sizeof(rel), "sigv4-s3/%s", file);
    c->j = sigtest_json(rel);
    creds = json_object_get(c->j, "credentials");
    c->key.access_key_id =
        json_string_value(json_object_get(creds, "access_key_id"));
    c->key.secret_access_key =
        json_string_value(json_object_get(creds, "secret_access_key"));
    c->key.region = json_string_value(json_object_get(c->j, "region"));
    c->key.service = json_string_value(json_object_get(c->j, "service"));
    c->amz_date = json_string_value(json_object_get(c->j, "timestamp"));
    request = json_object_get(c->j, "request");
    hs = json_object_get(request, "headers");
    signed_list = json_string_value(json_object_get(c->j, "signed_headers"));
    json_array_foreach(hs, i, h)
    {
        const char *name = json_string_value(json_array_get(h, 0));
        char lower[128];
        size_t k;
        const char *hit;

        /* Only the headers the example signs (the trailer example sends
         * Content-Length unsigned). */
        for (k = 0; name[k] != '\0' && k < sizeof(lower) - 1; k++) {
            lower[k] = (char) (name[k] >= 'A' && name[k] <= 'Z'
                                   ? name[k] - 'A' + 'a'
                                   : name[k]);
        }
        lower[k] = '\0';
        hit = strstr(signed_list, lower);
        if (hit == NULL || (hit != signed_list && hit[-1] != ';')
            || (hit[k] != ';' && hit[k] != '\0')) {
            continue;
        }
        c->headers[c->nheaders].name = pier_str_cstr(name);
        c->headers[c->nheaders].value =
            pier_str_cstr(json_string_value(json_array_get(h, 1)));
        c->nheaders++;
    }
    c->req.method = json_string_value(json_object_get(request, "method"));
    c->req.path = pier_str_cstr(json_string_value(json_object_get(request,
                                                                  "path")));
    c->req.query =
        pier_str_cstr(json_string_value(json_object_get(request, "query")));
    c->req.headers = c->headers;
    c->req.nheaders = c->nheaders;
    c->req.payload_hash =
        json_string_value(json_object_get(c->j, "payload_hash"));
}

static const char *
expected(const struct s3case *c, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(c->j, "expected"), field));
}

/* "A, B" -> "A,B": the pages print the Authorization value without the
 * spaces the SDKs put after commas. */
static void
squeeze(struct pier_buf *b)
{
    size_t i, o = 0;

    for (i = 0; i < b->len; i++) {
        if (b->data[i] == ' ' && i > 0 && b->data[i - 1] == ',') {
            continue;
        }
        b->data[o++] = b->data[i];
    }
    pier_buf_truncate(b, o);
}

static void
check_s3_header_case(const char *file, bool encode_path)
{
    struct s3case c;
    struct pier_buf auth, cr, sts, enc;
    struct pier_err err;

    s3case_load(&c, file);
    pier_buf_init(&enc, SIZE_MAX);
    if (encode_path) {
        /* The path as a client sends it gives the same signature. */
        assert_int_equal(pier_sigv4_uri_encode(c.req.path, true, &enc, &err),
                         PIER_OK);
        c.req.path = pier_buf_str(&enc);
    }
    pier_buf_init(&auth, SIZE_MAX);
    pier_buf_init(&cr, SIZE_MAX);
    pier_buf_init(&sts, SIZE_MAX);
    assert_int_equal(pier_sigv4_sign_req(&c.key, c.amz_date, &c.req, &auth,
                                         &cr, &sts, &err),
                     PIER_OK);
    assert_buf_eq(&cr, expected(&c, "canonical_request"), "canonical request",
                  file);
    assert_buf_eq(&sts, expected(&c, "string_to_sign"), "string to sign",
                  file);
    squeeze(&auth);
    assert_buf_eq(&auth, expected(&c, "authorization"), "authorization",
                  file);
    /* The convenience form gives the same value. */
    pier_buf_reset(&cr);
    assert_int_equal(pier_sigv4_authorization(
                         &c.key, c.amz_date, c.req.method, c.req.path,
                         c.req.query, c.headers, c.nheaders,
                         c.req.payload_hash, &cr, &err),
                     PIER_OK);
    squeeze(&cr);
    assert_string_equal(cr.data, auth.data);
    pier_buf_release(&auth);
    pier_buf_release(&cr);
    pier_buf_release(&sts);
    pier_buf_release(&enc);
    json_decref(c.j);
}

static void
test_sigv4_s3_header_examples(void **state)
{
    static const char *files[] = {
        "get-object.json",
        "put-object.json",
        "get-bucket-lifecycle.json",
        "get-bucket-list-objects.json",
        "chunked-put-object.json",
        "chunked-put-object-trailer.json",
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(files); i++) {
        check_s3_header_case(files[i], false);
        check_s3_header_case(files[i], true);
    }
}

static void
test_sigv4_s3_presigned_example(void **state)
{
    struct s3case c;
    struct pier_buf q, cr, sts;
    struct pier_err err;
    const char *url;

    (void) state;
    s3case_load(&c, "presigned-get-object.json");
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_init(&cr, SIZE_MAX);
    pier_buf_init(&sts, SIZE_MAX);
    assert_int_equal(
        pier_sigv4_presign_req(
            &c.key, c.amz_date,
            (unsigned) json_integer_value(json_object_get(c.j, "expires")),
            &c.req, &q, &cr, &sts, &err),
        PIER_OK);
    assert_buf_eq(&cr, expected(&c, "canonical_request"), "canonical request",
                  "presigned");
    assert_buf_eq(&sts, expected(&c, "string_to_sign"), "string to sign",
                  "presigned");
    url = json_string_value(json_object_get(c.j, "expected_url"));
    assert_non_null(strchr(url, '?'));
    assert_string_equal(q.data, strchr(url, '?') + 1);
    /* The convenience form picks UNSIGNED-PAYLOAD for s3. */
    pier_buf_reset(&cr);
    assert_int_equal(pier_sigv4_presign(&c.key, c.amz_date, 86400, "GET",
                                        c.req.path, c.req.query, c.headers,
                                        c.nheaders, &cr, &err),
                     PIER_OK);
    assert_string_equal(cr.data, q.data);
    /* Out of range expiries are refused. */
    assert_int_equal(pier_sigv4_presign(&c.key, c.amz_date, 604801, "GET",
                                        c.req.path, c.req.query, c.headers,
                                        c.nheaders, &cr, &err),
                     PIER_ERR);
    pier_buf_release(&q);
    pier_buf_release(&cr);
    pier_buf_release(&sts);
    json_decref(c.j);
}

/* The chunk signatures of the streaming examples chain from the seed. */
static void
check_chunks(const char *file)
{
    struct s3case c;
    json_t *chunks, *ch, *trailer;
    unsigned char key[32];
    char prev[65], sig[65], hex[65];
    const char *scope;
    size_t i;

    s3case_load(&c, file);
    scope = json_string_value(json_object_get(c.j, "scope"));
    pier_sigv4_signing_key(c.key.secret_access_key,
                           pier_str_make(c.amz_date, 8),
                           pier_str_cstr(c.key.region),
                           pier_str_cstr(c.key.service), key);
    snprintf(prev, sizeof(prev), "%s", expected(&c, "signature"));
    chunks = json_object_get(c.j, "chunks");
    assert_int_equal(json_array_size(chunks), 3);
    json_array_foreach(chunks, i, ch)
    {
        size_t size = (size_t) json_integer_value(json_object_get(ch, "size"));
        char *data = malloc(size + 1);

        memset(data, (int) json_integer_value(
                         json_object_get(ch, "data_fill_byte")),
               size);
        pier_sha256_hex(data, size, hex);
        assert_string_equal(
            hex, json_string_value(json_object_get(ch, "data_sha256")));
        pier_sigv4_chunk_signature(key, c.amz_date, pier_str_cstr(scope),
                                   prev, hex, sig);
        assert_string_equal(sig,
                            json_string_value(json_object_get(ch, "signature")));
        memcpy(prev, sig, sizeof(prev));
        free(data);
    }
    trailer = json_object_get(c.j, "trailer");
    if (trailer != NULL) {
        const char *ct =
            json_string_value(json_object_get(trailer, "canonical_trailer"));

        pier_sha256_hex(ct, strlen(ct), hex);
        pier_sigv4_trailer_signature(key, c.amz_date, pier_str_cstr(scope),
                                     prev, hex, sig);
        assert_string_equal(
            sig, json_string_value(json_object_get(trailer, "signature")));
    }
    json_decref(c.j);
}

static void
test_sigv4_s3_chunk_signatures(void **state)
{
    (void) state;
    check_chunks("chunked-put-object.json");
    check_chunks("chunked-put-object-trailer.json");
}

static void
test_sigv4_uri_rules(void **state)
{
    struct pier_buf b;
    struct pier_err err;
    struct pier_sigv4_req req;
    struct pier_kv h = {PIER_STR("host"), PIER_STR("h")};
    const char *nl;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.headers = &h;
    req.nheaders = 1;
    req.payload_hash = PIER_SIGV4_UNSIGNED_PAYLOAD;

    /* S3: escapes made canonical, dots and slashes kept, %2F kept. */
    req.path = PIER_STR("/b/a%7eb/./x//y/%2f/%c3%a9 +$");
    assert_int_equal(pier_sigv4_canonical_request(&req, true, &b, &err),
                     PIER_OK);
    nl = strchr(b.data, '\n');
    assert_memory_equal(nl + 1, "/b/a~b/./x//y/%2F/%C3%A9%20%2B%24\n", 33);

    /* Query: decoded, re-encoded, sorted by name then value. */
    pier_buf_reset(&b);
    assert_int_equal(
        pier_sigv4_canonical_query(PIER_STR("b=2&a=z&a=y&c&d=%7e+x&&e=a%2Fb"),
                                   &b, &err),
        PIER_OK);
    assert_string_equal(b.data, "a=y&a=z&b=2&c=&d=~%20x&e=a%2Fb");

    /* Other services: dot segments go, '%' is encoded again. */
    pier_buf_reset(&b);
    req.path = PIER_STR("/a/b/../c/./%20/");
    assert_int_equal(pier_sigv4_canonical_request(&req, false, &b, &err),
                     PIER_OK);
    nl = strchr(b.data, '\n');
    assert_memory_equal(nl + 1, "/a/c/%2520/\n", 12);
    pier_buf_reset(&b);
    req.path = PIER_STR("");
    assert_int_equal(pier_sigv4_canonical_request(&req, true, &b, &err),
                     PIER_OK);
    assert_memory_equal(b.data, "GET\n/\n\n", 7);
    pier_buf_release(&b);
}

static void
test_sigv4_dates(void **state)
{
    time_t t;
    char out[17];

    (void) state;
    assert_int_equal(pier_sigv4_parse_date(PIER_STR("20130524T000000Z"), &t),
                     PIER_OK);
    assert_int_equal((long long) t, 1369353600LL);
    pier_sigv4_format_date(t, out);
    assert_string_equal(out, "20130524T000000Z");
    assert_int_equal(pier_sigv4_parse_date(PIER_STR("20130524T000000"), &t),
                     PIER_ERR);
    assert_int_equal(pier_sigv4_parse_date(PIER_STR("2013052400000000"), &t),
                     PIER_ERR);
    assert_int_equal(pier_sigv4_parse_date(PIER_STR("20131324T000000Z"), &t),
                     PIER_ERR);
    assert_int_equal(pier_sigv4_parse_date(PIER_STR("2013O524T000000Z"), &t),
                     PIER_ERR);
}

static void
test_sigv4_buffer_limit(void **state)
{
    struct s3case c;
    struct pier_buf small;
    struct pier_err err;

    (void) state;
    s3case_load(&c, "get-object.json");
    pier_buf_init(&small, 16);
    assert_int_equal(pier_sigv4_sign_req(&c.key, c.amz_date, &c.req, &small,
                                         NULL, NULL, &err),
                     PIER_ERR);
    assert_int_equal(small.len, 0);
    assert_int_equal(pier_sigv4_sign_req(&c.key, "2013-05-24", &c.req, &small,
                                         NULL, NULL, &err),
                     PIER_ERR);
    pier_buf_release(&small);
    json_decref(c.j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_aws_suite),
        cmocka_unit_test(test_sigv4_s3_header_examples),
        cmocka_unit_test(test_sigv4_s3_presigned_example),
        cmocka_unit_test(test_sigv4_s3_chunk_signatures),
        cmocka_unit_test(test_sigv4_uri_rules),
        cmocka_unit_test(test_sigv4_dates),
        cmocka_unit_test(test_sigv4_buffer_limit),
    };

    return cmocka_run_group_tests_name("lib/sigv4", tests, NULL, NULL);
}
