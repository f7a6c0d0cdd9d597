/*
 * lib/http_internal.h - what lib/http.c (server, workers, listeners) and
 * lib/http_conn.c (one connection: parse, dispatch, respond) share, and
 * the socket-free entry points that unit tests and the fuzz target use.
 * Not for other folders: use lib/http.h.
 */
#ifndef PIER_HTTP_INTERNAL_H
#define PIER_HTTP_INTERNAL_H

#include "lib/accesslog.h"
#include "lib/buf.h"
#include "lib/chunked.h"
#include "lib/http.h"
#include "lib/tls.h"

#include <http_parser.h>
#include <stdatomic.h>

#define PIER_HTTP_MAX_LISTENERS 8
#define PIER_HTTP_BODY_WINDOW   (16 * 1024) /* body bytes read at a time */
#define PIER_HTTP_OUT_MAX       (16 * 1024) /* response headers */
#define PIER_HTTP_FILE_CHUNK    (64 * 1024) /* pread size for files */

struct pier_http_listener {
    char name[32];
    char addr[64]; /* "127.0.0.1:8080" */
    struct pier_tls *tls;
    pier_http_handler_fn *handler;
    void *udata;
    int *fds; /* one bound, listening socket per worker */
};

struct pier_http_server {
    unsigned magic;
#define PIER_HTTP_SERVER_MAGIC 0x71c4a2e5u
    struct pier_http_config cfg;
    unsigned nworkers;
    struct pier_http_listener listeners[PIER_HTTP_MAX_LISTENERS];
    size_t nlisteners;
    struct pier_http_worker *workers;
    atomic_size_t nconns;
    atomic_uint running; /* workers whose loop has not ended */
    atomic_bool stopping;
    bool started;
};

struct pier_http_worker {
    unsigned magic;
#define PIER_HTTP_WORKER_MAGIC 0x0d93b6f2u
    struct pier_http_server *srv;
    unsigned index;
    uv_loop_t *uvl; /* &loop, or the test's loop */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop_async;
    uv_timer_t tick;  /* once a second: Date, access log flush */
    uv_timer_t grace; /* cuts the connections left after grace_ms */
    uv_check_t yield; /* after each round of I/O: sched_yield() */
    uv_tcp_t listen[PIER_HTTP_MAX_LISTENERS];
    struct pier_http_conn *conns; /* doubly linked */
    size_t nconns;
    bool stopping;
    bool stop_called; /* on_worker_stop ran */
    char date[64];    /* "Date: Tue, 24 Nov 2026 09:00:00 GMT\r\n" */
    size_t date_len;
    time_t now_sec; /* wall clock, refreshed with date */
    bool has_log;
    struct pier_accesslog_buf alog;
    uint64_t next_id;
    void *data;
    /* http_conn.c: the buffers of connections gone idle, for the next
     * request's; freed once the worker has no connection. */
    struct pier_http_spare *spares;
    size_t nspares;
};

/* ---- lib/http_conn.c --------------------------------------------------- */

/* Accept a connection from listener l on w (socket already accepted into
 * the returned conn's tcp by the caller through pier_http_conn_accept). */
void pier_http_conn_accept(struct pier_http_worker *w,
                           struct pier_http_listener *l, uv_stream_t *server);
/* Stop: close w's idle connections now, the others after their
 * response. */
void pier_http_conns_drain(struct pier_http_worker *w);
/* Cut every connection of w now (grace period over). */
void pier_http_conns_cut(struct pier_http_worker *w);
/* Format the Date header for now into w. */
void pier_http_worker_date(struct pier_http_worker *w);
/* The worker finished with a connection (called by the conn code). */
void pier_http_worker_conn_gone(struct pier_http_worker *w);

/* ---- tests and fuzzing: a connection with no socket -------------------- */

struct pier_http_test;

/* A server, one worker on loop and one connection; every byte the
 * connection writes is appended to *out (borrowed). The caller frees it
 * with pier_http_test_free() and then runs loop until it is empty. */
struct pier_http_test *pier_http_test_new(uv_loop_t *loop,
                                          const struct pier_http_limits *lim,
                                          pier_http_handler_fn *handler,
                                          void *udata, struct pier_buf *out);
/* Feed n bytes as if read from the socket, then complete writes and run
 * the loop's due callbacks until nothing moves. Returns the bytes taken
 * (fewer than n when the input buffer is full and the connection waits
 * for a response). *closed is set once the connection closed. */
size_t pier_http_test_feed(struct pier_http_test *t, const char *p, size_t n,
                           bool *closed);
/* The client closed its side (EOF). */
void pier_http_test_eof(struct pier_http_test *t);
/* Bytes the connection holds allocated in its buffers and header array
 * (0 for an idle keep-alive connection). */
size_t pier_http_test_held(const struct pier_http_test *t);
void pier_http_test_free(struct pier_http_test *t);

#endif
