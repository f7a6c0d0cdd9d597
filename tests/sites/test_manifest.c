/*
 * tests/sites/test_manifest.c - sites/manifest.c: building, lookup, JSON,
 * zstd, deploy ids, deltas and applying them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "sites/headers.h"
#include "sites/manifest.h"
#include "sites/redirects.h"

#define SHA_A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C  "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define GIT_1  "1111111111111111111111111111111111111111"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define ID_1   "20261124T093000Z-0123456-3f9a1c"
#define ID_2   "20261124T093100Z-0123456-77aa00"
#define ID_3   "20261124T093200Z-0123456-0b0b0b"

static const struct sites_header frame_hdr[] = {{"X-Frame-Options", "DENY"}};

static struct sites_entry
mk_entry(const char *path, const char *sha, const char *type, uint64_t size)
{
    struct sites_entry e;

    memset(&e, 0, sizeof(e));
    e.path = path;
    memcpy(e.sha256, sha, SITES_SHA256_HEX + 1);
    e.type = type;
    e.size = size;
    e.klass = SITES_CLASS_ENTRY;
    return e;
}

/* A small site: two pages, a stylesheet asset, a robots.txt. */
static struct sites_manifest *
mk_site(const char *id, const char *parent, const char *index_sha)
{
    struct pier_err err;
    struct sites_manifest *m;
    struct sites_entry e;
    static const char redirects[] = "/old /new 301\n";
    static const char headers[] = "/*\n  X-Frame-Options: DENY\n";

    m = sites_manifest_new("blog", id, parent, COMMIT, 1795512600, &err);
    assert_non_null(m);
    e = mk_entry("/index.html", index_sha, "text/html; charset=utf-8", 5120);
    e.enc_size[SITES_ENC_BR] = 1200;
    e.enc_size[SITES_ENC_GZIP] = 1500;
    memcpy(e.git_blob, GIT_1, sizeof(GIT_1));
    e.headers = frame_hdr;
    e.nheaders = 1;
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    e = mk_entry("/style.css", SHA_B, "text/css; charset=utf-8", 900);
    e.klass = SITES_CLASS_ASSET;
    e.alias = "/style.bbbbbbbbbb.css";
    e.enc_size[SITES_ENC_ZSTD] = 400;
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    e = mk_entry("/about/index.html", SHA_C, "text/html; charset=utf-8", 10);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    e = mk_entry("/robots.txt", SHA_C, "text/plain; charset=utf-8", 10);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    assert_int_equal(sites_manifest_set_rules(m, redirects,
                                              sizeof(redirects) - 1, headers,
                                              sizeof(headers) - 1, &err),
                     PIER_OK);
    assert_int_equal(sites_manifest_seal(m, &err), PIER_OK);
    sites_manifest_assert(m);
    return m;
}

static void
encode(const struct sites_manifest *m, struct pier_buf *b)
{
    struct pier_err err;

    pier_buf_init(b, SIZE_MAX);
    assert_int_equal(sites_manifest_encode(m, b, &err), PIER_OK);
}

static void
test_manifest_lookup_paths_and_aliases(void **state)
{
    struct sites_manifest *m = mk_site(ID_1, NULL, SHA_A);
    const struct sites_entry *e;
    bool hashed = true;

    (void) state;
    assert_int_equal(sites_manifest_count(m), 4);
    /* Sorted by path. */
    assert_string_equal(sites_manifest_at(m, 0)->path, "/about/index.html");
    assert_string_equal(sites_manifest_at(m, 3)->path, "/style.css");
    e = sites_manifest_get(m, PIER_STR("/index.html"), &hashed);
    assert_non_null(e);
    assert_false(hashed);
    assert_string_equal(e->sha256, SHA_A);
    assert_int_equal(e->enc_size[SITES_ENC_BR], 1200);
    assert_int_equal(e->enc_size[SITES_ENC_ZSTD], 0);
    assert_string_equal(e->headers[0].value, "DENY");
    e = sites_manifest_get(m, PIER_STR("/style.css"), &hashed);
    assert_non_null(e);
    assert_false(hashed);
    e = sites_manifest_get(m, PIER_STR("/style.bbbbbbbbbb.css"), &hashed);
    assert_non_null(e);
    assert_true(hashed);
    assert_string_equal(e->path, "/style.css");
    assert_null(sites_manifest_get(m, PIER_STR("/index.htm"), &hashed));
    assert_false(hashed);
    assert_null(sites_manifest_get(m, PIER_STR("/index.html/"), NULL));
    assert_null(sites_manifest_get(m, PIER_STR("/"), NULL));
    assert_null(sites_manifest_get(m, PIER_STR_NULL, NULL));
    /* The view need not be NUL-terminated. */
    assert_non_null(
        sites_manifest_get(m, pier_str_make("/robots.txtXYZ", 11), NULL));
    assert_int_equal(sites_manifest_bytes(m), 5120 + 900 + 10 + 10);
    assert_string_equal(sites_manifest_redirects_text(m).ptr,
                        "/old /new 301\n");
    sites_manifest_free(m);
    sites_manifest_free(NULL);
}

