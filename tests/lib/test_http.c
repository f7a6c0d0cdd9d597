/*
 * tests/lib/test_http.c - lib/http_conn.c without sockets: the parser
 * glue, keep-alive and pipelining, bodies, limits, and every request
 * smuggling case (400 and a closed connection).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/http_internal.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static int
whole_echo_done(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    (void) ctx;
    pier_http_resp_send(req, 200, body);
    return 0;
}

static void
whole_cb(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    (void) whole_echo_done(req, body, ctx);
}

struct stream_ctx {
    int left;
};

static void
stream_more(struct pier_http_req *req, bool ok, void *ctx)
{
    struct stream_ctx *s = ctx;

    if (!ok) {
        return;
    }
    if (s->left == 0) {
        pier_http_resp_end(req);
        return;
    }
    s->left--;
    pier_http_resp_write(req, PIER_STR("ab"), stream_more, s);
}

static struct stream_ctx stream_state;

static void
handler(struct pier_http_req *req, void *udata)
{
    (void) udata;
    if (pier_str_eq(req->path, PIER_STR("/echo"))) {
        pier_http_req_read_whole(req, 1000, whole_cb, NULL);
    } else if (pier_str_eq(req->path, PIER_STR("/stream"))) {
        stream_state.left = 2;
        pier_http_resp_start(req, 200, -1);
        stream_more(req, true, &stream_state);
    } else if (pier_str_eq(req->path, PIER_STR("/forbidden"))) {
        pier_http_resp_error(req, 403);
    } else {
        assert_int_equal(pier_http_resp_header(req, "X-Path", req->path),
                         PIER_OK);
        pier_http_resp_send(req, 200, PIER_STR("hi"));
    }
}

struct run {
    uv_loop_t loop;
    struct pier_buf out;
    struct pier_http_test *t;
    bool closed;
};

static void
run_start(struct run *r, const struct pier_http_limits *lim)
{
    assert_int_equal(uv_loop_init(&r->loop), 0);
    pier_buf_init(&r->out, SIZE_MAX);
    r->t = pier_http_test_new(&r->loop, lim, handler, NULL, &r->out);
    r->closed = false;
}

static void
run_feed(struct run *r, const char *p, size_t n)
{
    size_t off = 0;

    while (off < n && !r->closed) {
        size_t k = pier_http_test_feed(r->t, p + off, n - off, &r->closed);

        if (k == 0) {
            break;
        }
        off += k;
    }
}

static void
run_end(struct run *r)
{
    pier_http_test_free(r->t);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    pier_buf_release(&r->out);
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    for (;;) {
        p = strstr(p, needle);
        if (p == NULL) {
            return n;
        }
        n++;
        p++;
    }
}

static void
test_http_get_keeps_alive(void **state)
{
    static const char req[] = "GET /a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r.out.data, "Content-Length: 2\r\n"));
    assert_non_null(strstr(r.out.data, "X-Path: /a\r\n"));
    assert_non_null(strstr(r.out.data, "Date: "));
    assert_null(strstr(r.out.data, "Connection: close"));
    assert_false(r.closed);
    run_end(&r);
}

/* Idle keep-alive connections hold no buffer (as in nginx): nothing is
 * allocated before the first byte, buffers grow with a large header
 * block, many header fields or a body, and all go once the response is
 * done and nothing is pipelined. */
