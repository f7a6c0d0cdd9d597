/*
 * objstore/store.c - the data directory: lock, layout, recovery, SQLite
 * metadata, durable bodies. See store.h for the design.
 */
#include "config.h"

#include "objstore/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#define STORE_MAGIC 0x5a7f31c2u
#define PUT_MAGIC   0x19d2e4a7u
#define ID_LEN      32 /* hex digits of a data file or upload id */
#define NSTMT       48 /* cached prepared statements */

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *s;
};

struct objstore {
    unsigned magic;
    char *dir;
    int lock_fd;
    sqlite3 *db;
    pthread_mutex_t mu;
    struct stmt_slot stmts[NSTMT];
    uint64_t max_object_size;
    uint64_t min_part_size;
    bool no_fsync;
    size_t recovered;
    /* Bumped after every commit (the WAL hook): a reader's cached row
     * tagged with the current value is still the committed one. */
    _Atomic uint64_t gen;
    /* Group commit of object writes: waiting writes queue under qmu; one
     * of them at a time (the leader) commits the whole queue in one
     * transaction under mu while new ones queue behind it. */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct pending *queue, **queue_tail;
    bool committing;
    uint64_t batches, batched; /* transactions, writes in them */
};

/* One write waiting for its group commit: an object's row (PUT, copy) or
 * a part's (UploadPart). Borrows everything it points to. */
enum pending_kind {
    PENDING_OBJECT,
    PENDING_PART,
};

struct pending {
    enum pending_kind kind;
    struct pier_str bucket, key;
    const char *id; /* the data file (or inline body) the row will name */
    const struct pier_buf *body; /* inline: the bytes; NULL: in data/ */
    uint64_t size;
    const char *etag;
    int64_t mtime;
    const struct objstore_cond *cond; /* objects; NULL: unconditional */
    const struct pier_buf *meta;      /* objects; NULL: none */
    struct pier_str upload;           /* parts */
    unsigned part;                    /* parts */
    struct pier_err err;
    int rc;
    bool done;
    char old[ID_LEN + 1]; /* the replaced data file, unlinked after ("" if
                             none, or inline: gone with the commit) */
    struct pending *next;
};

struct objstore_put {
    unsigned magic;
    struct objstore *st;
    int fd;              /* the temporary file, or -1 while in mem */
    bool spill;          /* a file from the start (parts) */
    struct pier_buf mem; /* an object's first OBJSTORE_INLINE_MAX bytes */
    char id[ID_LEN + 1];
    char *bucket;
    size_t bucket_len;
    char *key;
    size_t key_len;
    char upload[ID_LEN + 1]; /* "" for an object */
    unsigned part;
    uint64_t size;
    bool failed;
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha256;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS buckets("
    " name TEXT PRIMARY KEY, region TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects("
    " bucket TEXT NOT NULL, key BLOB NOT NULL, blob TEXT NOT NULL,"
    " size INTEGER NOT NULL, etag TEXT NOT NULL, mtime_ms INTEGER NOT NULL,"
    " meta BLOB NOT NULL, PRIMARY KEY(bucket, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS objects_blob ON objects(blob);"
    "CREATE TABLE IF NOT EXISTS uploads("
    " id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,"
    " created_ms INTEGER NOT NULL, meta BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS uploads_key ON uploads(bucket, key);"
    "CREATE TABLE IF NOT EXISTS parts("
    " upload TEXT NOT NULL, num INTEGER NOT NULL, blob TEXT NOT NULL,"
    " size INTEGER NOT NULL, etag TEXT NOT NULL, mtime_ms INTEGER NOT NULL,"
    " PRIMARY KEY(upload, num)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS parts_blob ON parts(blob);"
    /* Objects of at most OBJSTORE_INLINE_MAX bytes: the body, by the id
     * objects.blob names, written in the commit that makes the object. */
    "CREATE TABLE IF NOT EXISTS bodies("
    " id TEXT PRIMARY KEY, data BLOB NOT NULL);";

/* ---- small helpers ---- */

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void
new_id(char id[ID_LEN + 1])
{
    uint8_t r[ID_LEN / 2];

    /* A failing CSPRNG leaves us unable to name anything safely. */
    PIER_ASSERT(RAND_bytes(r, sizeof(r)) == 1);
    hex(r, sizeof(r), id);
}

static bool
is_id(const char *s)
{
    size_t i;

    for (i = 0; i < ID_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return s[ID_LEN] == '\0';
}

static void
data_path(const struct objstore *st, const char *id, char *out, size_t n)
{
    int r = snprintf(out, n, "%s/data/%.2s/%s", st->dir, id, id);

    PIER_ASSERT(r > 0 && (size_t) r < n);
}

static void
data_dir_path(const struct objstore *st, const char *id, char *out, size_t n)
{
    int r = snprintf(out, n, "%s/data/%.2s", st->dir, id);

    PIER_ASSERT(r > 0 && (size_t) r < n);
}

static void
tmp_path(const struct objstore *st, const char *id, char *out, size_t n)
{
    int r = snprintf(out, n, "%s/tmp/%s.tmp", st->dir, id);

    PIER_ASSERT(r > 0 && (size_t) r < n);
}

static int
fsync_dir(const char *path, struct pier_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return pier_err_sys(err, e, "cannot fsync '%s'", path);
    }
    close(fd);
    return PIER_OK;
}

static void
unlink_blob(struct objstore *st, const char *id)
{
    char path[PATH_MAX];

    if (id == NULL || id[0] == '\0') {
        return;
    }
    data_path(st, id, path, sizeof(path));
    /* A leftover file is harmless: recovery removes unreferenced data. */
    (void) unlink(path);
}

/* Strip surrounding quotes and a weak prefix from an ETag. */
static struct pier_str
etag_bare(struct pier_str s)
{
    if (s.len >= 2 && s.ptr[0] == 'W' && s.ptr[1] == '/') {
        s.ptr += 2;
        s.len -= 2;
    }
    if (s.len >= 2 && s.ptr[0] == '"' && s.ptr[s.len - 1] == '"') {
        s.ptr++;
        s.len -= 2;
    }
    return s;
}

bool
objstore_etag_eq(struct pier_str a, struct pier_str b)
{
    return pier_str_eq(etag_bare(a), etag_bare(b));
}

bool
objstore_utf8_ok(struct pier_str s)
{
    const unsigned char *p = (const unsigned char *) s.ptr;
    size_t i = 0, need, k;
    uint32_t cp;

    while (i < s.len) {
        unsigned char c = p[i];

        if (c == 0) {
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (s.len - i <= need) {
            return false;
        }
        for (k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return false;
        }
        i += need + 1;
    }
    return true;
}

static int
check_key(struct pier_str key, struct pier_err *err)
{
    if (key.len > OBJSTORE_KEY_MAX) {
        return pier_err_s3(err, PIER_S3_KEY_TOO_LONG, "key of %zu bytes",
                           key.len);
    }
    if (key.len == 0 || !objstore_utf8_ok(key)) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "key is empty, not UTF-8 or holds NUL");
    }
    return PIER_OK;
}

/* ---- metadata ---- */

int
objstore_meta_add(struct pier_buf *meta, struct pier_str name,
                  struct pier_str value)
{
    size_t len = meta->len;

    if (memchr(name.ptr, '\0', name.len) != NULL
        || (value.len > 0 && memchr(value.ptr, '\0', value.len) != NULL)) {
        return PIER_ERR;
    }
    if (pier_buf_addstr(meta, name) != PIER_OK
        || pier_buf_addch(meta, '\0') != PIER_OK
        || pier_buf_addstr(meta, value) != PIER_OK
        || pier_buf_addch(meta, '\0') != PIER_OK) {
        pier_buf_truncate(meta, len);
        return PIER_ERR;
    }
    return PIER_OK;
}

bool
objstore_meta_next(const struct pier_buf *meta, size_t *pos,
                   struct pier_str *name, struct pier_str *value)
{
    const char *p, *end = meta->data + meta->len;
    size_t n;

    if (*pos >= meta->len) {
        return false;
    }
    p = meta->data + *pos;
    n = strnlen(p, (size_t) (end - p));
    *name = pier_str_make(p, n);
    p += n + 1;
    if (p >= end) {
        return false;
    }
    n = strnlen(p, (size_t) (end - p));
    *value = pier_str_make(p, n);
    *pos = (size_t) (p + n + 1 - meta->data);
    return true;
}

struct pier_str
objstore_meta_get(const struct pier_buf *meta, struct pier_str name)
{
    size_t pos = 0;
    struct pier_str n, v;

    while (objstore_meta_next(meta, &pos, &n, &v)) {
        if (pier_str_eq(n, name)) {
            return v;
        }
    }
    return PIER_STR_NULL;
}

void
objstore_obj_init(struct objstore_obj *obj)
{
    memset(obj, 0, sizeof(*obj));
    pier_buf_init(&obj->meta, SIZE_MAX);
}

void
objstore_obj_release(struct objstore_obj *obj)
{
    pier_buf_release(&obj->meta);
}

/* ---- SQLite ---- */

static int
db_fail(struct objstore *st, const char *what, struct pier_err *err)
{
    return pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "%s: %s", what,
                       sqlite3_errmsg(st->db));
}

/* A cached, reset statement for sql (a string literal). */
static sqlite3_stmt *
prep(struct objstore *st, const char *sql, struct pier_err *err)
{
    size_t i;

    for (i = 0; i < NSTMT && st->stmts[i].sql != NULL; i++) {
        if (st->stmts[i].sql == sql) {
            sqlite3_reset(st->stmts[i].s);
            sqlite3_clear_bindings(st->stmts[i].s);
            return st->stmts[i].s;
        }
    }
    PIER_ASSERT(i < NSTMT);
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmts[i].s, NULL)
        != SQLITE_OK) {
        db_fail(st, "cannot prepare statement", err);
        return NULL;
    }
    st->stmts[i].sql = sql;
    return st->stmts[i].s;
}

static void
bind_str(sqlite3_stmt *s, int i, struct pier_str v)
{
    sqlite3_bind_text(s, i, v.len > 0 ? v.ptr : "", (int) v.len,
                      SQLITE_TRANSIENT);
}

/* A zero-length blob bound from NULL would be SQL NULL: bind "" instead. */
static void
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
    sqlite3_bind_blob(s, i, n > 0 ? p : "", (int) n, SQLITE_TRANSIENT);
}

static int
exec(struct objstore *st, const char *sql, struct pier_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "%s: %s", sql,
                    msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return PIER_ERR;
    }
    return PIER_OK;
}

static int
begin(struct objstore *st, struct pier_err *err)
{
    return exec(st, "BEGIN IMMEDIATE", err);
}

static int
commit(struct objstore *st, struct pier_err *err)
{
    if (exec(st, "COMMIT", err) != PIER_OK) {
        (void) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return PIER_ERR;
    }
    return PIER_OK;
}

static void
rollback(struct objstore *st)
{
    (void) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static void
lock(struct objstore *st)
{
    PIER_ASSERT(pthread_mutex_lock(&st->mu) == 0);
}

static void
unlock(struct objstore *st)
{
    PIER_ASSERT(pthread_mutex_unlock(&st->mu) == 0);
}

static void
col_text(sqlite3_stmt *s, int i, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    int len = sqlite3_column_bytes(s, i);

    if (t == NULL || len < 0 || (size_t) len >= n) {
        out[0] = '\0';
        return;
    }
    memcpy(out, t, (size_t) len);
    out[len] = '\0';
}

/* PIER_OK when bucket exists, NoSuchBucket otherwise. Under the mutex. */
static int
bucket_exists(struct objstore *st, struct pier_str bucket, struct pier_err *err)
{
    static const char sql[] = "SELECT 1 FROM buckets WHERE name = ?1";
    sqlite3_stmt *s = prep(st, sql, err);
    int rc;

    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) {
        return PIER_OK;
    }
    if (rc != SQLITE_DONE) {
        return db_fail(st, "cannot look a bucket up", err);
    }
    return pier_err_s3(err, PIER_S3_NO_SUCH_BUCKET, "no bucket '%.*s'",
                       (int) bucket.len, bucket.ptr);
}

/* ---- open, lock, recovery ---- */

static int
mkdir_p(const char *path, struct pier_err *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return pier_err_sys(err, errno, "cannot create '%s'", path);
    }
    return PIER_OK;
}

static int
take_lock(struct objstore *st, struct pier_err *err)
{
    char path[PATH_MAX], pid[32], old[32];
    ssize_t n;
    int len;

    snprintf(path, sizeof(path), "%s/lock", st->dir);
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lock_fd == -1) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        if (e == EWOULDBLOCK) {
            n = pread(st->lock_fd, old, sizeof(old) - 1, 0);
            old[n > 0 ? n : 0] = '\0';
            old[strcspn(old, "\n")] = '\0';
            return pier_err_set(err,
                                "data directory '%s' is in use by another "
                                "pier objstore (pid %s)",
                                st->dir, old[0] != '\0' ? old : "unknown");
        }
        return pier_err_sys(err, e, "cannot lock '%s'", path);
    }
    len = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
    if (ftruncate(st->lock_fd, 0) != 0
        || pwrite(st->lock_fd, pid, (size_t) len, 0) != len) {
        return pier_err_sys(err, errno, "cannot write '%s'", path);
    }
    return PIER_OK;
}

