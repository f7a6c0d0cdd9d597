/*
 * hooks/site.c - `pier site`: create, list, show and remove sites, edit
 * their domains, store their certificates.
 *
 * A site is its record in the bucket (sites/<name>.ini, sites/record.h),
 * written with If-None-Match: * so two creations of one name cannot both
 * win, plus, on the machine that runs `pier site create`, a bare
 * repository DATA/repos/<name>.git whose pre-receive hook publishes pushes
 * to the production branch (hooks/repo.h). Edits rewrite the record with
 * If-Match on the ETag they read, so two concurrent edits cannot both
 * win: the loser re-reads and applies its change again.
 */
#include "config.h"

#include "pier.h"

#include "hooks/cert.h"
#include "hooks/repo.h"
#include "lib/cli.h"
#include "lib/clientconf.h"
#include "publish/notify.h"
#include "sites/record.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage_line[] =
    "create NAME [--domain D]... [--branch B] [--redirect-https] "
    "[--hsts SECONDS] [--repo-dir DIR] | list | show NAME | "
    "domain add|rm NAME D | cert NAME (--cert F --key F | --self-signed) | "
    "rm NAME [--yes]  [--data DIR] [--endpoint URL] [--bucket B]";

static void
help(void)
{
    printf("usage: pier site %s\n\n"
           "Sites live in the store's registry (sites/NAME.ini in the "
           "bucket);\nthe edges serve each on its domains and on "
           "NAME.localhost.\n\n"
           "  create NAME        register the site and make its git "
           "repository,\n"
           "                     DATA/repos/NAME.git, whose pushes to the "
           "production\n"
           "                     branch publish it\n"
           "    --domain D       a domain to serve it on (repeatable; "
           "*.example.com\n"
           "                     is a wildcard)\n"
           "    --branch B       the production branch (main)\n"
           "    --redirect-https send HTTP visitors to HTTPS\n"
           "    --hsts SECONDS   send Strict-Transport-Security\n"
           "    --repo-dir DIR   make the repository in DIR, not "
           "DATA/repos\n"
           "  list               every site, its domains and live deploy\n"
           "  show NAME          one site's record and live deploy\n"
           "  domain add NAME D  serve the site on D too\n"
           "  domain rm NAME D   stop serving it on D\n"
           "  cert NAME --cert F --key F\n"
           "                     store the site's certificate chain and "
           "key (PEM) as\n"
           "                     tls/NAME/ in the bucket, where edges read "
           "them\n"
           "    --self-signed    instead, make a self-signed pair for its "
           "domains and\n"
           "                     NAME.localhost (local testing)\n"
           "  rm NAME            remove the record and the live pointer "
           "(the edges stop\n"
           "                     serving it); deploys, blobs and the "
           "repository\n"
           "                     stay\n"
           "    --yes            do not ask (needed when stdin is not a "
           "terminal)\n\n"
           "  --data DIR         data directory whose pier.conf to use\n"
           "  --config FILE     pier.conf to use\n"
           "  --endpoint URL     the object store (else pier.conf, else "
           "$AWS_ENDPOINT_URL)\n"
           "  --bucket B         the bucket (pier)\n"
           "  -h, --help         this help\n",
           usage_line);
}

struct site_ctx {
    struct pier_client_conf conf;
    struct pier_s3_sync *s3;
    const char *repo_dir; /* --repo-dir; NULL: DATA/repos */
    const struct pier_client_args *args; /* the shared client flags */
};

/* How many times an edit re-reads a record another edit changed under it. */
#define SITE_EDIT_TRIES 8

