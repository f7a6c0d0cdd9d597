/*
 * hooks/repo.c - bare repositories and their pre-receive hook.
 */
#include "config.h"

#include "hooks/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int
hooks_shell_quote(struct pier_buf *out, const char *s)
{
    if (pier_buf_addch(out, '\'') != PIER_OK) {
        return PIER_ERR;
    }
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            if (pier_buf_adds(out, "'\\''") != PIER_OK) {
                return PIER_ERR;
            }
        } else if (pier_buf_addch(out, *s) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return pier_buf_addch(out, '\'');
}

static bool
valid_site(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

/* git check-ref-format's rules, as far as a branch name needs them. */
static bool
valid_branch(const char *b)
{
    char ref[300];
    int ok = 0;

    if (snprintf(ref, sizeof(ref), "refs/heads/%s", b) >= (int) sizeof(ref)) {
        return false;
    }
    return git_reference_name_is_valid(&ok, ref) == 0 && ok;
}

int
hooks_repo_script(struct pier_buf *out, struct pier_err *err)
{
    /* Every setting is read from the repository's git config (written by
     * `pier site create`), so editing it needs no new hook, and nothing a
     * site name, a path or a branch holds can change what the hook runs:
     * the values only ever reach the shell inside double quotes. */
    if (pier_buf_adds(
            out,
            "#!/bin/sh\n"
            "# pier pre-receive hook: publishes pushes to the production "
            "branch.\n"
            "# Written by `pier site create`; its settings are this "
            "repository's\n"
            "# git config: pier.site, pier.branch, pier.program, pier.data, "
            "pier.config.\n"
            "SITE=$(git config --get pier.site) || {\n"
            "    echo 'pier: pier.site is not set in this repository' >&2\n"
            "    exit 1\n"
            "}\n"
            "BRANCH=$(git config --get pier.branch) || BRANCH=main\n"
            "PIER=$(git config --get pier.program) || PIER=pier\n"
            "set -- --site \"$SITE\"\n"
            "DATA=$(git config --get pier.data) && set -- \"$@\" --data "
            "\"$DATA\"\n"
            "CONFIG=$(git config --get pier.config) && set -- \"$@\" "
            "--config \"$CONFIG\"\n"
            "zero=0000000000000000000000000000000000000000\n"
            "status=0\n"
            "while read -r old new ref; do\n"
            "    [ \"$ref\" = \"refs/heads/$BRANCH\" ] || continue\n"
            "    if [ \"$new\" = \"$zero\" ]; then\n"
            "        echo \"pier: refusing to delete the production branch "
            "'$BRANCH'\" >&2\n"
            "        status=1\n"
            "        continue\n"
            "    fi\n"
            "    # A failed publish fails the push: git keeps the old ref.\n"
            "    \"$PIER\" publish \"$@\" --repo \"$GIT_DIR\" "
            "--ref \"$new\" || status=1\n"
            "done\n"
            "exit $status\n")
        != PIER_OK) {
        return pier_err_set(err, "hook script too large");
    }
    return PIER_OK;
}

/* Write the hook's settings into repo's config. */
static int
write_settings(git_repository *repo, const struct hooks_repo_spec *spec,
               struct pier_err *err)
{
    git_config *cfg = NULL;
    const git_error *e;
    int rc = 0;

    if (git_repository_config(&cfg, repo) != 0) {
        goto fail;
    }
    rc |= git_config_set_string(cfg, "pier.site", spec->site);
    rc |= git_config_set_string(cfg, "pier.branch", spec->branch);
    rc |= git_config_set_string(cfg, "pier.program", spec->pier);
    rc |= git_config_set_string(cfg, "pier.data", spec->data_dir);
    if (rc == 0 && spec->config != NULL && spec->config[0] != '\0') {
        rc = git_config_set_string(cfg, "pier.config", spec->config);
    } else if (rc == 0) {
        int d = git_config_delete_entry(cfg, "pier.config");

        rc = d == GIT_ENOTFOUND ? 0 : d;
    }
    git_config_free(cfg);
    if (rc == 0) {
        return PIER_OK;
    }
fail:
    e = git_error_last();
    return pier_err_set(err, "cannot write the repository's config: %s",
                        e != NULL ? e->message : "unknown error");
}

static int
write_hook(const char *repo, const struct pier_buf *script,
           struct pier_err *err)
{
    char dir[4096], tmp[4096], path[4096];
    ssize_t w;
    int fd;

    if (snprintf(dir, sizeof(dir), "%s/hooks", repo) >= (int) sizeof(dir)
        || snprintf(path, sizeof(path), "%s/pre-receive", dir)
               >= (int) sizeof(path)
        || snprintf(tmp, sizeof(tmp), "%s/.pre-receive.tmp", dir)
               >= (int) sizeof(tmp)) {
        return pier_err_set(err, "repository path too long");
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return pier_err_sys(err, errno, "cannot create '%s'", dir);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd == -1) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    w = write(fd, script->data, script->len);
    if (w != (ssize_t) script->len || fchmod(fd, 0755) != 0) {
        int e = w < 0 ? errno : EIO;

        close(fd);
        unlink(tmp);
        return pier_err_sys(err, e, "cannot write '%s'", tmp);
    }
    /* Rename into place: a push never runs half a hook. */
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;

        unlink(tmp);
        return pier_err_sys(err, e, "cannot install '%s'", path);
    }
    return PIER_OK;
}

int
hooks_repo_create(const struct hooks_repo_spec *spec, struct pier_buf *path_out,
                  struct pier_err *err)
{
    git_repository_init_options opts;
    git_repository *repo = NULL;
    struct pier_buf path, script, head;
    int rc = PIER_ERR;

    if (!valid_site(spec->site)) {
        return pier_err_set(err,
                            "invalid site name '%s': use a-z, 0-9 and '-', "
                            "at most 63",
                            spec->site);
    }
    pier_buf_init(&path, 4096);
    pier_buf_init(&script, 65536);
    pier_buf_init(&head, 512);
    git_libgit2_init();
    if (!valid_branch(spec->branch)) {
        pier_err_set(err, "invalid branch name '%s'", spec->branch);
        goto shutdown;
    }
    if (mkdir(spec->repos_dir, 0755) != 0 && errno != EEXIST) {
        pier_err_sys(err, errno, "cannot create '%s'", spec->repos_dir);
        goto shutdown;
    }
    if (pier_buf_addf(&path, "%s/%s.git", spec->repos_dir, spec->site)
            != PIER_OK
        || pier_buf_addf(&head, "refs/heads/%s", spec->branch) != PIER_OK) {
        pier_err_set(err, "repository path too long");
        goto shutdown;
    }
    git_repository_init_options_init(&opts,
                                     GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = head.data;
    if (git_repository_init_ext(&repo, path.data, &opts) != 0) {
        const git_error *e = git_error_last();
        pier_err_set(err, "cannot create repository '%s': %s", path.data,
                     e != NULL ? e->message : "unknown error");
        goto shutdown;
    }
    if (write_settings(repo, spec, err) != PIER_OK
        || hooks_repo_script(&script, err) != PIER_OK
        || write_hook(path.data, &script, err) != PIER_OK) {
        goto shutdown;
    }
    if (path_out != NULL
        && pier_buf_addstr(path_out, pier_buf_str(&path)) != PIER_OK) {
        pier_err_set(err, "repository path too long");
        goto shutdown;
    }
    rc = PIER_OK;
shutdown:
    git_repository_free(repo);
    git_libgit2_shutdown();
    pier_buf_release(&path);
    pier_buf_release(&script);
    pier_buf_release(&head);
    return rc;
}
