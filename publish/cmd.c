/*
 * publish/cmd.c - `pier publish`, `pier deploys` and `pier rollback`:
 * flags, the environment, the work, and its summary.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/clientconf.h"
#include "lib/s3client.h"
#include "publish/deploy.h"
#include "publish/history.h"
#include "publish/internal.h"
#include "publish/report.h"
#include "publish/settings.h"
#include "sites/record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char usage_line[] =
    "--site NAME [--repo PATH] [--ref REF] [--dry-run] [--jobs N] [--quiet] "
    "[--endpoint URL] [--bucket NAME] [--region R] [--edge URL]... "
    "[--edge-token T] [--data DIR] [--config FILE]";

/* What the flags say about the store and the edges; the rest comes from
 * pier.conf's [publish] section and the environment (lib/clientconf.h). */
/* After the flags: the store, the publish, the summary. */
static int
run(struct publish_opts *o, const struct pier_client_args *a)
{
    struct pier_client_conf c;
    struct publish_result res;
    struct pier_s3_config cfg;
    struct pier_err err;
    char local[256];
    int rc;

    if (!sites_name_ok(pier_str_cstr(o->site))) {
        return pier_cli_fail("publish", "'%s' is not a site name", o->site);
    }
    if (!pier_client_load("publish", a, !o->dry_run, &c, &cfg)) {
        return 1;
    }
    if (pier_client_conf_missing(&c) == NULL) {
        o->s3 = &cfg;
    }
    pier_client_edges(a, &c, &o->edges, &o->nedges, &o->edge_token);
    /* The NAME.localhost URL when pier up runs the edge here. */
    if (publish_local_edge(c.conf_path, local, sizeof(local))) {
        o->local_http = local;
    }
    rc = publish_run(o, &res, &err);
    if (rc != PIER_OK) {
        pier_client_conf_release(&c);
        return pier_cli_fail("publish", "%s", err.msg);
    }
    publish_report_summary(stdout, o, &res);
    pier_client_conf_release(&c);
    return res.lost_race ? 1 : 0;
}

static void
help(void)
{
    printf("usage: pier publish %s\n\n"
           "Publish a commit of a site's repository: read its tree (or build "
           "it),\nhash and rewrite its assets, compress, upload what the "
           "store lacks,\nstore the manifest, make it live and tell the "
           "edges.\n\n"
           "  --site NAME      the site (required)\n"
           "  --repo PATH      the repository (default: $GIT_DIR or the "
           "current folder)\n"
           "  --ref REF        the commit, branch or tag (default: HEAD)\n"
           "  --dry-run        read only: say what would be uploaded\n"
           "  --jobs N         blobs in flight (default: %d)\n"
           "  --quiet          no progress (a bar on a terminal, phase lines "
           "else);\n"
           "                   warnings and the summary still\n%s\n"
           "The repository's pier.ini:\n",
           usage_line, PUBLISH_JOBS_DEFAULT, pier_client_help);
    publish_settings_help(stdout);
}

int
pier_cmd_publish(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"repo", required_argument, NULL, 'r'},
        {"ref", required_argument, NULL, 'R'},
        {"dry-run", no_argument, NULL, 'n'},
        {"jobs", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        PIER_CLIENT_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct publish_opts o = {.out_fd = 2};
    struct pier_client_args a = {0};
    unsigned long jobs;
    char *end;
    int c, rc;

    /* Tests only: refresh every blob the publish reuses, whatever its age
     * (tests/publish/test_gc_store.sh stages a publish racing gc). */
    if (getenv("PIER_TEST_REFRESH_ALL") != NULL) {
        o.refresh_age_s = -1;
    }
    /* Tests only: PIER_TEST_PUBLISH_WAIT=PATH pauses before the first
     * refresh (publish_test_wait()), for a gc to delete a blob first. */
    if (getenv("PIER_TEST_PUBLISH_WAIT") != NULL) {
        o.before_refresh = publish_test_wait;
        o.hook_arg = getenv("PIER_TEST_PUBLISH_WAIT");
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (pier_client_flag(&a, c, optarg)) {
            continue;
        }
        switch (c) {
        case 's':
            o.site = optarg;
            break;
        case 'r':
            o.repo = optarg;
            break;
        case 'R':
            o.ref = optarg;
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'j':
            jobs = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || jobs == 0 || jobs > 256) {
                pier_client_args_release(&a);
                return pier_cli_usage("publish", usage_line,
                                      "--jobs wants 1 to 256, not '%s'",
                                      optarg);
            }
            o.jobs = (unsigned) jobs;
            break;
        case 'h':
            pier_client_args_release(&a);
            help();
            return 0;
        default:
            pier_client_args_release(&a);
            return pier_cli_usage("publish", usage_line, "unknown option");
        }
    }
    if (optind < argc || o.site == NULL) {
        pier_client_args_release(&a);
        if (o.site == NULL) {
            return pier_cli_usage("publish", usage_line, "--site is required");
        }
        return pier_cli_usage("publish", usage_line, "unexpected '%s'",
                              argv[optind]);
    }
    rc = run(&o, &a);
    pier_client_args_release(&a);
    return rc;
}

static void
print_time(char *out, size_t n, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(out, n, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) {
        snprintf(out, n, "-");
    }
}

/* The synchronous client on the configured store; NULL after printing
 * why. */
static struct pier_s3_sync *
store_open(const char *cmd, const struct pier_client_args *a,
           struct pier_client_conf *c, struct pier_s3_config *cfg)
{
    struct pier_s3_sync *s3;
    struct pier_err err;

    if (!pier_client_load(cmd, a, true, c, cfg)) {
        return NULL;
    }
    s3 = pier_s3_sync_new(cfg, &err);
    if (s3 == NULL) {
        pier_client_conf_release(c);
        pier_cli_fail(cmd, "%s", err.msg);
    }
    return s3;
}

