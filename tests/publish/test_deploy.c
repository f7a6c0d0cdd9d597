/*
 * tests/publish/test_deploy.c - publish/deploy.c end to end against lib's
 * loopback S3 test origin (signatures checked, conditional PUTs honoured):
 * a first deploy, a no-op, one changed page, one changed stylesheet, a
 * failing build, a bad _redirects line, a store failing mid-upload.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/deploy.h"
#include "publish/history.h"
#include "publish/internal.h"
#include "tests/lib/s3_test_origin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[256];
static char repo[300];
static struct s3_test_origin *origin;
static struct pier_s3_config cfg;
static char edge_parent[SITES_DEPLOY_ID_MAX + 1]; /* set by the edge test */

static void PIER_PRINTF(1, 2) sh(const char *fmt, ...)
{
    char cmd[4096], line[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line),
             "cd '%s' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t "
             "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t "
             "GIT_CONFIG_NOSYSTEM=1 HOME='%s' && (%s) >/dev/null 2>&1",
             repo, root, cmd);
    if (system(line) != 0) {
        fail_msg("command failed: %s", cmd);
    }
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    (void) state;
    snprintf(root, sizeof(root), "%s/pier-test-deploy.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    snprintf(repo, sizeof(repo), "%s/site", root);
    if (mkdir(repo, 0700) != 0) {
        return -1;
    }
    sh("git init -q -b main . && mkdir -p css img"
       " && printf '<!doctype html><link rel=stylesheet href=css/site.css>"
       "<img src=\"img/logo.png\"><a href=about.html>about</a>\\n' > index.html"
       " && printf '<p>about <img src=/img/logo.png>\\n' > about.html"
       " && printf 'body{background:url(../img/bg.png)}\\n' > css/site.css"
       " && printf 'LOGO' > img/logo.png && printf 'BG' > img/bg.png"
       " && for i in $(seq 200); do echo \"line $i of a long text\"; done"
       " > big.txt"
       " && printf '/old /about 301\\n' > _redirects"
       " && git add -A && git commit -qm one");
    origin = s3_test_origin_start("AKIDTEST", "secretsecret", "us-east-1",
                                  "pier", NULL);
    pier_s3_config_init(&cfg);
    cfg.endpoint = s3_test_origin_endpoint(origin);
    cfg.bucket = "pier";
    cfg.access_key_id = "AKIDTEST";
    cfg.secret_access_key = "secretsecret";
    cfg.retry_base_ms = 10;
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    s3_test_origin_stop(origin);
    sh("rm -rf '%s'", root);
    return 0;
}

static int
publish(struct publish_result *res, struct pier_err *err)
{
    struct publish_opts o = {
        .site = "blog",
        .repo = repo,
        .s3 = &cfg,
        .out_fd = -1,
    };

    return publish_run(&o, res, err);
}

/* The live manifest of a site, decoded from the store. */
static struct sites_manifest *
site_manifest(const char *site)
{
    struct pier_buf id, zst;
    struct pier_err err;
    struct sites_manifest *m;
    char key[256];

    pier_buf_init(&id, SIZE_MAX);
    pier_buf_init(&zst, SIZE_MAX);
    snprintf(key, sizeof(key), "live/%s", site);
    assert_true(s3_test_origin_get(origin, key, &id));
    snprintf(key, sizeof(key), "sites/%s/deploys/%s.json.zst", site, id.data);
    assert_true(s3_test_origin_get(origin, key, &zst));
    m = sites_manifest_load_zst(zst.data, zst.len, SIZE_MAX, &err);
    if (m == NULL) {
        fail_msg("%s", err.msg);
    }
    pier_buf_release(&id);
    pier_buf_release(&zst);
    return m;
}

static struct sites_manifest *
live_manifest(void)
{
    return site_manifest("blog");
}

static const struct sites_entry *
entry(const struct sites_manifest *m, const char *path)
{
    const struct sites_entry *e =
        sites_manifest_get(m, pier_str_cstr(path), NULL);

    if (e == NULL) {
        fail_msg("no '%s' in the manifest", path);
    }
    return e;
}

