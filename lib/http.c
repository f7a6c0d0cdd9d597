/*
 * lib/http.c - the server: listeners bound with SO_REUSEPORT, one worker
 * thread and loop per core, graceful stop, signals.
 *
 * Every listener is bound once per worker, in the main thread, before any
 * worker runs: bind errors come back to the caller at once, port 0 is
 * resolved by binding the first socket and giving its port to the others,
 * and the sockets listen before the ready file is written, so a test that
 * sees the file can connect. Each worker's loop, listeners and async
 * handle are set up by the main thread too; the thread only runs the loop.
 *
 * Stopping: pier_http_server_stop() sets a flag and wakes every worker
 * through its uv_async_t (async-signal-safe). A worker closes its
 * listeners, closes idle connections, lets the others finish their
 * response (with Connection: close) and cuts what remains after grace_ms.
 * With no connection left it calls on_worker_stop (which closes the
 * caller's own handles) and closes its timers, and its loop ends.
 *
 * A busy worker yields its core after each round of I/O (on_yield), and
 * may ask the scheduler for a short slice (worker_slice).
 */
#include "config.h"

#include "lib/http.h"

#include "lib/cli.h"
#include "lib/http_internal.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 511

void
pier_http_config_init(struct pier_http_config *c)
{
    memset(c, 0, sizeof(*c));
}

static void
limits_fill(struct pier_http_limits *l)
{
    if (l->max_header_bytes == 0) {
        l->max_header_bytes = 16 * 1024;
    }
    if (l->max_headers == 0) {
        l->max_headers = 100;
    }
    if (l->max_body_bytes == 0) {
        l->max_body_bytes = 1024ULL * 1024 * 1024;
    }
    if (l->header_timeout_ms == 0) {
        l->header_timeout_ms = 10000;
    }
    if (l->keepalive_timeout_ms == 0) {
        l->keepalive_timeout_ms = 30000;
    }
    if (l->io_timeout_ms == 0) {
        l->io_timeout_ms = 60000;
    }
    if (l->max_conns == 0) {
        l->max_conns = 10000;
    }
    if (l->grace_ms == 0) {
        l->grace_ms = 10000;
    }
}

struct pier_http_server *
pier_http_server_new(const struct pier_http_config *cfg)
{
    struct pier_http_server *srv = pier_calloc(1, sizeof(*srv));

    srv->magic = PIER_HTTP_SERVER_MAGIC;
    srv->cfg = *cfg;
    limits_fill(&srv->cfg.limits);
    srv->nworkers = cfg->workers;
    if (srv->nworkers == 0) {
        srv->nworkers = uv_available_parallelism();
    }
    if (srv->nworkers == 0) {
        srv->nworkers = 1;
    }
    atomic_init(&srv->nconns, 0);
    atomic_init(&srv->running, 0);
    atomic_init(&srv->stopping, false);
    return srv;
}

void
pier_http_server_free(struct pier_http_server *srv)
{
    size_t i;
    unsigned k;

    if (srv == NULL) {
        return;
    }
    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    PIER_ASSERT(atomic_load(&srv->running) == 0);
    for (i = 0; i < srv->nlisteners; i++) {
        for (k = 0; k < srv->nworkers && !srv->started; k++) {
            if (srv->listeners[i].fds[k] >= 0) {
                close(srv->listeners[i].fds[k]);
            }
        }
        pier_free(srv->listeners[i].fds);
    }
    pier_free(srv->workers);
    srv->magic = 0;
    pier_free(srv);
}

/* ---- listeners --------------------------------------------------------- */

static int
bind_one(const struct sockaddr *sa, socklen_t len, struct pier_err *err)
{
    int fd, one = 1;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        pier_err_sys(err, errno, "cannot create a socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0
        || (sa->sa_family == AF_INET6
            && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))
                   != 0)) {
        pier_err_sys(err, errno, "cannot set socket options");
        close(fd);
        return -1;
    }
    if (bind(fd, sa, len) != 0) {
        pier_err_sys(err, errno, "cannot bind");
        close(fd);
        return -1;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        pier_err_sys(err, errno, "cannot listen");
        close(fd);
        return -1;
    }
    return fd;
}