static void
test_http_idle_conn_holds_nothing(void **state)
{
    static const char post[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 900\r\n\r\n";
    struct pier_buf req;
    struct run r;
    char body[900];
    int i;

    (void) state;
    run_start(&r, NULL);
    assert_int_equal(pier_http_test_held(r.t), 0);
    pier_buf_init(&req, SIZE_MAX);
    /* 60 fields and a 12 KiB header block: both grow, within limits. */
    assert_int_equal(pier_buf_adds(&req, "GET /big HTTP/1.1\r\nHost: x\r\n"),
                     PIER_OK);
    for (i = 0; i < 60; i++) {
        assert_int_equal(pier_buf_addf(&req, "X-F%d: %0200d\r\n", i, i),
                         PIER_OK);
    }
    assert_int_equal(pier_buf_adds(&req, "\r\n"), PIER_OK);
    run_feed(&r, req.data, req.len);
    assert_non_null(strstr(r.out.data, "X-Path: /big\r\n"));
    assert_false(r.closed);
    assert_int_equal(pier_http_test_held(r.t), 0);
    /* A body, pipelined with a GET, fed in two reads. */
    pier_buf_reset(&req);
    memset(body, 'b', sizeof(body));
    assert_int_equal(pier_buf_adds(&req, post), PIER_OK);
    assert_int_equal(pier_buf_add(&req, body, sizeof(body)), PIER_OK);
    assert_int_equal(pier_buf_adds(&req, "GET /after HTTP/1.1\r\nHost: x\r\n"
                                         "\r\n"),
                     PIER_OK);
    run_feed(&r, req.data, 100);
    assert_true(pier_http_test_held(r.t) > 0);
    run_feed(&r, req.data + 100, req.len - 100);
    assert_non_null(strstr(r.out.data, "Content-Length: 900\r\n"));
    assert_non_null(strstr(r.out.data, "X-Path: /after\r\n"));
    assert_false(r.closed);
    assert_int_equal(pier_http_test_held(r.t), 0);
    pier_buf_release(&req);
    run_end(&r);
}

/* Three requests in one read: three answers, in order. */
static void
test_http_pipelining_in_order(void **state)
{
    static const char req[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;
    char *a, *b, *c;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    a = strstr(r.out.data, "X-Path: /1");
    b = strstr(r.out.data, "X-Path: /2");
    c = strstr(r.out.data, "X-Path: /3");
    assert_true(a != NULL && b != NULL && c != NULL);
    assert_true(a < b && b < c);
    assert_false(r.closed);
    run_end(&r);
}

/* The answer must not depend on how the bytes arrive. */
static void
test_http_byte_by_byte(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "3\r\nabc\r\n2;e=1\r\nde\r\n0\r\n\r\n"
                              "GET /after HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;
    size_t i;

    (void) state;
    run_start(&r, NULL);
    for (i = 0; i < strlen(req); i++) {
        run_feed(&r, req + i, 1);
    }
    assert_non_null(strstr(r.out.data, "Content-Length: 5\r\n\r\nabcde"));
    assert_non_null(strstr(r.out.data, "X-Path: /after"));
    assert_false(r.closed);
    run_end(&r);
}

/* A small body the handler ignores is dropped, and the connection
 * stays open for the next request. */
static void
test_http_unread_body_dropped(void **state)
{
    static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n"
                              "Content-Length: 5\r\n\r\nhello"
                              "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "X-Path: /a"));
    assert_non_null(strstr(r.out.data, "X-Path: /b"));
    assert_null(strstr(r.out.data, "Connection: close"));
    assert_false(r.closed);
    run_end(&r);
}

static void
test_http_head_has_no_body(void **state)
{
    static const char req[] = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "Content-Length: 2\r\n"));
    assert_int_equal(strlen(strstr(r.out.data, "\r\n\r\n")), 4);
    run_end(&r);
}

static void
test_http_expect_continue(void **state)
{
    static const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 3\r\n"
                               "Expect: 100-continue\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, head, strlen(head));
    assert_string_equal(r.out.data, "HTTP/1.1 100 Continue\r\n\r\n");
    run_feed(&r, "xyz", 3);
    assert_non_null(strstr(r.out.data, "\r\n\r\nxyz"));
    run_end(&r);
}

/* A handler that refuses before reading: no 100, and the connection
 * closes since the body's fate is unknown. */
static void
test_http_refusal_skips_continue(void **state)
{
    static const char head[] = "PUT /forbidden HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 3\r\n"
                               "Expect: 100-continue\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, head, strlen(head));
    assert_null(strstr(r.out.data, "100 Continue"));
    assert_non_null(strstr(r.out.data, "HTTP/1.1 403 Forbidden\r\n"));
    assert_non_null(strstr(r.out.data, "Connection: close\r\n"));
    assert_true(r.closed);
    run_end(&r);
}

