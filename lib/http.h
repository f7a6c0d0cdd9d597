/*
 * lib/http.h - pier's HTTP/1.1 server core: listeners, worker loops,
 * requests, responses.
 *
 * A server has N worker threads, each running its own libuv loop. Every
 * listener ("http", "https", "admin"...) is bound once per worker with
 * SO_REUSEPORT, so the kernel spreads connections over the workers and a
 * connection lives and dies on the loop that accepted it. Nothing about a
 * connection or a request is shared between threads.
 *
 * Threads. The handler, the body and write callbacks and every
 * pier_http_req_* / pier_http_resp_* call run on the worker thread that
 * owns the request (pier_http_req_worker()). Work finished on another
 * thread must come back through the handler's own uv_async_t on
 * pier_http_worker_loop() before it touches the request. The server
 * object itself is created and configured on one thread (the main one),
 * before pier_http_server_start(); pier_http_server_stop() may be called
 * from any thread or a signal-safe context.
 *
 * A request's life, on one connection:
 *   1. The core reads the request line and headers, checks them (limits,
 *      request smuggling: see below) and calls the listener's handler with
 *      a struct pier_http_req. Failures are answered by the core itself
 *      (400, 405 for CONNECT, 408, 413, 417, 431, 501 for an unknown
 *      transfer coding, 503, 505), with Connection: close.
 *   2. The handler may read the body as a stream (pier_http_req_read_body,
 *      with backpressure through PIER_AGAIN / pier_http_req_resume) or
 *      whole up to a limit (pier_http_req_read_whole). "Expect:
 *      100-continue" is answered when the handler first asks for the body,
 *      never before, so a handler that refuses a request (403) before
 *      reading saves the client the upload. A body the handler never
 *      reads is dropped when it is already all in the buffer; otherwise
 *      the connection closes after the response.
 *   3. The handler answers once, now or later from its own callbacks:
 *      from memory (pier_http_resp_send), from a file descriptor
 *      (pier_http_resp_sendfile: sendfile(2) in plain text, read +
 *      SSL_write under TLS), or streamed (pier_http_resp_start, _write,
 *      _end; chunked when the length is unknown). HEAD gets the headers
 *      only, whatever the handler sends.
 *   4. When the response has left (or the connection died), the core calls
 *      the finish callback set with pier_http_req_on_finish, exactly once.
 *      After it returns the request is gone: a handler with work in flight
 *      cancels it there.
 * Pipelined requests wait in the connection's input buffer and are parsed
 * only once the previous response has left, so responses leave in request
 * order. The core allocates nothing per request on this path: each
 * connection's buffers are sized when it is accepted (the input buffer
 * holds max_header_bytes + 16 KiB of body, so the request's views never
 * move) and reset between requests; the functions that do allocate say
 * so.
 *
 * Request smuggling: the core rejects with 400 and closes: both
 * Content-Length and Transfer-Encoding, two Content-Lengths (even equal),
 * a Content-Length that is not all digits, a Transfer-Encoding whose last
 * coding is not "chunked" (or any Transfer-Encoding in HTTP/1.0),
 * malformed chunk sizes or extensions, chunk data not followed by CRLF,
 * obsolete line folding, whitespace between a field name and its colon,
 * NUL, bare CR or bare LF in the header block, a field name that is not a
 * token, an HTTP/1.1 request with no Host or with two, and an
 * absolute-form target whose authority is not the Host. http_parser
 * 2.9.4 reads only the request line (and keep-alive semantics): the core
 * checks the header block itself and decodes chunked bodies with
 * lib/chunked.h.
 */
#ifndef PIER_HTTP_H
#define PIER_HTTP_H

#include "lib/core.h"
#include "lib/err.h"

#include <uv.h>

struct pier_http_server; /* opaque */
struct pier_http_worker; /* opaque: one worker thread and its loop */
struct pier_http_conn;   /* opaque: one connection */
struct pier_http_req;    /* below */
struct pier_tls;         /* lib/tls.h */
struct pier_accesslog;   /* lib/accesslog.h */

