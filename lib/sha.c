/*
 * lib/sha.c - digests, MACs and encodings on OpenSSL EVP and zlib.
 *
 * Everything here either cannot fail on valid arguments or reports bad
 * input (hex, base64) through its result. OpenSSL calls that fail on valid
 * arguments mean the library is broken or memory is gone: assert.
 */
#include "config.h"

#include "lib/sha.h"

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <string.h>
#include <zlib.h>

/* OpenSSL 3 looks an algorithm up in its providers each time a legacy
 * EVP_sha256() is used; a digest fetched once, and a context kept per
 * thread for one-shot digests and MACs, skip that on every request (a
 * signed GET computes several). */
static EVP_MD *fetched[3];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static pthread_key_t stream_key; /* the struct pier_hash of each thread */

static void
ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void
stream_free(void *h)
{
    pier_hash_release(h);
    pier_free(h);
}

static void
fetch_all(void)
{
    fetched[PIER_HASH_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    fetched[PIER_HASH_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
    fetched[PIER_HASH_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
    PIER_ASSERT(pthread_key_create(&ctx_key, ctx_free) == 0);
    PIER_ASSERT(pthread_key_create(&stream_key, stream_free) == 0);
}

/* Released at exit, so that leak checkers see nothing held. */
__attribute__((destructor)) static void
fetch_release(void)
{
    size_t i;

    for (i = 0; i < PIER_NELEMS(fetched); i++) {
        EVP_MD_free(fetched[i]);
        fetched[i] = NULL;
    }
}

static const EVP_MD *
md_of(enum pier_hash_kind kind)
{
    PIER_ASSERT(pthread_once(&fetch_once, fetch_all) == 0);
    switch (kind) {
    case PIER_HASH_SHA256:
        return fetched[kind] != NULL ? fetched[kind] : EVP_sha256();
    case PIER_HASH_SHA1:
        return fetched[kind] != NULL ? fetched[kind] : EVP_sha1();
    case PIER_HASH_MD5:
        return fetched[kind] != NULL ? fetched[kind] : EVP_md5();
    }
    PIER_ASSERT(!"unknown hash kind");
    return NULL;
}

/* This thread's context for one-shot digests (freed when it exits). */
static EVP_MD_CTX *
thread_ctx(void)
{
    EVP_MD_CTX *ctx;

    PIER_ASSERT(pthread_once(&fetch_once, fetch_all) == 0);
    ctx = pthread_getspecific(ctx_key);
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        PIER_ASSERT(ctx != NULL);
        PIER_ASSERT(pthread_setspecific(ctx_key, ctx) == 0);
    }
    return ctx;
}

size_t
pier_hash_len(enum pier_hash_kind kind)
{
    switch (kind) {
    case PIER_HASH_SHA256:
        return PIER_SHA256_LEN;
    case PIER_HASH_SHA1:
        return PIER_SHA1_LEN;
    case PIER_HASH_MD5:
        return PIER_MD5_LEN;
    }
    PIER_ASSERT(!"unknown hash kind");
    return 0;
}

void
pier_hash_init(struct pier_hash *h, enum pier_hash_kind kind)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    PIER_ASSERT(ctx != NULL);
    PIER_ASSERT(EVP_DigestInit_ex(ctx, md_of(kind), NULL) == 1);
    h->magic = PIER_HASH_MAGIC;
    h->kind = kind;
    h->ctx = ctx;
}

void
pier_hash_release(struct pier_hash *h)
{
    if (h->magic == 0) {
        return;
    }
    PIER_CHECK_OBJ(h, PIER_HASH_MAGIC);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    h->magic = 0;
}

struct pier_hash *
pier_hash_thread_sha256(void)
{
    struct pier_hash *h;

    PIER_ASSERT(pthread_once(&fetch_once, fetch_all) == 0);
    h = pthread_getspecific(stream_key);
    if (h == NULL) {
        h = pier_calloc(1, sizeof(*h));
        pier_hash_init(h, PIER_HASH_SHA256);
        PIER_ASSERT(pthread_setspecific(stream_key, h) == 0);
    }
    return h;
}

void
pier_hash_update(struct pier_hash *h, const void *p, size_t n)
{
    PIER_CHECK_OBJ(h, PIER_HASH_MAGIC);
    if (n > 0) {
        PIER_ASSERT(EVP_DigestUpdate(h->ctx, p, n) == 1);
    }
}

void
pier_hash_final(struct pier_hash *h, unsigned char *out)
{
    unsigned int len = 0;

    PIER_CHECK_OBJ(h, PIER_HASH_MAGIC);
    PIER_ASSERT(EVP_DigestFinal_ex(h->ctx, out, &len) == 1);
    PIER_ASSERT(len == pier_hash_len(h->kind));
    /* Ready for the next message without a new context. */
    PIER_ASSERT(EVP_DigestInit_ex(h->ctx, NULL, NULL) == 1);
}

void
pier_hash_reset(struct pier_hash *h)
{
    PIER_CHECK_OBJ(h, PIER_HASH_MAGIC);
    PIER_ASSERT(EVP_DigestInit_ex(h->ctx, NULL, NULL) == 1);
}

static void
digest(enum pier_hash_kind kind, const void *p, size_t n, unsigned char *out)
{
    EVP_MD_CTX *ctx = thread_ctx();
    unsigned int len = 0;

    PIER_ASSERT(EVP_DigestInit_ex(ctx, md_of(kind), NULL) == 1);
    PIER_ASSERT(EVP_DigestUpdate(ctx, p, n) == 1);
    PIER_ASSERT(EVP_DigestFinal_ex(ctx, out, &len) == 1);
    PIER_ASSERT(len == pier_hash_len(kind));
}

void
pier_sha256(const void *p, size_t n, unsigned char out[PIER_SHA256_LEN])
{
    digest(PIER_HASH_SHA256, p, n, out);
}

void
pier_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[PIER_SHA256_LEN];

    pier_sha256(p, n, md);
    pier_hex(md, sizeof(md), out);
}

