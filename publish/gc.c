/*
 * publish/gc.c - `pier gc`: keep the newest deploys and the live one,
 * delete the other manifests, then the blobs nobody kept references.
 */
#include "config.h"

#include "publish/gc.h"

#include "lib/buf.h"
#include "lib/sha.h"
#include "publish/internal.h"
#include "sites/manifest.h"
#include "sites/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define GC_SHA_HEX 64

struct gc_obj {
    char *key;
    uint64_t size;
    int64_t mtime;
    char *mtime_text; /* LastModified as listed, for the conditional delete */
};

struct gc_objs {
    struct gc_obj *v;
    size_t n, cap;
};

/* One manifest key, split. */
struct gc_deploy {
    const char *key;        /* borrowed from the listing */
    const char *mtime_text; /* its LastModified as listed, borrowed */
    char site[256];
    char id[SITES_DEPLOY_ID_MAX + 1];
    bool keep;
};

/* A set of SHA-256 hex strings: appended, then sorted once. */
struct gc_marks {
    char (*v)[GC_SHA_HEX + 1];
    size_t n, cap;
};

static void
objs_release(struct gc_objs *o)
{
    size_t i;

    for (i = 0; i < o->n; i++) {
        pier_free(o->v[i].key);
        pier_free(o->v[i].mtime_text);
    }
    pier_free(o->v);
    memset(o, 0, sizeof(*o));
}

static bool
list_one(void *arg, const struct pier_s3_object *ob)
{
    struct gc_objs *out = arg;

    if (out->n == out->cap) {
        out->cap = out->cap != 0 ? out->cap * 2 : 256;
        out->v = pier_realloc(out->v, out->cap * sizeof(*out->v));
    }
    out->v[out->n++] =
        (struct gc_obj){pier_strdup(ob->key), ob->size, ob->last_modified,
                        pier_strdup(ob->last_modified_text)};
    return true;
}

/* Every object under prefix, page by page. */
static int
list_all(struct pier_s3_sync *s3, const char *prefix, struct gc_objs *out,
         struct pier_err *err)
{
    return pier_s3_sync_list_each(s3, prefix, list_one, out, err);
}

/* "sites/<site>/deploys/<id>.json.zst" into d; false for other keys. */
static bool
split_manifest_key(const char *key, struct gc_deploy *d)
{
    static const char suffix[] = ".json.zst";
    const char *site = key + strlen("sites/"), *slash, *id;
    size_t sn, in, kn = strlen(key);

    if (strncmp(key, "sites/", 6) != 0 || kn < sizeof(suffix) - 1
        || strcmp(key + kn - (sizeof(suffix) - 1), suffix) != 0) {
        return false;
    }
    slash = strchr(site, '/');
    if (slash == NULL || strncmp(slash, "/deploys/", 9) != 0) {
        return false;
    }
    sn = (size_t) (slash - site);
    id = slash + 9;
    in = (size_t) (key + kn - (sizeof(suffix) - 1) - id);
    if (sn >= sizeof(d->site) || in > SITES_DEPLOY_ID_MAX
        || strchr(id, '/') != NULL) {
        return false;
    }
    memcpy(d->site, site, sn);
    d->site[sn] = '\0';
    memcpy(d->id, id, in);
    d->id[in] = '\0';
    d->key = key;
    d->keep = false;
    return sites_name_ok(pier_str_cstr(d->site))
           && sites_deploy_id_ok(pier_str_cstr(d->id));
}

static int
cmp_deploy(const void *a, const void *b)
{
    const struct gc_deploy *x = a, *y = b;
    int c = strcmp(x->site, y->site);

    return c != 0 ? c : strcmp(x->id, y->id);
}

static void
marks_add(struct gc_marks *m, const char *hex)
{
    if (m->n == m->cap) {
        m->cap = m->cap != 0 ? m->cap * 2 : 1024;
        m->v = pier_realloc(m->v, m->cap * sizeof(*m->v));
    }
    memcpy(m->v[m->n], hex, GC_SHA_HEX);
    m->v[m->n][GC_SHA_HEX] = '\0';
    m->n++;
}