/* Limits; zero fields take the defaults (in brackets). */
struct pier_http_limits {
    size_t max_header_bytes;       /* request line + headers: 431 [16 KiB] */
    size_t max_headers;            /* header fields: 431 [100] */
    uint64_t max_body_bytes;       /* declared or streamed body: 413 [1 GiB] */
    uint64_t header_timeout_ms;    /* from the first byte (or accept) to
                                      the end of the headers: 408, close
                                      (slowloris) [10 s] */
    uint64_t keepalive_timeout_ms; /* idle between requests: close [30 s] */
    uint64_t io_timeout_ms;        /* no progress reading a body or
                                      writing a response: close [60 s] */
    size_t max_conns;              /* open connections, all workers
                                      together; beyond: 503, close [10000] */
    uint64_t grace_ms;             /* on stop, in-flight requests get this
                                      long before their connections are
                                      cut [10 s] */
};

struct pier_http_config {
    unsigned workers; /* worker threads; 0: the number of cores */
    /* The scheduler slice each worker thread asks for, in microseconds
     * (sched_setattr's sched_runtime under SCHED_OTHER; Linux 6.12's
     * EEVDF honours 100 to 100,000, older kernels ignore it); 0: the
     * default. See lib/http.c, worker_slice(). */
    unsigned sched_slice_us;
    struct pier_http_limits limits;
    /* Borrowed; NULL: no access log. See lib/accesslog.h. */
    struct pier_accesslog *access_log;
    /* Called on each worker thread after its loop is set up and before it
     * accepts, and on its loop once it stopped and its connections are
     * gone; either may be NULL. on_worker_start may open handles on the
     * worker's loop (and keep them with pier_http_worker_set_data());
     * on_worker_stop must close them, or the loop never ends. */
    void (*on_worker_start)(struct pier_http_worker *w, void *udata);
    void (*on_worker_stop)(struct pier_http_worker *w, void *udata);
    /* SIGHUP, on the thread in pier_http_server_run(), after the core has
     * reopened the access log: reopen other logs, reload configuration.
     * May be NULL. */
    void (*on_reload)(void *udata);
    void *udata;
};

/* Fill c with the defaults (workers 0, default limits, no callbacks). */
void pier_http_config_init(struct pier_http_config *c);

/* The handler of a listener: called on the worker thread with a request
 * whose headers have been read and checked. It must answer it, now or
 * later. */
typedef void pier_http_handler_fn(struct pier_http_req *req, void *udata);

/* A new server with the given configuration (copied). Allocates. The
 * caller owns it and frees it with pier_http_server_free(), which accepts
 * NULL, after pier_http_server_wait() (or without starting it). */
struct pier_http_server *
pier_http_server_new(const struct pier_http_config *cfg);
void pier_http_server_free(struct pier_http_server *srv);

/*
 * Add a listener named name ("http", "https", "admin"; the name in the
 * ready file) on host (an IPv4 or IPv6 literal: "127.0.0.1", "::1", "0.0.0.0",
 * "::") and port; port 0 picks a free port, the same for every worker.
 * Binds (and listens) now, so errors come back here and the address is
 * known at once. tls NULL: plain text; else borrowed until the server is
 * freed. handler and udata serve this listener's requests. Main thread,
 * before pier_http_server_start().
 */
int pier_http_server_listen(struct pier_http_server *srv, const char *name,
                            const char *host, unsigned port,
                            struct pier_tls *tls, pier_http_handler_fn *handler,
                            void *udata, struct pier_err *err);

/* Split "HOST:PORT" or "[IPV6]:PORT" (a --listen flag) into host (hostlen
 * bytes, NUL-terminated, brackets removed) and *port (0 to 65535).
 * PIER_ERR with err set when s is not of that form. */
int pier_http_split_addr(const char *s, char *host, size_t hostlen,
                         unsigned *port, struct pier_err *err);

/* The bound address of listener name as "HOST:PORT" ("[::1]:8080" for
 * IPv6) into out (n bytes; 64 is enough); PIER_ERR if there is no such
 * listener. */