static void
test_http_streams_chunked(void **state)
{
    static const char req[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(
        strstr(r.out.data, "\r\n\r\n2\r\nab\r\n2\r\nab\r\n0\r\n\r\n"));
    assert_false(r.closed);
    run_end(&r);
}

static void
test_http10_closes(void **state)
{
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r.out.data, "Connection: close\r\n"));
    assert_true(r.closed);
    run_end(&r);
}

/* Every request must get exactly this status and a closed connection. */
static void
expect_reject(const char *req, size_t n, int status,
              const struct pier_http_limits *lim)
{
    struct run r;
    char want[32];

    snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
    run_start(&r, lim);
    run_feed(&r, req, n);
    if (strncmp(r.out.data, want, strlen(want)) != 0 || !r.closed
        || count(r.out.data, "HTTP/1.1 ") != 1) {
        fail_msg("request %.60s...: got %.40s (closed %d)", req, r.out.data,
                 (int) r.closed);
    }
    run_end(&r);
}

#define EXPECT_REJECT(lit, status) \
    expect_reject((lit), sizeof(lit) - 1, (status), NULL)

static void
test_http_smuggling_rejected(void **state)
{
    static const char *const bad[] = {
        /* both Content-Length and Transfer-Encoding */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        /* two Content-Lengths, even equal */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        "Content-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        /* the last coding is not chunked */
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip"
        "\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: identity\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked"
        "\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        /* malformed chunks */
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5 junk\r\nhello\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;a b\r\nhello\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhelloXX0\r\n\r\n",
        /* obs-fold, whitespace before the colon */
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tfolded\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n",
        /* bare CR, bare LF in the header block */
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n",
        /* no Host, two Hosts */
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        /* junk */
        "GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: \x01\r\n\r\n",
        "GET /\r\nHost: x\r\n\r\n",
        "G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        expect_reject(bad[i], strlen(bad[i]), 400, NULL);
    }
    /* NUL in a field */
    {
        static const char nul[] =
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";

        expect_reject(nul, sizeof(nul) - 1, 400, NULL);
    }
}

