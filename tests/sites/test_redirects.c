/*
 * tests/sites/test_redirects.c - sites/redirects.c: the _redirects syntax,
 * matching, targets, shadowing, and errors that name their line.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "sites/internal.h"
#include "sites/redirects.h"

static const char sample[] =
    "# Redirects from what the browser requests to what we serve\n"
    "\n"
    "/home              /\n"
    "/blog/my-post.php  /blog/my-post   302\r\n"
    "  /news\t/blog 307   # old section\n"
    "/cuties https://www.example.com/pets 308\n"
    "/authors/c%C3%A9line /authors/about-c%C3%A9line\n"
    "/blog/:year/:month/:slug /posts/:year-:month/:slug.html\n"
    "/docs/* /manual/:splat 301!\n"
    "/app/* /app/index.html 200\n"
    "/shop/* /shop/404.html 404\n"
    "/home /never-reached\n"
    "/go/:where https://:where.example.org/x?from=:where";

/* Copy text into a buffer of exactly n bytes, no NUL after it, so that
 * ASan sees any read past the input. */
static struct sites_redirects *
parse_exact(const char *text, size_t n, struct pier_err *err)
{
    char *copy = malloc(n > 0 ? n : 1);
    struct sites_redirects *r;

    assert_non_null(copy);
    memcpy(copy, text, n);
    r = sites_redirects_parse("_redirects", copy, n, err);
    free(copy);
    return r;
}

static struct sites_redirects *
parse_ok(const char *text)
{
    struct pier_err err = {0};
    struct sites_redirects *r = parse_exact(text, strlen(text), &err);

    if (r == NULL) {
        fail_msg("parse failed: %s", err.msg);
    }
    return r;
}

/* Match path and check status and target. */
static void
check(const struct sites_redirects *r, const char *path, unsigned flags,
      int status, const char *target)
{
    struct pier_buf to;
    struct pier_err err;
    int got;

    pier_buf_init(&to, 4096);
    got = sites_redirects_match(r, pier_str_cstr(path), flags, &to, &err);
    if (got != status) {
        fail_msg("'%s': status %d, wanted %d", path, got, status);
    }
    if (target != NULL && strcmp(to.data, target) != 0) {
        fail_msg("'%s': target '%s', wanted '%s'", path, to.data, target);
    }
    if (status == 0) {
        assert_int_equal(to.len, 0);
    }
    pier_buf_release(&to);
}

static void match_any(const struct sites_redirects *r);

static void
test_redirects_sample_file(void **state)
{
    struct sites_redirects *r = parse_ok(sample);

    (void) state;
    match_any(r);
    assert_int_equal(sites_redirects_count(r), 11);
    check(r, "/home", 0, 301, "/");
    check(r, "/home/", 0, 301, "/");
    check(r, "/blog/my-post.php", 0, 302, "/blog/my-post");
    check(r, "/news", 0, 307, "/blog");
    check(r, "/cuties", 0, 308, "https://www.example.com/pets");
    /* The source is decoded; the target goes out as written. */
    check(r, "/authors/c\xc3\xa9line", 0, 301, "/authors/about-c%C3%A9line");
    check(r, "/authors/c%C3%A9line", 0, 0, NULL);
    check(r, "/blog/2024/05/hello", 0, 301, "/posts/2024-05/hello.html");
    check(r, "/blog/2024/05", 0, 0, NULL);
    check(r, "/blog/2024/05/hello/more", 0, 0, NULL);
    check(r, "/docs/a/b/c.html", 0, 301, "/manual/a/b/c.html");
    check(r, "/docs", 0, 301, "/manual/");
    check(r, "/docs/", 0, 301, "/manual/");
    check(r, "/app/settings/profile", 0, 200, "/app/index.html");
    check(r, "/shop/nothing", 0, 404, "/shop/404.html");
    check(r, "/go/mars", 0, 301, "https://mars.example.org/x?from=mars");
    /* Case-sensitive, like Netlify. */
    check(r, "/HOME", 0, 0, NULL);
    check(r, "/", 0, 0, NULL);
    check(r, "/homer", 0, 0, NULL);
    sites_redirects_free(r);
    sites_redirects_free(NULL);
}