int pier_http_server_addr(const struct pier_http_server *srv, const char *name,
                          char *out, size_t n);

/* Write the ready file (lib/cli.h) listing every listener. */
int pier_http_server_write_ready(const struct pier_http_server *srv,
                                 const char *path, struct pier_err *err);

/* Start the worker threads; returns once they are running. */
int pier_http_server_start(struct pier_http_server *srv, struct pier_err *err);
/* Ask the server to stop: listeners close, idle connections close, the
 * requests in flight get limits.grace_ms to finish. Any thread; async-
 * signal-safe. */
void pier_http_server_stop(struct pier_http_server *srv);
/* Wait for every worker to finish after a stop. Main thread. */
void pier_http_server_wait(struct pier_http_server *srv);

/*
 * Start, then run until SIGTERM or SIGINT (stop, wait), calling on_reload
 * on SIGHUP; writes the ready file first when ready_file is not NULL.
 * Returns PIER_OK after a clean stop, so the command exits 0. Takes over
 * those three signals on the calling thread (with its own uv loop, closed
 * before returning); SIGPIPE is ignored process-wide.
 */
int pier_http_server_run(struct pier_http_server *srv, const char *ready_file,
                         struct pier_err *err);

/* A worker's loop, index (0..workers-1) and per-worker data for the
 * caller (set in on_worker_start, read by handlers). Worker thread. */
uv_loop_t *pier_http_worker_loop(struct pier_http_worker *w);
unsigned pier_http_worker_index(const struct pier_http_worker *w);
void pier_http_worker_set_data(struct pier_http_worker *w, void *data);
void *pier_http_worker_data(const struct pier_http_worker *w);

/* ---- requests ---------------------------------------------------------- */

enum pier_http_method {
    PIER_HTTP_OTHER = 0, /* see method for its name */
    PIER_HTTP_GET,
    PIER_HTTP_HEAD,
    PIER_HTTP_POST,
    PIER_HTTP_PUT,
    PIER_HTTP_DELETE,
    PIER_HTTP_OPTIONS,
};

struct pier_http_header {
    struct pier_str name;  /* as sent; compare with pier_str_caseeq */
    struct pier_str value; /* without surrounding whitespace */
};

/*
 * One request. The core owns it; the handler reads the fields (never
 * writes them). Every view points into the connection's input buffer and
 * stays valid until the finish callback returns.
 */
struct pier_http_req {
    unsigned magic;
#define PIER_HTTP_REQ_MAGIC 0x5e7a1c93u
    enum pier_http_method method_id;
    struct pier_str method;  /* "GET" */
    struct pier_str target;  /* the request-target as sent */
    struct pier_str path;    /* before '?', not decoded; starts with '/'
                                (absolute-form is reduced to it, after
                                checking its authority is the Host) or
                                is "*" (OPTIONS) */
    struct pier_str query;   /* after '?', without it; empty if none */
    struct pier_str host;    /* the Host field; empty in HTTP/1.0 without */
    int version_minor;       /* 0 or 1 (HTTP/1.x) */
    bool has_body;           /* Content-Length > 0, or chunked */
    bool chunked;            /* Transfer-Encoding: chunked */
    uint64_t content_length; /* when has_body && !chunked */
    bool expect_continue;    /* Expect: 100-continue */
    bool tls;                /* came over a TLS listener */
    struct pier_str sni;     /* TLS server name; empty if none */
    const struct pier_http_header *headers;
    size_t nheaders;
    const char *peer;  /* client address, "192.0.2.1" or "2001:db8::1" */
    const char *id;    /* 16 hex digits, unique per process; for logs
                          and x-amz-request-id */
    uint64_t start_ms; /* loop time when the headers were complete */
    struct pier_http_conn *conn; /* the core's */
};

/* The first field called name (case-insensitive); PIER_STR_NULL (ptr NULL)
 * when absent. */
struct pier_str pier_http_req_header(const struct pier_http_req *req,
                                     const char *name);
