/*
 * tests/objstore/test_cond.c - objstore/cond.c: ETag lists, the order of
 * the HTTP conditions, single byte ranges.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objstore/cond.h"

#include <stdio.h>

#define ETAG "5d41402abc4b2a76b9719d911017c592"
/* 1700000000 s is Tue, 14 Nov 2023 22:13:20 GMT. */
#define BEFORE "Tue, 14 Nov 2023 22:13:19 GMT"
#define AT     "Tue, 14 Nov 2023 22:13:20 GMT"
#define AFTER  "Tue, 14 Nov 2023 22:13:21 GMT"

static void
test_cond_etag_lists(void **state)
{
    (void) state;
    assert_true(objstore_etag_listed(PIER_STR("\"" ETAG "\""), ETAG));
    assert_true(objstore_etag_listed(PIER_STR(ETAG), ETAG));
    assert_true(objstore_etag_listed(PIER_STR("*"), ETAG));
    assert_true(objstore_etag_listed(PIER_STR("\"a\", \"" ETAG "\""), ETAG));
    assert_true(objstore_etag_listed(PIER_STR("\"a\" ,W/\"" ETAG "\" "), ETAG));
    assert_false(objstore_etag_listed(PIER_STR("\"a\", \"b\""), ETAG));
    assert_false(objstore_etag_listed(PIER_STR(""), ETAG));
    assert_false(objstore_etag_listed(PIER_STR(" , ,"), ETAG));
    assert_false(objstore_etag_listed(PIER_STR("\"" ETAG), ETAG));
}

static int
eval(const char *im, const char *inm, const char *ims, const char *ius,
     bool is_read)
{
    struct objstore_obj obj;
    int rc;

    objstore_obj_init(&obj);
    snprintf(obj.etag, sizeof(obj.etag), "%s", ETAG);
    obj.mtime_ms = 1700000000123LL;
    rc = objstore_preconditions(pier_str_cstr(im), pier_str_cstr(inm),
                                pier_str_cstr(ims), pier_str_cstr(ius), &obj,
                                is_read);
    objstore_obj_release(&obj);
    return rc;
}

static void
test_cond_preconditions_order(void **state)
{
    (void) state;
    assert_int_equal(eval(NULL, NULL, NULL, NULL, true), 0);
    assert_int_equal(eval("\"" ETAG "\"", NULL, NULL, NULL, true), 0);
    assert_int_equal(eval("\"x\"", NULL, NULL, NULL, true), 412);
    assert_int_equal(eval(NULL, "\"" ETAG "\"", NULL, NULL, true), 304);
    assert_int_equal(eval(NULL, "*", NULL, NULL, true), 304);
    assert_int_equal(eval(NULL, "\"x\"", NULL, NULL, true), 0);
    /* Dates have second precision; "modified since T" means after T. */
    assert_int_equal(eval(NULL, NULL, AT, NULL, true), 304);
    assert_int_equal(eval(NULL, NULL, AFTER, NULL, true), 304);
    assert_int_equal(eval(NULL, NULL, BEFORE, NULL, true), 0);
    assert_int_equal(eval(NULL, NULL, NULL, BEFORE, true), 412);
    assert_int_equal(eval(NULL, NULL, NULL, AT, true), 0);
    /* If-Match decides over If-Unmodified-Since, If-None-Match over
     * If-Modified-Since (RFC 9110 13.2.2). */
    assert_int_equal(eval("\"" ETAG "\"", NULL, NULL, BEFORE, true), 0);
    assert_int_equal(eval(NULL, "\"x\"", AFTER, NULL, true), 0);
    assert_int_equal(eval("\"x\"", "\"" ETAG "\"", NULL, NULL, true), 412);
    /* An unparsable date is ignored. */
    assert_int_equal(eval(NULL, NULL, "yesterday", "tomorrow", true), 0);
    /* Copy sources: what would be 304 is 412. */
    assert_int_equal(eval(NULL, "\"" ETAG "\"", NULL, NULL, false), 412);
    assert_int_equal(eval(NULL, NULL, AFTER, NULL, false), 412);
}

static int
range(const char *r, uint64_t size, uint64_t *first, uint64_t *last)
{
    *first = *last = 12345;
    return objstore_range_parse(pier_str_cstr(r), size, first, last);
}