static int
make_layout(struct objstore *st, struct pier_err *err)
{
    char path[PATH_MAX];
    int i;

    snprintf(path, sizeof(path), "%s/tmp", st->dir);
    if (mkdir_p(path, err) != PIER_OK) {
        return PIER_ERR;
    }
    snprintf(path, sizeof(path), "%s/data", st->dir);
    if (mkdir_p(path, err) != PIER_OK) {
        return PIER_ERR;
    }
    for (i = 0; i < 256; i++) {
        snprintf(path, sizeof(path), "%s/data/%02x", st->dir, i);
        if (mkdir_p(path, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

/* After every commit of the store's connection, with the write lock
 * released: tell the readers, then checkpoint as SQLite's default hook
 * would (sqlite3_wal_hook() replaces it). */
static int
on_wal_commit(void *udata, sqlite3 *db, const char *name, int pages)
{
    struct objstore *st = udata;

    atomic_fetch_add_explicit(&st->gen, 1, memory_order_release);
    if (pages >= 1000) {
        (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
                                         NULL, NULL);
    }
    return SQLITE_OK;
}

static int
open_db(struct objstore *st, struct pier_err *err)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/meta.db", st->dir);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                            | SQLITE_OPEN_NOMUTEX,
                        NULL)
        != SQLITE_OK) {
        pier_err_set(err, "cannot open '%s': %s", path,
                     st->db != NULL ? sqlite3_errmsg(st->db) : "no memory");
        return PIER_ERR;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL with synchronous=FULL: a COMMIT returns only once the WAL frame is
     * on disk, which is when the client hears 200. */
    if (exec(st, "PRAGMA journal_mode=WAL", err) != PIER_OK
        || exec(st,
                st->no_fsync ? "PRAGMA synchronous=OFF"
                             : "PRAGMA synchronous=FULL",
                err)
               != PIER_OK
        || exec(st, schema, err) != PIER_OK) {
        return PIER_ERR;
    }
    sqlite3_wal_hook(st->db, on_wal_commit, st);
    return PIER_OK;
}

/* Remove everything in tmp/: bodies that were never committed. */
static int
recover_tmp(struct objstore *st, struct pier_err *err)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/tmp", st->dir);
    d = opendir(path);
    if (d == NULL) {
        return pier_err_sys(err, errno, "cannot read '%s'", path);
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
            st->recovered++;
        }
    }
    closedir(d);
    return PIER_OK;
}

static bool
blob_referenced(struct objstore *st, const char *id, struct pier_err *err,
                bool *failed)
{
    static const char sql[] = "SELECT 1 FROM objects WHERE blob = ?1 "
                              "UNION ALL SELECT 1 FROM parts WHERE blob = ?1 "
                              "LIMIT 1";
    sqlite3_stmt *s = prep(st, sql, err);
    int rc;

    if (s == NULL) {
        *failed = true;
        return true;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(st, "cannot check a data file", err);
        *failed = true;
        return true;
    }
    return rc == SQLITE_ROW;
}

/* Remove data files no row references: bodies renamed into place by a
 * commit that never reached SQLite, or replaced files whose unlink a crash
 * cut short. */
static int
recover_data(struct objstore *st, struct pier_err *err)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;
    bool failed = false;
    int i;

    for (i = 0; i < 256 && !failed; i++) {
        snprintf(path, sizeof(path), "%s/data/%02x", st->dir, i);
        d = opendir(path);
        if (d == NULL) {
            return pier_err_sys(err, errno, "cannot read '%s'", path);
        }
        while (!failed && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            if (is_id(de->d_name)
                && blob_referenced(st, de->d_name, err, &failed)) {
                continue;
            }
            if (!failed && unlinkat(dirfd(d), de->d_name, 0) == 0) {
                st->recovered++;
            }
        }
        closedir(d);
    }
    return failed ? PIER_ERR : PIER_OK;
}

/* Drop inline bodies no row names. Every commit writes or drops a body
 * together with its row, so there are none unless the database was
 * edited by hand; checked anyway, as data files are. */
static int
recover_bodies(struct objstore *st, struct pier_err *err)
{
    if (exec(st,
             "DELETE FROM bodies WHERE id NOT IN (SELECT blob FROM objects)",
             err)
        != PIER_OK) {
        return PIER_ERR;
    }
    st->recovered += (size_t) sqlite3_changes(st->db);
    return PIER_OK;
}

struct objstore *
objstore_open(const char *dir, const struct objstore_opts *opts, bool *created,
              struct pier_err *err)
{
    struct objstore *st = pier_calloc(1, sizeof(*st));
    char path[PATH_MAX];
    struct stat sb;

    st->magic = STORE_MAGIC;
    st->lock_fd = -1;
    st->dir = pier_strdup(dir);
    st->max_object_size = OBJSTORE_MAX_OBJECT;
    st->min_part_size = OBJSTORE_MIN_PART;
    PIER_ASSERT(pthread_mutex_init(&st->mu, NULL) == 0);
    PIER_ASSERT(pthread_mutex_init(&st->qmu, NULL) == 0);
    PIER_ASSERT(pthread_cond_init(&st->qcv, NULL) == 0);
    st->queue_tail = &st->queue;
    if (opts != NULL) {
        if (opts->max_object_size != 0) {
            st->max_object_size = opts->max_object_size;
        }
        if (opts->min_part_size != 0) {
            st->min_part_size = opts->min_part_size;
        }
        st->no_fsync = opts->no_fsync;
    }
    if (strlen(dir) > PATH_MAX - 64) {
        pier_err_set(err, "data directory path too long");
        goto fail;
    }
    if (mkdir_p(dir, err) != PIER_OK || take_lock(st, err) != PIER_OK) {
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    if (created != NULL) {
        *created = stat(path, &sb) != 0;
    }
    if (make_layout(st, err) != PIER_OK || open_db(st, err) != PIER_OK
        || recover_tmp(st, err) != PIER_OK
        || recover_data(st, err) != PIER_OK
        || recover_bodies(st, err) != PIER_OK) {
        goto fail;
    }
    return st;

fail:
    objstore_close(st);
    return NULL;
}

void
objstore_close(struct objstore *st)
{
    size_t i;

    if (st == NULL) {
        return;
    }
    PIER_CHECK_OBJ(st, STORE_MAGIC);
    for (i = 0; i < NSTMT; i++) {
        sqlite3_finalize(st->stmts[i].s);
    }
    if (st->db != NULL) {
        sqlite3_close(st->db);
    }
    if (st->lock_fd != -1) {
        close(st->lock_fd); /* releases the flock */
    }
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->qmu);
    pthread_cond_destroy(&st->qcv);
    pier_free(st->dir);
    st->magic = 0;
    pier_free(st);
}

const char *
objstore_dir(const struct objstore *st)
{
    PIER_CHECK_OBJ(st, STORE_MAGIC);
    return st->dir;
}

size_t
objstore_recovered(const struct objstore *st)
{
    PIER_CHECK_OBJ(st, STORE_MAGIC);
    return st->recovered;
}

void
objstore_commit_counts(struct objstore *st, uint64_t *commits, uint64_t *writes)
{
    PIER_CHECK_OBJ(st, STORE_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&st->qmu) == 0);
    *commits = st->batches;
    *writes = st->batched;
    PIER_ASSERT(pthread_mutex_unlock(&st->qmu) == 0);
}

/* ---- buckets ---- */

bool
objstore_bucket_name_ok(struct pier_str name)
{
    size_t i, dots = 0, digits = 0;

    if (name.len < 3 || name.len > OBJSTORE_BUCKET_MAX) {
        return false;
    }
    for (i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && c != '.' && c != '-') {
            return false;
        }
        if ((i == 0 || i == name.len - 1) && !alnum) {
            return false;
        }
        if (i > 0 && (c == '.' || c == '-')
            && (name.ptr[i - 1] == '.'
                || (c == '.' && name.ptr[i - 1] == '-'))) {
            return false;
        }
        if (c == '-' && name.ptr[i - 1] == '.') {
            return false;
        }
        dots += c == '.';
        digits += c >= '0' && c <= '9';
    }
    if (dots == 3 && digits + dots == name.len) {
        return false; /* looks like an IPv4 address */
    }
    if (name.len >= 4 && memcmp(name.ptr, "xn--", 4) == 0) {
        return false;
    }
    if (name.len >= 8 && memcmp(name.ptr + name.len - 8, "-s3alias", 8) == 0) {
        return false;
    }
    return true;
}

int
objstore_bucket_create(struct objstore *st, struct pier_str name,
                       struct pier_str region, struct pier_err *err)
{
    static const char sql[] = "INSERT INTO buckets(name, region, created_ms) "
                              "VALUES(?1, ?2, ?3)";
    sqlite3_stmt *s;
    int rc = PIER_ERR;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (!objstore_bucket_name_ok(name)) {
        return pier_err_s3(err, PIER_S3_INVALID_BUCKET_NAME,
                           "invalid bucket name");
    }
    lock(st);
    if (bucket_exists(st, name, err) == PIER_OK) {
        pier_err_s3(err, PIER_S3_BUCKET_ALREADY_OWNED, "bucket '%.*s' exists",
                    (int) name.len, name.ptr);
        goto out;
    }
    if (err->s3 != PIER_S3_NO_SUCH_BUCKET) {
        goto out;
    }
    s = prep(st, sql, err);
    if (s == NULL) {
        goto out;
    }
    bind_str(s, 1, name);
    bind_str(s, 2, region);
    sqlite3_bind_int64(s, 3, now_ms());
    if (sqlite3_step(s) != SQLITE_DONE) {
        db_fail(st, "cannot create a bucket", err);
        sqlite3_reset(s);
        goto out;
    }
    sqlite3_reset(s);
    rc = PIER_OK;
out:
    unlock(st);
    return rc;
}

/* Collect the data files of an upload's parts into ids (ID_LEN+1 each). */
static int
upload_blobs(struct objstore *st, const char *upload, struct pier_buf *ids,
             struct pier_err *err)
{
    static const char sql[] = "SELECT blob FROM parts WHERE upload = ?1";
    sqlite3_stmt *s = prep(st, sql, err);
    char id[ID_LEN + 1];
    int rc;

    if (s == NULL) {
        return PIER_ERR;
    }
    sqlite3_bind_text(s, 1, upload, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, id, sizeof(id));
        if (pier_buf_add(ids, id, sizeof(id)) != PIER_OK) {
            sqlite3_reset(s);
            return pier_err_set(err, "too many parts");
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        return db_fail(st, "cannot list parts", err);
    }
    return PIER_OK;
}

static void
unlink_ids(struct objstore *st, const struct pier_buf *ids)
{
    size_t i;

    for (i = 0; i + ID_LEN + 1 <= ids->len; i += ID_LEN + 1) {
        unlink_blob(st, ids->data + i);
    }
}

int
objstore_bucket_delete(struct objstore *st, struct pier_str name,
                       struct pier_err *err)
{
    static const char q_any[] = "SELECT 1 FROM objects WHERE bucket = ?1 "
                                "LIMIT 1";
    static const char q_blobs[] =
        "SELECT p.blob FROM parts p JOIN uploads u ON p.upload = u.id "
        "WHERE u.bucket = ?1";
    static const char d_parts[] = "DELETE FROM parts WHERE upload IN "
                                  "(SELECT id FROM uploads WHERE bucket = ?1)";
    static const char d_uploads[] = "DELETE FROM uploads WHERE bucket = ?1";
    static const char d_bucket[] = "DELETE FROM buckets WHERE name = ?1";
    const char *dels[] = {d_parts, d_uploads, d_bucket};
    struct pier_buf ids;
    sqlite3_stmt *s;
    char id[ID_LEN + 1];
    int rc = PIER_ERR, r;
    size_t i;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    pier_buf_init(&ids, SIZE_MAX);
    lock(st);
    if (bucket_exists(st, name, err) != PIER_OK || begin(st, err) != PIER_OK) {
        goto out;
    }
    s = prep(st, q_any, err);
    if (s == NULL) {
        goto fail;
    }
    bind_str(s, 1, name);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) {
        pier_err_s3(err, PIER_S3_BUCKET_NOT_EMPTY, "bucket '%.*s' not empty",
                    (int) name.len, name.ptr);
        goto fail;
    }
    s = prep(st, q_blobs, err);
    if (s == NULL) {
        goto fail;
    }
    bind_str(s, 1, name);
    while (sqlite3_step(s) == SQLITE_ROW) {
        col_text(s, 0, id, sizeof(id));
        if (pier_buf_add(&ids, id, sizeof(id)) != PIER_OK) {
            break;
        }
    }
    sqlite3_reset(s);
    for (i = 0; i < PIER_NELEMS(dels); i++) {
        s = prep(st, dels[i], err);
        if (s == NULL) {
            goto fail;
        }
        bind_str(s, 1, name);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) {
            db_fail(st, "cannot delete a bucket", err);
            goto fail;
        }
    }
    if (commit(st, err) != PIER_OK) {
        goto out;
    }
    unlink_ids(st, &ids);
    rc = PIER_OK;
    goto out;
