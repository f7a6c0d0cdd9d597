/*
 * objstore/cmd.c - `pier objstore` (the server) and `pier keys` (its keys
 * file).
 */
#include "config.h"

#include "pier.h"

#include "lib/accesslog.h"
#include "lib/cli.h"
#include "lib/conf.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "objstore/keys.h"
#include "objstore/server.h"
#include "objstore/store.h"
#include "objstore/xml.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DOMAINS 16

static const char objstore_usage[] =
    "--data DIR [--listen HOST:PORT] [--tls-listen HOST:PORT --tls-cert FILE "
    "--tls-key FILE] [--config FILE] [--region REGION] [--domain DOMAIN]... "
    "[--workers N] [--access-log FILE] [--ready-file PATH]";

/* The [objstore] section of pier.conf; every key but ready-file has the
 * flag of the same name, which wins over it. */
struct objstore_conf {
    char *data, *listen, *tls_listen, *tls_cert, *tls_key, *region;
    char *access_log;
    uint64_t workers;
    struct pier_conf_list domains;
};

#define OFF(f) offsetof(struct objstore_conf, f)
static const struct pier_conf_entry objstore_entries[] = {
    {"data", PIER_CONF_STR, NULL, 0, OFF(data),
     "the data directory (owned by one server)"},
    {"listen", PIER_CONF_STR, "127.0.0.1:9000", 0, OFF(listen),
     "HOST:PORT of the plain HTTP listener"},
    {"tls-listen", PIER_CONF_STR, NULL, 0, OFF(tls_listen),
     "HOST:PORT of the HTTPS listener (none by default)"},
    {"tls-cert", PIER_CONF_STR, NULL, 0, OFF(tls_cert),
     "its certificate chain, PEM"},
    {"tls-key", PIER_CONF_STR, NULL, 0, OFF(tls_key), "its private key, PEM"},
    {"region", PIER_CONF_STR, "us-east-1", 0, OFF(region),
     "the signing region"},
    {"domain", PIER_CONF_STRLIST, NULL, 0, OFF(domains),
     "BUCKET.DOMAIN addressing (repeatable; localhost when none)"},
    {"workers", PIER_CONF_UINT, "0", 256, OFF(workers),
     "worker threads (0: one per core)"},
    {"access-log", PIER_CONF_STR, NULL, 0, OFF(access_log),
     "access log file ('-': stderr; none by default)"},
};
#undef OFF

static const struct pier_conf_section objstore_section = {
    "objstore", objstore_entries, PIER_NELEMS(objstore_entries)};

/* ---- addresses ---- */

/* Split "HOST:PORT" or "[V6]:PORT" into host (n bytes) and port. */
static int
parse_addr(const char *s, char *host, size_t n, unsigned *port)
{
    const char *colon;
    char *end;
    unsigned long p;
    size_t hl;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':') {
            return PIER_ERR;
        }
        hl = (size_t) (close - s - 1);
        if (hl == 0 || hl >= n) {
            return PIER_ERR;
        }
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return PIER_ERR;
        }
        hl = (size_t) (colon - s);
        if (hl >= n) {
            return PIER_ERR;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (hl == 0) {
            snprintf(host, n, "127.0.0.1");
        }
    }
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535) {
        return PIER_ERR;
    }
    *port = (unsigned) p;
    return PIER_OK;
}

/* ---- first start ---- */

/* Create the keys file with an admin key and print its credentials,
 * unless it exists. */
static int
first_keys(const char *path, struct pier_err *err)
{
    struct objstore_keys *keys;
    const struct objstore_key *admin;
    struct stat sb;

    if (stat(path, &sb) == 0) {
        return PIER_OK;
    }
    keys = objstore_keys_new();
    if (objstore_keys_add(keys, "admin", NULL, NULL, true, NULL, 0, &admin, err)
            != PIER_OK
        || objstore_keys_save(keys, path, err) != PIER_OK) {
        objstore_keys_unref(keys);
        return PIER_ERR;
    }
    fprintf(stdout,
            "# pier objstore: the admin key (shown once; kept in "
            "%s)\n",
            path);
    objstore_keys_print_env(admin, stdout);
    fflush(stdout);
    objstore_keys_unref(keys);
    return PIER_OK;
}

static void
on_reload(void *udata)
{
    struct objstore_server *srv = udata;
    struct pier_err err;

    if (objstore_server_reload(srv, &err) != PIER_OK) {
        pier_log(PIER_LOG_ERROR, "objstore", "keys not reloaded: %s", err.msg);
        return;
    }
    pier_log(PIER_LOG_INFO, "objstore", "keys reloaded");
}