/* GET key into out; its ETag (quoted) into etag when not NULL. */
static int
get_text_etag(struct site_ctx *x, const char *key, struct pier_buf *out,
              char *etag, size_t etag_size, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    int rc;

    r.key = key;
    r.max_body = 1 << 20;
    pier_s3_response_init(&resp);
    rc = pier_s3_sync_run(x->s3, PIER_S3_OP_GET, &r, &resp, err);
    if (rc == PIER_OK
        && pier_buf_addstr(out, pier_buf_str(&resp.body)) != PIER_OK) {
        rc = pier_err_set(err, "'%s' is too large", key);
    }
    if (rc == PIER_OK && etag != NULL) {
        snprintf(etag, etag_size, "%.*s", (int) resp.etag.len, resp.etag.ptr);
    }
    pier_s3_response_release(&resp);
    return rc;
}

static int
get_text(struct site_ctx *x, const char *key, struct pier_buf *out,
         struct pier_err *err)
{
    return get_text_etag(x, key, out, NULL, 0, err);
}

/* PUT n bytes of text as key, with If-Match: if_match when not NULL. */
static int
put_text(struct site_ctx *x, const char *key, const char *text, size_t n,
         const char *content_type, const char *if_match, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_s3_header ct = {PIER_STR("Content-Type"),
                                pier_str_cstr(content_type)};
    int rc;

    r.key = key;
    r.body = text;
    r.body_len = n;
    r.if_match = if_match;
    r.headers = &ct;
    r.nheaders = 1;
    pier_s3_response_init(&resp);
    rc = pier_s3_sync_run(x->s3, PIER_S3_OP_PUT, &r, &resp, err);
    pier_s3_response_release(&resp);
    return rc;
}

/* The live deploy's id, or "(none)". */
static void
live_of(struct site_ctx *x, const char *site, struct pier_buf *out)
{
    char key[128];
    struct pier_err err;

    snprintf(key, sizeof(key), "live/%s", site);
    if (get_text(x, key, out, &err) != PIER_OK) {
        pier_buf_reset(out);
        if (pier_buf_adds(out, err.s3 == PIER_S3_NO_SUCH_KEY ? "(none)"
                                                             : "(unknown)")
            != PIER_OK) {
            return;
        }
    }
    while (out->len > 0
           && (out->data[out->len - 1] == '\n'
               || out->data[out->len - 1] == '\r')) {
        pier_buf_truncate(out, out->len - 1);
    }
}

/* Read and parse sites/<name>.ini; its ETag into etag when not NULL
 * (etag_size bytes). */
static int
load_record_etag(struct site_ctx *x, const char *name, struct sites_record *rec,
                 char *etag, size_t etag_size, struct pier_err *err)
{
    char key[128];
    struct pier_buf text;
    int rc;

    if (!sites_name_ok(pier_str_cstr(name))) {
        return pier_err_set(err, "'%s' is not a site name", name);
    }
    snprintf(key, sizeof(key), "sites/%s.ini", name);
    pier_buf_init(&text, 1 << 20);
    rc = get_text_etag(x, key, &text, etag, etag_size, err);
    if (rc != PIER_OK && err->s3 == PIER_S3_NO_SUCH_KEY) {
        rc = pier_err_set(err, "no site '%s'", name);
    }
    if (rc == PIER_OK) {
        rc = sites_record_parse(rec, key, text.data, text.len, err);
    }
    pier_buf_release(&text);
    return rc;
}

static int
load_record(struct site_ctx *x, const char *name, struct sites_record *rec,
            struct pier_err *err)
{
    return load_record_etag(x, name, rec, NULL, 0, err);
}

static void
print_record(struct site_ctx *x, const struct sites_record *rec, bool full)
{
    struct pier_buf live;
    size_t i;

    pier_buf_init(&live, 4096);
    live_of(x, rec->name, &live);
    if (!full) {
        printf("%-20s %-28s", rec->name, live.data);
        for (i = 0; i < rec->ndomains; i++) {
            printf(" %s", rec->domains[i]);
        }
        printf("\n");
    } else {
        printf("name:           %s\n", rec->name);
        printf("branch:         %s\n", rec->branch);
        printf("live deploy:    %s\n", live.data);
        printf("domains:        %s.localhost", rec->name);
        for (i = 0; i < rec->ndomains; i++) {
            printf(", %s", rec->domains[i]);
        }
        printf("\nredirect https: %s\n", rec->redirect_https ? "yes" : "no");
        if (rec->hsts_max_age != 0) {
            printf("hsts:           max-age=%u%s\n",
                   (unsigned) rec->hsts_max_age,
                   rec->hsts_subdomains ? "; includeSubDomains" : "");
        }
        printf("repository:     %s/repos/%s.git\n", x->conf.data_dir,
               rec->name);
    }
    pier_buf_release(&live);
}