fail:
    rollback(st);
out:
    unlock(st);
    pier_buf_release(&ids);
    return rc;
}

int
objstore_bucket_get(struct objstore *st, struct pier_str name,
                    struct pier_buf *region, struct pier_err *err)
{
    static const char sql[] = "SELECT region FROM buckets WHERE name = ?1";
    sqlite3_stmt *s;
    int rc = PIER_ERR, r;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    lock(st);
    s = prep(st, sql, err);
    if (s == NULL) {
        goto out;
    }
    bind_str(s, 1, name);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        rc = PIER_OK;
        if (region != NULL
            && pier_buf_add(region, sqlite3_column_text(s, 0),
                            (size_t) sqlite3_column_bytes(s, 0))
                   != PIER_OK) {
            rc = pier_err_set(err, "region too long");
        }
    } else if (r == SQLITE_DONE) {
        pier_err_s3(err, PIER_S3_NO_SUCH_BUCKET, "no bucket '%.*s'",
                    (int) name.len, name.ptr);
    } else {
        db_fail(st, "cannot look a bucket up", err);
    }
    sqlite3_reset(s);
out:
    unlock(st);
    return rc;
}

int
objstore_bucket_list(struct objstore *st, struct objstore_bucket_info **out,
                     size_t *n, struct pier_err *err)
{
    static const char sql[] = "SELECT name, created_ms FROM buckets "
                              "ORDER BY name";
    sqlite3_stmt *s;
    size_t cap = 0;
    int r;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    *out = NULL;
    *n = 0;
    lock(st);
    s = prep(st, sql, err);
    if (s == NULL) {
        unlock(st);
        return PIER_ERR;
    }
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            *out = pier_realloc(*out, cap * sizeof(**out));
        }
        col_text(s, 0, (*out)[*n].name, sizeof((*out)[*n].name));
        (*out)[*n].created_ms = sqlite3_column_int64(s, 1);
        (*n)++;
    }
    sqlite3_reset(s);
    unlock(st);
    if (r != SQLITE_DONE) {
        pier_free(*out);
        *out = NULL;
        *n = 0;
        return db_fail(st, "cannot list buckets", err);
    }
    return PIER_OK;
}

/* Write all n bytes of p to fd: 0, or the errno of the failure. */
static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    ssize_t w;

    while (n > 0) {
        w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return errno;
        }
        c += w;
        n -= (size_t) w;
    }
    return 0;
}

/* ---- inline bodies ---- */

/* One body by id: the store's connection and every reader prepare it. */
static const char body_sql[] = "SELECT data FROM bodies WHERE id = ?1";

/* Store the body of data id in the bodies table. In a transaction. */
static int
body_insert(struct objstore *st, const char *id, const struct pier_buf *body,
            struct pier_err *err)
{
    static const char sql[] = "INSERT INTO bodies(id, data) VALUES(?1, ?2)";
    sqlite3_stmt *s = prep(st, sql, err);
    int r;

    if (s == NULL) {
        return PIER_ERR;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    bind_blob(s, 2, body->data, body->len);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot store a body", err);
    }
    return PIER_OK;
}

/* The row naming id is gone (replaced or deleted) in this transaction:
 * drop its inline body, if it has one, and then clear id, which leaves
 * no file to unlink after the commit. */
static int
body_forget(struct objstore *st, char id[ID_LEN + 1], struct pier_err *err)
{
    static const char sql[] = "DELETE FROM bodies WHERE id = ?1";
    sqlite3_stmt *s;
    int r;

    if (id[0] == '\0') {
        return PIER_OK;
    }
    s = prep(st, sql, err);
    if (s == NULL) {
        return PIER_ERR;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot drop a body", err);
    }
    if (sqlite3_changes(st->db) > 0) {
        id[0] = '\0';
    }
    return PIER_OK;
}

/* The inline body of id appended to out: *found false when id is a file
 * (or gone). s is body_sql, prepared. */
static int
body_read(sqlite3_stmt *s, const char *id, struct pier_buf *out, bool *found,
          struct pier_err *err)
{
    int r;

    *found = false;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *found = true;
        if (pier_buf_add(out, sqlite3_column_blob(s, 0),
                         (size_t) sqlite3_column_bytes(s, 0))
            != PIER_OK) {
            sqlite3_reset(s);
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "an inline body over its limit");
        }
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot read a body: %s",
                           sqlite3_errmsg(sqlite3_db_handle(s)));
    }
    return PIER_OK;
}

/* A read-only descriptor of n bytes (an anonymous memory file), for the
 * callers that read an object through a descriptor. */
static int
body_fd(const void *data, size_t n, int *fd, struct pier_err *err)
{
    int f = memfd_create("pier-object", MFD_CLOEXEC), e;

    if (f == -1) {
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot make a memory file: %s", strerror(errno));
    }
    if ((e = write_all(f, data, n)) != 0) {
        close(f);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot fill a memory file: %s", strerror(e));
    }
    if (lseek(f, 0, SEEK_SET) != 0) {
        e = errno;
        close(f);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot rewind a memory file: %s", strerror(e));
    }
    *fd = f;
    return PIER_OK;
}

/* ---- writes ---- */

/* The body goes to a temporary file from now on: the bytes held in memory
 * so far first. */
static int
put_spill(struct objstore_put *p, struct pier_err *err)
{
    char path[PATH_MAX];
    int e;

    tmp_path(p->st, p->id, path, sizeof(path));
    p->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (p->fd == -1) {
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot create '%s': %s", path, strerror(errno));
    }
    p->spill = true;
    if ((e = write_all(p->fd, p->mem.data, p->mem.len)) != 0) {
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot write a body: %s", strerror(e));
    }
    pier_buf_release(&p->mem);
    return PIER_OK;
}

/* A put of key in bucket; spill: to a file from the first byte (parts,
 * which multipart completion concatenates), else in memory until it grows
 * past OBJSTORE_INLINE_MAX. */
static struct objstore_put *
put_new(struct objstore *st, struct pier_str bucket, struct pier_str key,
        bool spill, struct pier_err *err)
{
    struct objstore_put *p = pier_calloc(1, sizeof(*p));

    p->magic = PUT_MAGIC;
    p->st = st;
    p->fd = -1;
    pier_buf_init(&p->mem, OBJSTORE_INLINE_MAX);
    p->bucket = pier_strndup(bucket.ptr, bucket.len);
    p->bucket_len = bucket.len;
    p->key = pier_strndup(key.ptr, key.len);
    p->key_len = key.len;
    p->md5 = EVP_MD_CTX_new();
    p->sha256 = EVP_MD_CTX_new();
    PIER_ASSERT(p->md5 != NULL && p->sha256 != NULL);
    PIER_ASSERT(EVP_DigestInit_ex(p->md5, EVP_md5(), NULL) == 1);
    PIER_ASSERT(EVP_DigestInit_ex(p->sha256, EVP_sha256(), NULL) == 1);
    new_id(p->id);
    if (spill && put_spill(p, err) != PIER_OK) {
        objstore_put_abort(p);
        return NULL;
    }
    return p;
}

struct objstore_put *
objstore_put_begin(struct objstore *st, struct pier_str bucket,
                   struct pier_str key, struct pier_err *err)
{
    int rc;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (check_key(key, err) != PIER_OK) {
        return NULL;
    }
    lock(st);
    rc = bucket_exists(st, bucket, err);
    unlock(st);
    if (rc != PIER_OK) {
        return NULL;
    }
    return put_new(st, bucket, key, false, err);
}

/* PIER_OK when upload belongs to bucket and key; NoSuchUpload otherwise.
 * Under the mutex. meta (may be NULL) gets the upload's metadata. */
static int
upload_check(struct objstore *st, struct pier_str bucket, struct pier_str key,
             struct pier_str upload, struct pier_buf *meta,
             struct pier_err *err)
{
    static const char sql[] = "SELECT meta FROM uploads WHERE id = ?1 "
                              "AND bucket = ?2 AND key = ?3";
    sqlite3_stmt *s = prep(st, sql, err);
    int r;

    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, upload);
    bind_str(s, 2, bucket);
    bind_blob(s, 3, key.ptr, key.len);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW && meta != NULL
        && pier_buf_add(meta, sqlite3_column_blob(s, 0),
                        (size_t) sqlite3_column_bytes(s, 0))
               != PIER_OK) {
        sqlite3_reset(s);
        return pier_err_set(err, "metadata too large");
    }
    sqlite3_reset(s);
    if (r == SQLITE_ROW) {
        return PIER_OK;
    }
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot look an upload up", err);
    }
    return pier_err_s3(err, PIER_S3_NO_SUCH_UPLOAD, "no upload '%.*s'",
                       (int) upload.len, upload.ptr);
}

struct objstore_put *
objstore_part_begin(struct objstore *st, struct pier_str bucket,
                    struct pier_str key, struct pier_str upload_id,
                    unsigned part_number, struct pier_err *err)
{
    struct objstore_put *p;
    int rc;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (part_number < 1 || part_number > OBJSTORE_PART_MAX) {
        pier_err_s3(err, PIER_S3_INVALID_ARGUMENT, "part number %u",
                    part_number);
        return NULL;
    }
    if (check_key(key, err) != PIER_OK) {
        return NULL;
    }
    if (upload_id.len != ID_LEN) {
        pier_err_s3(err, PIER_S3_NO_SUCH_UPLOAD, "bad upload id");
        return NULL;
    }
    lock(st);
    rc = upload_check(st, bucket, key, upload_id, NULL, err);
    unlock(st);
    if (rc != PIER_OK) {
        return NULL;
    }
    p = put_new(st, bucket, key, true, err);
    if (p != NULL) {
        memcpy(p->upload, upload_id.ptr, ID_LEN);
        p->upload[ID_LEN] = '\0';
        p->part = part_number;
    }
    return p;
}

int
objstore_put_write(struct objstore_put *p, const void *data, size_t n,
                   struct pier_err *err)
{
    int e;

    PIER_CHECK_OBJ(p, PUT_MAGIC);
    if (p->failed) {
        return pier_err_set(err, "write after a failed write");
    }
    if (n > p->st->max_object_size - p->size) {
        p->failed = true;
        return pier_err_s3(err, PIER_S3_ENTITY_TOO_LARGE,
                           "body over %llu bytes",
                           (unsigned long long) p->st->max_object_size);
    }
    PIER_ASSERT(EVP_DigestUpdate(p->md5, data, n) == 1);
    PIER_ASSERT(EVP_DigestUpdate(p->sha256, data, n) == 1);
    if (!p->spill) {
        if (p->mem.len + n <= OBJSTORE_INLINE_MAX) {
            PIER_ASSERT(pier_buf_add(&p->mem, data, n) == PIER_OK);
            p->size += n;
            return PIER_OK;
        }
        if (put_spill(p, err) != PIER_OK) {
            p->failed = true;
            return PIER_ERR;
        }
    }
    if ((e = write_all(p->fd, data, n)) != 0) {
        p->failed = true;
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot write a body: %s", strerror(e));
    }
    p->size += n;
    return PIER_OK;
}

uint64_t
objstore_put_size(const struct objstore_put *p)
{
    PIER_CHECK_OBJ(p, PUT_MAGIC);
    return p->size;
}

void
objstore_put_abort(struct objstore_put *p)
{
    char path[PATH_MAX];

    if (p == NULL) {
        return;
    }
    PIER_CHECK_OBJ(p, PUT_MAGIC);
    if (p->fd != -1) {
        close(p->fd);
        tmp_path(p->st, p->id, path, sizeof(path));
        (void) unlink(path);
    }
    pier_buf_release(&p->mem);
    EVP_MD_CTX_free(p->md5);
    EVP_MD_CTX_free(p->sha256);
    pier_free(p->bucket);
    pier_free(p->key);
    p->magic = 0;
    pier_free(p);
}

/* fsync the temporary file, rename it to data/, fsync the directory. The
 * file is closed; on failure the temporary is removed. */
static int
settle(struct objstore *st, int *fd, const char *id, struct pier_err *err)
{
    char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
    int e;

    tmp_path(st, id, from, sizeof(from));
    if (!st->no_fsync && fsync(*fd) != 0) {
        e = errno;
        close(*fd);
        *fd = -1;
        (void) unlink(from);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot fsync '%s': %s",
                           from, strerror(e));
    }
    close(*fd);
    *fd = -1;
    data_path(st, id, to, sizeof(to));
    if (rename(from, to) != 0) {
        e = errno;
        (void) unlink(from);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot rename '%s': %s", from, strerror(e));
    }
    data_dir_path(st, id, dir, sizeof(dir));
    if (!st->no_fsync && fsync_dir(dir, err) != PIER_OK) {
        (void) unlink(to);
        err->s3 = PIER_S3_INTERNAL_ERROR;
        err->http = 500;
        return PIER_ERR;
    }
    return PIER_OK;
}

/* Read the current row of (bucket, key): old gets its data file id ("" if
 * none) and etag gets its ETag. Under the mutex, in a transaction. */
