/*
 * tests/sites/test_headers.c - sites/headers.c: the _headers syntax,
 * combining matching blocks, header injection and forbidden headers, and
 * errors that name their line.
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
#include "sites/headers.h"

static const char sample[] =
    "# Security for every page\n"
    "/*\n"
    "  X-Frame-Options: DENY\n"
    "  X-Content-Type-Options: nosniff\n"
    "\n"
    "/assets/*\r\n"
    "\tCache-Control: public, max-age=31536000, immutable\r\n"
    "  Access-Control-Allow-Origin: *\n"
    "/blog/:slug\n"
    "  # a comment inside a block\n"
    "  Link: </style.css>; rel=preload; as=style\n"
    "  link: </app.js>; rel=preload; as=script\n"
    "  Set-Cookie: a=1\n"
    "  Set-Cookie: b=2\n"
    "/blog/:slug\n"
    "  X-Frame-Options :  SAMEORIGIN  \n"
    "/empty\n"
    "/caf%C3%A9\n"
    "  X-Cafe: yes";

static struct sites_headers *
parse_exact(const char *text, size_t n, struct pier_err *err)
{
    char *copy = malloc(n > 0 ? n : 1);
    struct sites_headers *h;

    assert_non_null(copy);
    memcpy(copy, text, n);
    h = sites_headers_parse("_headers", copy, n, err);
    free(copy);
    return h;
}

static struct sites_headers *
parse_ok(const char *text)
{
    struct pier_err err = {0};
    struct sites_headers *h = parse_exact(text, strlen(text), &err);

    if (h == NULL) {
        fail_msg("parse failed: %s", err.msg);
    }
    return h;
}

static void
check(const struct sites_headers *h, const char *path, int lines,
      const char *want)
{
    struct pier_buf out;
    struct pier_err err;
    int got;

    pier_buf_init(&out, 8192);
    got = sites_headers_match(h, pier_str_cstr(path), &out, &err);
    if (got != lines || strcmp(out.data, want) != 0) {
        fail_msg("'%s': %d lines '%s', wanted %d '%s'", path, got, out.data,
                 lines, want);
    }
    pier_buf_release(&out);
}

static void
test_headers_sample_file(void **state)
{
    struct sites_headers *h = parse_ok(sample);

    (void) state;
    assert_int_equal(sites_headers_count(h), 6);
    check(h, "/index.html", 2,
          "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n");
    check(h, "/assets/app.js", 4,
          "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n"
          "Cache-Control: public, max-age=31536000, immutable\r\n"
          "Access-Control-Allow-Origin: *\r\n");
    /* Three blocks match: the last that sets a name wins (at the place
     * the name first appeared); values repeated in one block join,
     * whatever their case; Set-Cookie lines stay apart. */
    check(h, "/blog/hello", 5,
          "X-Frame-Options: SAMEORIGIN\r\n"
          "X-Content-Type-Options: nosniff\r\n"
          "Link: </style.css>; rel=preload; as=style, </app.js>; "
          "rel=preload; as=script\r\n"
          "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n");
    check(h, "/caf\xc3\xa9", 3,
          "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n"
          "X-Cafe: yes\r\n");
    assert_true(sites_headers_sets(h, PIER_STR("/assets/x.css"),
                                   PIER_STR("cache-control")));
    assert_false(sites_headers_sets(h, PIER_STR("/index.html"),
                                    PIER_STR("Cache-Control")));
    sites_headers_free(h);
    sites_headers_free(NULL);
}

/* A later block overrides an earlier one, even when it sets the name in
 * another case or fewer times; an earlier block's repeats do not leak. */
