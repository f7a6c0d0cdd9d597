/*
 * tests/lib/test_buf.c - lib/buf.c: growth, the maximum, reserve/commit.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"

static void
test_buf_empty_is_terminated(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_non_null(b.data);
    assert_int_equal(b.data[0], '\0');
    assert_int_equal(b.len, 0);
    pier_buf_release(&b);
}

static void
test_buf_appends_any_byte(void **state)
{
    struct pier_buf b;
    size_t i;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(pier_buf_addch(&b, (char) (i & 0xff)), PIER_OK);
    }
    assert_int_equal(b.len, 1000);
    assert_int_equal((unsigned char) b.data[256], 0);
    assert_int_equal((unsigned char) b.data[999], 999 & 0xff);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(pier_buf_addf(&b, "%d-%s", 42, "x"), PIER_OK);
    assert_memory_equal(b.data + 1000, "42-x", 5);
    pier_buf_release(&b);
}

/* An append past the maximum fails and leaves the buffer as it was. */
static void
test_buf_max_refuses_and_keeps(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, 8);
    assert_int_equal(pier_buf_adds(&b, "12345"), PIER_OK);
    assert_int_equal(pier_buf_adds(&b, "6789"), PIER_ERR);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(pier_buf_addf(&b, "%s", "abcd"), PIER_ERR);
    assert_string_equal(b.data, "12345");
    assert_int_equal(pier_buf_adds(&b, "678"), PIER_OK);
    assert_int_equal(pier_buf_addch(&b, 'x'), PIER_ERR);
    assert_string_equal(b.data, "12345678");
    pier_buf_release(&b);
}

static void
test_buf_reserve_commit_consume(void **state)
{
    struct pier_buf b;
    char *p;

    (void) state;
    pier_buf_init(&b, 10);
    p = pier_buf_reserve(&b, 4096);
    assert_non_null(p);
    assert_int_equal(pier_buf_avail(&b), 10);
    memcpy(p, "hello worl", 10);
    pier_buf_commit(&b, 10);
    assert_null(pier_buf_reserve(&b, 1)); /* at the maximum: UV_ENOBUFS */
    pier_buf_consume(&b, 6);
    assert_string_equal(b.data, "worl");
    p = pier_buf_reserve(&b, 1);
    assert_non_null(p);
    *p = 'd';
    pier_buf_commit(&b, 1);
    assert_string_equal(b.data, "world");
    pier_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    pier_buf_release(&b);
}

static void
test_buf_detach_hands_over(void **state)
{
    struct pier_buf b;
    size_t n;
    char *p;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    p = pier_buf_detach(&b, &n);
    assert_string_equal(p, "");
    assert_int_equal(n, 0);
    pier_free(p);
    assert_int_equal(pier_buf_adds(&b, "abc"), PIER_OK);
    p = pier_buf_detach(&b, &n);
    assert_string_equal(p, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    pier_free(p);
    pier_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_empty_is_terminated),
        cmocka_unit_test(test_buf_appends_any_byte),
        cmocka_unit_test(test_buf_max_refuses_and_keeps),
        cmocka_unit_test(test_buf_reserve_commit_consume),
        cmocka_unit_test(test_buf_detach_hands_over),
    };

    return cmocka_run_group_tests_name("lib/buf", tests, NULL, NULL);
}
