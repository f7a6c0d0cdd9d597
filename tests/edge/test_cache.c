/*
 * tests/edge/test_cache.c - edge/cache.c: keys, LRU accounting by bytes,
 * references across eviction, the disk tier across a restart, and
 * threads hammering shared shards. edge_cache_assert() after each step.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/cache.h"

#define OVERHEAD ((uint64_t) sizeof(struct edge_blob))

/* A synthetic key: id in the first bytes; shard 0 unless sh says. */
static struct edge_key
key_of(uint32_t id, uint8_t sh)
{
    struct edge_key k;

    memset(&k, 0, sizeof(k));
    k.sha[0] = sh;
    memcpy(k.sha + 1, &id, sizeof(id));
    k.enc = EDGE_ENC_IDENTITY;
    return k;
}

/* A blob of size bytes whose bytes derive from its key. */
static struct edge_blob *
blob_of(const struct edge_key *k, uint64_t size)
{
    struct edge_blob *b = edge_blob_new(k, size);
    uint64_t i;

    for (i = 0; i < size; i++) {
        b->data[i] = (unsigned char) (k->sha[1] + k->sha[2] * 7 + i);
    }
    return b;
}

static bool
blob_intact(const struct edge_blob *b)
{
    uint64_t i;

    for (i = 0; i < b->size; i++) {
        if (b->data[i]
            != (unsigned char) (b->key.sha[1] + b->key.sha[2] * 7 + i)) {
            return false;
        }
    }
    return true;
}

/* Put a fresh blob and drop every reference the test holds. */
static void
put_new(struct edge_cache *c, uint32_t id, uint64_t size)
{
    struct edge_key k = key_of(id, 0);
    struct edge_blob *b = blob_of(&k, size), *got = edge_cache_put(c, b);

    edge_blob_release(b);
    edge_blob_release(got);
    edge_cache_assert(c);
}

static bool
cached(struct edge_cache *c, uint32_t id)
{
    struct edge_key k = key_of(id, 0);
    struct edge_blob *b = edge_cache_get(c, &k);

    edge_blob_release(b);
    return b != NULL;
}

static struct edge_cache *
cache_mem(uint64_t mem_max, unsigned shards)
{
    struct edge_cache_opts o = {mem_max, 0, NULL, 0, shards};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);

    assert_non_null(c);
    edge_cache_assert(c);
    return c;
}

static void
test_cache_key_name_and_parse(void **state)
{
    static const char hex[] =
        "00ff10aB3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8b9cadbecfd0e1";
    struct edge_key k, k2;
    struct pier_err err;
    char name[80];

    (void) state;
    assert_int_equal(edge_key_parse(&k, pier_str_cstr(hex), EDGE_ENC_BR, &err),
                     PIER_OK);
    assert_int_equal(k.sha[0], 0x00);
    assert_int_equal(k.sha[1], 0xff);
    assert_int_equal(k.sha[3], 0xab);
    assert_int_equal(edge_key_name(&k, name, sizeof(name)), 67);
    assert_string_equal(name, "00ff10ab3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"
                              "6f7a8b9cadbecfd0e1.br");
    assert_int_equal(edge_key_name(&k, name, 67), 0); /* no room for NUL */
    assert_int_equal(
        edge_key_parse(&k2, pier_str_make(name, 64), EDGE_ENC_BR, &err),
        PIER_OK);
    assert_true(edge_key_eq(&k, &k2));
    k2.enc = EDGE_ENC_GZIP;
    assert_false(edge_key_eq(&k, &k2));
    assert_int_equal(
        edge_key_parse(&k2, pier_str_make(hex, 63), EDGE_ENC_IDENTITY, &err),
        PIER_ERR);
    assert_int_equal(
        edge_key_parse(&k2, pier_str_cstr("zz"), EDGE_ENC_IDENTITY, &err),
        PIER_ERR);
    memcpy(name, hex, 64);
    name[10] = 'g';
    assert_int_equal(
        edge_key_parse(&k2, pier_str_make(name, 64), EDGE_ENC_IDENTITY, &err),
        PIER_ERR);
}

