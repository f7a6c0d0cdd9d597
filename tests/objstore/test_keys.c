/*
 * tests/objstore/test_keys.c - objstore/keys.c: the keys file, key
 * generation, grants and authorisation decisions.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objstore/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char path[300];

static int
setup(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "%s/pier-keys-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/keys", dir);
    return 0;
}

static int
teardown(void **state)
{
    char tmp[320];

    (void) state;
    unlink(path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

static void
write_file(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_keys_generated_credentials(void **state)
{
    struct objstore_keys *keys = objstore_keys_new();
    const struct objstore_key *a, *b;
    struct pier_err err;
    size_t i;

    (void) state;
    assert_int_equal(objstore_keys_add(keys, "a", NULL, NULL, true, NULL, 0,
                                       &a, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_add(keys, "b", NULL, NULL, false, NULL, 0,
                                       &b, &err),
                     PIER_OK);
    assert_int_equal(strlen(a->id), OBJSTORE_KEY_ID_LEN);
    assert_int_equal(strlen(a->secret), OBJSTORE_SECRET_LEN);
    assert_memory_equal(a->id, "PK", 2);
    for (i = 2; i < OBJSTORE_KEY_ID_LEN; i++) {
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", a->id[i]));
    }
    for (i = 0; i < OBJSTORE_SECRET_LEN; i++) {
        assert_true((a->secret[i] >= 'a' && a->secret[i] <= 'z')
                    || (a->secret[i] >= 'A' && a->secret[i] <= 'Z')
                    || (a->secret[i] >= '0' && a->secret[i] <= '9'));
    }
    assert_string_not_equal(a->id, b->id);
    assert_string_not_equal(a->secret, b->secret);
    objstore_keys_unref(keys);
}

static void
test_keys_validation(void **state)
{
    struct objstore_keys *keys = objstore_keys_new();
    const char *bad_grants[] = {"pier", "pier:admin", "Bad_Bucket:read",
                                "pier/a b:read", ":read", "pier/x:"};
    struct pier_err err;
    size_t i;

    (void) state;
    assert_int_equal(objstore_keys_add(keys, "ok-name_1.x", NULL, NULL, false,
                                       NULL, 0, NULL, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_add(keys, "ok-name_1.x", NULL, NULL, false,
                                       NULL, 0, NULL, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "exists"));
    assert_int_equal(objstore_keys_add(keys, "bad name", NULL, NULL, false,
                                       NULL, 0, NULL, &err),
                     PIER_ERR);
    assert_int_equal(objstore_keys_add(keys, "", NULL, NULL, false, NULL, 0,
                                       NULL, &err),
                     PIER_ERR);
    for (i = 0; i < PIER_NELEMS(bad_grants); i++) {
        if (objstore_keys_add(keys, "g", NULL, NULL, false, &bad_grants[i], 1,
                              NULL, &err)
            == PIER_OK) {
            fail_msg("accepted grant '%s'", bad_grants[i]);
        }
    }
    assert_int_equal(objstore_keys_add(keys, "given", "AKID1234", "x", false,
                                       NULL, 0, NULL, &err),
                     PIER_ERR); /* secret too short */
    assert_int_equal(objstore_keys_add(keys, "given", "AK-1", "secret123",
                                       false, NULL, 0, NULL, &err),
                     PIER_ERR); /* id not alphanumeric */
    assert_int_equal(objstore_keys_count(keys), 1);
    assert_int_equal(objstore_keys_remove(keys, "nope", &err), PIER_ERR);
    assert_int_equal(objstore_keys_remove(keys, "ok-name_1.x", &err), PIER_OK);
    assert_int_equal(objstore_keys_count(keys), 0);
    objstore_keys_unref(keys);
}

