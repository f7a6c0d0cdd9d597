/*
 * publish/deploy.c - the publish pipeline (see deploy.h for the steps).
 *
 * The small requests (the live pointer, the manifests) go through the S3
 * client's synchronous wrapper; the blobs through the asynchronous client
 * on a loop of our own, `jobs` at a time, with compression on libuv's
 * thread pool so that it overlaps the network.
 */
#include "config.h"

#include "publish/deploy.h"

#include "lib/par.h"
#include "lib/sha.h"
#include "lib/sigv2.h"
#include "publish/compress.h"
#include "publish/gc.h"
#include "publish/graph.h"
#include "publish/internal.h"
#include "publish/notify.h"
#include "publish/report.h"
#include "publish/tree.h"
#include "sites/record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOB_MAGIC      0x6b2e91d4u
#define SHARD_MAGIC    0x3d0c5a17u
#define SURVEY_MIN     64 /* blobs to look up before a survey pays */
#define SURVEY_PAGE    1000
#define SIBLINGS_MAX   64 /* other sites' live pointers read at most */
#define BUILD_TAIL_MAX 4096
#define MANIFEST_TYPE  "application/zstd" /* a stored manifest's type */
#define WARNINGS_SHOW  50

const char *
publish_cache_control(enum sites_class klass)
{
    return klass == SITES_CLASS_ASSET ? "public, max-age=31536000, immutable"
                                      : "public, max-age=0, must-revalidate";
}

_Static_assert((int) PUBLISH_ENC_N == (int) SITES_ENC_MAX,
               "a variant per encoding of the manifest");

/* What the survey of the store (see survey()) found of a blob. */
enum blob_state { B_UNKNOWN, B_MISSING, B_PRESENT };

/* A distinct blob of the new deploy. */
struct blob {
    char sha256[PUBLISH_SHA256_HEX];
    const char *data; /* NULL when known from the live manifest */
    size_t len;
    const char *type;
    bool asset;
    bool known; /* the live manifest lists it: the store has it */
    uint64_t enc[SITES_ENC_MAX];
    enum blob_state state;
    bool listed_have;                 /* the survey saw blobs/<sha256> */
    uint64_t listed[PUBLISH_ENC_N];   /* sizes of variants it saw */
    unsigned stale; /* stored keys older than the refresh age (see
                       refresh()): bit e variant e, STALE_ID the blob */
};

#define STALE_ID (1u << PUBLISH_ENC_N)

/* The live manifest's blobs, sorted by SHA-256, with their variants. */
struct known {
    char sha256[SITES_SHA256_HEX + 1];
    uint64_t enc[SITES_ENC_MAX];
};

struct ctx {
    const struct publish_opts *o;
    struct publish_result *res;
    struct publish_repo *repo;
    git_oid commit;
    char commit_hex[GIT_OID_HEXSZ + 1];
    char tree_hex[GIT_OID_HEXSZ + 1];      /* the commit's tree */
    char live_tree[GIT_OID_HEXSZ + 1];     /* live/'s metadata says; "" */
    bool live_same;                        /* ... and it is ours */
    struct publish_settings set;
    struct pier_s3_sync *s3;
    char *live_etag;
    struct sites_manifest *old;
    /* What unchanged files are compared with: the live manifest, or for a
     * site's first deploy another site's live manifest of the same commit
     * (see sibling()); NULL: none, everything is read. Borrowed from old
     * or owned (sibling). */
    const struct sites_manifest *base;
    struct sites_manifest *sibling;
    struct known *known;
    size_t nknown;
    char *build_dir;
    struct publish_files files;
    struct pier_buf *bufs;
    char (*shas)[PUBLISH_SHA256_HEX];
    struct publish_graph_in *in;
    struct pier_buf redirects, headers;
    bool have_redirects, have_headers;
    struct publish_graph *g;
    struct blob *blobs;
    size_t nblobs;
    size_t *blob_of; /* per graph output */
    struct sites_manifest *m;
    struct sites_delta *delta;
    struct publish_progress prog; /* silent when quiet */
};

static void PIER_PRINTF(2, 3) say(struct ctx *x, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    publish_progress_vprint(&x->prog, x->o->out_fd, fmt, ap);
    va_end(ap);
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

/* The wall clock in milliseconds, for deploy ids. */
static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
publish_err_is_404(const struct pier_err *err)
{
    return err->http == 404 || err->s3 == PIER_S3_NO_SUCH_KEY;
}

bool
publish_err_is_412(const struct pier_err *err)
{
    return err->http == 412 || err->s3 == PIER_S3_PRECONDITION_FAILED;
}

/* A synchronous request; resp is initialised here, released by the
 * caller. */
static int
sync_req(struct pier_s3_sync *s3, enum pier_s3_op op,
         const struct pier_s3_request *r, struct pier_s3_response *resp,
         struct pier_err *err)
{
    pier_s3_response_init(resp);
    return pier_s3_sync_run(s3, op, r, resp, err);
}

/* Copy a deploy id out of a body, without trailing white space. */
static bool
take_id(const struct pier_buf *body, char id[SITES_DEPLOY_ID_MAX + 1])
{
    size_t n = body->len;

    while (n > 0
           && (body->data[n - 1] == '\n' || body->data[n - 1] == '\r'
               || body->data[n - 1] == ' ')) {
        n--;
    }
    if (!sites_deploy_id_ok(pier_str_make(body->data, n))) {
        return false;
    }
    memcpy(id, body->data, n);
    id[n] = '\0';
    return true;
}

/*
 * live/<site> holds the deploy id; a publish also stores the git tree of
 * its commit in the pointer's metadata (LIVE_TREE_META), so that the next
 * publish of the same tree knows it is a no-op from that one small GET,
 * without fetching and decoding the manifest. Any other writer of the
 * pointer (a rollback) writes no such metadata: then the manifest
 * decides, as before.
 */
#define LIVE_TREE_META "x-amz-meta-pier-tree"

static int
live_read_tree(struct pier_s3_sync *s3, const char *site,
               char id[SITES_DEPLOY_ID_MAX + 1], char **etag,
               char tree[GIT_OID_HEXSZ + 1], struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_str v;
    char key[512];

    id[0] = '\0';
    *etag = NULL;
    if (tree != NULL) {
        tree[0] = '\0';
    }
    snprintf(key, sizeof(key), "live/%s", site);
    r.key = key;
    r.max_body = PUBLISH_LIVE_MAX;
    if (sync_req(s3, PIER_S3_OP_GET, &r, &resp, err) != PIER_OK) {
        pier_s3_response_release(&resp);
        if (publish_err_is_404(err)) {
            pier_err_clear(err);
            return PIER_OK; /* the site has no deploy yet */
        }
        return PIER_ERR;
    }
    if (!take_id(&resp.body, id)) {
        pier_s3_response_release(&resp);
        return pier_err_set(err, "live/%s does not hold a deploy id", site);
    }
    *etag = pier_strndup(resp.etag.ptr, resp.etag.len);
    if (tree != NULL && pier_s3_response_header(&resp, LIVE_TREE_META, &v)
        && v.len == GIT_OID_HEXSZ) {
        memcpy(tree, v.ptr, v.len);
        tree[v.len] = '\0';
    }
    pier_s3_response_release(&resp);
    return PIER_OK;
}

int
publish_live_read(struct pier_s3_sync *s3, const char *site,
                  char id[SITES_DEPLOY_ID_MAX + 1], char **etag,
                  struct pier_err *err)
{
    return live_read_tree(s3, site, id, etag, NULL, err);
}

/* "sites/<site>/deploys/<id>.json.zst", where a deploy's manifest is. */
static void
manifest_key(char *key, size_t n, const char *site, const char *id)
{
    snprintf(key, n, "sites/%s/deploys/%s.json.zst", site, id);
}

struct sites_manifest *
publish_manifest_fetch(struct pier_s3_sync *s3, const char *site,
                       const char *id, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct sites_manifest *m;
    char key[512];

    manifest_key(key, sizeof(key), site, id);
    r.key = key;
    r.max_body = PUBLISH_MANIFEST_ZST_MAX;
    if (sync_req(s3, PIER_S3_OP_GET, &r, &resp, err) != PIER_OK) {
        pier_s3_response_release(&resp);
        return NULL;
    }
    m = sites_manifest_load_zst(resp.body.data, resp.body.len,
                                PUBLISH_MANIFEST_MAX, err);
    pier_s3_response_release(&resp);
    return m;
}

/* publish_live_flip, with the deploy's tree in the pointer's metadata
 * when tree is not NULL. */
static int
live_flip_tree(struct pier_s3_sync *s3, const char *site, const char *id,
               const char *etag, const char *tree, bool *lost,
               char winner[SITES_DEPLOY_ID_MAX + 1], struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_s3_header h[2] = {
        {PIER_STR("Content-Type"), PIER_STR("text/plain")},
        {PIER_STR(LIVE_TREE_META), PIER_STR("")},
    };
    char key[512];
    int rc;

    *lost = false;
    winner[0] = '\0';
    /* Conditional on the pointer we read, so that of two concurrent
     * writers exactly one wins. */
    snprintf(key, sizeof(key), "live/%s", site);
    r.key = key;
    r.body = id;
    r.body_len = strlen(id);
    r.headers = h;
    r.nheaders = 1;
    if (tree != NULL) {
        h[1].value = pier_str_cstr(tree);
        r.nheaders = 2;
    }
    if (etag != NULL) {
        r.if_match = etag;
    } else {
        r.if_none_match = "*";
    }
    rc = sync_req(s3, PIER_S3_OP_PUT, &r, &resp, err);
    pier_s3_response_release(&resp);
    if (rc == PIER_OK) {
        return PIER_OK;
    }
    if (!publish_err_is_412(err)) {
        return PIER_ERR;
    }
    /* Lost the race: say who won. */
    pier_err_clear(err);
    *lost = true;
    memset(&r, 0, sizeof(r));
    r.key = key;
    r.max_body = PUBLISH_LIVE_MAX;
    if (sync_req(s3, PIER_S3_OP_GET, &r, &resp, err) != PIER_OK
        || !take_id(&resp.body, winner)) {
        winner[0] = '\0';
    }
    pier_s3_response_release(&resp);
    pier_err_clear(err);
    return PIER_OK;
}

int
publish_live_flip(struct pier_s3_sync *s3, const char *site, const char *id,
                  const char *etag, bool *lost,
                  char winner[SITES_DEPLOY_ID_MAX + 1], struct pier_err *err)
{
    return live_flip_tree(s3, site, id, etag, NULL, lost, winner, err);
}

static int
cmp_known(const void *a, const void *b)
{
    return strcmp(((const struct known *) a)->sha256,
                  ((const struct known *) b)->sha256);
}

static const struct known *
find_known(const struct ctx *x, const char *sha)
{
    struct known key;

    if (x->nknown == 0) {
        return NULL;
    }
    memcpy(key.sha256, sha, sizeof(key.sha256));
    return bsearch(&key, x->known, x->nknown, sizeof(*x->known), cmp_known);
}

/*
 * A site's first deploy of a commit that another site of the bucket has
 * live (the same repository published under a second name, a staging
 * site promoted): that deploy's manifest says what every file publishes
 * to, so nothing unchanged is read, parsed or looked up again. Found from
 * the deploy ids, which carry the short commit: one listing of live/ and
 * one small GET per site (at most SIBLINGS_MAX), then the manifest whose
 * commit is exactly ours. Best effort: any failure means no sibling.
 */
static void
sibling(struct ctx *x)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_err err;
    char id[SITES_DEPLOY_ID_MAX + 1], *etag;
    size_t i, tried = 0;

    r.prefix = "live/";
    r.max_keys = 1000;
    if (sync_req(x->s3, PIER_S3_OP_LIST, &r, &resp, &err) != PIER_OK) {
        pier_s3_response_release(&resp);
        return;
    }
    for (i = 0; i < resp.list.nobjects && tried < SIBLINGS_MAX; i++) {
        const char *name = resp.list.objects[i].key + strlen("live/");
        struct sites_manifest *m;
        const char *c;

        if (strcmp(name, x->o->site) == 0
            || !sites_name_ok(pier_str_cstr(name))) {
            continue;
        }
        tried++;
        if (publish_live_read(x->s3, name, id, &etag, &err) != PIER_OK) {
            continue;
        }
        pier_free(etag);
        /* "20261124T093000123Z-3f9a1c2-a41b0e": the short commit. */
        c = strchr(id, '-');
        if (c == NULL || strncmp(c + 1, x->commit_hex, 7) != 0) {
            continue;
        }
        m = publish_manifest_fetch(x->s3, name, id, &err);
        if (m != NULL && sites_manifest_commit(m) != NULL
            && strcmp(sites_manifest_commit(m), x->commit_hex) == 0) {
            x->sibling = m;
            publish_progress_line(&x->prog,
                                  "%s: site %s has this commit live (%s): "
                                  "starting from its manifest",
                                  x->o->site, name, id);
            break;
        }
        sites_manifest_free(m);
    }
    pier_s3_response_release(&resp);
}

