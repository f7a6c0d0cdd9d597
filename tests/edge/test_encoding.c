/*
 * tests/edge/test_encoding.c - edge/encoding.c: Accept-Encoding parsing
 * (q-values, "*", identity, case, whitespace) and the choice of variant.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "edge/encoding.h"

#define ALL  EDGE_ENC_ALL
#define BR   EDGE_ENC_BIT(EDGE_ENC_BR)
#define ZSTD EDGE_ENC_BIT(EDGE_ENC_ZSTD)
#define GZIP EDGE_ENC_BIT(EDGE_ENC_GZIP)

/* Parse whole, then byte by byte; both must agree. PIER_ERR when either
 * refuses. */
static int
parse(const char *v, struct edge_accept *acc)
{
    struct edge_accept one;
    struct pier_err err;
    size_t i, n = strlen(v);
    int rc1, rc2 = PIER_OK;

    edge_accept_init(acc);
    rc1 = edge_accept_parse(acc, v, n, &err);
    if (rc1 == PIER_OK) {
        rc1 = edge_accept_finish(acc, &err);
    }
    edge_accept_init(&one);
    for (i = 0; i < n && rc2 == PIER_OK; i++) {
        rc2 = edge_accept_parse(&one, v + i, 1, &err);
    }
    if (rc2 == PIER_OK) {
        rc2 = edge_accept_finish(&one, &err);
    }
    assert_int_equal(rc1, rc2);
    if (rc1 == PIER_OK) {
        assert_int_equal(acc->listed, one.listed);
        assert_int_equal(acc->star, one.star);
        assert_int_equal(acc->star_q, one.star_q);
        assert_memory_equal(acc->q, one.q, sizeof(acc->q));
    } else {
        assert_int_equal(err.http, 400);
    }
    return rc1;
}

static enum edge_enc
choose(const char *v, unsigned avail)
{
    struct edge_accept acc;

    if (parse(v, &acc) != PIER_OK) {
        fail_msg("'%s' refused", v);
    }
    return edge_accept_choose(&acc, avail);
}

static void
test_encoding_prefers_br_zstd_gzip(void **state)
{
    (void) state;
    assert_int_equal(choose("gzip, deflate, br, zstd", ALL), EDGE_ENC_BR);
    assert_int_equal(choose("gzip, deflate, br, zstd", ZSTD | GZIP),
                     EDGE_ENC_ZSTD);
    assert_int_equal(choose("gzip, deflate, br, zstd", GZIP), EDGE_ENC_GZIP);
    assert_int_equal(choose("gzip, deflate, br, zstd", 0), EDGE_ENC_IDENTITY);
    assert_int_equal(choose("gzip", BR | ZSTD), EDGE_ENC_IDENTITY);
    assert_int_equal(choose("deflate", ALL), EDGE_ENC_IDENTITY);
}

