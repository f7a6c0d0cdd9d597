/*
 * tests/sites/test_record.c - sites/record.c: names, domains, branches,
 * the INI record both ways, and the domain -> site table.
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
#include "sites/record.h"

static void
test_record_names_and_domains(void **state)
{
    char label[80];

    (void) state;
    assert_true(sites_name_ok(PIER_STR("blog")));
    assert_true(sites_name_ok(PIER_STR("my-site-2")));
    assert_true(sites_name_ok(PIER_STR("0")));
    assert_false(sites_name_ok(PIER_STR("")));
    assert_false(sites_name_ok(PIER_STR("-blog")));
    assert_false(sites_name_ok(PIER_STR("blog-")));
    assert_false(sites_name_ok(PIER_STR("Blog")));
    assert_false(sites_name_ok(PIER_STR("my_site")));
    assert_false(sites_name_ok(PIER_STR("a.b")));
    assert_false(sites_name_ok(PIER_STR("a/b")));
    assert_false(sites_name_ok(PIER_STR_NULL));
    memset(label, 'a', sizeof(label));
    assert_true(sites_name_ok(pier_str_make(label, 63)));
    assert_false(sites_name_ok(pier_str_make(label, 64)));

    assert_true(sites_domain_ok(PIER_STR("example.com"), false));
    assert_true(sites_domain_ok(PIER_STR("a-b.example.co.uk"), false));
    assert_true(sites_domain_ok(PIER_STR("localhost"), false));
    assert_true(sites_domain_ok(PIER_STR("*.example.com"), true));
    assert_false(sites_domain_ok(PIER_STR("*.example.com"), false));
    assert_false(sites_domain_ok(PIER_STR("*.com"), true));
    assert_false(sites_domain_ok(PIER_STR("a.*.example.com"), true));
    assert_false(sites_domain_ok(PIER_STR("*example.com"), true));
    assert_false(sites_domain_ok(PIER_STR("**.example.com"), true));
    assert_false(sites_domain_ok(PIER_STR("example.com."), false));
    assert_false(sites_domain_ok(PIER_STR(".example.com"), false));
    assert_false(sites_domain_ok(PIER_STR("a..com"), false));
    assert_false(sites_domain_ok(PIER_STR("-a.com"), false));
    assert_false(sites_domain_ok(PIER_STR("a-.com"), false));
    assert_false(sites_domain_ok(PIER_STR("Example.com"), false));
    assert_false(sites_domain_ok(PIER_STR("exa mple.com"), false));
    assert_false(sites_domain_ok(PIER_STR("a_b.com"), false));
    assert_false(sites_domain_ok(PIER_STR(""), false));
    assert_false(sites_domain_ok(pier_str_make("a.com\0", 6), false));
}

static void
test_record_branches(void **state)
{
    (void) state;
    assert_true(sites_branch_ok(PIER_STR("main")));
    assert_true(sites_branch_ok(PIER_STR("release/2.0")));
    assert_true(sites_branch_ok(PIER_STR("feature-x_y")));
    assert_false(sites_branch_ok(PIER_STR("")));
    assert_false(sites_branch_ok(PIER_STR("-main")));
    assert_false(sites_branch_ok(PIER_STR("a..b")));
    assert_false(sites_branch_ok(PIER_STR("a b")));
    assert_false(sites_branch_ok(PIER_STR("a~1")));
    assert_false(sites_branch_ok(PIER_STR("a:b")));
    assert_false(sites_branch_ok(PIER_STR("a;b")));
    assert_false(sites_branch_ok(PIER_STR("a@{1}")));
    assert_false(sites_branch_ok(PIER_STR("a.lock")));
    assert_false(sites_branch_ok(PIER_STR("a/")));
    assert_false(sites_branch_ok(PIER_STR("a//b")));
    assert_false(sites_branch_ok(PIER_STR("a/.b")));
    assert_false(sites_branch_ok(PIER_STR("a\tb")));
}

static const char record_ini[] = "; the blog\n"
                                 "[site]\n"
                                 "name = blog\n"
                                 "domain = Blog.Example.com\n"
                                 "domain = *.preview.example.com\n"
                                 "branch = release/1\n"
                                 "redirect_https = yes\n"
                                 "hsts = 31536000\n"
                                 "hsts_subdomains = true\n";

static void
test_record_parse_and_format(void **state)
{
    struct sites_record r, r2;
    struct pier_err err;
    struct pier_buf a, b;

    (void) state;
    sites_record_init(&r);
    assert_int_equal(sites_record_parse(&r, "sites/blog.ini", record_ini,
                                        strlen(record_ini), &err),
                     PIER_OK);
    assert_string_equal(r.name, "blog");
    assert_int_equal(r.ndomains, 2);
    assert_string_equal(r.domains[0], "blog.example.com");
    assert_string_equal(r.domains[1], "*.preview.example.com");
    assert_string_equal(r.branch, "release/1");
    assert_true(r.redirect_https);
    assert_int_equal(r.hsts_max_age, 31536000);
    assert_true(r.hsts_subdomains);

    pier_buf_init(&a, SIZE_MAX);
    assert_int_equal(sites_record_format(&r, &a, &err), PIER_OK);
    assert_string_equal(a.data, "[site]\n"
                                "name = blog\n"
                                "domain = blog.example.com\n"
                                "domain = *.preview.example.com\n"
                                "branch = release/1\n"
                                "redirect_https = true\n"
                                "hsts = 31536000\n"
                                "hsts_subdomains = true\n");
    sites_record_init(&r2);
    assert_int_equal(sites_record_parse(&r2, "x.ini", a.data, a.len, &err),
                     PIER_OK);
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(sites_record_format(&r2, &b, &err), PIER_OK);
    assert_string_equal(a.data, b.data);

    /* Defaults. */
    sites_record_release(&r2);
    assert_int_equal(
        sites_record_parse(&r2, "x.ini", "[site]\nname=x\n", 14, &err),
        PIER_OK);
    assert_string_equal(r2.branch, "main");
    assert_int_equal(r2.ndomains, 0);
    assert_false(r2.redirect_https);
    assert_int_equal(r2.hsts_max_age, 0);

    /* A capped buffer refuses and is left as it was. */
    pier_buf_release(&b);
    pier_buf_init(&b, 20);
    assert_int_equal(sites_record_format(&r, &b, &err), PIER_ERR);
    assert_int_equal(b.len, 0);

    pier_buf_release(&a);
    pier_buf_release(&b);
    sites_record_release(&r);
    sites_record_release(&r2);
}

