/*
 * tests/lib/s3_test_origin.c - the loopback S3 test server (see the
 * header). Simple rather than fast: one thread, blocking writes, objects
 * in a sorted array, one mutex around everything the test thread touches.
 */
#include "config.h"

#include "tests/lib/s3_test_origin.h"

#include "lib/sha.h"
#include "lib/sigv4.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 128
#define MAX_HDRS  64

struct object {
    char *key;
    struct pier_buf data;
    char etag[40];        /* "\"<32 hex>\"" */
    struct pier_buf hdrs; /* "name: value\r\n" lines answered with GET */
    time_t mtime;
};

struct conn {
    int fd;
    SSL *ssl; /* NULL on plain HTTP */
    http_parser parser;
    struct s3_test_origin *o;
    struct pier_buf url, body;
    char *hname[MAX_HDRS], *hvalue[MAX_HDRS];
    size_t nh;
    bool in_value;
    bool stalled;
    bool close_after;
};

struct s3_test_origin {
    pthread_t thread;
    pthread_mutex_t mu;
    int lfd, wake[2];
    SSL_CTX *tls; /* NULL on plain HTTP */
    char endpoint[64];
    char *akid, *secret, *region, *bucket, *token;
    struct conn *conns[MAX_CONNS];
    size_t nconns;
    struct object *objs;
    size_t nobjs;
    unsigned fail_n, drop_n, stall_n, cut_n;
    size_t cut_after;
    bool ignore_range;
    int fail_status;
    struct s3_test_origin_stats st;
    unsigned long reqid;
};

static void
die(const char *what)
{
    fprintf(stderr, "s3_test_origin: %s: %s\n", what, strerror(errno));
    abort();
}

static void
must(int rc)
{
    PIER_ASSERT(rc == PIER_OK);
}

/*
 * Objects (callers hold mu).
 */

static struct object *
find(struct s3_test_origin *o, const char *key, size_t *pos)
{
    size_t lo = 0, hi = o->nobjs;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(o->objs[mid].key, key);

        if (c == 0) {
            *pos = mid;
            return &o->objs[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return NULL;
}

static struct object *
store(struct s3_test_origin *o, const char *key, const void *p, size_t n)
{
    size_t pos;
    struct object *ob = find(o, key, &pos);
    char hex[65];

    if (ob == NULL) {
        o->objs = pier_realloc(o->objs, (o->nobjs + 1) * sizeof(*o->objs));
        memmove(&o->objs[pos + 1], &o->objs[pos],
                (o->nobjs - pos) * sizeof(*o->objs));
        o->nobjs++;
        ob = &o->objs[pos];
        memset(ob, 0, sizeof(*ob));
        ob->key = pier_strdup(key);
        pier_buf_init(&ob->data, SIZE_MAX);
        pier_buf_init(&ob->hdrs, SIZE_MAX);
    }
    pier_buf_reset(&ob->data);
    pier_buf_reset(&ob->hdrs);
    must(pier_buf_add(&ob->data, p, n));
    pier_sha256_hex(p, n, hex);
    snprintf(ob->etag, sizeof(ob->etag), "\"%.32s\"", hex);
    ob->mtime = time(NULL);
    return ob;
}

static void
erase(struct s3_test_origin *o, size_t pos)
{
    pier_free(o->objs[pos].key);
    pier_buf_release(&o->objs[pos].data);
    pier_buf_release(&o->objs[pos].hdrs);
    memmove(&o->objs[pos], &o->objs[pos + 1],
            (o->nobjs - pos - 1) * sizeof(*o->objs));
    o->nobjs--;
}

/*
 * Responses.
 */

static void
send_all(struct conn *k, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w;

        if (k->ssl != NULL) {
            int m = SSL_write(k->ssl, p, n > INT32_MAX ? INT32_MAX : (int) n);

            if (m <= 0) {
                k->close_after = true;
                return;
            }
            p += m;
            n -= (size_t) m;
            continue;
        }
        w = send(k->fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            k->close_after = true; /* the client went away */
            return;
        }
        p += w;
        n -= (size_t) w;
    }
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 412:
        return "Precondition Failed";
    case 416:
        return "Range Not Satisfiable";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Server Error" : "Client Error";
    }
}

/* Answer with status, extra header lines and body (of which only the
 * length is sent for HEAD). */
