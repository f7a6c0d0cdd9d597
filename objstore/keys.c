/*
 * objstore/keys.c - the keys file, key generation and grants.
 */
#include "config.h"

#include "objstore/keys.h"

#include "objstore/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define KEYS_MAGIC 0x3c8e51a4u
#define LINE_MAX_  8192

struct objstore_keys {
    unsigned magic;
    atomic_uint refs;
    struct objstore_key **keys; /* owned, each owned */
    size_t n;
};

struct objstore_keys *
objstore_keys_new(void)
{
    struct objstore_keys *k = pier_calloc(1, sizeof(*k));

    k->magic = KEYS_MAGIC;
    atomic_init(&k->refs, 1);
    return k;
}

static void
key_free(struct objstore_key *key)
{
    size_t i;

    if (key == NULL) {
        return;
    }
    for (i = 0; i < key->ngrants; i++) {
        objstore_grant_release(&key->grants[i]);
    }
    pier_free(key->grants);
    OPENSSL_cleanse(key->secret, sizeof(key->secret));
    pier_free(key);
}

struct objstore_keys *
objstore_keys_ref(struct objstore_keys *keys)
{
    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    atomic_fetch_add(&keys->refs, 1);
    return keys;
}

void
objstore_keys_unref(struct objstore_keys *keys)
{
    size_t i;

    if (keys == NULL) {
        return;
    }
    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    if (atomic_fetch_sub(&keys->refs, 1) != 1) {
        return;
    }
    for (i = 0; i < keys->n; i++) {
        key_free(keys->keys[i]);
    }
    pier_free(keys->keys);
    keys->magic = 0;
    pier_free(keys);
}

size_t
objstore_keys_count(const struct objstore_keys *keys)
{
    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    return keys->n;
}

const struct objstore_key *
objstore_keys_at(const struct objstore_keys *keys, size_t i)
{
    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    PIER_ASSERT(i < keys->n);
    return keys->keys[i];
}

const struct objstore_key *
objstore_keys_by_id(const struct objstore_keys *keys, struct pier_str id)
{
    const struct objstore_key *found = NULL;
    size_t i;

    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    if (id.len == 0 || id.len > OBJSTORE_KEY_ID_MAX) {
        return NULL;
    }
    /* Compare with every key, in constant time per key, so the time taken
     * does not tell how much of an id matched. */
    for (i = 0; i < keys->n; i++) {
        const struct objstore_key *k = keys->keys[i];

        if (strlen(k->id) == id.len
            && CRYPTO_memcmp(k->id, id.ptr, id.len) == 0) {
            found = k;
        }
    }
    return found;
}

const struct objstore_key *
objstore_keys_by_name(const struct objstore_keys *keys, const char *name)
{
    size_t i;

    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    for (i = 0; i < keys->n; i++) {
        if (strcmp(keys->keys[i]->name, name) == 0) {
            return keys->keys[i];
        }
    }
    return NULL;
}

/* ---- validation ---- */