static void
test_http_limits(void **state)
{
    struct pier_http_limits lim;
    char big[2048];
    struct pier_buf b;
    int i;

    (void) state;
    memset(&lim, 0, sizeof(lim));
    lim.max_header_bytes = 1024;
    lim.max_headers = 5;
    lim.max_body_bytes = 10;
    /* request line and headers too large: 431 */
    snprintf(big, sizeof(big),
             "GET / HTTP/1.1\r\nHost: x\r\nX-A: %01500d\r\n\r\n", 0);
    expect_reject(big, strlen(big), 431, &lim);
    /* too many fields: 431 */
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(pier_buf_adds(&b, "GET / HTTP/1.1\r\nHost: x\r\n"), 0);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pier_buf_addf(&b, "X-%d: 1\r\n", i), 0);
    }
    assert_int_equal(pier_buf_adds(&b, "\r\n"), 0);
    expect_reject(b.data, b.len, 431, &lim);
    pier_buf_release(&b);
    /* a declared body too large: 413 */
    snprintf(big, sizeof(big),
             "POST /echo HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 11\r\n\r\n");
    expect_reject(big, strlen(big), 413, &lim);
    /* a chunked body that grows too large: 413 */
    snprintf(big, sizeof(big),
             "POST /echo HTTP/1.1\r\nHost: x\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"
             "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    expect_reject(big, strlen(big), 413, &lim);
    /* an unknown expectation: 417 */
    snprintf(big, sizeof(big),
             "POST /echo HTTP/1.1\r\nHost: x\r\n"
             "Expect: something\r\n\r\n");
    expect_reject(big, strlen(big), 417, &lim);
    /* HTTP/2.0 on this port: 505 */
    snprintf(big, sizeof(big), "GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    expect_reject(big, strlen(big), 505, &lim);
}

/* A request cut short by the client: no answer, no leak. */
static void
test_http_eof_midway(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                              "Content-Length: 10\r\n\r\nabc";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    pier_http_test_eof(r.t);
    assert_int_equal(r.out.len, 0);
    run_end(&r);
}

static void
test_http_absolute_form(void **state)
{
    static const char req[] = "GET http://x:8080/p?q=1 HTTP/1.1\r\n"
                              "Host: x:8080\r\n\r\n";
    struct run r;

    (void) state;
    run_start(&r, NULL);
    run_feed(&r, req, strlen(req));
    assert_non_null(strstr(r.out.data, "X-Path: /p\r\n"));
    run_end(&r);
    /* another host than the Host field: refused */
    EXPECT_REJECT("GET http://y/p HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    EXPECT_REJECT("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    EXPECT_REJECT("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 405);
}

static void
test_http_split_addr(void **state)
{
    char host[64];
    unsigned port;
    struct pier_err err;

    (void) state;
    assert_int_equal(
        pier_http_split_addr("127.0.0.1:0", host, sizeof(host), &port, &err),
        PIER_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(
        pier_http_split_addr("[::1]:8443", host, sizeof(host), &port, &err),
        PIER_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8443);
    assert_int_equal(
        pier_http_split_addr("::1:80", host, sizeof(host), &port, &err),
        PIER_ERR);
    assert_int_equal(
        pier_http_split_addr("host", host, sizeof(host), &port, &err),
        PIER_ERR);
    assert_int_equal(
        pier_http_split_addr("h:65536", host, sizeof(host), &port, &err),
        PIER_ERR);
    assert_int_equal(
        pier_http_split_addr(":80", host, sizeof(host), &port, &err), PIER_ERR);
    assert_int_equal(
        pier_http_split_addr("h:", host, sizeof(host), &port, &err), PIER_ERR);
}

static int
connect_to(const char *addr)
{
    char host[64];
    unsigned port;
    struct pier_err err;
    struct sockaddr_in sa;
    int fd, r;

    assert_int_equal(
        pier_http_split_addr(addr, host, sizeof(host), &port, &err), PIER_OK);
    assert_int_equal(uv_ip4_addr(host, (int) port, &sa), 0);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    close(fd);
    return r;
}

/* Bind errors come back from listen; workers start and stop cleanly. */
static void
test_http_server_lifecycle(void **state)
{
    struct pier_http_config cfg;
    struct pier_http_server *srv;
    struct pier_err err;
    char addr[64], addr2[64];

    (void) state;
    pier_http_config_init(&cfg);
    cfg.workers = 3;
    srv = pier_http_server_new(&cfg);
    assert_int_equal(pier_http_server_listen(srv, "bad", "192.0.2.1", 0, NULL,
                                             handler, NULL, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "cannot bind"));
    assert_non_null(strstr(err.msg, "192.0.2.1"));
    assert_int_equal(pier_http_server_listen(srv, "bad", "localhost", 0, NULL,
                                             handler, NULL, &err),
                     PIER_ERR);
    assert_int_equal(pier_http_server_listen(srv, "http", "127.0.0.1", 0, NULL,
                                             handler, NULL, &err),
                     PIER_OK);
    assert_int_equal(pier_http_server_listen(srv, "admin", "127.0.0.1", 0, NULL,
                                             handler, NULL, &err),
                     PIER_OK);
    assert_int_equal(pier_http_server_addr(srv, "http", addr, sizeof(addr)),
                     PIER_OK);
    assert_int_equal(pier_http_server_addr(srv, "admin", addr2, sizeof(addr2)),
                     PIER_OK);
    assert_int_equal(pier_http_server_addr(srv, "bad", addr2, sizeof(addr2)),
                     PIER_ERR);
    assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
    assert_string_not_equal(addr, "127.0.0.1:0");
    assert_int_equal(pier_http_server_start(srv, &err), PIER_OK);
    assert_int_equal(connect_to(addr), 0);
    assert_int_equal(connect_to(addr2), 0);
    pier_http_server_stop(srv);
    pier_http_server_wait(srv);
    assert_int_not_equal(connect_to(addr), 0);
    pier_http_server_free(srv);
}

/* What each worker thread of test_http_worker_slice saw of itself. */
struct slice_seen {
    pthread_mutex_t mu;
    unsigned n;
    int nice[4];
    uint32_t policy[4];
    uint64_t runtime[4];
};

struct sched_attr_v0 { /* sched_getattr(2), SCHED_ATTR_SIZE_VER0 */
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

static void
slice_worker_start(struct pier_http_worker *w, void *udata)
{
    struct slice_seen *seen = udata;
    struct sched_attr_v0 a;

    (void) w;
    memset(&a, 0, sizeof(a));
    assert_int_equal(syscall(SYS_sched_getattr, 0, &a, (unsigned) sizeof(a),
                             0U),
                     0);
    pthread_mutex_lock(&seen->mu);
    if (seen->n < 4) {
        seen->nice[seen->n] = a.nice;
        seen->policy[seen->n] = a.policy;
        seen->runtime[seen->n] = a.runtime;
        seen->n++;
    }
    pthread_mutex_unlock(&seen->mu);
}

/* Kernels from 6.12 on report a thread's custom slice. */
static bool
kernel_has_custom_slices(void)
{
    struct utsname u;
    unsigned long major, minor;
    char *end;

    if (uname(&u) != 0) {
        return false;
    }
    major = strtoul(u.release, &end, 10);
    minor = *end == '.' ? strtoul(end + 1, NULL, 10) : 0;
    return major > 6 || (major == 6 && minor >= 12);
}

/* Runs the server from a thread niced by 3, whose workers inherit it. */
static void *
slice_run(void *arg)
{
    struct slice_seen *seen = arg;
    struct pier_http_config cfg;
    struct pier_http_server *srv;
    struct pier_err err;

    assert_int_equal(setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid),
                                 getpriority(PRIO_PROCESS, 0) + 3),
                     0);
    pier_http_config_init(&cfg);
    cfg.workers = 2;
    cfg.sched_slice_us = 100;
    cfg.on_worker_start = slice_worker_start;
    cfg.udata = seen;
    srv = pier_http_server_new(&cfg);
    assert_int_equal(pier_http_server_listen(srv, "http", "127.0.0.1", 0, NULL,
                                             handler, NULL, &err),
                     PIER_OK);
    assert_int_equal(pier_http_server_start(srv, &err), PIER_OK);
    pier_http_server_stop(srv);
    pier_http_server_wait(srv);
    pier_http_server_free(srv);
    return NULL;
}

/* sched_slice_us: every worker asks for its slice and keeps its nice
 * value and policy. */
static void
test_http_worker_slice(void **state)
{
    struct slice_seen seen;
    pthread_t t;
    int nice0 = getpriority(PRIO_PROCESS, 0);
    unsigned i;

    (void) state;
    memset(&seen, 0, sizeof(seen));
    pthread_mutex_init(&seen.mu, NULL);
    assert_int_equal(pthread_create(&t, NULL, slice_run, &seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(seen.n, 2);
    for (i = 0; i < seen.n; i++) {
        assert_int_equal(seen.nice[i], nice0 + 3 > 19 ? 19 : nice0 + 3);
        assert_int_equal(seen.policy[i], SCHED_OTHER);
        if (kernel_has_custom_slices()) {
            assert_int_equal(seen.runtime[i], 100000);
        }
    }
    pthread_mutex_destroy(&seen.mu);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_get_keeps_alive),
        cmocka_unit_test(test_http_idle_conn_holds_nothing),
        cmocka_unit_test(test_http_pipelining_in_order),
        cmocka_unit_test(test_http_byte_by_byte),
        cmocka_unit_test(test_http_head_has_no_body),
        cmocka_unit_test(test_http_unread_body_dropped),
        cmocka_unit_test(test_http_expect_continue),
        cmocka_unit_test(test_http_refusal_skips_continue),
        cmocka_unit_test(test_http_streams_chunked),
        cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_http_smuggling_rejected),
        cmocka_unit_test(test_http_limits),
        cmocka_unit_test(test_http_eof_midway),
        cmocka_unit_test(test_http_split_addr),
        cmocka_unit_test(test_http_absolute_form),
        cmocka_unit_test(test_http_server_lifecycle),
        cmocka_unit_test(test_http_worker_slice),
    };
    return cmocka_run_group_tests_name("lib/http", tests, NULL, NULL);
}