static void
respond(struct conn *k, int status, const char *hdrs, const void *body,
        size_t n)
{
    struct pier_buf b;
    bool head = k->parser.method == HTTP_HEAD;

    pier_buf_init(&b, SIZE_MAX);
    must(pier_buf_addf(&b,
                       "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
                       "x-amz-request-id: req-%lu\r\n%s%s\r\n",
                       status, reason(status), n, ++k->o->reqid,
                       hdrs != NULL ? hdrs : "",
                       k->close_after ? "Connection: close\r\n" : ""));
    if (!head && status != 304 && status != 204) {
        if (k->o->cut_n > 0 && (status == 200 || status == 206)
            && k->parser.method == HTTP_GET && n > k->o->cut_after) {
            k->o->cut_n--;
            n = k->o->cut_after;
            k->close_after = true;
        }
        must(pier_buf_add(&b, body, n));
    }
    send_all(k, b.data, b.len);
    pier_buf_release(&b);
}

static void
xml_escape(struct pier_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            must(pier_buf_adds(b, "&amp;"));
            break;
        case '<':
            must(pier_buf_adds(b, "&lt;"));
            break;
        case '>':
            must(pier_buf_adds(b, "&gt;"));
            break;
        case '"':
            must(pier_buf_adds(b, "&quot;"));
            break;
        default:
            must(pier_buf_addch(b, *s));
        }
    }
}

static void
respond_error(struct conn *k, int status, const char *code, const char *msg)
{
    struct pier_buf b;

    pier_buf_init(&b, SIZE_MAX);
    must(pier_buf_addf(&b,
                       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<Error><Code>%s</Code><Message>%s</Message>"
                       "<RequestId>req-%lu</RequestId></Error>",
                       code, msg, k->o->reqid + 1));
    respond(k, status, "Content-Type: application/xml\r\n", b.data, b.len);
    pier_buf_release(&b);
}

/*
 * Requests.
 */

static const char *
hdr(const struct conn *k, const char *name)
{
    size_t i;

    for (i = 0; i < k->nh; i++) {
        if (strcasecmp(k->hname[i], name) == 0) {
            return k->hvalue[i];
        }
    }
    return NULL;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decode n bytes at s into a new string. */
static char *
decode(const char *s, size_t n)
{
    char *out = pier_malloc(n + 1), *p = out;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0
            && hexval(s[i + 2]) >= 0) {
            *p++ = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *p++ = s[i];
        }
    }
    *p = '\0';
    return out;
}

/* A query parameter's decoded value (caller frees), or NULL. */
static char *
param(const char *q, size_t qn, const char *name)
{
    const char *p = q, *end = q + qn;
    size_t nl = strlen(name);

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *e = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t) (e - p));

        if ((size_t) ((eq != NULL ? eq : e) - p) == nl
            && memcmp(p, name, nl) == 0) {
            return eq != NULL ? decode(eq + 1, (size_t) (e - eq - 1))
                              : pier_strdup("");
        }
        p = e + 1;
    }
    return NULL;
}

static const char *
lookup(void *udata, struct pier_str akid)
{
    struct s3_test_origin *o = udata;

    return pier_str_eq(akid, pier_str_cstr(o->akid)) ? o->secret : NULL;
}

/* lib's verifier, as the object store uses it: the signature, the date's
 * skew, the scope's region; then the body against its signed hash. */
static bool
verified(struct conn *k, struct pier_str path, struct pier_str query)
{
    struct s3_test_origin *o = k->o;
    struct pier_kv kv[MAX_HDRS];
    struct pier_sigv4_verify_req req = {0};
    struct pier_sigv4_auth auth;
    struct pier_err err;
    char hex[65];
    size_t i;

    for (i = 0; i < k->nh; i++) {
        kv[i].name = pier_str_cstr(k->hname[i]);
        kv[i].value = pier_str_cstr(k->hvalue[i]);
    }
    req.method = pier_str_cstr(http_method_str(k->parser.method));
    req.path = path;
    req.query = query;
    req.headers = kv;
    req.nheaders = k->nh;
    req.now = time(NULL);
    req.region = o->region;
    req.lookup = lookup;
    req.lookup_data = o;
    if (pier_sigv4_verify(&req, &auth, &err) != PIER_OK
        || auth.form != PIER_AUTH_V4_HEADER) {
        return false;
    }
    if (auth.payload == PIER_PAYLOAD_SIGNED) {
        pier_sha256_hex(k->body.data, k->body.len, hex);
        return strcmp(hex, auth.payload_sha256) == 0;
    }
    return auth.payload == PIER_PAYLOAD_UNSIGNED;
}

/* Recompute the signature from what arrived with lib's signer and compare
 * it whole (a second opinion next to the verifier's). Also demand that the
 * headers whose meaning matters were signed, the session token among
 * them. */
