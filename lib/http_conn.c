/*
 * lib/http_conn.c - one HTTP/1.1 connection: read, check the header block,
 * dispatch to the handler, stream the body, write the response, log it,
 * then the next request.
 *
 * Idle connections cost little, as in nginx: the input buffer is
 * allocated on the first read, small (IN_READ_MIN), and grows while a
 * header block arrives, up to max_header_bytes + a body window; the
 * header array grows with the header count. Once a request is
 * dispatched the request's views point into the buffer, so it never moves
 * again until the response is done: it fills its allocation only (and a
 * request with a body gets its window before the views are made). When a
 * response is done and no pipelined byte waits, the buffers and the
 * header array are freed: an idle keep-alive connection holds none. They
 * go to the worker's spares first (up to SPARE_MAX sets, freed when the
 * worker has no connection left), where the next connection to read
 * takes them: a busy keep-alive connection does not allocate per
 * request, and idle ones still hold nothing.
 * While a request runs the buffer holds, from the front: the header
 * block [0, head_len), then bytes not yet used (body, then pipelined
 * requests). Body bytes are handed to the handler from head_len and
 * removed; the header block goes when the response is done. The next
 * request is parsed only then: responses leave in order.
 *
 * Callbacks into the handler happen only from libuv callbacks or from
 * process(), never from inside a pier_http_resp_* call, so a handler never
 * sees its finish callback while it is still answering (the one exception,
 * documented in lib/http.h, is the body callback, which may run inside
 * pier_http_req_read_body and _resume). Work that would otherwise complete
 * synchronously goes through the `defer` timer (0 ms).
 *
 * The transport is a uv_tcp_t, with TLS through memory BIOs in between
 * when the listener has it, or nothing at all for tests and the fuzz
 * target ("fake": writes go to a buffer and complete when the test says).
 */
#include "config.h"

#include "lib/http_internal.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIER_HTTP_CONN_MAGIC 0x3a9f51d7u
#define LINGER_MS            2000
#define TLS_IN_MAX           (32 * 1024)
#define TLS_CHUNK            (64 * 1024) /* plaintext encrypted at a time */
#define IN_READ_MIN          2048        /* a read's room, at least */
#define HDRS_MIN             16          /* header slots first allocated */
#define SPARE_MAX            128         /* buffer sets a worker keeps */
#define PIPELINE_BURST       16          /* answers per connection per turn */
#define SPARE_IN_MAX         (16 * 1024) /* a larger input buffer goes */

enum cstate { CS_HEAD = 0, CS_REQ, CS_LINGER, CS_CLOSED };
enum rmode { RM_NONE = 0, RM_MEM, RM_FILE, RM_STREAM, RM_CORE };
enum tmode { T_NONE = 0, T_HEADER, T_KEEPALIVE, T_IO, T_LINGER };
enum { D_FAIL = 1, D_DONE = 2, D_WRITE = 4, D_PROCESS = 8 };

struct pier_http_conn {
    unsigned magic;
    struct pier_http_worker *w;
    struct pier_http_listener *l;
    const struct pier_http_limits *lim;
    struct pier_http_conn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t defer;
    int open_handles;
    enum cstate state;
    enum tmode tmode;
    unsigned defer_flags;
    bool counted; /* in srv->nconns */
    bool fake;    /* no socket: tests, fuzzing */
    bool gone;    /* fake: every handle closed */
    struct pier_buf *fake_out;
    bool fake_pending;
    bool reading;
    bool eof;
    bool draining;
    bool in_process;
    bool again;

    /* input and the request */
    struct pier_buf in;
    size_t scan;     /* the header scan resumes here */
    size_t head_len; /* the header block, while a request runs */
    struct pier_http_header *hdrs;
    size_t hdrs_cap; /* slots allocated */
    struct pier_http_req req;
    bool dispatched; /* the handler has req */
    uint64_t start_ns;
    bool keepalive; /* the client allows it */
    http_parser parser;
    const char *url;
    size_t url_len;
    bool parser_done;
    char peer[64];
    char id[17];

    /* the request body */
    bool body_done;
    bool body_reading; /* the handler asked for it */
    bool body_paused;
    bool body_failed;
    uint64_t body_left; /* Content-Length bytes still to come */
    struct pier_chunked ck;
    pier_http_body_fn *body_fn;
    void *body_ctx;
    struct pier_buf whole;
    pier_http_whole_fn *whole_fn;
    void *whole_ctx;
    bool continue_sent;
    uv_write_t cwreq;

    /* the response */
    enum rmode rmode;
    bool resp_started;
    bool head_sent;
    bool resp_ended;
    bool resp_chunked;
    bool no_body; /* HEAD, 1xx, 204, 304 */
    bool close_after;
    int status;
    int64_t resp_left; /* known length still to write; -1 unknown */
    int64_t stream_len;
    bool head_composed;
    struct pier_buf uhdr;
    struct pier_buf out;
    struct pier_str mem;
    int fd;
    uint64_t foff, fleft;
    char *fbuf;
    pier_http_write_fn *wcb;
    void *wctx;
    bool wpending;
    char chunkline[24];
    bool writing;
    bool sync_done; /* written whole by uv_try_write; process() ends it */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    uint64_t bytes_sent, body_sent;
    pier_http_finish_fn *fin;
    void *fin_ctx;

    /* TLS */
    struct pier_tls_conn *tls;
    struct pier_buf tin, tout, tsend;
    bool tsending, tout_has_resp, tsend_has_resp;
    uv_buf_t tq[4]; /* the response write being encrypted piece by piece */
    unsigned tqn, tqi;
    size_t tqoff;
    uv_write_t twreq;
};

static void process(struct pier_http_conn *c);
static void in_drop(struct pier_http_conn *c, size_t n);
static void access_log(struct pier_http_conn *c);
static void conn_close(struct pier_http_conn *c, bool linger);
static void core_error(struct pier_http_conn *c, int status);
static void xmit_done(struct pier_http_conn *c);
static void resp_done(struct pier_http_conn *c);

