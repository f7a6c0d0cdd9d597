/*
 * tests/fuzz/fuzz_awschunk.c - arbitrary bodies into the aws-chunked
 * decoder, in every mode, fed whole and in slices: both feedings must
 * give the same result and the same data (the machine resumes at any
 * byte).
 *
 * Input: byte 0 picks the mode (bits 0-1) and the trailer checksum (bits
 * 2-4); byte 1 the slice length of the second feeding; the rest is the
 * body. Signed modes use a fixed key, date, scope and seed signature;
 * tests/fuzz/make_awschunk_seeds.py writes seeds that pass them.
 */
#include "config.h"

#include <stdlib.h>

#include "lib/awschunk.h"
#include "lib/buf.h"

static void
fixed_auth(struct pier_sigv4_auth *a, uint8_t sel)
{
    static const enum pier_payload_mode modes[] = {
        PIER_PAYLOAD_STREAMING,
        PIER_PAYLOAD_STREAMING_TRAILER,
        PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
        PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
    };

    memset(a, 0, sizeof(*a));
    a->form = PIER_AUTH_V4_HEADER;
    a->payload = modes[sel & 3];
    a->trailer = (enum pier_checksum)((sel >> 2) % 5);
    pier_sigv4_signing_key("fuzz-secret", PIER_STR("20240101"),
                           PIER_STR("us-east-1"), PIER_STR("s3"),
                           a->signing_key);
    memset(a->seed_signature, '0', 64);
    memcpy(a->amz_date, "20240101T000000Z", 17);
    memcpy(a->scope, "20240101/us-east-1/s3/aws4_request",
           sizeof("20240101/us-east-1/s3/aws4_request"));
}

/* Feed [p, end) in slices of step (0: whole); the data goes to out. */
static int
feed(struct pier_awschunk *ck, const char *p, const char *end, size_t step,
     struct pier_buf *out, size_t *taken)
{
    struct pier_err err;
    int rc = PIER_AGAIN;
    const char *start = p;

    while (p < end) {
        const char *stop =
            step == 0 || (size_t) (end - p) < step ? end : p + step;

        while (p < stop) {
            struct pier_str data;
            size_t used;

            rc = pier_awschunk_decode(ck, p, stop, &used, &data, &err);
            if (used > (size_t) (stop - p)) {
                abort();
            }
            if (rc == PIER_ERR) {
                /* used says where the bad byte was. */
                *taken = (size_t) (p + used - start);
                return rc;
            }
            if (data.len > 0
                && (data.ptr < p || data.ptr + data.len > p + used
                    || pier_buf_addstr(out, data) != PIER_OK)) {
                abort();
            }
            p += used;
            if (rc == PIER_OK) {
                *taken = (size_t) (p - start);
                return rc;
            }
            if (used == 0) {
                abort(); /* AGAIN with input left must take some */
            }
        }
    }
    *taken = (size_t) (p - start);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pier_sigv4_auth a;
    struct pier_awschunk c1, c2;
    struct pier_buf o1, o2;
    struct pier_err err;
    const char *body;
    size_t n, t1 = 0, t2 = 0;
    int r1, r2;

    if (size < 2) {
        return 0;
    }
    fixed_auth(&a, data[0]);
    body = (const char *) data + 2;
    n = size - 2;
    if (pier_awschunk_init(&c1, &a, PIER_AWSCHUNK_UNKNOWN_LENGTH, &err)
            != PIER_OK
        || pier_awschunk_init(&c2, &a, PIER_AWSCHUNK_UNKNOWN_LENGTH, &err)
               != PIER_OK) {
        abort();
    }
    pier_buf_init(&o1, SIZE_MAX);
    pier_buf_init(&o2, SIZE_MAX);
    r1 = feed(&c1, body, body + n, 0, &o1, &t1);
    r2 = feed(&c2, body, body + n, (size_t) data[1] % 17 + 1, &o2, &t2);
    /* Same answer however the bytes are split: the same result, input
     * taken and data let out. */
    if (r1 != r2 || t1 != t2
        || !pier_str_eq(pier_buf_str(&o1), pier_buf_str(&o2))) {
        abort();
    }
    if (r1 == PIER_OK && !pier_awschunk_done(&c1)) {
        abort();
    }
    pier_awschunk_release(&c1);
    pier_awschunk_release(&c2);
    pier_buf_release(&o1);
    pier_buf_release(&o2);
    return 0;
}
