/*
 * up/cmd.c - `pier up`: prepare the data directory, run the object store
 * and the edge as children, supervise them.
 *
 * The children are this same binary (/proc/self/exe) with `objstore` and
 * `edge`, each given --ready-file DATA/run/NAME.ready: the store starts
 * first, because the edge needs its address. Signals are blocked and taken
 * with sigtimedwait(), so the supervisor is one plain loop with no handler
 * races.
 */
#include "config.h"

#include "pier.h"

#include "lib/cli.h"
#include "lib/conf.h"
#include "objstore/keys.h"
#include "up/up.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage_line[] =
    "[--data DIR] [--store ADDR] [--http ADDR] [--https ADDR] "
    "[--admin ADDR] [--cache-mem SIZE] [--ready-file PATH]";

struct up_conf {
    char *store;
    char *http;
    char *https;
    char *admin;
    char *cache_mem;
    char *bucket;
};

#define F(f) offsetof(struct up_conf, f)
static const struct pier_conf_entry up_entries[] = {
    {"store", PIER_CONF_STR, "127.0.0.1:9000", 0, F(store),
     "the object store's listener"},
    {"http", PIER_CONF_STR, "127.0.0.1:8080", 0, F(http),
     "the edge's HTTP listener"},
    {"https", PIER_CONF_STR, "127.0.0.1:8443", 0, F(https),
     "the edge's TLS listener"},
    {"admin", PIER_CONF_STR, "127.0.0.1:8081", 0, F(admin),
     "the edge's admin API (loopback)"},
    {"cache_mem", PIER_CONF_STR, "256M", 0, F(cache_mem),
     "the edge's memory cache"},
    {"bucket", PIER_CONF_STR, "pier", 0, F(bucket), "the bucket sites live in"},
};
static const struct pier_conf_section up_section = {"up", up_entries,
                                                    PIER_NELEMS(up_entries)};

struct child {
    const char *name;
    pid_t pid;
    char ready[4200];
};

static void
help(void)
{
    printf("usage: pier up %s\n\n"
           "Run the local object store and the edge together, on loopback.\n"
           "The first start writes DATA/pier.conf with fresh keys (an admin\n"
           "key, a publisher key, a read-only edge key) and an admin token\n"
           "for the edge; after that, pier publish, pier site and git push\n"
           "need no flag. Ctrl-C stops both servers.\n\n"
           "  --data DIR        data directory (default $PIER_HOME, else\n"
           "                    ~/.local/share/pier)\n"
           "  --store ADDR      object store listener (127.0.0.1:9000)\n"
           "  --http ADDR       edge HTTP listener (127.0.0.1:8080)\n"
           "  --https ADDR      edge TLS listener (127.0.0.1:8443)\n"
           "  --admin ADDR      edge admin API (127.0.0.1:8081)\n"
           "  --cache-mem SIZE  edge memory cache (256M)\n"
           "  --ready-file PATH write the listeners here once all are up\n"
           "  -h, --help        this help\n\n",
           usage_line);
    pier_conf_help(stdout, &up_section);
}

/* Read "NAME HOST:PORT" for name from a ready file; NULL when absent. */
static char *
ready_addr(const char *path, const char *name)
{
    char line[512];
    size_t n = strlen(name);
    char *res = NULL;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return NULL;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            line[strcspn(line, "\n")] = '\0';
            res = pier_strdup(line + n + 1);
            break;
        }
    }
    fclose(f);
    return res;
}

/* Run this same binary: readlink, not exec of /proc/self/exe, so that
 * under valgrind the children are pier, not the valgrind tool. */
