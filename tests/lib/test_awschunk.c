/*
 * tests/lib/test_awschunk.c - lib/awschunk.c: the S3 API Reference's
 * streaming examples (signed chunks, signed trailer) fed whole, one byte
 * at a time and in odd slices; an unsigned-trailer body as botocore frames
 * it; and each way a body can be wrong.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "lib/awschunk.h"
#include "lib/buf.h"
#include "lib/sha.h"
#include "lib/sigv4.h"
#include "tests/lib/sigtest.h"

/* Feed body in slices of step bytes (0: whole), collecting the data.
 * Returns the decoder's last result; *taken is the input consumed. */
static int
feed(struct pier_awschunk *ck, const char *body, size_t len, size_t step,
     struct pier_buf *out, size_t *taken, struct pier_err *err)
{
    size_t off = 0;
    int rc = PIER_AGAIN;

    *taken = 0;
    while (off < len) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        const char *p = body + off, *end = body + off + n;

        while (p < end) {
            struct pier_str data;
            size_t used;

            rc = pier_awschunk_decode(ck, p, end, &used, &data, err);
            if (rc == PIER_ERR) {
                return rc;
            }
            assert_true(used <= (size_t) (end - p));
            if (data.len > 0) {
                assert_true(data.ptr >= p && data.ptr + data.len <= p + used);
                assert_int_equal(pier_buf_addstr(out, data), PIER_OK);
            }
            p += used;
            *taken += used;
            if (rc == PIER_OK) {
                return rc;
            }
            if (used == 0) {
                break;
            }
        }
        off += n;
    }
    return rc;
}

/* One of the streaming examples, framed as the page sends it. */
struct example {
    json_t *j;
    struct pier_sigv4_auth auth;
    struct pier_buf body;
    uint64_t decoded_length;
};

static void
example_load(struct example *ex, const char *file, bool trailer)
{
    char rel[256];
    json_t *creds, *chunks, *ch, *tr;
    const char *amz_date;
    size_t i;

    snprintf(rel, sizeof(rel), "sigv4-s3/%s", file);
    memset(ex, 0, sizeof(*ex));
    ex->j = sigtest_json(rel);
    creds = json_object_get(ex->j, "credentials");
    amz_date = json_string_value(json_object_get(ex->j, "timestamp"));
    ex->auth.form = PIER_AUTH_V4_HEADER;
    ex->auth.payload =
        trailer ? PIER_PAYLOAD_STREAMING_TRAILER : PIER_PAYLOAD_STREAMING;
    ex->auth.trailer = trailer ? PIER_CHECKSUM_CRC32C : PIER_CHECKSUM_NONE;
    pier_sigv4_signing_key(
        json_string_value(json_object_get(creds, "secret_access_key")),
        pier_str_make(amz_date, 8), PIER_STR("us-east-1"), PIER_STR("s3"),
        ex->auth.signing_key);
    snprintf(ex->auth.seed_signature, sizeof(ex->auth.seed_signature), "%s",
             json_string_value(json_object_get(
                 json_object_get(ex->j, "expected"), "signature")));
    snprintf(ex->auth.amz_date, sizeof(ex->auth.amz_date), "%s", amz_date);
    snprintf(ex->auth.scope, sizeof(ex->auth.scope), "%s",
             json_string_value(json_object_get(ex->j, "scope")));
    ex->decoded_length = (uint64_t) json_integer_value(
        json_object_get(ex->j, "decoded_content_length"));

    pier_buf_init(&ex->body, SIZE_MAX);
    chunks = json_object_get(ex->j, "chunks");
    json_array_foreach(chunks, i, ch)
    {
        size_t size = (size_t) json_integer_value(json_object_get(ch, "size"));
        char *fill = malloc(size + 1);

        memset(fill, 'a', size);
        assert_int_equal(
            pier_buf_adds(&ex->body, json_string_value(
                                         json_object_get(ch, "chunk_header"))),
            PIER_OK);
        assert_int_equal(pier_buf_add(&ex->body, fill, size), PIER_OK);
        if (size > 0 || !trailer) {
            assert_int_equal(pier_buf_adds(&ex->body, "\r\n"), PIER_OK);
        }
        free(fill);
    }
    tr = json_object_get(ex->j, "trailer");
    if (trailer) {
        assert_int_equal(
            pier_buf_addf(
                &ex->body,
                "x-amz-checksum-crc32c:%s\r\n"
                "x-amz-trailer-signature:%s\r\n\r\n",
                json_string_value(json_array_get(
                    json_array_get(json_object_get(tr, "headers"), 0), 1)),
                json_string_value(json_object_get(tr, "signature"))),
            PIER_OK);
    }
}

