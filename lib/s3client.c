/*
 * lib/s3client.c - the S3 client: curl's multi interface on a libuv loop.
 *
 * Design. curl tells us which sockets to watch (on_socket: one uv_poll_t
 * per socket) and when to call it back (on_curl_timer: one uv_timer_t per
 * client); libuv tells curl when a socket is ready (on_poll) or the timer
 * fired (on_timeout), through curl_multi_socket_action(). After each of
 * those calls, drain() collects finished transfers: each one succeeds,
 * fails, or is retried after a backoff on its own timer, re-signed with a
 * fresh date (a signature is valid for 15 minutes, a backoff may be long).
 *
 * A request lives in struct s3_req from pier_s3_start() to its done
 * callback. Its states: HASHING (the SHA-256 of a body file is computed on
 * the thread pool), ACTIVE (its easy handle is in the multi), BACKOFF
 * (waiting to retry), DONE (called back; memory freed once its timer has
 * closed). curl's connection cache keeps connections alive between
 * requests of one client.
 *
 * Every handle is closed before the client's memory goes: the client
 * counts open handles (its timer, the polls, the requests' timers and
 * thread-pool work) and frees itself when pier_s3_client_free() has been
 * called and the count reaches zero.
 */
#include "config.h"

#include "lib/s3client.h"

#include "lib/log.h"
#include "lib/sha.h"
#include "lib/sigv4.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_CLIENT_MAGIC 0x5a3c1e47u
#define S3_REQ_MAGIC    0x7d21b0a9u
#define S3_SOCK_MAGIC   0x31f4c8d2u
#define S3_SYNC_MAGIC   0x0be9a5c3u

#define ERRBODY_MAX      (64 * 1024)        /* an error answer's body we keep */
#define HEADERS_MAX      (64 * 1024)        /* a response's header block */
#define LISTBODY_MAX     (16 * 1024 * 1024) /* one ListObjectsV2 page */
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct s3_sock {
    unsigned magic;
    uv_poll_t poll;
    curl_socket_t fd;
    struct pier_s3_client *c;
    struct s3_sock *prev, *next;
};

enum req_state { R_HASHING, R_ACTIVE, R_BACKOFF, R_DONE };

struct s3_req {
    unsigned magic;
    struct pier_s3_client *c;
    struct s3_req *prev, *next;
    enum pier_s3_op op;
    enum req_state state;
    CURL *easy;
    struct curl_slist *hdrs;
    char *path;  /* URI-encoded, as sent and signed */
    char *query; /* raw, as sent; the signer canonicalises it */
    char *what;  /* "PUT 'bucket/key'", for messages */

    /* Extra headers, lower-cased names; names and values are NUL-ended
     * strings in one allocation each. */
    char **xnames, **xvalues;
    size_t nx;

    /* The body of a PUT: memory or a file, read from off. */
    const char *body;
    int body_fd;
    uint64_t body_len, off;
    char payload_hash[65];

    /* Where a 2xx GET body goes. */
    int out_fd;
    pier_s3_data_cb on_data;
    pier_s3_headers_cb on_headers;
    void *stream_arg;
    bool delivered;      /* on_data has had bytes */
    uint64_t ndelivered; /* how many */
    bool resuming;       /* this attempt asks for the rest (Range) */
    uint64_t skip;       /* resuming, answered 200: bytes to drop first */
    bool bad_resume;     /* resuming, answered with another range */
    bool sink_failed;    /* on_data or the file refused: no retry */
    int sink_errno;
    bool too_big; /* the memory body passed max_body */

    int cur_status; /* status line of the header block being read */
    struct pier_s3_response resp;
    struct pier_buf errbody;

    unsigned attempt;
    uv_timer_t timer;
    bool timer_init;
    uv_work_t work;
    int work_errno;
    char curl_error[CURL_ERROR_SIZE];
    pier_s3_done_cb cb;
    void *arg;
};

struct pier_s3_client {
    unsigned magic;
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    char *base_url;  /* "http://host:port" */
    char *base_path; /* "" or "/prefix", no trailing slash */
    char *host;      /* the Host header, signed */
    char *bucket, *region, *akid, *secret, *token, *ca_file;
    struct pier_s3_config cfg; /* numbers only; its strings are not kept */
    struct s3_req *reqs;
    struct s3_sock *socks;
    unsigned open_handles;
    bool freeing;
    bool in_callback;
    uint64_t connections;
    uint64_t rng;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

/*
 * Configuration.
 */

void
pier_s3_config_init(struct pier_s3_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_retries = 3;
    cfg->retry_base_ms = 100;
    cfg->retry_max_ms = 5000;
}

static const char *
env(const char *name, const char *old)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? v : old;
}

void
pier_s3_config_from_env(struct pier_s3_config *cfg)
{
    cfg->access_key_id = env("AWS_ACCESS_KEY_ID", cfg->access_key_id);
    cfg->secret_access_key =
        env("AWS_SECRET_ACCESS_KEY", cfg->secret_access_key);
    cfg->session_token = env("AWS_SESSION_TOKEN", cfg->session_token);
    /* The service-specific variable wins, as in the AWS SDKs. */
    cfg->endpoint =
        env("AWS_ENDPOINT_URL_S3", env("AWS_ENDPOINT_URL", cfg->endpoint));
    cfg->region = env("AWS_REGION", env("AWS_DEFAULT_REGION", cfg->region));
}

/*
 * Encoding. S3 wants RFC 3986 percent-encoding of everything but the
 * unreserved characters; in the path '/' stays as it is.
 */

static bool
unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'
           || ch == '~';
}

