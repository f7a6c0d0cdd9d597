/*
 * publish/report.c - progress and the closing summary (see report.h).
 */
#include "config.h"

#include "publish/report.h"

#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 100.0

static double
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

/* Progress is best effort: a closed or full descriptor loses it. */
static void
put_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t) w;
    }
}

void
publish_progress_init(struct publish_progress *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->tty = fd >= 0 && isatty(fd);
}

static double
mb(uint64_t b)
{
    return (double) b / 1e6;
}

void
publish_progress_format(const struct publish_progress *p, char *out, size_t n)
{
    int k = 0;

    PIER_ASSERT(n > 0);
    out[0] = '\0';
    if (p->files_total > 0) {
        k = snprintf(out, n, "files %zu/%zu read", p->files, p->files_total);
    }
    if (p->blobs_total > 0 && k >= 0 && (size_t) k < n) {
        k += snprintf(out + k, n - (size_t) k,
                      "%sblobs %zu/%zu done, %.1f MB sent (blobs of %.1f MB)",
                      k > 0 ? "  " : "", p->blobs, p->blobs_total,
                      mb(p->bytes), mb(p->bytes_total));
    }
}

static void
draw(struct publish_progress *p)
{
    char line[256], text[200];
    int k;

    publish_progress_format(p, text, sizeof(text));
    /* Carriage return, the text, erase what a longer line left. */
    k = snprintf(line, sizeof(line), "\r%s\033[K", text);
    if (k > 0) {
        put_all(p->fd, line, (size_t) k < sizeof(line) ? (size_t) k
                                                       : sizeof(line) - 1);
    }
    p->drawn = true;
    p->last_ms = mono_ms();
}

void
publish_progress_tick(struct publish_progress *p, bool force)
{
    if (p->fd < 0 || !p->tty) {
        return;
    }
    if (!force && p->drawn && mono_ms() - p->last_ms < PROGRESS_EVERY_MS) {
        return;
    }
    draw(p);
}

void
publish_progress_end(struct publish_progress *p)
{
    if (p->fd >= 0 && p->tty && p->drawn) {
        put_all(p->fd, "\r\033[K", 4);
        p->drawn = false;
    }
}

void
publish_progress_vprint(struct publish_progress *p, int fd, const char *fmt,
                        va_list ap)
{
    char line[1024];
    int n;

    if (fd < 0) {
        return;
    }
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    if (n < 0) {
        return;
    }
    if ((size_t) n > sizeof(line) - 2) {
        n = (int) sizeof(line) - 2;
    }
    line[n++] = '\n';
    publish_progress_end(p);
    put_all(fd, line, (size_t) n);
}

void
publish_progress_line(struct publish_progress *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    publish_progress_vprint(p, p->fd, fmt, ap);
    va_end(ap);
}

size_t
publish_site_urls(const struct sites_record *rec, const char *site,
                  const char *local_http, char (*out)[PUBLISH_URL_MAX],
                  size_t max)
{
    size_t n = 0, i;
    const char *port;

    for (i = 0; rec != NULL && i < rec->ndomains && n < max; i++) {
        if (rec->domains[i][0] == '*') {
            continue; /* a wildcard names no one page */
        }
        snprintf(out[n++], PUBLISH_URL_MAX, "%s://%s/",
                 rec->redirect_https ? "https" : "http", rec->domains[i]);
    }
    port = local_http != NULL ? strrchr(local_http, ':') : NULL;
    if (port != NULL && port[1] != '\0' && n < max) {
        if (strcmp(port + 1, "80") == 0) {
            snprintf(out[n++], PUBLISH_URL_MAX, "http://%s.localhost/", site);
        } else {
            snprintf(out[n++], PUBLISH_URL_MAX, "http://%s.localhost:%s/",
                     site, port + 1);
        }
    }
    return n;
}

struct conf_scan {
    char up_http[256];
    char edge_listen[256];
};

static int
on_conf(void *arg, const char *section, const char *key, const char *value)
{
    struct conf_scan *c = arg;

    if (strcmp(section, "up") == 0 && strcmp(key, "http") == 0) {
        snprintf(c->up_http, sizeof(c->up_http), "%s", value);
    } else if (strcmp(section, "edge") == 0 && strcmp(key, "listen") == 0) {
        snprintf(c->edge_listen, sizeof(c->edge_listen), "%s", value);
    }
    return 1; /* the other keys are their commands' business */
}

/* "http HOST:PORT" from the ready file of a running edge. */
static bool
ready_http(const char *path, char *out, size_t n)
{
    char line[512];
    bool found = false;
    FILE *f = fopen(path, "r");

    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "http ", 5) == 0 && line[5] != '\0') {
            snprintf(out, n, "%s", line + 5);
            found = true;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}