static void
test_cache_get_put_refs(void **state)
{
    struct edge_cache *c = cache_mem(1 << 20, 4);
    struct edge_key k = key_of(1, 2);
    struct edge_blob *b, *got, *again;
    struct edge_cache_stats st;

    (void) state;
    assert_null(edge_cache_get(c, &k));
    b = blob_of(&k, 100);
    got = edge_cache_put(c, b);
    edge_cache_assert(c);
    assert_ptr_equal(got, b);
    assert_int_equal(atomic_load(&b->refs), 3); /* ours, cache's, got */
    edge_blob_release(got);
    again = edge_cache_get(c, &k);
    assert_ptr_equal(again, b);
    assert_true(blob_intact(again));
    edge_blob_release(again);
    edge_blob_release(b);
    assert_int_equal(atomic_load(&b->refs), 1); /* the cache's */

    edge_cache_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.mem_entries, 1);
    assert_int_equal(st.mem_bytes, 100 + OVERHEAD);
    assert_int_equal(st.mem_max, 1 << 20);
    edge_cache_free(c);
}

/* Putting a key that is cached keeps the first blob. */
static void
test_cache_put_duplicate_keeps_first(void **state)
{
    struct edge_cache *c = cache_mem(1 << 20, 1);
    struct edge_key k = key_of(7, 0);
    struct edge_blob *a = blob_of(&k, 10), *b = blob_of(&k, 10), *got;

    (void) state;
    got = edge_cache_put(c, a);
    edge_blob_release(got);
    got = edge_cache_put(c, b);
    edge_cache_assert(c);
    assert_ptr_equal(got, a);
    assert_int_equal(atomic_load(&b->refs), 1); /* only ours: not cached */
    assert_false(b->cached);
    edge_blob_release(got);
    edge_blob_release(a);
    edge_blob_release(b);
    edge_cache_free(c);
}

/* One shard holding three 1000-byte blobs: the fourth evicts the least
 * recently used, and a get counts as a use. */
static void
test_cache_evicts_oldest(void **state)
{
    struct edge_cache_opts o = {3 * (1000 + OVERHEAD), 1000, NULL, 0, 1};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);
    struct edge_cache_stats st;

    (void) state;
    assert_non_null(c);
    put_new(c, 1, 1000);
    put_new(c, 2, 1000);
    put_new(c, 3, 1000);
    assert_true(cached(c, 1)); /* 1 is now the most recent; 2 the oldest */
    put_new(c, 4, 1000);
    assert_false(cached(c, 2));
    assert_true(cached(c, 1));
    assert_true(cached(c, 3));
    assert_true(cached(c, 4));
    /* The checks above were uses too, in the order 1, 3, 4: 1 goes. */
    put_new(c, 5, 1000);
    assert_false(cached(c, 1));
    assert_true(cached(c, 3));
    edge_cache_stats(c, &st);
    assert_int_equal(st.mem_entries, 3);
    assert_int_equal(st.mem_bytes, 3 * (1000 + OVERHEAD));
    assert_int_equal(st.mem_evictions, 2);

    /* Bytes, not entries: one 1000-byte blob makes room for many small. */
    put_new(c, 6, 400);
    put_new(c, 7, 400);
    edge_cache_stats(c, &st);
    assert_true(st.mem_bytes <= st.mem_max);
    assert_true(cached(c, 6) && cached(c, 7));
    edge_cache_free(c);
}

static void
test_cache_refuses_too_large(void **state)
{
    struct edge_cache_opts o = {1 << 20, 5000, NULL, 0, 4};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);
    struct edge_key k = key_of(9, 0);
    struct edge_blob *b = blob_of(&k, 5001), *got;

    (void) state;
    assert_true(edge_cache_fits(c, 5000));
    assert_false(edge_cache_fits(c, 5001));
    got = edge_cache_put(c, b);
    assert_ptr_equal(got, b);
    assert_false(b->cached);
    edge_blob_release(got);
    edge_blob_release(b);
    assert_null(edge_cache_get(c, &k));
    edge_cache_assert(c);
    edge_cache_free(c);

    /* object_max is capped by a shard's share of mem_max. */
    o.object_max = 1 << 30;
    c = edge_cache_new(&o, &err);
    assert_false(edge_cache_fits(c, (1 << 20) / 4));
    assert_true(edge_cache_fits(c, (1 << 20) / 4 - OVERHEAD));
    edge_cache_free(c);

    o.shards = 3;
    assert_null(edge_cache_new(&o, &err));
}