static int
site_create(struct site_ctx *x, struct sites_record *rec)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_s3_header ct = {PIER_STR("Content-Type"),
                                PIER_STR("text/plain; charset=utf-8")};
    struct hooks_repo_spec spec;
    struct pier_buf text, repo;
    struct pier_err err;
    char key[128], exe[PATH_MAX], repos[4200];
    ssize_t n;
    int rc = 1;

    pier_buf_init(&text, 1 << 20);
    pier_buf_init(&repo, 4096);
    pier_s3_response_init(&resp);
    if (sites_record_format(rec, &text, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    snprintf(key, sizeof(key), "sites/%s.ini", rec->name);
    r.key = key;
    r.body = text.data;
    r.body_len = text.len;
    r.if_none_match = "*";
    r.headers = &ct;
    r.nheaders = 1;
    if (pier_s3_sync_run(x->s3, PIER_S3_OP_PUT, &r, &resp, &err) != PIER_OK) {
        if (err.s3 == PIER_S3_PRECONDITION_FAILED) {
            rc = pier_cli_fail("site", "site '%s' exists already", rec->name);
        } else {
            rc = pier_cli_fail("site", "cannot register '%s': %s", rec->name,
                               err.msg);
        }
        goto out;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        rc = pier_cli_fail("site", "cannot find the pier binary");
        goto out;
    }
    exe[n] = '\0';
    if (x->repo_dir != NULL) {
        snprintf(repos, sizeof(repos), "%s", x->repo_dir);
    } else {
        snprintf(repos, sizeof(repos), "%s/repos", x->conf.data_dir);
    }
    spec.repos_dir = repos;
    spec.config = x->conf.conf_path[0] != '\0' ? x->conf.conf_path : NULL;
    spec.site = rec->name;
    spec.branch = rec->branch;
    spec.pier = exe;
    spec.data_dir = x->conf.data_dir;
    if (hooks_repo_create(&spec, &repo, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "site '%s' registered, but %s", rec->name,
                           err.msg);
        goto out;
    }
    printf("site '%s' created; serve it on %s.localhost", rec->name, rec->name);
    for (size_t i = 0; i < rec->ndomains; i++) {
        printf(", %s", rec->domains[i]);
    }
    printf(".\nPublish it with git:\n"
           "  git remote add pier %s\n"
           "  git push pier %s\n",
           repo.data, rec->branch);
    rc = 0;
out:
    pier_s3_response_release(&resp);
    pier_buf_release(&text);
    pier_buf_release(&repo);
    return rc;
}

static int
site_list(struct site_ctx *x)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    struct pier_err err;
    char *token = NULL;
    size_t i, count = 0;
    int rc = 0;

    printf("%-20s %-28s %s\n", "SITE", "LIVE DEPLOY", "DOMAINS");
    do {
        r.prefix = "sites/";
        r.delimiter = "/";
        r.continuation_token = token;
        pier_s3_response_init(&resp);
        if (pier_s3_sync_run(x->s3, PIER_S3_OP_LIST, &r, &resp, &err)
            != PIER_OK) {
            pier_s3_response_release(&resp);
            pier_free(token);
            return pier_cli_fail("site", "cannot list sites: %s", err.msg);
        }
        for (i = 0; i < resp.list.nobjects; i++) {
            const char *k = resp.list.objects[i].key + strlen("sites/");
            size_t len = strlen(k);
            struct sites_record rec;
            char name[SITES_NAME_MAX + 1];

            if (len <= 4 || strcmp(k + len - 4, ".ini") != 0
                || len - 4 > SITES_NAME_MAX) {
                continue;
            }
            memcpy(name, k, len - 4);
            name[len - 4] = '\0';
            sites_record_init(&rec);
            if (load_record(x, name, &rec, &err) == PIER_OK) {
                print_record(x, &rec, false);
                count++;
            } else {
                fprintf(stderr, "pier site: %s\n", err.msg);
                rc = 1;
            }
            sites_record_release(&rec);
        }
        pier_free(token);
        token = resp.list.next_token != NULL ? pier_strdup(resp.list.next_token)
                                             : NULL;
        pier_s3_response_release(&resp);
    } while (token != NULL);
    if (count == 0) {
        printf("(no sites: pier site create NAME)\n");
    }
    return rc;
}

