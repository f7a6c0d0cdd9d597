/*
 * publish/tree.h - the files of a commit: read from git's object database
 * without a checkout, or built by the site's command in a checkout.
 *
 * The repository is opened with GIT_REPOSITORY_OPEN_FROM_ENV, so that in
 * a pre-receive hook (GIT_DIR, GIT_OBJECT_DIRECTORY and
 * GIT_ALTERNATE_OBJECT_DIRECTORIES set by git) the pushed objects, still
 * in git's quarantine, are visible. A struct publish_repo is used by one
 * thread at a time (libgit2 objects are not shared).
 */
#ifndef PUBLISH_TREE_H
#define PUBLISH_TREE_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"
#include "publish/settings.h"

#include <git2.h>

struct publish_repo; /* opaque */

/* Open the repository at path (NULL: as git would, from $GIT_DIR or the
 * current folder). The caller owns the result and frees it with
 * publish_repo_free(), which accepts NULL. */
struct publish_repo *publish_repo_open(const char *path, struct pier_err *err);
void publish_repo_free(struct publish_repo *r);
/* The libgit2 repository; valid until publish_repo_free(). */
git_repository *publish_repo_git(struct publish_repo *r);

/* Resolve ref (a branch, tag, "HEAD", a full or short id, "main~2") to
 * the commit it names. */
int publish_repo_resolve(struct publish_repo *r, const char *ref,
                         git_oid *commit, struct pier_err *err);

/* Read the root's pier.ini of commit into s (on top of its defaults);
 * no pier.ini leaves s as it was. */
int publish_repo_settings(struct publish_repo *r, const git_oid *commit,
                          struct publish_settings *s, struct pier_err *err);

/* One file to publish. */
struct publish_file {
    char *path;     /* site path: no leading slash */
    git_oid blob;   /* its git blob id (computed for built files) */
    char *disk;     /* a built file's path on disk, NULL: read from git */
};

/* A list of files, sorted by path after publish_files_sort(). Owns its
 * strings. */
struct publish_files {
    struct publish_file *v;
    size_t n, cap;
    size_t links_skipped; /* symbolic links and submodules left out */
};

void publish_files_init(struct publish_files *f);
void publish_files_release(struct publish_files *f);
void publish_files_sort(struct publish_files *f);
/* The file at path, NULL if none; the list must be sorted. */
const struct publish_file *publish_files_find(const struct publish_files *f,
                                              const char *path);

/* List the blobs of commit's tree under folder prefix ("" for the root,
 * else "public/" with its slash), as site paths relative to it, leaving
 * out what s excludes. Appends to out, sorted. */
int publish_tree_list(struct publish_repo *r, const git_oid *commit,
                      const char *prefix, const struct publish_settings *s,
                      struct publish_files *out, struct pier_err *err);

/* True when commit's tree has the folder path (no trailing slash). */
bool publish_tree_has_dir(struct publish_repo *r, const git_oid *commit,
                          const char *path);

/* Append a file's bytes to out: from the object database by blob id, or
 * from disk. PIER_ERR when missing or over out's maximum. */
int publish_file_read(struct publish_repo *r, const struct publish_file *f,
                      struct pier_buf *out, struct pier_err *err);

/* The repository paths that differ between two commits' trees (added,
 * deleted, modified, type changed; a rename counts as both paths). old
 * may be NULL: everything is new. The caller owns *paths (each and the
 * array; free with publish_paths_free()), sorted. */
int publish_tree_diff(struct publish_repo *r, const git_oid *old,
                      const git_oid *new_commit, char ***paths, size_t *n,
                      struct pier_err *err);
void publish_paths_free(char **paths, size_t n);

/*
 * The build: write commit's tree into a new temporary folder (returned in
 * *dir, owned by the caller, removed with publish_build_cleanup()) with
 * git_checkout_tree and a target_directory, never touching the
 * repository's index or work tree (git forbids `git worktree add` in the
 * quarantine), then run command there with /bin/sh, stdin from
 * /dev/null, for at most timeout_ms. Its output (stdout and stderr) is
 * copied to stream_fd as it comes (-1: not copied) and its last bytes are
 * kept in tail (bounded by tail's maximum: the oldest bytes go first). A
 * command that fails, is killed or times out is PIER_ERR with a message
 * saying which; *dir is set and must be cleaned up whatever the result.
 */
int publish_build_run(struct publish_repo *r, const git_oid *commit,
                      const char *command, unsigned timeout_ms, int stream_fd,
                      char **dir, struct pier_buf *tail, struct pier_err *err);
/* Remove dir and everything in it (not following links); frees dir.
 * NULL is fine. */
void publish_build_cleanup(char *dir);

/* Run command in folder cwd: the process half of publish_build_run(),
 * usable alone. */
int publish_run_command(const char *command, const char *cwd,
                        unsigned timeout_ms, int stream_fd,
                        struct pier_buf *tail, struct pier_err *err);

/* List the regular files under root (a folder on disk) as site paths,
 * with blob ids hashed as git would, leaving out what s excludes;
 * symbolic links are not followed and are counted in links_skipped.
 * Appends to out, sorted. */
int publish_dir_list(const char *root, const struct publish_settings *s,
                     struct publish_files *out, struct pier_err *err);

#endif
