/*
 * lib/accesslog.c - buffered combined-log-format lines.
 */
#include "config.h"

#include "lib/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define PIER_ACCESSLOG_MAGIC 0x48b20f6du
#define BUF_FLUSH_AT         (60 * 1024)
#define BUF_MAX              (64 * 1024)
#define FIELD_MAX            1024 /* longer fields are cut */

struct pier_accesslog {
    unsigned magic;
    char *path; /* NULL: stderr */
    int fd;
    pthread_mutex_t lock; /* flushes against reopen */
};

static int
open_log(const char *path, struct pier_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot open access log '%s'", path);
    }
    return fd;
}

struct pier_accesslog *
pier_accesslog_open(const char *path, struct pier_err *err)
{
    struct pier_accesslog *log;
    int fd = 2;

    if (path != NULL && strcmp(path, "-") != 0) {
        fd = open_log(path, err);
        if (fd < 0) {
            return NULL;
        }
    }
    log = pier_calloc(1, sizeof(*log));
    log->magic = PIER_ACCESSLOG_MAGIC;
    log->fd = fd;
    log->path = fd == 2 ? NULL : pier_strdup(path);
    pthread_mutex_init(&log->lock, NULL);
    return log;
}

void
pier_accesslog_free(struct pier_accesslog *log)
{
    if (log == NULL) {
        return;
    }
    PIER_CHECK_OBJ(log, PIER_ACCESSLOG_MAGIC);
    if (log->path != NULL) {
        close(log->fd);
    }
    pthread_mutex_destroy(&log->lock);
    pier_free(log->path);
    log->magic = 0;
    pier_free(log);
}

int
pier_accesslog_reopen(struct pier_accesslog *log, struct pier_err *err)
{
    int fd;

    PIER_CHECK_OBJ(log, PIER_ACCESSLOG_MAGIC);
    if (log->path == NULL) {
        return PIER_OK;
    }
    fd = open_log(log->path, err);
    if (fd < 0) {
        return PIER_ERR;
    }
    pthread_mutex_lock(&log->lock);
    close(log->fd);
    log->fd = fd;
    pthread_mutex_unlock(&log->lock);
    return PIER_OK;
}

void
pier_accesslog_buf_init(struct pier_accesslog_buf *b,
                        struct pier_accesslog *log)
{
    PIER_CHECK_OBJ(log, PIER_ACCESSLOG_MAGIC);
    memset(b, 0, sizeof(*b));
    b->magic = PIER_ACCESSLOG_BUF_MAGIC;
    b->log = log;
    pier_buf_init(&b->buf, BUF_MAX);
    b->cached_sec = -1;
}

void
pier_accesslog_buf_release(struct pier_accesslog_buf *b)
{
    PIER_CHECK_OBJ(b, PIER_ACCESSLOG_BUF_MAGIC);
    pier_accesslog_flush(b);
    pier_buf_release(&b->buf);
    b->magic = 0;
}

void
pier_accesslog_flush(struct pier_accesslog_buf *b)
{
    size_t off = 0;

    PIER_CHECK_OBJ(b, PIER_ACCESSLOG_BUF_MAGIC);
    if (b->buf.len == 0) {
        return;
    }
    pthread_mutex_lock(&b->log->lock);
    while (off < b->buf.len) {
        ssize_t n = write(b->log->fd, b->buf.data + off, b->buf.len - off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* a full disk loses lines, never blocks requests */
        }
        off += (size_t) n;
    }
    pthread_mutex_unlock(&b->log->lock);
    pier_buf_reset(&b->buf);
}

/* Append; the caller made sure there is room. */
static void
put(struct pier_buf *o, const char *p, size_t n)
{
    if (pier_buf_add(o, p, n) != 0) {
        PIER_ASSERT(!"access log line too long");
    }
}

static void
puts_(struct pier_buf *o, const char *s)
{
    put(o, s, strlen(s));
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                     "May", "Jun", "Jul", "Aug",
                                     "Sep", "Oct", "Nov", "Dec"};

/* Append s with '"', '\\' and bytes outside printable ASCII as \xHH,
 * cut at FIELD_MAX; "-" when empty. The buffer has room (checked). */
static void
add_escaped(struct pier_buf *o, struct pier_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = s.len > FIELD_MAX ? FIELD_MAX : s.len;
    char *p;

    if (s.len == 0) {
        put(o, "-", 1);
        return;
    }
    p = pier_buf_reserve(o, n * 4);
    PIER_ASSERT(p != NULL && pier_buf_avail(o) >= n * 4);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s.ptr[i];

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char) c;
        }
    }
    pier_buf_commit(o, (size_t) (p - (o->data + o->len)));
}

void
pier_accesslog_add(struct pier_accesslog_buf *b,
                   const struct pier_accesslog_entry *e, time_t now)
{
    struct pier_buf *o = &b->buf;
    char tail[160];
    int n;

    PIER_CHECK_OBJ(b, PIER_ACCESSLOG_BUF_MAGIC);
    /* The largest line: four escaped fields and the fixed parts. */
    if (o->len + 4 * 4 * FIELD_MAX + 512 > BUF_MAX
        || o->len > BUF_FLUSH_AT) {
        pier_accesslog_flush(b);
    }
    if (now != b->cached_sec) {
        struct tm tm;

        gmtime_r(&now, &tm);
        snprintf(b->cached_time, sizeof(b->cached_time),
                 "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        b->cached_sec = now;
    }
    puts_(o, e->peer != NULL ? e->peer : "-");
    puts_(o, " - - [");
    puts_(o, b->cached_time);
    puts_(o, "] \"");
    add_escaped(o, e->method);
    put(o, " ", 1);
    add_escaped(o, e->target);
    n = snprintf(tail, sizeof(tail), " HTTP/1.%d\" %d %llu \"",
                 e->version_minor, e->status,
                 (unsigned long long) e->body_bytes);
    put(o, tail, (size_t) n);
    add_escaped(o, e->referer);
    puts_(o, "\" \"");
    add_escaped(o, e->user_agent);
    n = snprintf(tail, sizeof(tail), "\" %.6f %llu\n", e->duration_s,
                 (unsigned long long) e->bytes_sent);
    put(o, tail, (size_t) n);
}