static void tell_edges(struct site_ctx *x, const char *name);

/* Add (add true) or remove domain d of site name: read the record and its
 * ETag, change it, write it back with If-Match; when another edit won in
 * between (412), read it again and retry. */
static int
site_domain(struct site_ctx *x, bool add, const char *name, const char *d)
{
    struct sites_record rec;
    struct pier_buf text;
    struct pier_err err;
    char key[128], etag[128];
    unsigned tries;
    int rc = 1;

    pier_buf_init(&text, 1 << 20);
    snprintf(key, sizeof(key), "sites/%s.ini", name);
    for (tries = 0; tries < SITE_EDIT_TRIES; tries++) {
        sites_record_init(&rec);
        pier_buf_reset(&text);
        etag[0] = '\0';
        if (load_record_etag(x, name, &rec, etag, sizeof(etag), &err)
            != PIER_OK) {
            rc = pier_cli_fail("site", "%s", err.msg);
            break;
        }
        if ((add ? sites_record_add_domain(&rec, d, &err)
                 : sites_record_remove_domain(&rec, d, &err))
                != PIER_OK
            || sites_record_format(&rec, &text, &err) != PIER_OK) {
            rc = pier_cli_fail("site", "%s", err.msg);
            break;
        }
        if (etag[0] == '\0') {
            rc = pier_cli_fail("site", "the store sent no ETag for '%s'", key);
            break;
        }
        if (put_text(x, key, text.data, text.len, "text/plain; charset=utf-8",
                     etag, &err)
            == PIER_OK) {
            tell_edges(x, name);
            printf("site '%s': %s %s; the edges apply it within seconds.\n",
                   name, add ? "added" : "removed", d);
            rc = 0;
            break;
        }
        if (err.s3 != PIER_S3_PRECONDITION_FAILED) {
            rc = pier_cli_fail("site", "cannot write '%s': %s", key, err.msg);
            break;
        }
        sites_record_release(&rec); /* changed meanwhile: again */
    }
    if (tries == SITE_EDIT_TRIES) {
        rc = pier_cli_fail("site", "'%s' kept changing; try again", key);
    } else {
        sites_record_release(&rec);
    }
    pier_buf_release(&text);
    return rc;
}

/* Ask each edge of pier.conf to reload site name (POST /v1/purge with no
 * path: it re-reads the record and the certificate). An edge that does
 * not answer is reported; it reloads the record when it next changes. */
