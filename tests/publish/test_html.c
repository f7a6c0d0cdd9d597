/*
 * tests/publish/test_html.c - publish/html.c: which attributes count,
 * their offsets in the original bytes, srcset, entities, <base>,
 * <template>, comments, and the byte-exact rewrite.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/html.h"

static void
collect(const char *doc, struct publish_refs *refs, struct pier_buf *base)
{
    struct pier_err err;

    publish_refs_init(refs);
    assert_int_equal(publish_html_collect(doc, strlen(doc), refs, base, &err),
                     PIER_OK);
}

/* Each exact reference's bytes in the document are its URL. */
static void
assert_offsets(const char *doc, const struct publish_refs *refs)
{
    size_t i;

    for (i = 0; i < refs->n; i++) {
        const struct publish_ref *r = &refs->refs[i];

        if (r->group == PUBLISH_REF_NOGROUP && r->raw_is_url) {
            assert_int_equal(r->end - r->start, strlen(r->url));
            assert_memory_equal(doc + r->start, r->url, strlen(r->url));
        }
    }
}

static void
test_html_finds_each_kind(void **state)
{
    const char *doc =
        "<!doctype html><html><head>\n"
        "<link rel=stylesheet href=\"css/a.css\">\n"
        "<link rel=\"shortcut icon\" href='fav.ico'>\n"
        "<link rel=canonical href=\"https://x/\">\n"
        "<link rel=modulepreload href=m.js>\n"
        "<script src=\"app.js\"></script>\n"
        "</head><body>\n"
        "<a href=\"page.html#top\">p</a>\n"
        "<img src=logo.png alt=x>\n"
        "<video src=v.mp4 poster=\"poster.jpg\"></video>\n"
        "<object data=\"doc.pdf\"></object>\n"
        "<picture><source srcset=\"s.webp\" type=image/webp></picture>\n"
        "<iframe src=\"frame.html\"></iframe>\n"
        "</body></html>\n";
    static const char *const want[] = {
        "css/a.css",     "fav.ico",  "m.js",       "app.js",
        "page.html#top", "logo.png", "v.mp4",      "poster.jpg",
        "doc.pdf",       "s.webp",   "frame.html",
    };
    struct publish_refs refs;
    size_t i;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, PIER_NELEMS(want));
    for (i = 0; i < refs.n; i++) {
        assert_string_equal(refs.refs[i].url, want[i]);
    }
    assert_int_equal(refs.refs[0].line, 2);
    assert_int_equal(refs.refs[5].line, 9);
    assert_string_equal(refs.refs[5].what, "img src");
    assert_offsets(doc, &refs);
    publish_refs_release(&refs);
}

static void
test_html_uppercase_comments_template(void **state)
{
    const char *doc = "<HTML><BODY><!-- <img src=\"no.png\"> -->"
                      "<IMG SRC=\"UP.PNG\">"
                      "<template><img src=\"t.png\"></template>"
                      "<script>var s = '<img src=\"js.png\">';</script>"
                      "<textarea><img src=\"ta.png\"></textarea>"
                      "</BODY></HTML>";
    struct publish_refs refs;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, 2);
    assert_string_equal(refs.refs[0].url, "UP.PNG");
    assert_string_equal(refs.refs[1].url, "t.png");
    assert_offsets(doc, &refs);
    publish_refs_release(&refs);
}

struct span {
    size_t off[8], len[8];
    size_t n;
};

static void
on_candidate(void *arg, size_t off, size_t len)
{
    struct span *s = arg;

    assert_true(s->n < 8);
    s->off[s->n] = off;
    s->len[s->n] = len;
    s->n++;
}

static void
test_html_srcset_descriptors(void **state)
{
    const char *v = "  small.jpg 480w,\n large.jpg  1080w , a.png,b.png 2x,"
                    "data:image/png;base64,AA== 3x, c.png (x, y) 1x, d.png";
    /* A URL ends at whitespace: "a.png,b.png" is one URL (HTML's srcset
     * parsing strips only trailing commas). */
    static const char *const want[] = {
        "small.jpg", "large.jpg", "a.png,b.png", "data:image/png;base64,AA==",
        "c.png",     "d.png",
    };
    struct span s = {0};
    size_t i;

    (void) state;
    publish_html_srcset(v, strlen(v), on_candidate, &s);
    assert_int_equal(s.n, PIER_NELEMS(want));
    for (i = 0; i < s.n; i++) {
        assert_int_equal(s.len[i], strlen(want[i]));
        assert_memory_equal(v + s.off[i], want[i], s.len[i]);
    }
}