static int
uri_encode(struct pier_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            if (pier_buf_addch(b, (char) *p) != PIER_OK) {
                return PIER_ERR;
            }
        } else if (pier_buf_addch(b, '%') != PIER_OK
                   || pier_buf_addch(b, hex[*p >> 4]) != PIER_OK
                   || pier_buf_addch(b, hex[*p & 15]) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

static int
add_param(struct pier_buf *q, const char *name, const char *value)
{
    if (value == NULL) {
        return PIER_OK;
    }
    if ((q->len > 0 && pier_buf_addch(q, '&') != PIER_OK)
        || pier_buf_adds(q, name) != PIER_OK || pier_buf_addch(q, '=') != 0
        || uri_encode(q, value, false) != PIER_OK) {
        return PIER_ERR;
    }
    return PIER_OK;
}

/* Header values go on one line: no CR, LF or NUL (NUL cannot occur in a C
 * string), and no leading or trailing blanks, which the signer would trim
 * but curl would send. */
static bool
header_value_ok(const char *v)
{
    size_t n = strlen(v);

    if (strpbrk(v, "\r\n") != NULL) {
        return false;
    }
    return n == 0
           || (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' '
               && v[n - 1] != '\t');
}

static bool
header_name_ok(struct pier_str n)
{
    size_t i;

    if (n.len == 0) {
        return false;
    }
    for (i = 0; i < n.len; i++) {
        unsigned char ch = (unsigned char) n.ptr[i];

        if (!unreserved(ch) && ch != '!' && ch != '#' && ch != '$' && ch != '%'
            && ch != '&' && ch != '\'' && ch != '*' && ch != '+' && ch != '^'
            && ch != '`' && ch != '|') {
            return false;
        }
    }
    return true;
}

/*
 * Responses.
 */

void
pier_s3_response_init(struct pier_s3_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    pier_buf_init(&resp->body, SIZE_MAX);
    pier_buf_init(&resp->headers_raw, HEADERS_MAX);
    pier_s3_list_init(&resp->list);
    resp->content_length = -1;
}

void
pier_s3_response_release(struct pier_s3_response *resp)
{
    pier_buf_release(&resp->body);
    pier_buf_release(&resp->headers_raw);
    pier_s3_list_release(&resp->list);
    resp->etag = resp->content_type = resp->last_modified = resp->request_id =
        PIER_STR_NULL;
}

bool
pier_s3_response_header(const struct pier_s3_response *resp, const char *name,
                        struct pier_str *value)
{
    const char *p = resp->headers_raw.data;
    const char *end = p + resp->headers_raw.len;
    struct pier_str want = pier_str_cstr(name);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t) (end - p));
        const char *colon = memchr(p, ':', (size_t) ((eol ? eol : end) - p));
        const char *v, *ve;

        if (eol == NULL) {
            eol = end;
        }
        if (colon != NULL
            && pier_str_caseeq(pier_str_make(p, (size_t) (colon - p)), want)) {
            v = colon + 1;
            ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v
                   && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            *value = pier_str_make(v, (size_t) (ve - v));
            return true;
        }
        p = eol + 1;
    }
    return false;
}

/* Point the response's views at its header block, once it is complete
 * (the buffer no longer moves). */
static void
set_views(struct pier_s3_response *resp)
{
    struct pier_str v;
    char num[32];

    resp->etag = resp->content_type = resp->last_modified = resp->request_id =
        PIER_STR_NULL;
    resp->content_length = -1;
    (void) pier_s3_response_header(resp, "etag", &resp->etag);
    (void) pier_s3_response_header(resp, "content-type", &resp->content_type);
    (void) pier_s3_response_header(resp, "last-modified", &resp->last_modified);
    (void) pier_s3_response_header(resp, "x-amz-request-id", &resp->request_id);
    if (pier_s3_response_header(resp, "content-length", &v) && v.len > 0
        && v.len < sizeof(num)) {
        char *end;

        memcpy(num, v.ptr, v.len);
        num[v.len] = '\0';
        errno = 0;
        long long n = strtoll(num, &end, 10);
        if (errno == 0 && *end == '\0' && n >= 0) {
            resp->content_length = n;
        }
    }
}

/* A resumed download's answer: 206 must continue exactly where the
 * stream stopped; a 200 (a server that ignores Range) starts over, and
 * the bytes the sink already has are dropped. */
static void
resume_check(struct s3_req *r)
{
    struct pier_str v;
    char want[32];
    int n;

    r->skip = 0;
    if (r->cur_status == 200) {
        r->skip = r->ndelivered;
        return;
    }
    if (r->cur_status != 206) {
        return; /* an error answer: done() reports it */
    }
    n = snprintf(want, sizeof(want), "bytes %" PRIu64 "-", r->ndelivered);
    if (!pier_s3_response_header(&r->resp, "content-range", &v)
        || v.len < (size_t) n || memcmp(v.ptr, want, (size_t) n) != 0) {
        r->bad_resume = true;
    }
}

/*
 * curl callbacks for one transfer. They run inside
 * curl_multi_socket_action(): they must not call back into the multi.
 */

static size_t
on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct s3_req *r = ud;
    size_t n = size * nmemb;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new header block: a 100 Continue, then the final one. */
        const char *sp = memchr(p, ' ', n);

        r->cur_status = 0;
        if (sp != NULL && (size_t) (sp - p) + 4 <= n) {
            int i;

            for (i = 1; i <= 3; i++) {
                if (sp[i] < '0' || sp[i] > '9') {
                    break;
                }
                r->cur_status = r->cur_status * 10 + (sp[i] - '0');
            }
        }
        pier_buf_reset(&r->resp.headers_raw);
        return n;
    }
    if (n <= 2 && (n == 0 || p[0] == '\r' || p[0] == '\n')) {
        /* The end of a block. Only a final one counts. */
        if (r->cur_status >= 200) {
            r->resp.status = r->cur_status;
            set_views(&r->resp);
            if (r->resuming) {
                resume_check(r);
            } else if (r->cur_status < 300 && r->on_headers != NULL
                       && r->op == PIER_S3_OP_GET) {
                r->on_headers(&r->resp, r->stream_arg);
            }
        }
        return n;
    }
    if (pier_buf_add(&r->resp.headers_raw, p, n) != PIER_OK) {
        /* Past HEADERS_MAX: the line is dropped, the response goes on. */
        PIER_DEBUG("s3", "%s: header line dropped", r->what);
    }
    return n;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return errno;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct s3_req *r = ud;
    size_t n = size * nmemb;
    int e;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    if (r->cur_status < 200 || r->cur_status >= 300) {
        /* An error answer: keep its start for the S3 error XML. */
        size_t keep = ERRBODY_MAX - r->errbody.len;

        if (keep > n) {
            keep = n;
        }
        if (pier_buf_add(&r->errbody, p, keep) != PIER_OK) {
            PIER_ASSERT(0);
        }
        return n;
    }
    if (r->on_data != NULL) {
        size_t drop = r->skip < n ? (size_t) r->skip : n;

        if (r->bad_resume) {
            return 0;
        }
        r->skip -= drop;
        if (drop == n) {
            return n;
        }
        r->delivered = true;
        r->ndelivered += n - drop;
        if (r->on_data(p + drop, n - drop, r->stream_arg) != PIER_OK) {
            r->sink_failed = true;
            return 0;
        }
        return n;
    }
    if (r->out_fd >= 0) {
        e = write_all(r->out_fd, p, n);
        if (e != 0) {
            r->sink_failed = true;
            r->sink_errno = e;
            return 0;
        }
        return n;
    }
    if (pier_buf_add(&r->resp.body, p, n) != PIER_OK) {
        r->too_big = true;
        return 0;
    }
    return n;
}

