/*
 * publish/tree.c - reading commits through libgit2, the diff between two
 * of them, and the build step (a checkout into a temporary folder and a
 * command under a time limit).
 */
#include "config.h"

#include "publish/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct publish_repo {
    git_repository *git;
};

/* Turn libgit2's last error into err (captured where it arises). */
static int PIER_PRINTF(2, 3)
git_fail(struct pier_err *err, const char *fmt, ...)
{
    const git_error *e = git_error_last();
    char what[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return pier_err_set(err, "%s: %s", what,
                        e != NULL && e->message != NULL ? e->message
                                                        : "unknown error");
}

struct publish_repo *
publish_repo_open(const char *path, struct pier_err *err)
{
    struct publish_repo *r;
    git_repository *git = NULL;

    git_libgit2_init();
    /* FROM_ENV honours GIT_DIR, GIT_OBJECT_DIRECTORY and
     * GIT_ALTERNATE_OBJECT_DIRECTORIES: inside a pre-receive hook that is
     * how the quarantined objects of the push are seen. */
    if (git_repository_open_ext(&git, path, GIT_REPOSITORY_OPEN_FROM_ENV, NULL)
        != 0) {
        git_fail(err, "cannot open repository '%s'", path != NULL ? path : ".");
        git_libgit2_shutdown();
        return NULL;
    }
    r = pier_calloc(1, sizeof(*r));
    r->git = git;
    return r;
}

void
publish_repo_free(struct publish_repo *r)
{
    if (r == NULL) {
        return;
    }
    git_repository_free(r->git);
    pier_free(r);
    git_libgit2_shutdown();
}

git_repository *
publish_repo_git(struct publish_repo *r)
{
    return r->git;
}

int
publish_repo_resolve(struct publish_repo *r, const char *ref, git_oid *commit,
                     struct pier_err *err)
{
    git_object *obj = NULL, *peeled = NULL;

    if (git_revparse_single(&obj, r->git, ref) != 0) {
        return git_fail(err, "cannot resolve '%s'", ref);
    }
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
        git_object_free(obj);
        return git_fail(err, "'%s' is not a commit", ref);
    }
    git_oid_cpy(commit, git_object_id(peeled));
    git_object_free(peeled);
    git_object_free(obj);
    return PIER_OK;
}

static int
commit_tree(struct publish_repo *r, const git_oid *commit, git_tree **tree,
            struct pier_err *err)
{
    git_commit *c = NULL;
    char hex[GIT_OID_HEXSZ + 1];

    git_oid_tostr(hex, sizeof(hex), commit);
    if (git_commit_lookup(&c, r->git, commit) != 0) {
        return git_fail(err, "cannot read commit %s", hex);
    }
    if (git_commit_tree(tree, c) != 0) {
        git_commit_free(c);
        return git_fail(err, "cannot read the tree of commit %s", hex);
    }
    git_commit_free(c);
    return PIER_OK;
}

int
publish_repo_settings(struct publish_repo *r, const git_oid *commit,
                      struct publish_settings *s, struct pier_err *err)
{
    git_tree *tree = NULL;
    git_tree_entry *e = NULL;
    git_blob *blob = NULL;
    int rc;

    if (commit_tree(r, commit, &tree, err) != PIER_OK) {
        return PIER_ERR;
    }
    rc = git_tree_entry_bypath(&e, tree, "pier.ini");
    git_tree_free(tree);
    if (rc == GIT_ENOTFOUND) {
        git_error_clear();
        return PIER_OK;
    }
    if (rc != 0) {
        return git_fail(err, "cannot read pier.ini");
    }
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
        git_tree_entry_free(e);
        return pier_err_set(err, "pier.ini is not a file");
    }
    rc = git_blob_lookup(&blob, r->git, git_tree_entry_id(e));
    git_tree_entry_free(e);
    if (rc != 0) {
        return git_fail(err, "cannot read pier.ini");
    }
    rc = publish_settings_parse(s, "pier.ini", git_blob_rawcontent(blob),
                                (size_t) git_blob_rawsize(blob), err);
    git_blob_free(blob);
    return rc;
}

