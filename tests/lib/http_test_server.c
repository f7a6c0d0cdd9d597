/*
 * tests/lib/http_test_server.c - a small server on lib/http.h for the
 * integration test and the benchmark.
 *
 *   GET  /hello, /      a fixed 4 KiB body from memory
 *   POST /echo          the request body streamed back (known length when
 *                       the request had one, else chunked), with
 *                       backpressure: one piece in flight at a time
 *   POST /whole         the body read whole (up to --whole-max), echoed
 *   GET  /file          --file PATH through sendfile (read + SSL_write
 *                       under TLS)
 *   GET  /stream?n=N    N pieces of "piece K\n", chunked
 *   GET  /slow?ms=N     answers after N ms (graceful stop tests); with
 *                       &file=1, answers with /file's (a sendfile
 *                       answer made outside the connection's own turn)
 */
#include "config.h"

#include "lib/accesslog.h"
#include "lib/cli.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HELLO_LEN 4096

static char hello[HELLO_LEN];
static const char *file_path;
static size_t whole_max = 1024 * 1024;

struct echo {
    unsigned magic;
#define ECHO_MAGIC 0x5a17c0e2u
    struct pier_http_req *req;
    char *buf;
    size_t cap;
    bool writing;
    bool ended; /* the body is complete: end after the last write */
    bool started;
    uv_timer_t timer; /* /slow */
    bool file;        /* /slow?file=1 */
    int pieces, sent;
    char line[32];
};

static void
echo_free_timer(uv_handle_t *h)
{
    struct echo *e = h->data;

    pier_free(e->buf);
    e->magic = 0;
    pier_free(e);
}

static void
echo_finish(struct pier_http_req *req, bool completed, void *ctx)
{
    struct echo *e = ctx;

    (void) req;
    (void) completed;
    PIER_CHECK_OBJ(e, ECHO_MAGIC);
    e->req = NULL;
    uv_close((uv_handle_t *) &e->timer, echo_free_timer);
}

static struct echo *
echo_new(struct pier_http_req *req)
{
    struct echo *e = pier_calloc(1, sizeof(*e));

    e->magic = ECHO_MAGIC;
    e->req = req;
    uv_timer_init(pier_http_worker_loop(pier_http_req_worker(req)), &e->timer);
    e->timer.data = e;
    pier_http_req_on_finish(req, echo_finish, e);
    return e;
}

static void
echo_written(struct pier_http_req *req, bool ok, void *ctx)
{
    struct echo *e = ctx;

    PIER_CHECK_OBJ(e, ECHO_MAGIC);
    e->writing = false;
    if (!ok) {
        return;
    }
    if (e->ended) {
        pier_http_resp_end(req);
    } else {
        pier_http_req_resume(req);
    }
}

static int
echo_body(struct pier_http_req *req, struct pier_str data, void *ctx)
{
    struct echo *e = ctx;

    PIER_CHECK_OBJ(e, ECHO_MAGIC);
    if (data.len == 0) {
        e->ended = true;
        if (!e->writing) {
            pier_http_resp_end(req);
        }
        return PIER_OK;
    }
    if (data.len > e->cap) {
        e->buf = pier_realloc(e->buf, data.len);
        e->cap = data.len;
    }
    memcpy(e->buf, data.ptr, data.len);
    e->writing = true;
    pier_http_resp_write(req, pier_str_make(e->buf, data.len), echo_written, e);
    /* Backpressure: no more body until this piece left. */
    return PIER_AGAIN;
}

static void
whole_done(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    (void) ctx;
    /* body stays valid until the finish callback: the core keeps it. */
    pier_http_resp_send(req, 200, body);
}

static void
stream_next(struct pier_http_req *req, bool ok, void *ctx)
{
    struct echo *e = ctx;
    int n;

    PIER_CHECK_OBJ(e, ECHO_MAGIC);
    if (!ok) {
        return;
    }
    if (e->sent == e->pieces) {
        pier_http_resp_end(req);
        return;
    }
    n = snprintf(e->line, sizeof(e->line), "piece %d\n", e->sent++);
    pier_http_resp_write(req, pier_str_make(e->line, (size_t) n), stream_next,
                         e);
}

/* GET /file: --file through sendfile. */
static void
file_answer(struct pier_http_req *req)
{
    struct stat st;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fstat(fd, &st) != 0) {
        if (fd != -1) {
            close(fd);
        }
        pier_http_resp_error(req, 404);
        return;
    }
    pier_http_resp_sendfile(req, 200, fd, 0, (uint64_t) st.st_size);
}

static void
on_slow(uv_timer_t *t)
{
    struct echo *e = t->data;

    PIER_CHECK_OBJ(e, ECHO_MAGIC);
    if (e->req != NULL && e->file) {
        file_answer(e->req);
    } else if (e->req != NULL) {
        pier_http_resp_send(e->req, 200, PIER_STR("slow\n"));
    }
}