static int
current(struct objstore *st, struct pier_str bucket, struct pier_str key,
        char old[ID_LEN + 1], char etag[OBJSTORE_ETAG_MAX],
        struct pier_err *err)
{
    static const char sql[] = "SELECT blob, etag FROM objects "
                              "WHERE bucket = ?1 AND key = ?2";
    sqlite3_stmt *s = prep(st, sql, err);
    int r;

    old[0] = '\0';
    etag[0] = '\0';
    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, old, ID_LEN + 1);
        col_text(s, 1, etag, OBJSTORE_ETAG_MAX);
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        return db_fail(st, "cannot look an object up", err);
    }
    return PIER_OK;
}

static int
cond_check(const struct objstore_cond *cond, const char *old, const char *etag,
           struct pier_err *err)
{
    bool exists = old[0] != '\0';

    if (cond == NULL) {
        return PIER_OK;
    }
    if (cond->if_none_match_star && exists) {
        return pier_err_s3(err, PIER_S3_PRECONDITION_FAILED,
                           "If-None-Match: * and the key exists");
    }
    if (cond->if_match.len > 0) {
        if (!exists) {
            return pier_err_s3(err, PIER_S3_NO_SUCH_KEY,
                               "If-Match and no such key");
        }
        if (!pier_str_eq(cond->if_match, PIER_STR("*"))
            && !objstore_etag_eq(cond->if_match, pier_str_cstr(etag))) {
            return pier_err_s3(err, PIER_S3_PRECONDITION_FAILED,
                               "If-Match and the ETag differs");
        }
    }
    return PIER_OK;
}

/* Insert or replace the row of (bucket, key). In a transaction. */
static int
upsert(struct objstore *st, struct pier_str bucket, struct pier_str key,
       const char *id, uint64_t size, const char *etag, int64_t mtime,
       const struct pier_buf *meta, struct pier_err *err)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO objects(bucket, key, blob, size, etag,"
        " mtime_ms, meta) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *s = prep(st, sql, err);
    int r;

    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64) size);
    sqlite3_bind_text(s, 5, etag, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, mtime);
    if (meta != NULL) {
        bind_blob(s, 7, meta->data, meta->len);
    } else {
        bind_blob(s, 7, NULL, 0);
    }
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot store an object", err);
    }
    return PIER_OK;
}

static void
fill_out(struct objstore_obj *out, const char *etag, uint64_t size,
         int64_t mtime, const struct pier_buf *meta)
{
    if (out == NULL) {
        return;
    }
    snprintf(out->etag, sizeof(out->etag), "%s", etag);
    out->size = size;
    out->mtime_ms = mtime;
    pier_buf_reset(&out->meta);
    if (meta != NULL && meta->len > 0) {
        PIER_ASSERT(pier_buf_add(&out->meta, meta->data, meta->len) == PIER_OK);
    }
}

/* An object write of a batch, in the batch's transaction: condition,
 * row. A failing condition fails this write only; *fatal set means the
 * transaction itself failed. */
static void
object_one(struct objstore *st, struct pending *w, bool *fatal)
{
    char old_etag[OBJSTORE_ETAG_MAX];

    w->rc = bucket_exists(st, w->bucket, &w->err);
    if (w->rc == PIER_OK) {
        w->rc = current(st, w->bucket, w->key, w->old, old_etag, &w->err);
        *fatal = w->rc != PIER_OK;
    } else {
        *fatal = w->err.s3 != PIER_S3_NO_SUCH_BUCKET;
    }
    if (w->rc == PIER_OK) {
        w->rc = cond_check(w->cond, w->old, old_etag, &w->err);
    }
    if (w->rc == PIER_OK) {
        w->rc = w->body != NULL ? body_insert(st, w->id, w->body, &w->err)
                                : PIER_OK;
        if (w->rc == PIER_OK) {
            w->rc = upsert(st, w->bucket, w->key, w->id, w->size, w->etag,
                           w->mtime, w->meta, &w->err);
        }
        if (w->rc == PIER_OK) {
            w->rc = body_forget(st, w->old, &w->err);
        }
        *fatal = w->rc != PIER_OK;
    }
}

/* A part write of a batch: the upload must still be there (an abort or a
 * completion may have come first: NoSuchUpload, this write only). */
static void
part_one(struct objstore *st, struct pending *w, bool *fatal)
{
    static const char q_old[] = "SELECT blob FROM parts "
                                "WHERE upload = ?1 AND num = ?2";
    static const char ins[] =
        "INSERT OR REPLACE INTO parts(upload, num, blob, size, etag, mtime_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *s;
    int r;

    w->rc = upload_check(st, w->bucket, w->key, w->upload, NULL, &w->err);
    if (w->rc != PIER_OK) {
        *fatal = w->err.s3 != PIER_S3_NO_SUCH_UPLOAD;
        return;
    }
    *fatal = true; /* from here on, only the database fails */
    s = prep(st, q_old, &w->err);
    if (s == NULL) {
        w->rc = PIER_ERR;
        return;
    }
    bind_str(s, 1, w->upload);
    sqlite3_bind_int(s, 2, (int) w->part);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, w->old, sizeof(w->old));
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        w->rc = db_fail(st, "cannot look a part up", &w->err);
        return;
    }
    s = prep(st, ins, &w->err);
    if (s == NULL) {
        w->rc = PIER_ERR;
        return;
    }
    bind_str(s, 1, w->upload);
    sqlite3_bind_int(s, 2, (int) w->part);
    sqlite3_bind_text(s, 3, w->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64) w->size);
    sqlite3_bind_text(s, 5, w->etag, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, w->mtime);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        w->rc = db_fail(st, "cannot store a part", &w->err);
        return;
    }
    *fatal = false;
}

/* One write of a batch, in the batch's transaction. */
static void
batch_one(struct objstore *st, struct pending *w, bool *fatal)
{
    w->old[0] = '\0';
    *fatal = false;
    if (w->kind == PENDING_PART) {
        part_one(st, w, fatal);
    } else {
        object_one(st, w, fatal);
    }
    if (w->rc != PIER_OK) {
        w->old[0] = '\0';
    }
}

/* Commit the writes of batch in one transaction (one WAL fsync for all),
 * in queue order, so that of racing conditional writes exactly one wins
 * as before; then unlink the files they replaced. Under mu. */
static void
batch_commit(struct objstore *st, struct pending *batch)
{
    struct pending *w;
    struct pier_err err;
    bool fatal = false;

    if (begin(st, &err) != PIER_OK) {
        fatal = true;
    }
    for (w = batch; w != NULL && !fatal; w = w->next) {
        batch_one(st, w, &fatal);
        if (fatal) {
            err = w->err;
        }
    }
    if (!fatal && commit(st, &err) != PIER_OK) {
        fatal = true; /* commit() rolled back */
    } else if (fatal) {
        rollback(st);
    }
    for (w = batch; w != NULL; w = w->next) {
        if (fatal) {
            w->rc = PIER_ERR;
            w->err = err;
        } else if (w->rc == PIER_OK) {
            unlink_blob(st, w->old);
        }
    }
}

/* Queue the write me, and commit the queue when no other write is
 * committing; return once me's own batch has committed: PIER_OK, or
 * PIER_ERR with err set (its condition failed, or the batch did). */
static int
group_commit(struct objstore *st, struct pending *me, struct pier_err *err)
{
    struct pending *batch, *w;

    me->done = false;
    me->next = NULL;
    PIER_ASSERT(pthread_mutex_lock(&st->qmu) == 0);
    *st->queue_tail = me;
    st->queue_tail = &me->next;
    while (!me->done) {
        if (st->committing) {
            PIER_ASSERT(pthread_cond_wait(&st->qcv, &st->qmu) == 0);
            continue;
        }
        /* Lead: take every write queued so far (this one among them). */
        batch = st->queue;
        st->queue = NULL;
        st->queue_tail = &st->queue;
        st->committing = true;
        PIER_ASSERT(pthread_mutex_unlock(&st->qmu) == 0);
        lock(st);
        batch_commit(st, batch);
        unlock(st);
        PIER_ASSERT(pthread_mutex_lock(&st->qmu) == 0);
        st->batches++;
        for (w = batch; w != NULL; w = w->next) {
            w->done = true;
            st->batched++;
        }
        st->committing = false;
        PIER_ASSERT(pthread_cond_broadcast(&st->qcv) == 0);
    }
    PIER_ASSERT(pthread_mutex_unlock(&st->qmu) == 0);
    if (me->rc != PIER_OK) {
        *err = me->err;
    }
    return me->rc;
}

/* The row half of a put's commit (the file is in data/ already). */
static int
commit_put(struct objstore_put *p, const struct objstore_cond *cond,
           const char *etag, int64_t mtime, const struct pier_buf *meta,
           struct pier_err *err)
{
    struct pending me;

    memset(&me, 0, sizeof(me));
    me.bucket = pier_str_make(p->bucket, p->bucket_len);
    me.key = pier_str_make(p->key, p->key_len);
    me.id = p->id;
    me.size = p->size;
    me.etag = etag;
    me.mtime = mtime;
    if (p->upload[0] != '\0') {
        me.kind = PENDING_PART;
        me.upload = pier_str_make(p->upload, ID_LEN);
        me.part = p->part;
    } else {
        me.kind = PENDING_OBJECT;
        me.cond = cond;
        me.meta = meta;
        me.body = p->spill ? NULL : &p->mem;
    }
    return group_commit(p->st, &me, err);
}

int
objstore_put_commit(struct objstore_put *p,
                    const struct objstore_put_check *check,
                    const struct objstore_cond *cond,
                    const struct pier_buf *meta, struct objstore_obj *out,
                    struct pier_err *err)
{
    uint8_t md5[16], sha[32];
    char etag[OBJSTORE_ETAG_MAX];
    unsigned len;
    int64_t mtime = now_ms();
    int rc;

    PIER_CHECK_OBJ(p, PUT_MAGIC);
    if (p->failed) {
        objstore_put_abort(p);
        return pier_err_set(err, "commit after a failed write");
    }
    PIER_ASSERT(EVP_DigestFinal_ex(p->md5, md5, &len) == 1 && len == 16);
    PIER_ASSERT(EVP_DigestFinal_ex(p->sha256, sha, &len) == 1 && len == 32);
    if (check != NULL && check->size >= 0
        && (uint64_t) check->size != p->size) {
        rc = pier_err_s3(err, PIER_S3_INCOMPLETE_BODY, "got %llu bytes of %lld",
                         (unsigned long long) p->size, (long long) check->size);
        goto abort;
    }
    if (check != NULL && check->md5 != NULL
        && CRYPTO_memcmp(check->md5, md5, 16) != 0) {
        rc = pier_err_s3(err, PIER_S3_BAD_DIGEST, "Content-MD5 mismatch");
        goto abort;
    }
    if (check != NULL && check->sha256 != NULL
        && CRYPTO_memcmp(check->sha256, sha, 32) != 0) {
        rc = pier_err_s3(err, PIER_S3_SHA256_MISMATCH,
                         "x-amz-content-sha256 mismatch");
        goto abort;
    }
    hex(md5, 16, etag);
    /* A small object's bytes go into its row's commit: no file at all. */
    if (p->spill && settle(p->st, &p->fd, p->id, err) != PIER_OK) {
        objstore_put_abort(p);
        return PIER_ERR;
    }
    rc = commit_put(p, cond, etag, mtime, meta, err);
    if (rc != PIER_OK && p->spill) {
        unlink_blob(p->st, p->id);
    } else if (p->upload[0] == '\0') {
        fill_out(out, etag, p->size, mtime, meta);
    } else {
        fill_out(out, etag, p->size, mtime, NULL);
    }
    objstore_put_abort(p); /* frees; the temporary is already renamed */
    return rc;
abort:
    objstore_put_abort(p);
    return rc;
}

/* ---- reads ---- */

/* The row of (bucket, key) into obj and id. Under the mutex. */
static int
lookup(struct objstore *st, struct pier_str bucket, struct pier_str key,
       struct objstore_obj *obj, char id[ID_LEN + 1], struct pier_err *err)
{
    static const char sql[] = "SELECT blob, size, etag, mtime_ms, meta "
                              "FROM objects WHERE bucket = ?1 AND key = ?2";
    sqlite3_stmt *s;
    int r;

    if (bucket_exists(st, bucket, err) != PIER_OK) {
        return PIER_ERR;
    }
    s = prep(st, sql, err);
    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, id, ID_LEN + 1);
        obj->size = (uint64_t) sqlite3_column_int64(s, 1);
        col_text(s, 2, obj->etag, sizeof(obj->etag));
        obj->mtime_ms = sqlite3_column_int64(s, 3);
        pier_buf_reset(&obj->meta);
        if (pier_buf_add(&obj->meta, sqlite3_column_blob(s, 4),
                         (size_t) sqlite3_column_bytes(s, 4))
            != PIER_OK) {
            sqlite3_reset(s);
            return pier_err_set(err, "metadata too large");
        }
    }
    sqlite3_reset(s);
    if (r == SQLITE_DONE) {
        return pier_err_s3(err, PIER_S3_NO_SUCH_KEY, "no such key");
    }
    if (r != SQLITE_ROW) {
        return db_fail(st, "cannot look an object up", err);
    }
    return PIER_OK;
}