void
publish_files_init(struct publish_files *f)
{
    memset(f, 0, sizeof(*f));
}

void
publish_files_release(struct publish_files *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        pier_free(f->v[i].path);
        pier_free(f->v[i].disk);
    }
    pier_free(f->v);
    publish_files_init(f);
}

static struct publish_file *
files_add(struct publish_files *f, const char *path)
{
    struct publish_file *x;

    if (f->n == f->cap) {
        f->cap = f->cap != 0 ? f->cap * 2 : 64;
        f->v = pier_realloc(f->v, f->cap * sizeof(*f->v));
    }
    x = &f->v[f->n++];
    memset(x, 0, sizeof(*x));
    x->path = pier_strdup(path);
    return x;
}

static int
cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct publish_file *) a)->path,
                  ((const struct publish_file *) b)->path);
}

void
publish_files_sort(struct publish_files *f)
{
    if (f->n > 1) {
        qsort(f->v, f->n, sizeof(*f->v), cmp_file);
    }
}

const struct publish_file *
publish_files_find(const struct publish_files *f, const char *path)
{
    struct publish_file key = {.path = (char *) path};

    if (f->n == 0) {
        return NULL;
    }
    return bsearch(&key, f->v, f->n, sizeof(*f->v), cmp_file);
}

struct walk {
    const struct publish_settings *s;
    struct publish_files *out;
    char path[4096];
};

static int
on_entry(const char *root, const git_tree_entry *e, void *payload)
{
    struct walk *w = payload;
    git_filemode_t mode = git_tree_entry_filemode(e);
    int n;

    n = snprintf(w->path, sizeof(w->path), "%s%s%s", root,
                 git_tree_entry_name(e), mode == GIT_FILEMODE_TREE ? "/" : "");
    if (n < 0 || (size_t) n >= sizeof(w->path)) {
        return 1; /* a path longer than any server takes: leave it out */
    }
    if (publish_settings_excluded(w->s, w->path)) {
        return 1; /* skips a whole folder too */
    }
    switch (mode) {
    case GIT_FILEMODE_TREE:
        return 0;
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE:
        git_oid_cpy(&files_add(w->out, w->path)->blob, git_tree_entry_id(e));
        return 0;
    default:
        /* XXX: a symbolic link could name a file of the site; publishing
         * its target twice would need resolving it inside the tree. */
        w->out->links_skipped++;
        return 0;
    }
}

static int
subtree(struct publish_repo *r, git_tree *tree, const char *prefix,
        git_tree **out, struct pier_err *err)
{
    git_tree_entry *e = NULL;
    char dir[4096];
    size_t n = strlen(prefix);
    int rc;

    while (n > 0 && prefix[n - 1] == '/') {
        n--;
    }
    if (n == 0) {
        return git_tree_dup(out, tree) == 0 ? PIER_OK
                                            : git_fail(err, "tree");
    }
    if (n >= sizeof(dir)) {
        return pier_err_set(err, "folder name too long");
    }
    memcpy(dir, prefix, n);
    dir[n] = '\0';
    rc = git_tree_entry_bypath(&e, tree, dir);
    if (rc != 0) {
        return git_fail(err, "no folder '%s' in the commit", dir);
    }
    if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
        git_tree_entry_free(e);
        return pier_err_set(err, "'%s' is not a folder", dir);
    }
    rc = git_tree_lookup(out, r->git, git_tree_entry_id(e));
    git_tree_entry_free(e);
    return rc == 0 ? PIER_OK : git_fail(err, "cannot read '%s'", dir);
}

int
publish_tree_list(struct publish_repo *r, const git_oid *commit,
                  const char *prefix, const struct publish_settings *s,
                  struct publish_files *out, struct pier_err *err)
{
    git_tree *tree = NULL, *sub = NULL;
    struct walk *w;
    int rc;

