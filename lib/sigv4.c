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

/* A struct pier_str initialiser for a string literal. */
#define STR_INIT(lit) {(lit), sizeof(lit) - 1}

static const char hexdigits[] = "0123456789ABCDEF";

static inline bool
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

/* The byte at s.ptr[*i], decoded: a '%' followed by two hex digits is the
 * byte they spell (and *i moves to the last of them), '+' is a space when
 * plus_space, anything else is itself. */
static inline unsigned char
decode_at(struct pier_str s, size_t *i, bool plus_space)
{
    unsigned char c = (unsigned char) s.ptr[*i];
    int hi, lo;

    if (c == '%' && s.len - *i >= 3
        && (hi = pier_hexval((unsigned char) s.ptr[*i + 1])) >= 0
        && (lo = pier_hexval((unsigned char) s.ptr[*i + 2])) >= 0) {
        *i += 2;
        return (unsigned char) (hi << 4 | lo);
    }
    if (c == '+' && plus_space) {
        return ' ';
    }
    return c;
}

/* Whether raw, a query component, decodes to want. */
static bool
decoded_eq(struct pier_str raw, struct pier_str want)
{
    size_t i, k = 0;

    for (i = 0; i < raw.len; i++, k++) {
        unsigned char c = decode_at(raw, &i, true);

        if (k >= want.len || (unsigned char) want.ptr[k] != c) {
            return false;
        }
    }
    return k == want.len;
}

/* Decode raw, a query component, into out (room for raw.len bytes);
 * returns the decoded length. */
static size_t
decode_into(struct pier_str raw, char *out)
{
    size_t i, k = 0;

    for (i = 0; i < raw.len; i++) {
        out[k++] = (char) decode_at(raw, &i, true);
    }
    return k;
}

/* The next '&'-separated parameter of a raw query, from *pos, as it
 * stands ("" between two '&'). false at the end. */
static bool
query_next(struct pier_str q, size_t *pos, struct pier_str *piece)
{
    size_t i = *pos, e;

    if (i >= q.len) {
        return false;
    }
    for (e = i; e < q.len && q.ptr[e] != '&'; e++) {
    }
    *pos = e + 1;
    *piece = pier_str_make(q.ptr + i, e - i);
    return true;
}

/* A parameter's raw name and value (empty when it has no '='). */
static void
param_split(struct pier_str piece, struct pier_str *name,
            struct pier_str *value)
{
    const char *eq = memchr(piece.ptr, '=', piece.len);

    if (eq == NULL) {
        *name = piece;
        *value = PIER_STR("");
        return;
    }
    *name = pier_str_make(piece.ptr, (size_t) (eq - piece.ptr));
    *value = pier_str_make(eq + 1, piece.len - name->len - 1);
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
        size_t at = i;
        char ch;