static int
cmp_mark(const void *a, const void *b)
{
    return memcmp(a, b, GC_SHA_HEX);
}

static bool
marks_has(const struct gc_marks *m, const char *hex)
{
    return m->n > 0
           && bsearch(hex, m->v, m->n, sizeof(*m->v), cmp_mark) != NULL;
}

/* Mark every blob deploy id of site references. */
static int
mark_manifest(struct pier_s3_sync *s3, const char *site, const char *id,
              struct gc_marks *m, struct pier_err *err)
{
    struct sites_manifest *man = publish_manifest_fetch(s3, site, id, err);
    size_t i, n;

    if (man == NULL) {
        char msg[sizeof(err->msg)];

        memcpy(msg, err->msg, sizeof(msg));
        return pier_err_set(err, "cannot read deploy %s of %s: %s", id, site,
                            msg);
    }
    n = sites_manifest_count(man);
    for (i = 0; i < n; i++) {
        marks_add(m, sites_manifest_at(man, i)->sha256);
    }
    sites_manifest_free(man);
    return PIER_OK;
}

/* The SHA-256 a key under blobs/ stores, variant or not; NULL for keys
 * that are not blobs (left alone). */
static const char *
blob_sha(const char *key)
{
    const char *hex = key + strlen("blobs/"), *rest;
    size_t i;

    if (strncmp(key, "blobs/", 6) != 0 || strlen(hex) < GC_SHA_HEX) {
        return NULL;
    }
    for (i = 0; i < GC_SHA_HEX; i++) {
        if (!((hex[i] >= '0' && hex[i] <= '9')
              || (hex[i] >= 'a' && hex[i] <= 'f'))) {
            return NULL;
        }
    }
    rest = hex + GC_SHA_HEX;
    if (*rest == '\0') {
        return hex;
    }
    for (i = 0; i < SITES_ENC_MAX; i++) {
        if (strcmp(rest, sites_enc_suffix((enum sites_enc) i)) == 0) {
            return hex;
        }
    }
    return NULL;
}

/* Append s with & < > escaped. */
static void
add_escaped(struct pier_buf *out, const char *s)
{
    const char *p;

    for (p = s; *p != '\0'; p++) {
        const char *e = *p == '&'   ? "&amp;"
                        : *p == '<' ? "&lt;"
                        : *p == '>' ? "&gt;"
                                    : NULL;

        PIER_ASSERT(
            (e != NULL ? pier_buf_adds(out, e) : pier_buf_addch(out, *p))
            == PIER_OK);
    }
}

void
publish_gc_delete_xml(const char *const *keys, const char *const *times,
                      size_t n, struct pier_buf *out)
{
    size_t i;

    pier_buf_reset(out);
    PIER_ASSERT(pier_buf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                   "<Delete><Quiet>true</Quiet>")
                == PIER_OK);
    for (i = 0; i < n; i++) {
        PIER_ASSERT(pier_buf_adds(out, "<Object><Key>") == PIER_OK);
        add_escaped(out, keys[i]);
        PIER_ASSERT(pier_buf_adds(out, "</Key>") == PIER_OK);
        if (times != NULL && times[i] != NULL && times[i][0] != '\0') {
            PIER_ASSERT(pier_buf_adds(out, "<LastModifiedTime>") == PIER_OK);
            add_escaped(out, times[i]);
            PIER_ASSERT(pier_buf_adds(out, "</LastModifiedTime>") == PIER_OK);
        }
        PIER_ASSERT(pier_buf_adds(out, "</Object>") == PIER_OK);
    }
    PIER_ASSERT(pier_buf_adds(out, "</Delete>") == PIER_OK);
}

/* The text of the first <tag>...</tag> in s, into out. */
static void
xml_text(const char *s, const char *tag, char *out, size_t outn)
{
    char open[32], close[32];
    const char *a, *b;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    a = strstr(s, open);
    b = a != NULL ? strstr(a, close) : NULL;
    if (a == NULL || b == NULL) {
        snprintf(out, outn, "?");
        return;
    }
    a += strlen(open);
    snprintf(out, outn, "%.*s", (int) (b - a), a);
}