/* Step 1: live/<site> and its manifest. */
static int
read_live(struct ctx *x, struct pier_err *err)
{
    size_t n, i;

    if (x->s3 == NULL) {
        return PIER_OK; /* a dry run without a store: as a first deploy */
    }
    if (live_read_tree(x->s3, x->o->site, x->res->previous, &x->live_etag,
                       x->live_tree, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (x->res->previous[0] != '\0' && x->tree_hex[0] != '\0'
        && strcmp(x->live_tree, x->tree_hex) == 0) {
        x->live_same = true; /* a no-op: the manifest is not needed */
        return PIER_OK;
    }
    if (x->res->previous[0] == '\0') {
        /* The site's first deploy: maybe another site has this commit. */
        sibling(x);
        x->base = x->sibling;
    } else {
        x->old =
            publish_manifest_fetch(x->s3, x->o->site, x->res->previous, err);
        if (x->old == NULL) {
            return PIER_ERR;
        }
        x->base = x->old;
    }
    if (x->base == NULL) {
        return PIER_OK;
    }
    /* Its blobs, for skipping without a request. */
    n = sites_manifest_count(x->base);
    x->known = pier_calloc(n + 1, sizeof(*x->known));
    for (i = 0; i < n; i++) {
        const struct sites_entry *e = sites_manifest_at(x->base, i);

        memcpy(x->known[i].sha256, e->sha256, sizeof(e->sha256));
        memcpy(x->known[i].enc, e->enc_size, sizeof(e->enc_size));
    }
    x->nknown = n;
    qsort(x->known, n, sizeof(*x->known), cmp_known);
    return PIER_OK;
}

/* The site's URLs for the summary, from its record (sites/<site>.ini)
 * and the local edge; a record that cannot be read gives no domain. */
static void
site_urls(struct ctx *x)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct sites_record rec;
    struct pier_err err;
    bool have = false;
    char key[512];

    sites_record_init(&rec);
    snprintf(key, sizeof(key), "sites/%s.ini", x->o->site);
    r.key = key;
    r.max_body = 1 << 20;
    if (x->s3 != NULL) {
        if (sync_req(x->s3, PIER_S3_OP_GET, &r, &resp, &err) == PIER_OK) {
            have = sites_record_parse(&rec, key, resp.body.data,
                                      resp.body.len, &err)
                   == PIER_OK;
        }
        pier_s3_response_release(&resp);
    }
    x->res->nurls = publish_site_urls(have ? &rec : NULL, x->o->site,
                                      x->o->local_http, x->res->urls,
                                      PUBLISH_URLS_MAX);
    sites_record_release(&rec);
}

/* Step 1b: the live deploy's commit has the same tree as ours. */
static bool
same_tree(struct ctx *x)
{
    const char *hex = x->old != NULL ? sites_manifest_commit(x->old) : NULL;
    git_repository *git = publish_repo_git(x->repo);
    git_commit *a = NULL, *b = NULL;
    git_oid oid;
    bool same = false;

    if (hex == NULL || git_oid_fromstr(&oid, hex) != 0) {
        return false;
    }
    if (git_commit_lookup(&a, git, &oid) == 0
        && git_commit_lookup(&b, git, &x->commit) == 0) {
        same = git_oid_equal(git_commit_tree_id(a), git_commit_tree_id(b));
    }
    git_commit_free(a);
    git_commit_free(b);
    git_error_clear();
    return same;
}

/* Take _redirects or _headers out of the published files. */
static int
take_rules(struct ctx *x, const char *name, struct pier_buf *out, bool *have,
           struct pier_err *err)
{
    size_t i;

    for (i = 0; i < x->files.n; i++) {
        if (strcmp(x->files.v[i].path, name) == 0) {
            if (publish_file_read(x->repo, &x->files.v[i], out, err)
                != PIER_OK) {
                return PIER_ERR;
            }
            *have = true;
            pier_free(x->files.v[i].path);
            pier_free(x->files.v[i].disk);
            memmove(&x->files.v[i], &x->files.v[i + 1],
                    (x->files.n - i - 1) * sizeof(x->files.v[0]));
            x->files.n--;
            return PIER_OK;
        }
    }
    return PIER_OK;
}

/* Parse the rules now, so that a bad line fails before any upload. */
static int
check_rules(struct ctx *x, struct pier_err *err)
{
    struct sites_manifest *m;
    int rc;

    if (!x->have_redirects && !x->have_headers) {
        return PIER_OK;
    }
    m = sites_manifest_new(x->o->site, "19700101T000000Z-check", NULL, NULL, 0,
                           err);
    if (m == NULL) {
        return PIER_ERR;
    }
    rc = sites_manifest_set_rules(
        m, x->have_redirects ? x->redirects.data : NULL, x->redirects.len,
        x->have_headers ? x->headers.data : NULL, x->headers.len, err);
    if (rc == PIER_OK) {
        rc = sites_manifest_seal(m, err);
    }
    sites_manifest_free(m);
    return rc;
}

/* The build may have made its output folder a link elsewhere: what is
 * published must come from inside the checkout. */
static int
inside(const char *dir, const char *root, struct pier_err *err)
{
    char *d = realpath(dir, NULL), *r = realpath(root, NULL);
    size_t n = d != NULL ? strlen(d) : 0;
    int rc = PIER_OK;

    if (r == NULL) {
        rc = pier_err_sys(err, errno, "the build made no '%s'",
                          root + strlen(dir) + 1);
    } else if (d == NULL || strncmp(r, d, n) != 0
               || (r[n] != '\0' && r[n] != '/')) {
        rc = pier_err_set(err, "the build output leads out of the checkout");
    }
    free(d);
    free(r);
    return rc;
}

/* Step 2: the files of the commit, or of its build. */
static int
list_files(struct ctx *x, struct pier_err *err)
{
    const char *out = x->set.build_output;

    if (x->set.build_command != NULL) {
        struct pier_buf tail, root;
        struct stat st;
        int rc;

        say(x, "building: %s", x->set.build_command);
        pier_buf_init(&tail, BUILD_TAIL_MAX);
        rc = publish_build_run(x->repo, &x->commit, x->set.build_command,
                               x->set.build_timeout_s * 1000u, x->o->out_fd,
                               &x->build_dir, &tail, err);
        if (rc != PIER_OK) {
            say(x, "--- the end of the build's output ---");
            if (x->o->out_fd >= 0
                && write(x->o->out_fd, tail.data, tail.len) < 0) {
                tail.len = 0; /* best effort, as every progress line */
            }
            say(x, "---");
            pier_buf_release(&tail);
            return PIER_ERR;
        }
        pier_buf_release(&tail);
        pier_buf_init(&root, SIZE_MAX);
        if (out != NULL) {
            rc = pier_buf_addf(&root, "%s/%s", x->build_dir, out);
        } else {
            rc = pier_buf_addf(&root, "%s/public", x->build_dir);
            if (rc == PIER_OK
                && (stat(root.data, &st) != 0 || !S_ISDIR(st.st_mode))) {
                pier_buf_reset(&root);
                rc = pier_buf_adds(&root, x->build_dir);
            }
        }
        PIER_ASSERT(rc == PIER_OK);
        rc = inside(x->build_dir, root.data, err);
        if (rc == PIER_OK) {
            rc = publish_dir_list(root.data, &x->set, &x->files, err);
        }
        pier_buf_release(&root);
        if (rc != PIER_OK) {
            return PIER_ERR;
        }
    } else {
        char prefix[1024];

        snprintf(prefix, sizeof(prefix), "%s%s", out != NULL ? out : "",
                 out != NULL && out[strlen(out) - 1] != '/' ? "/" : "");
        if (publish_tree_list(x->repo, &x->commit, prefix, &x->set, &x->files,
                              err)
            != PIER_OK) {
            return PIER_ERR;
        }
    }
    if (x->files.links_skipped > 0) {
        say(x, "warning: %zu symbolic links or submodules not published",
            x->files.links_skipped);
    }
    if (take_rules(x, "_redirects", &x->redirects, &x->have_redirects, err)
            != PIER_OK
        || take_rules(x, "_headers", &x->headers, &x->have_headers, err)
               != PIER_OK) {
        return PIER_ERR;
    }
    return check_rules(x, err);
}

/*
 * Step 3: read what the live manifest does not already describe, decide
 * which documents to parse again, and build the graph.
 *
 * A file is unchanged when the live manifest has its path with the same
 * git blob id. An unchanged HTML or CSS file publishes the same bytes as
 * last time unless a file it references changed its published name, or
 * appeared or disappeared: only non-HTML files can (pages are never
 * renamed). A reference to such a file contains its name, so an unchanged
 * document that does not contain the name of any of them is not parsed:
 * its bytes, hash and size are the live manifest's. A stylesheet parsed
 * again may be renamed in turn, so its name joins the set until nothing
 * more is found. Names with bytes that URLs may write escaped, and a
 * changed pier.ini, make every document parse again.
 */
struct incr {
    const struct sites_entry **same; /* per file: the unchanged record */
    const struct sites_entry **was;  /* per file: the live record, if any */
    bool *parse;                     /* per file: a document to parse */
    const char **names;              /* names that may have changed */
    size_t nnames;
};

static bool
is_html_path(const char *path)
{
    const char *dot = strrchr(path, '.');

    return dot != NULL && strchr(dot, '/') == NULL
           && (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0);
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* Only these bytes are sure to be written as themselves in a URL. */
static bool
name_is_plain(const char *name)
{
    const char *p;

    for (p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'
              || *p == '~')) {
            return false;
        }
    }
    return name[0] != '\0';
}