static long
query_num(struct pier_str q, const char *key, long def)
{
    size_t kl = strlen(key);
    char tmp[32];
    size_t i;

    for (i = 0; i + kl < q.len; i++) {
        if ((i == 0 || q.ptr[i - 1] == '&') && memcmp(q.ptr + i, key, kl) == 0
            && q.ptr[i + kl] == '=') {
            size_t s = i + kl + 1, e = s;

            while (e < q.len && q.ptr[e] != '&' && e - s < sizeof(tmp) - 1) {
                e++;
            }
            memcpy(tmp, q.ptr + s, e - s);
            tmp[e - s] = '\0';
            return strtol(tmp, NULL, 10);
        }
    }
    return def;
}

static void
handler(struct pier_http_req *req, void *udata)
{
    struct pier_str path = req->path;

    (void) udata;
    if (pier_str_eq(path, PIER_STR("/hello"))
        || pier_str_eq(path, PIER_STR("/"))) {
        if (pier_http_resp_header(req, "Content-Type", PIER_STR("text/plain"))
            != PIER_OK) {
            pier_http_resp_error(req, 500);
            return;
        }
        pier_http_resp_send(req, 200, pier_str_make(hello, sizeof(hello)));
    } else if (pier_str_eq(path, PIER_STR("/echo"))) {
        struct echo *e = echo_new(req);

        pier_http_resp_start(req, 200,
                             req->chunked ? -1 : (int64_t) req->content_length);
        pier_http_req_read_body(req, echo_body, e);
    } else if (pier_str_eq(path, PIER_STR("/whole"))) {
        pier_http_req_read_whole(req, whole_max, whole_done, NULL);
    } else if (pier_str_eq(path, PIER_STR("/file")) && file_path != NULL) {
        file_answer(req);
    } else if (pier_str_eq(path, PIER_STR("/stream"))) {
        struct echo *e = echo_new(req);

        e->pieces = (int) query_num(req->query, "n", 3);
        pier_http_resp_start(req, 200, -1);
        stream_next(req, true, e);
    } else if (pier_str_eq(path, PIER_STR("/slow"))) {
        struct echo *e = echo_new(req);

        /* Tests wait for this line before they stop the server. */
        pier_log(PIER_LOG_INFO, "http-test-server", "slow request %s", req->id);
        e->file = file_path != NULL && query_num(req->query, "file", 0) != 0;
        uv_timer_start(&e->timer, on_slow,
                       (uint64_t) query_num(req->query, "ms", 500), 0);
    } else {
        pier_http_resp_error(req, 404);
    }
}

/* Per-worker state, as a server with its own handles on the worker loops
 * keeps it (the edge's S3 client): a timer opened when the worker starts
 * and closed when it stops, so the loop can end. */
struct worker_state {
    uv_timer_t timer;
    uint64_t ticks;
};

static void
on_worker_tick(uv_timer_t *t)
{
    struct worker_state *ws = t->data;

    ws->ticks++;
}

static void
on_worker_start(struct pier_http_worker *w, void *udata)
{
    struct worker_state *ws = pier_calloc(1, sizeof(*ws));

    (void) udata;
    uv_timer_init(pier_http_worker_loop(w), &ws->timer);
    ws->timer.data = ws;
    uv_timer_start(&ws->timer, on_worker_tick, 1000, 1000);
    pier_http_worker_set_data(w, ws);
}

static void
on_worker_timer_closed(uv_handle_t *h)
{
    pier_free(h->data);
}

static void
on_worker_stop(struct pier_http_worker *w, void *udata)
{
    struct worker_state *ws = pier_http_worker_data(w);

    (void) udata;
    uv_close((uv_handle_t *) &ws->timer, on_worker_timer_closed);
}

static void
on_reload(void *udata)
{
    (void) udata;
    pier_log(PIER_LOG_INFO, "http-test-server", "reloaded");
}

static const char usage[] =
    "[--workers N] [--listen HOST] [--ipv6] [--tls-cert PEM --tls-key PEM]\n"
    "  [--sni NAME=CERT,KEY]... [--file PATH] [--access-log PATH]\n"
    "  [--max-header-bytes N] [--max-headers N] [--max-body N]\n"
    "  [--header-timeout-ms N] [--keepalive-timeout-ms N]\n"
    "  [--io-timeout-ms N] [--max-conns N] [--grace-ms N]\n"
    "  [--whole-max N] --ready-file PATH";