int
pier_http_server_listen(struct pier_http_server *srv, const char *name,
                        const char *host, unsigned port, struct pier_tls *tls,
                        pier_http_handler_fn *handler, void *udata,
                        struct pier_err *err)
{
    struct pier_http_listener *l;
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[INET6_ADDRSTRLEN];
    unsigned k;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    PIER_ASSERT(!srv->started && handler != NULL);
    if (srv->nlisteners == PIER_HTTP_MAX_LISTENERS) {
        return pier_err_set(err, "too many listeners");
    }
    if (strlen(name) >= sizeof(l->name) || port > 65535) {
        return pier_err_set(err, "bad listener '%s'", name);
    }
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(host, (int) port, (struct sockaddr_in *) &ss) == 0) {
        len = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(host, (int) port, (struct sockaddr_in6 *) &ss)
               == 0) {
        len = sizeof(struct sockaddr_in6);
    } else {
        return pier_err_set(err, "'%s' is not an IP address", host);
    }
    l = &srv->listeners[srv->nlisteners];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->tls = tls;
    l->handler = handler;
    l->udata = udata;
    l->fds = pier_calloc(srv->nworkers, sizeof(int));
    for (k = 0; k < srv->nworkers; k++) {
        l->fds[k] = -1;
    }
    for (k = 0; k < srv->nworkers; k++) {
        l->fds[k] = bind_one((struct sockaddr *) &ss, len, err);
        if (l->fds[k] < 0) {
            char why[sizeof(err->msg)];

            while (k-- > 0) {
                close(l->fds[k]);
            }
            pier_free(l->fds);
            l->fds = NULL;
            memcpy(why, err->msg, sizeof(why)); /* not into itself */
            return pier_err_set(err, "%s on %s:%u", why, host, port);
        }
        if (k == 0) {
            /* Port 0: the kernel chose; the other workers take the same. */
            struct sockaddr_storage got;
            socklen_t glen = sizeof(got);

            if (getsockname(l->fds[0], (struct sockaddr *) &got, &glen) != 0) {
                int e = errno;

                close(l->fds[0]);
                pier_free(l->fds);
                l->fds = NULL;
                return pier_err_sys(err, e, "getsockname");
            }
            if (got.ss_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &got;

                ((struct sockaddr_in6 *) &ss)->sin6_port = a->sin6_port;
                inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
                snprintf(l->addr, sizeof(l->addr), "[%s]:%u", ip,
                         (unsigned) ntohs(a->sin6_port));
            } else {
                struct sockaddr_in *a = (struct sockaddr_in *) &got;

                ((struct sockaddr_in *) &ss)->sin_port = a->sin_port;
                inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
                snprintf(l->addr, sizeof(l->addr), "%s:%u", ip,
                         (unsigned) ntohs(a->sin_port));
            }
        }
    }
    srv->nlisteners++;
    return PIER_OK;
}

int
pier_http_split_addr(const char *s, char *host, size_t hostlen, unsigned *port,
                     struct pier_err *err)
{
    const char *colon, *h = s, *he;
    unsigned long v = 0;
    const char *p;

    if (s[0] == '[') {
        he = strchr(s, ']');
        if (he == NULL || he[1] != ':') {
            return pier_err_set(err, "bad address '%s': want [IPV6]:PORT", s);
        }
        h = s + 1;
        colon = he + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t) (colon - s)) != NULL) {
            return pier_err_set(err, "bad address '%s': want HOST:PORT", s);
        }
        he = colon;
    }
    if (he == h || (size_t) (he - h) >= hostlen || colon[1] == '\0') {
        return pier_err_set(err, "bad address '%s': want HOST:PORT", s);
    }
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || p - colon > 5) {
            return pier_err_set(err, "bad port in '%s'", s);
        }
        v = v * 10 + (unsigned long) (*p - '0');
    }
    if (v > 65535) {
        return pier_err_set(err, "bad port in '%s'", s);
    }
    memcpy(host, h, (size_t) (he - h));
    host[he - h] = '\0';
    *port = (unsigned) v;
    return PIER_OK;
}

