/*
 * tests/publish/test_compress.c - publish/compress.c: round trips through
 * each encoding, which variants are kept, the MIME table, SHA-256.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/compress.h"

/* A page-like text: repetitive, so every encoding shrinks it. */
static void
make_text(struct pier_buf *b, size_t n)
{
    size_t i = 0;

    while (b->len < n) {
        assert_int_equal(pier_buf_addf(b,
                                       "<p class=\"item\">Item %zu of the "
                                       "list, with some words.</p>\n",
                                       i++),
                         PIER_OK);
    }
    pier_buf_truncate(b, n);
}

/* Bytes no encoding can shrink (xorshift64, seeded). */
static void
make_noise(struct pier_buf *b, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    size_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        assert_int_equal(pier_buf_addch(b, (char) (x >> 24)), PIER_OK);
    }
}

static void
test_compress_round_trips(void **state)
{
    struct publish_levels lv[2];
    struct pier_buf in, z, back;
    struct pier_err err;
    size_t sizes[] = {0, 1, 300, 200000};
    size_t s;
    int e, l;

    (void) state;
    publish_levels_default(&lv[0]);
    publish_levels_best(&lv[1]);
    for (s = 0; s < PIER_NELEMS(sizes); s++) {
        pier_buf_init(&in, SIZE_MAX);
        make_text(&in, sizes[s]);
        for (e = 0; e < PUBLISH_ENC_N; e++) {
            for (l = 0; l < 2; l++) {
                pier_buf_init(&z, SIZE_MAX);
                pier_buf_init(&back, SIZE_MAX);
                assert_int_equal(publish_compress((enum publish_enc) e,
                                                  lv[l].level[e], in.data,
                                                  in.len, &z, &err),
                                 PIER_OK);
                if (sizes[s] == 200000) {
                    assert_true(z.len < in.len / 10);
                }
                assert_int_equal(publish_decompress((enum publish_enc) e,
                                                    z.data, z.len, &back, &err),
                                 PIER_OK);
                assert_int_equal(back.len, in.len);
                assert_memory_equal(back.data, in.data, in.len);
                pier_buf_release(&z);
                pier_buf_release(&back);
            }
        }
        pier_buf_release(&in);
    }
}

static void
test_compress_rejects_corrupt_and_truncated(void **state)
{
    struct pier_buf in, z, back;
    struct pier_err err;
    int e;

    (void) state;
    pier_buf_init(&in, SIZE_MAX);
    make_text(&in, 10000);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        pier_buf_init(&z, SIZE_MAX);
        assert_int_equal(publish_compress((enum publish_enc) e, 6, in.data,
                                          in.len, &z, &err),
                         PIER_OK);
        /* Cut in half. */
        pier_buf_init(&back, SIZE_MAX);
        assert_int_equal(publish_decompress((enum publish_enc) e, z.data,
                                            z.len / 2, &back, &err),
                         PIER_ERR);
        pier_buf_release(&back);
        /* Garbage. */
        pier_buf_init(&back, SIZE_MAX);
        assert_int_equal(publish_decompress((enum publish_enc) e,
                                            "not compressed at all", 21, &back,
                                            &err),
                         PIER_ERR);
        pier_buf_release(&back);
        /* A bomb: the output's maximum holds. */
        pier_buf_init(&back, 1000);
        assert_int_equal(publish_decompress((enum publish_enc) e, z.data, z.len,
                                            &back, &err),
                         PIER_ERR);
        assert_true(back.len <= 1000);
        pier_buf_release(&back);
        pier_buf_release(&z);
    }
    pier_buf_release(&in);
}