static void
test_manifest_json_round_trip(void **state)
{
    struct sites_manifest *m = mk_site(ID_2, ID_1, SHA_A), *m2;
    struct pier_buf a, b;
    struct pier_err err;
    const struct sites_entry *e;

    (void) state;
    encode(m, &a);
    assert_non_null(strstr(a.data, "\"format\":1"));
    assert_non_null(strstr(a.data, "\"alias\":\"/style.bbbbbbbbbb.css\""));
    m2 = sites_manifest_decode(a.data, a.len, &err);
    assert_non_null(m2);
    sites_manifest_assert(m2);
    assert_string_equal(sites_manifest_site(m2), "blog");
    assert_string_equal(sites_manifest_deploy(m2), ID_2);
    assert_string_equal(sites_manifest_parent(m2), ID_1);
    assert_string_equal(sites_manifest_commit(m2), COMMIT);
    assert_int_equal(sites_manifest_created(m2), 1795512600);
    assert_int_equal(sites_manifest_count(m2), 4);
    e = sites_manifest_get(m2, PIER_STR("/index.html"), NULL);
    assert_non_null(e);
    assert_true(sites_entry_eq(
        e, sites_manifest_get(m, PIER_STR("/index.html"), NULL)));
    assert_string_equal(e->git_blob, GIT_1);
    encode(m2, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_string_equal(sites_manifest_headers_text(m2).ptr,
                        "/*\n  X-Frame-Options: DENY\n");
    pier_buf_release(&a);
    pier_buf_release(&b);
    sites_manifest_free(m);
    sites_manifest_free(m2);
}

static void
test_manifest_zstd_round_trip_and_limits(void **state)
{
    struct sites_manifest *m = mk_site(ID_1, NULL, SHA_A), *m2;
    struct pier_buf z, json, out;
    struct pier_err err;
    char junk[64];

    (void) state;
    pier_buf_init(&z, SIZE_MAX);
    assert_int_equal(sites_manifest_store_zst(m, 3, &z, &err), PIER_OK);
    encode(m, &json);
    assert_true(z.len < json.len);
    m2 = sites_manifest_load_zst(z.data, z.len, 1 << 20, &err);
    assert_non_null(m2);
    assert_int_equal(sites_manifest_count(m2), 4);
    sites_manifest_free(m2);
    /* One byte short of the JSON: refused, not cut. */
    assert_null(sites_manifest_load_zst(z.data, z.len, json.len - 1, &err));
    assert_non_null(strstr(err.msg, "longer than"));
    /* Exactly the JSON's length fits. */
    m2 = sites_manifest_load_zst(z.data, z.len, json.len, &err);
    if (m2 == NULL) {
        fail_msg("%s", err.msg);
    }
    sites_manifest_free(m2);
    /* Truncated frame. */
    assert_null(sites_manifest_load_zst(z.data, z.len - 3, 1 << 20, &err));
    assert_non_null(strstr(err.msg, "manifest: zstd"));
    /* Not zstd at all, and empty. */
    memset(junk, 'x', sizeof(junk));
    assert_null(sites_manifest_load_zst(junk, sizeof(junk), 1 << 20, &err));
    assert_null(sites_manifest_load_zst(junk, 0, 1 << 20, &err));
    /* A compression limit holds too, and leaves the buffer as it was. */
    pier_buf_init(&out, 10);
    assert_int_equal(sites_zstd_compress(json.data, json.len, 3, &out, &err),
                     PIER_ERR);
    assert_int_equal(out.len, 0);
    pier_buf_release(&out);
    /* Two frames back to back decompress to both contents. */
    pier_buf_init(&out, SIZE_MAX);
    pier_buf_reset(&z);
    assert_int_equal(sites_zstd_compress("abc", 3, 1, &z, &err), PIER_OK);
    assert_int_equal(sites_zstd_compress("def", 3, 1, &z, &err), PIER_OK);
    assert_int_equal(sites_zstd_decompress(z.data, z.len, &out, &err), PIER_OK);
    assert_string_equal(out.data, "abcdef");
    pier_buf_release(&out);
    pier_buf_release(&z);
    pier_buf_release(&json);
    sites_manifest_free(m);
}

/* Each malformed document is refused with a message naming the problem. */
static void
test_manifest_decode_refuses(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{\"format\":1,", "manifest: 1:"},
        {"[]", "not a JSON object"},
        {"{\"format\":2}", "\"format\" is not 1"},
        {"{\"format\":1,\"site\":\"Blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{}}",
         "bad site name"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"nope\",\"created\":0,"
         "\"files\":{}}",
         "bad deploy id"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"files\":{}}",
         "\"created\""},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":[]}",
         "\"files\" is not an object"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a/../b\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\"}}}",
         "bad path '/a/../b'"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"abc\","
         "\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\"}}}",
         "'/a': bad sha256"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":-1,\"class\":\"entry\"}}}",
         "'/a': bad or missing \"size\""},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"asset\"}}}",
         "'/a': bad or missing alias"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"thing\"}}}",
         "unknown class"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\\r\\nX: y\",\"size\":1,"
         "\"class\":\"entry\"}}}",
         "'/a': bad content type"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\","
         "\"headers\":[[\"X-A\",\"b\\r\\nSet-Cookie: x\"]]}}}",
         "bad byte 0x0d"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\","
         "\"headers\":[[\"Content-Length\",\"5\"]]}}}",
         "may not be set"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\","
         "\"headers\":[\"X-A\"]}}}",
         "header 0 is not [name, value]"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\"},"
         "\"/a\":{}}}",
         "'/a': missing \"sha256\""}, /* the last of a repeated key counts */
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"asset\","
         "\"alias\":\"/b\"},\"/b\":{\"sha256\":\"" SHA_A
         "\",\"type\":\"text/plain\",\"size\":1,\"class\":\"entry\"}}}",
         "alias '/b' of '/a' is also a path"},
        {"{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
         "\",\"created\":0,\"files\":{\"/a\\u0000b\":{}}}",
         "manifest: 1:"},
    };
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        memset(&err, 0, sizeof(err));
        assert_null(
            sites_manifest_decode(cases[i].json, strlen(cases[i].json), &err));
        if (strstr(err.msg, cases[i].msg) == NULL
            || strncmp(err.msg, "manifest: ", 10) != 0) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        }
    }
}

