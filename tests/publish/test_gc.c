/*
 * tests/publish/test_gc.c - publish/gc.c's pieces that need no store:
 * --grace durations and the DeleteObjects body (the rest runs end to end
 * in tests/publish/test_gc_store.sh).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/gc.h"

static void
test_gc_durations(void **state)
{
    static const struct {
        const char *s;
        int64_t secs;
    } good[] = {
        {"0", 0},      {"0s", 0},       {"90", 90},
        {"90s", 90},   {"15m", 900},    {"12h", 43200},
        {"1d", 86400}, {"2w", 1209600}, {"30d", 2592000},
    };
    static const char *const bad[] = {
        "",
        "d",
        "-1d",
        "1x",
        "1dd",
        "1 d",
        " 1d",
        "1.5h",
        "99999999999999999999",
        "9223372036854775807w",
    };
    int64_t v;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(good); i++) {
        v = -1;
        assert_int_equal(publish_gc_parse_duration(good[i].s, &v), PIER_OK);
        assert_int_equal(v, good[i].secs);
    }
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        if (publish_gc_parse_duration(bad[i], &v) != PIER_ERR) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
}

static void
test_gc_delete_body(void **state)
{
    const char *keys[] = {"blobs/ab", "sites/a&b/deploys/<x>.json.zst",
                          "blobs/cd.br"};
    const char *times[] = {"2025-05-01T10:00:00.123Z", NULL, ""};
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    publish_gc_delete_xml(keys, NULL, 2, &b);
    assert_string_equal(
        b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete>"
                "<Quiet>true</Quiet><Object><Key>blobs/ab</Key></Object>"
                "<Object><Key>sites/a&amp;b/deploys/&lt;x&gt;.json.zst</Key>"
                "</Object></Delete>");
    publish_gc_delete_xml(keys, NULL, 0, &b);
    assert_string_equal(b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                "<Delete><Quiet>true</Quiet></Delete>");
    /* Blobs go only if still the version listed: LastModifiedTime as the
     * listing spelled it; an empty time is no condition. */
    publish_gc_delete_xml(keys, times, 3, &b);
    assert_string_equal(
        b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete>"
                "<Quiet>true</Quiet><Object><Key>blobs/ab</Key>"
                "<LastModifiedTime>2025-05-01T10:00:00.123Z</LastModifiedTime>"
                "</Object>"
                "<Object><Key>sites/a&amp;b/deploys/&lt;x&gt;.json.zst</Key>"
                "</Object><Object><Key>blobs/cd.br</Key></Object></Delete>");
    pier_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_durations),
        cmocka_unit_test(test_gc_delete_body),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