static bool
signature_ok(struct conn *k, struct pier_str path, struct pier_str query)
{
    struct s3_test_origin *o = k->o;
    const char *auth = hdr(k, "authorization");
    const char *date = hdr(k, "x-amz-date");
    const char *sha = hdr(k, "x-amz-content-sha256");
    const char *sh, *she, *p;
    struct pier_sigv4_key key = {o->akid, o->secret, o->region, "s3", o->token};
    struct pier_kv kv[MAX_HDRS];
    struct pier_buf want, signed_list;
    struct pier_err err;
    char names[MAX_HDRS][64], hex[65];
    size_t n = 0, i;
    bool ok;

    if (auth == NULL || date == NULL || sha == NULL
        || !verified(k, path, query)) {
        return false;
    }
    if (o->token != NULL
        && (hdr(k, "x-amz-security-token") == NULL
            || strcmp(hdr(k, "x-amz-security-token"), o->token) != 0)) {
        return false;
    }
    if (strcmp(sha, "UNSIGNED-PAYLOAD") != 0) {
        pier_sha256_hex(k->body.data, k->body.len, hex);
        if (strcmp(hex, sha) != 0) {
            return false;
        }
    }
    sh = strstr(auth, "SignedHeaders=");
    if (sh == NULL) {
        return false;
    }
    sh += strlen("SignedHeaders=");
    she = strchr(sh, ',');
    if (she == NULL) {
        return false;
    }
    pier_buf_init(&signed_list, SIZE_MAX);
    must(pier_buf_add(&signed_list, sh, (size_t) (she - sh)));
    for (p = sh; p < she && n < MAX_HDRS;) {
        const char *semi = memchr(p, ';', (size_t) (she - p));
        const char *e = semi != NULL ? semi : she;
        const char *v;

        snprintf(names[n], sizeof(names[n]), "%.*s", (int) (e - p), p);
        v = hdr(k, names[n]);
        if (v == NULL) {
            pier_buf_release(&signed_list);
            return false;
        }
        kv[n].name = pier_str_cstr(names[n]);
        kv[n].value = pier_str_cstr(v);
        n++;
        p = e + 1;
    }
    /* Every header the client chose to send for S3 must be signed. */
    for (i = 0; i < k->nh; i++) {
        const char *h = k->hname[i];
        char needle[80];

        if (strncasecmp(h, "x-amz-", 6) != 0 && strcasecmp(h, "host") != 0
            && strcasecmp(h, "range") != 0 && strncasecmp(h, "if-", 3) != 0
            && strncasecmp(h, "content-type", 12) != 0
            && strcasecmp(h, "cache-control") != 0
            && strcasecmp(h, "content-encoding") != 0) {
            continue;
        }
        snprintf(needle, sizeof(needle), ";%s;", h);
        {
            struct pier_buf l;
            bool found;

            pier_buf_init(&l, SIZE_MAX);
            must(pier_buf_addf(&l, ";%s;", signed_list.data));
            found = strcasestr(l.data, needle) != NULL;
            pier_buf_release(&l);
            if (!found) {
                pier_buf_release(&signed_list);
                return false;
            }
        }
    }
    pier_buf_release(&signed_list);
    pier_buf_init(&want, 4096);
    ok = pier_sigv4_authorization(&key, date, http_method_str(k->parser.method),
                                  path, query, kv, n, sha, &want, &err)
             == PIER_OK
         && strcmp(want.data, auth) == 0;
    pier_buf_release(&want);
    return ok;
}

/* Parse "bytes=a-b", "bytes=a-", "bytes=-n" against size. 0 when the
 * whole object goes, 206 with [*from, *to] set, or 416. */
static int
range(const char *r, size_t size, size_t *from, size_t *to)
{
    unsigned long long a = 0, b = 0;
    char *end;

    if (r == NULL) {
        return 0;
    }
    if (strncmp(r, "bytes=", 6) != 0) {
        return 0;
    }
    r += 6;
    if (*r == '-') {
        b = strtoull(r + 1, &end, 10);
        if (*end != '\0' || b == 0 || size == 0) {
            return 416;
        }
        *from = b >= size ? 0 : size - (size_t) b;
        *to = size - 1;
        return 206;
    }
    a = strtoull(r, &end, 10);
    if (*end != '-') {
        return 0;
    }
    if (end[1] == '\0') {
        b = size - 1;
    } else {
        b = strtoull(end + 1, &end, 10);
        if (*end != '\0' || b < a) {
            return 0;
        }
    }
    if (a >= size) {
        return 416;
    }
    *from = (size_t) a;
    *to = b >= size ? size - 1 : (size_t) b;
    return 206;
}

static bool
etag_matches(const char *cond, const struct object *ob)
{
    return ob != NULL
           && (strcmp(cond, "*") == 0 || strcmp(cond, ob->etag) == 0);
}

