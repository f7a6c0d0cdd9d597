/*
 * lib/awschunk.c - the aws-chunked decoder: one state machine, fed any
 * number of bytes at a time, verifying chunk signatures and the trailer
 * as it goes.
 *
 * Reference: Amazon S3 API Reference, "Signature Calculations for the
 * Authorization Header: Transferring Payload in Multiple Chunks" and
 * "Signature calculations for trailing headers"; botocore's
 * AwsChunkedWrapper for the unsigned trailer framing. Vectors:
 * tests/data/sigv4-s3/chunked-put-object*.json.
 */
#include "config.h"

#include "lib/awschunk.h"

#include <stdio.h>

#include <openssl/crypto.h>

enum {
    s_size_start = 0, /* the first hex digit of a chunk size */
    s_size,           /* more digits, ';' or CR */
    s_ext,            /* the extension, up to CR */
    s_header_lf,      /* LF after the chunk header */
    s_data,           /* chunk data */
    s_data_cr,        /* CR after the data */
    s_data_lf,        /* LF after the data */
    s_trailer,        /* a trailing header line, or the closing CRLF */
    s_trailer_lf,     /* LF after a trailing header or the closing CR */
    s_done,
    s_failed,
};

static bool
signed_chunks(const struct pier_awschunk *ck)
{
    return ck->mode == PIER_PAYLOAD_STREAMING
           || ck->mode == PIER_PAYLOAD_STREAMING_TRAILER;
}

static bool
has_trailer(const struct pier_awschunk *ck)
{
    return ck->mode == PIER_PAYLOAD_STREAMING_TRAILER
           || ck->mode == PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
}

static const char *
checksum_name(enum pier_checksum c)
{
    switch (c) {
    case PIER_CHECKSUM_CRC32:
        return "x-amz-checksum-crc32";
    case PIER_CHECKSUM_CRC32C:
        return "x-amz-checksum-crc32c";
    case PIER_CHECKSUM_SHA1:
        return "x-amz-checksum-sha1";
    case PIER_CHECKSUM_SHA256:
        return "x-amz-checksum-sha256";
    case PIER_CHECKSUM_NONE:
        break;
    }
    return NULL;
}

int
pier_awschunk_init(struct pier_awschunk *ck, const struct pier_sigv4_auth *auth,
                   uint64_t decoded_length, struct pier_err *err)
{
    memset(ck, 0, sizeof(*ck));
    switch (auth->payload) {
    case PIER_PAYLOAD_STREAMING:
    case PIER_PAYLOAD_STREAMING_TRAILER:
    case PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER:
        break;
    default:
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "aws-chunked body without a STREAMING "
                           "x-amz-content-sha256");
    }
    ck->magic = PIER_AWSCHUNK_MAGIC;
    ck->state = s_size_start;
    ck->mode = auth->payload;
    ck->checksum = has_trailer(ck) ? auth->trailer : PIER_CHECKSUM_NONE;
    ck->expect = decoded_length;
    memcpy(ck->key, auth->signing_key, sizeof(ck->key));
    memcpy(ck->prev_sig, auth->seed_signature, sizeof(ck->prev_sig));
    memcpy(ck->amz_date, auth->amz_date, sizeof(ck->amz_date));
    memcpy(ck->scope, auth->scope, sizeof(ck->scope));
    ck->prev_sig[64] = '\0';
    ck->amz_date[16] = '\0';
    ck->scope[sizeof(ck->scope) - 1] = '\0';
    pier_hash_init(&ck->chunk_hash, PIER_HASH_SHA256);
    if (ck->checksum == PIER_CHECKSUM_SHA1) {
        pier_hash_init(&ck->sum_hash, PIER_HASH_SHA1);
    } else if (ck->checksum == PIER_CHECKSUM_SHA256) {
        pier_hash_init(&ck->sum_hash, PIER_HASH_SHA256);
    }
    return PIER_OK;
}

void
pier_awschunk_release(struct pier_awschunk *ck)
{
    if (ck->magic == 0) {
        return;
    }
    PIER_CHECK_OBJ(ck, PIER_AWSCHUNK_MAGIC);
    pier_hash_release(&ck->chunk_hash);
    pier_hash_release(&ck->sum_hash);
    OPENSSL_cleanse(ck->key, sizeof(ck->key));
    ck->magic = 0;
}