/* The worker that owns req: its loop, its data. */
struct pier_http_worker *pier_http_req_worker(const struct pier_http_req *req);

/* Called once when the request is over: completed true when the whole
 * response left, false when the connection failed first. req is invalid
 * after it returns. One callback per request (a second call replaces). */
typedef void pier_http_finish_fn(struct pier_http_req *req, bool completed,
                                 void *ctx);
void pier_http_req_on_finish(struct pier_http_req *req, pier_http_finish_fn *fn,
                             void *ctx);

/*
 * Stream the body to fn: each call brings the next bytes (valid only
 * during the call), and a last call with data.len == 0 says the body is
 * complete (trailers are checked and dropped). fn returns PIER_OK for
 * more, PIER_AGAIN to pause until pier_http_req_resume() (the core stops
 * reading the socket: backpressure), or PIER_ERR to stop: no more calls,
 * and the connection closes after the response, which the handler sends
 * (or has sent). A request without a body gets only the final call.
 * Sends "100 Continue" first when the client asked for it. Bad chunked
 * framing, a body past max_body_bytes (413) or a client that stops
 * sending (408) end the request through the core's own answer when no
 * response has left yet (the handler's own response calls are then
 * ignored), and the finish callback. fn may run before read_body or
 * resume returns, when the bytes are already there. The end (data.len ==
 * 0) comes only when fn is not paused.
 */
typedef int pier_http_body_fn(struct pier_http_req *req, struct pier_str data,
                              void *ctx);
void pier_http_req_read_body(struct pier_http_req *req, pier_http_body_fn *fn,
                             void *ctx);
void pier_http_req_resume(struct pier_http_req *req);

/* Read the whole body (at most max bytes, else 413 from the core) into a
 * buffer, then call fn with it (valid during the call). Allocates. */
typedef void pier_http_whole_fn(struct pier_http_req *req, struct pier_str body,
                                void *ctx);
void pier_http_req_read_whole(struct pier_http_req *req, size_t max,
                              pier_http_whole_fn *fn, void *ctx);

/* ---- responses --------------------------------------------------------- */

/* Add a response header before the response starts. The core adds Date,
 * Content-Length or Transfer-Encoding, and Connection itself. PIER_ERR
 * when it would pass the header buffer or value holds CR, LF or NUL. */
int pier_http_resp_header(struct pier_http_req *req, const char *name,
                          struct pier_str value);
int pier_http_resp_headerf(struct pier_http_req *req, const char *name,
                           const char *fmt, ...) PIER_PRINTF(3, 4);
/* Close the connection after this response. */
void pier_http_resp_close(struct pier_http_req *req);

/* Answer with status and body; body is borrowed until the finish callback
 * (static data, or memory the handler frees there). */
void pier_http_resp_send(struct pier_http_req *req, int status,
                         struct pier_str body);
/* Answer with status and a short text body naming it ("Not Found\n"). */
void pier_http_resp_error(struct pier_http_req *req, int status);
/* Answer with len bytes of fd from offset off (sendfile(2) in plain text,
 * pread + SSL_write under TLS). Takes fd: the core closes it. */
void pier_http_resp_sendfile(struct pier_http_req *req, int status, int fd,
                             uint64_t off, uint64_t len);

/* Stream: start with status and the body's length (-1: unknown, sent
 * chunked; HTTP/1.0: close-delimited), then write pieces, then end. Each
 * write borrows data until cb(req, ok, ctx) says it left (ok false: the
 * connection failed; the finish callback follows). One write at a time.
 * Writing more than a known length is a bug (asserted). */
typedef void pier_http_write_fn(struct pier_http_req *req, bool ok, void *ctx);
void pier_http_resp_start(struct pier_http_req *req, int status, int64_t len);
void pier_http_resp_write(struct pier_http_req *req, struct pier_str data,
                          pier_http_write_fn *cb, void *ctx);
void pier_http_resp_end(struct pier_http_req *req);

/* The reason phrase of status ("Not Found"); "Unknown" if none. */
const char *pier_http_reason(int status);

#endif
