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

/* One running stack: what pier up and pier demo share. */
struct up_stack {
    struct up_layout l;
    struct up_conf conf;
    struct child kids[2];
    char *store_addr;
    char *http_addr;
    char *https_addr;
    char *admin_addr;
    const char *ready;
    bool created;
    sigset_t set;
};

/* Parse the options of pier up (and pier demo, which takes the same).
 * Returns -1 to go on, else the exit status. */
static int
parse(struct up_stack *st, const char *cmd, int argc, char **argv,
      void (*helpfn)(void))
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
    const char *data_flag = NULL, *keys[8], *vals[8];
    char data[4096];
    struct pier_err err;
    size_t n = 0, i;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            helpfn();
            return 0;
        case 'd':
            data_flag = optarg;
            break;
        case 'R':
            st->ready = optarg;
            break;
        case 's':
        case 'H':
        case 'S':
        case 'a':
        case 'm':
            if (n == PIER_NELEMS(keys)) {
                return pier_cli_usage(cmd, usage_line, "too many options");
            }
            keys[n] = c == 's'   ? "store"
                      : c == 'H' ? "http"
                      : c == 'S' ? "https"
                      : c == 'a' ? "admin"
                                 : "cache_mem";
            vals[n++] = optarg;
            break;
        default:
            return pier_cli_usage(cmd, usage_line, "unknown option '%s'",
                                  argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return pier_cli_usage(cmd, usage_line, "unexpected argument '%s'",
                              argv[optind]);
    }
    if (pier_data_dir(data_flag, data, sizeof(data), &err) != PIER_OK
        || up_layout_init(&st->l, data, &err) != PIER_OK) {
        return pier_cli_fail(cmd, "%s", err.msg);
    }
    pier_conf_defaults(&up_section, &st->conf, &err);
    if (access(st->l.conf, F_OK) == 0
        && pier_conf_load_file(&up_section, &st->conf, st->l.conf, &err)
               != PIER_OK) {
        return pier_cli_fail(cmd, "%s", err.msg);
    }
    for (i = 0; i < n; i++) {
        if (pier_conf_set(&up_section, &st->conf, keys[i], vals[i], &err)
            != PIER_OK) {
            return pier_cli_fail(cmd, "%s", err.msg);
        }
    }
    return -1;
}

/* Prepare DATA, start the store, then the edge, and write pier.conf and
 * the ready file. PIER_ERR (reported) when anything fails; the children
 * already started are stopped by up_release(). */