/* Whether the base manifest's hashed names have the length this deploy
 * gives them: a pier whose default changed, or a base made by another
 * site's settings, would otherwise leave unchanged pages linking to names
 * that no longer exist. One aliased entry tells (all share the length). */
static bool
hash_names_differ(struct ctx *x)
{
    size_t n = sites_manifest_count(x->base), i;
    struct pier_buf want;
    bool differ = false;

    for (i = 0; i < n; i++) {
        const struct sites_entry *e = sites_manifest_at(x->base, i);

        if (e->alias == NULL) {
            continue;
        }
        if (!x->set.hash) {
            return true;
        }
        pier_buf_init(&want, SITES_PATH_MAX + 80);
        publish_graph_hashed_path(e->path, e->sha256, x->set.hash_len, &want);
        differ = want.len != strlen(e->alias)
                 || memcmp(want.data, e->alias, want.len) != 0;
        pier_buf_release(&want);
        return differ;
    }
    return false;
}

/* pier.ini may change hashing, exclusions, the build: then nothing
 * carries over. Unknown (the live commit is not in this repository) is a
 * change, and so are hashed names of another length than this deploy's. */
static bool
settings_changed(struct ctx *x)
{
    const char *hex = sites_manifest_commit(x->base);
    struct pier_err err;
    git_oid old;
    char **paths;
    size_t n, i;
    bool changed = true;

    if (hash_names_differ(x)) {
        return true;
    }
    if (hex == NULL || git_oid_fromstr(&old, hex) != 0
        || publish_tree_diff(x->repo, &old, &x->commit, &paths, &n, &err)
               != PIER_OK) {
        return true;
    }
    changed = false;
    for (i = 0; i < n; i++) {
        changed |= strcmp(paths[i], "pier.ini") == 0;
    }
    publish_paths_free(paths, n);
    return changed;
}

/* Count file i as read and show it. */
static void
count_read(struct ctx *x, size_t i)
{
    x->res->read_files++;
    x->res->read_bytes += x->bufs[i].len;
    x->prog.files = x->res->read_files;
    publish_progress_tick(&x->prog, false);
}

/* Read file i into its buffer. */
static int
read_file(struct ctx *x, size_t i, struct pier_err *err)
{
    if (publish_file_read(x->repo, &x->files.v[i], &x->bufs[i], err)
        != PIER_OK) {
        return PIER_ERR;
    }
    count_read(x, i);
    return PIER_OK;
}

/*
 * Reading many files (a first deploy reads them all) inflates every blob:
 * one thread per core does it (lib/par.h). libgit2 wants a repository
 * used by one thread at a time, so each helper opens its own, the same
 * way (inside a hook it sees the same quarantine); the calling thread
 * uses x->repo.
 */
struct readers {
    struct ctx *x;
    const size_t *todo;
    uv_mutex_t lock; /* the counts and the progress line */
};

static int
reader_start(void *arg, void **ctx)
{
    struct readers *rd = arg;
    struct pier_err err;

    if (rd->x->repo == NULL) {
        return PIER_OK; /* files on disk: no repository to open */
    }
    *ctx = publish_repo_open(rd->x->o->repo, &err);
    return *ctx != NULL ? PIER_OK : PIER_ERR;
}

static void
reader_stop(void *arg, void *ctx)
{
    (void) arg;
    publish_repo_free(ctx);
}

static int
read_one(void *arg, void *ctx, size_t k, struct pier_err *err)
{
    struct readers *rd = arg;
    struct ctx *x = rd->x;
    size_t i = rd->todo[k];

    if (publish_file_read(ctx != NULL ? ctx : x->repo, &x->files.v[i],
                          &x->bufs[i], err)
        != PIER_OK) {
        return PIER_ERR;
    }
    uv_mutex_lock(&rd->lock);
    count_read(x, i);
    uv_mutex_unlock(&rd->lock);
    return PIER_OK;
}

static int
read_files(struct ctx *x, const size_t *todo, size_t n, struct pier_err *err)
{
    struct readers rd = {.x = x, .todo = todo};
    struct pier_par p = {.fn = read_one,
                         .start = reader_start,
                         .stop = reader_stop,
                         .arg = &rd,
                         .max = 8,
                         .min_jobs = 64};
    int rc;

    PIER_ASSERT(uv_mutex_init(&rd.lock) == 0);
    rc = pier_par_each(&p, n, err);
    uv_mutex_destroy(&rd.lock);
    return rc;
}

static void
add_name(struct incr *c, const char *name)
{
    c->names[c->nnames++] = name;
}

/* Decide which unchanged documents to parse; reads them as needed. */
static int
plan_parse(struct ctx *x, struct incr *c, struct pier_err *err)
{
    size_t n = x->files.n, no = sites_manifest_count(x->base), i, k;
    bool full = settings_changed(x), grew = true;

    c->names = pier_calloc(n + no + 1, sizeof(*c->names));
    for (i = 0; i < n; i++) {
        const char *p = x->files.v[i].path;

        if (c->same[i] == NULL && !is_html_path(p)) {
            add_name(c, base_name(p));
        }
    }
    /* Files gone since the live deploy. */
    for (i = 0; i < no; i++) {
        const struct sites_entry *e = sites_manifest_at(x->base, i);

        if (!is_html_path(e->path)
            && publish_files_find(&x->files, e->path + 1) == NULL) {
            add_name(c, base_name(e->path));
        }
    }
    for (k = 0; k < c->nnames && !full; k++) {
        full = !name_is_plain(c->names[k]);
    }
    for (i = 0; i < n; i++) {
        c->parse[i] = publish_graph_parses(x->files.v[i].path)
                      && (c->same[i] == NULL || full);
    }
    if (full || c->nnames == 0) {
        return PIER_OK;
    }
    while (grew) {
        grew = false;
        for (i = 0; i < n; i++) {
            const struct publish_file *f = &x->files.v[i];

            if (c->parse[i] || !publish_graph_parses(f->path)) {
                continue;
            }
            if (x->bufs[i].len == 0 && read_file(x, i, err) != PIER_OK) {
                return PIER_ERR;
            }
            for (k = 0; k < c->nnames && !c->parse[i]; k++) {
                c->parse[i] = memmem(x->bufs[i].data, x->bufs[i].len,
                                     c->names[k], strlen(c->names[k]))
                              != NULL;
            }
            if (c->parse[i] && !is_html_path(f->path)) {
                add_name(c, base_name(f->path));
                grew = true;
            }
        }
    }
    return PIER_OK;
}

/* The graph's reader: an unchanged file's bytes, for an integrity. */
static int
read_for_graph(void *arg, size_t i, const char **data, size_t *len,
               struct pier_err *err)
{
    struct ctx *x = arg;

    if (x->bufs[i].len == 0
        && publish_file_read(x->repo, &x->files.v[i], &x->bufs[i], err)
               != PIER_OK) {
        return PIER_ERR;
    }
    *data = x->bufs[i].data;
    *len = x->bufs[i].len;
    return PIER_OK;
}