/* ---- small helpers ----------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

/* Decimal digits of v at the end of buf[24]; returns the start. */
static char *
fmt_u64(char *end, uint64_t v)
{
    char *p = end;

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static bool
is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

static bool
name_is(struct pier_str name, const char *lit, size_t n)
{
    return pier_str_caseeq(name, pier_str_make(lit, n));
}
#define NAME_IS(s, lit) name_is((s), lit, sizeof(lit) - 1)

const char *
pier_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* ---- timers ------------------------------------------------------------ */

static void
on_timer(uv_timer_t *t)
{
    struct pier_http_conn *c = t->data;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    switch (c->tmode) {
    case T_HEADER:
        /* Slowloris: the headers did not come in time. */
        c->tmode = T_NONE;
        if (c->rmode == RM_NONE) {
            core_error(c, 408);
        } else {
            conn_close(c, false);
        }
        break;
    case T_IO:
        c->tmode = T_NONE;
        if (c->dispatched && !c->head_sent && !c->body_done) {
            core_error(c, 408);
        } else {
            conn_close(c, false);
        }
        break;
    case T_KEEPALIVE:
    case T_LINGER:
    case T_NONE:
        c->tmode = T_NONE;
        conn_close(c, false);
        break;
    }
}

static void
timer_arm(struct pier_http_conn *c, enum tmode mode, uint64_t ms)
{
    c->tmode = mode;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void
timer_stop(struct pier_http_conn *c)
{
    if (c->tmode != T_NONE) {
        c->tmode = T_NONE;
        uv_timer_stop(&c->timer);
    }
}

static void
on_defer(uv_timer_t *t)
{
    struct pier_http_conn *c = t->data;
    unsigned f;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    f = c->defer_flags;
    c->defer_flags = 0;
    if (c->state == CS_CLOSED) {
        return;
    }
    if (f & D_FAIL) {
        conn_close(c, false);
        return;
    }
    if (f & D_WRITE) {
        c->writing = false;
        xmit_done(c);
    } else if (f & D_DONE) {
        resp_done(c);
    }
    if ((f & D_PROCESS) && c->state != CS_CLOSED) {
        process(c);
    }
}

static void
defer(struct pier_http_conn *c, unsigned flag)
{
    c->defer_flags |= flag;
    uv_timer_start(&c->defer, on_defer, 0, 0);
}

/* ---- writing ----------------------------------------------------------- */

static void on_twrite(uv_write_t *wr, int status);

/*
 * Encrypt the next TLS_CHUNK bytes of the response being written into
 * tout, so a large body never sits encrypted in memory whole; marks tout
 * as holding the response's end once the last byte is in.
 */
static bool
tls_encrypt_some(struct pier_http_conn *c)
{
    struct pier_err err;
    size_t budget = TLS_CHUNK;

    while (c->tqi < c->tqn && budget > 0) {
        uv_buf_t *b = &c->tq[c->tqi];
        size_t n = b->len - c->tqoff;

        if (n > budget) {
            n = budget;
        }
        if (pier_tls_conn_write(c->tls, b->base + c->tqoff, n, &c->tout, &err)
            != PIER_OK) {
            pier_log(PIER_LOG_WARN, "http", "%s: %s", c->peer, err.msg);
            return false;
        }
        c->tqoff += n;
        budget -= n;
        if (c->tqoff == b->len) {
            c->tqi++;
            c->tqoff = 0;
        }
    }
    if (c->tqi == c->tqn) {
        c->tout_has_resp = true;
    }
    return true;
}

/* Send what TLS has produced, one uv_write at a time. */
static void
tls_flush(struct pier_http_conn *c)
{
    struct pier_buf tmp;
    uv_buf_t b;
    int r;

    if (c->tsending || c->tout.len == 0 || c->state == CS_CLOSED) {
        return;
    }
    tmp = c->tsend;
    c->tsend = c->tout;
    c->tout = tmp;
    c->tsend_has_resp = c->tout_has_resp;
    c->tout_has_resp = false;
    c->tsending = true;
    b = uv_buf_init(c->tsend.data, (unsigned) c->tsend.len);
    r = uv_write(&c->twreq, (uv_stream_t *) &c->tcp, &b, 1, on_twrite);
    if (r < 0) {
        c->tsending = false;
        defer(c, D_FAIL);
    }
}

static void
on_twrite(uv_write_t *wr, int status)
{
    struct pier_http_conn *c = wr->data;
    bool has;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    c->tsending = false;
    pier_buf_reset(&c->tsend);
    if (c->state == CS_CLOSED) {
        return;
    }
    if (status < 0) {
        conn_close(c, false);
        return;
    }
    has = c->tsend_has_resp;
    c->tsend_has_resp = false;
    if (c->tqi < c->tqn && !tls_encrypt_some(c)) {
        conn_close(c, false);
        return;
    }
    tls_flush(c);
    if (has && !c->tsend_has_resp && !c->tout_has_resp) {
        c->writing = false;
        xmit_done(c);
    }
}

static void
on_write(uv_write_t *wr, int status)
{
    struct pier_http_conn *c = wr->data;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    if (c->state == CS_CLOSED) {
        return;
    }
    c->writing = false;
    if (status < 0) {
        conn_close(c, false);
        return;
    }
    xmit_done(c);
}

/* Write n buffers; xmit_done() follows, always from a later callback. */
static void
xmit(struct pier_http_conn *c, uv_buf_t *bufs, unsigned n)
{
    unsigned i;
    int r;

    PIER_ASSERT(!c->writing);
    PIER_ASSERT(n > 0);
    c->writing = true;
    for (i = 0; i < n; i++) {
        c->bytes_sent += bufs[i].len;
    }
    if (c->fake) {
        for (i = 0; i < n; i++) {
            if (pier_buf_add(c->fake_out, bufs[i].base, bufs[i].len) != 0) {
                PIER_ASSERT(!"test output buffer full");
            }
        }
        c->fake_pending = true;
        return;
    }
    if (c->tls != NULL) {
        PIER_ASSERT(n <= PIER_NELEMS(c->tq));
        memcpy(c->tq, bufs, n * sizeof(*bufs));
        c->tqn = n;
        c->tqi = 0;
        c->tqoff = 0;
        if (!tls_encrypt_some(c)) {
            defer(c, D_FAIL);
            return;
        }
        tls_flush(c);
    } else {
        uv_buf_t rest[4];
        size_t total = 0, skip;

        /* A one-write response answered from inside process() (the
         * handler ran there) is tried at once; if the socket takes it
         * whole, process() completes it when the handler has returned,
         * with no write request and no extra loop turn, and goes on to
         * the next pipelined request. Streams and files take the usual
         * path, so one connection never keeps the loop to itself. */
        if (c->in_process && (c->rmode == RM_MEM || c->rmode == RM_CORE)
            && c->tcp.write_queue_size == 0 && n <= PIER_NELEMS(rest)) {
            for (i = 0; i < n; i++) {
                total += bufs[i].len;
            }
            r = uv_try_write((uv_stream_t *) &c->tcp, bufs, n);
            if (r >= 0 && (size_t) r == total) {
                c->sync_done = true;
                return;
            }
            if (r < 0 && r != UV_EAGAIN) {
                defer(c, D_FAIL);
                return;
            }
            /* Partly written: queue the rest. */
            skip = r > 0 ? (size_t) r : 0;
            memcpy(rest, bufs, n * sizeof(*bufs));
            bufs = rest;
            while (skip > 0 && skip >= bufs->len) {
                skip -= bufs->len;
                bufs++;
                n--;
            }
            bufs->base += skip;
            bufs->len -= skip;
        }
        r = uv_write(&c->wreq, (uv_stream_t *) &c->tcp, bufs, n, on_write);
        if (r < 0) {
            defer(c, D_FAIL);
            return;
        }
    }
    /* Only a write the socket did not take at once can stall: the io
     * time-out watches it (the hot path skips the timer). */
    if (c->tcp.write_queue_size > 0 && c->lim->io_timeout_ms != 0
        && c->tmode != T_HEADER) {
        timer_arm(c, T_IO, c->lim->io_timeout_ms);
    }
}

static void
on_cwrite(uv_write_t *wr, int status)
{
    (void) wr;
    (void) status; /* a failure shows on the response's own write */
}

/* "100 Continue": its own write, queued before any response. */
static void
send_continue(struct pier_http_conn *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct pier_err err;
    uv_buf_t b = uv_buf_init((char *) msg, sizeof(msg) - 1);

    c->continue_sent = true;
    if (c->fake) {
        if (pier_buf_add(c->fake_out, msg, sizeof(msg) - 1) != 0) {
            PIER_ASSERT(!"test output buffer full");
        }
        return;
    }
    if (c->tls != NULL) {
        if (pier_tls_conn_write(c->tls, msg, sizeof(msg) - 1, &c->tout, &err)
            != PIER_OK) {
            defer(c, D_FAIL);
            return;
        }
        tls_flush(c);
        return;
    }
    if (uv_write(&c->cwreq, (uv_stream_t *) &c->tcp, &b, 1, on_cwrite) < 0) {
        defer(c, D_FAIL);
    }
}

/* ---- closing ----------------------------------------------------------- */

/* One idle connection's buffers, kept by the worker for the next. */
struct pier_http_spare {
    struct pier_buf in, out, uhdr;
    struct pier_http_header *hdrs;
    size_t hdrs_cap;
};

/* Move c's (empty) buffers to its worker's spares; false when they are
 * full or the input buffer grew too large to keep. */
static bool
spare_put(struct pier_http_conn *c)
{
    struct pier_http_worker *w = c->w;
    struct pier_http_spare *s;

    if (w->nspares == SPARE_MAX || c->in.cap == 0 || c->in.cap > SPARE_IN_MAX) {
        return false;
    }
    if (w->spares == NULL) {
        w->spares = pier_calloc(SPARE_MAX, sizeof(*w->spares));
    }
    s = &w->spares[w->nspares++];
    PIER_ASSERT(c->in.len == 0);
    s->in = c->in;
    s->out = c->out;
    s->uhdr = c->uhdr;
    s->hdrs = c->hdrs;
    s->hdrs_cap = c->hdrs_cap;
    pier_buf_reset(&s->out);
    pier_buf_reset(&s->uhdr);
    pier_buf_init(&c->in, c->in.max);
    pier_buf_init(&c->out, c->out.max);
    pier_buf_init(&c->uhdr, c->uhdr.max);
    c->hdrs = NULL;
    c->hdrs_cap = 0;
    return true;
}

/* Give c (holding no buffer) a spare set, if its worker has one. */
static void
spare_take(struct pier_http_conn *c)
{
    struct pier_http_worker *w = c->w;
    struct pier_http_spare *s;

    if (w->nspares == 0 || c->in.cap != 0 || c->out.cap != 0 || c->uhdr.cap != 0
        || c->hdrs != NULL) {
        return;
    }
    s = &w->spares[--w->nspares];
    /* Every connection of a worker has the same limits. */
    PIER_ASSERT(s->in.max == c->in.max && s->out.max == c->out.max
                && s->uhdr.max == c->uhdr.max
                && s->hdrs_cap <= c->lim->max_headers);
    c->in = s->in;
    c->out = s->out;
    c->uhdr = s->uhdr;
    c->hdrs = s->hdrs;
    c->hdrs_cap = s->hdrs_cap;
}

static void
spares_free(struct pier_http_worker *w)
{
    size_t i;

    for (i = 0; i < w->nspares; i++) {
        pier_buf_release(&w->spares[i].in);
        pier_buf_release(&w->spares[i].out);
        pier_buf_release(&w->spares[i].uhdr);
        pier_free(w->spares[i].hdrs);
    }
    pier_free(w->spares);
    w->spares = NULL;
    w->nspares = 0;
}

static void
conn_free(struct pier_http_conn *c)
{
    pier_buf_release(&c->in);
    pier_buf_release(&c->out);
    pier_buf_release(&c->uhdr);
    pier_buf_release(&c->whole);
    pier_buf_release(&c->tin);
    pier_buf_release(&c->tout);
    pier_buf_release(&c->tsend);
    pier_tls_conn_free(c->tls);
    pier_free(c->hdrs);
    pier_free(c->fbuf);
    c->magic = 0;
    pier_free(c);
}

static void
on_handle_close(uv_handle_t *h)
{
    struct pier_http_conn *c = h->data;
    struct pier_http_worker *w;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    if (--c->open_handles > 0) {
        return;
    }
    if (c->fake) {
        c->gone = true; /* pier_http_test_free frees it */
        return;
    }
    w = c->w;
    conn_free(c);
    if (w->nconns == 1) {
        spares_free(w); /* the last one: nothing to keep them for */
    }
    pier_http_worker_conn_gone(w);
}

static void
finish_req(struct pier_http_conn *c, bool completed)
{
    pier_http_finish_fn *fin = c->fin;

    if (c->wpending) {
        pier_http_write_fn *cb = c->wcb;

        c->wpending = false;
        if (cb != NULL) {
            cb(&c->req, false, c->wctx);
        }
    }
    c->fin = NULL;
    if (c->dispatched && fin != NULL) {
        fin(&c->req, completed, c->fin_ctx);
    }
    c->dispatched = false;
}

static void
on_shutdown(uv_shutdown_t *sr, int status)
{
    struct pier_http_conn *c = sr->data;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    if (c->state == CS_CLOSED) {
        return;
    }
    if (status < 0) {
        conn_close(c, false);
    }
}

/*
 * Close. With linger, the write side is shut first and whatever the client
 * still sends is read and dropped for a moment: closing a socket with
 * unread input makes Linux send a reset, which can destroy the response
 * (the 400 of a rejected request) before the client has read it.
 */
static void
conn_close(struct pier_http_conn *c, bool linger)
{
    struct pier_http_server *srv = c->w->srv;

    if (c->state == CS_CLOSED) {
        return;
    }
    if (c->state == CS_LINGER) {
        linger = false;
    }
    if (c->dispatched) {
        /* Cut in the middle: logged with what left, 499 (nginx's "client
         * closed request") when no status did. */
        if (c->status == 0) {
            c->status = 499;
        }
        access_log(c);
    }
    finish_req(c, false);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (linger && !c->fake && !c->eof) {
        c->state = CS_LINGER;
        if (c->tls != NULL) {
            pier_tls_conn_shutdown(c->tls, &c->tout);
            tls_flush(c);
        }
        c->sreq.data = c;
        if (uv_shutdown(&c->sreq, (uv_stream_t *) &c->tcp, on_shutdown) == 0) {
            pier_buf_reset(&c->in);
            timer_arm(c, T_LINGER, LINGER_MS);
            if (!c->reading) {
                c->reading = true;
                process(c); /* restarts reading */
            }
            return;
        }
    }
    c->state = CS_CLOSED;
    if (c->counted) {
        atomic_fetch_sub(&srv->nconns, 1);
        c->counted = false;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    uv_timer_stop(&c->timer);
    uv_timer_stop(&c->defer);
    c->open_handles = 2;
    if (!c->fake) {
        c->open_handles++;
        uv_close((uv_handle_t *) &c->tcp, on_handle_close);
    }
    uv_close((uv_handle_t *) &c->timer, on_handle_close);
    uv_close((uv_handle_t *) &c->defer, on_handle_close);
}

/* ---- responses --------------------------------------------------------- */

static bool
add_lit(struct pier_buf *b, const char *s, size_t n)
{
    return pier_buf_add(b, s, n) == 0;
}
#define ADD_LIT(b, lit) add_lit((b), lit, sizeof(lit) - 1)

static bool
add_u64(struct pier_buf *b, uint64_t v)
{
    char tmp[24], *p = fmt_u64(tmp + sizeof(tmp), v);

    return pier_buf_add(b, p, (size_t) (tmp + sizeof(tmp) - p)) == 0;
}

/* The unread Content-Length body is in the buffer whole. */
static bool
body_all_here(const struct pier_http_conn *c)
{
    return !c->req.chunked && !c->body_reading && !c->body_done
           && c->in.len - c->head_len >= c->body_left;
}

/*
 * Status line and headers into c->out. len: the body's length, or -1 for
 * a stream of unknown length (chunked in HTTP/1.1).
 */
static void
compose_head(struct pier_http_conn *c, int status, int64_t len)
{
    struct pier_buf *o = &c->out;
    char code[4];
    bool ok = true, ka;

    PIER_ASSERT(status >= 100 && status <= 999);
    c->status = status;
    c->resp_started = true;
    c->no_body = c->req.method_id == PIER_HTTP_HEAD
                 || (status >= 100 && status < 200) || status == 204
                 || status == 304;
    c->resp_chunked = false;
    c->resp_left = len;
    /* A body the handler never asked for is dropped if it is all here
     * already (a GET with a small body); otherwise it cannot be skipped
     * safely (it may not even be coming: no 100 Continue was sent), so
     * close. */
    ka = c->keepalive && !c->draining && !c->close_after && !c->w->stopping
         && (!c->req.has_body || c->body_done || c->body_reading
             || body_all_here(c));
    if (len < 0 && !(status == 204 || status == 304 || status < 200)) {
        if (c->req.version_minor >= 1) {
            c->resp_chunked = !c->no_body || c->req.method_id == PIER_HTTP_HEAD;
        } else {
            ka = false; /* HTTP/1.0: the end of the body is the close */
        }
    }
    if (!ka) {
        c->close_after = true;
    }
    code[0] = (char) ('0' + status / 100);
    code[1] = (char) ('0' + status / 10 % 10);
    code[2] = (char) ('0' + status % 10);
    code[3] = ' ';
    pier_buf_reset(o);
    ok = ok && ADD_LIT(o, "HTTP/1.1 ");
    ok = ok && add_lit(o, code, 4);
    ok = ok && pier_buf_adds(o, pier_http_reason(status)) == 0;
    ok = ok && ADD_LIT(o, "\r\n");
    ok = ok && add_lit(o, c->w->date, c->w->date_len);
    ok = ok && pier_buf_addstr(o, pier_buf_str(&c->uhdr)) == 0;
    if (!(status < 200 || status == 204 || status == 304)) {
        if (c->resp_chunked) {
            ok = ok && ADD_LIT(o, "Transfer-Encoding: chunked\r\n");
        } else if (len >= 0) {
            ok = ok && ADD_LIT(o, "Content-Length: ");
            ok = ok && add_u64(o, (uint64_t) len);
            ok = ok && ADD_LIT(o, "\r\n");
        }
    }
    if (!ka) {
        ok = ok && ADD_LIT(o, "Connection: close\r\n");
    } else if (c->req.version_minor == 0) {
        ok = ok && ADD_LIT(o, "Connection: keep-alive\r\n");
    }
    ok = ok && ADD_LIT(o, "\r\n");
    /* The handler's headers were capped below the buffer's maximum. */
    PIER_ASSERT(ok);
}

/* A short text answer naming the status ("Not Found\n"), headers and
 * body in one buffer. */
static void
send_text(struct pier_http_conn *c, int status, enum rmode mode)
{
    const char *r = pier_http_reason(status);
    size_t n = strlen(r);
    uv_buf_t b;

    if (pier_buf_adds(&c->uhdr, "Content-Type: text/plain\r\n") != 0) {
        PIER_ASSERT(!"header buffer too small");
    }
    c->rmode = mode;
    compose_head(c, status, (int64_t) n + 1);
    if (!c->no_body) {
        if (pier_buf_add(&c->out, r, n) != 0 || !ADD_LIT(&c->out, "\n")) {
            PIER_ASSERT(!"header buffer too small");
        }
        c->body_sent = n + 1;
    }
    c->head_sent = true;
    b = uv_buf_init(c->out.data, (unsigned) c->out.len);
    xmit(c, &b, 1);
}

/* The core's own short answer, then close. */
static void
core_error(struct pier_http_conn *c, int status)
{
    if (c->state == CS_CLOSED || c->state == CS_LINGER) {
        return;
    }
    if (c->head_sent || c->writing
        || (c->tls != NULL && !pier_tls_conn_ready(c->tls))) {
        conn_close(c, false); /* too late, or too early, for a status */
        return;
    }
    pier_buf_reset(&c->uhdr);
    c->close_after = true;
    send_text(c, status, RM_CORE);
}

static bool
resp_usable(struct pier_http_req *req, struct pier_http_conn **cp)
{
    struct pier_http_conn *c;

    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    c = req->conn;
    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    *cp = c;
    /* After a core answer (bad body, time-out) the handler's is dropped. */
    return c->rmode != RM_CORE && c->state != CS_CLOSED
           && c->state != CS_LINGER;
}

int
pier_http_resp_header(struct pier_http_req *req, const char *name,
                      struct pier_str value)
{
    struct pier_http_conn *c;
    size_t i, n = strlen(name), mark;

    if (!resp_usable(req, &c)) {
        return PIER_OK;
    }
    PIER_ASSERT(!c->resp_started);
    for (i = 0; i < value.len; i++) {
        unsigned char ch = (unsigned char) value.ptr[i];

        if (ch == '\r' || ch == '\n' || ch == '\0') {
            return PIER_ERR;
        }
    }
    for (i = 0; i < n; i++) {
        if (!is_tchar((unsigned char) name[i])) {
            return PIER_ERR;
        }
    }
    /* Leave room for the core's own headers. */
    if (c->uhdr.len + n + value.len + 4 > c->uhdr.max) {
        return PIER_ERR;
    }
    mark = c->uhdr.len;
    if (pier_buf_add(&c->uhdr, name, n) != 0 || !ADD_LIT(&c->uhdr, ": ")
        || pier_buf_addstr(&c->uhdr, value) != 0
        || !ADD_LIT(&c->uhdr, "\r\n")) {
        pier_buf_truncate(&c->uhdr, mark);
        return PIER_ERR;
    }
    return PIER_OK;
}

int
pier_http_resp_headerf(struct pier_http_req *req, const char *name,
                       const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= sizeof(tmp)) {
        return PIER_ERR;
    }
    return pier_http_resp_header(req, name, pier_str_make(tmp, (size_t) n));
}

void
pier_http_resp_close(struct pier_http_req *req)
{
    struct pier_http_conn *c;

    if (resp_usable(req, &c)) {
        c->close_after = true;
    }
}

void
pier_http_resp_send(struct pier_http_req *req, int status, struct pier_str body)
{
    struct pier_http_conn *c;
    uv_buf_t b[2];
    unsigned n = 1;

    if (!resp_usable(req, &c)) {
        return;
    }
    PIER_ASSERT(!c->resp_started);
    c->rmode = RM_MEM;
    compose_head(c, status, (int64_t) body.len);
    b[0] = uv_buf_init(c->out.data, (unsigned) c->out.len);
    if (!c->no_body && body.len > 0) {
        c->mem = body;
        b[n++] = uv_buf_init((char *) body.ptr, (unsigned) body.len);
        c->body_sent = body.len;
    }
    c->head_sent = true;
    xmit(c, b, n);
}

void
pier_http_resp_error(struct pier_http_req *req, int status)
{
    struct pier_http_conn *c;

    if (!resp_usable(req, &c)) {
        return;
    }
    PIER_ASSERT(!c->resp_started);
    send_text(c, status, RM_MEM);
}

/*
 * Send a file response's head with MSG_MORE, straight to the socket: the
 * kernel holds it, and the file's first bytes (sendfile, at once from
 * process() or on the next loop turn) leave in the same segment, as with
 * nginx's tcp_nopush but without the two setsockopt(TCP_CORK) calls.
 * Measured on loopback with wrk and 1 MiB files: with the head in a
 * segment of its own and the body a loop turn later, the client spent
 * ~900 us per response, ~640 us with this (nginx: ~600 us, ~1450 us with
 * tcp_nopush off); the loopback work moves into the server's sendfile.
 * True when the head is taken care of (sent, or the connection fails);
 * false to send *b the usual way (TLS, tests, a write already queued).
 * The part the socket took is cut from *b.
 */
static bool
file_head_more(struct pier_http_conn *c, uv_buf_t *b)
{
    ssize_t n;
    int sock;

    if (c->fake || c->tls != NULL || c->tcp.write_queue_size > 0
        || uv_fileno((uv_handle_t *) &c->tcp, &sock) != 0) {
        return false;
    }
    do {
        n = send(sock, b->base, b->len, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
        c->writing = true;
        defer(c, D_FAIL);
        return true;
    }
    if (n < 0 || (size_t) n < b->len) {
        n = n < 0 ? 0 : n; /* the rest goes through xmit, which pushes */
        c->bytes_sent += (uint64_t) n;
        b->base += n;
        b->len -= (size_t) n;
        return false;
    }
    c->bytes_sent += (uint64_t) n;
    c->writing = true;
    /* Inside process(), which goes on with the body; otherwise on the
     * next loop turn: never from inside a pier_http_resp_* call. */
    if (c->in_process) {
        c->sync_done = true;
    } else {
        defer(c, D_WRITE);
    }
    return true;
}

void
pier_http_resp_sendfile(struct pier_http_req *req, int status, int fd,
                        uint64_t off, uint64_t len)
{
    struct pier_http_conn *c;
    uv_buf_t b;

    if (!resp_usable(req, &c)) {
        close(fd);
        return;
    }
    PIER_ASSERT(!c->resp_started);
    c->rmode = RM_FILE;
    compose_head(c, status, (int64_t) len);
    c->fd = fd;
    c->foff = off;
    c->fleft = c->no_body ? 0 : len;
    c->head_sent = true;
    b = uv_buf_init(c->out.data, (unsigned) c->out.len);
    if (c->fleft > 0 && file_head_more(c, &b)) {
        return;
    }
    xmit(c, &b, 1);
}

/* The next piece of a file response; after a write completed. */
static void
file_next(struct pier_http_conn *c)
{
    uv_buf_t b;
    size_t want;
    ssize_t n;
    int sock;

    if (c->fleft == 0) {
        resp_done(c);
        return;
    }
    if (!c->fake && c->tls == NULL
        && uv_fileno((uv_handle_t *) &c->tcp, &sock) == 0) {
        /* sendfile while the socket takes it; when it is full, one chunk
         * through uv_write, which waits for the socket for us. */
        for (;;) {
            off_t o = (off_t) c->foff;

            want = c->fleft > (1u << 30) ? (1u << 30) : (size_t) c->fleft;
            n = sendfile(sock, c->fd, &o, want);
            if (n > 0) {
                c->foff += (uint64_t) n;
                c->fleft -= (uint64_t) n;
                c->body_sent += (uint64_t) n;
                c->bytes_sent += (uint64_t) n;
                if (c->fleft == 0) {
                    resp_done(c);
                    return;
                }
                continue;
            }
            if (n == -1 && errno == EINTR) {
                continue;
            }
            if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            }
            if (n == 0) {
                pier_log(PIER_LOG_WARN, "http", "%s: file shrank while sent",
                         c->peer);
            }
            conn_close(c, false);
            return;
        }
    }
    if (c->fbuf == NULL) {
        c->fbuf = pier_malloc(PIER_HTTP_FILE_CHUNK);
    }
    want = c->fleft > PIER_HTTP_FILE_CHUNK ? PIER_HTTP_FILE_CHUNK
                                           : (size_t) c->fleft;
    /* TLS records hold 16 KiB: bigger reads only make bigger bursts. */
    if (c->tls != NULL && want > 16384) {
        want = 16384;
    }
    do {
        n = pread(c->fd, c->fbuf, want, (off_t) c->foff);
    } while (n == -1 && errno == EINTR);
    if (n <= 0) {
        pier_log(PIER_LOG_WARN, "http", "%s: cannot read file: %s", c->peer,
                 n == 0 ? "file shrank" : strerror(errno));
        conn_close(c, false);
        return;
    }
    c->foff += (uint64_t) n;
    c->fleft -= (uint64_t) n;
    c->body_sent += (uint64_t) n;
    b = uv_buf_init(c->fbuf, (unsigned) n);
    xmit(c, &b, 1);
}

void
pier_http_resp_start(struct pier_http_req *req, int status, int64_t len)
{
    struct pier_http_conn *c;

    if (!resp_usable(req, &c)) {
        return;
    }
    PIER_ASSERT(!c->resp_started);
    PIER_ASSERT(status >= 100 && status <= 999);
    /* The head is composed at the first write or the end, so that a
     * handler may start, then read the body, and keep the connection. */
    c->rmode = RM_STREAM;
    c->resp_started = true;
    c->status = status;
    c->stream_len = len;
}

static void
stream_head(struct pier_http_conn *c)
{
    if (c->out.len == 0 || !c->head_composed) {
        compose_head(c, c->status, c->stream_len);
        c->head_composed = true;
    }
}

void
pier_http_resp_write(struct pier_http_req *req, struct pier_str data,
                     pier_http_write_fn *cb, void *ctx)
{
    struct pier_http_conn *c;
    uv_buf_t b[4];
    unsigned n = 0;

    if (!resp_usable(req, &c)) {
        /* The core answered instead; the finish callback follows. */
        return;
    }
    PIER_ASSERT(c->rmode == RM_STREAM && !c->resp_ended && !c->wpending);
    c->wpending = true;
    c->wcb = cb;
    c->wctx = ctx;
    stream_head(c);
    if (!c->head_sent) {
        c->head_sent = true;
        b[n++] = uv_buf_init(c->out.data, (unsigned) c->out.len);
    }
    if (!c->no_body && data.len > 0) {
        if (c->resp_chunked) {
            char *e = c->chunkline + sizeof(c->chunkline), *p = e - 2;
            size_t v = data.len;

            e[-2] = '\r';
            e[-1] = '\n';
            do {
                *--p = hexdig[v & 15];
                v >>= 4;
            } while (v != 0);
            b[n++] = uv_buf_init(p, (unsigned) (e - p));
            b[n++] = uv_buf_init((char *) data.ptr, (unsigned) data.len);
            b[n++] = uv_buf_init((char *) "\r\n", 2);
        } else {
            PIER_ASSERT(c->resp_left < 0
                        || (uint64_t) c->resp_left >= data.len);
            if (c->resp_left > 0) {
                c->resp_left -= (int64_t) data.len;
            }
            b[n++] = uv_buf_init((char *) data.ptr, (unsigned) data.len);
        }
        c->body_sent += data.len;
    }
    if (n == 0) {
        c->writing = true;
        defer(c, D_WRITE);
        return;
    }
    xmit(c, b, n);
}

void
pier_http_resp_end(struct pier_http_req *req)
{
    struct pier_http_conn *c;
    uv_buf_t b[2];
    unsigned n = 0;

    if (!resp_usable(req, &c)) {
        return;
    }
    PIER_ASSERT(c->rmode == RM_STREAM && !c->resp_ended && !c->wpending);
    stream_head(c);
    c->resp_ended = true;
    if (c->resp_left > 0 && !c->no_body) {
        /* Fewer bytes than announced: the client must see a cut. */
        c->close_after = true;
        defer(c, D_FAIL);
        return;
    }
    if (!c->head_sent) {
        c->head_sent = true;
        b[n++] = uv_buf_init(c->out.data, (unsigned) c->out.len);
    }
    if (c->resp_chunked && !c->no_body) {
        b[n++] = uv_buf_init((char *) "0\r\n\r\n", 5);
    }
    if (n == 0) {
        defer(c, D_DONE);
        return;
    }
    xmit(c, b, n);
}

static void
xmit_done(struct pier_http_conn *c)
{
    pier_http_write_fn *cb;

    switch (c->rmode) {
    case RM_MEM:
    case RM_CORE:
        resp_done(c);
        break;
    case RM_FILE:
        file_next(c);
        break;
    case RM_STREAM:
        if (c->lim->io_timeout_ms != 0) {
            timer_stop(c);
        }
        if (c->wpending) {
            c->wpending = false;
            cb = c->wcb;
            if (cb != NULL) {
                cb(&c->req, true, c->wctx);
            }
        } else if (c->resp_ended) {
            resp_done(c);
        }
        break;
    case RM_NONE:
        break;
    }
}

static void
access_log(struct pier_http_conn *c)
{
    struct pier_accesslog_entry e;

    if (!c->w->has_log) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.peer = c->peer;
    if (c->dispatched) {
        e.method = c->req.method;
        e.target = c->req.target;
        e.version_minor = c->req.version_minor;
        e.referer = pier_http_req_header(&c->req, "Referer");
        e.user_agent = pier_http_req_header(&c->req, "User-Agent");
        e.duration_s = (double) (uv_hrtime() - c->start_ns) / 1e9;
    } else {
        e.method = PIER_STR("-");
        e.target = PIER_STR("-");
        e.version_minor = 1;
    }
    e.status = c->status;
    e.body_bytes = c->body_sent;
    e.bytes_sent = c->bytes_sent;
    pier_accesslog_add(&c->w->alog, &e, c->w->now_sec);
}

/* Reset everything about the request, keeping the memory. */
static void
req_reset(struct pier_http_conn *c)
{
    c->dispatched = false;
    c->body_done = c->body_reading = c->body_paused = false;
    c->body_failed = false;
    c->body_left = 0;
    c->body_fn = NULL;
    c->whole_fn = NULL;
    pier_buf_release(&c->whole);
    c->continue_sent = false;
    c->rmode = RM_NONE;
    c->resp_started = c->head_sent = c->resp_ended = false;
    c->resp_chunked = c->no_body = false;
    c->head_composed = false;
    c->status = 0;
    c->resp_left = 0;
    pier_buf_reset(&c->uhdr);
    c->mem = PIER_STR_NULL;
    c->wpending = false;
    c->bytes_sent = c->body_sent = 0;
    c->fin = NULL;
    memset(&c->req, 0, sizeof(c->req));
    c->req.magic = PIER_HTTP_REQ_MAGIC;
    c->req.conn = c;
    c->req.peer = c->peer;
    c->req.id = c->id;
}

/* Between requests with nothing pending: give the buffers back, so that
 * an idle keep-alive connection holds only its struct (nginx frees its
 * header buffers the same way). The next read allocates again. */
static void
conn_idle(struct pier_http_conn *c)
{
    if (!spare_put(c)) {
        pier_buf_release(&c->in);
        pier_buf_release(&c->out);
        pier_buf_release(&c->uhdr);
        pier_free(c->hdrs);
        c->hdrs = NULL;
        c->hdrs_cap = 0;
    }
    if (c->tin.len == 0) {
        pier_buf_release(&c->tin);
    }
    if (c->tout.len == 0) {
        pier_buf_release(&c->tout);
    }
    if (!c->tsending) {
        pier_buf_release(&c->tsend);
    }
}

/* The response has left: log, tell the handler, then the next request. */
static void
resp_done(struct pier_http_conn *c)
{
    bool completed = c->rmode != RM_CORE;
    size_t rest;

    timer_stop(c);
    access_log(c);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    finish_req(c, completed);
    if (c->state == CS_CLOSED) {
        return;
    }
    if (c->head_len > 0 && body_all_here(c)) {
        in_drop(c, (size_t) c->body_left);
        c->body_left = 0;
        c->body_done = true;
    }
    if (c->close_after || c->draining || c->w->stopping
        || (c->head_len > 0 && !c->body_done)) {
        conn_close(c, true);
        return;
    }
    /* Drop the header block; pipelined bytes move to the front. */
    rest = c->in.len - c->head_len;
    if (c->head_len > 0) {
        memmove(c->in.data, c->in.data + c->head_len, rest);
        c->in.len = rest;
        c->in.data[rest] = '\0';
    }
    c->head_len = 0;
    c->scan = 0;
    c->state = CS_HEAD;
    req_reset(c);
    if (c->in.len == 0) {
        conn_idle(c);
    }
    if (c->in.len > 0) {
        timer_arm(c, T_HEADER, c->lim->header_timeout_ms);
    } else {
        timer_arm(c, T_KEEPALIVE, c->lim->keepalive_timeout_ms);
    }
    process(c);
}

/* ---- the request body -------------------------------------------------- */

/* Drop n bytes at head_len (body bytes used). */
static void
in_drop(struct pier_http_conn *c, size_t n)
{
    size_t at = c->head_len, rest = c->in.len - at - n;

    memmove(c->in.data + at, c->in.data + at + n, rest);
    c->in.len = at + rest;
    c->in.data[c->in.len] = '\0';
}

static void
body_fail(struct pier_http_conn *c, int status)
{
    c->body_failed = true;
    c->body_fn = NULL;
    c->close_after = true;
    if (!c->head_sent && !c->writing) {
        core_error(c, status);
    } else {
        defer(c, D_FAIL);
    }
}

static int
call_body(struct pier_http_conn *c, const char *p, size_t n)
{
    int r = c->body_fn(&c->req, pier_str_make(p, n), c->body_ctx);

    if (r == PIER_AGAIN) {
        c->body_paused = true;
    } else if (r != PIER_OK) {
        c->body_fn = NULL; /* abandoned: close after the response */
        c->close_after = true;
    }
    return r;
}

static void
deliver_body(struct pier_http_conn *c)
{
    struct pier_err err;

    while (c->body_fn != NULL && !c->body_paused && c->state == CS_REQ
           && c->rmode != RM_CORE) {
        size_t avail = c->in.len - c->head_len, used, dlen;
        char *p = c->in.data + c->head_len;
        int rc;

        if (c->body_done) {
            /* The end, told only when the handler wants more. */
            pier_http_body_fn *fn = c->body_fn;

            c->body_fn = NULL;
            fn(&c->req, PIER_STR_NULL, c->body_ctx);
            break;
        }
        if (c->req.chunked) {
            if (avail == 0) {
                break;
            }
            rc = pier_chunked_decode(&c->ck, p, p + avail, 4096, &used, &dlen,
                                     &err);
            if (rc == PIER_ERR) {
                pier_log(PIER_LOG_WARN, "http", "%s: %s", c->peer, err.msg);
                body_fail(c, 400);
                return;
            }
            if (c->ck.total > c->lim->max_body_bytes) {
                body_fail(c, 413);
                return;
            }
            if (dlen > 0) {
                call_body(c, p, dlen);
            }
            in_drop(c, used);
            if (rc == PIER_OK) {
                c->body_done = true;
            }
        } else {
            size_t n = avail;

            if (c->body_left == 0) {
                c->body_done = true;
            } else {
                if (n > c->body_left) {
                    n = (size_t) c->body_left;
                }
                if (n == 0) {
                    break;
                }
                c->body_left -= n;
                call_body(c, p, n);
                in_drop(c, n);
                if (c->body_left == 0) {
                    c->body_done = true;
                }
            }
        }
    }
    /* Waiting for body bytes from the client: the io time-out runs. */
    if (c->state == CS_REQ && c->rmode != RM_CORE && c->body_reading
        && !c->body_done && !c->body_paused && !c->writing
        && c->lim->io_timeout_ms != 0) {
        timer_arm(c, T_IO, c->lim->io_timeout_ms);
    } else if (c->body_paused && c->tmode == T_IO && !c->writing) {
        timer_stop(c); /* the handler is the slow one now */
    }
}

void
pier_http_req_read_body(struct pier_http_req *req, pier_http_body_fn *fn,
                        void *ctx)
{
    struct pier_http_conn *c;

    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    c = req->conn;
    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    PIER_ASSERT(!c->body_reading);
    c->body_reading = true;
    if (c->body_failed || c->rmode == RM_CORE) {
        return;
    }
    c->body_fn = fn;
    c->body_ctx = ctx;
    if (req->expect_continue && !c->head_sent && !c->body_done
        && !c->continue_sent) {
        send_continue(c);
    }
    if (c->body_done) {
        /* No body: only the final call. */
        c->body_fn = NULL;
        fn(req, PIER_STR_NULL, ctx);
        return;
    }
    process(c);
}

void
pier_http_req_resume(struct pier_http_req *req)
{
    struct pier_http_conn *c;

    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    c = req->conn;
    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    if (!c->body_paused) {
        return;
    }
    c->body_paused = false;
    process(c);
}

static int
whole_piece(struct pier_http_req *req, struct pier_str data, void *ctx)
{
    struct pier_http_conn *c = req->conn;
    pier_http_whole_fn *fn;

    (void) ctx;
    if (data.len == 0) {
        fn = c->whole_fn;
        c->whole_fn = NULL;
        fn(req, pier_buf_str(&c->whole), c->whole_ctx);
        return PIER_OK;
    }
    if (pier_buf_addstr(&c->whole, data) != 0) {
        body_fail(c, 413);
        return PIER_ERR;
    }
    return PIER_OK;
}

void
pier_http_req_read_whole(struct pier_http_req *req, size_t max,
                         pier_http_whole_fn *fn, void *ctx)
{
    struct pier_http_conn *c;

    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    c = req->conn;
    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    if (!req->chunked && req->has_body && req->content_length > max) {
        c->body_reading = true;
        body_fail(c, 413);
        return;
    }
    pier_buf_release(&c->whole);
    pier_buf_init(&c->whole, max);
    c->whole_fn = fn;
    c->whole_ctx = ctx;
    pier_http_req_read_body(req, whole_piece, NULL);
}

/* ---- request accessors ------------------------------------------------- */

struct pier_str
pier_http_req_header(const struct pier_http_req *req, const char *name)
{
    struct pier_str n = pier_str_cstr(name);
    size_t i;

    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    for (i = 0; i < req->nheaders; i++) {
        if (pier_str_caseeq(req->headers[i].name, n)) {
            return req->headers[i].value;
        }
    }
    return PIER_STR_NULL;
}

struct pier_http_worker *
pier_http_req_worker(const struct pier_http_req *req)
{
    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    return req->conn->w;
}

void
pier_http_req_on_finish(struct pier_http_req *req, pier_http_finish_fn *fn,
                        void *ctx)
{
    PIER_CHECK_OBJ(req, PIER_HTTP_REQ_MAGIC);
    req->conn->fin = fn;
    req->conn->fin_ctx = ctx;
}

/* ---- the header block -------------------------------------------------- */

static int
on_url(http_parser *p, const char *at, size_t n)
{
    struct pier_http_conn *c = p->data;

    if (c->url == NULL) {
        c->url = at;
    }
    c->url_len = (size_t) (at + n - c->url);
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    struct pier_http_conn *c = p->data;

    c->keepalive = http_should_keep_alive(p) != 0;
    /* 1: no body for http_parser; pier reads it (lib/chunked.h). */
    return 1;
}

static int
on_message_complete(http_parser *p)
{
    struct pier_http_conn *c = p->data;

    c->parser_done = true;
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* Parse the Transfer-Encoding list; 0 if it ends in one "chunked" and has
 * nothing else, else the status to answer. */
static int
check_te(struct pier_str v, bool *last_chunked, int *nchunked, bool *other)
{
    size_t i = 0;

    while (i <= v.len) {
        size_t s, e;

        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t')) {
            i++;
        }
        s = i;
        while (i < v.len && v.ptr[i] != ',') {
            i++;
        }
        e = i;
        while (e > s && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t')) {
            e--;
        }
        if (e == s) {
            return 400; /* an empty element */
        }
        if (pier_str_caseeq(pier_str_make(v.ptr + s, e - s),
                            PIER_STR("chunked"))) {
            *last_chunked = true;
            (*nchunked)++;
        } else {
            *last_chunked = false;
            *other = true;
        }
        i++; /* past the comma (or the end) */
    }
    return 0;
}

static bool
parse_cl(struct pier_str v, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;

    if (v.len == 0 || v.len > 18) {
        return false;
    }
    for (i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return false;
        }
        n = n * 10 + (uint64_t) (v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static enum pier_http_method
method_id(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return PIER_HTTP_GET;
    case HTTP_HEAD:
        return PIER_HTTP_HEAD;
    case HTTP_POST:
        return PIER_HTTP_POST;
    case HTTP_PUT:
        return PIER_HTTP_PUT;
    case HTTP_DELETE:
        return PIER_HTTP_DELETE;
    case HTTP_OPTIONS:
        return PIER_HTTP_OPTIONS;
    default:
        return PIER_HTTP_OTHER;
    }
}

/*
 * Set path and query from the target. Origin-form ("/a?b") as is; "*"
 * for OPTIONS; absolute-form ("http://host/a?b", RFC 9112 3.2.2) only
 * when its authority is the Host field, so that the host a handler routes
 * on is the one the request names. CONNECT is not served: 405.
 */
static int
split_target(struct pier_http_conn *c, struct pier_http_req *req)
{
    struct pier_str t = req->target;
    size_t i;

    if (c->parser.method == HTTP_CONNECT) {
        return 405;
    }
    if (t.len == 1 && t.ptr[0] == '*') {
        if (req->method_id != PIER_HTTP_OPTIONS) {
            return 400;
        }
    } else if (t.len == 0 || t.ptr[0] != '/') {
        struct http_parser_url u;
        struct pier_str authority;

        http_parser_url_init(&u);
        if (http_parser_parse_url(t.ptr, t.len, 0, &u) != 0
            || !(u.field_set & (1 << UF_SCHEMA))
            || !(u.field_set & (1 << UF_HOST))
            || (u.field_set & (1 << UF_USERINFO))) {
            return 400;
        }
        /* The authority runs from the host to the path (port included). */
        authority = pier_str_make(t.ptr + u.field_data[UF_HOST].off,
                                  u.field_data[UF_HOST].len);
        if (u.field_set & (1 << UF_PORT)) {
            authority.len =
                (size_t) (u.field_data[UF_PORT].off + u.field_data[UF_PORT].len)
                - u.field_data[UF_HOST].off;
        }
        if (!pier_str_caseeq(authority, req->host)) {
            return 400;
        }
        if (u.field_set & (1 << UF_PATH)) {
            t = pier_str_make(t.ptr + u.field_data[UF_PATH].off,
                              t.len - u.field_data[UF_PATH].off);
        } else {
            return 400; /* "http://host" with no path */
        }
    }
    req->path = t;
    req->query = pier_str_make(t.ptr + t.len, 0);
    for (i = 0; i < t.len; i++) {
        if (t.ptr[i] == '?') {
            req->path = pier_str_make(t.ptr, i);
            req->query = pier_str_make(t.ptr + i + 1, t.len - i - 1);
            break;
        }
        if (t.ptr[i] == '#') {
            return 400; /* a fragment is never sent */
        }
    }
    return 0;
}

/*
 * Check the header block [0, end) and fill c->req. Returns 0, or the
 * status to answer with (then close). NUL, bare CR and bare LF were
 * refused by the scan already.
 */
static int
check_head(struct pier_http_conn *c, size_t end)
{
    const char *d = c->in.data;
    struct pier_http_req *req = &c->req;
    size_t i, nh = 0, ncl = 0, nte = 0, nhost = 0;
    const char *sp;
    bool te_last_chunked = false, te_other = false;
    int te_nchunked = 0, st;
    uint64_t cl = 0;
    size_t ls;
    size_t rl_end;

    /* The request line ends at the first CR. */
    rl_end = (size_t) ((const char *) memchr(d, '\r', end) - d);
    ls = rl_end + 2;
    while (ls < end) {
        size_t le = ls, j, vs, ve;
        struct pier_str name, value;

        while (d[le] != '\r') {
            le++;
        }
        if (le == ls) {
            break; /* the empty line */
        }
        if (d[ls] == ' ' || d[ls] == '\t') {
            return 400; /* obs-fold */
        }
        for (j = ls; j < le && is_tchar((unsigned char) d[j]); j++) {
        }
        if (j == ls || j == le || d[j] != ':') {
            return 400; /* whitespace before the colon, or not a token */
        }
        name = pier_str_make(d + ls, j - ls);
        vs = j + 1;
        ve = le;
        while (vs < ve && (d[vs] == ' ' || d[vs] == '\t')) {
            vs++;
        }
        while (ve > vs && (d[ve - 1] == ' ' || d[ve - 1] == '\t')) {
            ve--;
        }
        for (j = vs; j < ve; j++) {
            unsigned char ch = (unsigned char) d[j];

            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return 400;
            }
        }
        value = pier_str_make(d + vs, ve - vs);
        if (nh == c->lim->max_headers) {
            return 431;
        }
        if (nh == c->hdrs_cap) {
            c->hdrs_cap = c->hdrs_cap != 0 ? c->hdrs_cap * 2 : HDRS_MIN;
            if (c->hdrs_cap > c->lim->max_headers) {
                c->hdrs_cap = c->lim->max_headers;
            }
            c->hdrs = pier_realloc(c->hdrs, c->hdrs_cap * sizeof(*c->hdrs));
        }
        c->hdrs[nh].name = name;
        c->hdrs[nh].value = value;
        nh++;
        if (NAME_IS(name, "Content-Length")) {
            ncl++;
            if (!parse_cl(value, &cl)) {
                return 400;
            }
        } else if (NAME_IS(name, "Transfer-Encoding")) {
            nte++;
            if (check_te(value, &te_last_chunked, &te_nchunked, &te_other)
                != 0) {
                return 400;
            }
        } else if (NAME_IS(name, "Host")) {
            nhost++;
            req->host = value;
        } else if (NAME_IS(name, "Expect")) {
            if (!pier_str_caseeq(value, PIER_STR("100-continue"))) {
                return 417;
            }
            req->expect_continue = true;
        }
        ls = le + 2;
    }
    if (ncl > 1 || (ncl > 0 && nte > 0)) {
        return 400;
    }
    if (nte > 0 && (!te_last_chunked || te_nchunked > 1)) {
        return 400;
    }
    if (nte > 0 && te_other) {
        return 501;
    }

    /* The request line, through http_parser. */
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->url = NULL;
    c->url_len = 0;
    c->parser_done = false;
    c->keepalive = false;
    i = http_parser_execute(&c->parser, &parser_settings, d, end);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || !c->parser_done || i != end
        || c->url == NULL) {
        return 400;
    }
    if (c->parser.http_major == 0) {
        return 400; /* HTTP/0.9 is not spoken here */
    }
    if (c->parser.http_major != 1) {
        return 505;
    }
    req->version_minor = c->parser.http_minor;
    if (nte > 0 && req->version_minor == 0) {
        return 400;
    }
    if (nhost > 1 || (nhost == 0 && req->version_minor >= 1)) {
        return 400;
    }
    if (ncl > 0 && cl > c->lim->max_body_bytes) {
        return 413;
    }
    req->method_id = method_id((enum http_method) c->parser.method);
    sp = memchr(d, ' ', rl_end);
    if (sp == NULL) {
        return 400;
    }
    req->method = pier_str_make(d, (size_t) (sp - d));
    req->target = pier_str_make(c->url, c->url_len);
    st = split_target(c, req);
    if (st != 0) {
        return st;
    }
    req->headers = c->hdrs;
    req->nheaders = nh;
    req->chunked = nte > 0;
    req->content_length = req->chunked ? 0 : cl;
    req->has_body = req->chunked || cl > 0;
    c->body_left = req->content_length;
    c->body_done = !req->has_body;
    pier_chunked_init(&c->ck);
    return 0;
}

/* Give each request a process-unique id: worker, then a counter. */
static void
make_id(struct pier_http_conn *c)
{
    uint64_t v =
        ((uint64_t) c->w->index << 48) | (c->w->next_id++ & 0xffffffffffffULL);
    int i;

    for (i = 15; i >= 0; i--) {
        c->id[i] = hexdig[v & 15];
        v >>= 4;
    }
    c->id[16] = '\0';
}

/* Look for the end of the header block, refusing NUL, bare CR and bare
 * LF on the way; then check it and dispatch. */
static void
parse_head(struct pier_http_conn *c)
{
    char *d = c->in.data;
    size_t i, n = c->in.len, end = 0;
    int st;

    if (c->rmode != RM_NONE) {
        return; /* the core is answering */
    }
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    if (c->scan == 0) {
        size_t k = 0;

        while (k + 1 < n && d[k] == '\r' && d[k + 1] == '\n') {
            k += 2;
        }
        if (k > 0) {
            memmove(d, d + k, n - k);
            c->in.len = n -= k;
            d[n] = '\0';
        }
    }
    for (i = c->scan; i < n; i++) {
        char ch = d[i];

        if (ch == '\r') {
            if (i + 1 >= n) {
                break; /* wait for the LF */
            }
            if (d[i + 1] != '\n') {
                core_error(c, 400); /* bare CR */
                return;
            }
            if (i >= 2 && d[i - 2] == '\r' && d[i - 1] == '\n') {
                end = i + 2;
                break;
            }
            i++;
        } else if (ch == '\n' || ch == '\0') {
            core_error(c, 400); /* bare LF, NUL */
            return;
        }
    }
    c->scan = i;
    if (end == 0) {
        if (n >= c->lim->max_header_bytes) {
            core_error(c, 431);
        } else if (c->eof) {
            conn_close(c, false);
        } else if (n > 0 && c->tmode == T_KEEPALIVE) {
            /* The first byte of the next request: its headers are due. */
            timer_arm(c, T_HEADER, c->lim->header_timeout_ms);
        }
        return;
    }
    if (end > c->lim->max_header_bytes) {
        core_error(c, 431);
        return;
    }
    st = check_head(c, end);
    if (st == 0 && c->req.has_body && c->in.cap < c->in.max
        && c->in.cap - end < PIER_HTTP_BODY_WINDOW) {
        /* The body comes through the buffer behind the head, which must
         * not move once the request is dispatched: room for its window
         * now, then the views again, made in the moved buffer. */
        size_t want = end + PIER_HTTP_BODY_WINDOW;

        if (want > c->in.max) {
            want = c->in.max;
        }
        PIER_ASSERT(pier_buf_reserve(&c->in, want - c->in.len) != NULL);
        st = check_head(c, end);
        PIER_ASSERT(st == 0);
    }
    if (st != 0) {
        core_error(c, st);
        return;
    }
    c->head_len = end;
    c->state = CS_REQ;
    c->dispatched = true;
    timer_stop(c);
    c->req.start_ms = uv_now(c->w->uvl);
    if (c->w->has_log) {
        c->start_ns = uv_hrtime();
    }
    if (c->tls != NULL) {
        c->req.tls = true;
        c->req.sni = pier_str_cstr(pier_tls_conn_sni(c->tls));
    }
    make_id(c);
    c->l->handler(&c->req, c->l->udata);
}

/* ---- reading ----------------------------------------------------------- */

/* How far c->in may fill now. While views into it are out (a request
 * dispatched, or the core answering one) it must not move: its
 * allocation only. Otherwise it may grow up to its max. */
static size_t
in_limit(const struct pier_http_conn *c)
{
    if (c->state == CS_REQ || (c->state == CS_HEAD && c->rmode != RM_NONE)) {
        return c->in.cap;
    }
    return c->in.max;
}

static void
tls_pump(struct pier_http_conn *c)
{
    struct pier_err err;
    size_t limit, max;
    int rc;

    if (c->tin.len == 0 && !pier_tls_conn_pending(c->tls)) {
        return;
    }
    limit = in_limit(c);
    if (c->in.len >= limit) {
        return;
    }
    /* The feed decrypts up to the buffer's max: lower it to the limit for
     * the call, so that the buffer does not move under the views. */
    max = c->in.max;
    c->in.max = limit;
    rc = pier_tls_conn_feed(c->tls, c->tin.data, c->tin.len, &c->in, &c->tout,
                            &err);
    c->in.max = max;
    if (rc != PIER_OK) {
        pier_buf_reset(&c->tin);
        PIER_DEBUG("http", "%s: %s", c->peer, err.msg);
        tls_flush(c);
        conn_close(c, false);
        return;
    }
    pier_buf_reset(&c->tin);
    tls_flush(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ub);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *ub);

static void
update_reading(struct pier_http_conn *c)
{
    bool want;

    if (c->fake || c->state == CS_CLOSED) {
        return;
    }
    if (c->state == CS_LINGER) {
        want = true;
    } else if (c->eof) {
        want = false;
    } else if (c->tls != NULL) {
        want = c->in.len < in_limit(c) && !pier_tls_conn_pending(c->tls);
    } else {
        want = c->in.len < in_limit(c);
    }
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) == 0) {
            c->reading = true;
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *) &c->tcp);
        c->reading = false;
    }
}