static void
objstore_help(void)
{
    printf("usage: pier objstore %s\n\n"
           "Run the S3-compatible object store over the data directory DIR.\n"
           "Every request must be signed (SigV4 or SigV2) by a key of "
           "DIR/keys;\n"
           "the first start creates DIR and prints the admin key.\n\n"
           "  --config FILE         pier.conf (else $PIER_CONFIG; else "
           "none)\n"
           "  --ready-file PATH     write pid and addresses once listening\n"
           "  --data, --listen, --tls-listen, --tls-cert, --tls-key, "
           "--region,\n"
           "  --domain (repeatable: replaces the file's), --workers, "
           "--access-log:\n"
           "                        override these pier.conf keys:\n",
           objstore_usage);
    pier_conf_help(stdout, &objstore_section);
    printf("\nSIGHUP reloads the keys file; SIGTERM stops.\n");
}

int
pier_cmd_objstore(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"tls-listen", required_argument, NULL, 'L'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'C'},
        {"region", required_argument, NULL, 'r'},
        {"domain", required_argument, NULL, 'D'},
        {"workers", required_argument, NULL, 'w'},
        {"access-log", required_argument, NULL, 'a'},
        {"ready-file", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* The flags that set a key of the section. */
    static const struct {
        int opt;
        const char *key;
    } keys[] = {
        {'d', "data"},     {'l', "listen"}, {'L', "tls-listen"},
        {'c', "tls-cert"}, {'k', "tls-key"}, {'r', "region"},
        {'w', "workers"},  {'a', "access-log"},
    };
    struct objstore_conf o;
    struct objstore *st = NULL;
    struct objstore_server *srv = NULL;
    struct pier_http_server *hs = NULL;
    struct pier_http_config hc;
    struct pier_tls *tls = NULL;
    struct pier_accesslog *alog = NULL;
    struct objstore_server_config sc;
    struct pier_err err;
    const char *config = NULL, *ready_file = NULL;
    const char *flags[PIER_NELEMS(keys)] = {NULL};
    const char *domains[MAX_DOMAINS];
    char keys_path[PATH_MAX], host[256];
    size_t ndomains = 0, i;
    unsigned port;
    bool created = false;
    int c, rc = 1;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'C':
            config = optarg;
            break;
        case 'R':
            ready_file = optarg;
            break;
        case 'D':
            if (ndomains == MAX_DOMAINS) {
                return pier_cli_usage("objstore", objstore_usage,
                                      "too many --domain");
            }
            domains[ndomains++] = optarg;
            break;
        case 'h':
            objstore_help();
            return 0;
        default:
            for (i = 0; i < PIER_NELEMS(keys); i++) {
                if (keys[i].opt == c) {
                    flags[i] = optarg;
                    break;
                }
            }
            if (i == PIER_NELEMS(keys)) {
                return pier_cli_usage("objstore", objstore_usage,
                                      "unknown option");
            }
        }
    }
    if (optind < argc) {
        return pier_cli_usage("objstore", objstore_usage,
                              "unexpected argument '%s'", argv[optind]);
    }
    if (pier_conf_defaults(&objstore_section, &o, &err) != PIER_OK) {
        return pier_cli_fail("objstore", "%s", err.msg);
    }
    if (config == NULL) {
        config = getenv("PIER_CONFIG");
    }
    if (config != NULL
        && pier_conf_load_file(&objstore_section, &o, config, &err)
               != PIER_OK) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    /* Flags win; --domain replaces the file's domains. */
    for (i = 0; i < PIER_NELEMS(keys); i++) {
        if (flags[i] != NULL
            && pier_conf_set(&objstore_section, &o, keys[i].key, flags[i],
                             &err)
                   != PIER_OK) {
            rc = pier_cli_usage("objstore", objstore_usage, "%s", err.msg);
            goto out;
        }
    }
    if (ndomains > 0) {
        for (i = 0; i < o.domains.n; i++) {
            pier_free(o.domains.items[i]);
        }
        o.domains.n = 0;
        for (i = 0; i < ndomains; i++) {
            PIER_ASSERT(pier_conf_set(&objstore_section, &o, "domain",
                                      domains[i], &err)
                        == PIER_OK);
        }
    }
    if (o.domains.n == 0) {
        PIER_ASSERT(
            pier_conf_set(&objstore_section, &o, "domain", "localhost", &err)
            == PIER_OK);
    }
    if (o.domains.n > MAX_DOMAINS) {
        rc = pier_cli_usage("objstore", objstore_usage,
                            "more than %d domains", MAX_DOMAINS);
        goto out;
    }
    if (o.data == NULL) {
        rc = pier_cli_usage("objstore", objstore_usage, "--data is required");
        goto out;
    }
    if ((o.tls_listen != NULL) != (o.tls_cert != NULL && o.tls_key != NULL)) {
        rc = pier_cli_usage("objstore", objstore_usage,
                            "--tls-listen needs --tls-cert and --tls-key");
        goto out;
    }

    objstore_xml_init();
    /* PUTs commit in libuv's thread pool, where they wait on fsync: the
     * more that wait together, the bigger the group commits (store.h).
     * An explicit UV_THREADPOOL_SIZE wins. */
    (void) setenv("UV_THREADPOOL_SIZE", "16", 0);
    st = objstore_open(o.data, NULL, &created, &err);
    if (st == NULL) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    if (objstore_recovered(st) > 0) {
        pier_log(PIER_LOG_INFO, "objstore",
                 "recovery removed %zu unfinished files",
                 objstore_recovered(st));
    }
    if ((size_t) snprintf(keys_path, sizeof(keys_path), "%s/keys", o.data)
        >= sizeof(keys_path)) {
        rc = pier_cli_fail("objstore", "data directory path too long");
        goto out;
    }
    if (first_keys(keys_path, &err) != PIER_OK) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    memset(&sc, 0, sizeof(sc));
    sc.region = o.region;
    sc.domains = (const char *const *) o.domains.items;
    sc.ndomains = o.domains.n;
    srv = objstore_server_new(st, keys_path, &sc, &err);
    if (srv == NULL) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    if (o.access_log != NULL) {
        alog = pier_accesslog_open(o.access_log, &err);
        if (alog == NULL) {
            rc = pier_cli_fail("objstore", "%s", err.msg);
            goto out;
        }
    }
    pier_http_config_init(&hc);
    hc.workers = (unsigned) o.workers;
    hc.access_log = alog;
    /* A 5 GiB PUT plus aws-chunked framing. */
    hc.limits.max_body_bytes = OBJSTORE_MAX_OBJECT + OBJSTORE_MAX_OBJECT / 64;
    hc.on_reload = on_reload;
    hc.udata = srv;
    hs = pier_http_server_new(&hc);
    if (parse_addr(o.listen, host, sizeof(host), &port) != PIER_OK) {
        rc = pier_cli_usage("objstore", objstore_usage, "bad --listen '%s'",
                            o.listen);
        goto out;
    }
    if (pier_http_server_listen(hs, "http", host, port, NULL,
                                objstore_server_handle, srv, &err)
        != PIER_OK) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    if (o.tls_listen != NULL) {
        if (parse_addr(o.tls_listen, host, sizeof(host), &port) != PIER_OK) {
            rc = pier_cli_usage("objstore", objstore_usage,
                                "bad --tls-listen '%s'", o.tls_listen);
            goto out;
        }
        tls = pier_tls_new(&err);
        if (tls == NULL
            || pier_tls_set_cert_files(tls, NULL, o.tls_cert, o.tls_key, &err)
                   != PIER_OK
            || pier_http_server_listen(hs, "https", host, port, tls,
                                       objstore_server_handle, srv, &err)
                   != PIER_OK) {
            rc = pier_cli_fail("objstore", "%s", err.msg);
            goto out;
        }
    }
    pier_log(PIER_LOG_INFO, "objstore", "serving '%s'%s", o.data,
             created ? " (created)" : "");
    if (pier_http_server_run(hs, ready_file, &err) != PIER_OK) {
        rc = pier_cli_fail("objstore", "%s", err.msg);
        goto out;
    }
    rc = 0;