static int
make_graph(struct ctx *x, struct pier_err *err)
{
    struct publish_graph_opts go = {.hash = x->set.hash,
                                    .hash_len = x->set.hash_len,
                                    .integrity = x->set.integrity,
                                    .read = read_for_graph,
                                    .read_arg = x};
    size_t i, n = x->files.n, ntodo = 0, *todo = NULL;
    char path[SITES_PATH_MAX + 2];
    struct incr c;
    double t = now_ms();
    int rc = PIER_ERR;

    memset(&c, 0, sizeof(c));
    x->prog.files_total = n;
    x->bufs = pier_calloc(n + 1, sizeof(*x->bufs));
    x->shas = pier_calloc(n + 1, sizeof(*x->shas));
    x->in = pier_calloc(n + 1, sizeof(*x->in));
    c.same = pier_calloc(n + 1, sizeof(*c.same));
    c.was = pier_calloc(n + 1, sizeof(*c.was));
    c.parse = pier_calloc(n + 1, sizeof(*c.parse));
    for (i = 0; i < n; i++) {
        const struct publish_file *f = &x->files.v[i];
        char hex[GIT_OID_HEXSZ + 1];

        pier_buf_init(&x->bufs[i], SIZE_MAX);
        if (x->base == NULL) {
            continue;
        }
        snprintf(path, sizeof(path), "/%s", f->path);
        c.was[i] = sites_manifest_get(x->base, pier_str_cstr(path), NULL);
        git_oid_tostr(hex, sizeof(hex), &f->blob);
        if (c.was[i] != NULL && strcmp(c.was[i]->git_blob, hex) == 0) {
            c.same[i] = c.was[i];
        }
    }
    if (x->base != NULL) {
        if (plan_parse(x, &c, err) != PIER_OK) {
            goto out;
        }
    } else {
        for (i = 0; i < n; i++) {
            c.parse[i] = publish_graph_parses(x->files.v[i].path);
        }
    }
    for (i = 0; i < n && x->set.integrity != PUBLISH_SRI_OFF; i++) {
        /* An integrity covers a stylesheet's rewritten bytes: make them. */
        c.parse[i] |= publish_graph_parses(x->files.v[i].path)
                      && !is_html_path(x->files.v[i].path);
    }
    todo = pier_calloc(n + 1, sizeof(*todo));
    for (i = 0; i < n; i++) {
        /* Not read yet (plan_parse may have), and needed. */
        if ((c.same[i] == NULL || c.parse[i]) && x->bufs[i].len == 0) {
            todo[ntodo++] = i;
        }
    }
    if (read_files(x, todo, ntodo, err) != PIER_OK) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct publish_file *f = &x->files.v[i];
        struct publish_graph_in *in = &x->in[i];

        in->path = f->path;
        /* An asset stays one: unparsed pages may still reference it. */
        in->asset = c.was[i] != NULL && c.was[i]->klass == SITES_CLASS_ASSET;
        if (c.same[i] != NULL && !c.parse[i]) {
            memcpy(x->shas[i], c.same[i]->sha256, sizeof(x->shas[i]));
            in->sha256 = x->shas[i];
            in->len = (size_t) c.same[i]->size;
            in->opaque = publish_graph_parses(f->path);
            continue;
        }
        in->data = x->bufs[i].data;
        in->len = x->bufs[i].len;
        x->res->docs_parsed += c.parse[i];
    }
    x->res->ms_read += now_ms() - t;
    t = now_ms();
    x->g = publish_graph_build(x->in, n, &go, err);
    x->res->ms_graph += now_ms() - t;
    if (x->g == NULL) {
        goto out;
    }
    /* A site with thousands of broken links must not drown the summary
     * (nor a git push's output). */
    for (i = 0; i < publish_graph_nwarnings(x->g) && i < WARNINGS_SHOW; i++) {
        say(x, "warning: %s", publish_graph_warning(x->g, i));
    }
    if (publish_graph_nwarnings(x->g) > WARNINGS_SHOW) {
        say(x, "warning: and %zu more warnings",
            publish_graph_nwarnings(x->g) - WARNINGS_SHOW);
    }
    x->res->warnings = publish_graph_nwarnings(x->g);
    rc = PIER_OK;
out:
    pier_free(c.same);
    pier_free(c.was);
    pier_free(c.parse);
    pier_free(c.names);
    pier_free(todo);
    return rc;
}

static int
cmp_out_sha(const void *a, const void *b, void *arg)
{
    const struct publish_graph *g = arg;

    return strcmp(publish_graph_get(g, *(const size_t *) a)->sha256,
                  publish_graph_get(g, *(const size_t *) b)->sha256);
}

/* The distinct blobs of the outputs. */
static void
group_blobs(struct ctx *x)
{
    size_t n = publish_graph_count(x->g), i, *order;

    order = pier_malloc((n + 1) * sizeof(*order));
    for (i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, n, sizeof(*order), cmp_out_sha, x->g);
    x->blobs = pier_calloc(n + 1, sizeof(*x->blobs));
    x->blob_of = pier_calloc(n + 1, sizeof(*x->blob_of));
    for (i = 0; i < n; i++) {
        const struct publish_graph_out *o = publish_graph_get(x->g, order[i]);
        struct blob *b;

        if (x->nblobs == 0
            || strcmp(x->blobs[x->nblobs - 1].sha256, o->sha256) != 0) {
            const struct known *k = find_known(x, o->sha256);

            b = &x->blobs[x->nblobs++];
            memcpy(b->sha256, o->sha256, sizeof(b->sha256));
            b->len = o->len;
            b->type = o->type;
            if (k != NULL) {
                b->known = true;
                memcpy(b->enc, k->enc, sizeof(b->enc));
            }
        }
        b = &x->blobs[x->nblobs - 1];
        if (b->data == NULL && o->data != NULL) {
            b->data = o->data;
        }
        b->asset |= o->hashed != NULL;
        x->blob_of[order[i]] = x->nblobs - 1;
    }
    pier_free(order);
}

/*
 * Step 4: the blob engine. A job takes one blob through one listing of
 * the prefix blobs/<sha256>, which says in one request whether the blob
 * and each of its variants are stored, and their sizes (four HEADs
 * otherwise). A stored blob is done; a missing one is compressed on the
 * thread pool and its missing variants, then itself, are PUT.
 */
struct engine {
    uv_loop_t loop;
    struct pier_s3_client *c;
    struct blob **todo;
    size_t n, next, active;
    unsigned max;
    bool failed;
    struct pier_err err;
    struct publish_levels lv;
    bool compress;
    struct publish_result *res;
    struct publish_progress *prog;
    double compress_ms; /* summed over the jobs */
    size_t surveying;   /* listings of the survey under way */
    int64_t refresh_age_s; /* < 0: every reused key is refreshed (tests) */
    const char *bucket;    /* for x-amz-copy-source */
    void (*before_refresh)(void *arg); /* tests: once; then NULL */
    void *hook_arg;
    /* A rollback's check (publish_blobs_refresh()): the blobs' enc hold
     * the variants the manifest lists; nothing is uploaded, and a blob
     * the store lacks (or one of those variants) is counted in gone. */
    bool verify;
    size_t gone;
};

/* One listing of the survey: the blobs whose SHA-256 starts with one hex
 * digit, todo[lo, hi) (todo is in SHA-256 order), those before `next`
 * resolved. */
struct shard {
    unsigned magic;
    struct engine *en;
    size_t lo, hi, next;
    unsigned pages, budget;
    char prefix[16];
    char *token; /* the continuation, NULL at first */
};

enum job_step { J_LIST, J_REFRESH, J_COMPRESS, J_PUT_VAR, J_PUT_ID };

struct job;

/* One variant's PUT, under way beside the others of its blob. */
struct var_put {
    struct job *j;
    int e;
    char key[128];
};

struct job {
    unsigned magic;
    struct engine *en;
    struct blob *b;
    enum job_step step;
    struct pier_buf var[PUBLISH_ENC_N];
    bool keep[PUBLISH_ENC_N];
    char var_sha[PUBLISH_ENC_N][65]; /* hex SHA-256 of kept variants, made
                                        on the pool to sign their PUTs */
    uint64_t stored[PUBLISH_ENC_N]; /* sizes of variants already stored */
    struct var_put vp[PUBLISH_ENC_N];
    struct var_put rp[PUBLISH_ENC_N + 1]; /* refreshes; [PUBLISH_ENC_N]: the
                                             blob itself */
    bool refresh_then_missing; /* after the refreshes: upload (else done) */
    bool refresh_gone;         /* a refresh found its key deleted */
    unsigned var_pending;      /* variant PUTs (or refreshes) under way */
    bool var_failed;       /* one failed: err says why */
    struct pier_err var_err;
    uv_work_t work;
    int work_rc;
    double work_ms; /* the compression's wall time on its thread */
    struct pier_err work_err;
    char key[128];
};

static void on_done(struct pier_s3_response *resp, const struct pier_err *err,
                    void *arg);
static void pump(struct engine *en);

static void
progress(struct engine *en)
{
    en->prog->bytes = en->res->bytes_uploaded;
    publish_progress_tick(en->prog, false);
}

static void
job_done(struct job *j)
{
    struct engine *en = j->en;
    int e;

    PIER_CHECK_OBJ(j, JOB_MAGIC);
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        pier_buf_release(&j->var[e]);
    }
    j->magic = 0;
    pier_free(j);
    en->active--;
    en->prog->blobs++;
    progress(en);
    pump(en);
}

static void
job_fail(struct job *j, const struct pier_err *err)
{
    struct engine *en = j->en;

    if (!en->failed) {
        en->failed = true;
        en->err = *err;
    }
    job_done(j);
}

static void
set_key(struct job *j, const char *suffix)
{
    snprintf(j->key, sizeof(j->key), "blobs/%s%s", j->b->sha256, suffix);
}

static void
job_request(struct job *j, enum pier_s3_op op, const struct pier_s3_request *r)
{
    struct pier_err err;

    if (pier_s3_start(j->en->c, op, r, on_done, j, &err) != PIER_OK) {
        job_fail(j, &err);
    }
}

/* A blob's PUT (its key in key): done calls cb with arg. PIER_ERR with
 * err set when it could not start. */
static int
put_req(struct job *j, const char *key, const void *p, size_t n,
        const char *sha, pier_s3_done_cb cb, void *arg, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_header h[2];
    const char *cc = publish_cache_control(j->b->asset ? SITES_CLASS_ASSET
                                                       : SITES_CLASS_ENTRY);

    h[0] = (struct pier_s3_header){PIER_STR("Content-Type"),
                                   pier_str_cstr(j->b->type)};
    h[1] =
        (struct pier_s3_header){PIER_STR("Cache-Control"), pier_str_cstr(cc)};
    r.key = key;
    r.body = p;
    r.body_len = n;
    r.payload_sha256 = sha;
    /* Blobs are never overwritten (ARCHITECTURE.md): a 412 says someone
     * stored the same bytes first, which is as good. */
    r.if_none_match = "*";
    r.headers = h;
    r.nheaders = 2;
    return pier_s3_start(j->en->c, PIER_S3_OP_PUT, &r, cb, arg, err);
}