static size_t
on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    struct s3_req *r = ud;
    size_t n = size * nmemb;
    uint64_t left;
    ssize_t got;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    PIER_ASSERT(r->off <= r->body_len);
    left = r->body_len - r->off;
    if (n > left) {
        n = (size_t) left;
    }
    if (n == 0) {
        return 0;
    }
    if (r->body != NULL) {
        memcpy(p, r->body + r->off, n);
        r->off += n;
        return n;
    }
    do {
        got = pread(r->body_fd, p, n, (off_t) r->off);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        /* The file shrank or failed under us: the body would not match
         * its signed hash anyway. */
        r->sink_errno = got < 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
    }
    r->off += (uint64_t) got;
    return (size_t) got;
}

/* curl rewinds when it resends a body (a reused connection that turned
 * out dead); so do our own retries. */
static int
on_seek(void *ud, curl_off_t offset, int origin)
{
    struct s3_req *r = ud;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > r->body_len) {
        return CURL_SEEKFUNC_FAIL;
    }
    r->off = (uint64_t) offset;
    return CURL_SEEKFUNC_OK;
}

/*
 * Requests.
 */

static void drain(struct pier_s3_client *c);
static void start_attempt(struct s3_req *r);

static void
client_unref(struct pier_s3_client *c)
{
    PIER_ASSERT(c->open_handles > 0);
    c->open_handles--;
    if (c->freeing && c->open_handles == 0) {
        PIER_ASSERT(c->reqs == NULL && c->socks == NULL);
        pier_free(c->base_url);
        pier_free(c->base_path);
        pier_free(c->host);
        pier_free(c->bucket);
        pier_free(c->region);
        pier_free(c->akid);
        pier_free(c->secret);
        pier_free(c->token);
        pier_free(c->ca_file);
        c->magic = 0;
        pier_free(c);
    }
}

static void
req_release(struct s3_req *r)
{
    size_t i;

    if (r->easy != NULL) {
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    if (r->body_fd >= 0) {
        close(r->body_fd);
    }
    if (r->out_fd >= 0) {
        close(r->out_fd);
    }
    for (i = 0; i < r->nx; i++) {
        pier_free(r->xnames[i]);
        pier_free(r->xvalues[i]);
    }
    pier_free(r->xnames);
    pier_free(r->xvalues);
    pier_free(r->path);
    pier_free(r->query);
    pier_free(r->what);
    pier_s3_response_release(&r->resp);
    pier_buf_release(&r->errbody);
    r->magic = 0;
    pier_free(r);
}

static void
on_req_timer_closed(uv_handle_t *h)
{
    struct s3_req *r = h->data;
    struct pier_s3_client *c;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    c = r->c;
    req_release(r);
    client_unref(c);
}

/* Unlink r, call its callback once, and free it (once its timer has
 * closed). err NULL means success. A request whose thread-pool work is
 * still running is freed by the work's after-callback. */
static void
finish(struct s3_req *r, const struct pier_err *err)
{
    struct pier_s3_client *c = r->c;
    bool was_hashing = r->state == R_HASHING;

    PIER_ASSERT(r->state != R_DONE);
    if (r->state == R_ACTIVE) {
        curl_multi_remove_handle(c->multi, r->easy);
    }
    if (r->timer_init) {
        uv_timer_stop(&r->timer);
    }
    r->state = R_DONE;
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        c->reqs = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    r->prev = r->next = NULL;

    c->in_callback = true;
    r->cb(&r->resp, err, r->arg);
    c->in_callback = false;

    if (was_hashing) {
        return; /* on_hashed closes it */
    }
    PIER_ASSERT(r->timer_init);
    uv_close((uv_handle_t *) &r->timer, on_req_timer_closed);
}

static void
fail_sys(struct s3_req *r, int sys, const char *doing)
{
    struct pier_err err;

    pier_err_sys(&err, sys, "%s: %s", r->what, doing);
    finish(r, &err);
}

/* The headers of one attempt, signed with the current time. */
static int
sign_attempt(struct s3_req *r, struct pier_err *err)
{
    struct pier_s3_client *c = r->c;
    struct pier_sigv4_key key = {c->akid, c->secret, c->region, "s3", c->token};
    static const char *const methods[] = {
        [PIER_S3_OP_GET] = "GET",  [PIER_S3_OP_HEAD] = "HEAD",
        [PIER_S3_OP_PUT] = "PUT",  [PIER_S3_OP_DELETE] = "DELETE",
        [PIER_S3_OP_LIST] = "GET", [PIER_S3_OP_DELETE_OBJECTS] = "POST",
    };
    struct pier_kv *kv;
    struct pier_buf line, auth;
    struct curl_slist *l = NULL, *nl;
    char amz_date[20];
    struct tm tm;
    time_t now = time(NULL);
    size_t n = 0, i;
    int rc;

    if (gmtime_r(&now, &tm) == NULL
        || strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) == 0) {
        return pier_err_set(err, "%s: cannot format the date", r->what);
    }
    kv = pier_calloc(r->nx + 6, sizeof(*kv));
    kv[n++] = (struct pier_kv){PIER_STR("host"), pier_str_cstr(c->host)};
    kv[n++] = (struct pier_kv){PIER_STR("x-amz-content-sha256"),
                               pier_str_cstr(r->payload_hash)};
    kv[n++] = (struct pier_kv){PIER_STR("x-amz-date"), pier_str_cstr(amz_date)};
    if (c->token != NULL) {
        kv[n++] = (struct pier_kv){PIER_STR("x-amz-security-token"),
                                   pier_str_cstr(c->token)};
    }
    for (i = 0; i < r->nx; i++) {
        kv[n++] = (struct pier_kv){pier_str_cstr(r->xnames[i]),
                                   pier_str_cstr(r->xvalues[i])};
    }
    pier_buf_init(&auth, 4096);
    pier_buf_init(&line, SIZE_MAX);
    rc = pier_sigv4_authorization(
        &key, amz_date, methods[r->op], pier_str_cstr(r->path),
        pier_str_cstr(r->query != NULL ? r->query : ""), kv, n, r->payload_hash,
        &auth, err);
    for (i = 0; i < n + 1 && rc == PIER_OK; i++) {
        struct pier_str name = i < n ? kv[i].name : PIER_STR("authorization");
        struct pier_str value = i < n ? kv[i].value : pier_buf_str(&auth);

        pier_buf_reset(&line);
        /* "name;" sends an empty value; "name:" would remove the header. */
        if (pier_buf_addstr(&line, name) != PIER_OK
            || (value.len == 0 && pier_buf_addch(&line, ';') != PIER_OK)
            || (value.len > 0
                && pier_buf_addf(&line, ": %.*s", (int) value.len, value.ptr)
                       != PIER_OK)) {
            PIER_ASSERT(0); /* line has no maximum */
        }
        nl = curl_slist_append(l, line.data);
        if (nl == NULL) {
            pier_panic(__func__, __FILE__, __LINE__, "out of memory");
        }
        l = nl;
    }
    pier_buf_release(&auth);
    pier_buf_release(&line);
    pier_free(kv);
    if (rc != PIER_OK) {
        curl_slist_free_all(l);
        return rc;
    }
    curl_slist_free_all(r->hdrs);
    r->hdrs = l;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
    return PIER_OK;
}