static void
assert_blob(const char *sha, const char *suffix)
{
    struct pier_buf b;
    char key[128];

    pier_buf_init(&b, SIZE_MAX);
    snprintf(key, sizeof(key), "blobs/%s%s", sha, suffix);
    if (!s3_test_origin_get(origin, key, &b)) {
        fail_msg("no blob '%s'", key);
    }
    pier_buf_release(&b);
}

static void
test_deploy_first_publish(void **state)
{
    struct publish_result res;
    struct pier_err err;
    struct sites_manifest *m;
    const struct sites_entry *e;
    struct pier_buf b;
    char key[128];
    size_t i;

    (void) state;
    if (publish(&res, &err) != PIER_OK) {
        fail_msg("%s", err.msg);
    }
    assert_false(res.noop);
    assert_false(res.lost_race);
    assert_string_equal(res.previous, "");
    assert_int_equal(res.files, 6); /* _redirects is not a file */
    assert_int_equal(res.blobs, 6);
    assert_int_equal(res.blobs_uploaded, 6);
    assert_int_equal(res.variants_uploaded, 3); /* big.txt's */
    assert_int_equal(res.blobs_known, 0);
    assert_int_equal(res.changed, 6);
    m = live_manifest();
    assert_string_equal(sites_manifest_deploy(m), res.deploy);
    assert_null(sites_manifest_parent(m));
    assert_int_equal(sites_manifest_count(m), 6);
    for (i = 0; i < sites_manifest_count(m); i++) {
        assert_blob(sites_manifest_at(m, i)->sha256, "");
    }
    /* Assets are hashed and also kept at their path. */
    e = entry(m, "/css/site.css");
    assert_int_equal(e->klass, SITES_CLASS_ASSET);
    assert_non_null(e->alias);
    assert_true(strncmp(e->alias, "/css/site.", 10) == 0);
    assert_int_equal(entry(m, "/img/bg.png")->klass, SITES_CLASS_ASSET);
    assert_int_equal(entry(m, "/index.html")->klass, SITES_CLASS_ENTRY);
    assert_int_equal(entry(m, "/big.txt")->klass, SITES_CLASS_ENTRY);
    assert_int_equal(entry(m, "/about.html")->klass, SITES_CLASS_ENTRY);
    assert_string_equal(entry(m, "/index.html")->type,
                        "text/html; charset=utf-8");
    assert_int_equal(strlen(entry(m, "/index.html")->git_blob), 40);
    /* The page points at the hashed stylesheet. */
    pier_buf_init(&b, SIZE_MAX);
    snprintf(key, sizeof(key), "blobs/%s", entry(m, "/index.html")->sha256);
    assert_true(s3_test_origin_get(origin, key, &b));
    assert_non_null(strstr(b.data, e->alias + 1));
    /* The long text has its variants, each stored; the tiny files none. */
    e = entry(m, "/big.txt");
    assert_true(e->enc_size[SITES_ENC_BR] > 0);
    assert_true(e->enc_size[SITES_ENC_BR] < e->size);
    assert_true(e->enc_size[SITES_ENC_ZSTD] > 0);
    assert_true(e->enc_size[SITES_ENC_GZIP] > 0);
    assert_blob(e->sha256, ".br");
    assert_blob(e->sha256, ".zst");
    assert_blob(e->sha256, ".gz");
    assert_int_equal(entry(m, "/img/logo.png")->enc_size[SITES_ENC_BR], 0);
    /* Metadata: the type and the class's caching. */
    snprintf(key, sizeof(key), "blobs/%s", entry(m, "/img/bg.png")->sha256);
    assert_true(s3_test_origin_header(origin, key, "cache-control", &b));
    assert_string_equal(b.data, "public, max-age=31536000, immutable");
    /* _redirects went into the manifest, not out as a file. */
    assert_true(sites_manifest_redirects_text(m).len > 0);
    assert_null(sites_manifest_get(m, PIER_STR("/_redirects"), NULL));
    pier_buf_release(&b);
    sites_manifest_free(m);
}

