/*
 * publish/compress.c - brotli, zstd and gzip through their libraries, the
 * MIME table, SHA-256 through OpenSSL.
 */
#include "config.h"

#include "publish/compress.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

void
publish_levels_default(struct publish_levels *lv)
{
    lv->level[PUBLISH_ENC_BR] = 9;
    lv->level[PUBLISH_ENC_ZSTD] = 12;
    lv->level[PUBLISH_ENC_GZIP] = 6;
}

void
publish_levels_best(struct publish_levels *lv)
{
    lv->level[PUBLISH_ENC_BR] = BROTLI_MAX_QUALITY;
    lv->level[PUBLISH_ENC_ZSTD] = 19;
    lv->level[PUBLISH_ENC_GZIP] = Z_BEST_COMPRESSION;
}

const char *
publish_enc_name(enum publish_enc enc)
{
    static const char *const names[] = {"br", "zstd", "gzip"};

    PIER_ASSERT((unsigned) enc < PUBLISH_ENC_N);
    return names[enc];
}

const char *
publish_enc_suffix(enum publish_enc enc)
{
    static const char *const suffixes[] = {".br", ".zst", ".gz"};

    PIER_ASSERT((unsigned) enc < PUBLISH_ENC_N);
    return suffixes[enc];
}

static int
too_big(struct pier_err *err)
{
    return pier_err_set(err, "compressed output over the buffer's limit");
}

static int
br_compress(int level, const void *in, size_t n, struct pier_buf *out,
            struct pier_err *err)
{
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    int lgwin = BROTLI_MIN_WINDOW_BITS;
    char *p;

    if (cap == 0) {
        return pier_err_set(err, "brotli: input too large (%zu bytes)", n);
    }
    p = pier_buf_reserve(out, cap);
    if (p == NULL || pier_buf_avail(out) < cap) {
        return too_big(err);
    }
    /* The window no larger than the input: with the default (4 MB) the
     * encoder sets up tables for 4 MB whatever it is given, which made a
     * 3.5 KB page cost 40 ms at quality 9 instead of about 1. */
    while (lgwin < BROTLI_MAX_WINDOW_BITS && ((size_t) 1 << lgwin) - 16 < n) {
        lgwin++;
    }
    if (!BrotliEncoderCompress(level, lgwin, BROTLI_DEFAULT_MODE, n, in, &cap,
                               (uint8_t *) p)) {
        return pier_err_set(err, "brotli: compression failed");
    }
    pier_buf_commit(out, cap);
    return PIER_OK;
}

/*
 * zstd contexts, kept for the next blob: ZSTD_compress() makes and frees
 * one per call, and setting one up took a quarter of the time of
 * compressing a 12 KB page at level 12. A context is used by one thread at
 * a time; the pool holds those not in use (as many as threads ever
 * compressed at once, at most CCTX_POOL; more are freed) and lives as
 * long as the process.
 */
#define CCTX_POOL 64

static pthread_mutex_t cctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_CCtx *cctx_free[CCTX_POOL];
static size_t cctx_nfree;

static ZSTD_CCtx *
cctx_take(void)
{
    ZSTD_CCtx *c = NULL;

    pthread_mutex_lock(&cctx_lock);
    if (cctx_nfree > 0) {
        c = cctx_free[--cctx_nfree];
    }
    pthread_mutex_unlock(&cctx_lock);
    if (c == NULL) {
        c = ZSTD_createCCtx();
        PIER_ASSERT(c != NULL);
    }
    return c;
}

