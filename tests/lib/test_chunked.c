/*
 * tests/lib/test_chunked.c - lib/chunked.c: framing, in-place data, the
 * strictness that request smuggling needs, any split of the input.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/chunked.h"

/* Decode text fed in pieces of step bytes (0: whole). Returns the final
 * result; body gets the data, *rest the unused bytes at the end. */
static int
decode(const char *text, size_t step, struct pier_buf *body, size_t *rest)
{
    struct pier_chunked ck;
    struct pier_err err;
    size_t n = strlen(text), off = 0;
    char *copy = pier_malloc(n + 1);
    int rc = PIER_AGAIN;

    memcpy(copy, text, n + 1);
    pier_chunked_init(&ck);
    /* The unused bytes of a piece are offered again with the next. */
    while (off < n && rc == PIER_AGAIN) {
        size_t end = step == 0 || off + step > n ? n : off + step;
        size_t used = 0, dlen = 0;

        rc = pier_chunked_decode(&ck, copy + off, copy + end, 64, &used,
                                 &dlen, &err);
        if (rc == PIER_ERR) {
            assert_int_equal(err.http, 400);
            break;
        }
        assert_true(pier_buf_add(body, copy + off, dlen) == PIER_OK);
        if (used == 0 && end == n) {
            break;
        }
        off += used;
    }
    *rest = n - off;
    pier_free(copy);
    return rc;
}

static const char good[] = "5\r\nhello\r\n"
                           "6;name=value;x;q=\"a \\\" b\"\r\n world\r\n"
                           "0\r\nX-Trailer: 1\r\n\r\n"
                           "GET / HTTP/1.1\r\n";

static void
test_chunked_decodes_whole(void **state)
{
    struct pier_buf body;
    size_t rest;

    (void) state;
    pier_buf_init(&body, SIZE_MAX);
    assert_int_equal(decode(good, 0, &body, &rest), PIER_OK);
    assert_string_equal(body.data, "hello world");
    assert_int_equal(rest, strlen("GET / HTTP/1.1\r\n"));
    pier_buf_release(&body);
}

/* The machine must give the same answer however the bytes are split. */
static void
test_chunked_byte_by_byte(void **state)
{
    struct pier_buf body;
    size_t rest, step;

    (void) state;
    for (step = 1; step < 8; step++) {
        pier_buf_init(&body, SIZE_MAX);
        assert_int_equal(decode(good, step, &body, &rest), PIER_OK);
        assert_string_equal(body.data, "hello world");
        assert_int_equal(rest, strlen("GET / HTTP/1.1\r\n"));
        pier_buf_release(&body);
    }
}

static void
test_chunked_needs_more(void **state)
{
    struct pier_buf body;
    size_t rest;

    (void) state;
    pier_buf_init(&body, SIZE_MAX);
    assert_int_equal(decode("5\r\nhel", 0, &body, &rest), PIER_AGAIN);
    assert_string_equal(body.data, "hel");
    pier_buf_release(&body);
}

/* What lenient parsers accept and pier must not (request smuggling). */
static void
test_chunked_rejects_bad_framing(void **state)
{
    static const char *const bad[] = {
        "5 junk\r\nhello\r\n0\r\n\r\n",     /* junk after the size */
        "5 \r\nhello\r\n0\r\n\r\n",         /* space after the size */
        " 5\r\nhello\r\n0\r\n\r\n",         /* space before */
        "-5\r\nhello\r\n0\r\n\r\n",         /* a sign */
        "0x5\r\nhello\r\n0\r\n\r\n",        /* a prefix */
        "\r\nhello\r\n0\r\n\r\n",           /* no size */
        "5\nhello\r\n0\r\n\r\n",            /* bare LF */
        "5\r\nhelloXX0\r\n\r\n",            /* data not followed by CRLF */
        "5\r\nhello\n0\r\n\r\n",            /* data followed by bare LF */
        "5;\r\nhello\r\n0\r\n\r\n",         /* empty extension name */
        "5;a=\r\nhello\r\n0\r\n\r\n",       /* empty extension value */
        "5;a b\r\nhello\r\n0\r\n\r\n",      /* space in an extension */
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",    /* unterminated quote */
        "11111111111111111\r\n",           /* 17 digits: overflow */
        "0\r\n X: 1\r\n\r\n",               /* obs-fold in trailers */
        "0\r\nX : 1\r\n\r\n",               /* space before the colon */
        "0\r\nX: 1\r\r\n",                  /* bare CR in a trailer */
        "0\r\n\n",                          /* bare LF at the end */
    };
    struct pier_buf body;
    size_t i, rest;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        pier_buf_init(&body, SIZE_MAX);
        if (decode(bad[i], 0, &body, &rest) != PIER_ERR) {
            fail_msg("accepted: %s", bad[i]);
        }
        pier_buf_release(&body);
        pier_buf_init(&body, SIZE_MAX);
        if (decode(bad[i], 1, &body, &rest) != PIER_ERR) {
            fail_msg("accepted byte by byte: %s", bad[i]);
        }
        pier_buf_release(&body);
    }
}

static void
test_chunked_line_limit(void **state)
{
    struct pier_buf body;
    size_t rest;
    char line[200];

    (void) state;
    memset(line, 0, sizeof(line));
    memcpy(line, "5;", 2);
    memset(line + 2, 'a', 100); /* longer than decode()'s 64 */
    pier_buf_init(&body, SIZE_MAX);
    assert_int_equal(decode(line, 0, &body, &rest), PIER_ERR);
    pier_buf_release(&body);
}

static void
test_chunked_upper_hex_and_total(void **state)
{
    struct pier_chunked ck;
    struct pier_err err;
    char text[] = "A\r\n0123456789\r\n0\r\n\r\n";
    size_t used, dlen;

    (void) state;
    pier_chunked_init(&ck);
    assert_int_equal(pier_chunked_decode(&ck, text, text + strlen(text), 64,
                                         &used, &dlen, &err),
                     PIER_OK);
    assert_int_equal(dlen, 10);
    assert_int_equal(ck.total, 10);
    assert_int_equal(used, strlen("A\r\n0123456789\r\n0\r\n\r\n"));
    assert_memory_equal(text, "0123456789", 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_decodes_whole),
        cmocka_unit_test(test_chunked_byte_by_byte),
        cmocka_unit_test(test_chunked_needs_more),
        cmocka_unit_test(test_chunked_rejects_bad_framing),
        cmocka_unit_test(test_chunked_line_limit),
        cmocka_unit_test(test_chunked_upper_hex_and_total),
    };
    return cmocka_run_group_tests_name("lib/chunked", tests, NULL, NULL);
}