/* The index in keys[0, n) of the key an <Error> names (as escaped XML
 * text), or n. */
static size_t
key_index(const char *const *keys, size_t n, const char *text,
          struct pier_buf *tmp)
{
    size_t i;

    for (i = 0; i < n; i++) {
        pier_buf_reset(tmp);
        add_escaped(tmp, keys[i]);
        if (strcmp(tmp->data, text) == 0) {
            return i;
        }
    }
    return n;
}

/*
 * Delete n keys, PUBLISH_GC_BATCH at a time, each under the condition
 * that its LastModified is still times[i] (times NULL, or an entry NULL
 * or "": unconditional). A key whose condition failed was written since
 * it was listed (a publish refreshed it: see publish/gc.h) and stays:
 * kept[i] (when kept is not NULL) is set and it is no error. Any other
 * per-key error fails the call.
 */
static int
delete_keys(struct pier_s3_sync *s3, const char *const *keys,
            const char *const *times, size_t n, bool *kept,
            struct pier_err *err)
{
    struct pier_buf body, tmp;
    size_t at = 0;
    int rc = PIER_OK;

    pier_buf_init(&tmp, SIZE_MAX);

    pier_buf_init(&body, SIZE_MAX);
    while (at < n && rc == PIER_OK) {
        size_t k = n - at < PUBLISH_GC_BATCH ? n - at : PUBLISH_GC_BATCH;
        unsigned char md5[PIER_MD5_LEN];
        char md5b64[PIER_BASE64_LEN(PIER_MD5_LEN) + 1];
        struct pier_s3_header hdrs[2];
        struct pier_s3_request r = {0};
        struct pier_s3_response resp;
        const char *e;

        publish_gc_delete_xml(keys + at, times != NULL ? times + at : NULL, k,
                              &body);
        pier_md5(body.data, body.len, md5);
        md5b64[pier_base64_encode(md5, sizeof(md5), md5b64)] = '\0';
        hdrs[0] = (struct pier_s3_header){PIER_STR("Content-MD5"),
                                          pier_str_cstr(md5b64)};
        hdrs[1] = (struct pier_s3_header){PIER_STR("Content-Type"),
                                          PIER_STR("application/xml")};
        r.body = body.data;
        r.body_len = body.len;
        r.headers = hdrs;
        r.nheaders = PIER_NELEMS(hdrs);
        pier_s3_response_init(&resp);
        rc = pier_s3_sync_run(s3, PIER_S3_OP_DELETE_OBJECTS, &r, &resp, err);
        for (e = rc == PIER_OK && resp.body.len > 0
                     ? strstr(resp.body.data, "<Error>")
                     : NULL;
             e != NULL && rc == PIER_OK; e = strstr(e + 1, "<Error>")) {
            char key[300], code[64];
            size_t i;

            xml_text(e, "Key", key, sizeof(key));
            xml_text(e, "Code", code, sizeof(code));
            i = key_index(keys + at, k, key, &tmp);
            if (strcmp(code, "PreconditionFailed") == 0 && i < k
                && times != NULL && times[at + i] != NULL
                && times[at + i][0] != '\0') {
                if (kept != NULL) {
                    kept[at + i] = true;
                }
                continue;
            }
            rc = pier_err_set(err, "cannot delete '%s': %s", key, code);
        }
        pier_s3_response_release(&resp);
        at += k;
    }
    pier_buf_release(&body);
    pier_buf_release(&tmp);
    return rc;
}

/* Manifest keys of the listing, split and sorted by site and id. */
static struct gc_deploy *
deploys_of(const struct gc_objs *l, size_t *n)
{
    struct gc_deploy *d = pier_calloc(l->n + 1, sizeof(*d));
    size_t i, k = 0;

    for (i = 0; i < l->n; i++) {
        if (split_manifest_key(l->v[i].key, &d[k])) {
            d[k++].mtime_text = l->v[i].mtime_text;
        }
    }
    if (k > 1) {
        qsort(d, k, sizeof(*d), cmp_deploy);
    }
    *n = k;
    return d;
}

