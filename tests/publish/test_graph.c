/*
 * tests/publish/test_graph.c - publish/graph.c: which files are assets,
 * hashed names bottom-up, the rewritten bytes, cycles, missing files,
 * <base href>, pretty URLs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/graph.h"

#include <stdio.h>
#include <stdlib.h>

static const struct publish_graph_opts opts = {.hash = true, .hash_len = 10};

static struct publish_graph *
build(const struct publish_graph_in *in, size_t n,
      const struct publish_graph_opts *o)
{
    struct pier_err err;
    struct publish_graph *g = publish_graph_build(in, n, o, &err);

    if (g == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(publish_graph_count(g), n);
    return g;
}

static const struct publish_graph_out *
out_of(const struct publish_graph *g, const char *path)
{
    size_t i;

    for (i = 0; i < publish_graph_count(g); i++) {
        if (strcmp(publish_graph_get(g, i)->path, path) == 0) {
            return publish_graph_get(g, i);
        }
    }
    fail_msg("no output '%s'", path);
    return NULL;
}

/* The hashed name a file with these bytes gets. */
static void
name_for(const char *path, const char *bytes, size_t n, char *out, size_t outn)
{
    char hex[PUBLISH_SHA256_HEX];
    struct pier_buf b;

    publish_sha256_hex(bytes, n, hex);
    pier_buf_init(&b, SIZE_MAX);
    publish_graph_hashed_path(path, hex, 10, &b);
    snprintf(out, outn, "%s", b.data);
    pier_buf_release(&b);
}

#define IN(p, s)                                       \
    {                                                  \
        .path = (p), .data = (s), .len = sizeof(s) - 1 \
    }

static void
test_graph_hashes_children_first(void **state)
{
    static const char html[] =
        "<!doctype html>\n<link rel=stylesheet href=\"css/site.css\">\n"
        "<img src=\"img/logo.png?v=1#x\" alt=logo>\n"
        "<script src=/app.js></script><a href=\"robots.txt\">r</a>\n";
    static const char site_css[] =
        "@import 'base.css';\nbody{background:url(../img/bg.png)}\n";
    static const char base_css[] =
        "@font-face{src:url(\"/fonts/f.woff2\") format('woff2')}\n";
    const struct publish_graph_in in[] = {
        IN("index.html", html),           IN("css/site.css", site_css),
        IN("css/base.css", base_css),     IN("img/logo.png", "PNG-logo"),
        IN("img/bg.png", "PNG-bg"),       IN("fonts/f.woff2", "WOFF2"),
        IN("app.js", "console.log(1)\n"), IN("robots.txt", "User-agent: *\n"),
        IN("unused.png", "PNG-unused"),
    };
    char font[64], bg[64], logo[64], js[64], base[64], site[64];
    char want_base[256], want_site[256], want_html[512];
    struct publish_graph *g;
    const struct publish_graph_out *o;

    (void) state;
    /* Leaves: their own bytes. */
    name_for("fonts/f.woff2", "WOFF2", 5, font, sizeof(font));
    name_for("img/bg.png", "PNG-bg", 6, bg, sizeof(bg));
    name_for("img/logo.png", "PNG-logo", 8, logo, sizeof(logo));
    name_for("app.js", "console.log(1)\n", 15, js, sizeof(js));
    /* base.css after its rewrite, then site.css after its own. */
    snprintf(want_base, sizeof(want_base),
             "@font-face{src:url(\"/%s\") format('woff2')}\n", font);
    name_for("css/base.css", want_base, strlen(want_base), base, sizeof(base));
    snprintf(want_site, sizeof(want_site),
             "@import '%s';\nbody{background:url(../%s)}\n", base + 4, bg);
    name_for("css/site.css", want_site, strlen(want_site), site, sizeof(site));
    g = build(in, PIER_NELEMS(in), &opts);
    snprintf(want_html, sizeof(want_html),
             "<!doctype html>\n<link rel=stylesheet href=\"%s\">\n"
             "<img src=\"%s?v=1#x\" alt=logo>\n"
             "<script src=/%s></script><a href=\"robots.%.10s.txt\">r</a>\n",
             site, logo, js, out_of(g, "robots.txt")->sha256);
    o = out_of(g, "css/base.css");
    assert_string_equal(o->hashed, base);
    assert_true(o->rewritten);
    assert_int_equal(o->len, strlen(want_base));
    assert_memory_equal(o->data, want_base, o->len);
    o = out_of(g, "css/site.css");
    assert_string_equal(o->hashed, site);
    assert_memory_equal(o->data, want_site, o->len);
    assert_string_equal(o->type, "text/css; charset=utf-8");
    o = out_of(g, "index.html");
    assert_null(o->hashed); /* HTML is an entry */
    assert_int_equal(o->len, strlen(want_html));
    assert_memory_equal(o->data, want_html, o->len);
    assert_string_equal(out_of(g, "img/logo.png")->hashed, logo);
    assert_string_equal(out_of(g, "app.js")->hashed, js);
    assert_false(out_of(g, "img/logo.png")->rewritten);
    /* Nothing references it: an entry only. */
    assert_null(out_of(g, "unused.png")->hashed);
    assert_int_equal(publish_graph_nwarnings(g), 0);
    publish_graph_free(g);
}