        if (c != '%' && (c != '+' || !plus_space)) {
            continue;
        }
        ch = (char) decode_at(s, &i, plus_space);
        if (i == at && c == '%') {
            continue; /* a '%' that escapes nothing stays literal */
        }
        ADD(pier_buf_add(out, s.ptr + from, at - from));
        ADD(pier_buf_addch(out, ch));
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

/*
 * The canonicalisers write into a struct csink: into a SHA-256 context as
 * the text is made (verification never holds a canonical request whole,
 * and allocates nothing for it), into a buffer (the public
 * canonicalisers, the signer's copies), or both. Bytes gather in buf and
 * go on in runs.
 */
struct csink {
    struct pier_hash *hash; /* NULL: not hashed */
    struct pier_buf *tee;   /* NULL: not kept */
    bool full;              /* tee passed its maximum: its text is cut */
    size_t n;
    char buf[512];
};

static void
sink_init(struct csink *s, struct pier_hash *hash, struct pier_buf *tee)
{
    s->hash = hash;
    s->tee = tee;
    s->full = false;
    s->n = 0;
}

static void
sink_put(struct csink *s, const char *p, size_t n)
{
    if (s->hash != NULL) {
        pier_hash_update(s->hash, p, n);
    }
    if (s->tee != NULL && !s->full && pier_buf_add(s->tee, p, n) != PIER_OK) {
        s->full = true;
    }
}

static void
sink_flush(struct csink *s)
{
    sink_put(s, s->buf, s->n);
    s->n = 0;
}

/* Flush, and say whether the tee held everything. */
static int
sink_end(struct csink *s, struct pier_err *err)
{
    sink_flush(s);
    return s->full ? full_err(err) : PIER_OK;
}

static void
sink_add(struct csink *s, const char *p, size_t n)
{
    if (n > sizeof(s->buf) - s->n) {
        sink_flush(s);
        if (n > sizeof(s->buf)) {
            sink_put(s, p, n);
            return;
        }
    }
    memcpy(s->buf + s->n, p, n);
    s->n += n;
}

static void
sink_addstr(struct csink *s, struct pier_str str)
{
    sink_add(s, str.ptr, str.len);
}

static inline void
sink_ch(struct csink *s, char c)
{
    if (s->n == sizeof(s->buf)) {
        sink_flush(s);
    }
    s->buf[s->n++] = c;
}

/* c percent-encoded with the unreserved set left literal (and '/' when
 * keep_slash). */
static inline void
sink_enc(struct csink *s, unsigned char c, bool keep_slash)
{
    if (unreserved(c) || (keep_slash && c == '/')) {
        sink_ch(s, (char) c);
        return;
    }
    sink_ch(s, '%');
    sink_ch(s, hexdigits[c >> 4]);
    sink_ch(s, hexdigits[c & 15]);
}

/* S3's canonical URI: the path as sent, with only its percent-encoding
 * made canonical. An escape of an unreserved byte becomes the byte; other
 * escapes get upper-case digits; literal bytes outside the unreserved set
 * and '/' get encoded. "%2F" stays encoded, so a key holding a slash that
 * the client escaped does not turn into a path separator. */
static void
s3_uri(struct pier_str path, struct csink *out)
{
    size_t i;

    if (path.len == 0) {
        sink_ch(out, '/');
        return;
    }
    for (i = 0; i < path.len; i++) {
        size_t at = i;
        unsigned char c = decode_at(path, &i, false);

        /* A literal '/' is a separator; an escaped one stays escaped. */
        sink_enc(out, c, i == at);
    }
}

/* Other services: remove empty and dot segments (RFC 3986 5.2.4, plus
 * empty segments, as the AWS SDKs do), keeping a trailing slash, then
 * encode everything, '%' included. */
static void
generic_uri(struct pier_str path, bool normalize, struct csink *out)
{
    struct pier_buf norm;
    size_t *stack = NULL, nseg = 0, i, start;
    bool trailing = false;

    if (!normalize) {
        if (path.len == 0) {
            path = PIER_STR("/");
        }
        for (i = 0; i < path.len; i++) {
            sink_enc(out, (unsigned char) path.ptr[i], true);
        }
        return;
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
    for (i = 0; i < norm.len; i++) {
        sink_enc(out, (unsigned char) norm.data[i], true);
    }
    pier_free(stack);
    pier_buf_release(&norm);
}

/* One query parameter or header, as offsets into a scratch area. */
struct item {
    size_t name, namelen;
    size_t value, valuelen;
    size_t index;
};

/* qsort() has no context argument: the scratch area's base goes
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

/* The canonical form of a raw query component written at out (room for
 * 3 * raw.len bytes): decoded ('+' a space), then encoded with the
 * unreserved set. Returns its length. */
static size_t
recanon(struct pier_str raw, char *out)
{
    size_t i, k = 0;

    for (i = 0; i < raw.len; i++) {
        unsigned char c = decode_at(raw, &i, true);

        if (unreserved(c)) {
            out[k++] = (char) c;
        } else {
            out[k++] = '%';
            out[k++] = hexdigits[c >> 4];
            out[k++] = hexdigits[c & 15];
        }
    }
    return k;
}

/* Room on the stack for the canonical query of a usual request; longer
 * ones take the heap. */
#define QUERY_ITEMS_STACK   32
#define QUERY_SCRATCH_STACK 2048

/* Canonical query of raw, leaving out any parameter whose decoded name is
 * skip (X-Amz-Signature when verifying a presigned URL). */
static void
canonical_query(struct pier_str raw, struct pier_str skip, struct csink *out)
{
    struct item items_stack[QUERY_ITEMS_STACK], *items = items_stack;
    char scratch_stack[QUERY_SCRATCH_STACK], *scratch = scratch_stack;
    struct pier_str piece, name, value;
    size_t n = 0, cap = 1, used = 0, pos = 0, i;

    for (i = 0; i < raw.len; i++) {
        cap += raw.ptr[i] == '&';
    }
    if (cap > QUERY_ITEMS_STACK) {
        items = pier_calloc(cap, sizeof(*items));
    }
    /* Each byte of raw becomes at most three. */
    if (raw.len > QUERY_SCRATCH_STACK / 3) {
        scratch = pier_malloc(3 * raw.len);
    }
    while (query_next(raw, &pos, &piece)) {
        if (piece.len == 0) {
            continue;
        }
        param_split(piece, &name, &value);
        if (skip.len > 0 && decoded_eq(name, skip)) {
            continue;
        }
        items[n].index = n;
        items[n].name = used;
        items[n].namelen = recanon(name, scratch + used);
        used += items[n].namelen;
        items[n].value = used;
        items[n].valuelen = recanon(value, scratch + used);
        used += items[n].valuelen;
        n++;
    }
    if (n > 1) {
        sort_items(items, n, scratch);
    }
    for (i = 0; i < n; i++) {
        if (i > 0) {
            sink_ch(out, '&');
        }
        sink_add(out, scratch + items[i].name, items[i].namelen);
        sink_ch(out, '=');
        sink_add(out, scratch + items[i].value, items[i].valuelen);
    }
    if (items != items_stack) {
        pier_free(items);
    }
    if (scratch != scratch_stack) {
        pier_free(scratch);
    }
}

int
pier_sigv4_canonical_query(struct pier_str query, struct pier_buf *out,
                           struct pier_err *err)
{
    struct csink s;

    sink_init(&s, NULL, out);
    canonical_query(query, PIER_STR_NULL, &s);
    return sink_end(&s, err);
}

/* Append a header value trimmed, with whitespace runs made one space. */
static void
add_value(struct csink *out, struct pier_str v)
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
        if (space) {
            sink_ch(out, ' ');
        }
        space = false;
        sink_ch(out, (char) c);
    }
}