/* Decide which deploys stay (the keep newest of each site and its live
 * one) and mark what they reference. */
static int
plan_deploys(struct pier_s3_sync *s3, const struct publish_gc_opts *o,
             struct gc_deploy *d, size_t n, struct gc_marks *marks,
             struct publish_gc_result *res, struct pier_err *err)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i, k;
        char live[SITES_DEPLOY_ID_MAX + 1], *etag = NULL;
        bool live_listed = false;

        while (j < n && strcmp(d[j].site, d[i].site) == 0) {
            j++;
        }
        res->sites++;
        if (publish_live_read(s3, d[i].site, live, &etag, err) != PIER_OK) {
            return PIER_ERR;
        }
        pier_free(etag);
        for (k = i; k < j; k++) {
            d[k].keep = j - k <= o->keep || strcmp(d[k].id, live) == 0;
            live_listed |= strcmp(d[k].id, live) == 0;
            if (d[k].keep) {
                res->deploys_kept++;
                if (mark_manifest(s3, d[k].site, d[k].id, marks, err)
                    != PIER_OK) {
                    return PIER_ERR;
                }
            } else {
                res->deploys_deleted++;
            }
        }
        /* A live pointer to a manifest the listing did not show (written
         * meanwhile): its blobs stay too. */
        if (live[0] != '\0' && !live_listed
            && mark_manifest(s3, d[i].site, live, marks, err) != PIER_OK) {
            return PIER_ERR;
        }
        i = j;
    }
    return PIER_OK;
}

/* Manifests listed now that the first listing did not have: deploys made
 * while gc ran. Their blobs stay. */
static int
mark_new_deploys(struct pier_s3_sync *s3, const struct gc_deploy *old,
                 size_t nold, struct gc_marks *marks, struct pier_err *err)
{
    struct gc_objs l = {0};
    struct gc_deploy *d;
    size_t n, i;
    int rc;

    if (list_all(s3, "sites/", &l, err) != PIER_OK) {
        objs_release(&l);
        return PIER_ERR;
    }
    d = deploys_of(&l, &n);
    rc = PIER_OK;
    for (i = 0; i < n && rc == PIER_OK; i++) {
        if (nold == 0
            || bsearch(&d[i], old, nold, sizeof(*old), cmp_deploy) == NULL) {
            rc = mark_manifest(s3, d[i].site, d[i].id, marks, err);
        }
    }
    pier_free(d);
    objs_release(&l);
    return rc;
}

int
publish_gc(struct pier_s3_sync *s3, const struct publish_gc_opts *o,
           struct publish_gc_result *res, struct pier_err *err)
{
    struct gc_objs sites = {0}, blobs = {0};
    struct gc_marks marks = {0};
    struct gc_deploy *d = NULL;
    const char **keys = NULL, **times = NULL;
    uint64_t *sizes = NULL;
    bool *kept = NULL;
    int64_t now = o->now != 0 ? o->now : (int64_t) time(NULL);
    size_t nd = 0, nk = 0, i, k;
    int rc = PIER_ERR;

