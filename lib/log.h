/*
 * lib/log.h - the error log.
 *
 * One line per event, written whole with one write(2) so lines from several
 * threads never interleave:
 *   2025-05-01T10:00:00.123Z warn edge: origin '127.0.0.1:9000': refused
 * Never log Authorization, signatures, keys or tokens.
 */
#ifndef PIER_LOG_H
#define PIER_LOG_H

#include "lib/core.h"

enum pier_log_level {
    PIER_LOG_ERROR = 0,
    PIER_LOG_WARN,
    PIER_LOG_INFO,
    PIER_LOG_DEBUG,
};

/* Set the threshold (default info). Not thread-safe: call at start-up. */
void pier_log_set_level(enum pier_log_level level);
/* Parse "error", "warn", "info" or "debug"; PIER_ERR if none. */
int pier_log_parse_level(const char *s, enum pier_log_level *level);
/* Log to fd (default 2). The caller keeps fd open. */
void pier_log_set_fd(int fd);
bool pier_log_enabled(enum pier_log_level level);

void pier_log(enum pier_log_level level, const char *module, const char *fmt,
              ...) PIER_PRINTF(3, 4);

/* Debug lines are checked before their arguments are evaluated. */
#define PIER_DEBUG(module, ...)                          \
    do {                                                 \
        if (pier_log_enabled(PIER_LOG_DEBUG)) {          \
            pier_log(PIER_LOG_DEBUG, module, __VA_ARGS__); \
        }                                                \
    } while (0)

/* Format t (seconds, milliseconds) as 2025-05-01T10:00:00.123Z into out,
 * which holds at least 25 bytes. */
void pier_log_time(char *out, size_t n);

#endif