static inline char
lower(char c)
{
    return (char) (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static void
add_lower(struct csink *out, struct pier_str s)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        sink_ch(out, lower(s.ptr[i]));
    }
}

/* The signer's canonical headers: all of headers (plus extra when its
 * name is set), sorted by lower-case name, repeats joined. Writes the
 * "name:value\n" lines to canon and appends "a;b;c" to signed_list. */
static int
canonical_headers_all(const struct pier_kv *headers, size_t nheaders,
                      const struct pier_kv *extra, struct csink *canon,
                      struct pier_buf *signed_list, struct pier_err *err)
{
    struct pier_buf scratch;
    struct item *items;
    size_t n = nheaders + (extra != NULL ? 1 : 0), i, k = 0, j;
    int rc = PIER_ERR;

    pier_buf_init(&scratch, SIZE_MAX);
    items = pier_calloc(n + 1, sizeof(*items));
    for (i = 0; i < n; i++) {
        const struct pier_kv *h = i < nheaders ? &headers[i] : extra;

        items[i].index = i;
        items[i].name = scratch.len;
        for (j = 0; j < h->name.len; j++) {
            if (pier_buf_addch(&scratch, lower(h->name.ptr[j])) != PIER_OK) {
                PIER_ASSERT(!"unlimited buffer full");
            }
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
        if (pier_buf_add(signed_list, name, namelen) != PIER_OK) {
            goto full;
        }
        sink_add(canon, name, namelen);
        sink_ch(canon, ':');
        for (k = i; k < n && items[k].namelen == namelen
                    && memcmp(scratch.data + items[k].name, name, namelen) == 0;
             k++) {
            size_t idx = items[k].index;
            const struct pier_kv *h = idx < nheaders ? &headers[idx] : extra;

            if (k > i) {
                sink_ch(canon, ',');
            }
            add_value(canon, h->value);
        }
        sink_ch(canon, '\n');
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
                         struct pier_str signed_list, struct csink *canon,
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
        add_lower(canon, name);
        sink_ch(canon, ':');
        for (k = 0; k < nheaders; k++) {
            if (!pier_str_caseeq(headers[k].name, name)) {
                continue;
            }
            if (found) {
                sink_ch(canon, ',');
            }
            add_value(canon, headers[k].value);
            found = true;
        }
        if (!found) {
            return pier_err_s3(err, PIER_S3_SIGNATURE_DOES_NOT_MATCH,
                               "signed header '%.*s' is missing",
                               (int) (name.len > 64 ? 64 : name.len), name.ptr);
        }
        sink_ch(canon, '\n');
        i = e + 1;
    }
    return PIER_OK;
}

static void
add_uri(struct pier_str path, bool s3, bool normalize, struct csink *out)
{
    if (s3) {
        s3_uri(path, out);
    } else {
        generic_uri(path, normalize, out);
    }
}

int
pier_sigv4_canonical_request(const struct pier_sigv4_req *req, bool s3_rules,
                             struct pier_buf *out, struct pier_err *err)
{
    struct pier_buf sl;
    struct csink s;
    int rc = PIER_ERR;