static void
example_free(struct example *ex)
{
    pier_buf_release(&ex->body);
    json_decref(ex->j);
}

static void
check_example(const char *file, bool trailer)
{
    static const size_t steps[] = {0, 1, 2, 7, 81, 4096, 65537};
    struct example ex;
    size_t s, i, taken;

    example_load(&ex, file, trailer);
    if (!trailer) {
        /* The page's Content-Length. */
        assert_int_equal(ex.body.len, 66824);
    }
    for (s = 0; s < PIER_NELEMS(steps); s++) {
        struct pier_awschunk ck;
        struct pier_buf out;
        struct pier_err err;

        pier_buf_init(&out, SIZE_MAX);
        assert_int_equal(
            pier_awschunk_init(&ck, &ex.auth, ex.decoded_length, &err),
            PIER_OK);
        if (feed(&ck, ex.body.data, ex.body.len, steps[s], &out, &taken, &err)
            != PIER_OK) {
            fail_msg("%s, step %zu: %s", file, steps[s], err.msg);
        }
        assert_int_equal(taken, ex.body.len);
        assert_true(pier_awschunk_done(&ck));
        assert_int_equal(out.len, 66560);
        for (i = 0; i < out.len; i++) {
            if (out.data[i] != 'a') {
                fail_msg("byte %zu is 0x%02x", i, (unsigned) out.data[i]);
            }
        }
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
    }
    example_free(&ex);
}

static void
test_awschunk_aws_example(void **state)
{
    (void) state;
    check_example("chunked-put-object.json", false);
}

static void
test_awschunk_aws_trailer_example(void **state)
{
    (void) state;
    check_example("chunked-put-object-trailer.json", true);
}

/* Decode a whole body expecting failure with code. */
static void
expect_failure(const struct pier_sigv4_auth *auth, uint64_t decoded_length,
               const char *body, size_t len, enum pier_s3 code)
{
    static const size_t steps[] = {0, 1, 3};
    size_t s, taken;

    for (s = 0; s < PIER_NELEMS(steps); s++) {
        struct pier_awschunk ck;
        struct pier_buf out;
        struct pier_err err;
        struct pier_str data;
        size_t used;

        memset(&err, 0, sizeof(err));
        pier_buf_init(&out, SIZE_MAX);
        assert_int_equal(pier_awschunk_init(&ck, auth, decoded_length, &err),
                         PIER_OK);
        if (feed(&ck, body, len, steps[s], &out, &taken, &err) != PIER_ERR) {
            fail_msg("step %zu: body was accepted", steps[s]);
        }
        if (err.s3 != code) {
            fail_msg("step %zu: expected %s, got %s (%s)", steps[s],
                     pier_s3_code(code), pier_s3_code(err.s3), err.msg);
        }
        /* It stays failed. */
        assert_int_equal(
            pier_awschunk_decode(&ck, "0", "0" + 1, &used, &data, &err),
            PIER_ERR);
        assert_false(pier_awschunk_done(&ck));
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
    }
}

/* Change a hex digit into another hex digit. */
static void
flip_hex(char *c)
{
    *c = *c == '0' ? '1' : '0';
}

