/*
 * lib/sigv4.c - AWS Signature Version 4, signing and verifying.
 *
 * One canonicaliser serves both sides: the signer signs every header it is
 * given, the verifier only those named in SignedHeaders, in that order.
 * The canonical query is always rebuilt from the raw query (split, decode,
 * re-encode, sort), so clients that encode differently from us ('~' or
 * '/' or lower-case hex) still verify, as with AWS itself.
 *
 * Reference: "Create a signed AWS API request", AWS IAM User Guide, and
 * "Authenticating Requests (AWS Signature Version 4)", Amazon S3 API
 * Reference. Test vectors: tests/data/sigv4 and tests/data/sigv4-s3.
 */
#include "config.h"

#include "lib/sigv4.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "lib/sha.h"
#include "lib/sigv2.h"

#define ADD(call)              \
    do {                       \
        if ((call) != PIER_OK) \
            goto full;         \
    } while (0)

static const char hexdigits[] = "0123456789ABCDEF";

static bool
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
full_err(struct pier_err *err)
{
    return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                       "signing buffer passed its maximum");
}

static int
add_pct(struct pier_buf *out, unsigned char c)
{
    char e[3] = {'%', hexdigits[c >> 4], hexdigits[c & 15]};

    return pier_buf_add(out, e, 3);
}

int
pier_sigv4_uri_encode(struct pier_str s, bool keep_slash, struct pier_buf *out,
                      struct pier_err *err)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];

        if (unreserved(c) || (keep_slash && c == '/')) {
            ADD(pier_buf_addch(out, (char) c));
        } else {
            ADD(add_pct(out, c));
        }
    }
    return PIER_OK;
full:
    return full_err(err);
}

int
pier_uri_decode(struct pier_str s, bool plus_space, struct pier_buf *out,
                struct pier_err *err)
{
    size_t i, from = 0;

    /* Runs of literal bytes go in one append each. */
    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];
        int hi, lo;
        char ch;

        if (c == '%' && s.len - i >= 3
            && (hi = pier_hexval((unsigned char) (unsigned char) s.ptr[i + 1])) >= 0
            && (lo = pier_hexval((unsigned char) (unsigned char) s.ptr[i + 2])) >= 0) {
            ch = (char) (hi << 4 | lo);
        } else if (c == '+' && plus_space) {
            ch = ' ';
        } else {
            continue;
        }
        ADD(pier_buf_add(out, s.ptr + from, i - from));
        ADD(pier_buf_addch(out, ch));
        i += c == '%' ? 2 : 0;
        from = i + 1;
    }
    ADD(pier_buf_add(out, s.ptr + from, s.len - from));
    return PIER_OK;
full:
    return full_err(err);
}

bool
pier_sigv4_is_s3(const char *service)
{
    return service == NULL || strcmp(service, "s3") == 0;
}

/* S3's canonical URI: the path as sent, with only its percent-encoding
 * made canonical. An escape of an unreserved byte becomes the byte; other
 * escapes get upper-case digits; literal bytes outside the unreserved set
 * and '/' get encoded. "%2F" stays encoded, so a key holding a slash that
 * the client escaped does not turn into a path separator. */
static int
s3_uri(struct pier_str path, struct pier_buf *out, struct pier_err *err)
{
    size_t i;

    if (path.len == 0) {
        ADD(pier_buf_addch(out, '/'));
        return PIER_OK;
    }
    for (i = 0; i < path.len; i++) {
        unsigned char c = (unsigned char) path.ptr[i];
        int hi, lo;

        if (c == '%' && path.len - i >= 3
            && (hi = pier_hexval((unsigned char) (unsigned char) path.ptr[i + 1])) >= 0
            && (lo = pier_hexval((unsigned char) (unsigned char) path.ptr[i + 2])) >= 0) {
            c = (unsigned char) (hi << 4 | lo);
            i += 2;
            if (unreserved(c)) {
                ADD(pier_buf_addch(out, (char) c));
            } else {
                ADD(add_pct(out, c));
            }
        } else if (unreserved(c) || c == '/') {
            ADD(pier_buf_addch(out, (char) c));
        } else {
            ADD(add_pct(out, c));
        }
    }
    return PIER_OK;
full:
    return full_err(err);
}

/* Other services: remove empty and dot segments (RFC 3986 5.2.4, plus
 * empty segments, as the AWS SDKs do), keeping a trailing slash, then
 * encode everything, '%' included. */
static int
generic_uri(struct pier_str path, bool normalize, struct pier_buf *out,
            struct pier_err *err)
{
    struct pier_buf norm;
    size_t *stack = NULL, nseg = 0, i, start;
    bool trailing = false;
    int rc;

    if (!normalize) {
        if (path.len == 0) {
            path = PIER_STR("/");
        }
        return pier_sigv4_uri_encode(path, true, out, err);
    }
    /* stack[k] is the length of norm before segment k was added. */
    pier_buf_init(&norm, SIZE_MAX);
    stack = pier_calloc(path.len / 2 + 2, sizeof(*stack));
    for (i = 0; i <= path.len; i = start + 1) {
        size_t e;
        struct pier_str seg;

        start = i;
        for (e = i; e < path.len && path.ptr[e] != '/'; e++) {
        }
        seg = pier_str_make(path.ptr + i, e - i);
        start = e;
        trailing = seg.len == 0 || pier_str_eq(seg, PIER_STR("."))
                   || pier_str_eq(seg, PIER_STR(".."));
        if (seg.len == 0 || pier_str_eq(seg, PIER_STR("."))) {
            continue;
        }
        if (pier_str_eq(seg, PIER_STR(".."))) {
            if (nseg > 0) {
                pier_buf_truncate(&norm, stack[--nseg]);
            }
            continue;
        }
        stack[nseg++] = norm.len;
        if (pier_buf_addch(&norm, '/') != PIER_OK
            || pier_buf_addstr(&norm, seg) != PIER_OK) {
            PIER_ASSERT(!"unlimited buffer full");
        }
    }
    if (norm.len == 0 || trailing) {
        if (pier_buf_addch(&norm, '/') != PIER_OK) {
            PIER_ASSERT(!"unlimited buffer full");
        }
    }
    rc = pier_sigv4_uri_encode(pier_buf_str(&norm), true, out, err);
    pier_free(stack);
    pier_buf_release(&norm);
    return rc;
}

/* One query parameter or header, as offsets into a scratch buffer (which
 * may move while it grows). */
struct item {
    size_t name, namelen;
    size_t value, valuelen;
    size_t index;
};

/* qsort() has no context argument: the scratch buffer's base goes
 * through a thread-local, so threads can sort at once. */
static __thread const char *tls_sort_base;