/* A changed image renames the CSS that uses it, not its siblings. */
static void
test_graph_change_propagates_up(void **state)
{
    struct publish_graph_in in[] = {
        IN("index.html", "<link rel=stylesheet href=a.css>"),
        IN("a.css", "@import 'b.css'; x{background:url(i.png)}"),
        IN("b.css", "y{background:url(j.png)}"),
        IN("i.png", "one"),
        IN("j.png", "same"),
    };
    struct publish_graph *g1, *g2;

    (void) state;
    g1 = build(in, PIER_NELEMS(in), &opts);
    in[3].data = "two";
    g2 = build(in, PIER_NELEMS(in), &opts);
    assert_string_not_equal(out_of(g1, "i.png")->hashed,
                            out_of(g2, "i.png")->hashed);
    assert_string_not_equal(out_of(g1, "a.css")->hashed,
                            out_of(g2, "a.css")->hashed);
    assert_string_equal(out_of(g1, "b.css")->hashed,
                        out_of(g2, "b.css")->hashed);
    assert_string_equal(out_of(g1, "j.png")->hashed,
                        out_of(g2, "j.png")->hashed);
    assert_string_not_equal(out_of(g1, "index.html")->sha256,
                            out_of(g2, "index.html")->sha256);
    publish_graph_free(g1);
    publish_graph_free(g2);
}

static void
test_graph_cycles_keep_plain_names(void **state)
{
    const struct publish_graph_in in[] = {
        IN("index.html", "<link rel=stylesheet href=a.css>"
                         "<link rel=stylesheet href=c.css>"
                         "<link rel=stylesheet href=self.css>"),
        IN("a.css", "@import 'b.css'; x{background:url(i.png)}"),
        IN("b.css", "@import url(a.css);"),
        IN("c.css", "@import 'a.css';"),
        IN("self.css", "@import 'self.css';"),
        IN("i.png", "img"),
    };
    struct publish_graph *g;
    const struct publish_graph_out *a;
    size_t i;
    bool saw_ab = false, saw_self = false;

    (void) state;
    g = build(in, PIER_NELEMS(in), &opts);
    a = out_of(g, "a.css");
    assert_null(a->hashed);
    assert_null(out_of(g, "b.css")->hashed);
    assert_null(out_of(g, "self.css")->hashed);
    /* a.css still points at the hashed image, and at b.css as is. */
    assert_true(a->rewritten);
    assert_non_null(strstr(a->data, "@import 'b.css';"));
    assert_non_null(strstr(a->data, out_of(g, "i.png")->hashed));
    /* c.css imports a cycle but is not in one. */
    assert_non_null(out_of(g, "c.css")->hashed);
    assert_false(out_of(g, "c.css")->rewritten);
    for (i = 0; i < publish_graph_nwarnings(g); i++) {
        const char *w = publish_graph_warning(g, i);

        saw_ab |= strstr(w, "a.css -> b.css -> a.css") != NULL;
        saw_self |= strstr(w, "self.css -> self.css") != NULL;
    }
    assert_true(saw_ab);
    assert_true(saw_self);
    assert_int_equal(publish_graph_nwarnings(g), 2);
    publish_graph_free(g);
}

