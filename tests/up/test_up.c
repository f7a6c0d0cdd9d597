/*
 * tests/up/test_up.c - up/prepare.c: the data directory's layout, keys and
 * bucket, and the pier.conf line rewriter.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "objstore/keys.h"
#include "up/up.h"

static void
expect_set(const char *in, const char *sec, const char *key, const char *val,
           const char *want)
{
    struct pier_buf out;
    struct pier_err err;

    pier_buf_init(&out, 1 << 16);
    assert_int_equal(up_ini_set(in, sec, key, val, &out, &err), PIER_OK);
    assert_string_equal(out.data, want);
    pier_buf_release(&out);
}

static void
test_up_ini_set(void **state)
{
    (void) state;
    /* Added with its section to an empty file. */
    expect_set("", "publish", "endpoint", "http://a", "\n[publish]\n"
                                                      "endpoint = http://a\n");
    /* Replaced in place; comments and other sections kept. */
    expect_set("# c\n[up]\nstore = x\n[publish]\nendpoint = old\n"
               "bucket = b\n",
               "publish", "endpoint", "new",
               "# c\n[up]\nstore = x\n[publish]\nendpoint = new\n"
               "bucket = b\n");
    /* Added at the end of its section, before the next one. */
    expect_set("[publish]\nbucket = b\n[up]\nstore = x\n", "publish", "edge",
               "http://e",
               "[publish]\nbucket = b\nedge = http://e\n[up]\nstore = x\n");
    /* Every repeat of the key becomes the one line given. */
    expect_set("[publish]\nedge = 1\nedge = 2\nedge_token = t\n", "publish",
               "edge", "3", "[publish]\nedge = 3\nedge_token = t\n");
    /* A key of the same name in another section is left alone; a missing
     * final newline is added. */
    expect_set("[up]\nedge = keep\n[publish]\nedge = old", "publish", "edge",
               "new", "[up]\nedge = keep\n[publish]\nedge = new\n");
}

static void
test_up_prepare_is_idempotent(void **state)
{
    char dir[] = "/tmp/pier-up-XXXXXX", cmd[128];
    struct up_layout l;
    struct objstore_keys *keys;
    const struct objstore_key *pub, *edge;
    struct pier_err err;
    struct stat sb;
    bool created;
    char id[OBJSTORE_KEY_ID_MAX + 1];

    (void) state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(up_layout_init(&l, dir, &err), PIER_OK);
    assert_int_equal(up_prepare(&l, "pier", &created, &err), PIER_OK);
    assert_true(created);
    assert_int_equal(stat(l.keys, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(l.token, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(l.repos, &sb), 0);
    keys = objstore_keys_load(l.keys, false, &err);
    assert_non_null(keys);
    pub = objstore_keys_by_name(keys, "publisher");
    edge = objstore_keys_by_name(keys, "edge");
    assert_non_null(pub);
    assert_non_null(edge);
    assert_non_null(objstore_keys_by_name(keys, "admin"));
    /* The publisher writes the bucket; the edge only reads it. */
    assert_true(objstore_key_allows(pub, OBJSTORE_PERM_WRITE, PIER_STR("pier"),
                                    PIER_STR("live/a")));
    assert_true(objstore_key_allows(edge, OBJSTORE_PERM_READ, PIER_STR("pier"),
                                    PIER_STR("live/a")));
    assert_false(objstore_key_allows(edge, OBJSTORE_PERM_WRITE,
                                     PIER_STR("pier"), PIER_STR("live/a")));
    snprintf(id, sizeof(id), "%s", pub->id);
    objstore_keys_unref(keys);

    /* A second run keeps the keys. */
    assert_int_equal(up_prepare(&l, "pier", &created, &err), PIER_OK);
    assert_false(created);
    keys = objstore_keys_load(l.keys, false, &err);
    assert_string_equal(objstore_keys_by_name(keys, "publisher")->id, id);
    objstore_keys_unref(keys);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_ini_set),
        cmocka_unit_test(test_up_prepare_is_idempotent),
    };

    return cmocka_run_group_tests_name("up/prepare", tests, NULL, NULL);
}
