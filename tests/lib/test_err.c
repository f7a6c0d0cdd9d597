/*
 * tests/lib/test_err.c - lib/err.c: the S3 table and message formatting;
 * lib/cli.c: sizes and the ready file.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/err.h"

static void
test_err_s3_table(void **state)
{
    (void) state;
    assert_string_equal(pier_s3_code(PIER_S3_NO_SUCH_KEY), "NoSuchKey");
    assert_int_equal(pier_s3_status(PIER_S3_NO_SUCH_KEY), 404);
    assert_int_equal(pier_s3_status(PIER_S3_PRECONDITION_FAILED), 412);
    assert_int_equal(pier_s3_status(PIER_S3_SIGNATURE_DOES_NOT_MATCH), 403);
    assert_string_equal(pier_s3_code(PIER_S3_SHA256_MISMATCH),
                        "XAmzContentSHA256Mismatch");
    assert_int_equal(pier_s3_status(PIER_S3_INVALID_RANGE), 416);
    assert_string_equal(pier_s3_code(PIER_S3_NONE), "InternalError");
    assert_string_equal(pier_s3_code(PIER_S3_MAX), "InternalError");
}

static void
test_err_fill(void **state)
{
    struct pier_err err;

    (void) state;
    assert_int_equal(pier_err_s3(&err, PIER_S3_NO_SUCH_BUCKET, "no bucket '%s'",
                                 "b"),
                     PIER_ERR);
    assert_int_equal(err.http, 404);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    assert_string_equal(err.msg, "no bucket 'b'");
    assert_int_equal(pier_err_sys(&err, ENOENT, "cannot open '%s'", "x"),
                     PIER_ERR);
    assert_string_equal(err.msg, "cannot open 'x': No such file or directory");
    assert_int_equal(err.sys, ENOENT);
    assert_int_equal(err.http, 0);
    assert_int_equal(pier_err_http(&err, 431, "headers too large"), PIER_ERR);
    assert_int_equal(err.http, 431);
    assert_int_equal(err.s3, PIER_S3_NONE);
}

static void
test_err_cli_sizes(void **state)
{
    uint64_t v;

    (void) state;
    assert_int_equal(pier_cli_parse_size("256M", &v), PIER_OK);
    assert_true(v == 256ULL << 20);
    assert_int_equal(pier_cli_parse_size("4G", &v), PIER_OK);
    assert_true(v == 4ULL << 30);
    assert_int_equal(pier_cli_parse_size("1000", &v), PIER_OK);
    assert_true(v == 1000);
    assert_int_equal(pier_cli_parse_size("12kB", &v), PIER_OK);
    assert_true(v == 12288);
    assert_int_equal(pier_cli_parse_size("x", &v), PIER_ERR);
    assert_int_equal(pier_cli_parse_size("12Q", &v), PIER_ERR);
    assert_int_equal(pier_cli_parse_size("99999999999999999999", &v),
                     PIER_ERR);
}

static void
test_err_ready_file(void **state)
{
    char dir[] = "/tmp/pier-test-XXXXXX", path[256], line[256];
    const char *names[] = {"http", "admin"};
    const char *addrs[] = {"127.0.0.1:1234", "[::1]:5678"};
    struct pier_err err;
    FILE *f;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ready", dir);
    assert_int_equal(pier_ready_file_write(path, names, addrs, 2, &err),
                     PIER_OK);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_int_equal(strncmp(line, "pid ", 4), 0);
    assert_int_equal(strtol(line + 4, NULL, 10), (long) getpid());
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "http 127.0.0.1:1234\n");
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "admin [::1]:5678\n");
    fclose(f);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_s3_table),
        cmocka_unit_test(test_err_fill),
        cmocka_unit_test(test_err_cli_sizes),
        cmocka_unit_test(test_err_ready_file),
    };

    return cmocka_run_group_tests_name("lib/err", tests, NULL, NULL);
}