static void
do_list(struct conn *k, const char *q, size_t qn)
{
    struct s3_test_origin *o = k->o;
    char *prefix = param(q, qn, "prefix"), *delim = param(q, qn, "delimiter");
    char *token = param(q, qn, "continuation-token");
    char *after = param(q, qn, "start-after"), *mk = param(q, qn, "max-keys");
    unsigned max = mk != NULL ? (unsigned) strtoul(mk, NULL, 10) : 1000;
    const char *from = token != NULL ? token : after;
    const char *last = NULL;
    char *lastp = NULL;
    struct pier_buf b, cps;
    unsigned count = 0;
    bool truncated = false;
    size_t i, pl = prefix != NULL ? strlen(prefix) : 0;

    pier_buf_init(&b, SIZE_MAX);
    pier_buf_init(&cps, SIZE_MAX);
    must(pier_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<ListBucketResult xmlns=\"http://s3.amazonaws.com/"
                           "doc/2006-03-01/\"><Name>"));
    xml_escape(&b, o->bucket);
    must(pier_buf_adds(&b, "</Name>"));
    for (i = 0; i < o->nobjs; i++) {
        const struct object *ob = &o->objs[i];
        const char *d;
        struct tm tm;
        char when[32];

        if (pl > 0 && strncmp(ob->key, prefix, pl) != 0) {
            continue;
        }
        if (from != NULL
            && (strcmp(ob->key, from) <= 0
                || (delim != NULL && *delim != '\0'
                    && strncmp(ob->key, from, strlen(from)) == 0
                    && strlen(from) >= strlen(delim)
                    && strcmp(from + strlen(from) - strlen(delim), delim)
                           == 0))) {
            continue;
        }
        d = delim != NULL && *delim != '\0' ? strstr(ob->key + pl, delim)
                                            : NULL;
        if (d != NULL) {
            size_t cl = (size_t) (d - ob->key) + strlen(delim);

            if (lastp != NULL && strlen(lastp) == cl
                && strncmp(lastp, ob->key, cl) == 0) {
                continue; /* the same common prefix again */
            }
            if (count == max) {
                truncated = true;
                break;
            }
            pier_free(lastp);
            lastp = pier_strndup(ob->key, cl);
            must(pier_buf_adds(&cps, "<CommonPrefixes><Prefix>"));
            xml_escape(&cps, lastp);
            must(pier_buf_adds(&cps, "</Prefix></CommonPrefixes>"));
            last = lastp;
            count++;
            continue;
        }
        if (count == max) {
            truncated = true;
            break;
        }
        gmtime_r(&ob->mtime, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        must(pier_buf_adds(&b, "<Contents><Key>"));
        xml_escape(&b, ob->key);
        must(pier_buf_addf(&b,
                           "</Key><LastModified>%s</LastModified>"
                           "<ETag>&quot;%.32s&quot;</ETag><Size>%zu</Size>"
                           "<StorageClass>STANDARD</StorageClass>"
                           "</Contents>",
                           when, ob->etag + 1, ob->data.len));
        last = ob->key;
        count++;
    }
    must(pier_buf_addf(&b,
                       "<KeyCount>%u</KeyCount><MaxKeys>%u</MaxKeys>"
                       "<IsTruncated>%s</IsTruncated>",
                       count, max, truncated ? "true" : "false"));
    if (truncated && last != NULL) {
        must(pier_buf_adds(&b, "<NextContinuationToken>"));
        xml_escape(&b, last);
        must(pier_buf_adds(&b, "</NextContinuationToken>"));
    }
    must(pier_buf_addstr(&b, pier_buf_str(&cps)));
    must(pier_buf_adds(&b, "</ListBucketResult>"));
    respond(k, 200, "Content-Type: application/xml\r\n", b.data, b.len);
    pier_buf_release(&b);
    pier_buf_release(&cps);
    pier_free(lastp);
    pier_free(prefix);
    pier_free(delim);
    pier_free(token);
    pier_free(after);
    pier_free(mk);
}

