/*
 * up/prepare.c - laying out a data directory for pier up.
 */
#include "config.h"

#include "up/up.h"

#include "lib/sha.h"
#include "objstore/keys.h"
#include "objstore/store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int
join(char *out, size_t n, const char *a, const char *b, struct pier_err *err)
{
    if (snprintf(out, n, "%s/%s", a, b) >= (int) n) {
        return pier_err_set(err, "path too long: '%s/%s'", a, b);
    }
    return PIER_OK;
}

int
up_layout_init(struct up_layout *l, const char *data, struct pier_err *err)
{
    if (snprintf(l->data, sizeof(l->data), "%s", data)
            >= (int) sizeof(l->data)
        || join(l->conf, sizeof(l->conf), data, "pier.conf", err) != PIER_OK
        || join(l->objstore, sizeof(l->objstore), data, "objstore", err)
               != PIER_OK
        || join(l->edge, sizeof(l->edge), data, "edge", err) != PIER_OK
        || join(l->repos, sizeof(l->repos), data, "repos", err) != PIER_OK
        || join(l->run, sizeof(l->run), data, "run", err) != PIER_OK
        || join(l->token, sizeof(l->token), l->edge, "admin.token", err)
               != PIER_OK
        || join(l->keys, sizeof(l->keys), l->objstore, "keys", err)
               != PIER_OK) {
        return pier_err_set(err, "data directory path too long");
    }
    return PIER_OK;
}

static int
mkdir_p(const char *path, struct pier_err *err)
{
    char tmp[4096];
    char *p;

    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int) sizeof(tmp)) {
        return pier_err_set(err, "path too long: '%s'", path);
    }
    for (p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            return pier_err_sys(err, errno, "cannot create '%s'", tmp);
        }
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    return PIER_OK;
}

static int
write_token(const char *path, struct pier_err *err)
{
    unsigned char raw[32];
    char hex[65];
    int fd;
    ssize_t w;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return pier_err_set(err, "cannot make a random admin token");
    }
    pier_hex(raw, sizeof(raw), hex);
    hex[64] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot create '%s'", path);
    }
    w = write(fd, hex, 65);
    if (w != 65 || fsync(fd) != 0) {
        int e = w < 0 ? errno : EIO;

        close(fd);
        unlink(path);
        return pier_err_sys(err, e, "cannot write '%s'", path);
    }
    close(fd);
    return PIER_OK;
}

static int
make_keys(const char *path, const char *bucket, struct pier_err *err)
{
    struct objstore_keys *keys = objstore_keys_new();
    char wgrant[128], rgrant[128];
    const char *wg = wgrant, *rg = rgrant;
    int rc = PIER_ERR;

    snprintf(wgrant, sizeof(wgrant), "%s:write", bucket);
    snprintf(rgrant, sizeof(rgrant), "%s:read", bucket);
    if (objstore_keys_add(keys, "admin", NULL, NULL, true, NULL, 0, NULL, err)
            == PIER_OK
        && objstore_keys_add(keys, "publisher", NULL, NULL, false, &wg, 1,
                             NULL, err)
               == PIER_OK
        && objstore_keys_add(keys, "edge", NULL, NULL, false, &rg, 1, NULL,
                             err)
               == PIER_OK
        && objstore_keys_save(keys, path, err) == PIER_OK) {
        rc = PIER_OK;
    }
    objstore_keys_unref(keys);
    return rc;
}

int
up_prepare(const struct up_layout *l, const char *bucket, bool *created,
           struct pier_err *err)
{
    struct objstore *st;
    struct stat sb;
    struct pier_err berr;

    *created = false;
    if (mkdir_p(l->data, err) != PIER_OK || mkdir_p(l->objstore, err) != PIER_OK
        || mkdir_p(l->edge, err) != PIER_OK || mkdir_p(l->repos, err) != PIER_OK
        || mkdir_p(l->run, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (stat(l->keys, &sb) != 0) {
        if (errno != ENOENT) {
            return pier_err_sys(err, errno, "cannot stat '%s'", l->keys);
        }
        if (make_keys(l->keys, bucket, err) != PIER_OK) {
            return PIER_ERR;
        }
        *created = true;
    }
    if (stat(l->token, &sb) != 0) {
        if (errno != ENOENT) {
            return pier_err_sys(err, errno, "cannot stat '%s'", l->token);
        }
        if (write_token(l->token, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    /* The bucket is made through the store's own code while no server
     * runs: opening takes the directory's lock, so a store already running
     * on DATA makes this fail with "in use by pid N". */
    st = objstore_open(l->objstore, NULL, NULL, err);
    if (st == NULL) {
        return PIER_ERR;
    }
    if (objstore_bucket_create(st, pier_str_cstr(bucket), PIER_STR(""), &berr)
            != PIER_OK
        && berr.s3 != PIER_S3_BUCKET_ALREADY_OWNED) {
        objstore_close(st);
        *err = berr;
        return PIER_ERR;
    }
    objstore_close(st);
    return PIER_OK;
}

int
up_ini_set(const char *in, const char *section, const char *key,
           const char *value, struct pier_buf *out, struct pier_err *err)
{
    const char *p = in, *eol, *s, *e;
    bool in_sec = false, seen_sec = false, done = false;
    int rc = PIER_OK;
    size_t klen = strlen(key);

    while (*p != '\0') {
        eol = strchr(p, '\n');
        eol = eol != NULL ? eol + 1 : p + strlen(p);
        for (s = p; s < eol && (*s == ' ' || *s == '\t'); s++) {
        }
        if (*s == '[') {
            if (in_sec && !done) {
                rc |= pier_buf_addf(out, "%s = %s\n", key, value);
                done = true;
            }
            e = memchr(s, ']', (size_t) (eol - s));
            in_sec = e != NULL && (size_t) (e - s - 1) == strlen(section)
                     && memcmp(s + 1, section, strlen(section)) == 0;
            seen_sec |= in_sec;
        } else if (in_sec && (size_t) (eol - s) > klen
                   && memcmp(s, key, klen) == 0
                   && (s[klen] == ' ' || s[klen] == '=' || s[klen] == '\t')) {
            /* The key's line: replaced once, dropped when it repeats. */
            if (!done) {
                rc |= pier_buf_addf(out, "%s = %s\n", key, value);
                done = true;
            }
            p = eol;
            continue;
        }
        rc |= pier_buf_add(out, p, (size_t) (eol - p));
        if (eol[-1] != '\n' && *eol == '\0') {
            rc |= pier_buf_addch(out, '\n');
        }
        p = eol;
    }
    if (!done) {
        if (!seen_sec) {
            rc |= pier_buf_addf(out, "\n[%s]\n", section);
        }
        rc |= pier_buf_addf(out, "%s = %s\n", key, value);
    }
    if (rc != PIER_OK) {
        return pier_err_set(err, "pier.conf too large");
    }
    return PIER_OK;
}