static void
test_manifest_add_checks_fields(void **state)
{
    struct pier_err err;
    struct sites_manifest *m;
    struct sites_entry e;
    static const struct sites_header nul_hdr[] = {{"Transfer-Encoding", "x"}};

    (void) state;
    assert_null(sites_manifest_new("-blog", ID_1, NULL, NULL, 0, &err));
    assert_null(sites_manifest_new("blog", ID_1, "x", NULL, 0, &err));
    assert_null(sites_manifest_new("blog", ID_1, NULL, "abc", 0, &err));
    m = sites_manifest_new("blog", ID_1, NULL, NULL, 0, &err);
    assert_non_null(m);
    e = mk_entry("relative.html", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "bad path 'relative.html'"));
    e = mk_entry("/a//b", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry("/a/./b", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry("/a\tb", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry(
        "/a",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "'/a': bad sha256"));
    e = mk_entry("/a", SHA_A, "text/html", 1);
    e.alias = "/a.x";
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "an entry has no alias"));
    e = mk_entry("/a", SHA_A, "text/html", 1);
    memcpy(e.git_blob, "xyz", 4);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry("/a", SHA_A, "text/html", 1);
    e.headers = nul_hdr;
    e.nheaders = 1;
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "'/a': header 'Transfer-Encoding'"));
    /* Two records of one path are found by seal. */
    e = mk_entry("/a", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    assert_int_equal(sites_manifest_seal(m, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "path '/a' listed twice"));
    sites_manifest_free(m);
}

static void
test_manifest_paths(void **state)
{
    (void) state;
    assert_true(sites_path_ok(PIER_STR("/a")));
    assert_true(sites_path_ok(PIER_STR("/.well-known/security.txt")));
    assert_true(sites_path_ok(PIER_STR("/a/..b/c..")));
    assert_true(sites_path_ok(PIER_STR("/my file.html")));
    assert_false(sites_path_ok(PIER_STR("/")));
    assert_false(sites_path_ok(PIER_STR("")));
    assert_false(sites_path_ok(PIER_STR("a")));
    assert_false(sites_path_ok(PIER_STR("/a/")));
    assert_false(sites_path_ok(PIER_STR("/..")));
    assert_false(sites_path_ok(PIER_STR("/a/.")));
    assert_false(sites_path_ok(PIER_STR("/a\r")));
    assert_false(sites_path_ok(pier_str_make("/a\0b", 4)));
}

