/*
 * tests/edge/test_range.c - edge/range.c: the three forms, 206/416/200,
 * clamping, saturation, Content-Range.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "edge/range.h"

static void
expect_range(const char *v, uint64_t size, uint64_t first, uint64_t last)
{
    struct edge_range r = {0, 0};
    int st = edge_range_parse(v, strlen(v), size, &r);

    if (st != 206 || r.first != first || r.last != last) {
        fail_msg("'%s' on %llu: %d %llu-%llu, expected 206 %llu-%llu", v,
                 (unsigned long long) size, st, (unsigned long long) r.first,
                 (unsigned long long) r.last, (unsigned long long) first,
                 (unsigned long long) last);
    }
}

static void
expect_status(const char *v, uint64_t size, int status)
{
    struct edge_range r;
    int st = edge_range_parse(v, strlen(v), size, &r);

    if (st != status) {
        fail_msg("'%s' on %llu: %d, expected %d", v, (unsigned long long) size,
                 st, status);
    }
}

static void
test_range_int_range(void **state)
{
    (void) state;
    expect_range("bytes=0-0", 100, 0, 0);
    expect_range("bytes=0-99", 100, 0, 99);
    expect_range("bytes=10-19", 100, 10, 19);
    expect_range("bytes=99-99", 100, 99, 99);
    expect_range("bytes=50-1000", 100, 50, 99); /* last clamped */
    expect_range("bytes=50-", 100, 50, 99);
    expect_range("bytes=0-", 1, 0, 0);
    expect_range("BYTES=1-2", 100, 1, 2); /* the unit is case-insensitive */
    expect_range("bytes=0-99999999999999999999999", 100, 0, 99);
}

static void
test_range_suffix(void **state)
{
    (void) state;
    expect_range("bytes=-1", 100, 99, 99);
    expect_range("bytes=-10", 100, 90, 99);
    expect_range("bytes=-100", 100, 0, 99);
    expect_range("bytes=-500", 100, 0, 99); /* longer: the whole */
    expect_range("bytes=-99999999999999999999999", 100, 0, 99);
}

static void
test_range_unsatisfiable(void **state)
{
    (void) state;
    expect_status("bytes=100-", 100, 416);
    expect_status("bytes=100-200", 100, 416);
    expect_status("bytes=99999999999999999999999-", 100, 416);
    expect_status("bytes=-0", 100, 416);
    expect_status("bytes=0-", 0, 416);
    expect_status("bytes=-5", 0, 416);
}

/* Whatever we do not serve as one range is ignored: 200, the whole. */
static void
test_range_ignored(void **state)
{
    static const char *const ignored[] = {
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=a-b",
        "bytes=5-2",
        "bytes=1-2,3-4",
        "bytes=0-0,-1",
        "items=0-1",
        "bytes =0-1",
        "bytes=0-1x",
        "bytes=--1",
        "bytes=1",
        "bytes=1-2-3",
        "bytes=0x10-",
        "bytess=0-1",
        "byte=0-1",
        "bytes=-1-",
        "bytes=- 1",
    };
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(ignored); i++) {
        expect_status(ignored[i], 100, 200);
    }
}

/* RFC 9110's list rule: empty elements and OWS around them. */
static void
test_range_list_whitespace(void **state)
{
    (void) state;
    expect_range("bytes= 1-2", 100, 1, 2);
    expect_range("bytes=,1-2,", 100, 1, 2);
    expect_range("bytes=1-2 , ", 100, 1, 2);
    expect_range("bytes=1- ,", 100, 1, 99);
    expect_range("bytes=-3\t", 100, 97, 99);
    expect_status("bytes=1-2, 3-4", 100, 200);
}

static void
test_range_content_range(void **state)
{
    struct edge_range r = {10, 19};
    char out[64];

    (void) state;
    assert_int_equal(edge_range_content_range(&r, 100, out, sizeof(out)),
                     strlen("bytes 10-19/100"));
    assert_string_equal(out, "bytes 10-19/100");
    assert_int_equal(edge_range_content_range(NULL, 100, out, sizeof(out)),
                     strlen("bytes */100"));
    assert_string_equal(out, "bytes */100");
    assert_int_equal(edge_range_content_range(&r, 100, out, 8), 0);
}

/* Every 206 lies within the representation. */
static void
test_range_always_inside(void **state)
{
    char v[64];
    struct edge_range r;
    uint64_t size;
    int a, b, st, len;

    (void) state;
    for (size = 0; size < 12; size++) {
        for (a = -1; a < 14; a++) {
            for (b = -1; b < 14; b++) {
                if (a < 0 && b < 0) {
                    continue;
                }
                if (a < 0) {
                    len = snprintf(v, sizeof(v), "bytes=-%d", b);
                } else if (b < 0) {
                    len = snprintf(v, sizeof(v), "bytes=%d-", a);
                } else {
                    len = snprintf(v, sizeof(v), "bytes=%d-%d", a, b);
                }
                st = edge_range_parse(v, (size_t) len, size, &r);
                assert_true(st == 200 || st == 206 || st == 416);
                if (st == 206) {
                    assert_true(r.first <= r.last);
                    assert_true(r.last < size);
                }
                if (st == 200) {
                    assert_true(a >= 0 && b >= 0 && b < a);
                }
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_int_range),
        cmocka_unit_test(test_range_suffix),
        cmocka_unit_test(test_range_unsatisfiable),
        cmocka_unit_test(test_range_ignored),
        cmocka_unit_test(test_range_list_whitespace),
        cmocka_unit_test(test_range_content_range),
        cmocka_unit_test(test_range_always_inside),
    };

    return cmocka_run_group_tests_name("edge/range", tests, NULL, NULL);
}
