/*
 * publish/cmd.c - `pier publish`, `pier deploys` and `pier rollback`:
 * flags, the environment, the work, and its summary.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/s3client.h"
#include "publish/deploy.h"
#include "publish/history.h"
#include "publish/settings.h"
#include "sites/record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char usage_line[] =
    "--site NAME [--repo PATH] [--ref REF] [--dry-run] [--endpoint URL] "
    "[--bucket NAME] [--region R] [--jobs N] [--edge URL]... "
    "[--edge-token T]";

static void
help(void)
{
    printf("usage: pier publish %s\n\n"
           "Publish a commit of a site's repository: read its tree (or build "
           "it),\nhash and rewrite its assets, compress, upload what the "
           "store lacks,\nstore the manifest and make it live.\n\n"
           "  --site NAME      the site (required)\n"
           "  --repo PATH      the repository (default: $GIT_DIR or the "
           "current folder)\n"
           "  --ref REF        the commit, branch or tag (default: HEAD)\n"
           "  --dry-run        read only: say what would be uploaded\n"
           "  --endpoint URL   the S3 endpoint (default: $AWS_ENDPOINT_URL)\n"
           "  --bucket NAME    the bucket (default: pier)\n"
           "  --region R       the region (default: $AWS_REGION or "
           "us-east-1)\n"
           "  --jobs N         requests in flight (default: %d)\n"
           "  --edge URL       an edge's admin URL the deploy delta is POSTed "
           "to\n                   (repeatable)\n"
           "  --edge-token T   the edges' bearer token (default: "
           "$PIER_EDGE_TOKEN)\n\n"
           "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
           "AWS_SESSION_TOKEN.\n\nThe repository's pier.ini:\n",
           usage_line, PUBLISH_JOBS_DEFAULT);
    publish_settings_help(stdout);
}

static void
summary(const struct publish_opts *o, const struct publish_result *r)
{
    if (r->edges_ok + r->edges_failed > 0) {
        printf("%s: edges: %zu applied the delta, %zu did not (%.0f ms)\n",
               o->site, r->edges_ok, r->edges_failed, r->ms_notify);
    }
    if (r->noop) {
        printf("%s: nothing to do: deploy %s has the same tree (%.0f ms)\n",
               o->site, r->deploy, r->ms_total);
        return;
    }
    printf("%s: %zu files, %zu blobs: %zu known, %zu already stored, %zu "
           "uploaded (+%zu variants), %llu bytes sent\n",
           o->site, r->files, r->blobs, r->blobs_known, r->blobs_present,
           r->blobs_uploaded, r->variants_uploaded,
           (unsigned long long) r->bytes_uploaded);
    printf("%s: %zu paths changed since %s; %zu HTML/CSS files parsed; "
           "%zu warnings\n",
           o->site, r->changed,
           r->previous[0] != '\0' ? r->previous : "nothing", r->docs_parsed,
           r->warnings);
    printf("%s: read %.0f ms, graph %.0f ms, upload %.0f ms, activate %.0f "
           "ms, total %.0f ms\n",
           o->site, r->ms_read, r->ms_graph, r->ms_upload, r->ms_activate,
           r->ms_total);
    if (o->dry_run) {
        printf("%s: dry run: deploy %s was not stored\n", o->site, r->deploy);
    } else if (r->lost_race) {
        printf("%s: another deploy won the race: %s is live, %s is stored "
               "but not live\n",
               o->site, r->winner[0] != '\0' ? r->winner : "(unknown)",
               r->deploy);
    } else {
        printf("%s: deploy %s is live\n", o->site, r->deploy);
    }
}

/* What the flags say about the store. */
struct store_args {
    const char *endpoint;
    const char *bucket;
    const char *region;
};

static const char no_store[] =
    "no object store: give --endpoint (or AWS_ENDPOINT_URL) and "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/* The environment first, then the flags over it; false when the store is
 * not fully given. XXX: pier.conf's [publish] section (after `pier up`) is
 * not read yet. */