static void
cctx_give(ZSTD_CCtx *c)
{
    pthread_mutex_lock(&cctx_lock);
    if (cctx_nfree < CCTX_POOL) {
        cctx_free[cctx_nfree++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&cctx_lock);
    ZSTD_freeCCtx(c);
}

static int
zstd_compress(int level, const void *in, size_t n, struct pier_buf *out,
              struct pier_err *err)
{
    size_t cap = ZSTD_compressBound(n), r;
    char *p = pier_buf_reserve(out, cap);
    ZSTD_CCtx *cc;

    if (p == NULL || pier_buf_avail(out) < cap) {
        return too_big(err);
    }
    cc = cctx_take();
    r = ZSTD_compressCCtx(cc, p, cap, in, n, level);
    cctx_give(cc);
    if (ZSTD_isError(r)) {
        return pier_err_set(err, "zstd: %s", ZSTD_getErrorName(r));
    }
    pier_buf_commit(out, r);
    return PIER_OK;
}

static int
gzip_compress(int level, const void *in, size_t n, struct pier_buf *out,
              struct pier_err *err)
{
    z_stream zs;
    size_t cap;
    char *p;
    int rc;

    if (n > UINT32_MAX / 2) {
        return pier_err_set(err, "gzip: input too large (%zu bytes)", n);
    }
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip header and trailer, not zlib's. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
        != Z_OK) {
        return pier_err_set(err, "gzip: cannot initialise deflate");
    }
    cap = deflateBound(&zs, (uLong) n);
    p = pier_buf_reserve(out, cap);
    if (p == NULL || pier_buf_avail(out) < cap) {
        deflateEnd(&zs);
        return too_big(err);
    }
    zs.next_in = (Bytef *) (uintptr_t) in;
    zs.avail_in = (uInt) n;
    zs.next_out = (Bytef *) p;
    zs.avail_out = (uInt) cap;
    rc = deflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&zs);
        return pier_err_set(err, "gzip: deflate failed (%d)", rc);
    }
    pier_buf_commit(out, cap - zs.avail_out);
    deflateEnd(&zs);
    return PIER_OK;
}

int
publish_compress(enum publish_enc enc, int level, const void *in, size_t n,
                 struct pier_buf *out, struct pier_err *err)
{
    switch (enc) {
    case PUBLISH_ENC_BR:
        return br_compress(level, in, n, out, err);
    case PUBLISH_ENC_ZSTD:
        return zstd_compress(level, in, n, out, err);
    case PUBLISH_ENC_GZIP:
        return gzip_compress(level, in, n, out, err);
    default:
        PIER_ASSERT(!"unknown encoding");
    }
    return PIER_ERR;
}

/* Room for the next piece of decompressed output: at least one byte, or
 * NULL at out's maximum. */
static char *
room(struct pier_buf *out, size_t *avail)
{
    char *p = pier_buf_reserve(out, 64 * 1024);

    *avail = p != NULL ? pier_buf_avail(out) : 0;
    return p;
}

static int
br_decompress(const void *in, size_t n, struct pier_buf *out,
              struct pier_err *err)
{
    BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    const uint8_t *next_in = in;
    size_t avail_in = n;
    BrotliDecoderResult r;
    int rc = PIER_OK;

    PIER_ASSERT(st != NULL);
    for (;;) {
        size_t avail, before;
        uint8_t *next_out = (uint8_t *) room(out, &avail);

        if (next_out == NULL) {
            rc = too_big(err);
            break;
        }
        before = avail;
        r = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail,
                                          &next_out, NULL);
        pier_buf_commit(out, before - avail);
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            if (avail_in != 0) {
                rc = pier_err_set(err, "brotli: data after the stream");
            }
            break;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
            rc = pier_err_set(err, "brotli: truncated stream");
            break;
        }
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            rc = pier_err_set(
                err, "brotli: %s",
                BrotliDecoderErrorString(BrotliDecoderGetErrorCode(st)));
            break;
        }
    }
    BrotliDecoderDestroyInstance(st);
    return rc;
}

static int
zstd_decompress(const void *in, size_t n, struct pier_buf *out,
                struct pier_err *err)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in, n, 0};
    size_t r = 1;
    int rc = PIER_OK;

    PIER_ASSERT(dc != NULL);
    while (ib.pos < ib.size || r != 0) {
        size_t avail;
        char *p = room(out, &avail);
        ZSTD_outBuffer ob;

        if (p == NULL) {
            rc = too_big(err);
            break;
        }
        ob = (ZSTD_outBuffer){p, avail, 0};
        r = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(r)) {
            rc = pier_err_set(err, "zstd: %s", ZSTD_getErrorName(r));
            break;
        }
        pier_buf_commit(out, ob.pos);
        if (r != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            rc = pier_err_set(err, "zstd: truncated frame");
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    return rc;
}

static int
gzip_decompress(const void *in, size_t n, struct pier_buf *out,
                struct pier_err *err)
{
    z_stream zs;
    int r = Z_OK, rc = PIER_OK;