int
objstore_get(struct objstore *st, struct pier_str bucket, struct pier_str key,
             struct objstore_obj *obj, int *fd, struct pier_err *err)
{
    char id[ID_LEN + 1], path[PATH_MAX];
    struct pier_buf body;
    sqlite3_stmt *s;
    bool inl = false;
    int rc;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (key.len > OBJSTORE_KEY_MAX) {
        return pier_err_s3(err, PIER_S3_KEY_TOO_LONG, "key too long");
    }
    pier_buf_init(&body, OBJSTORE_INLINE_MAX);
    lock(st);
    rc = lookup(st, bucket, key, obj, id, err);
    if (rc == PIER_OK && fd != NULL && obj->size <= OBJSTORE_INLINE_MAX) {
        s = prep(st, body_sql, err);
        rc = s != NULL ? body_read(s, id, &body, &inl, err) : PIER_ERR;
    }
    if (rc == PIER_OK && fd != NULL && !inl) {
        /* Opened under the mutex: a replacing commit unlinks the old file
         * under it too, so the row and the file agree. */
        data_path(st, id, path, sizeof(path));
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd == -1) {
            rc = pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                             "cannot open '%s': %s", path, strerror(errno));
        }
    }
    unlock(st);
    if (rc == PIER_OK && inl) {
        rc = body_fd(body.data, body.len, fd, err);
    }
    pier_buf_release(&body);
    return rc;
}

/* ---- readers ---- */

#define READER_MAGIC 0x7b3e5d19u
#define READER_TRIES 16   /* lookups of one GET that may race an overwrite */
#define WAYS         4    /* both caches: sets of 4, least recently used out */
#define CACHE_SLOTS  512  /* rows a reader remembers */
#define CACHE_ROW    2048 /* bytes of bucket + key + metadata, at most */

/* A row as read at generation gen; valid while the store's gen is gen. */
struct cached_row {
    bool used;
    uint64_t last; /* the reader's tick when last used */
    uint64_t gen;
    char id[ID_LEN + 1];
    char etag[OBJSTORE_ETAG_MAX];
    uint64_t size;
    int64_t mtime_ms;
    size_t bucket_len, key_len, meta_len;
    char *data; /* bucket, key, meta; CACHE_ROW bytes */
};

#define BODY_SLOTS 256 /* small bodies a reader keeps, by data file id */

struct body_slot {
    char id[ID_LEN + 1];
    uint64_t last;
    struct objstore_body *body; /* a reference; NULL: empty */
};

struct objstore_reader {
    unsigned magic;
    struct objstore *st;
    sqlite3 *db;
    sqlite3_stmt *get;  /* the row, prepared once */
    sqlite3_stmt *body; /* an inline body, prepared once */
    struct cached_row *cache;
    struct body_slot *bodies;
    uint64_t tick; /* counts uses, for least recently used */
};

void
objstore_body_unref(struct objstore_body *b)
{
    if (b != NULL && --b->refs == 0) {
        pier_free(b);
    }
}

struct objstore_reader *
objstore_reader_open(struct objstore *st, struct pier_err *err)
{
    /* One statement, so one snapshot: no row at all is NoSuchBucket, a
     * row of NULLs NoSuchKey. */
    static const char sql[] =
        "SELECT o.blob, o.size, o.etag, o.mtime_ms, o.meta FROM buckets b"
        " LEFT JOIN objects o ON o.bucket = b.name AND o.key = ?2"
        " WHERE b.name = ?1";
    struct objstore_reader *r;
    char path[PATH_MAX];

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    r = pier_calloc(1, sizeof(*r));
    r->magic = READER_MAGIC;
    r->st = st;
    r->cache = pier_calloc(CACHE_SLOTS, sizeof(*r->cache));
    r->bodies = pier_calloc(BODY_SLOTS, sizeof(*r->bodies));
    snprintf(path, sizeof(path), "%s/meta.db", st->dir);
    if (sqlite3_open_v2(path, &r->db,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        pier_err_set(err, "cannot open '%s' to read: %s", path,
                     r->db != NULL ? sqlite3_errmsg(r->db) : "no memory");
        objstore_reader_close(r);
        return NULL;
    }
    /* WAL readers wait only while a checkpoint resets the log. */
    sqlite3_busy_timeout(r->db, 5000);
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->get,
                           NULL)
            != SQLITE_OK
        || sqlite3_prepare_v3(r->db, body_sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &r->body, NULL)
               != SQLITE_OK) {
        pier_err_set(err, "cannot prepare a lookup: %s", sqlite3_errmsg(r->db));
        objstore_reader_close(r);
        return NULL;
    }
    return r;
}

void
objstore_reader_close(struct objstore_reader *r)
{
    if (r == NULL) {
        return;
    }
    PIER_CHECK_OBJ(r, READER_MAGIC);
    if (r->cache != NULL) {
        size_t i;

        for (i = 0; i < CACHE_SLOTS; i++) {
            pier_free(r->cache[i].data);
        }
        pier_free(r->cache);
    }
    if (r->bodies != NULL) {
        size_t i;

        for (i = 0; i < BODY_SLOTS; i++) {
            objstore_body_unref(r->bodies[i].body);
        }
        pier_free(r->bodies);
    }
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->body);
    if (r->db != NULL) {
        sqlite3_close(r->db);
    }
    r->magic = 0;
    pier_free(r);
}

/* One lookup in its own read transaction (the statement is reset before
 * returning, which ends it). */
static int
reader_lookup(struct objstore_reader *r, struct pier_str bucket,
              struct pier_str key, struct objstore_obj *obj,
              char id[ID_LEN + 1], struct pier_err *err)
{
    sqlite3_stmt *s = r->get;
    int rc;

    sqlite3_reset(s);
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return pier_err_s3(err, PIER_S3_NO_SUCH_BUCKET, "no bucket '%.*s'",
                           (int) bucket.len, bucket.ptr);
    }
    if (rc != SQLITE_ROW) {
        pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot look an object up: %s",
                    sqlite3_errmsg(r->db));
        sqlite3_reset(s);
        return PIER_ERR;
    }
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        sqlite3_reset(s);
        return pier_err_s3(err, PIER_S3_NO_SUCH_KEY, "no such key");
    }
    col_text(s, 0, id, ID_LEN + 1);
    obj->size = (uint64_t) sqlite3_column_int64(s, 1);
    col_text(s, 2, obj->etag, sizeof(obj->etag));
    obj->mtime_ms = sqlite3_column_int64(s, 3);
    pier_buf_reset(&obj->meta);
    rc = pier_buf_add(&obj->meta, sqlite3_column_blob(s, 4),
                      (size_t) sqlite3_column_bytes(s, 4));
    sqlite3_reset(s);
    if (rc != PIER_OK) {
        return pier_err_set(err, "metadata too large");
    }
    return PIER_OK;
}

/* The first of the WAYS cache slots of (bucket, key): FNV-1a. */
static struct cached_row *
cache_set(struct objstore_reader *r, struct pier_str bucket,
          struct pier_str key)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < bucket.len; i++) {
        h = (h ^ (unsigned char) bucket.ptr[i]) * 1099511628211ULL;
    }
    h = (h ^ 0xffu) * 1099511628211ULL; /* no bucket name holds 0xff */
    for (i = 0; i < key.len; i++) {
        h = (h ^ (unsigned char) key.ptr[i]) * 1099511628211ULL;
    }
    return &r->cache[h % (CACHE_SLOTS / WAYS) * WAYS];
}

/* The cached row of (bucket, key) into obj and id, if it is still the
 * committed one. */
static bool
cache_get(struct objstore_reader *r, struct pier_str bucket,
          struct pier_str key, struct objstore_obj *obj, char id[ID_LEN + 1])
{
    struct cached_row *set = cache_set(r, bucket, key), *c = NULL;
    size_t w;

    for (w = 0; w < WAYS && c == NULL; w++) {
        if (set[w].used && set[w].bucket_len == bucket.len
            && set[w].key_len == key.len
            && memcmp(set[w].data, bucket.ptr, bucket.len) == 0
            && (key.len == 0
                || memcmp(set[w].data + bucket.len, key.ptr, key.len) == 0)) {
            c = &set[w];
        }
    }
    if (c == NULL
        || c->gen != atomic_load_explicit(&r->st->gen, memory_order_acquire)) {
        return false;
    }
    c->last = ++r->tick;
    pier_buf_reset(&obj->meta);
    if (c->meta_len > 0
        && pier_buf_add(&obj->meta, c->data + bucket.len + key.len, c->meta_len)
               != PIER_OK) {
        return false;
    }
    memcpy(id, c->id, sizeof(c->id));
    memcpy(obj->etag, c->etag, sizeof(obj->etag));
    obj->size = c->size;
    obj->mtime_ms = c->mtime_ms;
    return true;
}

/* Remember a row read at generation gen. */
static void
cache_put(struct objstore_reader *r, uint64_t gen, struct pier_str bucket,
          struct pier_str key, const struct objstore_obj *obj,
          const char id[ID_LEN + 1])
{
    struct cached_row *set = cache_set(r, bucket, key), *c = &set[0];
    size_t w;

    if (bucket.len + key.len + obj->meta.len > CACHE_ROW) {
        return;
    }
    /* The row's own slot, else an empty one, else the least recently
     * used. */
    for (w = 0; w < WAYS; w++) {
        if (set[w].used && set[w].bucket_len == bucket.len
            && set[w].key_len == key.len
            && memcmp(set[w].data, bucket.ptr, bucket.len) == 0
            && (key.len == 0
                || memcmp(set[w].data + bucket.len, key.ptr, key.len) == 0)) {
            c = &set[w];
            break;
        }
        if (!set[w].used || (c->used && set[w].last < c->last)) {
            c = &set[w];
        }
    }
    c->last = ++r->tick;
    if (c->data == NULL) {
        c->data = pier_malloc(CACHE_ROW);
    }
    c->used = true;
    c->gen = gen;
    memcpy(c->id, id, sizeof(c->id));
    memcpy(c->etag, obj->etag, sizeof(c->etag));
    c->size = obj->size;
    c->mtime_ms = obj->mtime_ms;
    c->bucket_len = bucket.len;
    c->key_len = key.len;
    c->meta_len = obj->meta.len;
    memcpy(c->data, bucket.ptr, bucket.len);
    if (key.len > 0) {
        memcpy(c->data + bucket.len, key.ptr, key.len);
    }
    if (obj->meta.len > 0) {
        memcpy(c->data + bucket.len + key.len, obj->meta.data, obj->meta.len);
    }
}

/* The bytes of object version id (size bytes, at most OBJSTORE_INLINE_MAX)
 * as a new reference in *out: from the reader's keep, else its inline body,
 * else its data file when it is small enough to keep; kept when at most
 * OBJSTORE_SMALL_MAX. PIER_AGAIN when the version is gone (a commit
 * replaced or deleted it since the row was read); PIER_OK with *out NULL
 * for a data file too large to keep: read it through a descriptor. */
static int
body_get(struct objstore_reader *r, const char id[ID_LEN + 1], uint64_t size,
         struct objstore_body **out, struct pier_err *err)
{
    struct body_slot *set, *slot;
    char path[PATH_MAX];
    struct objstore_body *b;
    unsigned h = 0, i;
    ssize_t n;
    int fd, rc;

    *out = NULL;
    /* Ids are random hex: their first digits spread them well enough. */
    for (i = 0; i < 4; i++) {
        h = h * 16 + (unsigned) (id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    }
    set = &r->bodies[h % (BODY_SLOTS / WAYS) * WAYS];
    slot = &set[0];
    for (i = 0; i < WAYS; i++) {
        if (set[i].body != NULL && memcmp(set[i].id, id, ID_LEN) == 0) {
            set[i].last = ++r->tick;
            set[i].body->refs++;
            *out = set[i].body;
            return PIER_OK;
        }
        if (set[i].body == NULL
            || (slot->body != NULL && set[i].last < slot->last)) {
            slot = &set[i];
        }
    }
    sqlite3_bind_text(r->body, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(r->body);
    if (rc == SQLITE_ROW) {
        if ((uint64_t) sqlite3_column_bytes(r->body, 0) != size) {
            sqlite3_reset(r->body);
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "inline body %s is not %llu bytes", id,
                               (unsigned long long) size);
        }
        b = pier_malloc(sizeof(*b) + (size_t) size);
        b->refs = 1;
        b->len = (size_t) size;
        if (size > 0) {
            memcpy(b->data, sqlite3_column_blob(r->body, 0), b->len);
        }
        sqlite3_reset(r->body);
        goto keep;
    }
    sqlite3_reset(r->body);
    if (rc != SQLITE_DONE) {
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                           "cannot read a body: %s", sqlite3_errmsg(r->db));
    }
    if (size > OBJSTORE_SMALL_MAX) {
        return PIER_OK;
    }
    data_path(r->st, id, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT) {
            return PIER_AGAIN;
        }
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot open '%s': %s",
                           path, strerror(errno));
    }
    b = pier_malloc(sizeof(*b) + (size_t) size);
    b->refs = 1;
    b->len = (size_t) size;
    do {
        n = pread(fd, b->data, b->len, 0);
    } while (n == -1 && errno == EINTR);
    close(fd);
    if (n != (ssize_t) b->len) {
        pier_free(b);
        return pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot read '%s': %s",
                           path, n == -1 ? strerror(errno) : "short file");
    }