static void
test_compress_variants_kept_when_smaller(void **state)
{
    struct publish_levels lv;
    struct pier_buf in, out[PUBLISH_ENC_N];
    struct pier_err err;
    bool keep[PUBLISH_ENC_N];
    int e;

    (void) state;
    publish_levels_default(&lv);
    /* Text: all three kept. */
    pier_buf_init(&in, SIZE_MAX);
    make_text(&in, 5000);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        pier_buf_init(&out[e], SIZE_MAX);
    }
    assert_int_equal(publish_compress_variants("text/html; charset=utf-8",
                                               in.data, in.len, &lv, out, keep,
                                               &err),
                     PIER_OK);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        assert_true(keep[e]);
        assert_true(out[e].len < in.len);
        pier_buf_reset(&out[e]);
    }
    /* Under 256 bytes: none made. */
    assert_int_equal(publish_compress_variants("text/css", in.data, 255, &lv,
                                               out, keep, &err),
                     PIER_OK);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        assert_false(keep[e]);
        assert_int_equal(out[e].len, 0);
    }
    /* Already compressed types: none made. */
    assert_int_equal(publish_compress_variants("image/png", in.data, in.len,
                                               &lv, out, keep, &err),
                     PIER_OK);
    assert_int_equal(publish_compress_variants("font/woff2", in.data, in.len,
                                               &lv, out, keep, &err),
                     PIER_OK);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        assert_false(keep[e]);
        assert_int_equal(out[e].len, 0);
    }
    /* Noise in a text type: made, and none smaller, so none kept. */
    pier_buf_reset(&in);
    make_noise(&in, 4096);
    assert_int_equal(publish_compress_variants("text/plain", in.data, in.len,
                                               &lv, out, keep, &err),
                     PIER_OK);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        assert_false(keep[e]);
        pier_buf_release(&out[e]);
    }
    pier_buf_release(&in);
}

static void
test_compress_mime_table(void **state)
{
    (void) state;
    assert_string_equal(publish_mime_type("index.html"),
                        "text/html; charset=utf-8");
    assert_string_equal(publish_mime_type("a/b/APP.MJS"),
                        "text/javascript; charset=utf-8");
    assert_string_equal(publish_mime_type("m.wasm"), "application/wasm");
    assert_string_equal(publish_mime_type("site.webmanifest"),
                        "application/manifest+json");
    assert_string_equal(publish_mime_type("x.avif"), "image/avif");
    assert_string_equal(publish_mime_type("x.webp"), "image/webp");
    assert_string_equal(publish_mime_type("f.woff2"), "font/woff2");
    assert_string_equal(publish_mime_type("d.json"), "application/json");
    assert_string_equal(publish_mime_type("feed.xml"), "application/xml");
    assert_string_equal(publish_mime_type("robots.txt"),
                        "text/plain; charset=utf-8");
    assert_string_equal(publish_mime_type("i.svg"), "image/svg+xml");
    assert_string_equal(publish_mime_type("LICENSE"),
                        "application/octet-stream");
    assert_string_equal(publish_mime_type(".htaccess"),
                        "application/octet-stream");
    assert_string_equal(publish_mime_type("dir.d/file"),
                        "application/octet-stream");
    assert_string_equal(publish_mime_type("x.unknownlongextension"),
                        "application/octet-stream");
    assert_true(publish_mime_compressible("text/css; charset=utf-8"));
    assert_true(publish_mime_compressible("application/wasm"));
    assert_true(publish_mime_compressible("image/svg+xml"));
    assert_true(publish_mime_compressible("font/ttf"));
    assert_true(publish_mime_compressible("image/x-icon"));
    assert_false(publish_mime_compressible("image/png"));
    assert_false(publish_mime_compressible("font/woff2"));
    assert_false(publish_mime_compressible("application/json-seq"));
    assert_false(publish_mime_compressible("application/octet-stream"));
}

static void
test_compress_sha256(void **state)
{
    char hex[PUBLISH_SHA256_HEX];

    (void) state;
    publish_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    publish_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_round_trips),
        cmocka_unit_test(test_compress_rejects_corrupt_and_truncated),
        cmocka_unit_test(test_compress_variants_kept_when_smaller),
        cmocka_unit_test(test_compress_mime_table),
        cmocka_unit_test(test_compress_sha256),
    };

    return cmocka_run_group_tests_name("publish/compress", tests, NULL, NULL);
}