/* Everything an attempt starts afresh with. */
static void
reset_attempt(struct s3_req *r)
{
    r->off = 0;
    r->cur_status = 0;
    r->resp.status = 0;
    pier_buf_reset(&r->resp.body);
    pier_buf_reset(&r->resp.headers_raw);
    set_views(&r->resp);
    pier_buf_reset(&r->errbody);
    r->curl_error[0] = '\0';
}

static void
start_attempt(struct s3_req *r)
{
    struct pier_err err;
    CURLMcode mc;

    reset_attempt(r);
    if (r->out_fd >= 0
        && (ftruncate(r->out_fd, 0) != 0
            || lseek(r->out_fd, 0, SEEK_SET) != 0)) {
        fail_sys(r, errno, "cannot truncate the output file");
        return;
    }
    if (sign_attempt(r, &err) != PIER_OK) {
        finish(r, &err);
        return;
    }
    r->attempt++;
    r->resp.attempts = r->attempt;
    mc = curl_multi_add_handle(r->c->multi, r->easy);
    if (mc != CURLM_OK) {
        pier_err_set(&err, "%s: %s", r->what, curl_multi_strerror(mc));
        finish(r, &err);
        return;
    }
    r->state = R_ACTIVE;
}

static void
on_backoff(uv_timer_t *t)
{
    struct s3_req *r = t->data;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    PIER_ASSERT(r->state == R_BACKOFF);
    start_attempt(r);
}

static uint64_t
next_rand(struct pier_s3_client *c)
{
    /* xorshift64: jitter only, nothing secret. */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

/* Try again after base * 2^(attempt-1), capped, with jitter over its
 * second half so that many clients do not retry in step. */
static void
retry(struct s3_req *r, const char *why)
{
    struct pier_s3_client *c = r->c;
    uint64_t d = c->cfg.retry_base_ms;
    unsigned i;

    for (i = 1; i < r->attempt && d < c->cfg.retry_max_ms; i++) {
        d *= 2;
    }
    if (d > c->cfg.retry_max_ms) {
        d = c->cfg.retry_max_ms;
    }
    d = d / 2 + next_rand(c) % (d / 2 + 1);
    pier_log(PIER_LOG_WARN, "s3", "%s: %s; retry %u of %u in %" PRIu64 " ms",
             r->what, why, r->attempt, c->cfg.max_retries, d);
    PIER_ASSERT(r->timer_init);
    r->state = R_BACKOFF;
    PIER_ASSERT(uv_timer_start(&r->timer, on_backoff, d, 0) == 0);
}

static bool
retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* Set (or replace) one of the request's signed headers. The arrays have
 * room for the three conditional/range headers besides the caller's. */
static void
set_header(struct s3_req *r, const char *name, const char *value)
{
    size_t i;

    for (i = 0; i < r->nx; i++) {
        if (strcmp(r->xnames[i], name) == 0) {
            pier_free(r->xvalues[i]);
            r->xvalues[i] = pier_strdup(value);
            return;
        }
    }
    r->xnames[r->nx] = pier_strdup(name);
    r->xvalues[r->nx] = pier_strdup(value);
    r->nx++;
}

/* A streamed GET that lost its connection after some bytes went to the
 * sink can go on from there: the next attempt asks for the rest with
 * Range, pinned to the same object with If-Match on its ETag. Not when
 * the caller asked for a range itself, and not without an ETag. */
static bool
resumable(struct s3_req *r)
{
    struct pier_str etag;
    size_t i;

    if (r->op != PIER_S3_OP_GET || r->on_data == NULL || r->bad_resume
        || r->sink_failed) {
        return false;
    }
    for (i = 0; i < r->nx; i++) {
        if (strcmp(r->xnames[i], "range") == 0 && !r->resuming) {
            return false;
        }
    }
    if (r->resuming) {
        return true; /* range and if-match are set already */
    }
    etag = r->resp.etag;
    return etag.len > 0 && memchr(etag.ptr, '\r', etag.len) == NULL;
}

/* Turn r into a request for the rest of its stream. */
static void
resume(struct s3_req *r)
{
    char range[48];
    char *etag;
    size_t i;
    bool pinned = false;

    snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", r->ndelivered);
    set_header(r, "range", range);
    for (i = 0; i < r->nx; i++) {
        pinned = pinned || strcmp(r->xnames[i], "if-match") == 0;
    }
    if (!r->resuming && !pinned) {
        etag = pier_strndup(r->resp.etag.ptr, r->resp.etag.len);
        set_header(r, "if-match", etag);
        pier_free(etag);
    }
    r->resuming = true;
}

/* A transfer ended: succeed, fail, or try again. */
static void
done(struct s3_req *r, CURLcode rc)
{
    struct pier_s3_client *c = r->c;
    struct pier_err err;
    long status = 0, nconn = 0;
    bool can_retry =
        r->attempt <= c->cfg.max_retries && (!r->delivered || resumable(r));

    curl_multi_remove_handle(c->multi, r->easy);
    r->state = R_BACKOFF; /* out of the multi; retry() or finish() next */
    if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK
        && nconn > 0) {
        c->connections += (uint64_t) nconn;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->resp.status = (int) status;

    if (rc != CURLE_OK) {
        if (r->bad_resume) {
            pier_err_set(&err,
                         "%s: resumed at byte %" PRIu64
                         " but answered another range",
                         r->what, r->ndelivered);
            finish(r, &err);
        } else if (r->too_big) {
            pier_err_s3(&err, PIER_S3_ENTITY_TOO_LARGE,
                        "%s: body larger than %zu bytes", r->what,
                        r->resp.body.max);
            finish(r, &err);
        } else if (r->sink_failed && r->sink_errno != 0) {
            fail_sys(r, r->sink_errno, "cannot write the body");
        } else if (r->sink_failed) {
            pier_err_set(&err, "%s: the body's reader stopped it", r->what);
            finish(r, &err);
        } else if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR) {
            fail_sys(r, r->sink_errno != 0 ? r->sink_errno : EIO,
                     "cannot read the body");
        } else if (retryable_curl(rc) && can_retry) {
            if (r->delivered) {
                resume(r);
            }
            retry(r, curl_easy_strerror(rc));
        } else {
            pier_err_set(&err, "%s: %s%s%s", r->what, curl_easy_strerror(rc),
                         r->curl_error[0] != '\0' ? ": " : "", r->curl_error);
            err.sys = rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
                      : rc == CURLE_COULDNT_CONNECT  ? ECONNREFUSED
                                                     : EIO;
            finish(r, &err);
        }
        return;
    }
    if (status >= 200 && status < 300) {
        if (r->op == PIER_S3_OP_LIST
            && pier_s3_list_parse(r->resp.body.data, r->resp.body.len,
                                  &r->resp.list, &err)
                   != PIER_OK) {
            finish(r, &err);
            return;
        }
        finish(r, NULL);
        return;
    }
    if (status >= 500 && can_retry) {
        char why[32];

        if (r->delivered) {
            resume(r);
        }
        snprintf(why, sizeof(why), "HTTP %ld", status);
        retry(r, why);
        return;
    }
    pier_s3_error_parse((int) status, r->errbody.data, r->errbody.len, r->what,
                        &err);
    finish(r, &err);
}