/*
 * Parse, dispatch and answer what the connection has. Answers that leave
 * whole at once (uv_try_write) lead straight to the next pipelined
 * request; after PIPELINE_BURST of them the rest waits for the next loop
 * turn (the defer timer), so that a client pipelining hundreds of small
 * requests does not keep the loop from the other connections.
 */
static void
process(struct pier_http_conn *c)
{
    unsigned burst = 0;

    if (c->in_process) {
        c->again = true;
        return;
    }
    c->in_process = true;
    do {
        c->again = false;
        if (c->state == CS_CLOSED || c->state == CS_LINGER) {
            break;
        }
        if (c->tls != NULL) {
            tls_pump(c);
        }
        if (c->state == CS_HEAD) {
            parse_head(c);
        }
        if (c->state == CS_REQ) {
            deliver_body(c);
            if (c->eof && !c->body_done && c->body_fn != NULL
                && !c->body_paused) {
                /* The client went away in the middle of the body. */
                conn_close(c, false);
            }
        }
        if (c->sync_done) {
            /* The response left whole from inside this loop (xmit). */
            c->sync_done = false;
            if (c->state == CS_HEAD || c->state == CS_REQ) {
                c->writing = false;
                xmit_done(c);
                c->again = true;
                if (++burst == PIPELINE_BURST && c->state == CS_HEAD
                    && c->in.len > 0) {
                    c->again = false;
                    defer(c, D_PROCESS);
                    break;
                }
            }
        }
        /* Ciphertext waited (in tin, or inside OpenSSL) while the buffer
         * was full; if the body made room, decrypt it now: no read may
         * come to do it (the client may have sent everything). */
        if (c->tls != NULL && (c->state == CS_HEAD || c->state == CS_REQ)
            && (c->tin.len > 0 || pier_tls_conn_pending(c->tls))
            && c->in.len < in_limit(c)) {
            c->again = true;
        }
    } while (c->again);
    c->in_process = false;
    if (c->state == CS_LINGER) {
        c->reading = false; /* conn_close asked for reading to restart */
        if (uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) == 0) {
            c->reading = true;
        }
        return;
    }
    update_reading(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ub)
{
    struct pier_http_conn *c = h->data;
    struct pier_buf *b;
    size_t room, n;
    char *p;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    (void) suggested;
    if (c->state == CS_LINGER) {
        pier_buf_reset(&c->in);
    }
    if (c->tls != NULL && c->state != CS_LINGER) {
        /* Ciphertext: room for whole TLS records at once; the buffer
         * goes when the connection is idle. */
        b = &c->tin;
        room = b->max - b->len;
        n = room;
    } else {
        /* What is allocated already, or IN_READ_MIN more (the buffer
         * doubles as it grows): a first read allocates a small buffer,
         * not the whole header limit. */
        b = &c->in;
        if (b->cap == 0 && c->state == CS_HEAD) {
            spare_take(c);
        }
        room = in_limit(c) - b->len;
        n = pier_buf_avail(b);
        if (n < IN_READ_MIN) {
            n = IN_READ_MIN;
        }
        if (n > room) {
            n = room;
        }
    }
    /* No room at all: UV_ENOBUFS, and reading stops. */
    p = pier_buf_reserve(b, n);
    *ub = uv_buf_init(p, p != NULL ? (unsigned) n : 0);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
    struct pier_http_conn *c = s->data;

    PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
    (void) ub;
    if (c->state == CS_CLOSED) {
        return;
    }
    if (c->state == CS_LINGER) {
        pier_buf_reset(&c->in);
        if (n < 0) {
            conn_close(c, false);
        }
        return;
    }
    if (n == UV_ENOBUFS) {
        update_reading(c);
        return;
    }
    if (n < 0) {
        c->eof = true;
        uv_read_stop(s);
        c->reading = false;
        if (n != UV_EOF || (c->state == CS_HEAD && c->rmode == RM_NONE)) {
            /* A reset, or the client left between requests. */
            conn_close(c, false);
            return;
        }
        process(c); /* a half-closed client still gets its answer */
        return;
    }
    if (c->tls != NULL) {
        pier_buf_commit(&c->tin, (size_t) n);
    } else {
        pier_buf_commit(&c->in, (size_t) n);
    }
    if (c->tmode == T_IO) {
        timer_arm(c, T_IO, c->lim->io_timeout_ms);
    }
    process(c);
}