static void
test_cond_ranges(void **state)
{
    uint64_t f, l;

    (void) state;
    assert_int_equal(range("bytes=0-4", 10, &f, &l), 1);
    assert_true(f == 0 && l == 4);
    assert_int_equal(range("bytes=5-", 10, &f, &l), 1);
    assert_true(f == 5 && l == 9);
    assert_int_equal(range("bytes=5-100", 10, &f, &l), 1);
    assert_true(f == 5 && l == 9);
    assert_int_equal(range("bytes=-3", 10, &f, &l), 1);
    assert_true(f == 7 && l == 9);
    assert_int_equal(range("bytes=-30", 10, &f, &l), 1);
    assert_true(f == 0 && l == 9);
    assert_int_equal(range("BYTES=9-9", 10, &f, &l), 1);
    assert_true(f == 9 && l == 9);
    /* Unsatisfiable: 416. */
    assert_int_equal(range("bytes=10-", 10, &f, &l), -1);
    assert_int_equal(range("bytes=10-20", 10, &f, &l), -1);
    assert_int_equal(range("bytes=-0", 10, &f, &l), -1);
    assert_int_equal(range("bytes=0-", 0, &f, &l), -1);
    assert_int_equal(range("bytes=-1", 0, &f, &l), -1);
    /* Ignored: the whole object. */
    assert_int_equal(range("", 10, &f, &l), 0);
    assert_int_equal(range("items=0-1", 10, &f, &l), 0);
    assert_int_equal(range("bytes=0-1,3-4", 10, &f, &l), 0);
    assert_int_equal(range("bytes=4-2", 10, &f, &l), 0);
    assert_int_equal(range("bytes=-", 10, &f, &l), 0);
    assert_int_equal(range("bytes= 1-2", 10, &f, &l), 0);
    assert_int_equal(range("bytes=1-2x", 10, &f, &l), 0);
    assert_int_equal(range("bytes=99999999999999999999999-", 10, &f, &l), 0);
    assert_true(f == 12345 && l == 12345);
}

/* Conditional deletes' timestamps: ISO 8601 to the millisecond as
 * listings give them, or an HTTP-date to the second. */
static void
test_cond_time_parse(void **state)
{
    static const char *const bad[] = {
        "",
        "2025-05-01",
        "2025-05-01T10:00:00",
        "2025-05-01T10:00:00.Z",
        "2025-05-01T10:00:00.123",
        "2025-05-01T10:00:00+01:00",
        "2025-05-01 10:00:00Z",
        "2025-00-01T10:00:00Z",
        "2025-05-01T24:00:00Z",
        "2025-05-01T10:00:00.123Zjunk",
        "Thu, 01 May 2025 10:00:00",
    };
    int64_t ms;
    bool whole;
    size_t i;

    (void) state;
    assert_int_equal(
        objstore_time_parse(PIER_STR("2025-05-01T10:00:00.123Z"), &ms, &whole),
        PIER_OK);
    assert_int_equal(ms, 1746093600123LL);
    assert_false(whole);
    assert_int_equal(
        objstore_time_parse(PIER_STR("2025-05-01T10:00:00Z"), &ms, &whole),
        PIER_OK);
    assert_int_equal(ms, 1746093600000LL);
    /* botocore sends microseconds: the first three digits count. */
    assert_int_equal(
        objstore_time_parse(PIER_STR("2025-05-01T10:00:00.123456+00:00"), &ms,
                            &whole),
        PIER_OK);
    assert_int_equal(ms, 1746093600123LL);
    assert_int_equal(
        objstore_time_parse(PIER_STR("Thu, 01 May 2025 10:00:00 GMT"), &ms,
                            &whole),
        PIER_OK);
    assert_int_equal(ms, 1746093600000LL);
    assert_true(whole);
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        if (objstore_time_parse(pier_str_cstr(bad[i]), &ms, &whole)
            != PIER_ERR) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_time_parse),
        cmocka_unit_test(test_cond_etag_lists),
        cmocka_unit_test(test_cond_preconditions_order),
        cmocka_unit_test(test_cond_ranges),
    };

    return cmocka_run_group_tests_name("objstore/cond", tests, NULL, NULL);
}
