/*
 * tests/edge/test_verify.c - edge/verify.c: every coding verified whole
 * and byte by byte, and each way bytes can be wrong refused.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <brotli/encode.h>
#include <openssl/sha.h>
#include <zlib.h>
#include <zstd.h>

#include "edge/verify.h"

#define CONTENT_LEN 100000

static unsigned char content[CONTENT_LEN];
static uint8_t sha[EDGE_SHA256_LEN];

struct encoded {
    unsigned char *p;
    size_t n;
};

static struct encoded variants[EDGE_ENC_MAX];

static void
make_gzip(struct encoded *e)
{
    z_stream z;

    memset(&z, 0, sizeof(z));
    assert_int_equal(
        deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    e->n = deflateBound(&z, CONTENT_LEN) + 32;
    e->p = pier_malloc(e->n);
    z.next_in = content;
    z.avail_in = CONTENT_LEN;
    z.next_out = e->p;
    z.avail_out = (uInt) e->n;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    e->n = z.total_out;
    deflateEnd(&z);
}

static int
setup(void **state)
{
    uint32_t x = 12345;
    size_t i;

    (void) state;
    /* Compressible but not trivial: words from a small xorshift. */
    for (i = 0; i < CONTENT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        content[i] = (unsigned char) ("abcdefgh <>/\n"[x % 13]);
    }
    SHA256(content, CONTENT_LEN, sha);
    variants[EDGE_ENC_IDENTITY].p = pier_malloc(CONTENT_LEN);
    memcpy(variants[EDGE_ENC_IDENTITY].p, content, CONTENT_LEN);
    variants[EDGE_ENC_IDENTITY].n = CONTENT_LEN;
    make_gzip(&variants[EDGE_ENC_GZIP]);
    variants[EDGE_ENC_BR].n = BrotliEncoderMaxCompressedSize(CONTENT_LEN);
    variants[EDGE_ENC_BR].p = pier_malloc(variants[EDGE_ENC_BR].n);
    if (!BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
                               CONTENT_LEN, content, &variants[EDGE_ENC_BR].n,
                               variants[EDGE_ENC_BR].p)) {
        return -1;
    }
    variants[EDGE_ENC_ZSTD].n = ZSTD_compressBound(CONTENT_LEN);
    variants[EDGE_ENC_ZSTD].p = pier_malloc(variants[EDGE_ENC_ZSTD].n);
    variants[EDGE_ENC_ZSTD].n =
        ZSTD_compress(variants[EDGE_ENC_ZSTD].p, variants[EDGE_ENC_ZSTD].n,
                      content, CONTENT_LEN, 3);
    return ZSTD_isError(variants[EDGE_ENC_ZSTD].n) ? -1 : 0;
}

static int
teardown(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < EDGE_ENC_MAX; i++) {
        pier_free(variants[i].p);
    }
    return 0;
}

static void
test_verify_every_coding_whole(void **state)
{
    struct pier_err err;
    unsigned e;

    (void) state;
    for (e = 0; e < EDGE_ENC_MAX; e++) {
        if (edge_verify_bytes(e, sha, variants[e].p, variants[e].n, CONTENT_LEN,
                              &err)
            != PIER_OK) {
            fail_msg("coding %u: %s", e, err.msg);
        }
    }
}

/* The same answer however the bytes are split. */
static void
test_verify_every_coding_byte_by_byte(void **state)
{
    struct pier_err err;
    struct edge_verify *v;
    unsigned e;
    size_t i, step;

    (void) state;
    for (e = 0; e < EDGE_ENC_MAX; e++) {
        for (step = 1; step <= 4099; step += 4098) {
            v = edge_verify_new(e, CONTENT_LEN);
            for (i = 0; i < variants[e].n; i += step) {
                size_t n = variants[e].n - i < step ? variants[e].n - i : step;

                assert_int_equal(
                    edge_verify_update(v, variants[e].p + i, n, &err), PIER_OK);
            }
            assert_int_equal(edge_verify_final(v, sha, &err), PIER_OK);
            edge_verify_free(v);
        }
    }
}