static void
test_graph_missing_files_warn_with_line(void **state)
{
    const struct publish_graph_in in[] = {
        IN("blog/post.html",
           "<p>\n<img src=\"img/gone.png\">\n"
           "<a href=\"https://x.org/\">x</a>"
           "<a href=\"#top\">t</a>"
           "<img src=\"data:image/png;base64,AA\">\n"
           "<a href=\"/about\">a</a><a href=\"../docs/\">d</a>"
           "<a href=\"/nowhere/\">n</a>"),
        IN("about.html", "<p>about"),
        IN("docs/index.html", "<p>docs"),
        IN("style.css", "a{b:url(\n\nmissing.svg)}"),
    };
    struct publish_graph *g;

    (void) state;
    g = build(in, PIER_NELEMS(in), &opts);
    assert_int_equal(publish_graph_nwarnings(g), 3);
    assert_string_equal(publish_graph_warning(g, 0),
                        "blog/post.html:2: 'img/gone.png' (img src): no such "
                        "file 'blog/img/gone.png'");
    assert_string_equal(publish_graph_warning(g, 1),
                        "blog/post.html:4: '/nowhere/' (a href): no such "
                        "file 'nowhere/'");
    assert_string_equal(publish_graph_warning(g, 2),
                        "style.css:3: 'missing.svg' (css url()): no such file "
                        "'missing.svg'");
    /* Pages are never assets, whoever links them. */
    assert_null(out_of(g, "about.html")->hashed);
    assert_null(out_of(g, "docs/index.html")->hashed);
    assert_false(out_of(g, "blog/post.html")->rewritten);
    publish_graph_free(g);
}

static void
test_graph_base_href(void **state)
{
    const struct publish_graph_in in[] = {
        IN("blog/a.html", "<base href=\"/assets/\"><img src=\"x.png\">"
                          "<img src=\"/y.png\">"),
        IN("blog/b.html", "<base href=\"https://cdn.example/\">"
                          "<img src=\"x.png\">"),
        IN("assets/x.png", "x"),
        IN("y.png", "y"),
    };
    struct publish_graph *g;
    const struct publish_graph_out *o;

    (void) state;
    g = build(in, PIER_NELEMS(in), &opts);
    assert_int_equal(publish_graph_nwarnings(g), 0);
    o = out_of(g, "blog/a.html");
    assert_true(o->rewritten);
    assert_non_null(strstr(o->data, out_of(g, "assets/x.png")->hashed + 7));
    assert_non_null(strstr(o->data, out_of(g, "y.png")->hashed));
    /* Off-site base: nothing is ours. */
    assert_false(out_of(g, "blog/b.html")->rewritten);
    publish_graph_free(g);
}

static void
test_graph_without_hashing(void **state)
{
    const struct publish_graph_opts plain = {.hash = false, .hash_len = 10};
    const struct publish_graph_in in[] = {
        IN("index.html", "<img src=a.png>"),
        IN("a.png", "a"),
    };
    struct publish_graph *g;

    (void) state;
    g = build(in, PIER_NELEMS(in), &plain);
    assert_null(out_of(g, "a.png")->hashed);
    assert_false(out_of(g, "index.html")->rewritten);
    assert_string_equal(out_of(g, "a.png")->sha256,
                        "ca978112ca1bbdcafac231b39a23dc4d"
                        "a786eff8147c4e72b9807785afee48bb");
    publish_graph_free(g);
}

