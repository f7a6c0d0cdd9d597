/*
 * tests/lib/test_clientconf.c - lib/clientconf.c: the precedence of
 * flags, pier.conf and the AWS environment variables.
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

#include "lib/clientconf.h"

static char dir[64];

static void
write_conf(const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/pier.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/pier-cc-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    unsetenv("PIER_CONFIG");
    unsetenv("PIER_HOME");
    unsetenv("AWS_REGION");
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_ENDPOINT_URL", "https://s3.example", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    return 0;
}

static int
teardown(void **state)
{
    char path[128];

    (void) state;
    snprintf(path, sizeof(path), "%s/pier.conf", dir);
    unlink(path);
    return rmdir(dir);
}

/* With no pier.conf, the AWS variables are used. */
static void
test_clientconf_env_without_file(void **state)
{
    struct pier_client_conf c;
    struct pier_err err;

    (void) state;
    assert_int_equal(pier_client_conf_load(&c, dir, NULL, &err), PIER_OK);
    assert_string_equal(c.conf_path, "");
    assert_string_equal(c.endpoint, "https://s3.example");
    assert_string_equal(c.access_key_id, "ENVKEY");
    assert_string_equal(c.secret_access_key, "envsecret");
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.bucket, "pier");
    assert_null(pier_client_conf_missing(&c));
    pier_client_conf_release(&c);
}

/* After pier up, pier.conf wins over real AWS keys in the environment, and
 * a flag wins over both. */
static void
test_clientconf_file_beats_env_flag_beats_file(void **state)
{
    struct pier_client_conf c;
    struct pier_s3_config s3;
    struct pier_err err;

    (void) state;
    write_conf("[edge]\nanything = 1\n"
               "[publish]\nendpoint = http://127.0.0.1:9000\n"
               "access_key_id = PKFILE\nsecret_access_key = filesecret\n"
               "edge = http://127.0.0.1:8081\nedge_token = tok\n");
    assert_int_equal(pier_client_conf_load(&c, dir, NULL, &err), PIER_OK);
    assert_non_null(strstr(c.conf_path, "/pier.conf"));
    assert_string_equal(c.endpoint, "http://127.0.0.1:9000");
    assert_string_equal(c.access_key_id, "PKFILE");
    assert_string_equal(c.secret_access_key, "filesecret");
    assert_int_equal(c.edges.n, 1);
    assert_string_equal(c.edge_token, "tok");
    assert_int_equal(pier_conf_set(&pier_client_conf_section, &c, "bucket",
                                   "other", &err),
                     PIER_OK);
    pier_s3_config_init(&s3);
    pier_client_conf_s3(&c, &s3);
    assert_string_equal(s3.bucket, "other");
    assert_string_equal(s3.access_key_id, "PKFILE");
    pier_client_conf_release(&c);
}

/* Credentials are a pair: a file with only an endpoint leaves both keys to
 * the environment; a file with keys takes both. */
static void
test_clientconf_credentials_pair(void **state)
{
    struct pier_client_conf c;
    struct pier_err err;

    (void) state;
    write_conf("[publish]\nendpoint = http://127.0.0.1:1\n");
    assert_int_equal(pier_client_conf_load(&c, dir, NULL, &err), PIER_OK);
    assert_string_equal(c.endpoint, "http://127.0.0.1:1");
    assert_string_equal(c.access_key_id, "ENVKEY");
    pier_client_conf_release(&c);
    write_conf("[publish]\naccess_key_id = PKONLY\n");
    assert_int_equal(pier_client_conf_load(&c, dir, NULL, &err), PIER_OK);
    assert_string_equal(c.access_key_id, "PKONLY");
    assert_null(c.secret_access_key);
    assert_non_null(pier_client_conf_missing(&c));
    pier_client_conf_release(&c);
}

static void
test_clientconf_errors(void **state)
{
    struct pier_client_conf c;
    struct pier_err err;

    (void) state;
    write_conf("[publish]\nbogus = 1\n");
    assert_int_equal(pier_client_conf_load(&c, dir, NULL, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "pier.conf:2: unknown key 'bogus'"));
    pier_client_conf_release(&c);
    assert_int_equal(
        pier_client_conf_load(&c, dir, "/nonexistent/pier.conf", &err),
        PIER_ERR);
    assert_non_null(strstr(err.msg, "cannot open '/nonexistent/pier.conf'"));
    pier_client_conf_release(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clientconf_env_without_file),
        cmocka_unit_test(test_clientconf_file_beats_env_flag_beats_file),
        cmocka_unit_test(test_clientconf_credentials_pair),
        cmocka_unit_test(test_clientconf_errors),
    };

    return cmocka_run_group_tests_name("lib/clientconf", tests, setup,
                                       teardown);
}