static void
tell_edges(struct site_ctx *x, const char *name)
{
    struct publish_edge_result *res;
    struct pier_buf body;
    const char *const *edges;
    const char *token;
    char **urls;
    size_t i, n;

    pier_client_edges(x->args, &x->conf, &edges, &n, &token);
    if (n == 0) {
        return;
    }
    urls = pier_calloc(n, sizeof(*urls));
    res = pier_calloc(n, sizeof(*res));
    pier_buf_init(&body, 4096);
    for (i = 0; i < n; i++) {
        const char *u = edges[i];
        size_t len = strlen(u);

        while (len > 0 && u[len - 1] == '/') {
            len--;
        }
        urls[i] = pier_malloc(len + sizeof("/v1/purge"));
        memcpy(urls[i], u, len);
        memcpy(urls[i] + len, "/v1/purge", sizeof("/v1/purge"));
    }
    if (pier_buf_addf(&body, "{\"site\": \"%s\", \"paths\": []}", name)
        == PIER_OK) {
        publish_notify((const char *const *) urls, n, token,
                       body.data, body.len, 5000, res);
        for (i = 0; i < n; i++) {
            /* 404: the edge has no live deploy of the site yet; it reads
             * the certificate when one goes live. */
            if (!res[i].ok && res[i].status != 404) {
                fprintf(stderr, "pier site: edge %s did not reload '%s': %s\n",
                        x->conf.edges.items[i], name, res[i].msg);
            }
        }
    }
    for (i = 0; i < n; i++) {
        pier_free(urls[i]);
    }
    pier_free(urls);
    pier_free(res);
    pier_buf_release(&body);
}

/* Read a whole file (at most 1 MiB) into out. */
static int
read_file(const char *path, struct pier_buf *out, struct pier_err *err)
{
    char chunk[8192];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pier_buf_add(out, chunk, n) != PIER_OK) {
            fclose(f);
            return pier_err_set(err, "'%s' is larger than 1 MiB", path);
        }
    }
    if (ferror(f)) {
        int e = errno;

        fclose(f);
        return pier_err_sys(err, e, "cannot read '%s'", path);
    }
    fclose(f);
    return PIER_OK;
}

/* Store the site's certificate and key under tls/<name>/: the given pair
 * once it is checked to match, or a fresh self-signed one. */