static void
test_html_srcset_rewrite_keeps_descriptors(void **state)
{
    const char *doc = "<img srcset=\"a.png 1x, img/b.png 2x\" "
                      "src=\"a.png\">\n<source srcset='w.jpg 480w'>";
    const char *urls[4] = {NULL, "a.11111111.png", "img/b.22222222.png",
                           "w.33333333.jpg"};
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, 4);
    assert_string_equal(refs.refs[0].url, "a.png"); /* src, then srcset */
    assert_string_equal(refs.refs[1].url, "a.png");
    assert_string_equal(refs.refs[2].url, "img/b.png");
    assert_string_equal(refs.refs[3].url, "w.jpg");
    assert_offsets(doc, &refs);
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, doc, strlen(doc), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data,
                        "<img srcset=\"a.11111111.png 1x, img/b.22222222.png "
                        "2x\" src=\"a.png\">\n<source srcset='w.33333333.jpg "
                        "480w'>");
    pier_buf_release(&out);
    publish_refs_release(&refs);
}

/* Entity-encoded attributes are decoded for resolution and re-encoded
 * whole when rewritten; exact ones are spliced. */
static void
test_html_entities(void **state)
{
    const char *doc = "<img src=\"a&amp;b.png\">"
                      "<img src=\"c.png?x=1&amp;y=2\">"
                      "<a href=\"&#x2F;d.html\">d</a>"
                      "<img src=e&amp;f.png>";
    const char *urls[4] = {"a&b.01234567.png", "c.89abcdef.png?x=1&y=2", NULL,
                           "e&f.00000000.png"};
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, 4);
    assert_string_equal(refs.refs[0].url, "a&b.png");
    assert_int_not_equal(refs.refs[0].group, PUBLISH_REF_NOGROUP);
    assert_string_equal(refs.refs[1].url, "c.png?x=1&y=2");
    assert_string_equal(refs.refs[2].url, "/d.html");
    assert_string_equal(refs.refs[3].url, "e&f.png");
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, doc, strlen(doc), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data, "<img src=\"a&amp;b.01234567.png\">"
                                  "<img src=\"c.89abcdef.png?x=1&amp;y=2\">"
                                  "<a href=\"&#x2F;d.html\">d</a>"
                                  "<img src=\"e&amp;f.00000000.png\">");
    pier_buf_release(&out);
    publish_refs_release(&refs);
}

static void
test_html_base_href(void **state)
{
    const char *doc = "<head><base href=\"/assets/\"><base href=\"/no/\">"
                      "</head><img src=a.png>";
    struct publish_refs refs;
    struct pier_buf base;

    (void) state;
    pier_buf_init(&base, SIZE_MAX);
    collect(doc, &refs, &base);
    assert_string_equal(base.data, "/assets/");
    assert_int_equal(refs.n, 1);
    pier_buf_release(&base);
    publish_refs_release(&refs);
}

static void
test_html_style_attribute_and_element(void **state)
{
    const char *doc = "<style>\n@import 'x.css';\n"
                      "body{background:url(bg.png)}</style>\n"
                      "<div style=\"background:url('d.png')\"></div>"
                      "<p style=\"background:url(&quot;q.png&quot;)\"></p>";
    const char *urls[4] = {"x.0000000a.css", "bg.0000000b.png",
                           "d.0000000c.png", "q.0000000d.png"};
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, 4);
    assert_string_equal(refs.refs[0].url, "x.css");
    assert_int_equal(refs.refs[0].line, 2);
    assert_string_equal(refs.refs[1].url, "bg.png");
    assert_int_equal(refs.refs[1].line, 3);
    assert_string_equal(refs.refs[2].url, "d.png");
    assert_string_equal(refs.refs[3].url, "q.png");
    assert_offsets(doc, &refs);
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, doc, strlen(doc), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data,
                        "<style>\n@import 'x.0000000a.css';\n"
                        "body{background:url(bg.0000000b.png)}</style>\n"
                        "<div style=\"background:url('d.0000000c.png')\">"
                        "</div><p style=\"background:url(&quot;q.0000000d.png"
                        "&quot;)\"></p>");
    pier_buf_release(&out);
    publish_refs_release(&refs);
}