keep:
    if (size <= OBJSTORE_SMALL_MAX) {
        objstore_body_unref(slot->body);
        memcpy(slot->id, id, ID_LEN + 1);
        slot->last = ++r->tick;
        slot->body = b;
        b->refs++;
    }
    *out = b;
    return PIER_OK;
}

int
objstore_reader_get(struct objstore_reader *r, struct pier_str bucket,
                    struct pier_str key, struct objstore_obj *obj, int *fd,
                    struct objstore_body **body, struct pier_err *err)
{
    char id[ID_LEN + 1], path[PATH_MAX];
    struct objstore_body *b;
    uint64_t gen;
    int tries, rc;

    PIER_CHECK_OBJ(r, READER_MAGIC);
    if (body != NULL) {
        *body = NULL;
    }
    if (fd != NULL) {
        *fd = -1;
    }
    if (key.len > OBJSTORE_KEY_MAX) {
        return pier_err_s3(err, PIER_S3_KEY_TOO_LONG, "key too long");
    }
    for (tries = 0; tries < READER_TRIES; tries++) {
        /* The generation is read before the row: a commit after it bumps
         * it past the tag, so the cached row is never newer than trusted. */
        if (tries > 0 || !cache_get(r, bucket, key, obj, id)) {
            gen = atomic_load_explicit(&r->st->gen, memory_order_acquire);
            if (reader_lookup(r, bucket, key, obj, id, err) != PIER_OK) {
                return PIER_ERR;
            }
            cache_put(r, gen, bucket, key, obj, id);
        }
        if ((body != NULL || fd != NULL) && obj->size <= OBJSTORE_INLINE_MAX) {
            rc = body_get(r, id, obj->size, &b, err);
            if (rc == PIER_AGAIN) {
                continue;
            }
            if (rc != PIER_OK || b != NULL) {
                if (rc == PIER_OK && body != NULL) {
                    *body = b;
                } else if (rc == PIER_OK) {
                    rc = body_fd(b->data, b->len, fd, err);
                    objstore_body_unref(b);
                }
                return rc;
            }
        }
        if (fd == NULL) {
            return PIER_OK;
        }
        data_path(r->st, id, path, sizeof(path));
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd != -1) {
            return PIER_OK;
        }
        if (errno != ENOENT) {
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "cannot open '%s': %s", path, strerror(errno));
        }
        /* A commit replaced or deleted the row after our read and then
         * unlinked the file: the next read sees that commit. */
    }
    return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                       "the object changed %d times while being read", tries);
}

/* Delete the row of (bucket, key) in a transaction; *existed tells
 * whether there was one, and old gets its file to unlink after the commit
 * ("" when none or inline). */
static int
delete_row(struct objstore *st, struct pier_str bucket, struct pier_str key,
           char old[ID_LEN + 1], bool *existed, struct pier_err *err)
{
    static const char sql[] = "DELETE FROM objects WHERE bucket = ?1 "
                              "AND key = ?2 RETURNING blob";
    sqlite3_stmt *s = prep(st, sql, err);
    int r;

    old[0] = '\0';
    *existed = false;
    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, old, ID_LEN + 1);
        r = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot delete an object", err);
    }
    *existed = old[0] != '\0';
    return body_forget(st, old, err);
}

bool
objstore_del_cond_any(const struct objstore_del_cond *cond)
{
    return cond != NULL
           && (cond->etag.len > 0 || cond->has_mtime || cond->has_size);
}

/* Check cond against the current row of (bucket, key): *res is
 * PIER_S3_NONE to delete, else why not. Under the mutex, in the delete's
 * transaction: nothing can commit between this and the delete. */
static int
del_check(struct objstore *st, struct pier_str bucket, struct pier_str key,
          const struct objstore_del_cond *cond, enum pier_s3 *res,
          struct pier_err *err)
{
    static const char sql[] = "SELECT etag, size, mtime_ms FROM objects "
                              "WHERE bucket = ?1 AND key = ?2";
    sqlite3_stmt *s = prep(st, sql, err);
    char etag[OBJSTORE_ETAG_MAX];
    uint64_t size = 0;
    int64_t mtime = 0;
    int r;

    *res = PIER_S3_NONE;
    if (s == NULL) {
        return PIER_ERR;
    }
    bind_str(s, 1, bucket);
    bind_blob(s, 2, key.ptr, key.len);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, etag, sizeof(etag));
        size = (uint64_t) sqlite3_column_int64(s, 1);
        mtime = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        return db_fail(st, "cannot look an object up", err);
    }
    if (r == SQLITE_DONE) {
        /* S3: If-Match on a missing key is 404; the time and size
         * conditions alone delete nothing, successfully. */
        *res = cond->etag.len > 0 ? PIER_S3_NO_SUCH_KEY : PIER_S3_NONE;
        return PIER_OK;
    }
    if (cond->etag.len > 0 && !pier_str_eq(cond->etag, PIER_STR("*"))
        && !objstore_etag_eq(cond->etag, pier_str_cstr(etag))) {
        *res = PIER_S3_PRECONDITION_FAILED;
    }
    if (cond->has_size && cond->size != size) {
        *res = PIER_S3_PRECONDITION_FAILED;
    }
    /* Listings give LastModified to the millisecond, as stored; an
     * HTTP-date (Last-Modified) only has the second. */
    if (cond->has_mtime
        && (cond->mtime_whole_s ? cond->mtime_ms / 1000 != mtime / 1000
                                : cond->mtime_ms != mtime)) {
        *res = PIER_S3_PRECONDITION_FAILED;
    }
    return PIER_OK;
}

/* Delete n keys in one transaction, keys[i] under conds[i] when conds is
 * not NULL; *deleted counts the rows that went. */
static int
delete_keys(struct objstore *st, struct pier_str bucket,
            const struct pier_str *keys, const struct objstore_del_cond *conds,
            size_t n, enum pier_s3 *results, size_t *deleted,
            struct pier_err *err)
{
    struct pier_buf ids;
    char old[ID_LEN + 1];
    bool existed;
    size_t i;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    *deleted = 0;
    pier_buf_init(&ids, SIZE_MAX);
    lock(st);
    if (bucket_exists(st, bucket, err) != PIER_OK
        || begin(st, err) != PIER_OK) {
        unlock(st);
        pier_buf_release(&ids);
        return PIER_ERR;
    }
    for (i = 0; i < n; i++) {
        results[i] = PIER_S3_NONE;
        if (keys[i].len > OBJSTORE_KEY_MAX) {
            results[i] = PIER_S3_KEY_TOO_LONG;
            continue;
        }
        if (conds != NULL && objstore_del_cond_any(&conds[i])) {
            if (del_check(st, bucket, keys[i], &conds[i], &results[i], err)
                != PIER_OK) {
                rollback(st);
                unlock(st);
                pier_buf_release(&ids);
                return PIER_ERR;
            }
            if (results[i] != PIER_S3_NONE) {
                continue;
            }
        }
        if (delete_row(st, bucket, keys[i], old, &existed, err) != PIER_OK) {
            rollback(st);
            unlock(st);
            pier_buf_release(&ids);
            return PIER_ERR;
        }
        *deleted += existed;
        if (old[0] != '\0') {
            PIER_ASSERT(pier_buf_add(&ids, old, sizeof(old)) == PIER_OK);
        }
    }
    if (commit(st, err) != PIER_OK) {
        unlock(st);
        pier_buf_release(&ids);
        return PIER_ERR;
    }
    unlink_ids(st, &ids);
    unlock(st);
    pier_buf_release(&ids);
    return PIER_OK;
}

int
objstore_delete(struct objstore *st, struct pier_str bucket,
                struct pier_str key, bool *existed, struct pier_err *err)
{
    return objstore_delete_if(st, bucket, key, NULL, existed, err);
}