/* ---- connections ------------------------------------------------------- */

static struct pier_http_conn *
conn_new(struct pier_http_worker *w, struct pier_http_listener *l)
{
    struct pier_http_conn *c = pier_calloc(1, sizeof(*c));
    const struct pier_http_limits *lim = &w->srv->cfg.limits;

    c->magic = PIER_HTTP_CONN_MAGIC;
    c->w = w;
    c->l = l;
    c->lim = lim;
    c->fd = -1;
    c->tcp.data = c;
    c->timer.data = c;
    c->defer.data = c;
    c->wreq.data = c;
    c->twreq.data = c;
    c->cwreq.data = c;
    uv_timer_init(w->uvl, &c->timer);
    uv_timer_init(w->uvl, &c->defer);
    /* Nothing allocated until the first read (see the top of the file). */
    pier_buf_init(&c->in, lim->max_header_bytes + PIER_HTTP_BODY_WINDOW);
    pier_buf_init(&c->out, PIER_HTTP_OUT_MAX);
    pier_buf_init(&c->uhdr, PIER_HTTP_OUT_MAX - 1024);
    pier_buf_init(&c->whole, 0);
    pier_buf_init(&c->tin, TLS_IN_MAX);
    pier_buf_init(&c->tout, SIZE_MAX);
    pier_buf_init(&c->tsend, SIZE_MAX);
    snprintf(c->peer, sizeof(c->peer), "-");
    req_reset(c);
    c->next = w->conns;
    if (c->next != NULL) {
        c->next->prev = c;
    }
    w->conns = c;
    w->nconns++;
    return c;
}