static void
test_manifest_deploy_ids(void **state)
{
    char a[SITES_DEPLOY_ID_MAX + 1], b[SITES_DEPLOY_ID_MAX + 1];
    char c[SITES_DEPLOY_ID_MAX + 1];
    struct pier_err err;

    (void) state;
    /* 2026-11-24 09:30:00 UTC */
    assert_int_equal(sites_deploy_id_new(1795512600000, COMMIT, a, &err),
                     PIER_OK);
    assert_int_equal(strlen(a), 20 + 7 + 1 + 6);
    assert_memory_equal(a, "20261124T093000000Z-0123456-", 28);
    assert_int_equal(sites_deploy_id_new(1795512600000, COMMIT, b, &err),
                     PIER_OK);
    assert_int_equal(sites_deploy_id_new(1795512600007, NULL, c, &err), PIER_OK);
    assert_memory_equal(c, "20261124T093000007Z-", 20);
    assert_int_equal(strlen(c), 20 + 6);
    /* Same millisecond, same commit: the random part tells them apart (a
     * collision has probability 2^-24). */
    assert_string_not_equal(a, b);
    /* A later millisecond of the same second sorts later, whatever the
     * commit (gc keeps the newest by this order). */
    assert_true(strcmp(a, c) < 0);
    assert_true(sites_deploy_id_ok(pier_str_cstr(a)));
    assert_true(sites_deploy_id_ok(PIER_STR("20261124T093000Z-0123456-a41b0e")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T09300012Z-abc")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T0930001x3Z-abc")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T093000Z-")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T093000Z_abc")));
    assert_false(sites_deploy_id_ok(PIER_STR("2026112xT093000Z-abc")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T093000Z-ABC")));
    assert_false(sites_deploy_id_ok(PIER_STR("20261124T093000Z-a/b")));
    assert_int_equal(sites_deploy_id_new(0, "zz", a, &err), PIER_ERR);
}

/* The publisher's diff and the edge's apply agree: apply(from, delta) is
 * the target manifest, byte for byte. */
static void
test_manifest_delta_compute_apply(void **state)
{
    struct sites_manifest *m1 = mk_site(ID_1, NULL, SHA_A), *m2, *m3;
    struct pier_err err;
    struct sites_entry e;
    struct sites_delta *d, *d2;
    struct pier_buf j, a, b;
    const char *path;
    static const char redirects[] = "/old /newer 302\n";

    (void) state;
    /* Deploy 2: index.html changes, robots.txt goes, /new.html comes,
     * the stylesheet stays, the rules change. */
    m2 = sites_manifest_new("blog", ID_2, ID_1, COMMIT, 1795512660, &err);
    assert_non_null(m2);
    e = *sites_manifest_get(m1, PIER_STR("/index.html"), NULL);
    memcpy(e.sha256, SHA_C, sizeof(SHA_C));
    assert_int_equal(sites_manifest_add(m2, &e, &err), PIER_OK);
    e = *sites_manifest_get(m1, PIER_STR("/style.css"), NULL);
    assert_int_equal(sites_manifest_add(m2, &e, &err), PIER_OK);
    e = *sites_manifest_get(m1, PIER_STR("/about/index.html"), NULL);
    assert_int_equal(sites_manifest_add(m2, &e, &err), PIER_OK);
    e = mk_entry("/new.html", SHA_B, "text/html", 3);
    assert_int_equal(sites_manifest_add(m2, &e, &err), PIER_OK);
    assert_int_equal(
        sites_manifest_set_rules(m2, redirects, sizeof(redirects) - 1,
                                 sites_manifest_headers_text(m1).ptr,
                                 sites_manifest_headers_text(m1).len, &err),
        PIER_OK);
    assert_int_equal(sites_manifest_seal(m2, &err), PIER_OK);

    d = sites_delta_compute(m1, m2, &err);
    assert_non_null(d);
    assert_string_equal(sites_delta_site(d), "blog");
    assert_string_equal(sites_delta_from(d), ID_1);
    assert_string_equal(sites_delta_to(d), ID_2);
    assert_true(sites_delta_rules_changed(d));
    assert_int_equal(sites_delta_count(d), 3);
    assert_non_null(sites_delta_at(d, 0, &path));
    assert_string_equal(path, "/index.html");
    assert_non_null(sites_delta_at(d, 1, &path));
    assert_string_equal(path, "/new.html");
    assert_null(sites_delta_at(d, 2, &path));
    assert_string_equal(path, "/robots.txt");

    /* Through JSON, as it travels to the edge. */
    pier_buf_init(&j, SIZE_MAX);
    assert_int_equal(sites_delta_encode(d, &j, &err), PIER_OK);
    assert_non_null(strstr(j.data, "\"/robots.txt\":null"));
    assert_non_null(strstr(j.data, "\"rules_changed\":true"));
    assert_null(strstr(j.data, "style"));
    d2 = sites_delta_decode(j.data, j.len, &err);
    assert_non_null(d2);
    assert_int_equal(sites_delta_count(d2), 3);

    m3 = sites_manifest_apply(m1, d2, &err);
    assert_non_null(m3);
    sites_manifest_assert(m3);
    encode(m2, &a);
    encode(m3, &b);
    assert_string_equal(a.data, b.data);
    /* The delta was for ID_1; applied to ID_2 it is refused. */
    sites_manifest_free(m3);
    m3 = sites_manifest_apply(m2, d2, &err);
    assert_null(m3);
    assert_non_null(strstr(err.msg, "from deploy"));

    pier_buf_release(&j);
    pier_buf_release(&a);
    pier_buf_release(&b);
    sites_delta_free(d);
    sites_delta_free(d2);
    sites_manifest_free(m1);
    sites_manifest_free(m2);
    sites_delta_free(NULL);
}

static void
test_manifest_delta_no_change_and_first(void **state)
{
    struct sites_manifest *m1 = mk_site(ID_1, NULL, SHA_A);
    struct sites_manifest *m2 = mk_site(ID_2, ID_1, SHA_A), *m3;
    struct pier_err err;
    struct sites_delta *d;
    struct pier_buf j;

    (void) state;
    d = sites_delta_compute(m1, m2, &err);
    assert_non_null(d);
    assert_int_equal(sites_delta_count(d), 0);
    assert_false(sites_delta_rules_changed(d));
    pier_buf_init(&j, SIZE_MAX);
    assert_int_equal(sites_delta_encode(d, &j, &err), PIER_OK);
    assert_non_null(strstr(j.data, "\"changes\":{}"));
    assert_null(strstr(j.data, "\"redirects\""));
    sites_delta_free(d);
    d = sites_delta_decode(j.data, j.len, &err);
    assert_non_null(d);
    m3 = sites_manifest_apply(m1, d, &err);
    assert_non_null(m3);
    /* The rules come from the old manifest when unchanged. */
    assert_string_equal(sites_manifest_redirects_text(m3).ptr,
                        "/old /new 301\n");
    assert_string_equal(sites_manifest_deploy(m3), ID_2);
    assert_string_equal(sites_manifest_parent(m3), ID_1);
    sites_manifest_free(m3);
    sites_delta_free(d);
    /* A first deploy: every path appears, from is null, and an edge
     * cannot apply it to anything. */
    d = sites_delta_compute(NULL, m1, &err);
    assert_non_null(d);
    assert_null(sites_delta_from(d));
    assert_int_equal(sites_delta_count(d), 4);
    assert_true(sites_delta_rules_changed(d));
    assert_null(sites_manifest_apply(m2, d, &err));
    sites_delta_free(d);
    pier_buf_release(&j);
    sites_manifest_free(m1);
    sites_manifest_free(m2);
}

static void
test_manifest_delta_decode_refuses(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{", "delta: 1:"},
        {"{\"site\":\"blog\",\"to_deploy\":\"" ID_2
         "\",\"created\":0,\"changes\":{}}",
         "rules_changed"},
        {"{\"site\":\"blog\",\"from_deploy\":\"x\",\"to_deploy\":\"" ID_2
         "\",\"created\":0,\"changes\":{},\"rules_changed\":false}",
         "bad deploy id"},
        {"{\"site\":\"blog\",\"to_deploy\":\"" ID_2
         "\",\"created\":0,\"changes\":{\"/../x\":null},"
         "\"rules_changed\":false}",
         "bad path"},
        {"{\"site\":\"blog\",\"to_deploy\":\"" ID_2
         "\",\"created\":0,\"changes\":{\"/x\":{\"sha256\":1}},"
         "\"rules_changed\":false}",
         "'/x': \"sha256\" is not a string"},
        {"{\"site\":\"blog\",\"to_deploy\":\"" ID_2
         "\",\"created\":0,\"changes\":[],\"rules_changed\":false}",
         "\"changes\" is not an object"},
    };
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(cases); i++) {
        memset(&err, 0, sizeof(err));
        assert_null(
            sites_delta_decode(cases[i].json, strlen(cases[i].json), &err));
        if (strstr(err.msg, cases[i].msg) == NULL
            || strncmp(err.msg, "delta: ", 7) != 0) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        }
    }
}