    memset(res, 0, sizeof(*res));
    if (list_all(s3, "sites/", &sites, err) != PIER_OK) {
        goto out;
    }
    d = deploys_of(&sites, &nd);
    if (plan_deploys(s3, o, d, nd, &marks, res, err) != PIER_OK) {
        goto out;
    }
    /* Manifests first: a kept manifest never names a deleted blob. Each
     * only if it is still the version listed: a rollback refreshes its
     * target's manifest before the flip (publish/gc.h, point 5). */
    keys = pier_calloc(nd + 1, sizeof(*keys));
    times = pier_calloc(nd + 1, sizeof(*times));
    kept = pier_calloc(nd + 1, sizeof(*kept));
    for (i = 0; i < nd; i++) {
        if (!d[i].keep) {
            times[nk] = d[i].mtime_text;
            keys[nk++] = d[i].key;
        }
    }
    if (o->before_manifest_delete != NULL) {
        o->before_manifest_delete(o->hook_arg);
    }
    if (!o->dry_run && nk > 0
        && delete_keys(s3, keys, times, nk, kept, err) != PIER_OK) {
        goto out;
    }
    for (i = 0, k = 0; i < nd; i++) {
        if (d[i].keep) {
            continue;
        }
        if (kept[k++]) {
            /* Written since the listing: a rollback to it is under way.
             * It stays, and so does all it lists. */
            res->deploys_deleted--;
            res->deploys_kept++;
            res->deploys_touched++;
            if (mark_manifest(s3, d[i].site, d[i].id, &marks, err) != PIER_OK) {
                goto out;
            }
        } else if (o->out_fd >= 0) {
            dprintf(o->out_fd, "%s: %s deploy %s\n", d[i].site,
                    o->dry_run ? "would delete" : "deleted", d[i].id);
        }
    }
    pier_free(kept);
    pier_free(times);
    pier_free(keys);
    kept = NULL;
    times = NULL;
    keys = NULL;
    if (list_all(s3, "blobs/", &blobs, err) != PIER_OK
        || mark_new_deploys(s3, d, nd, &marks, err) != PIER_OK) {
        goto out;
    }
    if (marks.n > 1) {
        qsort(marks.v, marks.n, sizeof(*marks.v), cmp_mark);
    }
    keys = pier_calloc(blobs.n + 1, sizeof(*keys));
    times = pier_calloc(blobs.n + 1, sizeof(*times));
    sizes = pier_calloc(blobs.n + 1, sizeof(*sizes));
    nk = 0;
    for (i = 0; i < blobs.n; i++) {
        const struct gc_obj *b = &blobs.v[i];
        const char *sha = blob_sha(b->key);

        if (sha == NULL) {
            continue;
        }
        if (marks_has(&marks, sha)) {
            res->blobs_kept++;
        } else if (b->mtime == 0 || now - b->mtime < o->grace_s) {
            /* No date is no proof of age. */
            res->blobs_young++;
        } else {
            /* Deleted only if it is still the version listed: a publish
             * that reuses it refreshes it first (publish/gc.h). */
            times[nk] = b->mtime_text;
            sizes[nk] = b->size;
            keys[nk++] = b->key;
            res->blobs_deleted++;
            res->bytes_freed += b->size;
        }
    }
    if (o->before_blob_delete != NULL) {
        o->before_blob_delete(o->hook_arg);
    }
    if (o->dry_run || nk == 0) {
        rc = PIER_OK;
        goto out;
    }
    kept = pier_calloc(nk, sizeof(*kept));
    if (delete_keys(s3, keys, times, nk, kept, err) != PIER_OK) {
        goto out;
    }
    for (i = 0; i < nk; i++) {
        if (kept[i]) {
            res->blobs_deleted--;
            res->bytes_freed -= sizes[i];
            res->blobs_touched++;
        }
    }
    rc = PIER_OK;
out:
    pier_free(kept);
    pier_free(sizes);
    pier_free(times);
    pier_free(keys);
    pier_free(d);
    pier_free(marks.v);
    objs_release(&sites);
    objs_release(&blobs);
    return rc;
}

int
publish_gc_parse_duration(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    int64_t v = 0, mul = 1;
    const char *p = s;
    size_t i;

    if (*p < '0' || *p > '9') {
        return PIER_ERR;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10) {
            return PIER_ERR;
        }
        v = v * 10 + (*p - '0');
    }
    if (*p != '\0') {
        for (i = 0; i < PIER_NELEMS(units); i++) {
            if (*p == units[i].unit) {
                mul = units[i].secs;
                break;
            }
        }
        if (i == PIER_NELEMS(units) || p[1] != '\0') {
            return PIER_ERR;
        }
    }
    if (v > INT64_MAX / mul) {
        return PIER_ERR;
    }
    *out = v * mul;
    return PIER_OK;
}