    if (commit_tree(r, commit, &tree, err) != PIER_OK) {
        return PIER_ERR;
    }
    rc = subtree(r, tree, prefix, &sub, err);
    git_tree_free(tree);
    if (rc != PIER_OK) {
        return PIER_ERR;
    }
    w = pier_calloc(1, sizeof(*w));
    w->s = s;
    w->out = out;
    rc = git_tree_walk(sub, GIT_TREEWALK_PRE, on_entry, w);
    pier_free(w);
    git_tree_free(sub);
    if (rc != 0) {
        return git_fail(err, "cannot walk the tree of the commit");
    }
    publish_files_sort(out);
    return PIER_OK;
}

bool
publish_tree_has_dir(struct publish_repo *r, const git_oid *commit,
                     const char *path)
{
    git_tree *tree = NULL;
    git_tree_entry *e = NULL;
    struct pier_err err;
    bool yes;

    if (commit_tree(r, commit, &tree, &err) != PIER_OK) {
        return false;
    }
    yes = git_tree_entry_bypath(&e, tree, path) == 0
          && git_tree_entry_type(e) == GIT_OBJECT_TREE;
    git_tree_entry_free(e);
    git_tree_free(tree);
    git_error_clear();
    return yes;
}

static int
read_disk(const char *path, struct pier_buf *out, struct pier_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;

    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        if ((uint64_t) st.st_size > SIZE_MAX - out->len
            || pier_buf_reserve(out, (size_t) st.st_size) == NULL) {
            close(fd);
            return pier_err_set(err, "'%s' is too large", path);
        }
    }
    for (;;) {
        char *p = pier_buf_reserve(out, 65536);
        ssize_t got;

        if (p == NULL) {
            close(fd);
            return pier_err_set(err, "'%s' is too large", path);
        }
        got = read(fd, p, pier_buf_avail(out));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int e = errno;

            close(fd);
            return pier_err_sys(err, e, "cannot read '%s'", path);
        }
        if (got == 0) {
            break;
        }
        pier_buf_commit(out, (size_t) got);
    }
    close(fd);
    return PIER_OK;
}

int
publish_file_read(struct publish_repo *r, const struct publish_file *f,
                  struct pier_buf *out, struct pier_err *err)
{
    git_blob *blob = NULL;
    int rc;

    if (f->disk != NULL) {
        return read_disk(f->disk, out, err);
    }
    PIER_ASSERT(r != NULL);
    if (git_blob_lookup(&blob, r->git, &f->blob) != 0) {
        return git_fail(err, "cannot read '%s'", f->path);
    }
    rc = pier_buf_add(out, git_blob_rawcontent(blob),
                      (size_t) git_blob_rawsize(blob));
    git_blob_free(blob);
    if (rc != PIER_OK) {
        return pier_err_set(err, "'%s' is too large", f->path);
    }
    return PIER_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void
publish_paths_free(char **paths, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        pier_free(paths[i]);
    }
    pier_free(paths);
}

int
publish_tree_diff(struct publish_repo *r, const git_oid *old,
                  const git_oid *new_commit, char ***paths, size_t *n,
                  struct pier_err *err)
{
    git_tree *a = NULL, *b = NULL;
    git_diff *diff = NULL;
    size_t i, nd, k = 0, u = 0;
    char **v;

