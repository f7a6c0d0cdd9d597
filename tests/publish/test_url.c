/*
 * tests/publish/test_url.c - publish/url.c: resolving references against
 * site paths, and renaming a reference to a hashed file name.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/url.h"

static void
check(const char *from, const char *base, const char *url, const char *want)
{
    struct pier_buf b;
    bool ok;

    pier_buf_init(&b, SIZE_MAX);
    ok = publish_url_resolve(from, base, url, &b);
    if (want == NULL) {
        if (ok) {
            fail_msg("'%s' from '%s' resolved to '%s'", url, from, b.data);
        }
    } else {
        if (!ok) {
            fail_msg("'%s' from '%s' did not resolve", url, from);
        }
        assert_string_equal(b.data, want);
    }
    pier_buf_release(&b);
}

static void
test_url_relative_and_root(void **state)
{
    (void) state;
    check("index.html", NULL, "style.css", "style.css");
    check("blog/post.html", NULL, "img/a.png", "blog/img/a.png");
    check("blog/post.html", NULL, "../img/a.png", "img/a.png");
    check("blog/post.html", NULL, "./a.png", "blog/a.png");
    check("blog/post.html", NULL, "/css/site.css", "css/site.css");
    check("a/b/c.html", NULL, "../../../../x.png", "x.png");
    check("a/b/c.html", NULL, "x/./y/../z.png", "a/b/x/z.png");
    check("a/b/c.html", NULL, "..", "a/");
    check("a/b/c.html", NULL, "sub/", "a/b/sub/");
    check("index.html", NULL, "my%20file.png?x=1#y", "my file.png");
    check("index.html", NULL, "a\\b.png", "a/b.png");
}

static void
test_url_leaves_others_alone(void **state)
{
    (void) state;
    check("index.html", NULL, "https://example.com/a.png", NULL);
    check("index.html", NULL, "HTTP://example.com/a.png", NULL);
    check("index.html", NULL, "//cdn.example.com/a.png", NULL);
    check("index.html", NULL, "data:image/png;base64,AAAA", NULL);
    check("index.html", NULL, "mailto:a@b.c", NULL);
    check("index.html", NULL, "#top", NULL);
    check("index.html", NULL, "?page=2", NULL);
    check("index.html", NULL, "", NULL);
    check("index.html", NULL, "a%00b.png", NULL);
    check("index.html", NULL, "a%2fb.png", NULL);
    check("index.html", NULL, "/", NULL);
}

static void
test_url_base_folder(void **state)
{
    (void) state;
    check("blog/post.html", "assets/", "a.png", "assets/a.png");
    check("blog/post.html", "", "a.png", "a.png");
    check("blog/post.html", "assets/", "/b.png", "b.png");
}

static void
rename_check(const char *url, const char *name, const char *hashed,
             const char *want)
{
    struct pier_buf b;
    bool ok;

    pier_buf_init(&b, SIZE_MAX);
    ok = publish_url_rename(url, name, hashed, &b);
    if (want == NULL) {
        assert_false(ok);
    } else {
        assert_true(ok);
        assert_string_equal(b.data, want);
    }
    pier_buf_release(&b);
}

static void
test_url_rename(void **state)
{
    (void) state;
    rename_check("../img/logo.png?v=2#a", "logo.png", "logo.3f9a1c2e.png",
                 "../img/logo.3f9a1c2e.png?v=2#a");
    rename_check("/app.min.js", "app.min.js", "app.min.0011aabb.js",
                 "/app.min.0011aabb.js");
    rename_check("LICENSE", "LICENSE", "LICENSE.0011aabb", "LICENSE.0011aabb");
    rename_check("my%20logo.png", "my logo.png", "my logo.01234567.png",
                 "my%20logo.01234567.png");
    rename_check("a.png", "a.png", "a.01234567.png", "a.01234567.png");
    /* Not the file's name, or an extension written with escapes. */
    rename_check("docs/", "index.html", "index.01234567.html", NULL);
    rename_check("a.pn%67", "a.png", "a.01234567.png", NULL);
    /* An escaped dot before the extension still allows the insertion. */
    rename_check("a%2Epng", "a.png", "a.01234567.png", "a%2E01234567.png");
    rename_check("b.png", "a.png", "a.01234567.png", NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_relative_and_root),
        cmocka_unit_test(test_url_leaves_others_alone),
        cmocka_unit_test(test_url_base_folder),
        cmocka_unit_test(test_url_rename),
    };

    return cmocka_run_group_tests_name("publish/url", tests, NULL, NULL);
}