/* A reader keeps its bytes while the blob is evicted under it. */
static void
test_cache_reader_survives_eviction(void **state)
{
    struct edge_cache_opts o = {2 * (1000 + OVERHEAD), 1000, NULL, 0, 1};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);
    struct edge_key k = key_of(1, 0);
    struct edge_blob *held;
    uint32_t i;

    (void) state;
    put_new(c, 1, 1000);
    held = edge_cache_get(c, &k);
    assert_non_null(held);
    for (i = 2; i < 10; i++) {
        put_new(c, i, 1000);
    }
    assert_false(cached(c, 1));
    assert_false(held->cached);
    assert_int_equal(atomic_load(&held->refs), 1);
    assert_true(blob_intact(held)); /* ASan: not freed */
    edge_blob_release(held);
    edge_cache_assert(c);
    edge_cache_free(c);
}

/* Freeing the cache leaves held blobs to their holders. */
static void
test_cache_free_with_held_blob(void **state)
{
    struct edge_cache *c = cache_mem(1 << 20, 2);
    struct edge_key k = key_of(3, 1);
    struct edge_blob *b = blob_of(&k, 64), *got = edge_cache_put(c, b);

    (void) state;
    edge_blob_release(b);
    edge_cache_free(c);
    assert_true(blob_intact(got));
    edge_blob_release(got);
    edge_cache_free(NULL);
}

static void
test_cache_drop(void **state)
{
    struct edge_cache *c = cache_mem(1 << 20, 1);
    struct edge_key k = key_of(5, 0);

    (void) state;
    put_new(c, 5, 10);
    edge_cache_drop(c, &k);
    edge_cache_assert(c);
    assert_false(cached(c, 5));
    edge_cache_drop(c, &k); /* absent: nothing */
    edge_cache_free(c);
}

/* Many keys in one shard: the table grows and stays consistent. */
static void
test_cache_table_grows(void **state)
{
    struct edge_cache *c = cache_mem(64 << 20, 1);
    struct edge_cache_stats st;
    uint32_t i;

    (void) state;
    for (i = 0; i < 3000; i++) {
        struct edge_key k = key_of(i, 0);
        struct edge_blob *b = blob_of(&k, 8), *got = edge_cache_put(c, b);

        edge_blob_release(b);
        edge_blob_release(got);
    }
    edge_cache_assert(c);
    edge_cache_stats(c, &st);
    assert_int_equal(st.mem_entries, 3000);
    for (i = 0; i < 3000; i += 97) {
        assert_true(cached(c, i));
    }
    edge_cache_free(c);
}

/* The disk tier. */

struct tmpdir {
    char path[PATH_MAX];
};