/* A delta that removes a path the manifest lacks means the two disagree:
 * refuse, so the edge loads the whole manifest. */
static void
test_manifest_apply_refuses_missing_removal(void **state)
{
    struct sites_manifest *m1 = mk_site(ID_1, NULL, SHA_A);
    struct pier_err err;
    struct sites_delta *d;
    static const char json[] =
        "{\"site\":\"blog\",\"from_deploy\":\"" ID_1 "\",\"to_deploy\":\"" ID_3
        "\",\"created\":0,\"changes\":{\"/nothere\":null},"
        "\"rules_changed\":false}";

    (void) state;
    d = sites_delta_decode(json, sizeof(json) - 1, &err);
    assert_non_null(d);
    assert_null(sites_manifest_apply(m1, d, &err));
    assert_non_null(strstr(err.msg, "removes '/nothere'"));
    sites_delta_free(d);
    sites_manifest_free(m1);
}

/* Every one-byte change of a valid manifest either decodes or fails with
 * a "manifest: " message; nothing crashes or leaks (ASan, valgrind). */
static void
test_manifest_decode_byte_varied(void **state)
{
    struct sites_manifest *m = mk_site(ID_1, NULL, SHA_A), *m2;
    struct pier_buf a;
    struct pier_err err;
    static const char subst[] = {'"', '{', '}', '\\', '0', 'z', ':', ',', 0};
    size_t i, k, ok = 0;

    (void) state;
    encode(m, &a);
    for (i = 0; i < a.len; i++) {
        char saved = a.data[i];

        for (k = 0; k < sizeof(subst); k++) {
            a.data[i] = subst[k];
            m2 = sites_manifest_decode(a.data, a.len, &err);
            if (m2 != NULL) {
                sites_manifest_assert(m2);
                ok++;
                sites_manifest_free(m2);
            } else {
                assert_int_equal(strncmp(err.msg, "manifest: ", 10), 0);
            }
        }
        a.data[i] = saved;
        /* Every prefix is refused. */
        assert_null(sites_manifest_decode(a.data, i, &err));
    }
    assert_true(ok > 0);
    pier_buf_release(&a);
    sites_manifest_free(m);
}