void
pier_sha1(const void *p, size_t n, unsigned char out[PIER_SHA1_LEN])
{
    digest(PIER_HASH_SHA1, p, n, out);
}

void
pier_md5(const void *p, size_t n, unsigned char out[PIER_MD5_LEN])
{
    digest(PIER_HASH_MD5, p, n, out);
}

/* HMAC (RFC 2104) over this thread's digest context: H((K ^ opad) ||
 * H((K ^ ipad) || m)), K padded to the block size (hashed first when
 * longer). Both digests here have 64-byte blocks. */
#define HMAC_BLOCK 64

static void
hmac(enum pier_hash_kind kind, const void *key, size_t keylen, const void *p,
     size_t n, unsigned char *out)
{
    EVP_MD_CTX *ctx = thread_ctx();
    const EVP_MD *md = md_of(kind);
    size_t mdlen = pier_hash_len(kind), i;
    unsigned char k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK], inner[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    PIER_ASSERT((size_t) EVP_MD_get_block_size(md) == HMAC_BLOCK);
    if (keylen > HMAC_BLOCK) {
        digest(kind, key, keylen, k);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (i = 0; i < HMAC_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }
    PIER_ASSERT(EVP_DigestInit_ex(ctx, md, NULL) == 1);
    PIER_ASSERT(EVP_DigestUpdate(ctx, pad, HMAC_BLOCK) == 1);
    PIER_ASSERT(EVP_DigestUpdate(ctx, p, n) == 1);
    PIER_ASSERT(EVP_DigestFinal_ex(ctx, inner, &len) == 1);
    PIER_ASSERT(len == mdlen);
    for (i = 0; i < HMAC_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }
    PIER_ASSERT(EVP_DigestInit_ex(ctx, md, NULL) == 1);
    PIER_ASSERT(EVP_DigestUpdate(ctx, pad, HMAC_BLOCK) == 1);
    PIER_ASSERT(EVP_DigestUpdate(ctx, inner, mdlen) == 1);
    PIER_ASSERT(EVP_DigestFinal_ex(ctx, out, &len) == 1);
    PIER_ASSERT(len == mdlen);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}

void
pier_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                 unsigned char out[PIER_SHA256_LEN])
{
    hmac(PIER_HASH_SHA256, key, keylen, p, n, out);
}

void
pier_hmac_sha1(const void *key, size_t keylen, const void *p, size_t n,
               unsigned char out[PIER_SHA1_LEN])
{
    hmac(PIER_HASH_SHA1, key, keylen, p, n, out);
}

uint32_t
pier_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;

    /* zlib takes uInt lengths: feed huge buffers in slices. */
    while (n > 0) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt) n;

        crc = (uint32_t) crc32(crc, s, k);
        s += k;
        n -= k;
    }
    return crc;
}

/* CRC-32C, reflected polynomial 0x82F63B78 (RFC 3720, appendix B.4),
 * one table lookup per byte. OpenSSL and zlib have no CRC-32C. */
static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_make_table(void)
{
    uint32_t i, j, c;

    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc32c_table[i] = c;
    }
}

uint32_t
pier_crc32c(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    PIER_ASSERT(pthread_once(&crc32c_once, crc32c_make_table) == 0);
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc = crc32c_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

void
pier_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 0xf];
    }
    out[2 * n] = '\0';
}

int
pier_unhex(const char *s, unsigned char *out, size_t outlen)
{
    size_t i;

    for (i = 0; i < outlen; i++) {
        int hi = pier_hexval((unsigned char) (unsigned char) s[2 * i]);
        int lo = pier_hexval((unsigned char) (unsigned char) s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return PIER_ERR;
        }
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return PIER_OK;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
pier_base64_encode(const void *p, size_t n, char *out)
{
    const unsigned char *s = p;
    size_t i, o = 0;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];

        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t) s[i] << 16;

        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8;

        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

int
pier_base64_decode(const char *s, size_t n, unsigned char *out, size_t outmax,
                   size_t *outlen, struct pier_err *err)
{
    size_t i, o = 0, pad = 0;

    if (n % 4 != 0) {
        return pier_err_set(err, "base64 length %zu is not a multiple of 4", n);
    }
    if (n >= 1 && s[n - 1] == '=') {
        pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
    }
    if ((n / 4) * 3 - pad > outmax) {
        return pier_err_set(err, "base64 value too long");
    }
    for (i = 0; i < n; i += 4) {
        int v[4], k;
        uint32_t w;
        bool last = i + 4 == n;

        for (k = 0; k < 4; k++) {
            unsigned char c = (unsigned char) s[i + k];

            v[k] = b64val(c);
            if (v[k] < 0 && !(last && c == '=' && k >= 4 - (int) pad)) {
                return pier_err_set(err, "bad base64 character 0x%02x", c);
            }
        }
        w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12;
        out[o++] = (unsigned char) (w >> 16);
        if (last && pad == 2) {
            if ((v[1] & 15) != 0) {
                return pier_err_set(err, "base64 value has trailing bits");
            }
            break;
        }
        w |= (uint32_t) v[2] << 6;
        out[o++] = (unsigned char) (w >> 8);
        if (last && pad == 1) {
            if ((v[2] & 3) != 0) {
                return pier_err_set(err, "base64 value has trailing bits");
            }
            break;
        }
        w |= (uint32_t) v[3];
        out[o++] = (unsigned char) w;
    }
    *outlen = o;
    return PIER_OK;
}
