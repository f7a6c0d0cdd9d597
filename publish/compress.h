/*
 * publish/compress.h - content types, SHA-256 and the compressed variants
 * of a blob (brotli, zstd, gzip).
 *
 * A variant is made only for compressible types (text, JavaScript, JSON,
 * SVG, XML, wasm, ttf/otf, ico) of PUBLISH_COMPRESS_MIN bytes or more, and
 * kept only when it is smaller than the original. Stateless and
 * thread-safe: any thread may compress.
 */
#ifndef PUBLISH_COMPRESS_H
#define PUBLISH_COMPRESS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#define PUBLISH_COMPRESS_MIN 256

enum publish_enc {
    PUBLISH_ENC_BR = 0,
    PUBLISH_ENC_ZSTD,
    PUBLISH_ENC_GZIP,
    PUBLISH_ENC_N
};

/* Levels per encoding. Default: brotli 9, zstd 12, gzip 6; "best": brotli
 * 11, zstd 19, gzip 9 (issue 5 measured brotli 11 at a tenth of brotli 9's
 * speed for 12 % less). */
struct publish_levels {
    int level[PUBLISH_ENC_N];
};

void publish_levels_default(struct publish_levels *lv);
void publish_levels_best(struct publish_levels *lv);

/* "br", "zstd", "gzip" (Content-Encoding tokens) and ".br", ".zst", ".gz"
 * (blob key suffixes). Static strings. */
const char *publish_enc_name(enum publish_enc enc);
const char *publish_enc_suffix(enum publish_enc enc);

/* Append in (n bytes) compressed to out. PIER_ERR when the library fails
 * or out would pass its maximum. */
int publish_compress(enum publish_enc enc, int level, const void *in, size_t n,
                     struct pier_buf *out, struct pier_err *err);
/* Append in decompressed to out; out's maximum bounds the output (a
 * decompression bomb fails with PIER_ERR). Truncated or corrupt input
 * fails. */
int publish_decompress(enum publish_enc enc, const void *in, size_t n,
                       struct pier_buf *out, struct pier_err *err);

/*
 * Make the variants worth keeping: for a compressible type and n >= MIN,
 * out[e] gets each encoding's output and keep[e] says whether it is
 * smaller than n. Otherwise every keep[e] is false. out[] are initialised
 * by the caller and appended to.
 */
int publish_compress_variants(const char *type, const void *in, size_t n,
                              const struct publish_levels *lv,
                              struct pier_buf out[PUBLISH_ENC_N],
                              bool keep[PUBLISH_ENC_N], struct pier_err *err);

/* The Content-Type for path by its extension (case-insensitive), with
 * "; charset=utf-8" for text; "application/octet-stream" when unknown.
 * Static string. */
const char *publish_mime_type(const char *path);
/* True when type (a Content-Type, parameters allowed) is worth
 * compressing: not images, video, audio, archives or woff/woff2, which
 * are compressed already. */
bool publish_mime_compressible(const char *type);

#define PUBLISH_SHA256_LEN 32
#define PUBLISH_SHA256_HEX 65 /* 64 hex digits and a NUL */

void publish_sha256(const void *p, size_t n,
                    unsigned char out[PUBLISH_SHA256_LEN]);
/* Lower-case hex of the SHA-256 of p, NUL-terminated. */
void publish_sha256_hex(const void *p, size_t n, char hex[PUBLISH_SHA256_HEX]);

#endif