    *paths = NULL;
    *n = 0;
    if (old != NULL && commit_tree(r, old, &a, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (commit_tree(r, new_commit, &b, err) != PIER_OK) {
        git_tree_free(a);
        return PIER_ERR;
    }
    if (git_diff_tree_to_tree(&diff, r->git, a, b, NULL) != 0) {
        git_tree_free(a);
        git_tree_free(b);
        return git_fail(err, "cannot diff the commits");
    }
    nd = git_diff_num_deltas(diff);
    v = pier_calloc(2 * nd + 1, sizeof(*v));
    for (i = 0; i < nd; i++) {
        const git_diff_delta *d = git_diff_get_delta(diff, i);

        if (d->old_file.path != NULL && d->status != GIT_DELTA_ADDED) {
            v[k++] = pier_strdup(d->old_file.path);
        }
        if (d->new_file.path != NULL && d->status != GIT_DELTA_DELETED) {
            v[k++] = pier_strdup(d->new_file.path);
        }
    }
    qsort(v, k, sizeof(*v), cmp_str);
    for (i = 0; i < k; i++) {
        if (u > 0 && strcmp(v[u - 1], v[i]) == 0) {
            pier_free(v[i]);
            continue;
        }
        v[u++] = v[i];
    }
    git_diff_free(diff);
    git_tree_free(a);
    git_tree_free(b);
    *paths = v;
    *n = u;
    return PIER_OK;
}

/* Keep the last bytes of the output: drop from the front to make room. */
static void
tail_add(struct pier_buf *tail, const char *p, size_t n)
{
    if (tail == NULL) {
        return;
    }
    if (n >= tail->max) {
        pier_buf_reset(tail);
        p += n - tail->max;
        n = tail->max;
    } else if (tail->len + n > tail->max) {
        pier_buf_consume(tail, tail->len + n - tail->max);
    }
    PIER_ASSERT(pier_buf_add(tail, p, n) == PIER_OK);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* a closed log does not stop the build */
        }
        p += w;
        n -= (size_t) w;
    }
}

int
publish_run_command(const char *command, const char *cwd, unsigned timeout_ms,
                    int stream_fd, struct pier_buf *tail, struct pier_err *err)
{
    int pfd[2], status = 0, devnull;
    int64_t deadline = now_ms() + timeout_ms;
    bool eof = false, exited = false, timed_out = false;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return pier_err_sys(err, errno, "cannot make a pipe");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;

        close(pfd[0]);
        close(pfd[1]);
        return pier_err_sys(err, e, "cannot fork");
    }
    if (pid == 0) {
        /* The child: its own process group, so that a time-out kills
         * whatever the command started too. */
        setpgid(0, 0);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pfd[1], 1) < 0
            || dup2(pfd[1], 2) < 0) {
            _exit(126);
        }
        if (chdir(cwd) != 0) {
            static const char msg[] = "pier: cannot enter the build folder\n";

            write_all(2, msg, sizeof(msg) - 1);
            _exit(126);
        }
        execl("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the child's own call */
    close(pfd[1]);
    while (!eof || !exited) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int64_t left = deadline - now_ms();
        int wait_ms = left > 100 ? 100 : (int) (left > 0 ? left : 0);
        char buf[8192];

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (!eof && poll(&p, 1, wait_ms) > 0) {
            ssize_t got = read(pfd[0], buf, sizeof(buf));

            if (got > 0) {
                if (stream_fd >= 0) {
                    write_all(stream_fd, buf, (size_t) got);
                }
                tail_add(tail, buf, (size_t) got);
            } else if (got == 0 || errno != EINTR) {
                eof = true;
            }
        } else if (eof) {
            struct timespec ts = {0, 20 * 1000 * 1000};

            nanosleep(&ts, NULL);
        } else if (exited) {
            /* The shell is gone and nothing came for a while: whatever
             * still holds the pipe (a daemon the build forked) is not
             * worth waiting for. */
            break;
        }
        if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
        }
    }
    /* Whatever the command left running in its group goes with it. */
    kill(-pid, SIGKILL);
    if (!exited) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close(pfd[0]);
    if (timed_out) {
        return pier_err_set(err, "build timed out after %u s",
                            (timeout_ms + 999) / 1000);
    }
    if (WIFSIGNALED(status)) {
        return pier_err_set(err, "build killed by signal %d",
                            WTERMSIG(status));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return pier_err_set(err, "build failed with exit status %d",
                            WEXITSTATUS(status));
    }
    return PIER_OK;
}