bool
pier_awschunk_done(const struct pier_awschunk *ck)
{
    return ck->magic == PIER_AWSCHUNK_MAGIC && ck->state == s_done;
}

/* Check the chunk whose data chunk_hash holds against its claimed
 * signature; it becomes the previous signature. */
static int
verify_chunk(struct pier_awschunk *ck, struct pier_err *err)
{
    unsigned char md[PIER_SHA256_LEN];
    char hex[65], want[65];

    pier_hash_final(&ck->chunk_hash, md);
    pier_hex(md, sizeof(md), hex);
    pier_sigv4_chunk_signature(ck->key, ck->amz_date, pier_str_cstr(ck->scope),
                               ck->prev_sig, hex, want);
    if (CRYPTO_memcmp(want, ck->chunk_sig, 64) != 0) {
        return pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                           "aws-chunked chunk signature does not match "
                           "after %llu bytes",
                           (unsigned long long) ck->decoded);
    }
    memcpy(ck->prev_sig, want, sizeof(want));
    return PIER_OK;
}

/* The chunk header has been read: check its extension. */
static int
header_done(struct pier_awschunk *ck, struct pier_err *err)
{
    static const char prefix[] = "chunk-signature=";
    size_t n = sizeof(prefix) - 1, i;

    if (signed_chunks(ck)) {
        if (!ck->has_ext || ck->extlen != n + 64
            || memcmp(ck->ext, prefix, n) != 0) {
            return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                               "aws-chunked chunk without chunk-signature");
        }
        for (i = 0; i < 64; i++) {
            unsigned char c = (unsigned char) ck->ext[n + i];

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                                   "bad aws-chunked chunk-signature");
            }
        }
        memcpy(ck->chunk_sig, ck->ext + n, 64);
        ck->chunk_sig[64] = '\0';
    } else if (ck->has_ext) {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "unexpected aws-chunked extension");
    }
    if (ck->size == 0) {
        /* The final chunk: signed like the others, over no data. */
        if (signed_chunks(ck) && verify_chunk(ck, err) != PIER_OK) {
            return PIER_ERR;
        }
        pier_hash_reset(&ck->chunk_hash); /* now the canonical trailer */
        ck->linelen = 0;
        ck->state = s_trailer;
        return PIER_OK;
    }
    ck->left = ck->size;
    ck->state = s_data;
    return PIER_OK;
}

static int
data_done(struct pier_awschunk *ck, struct pier_err *err)
{
    if (signed_chunks(ck)) {
        return verify_chunk(ck, err);
    }
    return PIER_OK;
}

static struct pier_str
trim(struct pier_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}

/* Our checksum of the decoded data, raw. */
static size_t
our_checksum(struct pier_awschunk *ck, unsigned char out[PIER_HASH_MAX_LEN])
{
    switch (ck->checksum) {
    case PIER_CHECKSUM_CRC32:
    case PIER_CHECKSUM_CRC32C:
        out[0] = (unsigned char) (ck->crc >> 24);
        out[1] = (unsigned char) (ck->crc >> 16);
        out[2] = (unsigned char) (ck->crc >> 8);
        out[3] = (unsigned char) ck->crc;
        return 4;
    case PIER_CHECKSUM_SHA1:
        pier_hash_final(&ck->sum_hash, out);
        return PIER_SHA1_LEN;
    case PIER_CHECKSUM_SHA256:
        pier_hash_final(&ck->sum_hash, out);
        return PIER_SHA256_LEN;
    case PIER_CHECKSUM_NONE:
        break;
    }
    PIER_ASSERT(!"no checksum to compute");
    return 0;
}