static void
test_deploy_same_tree_is_noop(void **state)
{
    struct publish_result res;
    struct pier_err err;
    struct s3_test_origin_stats a, b;
    struct pier_buf live;

    (void) state;
    pier_buf_init(&live, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, "live/blog", &live));
    s3_test_origin_stats(origin, &a);
    /* A new commit with the same tree is the same site. */
    sh("git commit -q --allow-empty -m again");
    assert_int_equal(publish(&res, &err), PIER_OK);
    s3_test_origin_stats(origin, &b);
    assert_true(res.noop);
    assert_string_equal(res.deploy, live.data);
    /* live (its metadata names the tree: no manifest), the site's
     * record (its URLs) */
    assert_int_equal(b.requests - a.requests, 2);
    pier_buf_release(&live);
}

/* What an incremental publish made must be what a full one makes: publish
 * the same commit as a new site (no live deploy: everything parsed) and
 * compare every record but the git ids' provenance. */
static void
assert_same_as_full(const char *site)
{
    struct publish_opts o = {
        .site = site,
        .repo = repo,
        .s3 = &cfg,
        .out_fd = -1,
    };
    struct publish_result res;
    struct pier_err err;
    struct sites_manifest *inc, *full;
    struct pier_buf zst, id;
    char key[256];
    size_t i;

    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    pier_buf_init(&zst, SIZE_MAX);
    pier_buf_init(&id, SIZE_MAX);
    snprintf(key, sizeof(key), "sites/%s/deploys/%s.json.zst", site,
             res.deploy);
    assert_true(s3_test_origin_get(origin, key, &zst));
    full = sites_manifest_load_zst(zst.data, zst.len, SIZE_MAX, &err);
    assert_non_null(full);
    inc = live_manifest();
    assert_int_equal(sites_manifest_count(inc), sites_manifest_count(full));
    for (i = 0; i < sites_manifest_count(full); i++) {
        const struct sites_entry *a = sites_manifest_at(inc, i);
        const struct sites_entry *b = sites_manifest_at(full, i);

        assert_string_equal(a->path, b->path);
        assert_string_equal(a->sha256, b->sha256);
        assert_int_equal(a->klass, b->klass);
        assert_int_equal(a->alias == NULL, b->alias == NULL);
        if (a->alias != NULL) {
            assert_string_equal(a->alias, b->alias);
        }
    }
    sites_manifest_free(inc);
    sites_manifest_free(full);
    pier_buf_release(&zst);
    pier_buf_release(&id);
}

static void
test_deploy_one_page_changed(void **state)
{
    struct publish_result res;
    struct pier_err err;
    struct sites_manifest *before, *after;

    (void) state;
    before = live_manifest();
    sh("printf '<p>about, changed <img src=/img/logo.png>\\n' > about.html"
       " && git commit -qam two");
    assert_int_equal(publish(&res, &err), PIER_OK);
    after = live_manifest();
    assert_int_equal(res.blobs_uploaded, 1);
    assert_int_equal(res.variants_uploaded, 0);
    assert_int_equal(res.blobs_known, 5);
    assert_int_equal(res.blobs_present, 0);
    assert_int_equal(res.changed, 1);
    assert_int_equal(res.docs_parsed, 1); /* the page; the others kept */
    assert_string_equal(sites_manifest_parent(after),
                        sites_manifest_deploy(before));
    assert_string_not_equal(entry(after, "/about.html")->sha256,
                            entry(before, "/about.html")->sha256);
    assert_string_equal(entry(after, "/index.html")->sha256,
                        entry(before, "/index.html")->sha256);
    sites_manifest_free(before);
    sites_manifest_free(after);
    assert_same_as_full("full1");
}