bool
publish_local_edge(const char *conf_path, char *out, size_t n)
{
    struct conf_scan c;
    char ready[4200];
    const char *slash;

    if (conf_path == NULL || conf_path[0] == '\0' || n == 0) {
        return false;
    }
    slash = strrchr(conf_path, '/');
    if (slash != NULL) {
        snprintf(ready, sizeof(ready), "%.*s/run/edge.ready",
                 (int) (slash - conf_path), conf_path);
    } else {
        snprintf(ready, sizeof(ready), "run/edge.ready");
    }
    if (ready_http(ready, out, n)) {
        return true;
    }
    memset(&c, 0, sizeof(c));
    if (ini_parse(conf_path, on_conf, &c) < 0) {
        return false;
    }
    if (c.up_http[0] != '\0') {
        snprintf(out, n, "%s", c.up_http);
        return true;
    }
    if (c.edge_listen[0] != '\0') {
        snprintf(out, n, "%s", c.edge_listen);
        return true;
    }
    return false;
}

static void
bytes_text(char *out, size_t n, uint64_t b)
{
    if (b >= 10u * 1000 * 1000) {
        snprintf(out, n, "%.1f MB", mb(b));
    } else if (b >= 10u * 1000) {
        snprintf(out, n, "%.1f kB", (double) b / 1e3);
    } else {
        snprintf(out, n, "%llu bytes", (unsigned long long) b);
    }
}

void
publish_report_summary(FILE *f, const struct publish_opts *o,
                       const struct publish_result *r)
{
    const char *site = o->site;
    char sent[32], read[32], refreshed[48];
    size_t i;

    if (r->noop) {
        fprintf(f, "%s: nothing to do: deploy %s has the same tree (%.0f ms)\n",
                site, r->deploy, r->ms_total);
    } else {
        bytes_text(sent, sizeof(sent), r->bytes_uploaded);
        bytes_text(read, sizeof(read), r->read_bytes);
        fprintf(f, "%s: deploy %s: %zu files, %zu read (%s)\n", site,
                r->deploy, r->files, r->read_files, read);
        snprintf(refreshed, sizeof(refreshed), " (%zu objects refreshed)",
                 r->refreshed);
        fprintf(f,
                "%s: %zu blobs: %zu known, %zu already stored%s, %zu uploaded "
                "(+%zu variants), %llu bytes sent%s%s%s\n",
                site, r->blobs, r->blobs_known, r->blobs_present,
                r->refreshed > 0 ? refreshed : "", r->blobs_uploaded,
                r->variants_uploaded, (unsigned long long) r->bytes_uploaded,
                r->bytes_uploaded >= 10000 ? " (" : "",
                r->bytes_uploaded >= 10000 ? sent : "",
                r->bytes_uploaded >= 10000 ? ")" : "");
        fprintf(f,
                "%s: %zu paths changed since %s; %zu HTML/CSS files parsed; "
                "%zu warnings\n",
                site, r->changed,
                r->previous[0] != '\0' ? r->previous : "nothing",
                r->docs_parsed, r->warnings);
        for (i = 0; i < r->nchanged_show; i++) {
            fprintf(f, "%s:   %s\n", site, r->changed_show[i]);
        }
        if (r->changed > r->nchanged_show) {
            fprintf(f, "%s:   and %zu more\n", site,
                    r->changed - r->nchanged_show);
        }
        fprintf(f,
                "%s: time: read %.0f ms, graph %.0f ms, compress %.0f ms "
                "(threads, during the upload), upload %.0f ms, activate %.0f "
                "ms, notify %.0f ms, total %.0f ms\n",
                site, r->ms_read, r->ms_graph, r->ms_compress, r->ms_upload,
                r->ms_activate, r->ms_notify, r->ms_total);
    }
    for (i = 0; i < r->nedge_res && i < o->nedges; i++) {
        const struct publish_edge_result *e = &r->edge_res[i];

        if (e->ok) {
            fprintf(f, "%s: edge %s: applied (%.0f ms)\n", site, o->edges[i],
                    e->ms);
        } else if (e->status != 0) {
            fprintf(f, "%s: edge %s: not applied: status %d %s (%.0f ms)\n",
                    site, o->edges[i], e->status, e->msg, e->ms);
        } else {
            fprintf(f, "%s: edge %s: not applied: %s (%.0f ms)\n", site,
                    o->edges[i], e->msg, e->ms);
        }
    }
    if (r->edges_ok + r->edges_failed > 0) {
        fprintf(f, "%s: edges: %zu applied the delta, %zu did not (%.0f ms)\n",
                site, r->edges_ok, r->edges_failed, r->ms_notify);
    }
    if (r->noop) {
        /* Nothing changed; the URLs still say where the site is. */
    } else if (o->dry_run) {
        fprintf(f, "%s: dry run: deploy %s was not stored\n", site, r->deploy);
    } else if (r->lost_race) {
        fprintf(f,
                "%s: another deploy won the race: %s is live, %s is stored "
                "but not live\n",
                site, r->winner[0] != '\0' ? r->winner : "(unknown)",
                r->deploy);
    } else {
        fprintf(f, "%s: deploy %s is live\n", site, r->deploy);
    }
    for (i = 0; i < r->nurls && !o->dry_run && !r->lost_race; i++) {
        fprintf(f, "%s: %s\n", site, r->urls[i]);
    }
}