static int
site_cert(struct site_ctx *x, const char *name, const char *cert_file,
          const char *key_file, bool self_signed)
{
    struct sites_record rec;
    struct pier_buf cert, key;
    struct pier_err err;
    char k[128], local[SITES_NAME_MAX + 16];
    const char **names = NULL;
    size_t i;
    int rc = 1;

    sites_record_init(&rec);
    pier_buf_init(&cert, 1 << 20);
    pier_buf_init(&key, 1 << 20);
    if (load_record(x, name, &rec, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    if (self_signed) {
        names = pier_calloc(rec.ndomains + 1, sizeof(*names));
        for (i = 0; i < rec.ndomains; i++) {
            names[i] = rec.domains[i];
        }
        snprintf(local, sizeof(local), "%s.localhost", name);
        names[rec.ndomains] = local;
        if (hooks_cert_self_signed(names, rec.ndomains + 1, 365, &cert, &key,
                                   &err)
            != PIER_OK) {
            rc = pier_cli_fail("site", "%s", err.msg);
            goto out;
        }
    } else if (read_file(cert_file, &cert, &err) != PIER_OK
               || read_file(key_file, &key, &err) != PIER_OK
               || hooks_cert_check(cert.data, cert.len, key.data, key.len, &err)
                      != PIER_OK) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    /* The key first: an edge that sees the new certificate finds its key. */
    snprintf(k, sizeof(k), "tls/%s/key.pem", name);
    if (put_text(x, k, key.data, key.len, "application/x-pem-file", NULL, &err)
        != PIER_OK) {
        rc = pier_cli_fail("site", "cannot store '%s': %s", k, err.msg);
        goto out;
    }
    snprintf(k, sizeof(k), "tls/%s/cert.pem", name);
    if (put_text(x, k, cert.data, cert.len, "application/x-pem-file", NULL,
                 &err)
        != PIER_OK) {
        rc = pier_cli_fail("site", "cannot store '%s': %s", k, err.msg);
        goto out;
    }
    tell_edges(x, name);
    printf("site '%s': %scertificate stored as tls/%s/cert.pem and "
           "key.pem.\n",
           name, self_signed ? "self-signed " : "", name);
    rc = 0;
out:
    pier_free(names);
    sites_record_release(&rec);
    pier_buf_release(&cert);
    pier_buf_release(&key);
    return rc;
}

/* Ask on the terminal; true on y or yes. */
static bool
confirm(const char *name)
{
    char line[64];

    fprintf(stderr,
            "Remove site '%s'? The edges stop serving it; its deploys and "
            "blobs stay. [y/N] ",
            name);
    fflush(stderr);
    if (fgets(line, sizeof(line), stdin) == NULL) {
        return false;
    }
    return strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0
           || strcmp(line, "Y\n") == 0;
}

static int
delete_key(struct site_ctx *x, const char *key, struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    int rc;

    r.key = key;
    pier_s3_response_init(&resp);
    rc = pier_s3_sync_run(x->s3, PIER_S3_OP_DELETE, &r, &resp, err);
    pier_s3_response_release(&resp);
    if (rc != PIER_OK && err->s3 == PIER_S3_NO_SUCH_KEY) {
        rc = PIER_OK;
    }
    return rc;
}

/* Remove the live pointer (the edges drop the site at their next poll),
 * then the record. Deploy manifests, blobs and certificates stay. */
static int
site_rm(struct site_ctx *x, const char *name, bool yes)
{
    struct sites_record rec;
    struct pier_err err;
    char key[128];
    int rc = 1;

    if (!yes && !isatty(STDIN_FILENO)) {
        return pier_cli_fail("site",
                             "not removing '%s' without --yes (stdin is not "
                             "a terminal)",
                             name);
    }
    sites_record_init(&rec);
    if (load_record(x, name, &rec, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    if (!yes && !confirm(name)) {
        rc = pier_cli_fail("site", "'%s' kept", name);
        goto out;
    }
    snprintf(key, sizeof(key), "live/%s", name);
    if (delete_key(x, key, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "cannot delete '%s': %s", key, err.msg);
        goto out;
    }
    snprintf(key, sizeof(key), "sites/%s.ini", name);
    if (delete_key(x, key, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "cannot delete '%s': %s", key, err.msg);
        goto out;
    }
    /* XXX: nothing collects the blobs yet (the issue's `pier gc`). */
    printf("site '%s' removed; its deploys and blobs stay in the bucket.\n",
           name);
    rc = 0;
out:
    sites_record_release(&rec);
    return rc;
}

static int
site_main(int argc, char **argv, struct pier_client_args *ca)
{
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'D'},
        {"branch", required_argument, NULL, 'b'},
        {"redirect-https", no_argument, NULL, 'r'},
        {"hsts", required_argument, NULL, 'H'},
        PIER_CLIENT_OPTIONS,
        {"repo-dir", required_argument, NULL, 'R'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"self-signed", no_argument, NULL, 's'},
        {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct site_ctx x;
    struct sites_record rec;
    struct pier_s3_config s3;
    struct pier_err err;
    const char *verb, *missing;
    char **domains = NULL;
    size_t ndomains = 0, i;
    const char *branch = NULL, *hsts = NULL, *repo_dir = NULL;
    const char *cert = NULL, *key = NULL;
    bool redirect = false, self_signed = false, yes = false;
    int c, rc = 1, want;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (pier_client_flag(ca, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'h':
            help();
            pier_free(domains);
            return 0;
        case 'D':
            domains = pier_realloc(domains, (ndomains + 1) * sizeof(*domains));
            domains[ndomains++] = optarg;
            break;
        case 'b':
            branch = optarg;
            break;
        case 'r':
            redirect = true;
            break;
        case 'H':
            hsts = optarg;
            break;
        case 'R':
            repo_dir = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 's':
            self_signed = true;
            break;
        case 'y':
            yes = true;
            break;
        default:
            pier_free(domains);
            return pier_cli_usage("site", usage_line, "unknown option '%s'",
                                  argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        pier_free(domains);
        return pier_cli_usage("site", usage_line, "no subcommand");
    }
    verb = argv[optind];
    /* Arguments each verb takes after itself. */
    if (strcmp(verb, "list") == 0) {
        want = 0;
    } else if (strcmp(verb, "create") == 0 || strcmp(verb, "show") == 0
               || strcmp(verb, "cert") == 0 || strcmp(verb, "rm") == 0) {
        want = 1;
    } else if (strcmp(verb, "domain") == 0) {
        want = 3;
    } else {
        pier_free(domains);
        return pier_cli_usage("site", usage_line, "unknown subcommand '%s'",
                              verb);
    }
    if (optind + 1 + want != argc) {
        pier_free(domains);
        return pier_cli_usage("site", usage_line,
                              "wrong number of arguments for '%s'", verb);
    }
    if (strcmp(verb, "domain") == 0 && strcmp(argv[optind + 1], "add") != 0
        && strcmp(argv[optind + 1], "rm") != 0) {
        pier_free(domains);
        return pier_cli_usage("site", usage_line,
                              "pier site domain add|rm NAME D, not '%s'",
                              argv[optind + 1]);
    }
    if (strcmp(verb, "cert") == 0
        && (self_signed ? cert != NULL || key != NULL
                        : cert == NULL || key == NULL)) {
        pier_free(domains);
        return pier_cli_usage("site", usage_line,
                              "pier site cert wants --cert F --key F, or "
                              "--self-signed");
    }
    if (!pier_client_load("site", ca, false, &x.conf, &s3)) {
        pier_free(domains);
        return 1;
    }
    x.args = ca;
    x.s3 = NULL;
    x.repo_dir = repo_dir;
    sites_record_init(&rec);
    if (strcmp(verb, "create") == 0) {
        uint64_t secs;

        if (sites_record_set_name(&rec, argv[optind + 1], &err) != PIER_OK
            || (branch != NULL
                && sites_record_set_branch(&rec, branch, &err) != PIER_OK)) {
            rc = pier_cli_fail("site", "%s", err.msg);
            goto out;
        }
        for (i = 0; i < ndomains; i++) {
            if (sites_record_add_domain(&rec, domains[i], &err) != PIER_OK) {
                rc = pier_cli_fail("site", "%s", err.msg);
                goto out;
            }
        }
        rec.redirect_https = redirect;
        if (hsts != NULL) {
            if (pier_conf_parse_ms(hsts, &secs) != PIER_OK
                || secs / 1000 > UINT32_MAX) {
                rc = pier_cli_usage("site", usage_line,
                                    "--hsts wants seconds, not '%s'", hsts);
                goto out;
            }
            rec.hsts_max_age = (uint32_t) (secs / 1000);
        }
    }
    missing = pier_client_conf_missing(&x.conf);
    if (missing != NULL) {
        rc = pier_cli_fail("site", "%s", missing);
        goto out;
    }
    x.s3 = pier_s3_sync_new(&s3, &err);
    if (x.s3 == NULL) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    if (strcmp(verb, "create") == 0) {
        rc = site_create(&x, &rec);
    } else if (strcmp(verb, "list") == 0) {
        rc = site_list(&x);
    } else if (strcmp(verb, "domain") == 0) {
        rc = site_domain(&x, strcmp(argv[optind + 1], "add") == 0,
                         argv[optind + 2], argv[optind + 3]);
    } else if (strcmp(verb, "cert") == 0) {
        rc = site_cert(&x, argv[optind + 1], cert, key, self_signed);
    } else if (strcmp(verb, "rm") == 0) {
        rc = site_rm(&x, argv[optind + 1], yes);
    } else if (load_record(&x, argv[optind + 1], &rec, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "%s", err.msg);
    } else {
        print_record(&x, &rec, true);
        rc = 0;
    }
out:
    pier_s3_sync_free(x.s3);
    sites_record_release(&rec);
    pier_client_conf_release(&x.conf);
    pier_free(domains);
    return rc;
}

int
pier_cmd_site(int argc, char **argv)
{
    struct pier_client_args ca = {0};
    int rc = site_main(argc, argv, &ca);

    pier_client_args_release(&ca);
    return rc;
}