static void
test_headers_later_block_wins(void **state)
{
    struct sites_headers *h = parse_ok("/*\n"
                                       "  Cache-Control: max-age=0\n"
                                       "  Cache-Control: must-revalidate\n"
                                       "  Set-Cookie: a=1\n"
                                       "  X-Only-Root: 1\n"
                                       "/assets/*\n"
                                       "  cache-control: max-age=31536000\n"
                                       "  Set-Cookie: b=2\n"
                                       "  Set-Cookie: c=3\n"
                                       "/nothing\n"
                                       "  Cache-Control: no-store\n");

    (void) state;
    check(h, "/index.html", 3,
          "Cache-Control: max-age=0, must-revalidate\r\n"
          "Set-Cookie: a=1\r\nX-Only-Root: 1\r\n");
    check(h, "/assets/a.css", 4,
          "cache-control: max-age=31536000\r\n"
          "Set-Cookie: b=2\r\nSet-Cookie: c=3\r\nX-Only-Root: 1\r\n");
    sites_headers_free(h);
}

static void
test_headers_empty(void **state)
{
    struct sites_headers *h = parse_ok("");

    (void) state;
    assert_int_equal(sites_headers_count(h), 0);
    check(h, "/", 0, "");
    sites_headers_free(h);
    h = parse_ok("# nothing\n\n   \n");
    assert_int_equal(sites_headers_count(h), 0);
    sites_headers_free(h);
}

static void
test_headers_limit(void **state)
{
    struct sites_headers *h = parse_ok("/*\n  X-A: 0123456789\n");
    struct pier_buf out;
    struct pier_err err;

    (void) state;
    pier_buf_init(&out, 10);
    assert_int_equal(pier_buf_adds(&out, "ab"), PIER_OK);
    assert_int_equal(sites_headers_match(h, PIER_STR("/x"), &out, &err),
                     PIER_ERR);
    assert_string_equal(out.data, "ab");
    assert_non_null(strstr(err.msg, "longer than 10"));
    pier_buf_release(&out);
    sites_headers_free(h);
}

static void
test_headers_check(void **state)
{
    struct pier_err err;

    (void) state;
    assert_int_equal(
        sites_header_check(PIER_STR("X-A"), PIER_STR("b\tc"), &err), PIER_OK);
    assert_int_equal(sites_header_check(PIER_STR("X-A"), PIER_STR(""), &err),
                     PIER_OK);
    assert_int_equal(sites_header_check(PIER_STR("X A"), PIER_STR("b"), &err),
                     PIER_ERR);
    assert_int_equal(sites_header_check(PIER_STR(""), PIER_STR("b"), &err),
                     PIER_ERR);
    assert_int_equal(
        sites_header_check(PIER_STR("X-A"), pier_str_make("a\0b", 3), &err),
        PIER_ERR);
    assert_string_equal(err.msg, "bad byte 0x00 in value of 'X-A'");
    assert_int_equal(sites_header_check(PIER_STR("TRANSFER-encoding"),
                                        PIER_STR("chunked"), &err),
                     PIER_ERR);
    assert_int_equal(
        sites_header_check(PIER_STR("Connection"), PIER_STR("close"), &err),
        PIER_ERR);
    assert_int_equal(
        sites_header_check(PIER_STR("content-length"), PIER_STR("1"), &err),
        PIER_ERR);
}