static void
on_refused_close(uv_handle_t *h)
{
    pier_free(h);
}

void
pier_http_conn_accept(struct pier_http_worker *w, struct pier_http_listener *l,
                      uv_stream_t *server)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 20\r\n"
                               "Connection: close\r\n\r\n"
                               "Service Unavailable\n";
    struct pier_http_server *srv = w->srv;
    struct pier_http_conn *c;
    struct sockaddr_storage ss;
    struct pier_err err;
    int len = sizeof(ss);

    if (atomic_fetch_add(&srv->nconns, 1) >= srv->cfg.limits.max_conns) {
        /* Over the limit: one 503 written if the socket takes it, then
         * close; no connection state, no buffers. */
        uv_tcp_t *t = pier_malloc(sizeof(*t));
        uv_buf_t b = uv_buf_init((char *) busy, sizeof(busy) - 1);

        atomic_fetch_sub(&srv->nconns, 1);
        uv_tcp_init(w->uvl, t);
        if (uv_accept(server, (uv_stream_t *) t) == 0) {
            (void) uv_try_write((uv_stream_t *) t, &b, 1);
        }
        uv_close((uv_handle_t *) t, on_refused_close);
        return;
    }
    c = conn_new(w, l);
    c->counted = true;
    uv_tcp_init(w->uvl, &c->tcp);
    if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0) {
        conn_close(c, false);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *) &ss, c->peer, sizeof(c->peer));
        } else {
            uv_ip4_name((struct sockaddr_in *) &ss, c->peer, sizeof(c->peer));
        }
    }
    if (l->tls != NULL) {
        c->tls = pier_tls_conn_new(l->tls, &err);
        if (c->tls == NULL) {
            pier_log(PIER_LOG_ERROR, "http", "%s", err.msg);
            conn_close(c, false);
            return;
        }
    }
    if (w->stopping) {
        c->draining = true;
    }
    timer_arm(c, T_HEADER, c->lim->header_timeout_ms);
    update_reading(c);
}

