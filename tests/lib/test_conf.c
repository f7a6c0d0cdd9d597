/*
 * tests/lib/test_conf.c - lib/conf.c: tables, defaults, types, errors with
 * file:line, the data directory rules.
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

#include "lib/conf.h"

struct demo {
    char *listen;
    bool tls;
    uint64_t workers;
    uint64_t cache_mem;
    uint64_t timeout_ms;
    struct pier_conf_list edges;
};

static const struct pier_conf_entry entries[] = {
    {"listen", PIER_CONF_STR, "127.0.0.1:8080", 0,
     offsetof(struct demo, listen), "where to listen"},
    {"tls", PIER_CONF_BOOL, "no", 0, offsetof(struct demo, tls), "TLS"},
    {"workers", PIER_CONF_UINT, "2", 64, offsetof(struct demo, workers),
     "worker threads"},
    {"cache_mem", PIER_CONF_SIZE, "256M", 0, offsetof(struct demo, cache_mem),
     "memory cache"},
    {"timeout", PIER_CONF_MS, "5s", 0, offsetof(struct demo, timeout_ms),
     "timeout"},
    {"edge", PIER_CONF_STRLIST, NULL, 0, offsetof(struct demo, edges),
     "an edge (repeat)"},
};
static const struct pier_conf_section section = {"edge", entries,
                                                 PIER_NELEMS(entries)};

static void
test_conf_defaults_and_values(void **state)
{
    struct demo d = {0};
    struct pier_err err;

    (void) state;
    assert_int_equal(pier_conf_defaults(&section, &d, &err), PIER_OK);
    assert_string_equal(d.listen, "127.0.0.1:8080");
    assert_false(d.tls);
    assert_true(d.workers == 2);
    assert_true(d.cache_mem == 256ULL << 20);
    assert_true(d.timeout_ms == 5000);
    assert_int_equal(pier_conf_load_string(&section, &d, "pier.conf",
                                           "[objstore]\n"
                                           "whatever = 1\n"
                                           "[edge]\n"
                                           "listen = [::1]:0\n"
                                           "tls = yes\n"
                                           "workers = 8\n"
                                           "cache_mem = 1G\n"
                                           "timeout = 250ms\n"
                                           "edge = http://a\n"
                                           "edge = http://b\n",
                                           &err),
                     PIER_OK);
    assert_string_equal(d.listen, "[::1]:0");
    assert_true(d.tls);
    assert_true(d.workers == 8);
    assert_true(d.cache_mem == 1ULL << 30);
    assert_true(d.timeout_ms == 250);
    assert_int_equal(d.edges.n, 2);
    assert_string_equal(d.edges.items[1], "http://b");
    pier_conf_release(&section, &d);
    assert_null(d.listen);
    assert_int_equal(d.edges.n, 0);
}

/* "key =" with no value is the default, so a file can list every key. */
static void
test_conf_empty_string_is_the_default(void **state)
{
    struct demo d = {0};
    struct pier_err err;

    (void) state;
    assert_int_equal(pier_conf_defaults(&section, &d, &err), PIER_OK);
    assert_int_equal(pier_conf_load_string(&section, &d, "pier.conf",
                                           "[edge]\nlisten = 10.0.0.1:80\n"
                                           "listen =\n",
                                           &err),
                     PIER_OK);
    assert_string_equal(d.listen, "127.0.0.1:8080");
    pier_conf_release(&section, &d);
}

/* cache-mem is cache_mem: [objstore] writes its keys with dashes. */
static void
test_conf_dash_and_underscore_are_one(void **state)
{
    struct demo d = {0};
    struct pier_err err;

    (void) state;
    assert_int_equal(pier_conf_defaults(&section, &d, &err), PIER_OK);
    assert_int_equal(pier_conf_load_string(&section, &d, "pier.conf",
                                           "[edge]\ncache-mem = 1M\n", &err),
                     PIER_OK);
    assert_true(d.cache_mem == 1ULL << 20);
    assert_int_equal(pier_conf_set(&section, &d, "cache-mem", "2M", &err),
                     PIER_OK);
    assert_true(d.cache_mem == 2ULL << 20);
    assert_int_equal(pier_conf_load_string(&section, &d, "pier.conf",
                                           "[edge]\ncache_mem_ = 1\n", &err),
                     PIER_ERR);
    pier_conf_release(&section, &d);
}

