/*
 * tests/publish/test_css.c - publish/css.c: the reference scanner, its
 * offsets, escapes, comments and broken input, and the CSS side of
 * publish/ref.c's rewrite.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/css.h"

#define MAXREFS 16

struct found {
    struct publish_css_ref r[MAXREFS];
    size_t n;
};

/* Scan css whole, or chunk bytes at a time when chunk > 0. */
static void
scan(const char *css, size_t chunk, struct found *f)
{
    struct publish_css_scanner sc;
    size_t n = strlen(css), off = 0, used;

    publish_css_scanner_init(&sc);
    f->n = 0;
    while (off < n) {
        size_t lim = chunk == 0 || off + chunk > n ? n : off + chunk;
        int rc =
            publish_css_scan(&sc, css + off, css + lim, &f->r[f->n], &used);

        assert_true(used <= lim - off);
        off += used;
        if (rc == PIER_OK) {
            assert_true(f->n < MAXREFS);
            f->n++;
        } else {
            assert_int_equal(rc, PIER_AGAIN);
            assert_int_equal(off, lim);
        }
    }
}

static void
assert_ref(const char *css, const struct publish_css_ref *r, const char *raw,
           enum publish_css_kind kind)
{
    size_t n = strlen(raw);

    assert_int_equal(r->kind, kind);
    assert_int_equal(r->end - r->start, n);
    assert_memory_equal(css + r->start, raw, n);
}

static void
test_css_url_forms(void **state)
{
    const char *css = "a{background:url(img/a.png)}\n"
                      "b{background:URL( \"b.png\" )}\n"
                      "c{x:url(  'c d.png'  ) ; y: url(  e.png  )}";
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 4);
    assert_ref(css, &f.r[0], "img/a.png", PUBLISH_CSS_URL);
    assert_int_equal(f.r[0].start, 17);
    assert_int_equal(f.r[0].line, 1);
    assert_ref(css, &f.r[1], "b.png", PUBLISH_CSS_URL);
    assert_int_equal(f.r[1].line, 2);
    assert_ref(css, &f.r[2], "c d.png", PUBLISH_CSS_URL);
    assert_ref(css, &f.r[3], "e.png", PUBLISH_CSS_URL);
    assert_int_equal(f.r[3].line, 3);
    assert_false(f.r[0].escaped);
}

/* The same references and offsets whatever the split. */
static void
test_css_byte_by_byte(void **state)
{
    const char *css = "@import 'x.css';/* url(no.png) */\n"
                      "a{b:url(\"a\\\"b.png\")/**/;c:image-set('i.png' 1x)}"
                      "d{e:url( f\\).png )}";
    struct found whole, bytes;
    size_t i, chunk;

    (void) state;
    scan(css, 0, &whole);
    assert_int_equal(whole.n, 4);
    for (chunk = 1; chunk < 8; chunk++) {
        scan(css, chunk, &bytes);
        assert_int_equal(bytes.n, whole.n);
        for (i = 0; i < whole.n; i++) {
            assert_int_equal(bytes.r[i].start, whole.r[i].start);
            assert_int_equal(bytes.r[i].end, whole.r[i].end);
            assert_int_equal(bytes.r[i].kind, whole.r[i].kind);
            assert_int_equal(bytes.r[i].line, whole.r[i].line);
            assert_int_equal(bytes.r[i].escaped, whole.r[i].escaped);
        }
    }
}

static void
test_css_comments_hide_urls(void **state)
{
    const char *css = "/* url(a.png) @import 'b.css'; */"
                      "a{c:url(c.png)/* url(d.png) **/}/*/ url(e.png) */"
                      "/* unterminated url(f.png)";
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 1);
    assert_ref(css, &f.r[0], "c.png", PUBLISH_CSS_URL);
}

static void
test_css_strings_hide_urls(void **state)
{
    const char *css = "a{content:\"url(a.png)\"; b:'url(b.png)'}"
                      "c{x:foourl(c.png) 10url(d.png) #url(e.png)}"
                      "f{x:my-url(g.png)}";
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 0);
}

static void
test_css_imports(void **state)
{
    const char *css = "@charset \"utf-8\";\n"
                      "@import \"a.css\";\n"
                      "@IMPORT url(b.css) screen;\n"
                      "@import url(\"c.css\") print;\n"
                      "@import /* note */ 'd.css' layer(x);\n"
                      "a{content:\"not-import.css\"}";
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 4);
    assert_ref(css, &f.r[0], "a.css", PUBLISH_CSS_IMPORT);
    assert_int_equal(f.r[0].line, 2);
    assert_ref(css, &f.r[1], "b.css", PUBLISH_CSS_IMPORT);
    assert_ref(css, &f.r[2], "c.css", PUBLISH_CSS_IMPORT);
    assert_ref(css, &f.r[3], "d.css", PUBLISH_CSS_IMPORT);
    assert_int_equal(f.r[3].line, 5);
}

static void
test_css_image_set(void **state)
{
    const char *css = "a{b:image-set(\"a.png\" 1x, url(b.png) 2x);"
                      "c:-webkit-image-set('c.avif' type(\"image/avif\"),"
                      " 'd.jpg' 2x); e:f(\"g.png\")}";
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 4);
    assert_ref(css, &f.r[0], "a.png", PUBLISH_CSS_IMAGE_SET);
    assert_ref(css, &f.r[1], "b.png", PUBLISH_CSS_URL);
    assert_ref(css, &f.r[2], "c.avif", PUBLISH_CSS_IMAGE_SET);
    assert_ref(css, &f.r[3], "d.jpg", PUBLISH_CSS_IMAGE_SET);
}