static void
test_verify_refuses_wrong_hash(void **state)
{
    struct pier_err err;
    uint8_t other[EDGE_SHA256_LEN];
    unsigned e;

    (void) state;
    memcpy(other, sha, sizeof(other));
    other[31] ^= 1;
    for (e = 0; e < EDGE_ENC_MAX; e++) {
        assert_int_equal(edge_verify_bytes(e, other, variants[e].p,
                                           variants[e].n, CONTENT_LEN, &err),
                         PIER_ERR);
        assert_non_null(strstr(err.msg, "SHA-256"));
    }
    /* A flipped content byte in identity. */
    variants[EDGE_ENC_IDENTITY].p[500] ^= 0x20;
    assert_int_equal(edge_verify_bytes(EDGE_ENC_IDENTITY, sha,
                                       variants[EDGE_ENC_IDENTITY].p,
                                       CONTENT_LEN, CONTENT_LEN, &err),
                     PIER_ERR);
    variants[EDGE_ENC_IDENTITY].p[500] ^= 0x20;
}

static void
test_verify_refuses_truncated(void **state)
{
    struct pier_err err;
    unsigned e;

    (void) state;
    for (e = EDGE_ENC_BR; e < EDGE_ENC_MAX; e++) {
        assert_int_equal(edge_verify_bytes(e, sha, variants[e].p,
                                           variants[e].n - 1, CONTENT_LEN,
                                           &err),
                         PIER_ERR);
    }
    /* Identity has no end marker: a short body is a hash mismatch. */
    assert_int_equal(edge_verify_bytes(EDGE_ENC_IDENTITY, sha, content,
                                       CONTENT_LEN - 1, CONTENT_LEN, &err),
                     PIER_ERR);
}

static void
test_verify_refuses_trailing_bytes(void **state)
{
    struct pier_err err;
    unsigned char *p;
    unsigned e;

    (void) state;
    for (e = EDGE_ENC_BR; e < EDGE_ENC_MAX; e++) {
        p = pier_malloc(variants[e].n + 1);
        memcpy(p, variants[e].p, variants[e].n);
        p[variants[e].n] = 'x';
        assert_int_equal(
            edge_verify_bytes(e, sha, p, variants[e].n + 1, CONTENT_LEN, &err),
            PIER_ERR);
        pier_free(p);
    }
}

static void
test_verify_refuses_garbage_and_bombs(void **state)
{
    struct pier_err err;
    struct edge_verify *v;
    unsigned e;

    (void) state;
    for (e = EDGE_ENC_BR; e < EDGE_ENC_MAX; e++) {
        /* Content one byte over the limit is refused while decoding. */
        assert_int_equal(edge_verify_bytes(e, sha, variants[e].p, variants[e].n,
                                           CONTENT_LEN - 1, &err),
                         PIER_ERR);
        assert_non_null(strstr(err.msg, "longer"));
        /* Identity bytes are not a compressed stream. */
        assert_int_equal(
            edge_verify_bytes(e, sha, content, 1000, CONTENT_LEN, &err),
            PIER_ERR);
    }
    /* After a failure every call fails. */
    v = edge_verify_new(EDGE_ENC_GZIP, CONTENT_LEN);
    assert_int_equal(edge_verify_update(v, "garbage!", 8, &err), PIER_ERR);
    assert_int_equal(edge_verify_update(v, variants[EDGE_ENC_GZIP].p, 10, &err),
                     PIER_ERR);
    assert_int_equal(edge_verify_final(v, sha, &err), PIER_ERR);
    edge_verify_free(v);
    edge_verify_free(NULL);
}

/* An empty file: its identity variant is zero bytes. */
static void
test_verify_empty_identity(void **state)
{
    struct pier_err err;
    uint8_t empty[EDGE_SHA256_LEN];

    (void) state;
    SHA256((const unsigned char *) "", 0, empty);
    assert_int_equal(
        edge_verify_bytes(EDGE_ENC_IDENTITY, empty, "", 0, 0, &err), PIER_OK);
    assert_int_equal(
        edge_verify_bytes(EDGE_ENC_IDENTITY, empty, "x", 1, 10, &err),
        PIER_ERR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_every_coding_whole),
        cmocka_unit_test(test_verify_every_coding_byte_by_byte),
        cmocka_unit_test(test_verify_refuses_wrong_hash),
        cmocka_unit_test(test_verify_refuses_truncated),
        cmocka_unit_test(test_verify_refuses_trailing_bytes),
        cmocka_unit_test(test_verify_refuses_garbage_and_bombs),
        cmocka_unit_test(test_verify_empty_identity),
    };

    return cmocka_run_group_tests_name("edge/verify", tests, setup, teardown);
}