    if (n > UINT32_MAX) {
        return pier_err_set(err, "gzip: input too large");
    }
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        return pier_err_set(err, "gzip: cannot initialise inflate");
    }
    zs.next_in = (Bytef *) (uintptr_t) in;
    zs.avail_in = (uInt) n;
    while (r != Z_STREAM_END) {
        size_t avail;
        char *p = room(out, &avail);

        if (p == NULL) {
            rc = too_big(err);
            break;
        }
        if (avail > UINT32_MAX) {
            avail = UINT32_MAX;
        }
        zs.next_out = (Bytef *) p;
        zs.avail_out = (uInt) avail;
        r = inflate(&zs, Z_NO_FLUSH);
        pier_buf_commit(out, avail - zs.avail_out);
        if (r == Z_BUF_ERROR && zs.avail_in == 0) {
            rc = pier_err_set(err, "gzip: truncated stream");
            break;
        }
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
            rc = pier_err_set(err, "gzip: %s",
                              zs.msg != NULL ? zs.msg : "corrupt stream");
            break;
        }
    }
    if (rc == PIER_OK && zs.avail_in != 0) {
        rc = pier_err_set(err, "gzip: data after the stream");
    }
    inflateEnd(&zs);
    return rc;
}

int
publish_decompress(enum publish_enc enc, const void *in, size_t n,
                   struct pier_buf *out, struct pier_err *err)
{
    switch (enc) {
    case PUBLISH_ENC_BR:
        return br_decompress(in, n, out, err);
    case PUBLISH_ENC_ZSTD:
        return zstd_decompress(in, n, out, err);
    case PUBLISH_ENC_GZIP:
        return gzip_decompress(in, n, out, err);
    default:
        PIER_ASSERT(!"unknown encoding");
    }
    return PIER_ERR;
}

int
publish_compress_variants(const char *type, const void *in, size_t n,
                          const struct publish_levels *lv,
                          struct pier_buf out[PUBLISH_ENC_N],
                          bool keep[PUBLISH_ENC_N], struct pier_err *err)
{
    int e;

    for (e = 0; e < PUBLISH_ENC_N; e++) {
        keep[e] = false;
    }
    if (n < PUBLISH_COMPRESS_MIN || !publish_mime_compressible(type)) {
        return PIER_OK;
    }
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        size_t before = out[e].len;

        if (publish_compress((enum publish_enc) e, lv->level[e], in, n, &out[e],
                             err)
            != PIER_OK) {
            return PIER_ERR;
        }
        keep[e] = out[e].len - before < n;
    }
    return PIER_OK;
}

struct mime {
    const char *ext;
    const char *type;
};

/* Sorted by extension for bsearch. Text gets its charset: browsers would
 * otherwise guess, and a guess can be wrong for UTF-8 pages. */
static const struct mime mimes[] = {
    {"aac", "audio/aac"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"br", "application/octet-stream"},
    {"cjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"vtt", "text/vtt; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

static int
cmp_mime(const void *key, const void *elem)
{
    return strcasecmp(key, ((const struct mime *) elem)->ext);
}

const char *
publish_mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    const struct mime *m;
    char ext[16];
    size_t n;

    if (dot == NULL || dot == base) {
        return "application/octet-stream";
    }
    n = strlen(dot + 1);
    if (n == 0 || n >= sizeof(ext)) {
        return "application/octet-stream";
    }
    memcpy(ext, dot + 1, n + 1);
    m = bsearch(ext, mimes, PIER_NELEMS(mimes), sizeof(mimes[0]), cmp_mime);
    return m != NULL ? m->type : "application/octet-stream";
}

static bool
type_is(const char *type, size_t n, const char *s)
{
    return strlen(s) == n && strncasecmp(type, s, n) == 0;
}

bool
publish_mime_compressible(const char *type)
{
    static const char *const yes[] = {
        "application/javascript",
        "application/json",
        "application/ld+json",
        "application/manifest+json",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/wasm",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "image/bmp",
        "font/ttf",
        "font/otf",
        "application/vnd.ms-fontobject",
    };
    size_t n = strcspn(type, "; \t"), i;

    if (n >= 5 && strncasecmp(type, "text/", 5) == 0) {
        return true;
    }
    for (i = 0; i < PIER_NELEMS(yes); i++) {
        if (type_is(type, n, yes[i])) {
            return true;
        }
    }
    return false;
}

void
publish_sha256(const void *p, size_t n, unsigned char out[PUBLISH_SHA256_LEN])
{
    unsigned int len = 0;

    PIER_ASSERT(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1);
    PIER_ASSERT(len == PUBLISH_SHA256_LEN);
}

void
publish_sha256_hex(const void *p, size_t n, char hex[PUBLISH_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[PUBLISH_SHA256_LEN];
    size_t i;

    publish_sha256(p, n, md);
    for (i = 0; i < PUBLISH_SHA256_LEN; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * PUBLISH_SHA256_LEN] = '\0';
}
