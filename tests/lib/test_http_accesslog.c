/*
 * tests/lib/test_http_accesslog.c - lib/accesslog.c: the line format,
 * escaping of client bytes, buffering, reopen after a rename.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/accesslog.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/pier-alog.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/access.log", dir);
    return 0;
}

static int
teardown(void **state)
{
    char old[160];

    (void) state;
    snprintf(old, sizeof(old), "%s.1", path);
    unlink(old);
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
slurp(const char *p, struct pier_buf *b)
{
    FILE *f = fopen(p, "r");
    char tmp[4096];
    size_t n;

    pier_buf_reset(b);
    if (f == NULL) {
        return;
    }
    n = fread(tmp, 1, sizeof(tmp), f);
    assert_int_equal(pier_buf_add(b, tmp, n), PIER_OK);
    fclose(f);
}

static void
entry(struct pier_accesslog_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->peer = "192.0.2.1";
    e->method = PIER_STR("GET");
    e->target = PIER_STR("/a?b=\"c\"\n");
    e->version_minor = 1;
    e->status = 200;
    e->body_bytes = 4096;
    e->user_agent = PIER_STR("curl/7.88.1");
    e->duration_s = 0.0015;
    e->bytes_sent = 4211;
}

static void
test_http_accesslog_line(void **state)
{
    struct pier_accesslog *log;
    struct pier_accesslog_buf b;
    struct pier_accesslog_entry e;
    struct pier_err err;
    struct pier_buf got;

    (void) state;
    log = pier_accesslog_open(path, &err);
    assert_non_null(log);
    pier_accesslog_buf_init(&b, log);
    entry(&e);
    pier_accesslog_add(&b, &e, 1746093600); /* 2025-05-01 10:00:00 */
    pier_buf_init(&got, SIZE_MAX);
    slurp(path, &got);
    assert_int_equal(got.len, 0); /* buffered */
    pier_accesslog_flush(&b);
    slurp(path, &got);
    assert_string_equal(got.data,
                        "192.0.2.1 - - [01/May/2025:10:00:00 +0000] "
                        "\"GET /a?b=\\x22c\\x22\\x0A HTTP/1.1\" 200 4096 \"-\" "
                        "\"curl/7.88.1\" 0.001500 4211\n");
    pier_accesslog_buf_release(&b);
    pier_accesslog_free(log);
    pier_buf_release(&got);
}

/* After logrotate's rename, SIGHUP's reopen starts a new file. */
static void
test_http_accesslog_reopen(void **state)
{
    struct pier_accesslog *log;
    struct pier_accesslog_buf b;
    struct pier_accesslog_entry e;
    struct pier_err err;
    struct pier_buf got;
    char old[160];
    int i;

    (void) state;
    unlink(path);
    snprintf(old, sizeof(old), "%s.1", path);
    log = pier_accesslog_open(path, &err);
    assert_non_null(log);
    pier_accesslog_buf_init(&b, log);
    entry(&e);
    pier_accesslog_add(&b, &e, 0);
    pier_accesslog_flush(&b);
    assert_int_equal(rename(path, old), 0);
    assert_int_equal(pier_accesslog_reopen(log, &err), PIER_OK);
    for (i = 0; i < 3; i++) {
        pier_accesslog_add(&b, &e, 0);
    }
    pier_accesslog_buf_release(&b); /* flushes */
    pier_buf_init(&got, SIZE_MAX);
    slurp(old, &got);
    assert_int_equal(strchr(got.data, '\n') - got.data + 1, (long) got.len);
    slurp(path, &got);
    assert_non_null(strstr(got.data, "01/Jan/1970:00:00:00 +0000"));
    assert_int_equal((int) (strlen(got.data) / (strchr(got.data, '\n') - got.data + 1)), 3);
    pier_accesslog_free(log);
    pier_buf_release(&got);
}

/* Thousands of lines: the buffer flushes itself and loses none. */
static void
test_http_accesslog_fills(void **state)
{
    struct pier_accesslog *log;
    struct pier_accesslog_buf b;
    struct pier_accesslog_entry e;
    struct pier_err err;
    FILE *f;
    int i, lines = 0, ch;

    (void) state;
    unlink(path);
    log = pier_accesslog_open(path, &err);
    pier_accesslog_buf_init(&b, log);
    entry(&e);
    for (i = 0; i < 5000; i++) {
        pier_accesslog_add(&b, &e, 0);
    }
    pier_accesslog_buf_release(&b);
    pier_accesslog_free(log);
    f = fopen(path, "r");
    assert_non_null(f);
    for (ch = fgetc(f); ch != EOF; ch = fgetc(f)) {
        lines += ch == '\n';
    }
    fclose(f);
    assert_int_equal(lines, 5000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_accesslog_line),
        cmocka_unit_test(test_http_accesslog_reopen),
        cmocka_unit_test(test_http_accesslog_fills),
    };
    return cmocka_run_group_tests_name("lib/accesslog", tests, setup,
                                       teardown);
}