static void
test_deploy_stylesheet_change_renames_it(void **state)
{
    struct publish_result res;
    struct pier_err err;
    struct sites_manifest *before, *after;

    (void) state;
    before = live_manifest();
    sh("printf 'BG2' > img/bg.png && git commit -qam three");
    assert_int_equal(publish(&res, &err), PIER_OK);
    after = live_manifest();
    /* The image, the stylesheet that uses it, the page that uses that. */
    assert_int_equal(res.blobs_uploaded, 3);
    assert_int_equal(res.changed, 3);
    assert_string_not_equal(entry(after, "/css/site.css")->alias,
                            entry(before, "/css/site.css")->alias);
    assert_string_not_equal(entry(after, "/index.html")->sha256,
                            entry(before, "/index.html")->sha256);
    assert_string_equal(entry(after, "/about.html")->sha256,
                        entry(before, "/about.html")->sha256);
    /* bg.png changed: site.css names it, index.html names site.css;
     * about.html names neither and is not parsed. */
    assert_int_equal(res.docs_parsed, 2);
    sites_manifest_free(before);
    sites_manifest_free(after);
    assert_same_as_full("full2");
}

static void
assert_live_is(const char *want)
{
    struct pier_buf live;

    pier_buf_init(&live, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, "live/blog", &live));
    assert_string_equal(live.data, want);
    pier_buf_release(&live);
}

static void
test_deploy_failures_leave_live_alone(void **state)
{
    struct publish_result res;
    struct pier_err err;
    struct pier_buf live;

    (void) state;
    pier_buf_init(&live, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, "live/blog", &live));
    /* A failing build. */
    sh("printf '[build]\\ncommand = echo compiling; exit 4\\n' > pier.ini"
       " && git add pier.ini && git commit -qm build");
    assert_int_equal(publish(&res, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "exit status 4"));
    assert_live_is(live.data);
    /* A build whose output leads out of the checkout. */
    sh("printf '[build]\\ncommand = ln -s /etc public\\n' > pier.ini"
       " && git commit -qam escape");
    assert_int_equal(publish(&res, &err), PIER_ERR);
    if (strstr(err.msg, "leads out of the checkout") == NULL) {
        fail_msg("got '%s'", err.msg);
    }
    assert_live_is(live.data);
    /* A bad _redirects line, named. */
    sh("git rm -q pier.ini && printf '/old /about 301\\n/x\\n' > _redirects"
       " && git commit -qam redirects");
    assert_int_equal(publish(&res, &err), PIER_ERR);
    if (strstr(err.msg, "_redirects:2") == NULL) {
        fail_msg("got '%s'", err.msg);
    }
    assert_live_is(live.data);
    /* The store failing mid-upload: nothing live; the next run completes. */
    sh("printf '/old /about 301\\n' > _redirects && echo new > new.txt"
       " && git add -A && git commit -qm fixed");
    cfg.max_retries = 0;
    s3_test_origin_fail_next(origin, 1000, 503);
    assert_int_equal(publish(&res, &err), PIER_ERR);
    s3_test_origin_fail_next(origin, 0, 503);
    cfg.max_retries = 3;
    assert_live_is(live.data);
    assert_int_equal(publish(&res, &err), PIER_OK);
    assert_string_equal(res.previous, live.data);
    assert_int_equal(res.blobs_uploaded, 1);
    assert_live_is(res.deploy);
    pier_buf_release(&live);
}

/* Blobs another site already stored are found by HEAD, not sent again,
 * and their variants are listed. */
static void
test_deploy_second_site_uploads_no_blob(void **state)
{
    struct publish_opts o = {
        .site = "mirror",
        .repo = repo,
        .s3 = &cfg,
        .out_fd = -1,
    };
    struct publish_result res;
    struct pier_err err;
    struct sites_manifest *a, *b;
    size_t i;

    (void) state;
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    assert_int_equal(res.blobs_uploaded, 0);
    assert_int_equal(res.variants_uploaded, 0);
    /* Found in the store, or known from blog's manifest of the commit. */
    assert_int_equal(res.blobs_present + res.blobs_known, res.blobs);
    assert_string_equal(res.previous, "");
    /* The variants were found with their sizes. */
    a = site_manifest("blog");
    b = site_manifest("mirror");
    assert_int_equal(sites_manifest_count(a), sites_manifest_count(b));
    for (i = 0; i < sites_manifest_count(a); i++) {
        assert_memory_equal(sites_manifest_at(a, i)->enc_size,
                            sites_manifest_at(b, i)->enc_size,
                            sizeof(sites_manifest_at(a, i)->enc_size));
    }
    assert_true(entry(b, "/big.txt")->enc_size[SITES_ENC_BR] > 0);
    sites_manifest_free(a);
    sites_manifest_free(b);
}