void
pier_http_conns_drain(struct pier_http_worker *w)
{
    struct pier_http_conn *c, *next;

    for (c = w->conns; c != NULL; c = next) {
        PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
        next = c->next; /* c may leave the list */
        c->draining = true;
        if (c->state == CS_HEAD && c->in.len == 0 && c->rmode == RM_NONE) {
            conn_close(c, false);
        }
    }
}

void
pier_http_conns_cut(struct pier_http_worker *w)
{
    struct pier_http_conn *c;

    for (c = w->conns; c != NULL; c = w->conns) {
        PIER_CHECK_OBJ(c, PIER_HTTP_CONN_MAGIC);
        if (c->state == CS_LINGER) {
            c->state = CS_REQ; /* so conn_close does not linger again */
        }
        conn_close(c, false);
    }
}

/* ---- tests and fuzzing ------------------------------------------------- */

struct pier_http_test {
    struct pier_http_server srv;
    struct pier_http_worker w;
    struct pier_http_listener l;
    struct pier_http_conn *c;
    bool closed;
};

size_t
pier_http_test_held(const struct pier_http_test *t)
{
    const struct pier_http_conn *c = t->c;

    return c->in.cap + c->out.cap + c->uhdr.cap + c->whole.cap + c->tin.cap
           + c->tout.cap + c->tsend.cap + c->hdrs_cap * sizeof(*c->hdrs);
}