static uint64_t
num(const char *s)
{
    uint64_t v;

    if (pier_cli_parse_size(s, &v) != PIER_OK) {
        exit(pier_cli_usage("http-test-server", usage, "bad number '%s'", s));
    }
    return v;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"listen", required_argument, NULL, 'l'},
        {"ipv6", no_argument, NULL, '6'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"sni", required_argument, NULL, 's'},
        {"file", required_argument, NULL, 'f'},
        {"access-log", required_argument, NULL, 'a'},
        {"max-header-bytes", required_argument, NULL, 'H'},
        {"max-headers", required_argument, NULL, 'n'},
        {"max-body", required_argument, NULL, 'b'},
        {"header-timeout-ms", required_argument, NULL, 't'},
        {"keepalive-timeout-ms", required_argument, NULL, 'K'},
        {"io-timeout-ms", required_argument, NULL, 'i'},
        {"max-conns", required_argument, NULL, 'm'},
        {"grace-ms", required_argument, NULL, 'g'},
        {"whole-max", required_argument, NULL, 'W'},
        {"ready-file", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct pier_http_config cfg;
    struct pier_http_server *srv;
    struct pier_accesslog *log = NULL;
    struct pier_tls *tls = NULL;
    struct pier_err err;
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
    const char *ready = NULL, *log_path = NULL;
    const char *sni[8];
    size_t nsni = 0, i;
    bool ipv6 = false;
    int opt, rc = 0;

    pier_http_config_init(&cfg);
    cfg.on_worker_start = on_worker_start;
    cfg.on_worker_stop = on_worker_stop;
    cfg.on_reload = on_reload;
    for (i = 0; i < sizeof(hello); i++) {
        hello[i] = (char) ('a' + i % 26);
    }
    hello[sizeof(hello) - 1] = '\n';
    for (opt = getopt_long(argc, argv, "", opts, NULL); opt != -1;
         opt = getopt_long(argc, argv, "", opts, NULL)) {
        switch (opt) {
        case 'w':
            cfg.workers = (unsigned) num(optarg);
            break;
        case 'l':
            host = optarg;
            break;
        case '6':
            ipv6 = true;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 's':
            if (nsni == PIER_NELEMS(sni)) {
                return pier_cli_usage("http-test-server", usage,
                                      "too many --sni");
            }
            sni[nsni++] = optarg;
            break;
        case 'f':
            file_path = optarg;
            break;
        case 'a':
            log_path = optarg;
            break;
        case 'H':
            cfg.limits.max_header_bytes = (size_t) num(optarg);
            break;
        case 'n':
            cfg.limits.max_headers = (size_t) num(optarg);
            break;
        case 'b':
            cfg.limits.max_body_bytes = num(optarg);
            break;
        case 't':
            cfg.limits.header_timeout_ms = num(optarg);
            break;
        case 'K':
            cfg.limits.keepalive_timeout_ms = num(optarg);
            break;
        case 'i':
            cfg.limits.io_timeout_ms = num(optarg);
            break;
        case 'm':
            cfg.limits.max_conns = (size_t) num(optarg);
            break;
        case 'g':
            cfg.limits.grace_ms = num(optarg);
            break;
        case 'W':
            whole_max = (size_t) num(optarg);
            break;
        case 'r':
            ready = optarg;
            break;
        default:
            return pier_cli_usage("http-test-server", usage, "bad option");
        }
    }
    if (log_path != NULL) {
        log = pier_accesslog_open(log_path, &err);
        if (log == NULL) {
            return pier_cli_fail("http-test-server", "%s", err.msg);
        }
        cfg.access_log = log;
    }
    srv = pier_http_server_new(&cfg);
    if (pier_http_server_listen(srv, "http", host, 0, NULL, handler, NULL, &err)
        != PIER_OK) {
        rc = pier_cli_fail("http-test-server", "%s", err.msg);
        goto out;
    }
    if (ipv6
        && pier_http_server_listen(srv, "http6", "::1", 0, NULL, handler, NULL,
                                   &err)
               != PIER_OK) {
        rc = pier_cli_fail("http-test-server", "%s", err.msg);
        goto out;
    }
    if (cert != NULL) {
        tls = pier_tls_new(&err);
        if (tls == NULL
            || pier_tls_set_cert_files(tls, NULL, cert,
                                       key != NULL ? key : cert, &err)
                   != PIER_OK) {
            rc = pier_cli_fail("http-test-server", "%s", err.msg);
            goto out;
        }
        for (i = 0; i < nsni; i++) {
            /* NAME=CERT,KEY */
            char buf[4096], *eq, *comma;

            snprintf(buf, sizeof(buf), "%s", sni[i]);
            eq = strchr(buf, '=');
            comma = eq != NULL ? strchr(eq, ',') : NULL;
            if (comma == NULL) {
                rc = pier_cli_usage("http-test-server", usage, "bad --sni");
                goto out;
            }
            *eq = *comma = '\0';
            if (pier_tls_set_cert_files(tls, buf, eq + 1, comma + 1, &err)
                != PIER_OK) {
                rc = pier_cli_fail("http-test-server", "%s", err.msg);
                goto out;
            }
        }
        if (pier_http_server_listen(srv, "https", host, 0, tls, handler, NULL,
                                    &err)
            != PIER_OK) {
            rc = pier_cli_fail("http-test-server", "%s", err.msg);
            goto out;
        }
    }
    if (pier_http_server_run(srv, ready, &err) != PIER_OK) {
        rc = pier_cli_fail("http-test-server", "%s", err.msg);
    }
out:
    pier_http_server_free(srv);
    pier_tls_free(tls);
    pier_accesslog_free(log);
    return rc;
}
