/*
 * edge/verify.c - streaming SHA-256 of a blob's content, through its
 * decoder: zlib for gzip, brotli, zstd, or none for identity.
 *
 * Each decoder writes into a fixed scratch buffer that is hashed and
 * reused, so memory stays constant whatever the blob's size.
 */
#include "config.h"

#include "edge/verify.h"

#include <brotli/decode.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#define VERIFY_MAGIC 0x5c1e0a7dU
#define SCRATCH_LEN  16384

struct edge_verify {
    unsigned magic;
    enum edge_enc enc;
    bool failed;
    bool ended; /* the compressed stream said it is complete */
    uint64_t decoded;
    uint64_t decoded_max;
    EVP_MD_CTX *md;
    z_stream z;
    bool z_init;
    BrotliDecoderState *br;
    ZSTD_DStream *zs;
    size_t zs_last; /* ZSTD_decompressStream's last result: 0 at a frame end */
    unsigned char scratch[SCRATCH_LEN];
};

struct edge_verify *
edge_verify_new(enum edge_enc enc, uint64_t decoded_max)
{
    struct edge_verify *v = pier_calloc(1, sizeof(*v));

    PIER_ASSERT(enc < EDGE_ENC_MAX);
    v->magic = VERIFY_MAGIC;
    v->enc = enc;
    v->decoded_max = decoded_max;
    v->md = EVP_MD_CTX_new();
    PIER_ASSERT(v->md != NULL);
    PIER_ASSERT(EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) == 1);
    switch (enc) {
    case EDGE_ENC_IDENTITY:
        v->ended = true; /* identity has no end marker */
        break;
    case EDGE_ENC_GZIP:
        /* 16 + MAX_WBITS: a gzip wrapper, not zlib's. */
        PIER_ASSERT(inflateInit2(&v->z, 16 + MAX_WBITS) == Z_OK);
        v->z_init = true;
        break;
    case EDGE_ENC_BR:
        v->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        PIER_ASSERT(v->br != NULL);
        break;
    case EDGE_ENC_ZSTD:
        v->zs = ZSTD_createDStream();
        PIER_ASSERT(v->zs != NULL);
        PIER_ASSERT(!ZSTD_isError(ZSTD_initDStream(v->zs)));
        v->zs_last = 1; /* no frame yet: not complete */
        break;
    default:
        PIER_ASSERT(!"bad encoding");
    }
    return v;
}

void
edge_verify_free(struct edge_verify *v)
{
    if (v == NULL) {
        return;
    }
    PIER_CHECK_OBJ(v, VERIFY_MAGIC);
    EVP_MD_CTX_free(v->md);
    if (v->z_init) {
        inflateEnd(&v->z);
    }
    BrotliDecoderDestroyInstance(v->br);
    ZSTD_freeDStream(v->zs);
    v->magic = 0;
    pier_free(v);
}

/* Hash n decoded bytes from the scratch buffer (or p for identity). */
static int
hash(struct edge_verify *v, const void *p, size_t n, struct pier_err *err)
{
    if (n > v->decoded_max - v->decoded) {
        v->failed = true;
        return pier_err_set(err, "content longer than %llu bytes",
                            (unsigned long long) v->decoded_max);
    }
    v->decoded += n;
    PIER_ASSERT(EVP_DigestUpdate(v->md, p, n) == 1);
    return PIER_OK;
}

static int
update_gzip(struct edge_verify *v, const unsigned char *p, size_t n,
            struct pier_err *err)
{
    int zr;

    /* zlib counts in uInt: feed at most 1 GiB per round. */
    while (n > 0) {
        size_t chunk = n < (1U << 30) ? n : (1U << 30);

        v->z.next_in = (unsigned char *) p;
        v->z.avail_in = (uInt) chunk;
        do {
            if (v->ended) {
                v->failed = true;
                return pier_err_set(err, "bytes after the gzip stream");
            }
            v->z.next_out = v->scratch;
            v->z.avail_out = SCRATCH_LEN;
            zr = inflate(&v->z, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                v->failed = true;
                return pier_err_set(err, "bad gzip stream: %s",
                                    v->z.msg != NULL ? v->z.msg : "error");
            }
            if (hash(v, v->scratch, SCRATCH_LEN - v->z.avail_out, err)
                != PIER_OK) {
                return PIER_ERR;
            }
            if (zr == Z_STREAM_END) {
                v->ended = true;
            }
        } while (v->z.avail_in > 0 || v->z.avail_out == 0);
        p += chunk;
        n -= chunk;
    }
    return PIER_OK;
}

