/*
 * tests/objstore/test_store.c - objstore/store.c: layout and lock,
 * buckets, durable conditional writes, listing, copy, multipart, recovery.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objstore/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

struct fixture {
    char dir[256];
    struct objstore *st;
};

static int
rm_rf(const char *path)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    return system(cmd);
}

static int
setup(void **state)
{
    struct fixture *f = pier_calloc(1, sizeof(*f));
    struct objstore_opts opts = {.min_part_size = 16, .no_fsync = true};
    struct pier_err err;
    bool created = false;

    snprintf(f->dir, sizeof(f->dir), "%s/pier-store-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    f->st = objstore_open(f->dir, &opts, &created, &err);
    if (f->st == NULL || !created) {
        return -1;
    }
    if (objstore_bucket_create(f->st, PIER_STR("bkt"), PIER_STR(""), &err)
        != PIER_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    objstore_close(f->st);
    rm_rf(f->dir);
    pier_free(f);
    return 0;
}

static int
put(struct objstore *st, const char *bucket, struct pier_str key,
    const char *body, const struct objstore_cond *cond,
    struct objstore_obj *out, struct pier_err *err)
{
    struct objstore_put *p;

    p = objstore_put_begin(st, pier_str_cstr(bucket), key, err);
    if (p == NULL) {
        return PIER_ERR;
    }
    if (objstore_put_write(p, body, strlen(body), err) != PIER_OK) {
        objstore_put_abort(p);
        return PIER_ERR;
    }
    return objstore_put_commit(p, NULL, cond, NULL, out, err);
}

static int
put_s(struct objstore *st, const char *key, const char *body)
{
    struct pier_err err;

    return put(st, "bkt", pier_str_cstr(key), body, NULL, NULL, &err);
}

/* Read the whole object into a malloc'd string; NULL if absent. */
static char *
get_s(struct objstore *st, struct pier_str key, struct objstore_obj *obj)
{
    struct objstore_obj local;
    struct pier_err err;
    char *body;
    ssize_t n;
    int fd;

    if (obj == NULL) {
        obj = &local;
    }
    objstore_obj_init(&local);
    if (objstore_get(st, PIER_STR("bkt"), key, obj, &fd, &err) != PIER_OK) {
        objstore_obj_release(&local);
        return NULL;
    }
    body = pier_malloc(obj->size + 1);
    n = pread(fd, body, obj->size, 0);
    close(fd);
    assert_int_equal(n, (ssize_t) obj->size);
    body[n] = '\0';
    objstore_obj_release(&local);
    return body;
}