static int
cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c != 0) {
        return c;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int
cmp_item(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;
    const char *base = tls_sort_base;
    int c = cmp_bytes(base + a->name, a->namelen, base + b->name, b->namelen);

    if (c != 0) {
        return c;
    }
    c = cmp_bytes(base + a->value, a->valuelen, base + b->value, b->valuelen);
    if (c != 0) {
        return c;
    }
    return a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

static void
sort_items(struct item *items, size_t n, const char *base)
{
    tls_sort_base = base;
    qsort(items, n, sizeof(*items), cmp_item);
    tls_sort_base = NULL;
}

/* Canonical query of raw, leaving out any parameter whose decoded name is
 * skip (X-Amz-Signature when verifying a presigned URL). */
static int
canonical_query(struct pier_str raw, struct pier_str skip, struct pier_buf *out,
                struct pier_err *err)
{
    struct pier_buf scratch, dec;
    struct item *items = NULL;
    size_t n = 0, cap = 0, i, start, e;
    int rc = PIER_ERR;

    pier_buf_init(&scratch, SIZE_MAX);
    pier_buf_init(&dec, SIZE_MAX);
    for (i = 0; i < raw.len; i = e + 1) {
        struct pier_str piece, name, value;
        const char *eq;

        start = i;
        for (e = start; e < raw.len && raw.ptr[e] != '&'; e++) {
        }
        piece = pier_str_make(raw.ptr + start, e - start);
        if (piece.len == 0) {
            continue;
        }
        eq = memchr(piece.ptr, '=', piece.len);
        name = pier_str_make(piece.ptr, eq != NULL ? (size_t) (eq - piece.ptr)
                                                   : piece.len);
        value = eq != NULL ? pier_str_make(eq + 1, piece.len - name.len - 1)
                           : PIER_STR("");
        pier_buf_reset(&dec);
        if (pier_uri_decode(name, true, &dec, err) != PIER_OK) {
            goto out;
        }
        if (skip.len > 0 && pier_str_eq(pier_buf_str(&dec), skip)) {
            continue;
        }
        if (n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            items = pier_realloc(items, cap * sizeof(*items));
        }
        items[n].index = n;
        items[n].name = scratch.len;
        if (pier_sigv4_uri_encode(pier_buf_str(&dec), false, &scratch, err)
            != PIER_OK) {
            goto out;
        }
        items[n].namelen = scratch.len - items[n].name;
        pier_buf_reset(&dec);
        items[n].value = scratch.len;
        if (pier_uri_decode(value, true, &dec, err) != PIER_OK
            || pier_sigv4_uri_encode(pier_buf_str(&dec), false, &scratch, err)
                   != PIER_OK) {
            goto out;
        }
        items[n].valuelen = scratch.len - items[n].value;
        n++;
    }
    if (n > 0) {
        sort_items(items, n, scratch.data);
    }
    for (i = 0; i < n; i++) {
        if (i > 0 && pier_buf_addch(out, '&') != PIER_OK) {
            goto full;
        }
        if (pier_buf_add(out, scratch.data + items[i].name, items[i].namelen)
                != PIER_OK
            || pier_buf_addch(out, '=') != PIER_OK
            || pier_buf_add(out, scratch.data + items[i].value,
                            items[i].valuelen)
                   != PIER_OK) {
            goto full;
        }
    }
    rc = PIER_OK;
    goto out;
full:
    rc = full_err(err);
out:
    pier_free(items);
    pier_buf_release(&scratch);
    pier_buf_release(&dec);
    return rc;
}

int
pier_sigv4_canonical_query(struct pier_str query, struct pier_buf *out,
                           struct pier_err *err)
{
    return canonical_query(query, PIER_STR_NULL, out, err);
}

/* Append a header value trimmed, with whitespace runs made one space. */
static int
add_value(struct pier_buf *out, struct pier_str v)
{
    size_t i = 0, e = v.len;
    bool space = false;

    while (i < e && is_space((unsigned char) v.ptr[i])) {
        i++;
    }
    while (e > i && is_space((unsigned char) v.ptr[e - 1])) {
        e--;
    }
    for (; i < e; i++) {
        unsigned char c = (unsigned char) v.ptr[i];

        if (is_space(c)) {
            space = true;
            continue;
        }
        if (space && pier_buf_addch(out, ' ') != PIER_OK) {
            return PIER_ERR;
        }
        space = false;
        if (pier_buf_addch(out, (char) c) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

static int
add_lower(struct pier_buf *out, struct pier_str s)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];

        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char) (c - 'A' + 'a');
        }
        if (pier_buf_addch(out, (char) c) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

/* The signer's canonical headers: all of headers (plus extra when its
 * name is set), sorted by lower-case name, repeats joined. Appends the
 * "name:value\n" lines to canon and "a;b;c" to signed_list. */
static int
canonical_headers_all(const struct pier_kv *headers, size_t nheaders,
                      const struct pier_kv *extra, struct pier_buf *canon,
                      struct pier_buf *signed_list, struct pier_err *err)
{
    struct pier_buf scratch;
    struct item *items;
    size_t n = nheaders + (extra != NULL ? 1 : 0), i, k = 0;
    int rc = PIER_ERR;

    pier_buf_init(&scratch, SIZE_MAX);
    items = pier_calloc(n + 1, sizeof(*items));
    for (i = 0; i < n; i++) {
        const struct pier_kv *h = i < nheaders ? &headers[i] : extra;

        items[i].index = i;
        items[i].name = scratch.len;
        if (add_lower(&scratch, h->name) != PIER_OK) {
            goto full;
        }
        items[i].namelen = scratch.len - items[i].name;
        /* Sort by name, then by position: value offsets must not take
         * part, so give every item an empty value for the sort. */
        items[i].value = scratch.len;
        items[i].valuelen = 0;
    }
    if (n > 0) {
        sort_items(items, n, scratch.data);
    }
    for (i = 0; i < n; i = k) {
        const char *name = scratch.data + items[i].name;
        size_t namelen = items[i].namelen;

        if (i > 0 && pier_buf_addch(signed_list, ';') != PIER_OK) {
            goto full;
        }
        if (pier_buf_add(signed_list, name, namelen) != PIER_OK
            || pier_buf_add(canon, name, namelen) != PIER_OK
            || pier_buf_addch(canon, ':') != PIER_OK) {
            goto full;
        }
        for (k = i; k < n && items[k].namelen == namelen
                    && memcmp(scratch.data + items[k].name, name, namelen) == 0;
             k++) {
            size_t idx = items[k].index;
            const struct pier_kv *h = idx < nheaders ? &headers[idx] : extra;

            if (k > i && pier_buf_addch(canon, ',') != PIER_OK) {
                goto full;
            }
            if (add_value(canon, h->value) != PIER_OK) {
                goto full;
            }
        }
        if (pier_buf_addch(canon, '\n') != PIER_OK) {
            goto full;
        }
    }
    rc = PIER_OK;
    goto out;
full:
    rc = full_err(err);
out:
    pier_free(items);
    pier_buf_release(&scratch);
    return rc;
}

/* The verifier's canonical headers: those named in signed_list, in its
 * order. A signed header the request lacks fails the signature. */
static int
canonical_headers_signed(const struct pier_kv *headers, size_t nheaders,
                         struct pier_str signed_list, struct pier_buf *canon,
                         struct pier_err *err)
{
    size_t i = 0, e, k;

    while (i < signed_list.len) {
        struct pier_str name;
        bool found = false;

        for (e = i; e < signed_list.len && signed_list.ptr[e] != ';'; e++) {
        }
        name = pier_str_make(signed_list.ptr + i, e - i);
        if (name.len == 0) {
            return pier_err_s3(err, PIER_S3_AUTH_HEADER_MALFORMED,
                               "empty name in SignedHeaders");
        }
        if (add_lower(canon, name) != PIER_OK
            || pier_buf_addch(canon, ':') != PIER_OK) {
            return full_err(err);
        }
        for (k = 0; k < nheaders; k++) {
            if (!pier_str_caseeq(headers[k].name, name)) {
                continue;
            }
            if (found && pier_buf_addch(canon, ',') != PIER_OK) {
                return full_err(err);
            }
            if (add_value(canon, headers[k].value) != PIER_OK) {
                return full_err(err);
            }
            found = true;
        }
        if (!found) {
            return pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                               "signed header '%.*s' is missing",
                               (int) (name.len > 64 ? 64 : name.len), name.ptr);
        }
        if (pier_buf_addch(canon, '\n') != PIER_OK) {
            return full_err(err);
        }
        i = e + 1;
    }
    return PIER_OK;
}

static int
add_uri(struct pier_str path, bool s3, bool normalize, struct pier_buf *out,
        struct pier_err *err)
{
    return s3 ? s3_uri(path, out, err) : generic_uri(path, normalize, out, err);
}

int
pier_sigv4_canonical_request(const struct pier_sigv4_req *req, bool s3_rules,
                             struct pier_buf *out, struct pier_err *err)
{
    struct pier_buf sl;
    int rc = PIER_ERR;

    pier_buf_init(&sl, SIZE_MAX);
    if (pier_buf_adds(out, req->method) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK) {
        goto full;
    }
    if (add_uri(req->path, s3_rules, !(req->flags & PIER_SIGV4_NO_NORMALIZE),
                out, err)
            != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK) {
        goto out;
    }
    if (canonical_query(req->query, PIER_STR_NULL, out, err) != PIER_OK) {
        goto out;
    }
    if (pier_buf_addch(out, '\n') != PIER_OK) {
        goto full;
    }
    if (canonical_headers_all(req->headers, req->nheaders, NULL, out, &sl, err)
        != PIER_OK) {
        goto out;
    }
    if (pier_buf_addch(out, '\n') != PIER_OK
        || pier_buf_addstr(out, pier_buf_str(&sl)) != PIER_OK
        || pier_buf_addch(out, '\n') != PIER_OK
        || pier_buf_adds(out, req->payload_hash) != PIER_OK) {
        goto full;
    }
    rc = PIER_OK;
    goto out;
full:
    rc = full_err(err);
out:
    pier_buf_release(&sl);
    return rc;
}

/* The last signing key this thread derived, and what it came from: a
 * server verifies a day of one key's requests with the same key, and the
 * chain costs four HMACs. */
static _Thread_local struct {
    bool ok;
    char secret[129];
    char date8[9];
    char region[64];
    char service[32];
    unsigned char key[32];
} last_key;

static bool
last_key_is(const char *secret, size_t slen, struct pier_str date8,
            struct pier_str region, struct pier_str service)
{
    return last_key.ok && slen == strlen(last_key.secret)
           && CRYPTO_memcmp(last_key.secret, secret, slen) == 0
           && pier_str_eq(date8, pier_str_cstr(last_key.date8))
           && pier_str_eq(region, pier_str_cstr(last_key.region))
           && pier_str_eq(service, pier_str_cstr(last_key.service));
}

void
pier_sigv4_signing_key(const char *secret, struct pier_str date8,
                       struct pier_str region, struct pier_str service,
                       unsigned char out[32])
{
    struct pier_buf k;
    unsigned char a[32], b[32];
    size_t slen = strlen(secret);

    if (last_key_is(secret, slen, date8, region, service)) {
        memcpy(out, last_key.key, 32);
        return;
    }
    pier_buf_init(&k, SIZE_MAX);
    if (pier_buf_adds(&k, "AWS4") != PIER_OK
        || pier_buf_adds(&k, secret) != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_hmac_sha256(k.data, k.len, date8.ptr, date8.len, a);
    pier_hmac_sha256(a, 32, region.ptr, region.len, b);
    pier_hmac_sha256(b, 32, service.ptr, service.len, a);
    pier_hmac_sha256(a, 32, "aws4_request", 12, out);
    last_key.ok = slen < sizeof(last_key.secret)
                  && date8.len < sizeof(last_key.date8)
                  && region.len < sizeof(last_key.region)
                  && service.len < sizeof(last_key.service);
    if (last_key.ok) {
        memcpy(last_key.secret, secret, slen + 1);
        snprintf(last_key.date8, sizeof(last_key.date8), "%.*s",
                 (int) date8.len, date8.ptr);
        snprintf(last_key.region, sizeof(last_key.region), "%.*s",
                 (int) region.len, region.ptr);
        snprintf(last_key.service, sizeof(last_key.service), "%.*s",
                 (int) service.len, service.ptr);
        memcpy(last_key.key, out, 32);
    }
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    OPENSSL_cleanse(k.data, k.len);
    pier_buf_release(&k);
}

void
pier_sigv4_hmac_hex(const unsigned char key[32], struct pier_str msg,
                    char out[65])
{
    unsigned char mac[32];

    pier_hmac_sha256(key, 32, msg.ptr, msg.len, mac);
    pier_hex(mac, 32, out);
}

static void
chained_signature(const char *algo, const unsigned char key[32],
                  const char *amz_date, struct pier_str scope,
                  const char *prev_sig, const char *middle,
                  const char *last_hex, char out[65])
{
    struct pier_buf sts;

    pier_buf_init(&sts, SIZE_MAX);
    if (pier_buf_addf(&sts, "%s\n%s\n%.*s\n%s\n", algo, amz_date,
                      (int) scope.len, scope.ptr, prev_sig)
            != PIER_OK
        || (middle != NULL && pier_buf_addf(&sts, "%s\n", middle) != PIER_OK)
        || pier_buf_adds(&sts, last_hex) != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_sigv4_hmac_hex(key, pier_buf_str(&sts), out);
    pier_buf_release(&sts);
}

void
pier_sigv4_chunk_signature(const unsigned char key[32], const char *amz_date,
                           struct pier_str scope, const char *prev_sig,
                           const char *data_sha256_hex, char out[65])
{
    chained_signature("AWS4-HMAC-SHA256-PAYLOAD", key, amz_date, scope,
                      prev_sig, PIER_SIGV4_EMPTY_SHA256, data_sha256_hex, out);
}

void
pier_sigv4_trailer_signature(const unsigned char key[32], const char *amz_date,
                             struct pier_str scope, const char *prev_sig,
                             const char *trailer_sha256_hex, char out[65])
{
    chained_signature("AWS4-HMAC-SHA256-TRAILER", key, amz_date, scope,
                      prev_sig, NULL, trailer_sha256_hex, out);
}

static bool
digits(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

static int
num(const char *p, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int
pier_sigv4_parse_date(struct pier_str s, time_t *t)
{
    struct tm tm;
    time_t r;

    if (s.len != 16 || s.ptr[8] != 'T' || s.ptr[15] != 'Z' || !digits(s.ptr, 8)
        || !digits(s.ptr + 9, 6)) {
        return PIER_ERR;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = num(s.ptr, 4) - 1900;
    tm.tm_mon = num(s.ptr + 4, 2) - 1;
    tm.tm_mday = num(s.ptr + 6, 2);
    tm.tm_hour = num(s.ptr + 9, 2);
    tm.tm_min = num(s.ptr + 11, 2);
    tm.tm_sec = num(s.ptr + 13, 2);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31
        || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return PIER_ERR;
    }
    r = timegm(&tm);
    if (r == (time_t) -1) {
        return PIER_ERR;
    }
    *t = r;
    return PIER_OK;
}

void
pier_sigv4_format_date(time_t t, char out[17])
{
    struct tm tm;

    PIER_ASSERT(gmtime_r(&t, &tm) != NULL);
    PIER_ASSERT(strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16);
}

/* What every signing call shares. */
struct signer {
    const struct pier_sigv4_key *key;
    const char *amz_date;
    bool s3;
    struct pier_buf scope;
    struct pier_buf creq;
    struct pier_buf sts;
    struct pier_buf signed_list;
    struct pier_buf headers; /* canonical header lines */
    struct pier_kv token;    /* x-amz-security-token to add, or name.len 0 */
    char signature[65];
};

static int
signer_init(struct signer *s, const struct pier_sigv4_key *key,
            const char *amz_date, const struct pier_sigv4_req *req,
            bool token_header, struct pier_err *err)
{
    time_t t;

    memset(s, 0, sizeof(*s));
    s->key = key;
    s->amz_date = amz_date;
    s->s3 = pier_sigv4_is_s3(key->service);
    pier_buf_init(&s->scope, SIZE_MAX);
    pier_buf_init(&s->creq, SIZE_MAX);
    pier_buf_init(&s->sts, SIZE_MAX);
    pier_buf_init(&s->signed_list, SIZE_MAX);
    pier_buf_init(&s->headers, SIZE_MAX);
    if (amz_date == NULL
        || pier_sigv4_parse_date(pier_str_cstr(amz_date), &t) != PIER_OK) {
        return pier_err_set(err, "bad x-amz-date '%s'",
                            amz_date != NULL ? amz_date : "(null)");
    }
    if (pier_buf_addf(&s->scope, "%.8s/%s/%s/aws4_request", amz_date,
                      key->region, key->service != NULL ? key->service : "s3")
        != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (token_header && key->session_token != NULL
        && pier_kv_get(req->headers, req->nheaders,
                       PIER_STR("x-amz-security-token"))
                   .ptr
               == NULL) {
        s->token.name = PIER_STR("x-amz-security-token");
        s->token.value = pier_str_cstr(key->session_token);
    }
    return canonical_headers_all(req->headers, req->nheaders,
                                 s->token.name.len > 0 ? &s->token : NULL,
                                 &s->headers, &s->signed_list, err);
}

static void
signer_release(struct signer *s)
{
    pier_buf_release(&s->scope);
    pier_buf_release(&s->creq);
    pier_buf_release(&s->sts);
    pier_buf_release(&s->signed_list);
    pier_buf_release(&s->headers);
}

/* Build the canonical request around an already canonical query, the
 * string to sign, and the signature. */
static int
signer_sign(struct signer *s, const struct pier_sigv4_req *req,
            struct pier_str raw_query, struct pier_str payload_hash,
            struct pier_err *err)
{
    char crhash[65];
    unsigned char key[32];
    const char *service = s->key->service != NULL ? s->key->service : "s3";

    if (pier_buf_adds(&s->creq, req->method) != PIER_OK
        || pier_buf_addch(&s->creq, '\n') != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (add_uri(req->path, s->s3, !(req->flags & PIER_SIGV4_NO_NORMALIZE),
                &s->creq, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (pier_buf_addch(&s->creq, '\n') != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (canonical_query(raw_query, PIER_STR_NULL, &s->creq, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (pier_buf_addch(&s->creq, '\n') != PIER_OK
        || pier_buf_addstr(&s->creq, pier_buf_str(&s->headers)) != PIER_OK
        || pier_buf_addch(&s->creq, '\n') != PIER_OK
        || pier_buf_addstr(&s->creq, pier_buf_str(&s->signed_list)) != PIER_OK
        || pier_buf_addch(&s->creq, '\n') != PIER_OK
        || pier_buf_addstr(&s->creq, payload_hash) != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_sha256_hex(s->creq.data, s->creq.len, crhash);
    if (pier_buf_addf(&s->sts, "%s\n%s\n%s\n%s", PIER_SIGV4_ALGORITHM,
                      s->amz_date, s->scope.data, crhash)
        != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_sigv4_signing_key(
        s->key->secret_access_key, pier_str_make(s->amz_date, 8),
        pier_str_cstr(s->key->region), pier_str_cstr(service), key);
    pier_sigv4_hmac_hex(key, pier_buf_str(&s->sts), s->signature);
    OPENSSL_cleanse(key, sizeof(key));
    return PIER_OK;
}

static int
copy_debug(const struct signer *s, struct pier_buf *canonical,
           struct pier_buf *string_to_sign, struct pier_err *err)
{
    if ((canonical != NULL
         && pier_buf_addstr(canonical, pier_buf_str(&s->creq)) != PIER_OK)
        || (string_to_sign != NULL
            && pier_buf_addstr(string_to_sign, pier_buf_str(&s->sts))
                   != PIER_OK)) {
        return full_err(err);
    }
    return PIER_OK;
}

int
pier_sigv4_sign_req(const struct pier_sigv4_key *key, const char *amz_date,
                    const struct pier_sigv4_req *req, struct pier_buf *out,
                    struct pier_buf *canonical, struct pier_buf *string_to_sign,
                    struct pier_err *err)
{
    struct signer s;
    int rc = PIER_ERR;

    if (signer_init(&s, key, amz_date, req, true, err) != PIER_OK
        || signer_sign(&s, req, req->query, pier_str_cstr(req->payload_hash),
                       err)
               != PIER_OK) {
        goto out;
    }
    if (pier_buf_addf(out,
                      "%s Credential=%s/%s, SignedHeaders=%s, "
                      "Signature=%s",
                      PIER_SIGV4_ALGORITHM, key->access_key_id, s.scope.data,
                      s.signed_list.data, s.signature)
        != PIER_OK) {
        rc = full_err(err);
        goto out;
    }
    rc = copy_debug(&s, canonical, string_to_sign, err);
out:
    signer_release(&s);
    return rc;
}

int
pier_sigv4_authorization(const struct pier_sigv4_key *key, const char *amz_date,
                         const char *method, struct pier_str path,
                         struct pier_str query, const struct pier_kv *headers,
                         size_t nheaders, const char *payload_hash,
                         struct pier_buf *out, struct pier_err *err)
{
    struct pier_sigv4_req req = {
        .method = method,
        .path = path,
        .query = query,
        .headers = headers,
        .nheaders = nheaders,
        .payload_hash = payload_hash,
    };

    return pier_sigv4_sign_req(key, amz_date, &req, out, NULL, NULL, err);
}

int
pier_sigv4_presign_req(const struct pier_sigv4_key *key, const char *amz_date,
                       unsigned expires_s, const struct pier_sigv4_req *req,
                       struct pier_buf *out_query, struct pier_buf *canonical,
                       struct pier_buf *string_to_sign, struct pier_err *err)
{
    struct signer s;
    struct pier_buf params, cred, all;
    int rc = PIER_ERR;

    pier_buf_init(&params, SIZE_MAX);
    pier_buf_init(&cred, SIZE_MAX);
    pier_buf_init(&all, SIZE_MAX);
    if (signer_init(&s, key, amz_date, req, false, err) != PIER_OK) {
        goto out;
    }
    if (expires_s < 1 || expires_s > PIER_SIGV4_MAX_EXPIRES_S) {
        rc = pier_err_set(err, "presign expiry %u s is not in 1..%d", expires_s,
                          PIER_SIGV4_MAX_EXPIRES_S);
        goto out;
    }
    if (pier_buf_addf(&cred, "%s/%s", key->access_key_id, s.scope.data)
            != PIER_OK
        || pier_buf_addf(&params, "X-Amz-Algorithm=%s&X-Amz-Credential=",
                         PIER_SIGV4_ALGORITHM)
               != PIER_OK
        || pier_sigv4_uri_encode(pier_buf_str(&cred), false, &params, err)
               != PIER_OK
        || pier_buf_addf(&params, "&X-Amz-Date=%s&X-Amz-Expires=%u", amz_date,
                         expires_s)
               != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (pier_buf_adds(&params, "&X-Amz-SignedHeaders=") != PIER_OK
        || pier_sigv4_uri_encode(pier_buf_str(&s.signed_list), false, &params,
                                 err)
               != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (key->session_token != NULL
        && (pier_buf_adds(&params, "&X-Amz-Security-Token=") != PIER_OK
            || pier_sigv4_uri_encode(pier_str_cstr(key->session_token), false,
                                     &params, err)
                   != PIER_OK)) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (pier_buf_addstr(&all, req->query) != PIER_OK
        || (req->query.len > 0 && pier_buf_addch(&all, '&') != PIER_OK)
        || pier_buf_addstr(&all, pier_buf_str(&params)) != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (signer_sign(&s, req, pier_buf_str(&all),
                    pier_str_cstr(req->payload_hash), err)
        != PIER_OK) {
        goto out;
    }
    if (pier_buf_addstr(out_query, pier_buf_str(&params)) != PIER_OK
        || pier_buf_addf(out_query, "&X-Amz-Signature=%s", s.signature)
               != PIER_OK) {
        rc = full_err(err);
        goto out;
    }
    rc = copy_debug(&s, canonical, string_to_sign, err);
out:
    signer_release(&s);
    pier_buf_release(&params);
    pier_buf_release(&cred);
    pier_buf_release(&all);
    return rc;
}

int
pier_sigv4_presign(const struct pier_sigv4_key *key, const char *amz_date,
                   unsigned expires_s, const char *method, struct pier_str path,
                   struct pier_str query, const struct pier_kv *headers,
                   size_t nheaders, struct pier_buf *out_query,
                   struct pier_err *err)
{
    struct pier_sigv4_req req = {
        .method = method,
        .path = path,
        .query = query,
        .headers = headers,
        .nheaders = nheaders,
        .payload_hash = pier_sigv4_is_s3(key->service)
                            ? PIER_SIGV4_UNSIGNED_PAYLOAD
                            : PIER_SIGV4_EMPTY_SHA256,
    };

    return pier_sigv4_presign_req(key, amz_date, expires_s, &req, out_query,
                                  NULL, NULL, err);
}

struct pier_str
pier_kv_get(const struct pier_kv *kv, size_t n, struct pier_str name)
{
    struct pier_str v = PIER_STR_NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        if (pier_str_caseeq(kv[i].name, name)) {
            v = kv[i].value;
            if (v.ptr == NULL) {
                v.ptr = "";
            }
        }
    }
    return v;
}

int
pier_query_get(struct pier_str query, struct pier_str name,
               struct pier_buf *out, struct pier_err *err)
{
    struct pier_buf dec;
    size_t i, e;
    int rc = PIER_AGAIN;

    pier_buf_init(&dec, SIZE_MAX);
    for (i = 0; i < query.len; i = e + 1) {
        struct pier_str piece, n, v;
        const char *eq;

        for (e = i; e < query.len && query.ptr[e] != '&'; e++) {
        }
        piece = pier_str_make(query.ptr + i, e - i);
        eq = memchr(piece.ptr, '=', piece.len);
        n = pier_str_make(piece.ptr,
                          eq != NULL ? (size_t) (eq - piece.ptr) : piece.len);
        v = eq != NULL ? pier_str_make(eq + 1, piece.len - n.len - 1)
                       : PIER_STR("");
        pier_buf_reset(&dec);
        if (pier_uri_decode(n, true, &dec, err) != PIER_OK) {
            rc = PIER_ERR;
            break;
        }
        if (pier_str_eq(pier_buf_str(&dec), name)) {
            rc = pier_uri_decode(v, true, out, err);
            break;
        }
    }
    pier_buf_release(&dec);
    return rc;
}

/*
 * Verification.
 */

static bool
starts_with(struct pier_str s, const char *prefix)
{
    size_t n = strlen(prefix);

    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static struct pier_str
trim(struct pier_str s)
{
    while (s.len > 0 && is_space((unsigned char) s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_space((unsigned char) s.ptr[s.len - 1])) {
        s.len--;
    }
    return s;
}

static bool
has_param(struct pier_str query, const char *name)
{
    struct pier_buf v;
    struct pier_err ignore;
    int rc;

    pier_buf_init(&v, SIZE_MAX);
    rc = pier_query_get(query, pier_str_cstr(name), &v, &ignore);
    pier_buf_release(&v);
    return rc == PIER_OK;
}

/* The parts of a credential: "AKID/YYYYMMDD/region/service/aws4_request".
 * The key id is everything before the last four parts. */
struct cred {
    struct pier_str akid, date8, region, service, scope;
};

static int
parse_credential(struct pier_str c, struct cred *cr)
{
    const char *slash[4];
    size_t found = 0, i;

    for (i = c.len; i > 0 && found < 4; i--) {
        if (c.ptr[i - 1] == '/') {
            slash[found++] = c.ptr + i - 1;
        }
    }
    if (found < 4) {
        return PIER_ERR;
    }
    /* slash[3] ends the key id, slash[2] the date, slash[1] the region,
     * slash[0] the service. */
    cr->akid = pier_str_make(c.ptr, (size_t) (slash[3] - c.ptr));
    cr->date8 = pier_str_make(slash[3] + 1, (size_t) (slash[2] - slash[3] - 1));
    cr->region =
        pier_str_make(slash[2] + 1, (size_t) (slash[1] - slash[2] - 1));
    cr->service =
        pier_str_make(slash[1] + 1, (size_t) (slash[0] - slash[1] - 1));
    cr->scope =
        pier_str_make(slash[3] + 1, (size_t) (c.ptr + c.len - slash[3] - 1));
    if (cr->akid.len == 0 || cr->date8.len != 8 || !digits(cr->date8.ptr, 8)
        || cr->region.len == 0 || cr->service.len == 0
        || !pier_str_eq(pier_str_make(slash[0] + 1,
                                      (size_t) (c.ptr + c.len - slash[0] - 1)),
                        PIER_STR("aws4_request"))) {
        return PIER_ERR;
    }
    return PIER_OK;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
static int
parse_authorization(struct pier_str v, struct pier_str *cred,
                    struct pier_str *signed_list, struct pier_str *sig)
{
    size_t i, e;

    *cred = *signed_list = *sig = PIER_STR_NULL;
    v = trim(v);
    if (!starts_with(v, PIER_SIGV4_ALGORITHM)
        || v.len == strlen(PIER_SIGV4_ALGORITHM)
        || !is_space((unsigned char) v.ptr[strlen(PIER_SIGV4_ALGORITHM)])) {
        return PIER_ERR;
    }
    for (i = strlen(PIER_SIGV4_ALGORITHM); i < v.len; i = e + 1) {
        struct pier_str item, name, value, *slot;
        const char *eq;

        for (e = i; e < v.len && v.ptr[e] != ','; e++) {
        }
        item = trim(pier_str_make(v.ptr + i, e - i));
        eq = memchr(item.ptr, '=', item.len);
        if (item.len == 0 || eq == NULL) {
            return PIER_ERR;
        }
        name = pier_str_make(item.ptr, (size_t) (eq - item.ptr));
        value = pier_str_make(eq + 1, item.len - name.len - 1);
        if (pier_str_eq(name, PIER_STR("Credential"))) {
            slot = cred;
        } else if (pier_str_eq(name, PIER_STR("SignedHeaders"))) {
            slot = signed_list;
        } else if (pier_str_eq(name, PIER_STR("Signature"))) {
            slot = sig;
        } else {
            return PIER_ERR;
        }
        if (slot->ptr != NULL || value.len == 0) {
            return PIER_ERR;
        }
        *slot = value;
    }
    return cred->ptr != NULL && signed_list->ptr != NULL && sig->ptr != NULL
               ? PIER_OK
               : PIER_ERR;
}

static bool
list_has(struct pier_str list, struct pier_str name)
{
    size_t i = 0, e;

    while (i <= list.len) {
        for (e = i; e < list.len && list.ptr[e] != ';'; e++) {
        }
        if (pier_str_caseeq(pier_str_make(list.ptr + i, e - i), name)) {
            return true;
        }
        i = e + 1;
    }
    return false;
}

static bool
is_hex64(struct pier_str s)
{
    size_t i;

    if (s.len != 64) {
        return false;
    }
    for (i = 0; i < 64; i++) {
        if (pier_hexval((unsigned char) (unsigned char) s.ptr[i]) < 0) {
            return false;
        }
    }
    return true;
}

static int
payload_mode(struct pier_str v, struct pier_sigv4_auth *auth,
             struct pier_err *err)
{
    size_t i;

    if (is_hex64(v)) {
        auth->payload = PIER_PAYLOAD_SIGNED;
        for (i = 0; i < 64; i++) {
            unsigned char c = (unsigned char) v.ptr[i];

            auth->payload_sha256[i] =
                (char) (c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        }
        auth->payload_sha256[64] = '\0';
    } else if (pier_str_eq(v, PIER_STR(PIER_SIGV4_UNSIGNED_PAYLOAD))) {
        auth->payload = PIER_PAYLOAD_UNSIGNED;
    } else if (pier_str_eq(v, PIER_STR(PIER_SIGV4_STREAMING_PAYLOAD))) {
        auth->payload = PIER_PAYLOAD_STREAMING;
    } else if (pier_str_eq(v, PIER_STR(PIER_SIGV4_STREAMING_TRAILER))) {
        auth->payload = PIER_PAYLOAD_STREAMING_TRAILER;
    } else if (pier_str_eq(v,
                           PIER_STR(PIER_SIGV4_STREAMING_UNSIGNED_TRAILER))) {
        auth->payload = PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    } else {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "bad x-amz-content-sha256 value");
    }
    return PIER_OK;
}

static int
trailer_checksum(struct pier_str v, enum pier_checksum *ck,
                 struct pier_err *err)
{
    v = trim(v);
    if (v.ptr == NULL || v.len == 0) {
        *ck = PIER_CHECKSUM_NONE;
    } else if (pier_str_caseeq(v, PIER_STR("x-amz-checksum-crc32"))) {
        *ck = PIER_CHECKSUM_CRC32;
    } else if (pier_str_caseeq(v, PIER_STR("x-amz-checksum-crc32c"))) {
        *ck = PIER_CHECKSUM_CRC32C;
    } else if (pier_str_caseeq(v, PIER_STR("x-amz-checksum-sha1"))) {
        *ck = PIER_CHECKSUM_SHA1;
    } else if (pier_str_caseeq(v, PIER_STR("x-amz-checksum-sha256"))) {
        *ck = PIER_CHECKSUM_SHA256;
    } else {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "unsupported x-amz-trailer '%.64s'",
                           v.ptr != NULL ? v.ptr : "");
    }
    return PIER_OK;
}

/* What the two SigV4 forms have parsed, for the common check. */
struct v4in {
    enum pier_sigv4_form form;
    enum pier_s3 malformed; /* AUTH_HEADER_MALFORMED or AUTH_QUERY_PARAMS */
    struct cred cred;
    struct pier_str amz_date;
    struct pier_str signed_list;
    struct pier_str signature;
    struct pier_str payload_hash;
    unsigned long expires_s; /* query form */
};

static int
v4_check(const struct pier_sigv4_verify_req *req, const struct v4in *in,
         struct pier_sigv4_auth *auth, struct pier_err *err)
{
    const char *service = req->service != NULL ? req->service : "s3";
    const char *secret;
    struct pier_buf creq, sts;
    char crhash[65], sig[65];
    unsigned char key[32];
    time_t t;
    int rc = PIER_ERR;

    if (req->region != NULL
        && !pier_str_eq(in->cred.region, pier_str_cstr(req->region))) {
        return pier_err_s3(
            err, in->malformed,
            "credential region '%.*s' is wrong; expecting "
            "'%s'",
            (int) (in->cred.region.len > 64 ? 64 : in->cred.region.len),
            in->cred.region.ptr, req->region);
    }
    if (!pier_str_eq(in->cred.service, pier_str_cstr(service))) {
        return pier_err_s3(err, in->malformed, "credential service is not '%s'",
                           service);
    }
    if (pier_sigv4_parse_date(in->amz_date, &t) != PIER_OK) {
        return pier_err_s3(err, in->malformed, "bad X-Amz-Date");
    }
    if (memcmp(in->amz_date.ptr, in->cred.date8.ptr, 8) != 0) {
        return pier_err_s3(err, in->malformed,
                           "credential date is not X-Amz-Date's");
    }
    if (in->cred.scope.len >= sizeof(auth->scope)) {
        return pier_err_s3(err, in->malformed, "credential scope too long");
    }
    if (!list_has(in->signed_list, PIER_STR("host"))) {
        return pier_err_s3(err, in->malformed,
                           "SignedHeaders does not include host");
    }
    if (in->cred.akid.len >= sizeof(auth->access_key_id)) {
        return pier_err_s3(err, PIER_S3_INVALID_ACCESS_KEY_ID,
                           "access key id of %zu bytes", in->cred.akid.len);
    }
    secret = req->lookup(req->lookup_data, in->cred.akid);
    if (secret == NULL) {
        return pier_err_s3(err, PIER_S3_INVALID_ACCESS_KEY_ID,
                           "unknown access key id '%.*s'",
                           (int) in->cred.akid.len, in->cred.akid.ptr);
    }
    if (in->form == PIER_AUTH_V4_HEADER) {
        if (t > req->now + PIER_SIGV4_MAX_SKEW_S
            || t < req->now - PIER_SIGV4_MAX_SKEW_S) {
            return pier_err_s3(err, PIER_S3_REQUEST_TIME_TOO_SKEWED,
                               "request time is %lld s from now",
                               (long long) (t - req->now));
        }
    } else {
        if (t > req->now + PIER_SIGV4_MAX_SKEW_S) {
            return pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                               "request is not valid yet");
        }
        if (req->now - t > (time_t) in->expires_s) {
            return pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                               "request has expired");
        }
    }

    pier_buf_init(&creq, SIZE_MAX);
    pier_buf_init(&sts, SIZE_MAX);
    if (pier_buf_addstr(&creq, req->method) != PIER_OK
        || pier_buf_addch(&creq, '\n') != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    if (add_uri(req->path, pier_sigv4_is_s3(service), true, &creq, err)
            != PIER_OK
        || pier_buf_addch(&creq, '\n') != PIER_OK
        || canonical_query(req->query,
                           in->form == PIER_AUTH_V4_QUERY
                               ? PIER_STR("X-Amz-Signature")
                               : PIER_STR_NULL,
                           &creq, err)
               != PIER_OK
        || pier_buf_addch(&creq, '\n') != PIER_OK
        || canonical_headers_signed(req->headers, req->nheaders,
                                    in->signed_list, &creq, err)
               != PIER_OK) {
        goto out;
    }
    if (pier_buf_addch(&creq, '\n') != PIER_OK
        || add_lower(&creq, in->signed_list) != PIER_OK
        || pier_buf_addch(&creq, '\n') != PIER_OK
        || pier_buf_addstr(&creq, in->payload_hash) != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_sha256_hex(creq.data, creq.len, crhash);
    if (pier_buf_addf(&sts, "%s\n%.16s\n%.*s\n%s", PIER_SIGV4_ALGORITHM,
                      in->amz_date.ptr, (int) in->cred.scope.len,
                      in->cred.scope.ptr, crhash)
        != PIER_OK) {
        PIER_ASSERT(!"unlimited buffer full");
    }
    pier_sigv4_signing_key(secret, in->cred.date8, in->cred.region,
                           in->cred.service, key);
    pier_sigv4_hmac_hex(key, pier_buf_str(&sts), sig);
    if (in->signature.len != 64
        || CRYPTO_memcmp(sig, in->signature.ptr, 64) != 0) {
        rc = pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                         "signature does not match for key '%.*s'",
                         (int) in->cred.akid.len, in->cred.akid.ptr);
        goto out;
    }
    auth->form = in->form;
    memcpy(auth->access_key_id, in->cred.akid.ptr, in->cred.akid.len);
    auth->access_key_id[in->cred.akid.len] = '\0';
    auth->request_time = t;
    memcpy(auth->signing_key, key, sizeof(key));
    memcpy(auth->seed_signature, sig, sizeof(sig));
    memcpy(auth->amz_date, in->amz_date.ptr, 16);
    auth->amz_date[16] = '\0';
    memcpy(auth->scope, in->cred.scope.ptr, in->cred.scope.len);
    auth->scope[in->cred.scope.len] = '\0';
    rc = PIER_OK;
out:
    OPENSSL_cleanse(key, sizeof(key));
    pier_buf_release(&creq);
    pier_buf_release(&sts);
    return rc;
}

static int
v4_header(const struct pier_sigv4_verify_req *req, struct pier_str authz,
          struct pier_sigv4_auth *auth, struct pier_err *err)
{
    struct v4in in;
    struct pier_str cred, trailer;
    const char *service = req->service != NULL ? req->service : "s3";

    memset(&in, 0, sizeof(in));
    in.form = PIER_AUTH_V4_HEADER;
    in.malformed = PIER_S3_AUTH_HEADER_MALFORMED;
    if (parse_authorization(authz, &cred, &in.signed_list, &in.signature)
        != PIER_OK) {
        return pier_err_s3(err, PIER_S3_AUTH_HEADER_MALFORMED,
                           "malformed SigV4 Authorization header");
    }
    if (parse_credential(cred, &in.cred) != PIER_OK) {
        return pier_err_s3(err, PIER_S3_AUTH_HEADER_MALFORMED,
                           "malformed SigV4 credential");
    }
    in.amz_date =
        trim(pier_kv_get(req->headers, req->nheaders, PIER_STR("x-amz-date")));
    if (in.amz_date.ptr == NULL) {
        return pier_err_s3(err, PIER_S3_ACCESS_DENIED,
                           "SigV4 request without x-amz-date");
    }
    in.payload_hash = trim(pier_kv_get(req->headers, req->nheaders,
                                       PIER_STR("x-amz-content-sha256")));
    if (in.payload_hash.ptr == NULL) {
        if (pier_sigv4_is_s3(service)) {
            return pier_err_s3(err, PIER_S3_INVALID_REQUEST,
                               "missing required header "
                               "x-amz-content-sha256");
        }
        in.payload_hash = PIER_STR(PIER_SIGV4_EMPTY_SHA256);
    }
    if (payload_mode(in.payload_hash, auth, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (auth->payload == PIER_PAYLOAD_STREAMING_TRAILER
        || auth->payload == PIER_PAYLOAD_STREAMING_UNSIGNED_TRAILER) {
        trailer =
            pier_kv_get(req->headers, req->nheaders, PIER_STR("x-amz-trailer"));
        if (trailer_checksum(trailer, &auth->trailer, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return v4_check(req, &in, auth, err);
}

static int
v4_query(const struct pier_sigv4_verify_req *req, struct pier_sigv4_auth *auth,
         struct pier_err *err)
{
    static const char *const names[] = {
        "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
        "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
    };
    struct pier_buf v[PIER_NELEMS(names)], sha;
    struct v4in in;
    struct pier_err ignore;
    size_t i;
    int rc = PIER_ERR;

    memset(&in, 0, sizeof(in));
    in.form = PIER_AUTH_V4_QUERY;
    in.malformed = PIER_S3_AUTH_QUERY_PARAMS;
    pier_buf_init(&sha, 256);
    for (i = 0; i < PIER_NELEMS(names); i++) {
        pier_buf_init(&v[i], 4096);
    }
    for (i = 0; i < PIER_NELEMS(names); i++) {
        if (pier_query_get(req->query, pier_str_cstr(names[i]), &v[i], &ignore)
                != PIER_OK
            || v[i].len == 0) {
            rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                             "missing or bad %s", names[i]);
            goto out;
        }
    }
    if (strcmp(v[0].data, PIER_SIGV4_ALGORITHM) != 0) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "X-Amz-Algorithm must be %s", PIER_SIGV4_ALGORITHM);
        goto out;
    }
    if (parse_credential(pier_buf_str(&v[1]), &in.cred) != PIER_OK) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "malformed X-Amz-Credential");
        goto out;
    }
    in.amz_date = pier_buf_str(&v[2]);
    if (v[3].len > 6 || !digits(v[3].data, v[3].len)) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS, "bad X-Amz-Expires");
        goto out;
    }
    in.expires_s = strtoul(v[3].data, NULL, 10);
    if (in.expires_s < 1 || in.expires_s > PIER_SIGV4_MAX_EXPIRES_S) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "X-Amz-Expires must be 1 to %d s",
                         PIER_SIGV4_MAX_EXPIRES_S);
        goto out;
    }
    in.signed_list = pier_buf_str(&v[4]);
    in.signature = pier_buf_str(&v[5]);
    /* Presigned URLs sign UNSIGNED-PAYLOAD unless the URL itself carries
     * a hash (as minio's clients may). */
    if (pier_query_get(req->query, PIER_STR("X-Amz-Content-Sha256"), &sha,
                       &ignore)
        == PIER_OK) {
        in.payload_hash = pier_buf_str(&sha);
    } else {
        in.payload_hash = PIER_STR(PIER_SIGV4_UNSIGNED_PAYLOAD);
    }
    if (payload_mode(in.payload_hash, auth, err) != PIER_OK) {
        goto out;
    }
    rc = v4_check(req, &in, auth, err);
out:
    for (i = 0; i < PIER_NELEMS(names); i++) {
        pier_buf_release(&v[i]);
    }
    pier_buf_release(&sha);
    return rc;
}

int
pier_sigv4_verify(const struct pier_sigv4_verify_req *req,
                  struct pier_sigv4_auth *auth, struct pier_err *err)
{
    struct pier_str authz;
    bool q4, q2;

    PIER_ASSERT(req->lookup != NULL);
    memset(auth, 0, sizeof(*auth));
    authz = trim(
        pier_kv_get(req->headers, req->nheaders, PIER_STR("Authorization")));
    q4 = has_param(req->query, "X-Amz-Algorithm")
         || has_param(req->query, "X-Amz-Signature");
    q2 = !q4
         && (has_param(req->query, "AWSAccessKeyId")
             || has_param(req->query, "Signature"));
    if (authz.ptr != NULL) {
        if (q4 || q2) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "only one auth mechanism allowed");
        }
        if (starts_with(authz, PIER_SIGV4_ALGORITHM)) {
            return v4_header(req, authz, auth, err);
        }
        if (starts_with(authz, "AWS ")) {
            return pier_sigv2_verify(req, PIER_AUTH_V2_HEADER, auth, err);
        }
        return pier_err_s3(err, PIER_S3_AUTH_HEADER_MALFORMED,
                           "unsupported Authorization type");
    }
    if (q4) {
        return v4_query(req, auth, err);
    }
    if (q2) {
        return pier_sigv2_verify(req, PIER_AUTH_V2_QUERY, auth, err);
    }
    return pier_err_s3(err, PIER_S3_ACCESS_DENIED, "request is not signed");
}

bool
pier_sigv4_payload_matches(const struct pier_sigv4_auth *auth,
                           const unsigned char sha256[32])
{
    char hex[65];

    if (auth->payload != PIER_PAYLOAD_SIGNED) {
        return true;
    }
    pier_hex(sha256, 32, hex);
    return CRYPTO_memcmp(hex, auth->payload_sha256, 64) == 0;
}