static bool
name_ok(struct pier_str s)
{
    size_t i;

    if (s.len == 0 || s.len > OBJSTORE_KEY_NAME_MAX) {
        return false;
    }
    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_'
              || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool
id_ok(struct pier_str s)
{
    size_t i;

    if (s.len < 3 || s.len > OBJSTORE_KEY_ID_MAX) {
        return false;
    }
    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

static bool
secret_ok(struct pier_str s)
{
    size_t i;

    if (s.len < 8 || s.len > OBJSTORE_SECRET_MAX) {
        return false;
    }
    for (i = 0; i < s.len; i++) {
        if (s.ptr[i] <= ' ' || s.ptr[i] > '~') {
            return false;
        }
    }
    return true;
}

int
objstore_grant_parse(struct pier_str s, struct objstore_grant *g,
                     struct pier_err *err)
{
    const char *colon = NULL, *slash;
    struct pier_str bucket, prefix, mode;
    size_t i;

    memset(g, 0, sizeof(*g));
    for (i = s.len; i > 0; i--) {
        if (s.ptr[i - 1] == ':') {
            colon = s.ptr + i - 1;
            break;
        }
    }
    if (colon == NULL) {
        return pier_err_set(err, "grant '%.*s' lacks ':read' or ':write'",
                            (int) s.len, s.ptr);
    }
    mode = pier_str_make(colon + 1, (size_t) (s.ptr + s.len - colon - 1));
    slash = memchr(s.ptr, '/', (size_t) (colon - s.ptr));
    bucket = pier_str_make(s.ptr, (size_t) ((slash != NULL ? slash : colon)
                                            - s.ptr));
    prefix = slash != NULL ? pier_str_make(slash + 1,
                                           (size_t) (colon - slash - 1))
                           : PIER_STR("");
    if (!objstore_bucket_name_ok(bucket)) {
        return pier_err_set(err, "grant '%.*s': invalid bucket name",
                            (int) s.len, s.ptr);
    }
    if (prefix.len > OBJSTORE_KEY_MAX || !objstore_utf8_ok(prefix)
        || memchr(prefix.ptr, ' ', prefix.len) != NULL) {
        return pier_err_set(err, "grant '%.*s': invalid prefix", (int) s.len,
                            s.ptr);
    }
    if (pier_str_eq(mode, PIER_STR("write"))) {
        g->write = true;
    } else if (!pier_str_eq(mode, PIER_STR("read"))) {
        return pier_err_set(err, "grant '%.*s': mode must be read or write",
                            (int) s.len, s.ptr);
    }
    g->bucket = pier_strndup(bucket.ptr, bucket.len);
    g->prefix = pier_strndup(prefix.ptr, prefix.len);
    return PIER_OK;
}

void
objstore_grant_release(struct objstore_grant *g)
{
    pier_free(g->bucket);
    pier_free(g->prefix);
    g->bucket = NULL;
    g->prefix = NULL;
}

/* ---- building keys ---- */

static void
random_chars(char *out, size_t n, const char *alphabet, size_t size)
{
    /* Rejection sampling keeps every character equally likely. */
    unsigned limit = 256 - 256 % (unsigned) size;
    unsigned char r[64];
    size_t i = 0, j;

    while (i < n) {
        PIER_ASSERT(RAND_bytes(r, sizeof(r)) == 1);
        for (j = 0; j < sizeof(r) && i < n; j++) {
            if (r[j] < limit) {
                out[i++] = alphabet[r[j] % size];
            }
        }
    }
    out[n] = '\0';
    OPENSSL_cleanse(r, sizeof(r));
}

static int
append_key(struct objstore_keys *keys, struct objstore_key *key,
           struct pier_err *err)
{
    size_t i;

    for (i = 0; i < keys->n; i++) {
        if (strcmp(keys->keys[i]->name, key->name) == 0) {
            return pier_err_set(err, "a key called '%s' exists", key->name);
        }
        if (strcmp(keys->keys[i]->id, key->id) == 0) {
            return pier_err_set(err, "key '%s' has the same access key id",
                                keys->keys[i]->name);
        }
    }
    keys->keys = pier_realloc(keys->keys, (keys->n + 1) * sizeof(*keys->keys));
    keys->keys[keys->n++] = key;
    return PIER_OK;
}

int
objstore_keys_add(struct objstore_keys *keys, const char *name,
                  const char *id, const char *secret, bool admin,
                  const char *const *grants, size_t ngrants,
                  const struct objstore_key **out, struct pier_err *err)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789";
    struct objstore_key *key;
    size_t i;

    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    if (!name_ok(pier_str_cstr(name))) {
        return pier_err_set(err,
                            "invalid key name '%s' (1-64 of A-Z a-z 0-9 . _ -)",
                            name);
    }
    if ((id != NULL && !id_ok(pier_str_cstr(id)))
        || (secret != NULL && !secret_ok(pier_str_cstr(secret)))) {
        return pier_err_set(err, "invalid access key id or secret for '%s'",
                            name);
    }
    key = pier_calloc(1, sizeof(*key));
    snprintf(key->name, sizeof(key->name), "%s", name);
    if (id != NULL) {
        snprintf(key->id, sizeof(key->id), "%s", id);
    } else {
        key->id[0] = 'P';
        key->id[1] = 'K';
        random_chars(key->id + 2, OBJSTORE_KEY_ID_LEN - 2, b32,
                     sizeof(b32) - 1);
    }
    if (secret != NULL) {
        snprintf(key->secret, sizeof(key->secret), "%s", secret);
    } else {
        random_chars(key->secret, OBJSTORE_SECRET_LEN, alnum,
                     sizeof(alnum) - 1);
    }
    key->admin = admin;
    key->grants = pier_calloc(ngrants != 0 ? ngrants : 1,
                              sizeof(*key->grants));
    for (i = 0; i < ngrants; i++) {
        if (objstore_grant_parse(pier_str_cstr(grants[i]), &key->grants[i],
                                 err)
            != PIER_OK) {
            key_free(key);
            return PIER_ERR;
        }
        key->ngrants++;
    }
    if (append_key(keys, key, err) != PIER_OK) {
        key_free(key);
        return PIER_ERR;
    }
    if (out != NULL) {
        *out = key;
    }
    return PIER_OK;
}

int
objstore_keys_remove(struct objstore_keys *keys, const char *name,
                     struct pier_err *err)
{
    size_t i;

    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    for (i = 0; i < keys->n; i++) {
        if (strcmp(keys->keys[i]->name, name) == 0) {
            key_free(keys->keys[i]);
            memmove(&keys->keys[i], &keys->keys[i + 1],
                    (keys->n - i - 1) * sizeof(*keys->keys));
            keys->n--;
            return PIER_OK;
        }
    }
    return pier_err_set(err, "no key called '%s'", name);
}

/* ---- the file ---- */

/* Split line at single spaces into at most max fields. */
static size_t
fields(char *line, struct pier_str *f, size_t max)
{
    size_t n = 0;
    char *p = line, *sp;

    while (*p != '\0' && n < max) {
        sp = strchr(p, ' ');
        if (sp == NULL) {
            f[n++] = pier_str_cstr(p);
            break;
        }
        f[n++] = pier_str_make(p, (size_t) (sp - p));
        p = sp + 1;
    }
    return n;
}

static int
parse_line(struct objstore_keys *keys, const char *path, unsigned lineno,
           char *line, struct pier_err *err)
{
    struct pier_str f[4 + 256];
    struct objstore_key *key;
    size_t n = fields(line, f, PIER_NELEMS(f)), i;

    if (n < 4 || !name_ok(f[0]) || !id_ok(f[1]) || !secret_ok(f[2])
        || !(pier_str_eq(f[3], PIER_STR("admin"))
             || pier_str_eq(f[3], PIER_STR("-")))) {
        return pier_err_set(err,
                            "%s:%u: expected NAME ACCESS_KEY_ID SECRET "
                            "admin|- [GRANT...]",
                            path, lineno);
    }
    key = pier_calloc(1, sizeof(*key));
    snprintf(key->name, sizeof(key->name), "%.*s", (int) f[0].len, f[0].ptr);
    snprintf(key->id, sizeof(key->id), "%.*s", (int) f[1].len, f[1].ptr);
    snprintf(key->secret, sizeof(key->secret), "%.*s", (int) f[2].len,
             f[2].ptr);
    key->admin = f[3].ptr[0] == 'a';
    key->grants = pier_calloc(n - 4 + 1, sizeof(*key->grants));
    for (i = 4; i < n; i++) {
        struct pier_err gerr;

        if (objstore_grant_parse(f[i], &key->grants[key->ngrants], &gerr)
            != PIER_OK) {
            key_free(key);
            return pier_err_set(err, "%s:%u: %s", path, lineno, gerr.msg);
        }
        key->ngrants++;
    }
    if (append_key(keys, key, err) != PIER_OK) {
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        key_free(key);
        return pier_err_set(err, "%s:%u: %s", path, lineno, msg);
    }
    return PIER_OK;
}

struct objstore_keys *
objstore_keys_load(const char *path, bool missing_ok, struct pier_err *err)
{
    struct objstore_keys *keys;
    struct stat sb;
    char line[LINE_MAX_];
    unsigned lineno = 0;
    FILE *f;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT && missing_ok) {
        return objstore_keys_new();
    }
    if (fd == -1) {
        pier_err_sys(err, errno, "cannot open '%s'", path);
        return NULL;
    }
    if (fstat(fd, &sb) != 0) {
        pier_err_sys(err, errno, "cannot stat '%s'", path);
        close(fd);
        return NULL;
    }
    if ((sb.st_mode & 077) != 0) {
        pier_err_set(err,
                     "keys file '%s' is accessible by others (mode %03o): "
                     "chmod 600 it",
                     path, (unsigned) (sb.st_mode & 0777));
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        pier_err_sys(err, errno, "cannot read '%s'", path);
        close(fd);
        return NULL;
    }
    keys = objstore_keys_new();
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);

        lineno++;
        if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
            pier_err_set(err, "%s:%u: line too long", path, lineno);
            goto fail;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        if (parse_line(keys, path, lineno, line, err) != PIER_OK) {
            goto fail;
        }
    }
    if (ferror(f)) {
        pier_err_sys(err, errno, "cannot read '%s'", path);
        goto fail;
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    return keys;
fail:
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    objstore_keys_unref(keys);
    return NULL;
}

