/*
 * tests/fuzz/fuzz_sigv4.c - arbitrary bytes into the SigV4 and SigV2
 * canonicalisers and into the parsers of Authorization headers and
 * presigned queries (pier_sigv4_verify), plus two properties: what
 * pier_sigv4_authorization() and pier_sigv4_presign() sign, the verifier
 * accepts.
 *
 * Input: "METHOD\nPATH\nQUERY\nName:value\n...". Missing lines are empty.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/sha.h"
#include "lib/sigv2.h"
#include "lib/sigv4.h"

#define MAX_HEADERS 32
#define NOW         1700000000

static const char *
lookup(void *udata, struct pier_str akid)
{
    (void) udata;
    return pier_str_eq(akid, PIER_STR("AKIDFUZZ")) ? "fuzz-secret" : NULL;
}

static bool
token(struct pier_str s)
{
    size_t i;

    if (s.len == 0) {
        return false;
    }
    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool
reserved_header(struct pier_str name)
{
    return pier_str_caseeq(name, PIER_STR("authorization"))
           || pier_str_caseeq(name, PIER_STR("host"))
           || pier_str_caseeq(name, PIER_STR("x-amz-date"))
           || pier_str_caseeq(name, PIER_STR("x-amz-content-sha256"))
           || pier_str_caseeq(name, PIER_STR("x-amz-security-token"));
}

static bool
contains(struct pier_str s, const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; i + n <= s.len; i++) {
        if (memcmp(s.ptr + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Sign, then verify: must succeed. */