static void
rm_rf(const char *path)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void
tmpdir_make(struct tmpdir *t)
{
    snprintf(t->path, sizeof(t->path), "%s/pier-test-cache.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(t->path));
}

/* A real blob: bytes and the key naming their SHA-256. */
static struct edge_blob *
real_blob(uint32_t seed, size_t size)
{
    unsigned char *p = pier_malloc(size);
    struct edge_key k;
    struct edge_blob *b;
    size_t i;

    for (i = 0; i < size; i++) {
        p[i] = (unsigned char) (seed * 31 + i * 7 + (i >> 8));
    }
    memset(&k, 0, sizeof(k));
    SHA256(p, size, k.sha);
    k.enc = EDGE_ENC_IDENTITY;
    b = edge_blob_new(&k, size);
    memcpy(b->data, p, size);
    pier_free(p);
    return b;
}

static struct edge_cache *
cache_disk(const char *dir, uint64_t disk_max, unsigned shards)
{
    struct edge_cache_opts o = {1 << 20, 0, dir, disk_max, shards};
    struct pier_err err;
    struct edge_cache *c = edge_cache_new(&o, &err);

    if (c == NULL) {
        fail_msg("cache: %s", err.msg);
    }
    edge_cache_assert(c);
    return c;
}

static void
blob_file(const char *dir, const struct edge_key *k, char *out, size_t cap)
{
    char name[80];

    assert_true(edge_key_name(k, name, sizeof(name)) > 0);
    assert_true(snprintf(out, cap, "%s/blobs/%.2s/%s", dir, name, name)
                < (int) cap);
}

static void
test_cache_disk_survives_restart(void **state)
{
    struct tmpdir t;
    struct edge_cache *c;
    struct edge_blob *b = real_blob(1, 5000), *got;
    struct edge_cache_stats st;
    struct pier_err err;
    char path[PATH_MAX], junk[PATH_MAX + 16];
    struct stat sb;
    int fd;

    (void) state;
    tmpdir_make(&t);
    c = cache_disk(t.path, 1 << 20, 4);
    assert_false(edge_cache_disk_has(c, &b->key));
    assert_int_equal(edge_cache_disk_store(c, b, &err), PIER_OK);
    edge_cache_assert(c);
    assert_true(edge_cache_disk_has(c, &b->key));
    assert_int_equal(edge_cache_disk_store(c, b, &err), PIER_OK); /* again */
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_entries, 1);
    assert_int_equal(st.disk_bytes, 8192);
    edge_cache_free(c);

    blob_file(t.path, &b->key, path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 5000);
    /* A crash's leftover temp file, and a stranger, at the next start. */
    assert_true(snprintf(junk, sizeof(junk), "%s/tmp/leftover.123", t.path)
                < (int) sizeof(junk));
    fd = open(junk, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);

    c = cache_disk(t.path, 1 << 20, 4);
    assert_int_not_equal(access(junk, F_OK), 0);
    assert_true(edge_cache_disk_has(c, &b->key));
    assert_null(edge_cache_get(c, &b->key));
    assert_int_equal(edge_cache_disk_load(c, &b->key, 1 << 20, &got, &err),
                     PIER_OK);
    edge_cache_assert(c);
    assert_non_null(got);
    assert_int_equal(got->size, 5000);
    assert_memory_equal(got->data, b->data, 5000);
    edge_blob_release(got);
    /* Now in memory too. */
    got = edge_cache_get(c, &b->key);
    assert_non_null(got);
    edge_blob_release(got);
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_hits, 1);
    edge_cache_free(c);
    edge_blob_release(b);
    rm_rf(t.path);
}

/* A tampered file is dropped, never served. */
static void
test_cache_disk_refuses_tampered(void **state)
{
    struct tmpdir t;
    struct edge_cache *c;
    struct edge_blob *b = real_blob(2, 3000), *got = NULL;
    struct edge_cache_stats st;
    struct pier_err err;
    char path[PATH_MAX];
    int fd;

    (void) state;
    tmpdir_make(&t);
    c = cache_disk(t.path, 1 << 20, 1);
    assert_int_equal(edge_cache_disk_store(c, b, &err), PIER_OK);
    blob_file(t.path, &b->key, path, sizeof(path));
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    assert_int_equal(edge_cache_disk_load(c, &b->key, 1 << 20, &got, &err),
                     PIER_ERR);
    assert_null(got);
    assert_non_null(strstr(err.msg, "verification"));
    edge_cache_assert(c);
    assert_false(edge_cache_disk_has(c, &b->key));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_null(edge_cache_get(c, &b->key));
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_errors, 1);

    /* A file removed behind the cache's back is a plain miss. */
    assert_int_equal(edge_cache_disk_store(c, b, &err), PIER_OK);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(edge_cache_disk_load(c, &b->key, 1 << 20, &got, &err),
                     PIER_OK);
    assert_null(got);
    assert_false(edge_cache_disk_has(c, &b->key));
    edge_cache_assert(c);
    edge_cache_free(c);
    edge_blob_release(b);
    rm_rf(t.path);
}

/* A spilled fetch's file, written in dir/tmp, is adopted whole (renamed,
 * indexed) and known good; opened for streaming it gives its size and
 * bytes; after a restart it is not known good until read whole and
 * verified; a file found bad while streamed is removed. */