/* The rules are parsed on seal and on load; a bad rule fails either,
 * naming its file and line. */
static void
test_manifest_rules_parsed(void **state)
{
    struct sites_manifest *m = mk_site(ID_1, NULL, SHA_A);
    struct pier_buf to;
    struct pier_err err;
    static const char bad[] = "/a /b\n/c /d 999\n";
    static const char json[] =
        "{\"format\":1,\"site\":\"blog\",\"deploy\":\"" ID_1
        "\",\"created\":0,\"files\":{},\"redirects\":\"/x\\n\"}";

    (void) state;
    pier_buf_init(&to, 256);
    assert_int_equal(sites_redirects_match(sites_manifest_redirects(m),
                                           PIER_STR("/old"), 0, &to, &err),
                     301);
    assert_string_equal(to.data, "/new");
    pier_buf_reset(&to);
    assert_int_equal(sites_headers_match(sites_manifest_headers(m),
                                         PIER_STR("/index.html"), &to, &err),
                     1);
    assert_string_equal(to.data, "X-Frame-Options: DENY\r\n");
    pier_buf_release(&to);
    sites_manifest_free(m);

    m = sites_manifest_new("blog", ID_1, NULL, NULL, 0, &err);
    assert_non_null(m);
    assert_int_equal(
        sites_manifest_set_rules(m, NULL, 0, "/a\n  Connection: x", 18, &err),
        PIER_OK);
    assert_int_equal(sites_manifest_seal(m, &err), PIER_ERR);
    assert_string_equal(err.msg, "_headers:2: header 'Connection' may not be "
                                 "set by a site");
    sites_manifest_free(m);

    m = sites_manifest_new("blog", ID_1, NULL, NULL, 0, &err);
    assert_non_null(m);
    assert_int_equal(
        sites_manifest_set_rules(m, bad, sizeof(bad) - 1, NULL, 0, &err),
        PIER_OK);
    assert_int_equal(sites_manifest_seal(m, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "_redirects:2: status 999"));
    sites_manifest_free(m);
    assert_null(sites_manifest_decode(json, sizeof(json) - 1, &err));
    assert_string_equal(err.msg, "manifest: _redirects:1: a rule needs a "
                                 "source and a target");
}