static void
test_awschunk_bad_signatures(void **state)
{
    struct example ex;
    char *body, *p, save;

    (void) state;
    example_load(&ex, "chunked-put-object.json", false);
    body = ex.body.data;
    /* A flipped byte in the first chunk's signature, data, or the final
     * chunk's signature. */
    p = strstr(body, "chunk-signature=") + 16;
    save = p[3];
    flip_hex(&p[3]);
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    p[3] = save;
    p = strchr(body, '\n') + 100;
    *p = 'b';
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    *p = 'a';
    p = strstr(body, "\r\n0;chunk-signature=") + 20;
    save = p[63];
    flip_hex(&p[63]);
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    p[63] = save;
    /* Another seed (a different request) breaks the chain. */
    save = ex.auth.seed_signature[0];
    flip_hex(&ex.auth.seed_signature[0]);
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    ex.auth.seed_signature[0] = save;
    /* A chunk without its signature. */
    memcpy(strstr(body, "chunk-signature="), "chunk-signaturX=", 16);
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_INVALID_REQUEST);
    example_free(&ex);

    /* The signed trailer: the trailer signature, the checksum. */
    example_load(&ex, "chunked-put-object-trailer.json", true);
    body = ex.body.data;
    p = strstr(body, "x-amz-trailer-signature:") + 24;
    save = p[10];
    flip_hex(&p[10]);
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_SIGNATURE_DOES_NOT_MATCH);
    p[10] = save;
    p = strstr(body, "x-amz-checksum-crc32c:") + 22;
    p[0] = p[0] == 'A' ? 'B' : 'A';
    expect_failure(&ex.auth, ex.decoded_length, body, ex.body.len,
                   PIER_S3_BAD_DIGEST);
    example_free(&ex);
}

static struct pier_sigv4_auth
unsigned_auth(enum pier_checksum ck)
{
    struct pier_sigv4_auth a;

    memset(&a, 0, sizeof(a));
    a.form = PIER_AUTH_V4_HEADER;
    a.payload = PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    a.trailer = ck;
    return a;
}

/* botocore's framing of STREAMING-UNSIGNED-PAYLOAD-TRAILER. CRC-32 of
 * "hello world" is 0x0d4a1185. */
static const char hello[] = "5\r\nhello\r\n6\r\n world\r\n"
                            "0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";

static void
test_awschunk_unsigned_trailer(void **state)
{
    static const size_t steps[] = {0, 1, 2, 5};
    struct pier_sigv4_auth a = unsigned_auth(PIER_CHECKSUM_CRC32);
    size_t s, taken;

    (void) state;
    for (s = 0; s < PIER_NELEMS(steps); s++) {
        struct pier_awschunk ck;
        struct pier_buf out;
        struct pier_err err;
        struct pier_str data;
        size_t used;

        pier_buf_init(&out, SIZE_MAX);
        assert_int_equal(pier_awschunk_init(&ck, &a, 11, &err), PIER_OK);
        assert_int_equal(
            feed(&ck, hello, strlen(hello), steps[s], &out, &taken, &err),
            PIER_OK);
        assert_int_equal(taken, strlen(hello));
        assert_string_equal(out.data, "hello world");
        /* Done: nothing more is taken. */
        assert_int_equal(
            pier_awschunk_decode(&ck, "x", "x" + 1, &used, &data, &err),
            PIER_OK);
        assert_int_equal(used, 0);
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
    }
    /* Input after the body is left to the caller (a pipelined request). */
    {
        struct pier_awschunk ck;
        struct pier_buf out, in;
        struct pier_err err;

        pier_buf_init(&out, SIZE_MAX);
        pier_buf_init(&in, SIZE_MAX);
        assert_int_equal(pier_buf_adds(&in, hello), PIER_OK);
        assert_int_equal(pier_buf_adds(&in, "GET / HTTP/1.1\r\n"), PIER_OK);
        assert_int_equal(
            pier_awschunk_init(&ck, &a, PIER_AWSCHUNK_UNKNOWN_LENGTH, &err),
            PIER_OK);
        assert_int_equal(feed(&ck, in.data, in.len, 0, &out, &taken, &err),
                         PIER_OK);
        assert_int_equal(taken, strlen(hello));
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
        pier_buf_release(&in);
    }
}