static void
md5_hex(const void *p, size_t n, char out[33])
{
    uint8_t d[16];
    unsigned len;
    int i;

    EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
    for (i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static size_t
count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* Rows of meta.db's bodies table: inline objects. */
static size_t
count_inline(const char *dir)
{
    char path[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    size_t n;

    snprintf(path, sizeof(path), "%s/meta.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM bodies", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    n = (size_t) sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static size_t
count_files_in_data(const char *dir)
{
    char path[512];
    size_t n = 0;
    int i;

    for (i = 0; i < 256; i++) {
        snprintf(path, sizeof(path), "%s/data/%02x", dir, i);
        n += count_files(path);
    }
    return n;
}

/* Stored bodies: data files plus inline ones. */
static size_t
count_data(const char *dir)
{
    return count_files_in_data(dir) + count_inline(dir);
}

/* ---- layout and lock ---- */

static void
test_store_second_open_is_refused(void **state)
{
    struct fixture *f = *state;
    struct pier_err err;
    struct objstore *st2;
    char pid[32];

    st2 = objstore_open(f->dir, NULL, NULL, &err);
    assert_null(st2);
    snprintf(pid, sizeof(pid), "pid %ld", (long) getpid());
    assert_non_null(strstr(err.msg, "in use by another pier objstore"));
    assert_non_null(strstr(err.msg, pid));
}

static void
test_store_reopen_keeps_objects(void **state)
{
    struct fixture *f = *state;
    struct objstore_opts opts = {.no_fsync = true};
    struct pier_err err;
    bool created = true;
    char *body;

    assert_int_equal(put_s(f->st, "k", "kept"), PIER_OK);
    objstore_close(f->st);
    f->st = objstore_open(f->dir, &opts, &created, &err);
    assert_non_null(f->st);
    assert_false(created);
    body = get_s(f->st, PIER_STR("k"), NULL);
    assert_string_equal(body, "kept");
    pier_free(body);
}

/* ---- buckets ---- */

static void
test_store_bucket_names(void **state)
{
    static const char *good[] = {"abc", "my-bucket", "a.b.c", "pier", "0ab",
                                 /* 63 characters */
                                 "a1234567890123456789012345678901234567890"
                                 "123456789012345678901b"};
    static const char *bad[] = {"ab", "_pier", "ABC", "a_b", "-ab", "ab-",
                                "a..b", "a.-b", "a-.b", "192.168.1.1",
                                "xn--abc", "abc-s3alias", "a b", "ab/c",
                                /* 64 characters */
                                "a1234567890123456789012345678901234567890"
                                "123456789012345678901bc"};
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(good); i++) {
        assert_true(objstore_bucket_name_ok(pier_str_cstr(good[i])));
    }
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        if (objstore_bucket_name_ok(pier_str_cstr(bad[i]))) {
            fail_msg("accepted bucket name '%s'", bad[i]);
        }
    }
}

static void
test_store_bucket_lifecycle(void **state)
{
    struct fixture *f = *state;
    struct objstore_bucket_info *list;
    struct pier_buf region;
    struct pier_err err;
    size_t n;

    assert_int_equal(
        objstore_bucket_create(f->st, PIER_STR("bkt"), PIER_STR(""), &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_BUCKET_ALREADY_OWNED);
    assert_int_equal(err.http, 409);
    assert_int_equal(
        objstore_bucket_create(f->st, PIER_STR("Bad_Name"), PIER_STR(""), &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_BUCKET_NAME);
    assert_int_equal(objstore_bucket_create(f->st, PIER_STR("aaa"),
                                            PIER_STR("eu-west-1"), &err),
                     PIER_OK);
    pier_buf_init(&region, 64);
    assert_int_equal(objstore_bucket_get(f->st, PIER_STR("aaa"), &region, &err),
                     PIER_OK);
    assert_string_equal(region.data, "eu-west-1");
    pier_buf_release(&region);
    assert_int_equal(objstore_bucket_list(f->st, &list, &n, &err), PIER_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "aaa");
    assert_string_equal(list[1].name, "bkt");
    pier_free(list);

    assert_int_equal(put_s(f->st, "x", "1"), PIER_OK);
    assert_int_equal(objstore_bucket_delete(f->st, PIER_STR("bkt"), &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_BUCKET_NOT_EMPTY);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("x"), NULL, &err),
        PIER_OK);
    assert_int_equal(objstore_bucket_delete(f->st, PIER_STR("bkt"), &err),
                     PIER_OK);
    assert_int_equal(objstore_bucket_get(f->st, PIER_STR("bkt"), NULL, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    assert_int_equal(objstore_bucket_delete(f->st, PIER_STR("bkt"), &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    assert_int_equal(put_s(f->st, "x", "1"), PIER_ERR);
}

/* ---- objects ---- */

static void
test_store_put_get_etag_and_meta(void **state)
{
    struct fixture *f = *state;
    struct objstore_obj obj;
    struct objstore_put *p;
    struct pier_buf meta;
    struct pier_err err;
    char want[33], *body;

    objstore_obj_init(&obj);
    pier_buf_init(&meta, SIZE_MAX);
    assert_int_equal(objstore_meta_add(&meta, PIER_STR("content-type"),
                                       PIER_STR("text/plain")),
                     PIER_OK);
    assert_int_equal(
        objstore_meta_add(&meta, PIER_STR("x-amz-meta-a"), PIER_STR("")),
        PIER_OK);
    p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("a/b.txt"), &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, "hello ", 6, &err), PIER_OK);
    assert_int_equal(objstore_put_write(p, "world", 5, &err), PIER_OK);
    assert_int_equal(objstore_put_size(p), 11);
    assert_int_equal(objstore_put_commit(p, NULL, NULL, &meta, &obj, &err),
                     PIER_OK);
    md5_hex("hello world", 11, want);
    assert_string_equal(obj.etag, want);
    assert_int_equal(obj.size, 11);
    objstore_obj_release(&obj);

    objstore_obj_init(&obj);
    body = get_s(f->st, PIER_STR("a/b.txt"), &obj);
    assert_string_equal(body, "hello world");
    pier_free(body);
    assert_string_equal(obj.etag, want);
    assert_true(
        pier_str_eq(objstore_meta_get(&obj.meta, PIER_STR("content-type")),
                    PIER_STR("text/plain")));
    assert_non_null(objstore_meta_get(&obj.meta, PIER_STR("x-amz-meta-a")).ptr);
    assert_null(objstore_meta_get(&obj.meta, PIER_STR("x-amz-meta-b")).ptr);
    objstore_obj_release(&obj);
    pier_buf_release(&meta);

    objstore_obj_init(&obj);
    assert_int_equal(objstore_get(f->st, PIER_STR("bkt"), PIER_STR("nope"),
                                  &obj, NULL, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_KEY);
    assert_int_equal(objstore_get(f->st, PIER_STR("nob"), PIER_STR("a/b.txt"),
                                  &obj, NULL, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    objstore_obj_release(&obj);
}

/* A body that does not match its digests or length stores nothing. */
static void
test_store_put_digest_mismatch_stores_nothing(void **state)
{
    struct fixture *f = *state;
    static const uint8_t zero[32] = {0};
    struct objstore_put_check checks[3] = {
        {.md5 = zero, .size = -1},
        {.sha256 = zero, .size = -1},
        {.size = 3},
    };
    enum pier_s3 codes[3] = {PIER_S3_BAD_DIGEST, PIER_S3_SHA256_MISMATCH,
                             PIER_S3_INCOMPLETE_BODY};
    struct objstore_put *p;
    struct pier_err err;
    char tmp[512];
    size_t i;

    assert_int_equal(put_s(f->st, "k", "old"), PIER_OK);
    for (i = 0; i < 3; i++) {
        p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("k"), &err);
        assert_non_null(p);
        assert_int_equal(objstore_put_write(p, "new body", 8, &err), PIER_OK);
        assert_int_equal(
            objstore_put_commit(p, &checks[i], NULL, NULL, NULL, &err),
            PIER_ERR);
        assert_int_equal(err.s3, codes[i]);
        char *body = get_s(f->st, PIER_STR("k"), NULL);
        assert_string_equal(body, "old");
        pier_free(body);
    }
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(count_data(f->dir), 1);
}

static void
test_store_put_digest_match_commits(void **state)
{
    struct fixture *f = *state;
    uint8_t md5[16], sha[32];
    struct objstore_put_check check = {.md5 = md5, .sha256 = sha, .size = 4};
    struct objstore_put *p;
    struct pier_err err;
    unsigned len;

    EVP_Digest("body", 4, md5, &len, EVP_md5(), NULL);
    EVP_Digest("body", 4, sha, &len, EVP_sha256(), NULL);
    p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("k"), &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, "body", 4, &err), PIER_OK);
    assert_int_equal(objstore_put_commit(p, &check, NULL, NULL, NULL, &err),
                     PIER_OK);
}

static void
test_store_put_too_large(void **state)
{
    struct fixture *f = *state;
    struct objstore_opts opts = {.max_object_size = 10, .no_fsync = true};
    struct objstore_put *p;
    struct pier_err err;

    objstore_close(f->st);
    f->st = objstore_open(f->dir, &opts, NULL, &err);
    assert_non_null(f->st);
    p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("k"), &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, "0123456789", 10, &err), PIER_OK);
    assert_int_equal(objstore_put_write(p, "x", 1, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ENTITY_TOO_LARGE);
    assert_int_equal(objstore_put_commit(p, NULL, NULL, NULL, NULL, &err),
                     PIER_ERR);
}

/* Keys are stored verbatim: nothing is a path. */
static void
test_store_keys_verbatim(void **state)
{
    struct fixture *f = *state;
    static const char *keys[] = {
        "../../etc/passwd",  "a//b", "/lead", "sp ace", "%2F..%2F",
        "\xc3\xa9t\xc3\xa9", ".",    "..",    "a\nb",   "tab\there"};
    char big[OBJSTORE_KEY_MAX + 2];
    struct pier_err err;
    size_t i;

    for (i = 0; i < PIER_NELEMS(keys); i++) {
        assert_int_equal(put_s(f->st, keys[i], keys[i]), PIER_OK);
    }
    for (i = 0; i < PIER_NELEMS(keys); i++) {
        char *body = get_s(f->st, pier_str_cstr(keys[i]), NULL);
        assert_non_null(body);
        assert_string_equal(body, keys[i]);
        pier_free(body);
    }
    memset(big, 'k', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(put(f->st, "bkt", pier_str_make(big, OBJSTORE_KEY_MAX),
                         "x", NULL, NULL, &err),
                     PIER_OK);
    assert_int_equal(put(f->st, "bkt", pier_str_make(big, OBJSTORE_KEY_MAX + 1),
                         "x", NULL, NULL, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_KEY_TOO_LONG);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("bad\xff"), "x", NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("nul\0x"), "x", NULL, NULL, &err), PIER_ERR);
    assert_int_equal(put(f->st, "bkt", PIER_STR(""), "x", NULL, NULL, &err),
                     PIER_ERR);
}

static void
test_store_utf8(void **state)
{
    (void) state;
    assert_true(objstore_utf8_ok(PIER_STR("plain")));
    assert_true(objstore_utf8_ok(PIER_STR("\xe2\x82\xac \xf0\x9f\x98\x80")));
    assert_false(objstore_utf8_ok(PIER_STR("\xc0\xaf")));     /* overlong */
    assert_false(objstore_utf8_ok(PIER_STR("\xed\xa0\x80"))); /* surrogate */
    assert_false(objstore_utf8_ok(PIER_STR("\xf4\x90\x80\x80"))); /* > 10FFFF */
    assert_false(objstore_utf8_ok(PIER_STR("\xe2\x82")));         /* short */
    assert_false(objstore_utf8_ok(PIER_STR("a\0b")));
}

static void
test_store_conditional_put(void **state)
{
    struct fixture *f = *state;
    struct objstore_cond none = {.if_none_match_star = true};
    struct objstore_cond match = {0};
    struct objstore_obj obj;
    struct pier_err err;
    char quoted[64], *body;

    objstore_obj_init(&obj);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d1", &none, &obj, &err),
        PIER_OK);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d2", &none, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(err.http, 412);

    match.if_match = PIER_STR("\"0123\"");
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d2", &match, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    snprintf(quoted, sizeof(quoted), "\"%s\"", obj.etag);
    match.if_match = pier_str_cstr(quoted);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d2", &match, NULL, &err),
        PIER_OK);
    /* The same ETag again: the object changed, so it no longer matches. */
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d3", &match, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    body = get_s(f->st, PIER_STR("live/site"), NULL);
    assert_string_equal(body, "d2");
    pier_free(body);

    match.if_match = PIER_STR("*");
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/site"), "d4", &match, NULL, &err),
        PIER_OK);
    assert_int_equal(
        put(f->st, "bkt", PIER_STR("live/other"), "d4", &match, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_KEY);
    objstore_obj_release(&obj);
}

struct racer {
    struct objstore *st;
    struct objstore_cond cond;
    char body[32];
    int rc;
    enum pier_s3 s3;
    pthread_barrier_t *barrier;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    struct objstore_put *p;
    struct pier_err err;

    p = objstore_put_begin(r->st, PIER_STR("bkt"), PIER_STR("live/x"), &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, r->body, strlen(r->body), &err),
                     PIER_OK);
    pthread_barrier_wait(r->barrier);
    r->rc = objstore_put_commit(p, NULL, &r->cond, NULL, NULL, &err);
    r->s3 = r->rc == PIER_OK ? PIER_S3_NONE : err.s3;
    return NULL;
}

/* Of writers racing with the same condition, exactly one wins. */
static void
test_store_conditional_race_one_winner(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    struct racer r[N];
    pthread_t t[N];
    pthread_barrier_t barrier;
    struct objstore_obj obj;
    int round, i, wins;
    char etag[64], *body;

    objstore_obj_init(&obj);
    for (round = 0; round < 2; round++) {
        if (round == 1) {
            assert_non_null(body = get_s(f->st, PIER_STR("live/x"), &obj));
            pier_free(body);
            snprintf(etag, sizeof(etag), "\"%s\"", obj.etag);
        }
        pthread_barrier_init(&barrier, NULL, N);
        for (i = 0; i < N; i++) {
            memset(&r[i], 0, sizeof(r[i]));
            r[i].st = f->st;
            r[i].barrier = &barrier;
            snprintf(r[i].body, sizeof(r[i].body), "r%d-w%d", round, i);
            if (round == 0) {
                r[i].cond.if_none_match_star = true;
            } else {
                r[i].cond.if_match = pier_str_cstr(etag);
            }
            assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        wins = 0;
        for (i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            if (r[i].rc == PIER_OK) {
                wins++;
                body = get_s(f->st, PIER_STR("live/x"), NULL);
                assert_string_equal(body, r[i].body);
                pier_free(body);
            } else {
                assert_int_equal(r[i].s3, PIER_S3_PRECONDITION_FAILED);
            }
        }
        assert_int_equal(wins, 1);
        pthread_barrier_destroy(&barrier);
    }
    /* Losers left no data behind: one file for the one object. */
    assert_int_equal(count_data(f->dir), 1);
    objstore_obj_release(&obj);
}

struct writer {
    struct objstore *st;
    int id;
    pthread_barrier_t *barrier;
    int ok;
};

static void *
write_many(void *arg)
{
    struct writer *w = arg;
    char key[32], body[32];
    int i;

    pthread_barrier_wait(w->barrier);
    for (i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "w%d/%d", w->id, i);
        snprintf(body, sizeof(body), "body %d %d", w->id, i);
        w->ok += put_s(w->st, key, body) == PIER_OK;
        snprintf(body, sizeof(body), "shared %d %d", w->id, i);
        w->ok += put_s(w->st, "shared", body) == PIER_OK;
    }
    return NULL;
}

/* Writers in parallel, committed in groups: every write is acknowledged
 * and readable afterwards, overwrites leave one file per key, and the
 * groups account for every write. */
static void
test_store_group_commit_keeps_every_write(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    struct writer w[N];
    pthread_t t[N];
    pthread_barrier_t barrier;
    uint64_t commits, writes;
    char key[32], want[32], *body;
    int i, k;

    pthread_barrier_init(&barrier, NULL, N);
    for (i = 0; i < N; i++) {
        w[i] = (struct writer){.st = f->st, .id = i, .barrier = &barrier};
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 50);
    }
    pthread_barrier_destroy(&barrier);
    for (i = 0; i < N; i++) {
        for (k = 0; k < 25; k++) {
            snprintf(key, sizeof(key), "w%d/%d", i, k);
            snprintf(want, sizeof(want), "body %d %d", i, k);
            body = get_s(f->st, pier_str_cstr(key), NULL);
            assert_non_null(body);
            assert_string_equal(body, want);
            pier_free(body);
        }
    }
    body = get_s(f->st, PIER_STR("shared"), NULL);
    assert_non_null(body);
    assert_memory_equal(body, "shared ", 7);
    pier_free(body);
    assert_int_equal(count_data(f->dir), N * 25 + 1);
    objstore_commit_counts(f->st, &commits, &writes);
    assert_int_equal(writes, N * 50);
    assert_true(commits >= 1 && commits <= writes);
}