static pid_t
spawn(struct child *c, char **argv, char **extra_env)
{
    char exe[4096];
    ssize_t n;
    pid_t pid;
    sigset_t none;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';

    unlink(c->ready);
    pid = fork();
    if (pid == -1) {
        return -1;
    }
    if (pid == 0) {
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (; extra_env != NULL && *extra_env != NULL; extra_env++) {
            putenv(*extra_env);
        }
        execv(exe, argv);
        fprintf(stderr, "pier up: cannot run %s: %s\n", c->name,
                strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    return pid;
}

static void
describe_exit(const char *name, int status)
{
    if (WIFEXITED(status)) {
        fprintf(stderr, "pier up: %s exited with status %d\n", name,
                WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        fprintf(stderr, "pier up: %s was killed by signal %d\n", name,
                WTERMSIG(status));
    }
}

/* Wait until c's ready file appears; PIER_ERR when it dies or 60 s pass. */
static int
wait_ready(struct child *c, struct pier_err *err)
{
    struct stat sb;
    int status, i;

    for (i = 0; i < 600; i++) {
        if (stat(c->ready, &sb) == 0) {
            return PIER_OK;
        }
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            c->pid = 0;
            describe_exit(c->name, status);
            return pier_err_set(err, "%s did not start", c->name);
        }
        usleep(100 * 1000);
    }
    return pier_err_set(err, "%s not ready after 60 s", c->name);
}

/* SIGTERM every child still running, wait up to grace, then SIGKILL. Returns
 * nonzero when one of them did not exit cleanly. */
static int
stop_children(struct child *kids, size_t n)
{
    struct timespec start, now;
    int status, bad = 0;
    size_t i, left;

    for (i = 0; i < n; i++) {
        if (kids[i].pid > 0) {
            kill(kids[i].pid, SIGTERM);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        left = 0;
        for (i = 0; i < n; i++) {
            if (kids[i].pid <= 0) {
                continue;
            }
            if (waitpid(kids[i].pid, &status, WNOHANG) == kids[i].pid) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    describe_exit(kids[i].name, status);
                    bad = 1;
                }
                kids[i].pid = 0;
            } else {
                left++;
            }
        }
        if (left == 0) {
            return bad;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 15) {
            break;
        }
        usleep(50 * 1000);
    }
    for (i = 0; i < n; i++) {
        if (kids[i].pid > 0) {
            fprintf(stderr, "pier up: %s ignored SIGTERM; killing it\n",
                    kids[i].name);
            kill(kids[i].pid, SIGKILL);
            waitpid(kids[i].pid, &status, 0);
            kids[i].pid = 0;
        }
    }
    return 1;
}

static int
load_file(const char *path, struct pier_buf *out, struct pier_err *err)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        if (errno == ENOENT) {
            return PIER_OK;
        }
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pier_buf_add(out, chunk, n) != PIER_OK) {
            fclose(f);
            return pier_err_set(err, "'%s' is too large", path);
        }
    }
    fclose(f);
    return PIER_OK;
}

static int
save_file(const char *path, const struct pier_buf *b, struct pier_err *err)
{
    char tmp[4200];
    FILE *f;
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    f = fdopen(fd, "w");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len
        || fflush(f) != 0 || fsync(fd) != 0) {
        int e = errno;

        if (f != NULL) {
            fclose(f);
        } else {
            close(fd);
        }
        unlink(tmp);
        return pier_err_sys(err, e, "cannot write '%s'", tmp);
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        return pier_err_sys(err, errno, "cannot rename '%s'", tmp);
    }
    return PIER_OK;
}

/* Write pier.conf's client side: the store, the publisher's key, the edge's
 * admin URL and token. Everything else in the file is kept. */
static int
update_conf(const struct up_layout *l, const char *store, const char *admin,
            const char *bucket, struct pier_err *err)
{
    struct pier_buf cur, next, token;
    struct objstore_keys *keys;
    const struct objstore_key *pub;
    char url[600];
    int rc = PIER_ERR;
    const char *sets[5][2];
    size_t i;

    keys = objstore_keys_load(l->keys, false, err);
    if (keys == NULL) {
        return PIER_ERR;
    }
    pub = objstore_keys_by_name(keys, "publisher");
    if (pub == NULL) {
        objstore_keys_unref(keys);
        return pier_err_set(err, "'%s' has no key named publisher", l->keys);
    }
    pier_buf_init(&cur, 1 << 20);
    pier_buf_init(&next, 1 << 20);
    pier_buf_init(&token, 256);
    if (load_file(l->conf, &cur, err) != PIER_OK
        || load_file(l->token, &token, err) != PIER_OK) {
        goto out;
    }
    while (token.len > 0 && token.data[token.len - 1] == '\n') {
        pier_buf_truncate(&token, token.len - 1);
    }
    if (cur.len == 0
        && pier_buf_adds(&cur, "# pier.conf - written by pier up. The "
                               "[publish] section's endpoint, keys\n# and "
                               "edge lines are rewritten at each start; "
                               "other lines are kept.\n")
               != PIER_OK) {
        goto out;
    }
    snprintf(url, sizeof(url), "http://%s", store);
    sets[0][0] = "endpoint";
    sets[0][1] = url;
    sets[1][0] = "access_key_id";
    sets[1][1] = pub->id;
    sets[2][0] = "secret_access_key";
    sets[2][1] = pub->secret;
    sets[3][0] = "edge_token";
    sets[3][1] = token.data;
    sets[4][0] = "bucket";
    sets[4][1] = bucket;
    for (i = 0; i < PIER_NELEMS(sets); i++) {
        pier_buf_reset(&next);
        if (up_ini_set(cur.data, "publish", sets[i][0], sets[i][1], &next,
                       err)
            != PIER_OK) {
            goto out;
        }
        pier_buf_reset(&cur);
        if (pier_buf_addstr(&cur, pier_buf_str(&next)) != PIER_OK) {
            goto out;
        }
    }
    snprintf(url, sizeof(url), "http://%s", admin);
    pier_buf_reset(&next);
    if (up_ini_set(cur.data, "publish", "edge", url, &next, err) != PIER_OK
        || save_file(l->conf, &next, err) != PIER_OK) {
        goto out;
    }
    rc = PIER_OK;
out:
    pier_buf_release(&cur);
    pier_buf_release(&next);
    pier_buf_release(&token);
    objstore_keys_unref(keys);
    return rc;
}

