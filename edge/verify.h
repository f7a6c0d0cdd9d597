/*
 * edge/verify.h - check fetched bytes against the name of their blob.
 *
 * Blobs are named by the SHA-256 of the file's bytes (blobs/<sha256>), and
 * the compressed variants by the same name plus a suffix (.br, .zst, .gz).
 * So the identity variant is hashed as it arrives, and a compressed one is
 * decompressed as it arrives and its output hashed: either way the edge
 * caches or finishes sending only bytes whose content is the one named.
 * Decompression stops at decoded_max bytes, so a hostile origin cannot
 * make the edge inflate a bomb.
 *
 * Streaming: feed the bytes in any split. The state is heap-allocated
 * (decoders), on the miss path only. One thread at a time per object.
 */
#ifndef EDGE_VERIFY_H
#define EDGE_VERIFY_H

#include "edge/encoding.h"
#include "lib/core.h"
#include "lib/err.h"

#define EDGE_SHA256_LEN 32

struct edge_verify; /* opaque */

/* For bytes of coding enc whose decoded content is at most decoded_max
 * bytes. The caller owns the result and frees it with edge_verify_free(),
 * which accepts NULL. */
struct edge_verify *edge_verify_new(enum edge_enc enc, uint64_t decoded_max);
void edge_verify_free(struct edge_verify *v);

/* Take n more bytes. PIER_ERR (and every later call fails) on a decoding
 * error, on bytes after the end of the compressed stream, or past
 * decoded_max. Borrows p. */
int edge_verify_update(struct edge_verify *v, const void *p, size_t n,
                       struct pier_err *err);
/* All bytes were given: PIER_OK when the stream is complete and the
 * SHA-256 of its content is sha; else PIER_ERR saying which. */
int edge_verify_final(struct edge_verify *v, const uint8_t sha[EDGE_SHA256_LEN],
                      struct pier_err *err);

/* The same in one call, for bytes held whole. */
int edge_verify_bytes(enum edge_enc enc, const uint8_t sha[EDGE_SHA256_LEN],
                      const void *p, size_t n, uint64_t decoded_max,
                      struct pier_err *err);

#endif
