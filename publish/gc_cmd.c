/*
 * publish/gc_cmd.c - `pier gc`: flags, the store, and the summary line.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/clientconf.h"
#include "lib/s3client.h"
#include "publish/gc.h"
#include "publish/internal.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Two environment variables for tests only, to stage a publish racing
 * gc (tests/publish/test_gc_store.sh): PIER_TEST_GC_NOW, seconds since
 * the epoch, is gc's clock; with PIER_TEST_GC_WAIT=PATH, gc creates
 * PATH.ready once it has listed and chosen the blobs, then waits (at
 * most a minute) for PATH to exist before deleting them;
 * PIER_TEST_GC_WAIT_MANIFESTS=PATH waits the same way once it has chosen
 * the deploys, before deleting their manifests (a rollback racing gc).
 */
void
publish_test_wait(void *arg)
{
    const char *path = arg;
    char ready[4096];
    struct stat st;
    FILE *f;
    int i;

    snprintf(ready, sizeof(ready), "%s.ready", path);
    f = fopen(ready, "w");
    if (f != NULL) {
        fclose(f);
    }
    for (i = 0; i < 600 && stat(path, &st) != 0; i++) {
        usleep(100000);
    }
}

int
pier_cmd_gc(int argc, char **argv)
{
    static const char usage[] =
        "--keep N [--grace DURATION] [--dry-run] [--endpoint URL] "
        "[--bucket NAME] [--region R] [--data DIR] [--config FILE]";
    static const struct option longopts[] = {
        {"keep", required_argument, NULL, 'k'},
        {"grace", required_argument, NULL, 'g'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        PIER_CLIENT_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct publish_gc_opts o = {.grace_s = PUBLISH_GC_GRACE_DEFAULT_S,
                                .out_fd = 1};
    const char *test_now = getenv("PIER_TEST_GC_NOW");
    const char *test_wait_path = getenv("PIER_TEST_GC_WAIT");
    const char *test_wait_man = getenv("PIER_TEST_GC_WAIT_MANIFESTS");
    struct pier_client_args a = {0};
    struct pier_client_conf conf;
    struct publish_gc_result res;
    struct pier_s3_config cfg;
    struct pier_s3_sync *s3;
    struct pier_err err;
    unsigned long keep = 0;
    bool have_keep = false;
    char *end;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (pier_client_flag(&a, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'k':
            keep = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end != '\0'
                || keep > 1000000) {
                pier_client_args_release(&a);
                return pier_cli_usage("gc", usage,
                                      "--keep wants a number of deploys");
            }
            have_keep = true;
            break;
        case 'g':
            if (publish_gc_parse_duration(optarg, &o.grace_s) != PIER_OK) {
                pier_client_args_release(&a);
                return pier_cli_usage("gc", usage,
                                      "--grace wants a duration such as 90s, "
                                      "15m, 12h or 1d");
            }
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 'h':
            pier_client_args_release(&a);
            printf("usage: pier gc %s\n\nDelete what no kept deploy needs. "
                   "Of every site, the N newest deploys\nand the live one "
                   "are kept; the manifests of the others are deleted, then\n"
                   "every blob no kept deploy references, unless it is "
                   "younger than the grace\nperiod. A rollback to a deleted "
                   "deploy is no longer possible.\n\n"
                   "gc is safe while publishing: a publish refreshes the "
                   "blobs older than %d\nminutes that it reuses (a copy "
                   "onto themselves) before writing its manifest,\nand gc "
                   "deletes a blob (or manifest) only if its LastModified "
                   "is still the\nlisted one; a rollback refreshes what its "
                   "deploy needs the same way\nbefore it goes live. "
                   "This holds while the grace period is well above\nthat "
                   "refresh age plus the longest publish: keep it at %d "
                   "hours or more\n(gc warns below).\n\n"
                   "  --keep N         deploys kept per site, besides the "
                   "live one (required)\n"
                   "  --grace DURATION keep blobs younger than this "
                   "(default 1d; s, m, h, d, w)\n"
                   "  --dry-run        say what would go, delete nothing\n%s",
                   usage, PUBLISH_REFRESH_AGE_S / 60,
                   PUBLISH_GC_GRACE_MIN_S / 3600, pier_client_help);
            return 0;
        default:
            pier_client_args_release(&a);
            return pier_cli_usage("gc", usage, "unknown option");
        }
    }
    if (!have_keep || optind < argc) {
        pier_client_args_release(&a);
        return pier_cli_usage("gc", usage,
                              !have_keep ? "--keep is required"
                                         : "unexpected argument");
    }
    o.keep = keep;
    if (o.grace_s < PUBLISH_GC_GRACE_MIN_S) {
        fprintf(stderr,
                "gc: warning: a grace below %dh may delete blobs a publish "
                "running now reuses (publishes refresh them after %d min)\n",
                PUBLISH_GC_GRACE_MIN_S / 3600, PUBLISH_REFRESH_AGE_S / 60);
    }
    if (test_now != NULL) {
        o.now = strtoll(test_now, &end, 10);
    }
    if (test_wait_path != NULL && test_wait_path[0] != '\0') {
        o.before_blob_delete = publish_test_wait;
        o.hook_arg = (void *) test_wait_path;
    } else if (test_wait_man != NULL && test_wait_man[0] != '\0') {
        o.before_manifest_delete = publish_test_wait;
        o.hook_arg = (void *) test_wait_man;
    }
    if (!pier_client_load("gc", &a, true, &conf, &cfg)) {
        pier_client_args_release(&a);
        return 1;
    }
    pier_client_args_release(&a);
    s3 = pier_s3_sync_new(&cfg, &err);
    if (s3 == NULL) {
        pier_client_conf_release(&conf);
        return pier_cli_fail("gc", "%s", err.msg);
    }
    rc = publish_gc(s3, &o, &res, &err);
    pier_s3_sync_free(s3);
    pier_client_conf_release(&conf);
    if (rc != PIER_OK) {
        return pier_cli_fail("gc", "%s", err.msg);
    }
    printf("gc%s: %zu sites, %zu deploys kept, %zu %s; %zu blobs %s (%llu "
           "bytes), %zu referenced, %zu unreferenced within the grace "
           "period, %zu written meanwhile (kept); %zu deploys restored "
           "meanwhile (kept)\n",
           o.dry_run ? " (dry run)" : "", res.sites, res.deploys_kept,
           res.deploys_deleted, o.dry_run ? "to delete" : "deleted",
           res.blobs_deleted, o.dry_run ? "to delete" : "deleted",
           (unsigned long long) res.bytes_freed, res.blobs_kept,
           res.blobs_young, res.blobs_touched, res.deploys_touched);
    return 0;
}