int
pier_http_server_addr(const struct pier_http_server *srv, const char *name,
                      char *out, size_t n)
{
    size_t i;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    for (i = 0; i < srv->nlisteners; i++) {
        if (strcmp(srv->listeners[i].name, name) == 0) {
            snprintf(out, n, "%s", srv->listeners[i].addr);
            return PIER_OK;
        }
    }
    return PIER_ERR;
}

int
pier_http_server_write_ready(const struct pier_http_server *srv,
                             const char *path, struct pier_err *err)
{
    const char *names[PIER_HTTP_MAX_LISTENERS];
    const char *addrs[PIER_HTTP_MAX_LISTENERS];
    size_t i;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    for (i = 0; i < srv->nlisteners; i++) {
        names[i] = srv->listeners[i].name;
        addrs[i] = srv->listeners[i].addr;
    }
    return pier_ready_file_write(path, names, addrs, srv->nlisteners, err);
}

/* ---- workers ----------------------------------------------------------- */

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void
pier_http_worker_date(struct pier_http_worker *w)
{
    time_t now = time(NULL);
    struct tm tm;
    int n;

    w->now_sec = now;
    gmtime_r(&now, &tm);
    n = snprintf(w->date, sizeof(w->date),
                 "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    w->date_len = (size_t) n;
}

static void
on_tick(uv_timer_t *t)
{
    struct pier_http_worker *w = t->data;

    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    pier_http_worker_date(w);
    if (w->has_log) {
        pier_accesslog_flush(&w->alog);
    }
}

/*
 * After each round of I/O callbacks, the worker offers its core to the
 * other runnable threads. A loaded worker never blocks in epoll_wait, and
 * on a kernel that only preempts at the tick (CONFIG_HZ=250: 4 ms) it then
 * holds the core for whole ticks: another worker or the client sharing
 * that core waits, and so do the requests behind it. On bench/edge.sh's
 * 4 KiB page at 50 connections that was the p99: 7.9 ms with a median of
 * 0.2 ms; with the yield, 1.6-2.5 ms. When nothing else is runnable the
 * call returns at once; the scheduler's fairness is unchanged.
 * XXX: below saturation it costs a little: with PACED=1 the p99s moved by
 * 0-13% and the 100 KiB asset's p50 at 256 connections went from 0.85 to
 * 1.38 ms. Yielding only when the poll did not wait was tried and lost
 * most of the gain at saturation (one noisy run); not measured further.
 */
static void
on_yield(uv_check_t *h)
{
    (void) h;
    (void) sched_yield();
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct pier_http_worker *w = server->loop->data;
    struct pier_http_listener *l = server->data;

    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    if (status < 0) {
        pier_log(PIER_LOG_WARN, "http", "accept on %s: %s", l->addr,
                 uv_strerror(status));
        return;
    }
    pier_http_conn_accept(w, l, server);
}

static void
on_worker_handle_closed(uv_handle_t *h)
{
    (void) h;
}

/* Every connection is gone: let the loop end. */
static void
worker_finish(struct pier_http_worker *w)
{
    struct pier_http_server *srv = w->srv;

    if (w->stop_called) {
        return;
    }
    w->stop_called = true;
    if (srv->cfg.on_worker_stop != NULL) {
        srv->cfg.on_worker_stop(w, srv->cfg.udata);
    }
    uv_close((uv_handle_t *) &w->tick, on_worker_handle_closed);
    uv_close((uv_handle_t *) &w->grace, on_worker_handle_closed);
    uv_close((uv_handle_t *) &w->stop_async, on_worker_handle_closed);
    uv_close((uv_handle_t *) &w->yield, on_worker_handle_closed);
}

void
pier_http_worker_conn_gone(struct pier_http_worker *w)
{
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    PIER_ASSERT(w->nconns > 0);
    w->nconns--;
    if (w->stopping && w->nconns == 0) {
        worker_finish(w);
    }
}

static void
on_grace(uv_timer_t *t)
{
    struct pier_http_worker *w = t->data;
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    if (w->nconns > 0) {
        pier_log(PIER_LOG_WARN, "http",
                 "worker %u: cutting %zu connections after the grace period",
                 w->index, w->nconns);
    }
    pier_http_conns_cut(w);
}

static void
on_stop_async(uv_async_t *a)
{
    struct pier_http_worker *w = a->data;
    struct pier_http_server *srv;
    size_t i;

    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    srv = w->srv;
    if (w->stopping || !atomic_load(&srv->stopping)) {
        return;
    }
    w->stopping = true;
    for (i = 0; i < srv->nlisteners; i++) {
        uv_close((uv_handle_t *) &w->listen[i], on_worker_handle_closed);
    }
    pier_http_conns_drain(w);
    if (w->nconns == 0) {
        worker_finish(w);
        return;
    }
    uv_timer_start(&w->grace, on_grace, srv->cfg.limits.grace_ms, 0);
}

/* sched_setattr(2)'s argument (SCHED_ATTR_SIZE_VER0); glibc 2.36 has
 * neither the call nor the struct. */
struct sched_attr0 {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

/*
 * Ask for a short scheduler slice on this worker thread. A loaded worker
 * and its clients share the cores; under EEVDF (Linux 6.6, custom slices
 * since 6.12) a task with a shorter slice gets an earlier deadline, so it
 * runs sooner when it becomes runnable and gives the core back sooner.
 * On bench/edge.sh's 100 KiB asset at 256 connections the p99 went from
 * 1.05x-1.17x nginx's to 0.87x-0.93x (five runs) with the same
 * requests/s. It costs the 4 KiB page at 50 connections, whose rounds
 * are short and whose yield already hands the core over: its p99 went
 * from 1.4-2.4 ms to 2.6-4.4 ms, 0.44x-1.00x nginx's. Asking for the
 * short slice only while rounds last over 0.5 ms kept the page at
 * 1.4 ms but brought the asset back to 0.96x-1.04x (three runs): not
 * taken. Only a thread under SCHED_OTHER is changed, with its nice value
 * kept (get, then set); kernels without custom slices ignore
 * sched_runtime there. Failure only costs the gain: nothing is logged.
 */
static void
worker_slice(unsigned us)
{
    struct sched_attr0 a;

    memset(&a, 0, sizeof(a));
    if (us == 0
        || syscall(SYS_sched_getattr, 0, &a, (unsigned) sizeof(a), 0U) != 0
        || a.sched_policy != SCHED_OTHER) {
        return;
    }
    a.size = sizeof(a);
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t) us * 1000;
    (void) syscall(SYS_sched_setattr, 0, &a, 0U);
}

static void
worker_main(void *arg)
{
    struct pier_http_worker *w = arg;
    struct pier_http_server *srv = w->srv;

    worker_slice(srv->cfg.sched_slice_us);
    if (srv->cfg.on_worker_start != NULL) {
        srv->cfg.on_worker_start(w, srv->cfg.udata);
    }
    /* A stop that came before the loop ran is still pending. */
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->has_log) {
        pier_accesslog_buf_release(&w->alog);
    }
    if (uv_loop_close(&w->loop) != 0) {
        pier_log(PIER_LOG_ERROR, "http", "worker %u: handles left open",
                 w->index);
    }
    atomic_fetch_sub(&srv->running, 1);
}