struct part_writer {
    struct objstore *st;
    const char *upload;
    unsigned part;
    pthread_barrier_t *barrier;
    int ok;
    char etag[OBJSTORE_ETAG_MAX]; /* of the last part written */
};

/* Part w->part five times over (each replaces the last), and five copies
 * of "src", all at once with the other threads. */
static void *
parts_and_copies(void *arg)
{
    struct part_writer *w = arg;
    struct objstore_obj obj;
    struct objstore_put *p;
    struct pier_err err;
    char body[32], key[32];
    int i;

    pthread_barrier_wait(w->barrier);
    for (i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "part %02u, round %d", w->part, i);
        objstore_obj_init(&obj);
        p = objstore_part_begin(w->st, PIER_STR("bkt"), PIER_STR("big"),
                                pier_str_cstr(w->upload), w->part, &err);
        if (p != NULL && objstore_put_write(p, body, strlen(body), &err) == 0
            && objstore_put_commit(p, NULL, NULL, NULL, &obj, &err) == 0) {
            w->ok++;
            snprintf(w->etag, sizeof(w->etag), "%s", obj.etag);
        }
        objstore_obj_release(&obj);
        snprintf(key, sizeof(key), "copy/%u/%d", w->part, i);
        w->ok += objstore_copy(w->st, PIER_STR("bkt"), PIER_STR("src"),
                               PIER_STR("bkt"), pier_str_cstr(key), NULL,
                               NULL, NULL, &err)
                 == PIER_OK;
    }
    return NULL;
}

/* UploadPart and CopyObject go through the group commit too: every one
 * is acknowledged after its commit, counted in the groups, readable
 * afterwards, and replaced parts leave no file behind. */
static void
test_store_group_commit_parts_and_copies(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    struct part_writer w[N];
    struct objstore_part_ref refs[N];
    pthread_t t[N];
    pthread_barrier_t barrier;
    uint64_t commits0, writes0, commits, writes;
    char id[OBJSTORE_UPLOAD_ID_LEN + 1], key[32], want[32 * N], *body;
    struct pier_err err;
    int i, k;

    assert_int_equal(put_s(f->st, "src", "the source"), PIER_OK);
    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("big"), NULL, id, &err),
                     PIER_OK);
    objstore_commit_counts(f->st, &commits0, &writes0);
    pthread_barrier_init(&barrier, NULL, N);
    for (i = 0; i < N; i++) {
        w[i] = (struct part_writer){.st = f->st,
                                    .upload = id,
                                    .part = (unsigned) i + 1,
                                    .barrier = &barrier};
        assert_int_equal(
            pthread_create(&t[i], NULL, parts_and_copies, &w[i]), 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 10);
    }
    pthread_barrier_destroy(&barrier);
    objstore_commit_counts(f->st, &commits, &writes);
    assert_int_equal(writes - writes0, N * 10);
    assert_true(commits - commits0 >= 1 && commits - commits0 <= N * 10);
    /* One file per part (the replaced ones went), one per copy, src. */
    assert_int_equal(count_data(f->dir), 1 + N + N * 5);
    for (i = 0; i < N; i++) {
        for (k = 0; k < 5; k++) {
            snprintf(key, sizeof(key), "copy/%d/%d", i + 1, k);
            body = get_s(f->st, pier_str_cstr(key), NULL);
            assert_non_null(body);
            assert_string_equal(body, "the source");
            pier_free(body);
        }
    }
    /* The last round of each part is what completes. */
    want[0] = '\0';
    for (i = 0; i < N; i++) {
        refs[i].number = (unsigned) i + 1;
        refs[i].etag = pier_str_cstr(w[i].etag);
        snprintf(want + strlen(want), sizeof(want) - strlen(want),
                 "part %02d, round 4", i + 1);
    }
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, N, NULL, NULL, &err),
        PIER_OK);
    body = get_s(f->st, PIER_STR("big"), NULL);
    assert_non_null(body);
    assert_string_equal(body, want);
    pier_free(body);
    assert_int_equal(count_data(f->dir), 1 + 1 + N * 5);
}

/* A reader that opened a version keeps reading it after overwrite and
 * delete. */
static void
test_store_reader_keeps_old_version(void **state)
{
    struct fixture *f = *state;
    struct objstore_obj obj;
    struct pier_err err;
    char buf[16];
    int fd;

    objstore_obj_init(&obj);
    assert_int_equal(put_s(f->st, "k", "version-1"), PIER_OK);
    assert_int_equal(
        objstore_get(f->st, PIER_STR("bkt"), PIER_STR("k"), &obj, &fd, &err),
        PIER_OK);
    assert_int_equal(put_s(f->st, "k", "version-2"), PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("k"), NULL, &err),
        PIER_OK);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 9);
    assert_memory_equal(buf, "version-1", 9);
    close(fd);
    assert_int_equal(count_data(f->dir), 0);
    objstore_obj_release(&obj);
}

/* Read key through rd into a malloc'd string; NULL if it fails, with *s3
 * set. small: ask for the bytes in memory (objstore_body) rather than a
 * descriptor. */
static char *
reader_s(struct objstore_reader *rd, const char *bucket, const char *key,
         enum pier_s3 *s3, bool small)
{
    struct objstore_obj obj;
    struct objstore_body *b = NULL;
    struct pier_err err;
    char *body;
    ssize_t n;
    int fd = -1;

    objstore_obj_init(&obj);
    if (objstore_reader_get(rd, pier_str_cstr(bucket), pier_str_cstr(key), &obj,
                            &fd, small ? &b : NULL, &err)
        != PIER_OK) {
        *s3 = err.s3;
        objstore_obj_release(&obj);
        return NULL;
    }
    body = pier_malloc(obj.size + 1);
    if (small && obj.size <= OBJSTORE_SMALL_MAX) {
        assert_non_null(b);
    }
    if (b != NULL) {
        assert_int_equal(fd, -1);
        assert_int_equal(b->len, obj.size);
        memcpy(body, b->data, b->len);
        n = (ssize_t) b->len;
        objstore_body_unref(b);
    } else {
        assert_null(b);
        n = pread(fd, body, obj.size, 0);
        close(fd);
    }
    assert_int_equal(n, (ssize_t) obj.size);
    body[n] = '\0';
    objstore_obj_release(&obj);
    return body;
}

/* A reader answers as objstore_get(): the row, its metadata, NoSuchBucket,
 * NoSuchKey; it sees each commit made after it opened; an open descriptor
 * keeps its version through overwrite and delete. */