struct pier_http_test *
pier_http_test_new(uv_loop_t *loop, const struct pier_http_limits *lim,
                   pier_http_handler_fn *handler, void *udata,
                   struct pier_buf *out)
{
    struct pier_http_test *t = pier_calloc(1, sizeof(*t));
    struct pier_http_config cfg;

    pier_http_config_init(&cfg);
    if (lim != NULL) {
        cfg.limits = *lim;
    }
    /* Fill the zero fields with the defaults. */
    {
        struct pier_http_server *tmp = pier_http_server_new(&cfg);

        t->srv.cfg = tmp->cfg;
        pier_http_server_free(tmp);
    }
    t->srv.magic = PIER_HTTP_SERVER_MAGIC;
    t->srv.nworkers = 1;
    t->w.magic = PIER_HTTP_WORKER_MAGIC;
    t->w.srv = &t->srv;
    t->w.uvl = loop;
    pier_http_worker_date(&t->w);
    t->l.handler = handler;
    t->l.udata = udata;
    snprintf(t->l.name, sizeof(t->l.name), "test");
    t->c = conn_new(&t->w, &t->l);
    t->c->fake = true;
    t->c->fake_out = out;
    snprintf(t->c->peer, sizeof(t->c->peer), "192.0.2.1");
    timer_arm(t->c, T_HEADER, t->c->lim->header_timeout_ms);
    return t;
}

