/*
 * tests/edge/test_path.c - edge/path.c: decoding, dot segments, slashes,
 * refusals, the query, absolute-form.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "edge/path.h"

struct norm_case {
    const char *in;
    const char *path;
    const char *query; /* NULL: no '?' */
};

static void
expect_norm(const char *in, const char *path, const char *query)
{
    char out[EDGE_PATH_MAX];
    struct edge_target t;
    struct pier_err err = {0};
    int rc = edge_path_normalise(in, strlen(in), out, sizeof(out), &t, &err);

    if (rc != PIER_OK) {
        fail_msg("'%s' refused: %s", in, err.msg);
    }
    if (strlen(path) != t.path.len || memcmp(path, t.path.ptr, t.path.len)) {
        fail_msg("'%s' gave '%.*s', expected '%s'", in, (int) t.path.len,
                 t.path.ptr, path);
    }
    assert_ptr_equal(t.path.ptr, out);
    assert_int_equal(out[t.path.len], '\0');
    if (query == NULL) {
        assert_null(t.query.ptr);
    } else {
        assert_non_null(t.query.ptr);
        assert_int_equal(t.query.len, strlen(query));
        assert_memory_equal(t.query.ptr, query, t.query.len);
    }
}

static void
expect_refused(const char *in, size_t n)
{
    char out[EDGE_PATH_MAX];
    struct edge_target t;
    struct pier_err err = {0};

    if (edge_path_normalise(in, n, out, sizeof(out), &t, &err) != PIER_ERR) {
        fail_msg("'%.*s' accepted as '%.*s'", (int) n, in, (int) t.path.len,
                 t.path.ptr);
    }
    assert_int_equal(err.http, 400);
    assert_true(err.msg[0] != '\0');
}

static void
test_path_plain_kept(void **state)
{
    (void) state;
    expect_norm("/", "/", NULL);
    expect_norm("/index.html", "/index.html", NULL);
    expect_norm("/a/b/c.css", "/a/b/c.css", NULL);
    expect_norm("/dir/", "/dir/", NULL);
    expect_norm("/.well-known/acme", "/.well-known/acme", NULL);
    expect_norm("/a.b/c..d/...", "/a.b/c..d/...", NULL);
    expect_norm("/..a/.b/a..", "/..a/.b/a..", NULL);
    expect_norm("/caf\xc3\xa9", "/caf\xc3\xa9", NULL);
}

static void
test_path_percent_decoded(void **state)
{
    (void) state;
    expect_norm("/a%20b", "/a b", NULL);
    expect_norm("/%41%62%7e", "/Ab~", NULL);
    expect_norm("/caf%C3%A9.html", "/caf\xc3\xa9.html", NULL);
    expect_norm("/a+b", "/a+b", NULL); /* '+' is not a space in a path */
    expect_norm("/%25", "/%", NULL);   /* decoded once, not twice */
    expect_norm("/%2541", "/%41", NULL);
}

/* RFC 3986 5.2.4's examples, and the same with encoded dots. */
static void
test_path_dot_segments_removed(void **state)
{
    (void) state;
    expect_norm("/a/b/c/./../../g", "/a/g", NULL);
    expect_norm("/mid/content=5/../6", "/mid/6", NULL);
    expect_norm("/a/./b", "/a/b", NULL);
    expect_norm("/a/.", "/a/", NULL);
    expect_norm("/a/b/..", "/a/", NULL);
    expect_norm("/a/b/../", "/a/", NULL);
    expect_norm("/./", "/", NULL);
    expect_norm("/.", "/", NULL);
    expect_norm("/a/..", "/", NULL);
    expect_norm("/a/%2e%2E/b", "/b", NULL);
    expect_norm("/a/%2e/b", "/a/b", NULL);
    expect_norm("/a/.%2e", "/", NULL);
}

static void
test_path_duplicate_slashes_merged(void **state)
{
    (void) state;
    expect_norm("//", "/", NULL);
    expect_norm("//a///b//", "/a/b/", NULL);
    expect_norm("/a//..//b", "/b", NULL);
    expect_norm("/a/.//./b", "/a/b", NULL);
}

static void
test_path_query_split(void **state)
{
    (void) state;
    expect_norm("/a?x=1&y=%2F", "/a", "x=1&y=%2F");
    expect_norm("/?", "/", "");
    expect_norm("/a/..?q", "/", "q");
    expect_norm("/a/.?q", "/a/", "q");
    expect_norm("/a?b/../c", "/a", "b/../c");
    expect_norm("/a?#", "/a", "#"); /* the query is left to its reader */
}