static void
test_store_reader_answers_as_get(void **state)
{
    struct fixture *f = *state;
    struct objstore_reader *rd;
    struct objstore_obj a, b;
    struct pier_buf meta;
    struct pier_err err;
    struct objstore_put *p;
    enum pier_s3 s3 = PIER_S3_NONE;
    char *body, buf[16];
    int fd, fd2;

    objstore_obj_init(&a);
    objstore_obj_init(&b);
    pier_buf_init(&meta, 1024);
    rd = objstore_reader_open(f->st, &err);
    assert_non_null(rd);
    assert_null(reader_s(rd, "bkt", "k", &s3, false));
    assert_int_equal(s3, PIER_S3_NO_SUCH_KEY);
    assert_null(reader_s(rd, "nob", "k", &s3, true));
    assert_int_equal(s3, PIER_S3_NO_SUCH_BUCKET);

    assert_int_equal(objstore_meta_add(&meta, PIER_STR("content-type"),
                                       PIER_STR("text/plain")),
                     PIER_OK);
    p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("k"), &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, "version-1", 9, &err), PIER_OK);
    assert_int_equal(objstore_put_commit(p, NULL, NULL, &meta, NULL, &err),
                     PIER_OK);
    assert_int_equal(objstore_reader_get(rd, PIER_STR("bkt"), PIER_STR("k"), &a,
                                         &fd, NULL, &err),
                     PIER_OK);
    assert_int_equal(
        objstore_get(f->st, PIER_STR("bkt"), PIER_STR("k"), &b, &fd2, &err),
        PIER_OK);
    close(fd2);
    assert_string_equal(a.etag, b.etag);
    assert_int_equal(a.size, 9);
    assert_int_equal(a.mtime_ms, b.mtime_ms);
    assert_int_equal(a.meta.len, b.meta.len);
    assert_memory_equal(a.meta.data, b.meta.data, a.meta.len);
    assert_true(
        pier_str_eq(objstore_meta_get(&a.meta, PIER_STR("content-type")),
                    PIER_STR("text/plain")));

    assert_int_equal(put_s(f->st, "k", "version-2"), PIER_OK);
    body = reader_s(rd, "bkt", "k", &s3, false);
    assert_non_null(body);
    assert_string_equal(body, "version-2");
    pier_free(body);
    body = reader_s(rd, "bkt", "k", &s3, true);
    assert_non_null(body);
    assert_string_equal(body, "version-2");
    pier_free(body);
    /* HEAD: no descriptor. */
    assert_int_equal(objstore_reader_get(rd, PIER_STR("bkt"), PIER_STR("k"), &b,
                                         NULL, NULL, &err),
                     PIER_OK);
    assert_int_equal(b.size, 9);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("k"), NULL, &err),
        PIER_OK);
    assert_null(reader_s(rd, "bkt", "k", &s3, true));
    assert_int_equal(s3, PIER_S3_NO_SUCH_KEY);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 9);
    assert_memory_equal(buf, "version-1", 9);
    close(fd);
    assert_int_equal(count_data(f->dir), 0);
    objstore_reader_close(rd);
    objstore_reader_close(NULL);
    objstore_obj_release(&a);
    objstore_obj_release(&b);
    pier_buf_release(&meta);
}

struct overwriter {
    struct objstore *st;
    volatile bool stop;
    int rounds;
    bool failed;
};

static void *
overwrite(void *arg)
{
    struct overwriter *w = arg;
    char body[32];

    while (!w->stop || w->rounds < 50) {
        snprintf(body, sizeof(body), "v%08d", w->rounds++);
        w->failed |= put_s(w->st, "hot", body) != PIER_OK;
    }
    return NULL;
}

/* Readers racing a writer that overwrites the key without pause: every
 * read gets a whole committed version, never an error, and versions never
 * go backwards. */
static void
test_store_reader_races_overwrites(void **state)
{
    struct fixture *f = *state;
    struct overwriter w = {.st = f->st};
    struct objstore_reader *rd;
    struct pier_err err;
    enum pier_s3 s3 = PIER_S3_NONE;
    pthread_t t;
    char *body;
    long last = -1, v;
    int i;

    assert_int_equal(put_s(f->st, "hot", "v00000000"), PIER_OK);
    rd = objstore_reader_open(f->st, &err);
    assert_non_null(rd);
    assert_int_equal(pthread_create(&t, NULL, overwrite, &w), 0);
    for (i = 0; i < 2000; i++) {
        body = reader_s(rd, "bkt", "hot", &s3, i % 2 == 0);
        assert_non_null(body);
        assert_int_equal(strlen(body), 9);
        assert_int_equal(body[0], 'v');
        v = strtol(body + 1, NULL, 10);
        assert_true(v >= last);
        last = v;
        pier_free(body);
    }
    w.stop = true;
    pthread_join(t, NULL);
    assert_false(w.failed);
    assert_true(w.rounds >= 50);
    objstore_reader_close(rd);
}

/* Objects of up to OBJSTORE_INLINE_MAX bytes live in meta.db, larger ones
 * in data/: both read back whole through a descriptor and through a
 * reader (bytes or descriptor); an overwrite or a delete drops the old
 * body whichever its kind; an open descriptor keeps its version; a copy
 * of an inline object outlives its source; a body that grows past the
 * limit while it streams goes to a file with the right ETag. */
static void
test_store_inline_bodies(void **state)
{
    struct fixture *f = *state;
    static char small[OBJSTORE_INLINE_MAX + 1], big[OBJSTORE_INLINE_MAX + 2];
    struct objstore_reader *rd;
    struct objstore_obj obj;
    struct objstore_put *p;
    enum pier_s3 s3 = PIER_S3_NONE;
    struct pier_err err;
    char *body, buf[16], etag[33];
    size_t i;
    int fd;

    for (i = 0; i < OBJSTORE_INLINE_MAX; i++) {
        small[i] = (char) ('a' + i % 26);
    }
    for (i = 0; i < OBJSTORE_INLINE_MAX + 1; i++) {
        big[i] = (char) ('A' + i % 26);
    }
    objstore_obj_init(&obj);
    rd = objstore_reader_open(f->st, &err);
    assert_non_null(rd);

    assert_int_equal(put_s(f->st, "k", small), PIER_OK);
    assert_int_equal(count_inline(f->dir), 1);
    assert_int_equal(count_files_in_data(f->dir), 0);
    body = get_s(f->st, PIER_STR("k"), &obj);
    assert_string_equal(body, small);
    pier_free(body);
    md5_hex(small, OBJSTORE_INLINE_MAX, etag);
    assert_string_equal(obj.etag, etag);
    body = reader_s(rd, "bkt", "k", &s3, true);
    assert_string_equal(body, small);
    pier_free(body);
    body = reader_s(rd, "bkt", "k", &s3, false);
    assert_string_equal(body, small);
    pier_free(body);

    /* Inline to file: the body row goes, the open descriptor keeps it. */
    assert_int_equal(
        objstore_get(f->st, PIER_STR("bkt"), PIER_STR("k"), &obj, &fd, &err),
        PIER_OK);
    assert_int_equal(put_s(f->st, "k", big), PIER_OK);
    assert_int_equal(count_inline(f->dir), 0);
    assert_int_equal(count_files_in_data(f->dir), 1);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t) sizeof(buf));
    assert_memory_equal(buf, small, sizeof(buf));
    close(fd);
    body = get_s(f->st, PIER_STR("k"), NULL);
    assert_string_equal(body, big);
    pier_free(body);
    body = reader_s(rd, "bkt", "k", &s3, true);
    assert_string_equal(body, big);
    pier_free(body);

    /* File to inline: the file goes. */
    assert_int_equal(put_s(f->st, "k", "tiny"), PIER_OK);
    assert_int_equal(count_inline(f->dir), 1);
    assert_int_equal(count_files_in_data(f->dir), 0);
    body = reader_s(rd, "bkt", "k", &s3, true);
    assert_string_equal(body, "tiny");
    pier_free(body);

    /* A copy has a body of its own. */
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("k"),
                                   PIER_STR("bkt"), PIER_STR("c"), NULL, NULL,
                                   NULL, &err),
                     PIER_OK);
    assert_int_equal(count_inline(f->dir), 2);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("k"), NULL, &err),
        PIER_OK);
    assert_int_equal(count_inline(f->dir), 1);
    body = get_s(f->st, PIER_STR("c"), NULL);
    assert_string_equal(body, "tiny");
    pier_free(body);
    assert_null(reader_s(rd, "bkt", "k", &s3, true));
    assert_int_equal(s3, PIER_S3_NO_SUCH_KEY);

    /* Empty: inline, zero bytes. */
    assert_int_equal(put_s(f->st, "z", ""), PIER_OK);
    body = reader_s(rd, "bkt", "z", &s3, true);
    assert_string_equal(body, "");
    pier_free(body);
    body = get_s(f->st, PIER_STR("z"), NULL);
    assert_string_equal(body, "");
    pier_free(body);

    /* Past the limit mid-stream: spilled to a file, every byte there. */
    p = objstore_put_begin(f->st, PIER_STR("bkt"), PIER_STR("s"), &err);
    assert_non_null(p);
    assert_int_equal(
        objstore_put_write(p, big, OBJSTORE_INLINE_MAX - 10, &err), PIER_OK);
    assert_int_equal(objstore_put_write(p, big + OBJSTORE_INLINE_MAX - 10, 11,
                                        &err),
                     PIER_OK);
    assert_int_equal(objstore_put_commit(p, NULL, NULL, NULL, &obj, &err),
                     PIER_OK);
    md5_hex(big, OBJSTORE_INLINE_MAX + 1, etag);
    assert_string_equal(obj.etag, etag);
    assert_int_equal(count_files_in_data(f->dir), 1);
    body = get_s(f->st, PIER_STR("s"), NULL);
    assert_string_equal(body, big);
    pier_free(body);

    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("c"), NULL, &err),
        PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("z"), NULL, &err),
        PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("s"), NULL, &err),
        PIER_OK);
    assert_int_equal(count_data(f->dir), 0);
    objstore_reader_close(rd);
    objstore_obj_release(&obj);
}