static bool
store_config(const struct store_args *a, struct pier_s3_config *cfg)
{
    pier_s3_config_init(cfg);
    pier_s3_config_from_env(cfg);
    if (a->endpoint != NULL) {
        cfg->endpoint = a->endpoint;
    }
    if (a->region != NULL) {
        cfg->region = a->region;
    }
    cfg->bucket = a->bucket;
    return cfg->endpoint != NULL && cfg->access_key_id != NULL
           && cfg->secret_access_key != NULL;
}

/* A synchronous client on the store the flags and environment name; NULL
 * after printing why. */
static struct pier_s3_sync *
store_open(const char *cmd, const struct store_args *a)
{
    struct pier_s3_config cfg;
    struct pier_s3_sync *s3;
    struct pier_err err;

    if (!store_config(a, &cfg)) {
        pier_cli_fail(cmd, "%s", no_store);
        return NULL;
    }
    s3 = pier_s3_sync_new(&cfg, &err);
    if (s3 == NULL) {
        pier_cli_fail(cmd, "%s", err.msg);
    }
    return s3;
}

/* After the flags: the store, the publish, the summary. */
static int
run(struct publish_opts *o, const struct store_args *a)
{
    struct publish_result res;
    struct pier_s3_config cfg;
    struct pier_err err;

    if (!sites_name_ok(pier_str_cstr(o->site))) {
        return pier_cli_fail("publish", "'%s' is not a site name", o->site);
    }
    if (store_config(a, &cfg)) {
        o->s3 = &cfg;
    } else if (!o->dry_run) {
        return pier_cli_fail("publish", "%s", no_store);
    }
    if (o->edge_token == NULL) {
        o->edge_token = getenv("PIER_EDGE_TOKEN");
    }
    if (publish_run(o, &res, &err) != PIER_OK) {
        return pier_cli_fail("publish", "%s", err.msg);
    }
    summary(o, &res);
    return res.lost_race ? 1 : 0;
}

int
pier_cmd_publish(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"repo", required_argument, NULL, 'r'},
        {"ref", required_argument, NULL, 'R'},
        {"dry-run", no_argument, NULL, 'n'},
        {"endpoint", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'b'},
        {"region", required_argument, NULL, 'g'},
        {"jobs", required_argument, NULL, 'j'},
        {"edge", required_argument, NULL, 'E'},
        {"edge-token", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct publish_opts o = {.out_fd = 2};
    struct store_args a = {.bucket = "pier"};
    const char **edges = NULL;
    size_t nedges = 0;
    unsigned long jobs;
    char *end;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
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
        case 'e':
            a.endpoint = optarg;
            break;
        case 'b':
            a.bucket = optarg;
            break;
        case 'g':
            a.region = optarg;
            break;
        case 'j':
            jobs = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || jobs == 0 || jobs > 256) {
                pier_free(edges);
                return pier_cli_usage("publish", usage_line,
                                      "--jobs wants 1 to 256, not '%s'",
                                      optarg);
            }
            o.jobs = (unsigned) jobs;
            break;
        case 'E':
            edges = pier_realloc(edges, (nedges + 1) * sizeof(*edges));
            edges[nedges++] = optarg;
            break;
        case 'T':
            o.edge_token = optarg;
            break;
        case 'h':
            pier_free(edges);
            help();
            return 0;
        default:
            pier_free(edges);
            return pier_cli_usage("publish", usage_line, "unknown option");
        }
    }
    if (optind < argc || o.site == NULL) {
        pier_free(edges);
        if (o.site == NULL) {
            return pier_cli_usage("publish", usage_line,
                                  "--site is required");
        }
        return pier_cli_usage("publish", usage_line, "unexpected '%s'",
                              argv[optind]);
    }
    o.edges = edges;
    o.nedges = nedges;
    rc = run(&o, &a);
    pier_free(edges);
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