/* Complete writes and run due callbacks until nothing moves. */
static void
test_settle(struct pier_http_test *t)
{
    struct pier_http_conn *c = t->c;
    int rounds;

    for (rounds = 0; rounds < 1000000; rounds++) {
        if (c->state == CS_CLOSED) {
            t->closed = true;
            return;
        }
        if (c->fake_pending) {
            c->fake_pending = false;
            c->writing = false;
            xmit_done(c);
            continue;
        }
        if (c->defer_flags != 0) {
            uv_run(t->w.uvl, UV_RUN_NOWAIT);
            continue;
        }
        return;
    }
    PIER_ASSERT(!"test connection never settles");
}

size_t
pier_http_test_feed(struct pier_http_test *t, const char *p, size_t n,
                    bool *closed)
{
    struct pier_http_conn *c = t->c;
    size_t room, take = 0;

    if (!t->closed && c->state != CS_CLOSED && c->state != CS_LINGER) {
        room = in_limit(c) - c->in.len;
        take = n < room ? n : room;
        if (pier_buf_add(&c->in, p, take) != 0) {
            PIER_ASSERT(!"room computed wrong");
        }
        if (take > 0 && c->tmode == T_IO) {
            timer_arm(c, T_IO, c->lim->io_timeout_ms);
        }
        process(c);
    }
    test_settle(t);
    if (c->state == CS_LINGER) {
        /* No client to linger for. */
        c->state = CS_REQ;
        conn_close(c, false);
        test_settle(t);
    }
    if (c->state == CS_CLOSED) {
        t->closed = true;
    }
    *closed = t->closed;
    return take;
}

void
pier_http_test_eof(struct pier_http_test *t)
{
    struct pier_http_conn *c = t->c;

    if (t->closed || c->state == CS_CLOSED) {
        return;
    }
    c->eof = true;
    if (c->state == CS_HEAD && c->rmode == RM_NONE) {
        conn_close(c, false);
    } else {
        process(c);
    }
    test_settle(t);
}

void
pier_http_test_free(struct pier_http_test *t)
{
    struct pier_http_conn *c;

    if (t == NULL) {
        return;
    }
    c = t->c;
    if (c->state != CS_CLOSED) {
        if (c->state == CS_LINGER) {
            c->state = CS_REQ;
        }
        conn_close(c, false);
    }
    while (!c->gone) {
        uv_run(t->w.uvl, UV_RUN_NOWAIT);
    }
    conn_free(c);
    spares_free(&t->w);
    pier_free(t);
}
