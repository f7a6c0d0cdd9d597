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
    "[--bucket NAME] [--region R] [--jobs N]";

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
           "  --jobs N         requests in flight (default: %d)\n\n"
           "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
           "AWS_SESSION_TOKEN.\n\nThe repository's pier.ini:\n",
           usage_line, PUBLISH_JOBS_DEFAULT);
    publish_settings_help(stdout);
}

static void
summary(const struct publish_opts *o, const struct publish_result *r)
{
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct publish_opts o = {.out_fd = 2};
    struct publish_result res;
    struct pier_s3_config cfg;
    struct pier_err err;
    const char *endpoint = NULL, *bucket = "pier", *region = NULL;
    char *end;
    unsigned long jobs;
    int c;

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
            endpoint = optarg;
            break;
        case 'b':
            bucket = optarg;
            break;
        case 'g':
            region = optarg;
            break;
        case 'j':
            jobs = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || jobs == 0 || jobs > 256) {
                return pier_cli_usage("publish", usage_line,
                                      "--jobs wants 1 to 256, not '%s'",
                                      optarg);
            }
            o.jobs = (unsigned) jobs;
            break;
        case 'h':
            help();
            return 0;
        default:
            return pier_cli_usage("publish", usage_line, "unknown option");
        }
    }
    if (optind < argc) {
        return pier_cli_usage("publish", usage_line, "unexpected '%s'",
                              argv[optind]);
    }
    if (o.site == NULL) {
        return pier_cli_usage("publish", usage_line, "--site is required");
    }
    if (!sites_name_ok(pier_str_cstr(o.site))) {
        return pier_cli_fail("publish", "'%s' is not a site name", o.site);
    }
    /* The environment first, then the flags over it. XXX: pier.conf's
     * [publish] section (after `pier up`) is not read yet. */
    pier_s3_config_init(&cfg);
    pier_s3_config_from_env(&cfg);
    if (endpoint != NULL) {
        cfg.endpoint = endpoint;
    }
    if (region != NULL) {
        cfg.region = region;
    }
    cfg.bucket = bucket;
    if (cfg.endpoint != NULL && cfg.access_key_id != NULL
        && cfg.secret_access_key != NULL) {
        o.s3 = &cfg;
    } else if (!o.dry_run) {
        return pier_cli_fail("publish",
                             "no object store: give --endpoint (or "
                             "AWS_ENDPOINT_URL) and AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY");
    }
    if (publish_run(&o, &res, &err) != PIER_OK) {
        return pier_cli_fail("publish", "%s", err.msg);
    }
    summary(&o, &res);
    return res.lost_race ? 1 : 0;
}