static void
test_record_domains_edit(void **state)
{
    struct sites_record r;
    struct pier_err err;

    (void) state;
    sites_record_init(&r);
    assert_int_equal(sites_record_set_name(&r, "Bad Name", &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "bad site name 'Bad Name'"));
    assert_int_equal(sites_record_set_name(&r, "shop", &err), PIER_OK);
    assert_int_equal(sites_record_add_domain(&r, "SHOP.example.com", &err),
                     PIER_OK);
    assert_int_equal(sites_record_add_domain(&r, "shop.example.com", &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "listed twice"));
    assert_int_equal(sites_record_add_domain(&r, "a.*.example.com", &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "bad domain 'a.*.example.com'"));
    assert_int_equal(sites_record_add_domain(&r, "www.shop.example.com", &err),
                     PIER_OK);
    assert_int_equal(sites_record_remove_domain(&r, "shop.EXAMPLE.com", &err),
                     PIER_OK);
    assert_int_equal(r.ndomains, 1);
    assert_string_equal(r.domains[0], "www.shop.example.com");
    assert_int_equal(sites_record_remove_domain(&r, "nope.com", &err),
                     PIER_ERR);
    assert_int_equal(sites_record_set_branch(&r, "a..b", &err), PIER_ERR);
    assert_int_equal(sites_record_set_branch(&r, "prod", &err), PIER_OK);
    assert_string_equal(r.branch, "prod");
    sites_record_release(&r);
    assert_string_equal(r.name, "");
    assert_string_equal(r.branch, "main");
    sites_record_release(&r);
}