int
objstore_delete_if(struct objstore *st, struct pier_str bucket,
                   struct pier_str key, const struct objstore_del_cond *cond,
                   bool *existed, struct pier_err *err)
{
    enum pier_s3 res;
    size_t deleted;

    if (delete_keys(st, bucket, &key, cond, 1, &res, &deleted, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (res != PIER_S3_NONE) {
        return pier_err_s3(err, res, "cannot delete the key");
    }
    if (existed != NULL) {
        *existed = deleted > 0;
    }
    return PIER_OK;
}

int
objstore_delete_many(struct objstore *st, struct pier_str bucket,
                     const struct pier_str *keys, size_t n,
                     enum pier_s3 *results, struct pier_err *err)
{
    return objstore_delete_many_if(st, bucket, keys, NULL, n, results, err);
}

int
objstore_delete_many_if(struct objstore *st, struct pier_str bucket,
                        const struct pier_str *keys,
                        const struct objstore_del_cond *conds, size_t n,
                        enum pier_s3 *results, struct pier_err *err)
{
    size_t deleted;

    return delete_keys(st, bucket, keys, conds, n, results, &deleted, err);
}

int
objstore_copy(struct objstore *st, struct pier_str src_bucket,
              struct pier_str src_key, struct pier_str dst_bucket,
              struct pier_str dst_key, const struct pier_buf *meta,
              const struct objstore_cond *dst_cond, struct objstore_obj *out,
              struct pier_err *err)
{
    return objstore_copy_if(st, src_bucket, src_key, PIER_STR(""), dst_bucket,
                            dst_key, meta, dst_cond, out, err);
}

int
objstore_copy_if(struct objstore *st, struct pier_str src_bucket,
                 struct pier_str src_key, struct pier_str src_etag,
                 struct pier_str dst_bucket, struct pier_str dst_key,
                 const struct pier_buf *meta,
                 const struct objstore_cond *dst_cond, struct objstore_obj *out,
                 struct pier_err *err)
{
    struct objstore_obj src;
    char src_id[ID_LEN + 1], id[ID_LEN + 1], from[PATH_MAX], to[PATH_MAX];
    char dir[PATH_MAX];
    struct pending me;
    struct pier_buf body;
    sqlite3_stmt *s;
    int64_t mtime = now_ms();
    bool inl = false;
    int rc = PIER_ERR;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (check_key(dst_key, err) != PIER_OK
        || check_key(src_key, err) != PIER_OK) {
        return PIER_ERR;
    }
    objstore_obj_init(&src);
    pier_buf_init(&body, OBJSTORE_INLINE_MAX);
    new_id(id);
    data_path(st, id, to, sizeof(to));
    lock(st);
    if (lookup(st, src_bucket, src_key, &src, src_id, err) != PIER_OK) {
        unlock(st);
        goto out;
    }
    if (src_etag.len > 0
        && !objstore_etag_eq(src_etag, pier_str_cstr(src.etag))) {
        pier_err_s3(err, PIER_S3_PRECONDITION_FAILED,
                    "copy source changed since its conditions held");
        unlock(st);
        goto out;
    }
    /* An inline source is copied into the new row's commit: read under
     * the mutex, it is the version just looked up. */
    if (src.size <= OBJSTORE_INLINE_MAX) {
        s = prep(st, body_sql, err);
        if (s == NULL || body_read(s, src_id, &body, &inl, err) != PIER_OK) {
            unlock(st);
            goto out;
        }
    }
    /* Files are never modified once in data/, so a hard link shares the
     * bytes safely; linked under the mutex, the source still exists. */
    data_path(st, src_id, from, sizeof(from));
    if (!inl && link(from, to) != 0) {
        pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot link '%s': %s", from,
                    strerror(errno));
        unlock(st);
        goto out;
    }
    unlock(st);
    data_dir_path(st, id, dir, sizeof(dir));
    if (!inl && !st->no_fsync && fsync_dir(dir, err) != PIER_OK) {
        err->s3 = PIER_S3_INTERNAL_ERROR;
        err->http = 500;
        goto unlink;
    }
    if (meta == NULL) {
        meta = &src.meta;
    }
    /* The row, committed with the writes waiting beside it. */
    memset(&me, 0, sizeof(me));
    me.kind = PENDING_OBJECT;
    me.bucket = dst_bucket;
    me.key = dst_key;
    me.id = id;
    me.size = src.size;
    me.etag = src.etag;
    me.mtime = mtime;
    me.cond = dst_cond;
    me.meta = meta;
    me.body = inl ? &body : NULL;
    if (group_commit(st, &me, err) != PIER_OK) {
        goto unlink;
    }
    fill_out(out, src.etag, src.size, mtime, meta);
    rc = PIER_OK;
    goto out;
unlink:
    if (!inl) {
        (void) unlink(to);
    }
out:
    objstore_obj_release(&src);
    pier_buf_release(&body);
    return rc;
}

/* ---- listing ---- */

void
objstore_list_init(struct objstore_list *l)
{
    memset(l, 0, sizeof(*l));
    pier_buf_init(&l->store_, SIZE_MAX);
}

void
objstore_list_release(struct objstore_list *l)
{
    pier_free(l->entries);
    l->entries = NULL;
    l->n = 0;
    pier_buf_release(&l->store_);
}

/* The smallest string greater than every string starting with s, into b;
 * false when there is none (s is empty or all 0xff). */
static bool
successor(struct pier_str s, struct pier_buf *b)
{
    size_t n = s.len;

    while (n > 0 && (unsigned char) s.ptr[n - 1] == 0xff) {
        n--;
    }
    pier_buf_reset(b);
    if (n == 0) {
        return false;
    }
    PIER_ASSERT(pier_buf_add(b, s.ptr, n) == PIER_OK);
    b->data[n - 1] = (char) ((unsigned char) b->data[n - 1] + 1);
    return true;
}

static bool
has_prefix(struct pier_str s, struct pier_str prefix)
{
    return s.len >= prefix.len
           && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

static int
cmp_str(struct pier_str a, struct pier_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;

    if (c != 0) {
        return c;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

/* Where the delimiter first occurs in s at or after from; -1 if never. */
static ssize_t
find_delim(struct pier_str s, size_t from, struct pier_str delim)
{
    size_t i;

    if (delim.len == 0) {
        return -1;
    }
    for (i = from; i + delim.len <= s.len; i++) {
        if (memcmp(s.ptr + i, delim.ptr, delim.len) == 0) {
            return (ssize_t) i;
        }
    }
    return -1;
}

static void
list_add(struct objstore_list *l, size_t *cap, size_t **offs,
         struct pier_str key, bool is_prefix, sqlite3_stmt *s)
{
    struct objstore_list_entry *e;

    if (l->n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 64;
        l->entries = pier_realloc(l->entries, *cap * sizeof(*l->entries));
        *offs = pier_realloc(*offs, *cap * sizeof(**offs));
    }
    e = &l->entries[l->n];
    memset(e, 0, sizeof(*e));
    (*offs)[l->n] = l->store_.len;
    e->key.len = key.len;
    PIER_ASSERT(pier_buf_addstr(&l->store_, key) == PIER_OK);
    e->is_prefix = is_prefix;
    if (!is_prefix) {
        e->size = (uint64_t) sqlite3_column_int64(s, 1);
        col_text(s, 2, e->etag, sizeof(e->etag));
        e->mtime_ms = sqlite3_column_int64(s, 3);
    }
    l->n++;
}

int
objstore_list_objects(struct objstore *st, struct pier_str bucket,
                      const struct objstore_list_opts *opts,
                      struct objstore_list *out, struct pier_err *err)
{
    static const char q_hi[] =
        "SELECT key, size, etag, mtime_ms FROM objects WHERE bucket = ?1 "
        "AND key >= ?2 AND key < ?3 ORDER BY key";
    static const char q_open[] =
        "SELECT key, size, etag, mtime_ms FROM objects WHERE bucket = ?1 "
        "AND key >= ?2 ORDER BY key";
    struct pier_buf lo, hi, tmp;
    struct pier_str prefix = opts->prefix, delim = opts->delimiter;
    size_t max = opts->max_keys > 1000 ? 1000 : opts->max_keys;
    size_t cap = 0, *offs = NULL, i;
    bool has_hi, done = false;
    sqlite3_stmt *s;
    int rc = PIER_ERR, r;
    ssize_t d;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    pier_buf_init(&lo, SIZE_MAX);
    pier_buf_init(&hi, SIZE_MAX);
    pier_buf_init(&tmp, SIZE_MAX);
    has_hi = successor(prefix, &hi);
    PIER_ASSERT(pier_buf_addstr(&lo, prefix) == PIER_OK);
    if (opts->after.len > 0 && cmp_str(opts->after, prefix) >= 0) {
        /* A marker inside a common prefix continues past the whole prefix:
         * the page that gave it already rolled that prefix up. */
        d = has_prefix(opts->after, prefix)
                ? find_delim(opts->after, prefix.len, delim)
                : -1;
        pier_buf_reset(&lo);
        if (d >= 0) {
            if (!successor(
                    pier_str_make(opts->after.ptr, (size_t) d + delim.len),
                    &lo)) {
                done = true;
            }
        } else {
            /* key > after is key >= after + "\0" (keys hold no NUL). */
            PIER_ASSERT(pier_buf_addstr(&lo, opts->after) == PIER_OK);
            PIER_ASSERT(pier_buf_addch(&lo, '\0') == PIER_OK);
        }
    }
    lock(st);
    if (bucket_exists(st, bucket, err) != PIER_OK) {
        goto out;
    }
    while (!done) {
        bool restart = false;

        s = prep(st, has_hi ? q_hi : q_open, err);
        if (s == NULL) {
            goto out;
        }
        bind_str(s, 1, bucket);
        bind_blob(s, 2, lo.data, lo.len);
        if (has_hi) {
            bind_blob(s, 3, hi.data, hi.len);
        }
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            struct pier_str key = pier_str_make(
                sqlite3_column_blob(s, 0), (size_t) sqlite3_column_bytes(s, 0));

            d = find_delim(key, prefix.len, delim);
            if (out->n >= max) {
                out->truncated = true;
                done = true;
                break;
            }
            if (d < 0) {
                list_add(out, &cap, &offs, key, false, s);
                continue;
            }
            key.len = (size_t) d + delim.len;
            list_add(out, &cap, &offs, key, true, s);
            /* Skip every key under this common prefix. */
            if (!successor(key, &tmp)) {
                done = true;
            }
            pier_buf_reset(&lo);
            PIER_ASSERT(pier_buf_add(&lo, tmp.data, tmp.len) == PIER_OK);
            restart = true;
            break;
        }
        sqlite3_reset(s);
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            db_fail(st, "cannot list objects", err);
            goto out;
        }
        if (!restart) {
            done = true;
        }
    }
    for (i = 0; i < out->n; i++) {
        out->entries[i].key.ptr = out->store_.data + offs[i];
    }
    if (out->truncated && out->n > 0) {
        out->next = out->entries[out->n - 1].key;
    }
    rc = PIER_OK;
out:
    unlock(st);
    pier_free(offs);
    pier_buf_release(&lo);
    pier_buf_release(&hi);
    pier_buf_release(&tmp);
    return rc;
}

/* ---- multipart ---- */

int
objstore_upload_create(struct objstore *st, struct pier_str bucket,
                       struct pier_str key, const struct pier_buf *meta,
                       char id[OBJSTORE_UPLOAD_ID_LEN + 1],
                       struct pier_err *err)
{
    static const char sql[] = "INSERT INTO uploads(id, bucket, key,"
                              " created_ms, meta) VALUES(?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *s;
    int rc = PIER_ERR, r;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (check_key(key, err) != PIER_OK) {
        return PIER_ERR;
    }
    new_id(id);
    lock(st);
    if (bucket_exists(st, bucket, err) != PIER_OK) {
        goto out;
    }
    s = prep(st, sql, err);
    if (s == NULL) {
        goto out;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    bind_str(s, 2, bucket);
    bind_blob(s, 3, key.ptr, key.len);
    sqlite3_bind_int64(s, 4, now_ms());
    if (meta != NULL) {
        bind_blob(s, 5, meta->data, meta->len);
    } else {
        bind_blob(s, 5, NULL, 0);
    }
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        db_fail(st, "cannot create an upload", err);
        goto out;
    }
    rc = PIER_OK;
out:
    unlock(st);
    return rc;
}

struct part_row {
    unsigned num;
    char blob[ID_LEN + 1];
    uint64_t size;
    char etag[OBJSTORE_ETAG_MAX];
    int fd;
};

/* Every part of upload, in number order; the caller frees *rows. */
static int
part_rows(struct objstore *st, const char *upload, struct part_row **rows,
          size_t *n, struct pier_err *err)
{
    static const char sql[] = "SELECT num, blob, size, etag FROM parts "
                              "WHERE upload = ?1 ORDER BY num";
    sqlite3_stmt *s = prep(st, sql, err);
    size_t cap = 0;
    int r;

    *rows = NULL;
    *n = 0;
    if (s == NULL) {
        return PIER_ERR;
    }
    sqlite3_bind_text(s, 1, upload, -1, SQLITE_TRANSIENT);
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct part_row *p;

        if (*n == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            *rows = pier_realloc(*rows, cap * sizeof(**rows));
        }
        p = &(*rows)[(*n)++];
        p->num = (unsigned) sqlite3_column_int(s, 0);
        col_text(s, 1, p->blob, sizeof(p->blob));
        p->size = (uint64_t) sqlite3_column_int64(s, 2);
        col_text(s, 3, p->etag, sizeof(p->etag));
        p->fd = -1;
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        return db_fail(st, "cannot list parts", err);
    }
    return PIER_OK;
}

static struct part_row *
find_part(struct part_row *rows, size_t n, unsigned num)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (rows[mid].num == num) {
            return &rows[mid];
        }
        if (rows[mid].num < num) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Append all of fd to out, with copy_file_range where the kernel can. */
static int
append_file(int out, int fd, uint64_t size, struct pier_err *err)
{
    char buf[65536];
    off_t in_off = 0;
    ssize_t n;
    bool plain = false;

    while ((uint64_t) in_off < size) {
        size_t want = size - (uint64_t) in_off > (1u << 30)
                          ? (1u << 30)
                          : (size_t) (size - (uint64_t) in_off);

        if (!plain) {
            n = copy_file_range(fd, &in_off, out, NULL, want, 0);
            if (n < 0
                && (errno == EXDEV || errno == ENOSYS || errno == EINVAL
                    || errno == EOPNOTSUPP)) {
                plain = true;
                continue;
            }
        } else {
            n = pread(fd, buf, want < sizeof(buf) ? want : sizeof(buf), in_off);
            if (n > 0) {
                int e = write_all(out, buf, (size_t) n);

                if (e != 0) {
                    return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                                       "cannot write: %s", strerror(e));
                }
                in_off += n;
            }
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "cannot copy a part: %s", strerror(errno));
        }
        if (n == 0) {
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "a part is shorter than recorded");
        }
    }
    return PIER_OK;
}

static void
close_parts(struct part_row *rows, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (rows[i].fd != -1) {
            close(rows[i].fd);
            rows[i].fd = -1;
        }
    }
}

/* Under the mutex: check the list against the stored parts, open the
 * chosen parts' files, and compute the ETag. */
static int
complete_prepare(struct objstore *st, const struct objstore_part_ref *parts,
                 size_t n, struct part_row *rows, size_t nrows,
                 char etag[OBJSTORE_ETAG_MAX], uint64_t *total,
                 struct pier_err *err)
{
    EVP_MD_CTX *ctx;
    uint8_t md5[16], bin[16];
    unsigned len;
    char path[PATH_MAX];
    size_t i, k;

    if (n == 0 || n > OBJSTORE_PART_MAX) {
        return pier_err_s3(err, PIER_S3_MALFORMED_XML, "%zu parts", n);
    }
    for (i = 1; i < n; i++) {
        if (parts[i].number <= parts[i - 1].number) {
            return pier_err_s3(err, PIER_S3_INVALID_PART_ORDER,
                               "part %u after %u", parts[i].number,
                               parts[i - 1].number);
        }
    }
    *total = 0;
    ctx = EVP_MD_CTX_new();
    PIER_ASSERT(ctx != NULL);
    PIER_ASSERT(EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1);
    for (i = 0; i < n; i++) {
        struct part_row *row = find_part(rows, nrows, parts[i].number);
        struct pier_str want = etag_bare(parts[i].etag);

        if (row == NULL || !pier_str_eq(want, pier_str_cstr(row->etag))) {
            EVP_MD_CTX_free(ctx);
            return pier_err_s3(err, PIER_S3_INVALID_PART,
                               "part %u missing or ETag differs",
                               parts[i].number);
        }
        if (i + 1 < n && row->size < st->min_part_size) {
            EVP_MD_CTX_free(ctx);
            return pier_err_s3(err, PIER_S3_ENTITY_TOO_SMALL,
                               "part %u is %llu bytes", row->num,
                               (unsigned long long) row->size);
        }
        for (k = 0; k < 16; k++) {
            int a = pier_hexval((unsigned char) row->etag[2 * k]),
                b = pier_hexval((unsigned char) row->etag[2 * k + 1]);

            PIER_ASSERT(a >= 0 && b >= 0);
            bin[k] = (uint8_t) (a * 16 + b);
        }
        PIER_ASSERT(EVP_DigestUpdate(ctx, bin, 16) == 1);
        *total += row->size;
        data_path(st, row->blob, path, sizeof(path));
        row->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (row->fd == -1) {
            EVP_MD_CTX_free(ctx);
            return pier_err_s3(err, PIER_S3_INTERNAL_ERROR,
                               "cannot open '%s': %s", path, strerror(errno));
        }
    }
    PIER_ASSERT(EVP_DigestFinal_ex(ctx, md5, &len) == 1);
    EVP_MD_CTX_free(ctx);
    hex(md5, 16, etag);
    snprintf(etag + 32, OBJSTORE_ETAG_MAX - 32, "-%u", (unsigned) n);
    return PIER_OK;
}

/* Under the mutex, in a transaction: the upload and the chosen parts are
 * as complete_prepare() saw them. */