/* One trailing header line, without its CRLF. */
static int
trailer_line(struct pier_awschunk *ck, struct pier_err *err)
{
    struct pier_str line = pier_str_make(ck->line, ck->linelen), name, value;
    const char *colon = memchr(line.ptr, ':', line.len);
    const char *want = checksum_name(ck->checksum);

    if (!has_trailer(ck)) {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "aws-chunked trailer in a mode without one");
    }
    if (colon == NULL) {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "aws-chunked trailer without ':'");
    }
    name = trim(pier_str_make(line.ptr, (size_t) (colon - line.ptr)));
    value = trim(
        pier_str_make(colon + 1, line.len - (size_t) (colon - line.ptr) - 1));
    if (pier_str_caseeq(name, PIER_STR("x-amz-trailer-signature"))) {
        size_t i;

        if (ck->mode != PIER_PAYLOAD_STREAMING_TRAILER || ck->got_trailer_sig
            || value.len != 64) {
            return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                               "unexpected x-amz-trailer-signature");
        }
        for (i = 0; i < 64; i++) {
            if (pier_hexval((unsigned char) (unsigned char) value.ptr[i]) < 0) {
                return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                                   "bad x-amz-trailer-signature");
            }
        }
        memcpy(ck->trailer_sig, value.ptr, 64);
        ck->trailer_sig[64] = '\0';
        ck->got_trailer_sig = true;
        return PIER_OK;
    }
    if (want != NULL && pier_str_caseeq(name, pier_str_cstr(want))
        && !ck->got_checksum && !ck->got_trailer_sig) {
        unsigned char ours[PIER_HASH_MAX_LEN], theirs[PIER_HASH_MAX_LEN];
        size_t n = our_checksum(ck, ours), m = 0;
        struct pier_err ignore;

        if (pier_base64_decode(value.ptr, value.len, theirs, sizeof(theirs), &m,
                               &ignore)
                != PIER_OK
            || m != n) {
            return pier_err_s3(err, PIER_S3_INVALID_REQUEST, "bad %s value",
                               want);
        }
        if (memcmp(ours, theirs, n) != 0) {
            return pier_err_s3(err, PIER_S3_BAD_DIGEST,
                               "%s does not match the data", want);
        }
        ck->got_checksum = true;
        /* The canonical trailer: "name:value\n", as signed. */
        pier_hash_update(&ck->chunk_hash, want, strlen(want));
        pier_hash_update(&ck->chunk_hash, ":", 1);
        pier_hash_update(&ck->chunk_hash, value.ptr, value.len);
        pier_hash_update(&ck->chunk_hash, "\n", 1);
        return PIER_OK;
    }
    return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                       "unexpected aws-chunked trailer '%.*s'",
                       (int) (name.len > 64 ? 64 : name.len), name.ptr);
}

/* The closing CRLF: everything must be there and hold. */
static int
body_done(struct pier_awschunk *ck, struct pier_err *err)
{
    if (ck->checksum != PIER_CHECKSUM_NONE && !ck->got_checksum) {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "aws-chunked body without its %s trailer",
                           checksum_name(ck->checksum));
    }
    if (ck->mode == PIER_PAYLOAD_STREAMING_TRAILER) {
        unsigned char md[PIER_SHA256_LEN];
        char hex[65], want[65];

        if (!ck->got_trailer_sig) {
            return pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                               "aws-chunked body without "
                               "x-amz-trailer-signature");
        }
        pier_hash_final(&ck->chunk_hash, md);
        pier_hex(md, sizeof(md), hex);
        pier_sigv4_trailer_signature(ck->key, ck->amz_date,
                                     pier_str_cstr(ck->scope), ck->prev_sig,
                                     hex, want);
        if (CRYPTO_memcmp(want, ck->trailer_sig, 64) != 0) {
            return pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                               "aws-chunked trailer signature does not "
                               "match");
        }
    }
    if (ck->expect != PIER_AWSCHUNK_UNKNOWN_LENGTH
        && ck->decoded != ck->expect) {
        return pier_err_s3(err, PIER_S3_INCOMPLETE_BODY,
                           "aws-chunked body of %llu bytes, declared %llu",
                           (unsigned long long) ck->decoded,
                           (unsigned long long) ck->expect);
    }
    ck->state = s_done;
    return PIER_OK;
}

static int
bad_byte(struct pier_err *err, const char *where, unsigned char ch)
{
    return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                       "bad aws-chunked %s byte 0x%02x", where, ch);
}