/* A file whose SHA-256 the live manifest knows need not be read. */
static void
test_graph_known_hash_without_bytes(void **state)
{
    static const char sha[] = "1111111111111111111111111111111111111111111111"
                              "111111111111111111";
    const struct publish_graph_in in[] = {
        IN("index.html", "<img src=big.jpg>"),
        {.path = "big.jpg", .len = 123456, .sha256 = sha},
    };
    struct publish_graph *g;
    const struct publish_graph_out *o;

    (void) state;
    g = build(in, PIER_NELEMS(in), &opts);
    o = out_of(g, "big.jpg");
    assert_null(o->data);
    assert_int_equal(o->len, 123456);
    assert_string_equal(o->sha256, sha);
    assert_string_equal(o->hashed, "big.1111111111.jpg");
    assert_string_equal(out_of(g, "index.html")->data,
                        "<img src=big.1111111111.jpg>");
    publish_graph_free(g);
}

/* What an incremental publish passes for unchanged documents: not
 * parsed, bytes known by hash; and assets of the live deploy stay assets
 * even when no parsed document references them. */
static void
test_graph_opaque_and_forced_assets(void **state)
{
    static const char sha_css[] = "2222222222222222222222222222222222222222"
                                  "222222222222222222222222";
    static const char sha_page[] = "33333333333333333333333333333333333333"
                                   "33333333333333333333333333";
    static const char sha_png[] = "444444444444444444444444444444444444444"
                                  "4444444444444444444444444";
    const struct publish_graph_in in[] = {
        {.path = "old.html", .len = 10, .sha256 = sha_page, .opaque = true},
        {.path = "site.css",
         .len = 20,
         .sha256 = sha_css,
         .opaque = true,
         .asset = true},
        {.path = "logo.png", .len = 30, .sha256 = sha_png, .asset = true},
        {.path = "page.html",
         .len = 5,
         .sha256 = sha_page,
         .opaque = true,
         .asset = true},
        IN("new.html", "<link rel=stylesheet href=site.css>"),
    };
    struct publish_graph *g;

    (void) state;
    g = build(in, PIER_NELEMS(in), &opts);
    assert_string_equal(out_of(g, "site.css")->hashed, "site.2222222222.css");
    assert_false(out_of(g, "site.css")->rewritten);
    assert_null(out_of(g, "site.css")->data);
    assert_string_equal(out_of(g, "logo.png")->hashed, "logo.4444444444.png");
    assert_null(out_of(g, "page.html")->hashed); /* pages never are */
    assert_null(out_of(g, "old.html")->hashed);
    assert_string_equal(out_of(g, "old.html")->sha256, sha_page);
    assert_string_equal(out_of(g, "new.html")->data,
                        "<link rel=stylesheet href=site.2222222222.css>");
    publish_graph_free(g);
}

static void
test_graph_hashed_path_forms(void **state)
{
    const char *hex = "0123456789abcdef0123456789abcdef"
                      "0123456789abcdef0123456789abcdef";
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    publish_graph_hashed_path("css/site.css", hex, 10, &b);
    assert_string_equal(b.data, "css/site.0123456789.css");
    publish_graph_hashed_path("app.min.js", hex, 8, &b);
    assert_string_equal(b.data, "app.min.01234567.js");
    publish_graph_hashed_path("LICENSE", hex, 10, &b);
    assert_string_equal(b.data, "LICENSE.0123456789");
    publish_graph_hashed_path("a.d/.env", hex, 10, &b);
    assert_string_equal(b.data, "a.d/.env.0123456789");
    publish_graph_hashed_path("a.d/file", hex, 10, &b);
    assert_string_equal(b.data, "a.d/file.0123456789");
    pier_buf_release(&b);
}

/* sha384 of "alert(1)", "body{color:red}", "export{}" and sha256 and
 * sha512 of "alert(1)", from `openssl dgst -sha384 -binary | base64`. */
#define SRI_ALERT \
    "sha384-HT2E9NfWiuQ/w1PRai+hTyqW16NIoCGA/m8VQDUopfAtcz6YQjtsMmQd5uRbVDpW"