/* Collect finished transfers after curl_multi_socket_action(). */
static void
drain(struct pier_s3_client *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct s3_req *r = NULL;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &r);
        PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
        done(r, m->data.result);
    }
}

/*
 * curl's sockets and timer on the loop.
 */

static void
on_sock_closed(uv_handle_t *h)
{
    struct s3_sock *s = h->data;
    struct pier_s3_client *c;

    PIER_CHECK_OBJ(s, S3_SOCK_MAGIC);
    c = s->c;
    s->magic = 0;
    pier_free(s);
    client_unref(c);
}

static void
sock_close(struct s3_sock *s)
{
    struct pier_s3_client *c = s->c;

    uv_poll_stop(&s->poll);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        c->socks = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    uv_close((uv_handle_t *) &s->poll, on_sock_closed);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct s3_sock *s = h->data;
    struct pier_s3_client *c;
    int flags = 0, running;

    PIER_CHECK_OBJ(s, S3_SOCK_MAGIC);
    c = s->c;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    drain(c);
}

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct pier_s3_client *c = userp;
    struct s3_sock *s = socketp;
    int events = 0;

    (void) e;
    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            PIER_CHECK_OBJ(s, S3_SOCK_MAGIC);
            curl_multi_assign(c->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = pier_calloc(1, sizeof(*s));
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            pier_free(s);
            return -1;
        }
        s->magic = S3_SOCK_MAGIC;
        s->fd = fd;
        s->c = c;
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks != NULL) {
            c->socks->prev = s;
        }
        c->socks = s;
        c->open_handles++;
        curl_multi_assign(c->multi, fd, s);
    }
    PIER_CHECK_OBJ(s, S3_SOCK_MAGIC);
    if (what & CURL_POLL_IN) {
        events |= UV_READABLE;
    }
    if (what & CURL_POLL_OUT) {
        events |= UV_WRITABLE;
    }
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void
on_timeout(uv_timer_t *t)
{
    struct pier_s3_client *c = t->data;
    int running;

    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(c);
}

static int
on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    struct pier_s3_client *c = userp;

    (void) m;
    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    if (timeout_ms < 0) {
        uv_timer_stop(&c->timer);
        return 0;
    }
    /* Even a 0 goes through the loop: curl must not be re-entered from
     * inside its own callback. */
    return uv_timer_start(&c->timer, on_timeout, (uint64_t) timeout_ms, 0) == 0
               ? 0
               : -1;
}

/*
 * The client.
 */

static char *
dup_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? pier_strdup(s) : NULL;
}

/* Split the endpoint into what requests need; curl's URL parser does the
 * work (IPv6 literals, ports). */
static int
parse_endpoint(struct pier_s3_client *c, const char *endpoint,
               struct pier_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL,
         *query = NULL;
    struct pier_buf b;
    size_t n;
    int rc = PIER_ERR;

    if (u == NULL) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        pier_err_set(err, "bad S3 endpoint '%s'", endpoint);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        pier_err_set(err, "S3 endpoint '%s' is not http or https", endpoint);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        pier_err_set(err, "S3 endpoint '%s' has a query", endpoint);
        goto out;
    }
    (void) curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void) curl_url_get(u, CURLUPART_PATH, &path, 0);
    pier_buf_init(&b, SIZE_MAX);
    if (pier_buf_adds(&b, host) != PIER_OK
        || (port != NULL && pier_buf_addf(&b, ":%s", port) != PIER_OK)) {
        PIER_ASSERT(0);
    }
    c->host = pier_buf_detach(&b, NULL);
    if (pier_buf_addf(&b, "%s://%s", scheme, c->host) != PIER_OK) {
        PIER_ASSERT(0);
    }
    c->base_url = pier_buf_detach(&b, NULL);
    n = path != NULL ? strlen(path) : 0;
    while (n > 0 && path[n - 1] == '/') {
        n--;
    }
    c->base_path = pier_strndup(path != NULL ? path : "", n);
    rc = PIER_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

struct pier_s3_client *
pier_s3_client_new(uv_loop_t *loop, const struct pier_s3_config *cfg,
                   struct pier_err *err)
{
    struct pier_s3_client *c;

    PIER_ASSERT(pthread_once(&global_once, global_init) == 0);
    if (global_rc != CURLE_OK) {
        pier_err_set(err, "cannot initialise libcurl: %s",
                     curl_easy_strerror(global_rc));
        return NULL;
    }
    if (cfg->endpoint == NULL || *cfg->endpoint == '\0') {
        pier_err_set(err, "no S3 endpoint");
        return NULL;
    }
    if (cfg->bucket == NULL || *cfg->bucket == '\0'
        || strchr(cfg->bucket, '/') != NULL) {
        pier_err_set(err, "no S3 bucket, or one with a '/'");
        return NULL;
    }
    if (cfg->access_key_id == NULL || *cfg->access_key_id == '\0'
        || cfg->secret_access_key == NULL || *cfg->secret_access_key == '\0') {
        pier_err_set(err, "no S3 credentials (access key id and secret)");
        return NULL;
    }
    c = pier_calloc(1, sizeof(*c));
    c->magic = S3_CLIENT_MAGIC;
    if (parse_endpoint(c, cfg->endpoint, err) != PIER_OK) {
        pier_free(c);
        return NULL;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->cfg.endpoint = c->cfg.region = c->cfg.bucket = NULL;
    c->cfg.access_key_id = c->cfg.secret_access_key = NULL;
    c->cfg.session_token = c->cfg.ca_file = NULL;
    if (c->cfg.connect_timeout_ms == 0) {
        c->cfg.connect_timeout_ms = 5000;
    }
    if (c->cfg.idle_timeout_ms == 0) {
        c->cfg.idle_timeout_ms = 30000;
    }
    if (c->cfg.max_host_connections == 0) {
        c->cfg.max_host_connections = 8;
    }
    c->bucket = pier_strdup(cfg->bucket);
    c->region =
        pier_strdup(cfg->region != NULL && *cfg->region != '\0' ? cfg->region
                                                                : "us-east-1");
    c->akid = pier_strdup(cfg->access_key_id);
    c->secret = pier_strdup(cfg->secret_access_key);
    c->token = dup_or_null(cfg->session_token);
    c->ca_file = dup_or_null(cfg->ca_file);
    c->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) c;
    if (c->rng == 0) {
        c->rng = 0x9e3779b97f4a7c15u;
    }

    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) c->cfg.max_host_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      (long) c->cfg.max_host_connections);
    PIER_ASSERT(uv_timer_init(loop, &c->timer) == 0);
    c->timer.data = c;
    c->open_handles = 1;
    return c;
}

