/*
 * tests/edge/test_hosts.c - edge/hosts.c: exact names, wildcards (the
 * longest first), case, ports, trailing dots, duplicates.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "edge/hosts.h"

static int blog, shop, docs;

static struct edge_hosts *
make(void)
{
    struct edge_hosts *h = edge_hosts_new();
    struct pier_err err;

    assert_int_equal(edge_hosts_add(h, PIER_STR("blog.localhost"), &blog, &err),
                     PIER_OK);
    assert_int_equal(edge_hosts_add(h, PIER_STR("example.com"), &blog, &err),
                     PIER_OK);
    assert_int_equal(edge_hosts_add(h, PIER_STR("*.example.com"), &shop, &err),
                     PIER_OK);
    assert_int_equal(
        edge_hosts_add(h, PIER_STR("docs.example.com"), &docs, &err), PIER_OK);
    edge_hosts_seal(h);
    assert_int_equal(edge_hosts_count(h), 4);
    return h;
}

static void *
look(struct edge_hosts *h, const char *host)
{
    return edge_hosts_find(h, pier_str_cstr(host));
}

static void
test_hosts_exact_and_wildcard(void **state)
{
    struct edge_hosts *h = make();

    (void) state;
    assert_ptr_equal(look(h, "example.com"), &blog);
    assert_ptr_equal(look(h, "blog.localhost"), &blog);
    assert_ptr_equal(look(h, "www.example.com"), &shop);
    assert_ptr_equal(look(h, "docs.example.com"), &docs); /* exact wins */
    assert_ptr_equal(look(h, "a.b.example.com"), &shop);  /* more labels */
    assert_ptr_equal(look(h, "x.docs.example.com"), &shop);
    assert_null(look(h, "example.org"));
    assert_null(look(h, "xexample.com"));
    assert_null(look(h, ".example.com"));
    assert_null(look(h, ""));
    edge_hosts_free(h);
    edge_hosts_free(NULL);
}

static void
test_hosts_case_port_dot(void **state)
{
    struct edge_hosts *h = make();

    (void) state;
    assert_ptr_equal(look(h, "EXAMPLE.com"), &blog);
    assert_ptr_equal(look(h, "example.com:8080"), &blog);
    assert_ptr_equal(look(h, "example.com."), &blog);
    assert_ptr_equal(look(h, "Shop.Example.Com.:443"), &shop);
    assert_ptr_equal(look(h, "blog.localhost:8080"), &blog);
    assert_null(look(h, "[::1]:8080"));
    assert_null(look(h, ":8080"));
    assert_null(edge_hosts_find(h, pier_str_make("example.com\0x", 13)));
    edge_hosts_free(h);
}

static void
test_hosts_refuses_bad_and_duplicates(void **state)
{
    struct edge_hosts *h = edge_hosts_new();
    struct pier_err err;

    (void) state;
    assert_int_equal(edge_hosts_add(h, PIER_STR("a.com"), &blog, &err),
                     PIER_OK);
    assert_int_equal(edge_hosts_add(h, PIER_STR("a.com"), &shop, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(edge_hosts_add(h, PIER_STR("*.a.com"), &shop, &err),
                     PIER_OK);
    assert_int_equal(edge_hosts_add(h, PIER_STR("*.a.com"), &blog, &err),
                     PIER_ERR);
    assert_int_equal(edge_hosts_add(h, PIER_STR("A.com"), &blog, &err),
                     PIER_ERR); /* records hold lower case */
    assert_int_equal(edge_hosts_add(h, PIER_STR("a..com"), &blog, &err),
                     PIER_ERR);
    assert_int_equal(edge_hosts_add(h, PIER_STR("x.*.com"), &blog, &err),
                     PIER_ERR);
    edge_hosts_seal(h);
    assert_ptr_equal(look(h, "b.a.com"), &shop);
    edge_hosts_free(h);
}

/* The longest wildcard wins. */
static void
test_hosts_longest_wildcard(void **state)
{
    struct edge_hosts *h = edge_hosts_new();
    struct pier_err err;

    (void) state;
    assert_int_equal(edge_hosts_add(h, PIER_STR("*.example.com"), &blog, &err),
                     PIER_OK);
    assert_int_equal(
        edge_hosts_add(h, PIER_STR("*.b.example.com"), &shop, &err), PIER_OK);
    edge_hosts_seal(h);
    assert_ptr_equal(look(h, "a.b.example.com"), &shop);
    assert_ptr_equal(look(h, "x.a.b.example.com"), &shop);
    assert_ptr_equal(look(h, "b.example.com"), &blog);
    assert_ptr_equal(look(h, "c.example.com"), &blog);
    assert_null(look(h, "example.com"));
    edge_hosts_free(h);
}

/* Many names: the arrays are searched, not scanned. */
static void
test_hosts_many(void **state)
{
    struct edge_hosts *h = edge_hosts_new();
    struct pier_err err;
    char name[64];
    static int sites[2000];
    int i;

    (void) state;
    for (i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "site%d.example.net", i);
        assert_int_equal(
            edge_hosts_add(h, pier_str_cstr(name), &sites[i], &err), PIER_OK);
    }
    edge_hosts_seal(h);
    for (i = 0; i < 2000; i += 37) {
        snprintf(name, sizeof(name), "SITE%d.example.net:80", i);
        assert_ptr_equal(look(h, name), &sites[i]);
    }
    edge_hosts_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_exact_and_wildcard),
        cmocka_unit_test(test_hosts_case_port_dot),
        cmocka_unit_test(test_hosts_refuses_bad_and_duplicates),
        cmocka_unit_test(test_hosts_longest_wildcard),
        cmocka_unit_test(test_hosts_many),
    };

    return cmocka_run_group_tests_name("edge/hosts", tests, NULL, NULL);
}