int
objstore_keys_save(const struct objstore_keys *keys, const char *path,
                   struct pier_err *err)
{
    struct pier_buf text, tmp;
    size_t i, j, off = 0;
    ssize_t w;
    int fd, rc = PIER_ERR;

    PIER_CHECK_OBJ(keys, KEYS_MAGIC);
    pier_buf_init(&text, SIZE_MAX);
    pier_buf_init(&tmp, SIZE_MAX);
    if (pier_buf_adds(&text, "# pier objstore keys: NAME ACCESS_KEY_ID SECRET "
                             "admin|- [BUCKET[/PREFIX]:read|write...]\n")
        != PIER_OK) {
        goto out;
    }
    for (i = 0; i < keys->n; i++) {
        const struct objstore_key *k = keys->keys[i];

        if (pier_buf_addf(&text, "%s %s %s %s", k->name, k->id, k->secret,
                          k->admin ? "admin" : "-")
            != PIER_OK) {
            goto out;
        }
        for (j = 0; j < k->ngrants; j++) {
            const struct objstore_grant *g = &k->grants[j];

            if (pier_buf_addf(&text, " %s%s%s:%s", g->bucket,
                              g->prefix[0] != '\0' ? "/" : "", g->prefix,
                              g->write ? "write" : "read")
                != PIER_OK) {
                goto out;
            }
        }
        if (pier_buf_addch(&text, '\n') != PIER_OK) {
            goto out;
        }
    }
    if (pier_buf_addf(&tmp, "%s.tmp", path) != PIER_OK) {
        goto out;
    }
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        pier_err_sys(err, errno, "cannot create '%s'", tmp.data);
        goto out;
    }
    /* An existing temporary may have had another mode. */
    if (fchmod(fd, 0600) != 0) {
        pier_err_sys(err, errno, "cannot chmod '%s'", tmp.data);
        close(fd);
        goto out;
    }
    while (off < text.len) {
        w = write(fd, text.data + off, text.len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            pier_err_sys(err, errno, "cannot write '%s'", tmp.data);
            close(fd);
            goto out;
        }
        off += (size_t) w;
    }
    if (fsync(fd) != 0) {
        pier_err_sys(err, errno, "cannot fsync '%s'", tmp.data);
        close(fd);
        goto out;
    }
    close(fd);
    if (rename(tmp.data, path) != 0) {
        pier_err_sys(err, errno, "cannot rename '%s'", tmp.data);
        goto out;
    }
    rc = PIER_OK;
