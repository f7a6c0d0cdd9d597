/*
 * edge/cmd.c - `pier edge`: options and the [edge] section of pier.conf,
 * then edge/server.c until SIGTERM.
 *
 * Flags win over pier.conf, which wins over the AWS variables (so that a
 * shell exporting real AWS keys still talks to the local store after
 * `pier up`), as ARCHITECTURE.md, "Configuration", says.
 */
#include "config.h"

#include "pier.h"

#include "edge/server.h"
#include "lib/cli.h"
#include "lib/conf.h"
#include "lib/http.h"
#include "lib/log.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct edge_conf {
    char *endpoint, *bucket, *region, *access_key, *secret_key;
    char *listen, *tls_listen, *admin, *admin_token, *admin_token_file;
    uint64_t cache_mem, cache_disk, workers, poll_ms, fetch_max;
    char *cache_dir;
    char *log_level;
};

#define OFF(f) offsetof(struct edge_conf, f)
static const struct pier_conf_entry edge_entries[] = {
    {"endpoint", PIER_CONF_STR, NULL, 0, OFF(endpoint),
     "the object store's URL (else $AWS_ENDPOINT_URL)"},
    {"bucket", PIER_CONF_STR, "pier", 0, OFF(bucket), "the bucket"},
    {"region", PIER_CONF_STR, NULL, 0, OFF(region), "the SigV4 region"},
    {"access_key", PIER_CONF_STR, NULL, 0, OFF(access_key),
     "a read-only key id (else $AWS_ACCESS_KEY_ID)"},
    {"secret_key", PIER_CONF_STR, NULL, 0, OFF(secret_key),
     "its secret (else $AWS_SECRET_ACCESS_KEY)"},
    {"listen", PIER_CONF_STR, "127.0.0.1:8080", 0, OFF(listen),
     "HOST:PORT of the public listener"},
    {"tls_listen", PIER_CONF_STR, NULL, 0, OFF(tls_listen),
     "HOST:PORT of the TLS listener (none by default)"},
    {"admin", PIER_CONF_STR, "127.0.0.1:8081", 0, OFF(admin),
     "HOST:PORT of the admin API (\"off\": none)"},
    {"admin_token", PIER_CONF_STR, NULL, 0, OFF(admin_token),
     "the admin API's bearer token"},
    {"admin_token_file", PIER_CONF_STR, NULL, 0, OFF(admin_token_file),
     "a file holding the token"},
    {"cache_mem", PIER_CONF_SIZE, "256M", 0, OFF(cache_mem),
     "bytes of the memory cache"},
    {"cache_dir", PIER_CONF_STR, NULL, 0, OFF(cache_dir),
     "directory of the disk cache (none by default)"},
    {"cache_disk", PIER_CONF_SIZE, "4G", 0, OFF(cache_disk),
     "bytes of the disk cache"},
    {"workers", PIER_CONF_UINT, "0", 1024, OFF(workers),
     "worker loops (0: one per core)"},
    {"poll", PIER_CONF_MS, "5s", 0, OFF(poll_ms), "how often live/ is listed"},
    {"fetch_max", PIER_CONF_SIZE, "16M", 0, OFF(fetch_max),
     "larger blobs stream through a file, uncached"},
    {"log_level", PIER_CONF_STR, "info", 0, OFF(log_level),
     "error, warn, info or debug"},
};
#undef OFF

static const struct pier_conf_section edge_section = {
    "edge", edge_entries, PIER_NELEMS(edge_entries)};

static const char usage_line[] =
    "[--config FILE] [--endpoint URL] [--bucket B] [--listen ADDR] "
    "[--tls-listen ADDR] "
    "[--admin ADDR|off] [--admin-token-file F] [--cache-mem SIZE] "
    "[--cache-dir DIR --cache-disk SIZE] [--fetch-max SIZE] [--workers N] "
    "[--ready-file F]";

static void
help(void)
{
    printf("usage: pier edge %s\n\n"
           "Serve every site of the store on its domains (and NAME.localhost)"
           "\nfrom a memory and disk cache of content-addressed blobs.\n\n"
           "Options override these pier.conf keys:\n",
           usage_line);
    pier_conf_help(stdout, &edge_section);
}

/* Read the token file's first line. */
static int
read_token(const char *path, char **out, struct pier_err *err)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0') {
        return pier_err_set(err, "'%s' holds no token", path);
    }
    *out = pier_strdup(buf);
    return PIER_OK;
}

