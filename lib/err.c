/*
 * lib/err.c - filling struct pier_err, and the S3 error table.
 */
#include "config.h"

#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *code;
    const char *msg;
} s3_table[PIER_S3_MAX] = {
    [PIER_S3_NONE] = {500, "InternalError",
                      "We encountered an internal error. Please try again."},
#define XX(name, st, c, m) [PIER_S3_##name] = {st, c, m},
    PIER_S3_ERRORS(XX)
#undef XX
};

static void
vset(struct pier_err *err, const char *fmt, va_list ap)
{
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
pier_err_set(struct pier_err *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return PIER_ERR;
    }
    pier_err_clear(err);
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    return PIER_ERR;
}

int
pier_err_sys(struct pier_err *err, int sys, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (err == NULL) {
        return PIER_ERR;
    }
    pier_err_clear(err);
    err->sys = sys;
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (sys != 0 && n < sizeof(err->msg)) {
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(sys));
    }
    return PIER_ERR;
}

int
pier_err_s3(struct pier_err *err, enum pier_s3 s3, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return PIER_ERR;
    }
    pier_err_clear(err);
    err->s3 = s3;
    err->http = pier_s3_status(s3);
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    return PIER_ERR;
}

int
pier_err_http(struct pier_err *err, int status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return PIER_ERR;
    }
    pier_err_clear(err);
    err->http = status;
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    return PIER_ERR;
}

void
pier_err_clear(struct pier_err *err)
{
    err->sys = 0;
    err->http = 0;
    err->s3 = PIER_S3_NONE;
    err->msg[0] = '\0';
}

const char *
pier_s3_code(enum pier_s3 s3)
{
    return (unsigned) s3 < PIER_S3_MAX ? s3_table[s3].code : "InternalError";
}

const char *
pier_s3_message(enum pier_s3 s3)
{
    return (unsigned) s3 < PIER_S3_MAX ? s3_table[s3].msg : s3_table[0].msg;
}

int
pier_s3_status(enum pier_s3 s3)
{
    return (unsigned) s3 < PIER_S3_MAX ? s3_table[s3].status : 500;
}