int
pier_cmd_up(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 's'},
        {"http", required_argument, NULL, 'H'},
        {"https", required_argument, NULL, 'S'},
        {"admin", required_argument, NULL, 'a'},
        {"cache-mem", required_argument, NULL, 'm'},
        {"ready-file", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_flag = NULL, *ready = NULL;
    const char *flag_keys[] = {NULL, NULL, NULL, NULL, NULL};
    const char *flag_vals[5];
    char data[4096], edge_key_env[256], edge_secret_env[256];
    char edge_cache[4300], *store_addr = NULL, *http_addr = NULL;
    char *https_addr = NULL, *admin_addr = NULL;
    struct up_conf conf = {0};
    struct up_layout l;
    struct pier_err err;
    struct child kids[2] = {{"objstore", 0, ""}, {"edge", 0, ""}};
    struct objstore_keys *keys = NULL;
    const struct objstore_key *ek;
    sigset_t set;
    siginfo_t si;
    bool created;
    int c, rc = 1, status;
    size_t nflags = 0, i;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'd':
            data_flag = optarg;
            break;
        case 'R':
            ready = optarg;
            break;
        case 's':
        case 'H':
        case 'S':
        case 'a':
        case 'm':
            flag_keys[nflags] = c == 's'   ? "store"
                                : c == 'H' ? "http"
                                : c == 'S' ? "https"
                                : c == 'a' ? "admin"
                                           : "cache_mem";
            flag_vals[nflags] = optarg;
            nflags += nflags < PIER_NELEMS(flag_keys) - 1 ? 1 : 0;
            break;
        default:
            return pier_cli_usage("up", usage_line, "unknown option '%s'",
                                  argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return pier_cli_usage("up", usage_line, "unexpected argument '%s'",
                              argv[optind]);
    }
    if (pier_data_dir(data_flag, data, sizeof(data), &err) != PIER_OK
        || up_layout_init(&l, data, &err) != PIER_OK) {
        return pier_cli_fail("up", "%s", err.msg);
    }
    pier_conf_defaults(&up_section, &conf, &err);
    if (access(l.conf, F_OK) == 0
        && pier_conf_load_file(&up_section, &conf, l.conf, &err) != PIER_OK) {
        rc = pier_cli_fail("up", "%s", err.msg);
        goto out;
    }
    for (i = 0; i < nflags; i++) {
        if (pier_conf_set(&up_section, &conf, flag_keys[i], flag_vals[i],
                          &err)
            != PIER_OK) {
            rc = pier_cli_fail("up", "%s", err.msg);
            goto out;
        }
    }
    if (up_prepare(&l, conf.bucket, &created, &err) != PIER_OK) {
        rc = pier_cli_fail("up", "%s", err.msg);
        goto out;
    }
    keys = objstore_keys_load(l.keys, false, &err);
    ek = keys != NULL ? objstore_keys_by_name(keys, "edge") : NULL;
    if (ek == NULL) {
        rc = pier_cli_fail("up", "%s",
                           keys == NULL ? err.msg : "no key named edge");
        goto out;
    }
    snprintf(edge_key_env, sizeof(edge_key_env), "AWS_ACCESS_KEY_ID=%s",
             ek->id);
    snprintf(edge_secret_env, sizeof(edge_secret_env),
             "AWS_SECRET_ACCESS_KEY=%s", ek->secret);
    snprintf(edge_cache, sizeof(edge_cache), "%s/cache", l.edge);
    for (i = 0; i < PIER_NELEMS(kids); i++) {
        snprintf(kids[i].ready, sizeof(kids[i].ready), "%s/%s.ready", l.run,
                 kids[i].name);
    }

    /* Signals wait for sigtimedwait(); children get an empty mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    {
        char *argv_store[] = {"pier",           "objstore",
                              "--data",         l.objstore,
                              "--listen",       conf.store,
                              "--ready-file",   kids[0].ready,
                              NULL};

        if (spawn(&kids[0], argv_store, NULL) == -1) {
            rc = pier_cli_fail("up", "cannot fork: %s", strerror(errno));
            goto out;
        }
    }
    if (wait_ready(&kids[0], &err) != PIER_OK) {
        rc = pier_cli_fail("up", "%s", err.msg);
        goto stop;
    }
    store_addr = ready_addr(kids[0].ready, "http");
    if (store_addr == NULL) {
        rc = pier_cli_fail("up", "objstore wrote no http listener");
        goto stop;
    }
    {
        char endpoint[600];
        char *env[] = {edge_key_env, edge_secret_env, NULL};
        char *argv_edge[] = {"pier",
                             "edge",
                             "--endpoint",
                             endpoint,
                             "--bucket",
                             conf.bucket,
                             "--listen",
                             conf.http,
                             "--admin",
                             conf.admin,
                             "--admin-token-file",
                             l.token,
                             "--cache-mem",
                             conf.cache_mem,
                             "--cache-dir",
                             edge_cache,
                             "--ready-file",
                             kids[1].ready,
                             NULL};

        snprintf(endpoint, sizeof(endpoint), "http://%s", store_addr);
        if (spawn(&kids[1], argv_edge, env) == -1) {
            rc = pier_cli_fail("up", "cannot fork: %s", strerror(errno));
            goto stop;
        }
    }
    if (wait_ready(&kids[1], &err) != PIER_OK) {
        rc = pier_cli_fail("up", "%s", err.msg);
        goto stop;
    }
    http_addr = ready_addr(kids[1].ready, "http");
    https_addr = ready_addr(kids[1].ready, "https");
    admin_addr = ready_addr(kids[1].ready, "admin");
    if (http_addr == NULL || admin_addr == NULL) {
        rc = pier_cli_fail("up", "edge wrote no http or admin listener");
        goto stop;
    }
    if (update_conf(&l, store_addr, admin_addr, conf.bucket, &err) != PIER_OK) {
        rc = pier_cli_fail("up", "%s", err.msg);
        goto stop;
    }
    if (ready != NULL) {
        const char *names[] = {"store", "http", "admin", "https"};
        const char *addrs[] = {store_addr, http_addr, admin_addr, https_addr};

        if (pier_ready_file_write(ready, names, addrs, https_addr ? 4 : 3,
                                  &err)
            != PIER_OK) {
            rc = pier_cli_fail("up", "%s", err.msg);
            goto stop;
        }
    }
    printf("pier is up%s.\n"
           "  object store  http://%s\n"
           "  edge          http://%s%s%s\n"
           "  edge admin    http://%s (token in %s)\n"
           "  config        %s\n"
           "Ctrl-C stops both.\n",
           created ? " (first start: keys written to pier.conf)" : "",
           store_addr, http_addr, https_addr != NULL ? "  https://" : "",
           https_addr != NULL ? https_addr : "", admin_addr, l.token, l.conf);
    fflush(stdout);

    for (;;) {
        if (sigwaitinfo(&set, &si) == -1) {
            continue;
        }
        if (si.si_signo == SIGHUP) {
            for (i = 0; i < PIER_NELEMS(kids); i++) {
                kill(kids[i].pid, SIGHUP);
            }
            continue;
        }
        if (si.si_signo == SIGCHLD) {
            bool died = false;

            for (i = 0; i < PIER_NELEMS(kids); i++) {
                if (kids[i].pid > 0
                    && waitpid(kids[i].pid, &status, WNOHANG) == kids[i].pid) {
                    describe_exit(kids[i].name, status);
                    kids[i].pid = 0;
                    died = true;
                }
            }
            if (!died) {
                continue;
            }
            fprintf(stderr, "pier up: stopping the other server\n");
            stop_children(kids, PIER_NELEMS(kids));
            rc = 1;
            goto out;
        }
        break; /* SIGINT or SIGTERM */
    }
    rc = 0;
stop:
    if (stop_children(kids, PIER_NELEMS(kids)) != 0) {
        rc = 1;
    }
out:
    pier_free(store_addr);
    pier_free(http_addr);
    pier_free(https_addr);
    pier_free(admin_addr);
    objstore_keys_unref(keys);
    pier_conf_release(&up_section, &conf);
    return rc;
}