/* The identity blob, once its variants are stored. */
static void
put_identity(struct job *j)
{
    struct pier_err err;

    j->step = J_PUT_ID;
    set_key(j, "");
    if (put_req(j, j->key, j->b->data != NULL ? j->b->data : "", j->b->len,
                j->b->sha256, on_done, j, &err)
        != PIER_OK) {
        job_fail(j, &err);
    }
}

static void
on_var_done(struct pier_s3_response *resp, const struct pier_err *err,
            void *arg)
{
    struct var_put *vp = arg;
    struct job *j = vp->j;

    (void) resp;
    PIER_CHECK_OBJ(j, JOB_MAGIC);
    PIER_ASSERT(j->var_pending > 0);
    j->var_pending--;
    if (err != NULL && !publish_err_is_412(err)) {
        if (!j->var_failed) {
            j->var_failed = true;
            j->var_err = *err;
        }
    } else if (err == NULL) {
        j->en->res->variants_uploaded++;
        j->en->res->bytes_uploaded += j->var[vp->e].len;
        progress(j->en);
    }
    if (j->var_pending > 0) {
        return;
    }
    if (j->var_failed) {
        job_fail(j, &j->var_err);
        return;
    }
    put_identity(j);
}

/* PUT every kept variant the store lacks, all at once, then the identity
 * blob: an identity blob in the store means its variants are there. */
static void
put_variants(struct job *j)
{
    struct pier_err err;
    int e;

    j->step = J_PUT_VAR;
    j->var_pending = 1; /* held while starting them */
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        struct var_put *vp = &j->vp[e];

        if (!j->keep[e] || j->stored[e] != 0) {
            continue;
        }
        vp->j = j;
        vp->e = e;
        snprintf(vp->key, sizeof(vp->key), "blobs/%s%s", j->b->sha256,
                 sites_enc_suffix((enum sites_enc) e));
        if (put_req(j, vp->key, j->var[e].data, j->var[e].len, j->var_sha[e],
                    on_var_done, vp, &err)
            != PIER_OK) {
            if (!j->var_failed) {
                j->var_failed = true;
                j->var_err = err;
            }
            break;
        }
        j->var_pending++;
    }
    j->var_pending--;
    if (j->var_pending > 0) {
        return; /* the last answer goes on */
    }
    if (j->var_failed) {
        job_fail(j, &j->var_err);
        return;
    }
    put_identity(j);
}

/*
 * Compression runs at nice 10 on its pool threads. It is the bulk of a
 * first deploy's CPU, and it waits on nothing; the loop that sends the
 * PUTs, and a store on the same machine, wait on the network and on
 * fsync, and each of their wake-ups found both cores busy compressing:
 * at 10,000 pages the cores were a quarter idle while blobs waited to be
 * sent. Niced, the compressors give way at once and fill the gaps: a
 * cold deploy went from 43-44 s to 38-39 s (interleaved runs).
 */
static void
compress_thread_nice(void)
{
    static _Thread_local bool done;

    if (!done) {
        done = true;
        (void) setpriority(PRIO_PROCESS, (id_t) gettid(), 10);
    }
}

static void
do_compress(uv_work_t *w)
{
    struct job *j = w->data;
    double t = now_ms();
    int e;

    PIER_CHECK_OBJ(j, JOB_MAGIC);
    compress_thread_nice();
    j->work_rc =
        publish_compress_variants(j->b->type, j->b->data, j->b->len, &j->en->lv,
                                  j->var, j->keep, &j->work_err);
    /* The PUTs' payload hashes here, not on the loop that sends them. */
    for (e = 0; e < PUBLISH_ENC_N && j->work_rc == PIER_OK; e++) {
        if (j->keep[e]) {
            pier_sha256_hex(j->var[e].data, j->var[e].len, j->var_sha[e]);
        }
    }
    j->work_ms = now_ms() - t;
}

static void
after_compress(uv_work_t *w, int status)
{
    struct job *j = w->data;
    int e;

    PIER_CHECK_OBJ(j, JOB_MAGIC);
    j->en->compress_ms += j->work_ms;
    if (status != 0 || j->work_rc != PIER_OK) {
        if (status != 0) {
            pier_err_set(&j->work_err, "compression cancelled");
        }
        job_fail(j, &j->work_err);
        return;
    }
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        /* A variant stored by an earlier, interrupted publish stays. */
        j->b->enc[e] = j->stored[e] != 0 ? j->stored[e]
                       : j->keep[e]      ? j->var[e].len
                                         : 0;
    }
    put_variants(j);
}

/* The store's clock when it answered resp (its Date), else ours: ages
 * compare LastModified with the clock that wrote it. */
static int64_t
store_now(const struct pier_s3_response *resp)
{
    struct pier_str v;
    time_t t;

    if (pier_s3_response_header(resp, "date", &v)
        && pier_http_date_parse(v, &t) == PIER_OK) {
        return (int64_t) t;
    }
    return (int64_t) time(NULL);
}

/* Whether a listed key is old enough to need a refresh. A key without a
 * date is never deleted by gc: no refresh. */
static bool
is_stale(const struct engine *en, int64_t now, const struct pier_s3_object *ob)
{
    return ob->last_modified != 0
           && (en->refresh_age_s < 0
               || now - ob->last_modified >= en->refresh_age_s);
}

/* What the listing of blobs/<sha256> says. */
static bool
read_listing(struct job *j, const struct pier_s3_response *resp)
{
    const struct pier_s3_list *l = &resp->list;
    size_t pn = strlen("blobs/") + strlen(j->b->sha256), i;
    int64_t now = store_now(resp);
    bool have = false;
    int e;

    for (i = 0; i < l->nobjects; i++) {
        const char *key = l->objects[i].key;
        bool stale = is_stale(j->en, now, &l->objects[i]);

        if (strlen(key) < pn || strncmp(key, j->key, pn) != 0) {
            continue;
        }
        if (key[pn] == '\0') {
            have = true;
            j->b->stale |= stale ? STALE_ID : 0;
            continue;
        }
        for (e = 0; e < PUBLISH_ENC_N; e++) {
            if (strcmp(key + pn, sites_enc_suffix((enum sites_enc) e)) == 0) {
                j->stored[e] = l->objects[i].size;
                j->b->stale |= stale ? 1u << e : 0;
            }
        }
    }
    return have;
}

static void refresh(struct job *j, bool then_missing);
static void verify_end(struct job *j, bool have);

/* The store has the blob and the variants in j->stored, refreshed. */
static void
found_done(struct job *j)
{
    int e;

    if (j->en->verify) {
        verify_end(j, true);
        return;
    }
    j->en->res->blobs_present++;
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        j->b->enc[e] = j->stored[e];
    }
    job_done(j);
}

/* The store has the blob (and the variants in j->stored): refresh the old
 * ones, or done. */
static void
found(struct job *j)
{
    if (j->b->stale != 0) {
        refresh(j, false);
        return;
    }
    found_done(j);
}

/* Compress the blob, then PUT what the store lacks. */
static void
upload(struct job *j)
{
    PIER_ASSERT(j->b->data != NULL || j->b->len == 0);
    if (j->en->compress && j->b->data != NULL) {
        j->step = J_COMPRESS;
        j->work.data = j;
        PIER_ASSERT(uv_queue_work(&j->en->loop, &j->work, do_compress,
                                  after_compress)
                    == 0);
    } else {
        put_identity(j);
    }
}

/* The store lacks the blob: refresh the old variants it has (they stay
 * and are reused), then compress it and PUT what is missing. */
static void
missing(struct job *j)
{
    int e;

    if (j->en->verify) {
        verify_end(j, false);
        return;
    }
    j->b->stale &= ~STALE_ID;
    for (e = 0; e < PUBLISH_ENC_N; e++) {
        if (j->stored[e] == 0) {
            j->b->stale &= ~(1u << e);
        }
    }
    if (j->b->stale != 0) {
        refresh(j, true);
        return;
    }
    upload(j);
}

/* The request of a refresh: key copied onto itself in bucket with
 * x-amz-metadata-directive: REPLACE and the headers its PUT sends
 * (Content-Type type, and Cache-Control cc unless NULL), in h and src. */
static void
self_copy(struct pier_s3_request *r, struct pier_s3_header h[4], char *src,
          size_t srcn, const char *bucket, const char *key, const char *type,
          const char *cc)
{
    snprintf(src, srcn, "/%s/%s", bucket, key);
    h[0] = (struct pier_s3_header){PIER_STR("x-amz-copy-source"),
                                   pier_str_cstr(src)};
    h[1] = (struct pier_s3_header){PIER_STR("x-amz-metadata-directive"),
                                   PIER_STR("REPLACE")};
    h[2] =
        (struct pier_s3_header){PIER_STR("Content-Type"), pier_str_cstr(type)};
    h[3] = (struct pier_s3_header){PIER_STR("Cache-Control"),
                                   pier_str_cstr(cc != NULL ? cc : "")};
    memset(r, 0, sizeof(*r));
    r->key = key;
    r->body = "";
    r->body_len = 0;
    r->headers = h;
    r->nheaders = cc != NULL ? 4 : 3;
}

/* A rollback's check of j's blob is done: it is gone when the store
 * lacks the blob (have false) or a variant the manifest lists. */
static void
verify_end(struct job *j, bool have)
{
    bool gone = !have;
    int e;

    for (e = 0; e < PUBLISH_ENC_N; e++) {
        gone |= j->b->enc[e] != 0 && j->stored[e] == 0;
    }
    if (gone) {
        j->en->gone++;
    }
    job_done(j);
}

/*
 * The refresh (publish/gc.h): every stored key the deploy reuses whose
 * LastModified is older than the refresh age is copied onto itself with
 * x-amz-metadata-directive: REPLACE (S3 refuses a self-copy that changes
 * nothing) and the headers its PUT sends, all of a blob's at once. The
 * copy gives it a new LastModified, so a gc that listed it before fails
 * its conditional delete and one that lists it after finds it young. A
 * key already gone (NoSuchKey: a gc was first) is uploaded again as if
 * the survey had missed it. Requests only for old keys: a publish whose
 * reused blobs are young, or come from the live manifest, makes none.
 */