int
pier_cmd_deploys(int argc, char **argv)
{
    static const char usage[] = "--site NAME [--limit N] [--endpoint URL] "
                                "[--bucket NAME] [--region R]";
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"endpoint", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'b'},
        {"region", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store_args a = {.bucket = "pier"};
    struct publish_deploy_info *v;
    struct pier_s3_sync *s3;
    struct pier_err err;
    const char *site = NULL;
    unsigned long limit = 20;
    char *end, when[32];
    size_t n, i;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            site = optarg;
            break;
        case 'l':
            limit = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || limit == 0) {
                return pier_cli_usage("deploys", usage,
                                      "--limit wants a positive number");
            }
            break;
        case 'e':
            a.endpoint = optarg;
            break;
        case 'b':
            a.bucket = optarg;
            break;
        case 'g':
            a.region = optarg;
            break;
        case 'h':
            printf("usage: pier deploys %s\n\nList a site's deploys, oldest "
                   "first; '*' marks the live one.\n  --limit N   show the "
                   "last N (default 20)\n",
                   usage);
            return 0;
        default:
            return pier_cli_usage("deploys", usage, "unknown option");
        }
    }
    if (site == NULL || optind < argc) {
        return pier_cli_usage("deploys", usage, site == NULL
                                                    ? "--site is required"
                                                    : "unexpected argument");
    }
    if (!sites_name_ok(pier_str_cstr(site))) {
        return pier_cli_fail("deploys", "'%s' is not a site name", site);
    }
    s3 = store_open("deploys", &a);
    if (s3 == NULL) {
        return 1;
    }
    if (publish_deploys_list(s3, site, limit, &v, &n, &err) != PIER_OK) {
        pier_s3_sync_free(s3);
        return pier_cli_fail("deploys", "%s", err.msg);
    }
    pier_s3_sync_free(s3);
    if (n == 0) {
        printf("%s has no deploys\n", site);
    } else {
        printf("  %-40s %-10s %-21s %7s %12s\n", "DEPLOY", "COMMIT",
               "CREATED", "FILES", "BYTES");
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
        "[--bucket NAME] [--region R]";
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"edge", required_argument, NULL, 'E'},
        {"edge-token", required_argument, NULL, 'T'},
        {"endpoint", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'b'},
        {"region", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store_args a = {.bucket = "pier"};
    struct publish_rollback_result res;
    struct pier_s3_sync *s3;
    struct pier_err err;
    const char *site = NULL, *to = NULL, *token = NULL;
    const char **edges = NULL;
    size_t nedges = 0;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            site = optarg;
            break;
        case 'E':
            edges = pier_realloc(edges, (nedges + 1) * sizeof(*edges));
            edges[nedges++] = optarg;
            break;
        case 'T':
            token = optarg;
            break;
        case 'e':
            a.endpoint = optarg;
            break;
        case 'b':
            a.bucket = optarg;
            break;
        case 'g':
            a.region = optarg;
            break;
        case 'h':
            pier_free(edges);
            printf("usage: pier rollback %s\n\nMake an earlier deploy live "
                   "again (default: the one before the live one)\nand tell "
                   "the edges; uploads nothing.\n",
                   usage);
            return 0;
        default:
            pier_free(edges);
            return pier_cli_usage("rollback", usage, "unknown option");
        }
    }
    if (optind < argc) {
        to = argv[optind++];
    }
    if (site == NULL || optind < argc) {
        pier_free(edges);
        return pier_cli_usage("rollback", usage, site == NULL
                                                     ? "--site is required"
                                                     : "unexpected argument");
    }
    if (!sites_name_ok(pier_str_cstr(site))) {
        pier_free(edges);
        return pier_cli_fail("rollback", "'%s' is not a site name", site);
    }
    if (token == NULL) {
        token = getenv("PIER_EDGE_TOKEN");
    }
    s3 = store_open("rollback", &a);
    if (s3 == NULL) {
        pier_free(edges);
        return 1;
    }
    rc = publish_rollback(s3, site, to, edges, nedges, token, 0, 2, &res,
                          &err);
    pier_s3_sync_free(s3);
    pier_free(edges);
    if (rc != PIER_OK) {
        return pier_cli_fail("rollback", "%s", err.msg);
    }
    printf("%s: deploy %s is live again (was %s); %zu paths changed\n", site,
           res.to, res.from, res.changed);
    return 0;
}
