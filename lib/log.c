/*
 * lib/log.c - the error log.
 */
#include "config.h"

#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum pier_log_level threshold = PIER_LOG_INFO;
static int log_fd = 2;

static const char *const names[] = {"error", "warn", "info", "debug"};

void
pier_log_set_level(enum pier_log_level level)
{
    threshold = level;
}

int
pier_log_parse_level(const char *s, enum pier_log_level *level)
{
    size_t i;

    for (i = 0; i < PIER_NELEMS(names); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *level = (enum pier_log_level) i;
            return PIER_OK;
        }
    }
    return PIER_ERR;
}

void
pier_log_set_fd(int fd)
{
    log_fd = fd;
}

bool
pier_log_enabled(enum pier_log_level level)
{
    return level <= threshold;
}

void
pier_log_time(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000));
}

void
pier_log(enum pier_log_level level, const char *module, const char *fmt, ...)
{
    char line[2048], ts[32];
    va_list ap;
    int n, m;
    ssize_t w;

    if (!pier_log_enabled(level)) {
        return;
    }
    pier_log_time(ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[level], module);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    n += m;
    if ((size_t) n > sizeof(line) - 2) {
        n = (int) sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* One write per line: lines from several threads never interleave. */
    w = write(log_fd, line, (size_t) n);
    (void) w;
}