static void
expect_error(const char *text, const char *msg)
{
    struct demo d = {0};
    struct pier_err err;

    pier_conf_defaults(&section, &d, &err);
    assert_int_equal(
        pier_conf_load_string(&section, &d, "pier.conf", text, &err), PIER_ERR);
    assert_string_equal(err.msg, msg);
    pier_conf_release(&section, &d);
}

static void
test_conf_errors_name_file_and_line(void **state)
{
    (void) state;
    expect_error("[edge]\nlisten = x\nbogus = 1\n",
                 "pier.conf:3: unknown key 'bogus' in [edge]");
    expect_error("[edge]\n\n[nope]\na = 1\n",
                 "pier.conf:4: unknown section '[nope]'");
    expect_error("[edge]\nworkers = 65\n",
                 "pier.conf:2: 'workers' is at most 64, not '65'");
    expect_error("[edge]\ntls = maybe\n",
                 "pier.conf:2: 'tls' wants yes or no, not 'maybe'");
    expect_error("[edge]\ncache_mem = lots\n",
                 "pier.conf:2: 'cache_mem' wants a size (256M, 4G), not "
                 "'lots'");
    expect_error("[edge]\ntimeout = 5 parsecs\n",
                 "pier.conf:2: 'timeout' wants a duration (500ms, 5s), not "
                 "'5 parsecs'");
    expect_error("[edge]\nthis line has no equals\n",
                 "pier.conf:2: syntax error");
    expect_error("a = 1\n", "pier.conf:1: 'a' outside any [section]");
}

static void
test_conf_set_and_file(void **state)
{
    char path[] = "/tmp/pier-conf-XXXXXX";
    struct demo d = {0};
    struct pier_err err;
    int fd;

    (void) state;
    pier_conf_defaults(&section, &d, &err);
    assert_int_equal(pier_conf_set(&section, &d, "workers", "3", &err),
                     PIER_OK);
    assert_true(d.workers == 3);
    assert_int_equal(pier_conf_set(&section, &d, "nope", "3", &err), PIER_ERR);
    assert_string_equal(err.msg, "unknown setting 'nope'");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "[edge]\nworkers = 5\n", 19), 19);
    close(fd);
    assert_int_equal(pier_conf_load_file(&section, &d, path, &err), PIER_OK);
    assert_true(d.workers == 5);
    unlink(path);
    assert_int_equal(pier_conf_load_file(&section, &d, path, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "No such file"));
    pier_conf_release(&section, &d);
}

static void
test_conf_data_dir_order(void **state)
{
    char out[256];
    struct pier_err err;

    (void) state;
    setenv("PIER_HOME", "/srv/pier", 1);
    assert_int_equal(pier_data_dir("/flag", out, sizeof(out), &err), PIER_OK);
    assert_string_equal(out, "/flag");
    assert_int_equal(pier_data_dir(NULL, out, sizeof(out), &err), PIER_OK);
    assert_string_equal(out, "/srv/pier");
    unsetenv("PIER_HOME");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(pier_data_dir(NULL, out, sizeof(out), &err), PIER_OK);
    assert_string_equal(out, "/home/u/.local/share/pier");
    unsetenv("PIER_CONFIG");
    setenv("PIER_CONFIG", "/etc/pier.conf", 1);
    assert_int_equal(pier_conf_path(NULL, "/d", out, sizeof(out), &err),
                     PIER_OK);
    assert_string_equal(out, "/etc/pier.conf");
    unsetenv("PIER_CONFIG");
    assert_int_equal(pier_conf_path(NULL, "/d", out, sizeof(out), &err),
                     PIER_OK);
    assert_string_equal(out, "/d/pier.conf");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_defaults_and_values),
        cmocka_unit_test(test_conf_empty_string_is_the_default),
        cmocka_unit_test(test_conf_dash_and_underscore_are_one),
        cmocka_unit_test(test_conf_errors_name_file_and_line),
        cmocka_unit_test(test_conf_set_and_file),
        cmocka_unit_test(test_conf_data_dir_order),
    };

    return cmocka_run_group_tests_name("lib/conf", tests, NULL, NULL);
}
