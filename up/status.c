/*
 * up/status.c - `pier status` (what runs where, the sites the edges serve,
 * their hit ratio) and `pier purge` (drop paths from the edges' caches).
 *
 * Both talk to the edges' admin API, found the way every client command
 * finds the store (lib/clientconf.h): the [publish] section's edge URLs
 * and token.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/clientconf.h"
#include "up/up.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct pier_buf *b = arg;

    return pier_buf_add(b, p, size * n) == PIER_OK ? size * n : 0;
}

/* GET or POST url with the bearer token; the body lands in out. The HTTP
 * status, or -1 with err set when no answer came. */
static long
admin_call(const char *url, const char *token, const char *post,
           struct pier_buf *out, struct pier_err *err)
{
    struct curl_slist *hdrs = NULL;
    char auth[600];
    CURL *c = curl_easy_init();
    CURLcode rc;
    long status = -1;

    if (c == NULL) {
        pier_err_set(err, "cannot start curl");
        return -1;
    }
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (post != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        pier_err_set(err, "%s", curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return status;
}

/* "pid N" of a ready file, when that process still runs; else 0. */
static long
ready_pid(const char *path)
{
    char line[128];
    long pid = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return 0;
    }
    if (fgets(line, sizeof(line), f) != NULL && strncmp(line, "pid ", 4) == 0) {
        pid = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return pid > 0 && kill((pid_t) pid, 0) == 0 ? pid : 0;
}

static void
print_ready(const char *run, const char *name)
{
    char path[4200], line[512];
    long pid;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.ready", run, name);
    pid = ready_pid(path);
    if (pid == 0) {
        printf("%-9s not running\n", name);
        return;
    }
    printf("%-9s running, pid %ld:", name, pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "pid ", 4) != 0) {
            printf("  %s", line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    printf("\n");
}

static void
status_help(void)
{
    printf("usage: pier status [--data DIR] [--config FILE]\n\n"
           "What runs where under pier up, then for each edge of pier.conf's\n"
           "[publish] section: its sites with their live deploys and "
           "domains,\nand its cache's hit ratio.\n");
}

static void
print_edge(const char *url, const char *token)
{
    struct pier_buf b;
    struct pier_err err;
    char u[1200];
    json_t *root, *sites, *s, *d;
    json_error_t jerr;
    long st;
    size_t i, j;

    pier_buf_init(&b, 8 << 20);
    snprintf(u, sizeof(u), "%s/v1/stats", url);
    st = admin_call(u, token, NULL, &b, &err);
    if (st != 200) {
        printf("edge %s: %s\n", url,
               st < 0 ? err.msg : "the admin API refused (token?)");
        pier_buf_release(&b);
        return;
    }
    root = json_loadb(b.data, b.len, 0, &jerr);
    if (root != NULL) {
        json_int_t req = json_integer_value(json_object_get(root, "requests"));
        json_int_t hits = json_integer_value(json_object_get(root, "hits"));
        json_int_t miss = json_integer_value(json_object_get(root, "misses"));

        printf("edge %s: %lld requests, %lld hits, %lld misses", url,
               (long long) req, (long long) hits, (long long) miss);
        if (hits + miss > 0) {
            printf(", hit ratio %.1f%%",
                   100.0 * (double) hits / (double) (hits + miss));
        }
        printf("\n");
        json_decref(root);
    }
    pier_buf_reset(&b);
    snprintf(u, sizeof(u), "%s/v1/sites", url);
    if (admin_call(u, token, NULL, &b, &err) == 200
        && (root = json_loadb(b.data, b.len, 0, &jerr)) != NULL) {
        sites = json_object_get(root, "sites");
        if (json_array_size(sites) == 0) {
            printf("  (no sites: pier site create NAME)\n");
        }
        json_array_foreach(sites, i, s)
        {
            const char *dep = json_string_value(json_object_get(s, "deploy"));

            printf("  %-20s %-34s", json_string_value(json_object_get(s, "site")),
                   dep != NULL ? dep : "(not published)");
            json_array_foreach(json_object_get(s, "domains"), j, d)
            {
                printf(" %s", json_string_value(d));
            }
            printf("\n");
        }
        json_decref(root);
    }
    pier_buf_release(&b);
}

int
pier_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *config = NULL;
    struct pier_client_conf conf;
    struct up_layout l;
    struct pier_err err;
    size_t i;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            status_help();
            return 0;
        case 'd':
            data = optarg;
            break;
        case 'C':
            config = optarg;
            break;
        default:
            return pier_cli_usage("status", "[--data DIR] [--config FILE]",
                                  "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return pier_cli_usage("status", "[--data DIR] [--config FILE]",
                              "unexpected argument '%s'", argv[optind]);
    }
    if (pier_client_conf_load(&conf, data, config, &err) != PIER_OK
        || up_layout_init(&l, conf.data_dir, &err) != PIER_OK) {
        pier_client_conf_release(&conf);
        return pier_cli_fail("status", "%s", err.msg);
    }
    printf("data      %s\n", conf.data_dir);
    print_ready(l.run, "objstore");
    print_ready(l.run, "edge");
    for (i = 0; i < conf.edges.n; i++) {
        print_edge(conf.edges.items[i], conf.edge_token);
    }
    if (conf.edges.n == 0) {
        printf("no edges in pier.conf's [publish] section\n");
    }
    pier_client_conf_release(&conf);
    return 0;
}

static const char purge_usage[] =
    "--site NAME PATH... [--data DIR] [--config FILE] [--edge URL]... "
    "[--edge-token T]";

static void
purge_help(void)
{
    printf("usage: pier purge %s\n\n"
           "Drop PATHs of a site from every edge's cache and make each edge\n"
           "reload the site's live deploy. A deploy never needs it (the\n"
           "publisher tells the edges what changed); it is for an edge you\n"
           "suspect.\n\n"
           "  --site NAME      the site\n"
           "  --edge URL       an edge's admin API (default: pier.conf's)\n"
           "  --edge-token T   its bearer token (default: pier.conf's)\n"
           "  --data DIR       the data directory whose pier.conf to read\n"
           "  --config FILE    the pier.conf to read\n",
           purge_usage);
}

static int
purge_main(int argc, char **argv, struct pier_client_args *ca)
{
    static const struct option longopts[] = {
        {"site", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        PIER_CLIENT_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *site = NULL, *token;
    const char *const *edges;
    struct pier_client_conf conf;
    struct pier_s3_config s3;
    struct pier_buf out;
    struct pier_err err;
    json_t *body, *paths;
    char *text, url[1200];
    size_t i, nedges, failed = 0;
    long st;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (pier_client_flag(ca, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'h':
            purge_help();
            return 0;
        case 's':
            site = optarg;
            break;
        default:
            return pier_cli_usage("purge", purge_usage, "unknown option '%s'",
                                  argv[optind - 1]);
        }
    }
    if (site == NULL || optind >= argc) {
        return pier_cli_usage("purge", purge_usage,
                              site == NULL ? "--site is required"
                                           : "no PATH to purge");
    }
    if (!pier_client_load("purge", ca, false, &conf, &s3)) {
        return 1;
    }
    pier_client_edges(ca, &conf, &edges, &nedges, &token);
    if (nedges == 0) {
        pier_client_conf_release(&conf);
        return pier_cli_fail("purge", "no edge: give --edge, or run pier up");
    }
    paths = json_array();
    for (; optind < argc; optind++) {
        json_array_append_new(paths, json_string(argv[optind]));
    }
    body = json_pack("{s:s,s:o}", "site", site, "paths", paths);
    text = json_dumps(body, JSON_COMPACT);
    pier_buf_init(&out, 1 << 20);
    for (i = 0; i < nedges; i++) {
        snprintf(url, sizeof(url), "%s/v1/purge", edges[i]);
        pier_buf_reset(&out);
        st = admin_call(url, token, text, &out, &err);
        if (st == 200) {
            printf("edge %s: %s", edges[i], out.data);
        } else {
            failed++;
            fprintf(stderr, "pier purge: edge %s: %s%s", edges[i],
                    st < 0 ? err.msg : "", st < 0 ? "\n" : out.data);
            if (st >= 0 && (out.len == 0 || out.data[out.len - 1] != '\n')) {
                fprintf(stderr, " (status %ld)\n", st);
            }
        }
    }
    pier_buf_release(&out);
    free(text);
    json_decref(body);
    pier_client_conf_release(&conf);
    return failed == 0 ? 0 : 1;
}

int
pier_cmd_purge(int argc, char **argv)
{
    struct pier_client_args ca = {0};
    int rc = purge_main(argc, argv, &ca);

    pier_client_args_release(&ca);
    return rc;
}