static void
test_store_delete_and_delete_many(void **state)
{
    struct fixture *f = *state;
    struct pier_str keys[4] = {
        PIER_STR("a"), PIER_STR("missing"), PIER_STR("b"), {NULL, 0}};
    enum pier_s3 res[4];
    char big[OBJSTORE_KEY_MAX + 1];
    struct pier_err err;
    bool existed;

    memset(big, 'x', sizeof(big));
    keys[3] = pier_str_make(big, sizeof(big));
    assert_int_equal(put_s(f->st, "a", "1"), PIER_OK);
    assert_int_equal(put_s(f->st, "b", "2"), PIER_OK);
    assert_int_equal(put_s(f->st, "c", "3"), PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("c"), &existed, &err),
        PIER_OK);
    assert_true(existed);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("c"), &existed, &err),
        PIER_OK);
    assert_false(existed);
    assert_int_equal(
        objstore_delete_many(f->st, PIER_STR("bkt"), keys, 4, res, &err),
        PIER_OK);
    assert_int_equal(res[0], PIER_S3_NONE);
    assert_int_equal(res[1], PIER_S3_NONE);
    assert_int_equal(res[2], PIER_S3_NONE);
    assert_int_equal(res[3], PIER_S3_KEY_TOO_LONG);
    assert_null(get_s(f->st, PIER_STR("a"), NULL));
    assert_null(get_s(f->st, PIER_STR("b"), NULL));
    assert_int_equal(count_data(f->dir), 0);
    assert_int_equal(
        objstore_delete_many(f->st, PIER_STR("zzz"), keys, 1, res, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
}

/* S3's conditional deletes: ETag, LastModified (to the millisecond, or
 * the second for an HTTP-date) and size; a self-copy (a new LastModified)
 * fails a condition read before it; a missing key is NoSuchKey only for
 * an ETag condition. */
static void
test_store_conditional_delete(void **state)
{
    struct fixture *f = *state;
    struct objstore_obj a, c, c2;
    struct objstore_del_cond cond, conds[3];
    struct pier_str keys[3] = {PIER_STR("a"), PIER_STR("c"), PIER_STR("gone")};
    enum pier_s3 res[3];
    struct pier_err err;
    bool existed = true;
    char *body;

    objstore_obj_init(&a);
    objstore_obj_init(&c);
    objstore_obj_init(&c2);
    assert_int_equal(put_s(f->st, "a", "alpha"), PIER_OK);
    assert_int_equal(put_s(f->st, "b", "beta"), PIER_OK);
    assert_int_equal(put_s(f->st, "c", "gamma"), PIER_OK);
    assert_non_null(body = get_s(f->st, PIER_STR("a"), &a));
    pier_free(body);
    assert_non_null(body = get_s(f->st, PIER_STR("c"), &c));
    pier_free(body);

    memset(&cond, 0, sizeof(cond));
    assert_false(objstore_del_cond_any(&cond));
    cond.has_size = true;
    cond.size = 4;
    assert_true(objstore_del_cond_any(&cond));
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    memset(&cond, 0, sizeof(cond));
    cond.etag = PIER_STR("\"00000000000000000000000000000000\"");
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    memset(&cond, 0, sizeof(cond));
    cond.has_mtime = true;
    cond.mtime_ms = a.mtime_ms + 1;
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_non_null(body = get_s(f->st, PIER_STR("a"), NULL));
    pier_free(body);
    /* An HTTP-date only has the second. */
    cond.mtime_ms = a.mtime_ms / 1000 * 1000;
    cond.mtime_whole_s = true;
    cond.etag = pier_str_cstr(a.etag);
    cond.has_size = true;
    cond.size = 5;
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_OK);
    assert_true(existed);
    assert_null(get_s(f->st, PIER_STR("a"), NULL));

    /* A missing key: the time and the size delete nothing, successfully;
     * an ETag (even "*") is NoSuchKey, as S3 answers If-Match. */
    memset(&cond, 0, sizeof(cond));
    cond.has_mtime = true;
    cond.mtime_ms = a.mtime_ms;
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_OK);
    assert_false(existed);
    cond.etag = PIER_STR("*");
    assert_int_equal(objstore_delete_if(f->st, PIER_STR("bkt"), PIER_STR("a"),
                                        &cond, &existed, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_KEY);

    /* gc's race: c listed at c.mtime_ms, then copied onto itself (a
     * publish refreshing it), then the batch with the listed times. */
    assert_int_equal(put_s(f->st, "a", "alpha"), PIER_OK);
    assert_non_null(body = get_s(f->st, PIER_STR("a"), &a));
    pier_free(body);
    usleep(3000); /* a LastModified of another millisecond */
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("c"),
                                   PIER_STR("bkt"), PIER_STR("c"), &c.meta,
                                   NULL, &c2, &err),
                     PIER_OK);
    assert_true(c2.mtime_ms > c.mtime_ms);
    assert_string_equal(c2.etag, c.etag);
    memset(conds, 0, sizeof(conds));
    conds[0].has_mtime = true;
    conds[0].mtime_ms = a.mtime_ms;
    conds[1].has_mtime = true;
    conds[1].mtime_ms = c.mtime_ms;
    conds[2].has_size = true;
    conds[2].size = 1;
    assert_int_equal(objstore_delete_many_if(f->st, PIER_STR("bkt"), keys,
                                             conds, 3, res, &err),
                     PIER_OK);
    assert_int_equal(res[0], PIER_S3_NONE);
    assert_int_equal(res[1], PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(res[2], PIER_S3_NONE);
    assert_null(get_s(f->st, PIER_STR("a"), NULL));
    body = get_s(f->st, PIER_STR("c"), NULL);
    assert_string_equal(body, "gamma");
    pier_free(body);
    /* With the time it has now, it goes; b never had a condition. */
    conds[1].mtime_ms = c2.mtime_ms;
    assert_int_equal(objstore_delete_many_if(f->st, PIER_STR("bkt"), keys + 1,
                                             conds + 1, 1, res, &err),
                     PIER_OK);
    assert_int_equal(res[0], PIER_S3_NONE);
    assert_null(get_s(f->st, PIER_STR("c"), NULL));
    body = get_s(f->st, PIER_STR("b"), NULL);
    assert_string_equal(body, "beta");
    pier_free(body);
    objstore_obj_release(&a);
    objstore_obj_release(&c);
    objstore_obj_release(&c2);
}