#define SRI_BODY \
    "sha384-8U9HYzsHbf55cFZyiWIE29+QPYQ9WO+U5uT/ViFw0TOwM2Fbbb74ZegzRV/nvwrD"
#define SRI_EXPORT \
    "sha384-T9wtfzHBAEG71Fa/wFmFXCrNCLZJB/nESrYm41otTxLB9m9XX4ftBy7LK/VKEMIL"
#define SRI256_ALERT "sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
#define SRI512_ALERT                                                       \
    "sha512-+uuYUxxe7oWIShQrWEmMn/fixz/rxDP4qcAZddXLDM3nN8/tpk1ZC2jXQk6N+" \
    "mXE65jwfzNVUJL/qjA3y9KbuQ=="

static void
test_graph_sri_digests(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    publish_graph_sri(PUBLISH_SRI_SHA384, "alert(1)", 8, &b);
    assert_string_equal(b.data, SRI_ALERT);
    publish_graph_sri(PUBLISH_SRI_SHA256, "alert(1)", 8, &b);
    assert_string_equal(b.data, SRI256_ALERT);
    publish_graph_sri(PUBLISH_SRI_SHA512, "alert(1)", 8, &b);
    assert_string_equal(b.data, SRI512_ALERT);
    pier_buf_release(&b);
}

/* Tricky markup, without hashing so that the expected bytes are plain:
 * each attribute is spliced in after the src or href value, quoted or
 * not, every other byte stays; tags that take no integrity, absolute and
 * missing URLs are left alone; an existing attribute is kept, with a
 * warning only when it does not match. */
static void
test_graph_sri_tricky_html(void **state)
{
    static const char html[] =
        "<!DOCTYPE html>\n"
        "<SCRIPT SRC=app.js></SCRIPT>\n"
        "<LINK REL=\"Stylesheet\" HREF='s.css'/>\n"
        "<link rel=preload as=SCRIPT href=\"app.js\" >\n"
        "<link rel=preload as=image href=s.css>\n"
        "<link rel=modulepreload href=m.js />\n"
        "<link rel=icon href=app.js>\n"
        "<script src=\"app.js\" integrity=\"" SRI_ALERT "\"></script>\n"
        "<script src=m.js integrity=\"sha384-AAAA\" defer></script>\n"
        "<script src=\"https://cdn.example/x.js\"></script>\n"
        "<script src=gone.js></script>\n"
        "<template><script src=app.js></script></template>\n";
    static const char want[] =
        "<!DOCTYPE html>\n"
        "<SCRIPT SRC=app.js integrity=\"" SRI_ALERT "\"></SCRIPT>\n"
        "<LINK REL=\"Stylesheet\" HREF='s.css' integrity=\"" SRI_BODY "\"/>\n"
        "<link rel=preload as=SCRIPT href=\"app.js\" integrity=\"" SRI_ALERT
        "\" >\n"
        "<link rel=preload as=image href=s.css>\n"
        "<link rel=modulepreload href=m.js integrity=\"" SRI_EXPORT "\" />\n"
        "<link rel=icon href=app.js>\n"
        "<script src=\"app.js\" integrity=\"" SRI_ALERT "\"></script>\n"
        "<script src=m.js integrity=\"sha384-AAAA\" defer></script>\n"
        "<script src=\"https://cdn.example/x.js\"></script>\n"
        "<script src=gone.js></script>\n"
        "<template><script src=app.js integrity=\"" SRI_ALERT
        "\"></script></template>\n";
    const struct publish_graph_in in[] = {
        IN("index.html", html),
        IN("app.js", "alert(1)"),
        IN("s.css", "body{color:red}"),
        IN("m.js", "export{}"),
    };
    const struct publish_graph_opts o = {
        .hash = false, .hash_len = 10, .integrity = PUBLISH_SRI_SHA384};
    struct publish_graph *g;
    const struct publish_graph_out *out;
    size_t i, mism = 0;

    (void) state;
    g = build(in, PIER_NELEMS(in), &o);
    out = out_of(g, "index.html");
    assert_true(out->rewritten);
    assert_int_equal(out->len, strlen(want));
    assert_memory_equal(out->data, want, out->len);
    for (i = 0; i < publish_graph_nwarnings(g); i++) {
        const char *w = publish_graph_warning(g, i);

        if (strstr(w, "does not match") != NULL) {
            mism++;
            assert_non_null(strstr(w, "index.html:9: 'm.js'"));
            assert_non_null(strstr(w, SRI_EXPORT));
        }
    }
    assert_int_equal(mism, 1);
    publish_graph_free(g);
}

