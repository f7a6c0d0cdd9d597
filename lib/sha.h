/*
 * lib/sha.h - digests, MACs and encodings for request signing and bodies:
 * SHA-256, SHA-1, MD5, HMAC-SHA256, HMAC-SHA1 (OpenSSL EVP), CRC32 (zlib),
 * CRC32C (table), lowercase hex and base64.
 *
 * One-shot functions hash a buffer in memory. Bodies stream, so each digest
 * also has a context: pier_hash_init() creates OpenSSL's context (it
 * allocates, once), _update() and _final() never allocate, and _final()
 * leaves the context ready for the next message, so one context can hash
 * every chunk of an aws-chunked body. OpenSSL failures inside these calls
 * (out of memory, a provider without SHA-256) are broken invariants: they
 * panic rather than return an error no caller could handle.
 */
#ifndef PIER_SHA_H
#define PIER_SHA_H

#include "lib/core.h"
#include "lib/err.h"

#define PIER_SHA256_LEN    32
#define PIER_SHA256_HEXLEN 64
#define PIER_SHA1_LEN      20
#define PIER_MD5_LEN       16
#define PIER_HASH_MAX_LEN  32

/* Encoded sizes, without the terminating NUL. */
#define PIER_HEX_LEN(n)    ((n) *2)
#define PIER_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

enum pier_hash_kind {
    PIER_HASH_SHA256 = 0,
    PIER_HASH_SHA1,
    PIER_HASH_MD5,
};

/* A streaming digest. Embed it, pier_hash_init() it, pier_hash_release()
 * it. Not thread-safe: one thread at a time. */
struct pier_hash {
    unsigned magic;
#define PIER_HASH_MAGIC 0x5a3c91e7u
    enum pier_hash_kind kind;
    void *ctx; /* EVP_MD_CTX */
};

/* Allocates OpenSSL's context; release with pier_hash_release(). */
void pier_hash_init(struct pier_hash *h, enum pier_hash_kind kind);
/* Frees the context; h may then be init'ed again. Accepts a zeroed h. */
void pier_hash_release(struct pier_hash *h);
void pier_hash_update(struct pier_hash *h, const void *p, size_t n);
/* Write the digest (pier_hash_len() bytes) to out and start over. */
void pier_hash_final(struct pier_hash *h, unsigned char *out);
/* Start over, dropping what was fed. */
void pier_hash_reset(struct pier_hash *h);
size_t pier_hash_len(enum pier_hash_kind kind);

/* This thread's SHA-256 pier_hash, for a message hashed piece by piece on
 * a request path (SigV4 hashes the canonical request as it builds it):
 * no allocation after the thread's first call, and no release (the
 * thread's exit frees it). Borrowed; one user at a time per thread. It is
 * ready for a new message, and each user leaves it so: it ends its message
 * with pier_hash_final(), or drops it with pier_hash_reset(), before
 * anything that might call this again. The one-shot digests and MACs below
 * use another context, so they may run in between. */
struct pier_hash *pier_hash_thread_sha256(void);

/* One-shot digests of n bytes at p. */
void pier_sha256(const void *p, size_t n, unsigned char out[PIER_SHA256_LEN]);
/* Lowercase hex of the SHA-256, NUL-terminated. */
void pier_sha256_hex(const void *p, size_t n, char out[65]);
void pier_sha1(const void *p, size_t n, unsigned char out[PIER_SHA1_LEN]);
void pier_md5(const void *p, size_t n, unsigned char out[PIER_MD5_LEN]);

/* HMAC of n bytes at p under keylen bytes of key. */
void pier_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                      unsigned char out[PIER_SHA256_LEN]);
void pier_hmac_sha1(const void *key, size_t keylen, const void *p, size_t n,
                    unsigned char out[PIER_SHA1_LEN]);

/* CRC-32 (ISO-HDLC, zlib's and x-amz-checksum-crc32's) and CRC-32C
 * (Castagnoli, x-amz-checksum-crc32c). Start with crc 0 and feed the
 * previous result back to continue a running checksum. */
uint32_t pier_crc32(uint32_t crc, const void *p, size_t n);
uint32_t pier_crc32c(uint32_t crc, const void *p, size_t n);

/* Lowercase hex of n bytes into out, which holds 2n + 1 (NUL added). */
void pier_hex(const void *p, size_t n, char *out);
/* Decode 2 * outlen hex digits (either case) from s into out; PIER_ERR
 * (nothing else set) on a non-hex digit. */
int pier_unhex(const char *s, unsigned char *out, size_t outlen);

/* Base64 (RFC 4648, with padding) of n bytes into out, which holds
 * PIER_BASE64_LEN(n) + 1 (NUL added). Returns the length written. */
size_t pier_base64_encode(const void *p, size_t n, char *out);
/* Decode n characters of padded base64 from s into out, which holds
 * outmax bytes; *outlen gets the decoded length. PIER_ERR, with err set,
 * on a bad character, bad padding, non-zero trailing bits or an output
 * that would pass outmax. */
int pier_base64_decode(const char *s, size_t n, unsigned char *out,
                       size_t outmax, size_t *outlen, struct pier_err *err);

#endif