static int
update_br(struct edge_verify *v, const unsigned char *p, size_t n,
          struct pier_err *err)
{
    BrotliDecoderResult r;
    size_t avail_in = n, avail_out;
    const uint8_t *in = p;
    uint8_t *out;

    do {
        if (v->ended) {
            v->failed = true;
            return pier_err_set(err, "bytes after the brotli stream");
        }
        out = v->scratch;
        avail_out = SCRATCH_LEN;
        r = BrotliDecoderDecompressStream(v->br, &avail_in, &in, &avail_out,
                                          &out, NULL);
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            v->failed = true;
            return pier_err_set(
                err, "bad brotli stream: %s",
                BrotliDecoderErrorString(BrotliDecoderGetErrorCode(v->br)));
        }
        if (hash(v, v->scratch, SCRATCH_LEN - avail_out, err) != PIER_OK) {
            return PIER_ERR;
        }
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            v->ended = true;
        }
    } while (avail_in > 0 || r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
    return PIER_OK;
}

static int
update_zstd(struct edge_verify *v, const unsigned char *p, size_t n,
            struct pier_err *err)
{
    ZSTD_inBuffer in = {p, n, 0};
    ZSTD_outBuffer out;

    /* Concatenated frames are one valid zstd stream; a frame is complete
     * when decompressStream returns 0 with all its output flushed. */
    do {
        out.dst = v->scratch;
        out.size = SCRATCH_LEN;
        out.pos = 0;
        v->zs_last = ZSTD_decompressStream(v->zs, &out, &in);
        if (ZSTD_isError(v->zs_last)) {
            v->failed = true;
            return pier_err_set(err, "bad zstd stream: %s",
                                ZSTD_getErrorName(v->zs_last));
        }
        if (hash(v, v->scratch, out.pos, err) != PIER_OK) {
            return PIER_ERR;
        }
    } while (in.pos < in.size || out.pos == out.size);
    v->ended = v->zs_last == 0;
    return PIER_OK;
}

int
edge_verify_update(struct edge_verify *v, const void *p, size_t n,
                   struct pier_err *err)
{
    PIER_CHECK_OBJ(v, VERIFY_MAGIC);
    if (v->failed) {
        return pier_err_set(err, "verification already failed");
    }
    if (n == 0) {
        return PIER_OK;
    }
    switch (v->enc) {
    case EDGE_ENC_IDENTITY:
        return hash(v, p, n, err);
    case EDGE_ENC_GZIP:
        return update_gzip(v, p, n, err);
    case EDGE_ENC_BR:
        return update_br(v, p, n, err);
    case EDGE_ENC_ZSTD:
        return update_zstd(v, p, n, err);
    default:
        PIER_ASSERT(!"bad encoding");
        return PIER_ERR;
    }
}

int
edge_verify_final(struct edge_verify *v, const uint8_t sha[EDGE_SHA256_LEN],
                  struct pier_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    PIER_CHECK_OBJ(v, VERIFY_MAGIC);
    if (v->failed) {
        return pier_err_set(err, "verification already failed");
    }
    v->failed = true; /* final is called once */
    if (!v->ended) {
        return pier_err_set(err, "%s stream cut short", edge_enc_name(v->enc));
    }
    PIER_ASSERT(EVP_DigestFinal_ex(v->md, md, &mdlen) == 1);
    PIER_ASSERT(mdlen == EDGE_SHA256_LEN);
    if (CRYPTO_memcmp(md, sha, EDGE_SHA256_LEN) != 0) {
        return pier_err_set(err, "SHA-256 of the content does not match");
    }
    return PIER_OK;
}

int
edge_verify_bytes(enum edge_enc enc, const uint8_t sha[EDGE_SHA256_LEN],
                  const void *p, size_t n, uint64_t decoded_max,
                  struct pier_err *err)
{
    struct edge_verify *v = edge_verify_new(enc, decoded_max);
    int rc = edge_verify_update(v, p, n, err);

    if (rc == PIER_OK) {
        rc = edge_verify_final(v, sha, err);
    }
    edge_verify_free(v);
    return rc;
}
