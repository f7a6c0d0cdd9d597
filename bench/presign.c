/*
 * bench/presign.c - print SigV4 presigned path-style request targets for
 * bench/objstore.sh, one per line: "/BUCKET/PREFIXN?X-Amz-...", for
 * N = 0 .. COUNT-1, signed for METHOD and the Host header HOST with
 * lib/sigv4.h's pier_sigv4_presign (UNSIGNED-PAYLOAD). Built by the
 * benchmark script against libpier.a, not by Makefile.am.
 *
 *   presign METHOD HOST BUCKET PREFIX COUNT EXPIRES_S
 *   (the key is read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"
#include "lib/sigv4.h"

static int
bench_parse_count(const char *s, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(s, &end, 10);
    return (errno == 0 && end != s && *end == '\0') ? PIER_OK : PIER_ERR;
}

int
main(int argc, char **argv)
{
    struct pier_sigv4_key key = {0};
    struct pier_err err = {0};
    struct pier_buf path, query;
    unsigned long count, expires;
    char amz_date[32];
    struct tm tm;
    time_t now;

    if (argc != 7 || bench_parse_count(argv[5], &count) != PIER_OK ||
        bench_parse_count(argv[6], &expires) != PIER_OK ||
        expires > PIER_SIGV4_MAX_EXPIRES_S) {
        fputs("usage: presign METHOD HOST BUCKET PREFIX COUNT EXPIRES_S\n",
              stderr);
        return 2;
    }
    key.access_key_id = getenv("AWS_ACCESS_KEY_ID");
    key.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
    key.region = "us-east-1";
    key.service = "s3";
    if (key.access_key_id == NULL || key.secret_access_key == NULL) {
        fputs("presign: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n",
              stderr);
        return 2;
    }
    now = time(NULL);
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm) == 0)
        return 1;

    struct pier_kv host = {PIER_STR("host"), pier_str_cstr(argv[2])};
    pier_buf_init(&path, SIZE_MAX);
    pier_buf_init(&query, SIZE_MAX);
    for (unsigned long i = 0; i < count; i++) {
        pier_buf_reset(&path);
        pier_buf_reset(&query);
        if (pier_buf_addf(&path, "/%s/%s%lu", argv[3], argv[4], i) !=
                PIER_OK ||
            pier_sigv4_presign(&key, amz_date, (unsigned)expires, argv[1],
                               pier_buf_str(&path), PIER_STR(""), &host, 1,
                               &query, &err) != PIER_OK) {
            fprintf(stderr, "presign: %s\n", err.msg);
            return 1;
        }
        if (printf("%s?%s\n", path.data, query.data) < 0)
            return 1;
    }
    pier_buf_release(&path);
    pier_buf_release(&query);
    return fflush(stdout) == 0 ? 0 : 1;
}