uint64_t
pier_s3_client_connections(const struct pier_s3_client *c)
{
    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    return c->connections;
}

static void
on_client_timer_closed(uv_handle_t *h)
{
    struct pier_s3_client *c = h->data;

    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    client_unref(c);
}

void
pier_s3_client_free(struct pier_s3_client *c)
{
    struct pier_err err;

    if (c == NULL) {
        return;
    }
    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    PIER_ASSERT(!c->in_callback && !c->freeing);
    c->freeing = true;
    while (c->reqs != NULL) {
        struct s3_req *r = c->reqs;

        pier_err_sys(&err, ECANCELED, "%s", r->what);
        if (r->state == R_HASHING) {
            uv_cancel((uv_req_t *) &r->work);
        }
        finish(r, &err);
    }
    /* Stop watching before curl closes the sockets, then close whatever
     * curl did not remove itself. */
    for (struct s3_sock *s = c->socks; s != NULL; s = s->next) {
        uv_poll_stop(&s->poll);
    }
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks != NULL) {
        sock_close(c->socks);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *) &c->timer, on_client_timer_closed);
}

/*
 * Starting a request.
 */

static void
hash_file(uv_work_t *w)
{
    struct s3_req *r = w->data;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE], *chunk;
    unsigned int dlen = 0, i;
    uint64_t off = 0;
    const size_t chunk_size = 256 * 1024;

    chunk = pier_malloc(chunk_size);
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        r->work_errno = ENOMEM;
        goto out;
    }
    while (off < r->body_len) {
        ssize_t got = pread(r->body_fd, chunk, chunk_size, (off_t) off);

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            r->work_errno = got < 0 ? errno : EIO;
            goto out;
        }
        if (EVP_DigestUpdate(md, chunk, (size_t) got) != 1) {
            r->work_errno = EIO;
            goto out;
        }
        off += (uint64_t) got;
    }
    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32) {
        r->work_errno = EIO;
        goto out;
    }
    for (i = 0; i < dlen; i++) {
        snprintf(r->payload_hash + 2 * i, 3, "%02x", digest[i]);
    }
out:
    EVP_MD_CTX_free(md);
    pier_free(chunk);
}

static void
on_hashed(uv_work_t *w, int status)
{
    struct s3_req *r = w->data;

    PIER_CHECK_OBJ(r, S3_REQ_MAGIC);
    if (r->state == R_DONE) {
        /* Cancelled while hashing: finish() already called back. */
        uv_close((uv_handle_t *) &r->timer, on_req_timer_closed);
        return;
    }
    PIER_ASSERT(r->state == R_HASHING);
    r->state = R_BACKOFF;
    if (status != 0) {
        fail_sys(r, -status, "cannot hash the body");
        return;
    }
    if (r->work_errno != 0) {
        fail_sys(r, r->work_errno, "cannot read the body file");
        return;
    }
    start_attempt(r);
}

/* Headers pier sets itself, which a caller may not override. */
static bool
reserved_header(struct pier_str name)
{
    static const struct pier_str names[] = {
        PIER_STR("host"),           PIER_STR("authorization"),
        PIER_STR("x-amz-date"),     PIER_STR("x-amz-content-sha256"),
        PIER_STR("content-length"), PIER_STR("transfer-encoding"),
        PIER_STR("expect"),         PIER_STR("x-amz-security-token"),
        PIER_STR("connection"),
    };
    size_t i;

    for (i = 0; i < PIER_NELEMS(names); i++) {
        if (pier_str_caseeq(name, names[i])) {
            return true;
        }
    }
    return false;
}

static int
add_header(struct s3_req *r, struct pier_str name, const char *value,
           struct pier_err *err)
{
    char *n;
    size_t i;

    if (!header_name_ok(name) || reserved_header(name)) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "%s: header '%.*s' cannot be sent", r->what,
                           (int) name.len, name.ptr);
    }
    if (!header_value_ok(value)) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "%s: bad value for header '%.*s'", r->what,
                           (int) name.len, name.ptr);
    }
    for (i = 0; i < r->nx; i++) {
        if (pier_str_caseeq(pier_str_cstr(r->xnames[i]), name)) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "%s: header '%.*s' given twice", r->what,
                               (int) name.len, name.ptr);
        }
    }
    n = pier_strndup(name.ptr, name.len);
    for (i = 0; i < name.len; i++) {
        if (n[i] >= 'A' && n[i] <= 'Z') {
            n[i] = (char) (n[i] - 'A' + 'a');
        }
    }
    r->xnames[r->nx] = n;
    r->xvalues[r->nx] = pier_strdup(value);
    r->nx++;
    return PIER_OK;
}

static int
copy_headers(struct s3_req *r, const struct pier_s3_request *q,
             struct pier_err *err)
{
    size_t i;
    char *v;
    int rc = PIER_OK;

    r->xnames = pier_calloc(q->nheaders + 3, sizeof(char *));
    r->xvalues = pier_calloc(q->nheaders + 3, sizeof(char *));
    if (q->if_match != NULL) {
        rc = add_header(r, PIER_STR("if-match"), q->if_match, err);
    }
    if (rc == PIER_OK && q->if_none_match != NULL) {
        rc = add_header(r, PIER_STR("if-none-match"), q->if_none_match, err);
    }
    if (rc == PIER_OK && q->range != NULL) {
        rc = add_header(r, PIER_STR("range"), q->range, err);
    }
    for (i = 0; i < q->nheaders && rc == PIER_OK; i++) {
        v = pier_strndup(q->headers[i].value.ptr, q->headers[i].value.len);
        if (strlen(v) != q->headers[i].value.len) {
            rc = pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                             "%s: NUL in a header value", r->what);
        } else {
            rc = add_header(r, q->headers[i].name, v, err);
        }
        pier_free(v);
    }
    return rc;
}

/* The path and query of r, and the "what" of its messages. */
static int
make_target(struct s3_req *r, const struct pier_s3_request *q,
            struct pier_err *err)
{
    static const char *const names[] = {
        [PIER_S3_OP_GET] = "GET",   [PIER_S3_OP_HEAD] = "HEAD",
        [PIER_S3_OP_PUT] = "PUT",   [PIER_S3_OP_DELETE] = "DELETE",
        [PIER_S3_OP_LIST] = "LIST", [PIER_S3_OP_DELETE_OBJECTS] = "POST",
    };
    struct pier_s3_client *c = r->c;
    struct pier_buf b;
    char num[24];

