/*
 * lib/accesslog.h - the access log: one line per request, combined log
 * format plus the duration and the bytes sent.
 *
 *   192.0.2.1 - - [01/May/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 4096
 *   "-" "curl/7.88.1" 0.000123 4211
 *
 * (one line), where the last two fields are the seconds from the end of
 * the headers to the end of the response and the bytes written to the
 * socket (headers included, before TLS).
 *
 * Lines are buffered per worker thread (struct pier_accesslog_buf) and
 * written whole, with one write(2) per flush, when a buffer fills, every
 * second (the core's timer) and when a worker stops, so lines never
 * interleave. The shared struct pier_accesslog owns the file and can be
 * reopened (SIGHUP, after logrotate) from any thread: flushes and reopen
 * take one mutex.
 */
#ifndef PIER_ACCESSLOG_H
#define PIER_ACCESSLOG_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <time.h>

struct pier_accesslog; /* opaque */

/* Open path for appending ("-" or NULL: stderr). NULL with err set on
 * failure. The caller owns the result and frees it with
 * pier_accesslog_free() (NULL is fine) after every buffer is flushed. */
struct pier_accesslog *pier_accesslog_open(const char *path,
                                           struct pier_err *err);
void pier_accesslog_free(struct pier_accesslog *log);
/* Reopen the file under the same path (stderr: nothing to do). */
int pier_accesslog_reopen(struct pier_accesslog *log, struct pier_err *err);

/* A per-thread buffer in front of log (borrowed until release). */
struct pier_accesslog_buf {
    unsigned magic;
#define PIER_ACCESSLOG_BUF_MAGIC 0x2b86e0d1u
    struct pier_accesslog *log;
    struct pier_buf buf;
    time_t cached_sec;   /* the second cached_time was made for */
    char cached_time[32]; /* "01/May/2025:10:00:00 +0000" */
};

/* Set up b in front of log, with room for about 64 KiB of lines. */
void pier_accesslog_buf_init(struct pier_accesslog_buf *b,
                             struct pier_accesslog *log);
/* Flush, then free the memory. */
void pier_accesslog_buf_release(struct pier_accesslog_buf *b);

/* One request's facts; views borrowed for the call. */
struct pier_accesslog_entry {
    const char *peer;
    struct pier_str method;
    struct pier_str target;
    int version_minor;
    int status;
    uint64_t body_bytes;   /* response body bytes sent */
    struct pier_str referer;
    struct pier_str user_agent;
    double duration_s;
    uint64_t bytes_sent;   /* everything written, headers included */
};

/* Append one line (flushing first when the buffer is full). A request
 * line or field with quotes, backslashes or control bytes is escaped
 * (\x22), so a client cannot forge lines. */
void pier_accesslog_add(struct pier_accesslog_buf *b,
                        const struct pier_accesslog_entry *e, time_t now);
/* Write what is buffered. */
void pier_accesslog_flush(struct pier_accesslog_buf *b);

#endif