static void
round_trip(struct pier_str method, struct pier_str path, struct pier_str query,
           const struct pier_kv *in, size_t nin)
{
    struct pier_sigv4_key key = {"AKIDFUZZ", "fuzz-secret", "us-east-1", "s3",
                                 NULL};
    struct pier_kv h[MAX_HEADERS + 4];
    size_t n = 0, i;
    char amz_date[17], *m;
    struct pier_buf auth, q, full;
    struct pier_err err;
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth out;

    if (method.len == 0 || !token(method) || contains(query, "%")
        || contains(query, "+") || contains(query, "Signature")
        || contains(query, "X-Amz-") || contains(query, "AWSAccessKeyId")) {
        return;
    }
    /* Host first: the presigned form signs it alone. */
    h[n].name = PIER_STR("Host");
    h[n++].value = PIER_STR("fuzz.local");
    for (i = 0; i < nin; i++) {
        if (!token(in[i].name)) {
            return;
        }
        if (!reserved_header(in[i].name)) {
            h[n++] = in[i];
        }
    }
    pier_sigv4_format_date(NOW, amz_date);
    h[n].name = PIER_STR("X-Amz-Date");
    h[n++].value = pier_str_cstr(amz_date);
    h[n].name = PIER_STR("x-amz-content-sha256");
    h[n++].value = PIER_STR(PIER_SIGV4_UNSIGNED_PAYLOAD);
    m = pier_strndup(method.ptr, method.len);
    pier_buf_init(&auth, SIZE_MAX);
    pier_buf_init(&q, SIZE_MAX);
    pier_buf_init(&full, SIZE_MAX);
    if (pier_sigv4_authorization(&key, amz_date, m, path, query, h, n,
                                 PIER_SIGV4_UNSIGNED_PAYLOAD, &auth, &err)
        != PIER_OK) {
        abort();
    }
    h[n].name = PIER_STR("Authorization");
    h[n].value = pier_buf_str(&auth);
    memset(&vr, 0, sizeof(vr));
    vr.method = method;
    vr.path = path;
    vr.query = query;
    vr.headers = h;
    vr.nheaders = n + 1;
    vr.now = NOW;
    vr.region = "us-east-1";
    vr.lookup = lookup;
    if (pier_sigv4_verify(&vr, &out, &err) != PIER_OK) {
        fprintf(stderr, "signed request refused: %s\n", err.msg);
        abort();
    }

    /* The presigned form, with the host header only. */
    if (pier_sigv4_presign(&key, amz_date, 60, m, path, query, h, 1, &q, &err)
        != PIER_OK) {
        abort();
    }
    if (pier_buf_addstr(&full, query) != PIER_OK
        || (query.len > 0 && pier_buf_addch(&full, '&') != PIER_OK)
        || pier_buf_addstr(&full, pier_buf_str(&q)) != PIER_OK) {
        abort();
    }
    vr.query = pier_buf_str(&full);
    vr.nheaders = 1;
    if (pier_sigv4_verify(&vr, &out, &err) != PIER_OK) {
        fprintf(stderr, "presigned request refused: %s\n", err.msg);
        abort();
    }
    pier_free(m);
    pier_buf_release(&auth);
    pier_buf_release(&q);
    pier_buf_release(&full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pier_str lines[3] = {PIER_STR_NULL, PIER_STR_NULL, PIER_STR_NULL};
    struct pier_kv h[MAX_HEADERS];
    size_t nh = 0, i = 0, nl = 0;
    const char *p = (const char *) data, *end = p + size;
    struct pier_buf out;
    struct pier_err err;
    struct pier_sigv4_verify_req vr;
    struct pier_sigv4_auth auth;
    char *method;
    time_t t;

    (void) i;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t) (end - p));
        struct pier_str line;

        if (eol == NULL) {
            eol = end;
        }
        line = pier_str_make(p, (size_t) (eol - p));
        if (nl < 3) {
            lines[nl++] = line;
        } else if (nh < MAX_HEADERS) {
            const char *colon = memchr(line.ptr, ':', line.len);

            if (colon != NULL) {
                h[nh].name =
                    pier_str_make(line.ptr, (size_t) (colon - line.ptr));
                h[nh].value =
                    pier_str_make(colon + 1, line.len - h[nh].name.len - 1);
                nh++;
            }
        }
        p = eol + 1;
    }
    for (i = 0; i < 3; i++) {
        if (lines[i].ptr == NULL) {
            lines[i] = PIER_STR("");
        }
    }
    method = pier_strndup(lines[0].ptr, lines[0].len);
    pier_buf_init(&out, 1 << 20);

    /* The canonicalisers. */
    (void) pier_sigv4_canonical_query(lines[2], &out, &err);
    pier_buf_reset(&out);
    {
        struct pier_sigv4_req req = {
            method, lines[1], lines[2], h, nh, PIER_SIGV4_EMPTY_SHA256, 0};

        (void) pier_sigv4_canonical_request(&req, true, &out, &err);
        pier_buf_reset(&out);
        (void) pier_sigv4_canonical_request(&req, false, &out, &err);
        pier_buf_reset(&out);
        req.flags = PIER_SIGV4_NO_NORMALIZE;
        (void) pier_sigv4_canonical_request(&req, false, &out, &err);
        pier_buf_reset(&out);
    }
    {
        struct pier_sigv2_req r2 = {
            method, PIER_STR("/b"), lines[1], lines[2], h, nh, NULL};

        (void) pier_sigv2_string_to_sign(&r2, &out, &err);
        pier_buf_reset(&out);
    }
    (void) pier_sigv4_parse_date(lines[0], &t);
    (void) pier_http_date_parse(lines[0], &t);

    /* The verifier, with whatever Authorization or query came in. */
    memset(&vr, 0, sizeof(vr));
    vr.method = lines[0];
    vr.path = lines[1];
    vr.query = lines[2];
    vr.headers = h;
    vr.nheaders = nh;
    vr.now = NOW;
    vr.region = (size & 1) ? "us-east-1" : NULL;
    vr.v2_resource_prefix = PIER_STR("/b");
    vr.lookup = lookup;
    if (pier_sigv4_verify(&vr, &auth, &err) != PIER_OK) {
        PIER_ASSERT(err.s3 != PIER_S3_NONE);
        PIER_ASSERT(err.http >= 400);
    }

    round_trip(lines[0], lines[1], lines[2], h, nh);
    pier_buf_release(&out);
    pier_free(method);
    return 0;
}