out:
    if (rc != PIER_OK && err->msg[0] == '\0') {
        pier_err_set(err, "keys file too large");
    }
    OPENSSL_cleanse(text.data, text.len);
    pier_buf_release(&text);
    pier_buf_release(&tmp);
    return rc;
}

void
objstore_keys_print_env(const struct objstore_key *key, FILE *f)
{
    fprintf(f, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", key->id,
            key->secret);
}

/* ---- authorisation ---- */

static bool
starts_with(struct pier_str s, const char *prefix)
{
    size_t n = strlen(prefix);

    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

bool
objstore_key_sees_bucket(const struct objstore_key *key,
                         struct pier_str bucket)
{
    size_t i;

    if (key->admin) {
        return true;
    }
    for (i = 0; i < key->ngrants; i++) {
        if (pier_str_eq(bucket, pier_str_cstr(key->grants[i].bucket))) {
            return true;
        }
    }
    return false;
}

bool
objstore_key_allows(const struct objstore_key *key, enum objstore_perm perm,
                    struct pier_str bucket, struct pier_str name)
{
    size_t i;

    if (key->admin) {
        return true;
    }
    switch (perm) {
    case OBJSTORE_PERM_ADMIN:
        return false;
    case OBJSTORE_PERM_BUCKET:
        return objstore_key_sees_bucket(key, bucket);
    case OBJSTORE_PERM_READ:
    case OBJSTORE_PERM_WRITE:
    case OBJSTORE_PERM_LIST:
    case OBJSTORE_PERM_UPLOADS:
        break;
    }
    for (i = 0; i < key->ngrants; i++) {
        const struct objstore_grant *g = &key->grants[i];

        if (!pier_str_eq(bucket, pier_str_cstr(g->bucket))) {
            continue;
        }
        if ((perm == OBJSTORE_PERM_WRITE || perm == OBJSTORE_PERM_UPLOADS)
            && !g->write) {
            continue;
        }
        /* For READ and WRITE name is the key; for LIST and UPLOADS the
         * listing's prefix: either must lie inside the grant's prefix. */
        if (starts_with(name, g->prefix)) {
            return true;
        }
    }
    return false;
}