static void
test_cache_disk_adopt_open_bad(void **state)
{
    struct tmpdir t;
    struct edge_cache *c;
    struct edge_blob *b = real_blob(3, 7000);
    struct edge_cache_stats st;
    struct pier_err err;
    char tmp[PATH_MAX + 32], path[PATH_MAX], got[7000];
    uint64_t size = 0;
    int64_t stored_s = 0;
    bool verified = true;
    int fd;

    (void) state;
    tmpdir_make(&t);
    c = cache_disk(t.path, 1 << 20, 2);
    assert_int_equal(edge_cache_disk_open(c, &b->key, &fd, &size, &stored_s,
                                          &verified, &err),
                     PIER_OK);
    assert_int_equal(fd, -1);
    assert_false(verified);
    assert_true(snprintf(tmp, sizeof(tmp), "%s/tmp/spill.1", t.path)
                < (int) sizeof(tmp));
    fd = open(tmp, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->data, 7000), 7000);
    close(fd);
    assert_int_equal(edge_cache_disk_adopt(c, &b->key, 7000, tmp, &err),
                     PIER_OK);
    edge_cache_assert(c);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_true(edge_cache_disk_has(c, &b->key));
    assert_int_equal(edge_cache_disk_open(c, &b->key, &fd, &size, &stored_s,
                                          &verified, &err),
                     PIER_OK);
    assert_true(fd >= 0);
    assert_true(verified); /* written from verified bytes */
    assert_int_equal(size, 7000);
    assert_true(stored_s > 0);
    assert_int_equal(pread(fd, got, sizeof(got), 0), 7000);
    assert_memory_equal(got, b->data, 7000);
    close(fd);
    /* Adopting a key the tier has already just drops the new file. */
    fd = open(tmp, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(edge_cache_disk_adopt(c, &b->key, 7000, tmp, &err),
                     PIER_OK);
    assert_int_not_equal(access(tmp, F_OK), 0);
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_entries, 1);

    /* Found at start: a crash may have torn it, until verified again. */
    edge_cache_free(c);
    c = cache_disk(t.path, 1 << 20, 2);
    assert_int_equal(edge_cache_disk_open(c, &b->key, &fd, &size, &stored_s,
                                          &verified, &err),
                     PIER_OK);
    assert_true(fd >= 0);
    close(fd);
    assert_false(verified);
    edge_cache_disk_verified(c, &b->key);
    assert_int_equal(edge_cache_disk_open(c, &b->key, &fd, &size, &stored_s,
                                          &verified, &err),
                     PIER_OK);
    assert_true(fd >= 0);
    close(fd);
    assert_true(verified);

    edge_cache_disk_bad(c, &b->key);
    edge_cache_assert(c);
    assert_false(edge_cache_disk_has(c, &b->key));
    blob_file(t.path, &b->key, path, sizeof(path));
    assert_int_not_equal(access(path, F_OK), 0);
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_errors, 1);
    assert_int_equal(st.disk_entries, 0);
    edge_cache_free(c);
    edge_blob_release(b);
    rm_rf(t.path);
}

/* The disk tier stays under disk_max, evicting the least recently used,
 * and a restart keeps the order by modification time. */