static void
test_css_escapes(void **state)
{
    const char *css = "a{b:url(a\\).png) c:url(\"q\\\"\\41 .png\")"
                      " d:url('l\\\nine.png')}";
    struct found f;
    struct pier_buf b;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 3);
    pier_buf_init(&b, SIZE_MAX);
    assert_true(f.r[0].escaped);
    assert_int_equal(
        publish_css_unescape(css + f.r[0].start, f.r[0].end - f.r[0].start, &b),
        PIER_OK);
    assert_string_equal(b.data, "a).png");
    pier_buf_reset(&b);
    assert_int_equal(
        publish_css_unescape(css + f.r[1].start, f.r[1].end - f.r[1].start, &b),
        PIER_OK);
    assert_string_equal(b.data, "q\"A.png");
    pier_buf_reset(&b);
    assert_int_equal(
        publish_css_unescape(css + f.r[2].start, f.r[2].end - f.r[2].start, &b),
        PIER_OK);
    assert_string_equal(b.data, "line.png");
    pier_buf_release(&b);
}

static void
test_css_unescape_code_points(void **state)
{
    struct pier_buf b;
    const char *in = "\\26 B\\0\\1F600x\\110000\\d800\\\\\\";

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(publish_css_unescape(in, strlen(in), &b), PIER_OK);
    assert_string_equal(b.data, "&B\xef\xbf\xbd\xf0\x9f\x98\x80x"
                                "\xef\xbf\xbd\xef\xbf\xbd\\");
    pier_buf_release(&b);
}

/* Broken tokens load nothing, and scanning goes on after them. */
static void
test_css_broken_tokens(void **state)
{
    const char *css = "a{b:url(\"x.png\n);}\n" /* bad string */
                      "c{d:url(a b.png)}"      /* space inside */
                      "e{f:url(a\"b.png)}"     /* quote inside */
                      "g{h:url(a(b.png)}"      /* paren inside */
                      "i{j:url(ok.png)}"
                      "k{l:url(\"cut.png"; /* ends mid-string */
    struct found f;

    (void) state;
    scan(css, 0, &f);
    assert_int_equal(f.n, 1);
    assert_ref(css, &f.r[0], "ok.png", PUBLISH_CSS_URL);
    assert_int_equal(f.r[0].line, 3);
    scan("a{b:url(cut.png", 0, &f);
    assert_int_equal(f.n, 0);
    scan("url()url( )url(\"\")", 0, &f);
    assert_int_equal(f.n, 1); /* url("") is an empty string reference */
    assert_int_equal(f.r[0].end - f.r[0].start, 0);
}

static void
test_css_collect_and_rewrite(void **state)
{
    const char *css = "@import 'base.css';\n"
                      "a{background:url(img/a.png?v=1#x)}\n"
                      "b{background:url(\"img/\\62 .png\")}\n"
                      "c{background:url(http://x/y.png)}";
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;
    const char *urls[4] = {"base.0a1b2c3d.css", "img/a.89abcdef.png?v=1#x",
                           "img/b.00112233.png", NULL};

    (void) state;
    publish_refs_init(&refs);
    publish_css_collect(css, strlen(css), 0, 1, PUBLISH_REF_NOGROUP, &refs);
    assert_int_equal(refs.n, 4);
    assert_string_equal(refs.refs[0].url, "base.css");
    assert_string_equal(refs.refs[1].url, "img/a.png?v=1#x");
    assert_int_equal(refs.refs[1].line, 2);
    assert_string_equal(refs.refs[2].url, "img/b.png");
    assert_false(refs.refs[2].raw_is_url);
    assert_string_equal(refs.refs[3].url, "http://x/y.png");
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, css, strlen(css), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data,
                        "@import 'base.0a1b2c3d.css';\n"
                        "a{background:url(img/a.89abcdef.png?v=1#x)}\n"
                        "b{background:url(\"img/b.00112233.png\")}\n"
                        "c{background:url(http://x/y.png)}");
    publish_refs_release(&refs);
    pier_buf_release(&out);
}

/* A replacement with characters CSS or HTML would misread is escaped. */
static void
test_css_rewrite_escapes_new_text(void **state)
{
    const char *css = "a{b:url(x.png)}";
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;
    const char *urls[1] = {"x(1) \"&.png"};

    (void) state;
    publish_refs_init(&refs);
    publish_css_collect(css, strlen(css), 0, 1, PUBLISH_REF_NOGROUP, &refs);
    assert_int_equal(refs.n, 1);
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, css, strlen(css), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data, "a{b:url(x\\28 1\\29 \\20 \\22 \\26 .png)}");
    publish_refs_release(&refs);
    pier_buf_release(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_css_url_forms),
        cmocka_unit_test(test_css_byte_by_byte),
        cmocka_unit_test(test_css_comments_hide_urls),
        cmocka_unit_test(test_css_strings_hide_urls),
        cmocka_unit_test(test_css_imports),
        cmocka_unit_test(test_css_image_set),
        cmocka_unit_test(test_css_escapes),
        cmocka_unit_test(test_css_unescape_code_points),
        cmocka_unit_test(test_css_broken_tokens),
        cmocka_unit_test(test_css_collect_and_rewrite),
        cmocka_unit_test(test_css_rewrite_escapes_new_text),
    };

    return cmocka_run_group_tests_name("publish/css", tests, NULL, NULL);
}