/* Each bad line, after a good block, gives "_headers:4: reason". */
static void
test_headers_errors_name_line(void **state)
{
    static const struct {
        const char *line;
        const char *msg;
    } cases[] = {
        {"  X-Frame-Options DENY", "needs 'Name: value'"},
        {"  Content-Length: 10", "header 'Content-Length' may not be set"},
        {"  Transfer-Encoding: chunked", "may not be set"},
        {"  Connection: close", "may not be set"},
        {"  Keep-Alive: 5", "may not be set"},
        {"  Upgrade: h2c", "may not be set"},
        {"  X-Bad Name: 1", "bad byte 0x20 in header name"},
        {"  : nothing", "empty header name"},
        {"  X-A: a\x01", "control byte 0x01"},
        {"  X-A: a\rSet-Cookie: x", "CR not followed by LF"},
        {"  Basic-Auth: user:secret", "Basic-Auth is not supported"},
        {"X-Frame-Options: DENY", "must be indented"},
        {"https://example.com/*", "a path with a host"},
        {"/a?b=1", "query strings"},
        {"/a b", "a path holds no blank"},
        {"/a*", "'*' must be a whole segment"},
        {"/*/x", "'*' must be the last segment"},
        {"/a/:x/:x", "used twice"},
        {"nopath", "does not start with '/'"},
    };
    char text[256];
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        int n = snprintf(text, sizeof(text),
                         "/ok\n  X-A: b\n# comment\n%s\n/x\n  X-B: c\n",
                         cases[i].line);

        memset(&err, 0, sizeof(err));
        if (parse_exact(text, (size_t) n, &err) != NULL) {
            fail_msg("case %zu ('%s') parsed", i, cases[i].line);
        }
        if (strncmp(err.msg, "_headers:4: ", 12) != 0
            || strstr(err.msg, cases[i].msg) == NULL) {
            fail_msg("case %zu: '%s' lacks '_headers:4: ...%s'", i, err.msg,
                     cases[i].msg);
        }
    }
    assert_null(parse_exact("  X-A: b\n", 9, &err));
    assert_string_equal(err.msg, "_headers:1: a header before any path");
    assert_null(parse_exact("/a\n  X-A: b\0c\n", 14, &err));
    assert_string_equal(err.msg, "_headers:2: control byte 0x00");
}

/* A header value can never carry a line break into the output, whatever
 * the input: every line of the output is "Name: value". */
static void
assert_clean(const struct sites_headers *h)
{
    static const char *const paths[] = {"/", "/blog/x", "/assets/a/b",
                                        "/caf\xc3\xa9"};
    struct pier_buf out;
    struct pier_err err;
    size_t i;
    int n;

    pier_buf_init(&out, 65536);
    for (i = 0; i < PIER_NELEMS(paths); i++) {
        const char *p, *eol;
        int lines = 0;

        pier_buf_reset(&out);
        n = sites_headers_match(h, pier_str_cstr(paths[i]), &out, &err);
        assert_true(n >= 0);
        for (p = out.data; *p != '\0'; p = eol + 2) {
            eol = strstr(p, "\r\n");
            assert_non_null(eol);
            assert_non_null(memchr(p, ':', (size_t) (eol - p)));
            assert_null(memchr(p, '\n', (size_t) (eol - p)));
            assert_null(memchr(p, '\r', (size_t) (eol - p)));
            lines++;
        }
        assert_int_equal(lines, n);
    }
    pier_buf_release(&out);
}

static void
test_headers_byte_varied(void **state)
{
    static const char subst[] = {' ', '\n', '\r', ':',  '*', '/',
                                 '%', '#',  'x',  '\t', ',', 0};
    char buf[sizeof(sample)];
    size_t n = sizeof(sample) - 1, i, k, ok = 0, bad = 0;
    struct pier_err err;
    struct sites_headers *h;

    (void) state;
    for (i = 0; i <= n; i++) {
        h = parse_exact(sample, i, &err);
        if (h == NULL) {
            assert_int_equal(strncmp(err.msg, "_headers:", 9), 0);
        } else {
            assert_clean(h);
        }
        sites_headers_free(h);
    }
    memcpy(buf, sample, n);
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(subst); k++) {
            unsigned long line;
            char *end;

            buf[i] = subst[k];
            h = parse_exact(buf, n, &err);
            if (h != NULL) {
                ok++;
                assert_clean(h);
                sites_headers_free(h);
                continue;
            }
            bad++;
            assert_int_equal(strncmp(err.msg, "_headers:", 9), 0);
            line = strtoul(err.msg + 9, &end, 10);
            assert_true(line >= 1 && line <= 20);
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
        cmocka_unit_test(test_headers_sample_file),
        cmocka_unit_test(test_headers_empty),
        cmocka_unit_test(test_headers_later_block_wins),
        cmocka_unit_test(test_headers_limit),
        cmocka_unit_test(test_headers_check),
        cmocka_unit_test(test_headers_errors_name_line),
        cmocka_unit_test(test_headers_byte_varied),
    };

    return cmocka_run_group_tests_name("sites/headers", tests, NULL, NULL);
}