static void
test_cache_disk_bounded(void **state)
{
    struct tmpdir t;
    struct edge_cache *c;
    struct edge_blob *b[6];
    struct edge_cache_stats st;
    struct pier_err err;
    char path[PATH_MAX];
    size_t i;

    (void) state;
    tmpdir_make(&t);
    for (i = 0; i < 6; i++) {
        b[i] = real_blob((uint32_t) (i + 10), 4000); /* 4096 on disk each */
    }
    c = cache_disk(t.path, 4 * 4096, 1);
    for (i = 0; i < 4; i++) {
        assert_int_equal(edge_cache_disk_store(c, b[i], &err), PIER_OK);
        edge_cache_assert(c);
    }
    /* Touch 0 by storing it again: 1 becomes the oldest. */
    assert_int_equal(edge_cache_disk_store(c, b[0], &err), PIER_OK);
    assert_int_equal(edge_cache_disk_store(c, b[4], &err), PIER_OK);
    edge_cache_assert(c);
    assert_false(edge_cache_disk_has(c, &b[1]->key));
    blob_file(t.path, &b[1]->key, path, sizeof(path));
    assert_int_not_equal(access(path, F_OK), 0);
    for (i = 0; i < 5; i++) {
        assert_int_equal(edge_cache_disk_has(c, &b[i]->key), i != 1);
    }
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_bytes, 4 * 4096);
    assert_int_equal(st.disk_evictions, 1);
    edge_cache_free(c);

    /* Restart with a smaller bound: the oldest files go first, by their
     * modification times (set here: the clock may be coarser than the
     * test is slow). */
    for (i = 0; i < 5; i++) {
        struct timespec ts[2] = {{1000000 + (time_t) i, 0},
                                 {1000000 + (time_t) i, 0}};

        if (i == 1) {
            continue;
        }
        blob_file(t.path, &b[i]->key, path, sizeof(path));
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
    c = cache_disk(t.path, 2 * 4096, 1);
    edge_cache_stats(c, &st);
    assert_int_equal(st.disk_entries, 2);
    assert_true(edge_cache_disk_has(c, &b[3]->key));
    assert_true(edge_cache_disk_has(c, &b[4]->key));
    blob_file(t.path, &b[0]->key, path, sizeof(path));
    assert_int_not_equal(access(path, F_OK), 0);
    edge_cache_free(c);
    for (i = 0; i < 6; i++) {
        edge_blob_release(b[i]);
    }
    rm_rf(t.path);
}

static void
test_cache_without_disk(void **state)
{
    struct edge_cache *c = cache_mem(1 << 20, 1);
    struct edge_blob *b = real_blob(3, 10), *got = b;
    struct pier_err err;

    (void) state;
    assert_int_equal(edge_cache_disk_store(c, b, &err), PIER_OK);
    assert_false(edge_cache_disk_has(c, &b->key));
    assert_int_equal(edge_cache_disk_load(c, &b->key, 100, &got, &err),
                     PIER_OK);
    assert_null(got);
    edge_cache_free(c);
    edge_blob_release(b);
}

static void
test_cache_disk_dir_unusable(void **state)
{
    struct edge_cache_opts o = {1 << 20, 0, "/proc/version/x", 1 << 20, 1};
    struct pier_err err;

    (void) state;
    assert_null(edge_cache_new(&o, &err));
    assert_non_null(strstr(err.msg, "cannot"));
}

/* Threads. */

#define THREADS  8
#define ROUNDS   20000
#define KEYSPACE 512

struct hammer {
    struct edge_cache *c;
    unsigned seed;
    unsigned long hits, corrupt;
};

static uint32_t
xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Gets, puts and drops on a key space that does not fit, so evictions
 * race with readers on every shard; every byte read is checked. */
static void *
hammer_run(void *arg)
{
    struct hammer *h = arg;
    uint32_t x = h->seed, r, id;
    struct edge_blob *b, *got;
    struct edge_key k;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        r = xorshift(&x);
        id = r % KEYSPACE;
        k = key_of(id, (uint8_t) (id & 0xff));
        b = edge_cache_get(h->c, &k);
        if (b != NULL) {
            h->hits++;
            if (!blob_intact(b) || b->size != 64 + id % 512) {
                h->corrupt++;
            }
            edge_blob_release(b);
        } else if ((r >> 16) % 50 == 0) {
            edge_cache_drop(h->c, &k);
        } else {
            b = blob_of(&k, 64 + id % 512);
            got = edge_cache_put(h->c, b);
            edge_blob_release(b);
            if (!blob_intact(got)) {
                h->corrupt++;
            }
            edge_blob_release(got);
        }
    }
    return NULL;
}

static void
test_cache_threads_hammer(void **state)
{
    struct edge_cache *c = cache_mem(64 * 1024, 8);
    struct hammer h[THREADS];
    pthread_t th[THREADS];
    struct edge_cache_stats st;
    unsigned long hits = 0;
    int i;

    (void) state;
    for (i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){c, 0x9e3779b9U * (unsigned) (i + 1), 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].corrupt, 0);
        hits += h[i].hits;
    }
    edge_cache_assert(c);
    edge_cache_stats(c, &st);
    assert_int_equal(st.hits, hits);
    assert_int_equal(st.hits + st.misses, (uint64_t) THREADS * ROUNDS);
    assert_true(st.hits > 0 && st.mem_evictions > 0);
    assert_true(st.mem_bytes <= st.mem_max);
    edge_cache_free(c);
}