int
pier_cmd_edge(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'D'},
        {"endpoint", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'b'},
        {"listen", required_argument, NULL, 'l'},
        {"tls-listen", required_argument, NULL, 's'},
        {"admin", required_argument, NULL, 'a'},
        {"admin-token-file", required_argument, NULL, 't'},
        {"cache-mem", required_argument, NULL, 'm'},
        {"cache-dir", required_argument, NULL, 'd'},
        {"cache-disk", required_argument, NULL, 'k'},
        {"workers", required_argument, NULL, 'w'},
        {"poll", required_argument, NULL, 'p'},
        {"fetch-max", required_argument, NULL, 'f'},
        {"ready-file", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        const char *key;
    } keys[] = {
        {'e', "endpoint"},   {'b', "bucket"},    {'l', "listen"},
        {'s', "tls_listen"}, {'a', "admin"},     {'t', "admin_token_file"},
        {'m', "cache_mem"},  {'d', "cache_dir"}, {'k', "cache_disk"},
        {'w', "workers"},    {'p', "poll"},      {'f', "fetch_max"}};
    struct edge_conf conf;
    struct edge_server_opts o;
    struct edge_server *srv = NULL;
    struct pier_err err;
    const char *config = NULL, *data = NULL, *ready = NULL;
    const char *flags[PIER_NELEMS(keys)] = {NULL};
    char data_dir[4096], conf_path[4096];
    enum pier_log_level level;
    int c, rc = 1;
    size_t i;

    memset(&conf, 0, sizeof(conf));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'D':
            data = optarg;
            break;
        case 'r':
            ready = optarg;
            break;
        case 'h':
            help();
            return 0;
        default:
            for (i = 0; i < PIER_NELEMS(keys); i++) {
                if (keys[i].opt == c) {
                    flags[i] = optarg;
                    break;
                }
            }
            if (i == PIER_NELEMS(keys)) {
                return pier_cli_usage("edge", usage_line, "unknown option");
            }
        }
    }
    if (optind < argc) {
        return pier_cli_usage("edge", usage_line, "unexpected '%s'",
                              argv[optind]);
    }
    if (pier_conf_defaults(&edge_section, &conf, &err) != PIER_OK) {
        return pier_cli_fail("edge", "%s", err.msg);
    }
    /* pier.conf when there is one (or when named). */
    if (pier_data_dir(data, data_dir, sizeof(data_dir), &err) == PIER_OK
        && pier_conf_path(config, data_dir, conf_path, sizeof(conf_path), &err)
               == PIER_OK
        && (config != NULL || access(conf_path, F_OK) == 0)
        && pier_conf_load_file(&edge_section, &conf, conf_path, &err)
               != PIER_OK) {
        rc = pier_cli_fail("edge", "%s", err.msg);
        goto out;
    }
    for (i = 0; i < PIER_NELEMS(keys); i++) {
        if (flags[i] != NULL
            && pier_conf_set(&edge_section, &conf, keys[i].key, flags[i], &err)
                   != PIER_OK) {
            rc = pier_cli_usage("edge", usage_line, "%s", err.msg);
            goto out;
        }
    }
    if (pier_log_parse_level(conf.log_level, &level) != PIER_OK) {
        rc = pier_cli_fail("edge", "bad log level '%s'", conf.log_level);
        goto out;
    }
    pier_log_set_level(level);
    if (conf.admin_token_file != NULL) {
        pier_free(conf.admin_token);
        conf.admin_token = NULL;
        if (read_token(conf.admin_token_file, &conf.admin_token, &err)
            != PIER_OK) {
            rc = pier_cli_fail("edge", "%s", err.msg);
            goto out;
        }
    }

    memset(&o, 0, sizeof(o));
    pier_s3_config_init(&o.s3);
    /* The environment first, so that pier.conf and flags override it. */
    pier_s3_config_from_env(&o.s3);
    if (conf.endpoint != NULL) {
        o.s3.endpoint = conf.endpoint;
    }
    if (conf.region != NULL) {
        o.s3.region = conf.region;
    }
    if (conf.access_key != NULL) {
        o.s3.access_key_id = conf.access_key;
    }
    if (conf.secret_key != NULL) {
        o.s3.secret_access_key = conf.secret_key;
    }
    o.s3.bucket = conf.bucket;
    o.s3.connect_timeout_ms = 2000;
    o.s3.idle_timeout_ms = 10000;
    o.s3.request_timeout_ms = 30000;
    o.s3.max_retries = 1;
    if (o.s3.endpoint == NULL) {
        rc = pier_cli_usage("edge", usage_line,
                            "no store: give --endpoint or set "
                            "AWS_ENDPOINT_URL");
        goto out;
    }
    o.listen = conf.listen;
    o.tls_listen = conf.tls_listen;
    o.admin = conf.admin != NULL && strcmp(conf.admin, "off") != 0 ? conf.admin
                                                                   : NULL;
    o.admin_token = conf.admin_token;
    o.cache.mem_max = conf.cache_mem;
    o.cache.dir = conf.cache_dir;
    o.cache.disk_max = conf.cache_disk;
    o.workers = (unsigned) conf.workers;
    o.poll_ms = conf.poll_ms;
    o.fetch_max = conf.fetch_max;

    srv = edge_server_new(&o, &err);
    if (srv == NULL) {
        rc = pier_cli_fail("edge", "%s", err.msg);
        goto out;
    }
    pier_log(PIER_LOG_INFO, "edge", "serving from %s, bucket %s", o.s3.endpoint,
             o.s3.bucket);
    if (pier_http_server_run(edge_server_http(srv), ready, &err) != PIER_OK) {
        rc = pier_cli_fail("edge", "%s", err.msg);
        goto out;
    }
    rc = 0;

out:
    edge_server_free(srv);
    pier_conf_release(&edge_section, &conf);
    return rc;
}