static int
up_start(struct up_stack *st, const char *cmd)
{
    struct objstore_keys *keys;
    const struct objstore_key *ek;
    char edge_key_env[256], edge_secret_env[256], edge_cache[4300];
    char endpoint[600];
    struct pier_err err;
    size_t i;

    if (up_prepare(&st->l, st->conf.bucket, &st->created, &err) != PIER_OK) {
        return pier_cli_fail(cmd, "%s", err.msg) ? PIER_ERR : PIER_ERR;
    }
    keys = objstore_keys_load(st->l.keys, false, &err);
    ek = keys != NULL ? objstore_keys_by_name(keys, "edge") : NULL;
    if (ek == NULL) {
        pier_cli_fail(cmd, "%s", keys == NULL ? err.msg : "no key named edge");
        objstore_keys_unref(keys);
        return PIER_ERR;
    }
    /* The edge's read-only key reaches it through its environment, never
     * its command line (which any local user can read). */
    snprintf(edge_key_env, sizeof(edge_key_env), "AWS_ACCESS_KEY_ID=%s",
             ek->id);
    snprintf(edge_secret_env, sizeof(edge_secret_env),
             "AWS_SECRET_ACCESS_KEY=%s", ek->secret);
    objstore_keys_unref(keys);
    snprintf(edge_cache, sizeof(edge_cache), "%s/cache", st->l.edge);
    st->kids[0].name = "objstore";
    st->kids[1].name = "edge";
    for (i = 0; i < PIER_NELEMS(st->kids); i++) {
        snprintf(st->kids[i].ready, sizeof(st->kids[i].ready), "%s/%s.ready",
                 st->l.run, st->kids[i].name);
    }

    /* Signals wait for sigwaitinfo(); children get an empty mask. */
    sigemptyset(&st->set);
    sigaddset(&st->set, SIGINT);
    sigaddset(&st->set, SIGTERM);
    sigaddset(&st->set, SIGHUP);
    sigaddset(&st->set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &st->set, NULL);

    {
        char *argv_store[] = {"pier",         "objstore",
                              "--data",       st->l.objstore,
                              "--listen",     st->conf.store,
                              "--ready-file", st->kids[0].ready,
                              NULL};

        if (spawn(&st->kids[0], argv_store, NULL) == -1) {
            pier_cli_fail(cmd, "cannot start objstore: %s", strerror(errno));
            return PIER_ERR;
        }
    }
    if (wait_ready(&st->kids[0], &err) != PIER_OK) {
        pier_cli_fail(cmd, "%s", err.msg);
        return PIER_ERR;
    }
    st->store_addr = ready_addr(st->kids[0].ready, "http");
    if (st->store_addr == NULL) {
        pier_cli_fail(cmd, "objstore wrote no http listener");
        return PIER_ERR;
    }
    snprintf(endpoint, sizeof(endpoint), "http://%s", st->store_addr);
    {
        char *env[] = {edge_key_env, edge_secret_env, NULL};
        char *argv_edge[] = {"pier",
                             "edge",
                             "--endpoint",
                             endpoint,
                             "--bucket",
                             st->conf.bucket,
                             "--listen",
                             st->conf.http,
                             "--tls-listen",
                             st->conf.https,
                             "--admin",
                             st->conf.admin,
                             "--admin-token-file",
                             st->l.token,
                             "--cache-mem",
                             st->conf.cache_mem,
                             "--cache-dir",
                             edge_cache,
                             "--ready-file",
                             st->kids[1].ready,
                             NULL};

        if (spawn(&st->kids[1], argv_edge, env) == -1) {
            pier_cli_fail(cmd, "cannot start edge: %s", strerror(errno));
            return PIER_ERR;
        }
    }
    if (wait_ready(&st->kids[1], &err) != PIER_OK) {
        pier_cli_fail(cmd, "%s", err.msg);
        return PIER_ERR;
    }
    st->http_addr = ready_addr(st->kids[1].ready, "http");
    st->https_addr = ready_addr(st->kids[1].ready, "https");
    st->admin_addr = ready_addr(st->kids[1].ready, "admin");
    if (st->http_addr == NULL || st->admin_addr == NULL) {
        pier_cli_fail(cmd, "edge wrote no http or admin listener");
        return PIER_ERR;
    }
    if (update_conf(&st->l, st->store_addr, st->admin_addr, st->conf.bucket,
                    &err)
        != PIER_OK) {
        pier_cli_fail(cmd, "%s", err.msg);
        return PIER_ERR;
    }
    if (st->ready != NULL) {
        const char *names[] = {"store", "http", "admin", "https"};
        const char *addrs[] = {st->store_addr, st->http_addr, st->admin_addr,
                               st->https_addr};

        if (pier_ready_file_write(st->ready, names, addrs,
                                  st->https_addr != NULL ? 4 : 3, &err)
            != PIER_OK) {
            pier_cli_fail(cmd, "%s", err.msg);
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

/* Wait for a signal or a child's death; stop both; the exit status. */
static int
up_supervise(struct up_stack *st)
{
    siginfo_t si;
    int status;
    size_t i;

    for (;;) {
        if (sigwaitinfo(&st->set, &si) == -1) {
            continue;
        }
        if (si.si_signo == SIGHUP) {
            for (i = 0; i < PIER_NELEMS(st->kids); i++) {
                kill(st->kids[i].pid, SIGHUP);
            }
            continue;
        }
        if (si.si_signo != SIGCHLD) {
            break; /* SIGINT or SIGTERM */
        }
        for (i = 0; i < PIER_NELEMS(st->kids); i++) {
            if (st->kids[i].pid > 0
                && waitpid(st->kids[i].pid, &status, WNOHANG)
                       == st->kids[i].pid) {
                describe_exit(st->kids[i].name, status);
                st->kids[i].pid = 0;
                fprintf(stderr, "pier up: stopping the other server\n");
                stop_children(st->kids, PIER_NELEMS(st->kids));
                return 1;
            }
        }
    }
    return stop_children(st->kids, PIER_NELEMS(st->kids)) != 0 ? 1 : 0;
}

static void
up_release(struct up_stack *st)
{
    stop_children(st->kids, PIER_NELEMS(st->kids));
    pier_free(st->store_addr);
    pier_free(st->http_addr);
    pier_free(st->https_addr);
    pier_free(st->admin_addr);
    pier_conf_release(&up_section, &st->conf);
}

static void
print_up(const struct up_stack *st)
{
    printf("pier is up%s.\n"
           "  object store  http://%s\n"
           "  edge          http://%s%s%s\n"
           "  edge admin    http://%s (token in %s)\n"
           "  config        %s\n",
           st->created ? " (first start: keys written)" : "", st->store_addr,
           st->http_addr, st->https_addr != NULL ? "  https://" : "",
           st->https_addr != NULL ? st->https_addr : "", st->admin_addr,
           st->l.token, st->l.conf);
}

int
pier_cmd_up(int argc, char **argv)
{
    struct up_stack st;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = parse(&st, "up", argc, argv, help);
    if (rc < 0) {
        rc = 1;
        if (up_start(&st, "up") == PIER_OK) {
            print_up(&st);
            printf("Ctrl-C stops both.\n");
            fflush(stdout);
            rc = up_supervise(&st);
        }
    }
    up_release(&st);
    return rc;
}

/* ---- pier demo ---- */

static void
demo_help(void)
{
    printf("usage: pier demo %s\n\n"
           "Start the local stack (as pier up does), create the site 'demo',\n"
           "push the demo site into its git repository, which publishes "
           "it,\nand serve it on http://demo.localhost:PORT/ until Ctrl-C.\n\n"
           "Takes pier up's options.\n",
           usage_line);
}

/* Where the demo site's files are: $PIER_EXAMPLES, the installed copy, or
 * the source tree this binary was built from. */
static const char *
demo_source(void)
{
    static const char *const cands[] = {PIER_DATADIR "/examples/site",
                                        PIER_SRCDIR "/examples/site"};
    const char *env = getenv("PIER_EXAMPLES");
    static char buf[4200];
    size_t i;

    if (env != NULL && *env != '\0') {
        snprintf(buf, sizeof(buf), "%s/site", env);
        return buf;
    }
    for (i = 0; i < PIER_NELEMS(cands); i++) {
        if (access(cands[i], R_OK) == 0) {
            return cands[i];
        }
    }
    return NULL;
}

/* Run argv (a pier subcommand or git) with stdout and stderr passed on;
 * its exit status, or -1. The supervisor's signal mask is lifted in the
 * child. */
static int
run_wait(char *const *argv, bool self)
{
    char exe[4096];
    sigset_t none;
    ssize_t n;
    pid_t pid;
    int status;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';
    pid = fork();
    if (pid == -1) {
        return -1;
    }
    if (pid == 0) {
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (self) {
            execv(exe, argv);
        } else {
            execvp(argv[0], argv);
        }
        _exit(127);
    }
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
demo_publish(struct up_stack *st, const char *src)
{
    char work[4300], repo[4300];
    char *site_show[] = {"pier", "site", "show", "demo", "--data", st->l.data,
                         NULL};
    char *site_create[] = {"pier", "site", "create", "demo", "--data",
                           st->l.data, NULL};
    /* Paths go in as the script's arguments: nothing in them is ever
     * parsed by the shell. */
    static char script[] =
        "set -e; rm -rf \"$1\"; cp -R \"$2\" \"$1\"; cd \"$1\"; "
        "git init -q -b main; git add -A; "
        "git -c user.name=pier -c user.email=demo@pier.invalid "
        "commit -q -m 'The pier demo site'; "
        "git remote add pier \"$3\"; git push -q -f pier main";
    char *shell[] = {"/bin/sh", "-c", script, "sh", work, NULL, repo, NULL};
    int devnull, saved;

    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    saved = dup(1);
    dup2(devnull, 1);
    if (run_wait(site_show, true) != 0) {
        dup2(saved, 1);
        if (run_wait(site_create, true) != 0) {
            close(devnull);
            close(saved);
            return pier_cli_fail("demo", "cannot create the site 'demo'");
        }
    }
    dup2(saved, 1);
    close(saved);
    close(devnull);

    /* A working copy of the demo, committed and pushed: the push runs the
     * repository's hook, which publishes it. */
    snprintf(work, sizeof(work), "%s/demo-src", st->l.data);
    snprintf(repo, sizeof(repo), "%s/repos/demo.git", st->l.data);
    shell[5] = (char *) src;
    if (run_wait(shell, false) != 0) {
        return pier_cli_fail("demo", "publishing the demo failed (see above)");
    }
    return 0;
}

int
pier_cmd_demo(int argc, char **argv)
{
    struct up_stack st;
    const char *src;
    const char *port;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = parse(&st, "demo", argc, argv, demo_help);
    if (rc >= 0) {
        up_release(&st);
        return rc;
    }
    src = demo_source();
    if (src == NULL) {
        up_release(&st);
        return pier_cli_fail("demo", "cannot find the demo site: set "
                                     "PIER_EXAMPLES to pier's examples folder");
    }
    rc = 1;
    if (up_start(&st, "demo") == PIER_OK && demo_publish(&st, src) == 0) {
        print_up(&st);
        port = strrchr(st.http_addr, ':');
        printf("\nThe demo site is live:\n"
               "  http://demo.localhost%s/\n"
               "  curl -H 'Host: demo.localhost' http://%s/\n"
               "Edit %s/demo-src, commit and `git push pier main`: the edge\n"
               "drops only the pages that changed. Ctrl-C stops everything.\n",
               port != NULL ? port : "", st.http_addr, st.l.data);
        fflush(stdout);
        rc = up_supervise(&st);
    }
    up_release(&st);
    return rc;
}