/* Many blobs to look up: one survey of blobs/ (16 listings) answers for
 * all of them, instead of a request per blob, and finds those stored (with
 * their variants' sizes); a site's first deploy of a commit another site
 * has live starts from that site's manifest and reads nothing. */
static void
test_deploy_survey_and_sibling(void **state)
{
    char many[320];
    struct publish_opts o = {
        .site = "many",
        .repo = many,
        .s3 = &cfg,
        .out_fd = -1,
    };
    struct publish_result res;
    struct pier_err err;
    struct s3_test_origin_stats a, b;
    struct sites_manifest *m1, *m2;
    size_t i;

    (void) state;
    snprintf(many, sizeof(many), "%s/many", root);
    sh("mkdir '%s' && cd '%s' && git init -q -b main . && for i in $(seq "
       "300); do echo \"file $i\" > f$i.txt; done && for i in $(seq 200); "
       "do echo \"line $i of another long text\"; done > big2.txt && cp "
       "'%s/big.txt' . && git add -A && git commit -qm many",
       many, many, repo);
    s3_test_origin_stats(origin, &a);
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    s3_test_origin_stats(origin, &b);
    assert_int_equal(res.blobs, 302);
    assert_int_equal(res.blobs_uploaded, 301);
    assert_int_equal(res.blobs_present, 1); /* big.txt, blog's */
    assert_true(res.variants_uploaded > 0);
    /* No lookup per blob: the PUTs, the survey's 16 listings, and a few
     * (live, the site's record, the listing of live/ and each other
     * site's pointer, the manifest, the flip). */
    assert_true(b.requests - a.requests
                <= res.blobs_uploaded + res.variants_uploaded + 16 + 10);

    /* Another commit as another site: the survey finds 302 blobs. */
    sh("cd '%s' && echo a new file of many > new.txt && git add new.txt && git commit -qm "
       "new",
       many);
    o.site = "many-two";
    s3_test_origin_stats(origin, &a);
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    s3_test_origin_stats(origin, &b);
    assert_int_equal(res.blobs, 303);
    assert_int_equal(res.blobs_present, 302);
    assert_int_equal(res.blobs_uploaded, 1);
    assert_int_equal(res.variants_uploaded, 0);
    assert_true(b.requests - a.requests <= 1 + 16 + 12);

    /* The same commit as a third site: from many-two's manifest. */
    o.site = "many-three";
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    assert_int_equal(res.blobs_known, 303);
    assert_int_equal(res.blobs_uploaded + res.blobs_present, 0);
    assert_int_equal(res.read_files, 0);
    assert_int_equal(res.docs_parsed, 0);
    m1 = site_manifest("many-two");
    m2 = site_manifest("many-three");
    assert_int_equal(sites_manifest_count(m1), sites_manifest_count(m2));
    for (i = 0; i < sites_manifest_count(m1); i++) {
        const struct sites_entry *e1 = sites_manifest_at(m1, i);
        const struct sites_entry *e2 = sites_manifest_at(m2, i);

        assert_string_equal(e1->path, e2->path);
        assert_string_equal(e1->sha256, e2->sha256);
        assert_memory_equal(e1->enc_size, e2->enc_size,
                            sizeof(e1->enc_size));
    }
    assert_true(entry(m2, "/big2.txt")->enc_size[SITES_ENC_BR] > 0);
    sites_manifest_free(m1);
    sites_manifest_free(m2);
}

static void
test_deploy_dry_run_writes_nothing(void **state)
{
    struct publish_opts o = {
        .site = "blog",
        .repo = repo,
        .s3 = &cfg,
        .out_fd = -1,
        .dry_run = true,
    };
    struct publish_result res;
    struct pier_err err;
    struct pier_buf live;
    struct s3_test_origin_stats a, b;

    (void) state;
    pier_buf_init(&live, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, "live/blog", &live));
    sh("echo dry > dry.txt && git add dry.txt && git commit -qm dry");
    s3_test_origin_stats(origin, &a);
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    s3_test_origin_stats(origin, &b);
    /* reads only: live, manifest, the site's record */
    assert_int_equal(b.requests - a.requests, 3);
    assert_int_equal(res.blobs_uploaded, 0);
    assert_live_is(live.data);
    pier_buf_release(&live);
}