/* Strings that need escaping survive the hand-written encoder and
 * jansson's decoder; bytes JSON cannot carry are refused up front. */
static void
test_manifest_json_escapes_and_utf8(void **state)
{
    static const char rules[] = "# \x01 \"quoted\" back\\slash caf\xc3\xa9 \t\n"
                                "/a /b\r\n";
    static const char headers[] = "/*\n  X-Note: \"caf\xc3\xa9\" \\o/\n";
    static const struct sites_header hs[] = {{"X-Q", "a \"b\" \\ c\td"}};
    struct sites_manifest *m, *m2;
    struct sites_entry e;
    struct pier_buf a, b;
    struct pier_err err;

    (void) state;
    m = sites_manifest_new("blog", ID_1, NULL, NULL, -5, &err);
    assert_non_null(m);
    e = mk_entry("/caf\xc3\xa9 \"x\"\\y.html", SHA_A, "text/html", 1);
    e.headers = hs;
    e.nheaders = 1;
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    e = mk_entry("/bad\xc3(.html", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry("/overlong\xc0\xaf.html", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    e = mk_entry("/surrogate\xed\xa0\x80.html", SHA_A, "text/html", 1);
    assert_int_equal(sites_manifest_add(m, &e, &err), PIER_ERR);
    assert_int_equal(
        sites_manifest_set_rules(m, "/a /b\xff\n", 7, NULL, 0, &err), PIER_ERR);
    assert_string_equal(err.msg, "_redirects: not valid UTF-8");
    assert_int_equal(sites_manifest_set_rules(m, rules, sizeof(rules) - 1,
                                              headers, sizeof(headers) - 1,
                                              &err),
                     PIER_OK);
    assert_int_equal(sites_manifest_seal(m, &err), PIER_OK);
    encode(m, &a);
    assert_non_null(strstr(a.data, "\\u0001"));
    m2 = sites_manifest_decode(a.data, a.len, &err);
    if (m2 == NULL) {
        fail_msg("%s in %s", err.msg, a.data);
    }
    assert_int_equal(sites_manifest_redirects_text(m2).len, sizeof(rules) - 1);
    assert_memory_equal(sites_manifest_redirects_text(m2).ptr, rules,
                        sizeof(rules) - 1);
    assert_string_equal(sites_manifest_headers_text(m2).ptr, headers);
    assert_int_equal(sites_manifest_created(m2), -5);
    assert_true(
        sites_entry_eq(sites_manifest_at(m, 0), sites_manifest_at(m2, 0)));
    encode(m2, &b);
    assert_string_equal(a.data, b.data);
    /* A full buffer leaves it as it was. */
    pier_buf_release(&b);
    pier_buf_init(&b, a.len - 1);
    assert_int_equal(pier_buf_adds(&b, "x"), PIER_OK);
    assert_int_equal(sites_manifest_encode(m2, &b, &err), PIER_ERR);
    assert_string_equal(b.data, "x");
    pier_buf_release(&a);
    pier_buf_release(&b);
    sites_manifest_free(m);
    sites_manifest_free(m2);
}

/* xorshift64: deterministic, so a failure repeats. */
static uint64_t
next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A manifest over a random subset of 24 paths, each record drawn from a
 * few variants, with one of three rule sets. */
static struct sites_manifest *
random_manifest(uint64_t *rng, const char *id, const char *parent)
{
    static const char *const shas[] = {SHA_A, SHA_B, SHA_C};
    static const char *const rules[] = {"", "/a /b\n", "/a /c 302\n"};
    static const struct sites_header hs[] = {{"X-A", "1"}, {"X-B", "2"}};
    struct sites_manifest *m;
    struct pier_err err;
    char path[32], alias[40];
    int i;

    m = sites_manifest_new("blog", id, parent, NULL, 7, &err);
    assert_non_null(m);
    for (i = 0; i < 24; i++) {
        uint64_t r = next_rand(rng);
        struct sites_entry e;

        if (r % 3 == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/d%d/f%02d.html", i % 4, i);
        e = mk_entry(path, shas[(r >> 4) % 3], "text/html", (r >> 8) % 5);
        e.enc_size[SITES_ENC_BR] = (r >> 12) % 3;
        if ((r >> 16) % 4 == 0) {
            e.klass = SITES_CLASS_ASSET;
            snprintf(alias, sizeof(alias), "/d%d/f%02d.%c.html", i % 4, i,
                     (char) ('a' + (r >> 20) % 3));
            e.alias = alias;
        }
        e.nheaders = (r >> 24) % 3;
        e.headers = e.nheaders > 0 ? hs : NULL;
        assert_int_equal(sites_manifest_add(m, &e, &err), PIER_OK);
    }
    i = (int) (next_rand(rng) % 3);
    assert_int_equal(
        sites_manifest_set_rules(m, rules[i], strlen(rules[i]), NULL, 0, &err),
        PIER_OK);
    if (sites_manifest_seal(m, &err) != PIER_OK) {
        fail_msg("seal: %s", err.msg);
    }
    return m;
}

/* For random pairs of manifests, the delta travels as JSON and applying
 * it to the first gives the second, byte for byte; the delta lists
 * exactly the paths whose records differ. */
static void
test_manifest_delta_random_pairs(void **state)
{
    uint64_t rng = 0x9e3779b97f4a7c15u;
    struct pier_err err;
    int round;

    (void) state;
    for (round = 0; round < 300; round++) {
        struct sites_manifest *a = random_manifest(&rng, ID_1, NULL);
        struct sites_manifest *b = random_manifest(&rng, ID_2, ID_1), *c;
        struct sites_delta *d, *d2;
        struct pier_buf j, eb, ec;
        size_t i, n = 0;

        d = sites_delta_compute(a, b, &err);
        assert_non_null(d);
        pier_buf_init(&j, SIZE_MAX);
        assert_int_equal(sites_delta_encode(d, &j, &err), PIER_OK);
        d2 = sites_delta_decode(j.data, j.len, &err);
        if (d2 == NULL) {
            fail_msg("round %d: %s", round, err.msg);
        }
        c = sites_manifest_apply(a, d2, &err);
        if (c == NULL) {
            fail_msg("round %d: %s", round, err.msg);
        }
        sites_manifest_assert(c);
        encode(b, &eb);
        encode(c, &ec);
        assert_string_equal(eb.data, ec.data);
        /* Count the differing paths by hand. */
        for (i = 0; i < sites_manifest_count(a); i++) {
            const struct sites_entry *x = sites_manifest_at(a, i);
            const struct sites_entry *y =
                sites_manifest_get(b, pier_str_cstr(x->path), NULL);

            if (y == NULL || strcmp(y->path, x->path) != 0
                || !sites_entry_eq(x, y)) {
                n++;
            }
        }
        for (i = 0; i < sites_manifest_count(b); i++) {
            const struct sites_entry *y = sites_manifest_at(b, i);
            const struct sites_entry *x =
                sites_manifest_get(a, pier_str_cstr(y->path), NULL);

            if (x == NULL || strcmp(x->path, y->path) != 0) {
                n++;
            }
        }
        assert_int_equal(sites_delta_count(d2), n);
        pier_buf_release(&j);
        pier_buf_release(&eb);
        pier_buf_release(&ec);
        sites_delta_free(d);
        sites_delta_free(d2);
        sites_manifest_free(a);
        sites_manifest_free(b);
        sites_manifest_free(c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_lookup_paths_and_aliases),
        cmocka_unit_test(test_manifest_json_round_trip),
        cmocka_unit_test(test_manifest_zstd_round_trip_and_limits),
        cmocka_unit_test(test_manifest_decode_refuses),
        cmocka_unit_test(test_manifest_add_checks_fields),
        cmocka_unit_test(test_manifest_paths),
        cmocka_unit_test(test_manifest_deploy_ids),
        cmocka_unit_test(test_manifest_delta_compute_apply),
        cmocka_unit_test(test_manifest_delta_no_change_and_first),
        cmocka_unit_test(test_manifest_delta_decode_refuses),
        cmocka_unit_test(test_manifest_apply_refuses_missing_removal),
        cmocka_unit_test(test_manifest_decode_byte_varied),
        cmocka_unit_test(test_manifest_rules_parsed),
        cmocka_unit_test(test_manifest_json_escapes_and_utf8),
        cmocka_unit_test(test_manifest_delta_random_pairs),
    };

    sites_json_init(); /* the arena path pier takes */
    return cmocka_run_group_tests_name("sites/manifest", tests, NULL, NULL);
}