static void
test_keys_save_load_roundtrip(void **state)
{
    struct objstore_keys *keys = objstore_keys_new(), *back;
    const char *grants[] = {"pier:write", "pier/live/:read", "other/a/b:read"};
    const struct objstore_key *k, *l;
    struct pier_err err;
    struct stat sb;

    (void) state;
    assert_int_equal(objstore_keys_add(keys, "admin", NULL, NULL, true, NULL,
                                       0, NULL, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_add(keys, "pub", "AKIAEXAMPLE", "s3cr3t/+=x",
                                       false, grants, 3, &k, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_save(keys, path, &err), PIER_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    back = objstore_keys_load(path, false, &err);
    assert_non_null(back);
    assert_int_equal(objstore_keys_count(back), 2);
    l = objstore_keys_by_name(back, "pub");
    assert_non_null(l);
    assert_string_equal(l->id, "AKIAEXAMPLE");
    assert_string_equal(l->secret, "s3cr3t/+=x");
    assert_false(l->admin);
    assert_int_equal(l->ngrants, 3);
    assert_string_equal(l->grants[1].bucket, "pier");
    assert_string_equal(l->grants[1].prefix, "live/");
    assert_false(l->grants[1].write);
    assert_string_equal(l->grants[2].prefix, "a/b");
    assert_true(objstore_keys_by_name(back, "admin")->admin);
    assert_ptr_equal(objstore_keys_by_id(back, PIER_STR("AKIAEXAMPLE")), l);
    assert_null(objstore_keys_by_id(back, PIER_STR("AKIAEXAMPL")));
    assert_null(objstore_keys_by_id(back, PIER_STR("")));
    objstore_keys_unref(keys);
    objstore_keys_unref(back);
}

static void
test_keys_load_refuses_readable_file(void **state)
{
    struct objstore_keys *keys;
    struct pier_err err;

    (void) state;
    write_file("a AKIDAKID secretsecret -\n", 0644);
    keys = objstore_keys_load(path, false, &err);
    assert_null(keys);
    assert_non_null(strstr(err.msg, "chmod 600"));
    /* The message never carries the secret. */
    assert_null(strstr(err.msg, "secretsecret"));
}

static void
test_keys_load_errors_name_line(void **state)
{
    struct objstore_keys *keys;
    struct pier_err err;
    char want[320];

    (void) state;
    write_file("# comment\n\na AKIDAKID secretsecret -\nb AKID2 s -\n", 0600);
    keys = objstore_keys_load(path, false, &err);
    assert_null(keys);
    snprintf(want, sizeof(want), "%s:4:", path);
    assert_non_null(strstr(err.msg, want));
    write_file("a AKIDAKID secretsecret - pier:bogus\n", 0600);
    assert_null(objstore_keys_load(path, false, &err));
    snprintf(want, sizeof(want), "%s:1:", path);
    assert_non_null(strstr(err.msg, want));
    write_file("a AKIDAKID secretsecret -\nb AKIDAKID othersecret -\n", 0600);
    assert_null(objstore_keys_load(path, false, &err));
    assert_non_null(strstr(err.msg, "same access key id"));
    unlink(path);
    assert_null(objstore_keys_load(path, false, &err));
    keys = objstore_keys_load(path, true, &err);
    assert_non_null(keys);
    assert_int_equal(objstore_keys_count(keys), 0);
    objstore_keys_unref(keys);
}

static void
test_keys_print_env(void **state)
{
    struct objstore_keys *keys = objstore_keys_new();
    const struct objstore_key *k;
    struct pier_err err;
    char buf[256], want[256];
    FILE *f;
    size_t n;

    (void) state;
    assert_int_equal(objstore_keys_add(keys, "x", "AKIDX", "secretvalue", false,
                                       NULL, 0, &k, &err),
                     PIER_OK);
    f = tmpfile();
    assert_non_null(f);
    objstore_keys_print_env(k, f);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    snprintf(want, sizeof(want),
             "AWS_ACCESS_KEY_ID=AKIDX\nAWS_SECRET_ACCESS_KEY=secretvalue\n");
    assert_string_equal(buf, want);
    objstore_keys_unref(keys);
}

static void
test_keys_grants_decide(void **state)
{
    struct objstore_keys *keys = objstore_keys_new();
    const char *edge_g[] = {"pier:read"};
    const char *pub_g[] = {"pier/sites/:write", "pier/live/:read"};
    const struct objstore_key *admin, *edge, *pub;
    struct pier_err err;

    (void) state;
    assert_int_equal(objstore_keys_add(keys, "admin", NULL, NULL, true, NULL,
                                       0, &admin, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_add(keys, "edge", NULL, NULL, false, edge_g,
                                       1, &edge, &err),
                     PIER_OK);
    assert_int_equal(objstore_keys_add(keys, "pub", NULL, NULL, false, pub_g,
                                       2, &pub, &err),
                     PIER_OK);
#define ALLOWS(k, p, b, n) \
    objstore_key_allows(k, OBJSTORE_PERM_##p, PIER_STR(b), PIER_STR(n))
    assert_true(ALLOWS(admin, ADMIN, "any", ""));
    assert_true(ALLOWS(admin, WRITE, "any", "x"));
    assert_false(ALLOWS(edge, ADMIN, "pier", ""));
    assert_true(ALLOWS(edge, READ, "pier", "blobs/ab"));
    assert_true(ALLOWS(edge, LIST, "pier", ""));
    assert_true(ALLOWS(edge, BUCKET, "pier", ""));
    assert_false(ALLOWS(edge, WRITE, "pier", "blobs/ab"));
    assert_false(ALLOWS(edge, UPLOADS, "pier", ""));
    assert_false(ALLOWS(edge, READ, "pierx", "a"));
    assert_false(ALLOWS(edge, BUCKET, "other", ""));
    /* Prefix grants: write implies read; a listing must stay inside. */
    assert_true(ALLOWS(pub, WRITE, "pier", "sites/a.ini"));
    assert_true(ALLOWS(pub, READ, "pier", "sites/a.ini"));
    assert_false(ALLOWS(pub, WRITE, "pier", "sitesX"));
    assert_false(ALLOWS(pub, WRITE, "pier", "live/a"));
    assert_true(ALLOWS(pub, READ, "pier", "live/a"));
    assert_true(ALLOWS(pub, LIST, "pier", "live/"));
    assert_true(ALLOWS(pub, LIST, "pier", "live/a"));
    assert_false(ALLOWS(pub, LIST, "pier", "live"));
    assert_false(ALLOWS(pub, LIST, "pier", ""));
    assert_false(ALLOWS(pub, READ, "pier", "blobs/x"));
    assert_true(ALLOWS(pub, UPLOADS, "pier", "sites/"));
    assert_false(ALLOWS(pub, UPLOADS, "pier", "live/"));
    assert_true(ALLOWS(pub, BUCKET, "pier", ""));
#undef ALLOWS
    assert_true(objstore_key_sees_bucket(pub, PIER_STR("pier")));
    assert_false(objstore_key_sees_bucket(pub, PIER_STR("other")));
    assert_true(objstore_key_sees_bucket(admin, PIER_STR("other")));
    objstore_keys_unref(keys);
}

static void
test_keys_refcount(void **state)
{
    struct objstore_keys *keys = objstore_keys_new();
    struct objstore_keys *again;

    (void) state;
    again = objstore_keys_ref(keys);
    assert_ptr_equal(again, keys);
    objstore_keys_unref(keys);
    assert_int_equal(objstore_keys_count(again), 0); /* still alive */
    objstore_keys_unref(again);
    objstore_keys_unref(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_generated_credentials),
        cmocka_unit_test(test_keys_validation),
        cmocka_unit_test_setup_teardown(test_keys_save_load_roundtrip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_refuses_readable_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_errors_name_line, setup,
                                        teardown),
        cmocka_unit_test(test_keys_print_env),
        cmocka_unit_test(test_keys_grants_decide),
        cmocka_unit_test(test_keys_refcount),
    };

    return cmocka_run_group_tests_name("objstore/keys", tests, NULL, NULL);
}