/* With hashing, the integrity covers the stylesheet as rewritten (its
 * image renamed), and an unchanged script given only by hash is read
 * through the callback; an opaque stylesheet gets none, with a warning. */
static int
read_app(void *arg, size_t i, const char **data, size_t *len,
         struct pier_err *err)
{
    (void) err;
    *(size_t *) arg += 1;
    assert_int_equal(i, 2);
    *data = "alert(1)";
    *len = 8;
    return PIER_OK;
}

static void
test_graph_sri_rewritten_and_read(void **state)
{
    static const char sha_app[] = "5555555555555555555555555555555555555555"
                                  "555555555555555555555555";
    static const char sha_old[] = "6666666666666666666666666666666666666666"
                                  "666666666666666666666666";
    static const char css[] = "a{background:url(bg.png)}";
    const struct publish_graph_in in[] = {
        IN("index.html", "<link rel=stylesheet href=s.css>"
                         "<script src=app.js></script>"
                         "<link rel=stylesheet href=old.css>"),
        IN("s.css", css),
        {.path = "app.js", .len = 8, .sha256 = sha_app},
        IN("bg.png", "PNG"),
        {.path = "old.css", .len = 3, .sha256 = sha_old, .opaque = true},
    };
    struct publish_graph_opts o = {.hash = true,
                                   .hash_len = 10,
                                   .integrity = PUBLISH_SRI_SHA384,
                                   .read = read_app};
    char bg[64], want_css[128], want[1024];
    struct publish_graph *g;
    const struct publish_graph_out *s, *h;
    struct pier_buf sri;
    size_t calls = 0, i;
    bool warned = false;

    (void) state;
    o.read_arg = &calls;
    name_for("bg.png", "PNG", 3, bg, sizeof(bg));
    snprintf(want_css, sizeof(want_css), "a{background:url(%s)}", bg);
    g = build(in, PIER_NELEMS(in), &o);
    s = out_of(g, "s.css");
    assert_memory_equal(s->data, want_css, s->len);
    pier_buf_init(&sri, SIZE_MAX);
    publish_graph_sri(PUBLISH_SRI_SHA384, want_css, strlen(want_css), &sri);
    snprintf(want, sizeof(want),
             "<link rel=stylesheet href=%s integrity=\"%s\">"
             "<script src=app.5555555555.js integrity=\"" SRI_ALERT
             "\"></script>"
             "<link rel=stylesheet href=old.6666666666.css>",
             s->hashed, sri.data);
    h = out_of(g, "index.html");
    assert_int_equal(h->len, strlen(want));
    assert_memory_equal(h->data, want, h->len);
    assert_int_equal(calls, 1);
    for (i = 0; i < publish_graph_nwarnings(g); i++) {
        warned |= strstr(publish_graph_warning(g, i), "'old.css': no integrity")
                  != NULL;
    }
    assert_true(warned);
    pier_buf_release(&sri);
    publish_graph_free(g);
}

/* Enough files to run on every core: the same bytes as one thread would
 * make, and the warnings in file order. */
