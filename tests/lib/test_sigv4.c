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
    key.access_key_id =
        json_string_value(json_object_get(creds, "access_key_id"));
    key.secret_access_key =
        json_string_value(json_object_get(creds, "secret_access_key"));
    key.region = json_string_value(json_object_get(ctx, "region"));
    key.service = json_string_value(json_object_get(ctx, "service"));
    sign_body = json_is_true(json_object_get(ctx, "sign_body"));
    omit_token = json_is_true(json_object_get(ctx, "omit_session_token"));
    /* omit_session_token: the token is added after signing, unsigned. */
    key.session_token =
        omit_token ? NULL : json_string_value(json_object_get(creds, "token"));
    iso_to_amz(json_string_value(json_object_get(ctx, "timestamp")), amz_date);

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
    assert_int_equal(
        pier_sigv4_sign_req(&key, amz_date, &req, &auth, &cr, &sts, &err),
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
        pier_sigv4_presign_req(&key, amz_date,
                               (unsigned) json_integer_value(json_object_get(
                                   ctx, "expiration_in_seconds")),
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
            lower[k] =
                (char) (name[k] >= 'A' && name[k] <= 'Z' ? name[k] - 'A' + 'a'
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
    c->req.path =
        pier_str_cstr(json_string_value(json_object_get(request, "path")));
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
    assert_int_equal(
        pier_sigv4_sign_req(&c.key, c.amz_date, &c.req, &auth, &cr, &sts, &err),
        PIER_OK);
    assert_buf_eq(&cr, expected(&c, "canonical_request"), "canonical request",
                  file);
    assert_buf_eq(&sts, expected(&c, "string_to_sign"), "string to sign", file);
    squeeze(&auth);
    assert_buf_eq(&auth, expected(&c, "authorization"), "authorization", file);
    /* The convenience form gives the same value. */
    pier_buf_reset(&cr);
    assert_int_equal(pier_sigv4_authorization(&c.key, c.amz_date, c.req.method,
                                              c.req.path, c.req.query,
                                              c.headers, c.nheaders,
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
        "get-object.json",           "put-object.json",
        "get-bucket-lifecycle.json", "get-bucket-list-objects.json",
        "chunked-put-object.json",   "chunked-put-object-trailer.json",
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
    pier_sigv4_signing_key(
        c.key.secret_access_key, pier_str_make(c.amz_date, 8),
        pier_str_cstr(c.key.region), pier_str_cstr(c.key.service), key);
    snprintf(prev, sizeof(prev), "%s", expected(&c, "signature"));
    chunks = json_object_get(c.j, "chunks");
    assert_int_equal(json_array_size(chunks), 3);
    json_array_foreach(chunks, i, ch)
    {
        size_t size = (size_t) json_integer_value(json_object_get(ch, "size"));
        char *data = malloc(size + 1);

        memset(data,
               (int) json_integer_value(json_object_get(ch, "data_fill_byte")),
               size);
        pier_sha256_hex(data, size, hex);
        assert_string_equal(
            hex, json_string_value(json_object_get(ch, "data_sha256")));
        pier_sigv4_chunk_signature(key, c.amz_date, pier_str_cstr(scope), prev,
                                   hex, sig);
        assert_string_equal(
            sig, json_string_value(json_object_get(ch, "signature")));
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
    assert_int_equal(pier_sigv4_canonical_query(
                         PIER_STR("b=2&a=z&a=y&c&d=%7e+x&&e=a%2Fb"), &b, &err),
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

/*
 * Verification.
 */

struct keyring {
    const char *akid;
    const char *secret;
};

static const char *
lookup(void *udata, struct pier_str akid)
{
    const struct keyring *k = udata;

    return pier_str_eq(akid, pier_str_cstr(k->akid)) ? k->secret : NULL;
}

/* The S3 API Reference's requests verify as the pages sign them. */
static void
test_sigv4_verify_s3_examples(void **state)
{
    static const char *files[] = {
        "get-object.json",           "put-object.json",
        "get-bucket-lifecycle.json", "get-bucket-list-objects.json",
        "chunked-put-object.json",   "chunked-put-object-trailer.json",
    };
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    struct pier_err err;
    struct keyring kr;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(files); i++) {
        struct s3case c;
        struct pier_buf path;
        unsigned char key[32];

        s3case_load(&c, files[i]);
        pier_buf_init(&path, SIZE_MAX);
        assert_int_equal(pier_sigv4_uri_encode(c.req.path, true, &path, &err),
                         PIER_OK);
        c.headers[c.nheaders].name = PIER_STR("Authorization");
        c.headers[c.nheaders].value =
            pier_str_cstr(expected(&c, "authorization"));
        kr.akid = c.key.access_key_id;
        kr.secret = c.key.secret_access_key;
        memset(&vr, 0, sizeof(vr));
        vr.method = pier_str_cstr(c.req.method);
        vr.path = pier_buf_str(&path);
        vr.query = c.req.query;
        vr.headers = c.headers;
        vr.nheaders = c.nheaders + 1;
        vr.region = "us-east-1";
        assert_int_equal(
            pier_sigv4_parse_date(pier_str_cstr(c.amz_date), &vr.now), PIER_OK);
        vr.lookup = lookup;
        vr.lookup_data = &kr;
        if (pier_sigv4_verify(&vr, &auth, &err) != PIER_OK) {
            fail_msg("%s: %s", files[i], err.msg);
        }
        assert_int_equal(auth.form, PIER_AUTH_V4_HEADER);
        assert_string_equal(auth.access_key_id, c.key.access_key_id);
        assert_string_equal(auth.seed_signature, expected(&c, "signature"));
        assert_string_equal(auth.scope,
                            json_string_value(json_object_get(c.j, "scope")));
        assert_string_equal(auth.amz_date, c.amz_date);
        pier_sigv4_signing_key(c.key.secret_access_key,
                               pier_str_make(c.amz_date, 8),
                               PIER_STR("us-east-1"), PIER_STR("s3"), key);
        assert_memory_equal(auth.signing_key, key, 32);
        if (strstr(files[i], "trailer") != NULL) {
            assert_int_equal(auth.payload, PIER_PAYLOAD_STREAMING_TRAILER);
            assert_int_equal(auth.trailer, PIER_CHECKSUM_CRC32C);
        } else if (strstr(files[i], "chunked") != NULL) {
            assert_int_equal(auth.payload, PIER_PAYLOAD_STREAMING);
        } else {
            assert_int_equal(auth.payload, PIER_PAYLOAD_SIGNED);
            assert_string_equal(auth.payload_sha256, c.req.payload_hash);
        }
        /* Another region's store refuses the credential. */
        vr.region = "eu-west-1";
        assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
        assert_int_equal(err.s3, PIER_S3_AUTH_HEADER_MALFORMED);
        pier_buf_release(&path);
        json_decref(c.j);
    }
}

static void
test_sigv4_verify_s3_presigned_example(void **state)
{
    struct s3case c;
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    struct pier_err err;
    struct keyring kr;
    time_t t;

    (void) state;
    s3case_load(&c, "presigned-get-object.json");
    kr.akid = c.key.access_key_id;
    kr.secret = c.key.secret_access_key;
    memset(&vr, 0, sizeof(vr));
    vr.method = PIER_STR("GET");
    vr.path = c.req.path;
    vr.query = pier_str_cstr(
        strchr(json_string_value(json_object_get(c.j, "expected_url")), '?')
        + 1);
    vr.headers = c.headers;
    vr.nheaders = c.nheaders;
    assert_int_equal(pier_sigv4_parse_date(pier_str_cstr(c.amz_date), &t),
                     PIER_OK);
    vr.lookup = lookup;
    vr.lookup_data = &kr;
    vr.now = t + 86400;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    assert_int_equal(auth.form, PIER_AUTH_V4_QUERY);
    assert_int_equal(auth.payload, PIER_PAYLOAD_UNSIGNED);
    /* One second later it has expired. */
    vr.now = t + 86401;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    /* Long before it was signed, it is not valid yet. */
    vr.now = t - 3600;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    json_decref(c.j);
}

/* A request signed by pier_sigv4_authorization, for the refusal tests. */
struct signed_req {
    struct pier_sigv4_key key;
    struct keyring kr;
    char amz_date[17];
    time_t t;
    struct pier_kv h[6];
    struct pier_buf auth;
    struct pier_sigv4_verify_req vr;
};

static void
signed_req_make(struct signed_req *s, const char *payload_hash)
{
    struct pier_err err;

    memset(s, 0, sizeof(*s));
    s->key.access_key_id = "AKIDPIER";
    s->key.secret_access_key = "pier-secret/key+1";
    s->key.region = "us-east-1";
    s->key.service = "s3";
    s->kr.akid = s->key.access_key_id;
    s->kr.secret = s->key.secret_access_key;
    s->t = 1700000000;
    pier_sigv4_format_date(s->t, s->amz_date);
    s->h[0].name = PIER_STR("Host");
    s->h[0].value = PIER_STR("127.0.0.1:9000");
    s->h[1].name = PIER_STR("X-Amz-Date");
    s->h[1].value = pier_str_cstr(s->amz_date);
    s->h[2].name = PIER_STR("x-amz-content-sha256");
    s->h[2].value = pier_str_cstr(payload_hash);
    s->h[3].name = PIER_STR("If-None-Match");
    s->h[3].value = PIER_STR("*");
    pier_buf_init(&s->auth, SIZE_MAX);
    assert_int_equal(pier_sigv4_authorization(&s->key, s->amz_date, "PUT",
                                              PIER_STR("/pier/blobs/ab%20cd"),
                                              PIER_STR("x-id=PutObject&a=%2f"),
                                              s->h, 4, payload_hash, &s->auth,
                                              &err),
                     PIER_OK);
    s->h[4].name = PIER_STR("Authorization");
    s->h[4].value = pier_buf_str(&s->auth);
    /* Headers nobody signed may come along. */
    s->h[5].name = PIER_STR("User-Agent");
    s->h[5].value = PIER_STR("test");
    s->vr.method = PIER_STR("PUT");
    /* The server sees the client's encoding, which may differ. */
    s->vr.path = PIER_STR("/pier/blobs/ab%20c%64");
    s->vr.query = PIER_STR("a=%2F&x-id=PutObject");
    s->vr.headers = s->h;
    s->vr.nheaders = 6;
    s->vr.now = s->t;
    s->vr.region = "us-east-1";
    s->vr.lookup = lookup;
    s->vr.lookup_data = &s->kr;
}

static void
expect_refusal(struct signed_req *s, enum pier_s3 code)
{
    struct pier_sigv4_auth auth;
    struct pier_err err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pier_sigv4_verify(&s->vr, &auth, &err), PIER_ERR);
    if (err.s3 != code) {
        fail_msg("expected %s, got %s (%s)", pier_s3_code(code),
                 pier_s3_code(err.s3), err.msg);
    }
    assert_int_equal(err.http, pier_s3_status(code));
}

static void
test_sigv4_verify_round_trip(void **state)
{
    struct signed_req s;
    struct pier_sigv4_auth auth;
    struct pier_err err;
    char hash[65];

    (void) state;
    pier_sha256_hex("hello", 5, hash);
    signed_req_make(&s, hash);
    assert_int_equal(pier_sigv4_verify(&s.vr, &auth, &err), PIER_OK);
    assert_string_equal(auth.access_key_id, "AKIDPIER");
    assert_int_equal(auth.payload, PIER_PAYLOAD_SIGNED);
    assert_string_equal(auth.payload_sha256, hash);
    assert_string_equal(auth.seed_signature,
                        strstr(s.auth.data, "Signature=") + 10);
    assert_int_equal((long long) auth.request_time, (long long) s.t);
    {
        unsigned char md[32];

        pier_sha256("hello", 5, md);
        assert_true(pier_sigv4_payload_matches(&auth, md));
        pier_sha256("hellO", 5, md);
        assert_false(pier_sigv4_payload_matches(&auth, md));
    }
    /* Skew up to 15 minutes is fine. */
    s.vr.now = s.t + 900;
    assert_int_equal(pier_sigv4_verify(&s.vr, &auth, &err), PIER_OK);
    s.vr.now = s.t - 900;
    assert_int_equal(pier_sigv4_verify(&s.vr, &auth, &err), PIER_OK);
    pier_buf_release(&s.auth);

    /* The other payload modes. */
    signed_req_make(&s, PIER_SIGV4_UNSIGNED_PAYLOAD);
    assert_int_equal(pier_sigv4_verify(&s.vr, &auth, &err), PIER_OK);
    assert_int_equal(auth.payload, PIER_PAYLOAD_UNSIGNED);
    {
        unsigned char md[32] = {0};

        assert_true(pier_sigv4_payload_matches(&auth, md));
    }
    pier_buf_release(&s.auth);
    signed_req_make(&s, PIER_SIGV4_STREAMING_UNSIGNED_TRAILER);
    s.h[5].name = PIER_STR("x-amz-trailer");
    s.h[5].value = PIER_STR("x-amz-checksum-crc32");
    assert_int_equal(pier_sigv4_verify(&s.vr, &auth, &err), PIER_OK);
    assert_int_equal(auth.payload, PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER);
    assert_int_equal(auth.trailer, PIER_CHECKSUM_CRC32);
    s.h[5].value = PIER_STR("x-amz-checksum-md5");
    expect_refusal(&s, PIER_S3_INVALID_ARGUMENT);
    pier_buf_release(&s.auth);
}

static void
test_sigv4_verify_refusals(void **state)
{
    struct signed_req s;
    char hash[65], *p;

    (void) state;
    pier_sha256_hex("hello", 5, hash);
    signed_req_make(&s, hash);

    /* A flipped byte anywhere signed. */
    p = strstr(s.auth.data, "Signature=") + 10;
    p[5] ^= 1;
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    p[5] ^= 1;
    s.vr.path = PIER_STR("/pier/blobs/ab%20ce");
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.vr.path = PIER_STR("/pier/blobs/ab%20cd");
    s.vr.query = PIER_STR("a=%2F&x-id=PutObject&acl");
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.vr.query = PIER_STR("a=%2F&x-id=PutObject");
    s.vr.method = PIER_STR("GET");
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.vr.method = PIER_STR("PUT");
    s.h[3].value = PIER_STR("\"etag\"");
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.h[3].value = PIER_STR("*");
    s.h[2].value = pier_str_cstr(PIER_SIGV4_EMPTY_SHA256);
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.h[2].value = pier_str_cstr(hash);
    /* A signed header gone. */
    s.h[3].name = PIER_STR("If-Match");
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.h[3].name = PIER_STR("If-None-Match");

    /* Time. */
    s.vr.now = s.t + 901;
    expect_refusal(&s, PIER_S3_REQUEST_TIME_TOO_SKEWED);
    s.vr.now = s.t - 901;
    expect_refusal(&s, PIER_S3_REQUEST_TIME_TOO_SKEWED);
    s.vr.now = s.t;

    /* Keys. */
    s.kr.akid = "SOMEONEELSE";
    expect_refusal(&s, PIER_S3_INVALID_ACCESS_KEY_ID);
    s.kr.akid = "AKIDPIER";
    s.kr.secret = "wrong";
    expect_refusal(&s, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    s.kr.secret = s.key.secret_access_key;

    /* Payload hash header. */
    s.h[2].value = PIER_STR("not-a-hash");
    expect_refusal(&s, PIER_S3_INVALID_ARGUMENT);
    s.h[2].name = PIER_STR("x-amz-content-sha257");
    expect_refusal(&s, PIER_S3_INVALID_REQUEST);
    s.h[2].name = PIER_STR("x-amz-content-sha256");
    s.h[2].value = pier_str_cstr(hash);

    /* Malformed Authorization values. */
    {
        static const char *bad[] = {
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws4_request, SignedHeaders=host, Signature=00, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3, "
            "SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/2023111/us-east-1/s3/"
            "aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231115/us-east-1/s3/"
            "aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws5_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/ec2/"
            "aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws4_request, Foo=bar, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=/20231114/us-east-1/s3/"
            "aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDPIER/20231114/us-east-1/s3/"
            "aws4_request,, SignedHeaders=host, Signature=00",
            "Basic dXNlcjpwYXNz",
        };
        size_t i;

        for (i = 0; i < PIER_NELEMS(bad); i++) {
            s.h[4].value = pier_str_cstr(bad[i]);
            expect_refusal(&s, PIER_S3_AUTH_HEADER_MALFORMED);
        }
    }
    s.h[4].value = pier_buf_str(&s.auth);

    /* No x-amz-date; no signature at all. */
    s.h[1].name = PIER_STR("X-Amz-Dat");
    expect_refusal(&s, PIER_S3_ACCESS_DENIED);
    s.h[1].value = PIER_STR("yesterday");
    s.h[1].name = PIER_STR("X-Amz-Date");
    expect_refusal(&s, PIER_S3_AUTH_HEADER_MALFORMED);
    s.h[1].value = pier_str_cstr(s.amz_date);
    s.vr.nheaders = 4;
    expect_refusal(&s, PIER_S3_ACCESS_DENIED);
    pier_buf_release(&s.auth);
}

static void
test_sigv4_verify_presigned(void **state)
{
    struct pier_sigv4_key key = {"AKIDPIER", "pier-secret", "us-east-1", "s3",
                                 NULL};
    struct keyring kr = {"AKIDPIER", "pier-secret"};
    struct pier_kv h[] = {{PIER_STR("host"), PIER_STR("localhost:1")}};
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    struct pier_buf q, full;
    struct pier_err err;
    char amz_date[17];
    time_t t = 1700000000;
    char *sig;

    (void) state;
    pier_sigv4_format_date(t, amz_date);
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_init(&full, SIZE_MAX);
    assert_int_equal(pier_sigv4_presign(&key, amz_date, 600, "GET",
                                        PIER_STR("/pier/live/site"),
                                        PIER_STR("versionId=3"), h, 1, &q,
                                        &err),
                     PIER_OK);
    assert_int_equal(pier_buf_adds(&full, "versionId=3&"), PIER_OK);
    assert_int_equal(pier_buf_addstr(&full, pier_buf_str(&q)), PIER_OK);
    memset(&vr, 0, sizeof(vr));
    vr.method = PIER_STR("GET");
    vr.path = PIER_STR("/pier/live/site");
    vr.query = pier_buf_str(&full);
    vr.headers = h;
    vr.nheaders = 1;
    vr.now = t + 600;
    vr.lookup = lookup;
    vr.lookup_data = &kr;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    assert_int_equal(auth.form, PIER_AUTH_V4_QUERY);
    assert_int_equal(auth.payload, PIER_PAYLOAD_UNSIGNED);
    /* Expired. */
    vr.now = t + 601;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ACCESS_DENIED);
    vr.now = t;
    /* A flipped signature byte. */
    sig = strstr(full.data, "X-Amz-Signature=") + 16;
    sig[0] ^= 1;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    sig[0] ^= 1;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    /* A longer expiry than signed. */
    {
        struct pier_buf longer;
        char *e;

        pier_buf_init(&longer, SIZE_MAX);
        assert_int_equal(pier_buf_addstr(&longer, pier_buf_str(&full)),
                         PIER_OK);
        e = strstr(longer.data, "X-Amz-Expires=600");
        e[14] = '9';
        vr.query = pier_buf_str(&longer);
        assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
        assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
        /* Beyond 7 days is refused before any signature check. */
        e[14] = '6';
        pier_buf_reset(&longer);
        assert_int_equal(pier_buf_addstr(&longer, pier_buf_str(&full)),
                         PIER_OK);
        e = strstr(longer.data, "X-Amz-Expires=600");
        assert_int_equal(pier_buf_adds(&longer, "&X-Amz-Expires=604801"),
                         PIER_OK);
        memcpy(e, "X-Amz-Expirez=600", 17);
        vr.query = pier_buf_str(&longer);
        assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
        assert_int_equal(err.s3, PIER_S3_AUTH_QUERY_PARAMS);
        pier_buf_release(&longer);
    }
    /* Missing parameters, another algorithm. */
    vr.query = PIER_STR("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=x");
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_QUERY_PARAMS);
    pier_buf_reset(&q);
    assert_int_equal(pier_buf_addstr(&q, pier_buf_str(&full)), PIER_OK);
    memcpy(strstr(q.data, "AWS4-HMAC-SHA256"), "AWS4-HMAC-SHA512", 16);
    vr.query = pier_buf_str(&q);
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_AUTH_QUERY_PARAMS);
    /* Query and header at once. */
    {
        struct pier_kv h2[] = {
            {PIER_STR("host"), PIER_STR("localhost:1")},
            {PIER_STR("authorization"), PIER_STR("AWS4-HMAC-SHA256 x")},
        };

        vr.query = pier_buf_str(&full);
        vr.headers = h2;
        vr.nheaders = 2;
        assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
        assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    }
    pier_buf_release(&q);
    pier_buf_release(&full);
}

/* The canonical query's corners: escapes that escape nothing, empty
 * names and values, and queries past the stack scratch (more than 32
 * parameters, more than 680 bytes), which take the heap. */
static void
test_sigv4_canonical_query_corners(void **state)
{
    struct pier_buf q, b, want;
    struct pier_err err;
    int i;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(
        pier_sigv4_canonical_query(PIER_STR("%zz&%4&=&==a&a=%"), &b, &err),
        PIER_OK);
    assert_string_equal(b.data, "=&=%3Da&%254=&%25zz=&a=%25");

    /* 40 parameters given in reverse, each value escaped three ways. */
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_init(&want, SIZE_MAX);
    for (i = 39; i >= 0; i--) {
        assert_int_equal(pier_buf_addf(&q, "%sp%02d=a%%2Fb+c%%7e~%s",
                                       i < 39 ? "&" : "", i,
                                       "xxxxxxxxxxxxxxxxxxxxxxxxxx"),
                         PIER_OK);
    }
    for (i = 0; i < 40; i++) {
        assert_int_equal(pier_buf_addf(&want, "%sp%02d=a%%2Fb%%20c~~%s",
                                       i > 0 ? "&" : "", i,
                                       "xxxxxxxxxxxxxxxxxxxxxxxxxx"),
                         PIER_OK);
    }
    assert_true(q.len > 1024);
    pier_buf_reset(&b);
    assert_int_equal(
        pier_sigv4_canonical_query(pier_buf_str(&q), &b, &err), PIER_OK);
    assert_string_equal(b.data, want.data);
    /* A capped buffer: the error, as before. */
    {
        struct pier_buf small;

        pier_buf_init(&small, 100);
        assert_int_equal(
            pier_sigv4_canonical_query(pier_buf_str(&q), &small, &err),
            PIER_ERR);
        pier_buf_release(&small);
    }
    pier_buf_release(&q);
    pier_buf_release(&want);
    pier_buf_release(&b);
}

/* A presigned URL with a long query of its own (the heap paths), with
 * its parameter names escaped, verifies; a refusal halfway through the
 * canonical request leaves the next verification unharmed. */
static void
test_sigv4_verify_presigned_long_query(void **state)
{
    struct pier_sigv4_key key = {"AKIDPIER", "pier-secret", "us-east-1", "s3",
                                 NULL};
    struct keyring kr = {"AKIDPIER", "pier-secret"};
    struct pier_kv h[] = {{PIER_STR("host"), PIER_STR("localhost:1")}};
    struct pier_kv two[] = {{PIER_STR("host"), PIER_STR("localhost:1")},
                            {PIER_STR("x-extra"), PIER_STR("v")}};
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    struct pier_buf own, q, full, esc;
    struct pier_err err;
    char amz_date[17], *p;
    time_t t = 1700000000;
    int i;

    (void) state;
    pier_sigv4_format_date(t, amz_date);
    pier_buf_init(&own, SIZE_MAX);
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_init(&full, SIZE_MAX);
    pier_buf_init(&esc, SIZE_MAX);
    for (i = 0; i < 50; i++) {
        assert_int_equal(pier_buf_addf(&own, "%sk%d=v%%20%d+w", i ? "&" : "",
                                       i % 7, i),
                         PIER_OK);
    }
    assert_int_equal(pier_sigv4_presign(&key, amz_date, 600, "GET",
                                        PIER_STR("/b/k"), pier_buf_str(&own),
                                        h, 1, &q, &err),
                     PIER_OK);
    assert_int_equal(pier_buf_addf(&full, "%s&%s", own.data, q.data),
                     PIER_OK);
    memset(&vr, 0, sizeof(vr));
    vr.method = PIER_STR("GET");
    vr.path = PIER_STR("/b/k");
    vr.query = pier_buf_str(&full);
    vr.headers = h;
    vr.nheaders = 1;
    vr.now = t + 1;
    vr.lookup = lookup;
    vr.lookup_data = &kr;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    /* The same parameters with escaped names ("X-Amz-%53ignature"). */
    for (p = full.data; *p != '\0'; p++) {
        if (strncmp(p, "X-Amz-S", 7) == 0) {
            assert_int_equal(pier_buf_adds(&esc, "X-Amz-%53"), PIER_OK);
            p += 6;
        } else {
            assert_int_equal(pier_buf_addch(&esc, *p), PIER_OK);
        }
    }
    vr.query = pier_buf_str(&esc);
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    /* Signed headers the request lacks: refused mid-way, then a good
     * request on the same thread still verifies. */
    pier_buf_reset(&q);
    pier_buf_reset(&full);
    assert_int_equal(pier_sigv4_presign(&key, amz_date, 600, "GET",
                                        PIER_STR("/b/k"), PIER_STR(""), two,
                                        2, &q, &err),
                     PIER_OK);
    vr.query = pier_buf_str(&q);
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    vr.headers = two;
    vr.nheaders = 2;
    assert_int_equal(pier_sigv4_verify(&vr, &auth, &err), PIER_OK);
    pier_buf_release(&own);
    pier_buf_release(&q);
    pier_buf_release(&full);
    pier_buf_release(&esc);
}

/* Session tokens are signed: in the header form as a header. */
static void
test_sigv4_session_token(void **state)
{
    struct pier_sigv4_key key = {"AKID", "secret", "us-east-1", "s3",
                                 "token/+="};
    struct pier_kv h[3] = {
        {PIER_STR("host"), PIER_STR("h")},
        {PIER_STR("x-amz-date"), PIER_STR("20231114T221320Z")},
        {PIER_STR("x-amz-content-sha256"),
         PIER_STR(PIER_SIGV4_UNSIGNED_PAYLOAD)},
    };
    struct pier_buf a, b, q;
    struct pier_err err;

    (void) state;
    pier_buf_init(&a, SIZE_MAX);
    pier_buf_init(&b, SIZE_MAX);
    pier_buf_init(&q, SIZE_MAX);
    assert_int_equal(pier_sigv4_authorization(&key, "20231114T221320Z", "GET",
                                              PIER_STR("/"), PIER_STR(""), h, 3,
                                              PIER_SIGV4_UNSIGNED_PAYLOAD, &a,
                                              &err),
                     PIER_OK);
    assert_non_null(strstr(a.data, "SignedHeaders=host;x-amz-content-sha256;"
                                   "x-amz-date;x-amz-security-token,"));
    /* The same as signing with the header given explicitly. */
    key.session_token = NULL;
    {
        struct pier_kv h4[4];

        memcpy(h4, h, sizeof(h));
        h4[3].name = PIER_STR("X-Amz-Security-Token");
        h4[3].value = PIER_STR("token/+=");
        assert_int_equal(
            pier_sigv4_authorization(&key, "20231114T221320Z", "GET",
                                     PIER_STR("/"), PIER_STR(""), h4, 4,
                                     PIER_SIGV4_UNSIGNED_PAYLOAD, &b, &err),
            PIER_OK);
    }
    assert_string_equal(a.data, b.data);
    key.session_token = "token/+=";
    assert_int_equal(pier_sigv4_presign(&key, "20231114T221320Z", 60, "GET",
                                        PIER_STR("/"), PIER_STR(""), h, 1, &q,
                                        &err),
                     PIER_OK);
    assert_non_null(strstr(q.data, "&X-Amz-Security-Token=token%2F%2B%3D&"));
    pier_buf_release(&a);
    pier_buf_release(&b);
    pier_buf_release(&q);
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
        cmocka_unit_test(test_sigv4_verify_s3_examples),
        cmocka_unit_test(test_sigv4_verify_s3_presigned_example),
        cmocka_unit_test(test_sigv4_verify_round_trip),
        cmocka_unit_test(test_sigv4_verify_refusals),
        cmocka_unit_test(test_sigv4_verify_presigned),
        cmocka_unit_test(test_sigv4_canonical_query_corners),
        cmocka_unit_test(test_sigv4_verify_presigned_long_query),
        cmocka_unit_test(test_sigv4_session_token),
    };

    return cmocka_run_group_tests_name("lib/sigv4", tests, NULL, NULL);
}