static void
test_awschunk_checksums(void **state)
{
    /* The same body with each checksum the decoder knows. */
    static const struct {
        enum pier_checksum ck;
        const char *name;
    } sums[] = {
        {PIER_CHECKSUM_CRC32, "x-amz-checksum-crc32"},
        {PIER_CHECKSUM_CRC32C, "x-amz-checksum-crc32c"},
        {PIER_CHECKSUM_SHA1, "x-amz-checksum-sha1"},
        {PIER_CHECKSUM_SHA256, "x-amz-checksum-sha256"},
    };
    size_t i, taken;

    (void) state;
    for (i = 0; i < PIER_NELEMS(sums); i++) {
        struct pier_sigv4_auth a = unsigned_auth(sums[i].ck);
        unsigned char raw[32];
        char b64[64];
        size_t n;
        struct pier_buf body, out;
        struct pier_awschunk ck;
        struct pier_err err;

        switch (sums[i].ck) {
        case PIER_CHECKSUM_CRC32:
        case PIER_CHECKSUM_CRC32C: {
            uint32_t c = sums[i].ck == PIER_CHECKSUM_CRC32
                             ? pier_crc32(0, "hello world", 11)
                             : pier_crc32c(0, "hello world", 11);

            raw[0] = (unsigned char) (c >> 24);
            raw[1] = (unsigned char) (c >> 16);
            raw[2] = (unsigned char) (c >> 8);
            raw[3] = (unsigned char) c;
            n = 4;
            break;
        }
        case PIER_CHECKSUM_SHA1:
            pier_sha1("hello world", 11, raw);
            n = 20;
            break;
        default:
            pier_sha256("hello world", 11, raw);
            n = 32;
            break;
        }
        pier_base64_encode(raw, n, b64);
        if (sums[i].ck == PIER_CHECKSUM_CRC32) {
            assert_string_equal(b64, "DUoRhQ=="); /* as in hello[] */
        }
        pier_buf_init(&body, SIZE_MAX);
        pier_buf_init(&out, SIZE_MAX);
        assert_int_equal(pier_buf_addf(&body,
                                       "b\r\nhello world\r\n0\r\n%s:%s\r\n\r\n",
                                       sums[i].name, b64),
                         PIER_OK);
        assert_int_equal(pier_awschunk_init(&ck, &a, 11, &err), PIER_OK);
        assert_int_equal(feed(&ck, body.data, body.len, 1, &out, &taken, &err),
                         PIER_OK);
        pier_awschunk_release(&ck);
        /* A wrong value is a BadDigest. */
        {
            char *v = strstr(body.data, "0\r\nx-amz-checksum-");

            v = strchr(v, ':') + 1;
            *v = *v == 'A' ? 'B' : 'A';
        }
        expect_failure(&a, 11, body.data, body.len, PIER_S3_BAD_DIGEST);
        pier_buf_release(&body);
        pier_buf_release(&out);
    }
}

static void
test_awschunk_bad_framing(void **state)
{
    struct pier_sigv4_auth a = unsigned_auth(PIER_CHECKSUM_CRC32);
    struct pier_sigv4_auth streaming = unsigned_auth(PIER_CHECKSUM_NONE);
    static const struct {
        const char *body;
        enum pier_s3 code;
        uint64_t decoded; /* 0: 11 */
    } bad[] = {
        /* Sizes: not hex, empty, too large. */
        {"zz\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"\r\n", PIER_S3_INVALID_REQUEST, 0},
        {";x\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"-5\r\nhello\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"fffffffffffffffff\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"200000001\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"5 \r\nhello\r\n", PIER_S3_INVALID_REQUEST, 0},
        /* CR and LF where they belong. */
        {"5\rXhello\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"5\nhello\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"5\r\nhelloX\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"5\r\nhello\rX", PIER_S3_INVALID_REQUEST, 0},
        {"5\r\nhello\n", PIER_S3_INVALID_REQUEST, 0},
        {"5\r\nhelloo\r\n", PIER_S3_INVALID_REQUEST, 0},
        /* An extension where none belongs. */
        {"5;chunk-signature=00\r\nhello\r\n", PIER_S3_INVALID_REQUEST, 0},
        /* Lengths. */
        {"5\r\nhello\r\n6\r\n world\r\n0\r\n"
         "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
         PIER_S3_INVALID_REQUEST, 5},
        /* Trailers: missing, unknown, bad base64, bare LF, too long. */
        {"b\r\nhello world\r\n0\r\n\r\n", PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-foo:1\r\n\r\n", PIER_S3_INVALID_REQUEST,
         0},
        {"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ\r\n\r\n",
         PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\n\r\n",
         PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32 DUoRhQ==\r\n\r\n",
         PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-amz-trailer-signature:00\r\n\r\n",
         PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n"
         "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
         PIER_S3_INVALID_REQUEST, 0},
        {"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\rX",
         PIER_S3_INVALID_REQUEST, 0},
    };
    char longline[400];
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        expect_failure(&a, bad[i].decoded != 0 ? bad[i].decoded : 11,
                       bad[i].body, strlen(bad[i].body), bad[i].code);
    }
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, "b\r\nhello world\r\n0\r\n", 19);
    expect_failure(&a, 11, longline, sizeof(longline), PIER_S3_INVALID_REQUEST);
    /* A short body: IncompleteBody at the end. */
    expect_failure(&a, 12, hello, strlen(hello), PIER_S3_INCOMPLETE_BODY);
    /* A trailer with no checksum declared. */
    streaming.payload = PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    expect_failure(&streaming, 11, hello, strlen(hello),
                   PIER_S3_INVALID_REQUEST);
}

