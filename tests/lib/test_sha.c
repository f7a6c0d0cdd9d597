/*
 * tests/lib/test_sha.c - lib/sha.c: digests and MACs against published
 * vectors (FIPS 180, RFC 1321, RFC 4231, RFC 2202), CRC-32 and CRC-32C
 * check values, hex and base64 (RFC 4648 section 10), and streaming
 * contexts against the one-shot functions.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "lib/sha.h"

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
    pier_hex(p, n, out);
}

static void
test_sha_digests(void **state)
{
    unsigned char md[32];
    char hex[65];

    (void) state;
    pier_sha256_hex("abc", 3, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pier_sha256_hex("", 0, hex);
    assert_string_equal(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pier_sha1("abc", 3, md);
    hex_of(md, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    pier_md5("abc", 3, md);
    hex_of(md, 16, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
}

static void
test_sha_hmac(void **state)
{
    unsigned char key[20], mac[32];
    char hex[65];

    (void) state;
    /* RFC 4231 test case 1. */
    memset(key, 0x0b, sizeof(key));
    pier_hmac_sha256(key, 20, "Hi There", 8, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(
        hex,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231 test case 2. */
    pier_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 2202 test case 2 (HMAC-SHA1). */
    pier_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_of(mac, 20, hex);
    assert_string_equal(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    /* RFC 4231 test case 6: a key longer than the block is hashed first. */
    {
        unsigned char big[131];

        memset(big, 0xaa, sizeof(big));
        pier_hmac_sha256(big, sizeof(big),
                         "Test Using Larger Than Block-Size Key - Hash Key First",
                         54, mac);
        hex_of(mac, 32, hex);
        assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f"
                                 "8e0bc6213728c5140546040f0ee37f54");
    }
    /* Empty key and message are fine. */
    pier_hmac_sha256("", 0, "", 0, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(
        hex,
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void
test_sha_streaming_matches_oneshot(void **state)
{
    struct pier_hash h;
    unsigned char a[32], b[32];
    char *data = malloc(100000);
    size_t i, off;

    (void) state;
    for (i = 0; i < 100000; i++) {
        data[i] = (char) (i * 7 + 3);
    }
    pier_hash_init(&h, PIER_HASH_SHA256);
    for (off = 0; off < 100000; off += 977) {
        pier_hash_update(&h, data + off,
                         off + 977 > 100000 ? 100000 - off : 977);
    }
    pier_hash_final(&h, a);
    pier_sha256(data, 100000, b);
    assert_memory_equal(a, b, 32);
    /* final() leaves the context ready for the next message. */
    pier_hash_update(&h, "abc", 3);
    pier_hash_final(&h, a);
    pier_sha256("abc", 3, b);
    assert_memory_equal(a, b, 32);
    /* reset() drops what was fed. */
    pier_hash_update(&h, "junk", 4);
    pier_hash_reset(&h);
    pier_hash_final(&h, a);
    pier_sha256("", 0, b);
    assert_memory_equal(a, b, 32);
    pier_hash_release(&h);
    pier_hash_release(&h); /* twice is fine */

    pier_hash_init(&h, PIER_HASH_MD5);
    pier_hash_update(&h, "a", 1);
    pier_hash_update(&h, "bc", 2);
    pier_hash_final(&h, a);
    pier_md5("abc", 3, b);
    assert_memory_equal(a, b, 16);
    pier_hash_release(&h);
    assert_int_equal(pier_hash_len(PIER_HASH_SHA1), 20);
    free(data);
}

static void
test_sha_crc(void **state)
{
    (void) state;
    /* The CRC catalogue's check values, over "123456789". */
    assert_int_equal(pier_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(pier_crc32c(0, "123456789", 9), 0xE3069283u);
    /* Running checksums continue across calls. */
    assert_int_equal(pier_crc32(pier_crc32(0, "1234", 4), "56789", 5),
                     0xCBF43926u);
    assert_int_equal(pier_crc32c(pier_crc32c(0, "12345", 5), "6789", 4),
                     0xE3069283u);
    assert_int_equal(pier_crc32(0, "", 0), 0);
    assert_int_equal(pier_crc32c(0, "", 0), 0);
}

static void
test_sha_hex(void **state)
{
    unsigned char b[4];
    char out[9];

    (void) state;
    pier_hex("\x00\x7f\xa5\xff", 4, out);
    assert_string_equal(out, "007fa5ff");
    assert_int_equal(pier_unhex("007FA5ff", b, 4), PIER_OK);
    assert_memory_equal(b, "\x00\x7f\xa5\xff", 4);
    assert_int_equal(pier_unhex("007g", b, 2), PIER_ERR);
}

static void
test_sha_base64(void **state)
{
    static const char *vectors[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    static const char *bad[] = {
        "Zg=",  "Zg",   "Z===",     "====",     "Zh==",
        "Zm9=", "Zm 9", "Zm9v=Zg=", "Zg==Zm9v", "Zm8*",
    };
    char out[16];
    unsigned char dec[16];
    size_t i, n;
    struct pier_err err;

    (void) state;
    for (i = 0; i < PIER_NELEMS(vectors); i++) {
        size_t len = strlen(vectors[i][0]);

        assert_int_equal(pier_base64_encode(vectors[i][0], len, out),
                         strlen(vectors[i][1]));
        assert_string_equal(out, vectors[i][1]);
        assert_int_equal(pier_base64_decode(vectors[i][1],
                                            strlen(vectors[i][1]), dec,
                                            sizeof(dec), &n, &err),
                         PIER_OK);
        assert_int_equal(n, len);
        assert_memory_equal(dec, vectors[i][0], len);
    }
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        assert_int_equal(pier_base64_decode(bad[i], strlen(bad[i]), dec,
                                            sizeof(dec), &n, &err),
                         PIER_ERR);
    }
    /* The output limit holds. */
    assert_int_equal(pier_base64_decode("Zm9vYmFy", 8, dec, 5, &n, &err),
                     PIER_ERR);
    assert_int_equal(pier_base64_decode("Zm9vYmE=", 8, dec, 5, &n, &err),
                     PIER_OK);
    assert_int_equal(n, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha_digests),
        cmocka_unit_test(test_sha_hmac),
        cmocka_unit_test(test_sha_streaming_matches_oneshot),
        cmocka_unit_test(test_sha_crc),
        cmocka_unit_test(test_sha_hex),
        cmocka_unit_test(test_sha_base64),
    };

    return cmocka_run_group_tests_name("lib/sha", tests, NULL, NULL);
}