static void
test_store_copy(void **state)
{
    struct fixture *f = *state;
    struct objstore_obj src, dst;
    struct pier_buf meta;
    struct objstore_cond none = {.if_none_match_star = true};
    struct pier_err err;
    char *body;

    objstore_obj_init(&src);
    objstore_obj_init(&dst);
    pier_buf_init(&meta, SIZE_MAX);
    assert_int_equal(objstore_meta_add(&meta, PIER_STR("content-type"),
                                       PIER_STR("text/html")),
                     PIER_OK);
    assert_int_equal(put_s(f->st, "src", "copied bytes"), PIER_OK);
    assert_non_null(body = get_s(f->st, PIER_STR("src"), &src));
    pier_free(body);
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                   PIER_STR("bkt"), PIER_STR("dst"), NULL, NULL,
                                   &dst, &err),
                     PIER_OK);
    assert_string_equal(dst.etag, src.etag);
    assert_int_equal(dst.meta.len, 0);
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                   PIER_STR("bkt"), PIER_STR("dst"), &meta,
                                   &none, &dst, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                   PIER_STR("bkt"), PIER_STR("src"), &meta,
                                   NULL, &dst, &err),
                     PIER_OK);
    /* A source whose ETag is no longer the one its conditions held for. */
    assert_int_equal(objstore_copy_if(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                      PIER_STR("\"0000\""), PIER_STR("bkt"),
                                      PIER_STR("dst2"), NULL, NULL, &dst, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    assert_int_equal(objstore_copy_if(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                      pier_str_cstr(src.etag), PIER_STR("bkt"),
                                      PIER_STR("dst2"), NULL, NULL, &dst, &err),
                     PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("dst2"), NULL, &err),
        PIER_OK);
    assert_int_equal(
        objstore_delete(f->st, PIER_STR("bkt"), PIER_STR("src"), NULL, &err),
        PIER_OK);
    body = get_s(f->st, PIER_STR("dst"), &dst);
    assert_string_equal(body, "copied bytes");
    pier_free(body);
    assert_int_equal(objstore_copy(f->st, PIER_STR("bkt"), PIER_STR("src"),
                                   PIER_STR("bkt"), PIER_STR("x"), NULL, NULL,
                                   &dst, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_KEY);
    assert_int_equal(count_data(f->dir), 1);
    pier_buf_release(&meta);
    objstore_obj_release(&src);
    objstore_obj_release(&dst);
}

/* ---- listing ---- */

static const char *list_keys[] = {
    "a",
    "a/",
    "a/b",
    "a/b/c",
    "a/c",
    "ab",
    "b/x/1",
    "b/x/2",
    "b/y",
    "c",
    "c//d",
    "d-e",
    "photos/2024/jan.jpg",
    "photos/2024/feb.jpg",
    "photos/2025/a.jpg",
    "photos/index.html",
    "z",
    "\xc3\xa9",
    "\xc3\xa9/x",
    "zz/",
};

static int
cmp_bytes(const void *a, const void *b)
{
    const char *x = *(const char *const *) a, *y = *(const char *const *) b;

    return strcmp(x, y); /* UTF-8 without NUL: byte order */
}

/* The reference: every entry of a listing, unpaginated, as "k" or "p:". */
static size_t
reference(const char **sorted, size_t n, const char *prefix, const char *delim,
          char out[][64])
{
    size_t i, m = 0, pl = strlen(prefix);

    for (i = 0; i < n; i++) {
        const char *k = sorted[i], *d;

        if (strncmp(k, prefix, pl) != 0) {
            continue;
        }
        d = delim[0] != '\0' ? strstr(k + pl, delim) : NULL;
        if (d != NULL) {
            char cp[64];

            snprintf(cp, sizeof(cp), "p:%.*s", (int) (d - k + strlen(delim)),
                     k);
            if (m == 0 || strcmp(out[m - 1], cp) != 0) {
                snprintf(out[m++], 64, "%s", cp);
            }
        } else {
            snprintf(out[m++], 64, "%s", k);
        }
    }
    return m;
}

/* Every page size gives the reference listing, with no duplicates and no
 * gaps, for several prefixes and delimiters. */
static void
test_store_list_pagination_matches_reference(void **state)
{
    struct fixture *f = *state;
    static const char *prefixes[] = {"",   "a",    "a/",  "photos/",
                                     "b/", "nope", "\xc3"};
    static const char *delims[] = {"", "/", "//", "x"};
    const char *sorted[PIER_NELEMS(list_keys)];
    char ref[64][64], got[64][64], after[64];
    struct pier_err err;
    size_t i, p, d, page, nref, ngot;

    for (i = 0; i < PIER_NELEMS(list_keys); i++) {
        assert_int_equal(put_s(f->st, list_keys[i], "v"), PIER_OK);
        sorted[i] = list_keys[i];
    }
    qsort(sorted, PIER_NELEMS(sorted), sizeof(sorted[0]), cmp_bytes);
    for (p = 0; p < PIER_NELEMS(prefixes); p++) {
        for (d = 0; d < PIER_NELEMS(delims); d++) {
            nref = reference(sorted, PIER_NELEMS(sorted), prefixes[p],
                             delims[d], ref);
            for (page = 1; page <= nref + 1; page++) {
                ngot = 0;
                after[0] = '\0';
                for (;;) {
                    struct objstore_list l;
                    struct objstore_list_opts o = {
                        .prefix = pier_str_cstr(prefixes[p]),
                        .delimiter = pier_str_cstr(delims[d]),
                        .after = pier_str_cstr(after),
                        .max_keys = page,
                    };

                    objstore_list_init(&l);
                    assert_int_equal(objstore_list_objects(
                                         f->st, PIER_STR("bkt"), &o, &l, &err),
                                     PIER_OK);
                    assert_true(l.n <= page);
                    for (i = 0; i < l.n; i++) {
                        assert_true(ngot < 64);
                        snprintf(got[ngot++], 64, "%s%.*s",
                                 l.entries[i].is_prefix ? "p:" : "",
                                 (int) l.entries[i].key.len,
                                 l.entries[i].key.ptr);
                    }
                    if (!l.truncated) {
                        objstore_list_release(&l);
                        break;
                    }
                    assert_int_equal(l.n, page);
                    snprintf(after, sizeof(after), "%.*s", (int) l.next.len,
                             l.next.ptr);
                    objstore_list_release(&l);
                }
                if (ngot != nref) {
                    fail_msg("prefix '%s' delim '%s' page %zu: %zu entries, "
                             "want %zu",
                             prefixes[p], delims[d], page, ngot, nref);
                }
                for (i = 0; i < nref; i++) {
                    assert_string_equal(got[i], ref[i]);
                }
            }
        }
    }
}

static void
test_store_list_entry_fields_and_after(void **state)
{
    struct fixture *f = *state;
    struct objstore_list l;
    struct objstore_list_opts o = {.max_keys = 1000};
    struct pier_err err;
    char want[33];

    assert_int_equal(put_s(f->st, "k1", "one"), PIER_OK);
    assert_int_equal(put_s(f->st, "k2", "three"), PIER_OK);
    objstore_list_init(&l);
    o.after = PIER_STR("k1");
    assert_int_equal(
        objstore_list_objects(f->st, PIER_STR("bkt"), &o, &l, &err), PIER_OK);
    assert_int_equal(l.n, 1);
    assert_false(l.truncated);
    assert_true(pier_str_eq(l.entries[0].key, PIER_STR("k2")));
    assert_int_equal(l.entries[0].size, 5);
    md5_hex("three", 5, want);
    assert_string_equal(l.entries[0].etag, want);
    assert_true(l.entries[0].mtime_ms > 1700000000000LL);
    objstore_list_release(&l);

    /* A marker before the prefix starts at the prefix. */
    objstore_list_init(&l);
    o.after = PIER_STR("a");
    o.prefix = PIER_STR("k2");
    assert_int_equal(
        objstore_list_objects(f->st, PIER_STR("bkt"), &o, &l, &err), PIER_OK);
    assert_int_equal(l.n, 1);
    objstore_list_release(&l);

    objstore_list_init(&l);
    assert_int_equal(
        objstore_list_objects(f->st, PIER_STR("nob"), &o, &l, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_BUCKET);
    objstore_list_release(&l);
}

/* ---- multipart ---- */

static void
upload_part(struct objstore *st, const char *id, unsigned n, const char *body,
            char etag[OBJSTORE_ETAG_MAX])
{
    struct objstore_obj obj;
    struct objstore_put *p;
    struct pier_err err;

    objstore_obj_init(&obj);
    p = objstore_part_begin(st, PIER_STR("bkt"), PIER_STR("big"),
                            pier_str_cstr(id), n, &err);
    assert_non_null(p);
    assert_int_equal(objstore_put_write(p, body, strlen(body), &err), PIER_OK);
    assert_int_equal(objstore_put_commit(p, NULL, NULL, NULL, &obj, &err),
                     PIER_OK);
    assert_int_equal(strlen(obj.etag), 32);
    snprintf(etag, OBJSTORE_ETAG_MAX, "\"%.32s\"", obj.etag);
    objstore_obj_release(&obj);
}

static void
test_store_multipart_complete(void **state)
{
    struct fixture *f = *state;
    static const char *bodies[] = {"part one 16 byte", "part two 16 byte", "3"};
    char id[OBJSTORE_UPLOAD_ID_LEN + 1], etags[4][OBJSTORE_ETAG_MAX];
    struct objstore_part_ref refs[3];
    struct objstore_obj obj;
    struct pier_buf meta;
    struct pier_err err;
    uint8_t cat[48];
    char want[64], *body;
    unsigned len;
    int i;

    pier_buf_init(&meta, SIZE_MAX);
    assert_int_equal(
        objstore_meta_add(&meta, PIER_STR("content-type"), PIER_STR("app/x")),
        PIER_OK);
    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("big"), &meta, id, &err),
                     PIER_OK);
    assert_int_equal(strlen(id), OBJSTORE_UPLOAD_ID_LEN);
    /* Parts arrive out of order; part 2 is replaced once. */
    upload_part(f->st, id, 3, bodies[2], etags[3]);
    upload_part(f->st, id, 2, "to be replaced...", etags[2]);
    upload_part(f->st, id, 2, bodies[1], etags[2]);
    upload_part(f->st, id, 1, bodies[0], etags[1]);
    for (i = 0; i < 3; i++) {
        refs[i].number = (unsigned) i + 1;
        refs[i].etag = pier_str_cstr(etags[i + 1]);
        EVP_Digest(bodies[i], strlen(bodies[i]), cat + 16 * i, &len, EVP_md5(),
                   NULL);
    }
    md5_hex(cat, sizeof(cat), want);
    snprintf(want + 32, sizeof(want) - 32, "-3");

    objstore_obj_init(&obj);
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 3, NULL, &obj, &err),
        PIER_OK);
    assert_string_equal(obj.etag, want);
    assert_int_equal(obj.size, 33);
    objstore_obj_release(&obj);
    objstore_obj_init(&obj);
    body = get_s(f->st, PIER_STR("big"), &obj);
    assert_string_equal(body, "part one 16 bytepart two 16 byte3");
    assert_string_equal(obj.etag, want);
    assert_true(
        pier_str_eq(objstore_meta_get(&obj.meta, PIER_STR("content-type")),
                    PIER_STR("app/x")));
    pier_free(body);
    objstore_obj_release(&obj);
    /* The upload is gone, and so are the parts' files. */
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 3, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_UPLOAD);
    assert_int_equal(count_data(f->dir), 1);
    pier_buf_release(&meta);
}