/* Nothing but the changed URLs moves: odd spacing, quotes and case stay. */
static void
test_html_rewrite_is_byte_exact(void **state)
{
    const char *doc = "<!DOCTYPE html>\r\n<HTML  lang=en>\r\n"
                      "<Link   REL = 'Stylesheet'   HREF = ' css/site.css ' >"
                      "\r\n<img\tsrc = \"/img/a.png\"\talt='a'  >"
                      "<p>text &amp; more</p></HTML>";
    const char *urls[2] = {"css/site.abcdef01.css", "/img/a.12345678.png"};
    struct publish_refs refs;
    struct pier_buf out;
    struct pier_err err;

    (void) state;
    collect(doc, &refs, NULL);
    assert_int_equal(refs.n, 2);
    assert_string_equal(refs.refs[0].url, "css/site.css");
    assert_offsets(doc, &refs);
    pier_buf_init(&out, SIZE_MAX);
    assert_int_equal(
        publish_refs_rewrite(&refs, doc, strlen(doc), urls, &out, &err),
        PIER_OK);
    assert_string_equal(out.data,
                        "<!DOCTYPE html>\r\n<HTML  lang=en>\r\n"
                        "<Link   REL = 'Stylesheet'   HREF = ' "
                        "css/site.abcdef01.css ' >"
                        "\r\n<img\tsrc = \"/img/a.12345678.png\"\talt='a'  >"
                        "<p>text &amp; more</p></HTML>");
    pier_buf_release(&out);
    publish_refs_release(&refs);
}

static void
test_html_broken_markup(void **state)
{
    const char *doc = "<img src=\"unterminated.png><img src=ok.png "
                      "<a href=\"\"><img src><p style=>";
    struct publish_refs refs;

    (void) state;
    collect(doc, &refs, NULL);
    assert_offsets(doc, &refs);
    publish_refs_release(&refs);
    collect("", &refs, NULL);
    assert_int_equal(refs.n, 0);
    publish_refs_release(&refs);
}

/* The tags an integrity can cover, with where the attribute goes and the
 * tag's own integrity value, decoded. */
static void
test_html_sri_tags(void **state)
{
    const char *doc =
        "<SCRIPT SRC=a.js></SCRIPT>"                              /* 0 */
        "<link rel='alternate stylesheet' href=\"b.css\"/>"       /* 1 */
        "<link rel=preload as=style href=c.css>"                  /* 2 */
        "<link rel=preload as=font href=f.woff2>"                 /* - */
        "<link rel=prefetch href=p.js>"                           /* - */
        "<link rel=modulepreload href=&#109;.js>"                 /* 3 */
        "<script src=d.js integrity=\"sha384-x&#43;y\"></script>" /* 4 */
        "<script>inline()</script><img src=i.png>";
    struct publish_refs refs;
    struct publish_html_sris sris;
    struct pier_err err;
    const char *after[] = {"></SCRIPT>", "/>", ">", ">", " integrity"};
    const char *url[] = {"a.js", "b.css", "c.css", "m.js", "d.js"};
    size_t i;

    (void) state;
    publish_refs_init(&refs);
    publish_html_sris_init(&sris);
    assert_int_equal(
        publish_html_collect_sri(doc, strlen(doc), &refs, NULL, &sris, &err),
        PIER_OK);
    assert_int_equal(sris.n, 5);
    for (i = 0; i < sris.n; i++) {
        assert_string_equal(refs.refs[sris.v[i].ref].url, url[i]);
        assert_memory_equal(doc + sris.v[i].at, after[i], strlen(after[i]));
        assert_int_equal(sris.v[i].line, 1);
    }
    assert_null(sris.v[0].integrity);
    assert_string_equal(sris.v[4].integrity, "sha384-x+y");
    publish_html_sris_release(&sris);
    publish_refs_release(&refs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_finds_each_kind),
        cmocka_unit_test(test_html_uppercase_comments_template),
        cmocka_unit_test(test_html_srcset_descriptors),
        cmocka_unit_test(test_html_srcset_rewrite_keeps_descriptors),
        cmocka_unit_test(test_html_entities),
        cmocka_unit_test(test_html_base_href),
        cmocka_unit_test(test_html_style_attribute_and_element),
        cmocka_unit_test(test_html_rewrite_is_byte_exact),
        cmocka_unit_test(test_html_broken_markup),
        cmocka_unit_test(test_html_sri_tags),
    };

    return cmocka_run_group_tests_name("publish/html", tests, NULL, NULL);
}