/* Every refresh of j answered: go on. */
static void
refresh_end(struct job *j)
{
    if (j->var_failed) {
        job_fail(j, &j->var_err);
    } else if (j->en->verify) {
        verify_end(j, !j->refresh_gone);
    } else if (j->refresh_then_missing || j->refresh_gone) {
        upload(j);
    } else {
        found_done(j);
    }
}

static void
on_refresh_done(struct pier_s3_response *resp, const struct pier_err *err,
                void *arg)
{
    struct var_put *vp = arg;
    struct job *j = vp->j;

    PIER_CHECK_OBJ(j, JOB_MAGIC);
    PIER_ASSERT(j->var_pending > 0);
    j->var_pending--;
    if (err != NULL && publish_err_is_404(err)) {
        /* Deleted between the listing and now: upload it again. */
        j->refresh_gone = true;
        if (vp->e < PUBLISH_ENC_N) {
            j->stored[vp->e] = 0;
        }
    } else if (err == NULL && resp->body.len > 0
               && strstr(resp->body.data, "<Error>") != NULL) {
        /* S3 may answer a copy 200 with an error in the body. */
        if (!j->var_failed) {
            j->var_failed = true;
            pier_err_set(&j->var_err, "cannot refresh '%s': %.200s", vp->key,
                         resp->body.data);
        }
    } else if (err != NULL) {
        if (!j->var_failed) {
            j->var_failed = true;
            j->var_err = *err;
        }
    } else {
        j->en->res->refreshed++;
    }
    if (j->var_pending > 0) {
        return;
    }
    refresh_end(j);
}

static void
refresh(struct job *j, bool then_missing)
{
    const char *cc = publish_cache_control(j->b->asset ? SITES_CLASS_ASSET
                                                       : SITES_CLASS_ENTRY);
    struct pier_err err;
    char src[256];
    int e;

    if (j->en->verify) {
        /* Only what the manifest lists is needed. */
        for (e = 0; e < PUBLISH_ENC_N; e++) {
            if (j->b->enc[e] == 0) {
                j->b->stale &= ~(1u << e);
            }
        }
    }
    if (j->en->before_refresh != NULL) {
        j->en->before_refresh(j->en->hook_arg);
        j->en->before_refresh = NULL;
    }
    j->step = J_REFRESH;
    j->refresh_then_missing = then_missing;
    j->var_pending = 1; /* held while starting them */
    for (e = 0; e <= PUBLISH_ENC_N; e++) {
        struct var_put *vp = &j->rp[e];
        struct pier_s3_request r;
        struct pier_s3_header h[4];

        if ((j->b->stale & (1u << e)) == 0) {
            continue;
        }
        vp->j = j;
        vp->e = e;
        snprintf(vp->key, sizeof(vp->key), "blobs/%s%s", j->b->sha256,
                 e < PUBLISH_ENC_N ? sites_enc_suffix((enum sites_enc) e) : "");
        self_copy(&r, h, src, sizeof(src), j->en->bucket, vp->key, j->b->type,
                  cc);
        if (pier_s3_start(j->en->c, PIER_S3_OP_PUT, &r, on_refresh_done, vp,
                          &err)
            != PIER_OK) {
            if (!j->var_failed) {
                j->var_failed = true;
                j->var_err = err;
            }
            break;
        }
        j->var_pending++;
    }
    j->b->stale = 0;
    if (--j->var_pending > 0) {
        return; /* the last answer goes on */
    }
    refresh_end(j);
}

static void
on_done(struct pier_s3_response *resp, const struct pier_err *err, void *arg)
{
    struct job *j = arg;
    struct publish_result *res = j->en->res;

    PIER_CHECK_OBJ(j, JOB_MAGIC);
    switch (j->step) {
    case J_LIST:
        if (err != NULL) {
            job_fail(j, err);
            return;
        }
        if (read_listing(j, resp)) {
            found(j);
        } else {
            missing(j);
        }
        return;
    case J_PUT_ID:
        if (err != NULL && !publish_err_is_412(err)) {
            job_fail(j, err);
            return;
        }
        if (err == NULL) {
            res->blobs_uploaded++;
            res->bytes_uploaded += j->b->len;
        } else {
            res->blobs_present++;
        }
        job_done(j);
        return;
    case J_REFRESH: /* on_refresh_done's */
    case J_COMPRESS:
    case J_PUT_VAR: /* on_var_done's */
        break;
    }
    PIER_ASSERT(!"request done in a step without one");
}

static void
pump(struct engine *en)
{
    while (!en->failed && en->active < en->max && en->next < en->n) {
        struct pier_s3_request r = {0};
        struct job *j;
        int e;

        if (en->todo[en->next]->state == B_PRESENT
            && en->todo[en->next]->stale == 0) {
            /* The survey saw it, young: nothing to do, no job. */
            struct blob *b = en->todo[en->next++];

            en->res->blobs_present++;
            if (en->verify) {
                for (e = 0; e < PUBLISH_ENC_N; e++) {
                    if (b->enc[e] != 0 && b->listed[e] == 0) {
                        en->gone++;
                        break;
                    }
                }
            } else {
                memcpy(b->enc, b->listed, sizeof(b->listed));
            }
            en->prog->blobs++;
            continue;
        }
        j = pier_calloc(1, sizeof(*j));
        j->magic = JOB_MAGIC;
        j->en = en;
        j->b = en->todo[en->next++];
        for (e = 0; e < PUBLISH_ENC_N; e++) {
            pier_buf_init(&j->var[e], SIZE_MAX);
        }
        en->active++;
        set_key(j, "");
        if (j->b->state == B_MISSING) {
            /* The survey said so: no request to ask again. */
            memcpy(j->stored, j->b->listed, sizeof(j->stored));
            missing(j);
            continue;
        }
        if (j->b->state == B_PRESENT) {
            /* The survey saw it, with keys to refresh. */
            memcpy(j->stored, j->b->listed, sizeof(j->stored));
            refresh(j, false);
            continue;
        }
        j->step = J_LIST;
        r.prefix = j->key;
        r.max_keys = 16;
        job_request(j, PIER_S3_OP_LIST, &r);
    }
}

/*
 * The survey: when many blobs are to be looked up, one listing per first
 * hex digit of blobs/ (16 at once, SURVEY_PAGE keys a page) answers for
 * all of them at a cost of one request per SURVEY_PAGE keys stored,
 * instead of one request per blob: an empty store answers a cold publish
 * in 16 requests, and a store that has every blob (the same commit as a
 * second site) in a few per thousand. Keys come in order, so a page
 * settles every blob below its last key. A store much larger than the
 * publish would take more pages than blobs: each listing stops after
 * `budget` pages, and the blobs it did not reach are looked up one by one.
 */
static void survey_page(struct shard *sh);

static void
survey_done(struct shard *sh)
{
    struct engine *en = sh->en;

    pier_free(sh->token);
    sh->magic = 0;
    pier_free(sh);
    if (--en->surveying == 0) {
        pump(en);
    }
}

static int
cmp_sha_blob(const void *key, const void *elem)
{
    const struct blob *b = *(struct blob *const *) elem;

    return strncmp(key, b->sha256, SITES_SHA256_HEX);
}

/* Settle the blobs of sh before sha (all when sha is NULL). */
static void
settle(struct shard *sh, const char *sha)
{
    struct blob **todo = sh->en->todo;

    while (sh->next < sh->hi
           && (sha == NULL
               || strncmp(todo[sh->next]->sha256, sha, SITES_SHA256_HEX)
                      < 0)) {
        struct blob *b = todo[sh->next++];

        b->state = b->listed_have ? B_PRESENT : B_MISSING;
    }
}

static void
on_survey(struct pier_s3_response *resp, const struct pier_err *err,
          void *arg)
{
    struct shard *sh = arg;
    const struct pier_s3_list *l = &resp->list;
    const char *last = NULL;
    int64_t now;
    bool stale;
    size_t i;

    PIER_CHECK_OBJ(sh, SHARD_MAGIC);
    if (err != NULL) {
        survey_done(sh); /* what it did not settle is looked up later */
        return;
    }
    now = store_now(resp);
    for (i = 0; i < l->nobjects; i++) {
        const char *key = l->objects[i].key, *sha, *suffix;
        struct blob **hit;
        int e;

        if (strncmp(key, "blobs/", 6) != 0
            || strlen(key) < 6 + SITES_SHA256_HEX) {
            continue;
        }
        sha = key + 6;
        suffix = sha + SITES_SHA256_HEX;
        last = sha;
        hit = bsearch(sha, sh->en->todo + sh->next, sh->hi - sh->next,
                      sizeof(*hit), cmp_sha_blob);
        if (hit == NULL) {
            continue;
        }
        stale = is_stale(sh->en, now, &l->objects[i]);
        if (*suffix == '\0') {
            (*hit)->listed_have = true;
            (*hit)->stale |= stale ? STALE_ID : 0;
        }
        for (e = 0; e < PUBLISH_ENC_N; e++) {
            if (strcmp(suffix, sites_enc_suffix((enum sites_enc) e)) == 0) {
                (*hit)->listed[e] = l->objects[i].size;
                (*hit)->stale |= stale ? 1u << e : 0;
            }
        }
    }
    if (!l->truncated || l->next_token == NULL) {
        settle(sh, NULL);
        survey_done(sh);
        return;
    }
    if (last != NULL) {
        settle(sh, last);
    }
    pier_free(sh->token);
    sh->token = pier_strdup(l->next_token);
    if (sh->next == sh->hi || ++sh->pages >= sh->budget) {
        survey_done(sh);
        return;
    }
    survey_page(sh);
}

static void
survey_page(struct shard *sh)
{
    struct pier_s3_request r = {0};
    struct pier_err err;

    r.prefix = sh->prefix;
    r.continuation_token = sh->token;
    r.max_keys = SURVEY_PAGE;
    if (pier_s3_start(sh->en->c, PIER_S3_OP_LIST, &r, on_survey, sh, &err)
        != PIER_OK) {
        survey_done(sh);
    }
}