static void
test_awschunk_truncated(void **state)
{
    struct pier_sigv4_auth a = unsigned_auth(PIER_CHECKSUM_CRC32);
    size_t cut, taken;

    (void) state;
    /* Every prefix of a good body asks for more, never ends. */
    for (cut = 0; cut < strlen(hello); cut++) {
        struct pier_awschunk ck;
        struct pier_buf out;
        struct pier_err err;

        pier_buf_init(&out, SIZE_MAX);
        assert_int_equal(pier_awschunk_init(&ck, &a, 11, &err), PIER_OK);
        assert_int_equal(feed(&ck, hello, cut, 1, &out, &taken, &err),
                         PIER_AGAIN);
        assert_int_equal(taken, cut);
        assert_false(pier_awschunk_done(&ck));
        pier_awschunk_release(&ck);
        pier_buf_release(&out);
    }
}

static void
test_awschunk_init_modes(void **state)
{
    struct pier_sigv4_auth a;
    struct pier_awschunk ck;
    struct pier_err err;

    (void) state;
    memset(&a, 0, sizeof(a));
    a.payload = PIER_PAYLOAD_SIGNED;
    assert_int_equal(pier_awschunk_init(&ck, &a, 0, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_REQUEST);
    a.payload = PIER_PAYLOAD_UNSIGNED;
    assert_int_equal(pier_awschunk_init(&ck, &a, 0, &err), PIER_ERR);
    pier_awschunk_release(&ck); /* a failed init leaves it releasable */
}

/* The style guide's example: a chunk header fed one byte at a time gives
 * the same answer as fed whole. */
static void
test_awschunk_header_byte_by_byte(void **state)
{
    struct example ex;
    struct pier_awschunk ck;
    struct pier_err err;
    struct pier_str data;
    const char *h;
    size_t i, used, n;

    (void) state;
    example_load(&ex, "chunked-put-object.json", false);
    assert_int_equal(pier_awschunk_init(&ck, &ex.auth, ex.decoded_length, &err),
                     PIER_OK);
    h = ex.body.data;
    n = (size_t) (strchr(h, '\n') + 1 - h);
    for (i = 0; i < n; i++) {
        assert_int_equal(
            pier_awschunk_decode(&ck, h + i, h + i + 1, &used, &data, &err),
            PIER_AGAIN);
        assert_int_equal(used, 1);
        assert_int_equal(data.len, 0);
    }
    assert_int_equal(ck.size, 0x10000);
    assert_int_equal(ck.left, 0x10000);
    pier_awschunk_release(&ck);
    example_free(&ex);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_awschunk_aws_example),
        cmocka_unit_test(test_awschunk_aws_trailer_example),
        cmocka_unit_test(test_awschunk_bad_signatures),
        cmocka_unit_test(test_awschunk_unsigned_trailer),
        cmocka_unit_test(test_awschunk_checksums),
        cmocka_unit_test(test_awschunk_bad_framing),
        cmocka_unit_test(test_awschunk_truncated),
        cmocka_unit_test(test_awschunk_init_modes),
        cmocka_unit_test(test_awschunk_header_byte_by_byte),
    };

    return cmocka_run_group_tests_name("lib/awschunk", tests, NULL, NULL);
}