static void
test_redirects_first_match_wins(void **state)
{
    struct sites_redirects *r = parse_ok("/a/:x /first/:x 302\n"
                                         "/a/b /second\n"
                                         "/* /index.html 200\n");

    (void) state;
    check(r, "/a/b", 0, 302, "/first/b");
    check(r, "/anything/else", 0, 200, "/index.html");
    check(r, "/", 0, 200, "/index.html");
    sites_redirects_free(r);
}

/* Without '!' a rule does not shadow a file of the site. */
static void
test_redirects_force_and_shadowing(void **state)
{
    struct sites_redirects *r = parse_ok("/old /new 301\n"
                                         "/old /forced 302!\n"
                                         "/spa/* /spa/index.html 200!\n");

    (void) state;
    check(r, "/old", 0, 301, "/new");
    check(r, "/old", SITES_REDIRECTS_EXISTS, 302, "/forced");
    check(r, "/spa/x", SITES_REDIRECTS_EXISTS, 200, "/spa/index.html");
    sites_redirects_free(r);
    r = parse_ok("/old /new\n");
    check(r, "/old", SITES_REDIRECTS_EXISTS, 0, NULL);
    sites_redirects_free(r);
}

/* What a placeholder captured cannot break out of a Location header; a
 * rewrite gets the decoded bytes. */
static void
test_redirects_captures_encoded(void **state)
{
    struct sites_redirects *r = parse_ok("/r/* /to/:splat\n"
                                         "/w/* /w.html?:splat 302\n"
                                         "/p/:name /pages/:name 200\n");

    (void) state;
    check(r, "/r/a b\r\nSet-Cookie: x", 0, 301,
          "/to/a%20b%0D%0ASet-Cookie:%20x");
    check(r, "/r/caf\xc3\xa9?#%", 0, 301, "/to/caf%C3%A9%3F%23%25");
    check(r, "/p/a b", 0, 200, "/pages/a b");
    sites_redirects_free(r);
}

static void
test_redirects_target_limit(void **state)
{
    struct sites_redirects *r = parse_ok("/* /0123456789/:splat\n");
    struct pier_buf to;
    struct pier_err err;

    (void) state;
    pier_buf_init(&to, 16);
    assert_int_equal(pier_buf_adds(&to, "ab"), PIER_OK);
    assert_int_equal(
        sites_redirects_match(r, PIER_STR("/xyzxyz"), 0, &to, &err), PIER_ERR);
    assert_string_equal(to.data, "ab");
    assert_non_null(strstr(err.msg, "longer than 16"));
    assert_int_equal(sites_redirects_match(r, PIER_STR("/x"), 0, &to, &err),
                     301);
    assert_string_equal(to.data, "ab/0123456789/x");
    pier_buf_release(&to);
    sites_redirects_free(r);
}

static void
test_redirects_empty_and_comments(void **state)
{
    struct sites_redirects *r;

    (void) state;
    r = parse_ok("");
    assert_int_equal(sites_redirects_count(r), 0);
    check(r, "/a", 0, 0, NULL);
    sites_redirects_free(r);
    r = parse_ok("# only\n   \n\t# comments\r\n\n#");
    assert_int_equal(sites_redirects_count(r), 0);
    sites_redirects_free(r);
    r = parse_ok("/a /b#frag\n");
    check(r, "/a", 0, 301, "/b#frag");
    sites_redirects_free(r);
}