/* Start the survey, or the lookups when it does not pay. */
static void
survey(struct engine *en)
{
    static const char hex[] = "0123456789abcdef";
    size_t lo = 0, hi;
    int h;

    if (en->n < SURVEY_MIN) {
        pump(en);
        return;
    }
    en->surveying = 1; /* held until every listing is started */
    for (h = 0; h < 16; h++) {
        struct shard *sh;

        for (hi = lo; hi < en->n && en->todo[hi]->sha256[0] == hex[h]; hi++) {
        }
        if (hi == lo) {
            continue;
        }
        sh = pier_calloc(1, sizeof(*sh));
        sh->magic = SHARD_MAGIC;
        sh->en = en;
        sh->lo = sh->next = lo;
        sh->hi = hi;
        /* A page costs about what a few lookups of one blob do. */
        sh->budget = (unsigned) ((hi - lo) / 8 + 1);
        snprintf(sh->prefix, sizeof(sh->prefix), "blobs/%c", hex[h]);
        en->surveying++;
        survey_page(sh);
        lo = hi;
    }
    if (--en->surveying == 0) {
        pump(en);
    }
}

/* Run en (set up, todo in SHA-256 order) to its end on a loop and S3
 * client of its own. */
static int
engine_run(struct engine *en, const struct pier_s3_config *cfg,
           struct pier_err *err)
{
    PIER_ASSERT(uv_loop_init(&en->loop) == 0);
    en->c = pier_s3_client_new(&en->loop, cfg, err);
    if (en->c == NULL) {
        PIER_ASSERT(uv_loop_close(&en->loop) == 0);
        return PIER_ERR;
    }
    survey(en);
    while (en->active > 0 || en->surveying > 0) {
        uv_run(&en->loop, UV_RUN_ONCE);
    }
    pier_s3_client_free(en->c);
    uv_run(&en->loop, UV_RUN_DEFAULT);
    PIER_ASSERT(uv_loop_close(&en->loop) == 0);
    if (en->failed) {
        *err = en->err;
        return PIER_ERR;
    }
    return PIER_OK;
}

static int
upload_blobs(struct ctx *x, struct pier_err *err)
{
    struct engine en;
    size_t i;
    int rc = PIER_OK;

    memset(&en, 0, sizeof(en));
    en.res = x->res;
    en.max = x->o->jobs != 0 ? x->o->jobs : PUBLISH_JOBS_DEFAULT;
    en.compress = x->set.compress;
    if (x->set.compress_best) {
        publish_levels_best(&en.lv);
    } else {
        publish_levels_default(&en.lv);
    }
    en.prog = &x->prog;
    en.refresh_age_s =
        x->o->refresh_age_s != 0 ? x->o->refresh_age_s : PUBLISH_REFRESH_AGE_S;
    en.bucket = x->o->s3 != NULL ? x->o->s3->bucket : "";
    en.before_refresh = x->o->before_refresh;
    en.hook_arg = x->o->hook_arg;
    en.todo = pier_calloc(x->nblobs + 1, sizeof(*en.todo));
    for (i = 0; i < x->nblobs; i++) {
        if (x->blobs[i].known) {
            x->res->blobs_known++;
        } else {
            en.todo[en.n++] = &x->blobs[i];
            x->prog.bytes_total += x->blobs[i].len;
        }
    }
    x->prog.blobs_total = en.n;
    if (en.n == 0 || x->o->dry_run) {
        if (x->o->dry_run) {
            say(x, "dry run: %zu blobs to check or upload", en.n);
        }
        pier_free(en.todo);
        return PIER_OK;
    }
    publish_progress_line(&x->prog,
                          "%s: %zu blobs not in the live deploy: looking "
                          "them up, compressing and uploading what the store "
                          "lacks",
                          x->o->site, en.n);
    rc = engine_run(&en, x->o->s3, err);
    x->prog.bytes = x->res->bytes_uploaded;
    publish_progress_tick(&x->prog, true);
    publish_progress_end(&x->prog);
    x->res->ms_compress = en.compress_ms;
    pier_free(en.todo);
    return rc;
}

static int
cmp_blob_sha(const void *a, const void *b)
{
    return strcmp(((const struct blob *) a)->sha256,
                  ((const struct blob *) b)->sha256);
}

static int
cmp_sha_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int
publish_blobs_refresh(const struct pier_s3_config *cfg,
                      const struct sites_manifest *m,
                      const struct sites_manifest *live,
                      const struct publish_refresh_opts *o, size_t *refreshed,
                      size_t *gone, struct pier_err *err)
{
    size_t n = sites_manifest_count(m), nb = 0, i;
    size_t nlive = live != NULL ? sites_manifest_count(live) : 0;
    const char **have = pier_calloc(nlive + 1, sizeof(*have));
    struct publish_progress prog;
    struct publish_result res;
    struct blob *blobs;
    struct engine en;
    int rc, e;

    *refreshed = 0;
    *gone = 0;
    /* One blob per SHA-256 (paths may share one), in SHA-256 order as the
     * survey wants, with every variant any of its entries lists. */
    for (i = 0; i < nlive; i++) {
        have[i] = sites_manifest_at(live, i)->sha256;
    }
    if (nlive > 1) {
        qsort(have, nlive, sizeof(*have), cmp_sha_ptr);
    }
    blobs = pier_calloc(n + 1, sizeof(*blobs));
    for (i = 0; i < n; i++) {
        const struct sites_entry *se = sites_manifest_at(m, i);
        const char *sha = se->sha256;
        struct blob *b;

        if (nlive > 0
            && bsearch(&sha, have, nlive, sizeof(*have), cmp_sha_ptr) != NULL) {
            continue;
        }
        b = &blobs[nb++];

        memcpy(b->sha256, se->sha256, sizeof(b->sha256));
        b->type = se->type;
        b->asset = se->klass == SITES_CLASS_ASSET;
        b->len = (size_t) se->size;
        memcpy(b->enc, se->enc_size, sizeof(b->enc));
    }
    if (nb > 1) {
        qsort(blobs, nb, sizeof(*blobs), cmp_blob_sha);
    }
    memset(&en, 0, sizeof(en));
    memset(&res, 0, sizeof(res));
    publish_progress_init(&prog, -1);
    en.todo = pier_calloc(nb + 1, sizeof(*en.todo));
    for (i = 0; i < nb; i++) {
        if (en.n > 0
            && strcmp(en.todo[en.n - 1]->sha256, blobs[i].sha256) == 0) {
            for (e = 0; e < PUBLISH_ENC_N; e++) {
                if (blobs[i].enc[e] != 0) {
                    en.todo[en.n - 1]->enc[e] = blobs[i].enc[e];
                }
            }
            continue;
        }
        en.todo[en.n++] = &blobs[i];
    }
    en.res = &res;
    en.prog = &prog;
    en.max = o->jobs != 0 ? o->jobs : PUBLISH_JOBS_DEFAULT;
    en.refresh_age_s =
        o->refresh_age_s != 0 ? o->refresh_age_s : PUBLISH_REFRESH_AGE_S;
    en.bucket = cfg->bucket;
    en.before_refresh = o->before_refresh;
    en.hook_arg = o->hook_arg;
    en.verify = true;
    rc = en.n > 0 ? engine_run(&en, cfg, err) : PIER_OK;
    *refreshed = res.refreshed;
    *gone = en.gone;
    pier_free(en.todo);
    pier_free(blobs);
    pier_free(have);
    return rc;
}

int
publish_manifest_refresh(struct pier_s3_sync *s3, const char *bucket,
                         const char *site, const char *id, bool *gone,
                         struct pier_err *err)
{
    struct pier_s3_request r;
    struct pier_s3_response resp;
    struct pier_s3_header h[4];
    char key[512], src[600];
    int rc;

    *gone = false;
    manifest_key(key, sizeof(key), site, id);
    self_copy(&r, h, src, sizeof(src), bucket, key, MANIFEST_TYPE, NULL);
    pier_s3_response_init(&resp);
    rc = pier_s3_sync_run(s3, PIER_S3_OP_PUT, &r, &resp, err);
    if (rc != PIER_OK && publish_err_is_404(err)) {
        *gone = true;
        rc = PIER_OK;
    } else if (rc == PIER_OK && resp.body.len > 0
               && strstr(resp.body.data, "<Error>") != NULL) {
        rc = pier_err_set(err, "cannot refresh '%s': %.200s", key,
                          resp.body.data);
    }
    pier_s3_response_release(&resp);
    return rc;
}