int
pier_cmd_deploys(int argc, char **argv)
{
    static const char usage[] = "--site NAME [--limit N] [--endpoint URL] "
                                "[--bucket NAME] [--region R] [--data DIR] "
                                "[--config FILE]";
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        PIER_CLIENT_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct pier_client_args a = {0};
    struct pier_client_conf conf;
    struct pier_s3_config cfg;
    struct publish_deploy_info *v;
    struct pier_s3_sync *s3;
    struct pier_err err;
    const char *site = NULL;
    unsigned long limit = 20;
    char *end, when[32];
    size_t n, i;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (pier_client_flag(&a, c, optarg)) {
            continue;
        }
        switch (c) {
        case 's':
            site = optarg;
            break;
        case 'l':
            limit = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || limit == 0) {
                pier_client_args_release(&a);
                return pier_cli_usage("deploys", usage,
                                      "--limit wants a positive number");
            }
            break;
        case 'h':
            pier_client_args_release(&a);
            printf("usage: pier deploys %s\n\nList a site's deploys in the "
                   "order of their ids (their time);\n'*' marks the live one."
                   "\n\n  --limit N        show the last N (default 20)\n%s",
                   usage, pier_client_help);
            return 0;
        default:
            pier_client_args_release(&a);
            return pier_cli_usage("deploys", usage, "unknown option");
        }
    }
    if (site == NULL || optind < argc) {
        pier_client_args_release(&a);
        return pier_cli_usage("deploys", usage,
                              site == NULL ? "--site is required"
                                           : "unexpected argument");
    }
    if (!sites_name_ok(pier_str_cstr(site))) {
        pier_client_args_release(&a);
        return pier_cli_fail("deploys", "'%s' is not a site name", site);
    }
    s3 = store_open("deploys", &a, &conf, &cfg);
    pier_client_args_release(&a);
    if (s3 == NULL) {
        return 1;
    }
    rc = publish_deploys_list(s3, site, limit, &v, &n, &err);
    pier_s3_sync_free(s3);
    pier_client_conf_release(&conf);
    if (rc != PIER_OK) {
        return pier_cli_fail("deploys", "%s", err.msg);
    }
    if (n == 0) {
        printf("%s has no deploys\n", site);
    } else {
        printf("  %-40s %-10s %-21s %7s %12s\n", "DEPLOY", "COMMIT", "CREATED",
               "FILES", "BYTES");
    }
    for (i = n > limit ? n - limit : 0; i < n; i++) {
        print_time(when, sizeof(when), v[i].created);
        printf("%c %-40s %-10.10s %-21s %7zu %12llu\n", v[i].live ? '*' : ' ',
               v[i].id, v[i].commit[0] != '\0' ? v[i].commit : "-", when,
               v[i].files, (unsigned long long) v[i].bytes);
    }
    pier_free(v);
    return 0;
}

int
pier_cmd_rollback(int argc, char **argv)
{
    static const char usage[] =
        "--site NAME [ID] [--edge URL]... [--edge-token T] [--endpoint URL] "
        "[--bucket NAME] [--region R] [--data DIR] [--config FILE]";
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        PIER_CLIENT_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct pier_client_args a = {0};
    struct pier_client_conf conf;
    struct publish_rollback_result res;
    struct publish_refresh_opts ro = {0};
    struct pier_s3_config cfg;
    struct pier_s3_sync *s3;
    struct pier_err err;
    const char *site = NULL, *to = NULL, *token;
    const char *const *edges;
    size_t nedges;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (pier_client_flag(&a, c, optarg)) {
            continue;
        }
        switch (c) {
        case 's':
            site = optarg;
            break;
        case 'h':
            pier_client_args_release(&a);
            printf("usage: pier rollback %s\n\nMake an earlier deploy live "
                   "again (default: the one before the live one)\nand tell "
                   "the edges; uploads nothing.\n\n%s",
                   usage, pier_client_help);
            return 0;
        default:
            pier_client_args_release(&a);
            return pier_cli_usage("rollback", usage, "unknown option");
        }
    }
    if (optind < argc) {
        to = argv[optind++];
    }
    if (site == NULL || optind < argc) {
        pier_client_args_release(&a);
        return pier_cli_usage("rollback", usage,
                              site == NULL ? "--site is required"
                                           : "unexpected argument");
    }
    if (!sites_name_ok(pier_str_cstr(site))) {
        pier_client_args_release(&a);
        return pier_cli_fail("rollback", "'%s' is not a site name", site);
    }
    s3 = store_open("rollback", &a, &conf, &cfg);
    if (s3 == NULL) {
        pier_client_args_release(&a);
        return 1;
    }
    pier_client_edges(&a, &conf, &edges, &nedges, &token);
    /* Tests only, as for a publish: refresh every key whatever its age;
     * pause before the first refresh (a gc racing the rollback). */
    if (getenv("PIER_TEST_REFRESH_ALL") != NULL) {
        ro.refresh_age_s = -1;
    }
    if (getenv("PIER_TEST_PUBLISH_WAIT") != NULL) {
        ro.before_refresh = publish_test_wait;
        ro.hook_arg = getenv("PIER_TEST_PUBLISH_WAIT");
    }
    rc = publish_rollback(s3, &cfg, site, to, &ro, edges, nedges, token, 0, 2,
                          &res, &err);
    pier_s3_sync_free(s3);
    pier_client_conf_release(&conf);
    pier_client_args_release(&a);
    if (rc != PIER_OK) {
        return pier_cli_fail("rollback", "%s", err.msg);
    }
    printf("%s: deploy %s is live again (was %s); %zu paths changed\n", site,
           res.to, res.from, res.changed);
    return 0;
}
