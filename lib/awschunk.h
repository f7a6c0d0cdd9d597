/*
 * lib/awschunk.h - the aws-chunked body decoder (Content-Encoding:
 * aws-chunked), for the object store's PUTs and part uploads.
 *
 * Framing, per chunk:  <hex size>[;chunk-signature=<64 hex>] CRLF
 *                      <size bytes> CRLF
 * then a final chunk of size 0 and, in the trailer modes, trailing
 * headers ("x-amz-checksum-crc32:<base64>" CRLF, and with a signed
 * trailer "x-amz-trailer-signature:<64 hex>" CRLF), then CRLF.
 *
 * The modes come from x-amz-content-sha256, through the verified
 * struct pier_sigv4_auth:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signed, chained from
 *     the request's signature (seed); no trailer.
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the same, then a checksum
 *     trailer and its signature.
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER: no chunk signatures (no
 *     extensions), a checksum trailer.
 * The trailer's checksum (CRC32, CRC32C, SHA-1 or SHA-256, as x-amz-trailer
 * declared) is computed over the decoded data and compared.
 *
 * The decoder is a byte-at-a-time state machine, resumable at any byte:
 * feed it whatever the socket delivered. It never allocates while
 * decoding and never copies data: decoded bytes come back as views into
 * the input. pier_awschunk_init() creates the two digest contexts it
 * needs (the only allocations); OpenSSL's one-shot HMAC, used once per
 * chunk, allocates internally.
 *
 * A chunk's signature can only be checked once all of its data has
 * passed, so data comes out before it is proven: everything is
 * provisional until pier_awschunk_decode() returns PIER_OK. The caller
 * writes to a temporary place and commits only then. One decoder per
 * body, used by one thread at a time.
 */
#ifndef PIER_AWSCHUNK_H
#define PIER_AWSCHUNK_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/sha.h"
#include "lib/sigv4.h"

#define PIER_AWSCHUNK_MAX_SIZE       ((uint64_t) 1 << 33) /* one chunk: 8 GiB */
#define PIER_AWSCHUNK_EXT_MAX        96  /* ";chunk-signature=" + 64 is 81 */
#define PIER_AWSCHUNK_LINE_MAX       256 /* one trailing header */
#define PIER_AWSCHUNK_UNKNOWN_LENGTH UINT64_MAX

struct pier_awschunk {
    unsigned magic;
#define PIER_AWSCHUNK_MAGIC 0x7c0b5d23u
    int state;
    enum pier_payload_mode mode;
    enum pier_checksum checksum; /* declared by x-amz-trailer */
    uint64_t size;               /* the current chunk's size */
    uint64_t left;               /* its data bytes still to come */
    uint64_t decoded;            /* data bytes so far */
    uint64_t expect;             /* x-amz-decoded-content-length */
    bool has_ext;                /* a ';' followed the size */
    size_t extlen;
    char ext[PIER_AWSCHUNK_EXT_MAX];
    size_t linelen;
    char line[PIER_AWSCHUNK_LINE_MAX];
    bool got_checksum;
    bool got_trailer_sig;
    uint32_t crc;
    unsigned char key[32]; /* the signing key; never log it */
    char prev_sig[65];     /* the last verified signature */
    char chunk_sig[65];    /* the current chunk's claimed signature */
    char trailer_sig[65];
    char amz_date[17];
    char scope[128];
    struct pier_hash chunk_hash; /* SHA-256 of the chunk, then of the
                                    canonical trailer */
    struct pier_hash sum_hash;   /* SHA-1 or SHA-256 trailer checksum */
};

/* Prepare ck for a body whose request verified with auth (borrowed: what
 * ck needs is copied). decoded_length is x-amz-decoded-content-length, or
 * PIER_AWSCHUNK_UNKNOWN_LENGTH. PIER_ERR (InvalidRequest) when auth's
 * payload is not an aws-chunked mode. On PIER_OK the caller releases ck
 * with pier_awschunk_release(). */
int pier_awschunk_init(struct pier_awschunk *ck,
                       const struct pier_sigv4_auth *auth,
                       uint64_t decoded_length, struct pier_err *err);
/* Free the digest contexts and wipe the key. Accepts a zeroed ck. */
void pier_awschunk_release(struct pier_awschunk *ck);

/* Decode from [p, end). Parses framing and stops after the first run of
 * data bytes, which *data views (len 0 when the call found none); *used
 * is how much of the input was taken. Returns PIER_AGAIN while the body
 * goes on (call again with the rest, or with more input once it arrives),
 * PIER_OK once the final chunk, the trailers and the closing CRLF have
 * been read and every signature and checksum holds (input after that is
 * not taken), PIER_ERR with err set on bad framing (InvalidRequest), a
 * bad chunk or trailer signature (SignatureDoesNotMatch), a wrong
 * checksum (BadDigest) or a decoded length other than declared
 * (IncompleteBody). After PIER_ERR the decoder stays failed. A body that
 * ends before PIER_OK is incomplete: the caller answers IncompleteBody. */
int pier_awschunk_decode(struct pier_awschunk *ck, const char *p,
                         const char *end, size_t *used, struct pier_str *data,
                         struct pier_err *err);

/* Whether the body is complete (PIER_OK has been returned). */
bool pier_awschunk_done(const struct pier_awschunk *ck);

#endif