    pier_buf_init(&sl, SIZE_MAX);
    sink_init(&s, NULL, out);
    sink_addstr(&s, pier_str_cstr(req->method));
    sink_ch(&s, '\n');
    add_uri(req->path, s3_rules, !(req->flags & PIER_SIGV4_NO_NORMALIZE), &s);
    sink_ch(&s, '\n');
    canonical_query(req->query, PIER_STR_NULL, &s);
    sink_ch(&s, '\n');
    if (canonical_headers_all(req->headers, req->nheaders, NULL, &s, &sl, err)
        != PIER_OK) {
        goto out;
    }
    sink_ch(&s, '\n');
    sink_addstr(&s, pier_buf_str(&sl));
    sink_ch(&s, '\n');
    sink_addstr(&s, pier_str_cstr(req->payload_hash));
    rc = PIER_OK;
out:
    if (sink_end(&s, err) != PIER_OK) {
        rc = PIER_ERR;
    }
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
    struct csink canon;
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
    sink_init(&canon, NULL, &s->headers);
    if (canonical_headers_all(req->headers, req->nheaders,
                              s->token.name.len > 0 ? &s->token : NULL,
                              &canon, &s->signed_list, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    return sink_end(&canon, err);
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
    struct csink creq;

    sink_init(&creq, NULL, &s->creq);
    sink_addstr(&creq, pier_str_cstr(req->method));
    sink_ch(&creq, '\n');
    add_uri(req->path, s->s3, !(req->flags & PIER_SIGV4_NO_NORMALIZE), &creq);
    sink_ch(&creq, '\n');
    canonical_query(raw_query, PIER_STR_NULL, &creq);
    sink_ch(&creq, '\n');
    sink_addstr(&creq, pier_buf_str(&s->headers));
    sink_ch(&creq, '\n');
    sink_addstr(&creq, pier_buf_str(&s->signed_list));
    sink_ch(&creq, '\n');
    sink_addstr(&creq, payload_hash);
    if (sink_end(&creq, err) != PIER_OK) {
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
    struct pier_str piece, n, v;
    size_t pos = 0;

    while (query_next(query, &pos, &piece)) {
        param_split(piece, &n, &v);
        if (decoded_eq(n, name)) {
            return pier_uri_decode(v, true, out, err);
        }
    }
    return PIER_AGAIN;
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

/* Which query forms of signing the parameters of query announce. */
static void
query_forms(struct pier_str query, bool *v4, bool *v2)
{
    struct pier_str piece, n, v;
    size_t pos = 0;

    *v4 = *v2 = false;
    while (query_next(query, &pos, &piece)) {
        param_split(piece, &n, &v);
        *v4 = *v4 || decoded_eq(n, PIER_STR("X-Amz-Algorithm"))
              || decoded_eq(n, PIER_STR("X-Amz-Signature"));
        *v2 = *v2 || decoded_eq(n, PIER_STR("AWSAccessKeyId"))
              || decoded_eq(n, PIER_STR("Signature"));
    }
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

static void
sts_add(char *sts, size_t *len, struct pier_str s)
{
    memcpy(sts + *len, s.ptr, s.len);
    *len += s.len;
}

static int
v4_check(const struct pier_sigv4_verify_req *req, const struct v4in *in,
         struct pier_sigv4_auth *auth, struct pier_err *err)
{
    const char *service = req->service != NULL ? req->service : "s3";
    const char *secret;
    struct pier_hash *h;
    struct csink creq;
    char crhash[65], sig[65];
    char sts[sizeof(PIER_SIGV4_ALGORITHM) + 16 + sizeof(auth->scope) + 64 + 3];
    size_t sts_len;
    unsigned char md[PIER_SHA256_LEN], key[32];
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

    /* The canonical request goes into SHA-256 as it is made. */
    h = pier_hash_thread_sha256();
    sink_init(&creq, h, NULL);
    sink_addstr(&creq, req->method);
    sink_ch(&creq, '\n');
    add_uri(req->path, pier_sigv4_is_s3(service), true, &creq);
    sink_ch(&creq, '\n');
    canonical_query(req->query,
                    in->form == PIER_AUTH_V4_QUERY ? PIER_STR("X-Amz-Signature")
                                                   : PIER_STR_NULL,
                    &creq);
    sink_ch(&creq, '\n');
    if (canonical_headers_signed(req->headers, req->nheaders, in->signed_list,
                                 &creq, err)
        != PIER_OK) {
        pier_hash_reset(h); /* leave it ready for the next message */
        goto out;
    }
    sink_ch(&creq, '\n');
    add_lower(&creq, in->signed_list);
    sink_ch(&creq, '\n');
    sink_addstr(&creq, in->payload_hash);
    sink_flush(&creq);
    pier_hash_final(h, md);
    pier_hex(md, sizeof(md), crhash);
    /* The string to sign; the scope's length was checked above. */
    sts_len = 0;
    sts_add(sts, &sts_len, PIER_STR(PIER_SIGV4_ALGORITHM "\n"));
    sts_add(sts, &sts_len, pier_str_make(in->amz_date.ptr, 16));
    sts_add(sts, &sts_len, PIER_STR("\n"));
    sts_add(sts, &sts_len, in->cred.scope);
    sts_add(sts, &sts_len, PIER_STR("\n"));
    sts_add(sts, &sts_len, pier_str_make(crhash, 64));
    pier_sigv4_signing_key(secret, in->cred.date8, in->cred.region,
                           in->cred.service, key);
    pier_sigv4_hmac_hex(key, pier_str_make(sts, sts_len), sig);
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

/* A presigned URL's parameter values, decoded, longer: not ours. */
#define QUERY_VALUE_MAX 4096
#define QUERY_SHA_MAX   256

static int
v4_query(const struct pier_sigv4_verify_req *req, struct pier_sigv4_auth *auth,
         struct pier_err *err)
{
    /* The six required, then the optional payload hash. */
    static const struct pier_str names[] = {
        STR_INIT("X-Amz-Algorithm"),
        STR_INIT("X-Amz-Credential"),
        STR_INIT("X-Amz-Date"),
        STR_INIT("X-Amz-Expires"),
        STR_INIT("X-Amz-SignedHeaders"),
        STR_INIT("X-Amz-Signature"),
        STR_INIT("X-Amz-Content-Sha256"),
    };
    enum { NREQUIRED = 6, SHA = 6 };
    struct pier_str raw[PIER_NELEMS(names)], v[PIER_NELEMS(names)];
    struct pier_str piece, n, value;
    struct v4in in;
    char stack[1024], *dec = stack;
    size_t i, k, pos = 0, total = 0, used = 0;
    int rc = PIER_ERR;

    memset(&in, 0, sizeof(in));
    memset(raw, 0, sizeof(raw));
    memset(v, 0, sizeof(v));
    in.form = PIER_AUTH_V4_QUERY;
    in.malformed = PIER_S3_AUTH_QUERY_PARAMS;
    /* One pass: the first parameter of each name counts. */
    while (query_next(req->query, &pos, &piece)) {
        param_split(piece, &n, &value);
        for (k = 0; k < PIER_NELEMS(names); k++) {
            if (raw[k].ptr == NULL && decoded_eq(n, names[k])) {
                raw[k] = value;
                total += value.len;
                break;
            }
        }
    }
    /* Decoding never makes a value longer. */
    if (total > sizeof(stack)) {
        dec = pier_malloc(total);
    }
    for (k = 0; k < PIER_NELEMS(names); k++) {
        if (raw[k].ptr != NULL) {
            v[k] = pier_str_make(dec + used, decode_into(raw[k], dec + used));
            used += v[k].len;
        }
    }
    for (i = 0; i < NREQUIRED; i++) {
        if (v[i].ptr == NULL || v[i].len == 0 || v[i].len > QUERY_VALUE_MAX) {
            rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                             "missing or bad %.*s", (int) names[i].len,
                             names[i].ptr);
            goto out;
        }
    }
    if (!pier_str_eq(v[0], PIER_STR(PIER_SIGV4_ALGORITHM))) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "X-Amz-Algorithm must be %s", PIER_SIGV4_ALGORITHM);
        goto out;
    }
    if (parse_credential(v[1], &in.cred) != PIER_OK) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "malformed X-Amz-Credential");
        goto out;
    }
    in.amz_date = v[2];
    if (v[3].len > 6 || !digits(v[3].ptr, v[3].len)) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS, "bad X-Amz-Expires");
        goto out;
    }
    in.expires_s = (unsigned long) num(v[3].ptr, v[3].len);
    if (in.expires_s < 1 || in.expires_s > PIER_SIGV4_MAX_EXPIRES_S) {
        rc = pier_err_s3(err, PIER_S3_AUTH_QUERY_PARAMS,
                         "X-Amz-Expires must be 1 to %d s",
                         PIER_SIGV4_MAX_EXPIRES_S);
        goto out;
    }
    in.signed_list = v[4];
    in.signature = v[5];
    /* Presigned URLs sign UNSIGNED-PAYLOAD unless the URL itself carries
     * a hash (as minio's clients may). */
    if (v[SHA].ptr != NULL && v[SHA].len <= QUERY_SHA_MAX) {
        in.payload_hash = v[SHA];
    } else {
        in.payload_hash = PIER_STR(PIER_SIGV4_UNSIGNED_PAYLOAD);
    }
    if (payload_mode(in.payload_hash, auth, err) != PIER_OK) {
        goto out;
    }
    rc = v4_check(req, &in, auth, err);
out:
    if (dec != stack) {
        pier_free(dec);
    }
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
    query_forms(req->query, &q4, &q2);
    q2 = !q4 && q2;
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