/* Threads storing to and loading from the disk tier at once: every load
 * is verified, so a torn file would fail. */
struct disk_hammer {
    struct edge_cache *c;
    struct edge_blob **blobs;
    size_t n;
    unsigned seed;
    unsigned long errors, loads;
};

static void *
disk_hammer_run(void *arg)
{
    struct disk_hammer *h = arg;
    uint32_t x = h->seed;
    struct pier_err err;
    struct edge_blob *got;
    int i;

    for (i = 0; i < 300; i++) {
        struct edge_blob *b = h->blobs[xorshift(&x) % h->n];

        if (xorshift(&x) % 2 == 0) {
            if (edge_cache_disk_store(h->c, b, &err) != PIER_OK) {
                h->errors++;
            }
            continue;
        }
        if (xorshift(&x) % 10 == 0) {
            edge_cache_drop(h->c, &b->key); /* races unlink with reads */
            continue;
        }
        if (edge_cache_disk_load(h->c, &b->key, 1 << 20, &got, &err)
            != PIER_OK) {
            h->errors++;
        }
        if (got != NULL) {
            h->loads++;
            if (got->size != b->size
                || memcmp(got->data, b->data, b->size) != 0) {
                h->errors++;
            }
            edge_blob_release(got);
        }
    }
    return NULL;
}

static void
test_cache_disk_threads(void **state)
{
    struct tmpdir t;
    struct edge_cache *c;
    struct edge_blob *blobs[24];
    struct disk_hammer h[4];
    pthread_t th[4];
    unsigned long loads = 0;
    size_t i;

    (void) state;
    tmpdir_make(&t);
    for (i = 0; i < PIER_NELEMS(blobs); i++) {
        blobs[i] = real_blob((uint32_t) (100 + i), 1000 + i * 100);
    }
    /* Room for about half of them on disk, so stores evict what loads
     * want, and none in memory, so every load reads a file. */
    {
        struct edge_cache_opts o = {2048, 0, t.path, 12 * 8192, 2};
        struct pier_err err;

        c = edge_cache_new(&o, &err);
        assert_non_null(c);
        assert_false(edge_cache_fits(c, 1000));
    }
    for (i = 0; i < 4; i++) {
        h[i] = (struct disk_hammer){
            c, blobs, PIER_NELEMS(blobs), (unsigned) (i * 7919 + 1), 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, disk_hammer_run, &h[i]),
                         0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].errors, 0);
        loads += h[i].loads;
    }
    assert_true(loads > 0);
    edge_cache_assert(c);
    edge_cache_free(c);
    for (i = 0; i < PIER_NELEMS(blobs); i++) {
        edge_blob_release(blobs[i]);
    }
    rm_rf(t.path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_key_name_and_parse),
        cmocka_unit_test(test_cache_get_put_refs),
        cmocka_unit_test(test_cache_put_duplicate_keeps_first),
        cmocka_unit_test(test_cache_evicts_oldest),
        cmocka_unit_test(test_cache_refuses_too_large),
        cmocka_unit_test(test_cache_reader_survives_eviction),
        cmocka_unit_test(test_cache_free_with_held_blob),
        cmocka_unit_test(test_cache_drop),
        cmocka_unit_test(test_cache_table_grows),
        cmocka_unit_test(test_cache_disk_survives_restart),
        cmocka_unit_test(test_cache_disk_refuses_tampered),
        cmocka_unit_test(test_cache_disk_adopt_open_bad),
        cmocka_unit_test(test_cache_disk_bounded),
        cmocka_unit_test(test_cache_without_disk),
        cmocka_unit_test(test_cache_disk_dir_unusable),
        cmocka_unit_test(test_cache_threads_hammer),
        cmocka_unit_test(test_cache_disk_threads),
    };

    return cmocka_run_group_tests_name("edge/cache", tests, NULL, NULL);
}