static void
test_path_absolute_form(void **state)
{
    char out[EDGE_PATH_MAX];
    struct edge_target t;
    struct pier_err err = {0};
    const char *in = "HTTPS://Example.com:8443/a/../b?x";

    (void) state;
    assert_int_equal(
        edge_path_normalise(in, strlen(in), out, sizeof(out), &t, &err),
        PIER_OK);
    assert_int_equal(t.authority.len, strlen("Example.com:8443"));
    assert_memory_equal(t.authority.ptr, "Example.com:8443", t.authority.len);
    assert_string_equal(out, "/b");
    assert_int_equal(t.query.len, 1);

    in = "http://h";
    assert_int_equal(
        edge_path_normalise(in, strlen(in), out, sizeof(out), &t, &err),
        PIER_OK);
    assert_string_equal(out, "/");
    assert_int_equal(t.authority.len, 1);

    in = "http://h?q";
    assert_int_equal(
        edge_path_normalise(in, strlen(in), out, sizeof(out), &t, &err),
        PIER_OK);
    assert_string_equal(out, "/");
    assert_int_equal(t.query.len, 1);

    /* Origin-form has no authority. */
    assert_int_equal(edge_path_normalise("/x", 2, out, sizeof(out), &t, &err),
                     PIER_OK);
    assert_int_equal(t.authority.len, 0);
}

static void
test_path_refuses_bad_targets(void **state)
{
    (void) state;
    expect_refused("", 0);
    expect_refused("*", 1);
    expect_refused("a/b", 3);
    expect_refused("/a\0b", 4);
    expect_refused("/a%00b", 6);
    expect_refused("/a%0ab", 6);
    expect_refused("/a\tb", 4);
    expect_refused("/a\x7f", 3);
    expect_refused("/a%2fb", 6);
    expect_refused("/a%2Fb", 6);
    expect_refused("/a%5cb", 6);
    expect_refused("/a\\b", 4);
    expect_refused("/..%2f..%2fetc/passwd", 21);
    expect_refused("/a#frag", 7);
    expect_refused("/%", 2);
    expect_refused("/%4", 3);
    expect_refused("/%4?", 4);
    expect_refused("/%zz", 4);
    expect_refused("/%4g", 4);
    expect_refused("ftp://h/", 8);
    expect_refused("http:/h/", 8);
    expect_refused("http:///a", 9);
    expect_refused("http://u@h/", 11);
    expect_refused("httpss://h/", 11);
    expect_refused("http", 4);
}

/* A ".." that would climb above the root is refused, not clamped. */
static void
test_path_refuses_escape(void **state)
{
    (void) state;
    expect_refused("/..", 3);
    expect_refused("/../", 4);
    expect_refused("/a/../..", 8);
    expect_refused("/a/../../etc/passwd", 19);
    expect_refused("/%2e%2e/x", 9);
    expect_refused("/./../x", 7);
}

static void
test_path_refuses_long(void **state)
{
    static char in[EDGE_PATH_TARGET_MAX + 2];
    char out[16];
    struct edge_target t;
    struct pier_err err = {0};

    (void) state;
    memset(in, 'a', sizeof(in));
    in[0] = '/';
    expect_refused(in, sizeof(in)); /* over the target limit */
    /* 15 bytes fit in out (with the NUL), 16 do not. */
    assert_int_equal(edge_path_normalise(in, 15, out, sizeof(out), &t, &err),
                     PIER_OK);
    assert_int_equal(t.path.len, 15);
    assert_int_equal(edge_path_normalise(in, 16, out, sizeof(out), &t, &err),
                     PIER_ERR);
    assert_int_equal(err.http, 400);
    /* What counts is the normalised length: dots and slashes are free. */
    assert_int_equal(edge_path_normalise("/a/b/../././//c/d/e/f/g/h", 25, out,
                                         sizeof(out), &t, &err),
                     PIER_OK);
    assert_string_equal(out, "/a/c/d/e/f/g/h");
}

/* Whatever the input, an accepted path starts with '/', holds no "//",
 * no "." or ".." segment and no control byte. */
static void
test_path_output_invariants(void **state)
{
    static const char alphabet[] = {'/', '.', 'a', '%', '2', 'e', 'f', '?'};
    char in[8], out[64];
    struct edge_target t;
    struct pier_err err;
    unsigned long i, x;
    size_t j, len, accepted = 0;

    (void) state;
    /* Every string of 7 bytes over the alphabet: 8^7 = 2M inputs. */
    for (i = 0; i < (1UL << 21); i++) {
        x = i;
        for (j = 0; j < 7; j++) {
            in[j] = alphabet[x & 7];
            x >>= 3;
        }
        if (edge_path_normalise(in, 7, out, sizeof(out), &t, &err) != PIER_OK) {
            continue;
        }
        accepted++;
        len = t.path.len;
        assert_true(len >= 1 && out[0] == '/');
        assert_null(strstr(out, "//"));
        assert_null(strstr(out, "/./"));
        assert_null(strstr(out, "/../"));
        assert_false(len >= 2 && strcmp(out + len - 2, "/.") == 0);
        assert_false(len >= 3 && strcmp(out + len - 3, "/..") == 0);
    }
    assert_true(accepted > 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_plain_kept),
        cmocka_unit_test(test_path_percent_decoded),
        cmocka_unit_test(test_path_dot_segments_removed),
        cmocka_unit_test(test_path_duplicate_slashes_merged),
        cmocka_unit_test(test_path_query_split),
        cmocka_unit_test(test_path_absolute_form),
        cmocka_unit_test(test_path_refuses_bad_targets),
        cmocka_unit_test(test_path_refuses_escape),
        cmocka_unit_test(test_path_refuses_long),
        cmocka_unit_test(test_path_output_invariants),
    };

    return cmocka_run_group_tests_name("edge/path", tests, NULL, NULL);
}