out:
    pier_http_server_free(hs);
    pier_tls_free(tls);
    pier_accesslog_free(alog);
    objstore_server_free(srv);
    objstore_close(st);
    pier_conf_release(&objstore_section, &o);
    return rc;
}

/* ---- pier keys ---- */

static const char keys_usage[] =
    "(add NAME [--grant BUCKET[/PREFIX]:read|write]... [--admin] | list | "
    "rm NAME) --data DIR";

static void
keys_help(void)
{
    printf("usage: pier keys %s\n\n"
           "Manage the object store's keys in DIR/keys (mode 0600).\n\n"
           "  add NAME   create a key; prints AWS_ACCESS_KEY_ID=... and\n"
           "             AWS_SECRET_ACCESS_KEY=... lines for the shell\n"
           "  list       names, access key ids and grants (no secrets)\n"
           "  rm NAME    remove a key\n\n"
           "  --grant BUCKET[/PREFIX]:read|write   may repeat; write implies "
           "read\n"
           "  --admin    may also create and delete buckets\n"
           "  --data DIR the object store's data directory\n\n"
           "A running `pier objstore` on DIR is sent SIGHUP to reload.\n",
           keys_usage);
}

/* Tell a server running on dir to reload: it holds DIR/lock. */
static void
signal_server(const char *dir)
{
    char path[PATH_MAX], pid[32];
    ssize_t n;
    long v;
    int fd;

    snprintf(path, sizeof(path), "%s/lock", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
        close(fd); /* no server holds it */
        return;
    }
    n = pread(fd, pid, sizeof(pid) - 1, 0);
    close(fd);
    if (n <= 0) {
        return;
    }
    pid[n] = '\0';
    v = strtol(pid, NULL, 10);
    if (v > 1 && kill((pid_t) v, SIGHUP) == 0) {
        fprintf(stderr, "pier keys: told pier objstore (pid %ld) to reload\n",
                v);
    }
}