int
pier_awschunk_decode(struct pier_awschunk *ck, const char *p, const char *end,
                     size_t *used, struct pier_str *data, struct pier_err *err)
{
    const char *start = p;
    int d, rc = PIER_ERR;

    PIER_CHECK_OBJ(ck, PIER_AWSCHUNK_MAGIC);
    *data = pier_str_make(p, 0);
    *used = 0;
    if (ck->state == s_failed) {
        return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                           "aws-chunked decoder used after an error");
    }
    if (ck->state == s_done) {
        return PIER_OK;
    }
    for (; p < end; p++) {
        unsigned char ch = (unsigned char) *p;

        switch (ck->state) {
        case s_size_start: /* the first digit of the size */
        case s_size:
            if (ck->state == s_size && ch == ';') {
                ck->has_ext = true;
                ck->extlen = 0;
                ck->state = s_ext;
                break;
            }
            if (ck->state == s_size && ch == '\r') {
                ck->has_ext = false;
                ck->state = s_header_lf;
                break;
            }
            d = pier_hexval((unsigned char) ch);
            if (d < 0
                || ck->size > (PIER_AWSCHUNK_MAX_SIZE - (uint64_t) d) / 16) {
                rc = bad_byte(err, "chunk size", ch);
                goto failed;
            }
            ck->size = ck->size * 16 + (uint64_t) d;
            ck->state = s_size;
            break;
        case s_ext:
            if (ch == '\r') {
                ck->state = s_header_lf;
            } else if (ck->extlen < sizeof(ck->ext)) {
                ck->ext[ck->extlen++] = (char) ch;
            } else {
                rc = bad_byte(err, "chunk extension", ch);
                goto failed;
            }
            break;
        case s_header_lf:
            if (ch != '\n') {
                rc = bad_byte(err, "chunk header", ch);
                goto failed;
            }
            if (header_done(ck, err) != PIER_OK) {
                goto failed;
            }
            break;
        case s_data: {
            size_t n = (size_t) (end - p);

            if ((uint64_t) n > ck->left) {
                n = (size_t) ck->left;
            }
            if (ck->expect != PIER_AWSCHUNK_UNKNOWN_LENGTH
                && (uint64_t) n > ck->expect - ck->decoded) {
                rc = pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                                 "aws-chunked body longer than its declared "
                                 "%llu bytes",
                                 (unsigned long long) ck->expect);
                goto failed;
            }
            if (signed_chunks(ck)) {
                pier_hash_update(&ck->chunk_hash, p, n);
            }
            if (ck->checksum == PIER_CHECKSUM_CRC32) {
                ck->crc = pier_crc32(ck->crc, p, n);
            } else if (ck->checksum == PIER_CHECKSUM_CRC32C) {
                ck->crc = pier_crc32c(ck->crc, p, n);
            } else if (ck->checksum != PIER_CHECKSUM_NONE) {
                pier_hash_update(&ck->sum_hash, p, n);
            }
            ck->decoded += n;
            ck->left -= n;
            if (ck->left == 0) {
                ck->state = s_data_cr;
            }
            /* Hand the run out now: the caller consumes it and calls
             * again for the rest. */
            *data = pier_str_make(p, n);
            *used = (size_t) (p + n - start);
            return PIER_AGAIN;
        }
        case s_data_cr:
            if (ch != '\r') {
                rc = bad_byte(err, "chunk end", ch);
                goto failed;
            }
            ck->state = s_data_lf;
            break;
        case s_data_lf:
            if (ch != '\n') {
                rc = bad_byte(err, "chunk end", ch);
                goto failed;
            }
            if (data_done(ck, err) != PIER_OK) {
                goto failed;
            }
            ck->size = 0;
            ck->has_ext = false;
            ck->extlen = 0;
            ck->state = s_size_start;
            break;
        case s_trailer:
            if (ch == '\r') {
                ck->state = s_trailer_lf;
            } else if (ch == '\n' || ch == '\0') {
                rc = bad_byte(err, "trailer", ch);
                goto failed;
            } else if (ck->linelen < sizeof(ck->line)) {
                ck->line[ck->linelen++] = (char) ch;
            } else {
                rc = pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                                 "aws-chunked trailer line too long");
                goto failed;
            }
            break;
        case s_trailer_lf:
            if (ch != '\n') {
                rc = bad_byte(err, "trailer", ch);
                goto failed;
            }
            if (ck->linelen == 0) {
                if (body_done(ck, err) != PIER_OK) {
                    goto failed;
                }
                *used = (size_t) (p + 1 - start);
                return PIER_OK;
            }
            if (trailer_line(ck, err) != PIER_OK) {
                goto failed;
            }
            ck->linelen = 0;
            ck->state = s_trailer;
            break;
        default:
            PIER_ASSERT(!"bad aws-chunked state");
        }
    }
    *used = (size_t) (p - start);
    return PIER_AGAIN;