/* A stand-in for an edge's admin API: one connection, one POST, 200. */
struct stub {
    int fd;
    char url[64];
    struct pier_buf req;
};

static void *
stub_serve(void *arg)
{
    struct stub *st = arg;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "Connection: close\r\n\r\nok";
    int c = accept(st->fd, NULL, NULL);
    char buf[4096];

    if (c < 0) {
        return NULL;
    }
    for (;;) {
        const char *end = strstr(st->req.data, "\r\n\r\n");
        const char *cl = strcasestr(st->req.data, "content-length:");
        ssize_t got;

        if (end != NULL && cl != NULL
            && st->req.len >= (size_t) (end + 4 - st->req.data)
                                  + strtoul(cl + 15, NULL, 10)) {
            break;
        }
        got = read(c, buf, sizeof(buf));
        if (got <= 0) {
            break;
        }
        assert_int_equal(pier_buf_add(&st->req, buf, (size_t) got), PIER_OK);
    }
    if (write(c, ok, sizeof(ok) - 1) < 0) {
        close(c);
        return NULL;
    }
    close(c);
    return NULL;
}

static int
listen_loopback(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &n), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void
test_deploy_tells_the_edges(void **state)
{
    struct stub st;
    struct publish_result res;
    struct pier_err err;
    struct sites_delta *d;
    const struct sites_entry *e;
    const char *path, *body;
    char closed[64];
    const char *edges[2];
    struct publish_opts o = {
        .site = "blog",
        .repo = repo,
        .s3 = &cfg,
        .out_fd = -1,
        .edges = edges,
        .nedges = 2,
        .edge_token = "tok3n",
        .edge_timeout_ms = 3000,
    };
    pthread_t t;
    int port, fd;

    (void) state;
    pier_buf_init(&st.req, SIZE_MAX);
    st.fd = listen_loopback(&port);
    snprintf(st.url, sizeof(st.url), "http://127.0.0.1:%d/", port);
    /* A port nobody listens on: refused. */
    fd = listen_loopback(&port);
    close(fd);
    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", port);
    edges[0] = st.url;
    edges[1] = closed;
    sh("echo edge > edge.txt && git add edge.txt && git commit -qm edge");
    assert_int_equal(pthread_create(&t, NULL, stub_serve, &st), 0);
    assert_int_equal(publish_run(&o, &res, &err), PIER_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(st.fd);
    assert_int_equal(res.edges_ok, 1);
    assert_int_equal(res.edges_failed, 1);
    snprintf(edge_parent, sizeof(edge_parent), "%s", res.previous);
    assert_true(strncmp(st.req.data,
                        "POST /v1/sites/blog/activate HTTP/1.1\r\n", 39)
                == 0);
    assert_non_null(strcasestr(st.req.data, "authorization: Bearer tok3n"));
    body = strstr(st.req.data, "\r\n\r\n") + 4;
    d = sites_delta_decode(body, strlen(body), &err);
    if (d == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(sites_delta_to(d), res.deploy);
    assert_string_equal(sites_delta_from(d), res.previous);
    /* dry.txt, committed by the dry run, and edge.txt: path order. */
    assert_int_equal(sites_delta_count(d), 2);
    e = sites_delta_at(d, 1, &path);
    assert_string_equal(path, "/edge.txt");
    assert_non_null(e);
    sites_delta_free(d);
    pier_buf_release(&st.req);
}

/* A rollback refreshes its target before the flip (publish/gc.h, point
 * 5): with every key counted old, the manifest and the target's blobs
 * that live does not list are copied onto themselves, their headers kept
 * (the blobs live lists need nothing); with such a blob gone, it fails
 * and live stays. live is the live deploy, before and after; its parent
 * (edge_parent) lacks only /edge.txt. */
static void
rollback_refreshes(struct pier_s3_sync *s3, const char *live)
{
    struct publish_refresh_opts ro = {.refresh_age_s = -1};
    struct publish_rollback_result rb;
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct sites_manifest *m;
    const struct sites_entry *se;
    struct pier_buf blob, type;
    struct pier_err err;
    char key[128], mkey[256];

    m = publish_manifest_fetch(s3, "blog", live, &err);
    assert_non_null(m);
    se = sites_manifest_get(m, PIER_STR("/edge.txt"), NULL);
    assert_non_null(se);
    /* Back to the parent: every blob it lists is live; the manifest only. */
    assert_int_equal(publish_rollback(s3, &cfg, "blog", edge_parent, &ro, NULL,
                                      0, NULL, 0, -1, &rb, &err),
                     PIER_OK);
    assert_live_is(edge_parent);
    assert_int_equal(rb.refreshed, 1);
    snprintf(mkey, sizeof(mkey), "sites/blog/deploys/%s.json.zst", edge_parent);
    pier_buf_init(&type, SIZE_MAX);
    assert_true(s3_test_origin_header(origin, mkey, "content-type", &type));
    assert_string_equal(type.data, "application/zstd");
    /* Forward again: /edge.txt's blob (and variants) too. */
    assert_int_equal(publish_rollback(s3, &cfg, "blog", live, &ro, NULL, 0,
                                      NULL, 0, -1, &rb, &err),
                     PIER_OK);
    assert_live_is(live);
    assert_true(rb.refreshed >= 2);
    snprintf(key, sizeof(key), "blobs/%s", se->sha256);
    assert_true(s3_test_origin_header(origin, key, "content-type", &type));
    assert_string_equal(type.data, se->type);
    /* gc deleted /edge.txt's blob while the parent was live. */
    assert_int_equal(publish_rollback(s3, &cfg, "blog", edge_parent, NULL, NULL,
                                      0, NULL, 0, -1, &rb, &err),
                     PIER_OK);
    pier_buf_init(&blob, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, key, &blob));
    r.key = key;
    pier_s3_response_init(&resp);
    assert_int_equal(pier_s3_sync_run(s3, PIER_S3_OP_DELETE, &r, &resp, &err),
                     PIER_OK);
    pier_s3_response_release(&resp);
    assert_int_equal(publish_rollback(s3, &cfg, "blog", live, NULL, NULL, 0,
                                      NULL, 0, -1, &rb, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "can no longer be restored: 1 blobs were "
                                    "deleted by gc; publish it again"));
    assert_live_is(edge_parent);
    s3_test_origin_put(origin, key, blob.data, blob.len);
    assert_int_equal(publish_rollback(s3, &cfg, "blog", live, NULL, NULL, 0,
                                      NULL, 0, -1, &rb, &err),
                     PIER_OK);
    assert_live_is(live);
    pier_buf_release(&blob);
    pier_buf_release(&type);
    sites_manifest_free(m);
}

static void
test_deploy_history_and_rollback(void **state)
{
    struct publish_deploy_info *v;
    struct publish_rollback_result rb;
    struct pier_s3_sync *s3;
    struct pier_err err;
    struct pier_buf live;
    size_t n, i, live_n, loaded;

    (void) state;
    s3 = pier_s3_sync_new(&cfg, &err);
    assert_non_null(s3);
    pier_buf_init(&live, SIZE_MAX);
    assert_true(s3_test_origin_get(origin, "live/blog", &live));
    /* first, one page, stylesheet, fixed, edge; in id order, which is
     * time to the second (these all ran within a few). */
    assert_int_equal(publish_deploys_list(s3, "blog", 2, &v, &n, &err),
                     PIER_OK);
    assert_int_equal(n, 5);
    for (i = 0, live_n = 0, loaded = 0; i < n; i++) {
        if (i + 1 < n) {
            assert_true(strcmp(v[i].id, v[i + 1].id) < 0);
        }
        live_n += v[i].live;
        loaded += v[i].loaded;
        if (v[i].live) {
            assert_string_equal(v[i].id, live.data);
        }
    }
    assert_int_equal(live_n, 1);
    assert_int_equal(loaded, 2);
    assert_true(v[n - 1].loaded && !v[0].loaded);
    assert_int_equal(strlen(v[n - 1].commit), 40);
    assert_true(v[n - 1].files > 0 && v[n - 1].bytes > 0);
    /* Back to the previous deploy: live moves, edges would hear of it. */
    assert_int_equal(publish_rollback(s3, &cfg, "blog", NULL, NULL, NULL, 0,
                                      NULL, 0, -1, &rb, &err),
                     PIER_OK);
    assert_string_equal(rb.from, live.data);
    assert_string_equal(rb.to, edge_parent);
    assert_int_equal(rb.changed, 2); /* dry.txt and edge.txt go away */
    assert_live_is(edge_parent);
    /* Forward again by id; then the errors. */
    assert_int_equal(publish_rollback(s3, &cfg, "blog", live.data, NULL, NULL,
                                      0, NULL, 0, -1, &rb, &err),
                     PIER_OK);
    assert_live_is(live.data);
    rollback_refreshes(s3, live.data);
    assert_int_equal(publish_rollback(s3, &cfg, "blog", live.data, NULL, NULL,
                                      0, NULL, 0, -1, &rb, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "already live"));
    assert_int_equal(publish_rollback(s3, &cfg, "blog", "20200101T000000Z-nope",
                                      NULL, NULL, 0, NULL, 0, -1, &rb, &err),
                     PIER_ERR);
    assert_live_is(live.data);
    assert_int_equal(publish_rollback(s3, &cfg, "nosite", NULL, NULL, NULL, 0,
                                      NULL, 0, -1, &rb, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "no live deploy"));
    pier_free(v);
    pier_buf_release(&live);
    pier_s3_sync_free(s3);
}

/* Stands in for a second publisher: when the build has started (after
 * ours read live/blog), it flips live/blog itself, then lets the build
 * finish. */
static void *
rival(void *arg)
{
    char m1[400], m2[400];
    struct timespec ts = {0, 10 * 1000 * 1000};
    int i;

    (void) arg;
    snprintf(m1, sizeof(m1), "%s/m1", root);
    snprintf(m2, sizeof(m2), "%s/m2", root);
    for (i = 0; i < 2000 && access(m1, F_OK) != 0; i++) {
        nanosleep(&ts, NULL);
    }
    s3_test_origin_put(origin, "live/blog", "20261124T000000Z-rival", 22);
    close(open(m2, O_CREAT | O_WRONLY, 0600));
    return NULL;
}

static void
test_deploy_lost_race_leaves_winner_live(void **state)
{
    struct publish_result res;
    struct pier_err err;
    pthread_t t;

    (void) state;
    sh("printf '[build]\\ncommand = touch %s/m1; while [ ! -e %s/m2 ];"
       " do sleep 0.01; done; mkdir -p public; echo hi > public/index.html"
       "\\ntimeout = 30\\n' > pier.ini && git add pier.ini"
       " && git commit -qm race",
       root, root);
    assert_int_equal(pthread_create(&t, NULL, rival, NULL), 0);
    assert_int_equal(publish(&res, &err), PIER_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(res.lost_race);
    assert_string_equal(res.winner, "20261124T000000Z-rival");
    assert_live_is("20261124T000000Z-rival");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_first_publish),
        cmocka_unit_test(test_deploy_same_tree_is_noop),
        cmocka_unit_test(test_deploy_one_page_changed),
        cmocka_unit_test(test_deploy_stylesheet_change_renames_it),
        cmocka_unit_test(test_deploy_failures_leave_live_alone),
        cmocka_unit_test(test_deploy_second_site_uploads_no_blob),
        cmocka_unit_test(test_deploy_survey_and_sibling),
        cmocka_unit_test(test_deploy_dry_run_writes_nothing),
        cmocka_unit_test(test_deploy_tells_the_edges),
        cmocka_unit_test(test_deploy_history_and_rollback),
        cmocka_unit_test(test_deploy_lost_race_leaves_winner_live),
    };

    return cmocka_run_group_tests_name("publish/deploy", tests, setup,
                                       teardown);
}