/* Each bad line, after two good ones, gives "_redirects:3: reason". */
static void
test_redirects_errors_name_line(void **state)
{
    static const struct {
        const char *line;
        const char *msg;
    } cases[] = {
        {"/only-source", "needs a source and a target"},
        {"/store id=:id /blog/:id 301", "query-string conditions"},
        {"/a /b 302 Country=au,nz", "conditions ('Country=au,nz')"},
        {"/a /b 302 Role=admin", "are not supported"},
        {"/a?x=1 /b", "query strings in the source"},
        {"https://blog.example.com/* https://example.com/:splat 301!",
         "domain-level"},
        {"/blog/* https://blog.example.com/:splat 200", "proxying"},
        {"/a /b 303", "status 303 is not supported"},
        {"/a /b 3011", "bad status '3011'"},
        {"/a /b 30x", "bad status"},
        {"/a /b 301 extra", "unexpected field 'extra'"},
        {"/a/*/b /c", "'*' must be the last segment"},
        {"/a* /c", "'*' must be a whole segment"},
        {"/a/:1x /c", "bad placeholder name"},
        {"/a/: /c", "bad placeholder name"},
        {"/a/:x/:x /c", "placeholder ':x' used twice"},
        {"/a/:splat /c", "':splat' is written '*'"},
        {"/a/:x /c/:y", "':y' in the target is not a placeholder"},
        {"/a /c/:splat", "':splat' in the target but no '*'"},
        {"/a//b /c", "empty segment"},
        {"/a/../b /c", "'.' or '..' segment"},
        {"/a%2Fb /c", "encoded '/'"},
        {"/a%zz /c", "bad percent-escape"},
        {"/a%4 /c", "bad percent-escape"},
        {"a /c", "does not start with '/'"},
        {"/a c", "neither a path nor an http(s) URL"},
        {"/a c 200", "does not start with '/'"},
        {"/a /c?x=1 200", "no query string"},
        {"/a /b\x01", "control byte 0x01"},
        {"/a /b\rx", "CR not followed by LF"},
        {"1 2 3 4 5 6 7 8 9", "more than 8 fields"},
    };
    char text[512];
    struct pier_err err;
    struct sites_redirects *r;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        int n = snprintf(text, sizeof(text), "/ok /fine\n# c\n%s\n/x /y\n",
                         cases[i].line);

        memset(&err, 0, sizeof(err));
        r = parse_exact(text, (size_t) n, &err);
        if (r != NULL) {
            fail_msg("case %zu ('%s') parsed", i, cases[i].line);
        }
        if (strncmp(err.msg, "_redirects:3: ", 14) != 0
            || strstr(err.msg, cases[i].msg) == NULL) {
            fail_msg("case %zu: '%s' lacks '_redirects:3: ...%s'", i, err.msg,
                     cases[i].msg);
        }
    }
    /* NUL, and a line over the limit. */
    r = parse_exact("/a /b\n/c\0 /d\n", 13, &err);
    assert_null(r);
    assert_string_equal(err.msg, "_redirects:2: NUL byte");
    {
        char *big = malloc(SITES_REDIRECTS_LINE_MAX + 20);

        assert_non_null(big);
        memset(big, 'a', SITES_REDIRECTS_LINE_MAX + 20);
        big[0] = '/';
        assert_null(parse_exact(big, SITES_REDIRECTS_LINE_MAX + 20, &err));
        assert_non_null(strstr(err.msg, "_redirects:1: line longer than"));
        free(big);
    }
}

/* Whatever rules parsed, matching gives 0 or a status, a redirect
 * target holds no CR, LF or space, and the indexed matcher agrees with
 * the rule-by-rule one. */
static void
match_any(const struct sites_redirects *r)
{
    static const char *const paths[] = {
        "/",         "/docs/x y", "/blog/1/2/3", "/home/",
        "/app/\r\n", "/home",     "/news",       "/cuties",
        "/go/x",     "/shop/a",   "/blog/a/b/c", "/authors/c\xc3\xa9line"};
    struct pier_buf to, to2;
    struct pier_err err;
    size_t i;
    unsigned flags;
    int st;

    pier_buf_init(&to, 4096);
    pier_buf_init(&to2, 4096);
    for (i = 0; i < PIER_NELEMS(paths); i++) {
        for (flags = 0; flags <= SITES_REDIRECTS_EXISTS; flags++) {
            pier_buf_reset(&to);
            pier_buf_reset(&to2);
            st = sites_redirects_match(r, pier_str_cstr(paths[i]), flags, &to,
                                       &err);
            assert_true(st == 0 || st == 200 || st == 404
                        || (st >= 301 && st <= 308));
            if (st >= 301 && st <= 308) {
                assert_null(strpbrk(to.data, "\r\n "));
            }
            assert_int_equal(
                st, sites_redirects_match_linear(r, pier_str_cstr(paths[i]),
                                                 flags, &to2, &err));
            assert_string_equal(to.data, to2.data);
        }
    }
    pier_buf_release(&to);
    pier_buf_release(&to2);
}