/* Each bad line, after two good ones, gives "x.ini:3: reason". */
static void
test_record_errors_name_line(void **state)
{
    static const struct {
        const char *line;
        const char *msg;
    } cases[] = {
        {"name = Blog", "bad site name"},
        {"hsts_subdomains = no", "'hsts_subdomains' set twice"},
        {"domain = exa mple.com", "bad domain"},
        {"domain = *.com", "bad domain"},
        {"branch = a b", "bad branch name"},
        {"hsts = -1", "hsts is a number"},
        {"hsts = 99999999999", "hsts is a number"},
        {"hsts = 1x", "hsts is a number"},
        {"redirect_https = 2", "redirect_https is true or false"},
        {"colour = blue", "unknown key 'colour'"},
        {"just words", "not 'key = value'"},
    };
    char text[256];
    struct sites_record r;
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        int n = snprintf(
            text, sizeof(text),
            "[site]\nhsts_subdomains = 1\n%s\ndomain = a.com\nname = b\n",
            cases[i].line);

        sites_record_init(&r);
        memset(&err, 0, sizeof(err));
        if (sites_record_parse(&r, "x.ini", text, (size_t) n, &err)
            != PIER_ERR) {
            fail_msg("case %zu ('%s') parsed", i, cases[i].line);
        }
        if (strncmp(err.msg, "x.ini:3: ", 9) != 0
            || strstr(err.msg, cases[i].msg) == NULL) {
            fail_msg("case %zu: '%s' lacks 'x.ini:3: ...%s'", i, err.msg,
                     cases[i].msg);
        }
        /* Released on failure: nothing to leak, reusable. */
        assert_string_equal(r.name, "");
        sites_record_release(&r);
    }
    /* inih reports a section with its first key. */
    sites_record_init(&r);
    assert_int_equal(sites_record_parse(&r, "x.ini",
                                        "[site]\nname = a\n"
                                        "[other]\nk = v\n",
                                        28, &err),
                     PIER_ERR);
    assert_string_equal(err.msg, "x.ini:4: unknown section [other]");
    assert_int_equal(
        sites_record_parse(&r, "x.ini", "[site]\nbranch = b\n", 18, &err),
        PIER_ERR);
    assert_string_equal(err.msg, "x.ini: no name");
    assert_int_equal(
        sites_record_parse(&r, "x.ini", "[site]\nname = a\0b\n", 18, &err),
        PIER_ERR);
    assert_string_equal(err.msg, "x.ini:2: NUL byte");
    memset(text, 'a', sizeof(text));
    memcpy(text, "[site]\nname = ", 14);
    assert_int_equal(sites_record_parse(&r, "x.ini", text, sizeof(text), &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "x.ini:2: line longer than"));
    sites_record_release(&r);
}

static struct sites_domains *
mk_table(void)
{
    struct sites_domains *t = sites_domains_new();
    struct sites_record r;
    struct pier_err err;

    sites_record_init(&r);
    assert_int_equal(sites_record_set_name(&r, "blog", &err), PIER_OK);
    assert_int_equal(sites_record_add_domain(&r, "blog.example.com", &err),
                     PIER_OK);
    assert_int_equal(sites_record_add_domain(&r, "*.blog.example.com", &err),
                     PIER_OK);
    assert_int_equal(sites_domains_add_record(t, &r, true, &err), PIER_OK);
    sites_record_release(&r);
    assert_int_equal(sites_domains_add(t, "*.example.com", "catchall", &err),
                     PIER_OK);
    assert_int_equal(sites_domains_add(t, "www.example.com", "www", &err),
                     PIER_OK);
    assert_int_equal(sites_domains_add(t, "Example.COM", "www", &err), PIER_OK);
    /* The same pair twice is fine. */
    assert_int_equal(sites_domains_add(t, "example.com", "www", &err), PIER_OK);
    assert_int_equal(sites_domains_seal(t, &err), PIER_OK);
    return t;
}

static void
check_host(const struct sites_domains *t, const char *host, const char *site)
{
    const char *got = sites_domains_lookup(t, pier_str_cstr(host));

    if ((got == NULL) != (site == NULL)
        || (got != NULL && strcmp(got, site) != 0)) {
        fail_msg("'%s' -> '%s', wanted '%s'", host, got ? got : "(none)",
                 site ? site : "(none)");
    }
}