static int
worker_init(struct pier_http_server *srv, struct pier_http_worker *w,
            unsigned index, struct pier_err *err)
{
    size_t i;
    int r;

    memset(w, 0, sizeof(*w));
    w->srv = srv;
    w->index = index;
    w->uvl = &w->loop;
    r = uv_loop_init(&w->loop);
    if (r != 0) {
        return pier_err_set(err, "uv_loop_init: %s", uv_strerror(r));
    }
    w->magic = PIER_HTTP_WORKER_MAGIC;
    w->loop.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_start(&w->tick, on_tick, 1000, 1000);
    uv_timer_init(&w->loop, &w->grace);
    w->grace.data = w;
    uv_async_init(&w->loop, &w->stop_async, on_stop_async);
    w->stop_async.data = w;
    uv_check_init(&w->loop, &w->yield);
    uv_check_start(&w->yield, on_yield);
    uv_unref((uv_handle_t *) &w->yield); /* does not keep the loop alive */
    pier_http_worker_date(w);
    if (srv->cfg.access_log != NULL) {
        w->has_log = true;
        pier_accesslog_buf_init(&w->alog, srv->cfg.access_log);
    }
    for (i = 0; i < srv->nlisteners; i++) {
        struct pier_http_listener *l = &srv->listeners[i];

        uv_tcp_init(&w->loop, &w->listen[i]);
        w->listen[i].data = l;
        r = uv_tcp_open(&w->listen[i], l->fds[index]);
        if (r == 0) {
            l->fds[index] = -1; /* the handle owns it now */
            r = uv_listen((uv_stream_t *) &w->listen[i], LISTEN_BACKLOG,
                          on_connection);
        }
        if (r != 0) {
            return pier_err_set(err, "listen on %s: %s", l->addr,
                                uv_strerror(r));
        }
    }
    return PIER_OK;
}