    pier_buf_init(&b, SIZE_MAX);
    if (r->op == PIER_S3_OP_LIST) {
        if (pier_buf_addf(&b, "%s '%s/%s'", names[r->op], c->bucket,
                          q->prefix != NULL ? q->prefix : "")
            != PIER_OK) {
            PIER_ASSERT(0);
        }
    } else if (r->op == PIER_S3_OP_DELETE_OBJECTS) {
        if (pier_buf_addf(&b, "POST '%s?delete'", c->bucket) != PIER_OK) {
            PIER_ASSERT(0);
        }
    } else if (pier_buf_addf(&b, "%s '%s/%s'", names[r->op], c->bucket,
                             q->key != NULL ? q->key : "")
               != PIER_OK) {
        PIER_ASSERT(0);
    }
    r->what = pier_buf_detach(&b, NULL);
    if (r->op != PIER_S3_OP_LIST && r->op != PIER_S3_OP_DELETE_OBJECTS
        && (q->key == NULL || *q->key == '\0')) {
        pier_buf_release(&b);
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT, "%s: no key",
                           r->what);
    }
    if (pier_buf_adds(&b, c->base_path) != PIER_OK
        || pier_buf_addch(&b, '/') != PIER_OK
        || uri_encode(&b, c->bucket, false) != PIER_OK) {
        PIER_ASSERT(0);
    }
    if (r->op == PIER_S3_OP_LIST) {
        /* "/bucket?list-type=2", as the AWS SDKs send it path-style. */
        r->path = pier_buf_detach(&b, NULL);
        if (add_param(&b, "list-type", "2") != PIER_OK
            || add_param(&b, "prefix", q->prefix) != PIER_OK
            || add_param(&b, "delimiter", q->delimiter) != PIER_OK
            || add_param(&b, "continuation-token", q->continuation_token)
                   != PIER_OK
            || add_param(&b, "start-after", q->start_after) != PIER_OK) {
            PIER_ASSERT(0);
        }
        if (q->max_keys > 0) {
            snprintf(num, sizeof(num), "%u", q->max_keys);
            if (add_param(&b, "max-keys", num) != PIER_OK) {
                PIER_ASSERT(0);
            }
        }
        r->query = pier_buf_detach(&b, NULL);
        return PIER_OK;
    }
    if (r->op == PIER_S3_OP_DELETE_OBJECTS) {
        r->path = pier_buf_detach(&b, NULL);
        r->query = pier_strdup("delete=");
        return PIER_OK;
    }
    if (pier_buf_addch(&b, '/') != PIER_OK
        || uri_encode(&b, q->key, true) != PIER_OK) {
        PIER_ASSERT(0);
    }
    r->path = pier_buf_detach(&b, NULL);
    return PIER_OK;
}

/* The PUT body: its source, size and hash. PIER_AGAIN when the hash must
 * be computed on the thread pool first. */
static int
set_body(struct s3_req *r, const struct pier_s3_request *q,
         struct pier_err *err)
{
    struct stat st;
    bool have_hash = false;

    if (q->body != NULL && q->body_file != NULL) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "%s: body from memory and from a file", r->what);
    }
    if (q->unsigned_payload) {
        snprintf(r->payload_hash, sizeof(r->payload_hash), "%s",
                 UNSIGNED_PAYLOAD);
        have_hash = true;
    } else if (q->payload_sha256 != NULL) {
        size_t i, n = strlen(q->payload_sha256);

        for (i = 0; i < n; i++) {
            char ch = q->payload_sha256[i];

            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
                break;
            }
        }
        if (n != 64 || i != n) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "%s: payload hash is not lower-case hex "
                               "SHA-256",
                               r->what);
        }
        memcpy(r->payload_hash, q->payload_sha256, 65);
        have_hash = true;
    }
    if (r->op != PIER_S3_OP_PUT && r->op != PIER_S3_OP_DELETE_OBJECTS) {
        if (q->body != NULL || q->body_file != NULL) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "%s: a body on a request without one", r->what);
        }
        if (!have_hash) {
            pier_sha256_hex("", 0, r->payload_hash);
        }
        return PIER_OK;
    }
    if (q->body_file != NULL) {
        r->body_fd = open(q->body_file, O_RDONLY | O_CLOEXEC);
        if (r->body_fd < 0) {
            return pier_err_sys(err, errno, "%s: cannot open '%s'", r->what,
                                q->body_file);
        }
        if (fstat(r->body_fd, &st) != 0) {
            return pier_err_sys(err, errno, "%s: cannot stat '%s'", r->what,
                                q->body_file);
        }
        if (!S_ISREG(st.st_mode)) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "%s: '%s' is not a regular file", r->what,
                               q->body_file);
        }
        r->body_len = (uint64_t) st.st_size;
        return have_hash ? PIER_OK : PIER_AGAIN;
    }
    r->body = q->body != NULL ? q->body : "";
    r->body_len = q->body_len;
    if (!have_hash) {
        pier_sha256_hex(r->body, q->body_len, r->payload_hash);
    }
    return PIER_OK;
}

static void
setup_easy(struct s3_req *r, const struct pier_s3_request *q)
{
    struct pier_s3_client *c = r->c;
    struct pier_buf url;
    CURL *e;

    e = curl_easy_init();
    if (e == NULL) {
        pier_panic(__func__, __FILE__, __LINE__, "out of memory");
    }
    r->easy = e;
    pier_buf_init(&url, SIZE_MAX);
    if (pier_buf_adds(&url, c->base_url) != PIER_OK
        || pier_buf_adds(&url, r->path) != PIER_OK
        || (r->query != NULL
            && pier_buf_addf(&url, "?%s", r->query) != PIER_OK)) {
        PIER_ASSERT(0);
    }
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    pier_buf_release(&url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* Keys may hold "." and ".." segments: send the path as signed. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pier/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_error);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) c->cfg.connect_timeout_ms);
    if (c->cfg.request_timeout_ms > 0) {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         (long) c->cfg.request_timeout_ms);
    }
    /* No byte for idle_timeout_ms: a stalled server. curl counts whole
     * seconds. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     (long) ((c->cfg.idle_timeout_ms + 999) / 1000));
    if (c->cfg.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    }
    switch (r->op) {
    case PIER_S3_OP_HEAD:
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        break;
    case PIER_S3_OP_PUT:
    case PIER_S3_OP_DELETE_OBJECTS:
        if (r->op == PIER_S3_OP_DELETE_OBJECTS) {
            /* An upload (its body read and rewound as a PUT's) sent as a
             * POST. */
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "POST");
        }
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) r->body_len);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
        break;
    case PIER_S3_OP_DELETE:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    case PIER_S3_OP_GET:
    case PIER_S3_OP_LIST:
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        break;
    }
    (void) q;
}