static void
do_object(struct conn *k, const char *key)
{
    struct s3_test_origin *o = k->o;
    const char *im = hdr(k, "if-match"), *inm = hdr(k, "if-none-match");
    size_t pos, from = 0, to = 0, i;
    struct object *ob = find(o, key, &pos);
    struct pier_buf h;
    int rs;

    pier_buf_init(&h, SIZE_MAX);
    switch (k->parser.method) {
    case HTTP_PUT:
        if ((im != NULL && !etag_matches(im, ob))
            || (inm != NULL && etag_matches(inm, ob))) {
            respond_error(k, 412, "PreconditionFailed",
                          "At least one of the pre-conditions you specified "
                          "did not hold");
            break;
        }
        if (hdr(k, "x-amz-copy-source") != NULL) {
            /* CopyObject (a refresh copies a key onto itself), the
             * source given as "/bucket/key", the headers replaced. */
            const char *cs = hdr(k, "x-amz-copy-source");
            const char *sk = cs[0] == '/' ? strchr(cs + 1, '/') : NULL;
            struct object *src = sk != NULL ? find(o, sk + 1, &pos) : NULL;
            struct pier_buf copy;

            if (src == NULL) {
                respond_error(k, 404, "NoSuchKey",
                              "The specified key does not exist.");
                break;
            }
            pier_buf_init(&copy, SIZE_MAX);
            must(pier_buf_add(&copy, src->data.data, src->data.len));
            ob = store(o, key, copy.data, copy.len);
            pier_buf_release(&copy);
        } else {
            ob = store(o, key, k->body.data, k->body.len);
        }
        for (i = 0; i < k->nh; i++) {
            if (strcasecmp(k->hname[i], "content-type") == 0
                || strcasecmp(k->hname[i], "cache-control") == 0
                || strcasecmp(k->hname[i], "content-encoding") == 0
                || strncasecmp(k->hname[i], "x-amz-meta-", 11) == 0) {
                must(pier_buf_addf(&ob->hdrs, "%s: %s\r\n", k->hname[i],
                                   k->hvalue[i]));
            }
        }
        must(pier_buf_addf(&h, "ETag: %s\r\n", ob->etag));
        respond(k, 200, h.data, "", 0);
        break;
    case HTTP_GET:
    case HTTP_HEAD:
        if (ob == NULL) {
            respond_error(k, 404, "NoSuchKey",
                          "The specified key does not exist.");
            break;
        }
        if (im != NULL && !etag_matches(im, ob)) {
            respond_error(k, 412, "PreconditionFailed",
                          "At least one of the pre-conditions you specified "
                          "did not hold");
            break;
        }
        if (inm != NULL && etag_matches(inm, ob)) {
            must(pier_buf_addf(&h, "ETag: %s\r\n", ob->etag));
            respond(k, 304, h.data, "", 0);
            break;
        }
        {
            char when[64];
            struct tm tm;

            gmtime_r(&ob->mtime, &tm);
            strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            must(pier_buf_addf(&h, "ETag: %s\r\nLast-Modified: %s\r\n%s",
                               ob->etag, when, ob->hdrs.data));
        }
        rs = k->parser.method == HTTP_GET && !o->ignore_range
                 ? range(hdr(k, "range"), ob->data.len, &from, &to)
                 : 0;
        if (rs == 416) {
            respond_error(k, 416, "InvalidRange",
                          "The requested range is not satisfiable");
        } else if (rs == 206) {
            must(pier_buf_addf(&h, "Content-Range: bytes %zu-%zu/%zu\r\n", from,
                               to, ob->data.len));
            respond(k, 206, h.data, ob->data.data + from, to - from + 1);
        } else {
            respond(k, 200, h.data, ob->data.data, ob->data.len);
        }
        break;
    case HTTP_DELETE:
        if (ob != NULL) {
            erase(o, pos);
        }
        respond(k, 204, NULL, "", 0);
        break;
    default:
        respond_error(k, 405, "MethodNotAllowed",
                      "The specified method is not allowed against this "
                      "resource.");
    }
    pier_buf_release(&h);
}

static void
handle(struct conn *k)
{
    struct s3_test_origin *o = k->o;
    struct http_parser_url u;
    struct pier_str path, query = PIER_STR_NULL;
    size_t bl = strlen(o->bucket);
    char *key;

    o->st.requests++;
    snprintf(o->st.last_range, sizeof(o->st.last_range), "%s",
             hdr(k, "range") != NULL ? hdr(k, "range") : "");
    snprintf(o->st.last_if_match, sizeof(o->st.last_if_match), "%s",
             hdr(k, "if-match") != NULL ? hdr(k, "if-match") : "");
    if (o->drop_n > 0) {
        o->drop_n--;
        k->close_after = true;
        k->stalled = true; /* answer nothing; closed after this batch */
        return;
    }
    if (o->stall_n > 0) {
        o->stall_n--;
        k->stalled = true;
        return;
    }
    if (o->fail_n > 0) {
        o->fail_n--;
        respond_error(k, o->fail_status,
                      o->fail_status == 503 ? "ServiceUnavailable"
                                            : "InternalError",
                      "injected");
        return;
    }
    http_parser_url_init(&u);
    if (http_parser_parse_url(k->url.data, k->url.len, 0, &u) != 0
        || !(u.field_set & (1 << UF_PATH))) {
        respond_error(k, 400, "InvalidRequest", "bad URL");
        return;
    }
    path = pier_str_make(k->url.data + u.field_data[UF_PATH].off,
                         u.field_data[UF_PATH].len);
    if (u.field_set & (1 << UF_QUERY)) {
        query = pier_str_make(k->url.data + u.field_data[UF_QUERY].off,
                              u.field_data[UF_QUERY].len);
    }
    if (!signature_ok(k, path, query)) {
        o->st.bad_signatures++;
        respond_error(k, 403, "SignatureDoesNotMatch",
                      "The request signature we calculated does not match");
        return;
    }
    if (path.len < bl + 1 || memcmp(path.ptr + 1, o->bucket, bl) != 0
        || (path.len > bl + 1 && path.ptr[bl + 1] != '/')) {
        respond_error(k, 404, "NoSuchBucket",
                      "The specified bucket does not exist");
        return;
    }
    if (path.len <= bl + 2) {
        char *lt = param(query.ptr, query.len, "list-type");

        if (k->parser.method == HTTP_GET && lt != NULL
            && strcmp(lt, "2") == 0) {
            do_list(k, query.ptr, query.len);
        } else {
            respond_error(k, 501, "NotImplemented", "only ListObjectsV2");
        }
        pier_free(lt);
        return;
    }
    key = decode(path.ptr + bl + 2, path.len - bl - 2);
    do_object(k, key);
    pier_free(key);
}