static void
test_store_multipart_validation(void **state)
{
    struct fixture *f = *state;
    char id[OBJSTORE_UPLOAD_ID_LEN + 1], e1[OBJSTORE_ETAG_MAX],
        e2[OBJSTORE_ETAG_MAX];
    struct objstore_part_ref refs[2];
    struct objstore_cond none = {.if_none_match_star = true};
    struct pier_err err;

    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("big"), NULL, id, &err),
                     PIER_OK);
    upload_part(f->st, id, 1, "short", e1);
    upload_part(f->st, id, 2, "tail", e2);
    assert_null(objstore_part_begin(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                    pier_str_cstr(id), 10001, &err));
    assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    assert_null(objstore_part_begin(f->st, PIER_STR("bkt"), PIER_STR("other"),
                                    pier_str_cstr(id), 1, &err));
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_UPLOAD);

    refs[0] = (struct objstore_part_ref){2, pier_str_cstr(e2)};
    refs[1] = (struct objstore_part_ref){1, pier_str_cstr(e1)};
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 2, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_PART_ORDER);
    refs[0] = (struct objstore_part_ref){1, pier_str_cstr(e2)};
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 1, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_PART);
    refs[0] = (struct objstore_part_ref){7, pier_str_cstr(e1)};
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 1, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_PART);
    refs[0] = (struct objstore_part_ref){1, pier_str_cstr(e1)};
    refs[1] = (struct objstore_part_ref){2, pier_str_cstr(e2)};
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 2, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_ENTITY_TOO_SMALL);
    assert_int_equal(
        objstore_upload_complete(f->st, PIER_STR("bkt"), PIER_STR("big"),
                                 pier_str_cstr(id), refs, 0, NULL, NULL, &err),
        PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
    /* A failing condition leaves the upload in place. */
    assert_int_equal(put_s(f->st, "big", "exists"), PIER_OK);
    assert_int_equal(objstore_upload_complete(
                         f->st, PIER_STR("bkt"), PIER_STR("big"),
                         pier_str_cstr(id), refs + 1, 1, &none, NULL, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_PRECONDITION_FAILED);
    /* Only the last part may be small: one part alone is fine. */
    assert_int_equal(objstore_upload_complete(
                         f->st, PIER_STR("bkt"), PIER_STR("big"),
                         pier_str_cstr(id), refs + 1, 1, NULL, NULL, &err),
                     PIER_OK);
    assert_int_equal(count_data(f->dir), 1);
}

static int
uploads(struct objstore *st, const char *prefix, const char *delim,
        const char *key_marker, const char *id_marker, size_t max,
        struct objstore_upload_list *out)
{
    struct objstore_uploads_opts o = {
        .prefix = pier_str_cstr(prefix),
        .delimiter = pier_str_cstr(delim),
        .key_marker = pier_str_cstr(key_marker),
        .id_marker = pier_str_cstr(id_marker),
        .max = max,
    };
    struct pier_err err;

    return objstore_uploads_list(st, PIER_STR("bkt"), &o, out, &err);
}

/* Render a listing as "key|" for a prefix, "key=id|" for an upload. */
static void
uploads_render(const struct objstore_upload_list *l, struct pier_buf *b)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        assert_int_equal(pier_buf_addstr(b, l->uploads[i].key), PIER_OK);
        if (!l->uploads[i].is_prefix) {
            assert_int_equal(pier_buf_addf(b, "=%s", l->uploads[i].id),
                             PIER_OK);
        }
        assert_int_equal(pier_buf_addch(b, '|'), PIER_OK);
    }
}

/* ListMultipartUploads: a delimiter rolls keys up into common prefixes;
 * pages of every size, each continued from the last entry of the one
 * before (key, and id for an upload), give the same entries as one page. */
static void
test_store_uploads_delimiter_and_pages(void **state)
{
    static const char *const keys[] = {"a/1", "a/2",   "a/2",
                                       "b",   "b/c/d", "b/c/e",
                                       "c",   "cz/x",  "d/\xc3\xa9/f"};
    static const struct {
        const char *prefix, *delim;
    } cases[] = {{"", "/"}, {"", ""},   {"b/", "/"},  {"a/", ""},
                 {"", "c"}, {"c", "/"}, {"b", "/c/"}, {"zz", "/"}};
    char ids[PIER_NELEMS(keys)][OBJSTORE_UPLOAD_ID_LEN + 1];
    struct objstore_upload_list l;
    struct pier_buf whole, paged, km, im;
    struct pier_err err;
    size_t i, c, max, pages;

    for (i = 0; i < PIER_NELEMS(keys); i++) {
        assert_int_equal(objstore_upload_create(
                             ((struct fixture *) *state)->st, PIER_STR("bkt"),
                             pier_str_cstr(keys[i]), NULL, ids[i], &err),
                         PIER_OK);
    }
    pier_buf_init(&whole, SIZE_MAX);
    pier_buf_init(&paged, SIZE_MAX);
    pier_buf_init(&km, SIZE_MAX);
    pier_buf_init(&im, SIZE_MAX);

    /* The roll-up itself. */
    objstore_upload_list_init(&l);
    assert_int_equal(
        uploads(((struct fixture *) *state)->st, "", "/", "", "", 1000, &l),
        PIER_OK);
    uploads_render(&l, &whole);
    objstore_upload_list_release(&l);
    pier_buf_reset(&paged);
    assert_int_equal(
        pier_buf_addf(&paged, "a/|b=%s|b/|c=%s|cz/|d/|", ids[3], ids[6]),
        PIER_OK);
    assert_string_equal(whole.data, paged.data);
    objstore_upload_list_init(&l);
    assert_int_equal(
        uploads(((struct fixture *) *state)->st, "b/", "/", "", "", 1000, &l),
        PIER_OK);
    assert_int_equal(l.n, 1);
    assert_true(l.uploads[0].is_prefix);
    assert_true(pier_str_eq(l.uploads[0].key, PIER_STR("b/c/")));
    objstore_upload_list_release(&l);

    for (c = 0; c < PIER_NELEMS(cases); c++) {
        pier_buf_reset(&whole);
        objstore_upload_list_init(&l);
        assert_int_equal(uploads(((struct fixture *) *state)->st,
                                 cases[c].prefix, cases[c].delim, "", "", 1000,
                                 &l),
                         PIER_OK);
        assert_false(l.truncated);
        uploads_render(&l, &whole);
        objstore_upload_list_release(&l);
        for (max = 1; max <= 4; max++) {
            pier_buf_reset(&paged);
            pier_buf_reset(&km);
            pier_buf_reset(&im);
            for (pages = 0; pages < 20; pages++) {
                objstore_upload_list_init(&l);
                assert_int_equal(uploads(((struct fixture *) *state)->st,
                                         cases[c].prefix, cases[c].delim,
                                         km.len > 0 ? km.data : "",
                                         im.len > 0 ? im.data : "", max, &l),
                                 PIER_OK);
                assert_true(l.n <= max);
                uploads_render(&l, &paged);
                if (!l.truncated) {
                    objstore_upload_list_release(&l);
                    break;
                }
                assert_int_equal(l.n, max);
                pier_buf_reset(&km);
                pier_buf_reset(&im);
                assert_int_equal(pier_buf_addstr(&km, l.uploads[l.n - 1].key),
                                 PIER_OK);
                if (!l.uploads[l.n - 1].is_prefix) {
                    assert_int_equal(pier_buf_adds(&im, l.uploads[l.n - 1].id),
                                     PIER_OK);
                }
                objstore_upload_list_release(&l);
            }
            assert_true(pages < 20);
            assert_int_equal(paged.len, whole.len);
            if (whole.len > 0) {
                assert_memory_equal(paged.data, whole.data, whole.len);
            }
        }
    }
    pier_buf_release(&whole);
    pier_buf_release(&paged);
    pier_buf_release(&km);
    pier_buf_release(&im);
}