int
pier_s3_start(struct pier_s3_client *c, enum pier_s3_op op,
              const struct pier_s3_request *q, pier_s3_done_cb cb, void *arg,
              struct pier_err *err)
{
    struct s3_req *r;
    int rc;

    PIER_CHECK_OBJ(c, S3_CLIENT_MAGIC);
    PIER_ASSERT(!c->freeing && cb != NULL);
    PIER_ASSERT(op >= PIER_S3_OP_GET && op <= PIER_S3_OP_DELETE_OBJECTS);
    r = pier_calloc(1, sizeof(*r));
    r->magic = S3_REQ_MAGIC;
    r->c = c;
    r->op = op;
    r->body_fd = -1;
    r->out_fd = -1;
    r->cb = cb;
    r->arg = arg;
    pier_s3_response_init(&r->resp);
    pier_buf_init(&r->errbody, ERRBODY_MAX);
    if (q->max_body > 0) {
        r->resp.body.max = q->max_body;
    }
    if (op == PIER_S3_OP_LIST) {
        r->resp.body.max = LISTBODY_MAX;
    }
    rc = make_target(r, q, err);
    if (rc == PIER_OK) {
        rc = copy_headers(r, q, err);
    }
    if (rc == PIER_OK && op == PIER_S3_OP_GET) {
        r->on_data = q->on_data;
        r->on_headers = q->on_headers;
        r->stream_arg = q->stream_arg;
        if (q->out_file != NULL && q->on_data != NULL) {
            rc = pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                             "%s: output to a file and to a callback", r->what);
        } else if (q->out_file != NULL) {
            r->out_fd = open(q->out_file,
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (r->out_fd < 0) {
                rc = pier_err_sys(err, errno, "%s: cannot create '%s'", r->what,
                                  q->out_file);
            }
        }
    }
    if (rc == PIER_OK) {
        rc = set_body(r, q, err);
    }
    if (rc == PIER_ERR) {
        req_release(r);
        return PIER_ERR;
    }
    setup_easy(r, q);
    r->next = c->reqs;
    if (c->reqs != NULL) {
        c->reqs->prev = r;
    }
    c->reqs = r;
    /* The request counts as one handle until its timer has closed. */
    PIER_ASSERT(uv_timer_init(c->loop, &r->timer) == 0);
    r->timer.data = r;
    r->timer_init = true;
    c->open_handles++;
    if (rc == PIER_AGAIN) {
        r->state = R_HASHING;
        r->work.data = r;
        PIER_ASSERT(uv_queue_work(c->loop, &r->work, hash_file, on_hashed)
                    == 0);
        return PIER_OK;
    }
    /* Even a request ready to go starts from the loop, so that cb is never
     * called from inside this function: a zero backoff. */
    r->state = R_BACKOFF;
    PIER_ASSERT(uv_timer_start(&r->timer, on_backoff, 0, 0) == 0);
    return PIER_OK;
}

/*
 * The synchronous wrapper.
 */

struct pier_s3_sync {
    unsigned magic;
    uv_loop_t loop;
    struct pier_s3_client *c;
};

struct sync_wait {
    bool done;
    struct pier_s3_response *resp;
    struct pier_err *err;
    int rc;
};

struct pier_s3_sync *
pier_s3_sync_new(const struct pier_s3_config *cfg, struct pier_err *err)
{
    struct pier_s3_sync *s = pier_calloc(1, sizeof(*s));
    int e = uv_loop_init(&s->loop);

    if (e != 0) {
        pier_free(s);
        pier_err_sys(err, -e, "cannot create a loop");
        return NULL;
    }
    s->magic = S3_SYNC_MAGIC;
    s->c = pier_s3_client_new(&s->loop, cfg, err);
    if (s->c == NULL) {
        PIER_ASSERT(uv_loop_close(&s->loop) == 0);
        pier_free(s);
        return NULL;
    }
    return s;
}

void
pier_s3_sync_free(struct pier_s3_sync *s)
{
    if (s == NULL) {
        return;
    }
    PIER_CHECK_OBJ(s, S3_SYNC_MAGIC);
    pier_s3_client_free(s->c);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    PIER_ASSERT(uv_loop_close(&s->loop) == 0);
    s->magic = 0;
    pier_free(s);
}

static void
on_sync_done(struct pier_s3_response *resp, const struct pier_err *err,
             void *arg)
{
    struct sync_wait *w = arg;

    /* Move the response out: its buffers' memory goes with the copy, so
     * the views into headers_raw stay valid. */
    pier_s3_response_release(w->resp);
    *w->resp = *resp;
    pier_buf_init(&resp->body, resp->body.max);
    pier_buf_init(&resp->headers_raw, resp->headers_raw.max);
    pier_s3_list_init(&resp->list);
    if (err != NULL) {
        if (w->err != NULL) {
            *w->err = *err;
        }
        w->rc = PIER_ERR;
    } else {
        w->rc = PIER_OK;
    }
    w->done = true;
}

int
pier_s3_sync_run(struct pier_s3_sync *s, enum pier_s3_op op,
                 const struct pier_s3_request *r, struct pier_s3_response *resp,
                 struct pier_err *err)
{
    struct sync_wait w = {false, resp, err, PIER_ERR};

    PIER_CHECK_OBJ(s, S3_SYNC_MAGIC);
    if (pier_s3_start(s->c, op, r, on_sync_done, &w, err) != PIER_OK) {
        return PIER_ERR;
    }
    /* One turn at a time: idle keep-alive connections may keep the loop
     * alive, so UV_RUN_DEFAULT might never return. */
    while (!w.done) {
        uv_run(&s->loop, UV_RUN_ONCE);
    }
    return w.rc;
}

int
pier_s3_sync_list_each(struct pier_s3_sync *s, const char *prefix,
                       bool (*fn)(void *arg, const struct pier_s3_object *ob),
                       void *arg, struct pier_err *err)
{
    char *token = NULL;
    bool more = true;
    size_t i;

    do {
        struct pier_s3_request r = {0};
        struct pier_s3_response resp;

        r.prefix = prefix;
        r.continuation_token = token;
        pier_s3_response_init(&resp);
        if (pier_s3_sync_run(s, PIER_S3_OP_LIST, &r, &resp, err) != PIER_OK) {
            pier_s3_response_release(&resp);
            pier_free(token);
            return PIER_ERR;
        }
        pier_free(token);
        token = NULL;
        for (i = 0; i < resp.list.nobjects && more; i++) {
            more = fn(arg, &resp.list.objects[i]);
        }
        if (more && resp.list.truncated && resp.list.next_token != NULL) {
            token = pier_strdup(resp.list.next_token);
        }
        pier_s3_response_release(&resp);
    } while (token != NULL);
    return PIER_OK;
}