int
publish_build_run(struct publish_repo *r, const git_oid *commit,
                  const char *command, unsigned timeout_ms, int stream_fd,
                  char **dir, struct pier_buf *tail, struct pier_err *err)
{
    git_checkout_options co;
    git_commit *c = NULL;
    git_tree *tree = NULL;
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];
    int rc;

    *dir = NULL;
    PIER_ASSERT(git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION)
                == 0);
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = "/tmp";
    }
    rc = snprintf(tmpl, sizeof(tmpl), "%s/pier-build.XXXXXX", tmp);
    if (rc < 0 || (size_t) rc >= sizeof(tmpl)) {
        return pier_err_set(err, "TMPDIR is too long");
    }
    if (mkdtemp(tmpl) == NULL) {
        return pier_err_sys(err, errno, "cannot make a folder in '%s'", tmp);
    }
    *dir = pier_strdup(tmpl);
    if (git_commit_lookup(&c, r->git, commit) != 0
        || git_commit_tree(&tree, c) != 0) {
        git_commit_free(c);
        return git_fail(err, "cannot read the commit");
    }
    /* The checkout goes to target_directory and never touches the
     * repository's index (which a bare or quarantined repository may
     * not have or not let us write). */
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
    co.target_directory = *dir;
    rc = git_checkout_tree(r->git, (const git_object *) tree, &co);
    git_tree_free(tree);
    git_commit_free(c);
    if (rc != 0) {
        return git_fail(err, "cannot check the commit out into '%s'", *dir);
    }
    return publish_run_command(command, *dir, timeout_ms, stream_fd, tail, err);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

void
publish_build_cleanup(char *dir)
{
    if (dir == NULL) {
        return;
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    pier_free(dir);
}

/* Depth-first over root/rel (rel "" or ending with '/'). */
static int
list_dir(const char *root, struct pier_buf *rel,
         const struct publish_settings *s, struct publish_files *out,
         struct pier_err *err)
{
    struct pier_buf full;
    DIR *d;
    struct dirent *de;
    size_t keep = rel->len;
    int rc = PIER_OK;

    pier_buf_init(&full, SIZE_MAX);
    if (pier_buf_addf(&full, "%s/%s", root, rel->data) != PIER_OK) {
        return pier_err_set(err, "path too long");
    }
    d = opendir(full.data);
    if (d == NULL) {
        rc = pier_err_sys(err, errno, "cannot open folder '%s'", full.data);
        pier_buf_release(&full);
        return rc;
    }
    while (rc == PIER_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        size_t fl = full.len;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        PIER_ASSERT(pier_buf_adds(rel, de->d_name) == PIER_OK);
        PIER_ASSERT(pier_buf_adds(&full, de->d_name) == PIER_OK);
        if (lstat(full.data, &st) != 0) {
            rc = pier_err_sys(err, errno, "cannot stat '%s'", full.data);
        } else if (S_ISDIR(st.st_mode)) {
            PIER_ASSERT(pier_buf_addch(rel, '/') == PIER_OK);
            if (!publish_settings_excluded(s, rel->data)) {
                rc = list_dir(root, rel, s, out, err);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (!publish_settings_excluded(s, rel->data)) {
                struct publish_file *f = files_add(out, rel->data);

                f->disk = pier_strdup(full.data);
                if (git_odb_hashfile(&f->blob, f->disk, GIT_OBJECT_BLOB) != 0) {
                    rc = git_fail(err, "cannot hash '%s'", f->disk);
                }
            }
        } else {
            out->links_skipped++;
        }
        pier_buf_truncate(rel, keep);
        pier_buf_truncate(&full, fl);
    }
    closedir(d);
    pier_buf_release(&full);
    return rc;
}

int
publish_dir_list(const char *root, const struct publish_settings *s,
                 struct publish_files *out, struct pier_err *err)
{
    struct pier_buf rel;
    int rc;

    git_libgit2_init();
    pier_buf_init(&rel, SIZE_MAX);
    rc = list_dir(root, &rel, s, out, err);
    pier_buf_release(&rel);
    git_libgit2_shutdown();
    publish_files_sort(out);
    return rc;
}