failed:
    ck->state = s_failed;
    *used = (size_t) (p - start);
    return rc;
}

int
pier_awschunk_signer_init(struct pier_awschunk_signer *s,
                          const struct pier_sigv4_key *key,
                          const char *amz_date, const char *seed_signature,
                          struct pier_err *err)
{
    time_t t;
    size_t i;
    int n;

    memset(s, 0, sizeof(*s));
    if (amz_date == NULL
        || pier_sigv4_parse_date(pier_str_cstr(amz_date), &t) != PIER_OK) {
        return pier_err_set(err, "bad x-amz-date");
    }
    if (seed_signature == NULL || strlen(seed_signature) != 64) {
        return pier_err_set(err, "bad seed signature");
    }
    for (i = 0; i < 64; i++) {
        if (pier_hexval((unsigned char) (unsigned char) seed_signature[i]) < 0) {
            return pier_err_set(err, "bad seed signature");
        }
    }
    n = snprintf(s->scope, sizeof(s->scope), "%.8s/%s/%s/aws4_request",
                 amz_date, key->region,
                 key->service != NULL ? key->service : "s3");
    if (n < 0 || (size_t) n >= sizeof(s->scope)) {
        return pier_err_set(err, "credential scope too long");
    }
    pier_sigv4_signing_key(
        key->secret_access_key, pier_str_make(amz_date, 8),
        pier_str_cstr(key->region),
        pier_str_cstr(key->service != NULL ? key->service : "s3"), s->key);
    memcpy(s->prev_sig, seed_signature, 65);
    memcpy(s->amz_date, amz_date, 17);
    return PIER_OK;
}

int
pier_awschunk_sign_chunk(struct pier_awschunk_signer *s, const void *data,
                         size_t n, struct pier_buf *out, struct pier_err *err)
{
    char hex[65], sig[65];
    size_t start = out->len;

    pier_sha256_hex(data, n, hex);
    pier_sigv4_chunk_signature(s->key, s->amz_date, pier_str_cstr(s->scope),
                               s->prev_sig, hex, sig);
    if (pier_buf_addf(out, "%zx;chunk-signature=%s\r\n", n, sig) != PIER_OK
        || (n > 0 && pier_buf_add(out, data, n) != PIER_OK)
        || pier_buf_add(out, "\r\n", 2) != PIER_OK) {
        pier_buf_truncate(out, start);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "aws-chunked buffer passed its maximum");
    }
    memcpy(s->prev_sig, sig, sizeof(sig));
    return PIER_OK;
}

uint64_t
pier_awschunk_signed_length(uint64_t decoded_length, uint64_t chunk_size)
{
    /* ";chunk-signature=" + 64 hex digits + CRLF, then data + CRLF. */
    const uint64_t per_chunk = 17 + 64 + 2 + 2;
    uint64_t full, rest, total, digits, v;

    PIER_ASSERT(chunk_size > 0);
    full = decoded_length / chunk_size;
    rest = decoded_length % chunk_size;
    for (digits = 1, v = chunk_size; v >= 16; v /= 16) {
        digits++;
    }
    total = full * (digits + per_chunk + chunk_size);
    if (rest > 0) {
        for (digits = 1, v = rest; v >= 16; v /= 16) {
            digits++;
        }
        total += digits + per_chunk + rest;
    }
    return total + 1 + per_chunk; /* "0;chunk-signature=...\r\n\r\n" */
}