/*
 * http_parser glue.
 */

static void
conn_reset(struct conn *k)
{
    size_t i;

    for (i = 0; i < k->nh; i++) {
        pier_free(k->hname[i]);
        pier_free(k->hvalue[i]);
    }
    k->nh = 0;
    k->in_value = false;
    pier_buf_reset(&k->url);
    pier_buf_reset(&k->body);
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
    struct conn *k = p->data;

    must(pier_buf_add(&k->url, at, n));
    return 0;
}

static int
on_hfield(http_parser *p, const char *at, size_t n)
{
    struct conn *k = p->data;

    if (k->in_value || k->nh == 0) {
        if (k->nh == MAX_HDRS) {
            return 1;
        }
        k->hname[k->nh] = pier_strndup(at, n);
        k->hvalue[k->nh] = pier_strdup("");
        k->nh++;
        k->in_value = false;
        return 0;
    }
    {
        char *old = k->hname[k->nh - 1];
        struct pier_buf b;

        pier_buf_init(&b, SIZE_MAX);
        must(pier_buf_adds(&b, old));
        must(pier_buf_add(&b, at, n));
        pier_free(old);
        k->hname[k->nh - 1] = pier_buf_detach(&b, NULL);
    }
    return 0;
}

static int
on_hvalue(http_parser *p, const char *at, size_t n)
{
    struct conn *k = p->data;
    struct pier_buf b;

    k->in_value = true;
    pier_buf_init(&b, SIZE_MAX);
    must(pier_buf_adds(&b, k->hvalue[k->nh - 1]));
    must(pier_buf_add(&b, at, n));
    pier_free(k->hvalue[k->nh - 1]);
    k->hvalue[k->nh - 1] = pier_buf_detach(&b, NULL);
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    struct conn *k = p->data;
    const char *e = hdr(k, "expect");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (e != NULL && strcasecmp(e, "100-continue") == 0) {
        k->o->st.continues++;
        send_all(k, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
    struct conn *k = p->data;

    must(pier_buf_add(&k->body, at, n));
    return 0;
}

static int
on_message_complete(http_parser *p)
{
    struct conn *k = p->data;

    if (!http_should_keep_alive(p)) {
        k->close_after = true;
    }
    if (!k->stalled) {
        handle(k);
    }
    conn_reset(k);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_hfield,
    .on_header_value = on_hvalue,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void
conn_free(struct conn *k)
{
    if (k->ssl != NULL) {
        SSL_free(k->ssl);
    }
    conn_reset(k);
    pier_buf_release(&k->url);
    pier_buf_release(&k->body);
    close(k->fd);
    pier_free(k);
}

/* Read what there is; false when the connection must close. */
static bool
conn_read(struct conn *k)
{
    char buf[65536];
    ssize_t n;
    size_t used;

    do {
        if (k->ssl != NULL) {
            /* Blocking: a record the poll saw start arrives whole soon. */
            int m = SSL_read(k->ssl, buf, sizeof(buf));

            n = m > 0 ? m : -1;
            if (m <= 0) {
                return false;
            }
        } else {
            n = recv(k->fd, buf, sizeof(buf), 0);
            if (n < 0 && errno == EINTR) {
                return true;
            }
            if (n <= 0) {
                return false;
            }
        }
        if (k->stalled) {
            continue; /* ignore everything */
        }
        used = http_parser_execute(&k->parser, &settings, buf, (size_t) n);
        if (used != (size_t) n || HTTP_PARSER_ERRNO(&k->parser) != HPE_OK) {
            return false;
        }
    } while (!k->close_after && k->ssl != NULL && SSL_pending(k->ssl) > 0);
    return !k->close_after;
}

static void *
run(void *arg)
{
    struct s3_test_origin *o = arg;
    struct pollfd pfd[MAX_CONNS + 2];

    for (;;) {
        size_t i, n = 0;

        pthread_mutex_lock(&o->mu);
        pfd[n++] = (struct pollfd){.fd = o->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = o->lfd, .events = POLLIN};
        for (i = 0; i < o->nconns; i++) {
            pfd[n++] = (struct pollfd){.fd = o->conns[i]->fd, .events = POLLIN};
        }
        pthread_mutex_unlock(&o->mu);
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("poll");
        }
        if (pfd[0].revents != 0) {
            return NULL;
        }
        pthread_mutex_lock(&o->mu);
        for (i = 2; i < n; i++) {
            size_t j;
            struct conn *k = NULL;

            if (pfd[i].revents == 0) {
                continue;
            }
            for (j = 0; j < o->nconns; j++) {
                if (o->conns[j]->fd == pfd[i].fd) {
                    k = o->conns[j];
                    break;
                }
            }
            PIER_ASSERT(k != NULL);
            if (!conn_read(k)) {
                conn_free(k);
                o->conns[j] = o->conns[--o->nconns];
            }
        }
        if (pfd[1].revents & POLLIN) {
            int fd = accept4(o->lfd, NULL, NULL, SOCK_CLOEXEC);

            if (fd >= 0 && o->nconns == MAX_CONNS) {
                close(fd);
            } else if (fd >= 0) {
                struct conn *k = pier_calloc(1, sizeof(*k));

                k->fd = fd;
                k->o = o;
                pier_buf_init(&k->url, 8192);
                pier_buf_init(&k->body, SIZE_MAX);
                http_parser_init(&k->parser, HTTP_REQUEST);
                k->parser.data = k;
                o->st.connections++;
                if (o->tls != NULL) {
                    k->ssl = SSL_new(o->tls);
                    PIER_ASSERT(k->ssl != NULL);
                    SSL_set_fd(k->ssl, fd);
                }
                if (k->ssl != NULL && SSL_accept(k->ssl) != 1) {
                    /* A client that refused our certificate. */
                    ERR_clear_error();
                    conn_free(k);
                } else {
                    o->conns[o->nconns++] = k;
                }
                if (o->nconns > o->st.peak_connections) {
                    o->st.peak_connections = (unsigned) o->nconns;
                }
            }
        }
        pthread_mutex_unlock(&o->mu);
    }
}

static struct s3_test_origin *
start(const char *akid, const char *secret, const char *region,
      const char *bucket, const char *token, SSL_CTX *tls)
{
    struct s3_test_origin *o = pier_calloc(1, sizeof(*o));
    struct sockaddr_in sin = {0};
    socklen_t sl = sizeof(sin);

    pthread_mutex_init(&o->mu, NULL);
    o->akid = pier_strdup(akid);
    o->secret = pier_strdup(secret);
    o->region = pier_strdup(region);
    o->bucket = pier_strdup(bucket);
    o->token = token != NULL ? pier_strdup(token) : NULL;
    o->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (o->lfd < 0) {
        die("socket");
    }
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (bind(o->lfd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(o->lfd, 128) != 0
        || getsockname(o->lfd, (struct sockaddr *) &sin, &sl) != 0) {
        die("bind");
    }
    o->tls = tls;
    snprintf(o->endpoint, sizeof(o->endpoint), "%s://127.0.0.1:%u",
             tls != NULL ? "https" : "http", (unsigned) ntohs(sin.sin_port));
    if (pipe2(o->wake, O_CLOEXEC) != 0) {
        die("pipe");
    }
    if (pthread_create(&o->thread, NULL, run, o) != 0) {
        die("pthread_create");
    }
    return o;
}

struct s3_test_origin *
s3_test_origin_start(const char *akid, const char *secret, const char *region,
                     const char *bucket, const char *token)
{
    return start(akid, secret, region, bucket, token, NULL);
}

/* A P-256 key and a self-signed certificate for IP 127.0.0.1, valid for
 * an hour, in a server context; the certificate also goes to cert_file. */
static SSL_CTX *
make_tls(const char *cert_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    static const char *const exts[][2] = {
        {"basicConstraints", "critical,CA:TRUE"},
        {"subjectAltName", "IP:127.0.0.1"},
        {"keyUsage", "critical,digitalSignature,keyCertSign"},
    };
    size_t i;
    FILE *fp;

    PIER_ASSERT(ctx != NULL && key != NULL && x != NULL);
    PIER_ASSERT(X509_set_version(x, 2) == 1);
    PIER_ASSERT(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
    PIER_ASSERT(X509_gmtime_adj(X509_getm_notBefore(x), -60) != NULL);
    PIER_ASSERT(X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL);
    PIER_ASSERT(X509_set_pubkey(x, key) == 1);
    name = X509_get_subject_name(x);
    PIER_ASSERT(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           (const unsigned char *) "pier test",
                                           -1, -1, 0)
                == 1);
    PIER_ASSERT(X509_set_issuer_name(x, name) == 1);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    for (i = 0; i < PIER_NELEMS(exts); i++) {
        ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        PIER_ASSERT(ext != NULL);
        PIER_ASSERT(X509_add_ext(x, ext, -1) == 1);
        X509_EXTENSION_free(ext);
    }
    PIER_ASSERT(X509_sign(x, key, EVP_sha256()) > 0);
    PIER_ASSERT(SSL_CTX_use_certificate(ctx, x) == 1);
    PIER_ASSERT(SSL_CTX_use_PrivateKey(ctx, key) == 1);
    PIER_ASSERT(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1);
    fp = fopen(cert_file, "w");
    PIER_ASSERT(fp != NULL);
    PIER_ASSERT(PEM_write_X509(fp, x) == 1);
    PIER_ASSERT(fclose(fp) == 0);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

struct s3_test_origin *
s3_test_origin_start_tls(const char *akid, const char *secret,
                         const char *region, const char *bucket,
                         const char *cert_file)
{
    return start(akid, secret, region, bucket, NULL, make_tls(cert_file));
}

void
s3_test_origin_stop(struct s3_test_origin *o)
{
    size_t i;

    if (write(o->wake[1], "x", 1) != 1) {
        die("write");
    }
    pthread_join(o->thread, NULL);
    for (i = 0; i < o->nconns; i++) {
        conn_free(o->conns[i]);
    }
    while (o->nobjs > 0) {
        erase(o, o->nobjs - 1);
    }
    pier_free(o->objs);
    close(o->lfd);
    close(o->wake[0]);
    close(o->wake[1]);
    pthread_mutex_destroy(&o->mu);
    SSL_CTX_free(o->tls);
    pier_free(o->akid);
    pier_free(o->secret);
    pier_free(o->region);
    pier_free(o->bucket);
    pier_free(o->token);
    pier_free(o);
}

const char *
s3_test_origin_endpoint(const struct s3_test_origin *o)
{
    return o->endpoint;
}

void
s3_test_origin_fail_next(struct s3_test_origin *o, unsigned n, int status)
{
    pthread_mutex_lock(&o->mu);
    o->fail_n = n;
    o->fail_status = status;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_drop_next(struct s3_test_origin *o, unsigned n)
{
    pthread_mutex_lock(&o->mu);
    o->drop_n = n;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_cut_next(struct s3_test_origin *o, unsigned n, size_t after)
{
    pthread_mutex_lock(&o->mu);
    o->cut_n = n;
    o->cut_after = after;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_ignore_range(struct s3_test_origin *o, bool ignore)
{
    pthread_mutex_lock(&o->mu);
    o->ignore_range = ignore;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_stall_next(struct s3_test_origin *o, unsigned n)
{
    pthread_mutex_lock(&o->mu);
    o->stall_n = n;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_stats(struct s3_test_origin *o, struct s3_test_origin_stats *st)
{
    pthread_mutex_lock(&o->mu);
    *st = o->st;
    pthread_mutex_unlock(&o->mu);
}

void
s3_test_origin_put(struct s3_test_origin *o, const char *key, const void *p,
                   size_t n)
{
    pthread_mutex_lock(&o->mu);
    store(o, key, p, n);
    pthread_mutex_unlock(&o->mu);
}

bool
s3_test_origin_get(struct s3_test_origin *o, const char *key,
                   struct pier_buf *out)
{
    size_t pos;
    struct object *ob;

    pthread_mutex_lock(&o->mu);
    ob = find(o, key, &pos);
    pier_buf_reset(out);
    if (ob != NULL) {
        must(pier_buf_add(out, ob->data.data, ob->data.len));
    }
    pthread_mutex_unlock(&o->mu);
    return ob != NULL;
}

bool
s3_test_origin_header(struct s3_test_origin *o, const char *key,
                      const char *name, struct pier_buf *out)
{
    size_t pos, nl = strlen(name);
    struct object *ob;
    const char *p;
    bool found = false;

    pthread_mutex_lock(&o->mu);
    ob = find(o, key, &pos);
    pier_buf_reset(out);
    for (p = ob != NULL ? ob->hdrs.data : ""; *p != '\0';) {
        const char *eol = strstr(p, "\r\n");

        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            must(pier_buf_add(out, p + nl + 2, (size_t) (eol - p - nl - 2)));
            found = true;
            break;
        }
        p = eol + 2;
    }
    pthread_mutex_unlock(&o->mu);
    return found;
}