static void
test_encoding_q_values_rule(void **state)
{
    (void) state;
    assert_int_equal(choose("br;q=0.5, gzip", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("br;q=0.5, gzip;q=0.499", ALL), EDGE_ENC_BR);
    assert_int_equal(choose("br;q=0.001, gzip;q=0", ALL), EDGE_ENC_BR);
    assert_int_equal(choose("br;q=0, gzip;q=0", ALL), EDGE_ENC_IDENTITY);
    assert_int_equal(choose("gzip;q=1.000, br;q=1.0", ALL), EDGE_ENC_BR);
    assert_int_equal(choose("gzip;q=1, br;q=0.", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("identity;q=1, gzip;q=0.5", ALL),
                     EDGE_ENC_IDENTITY);
    assert_int_equal(choose("identity, gzip", ALL), EDGE_ENC_GZIP);
}

static void
test_encoding_star_and_identity(void **state)
{
    struct edge_accept acc;

    (void) state;
    assert_int_equal(choose("*", ALL), EDGE_ENC_BR);
    assert_int_equal(choose("*", GZIP), EDGE_ENC_GZIP);
    assert_int_equal(choose("gzip;q=0.8, *;q=0.1", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("*;q=0, gzip", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("*;q=0, gzip", BR), EDGE_ENC_IDENTITY);
    assert_int_equal(choose("br;q=0, *", BR | ZSTD), EDGE_ENC_ZSTD);

    /* identity: acceptable by default, excluded by "identity;q=0" or by
     * "*;q=0" without an identity entry (RFC 9110 12.5.3). */
    assert_int_equal(parse("gzip", &acc), PIER_OK);
    assert_true(edge_accept_weight(&acc, EDGE_ENC_IDENTITY) > 0);
    assert_int_equal(parse("identity;q=0", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_IDENTITY), 0);
    assert_int_equal(parse("*;q=0", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_IDENTITY), 0);
    assert_int_equal(parse("*;q=0, identity;q=0.2", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_IDENTITY), 200);
    /* Nothing acceptable: the header is disregarded. */
    assert_int_equal(choose("identity;q=0, br", GZIP), EDGE_ENC_IDENTITY);

    /* No header: identity only. An empty header: identity only. */
    edge_accept_init(&acc);
    assert_int_equal(edge_accept_choose(&acc, ALL), EDGE_ENC_IDENTITY);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_IDENTITY), 1000);
    assert_int_equal(choose("", ALL), EDGE_ENC_IDENTITY);
    assert_int_equal(choose(" , ,", ALL), EDGE_ENC_IDENTITY);
}

static void
test_encoding_case_and_whitespace(void **state)
{
    struct edge_accept acc;

    (void) state;
    assert_int_equal(choose("GZIP", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("Br;Q=0.9 , Zstd", ALL), EDGE_ENC_ZSTD);
    assert_int_equal(choose("  gzip \t;\t q=0.5 ,\tbr ; q=0.4  ", ALL),
                     EDGE_ENC_GZIP);
    assert_int_equal(choose(",,gzip,,", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("x-gzip", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("X-GZip;q=0.3, br;q=0.2", ALL), EDGE_ENC_GZIP);
    /* The first weight given to a coding holds. */
    assert_int_equal(parse("gzip;q=0.2, gzip;q=0.9", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_GZIP), 200);
    /* Unknown and long names are skipped. */
    assert_int_equal(choose("compress, identityx, brotli-ish, gzip", ALL),
                     EDGE_ENC_GZIP);
    assert_int_equal(parse("identityx", &acc), PIER_OK);
    assert_int_equal(acc.listed, 0);
}

static void
test_encoding_parameters_skipped(void **state)
{
    struct edge_accept acc;

    (void) state;
    assert_int_equal(choose("gzip;level=9, br;q=0", ALL), EDGE_ENC_GZIP);
    assert_int_equal(choose("gzip;qux=1;q=0.5, br;q=0.4", ALL), EDGE_ENC_GZIP);
    assert_int_equal(parse("br;q=0.7;x=y", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_BR), 700);
}

static void
test_encoding_refuses_bad_syntax(void **state)
{
    static const char *const bad[] = {
        "gzip;q=",       "gzip;q",       "gzip;",           ";q=1",
        "gzip br",       "gzip=1",       "gzip;a=",         "g\x01zip",
        "gzip;a=\"b",    "gzip;q=\"0.5", "gzip;a=\"\x01\"", "gzip;q=, br",
        "gzip;a=b\"c\"",
    };
    struct edge_accept acc;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        if (parse(bad[i], &acc) != PIER_ERR) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

/* A malformed weight drops its element only (RFC 9110 12.4.2: a qvalue
 * is a bare number, so the quoted "0.5" is not one); the rest counts. */
static void
test_encoding_malformed_q_ignores_the_coding(void **state)
{
    static const char *const bad_q[] = {
        "gzip;q=\"0.5\"", "gzip;q=2",     "gzip;q=1.5",  "gzip;q=0.1234",
        "gzip;q=1.001",   "gzip;q=.5",    "gzip;q=-1",   "gzip;q=0.5x",
        "gzip;q=12",      "gzip;Q=\"1\"", "gzip;q=\"\"",
    };
    struct edge_accept acc;
    char v[64];
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad_q); i++) {
        /* Alone: gzip is not listed, identity stays. */
        if (parse(bad_q[i], &acc) != PIER_OK) {
            fail_msg("'%s' refused", bad_q[i]);
        }
        assert_int_equal(acc.listed, 0);
        assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_GZIP), 0);
        assert_int_equal(edge_accept_choose(&acc, ALL), EDGE_ENC_IDENTITY);
        /* In a list: the others keep their weights. */
        snprintf(v, sizeof(v), "br;q=0.3, %s, zstd;q=0.2", bad_q[i]);
        assert_int_equal(parse(v, &acc), PIER_OK);
        assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_BR), 300);
        assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_ZSTD), 200);
        assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_GZIP), 0);
        assert_int_equal(edge_accept_choose(&acc, GZIP | ZSTD), EDGE_ENC_ZSTD);
    }
    /* Listed again, well-formed, the coding counts. */
    assert_int_equal(choose("gzip;q=\"0.5\", gzip;q=0.5", GZIP), EDGE_ENC_GZIP);
    /* A malformed weight cannot exclude identity or "*". */
    assert_int_equal(parse("identity;q=\"0\", *;q=\"0\"", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_IDENTITY), 1);
    assert_false(acc.star);
}

