/*
 * lib/cli.h - what every pier command shares: error and usage messages in
 * one style, and the ready file servers write for tests.
 */
#ifndef PIER_CLI_H
#define PIER_CLI_H

#include "lib/core.h"
#include "lib/err.h"

/* Print "pier CMD: MESSAGE" to stderr; return 1 (the failure exit). */
int pier_cli_fail(const char *cmd, const char *fmt, ...) PIER_PRINTF(2, 3);
/* Print "pier CMD: MESSAGE" and "usage: pier CMD USAGE" and "Try 'pier CMD
 * --help'." to stderr; return 2 (the usage exit). */
int pier_cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    PIER_PRINTF(3, 4);

/* Parse a size such as 256M, 4G, 512k or 1000 into *out bytes. */
int pier_cli_parse_size(const char *s, uint64_t *out);

/*
 * The ready file (curl's pid and port files): after every listener is
 * bound, a server writes
 *     pid 1234
 *     http 127.0.0.1:41235
 *     admin 127.0.0.1:41236
 * to PATH.tmp and renames it into place, so a test that sees the file sees
 * all of it. names[i] goes with addrs[i] ("HOST:PORT", IPv6 in brackets).
 */
int pier_ready_file_write(const char *path, const char *const *names,
                          const char *const *addrs, size_t n,
                          struct pier_err *err);

#endif