/* Step 5: the manifest. */
static int
make_manifest(struct ctx *x, struct pier_err *err)
{
    size_t i, n = publish_graph_count(x->g);
    char path[SITES_PATH_MAX + 2], alias[SITES_PATH_MAX + 2];

    x->m = sites_manifest_new(
        x->o->site, x->res->deploy,
        x->res->previous[0] != '\0' ? x->res->previous : NULL, x->commit_hex,
        x->o->now != 0 ? x->o->now : time(NULL), err);
    if (x->m == NULL) {
        return PIER_ERR;
    }
    for (i = 0; i < n; i++) {
        const struct publish_graph_out *o = publish_graph_get(x->g, i);
        const struct blob *b = &x->blobs[x->blob_of[i]];
        struct sites_entry e;

        memset(&e, 0, sizeof(e));
        snprintf(path, sizeof(path), "/%s", o->path);
        e.path = path;
        memcpy(e.sha256, o->sha256, sizeof(e.sha256));
        e.type = o->type;
        e.size = o->len;
        memcpy(e.enc_size, b->enc, sizeof(e.enc_size));
        e.klass = o->hashed != NULL ? SITES_CLASS_ASSET : SITES_CLASS_ENTRY;
        git_oid_tostr(e.git_blob, sizeof(e.git_blob), &x->files.v[i].blob);
        if (o->hashed != NULL) {
            snprintf(alias, sizeof(alias), "/%s", o->hashed);
            e.alias = alias;
        }
        if (sites_manifest_add(x->m, &e, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    if (sites_manifest_set_rules(
            x->m, x->have_redirects ? x->redirects.data : NULL,
            x->redirects.len, x->have_headers ? x->headers.data : NULL,
            x->headers.len, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (sites_manifest_seal(x->m, err) != PIER_OK) {
        return PIER_ERR;
    }
    x->res->files = sites_manifest_count(x->m);
    return PIER_OK;
}

/* Steps 5 and 6: store the manifest, flip the pointer. */
static int
activate(struct ctx *x, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_buf zst;
    struct pier_s3_header h = {PIER_STR("Content-Type"),
                               PIER_STR(MANIFEST_TYPE)};
    char key[512];
    int rc;

    pier_buf_init(&zst, PUBLISH_MANIFEST_ZST_MAX);
    if (sites_manifest_store_zst(x->m, 3, &zst, err) != PIER_OK) {
        pier_buf_release(&zst);
        return PIER_ERR;
    }
    manifest_key(key, sizeof(key), x->o->site, x->res->deploy);
    r.key = key;
    r.body = zst.data;
    r.body_len = zst.len;
    r.if_none_match = "*";
    r.headers = &h;
    r.nheaders = 1;
    rc = sync_req(x->s3, PIER_S3_OP_PUT, &r, &resp, err);
    pier_s3_response_release(&resp);
    x->res->bytes_uploaded += zst.len;
    pier_buf_release(&zst);
    if (rc != PIER_OK) {
        return PIER_ERR;
    }
    return live_flip_tree(x->s3, x->o->site, x->res->deploy, x->live_etag,
                          x->tree_hex[0] != '\0' ? x->tree_hex : NULL,
                          &x->res->lost_race, x->res->winner, err);
}

/* publish_notify_delta, also copying the answers of the first nres edges
 * into res (res[i] for edges[i]). */
static int notify_edges(const struct sites_delta *delta,
                        const char *const *edges, size_t nedges,
                        const char *token, unsigned timeout_ms, int out_fd,
                        size_t *ok, size_t *failed,
                        struct publish_edge_result *res, size_t nres,
                        struct pier_err *err);

int
publish_notify_delta(const struct sites_delta *delta, const char *const *edges,
                     size_t nedges, const char *token, unsigned timeout_ms,
                     int out_fd, size_t *ok, size_t *failed,
                     struct pier_err *err)
{
    return notify_edges(delta, edges, nedges, token, timeout_ms,
                                  out_fd, ok, failed, NULL, 0, err);
}

static int
notify_edges(const struct sites_delta *delta, const char *const *edges,
             size_t nedges, const char *token, unsigned timeout_ms, int out_fd,
             size_t *ok, size_t *failed, struct publish_edge_result *res,
             size_t nres, struct pier_err *err)
{
    struct publish_edge_result *r;
    struct pier_buf json;
    char **urls;
    size_t i;

    *ok = 0;
    *failed = 0;
    if (nedges == 0) {
        return PIER_OK;
    }
    pier_buf_init(&json, SIZE_MAX);
    if (sites_delta_encode(delta, &json, err) != PIER_OK) {
        pier_buf_release(&json);
        return PIER_ERR;
    }
    /* The edge's admin API: POST /v1/sites/{site}/activate. */
    urls = pier_calloc(nedges, sizeof(*urls));
    for (i = 0; i < nedges; i++) {
        size_t bn = strlen(edges[i]);
        struct pier_buf u;

        while (bn > 0 && edges[i][bn - 1] == '/') {
            bn--;
        }
        pier_buf_init(&u, SIZE_MAX);
        PIER_ASSERT(pier_buf_addf(&u, "%.*s/v1/sites/%s/activate", (int) bn,
                                  edges[i], sites_delta_site(delta))
                    == PIER_OK);
        urls[i] = pier_buf_detach(&u, NULL);
    }
    r = pier_calloc(nedges, sizeof(*r));
    publish_notify((const char *const *) urls, nedges, token, json.data,
                   json.len, timeout_ms != 0 ? timeout_ms : 5000, r);
    for (i = 0; i < nedges; i++) {
        pier_free(urls[i]);
    }
    pier_free(urls);
    for (i = 0; i < nedges && i < nres; i++) {
        res[i] = r[i];
    }
    for (i = 0; i < nedges; i++) {
        char why[300];

        if (r[i].ok) {
            (*ok)++;
            if (out_fd >= 0) {
                dprintf(out_fd, "edge %s: applied (%.0f ms)\n", edges[i],
                        r[i].ms);
            }
            continue;
        }
        (*failed)++;
        if (r[i].status != 0) {
            snprintf(why, sizeof(why), "status %d %s", r[i].status, r[i].msg);
        } else {
            snprintf(why, sizeof(why), "%s", r[i].msg);
        }
        if (out_fd >= 0) {
            dprintf(out_fd,
                    "edge %s: not applied: %s (%.0f ms); it will find the "
                    "new deploy by polling live/\n",
                    edges[i], why, r[i].ms);
        }
    }
    pier_free(r);
    pier_buf_release(&json);
    return PIER_OK;
}

/* Step 7: the delta to every edge; their answers are reported, not
 * acted on. */
static int
notify(struct ctx *x, struct pier_err *err)
{
    const struct publish_opts *o = x->o;

    x->res->nedge_res = o->nedges < PUBLISH_EDGES_SHOW ? o->nedges
                                                       : PUBLISH_EDGES_SHOW;
    publish_progress_line(&x->prog, "%s: telling %zu edges", o->site,
                          o->nedges);
    /* Their answers go to the summary (publish/report.h). */
    return notify_edges(x->delta, o->edges, o->nedges, o->edge_token,
                                  o->edge_timeout_ms, -1, &x->res->edges_ok,
                                  &x->res->edges_failed, x->res->edge_res,
                                  PUBLISH_EDGES_SHOW, err);
}

static void
ctx_release(struct ctx *x)
{
    size_t i;

    sites_delta_free(x->delta);
    sites_manifest_free(x->m);
    sites_manifest_free(x->old);
    sites_manifest_free(x->sibling);
    publish_graph_free(x->g);
    for (i = 0; x->bufs != NULL && i < x->files.n; i++) {
        pier_buf_release(&x->bufs[i]);
    }
    pier_free(x->bufs);
    pier_free(x->shas);
    pier_free(x->in);
    pier_free(x->blobs);
    pier_free(x->blob_of);
    pier_free(x->known);
    pier_free(x->live_etag);
    pier_buf_release(&x->redirects);
    pier_buf_release(&x->headers);
    publish_files_release(&x->files);
    publish_build_cleanup(x->build_dir);
    publish_settings_release(&x->set);
    pier_s3_sync_free(x->s3);
    publish_repo_free(x->repo);
}

static int
run(struct ctx *x, struct pier_err *err)
{
    const struct publish_opts *o = x->o;
    struct publish_result *res = x->res;
    double t0 = now_ms(), t;
    size_t i;

    x->repo = publish_repo_open(o->repo, err);
    if (x->repo == NULL) {
        return PIER_ERR;
    }
    if (publish_repo_resolve(x->repo, o->ref != NULL ? o->ref : "HEAD",
                             &x->commit, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    git_oid_tostr(x->commit_hex, sizeof(x->commit_hex), &x->commit);
    {
        git_commit *c = NULL;

        if (git_commit_lookup(&c, publish_repo_git(x->repo), &x->commit)
            == 0) {
            git_oid_tostr(x->tree_hex, sizeof(x->tree_hex),
                          git_commit_tree_id(c));
        }
        git_commit_free(c);
        git_error_clear();
    }
    if (o->s3 != NULL) {
        x->s3 = pier_s3_sync_new(o->s3, err);
        if (x->s3 == NULL) {
            return PIER_ERR;
        }
    } else if (!o->dry_run) {
        return pier_err_set(err, "no object store given");
    }
    if (read_live(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    site_urls(x);
    if (x->live_same || same_tree(x)) {
        res->noop = true;
        snprintf(res->deploy, sizeof(res->deploy), "%s", res->previous);
        res->ms_total = now_ms() - t0;
        return PIER_OK;
    }
    if (publish_repo_settings(x->repo, &x->commit, &x->set, err) != PIER_OK
        || list_files(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    publish_progress_line(&x->prog, "%s: commit %.10s, %zu files: reading",
                          o->site, x->commit_hex, x->files.n);
    res->ms_read = now_ms() - t0;
    if (make_graph(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    t = now_ms();
    group_blobs(x);
    res->blobs = x->nblobs;
    res->ms_graph += now_ms() - t;
    if (sites_deploy_id_new(o->now != 0 ? o->now * 1000 : wall_ms(),
                            x->commit_hex, res->deploy, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    t = now_ms();
    if (upload_blobs(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    res->ms_upload = now_ms() - t;
    if (make_manifest(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    x->delta = sites_delta_compute(x->old, x->m, err);
    if (x->delta == NULL) {
        return PIER_ERR;
    }
    res->changed = sites_delta_count(x->delta);
    for (i = 0; i < res->changed && i < PUBLISH_CHANGED_SHOW; i++) {
        const char *path;

        sites_delta_at(x->delta, i, &path);
        snprintf(res->changed_show[i], sizeof(res->changed_show[i]), "%s",
                 path);
        res->nchanged_show++;
    }
    t = now_ms();
    if (!o->dry_run) {
        publish_progress_line(&x->prog, "%s: storing the manifest of %s, "
                              "making it live", o->site, res->deploy);
    }
    if (!o->dry_run && activate(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    res->ms_activate = now_ms() - t;
    t = now_ms();
    if (!o->dry_run && !res->lost_race && o->nedges > 0
        && notify(x, err) != PIER_OK) {
        return PIER_ERR;
    }
    res->ms_notify = now_ms() - t;
    res->ms_total = now_ms() - t0;
    return PIER_OK;
}

int
publish_run(const struct publish_opts *o, struct publish_result *res,
            struct pier_err *err)
{
    struct ctx x;
    int rc;

    PIER_ASSERT(o->site != NULL);
    memset(&x, 0, sizeof(x));
    memset(res, 0, sizeof(*res));
    x.o = o;
    x.res = res;
    publish_progress_init(&x.prog, o->quiet ? -1 : o->out_fd);
    publish_settings_init(&x.set);
    publish_files_init(&x.files);
    pier_buf_init(&x.redirects, 1024 * 1024);
    pier_buf_init(&x.headers, 1024 * 1024);
    rc = run(&x, err);
    publish_progress_end(&x.prog);
    ctx_release(&x);
    return rc;
}
