/*
 * hooks/site.c - `pier site`: create, list and show sites.
 *
 * A site is its record in the bucket (sites/<name>.ini, sites/record.h),
 * written with If-None-Match: * so two creations of one name cannot both
 * win, plus, on the machine that runs `pier site create`, a bare
 * repository DATA/repos/<name>.git whose pre-receive hook publishes pushes
 * to the production branch (hooks/repo.h).
 */
#include "config.h"

#include "pier.h"

#include "hooks/repo.h"
#include "lib/cli.h"
#include "lib/clientconf.h"
#include "sites/record.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage_line[] =
    "create NAME [--domain D]... [--branch B] [--redirect-https] "
    "[--hsts SECONDS] | list | show NAME  [--data DIR] [--endpoint URL] "
    "[--bucket B]";

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
           "  list               every site, its domains and live deploy\n"
           "  show NAME          one site's record and live deploy\n\n"
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
};

static int
get_text(struct site_ctx *x, const char *key, struct pier_buf *out,
         struct pier_err *err)
{
    struct pier_s3_request r = {0};
    struct pier_s3_response resp;
    int rc;

    r.key = key;
    r.max_body = 1 << 20;
    pier_s3_response_init(&resp);
    rc = pier_s3_sync_run(x->s3, PIER_S3_OP_GET, &r, &resp, err);
    if (rc == PIER_OK && pier_buf_addstr(out, pier_buf_str(&resp.body))
                             != PIER_OK) {
        rc = pier_err_set(err, "'%s' is too large", key);
    }
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
    while (out->len > 0 && (out->data[out->len - 1] == '\n'
                            || out->data[out->len - 1] == '\r')) {
        pier_buf_truncate(out, out->len - 1);
    }
}

static int
load_record(struct site_ctx *x, const char *name, struct sites_record *rec,
            struct pier_err *err)
{
    char key[128];
    struct pier_buf text;
    int rc;

    snprintf(key, sizeof(key), "sites/%s.ini", name);
    pier_buf_init(&text, 1 << 20);
    rc = get_text(x, key, &text, err);
    if (rc != PIER_OK && err->s3 == PIER_S3_NO_SUCH_KEY) {
        rc = pier_err_set(err, "no site '%s'", name);
    }
    if (rc == PIER_OK) {
        rc = sites_record_parse(rec, key, text.data, text.len, err);
    }
    pier_buf_release(&text);
    return rc;
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
    snprintf(repos, sizeof(repos), "%s/repos", x->conf.data_dir);
    spec.repos_dir = repos;
    spec.site = rec->name;
    spec.branch = rec->branch;
    spec.pier = exe;
    spec.data_dir = x->conf.data_dir;
    if (hooks_repo_create(&spec, &repo, &err) != PIER_OK) {
        rc = pier_cli_fail("site", "site '%s' registered, but %s", rec->name,
                           err.msg);
        goto out;
    }
    printf("site '%s' created; serve it on %s.localhost", rec->name,
           rec->name);
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
        token = resp.list.next_token != NULL
                    ? pier_strdup(resp.list.next_token)
                    : NULL;
        pier_s3_response_release(&resp);
    } while (token != NULL);
    if (count == 0) {
        printf("(no sites: pier site create NAME)\n");
    }
    return rc;
}

int
pier_cmd_site(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'D'},
        {"branch", required_argument, NULL, 'b'},
        {"redirect-https", no_argument, NULL, 'r'},
        {"hsts", required_argument, NULL, 'H'},
        {"data", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'C'},
        {"endpoint", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct site_ctx x;
    struct sites_record rec;
    struct pier_s3_config s3;
    struct pier_err err;
    const char *data = NULL, *config = NULL, *endpoint = NULL, *bucket = NULL;
    const char *verb, *missing;
    char **domains = NULL;
    size_t ndomains = 0, i;
    const char *branch = NULL, *hsts = NULL;
    bool redirect = false;
    int c, rc = 1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
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
        case 'd':
            data = optarg;
            break;
        case 'C':
            config = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'B':
            bucket = optarg;
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
    if (!((strcmp(verb, "create") == 0 || strcmp(verb, "show") == 0)
              ? optind + 2 == argc
              : (strcmp(verb, "list") == 0 && optind + 1 == argc))) {
        pier_free(domains);
        if (strcmp(verb, "create") != 0 && strcmp(verb, "show") != 0
            && strcmp(verb, "list") != 0) {
            return pier_cli_usage("site", usage_line,
                                  "unknown subcommand '%s'", verb);
        }
        return pier_cli_usage("site", usage_line,
                              "wrong number of arguments for '%s'", verb);
    }
    if (pier_client_conf_load(&x.conf, data, config, &err) != PIER_OK) {
        pier_client_conf_release(&x.conf);
        pier_free(domains);
        return pier_cli_fail("site", "%s", err.msg);
    }
    x.s3 = NULL;
    sites_record_init(&rec);
    if ((endpoint != NULL
         && pier_conf_set(&pier_client_conf_section, &x.conf, "endpoint",
                          endpoint, &err)
                != PIER_OK)
        || (bucket != NULL
            && pier_conf_set(&pier_client_conf_section, &x.conf, "bucket",
                             bucket, &err)
                   != PIER_OK)) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
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
    pier_s3_config_init(&s3);
    pier_client_conf_s3(&x.conf, &s3);
    x.s3 = pier_s3_sync_new(&s3, &err);
    if (x.s3 == NULL) {
        rc = pier_cli_fail("site", "%s", err.msg);
        goto out;
    }
    if (strcmp(verb, "create") == 0) {
        rc = site_create(&x, &rec);
    } else if (strcmp(verb, "list") == 0) {
        rc = site_list(&x);
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