static void
test_store_multipart_abort_and_lists(void **state)
{
    struct fixture *f = *state;
    char ids[3][OBJSTORE_UPLOAD_ID_LEN + 1], e[OBJSTORE_ETAG_MAX];
    struct objstore_part_info *parts;
    struct objstore_upload_list ul;
    struct pier_err err;
    size_t n;
    bool trunc;
    unsigned i;

    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("big"), NULL, ids[0],
                                            &err),
                     PIER_OK);
    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("big"), NULL, ids[1],
                                            &err),
                     PIER_OK);
    assert_int_equal(objstore_upload_create(f->st, PIER_STR("bkt"),
                                            PIER_STR("a/x"), NULL, ids[2],
                                            &err),
                     PIER_OK);
    for (i = 1; i <= 5; i++) {
        upload_part(f->st, ids[0], i * 2, "data", e);
    }
    assert_int_equal(objstore_parts_list(f->st, PIER_STR("bkt"),
                                         PIER_STR("big"), pier_str_cstr(ids[0]),
                                         4, 2, &parts, &n, &trunc, &err),
                     PIER_OK);
    assert_int_equal(n, 2);
    assert_true(trunc);
    assert_int_equal(parts[0].number, 6);
    assert_int_equal(parts[1].number, 8);
    assert_int_equal(parts[0].size, 4);
    pier_free(parts);
    assert_int_equal(objstore_parts_list(f->st, PIER_STR("bkt"),
                                         PIER_STR("big"), pier_str_cstr(ids[0]),
                                         8, 2, &parts, &n, &trunc, &err),
                     PIER_OK);
    assert_int_equal(n, 1);
    assert_false(trunc);
    pier_free(parts);

    objstore_upload_list_init(&ul);
    assert_int_equal(uploads(f->st, "", "", "", "", 1000, &ul), PIER_OK);
    assert_int_equal(ul.n, 3);
    assert_true(pier_str_eq(ul.uploads[0].key, PIER_STR("a/x")));
    assert_true(pier_str_eq(ul.uploads[1].key, PIER_STR("big")));
    objstore_upload_list_release(&ul);
    objstore_upload_list_init(&ul);
    assert_int_equal(uploads(f->st, "b", "", "", "", 1, &ul), PIER_OK);
    assert_int_equal(ul.n, 1);
    assert_true(ul.truncated);
    objstore_upload_list_release(&ul);
    /* After the first upload of "big": the second one only. */
    objstore_upload_list_init(&ul);
    assert_int_equal(uploads(f->st, "", "", "big", ids[0], 10, &ul), PIER_OK);
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.uploads[0].id, ids[1]);
    objstore_upload_list_release(&ul);
    objstore_upload_list_init(&ul);
    assert_int_equal(uploads(f->st, "", "", "big", "", 10, &ul), PIER_OK);
    assert_int_equal(ul.n, 0);
    objstore_upload_list_release(&ul);

    assert_int_equal(objstore_upload_abort(f->st, PIER_STR("bkt"),
                                           PIER_STR("big"),
                                           pier_str_cstr(ids[0]), &err),
                     PIER_OK);
    assert_int_equal(objstore_upload_abort(f->st, PIER_STR("bkt"),
                                           PIER_STR("big"),
                                           pier_str_cstr(ids[0]), &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_NO_SUCH_UPLOAD);
    assert_int_equal(count_data(f->dir), 0);
    /* Deleting the bucket drops the remaining uploads. */
    upload_part(f->st, ids[1], 1, "data", e);
    assert_int_equal(objstore_bucket_delete(f->st, PIER_STR("bkt"), &err),
                     PIER_OK);
    assert_int_equal(count_data(f->dir), 0);
}

/* ---- recovery ---- */

/* A process killed mid-upload leaves a temporary file; one killed between
 * rename and commit leaves an unreferenced data file. Reopening removes
 * both and keeps every committed object. */
static void
test_store_recovery_after_crash(void **state)
{
    struct fixture *f = *state;
    struct objstore_opts opts = {.no_fsync = true};
    char path[512], tmp[512], *body;
    struct pier_err err;
    pid_t pid;
    int status, fd;

    assert_int_equal(put_s(f->st, "kept", "committed"), PIER_OK);
    objstore_close(f->st);
    f->st = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct objstore *st = objstore_open(f->dir, &opts, NULL, &err);
        struct objstore_put *p;

        if (st == NULL) {
            _exit(2);
        }
        static char big[OBJSTORE_INLINE_MAX + 1];

        p = objstore_put_begin(st, PIER_STR("bkt"), PIER_STR("partial"), &err);
        if (p == NULL
            || objstore_put_write(p, big, sizeof(big), &err) != PIER_OK) {
            _exit(3);
        }
        _exit(0); /* dies holding the temporary file and the lock */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
    assert_int_equal(count_files(tmp), 1);
    snprintf(path, sizeof(path), "%s/data/ab/ab0123456789abcdef0123456789abcd",
             f->dir);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    /* And a body no row names (only a hand edit makes one). */
    {
        sqlite3 *db;

        snprintf(path, sizeof(path), "%s/meta.db", f->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "INSERT INTO bodies VALUES("
                                      "'cd0123456789abcdef0123456789abcd',"
                                      " x'00')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_equal(count_data(f->dir), 3);

    f->st = objstore_open(f->dir, &opts, NULL, &err);
    assert_non_null(f->st);
    assert_int_equal(objstore_recovered(f->st), 3);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(count_data(f->dir), 1);
    body = get_s(f->st, PIER_STR("kept"), NULL);
    assert_string_equal(body, "committed");
    pier_free(body);
    assert_null(get_s(f->st, PIER_STR("partial"), NULL));
}

static void
test_store_meta_roundtrip(void **state)
{
    struct pier_buf meta;
    struct pier_str n, v;
    size_t pos = 0;

    (void) state;
    pier_buf_init(&meta, SIZE_MAX);
    assert_int_equal(objstore_meta_add(&meta, PIER_STR("a"), PIER_STR("1")),
                     PIER_OK);
    assert_int_equal(objstore_meta_add(&meta, PIER_STR("b"), PIER_STR("")),
                     PIER_OK);
    assert_int_equal(objstore_meta_add(&meta, PIER_STR("c"), PIER_STR("x\0y")),
                     PIER_ERR);
    assert_true(objstore_meta_next(&meta, &pos, &n, &v));
    assert_true(pier_str_eq(n, PIER_STR("a")) && pier_str_eq(v, PIER_STR("1")));
    assert_true(objstore_meta_next(&meta, &pos, &n, &v));
    assert_true(pier_str_eq(n, PIER_STR("b")) && v.len == 0);
    assert_false(objstore_meta_next(&meta, &pos, &n, &v));
    pier_buf_release(&meta);
    assert_true(objstore_etag_eq(PIER_STR("\"abc\""), PIER_STR("abc")));
    assert_true(objstore_etag_eq(PIER_STR("W/\"abc\""), PIER_STR("\"abc\"")));
    assert_false(objstore_etag_eq(PIER_STR("\"abc"), PIER_STR("abc")));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_second_open_is_refused),
        T(test_store_reopen_keeps_objects),
        cmocka_unit_test(test_store_bucket_names),
        T(test_store_bucket_lifecycle),
        T(test_store_put_get_etag_and_meta),
        T(test_store_put_digest_mismatch_stores_nothing),
        T(test_store_put_digest_match_commits),
        T(test_store_put_too_large),
        T(test_store_keys_verbatim),
        cmocka_unit_test(test_store_utf8),
        T(test_store_conditional_put),
        T(test_store_conditional_race_one_winner),
        T(test_store_group_commit_keeps_every_write),
        T(test_store_group_commit_parts_and_copies),
        T(test_store_reader_keeps_old_version),
        T(test_store_reader_answers_as_get),
        T(test_store_reader_races_overwrites),
        T(test_store_inline_bodies),
        T(test_store_delete_and_delete_many),
        T(test_store_conditional_delete),
        T(test_store_copy),
        T(test_store_list_pagination_matches_reference),
        T(test_store_list_entry_fields_and_after),
        T(test_store_multipart_complete),
        T(test_store_multipart_validation),
        T(test_store_multipart_abort_and_lists),
        T(test_store_uploads_delimiter_and_pages),
        T(test_store_recovery_after_crash),
        cmocka_unit_test(test_store_meta_roundtrip),
    };

    return cmocka_run_group_tests_name("objstore/store", tests, NULL, NULL);
}