static void
test_graph_many_files_on_threads(void **state)
{
    enum { PAGES = 600 };
    static const char css[] = "a{background:url(bg.png)}";
    static const char js[] = "alert(1)";
    struct publish_graph_in in[PAGES + 3];
    struct publish_graph_opts o = {.hash = true,
                                   .hash_len = 10,
                                   .integrity = PUBLISH_SRI_SHA256};
    char (*paths)[32] = calloc(PAGES, sizeof(*paths));
    char (*docs)[256] = calloc(PAGES, sizeof(*docs));
    char bg[64], want_css[128], cssname[64], jsname[64], want[512];
    struct pier_buf sri_css, sri_js;
    struct publish_graph *g;
    size_t i;

    (void) state;
    assert_non_null(paths);
    assert_non_null(docs);
    /* Pages first, in reverse order of their names: "file order" is the
     * input's. */
    for (i = 0; i < PAGES; i++) {
        snprintf(paths[i], sizeof(paths[i]), "d/p%03zu.html", PAGES - 1 - i);
        snprintf(docs[i], sizeof(docs[i]),
                 "<link rel=stylesheet href=../s.css>"
                 "<script src=/app.js></script><a href=gone%zu.html>x</a>",
                 PAGES - 1 - i);
        in[i] = (struct publish_graph_in){
            .path = paths[i], .data = docs[i], .len = strlen(docs[i])};
    }
    in[PAGES] = (struct publish_graph_in) IN("s.css", css);
    in[PAGES + 1] = (struct publish_graph_in) IN("app.js", js);
    in[PAGES + 2] = (struct publish_graph_in) IN("bg.png", "PNG");
    name_for("bg.png", "PNG", 3, bg, sizeof(bg));
    snprintf(want_css, sizeof(want_css), "a{background:url(%s)}", bg);
    name_for("s.css", want_css, strlen(want_css), cssname, sizeof(cssname));
    name_for("app.js", js, strlen(js), jsname, sizeof(jsname));
    pier_buf_init(&sri_css, SIZE_MAX);
    pier_buf_init(&sri_js, SIZE_MAX);
    publish_graph_sri(PUBLISH_SRI_SHA256, want_css, strlen(want_css),
                      &sri_css);
    publish_graph_sri(PUBLISH_SRI_SHA256, js, strlen(js), &sri_js);
    g = build(in, PIER_NELEMS(in), &o);
    assert_int_equal(publish_graph_nwarnings(g), PAGES);
    for (i = 0; i < PAGES; i++) {
        const struct publish_graph_out *h = publish_graph_get(g, i);
        char gone[64];

        snprintf(want, sizeof(want),
                 "<link rel=stylesheet href=../%s integrity=\"%s\">"
                 "<script src=/%s integrity=\"%s\"></script>"
                 "<a href=gone%zu.html>x</a>",
                 cssname, sri_css.data, jsname, sri_js.data, PAGES - 1 - i);
        assert_string_equal(h->path, paths[i]);
        assert_int_equal(h->len, strlen(want));
        assert_memory_equal(h->data, want, h->len);
        assert_null(h->hashed);
        snprintf(gone, sizeof(gone), "%s:1: 'gone%zu.html'", paths[i],
                 PAGES - 1 - i);
        assert_non_null(strstr(publish_graph_warning(g, i), gone));
    }
    assert_string_equal(publish_graph_get(g, PAGES)->hashed, cssname);
    pier_buf_release(&sri_css);
    pier_buf_release(&sri_js);
    publish_graph_free(g);
    free(paths);
    free(docs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_hashes_children_first),
        cmocka_unit_test(test_graph_change_propagates_up),
        cmocka_unit_test(test_graph_cycles_keep_plain_names),
        cmocka_unit_test(test_graph_missing_files_warn_with_line),
        cmocka_unit_test(test_graph_base_href),
        cmocka_unit_test(test_graph_without_hashing),
        cmocka_unit_test(test_graph_known_hash_without_bytes),
        cmocka_unit_test(test_graph_opaque_and_forced_assets),
        cmocka_unit_test(test_graph_hashed_path_forms),
        cmocka_unit_test(test_graph_sri_digests),
        cmocka_unit_test(test_graph_sri_tricky_html),
        cmocka_unit_test(test_graph_sri_rewritten_and_read),
        cmocka_unit_test(test_graph_many_files_on_threads),
    };

    return cmocka_run_group_tests_name("publish/graph", tests, NULL, NULL);
}
