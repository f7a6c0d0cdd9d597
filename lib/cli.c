/*
 * lib/cli.c - command messages and the ready file.
 */
#include "config.h"

#include "lib/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
pier_cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pier %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int
pier_cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pier %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: pier %s %s\nTry 'pier %s --help'.\n", cmd,
            usage, cmd);
    return 2;
}

int
pier_cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (*s < '0' || *s > '9') {
        return PIER_ERR;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return PIER_ERR;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1024;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024;
        break;
    case 'g':
    case 'G':
        mul = 1024ULL * 1024 * 1024;
        break;
    case 't':
    case 'T':
        mul = 1024ULL * 1024 * 1024 * 1024;
        break;
    default:
        return PIER_ERR;
    }
    if (*end != '\0' && end[1] != '\0' && !(end[1] == 'B' && end[2] == '\0')) {
        return PIER_ERR;
    }
    if (v > UINT64_MAX / mul) {
        return PIER_ERR;
    }
    *out = v * mul;
    return PIER_OK;
}

int
pier_ready_file_write(const char *path, const char *const *names,
                      const char *const *addrs, size_t n,
                      struct pier_err *err)
{
    char tmp[4096];
    FILE *f;
    size_t i;
    int fd;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return pier_err_set(err, "ready file path too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        return pier_err_sys(err, e, "cannot open '%s'", tmp);
    }
    fprintf(f, "pid %ld\n", (long) getpid());
    for (i = 0; i < n; i++) {
        fprintf(f, "%s %s\n", names[i], addrs[i]);
    }
    if (fclose(f) != 0) {
        return pier_err_sys(err, errno, "cannot write '%s'", tmp);
    }
    if (rename(tmp, path) != 0) {
        return pier_err_sys(err, errno, "cannot rename '%s'", tmp);
    }
    return PIER_OK;
}
