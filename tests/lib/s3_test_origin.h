/*
 * tests/lib/s3_test_origin.h - a small S3 server on loopback, for testing
 * lib/s3client.c before (and apart from) the real object store.
 *
 * One thread runs a poll() loop over a listening socket bound to
 * 127.0.0.1 port 0 and its connections, parses requests with http_parser,
 * checks every request's SigV4 signature by recomputing it with lib's
 * signer (and the body's x-amz-content-sha256), and answers like S3:
 * objects in memory, ETags, conditional PUT and GET (412, 304), Range
 * (206, 416), ListObjectsV2 with prefix, delimiter, max-keys and
 * continuation, DELETE, and S3 error XML. Faults can be injected: error
 * statuses, connections dropped without an answer, requests never
 * answered. Every function is safe to call from the test's thread while
 * the server runs.
 */
#ifndef PIER_TESTS_S3_TEST_ORIGIN_H
#define PIER_TESTS_S3_TEST_ORIGIN_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct s3_test_origin; /* opaque */

/* Start serving bucket for one key (and, when token is not NULL, that
 * session token). Aborts the test program on failure. Free with
 * s3_test_origin_stop(). */
struct s3_test_origin *
s3_test_origin_start(const char *akid, const char *secret, const char *region,
                     const char *bucket, const char *token);
/* The same over TLS (1.2 and 1.3) with a fresh self-signed certificate
 * for IP 127.0.0.1, written as PEM to cert_file for clients to trust. */
struct s3_test_origin *s3_test_origin_start_tls(const char *akid,
                                                const char *secret,
                                                const char *region,
                                                const char *bucket,
                                                const char *cert_file);
/* Stop the thread, close every socket, free everything. */
void s3_test_origin_stop(struct s3_test_origin *o);

/* "http://127.0.0.1:PORT" ("https://" with TLS); valid until stop. */
const char *s3_test_origin_endpoint(const struct s3_test_origin *o);

/* The next n requests are answered with status and an S3 error. */
void s3_test_origin_fail_next(struct s3_test_origin *o, unsigned n, int status);
/* The next n requests get their connection closed without an answer. */
void s3_test_origin_drop_next(struct s3_test_origin *o, unsigned n);
/* The next n requests are never answered (the connection stays open). */
void s3_test_origin_stall_next(struct s3_test_origin *o, unsigned n);

struct s3_test_origin_stats {
    unsigned connections;      /* accepted so far */
    unsigned peak_connections; /* most open at once */
    unsigned requests;         /* complete requests received */
    unsigned bad_signatures;   /* refused with SignatureDoesNotMatch */
    unsigned continues;        /* 100 Continue answers sent */
};
void s3_test_origin_stats(struct s3_test_origin *o,
                          struct s3_test_origin_stats *st);

/* Store an object directly (no request). */
void s3_test_origin_put(struct s3_test_origin *o, const char *key,
                        const void *p, size_t n);
/* Copy a stored object's bytes into out (reset first); false if none. */
bool s3_test_origin_get(struct s3_test_origin *o, const char *key,
                        struct pier_buf *out);
/* A stored object's header, as it will be answered (e.g. "content-type"
 * or "x-amz-meta-color"), into out; false if none. */
bool s3_test_origin_header(struct s3_test_origin *o, const char *key,
                           const char *name, struct pier_buf *out);

#endif
