/*
 * publish/report.h - what a publish tells the person who started it: the
 * progress while it runs, and the closing summary.
 *
 * Progress goes to one descriptor (stderr for `pier publish`). On a
 * terminal it is one bar redrawn in place ("\r", erase to the end of the
 * line) at most ten times a second: files read and hashed, blobs looked
 * up or sent, bytes sent of the bytes to send. Anywhere else (a pipe, a
 * file, a git hook whose output reaches the pusher as `remote:` lines) it
 * is a few plain lines, one per phase, without control characters.
 *
 * The summary (publish_report_summary) names the deploy, what was read
 * and sent, the changed paths (the first PUBLISH_CHANGED_SHOW), the time
 * of each phase, each edge's answer and the site's URLs.
 */
#ifndef PUBLISH_REPORT_H
#define PUBLISH_REPORT_H

#include "lib/core.h"
#include "publish/deploy.h"
#include "sites/record.h"

#include <stdarg.h>
#include <stdio.h>

struct publish_progress {
    int fd;          /* -1: nothing is written */
    bool tty;        /* fd is a terminal: a bar */
    bool drawn;      /* the bar is on screen */
    double last_ms;  /* when it was last drawn */
    size_t files, files_total;
    size_t blobs, blobs_total;
    uint64_t bytes, bytes_total;
};

/* fd -1: silent. Allocates nothing. */
void publish_progress_init(struct publish_progress *p, int fd);
/* One line to fd (-1: none), after taking the bar off the terminal: what
 * every line of a publish goes through, the summary included. */
void publish_progress_vprint(struct publish_progress *p, int fd,
                             const char *fmt, va_list ap);
/* A phase line ("uploading 120 blobs"): on a terminal it replaces the bar,
 * which the next tick draws again below it. */
void publish_progress_line(struct publish_progress *p, const char *fmt, ...)
    PIER_PRINTF(2, 3);
/* The counters changed: redraw the bar when on a terminal and 100 ms have
 * passed since the last drawing (always when force). */
void publish_progress_tick(struct publish_progress *p, bool force);
/* Erase the bar (terminal only). */
void publish_progress_end(struct publish_progress *p);
/* The bar's text, without control characters, into out (n bytes). */
void publish_progress_format(const struct publish_progress *p, char *out,
                             size_t n);

/* The URLs of a site: for each domain of rec (wildcards left out),
 * "https://DOMAIN/" when rec redirects to HTTPS, else "http://DOMAIN/";
 * then, when local_http names the local edge's listener ("HOST:PORT"),
 * "http://NAME.localhost:PORT/". At most max, each under
 * PUBLISH_URL_MAX bytes; returns how many. rec may be NULL. */
size_t publish_site_urls(const struct sites_record *rec, const char *site,
                         const char *local_http,
                         char (*out)[PUBLISH_URL_MAX], size_t max);

/* The local edge's HTTP listener as pier up runs it, found from the
 * pier.conf at conf_path: the running edge's ready file (run/edge.ready
 * beside pier.conf), else the file's [up] http, else its [edge] listen.
 * Writes "HOST:PORT" into out; false when none is known (or conf_path is
 * NULL or ""). */
bool publish_local_edge(const char *conf_path, char *out, size_t n);

/* The closing summary of publish o, to f. */
void publish_report_summary(FILE *f, const struct publish_opts *o,
                            const struct publish_result *r);

#endif