int
pier_cmd_keys(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"grant", required_argument, NULL, 'g'},
        {"admin", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *grants[64];
    char path[PATH_MAX], lockpath[PATH_MAX];
    struct objstore_keys *keys = NULL;
    const struct objstore_key *k;
    struct pier_err err;
    size_t ngrants = 0, i, j;
    bool admin = false;
    const char *verb;
    int c, rc = 1, lockfd = -1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'g':
            if (ngrants == PIER_NELEMS(grants)) {
                return pier_cli_usage("keys", keys_usage, "too many --grant");
            }
            grants[ngrants++] = optarg;
            break;
        case 'A':
            admin = true;
            break;
        case 'h':
            keys_help();
            return 0;
        default:
            return pier_cli_usage("keys", keys_usage, "unknown option");
        }
    }
    if (optind >= argc) {
        return pier_cli_usage("keys", keys_usage, "no subcommand");
    }
    verb = argv[optind];
    if (data == NULL) {
        return pier_cli_usage("keys", keys_usage, "--data is required");
    }
    if (strcmp(verb, "list") == 0 ? optind + 1 != argc : optind + 2 != argc) {
        return pier_cli_usage("keys", keys_usage, "wrong arguments for '%s'",
                              verb);
    }
    if (strcmp(verb, "add") != 0 && (ngrants > 0 || admin)) {
        return pier_cli_usage("keys", keys_usage,
                              "--grant and --admin go with add");
    }
    if ((size_t) snprintf(path, sizeof(path), "%s/keys", data) >= sizeof(path)
        || (size_t) snprintf(lockpath, sizeof(lockpath), "%s/keys.lock", data)
               >= sizeof(lockpath)) {
        return pier_cli_fail("keys", "data directory path too long");
    }
    if (strcmp(verb, "add") == 0 || strcmp(verb, "rm") == 0) {
        /* Two `pier keys` at once must not lose each other's change. */
        if (mkdir(data, 0755) != 0 && errno != EEXIST) {
            return pier_cli_fail("keys", "cannot create '%s': %s", data,
                                 strerror(errno));
        }
        lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lockfd == -1 || flock(lockfd, LOCK_EX) != 0) {
            rc = pier_cli_fail("keys", "cannot lock '%s': %s", lockpath,
                               strerror(errno));
            goto out;
        }
    }
    keys = objstore_keys_load(path, strcmp(verb, "add") == 0, &err);
    if (keys == NULL) {
        rc = pier_cli_fail("keys", "%s", err.msg);
        goto out;
    }
    if (strcmp(verb, "list") == 0) {
        for (i = 0; i < objstore_keys_count(keys); i++) {
            k = objstore_keys_at(keys, i);
            printf("%s %s %s", k->name, k->id, k->admin ? "admin" : "-");
            for (j = 0; j < k->ngrants; j++) {
                printf(" %s%s%s:%s", k->grants[j].bucket,
                       k->grants[j].prefix[0] != '\0' ? "/" : "",
                       k->grants[j].prefix,
                       k->grants[j].write ? "write" : "read");
            }
            printf("\n");
        }
        rc = 0;
        goto out;
    }
    if (strcmp(verb, "add") == 0) {
        if (objstore_keys_add(keys, argv[optind + 1], NULL, NULL, admin, grants,
                              ngrants, &k, &err)
                != PIER_OK
            || objstore_keys_save(keys, path, &err) != PIER_OK) {
            rc = pier_cli_fail("keys", "%s", err.msg);
            goto out;
        }
        objstore_keys_print_env(k, stdout);
    } else if (strcmp(verb, "rm") == 0) {
        if (objstore_keys_remove(keys, argv[optind + 1], &err) != PIER_OK
            || objstore_keys_save(keys, path, &err) != PIER_OK) {
            rc = pier_cli_fail("keys", "%s", err.msg);
            goto out;
        }
    } else {
        rc =
            pier_cli_usage("keys", keys_usage, "unknown subcommand '%s'", verb);
        goto out;
    }
    signal_server(data);
    rc = 0;
out:
    objstore_keys_unref(keys);
    if (lockfd != -1) {
        close(lockfd);
    }
    return rc;
}