/* Other parameters may have quoted-string values, with escapes and
 * commas inside: skipped whole, the list is not split there. */
static void
test_encoding_quoted_parameters_skipped(void **state)
{
    struct edge_accept acc;

    (void) state;
    assert_int_equal(choose("gzip;a=\"b\"", ALL), EDGE_ENC_GZIP);
    assert_int_equal(parse("br;x=\"a, zstd\";q=0.4, gzip;q=0.2", &acc),
                     PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_BR), 400);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_ZSTD), 0);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_GZIP), 200);
    assert_int_equal(parse("br;x=\"q\\\"\\\\;q=0\";q=0.9", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_BR), 900);
    assert_int_equal(parse("gzip;x=\"\xc3\xa9\"", &acc), PIER_OK);
    assert_int_equal(edge_accept_weight(&acc, EDGE_ENC_GZIP), 1000);
}

/* Several header lines are one list: the caller feeds a ',' between. */
static void
test_encoding_several_lines(void **state)
{
    struct edge_accept acc;
    struct pier_err err;

    (void) state;
    edge_accept_init(&acc);
    assert_int_equal(edge_accept_parse(&acc, "br;q=0.1", 8, &err), PIER_OK);
    assert_int_equal(edge_accept_parse(&acc, ",", 1, &err), PIER_OK);
    assert_int_equal(edge_accept_parse(&acc, "zstd", 4, &err), PIER_OK);
    assert_int_equal(edge_accept_finish(&acc, &err), PIER_OK);
    assert_int_equal(edge_accept_choose(&acc, ALL), EDGE_ENC_ZSTD);
}

static void
test_encoding_names(void **state)
{
    (void) state;
    assert_null(edge_enc_name(EDGE_ENC_IDENTITY));
    assert_string_equal(edge_enc_name(EDGE_ENC_BR), "br");
    assert_string_equal(edge_enc_name(EDGE_ENC_ZSTD), "zstd");
    assert_string_equal(edge_enc_name(EDGE_ENC_GZIP), "gzip");
    assert_string_equal(edge_enc_suffix(EDGE_ENC_IDENTITY), "");
    assert_string_equal(edge_enc_suffix(EDGE_ENC_BR), ".br");
    assert_string_equal(edge_enc_suffix(EDGE_ENC_ZSTD), ".zst");
    assert_string_equal(edge_enc_suffix(EDGE_ENC_GZIP), ".gz");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_prefers_br_zstd_gzip),
        cmocka_unit_test(test_encoding_q_values_rule),
        cmocka_unit_test(test_encoding_star_and_identity),
        cmocka_unit_test(test_encoding_case_and_whitespace),
        cmocka_unit_test(test_encoding_parameters_skipped),
        cmocka_unit_test(test_encoding_refuses_bad_syntax),
        cmocka_unit_test(test_encoding_malformed_q_ignores_the_coding),
        cmocka_unit_test(test_encoding_quoted_parameters_skipped),
        cmocka_unit_test(test_encoding_several_lines),
        cmocka_unit_test(test_encoding_names),
    };

    return cmocka_run_group_tests_name("edge/encoding", tests, NULL, NULL);
}