/* The index keeps file order across exact sources, sources with a
 * literal first segment and the rest. */
static void
test_redirects_index_keeps_order(void **state)
{
    struct sites_redirects *r = parse_ok("/a/:x /1/:x\n"
                                         "/a/b /2\n"
                                         "/* /3\n"
                                         "/c /4\n"
                                         "/c/ /5\n"
                                         "/ /6\n"
                                         "/d/e /7 302!\n"
                                         "/:y/e /8\n"
                                         "/d/e /9\n");

    (void) state;
    check(r, "/a/b", 0, 301, "/1/b");
    check(r, "/c", 0, 301, "/3");
    check(r, "/", 0, 301, "/3");
    check(r, "/d/e", 0, 301, "/3");
    check(r, "/d/e", SITES_REDIRECTS_EXISTS, 302, "/7");
    check(r, "/x/e", SITES_REDIRECTS_EXISTS, 0, NULL);
    match_any(r);
    sites_redirects_free(r);
    r = parse_ok("/c /4\n/c/ /5\n/ /6\n/:y/e /8\n/d/e /9\n/d/* /10\n");
    check(r, "/c/", 0, 301, "/4");
    check(r, "/", 0, 301, "/6");
    check(r, "/d/e", 0, 301, "/8");
    check(r, "/d/f", 0, 301, "/10");
    check(r, "/d", 0, 301, "/10");
    match_any(r);
    sites_redirects_free(r);
}

/* Every prefix of the sample, and every one-byte change of it, parses or
 * fails with "_redirects:LINE:" where LINE is a line of the input. */
static void
test_redirects_byte_varied(void **state)
{
    static const char subst[] = {' ', '\n', '\r', ':', '*', '/',  '%', '!',
                                 '#', '=',  '?',  'x', '2', '\t', 0};
    char buf[sizeof(sample)];
    size_t n = sizeof(sample) - 1, i, k, ok = 0, bad = 0;
    struct pier_err err;
    struct sites_redirects *r;

    (void) state;
    for (i = 0; i <= n; i++) {
        r = parse_exact(sample, i, &err);
        if (r == NULL) {
            assert_int_equal(strncmp(err.msg, "_redirects:", 11), 0);
        }
        sites_redirects_free(r);
    }
    memcpy(buf, sample, n);
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(subst); k++) {
            unsigned long line;
            char *end;

            buf[i] = subst[k];
            r = parse_exact(buf, n, &err);
            if (r != NULL) {
                ok++;
                match_any(r);
                sites_redirects_free(r);
                continue;
            }
            bad++;
            assert_int_equal(strncmp(err.msg, "_redirects:", 11), 0);
            line = strtoul(err.msg + 11, &end, 10);
            assert_true(line >= 1 && line <= 14);
            assert_int_equal(*end, ':');
        }
        buf[i] = sample[i];
    }
    assert_true(ok > 0);
    assert_true(bad > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirects_sample_file),
        cmocka_unit_test(test_redirects_first_match_wins),
        cmocka_unit_test(test_redirects_force_and_shadowing),
        cmocka_unit_test(test_redirects_captures_encoded),
        cmocka_unit_test(test_redirects_target_limit),
        cmocka_unit_test(test_redirects_empty_and_comments),
        cmocka_unit_test(test_redirects_errors_name_line),
        cmocka_unit_test(test_redirects_byte_varied),
        cmocka_unit_test(test_redirects_index_keeps_order),
    };

    return cmocka_run_group_tests_name("sites/redirects", tests, NULL, NULL);
}