static void
close_any(uv_handle_t *h, void *arg)
{
    (void) arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* Close a worker's loop that never ran (start failed). */
static void
worker_undo(struct pier_http_worker *w)
{
    if (w->magic != PIER_HTTP_WORKER_MAGIC) {
        return; /* worker_init failed before the loop existed */
    }
    uv_walk(&w->loop, close_any, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->has_log) {
        pier_accesslog_buf_release(&w->alog);
    }
    (void) uv_loop_close(&w->loop);
    w->magic = 0;
}

int
pier_http_server_start(struct pier_http_server *srv, struct pier_err *err)
{
    unsigned k;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    PIER_ASSERT(!srv->started);
    srv->workers = pier_calloc(srv->nworkers, sizeof(*srv->workers));
    for (k = 0; k < srv->nworkers; k++) {
        if (worker_init(srv, &srv->workers[k], k, err) != PIER_OK) {
            unsigned j;

            /* Undo the loops set up so far, this one included. */
            for (j = 0; j <= k; j++) {
                worker_undo(&srv->workers[j]);
            }
            pier_free(srv->workers);
            srv->workers = NULL;
            return PIER_ERR;
        }
    }
    srv->started = true;
    for (k = 0; k < srv->nworkers; k++) {
        atomic_fetch_add(&srv->running, 1);
        if (uv_thread_create(&srv->workers[k].thread, worker_main,
                             &srv->workers[k])
            != 0) {
            PIER_ASSERT(!"cannot create a worker thread");
        }
    }
    return PIER_OK;
}

void
pier_http_server_stop(struct pier_http_server *srv)
{
    unsigned k;

    if (!srv->started || atomic_exchange(&srv->stopping, true)) {
        return;
    }
    for (k = 0; k < srv->nworkers; k++) {
        uv_async_send(&srv->workers[k].stop_async);
    }
}

void
pier_http_server_wait(struct pier_http_server *srv)
{
    unsigned k;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    if (!srv->started) {
        return;
    }
    for (k = 0; k < srv->nworkers; k++) {
        uv_thread_join(&srv->workers[k].thread);
    }
}

uv_loop_t *
pier_http_worker_loop(struct pier_http_worker *w)
{
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    return w->uvl;
}

unsigned
pier_http_worker_index(const struct pier_http_worker *w)
{
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    return w->index;
}

void
pier_http_worker_set_data(struct pier_http_worker *w, void *data)
{
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    w->data = data;
}

void *
pier_http_worker_data(const struct pier_http_worker *w)
{
    PIER_CHECK_OBJ(w, PIER_HTTP_WORKER_MAGIC);
    return w->data;
}

/* ---- run: signals on the calling thread -------------------------------- */

struct run_state {
    struct pier_http_server *srv;
    uv_signal_t term, intr, hup;
    uv_timer_t poll;
};

static void
on_run_closed(uv_handle_t *h)
{
    (void) h;
}

static void
on_poll(uv_timer_t *t)
{
    struct run_state *rs = t->data;

    if (atomic_load(&rs->srv->running) != 0) {
        return;
    }
    uv_close((uv_handle_t *) &rs->term, on_run_closed);
    uv_close((uv_handle_t *) &rs->intr, on_run_closed);
    uv_close((uv_handle_t *) &rs->hup, on_run_closed);
    uv_close((uv_handle_t *) &rs->poll, on_run_closed);
}

static void
on_signal(uv_signal_t *s, int signum)
{
    struct run_state *rs = s->data;
    struct pier_http_server *srv = rs->srv;
    struct pier_err err;

    if (signum == SIGHUP) {
        pier_log(PIER_LOG_INFO, "http", "SIGHUP: reopening logs, reloading");
        if (srv->cfg.access_log != NULL
            && pier_accesslog_reopen(srv->cfg.access_log, &err) != PIER_OK) {
            pier_log(PIER_LOG_ERROR, "http", "%s", err.msg);
        }
        if (srv->cfg.on_reload != NULL) {
            srv->cfg.on_reload(srv->cfg.udata);
        }
        return;
    }
    if (atomic_load(&srv->stopping)) {
        return;
    }
    pier_log(PIER_LOG_INFO, "http", "%s: stopping",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    pier_http_server_stop(srv);
    uv_timer_start(&rs->poll, on_poll, 20, 20);
}

int
pier_http_server_run(struct pier_http_server *srv, const char *ready_file,
                     struct pier_err *err)
{
    struct run_state rs;
    uv_loop_t loop;
    int r;

    PIER_CHECK_OBJ(srv, PIER_HTTP_SERVER_MAGIC);
    signal(SIGPIPE, SIG_IGN);
    r = uv_loop_init(&loop);
    if (r != 0) {
        return pier_err_set(err, "uv_loop_init: %s", uv_strerror(r));
    }
    memset(&rs, 0, sizeof(rs));
    rs.srv = srv;
    uv_signal_init(&loop, &rs.term);
    uv_signal_init(&loop, &rs.intr);
    uv_signal_init(&loop, &rs.hup);
    uv_timer_init(&loop, &rs.poll);
    rs.term.data = rs.intr.data = rs.hup.data = rs.poll.data = &rs;
    uv_signal_start(&rs.term, on_signal, SIGTERM);
    uv_signal_start(&rs.intr, on_signal, SIGINT);
    uv_signal_start(&rs.hup, on_signal, SIGHUP);
    if (pier_http_server_start(srv, err) != PIER_OK) {
        uv_close((uv_handle_t *) &rs.term, on_run_closed);
        uv_close((uv_handle_t *) &rs.intr, on_run_closed);
        uv_close((uv_handle_t *) &rs.hup, on_run_closed);
        uv_close((uv_handle_t *) &rs.poll, on_run_closed);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return PIER_ERR;
    }
    if (ready_file != NULL
        && pier_http_server_write_ready(srv, ready_file, err) != PIER_OK) {
        pier_http_server_stop(srv);
        uv_timer_start(&rs.poll, on_poll, 20, 20);
        uv_run(&loop, UV_RUN_DEFAULT);
        pier_http_server_wait(srv);
        uv_loop_close(&loop);
        return PIER_ERR;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    pier_http_server_wait(srv);
    r = uv_loop_close(&loop);
    PIER_ASSERT(r == 0);
    return PIER_OK;
}