static void
test_record_domain_lookup(void **state)
{
    struct sites_domains *t = mk_table();

    (void) state;
    assert_int_equal(sites_domains_count(t), 6);
    check_host(t, "blog.example.com", "blog");
    check_host(t, "BLOG.Example.Com", "blog");
    check_host(t, "blog.example.com:8080", "blog");
    check_host(t, "blog.example.com.", "blog");
    check_host(t, "blog.example.com.:443", "blog");
    check_host(t, "blog.localhost", "blog");
    check_host(t, "blog.localhost:8080", "blog");
    check_host(t, "example.com", "www");
    check_host(t, "www.example.com", "www");
    /* Exact beats wildcard; the longest wildcard wins; a wildcard spans
     * labels but never matches its bare suffix. */
    check_host(t, "preview.blog.example.com", "blog");
    check_host(t, "a.b.blog.example.com", "blog");
    check_host(t, "shop.example.com", "catchall");
    check_host(t, "a.b.c.example.com", "catchall");
    check_host(t, "example.org", NULL);
    check_host(t, "com", NULL);
    check_host(t, "xample.com", NULL);
    check_host(t, "", NULL);
    check_host(t, ":80", NULL);
    check_host(t, "[::1]:8080", NULL);
    check_host(t, "a..example.com", NULL);
    check_host(t, "a b.example.com", NULL);
    assert_null(
        sites_domains_lookup(t, pier_str_make("blog.example.com\0x", 18)));
    assert_null(sites_domains_lookup(t, PIER_STR_NULL));
    sites_domains_free(t);
    sites_domains_free(NULL);
}

static void
test_record_domain_conflicts(void **state)
{
    struct sites_domains *t = sites_domains_new();
    struct pier_err err;

    (void) state;
    assert_int_equal(sites_domains_add(t, "a.com", "one", &err), PIER_OK);
    assert_int_equal(sites_domains_add(t, "A.com", "two", &err), PIER_OK);
    assert_int_equal(sites_domains_seal(t, &err), PIER_ERR);
    assert_string_equal(err.msg,
                        "domain 'a.com' belongs to sites 'one' and 'two'");
    sites_domains_free(t);
    t = sites_domains_new();
    assert_int_equal(sites_domains_add(t, "*.a.com", "one", &err), PIER_OK);
    assert_int_equal(sites_domains_add(t, "*.a.com", "two", &err), PIER_OK);
    assert_int_equal(sites_domains_seal(t, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "'*.a.com'"));
    sites_domains_free(t);
    t = sites_domains_new();
    assert_int_equal(sites_domains_add(t, "a.com", "Bad", &err), PIER_ERR);
    assert_int_equal(sites_domains_add(t, "*.com", "one", &err), PIER_ERR);
    assert_int_equal(sites_domains_seal(t, &err), PIER_OK);
    assert_int_equal(sites_domains_count(t), 0);
    assert_null(sites_domains_lookup(t, PIER_STR("a.com")));
    sites_domains_free(t);
}

/* Byte-varied records parse or fail naming a line of the input. */
static void
test_record_byte_varied(void **state)
{
    static const char subst[] = {' ', '\n', '=', '[', ']', ';',
                                 '*', '.',  'X', '#', 0};
    char buf[sizeof(record_ini)];
    size_t n = sizeof(record_ini) - 1, i, k;
    struct sites_record r;
    struct pier_err err;

    (void) state;
    memcpy(buf, record_ini, n);
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(subst); k++) {
            buf[i] = subst[k];
            sites_record_init(&r);
            if (sites_record_parse(&r, "x.ini", buf, n, &err) == PIER_OK) {
                struct pier_buf out;

                pier_buf_init(&out, SIZE_MAX);
                assert_int_equal(sites_record_format(&r, &out, &err), PIER_OK);
                pier_buf_release(&out);
            } else {
                assert_int_equal(strncmp(err.msg, "x.ini:", 6), 0);
            }
            sites_record_release(&r);
        }
        buf[i] = record_ini[i];
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_names_and_domains),
        cmocka_unit_test(test_record_branches),
        cmocka_unit_test(test_record_parse_and_format),
        cmocka_unit_test(test_record_domains_edit),
        cmocka_unit_test(test_record_errors_name_line),
        cmocka_unit_test(test_record_domain_lookup),
        cmocka_unit_test(test_record_domain_conflicts),
        cmocka_unit_test(test_record_byte_varied),
    };

    return cmocka_run_group_tests_name("sites/record", tests, NULL, NULL);
}