static int
complete_recheck(struct objstore *st, const char *upload,
                 const struct objstore_part_ref *parts, size_t n,
                 struct part_row *rows, size_t nrows, struct pier_err *err)
{
    struct part_row *now = NULL;
    size_t nnow, i;
    int rc = PIER_OK;

    if (part_rows(st, upload, &now, &nnow, err) != PIER_OK) {
        pier_free(now);
        return PIER_ERR;
    }
    for (i = 0; i < n && rc == PIER_OK; i++) {
        struct part_row *a = find_part(rows, nrows, parts[i].number);
        struct part_row *b = find_part(now, nnow, parts[i].number);

        if (a == NULL || b == NULL || strcmp(a->blob, b->blob) != 0) {
            rc = pier_err_s3(err, PIER_S3_INVALID_PART,
                             "part %u changed during completion",
                             parts[i].number);
        }
    }
    pier_free(now);
    return rc;
}

static int
drop_upload(struct objstore *st, const char *upload, struct pier_err *err)
{
    static const char d_parts[] = "DELETE FROM parts WHERE upload = ?1";
    static const char d_upload[] = "DELETE FROM uploads WHERE id = ?1";
    const char *sqls[] = {d_parts, d_upload};
    sqlite3_stmt *s;
    size_t i;
    int r;

    for (i = 0; i < PIER_NELEMS(sqls); i++) {
        s = prep(st, sqls[i], err);
        if (s == NULL) {
            return PIER_ERR;
        }
        sqlite3_bind_text(s, 1, upload, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) {
            return db_fail(st, "cannot drop an upload", err);
        }
    }
    return PIER_OK;
}

int
objstore_upload_complete(struct objstore *st, struct pier_str bucket,
                         struct pier_str key, struct pier_str upload_id,
                         const struct objstore_part_ref *parts, size_t n,
                         const struct objstore_cond *cond,
                         struct objstore_obj *out, struct pier_err *err)
{
    char upload[ID_LEN + 1], id[ID_LEN + 1], path[PATH_MAX];
    char etag[OBJSTORE_ETAG_MAX], old[ID_LEN + 1], old_etag[OBJSTORE_ETAG_MAX];
    struct part_row *rows = NULL;
    struct pier_buf meta, ids;
    size_t nrows = 0, i;
    uint64_t total = 0;
    int64_t mtime;
    int fd = -1, rc = PIER_ERR;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (check_key(key, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (upload_id.len != ID_LEN) {
        return pier_err_s3(err, PIER_S3_NO_SUCH_UPLOAD, "bad upload id");
    }
    memcpy(upload, upload_id.ptr, ID_LEN);
    upload[ID_LEN] = '\0';
    pier_buf_init(&meta, SIZE_MAX);
    pier_buf_init(&ids, SIZE_MAX);
    lock(st);
    if (upload_check(st, bucket, key, upload_id, &meta, err) != PIER_OK
        || part_rows(st, upload, &rows, &nrows, err) != PIER_OK
        || complete_prepare(st, parts, n, rows, nrows, etag, &total, err)
               != PIER_OK) {
        unlock(st);
        goto out;
    }
    unlock(st);
    if (total > 5ULL * 1024 * 1024 * 1024 * 1024) {
        pier_err_s3(err, PIER_S3_ENTITY_TOO_LARGE, "object over 5 TiB");
        goto out;
    }
    new_id(id);
    tmp_path(st, id, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd == -1) {
        pier_err_s3(err, PIER_S3_INTERNAL_ERROR, "cannot create '%s': %s", path,
                    strerror(errno));
        goto out;
    }
    for (i = 0; i < nrows; i++) {
        if (rows[i].fd != -1
            && append_file(fd, rows[i].fd, rows[i].size, err) != PIER_OK) {
            close(fd);
            (void) unlink(path);
            goto out;
        }
    }
    if (settle(st, &fd, id, err) != PIER_OK) {
        goto out;
    }
    mtime = now_ms();
    lock(st);
    if (begin(st, err) != PIER_OK) {
        unlock(st);
        unlink_blob(st, id);
        goto out;
    }
    if (upload_check(st, bucket, key, upload_id, NULL, err) != PIER_OK
        || complete_recheck(st, upload, parts, n, rows, nrows, err) != PIER_OK
        || bucket_exists(st, bucket, err) != PIER_OK
        || current(st, bucket, key, old, old_etag, err) != PIER_OK
        || cond_check(cond, old, old_etag, err) != PIER_OK
        || upload_blobs(st, upload, &ids, err) != PIER_OK
        || upsert(st, bucket, key, id, total, etag, mtime, &meta, err)
               != PIER_OK
        || body_forget(st, old, err) != PIER_OK
        || drop_upload(st, upload, err) != PIER_OK) {
        rollback(st);
        unlock(st);
        unlink_blob(st, id);
        goto out;
    }
    if (commit(st, err) != PIER_OK) {
        unlock(st);
        unlink_blob(st, id);
        goto out;
    }
    unlink_ids(st, &ids);
    unlink_blob(st, old);
    unlock(st);
    fill_out(out, etag, total, mtime, &meta);
    rc = PIER_OK;
out:
    if (rows != NULL) {
        close_parts(rows, nrows);
    }
    pier_free(rows);
    pier_buf_release(&meta);
    pier_buf_release(&ids);
    return rc;
}

int
objstore_upload_abort(struct objstore *st, struct pier_str bucket,
                      struct pier_str key, struct pier_str upload_id,
                      struct pier_err *err)
{
    char upload[ID_LEN + 1];
    struct pier_buf ids;
    int rc = PIER_ERR;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    if (upload_id.len != ID_LEN) {
        return pier_err_s3(err, PIER_S3_NO_SUCH_UPLOAD, "bad upload id");
    }
    memcpy(upload, upload_id.ptr, ID_LEN);
    upload[ID_LEN] = '\0';
    pier_buf_init(&ids, SIZE_MAX);
    lock(st);
    if (begin(st, err) != PIER_OK) {
        goto out;
    }
    if (upload_check(st, bucket, key, upload_id, NULL, err) != PIER_OK
        || upload_blobs(st, upload, &ids, err) != PIER_OK
        || drop_upload(st, upload, err) != PIER_OK) {
        rollback(st);
        goto out;
    }
    if (commit(st, err) != PIER_OK) {
        goto out;
    }
    unlink_ids(st, &ids);
    rc = PIER_OK;
out:
    unlock(st);
    pier_buf_release(&ids);
    return rc;
}

int
objstore_parts_list(struct objstore *st, struct pier_str bucket,
                    struct pier_str key, struct pier_str upload_id,
                    unsigned after, size_t max, struct objstore_part_info **out,
                    size_t *n, bool *truncated, struct pier_err *err)
{
    static const char sql[] = "SELECT num, size, etag, mtime_ms FROM parts "
                              "WHERE upload = ?1 AND num > ?2 ORDER BY num "
                              "LIMIT ?3";
    sqlite3_stmt *s;
    int rc = PIER_ERR, r;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    *out = NULL;
    *n = 0;
    *truncated = false;
    if (max > 1000) {
        max = 1000;
    }
    lock(st);
    if (upload_check(st, bucket, key, upload_id, NULL, err) != PIER_OK) {
        goto out;
    }
    s = prep(st, sql, err);
    if (s == NULL) {
        goto out;
    }
    bind_str(s, 1, upload_id);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int64(s, 3, (sqlite3_int64) max + 1);
    *out = pier_calloc(max + 1, sizeof(**out));
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct objstore_part_info *p;

        if (*n == max) {
            *truncated = true;
            break;
        }
        p = &(*out)[(*n)++];
        p->number = (unsigned) sqlite3_column_int(s, 0);
        p->size = (uint64_t) sqlite3_column_int64(s, 1);
        col_text(s, 2, p->etag, sizeof(p->etag));
        p->mtime_ms = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        db_fail(st, "cannot list parts", err);
        goto out;
    }
    rc = PIER_OK;
out:
    unlock(st);
    if (rc != PIER_OK) {
        pier_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void
objstore_upload_list_init(struct objstore_upload_list *l)
{
    memset(l, 0, sizeof(*l));
    pier_buf_init(&l->store_, SIZE_MAX);
}

void
objstore_upload_list_release(struct objstore_upload_list *l)
{
    pier_free(l->uploads);
    l->uploads = NULL;
    l->n = 0;
    pier_buf_release(&l->store_);
}

/* Append one upload (or, with s NULL, a common prefix) to out. */
static void
upload_add(struct objstore_upload_list *out, size_t *cap, size_t **offs,
           struct pier_str key, sqlite3_stmt *s)
{
    struct objstore_upload_info *u;

    if (out->n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 16;
        out->uploads = pier_realloc(out->uploads, *cap * sizeof(*u));
        *offs = pier_realloc(*offs, *cap * sizeof(**offs));
    }
    u = &out->uploads[out->n];
    memset(u, 0, sizeof(*u));
    (*offs)[out->n] = out->store_.len;
    u->key.len = key.len;
    PIER_ASSERT(pier_buf_addstr(&out->store_, key) == PIER_OK);
    u->is_prefix = s == NULL;
    if (s != NULL) {
        col_text(s, 1, u->id, sizeof(u->id));
        u->created_ms = sqlite3_column_int64(s, 2);
    }
    out->n++;
}

int
objstore_uploads_list(struct objstore *st, struct pier_str bucket,
                      const struct objstore_uploads_opts *opts,
                      struct objstore_upload_list *out, struct pier_err *err)
{
    /* Order: key, then creation (the rowid grows with every insert).
     * (?3, ?4) is the position to continue after; ?4 = +inf skips every
     * upload of that key, ?4 = -1 starts at the key itself. */
    static const char sql[] =
        "SELECT key, id, created_ms FROM uploads WHERE bucket = ?1"
        " AND key >= ?2 AND (key, rowid) > (?3, ?4)"
        " ORDER BY key, rowid";
    static const char q_id[] = "SELECT rowid FROM uploads WHERE id = ?1";
    struct pier_str prefix = opts->prefix, delim = opts->delimiter;
    struct pier_str marker = opts->key_marker;
    struct pier_buf hi, lo;
    size_t max = opts->max > 1000 ? 1000 : opts->max;
    size_t cap = 0, *offs = NULL, i;
    int64_t lo_row = -1;
    bool has_hi, done = false;
    sqlite3_stmt *s;
    int rc = PIER_ERR, r;
    ssize_t d;

    PIER_CHECK_OBJ(st, STORE_MAGIC);
    pier_buf_init(&hi, SIZE_MAX);
    pier_buf_init(&lo, SIZE_MAX);
    has_hi = successor(prefix, &hi);
    d = marker.len > 0 && has_prefix(marker, prefix)
            ? find_delim(marker, prefix.len, delim)
            : -1;
    if (d >= 0) {
        /* A marker inside a common prefix (the NextKeyMarker of a page
         * that rolled it up) continues past the whole prefix. */
        done =
            !successor(pier_str_make(marker.ptr, (size_t) d + delim.len), &lo);
    } else if (marker.len > 0) {
        PIER_ASSERT(pier_buf_addstr(&lo, marker) == PIER_OK);
        lo_row = INT64_MAX;
    }
    lock(st);
    if (bucket_exists(st, bucket, err) != PIER_OK) {
        goto out;
    }
    if (d < 0 && marker.len > 0 && opts->id_marker.len > 0) {
        s = prep(st, q_id, err);
        if (s == NULL) {
            goto out;
        }
        bind_str(s, 1, opts->id_marker);
        if (sqlite3_step(s) == SQLITE_ROW) {
            lo_row = sqlite3_column_int64(s, 0);
        }
        sqlite3_reset(s);
    }
    while (!done) {
        bool restart = false;

        s = prep(st, sql, err);
        if (s == NULL) {
            goto out;
        }
        bind_str(s, 1, bucket);
        bind_blob(s, 2, prefix.ptr, prefix.len);
        bind_blob(s, 3, lo.data, lo.len);
        sqlite3_bind_int64(s, 4, lo_row);
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            struct pier_str key = pier_str_make(
                sqlite3_column_blob(s, 0), (size_t) sqlite3_column_bytes(s, 0));

            if (has_hi && cmp_str(key, pier_buf_str(&hi)) >= 0) {
                break;
            }
            if (out->n == max) {
                out->truncated = true;
                break;
            }
            d = find_delim(key, prefix.len, delim);
            if (d < 0) {
                upload_add(out, &cap, &offs, key, s);
                continue;
            }
            key.len = (size_t) d + delim.len;
            upload_add(out, &cap, &offs, key, NULL);
            /* Skip every upload under this common prefix. */
            done = !successor(key, &lo);
            lo_row = -1;
            restart = true;
            break;
        }
        sqlite3_reset(s);
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            db_fail(st, "cannot list uploads", err);
            goto out;
        }
        if (!restart) {
            done = true;
        }
    }
    for (i = 0; i < out->n; i++) {
        out->uploads[i].key.ptr = out->store_.data + offs[i];
    }
    rc = PIER_OK;
out:
    unlock(st);
    pier_free(offs);
    pier_buf_release(&hi);
    pier_buf_release(&lo);
    return rc;
}
