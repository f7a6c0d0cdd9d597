/*
 * publish/cmd.c - `pier publish`: flags, the environment, one publish,
 * and its summary.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/s3client.h"
#include "publish/deploy.h"
#include "publish/settings.h"
#include "sites/record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

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
    printf("%s: %zu paths changed since %s; %zu warnings\n", o->site,
           r->changed, r->previous[0] != '\0' ? r->previous : "nothing",
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
    /* The environment first, then the flags over it. XXX: pier.conf's
     * [publish] section (after `pier up`) is not read yet. */
    pier_s3_config_init(&cfg);
    pier_s3_config_from_env(&cfg);
    if (a->endpoint != NULL) {
        cfg.endpoint = a->endpoint;
    }
    if (a->region != NULL) {
        cfg.region = a->region;
    }
    cfg.bucket = a->bucket;
    if (cfg.endpoint != NULL && cfg.access_key_id != NULL
        && cfg.secret_access_key != NULL) {
        o->s3 = &cfg;
    } else if (!o->dry_run) {
        return pier_cli_fail("publish",
                             "no object store: give --endpoint (or "
                             "AWS_ENDPOINT_URL) and AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY");
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
