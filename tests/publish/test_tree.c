/*
 * tests/publish/test_tree.c - publish/tree.c and publish/settings.c on
 * real repositories made with the git CLI in a temporary folder: listing
 * without checkout, exclusions, pier.ini, diffs, quarantined objects, and
 * the build step (success, failure with its tail, time-out).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[256];

/* Run a shell command line in root; fail the test if it fails. */
static void PIER_PRINTF(1, 2) sh(const char *fmt, ...)
{
    char cmd[4096], line[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line),
             "cd '%s' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t "
             "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t "
             "GIT_CONFIG_NOSYSTEM=1 HOME='%s' && (%s) >/dev/null 2>&1",
             root, root, cmd);
    if (system(line) != 0) {
        fail_msg("command failed: %s", cmd);
    }
}

/* The first line a command prints, in root. */
static void
capture(const char *cmd, char *out, size_t n)
{
    char line[8192];
    FILE *p;

    snprintf(line, sizeof(line), "cd '%s' && %s", root, cmd);
    p = popen(line, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int) n, p));
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    (void) state;
    snprintf(root, sizeof(root), "%s/pier-test-tree.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    sh("git init -q -b main site && cd site"
       " && mkdir -p css .well-known .hidden drafts img docs/old docs/new sub"
       " && echo '<p>home</p>' > index.html"
       " && echo 'a{}' > css/site.css"
       " && echo 'x' > .gitignore"
       " && echo 'contact' > .well-known/security.txt"
       " && echo 'no' > .well-known/.secret"
       " && echo 'h' > .hidden/x.txt"
       " && echo 'd' > drafts/a.html"
       " && echo 'p' > img/a.psd && echo 'q' > img/b.png"
       " && echo 'o' > docs/old/x.html && echo 'n' > docs/new/x.html"
       " && echo '[build]' > sub/pier.ini"
       " && ln -s index.html link.html"
       " && printf '[publish]\\nexclude = drafts/ *.psd\\n"
       "exclude = /docs/old\\n[assets]\\nhash_length = 12\\n' > pier.ini"
       " && git add -A && git commit -qm one && git tag v1");
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    sh("rm -rf '%s'", root);
    return 0;
}

static struct publish_repo *
open_site(void)
{
    struct pier_err err;
    char path[512];
    struct publish_repo *r;

    snprintf(path, sizeof(path), "%s/site", root);
    r = publish_repo_open(path, &err);
    if (r == NULL) {
        fail_msg("%s", err.msg);
    }
    return r;
}

static void
test_tree_lists_without_checkout(void **state)
{
    static const char *const want[] = {
        ".well-known/security.txt",
        "css/site.css",
        "docs/new/x.html",
        "img/b.png",
        "index.html",
        "sub/pier.ini",
    };
    struct publish_repo *r = open_site();
    struct publish_settings s;
    struct publish_files files;
    struct pier_err err;
    struct pier_buf b;
    git_oid head;
    char hex[GIT_OID_HEXSZ + 1], want_hex[64];
    size_t i;

    (void) state;
    publish_settings_init(&s);
    publish_files_init(&files);
    assert_int_equal(publish_repo_resolve(r, "HEAD", &head, &err), PIER_OK);
    assert_int_equal(publish_repo_settings(r, &head, &s, &err), PIER_OK);
    assert_int_equal(s.hash_len, 12);
    assert_int_equal(s.nexclude, 3);
    assert_int_equal(publish_tree_list(r, &head, "", &s, &files, &err),
                     PIER_OK);
    assert_int_equal(files.n, PIER_NELEMS(want));
    for (i = 0; i < files.n; i++) {
        assert_string_equal(files.v[i].path, want[i]);
        assert_null(files.v[i].disk);
    }
    assert_int_equal(files.links_skipped, 1);
    /* Blob ids are git's. */
    capture("git -C site rev-parse HEAD:index.html", want_hex,
            sizeof(want_hex));
    git_oid_tostr(hex, sizeof(hex),
                  &publish_files_find(&files, "index.html")->blob);
    assert_string_equal(hex, want_hex);
    /* Contents come from the object database. */
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(
        publish_file_read(r, publish_files_find(&files, "css/site.css"), &b,
                          &err),
        PIER_OK);
    assert_string_equal(b.data, "a{}\n");
    pier_buf_release(&b);
    assert_null(publish_files_find(&files, "pier.ini"));
    publish_files_release(&files);
    /* A folder of the commit, as the root. */
    assert_true(publish_tree_has_dir(r, &head, "docs"));
    assert_false(publish_tree_has_dir(r, &head, "index.html"));
    assert_int_equal(publish_tree_list(r, &head, "docs/", &s, &files, &err),
                     PIER_OK);
    assert_int_equal(files.n, 2); /* /docs/old is anchored at the root */
    assert_string_equal(files.v[0].path, "new/x.html");
    assert_string_equal(files.v[1].path, "old/x.html");
    publish_files_release(&files);
    assert_int_equal(publish_tree_list(r, &head, "nope/", &s, &files, &err),
                     PIER_ERR);
    publish_settings_release(&s);
    publish_repo_free(r);
}

static void
test_tree_resolves_refs(void **state)
{
    struct publish_repo *r = open_site();
    struct pier_err err;
    git_oid a, b;
    char want[64], hex[GIT_OID_HEXSZ + 1];

    (void) state;
    capture("git -C site rev-parse HEAD", want, sizeof(want));
    assert_int_equal(publish_repo_resolve(r, "main", &a, &err), PIER_OK);
    git_oid_tostr(hex, sizeof(hex), &a);
    assert_string_equal(hex, want);
    assert_int_equal(publish_repo_resolve(r, "v1", &b, &err), PIER_OK);
    assert_true(git_oid_equal(&a, &b));
    want[8] = '\0';
    assert_int_equal(publish_repo_resolve(r, want, &b, &err), PIER_OK);
    assert_true(git_oid_equal(&a, &b));
    assert_int_equal(publish_repo_resolve(r, "no-such-branch", &b, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "no-such-branch"));
    publish_repo_free(r);
}

static void
test_tree_diff_names_changed_paths(void **state)
{
    struct publish_repo *r;
    struct pier_err err;
    git_oid one, two;
    char **paths;
    size_t n;

    (void) state;
    sh("cd site && echo '<p>new</p>' > index.html && git rm -q css/site.css"
       " && echo n > new.txt && git mv img/b.png img/c.png"
       " && git add -A && git commit -qm two");
    r = open_site();
    assert_int_equal(publish_repo_resolve(r, "v1", &one, &err), PIER_OK);
    assert_int_equal(publish_repo_resolve(r, "HEAD", &two, &err), PIER_OK);
    assert_int_equal(publish_tree_diff(r, &one, &two, &paths, &n, &err),
                     PIER_OK);
    assert_int_equal(n, 5);
    assert_string_equal(paths[0], "css/site.css");
    assert_string_equal(paths[1], "img/b.png");
    assert_string_equal(paths[2], "img/c.png");
    assert_string_equal(paths[3], "index.html");
    assert_string_equal(paths[4], "new.txt");
    publish_paths_free(paths, n);
    /* The same tree: nothing. */
    assert_int_equal(publish_tree_diff(r, &two, &two, &paths, &n, &err),
                     PIER_OK);
    assert_int_equal(n, 0);
    publish_paths_free(paths, n);
    /* No old commit: every path. */
    assert_int_equal(publish_tree_diff(r, NULL, &one, &paths, &n, &err),
                     PIER_OK);
    assert_true(n >= 12);
    publish_paths_free(paths, n);
    sh("cd site && git reset -q --hard v1");
    publish_repo_free(r);
}

/* Objects a push has not yet moved out of git's quarantine are seen
 * through the environment a pre-receive hook gets. */
static void
test_tree_sees_quarantined_objects(void **state)
{
    struct publish_repo *r;
    struct pier_err err;
    char q[512], objs[512], id[64];
    git_oid c;

    (void) state;
    snprintf(q, sizeof(q), "%s/quarantine", root);
    snprintf(objs, sizeof(objs), "%s/site/.git/objects", root);
    sh("mkdir -p quarantine && cd site && echo q > q.txt"
       " && export GIT_OBJECT_DIRECTORY='%s'"
       " GIT_ALTERNATE_OBJECT_DIRECTORIES='%s'"
       " && git add q.txt && tree=$(git write-tree)"
       " && git commit-tree -p HEAD -m q $tree > ../qcommit"
       " && git reset -q && rm q.txt",
       q, objs);
    capture("cat qcommit", id, sizeof(id));
    /* Without the environment the commit does not exist. */
    r = open_site();
    assert_int_equal(publish_repo_resolve(r, id, &c, &err), PIER_ERR);
    publish_repo_free(r);
    setenv("GIT_OBJECT_DIRECTORY", q, 1);
    setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", objs, 1);
    r = open_site();
    unsetenv("GIT_OBJECT_DIRECTORY");
    unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
    assert_int_equal(publish_repo_resolve(r, id, &c, &err), PIER_OK);
    publish_repo_free(r);
}

static void
test_tree_build_publishes_output(void **state)
{
    struct publish_repo *r = open_site();
    struct publish_settings s;
    struct publish_files files;
    struct pier_buf tail;
    struct pier_err err;
    char *dir = NULL, out[1024], hex[GIT_OID_HEXSZ + 1], want[64];
    git_oid head;

    (void) state;
    publish_settings_init(&s);
    publish_files_init(&files);
    pier_buf_init(&tail, 4096);
    assert_int_equal(publish_repo_resolve(r, "HEAD", &head, &err), PIER_OK);
    assert_int_equal(
        publish_build_run(r, &head,
                          "test -f index.html && test ! -e .git"
                          " && mkdir -p public/css"
                          " && cp index.html public/ && cp css/site.css"
                          " public/css/ && echo built",
                          10000, -1, &dir, &tail, &err),
        PIER_OK);
    assert_non_null(dir);
    assert_string_equal(tail.data, "built\n");
    snprintf(out, sizeof(out), "%s/public", dir);
    assert_int_equal(publish_dir_list(out, &s, &files, &err), PIER_OK);
    assert_int_equal(files.n, 2);
    assert_string_equal(files.v[0].path, "css/site.css");
    assert_string_equal(files.v[1].path, "index.html");
    assert_non_null(files.v[1].disk);
    /* Built files get git's blob ids too. */
    capture("git -C site rev-parse HEAD:index.html", want, sizeof(want));
    git_oid_tostr(hex, sizeof(hex), &files.v[1].blob);
    assert_string_equal(hex, want);
    /* The repository's index and work tree were not touched. */
    sh("cd site && git diff --quiet && git diff --cached --quiet");
    publish_build_cleanup(dir);
    assert_int_equal(access(out, F_OK), -1);
    publish_files_release(&files);
    pier_buf_release(&tail);
    publish_settings_release(&s);
    publish_repo_free(r);
}

static void
test_tree_build_failure_keeps_tail(void **state)
{
    struct publish_repo *r = open_site();
    struct pier_buf tail;
    struct pier_err err;
    char *dir = NULL;
    git_oid head;

    (void) state;
    pier_buf_init(&tail, 64);
    assert_int_equal(publish_repo_resolve(r, "HEAD", &head, &err), PIER_OK);
    assert_int_equal(
        publish_build_run(r, &head,
                          "i=0; while [ $i -lt 100 ]; do echo line $i;"
                          " i=$((i+1)); done; echo 'error: oops' >&2; exit 3",
                          10000, -1, &dir, &tail, &err),
        PIER_ERR);
    assert_non_null(strstr(err.msg, "exit status 3"));
    /* Only the last 64 bytes, ending with what went to stderr. */
    assert_int_equal(tail.len, 64);
    assert_non_null(strstr(tail.data, "line 99\nerror: oops\n"));
    publish_build_cleanup(dir);
    pier_buf_release(&tail);
    publish_repo_free(r);
}

static void
test_tree_build_times_out(void **state)
{
    struct pier_buf tail;
    struct pier_err err;
    struct timespec a, b;
    int fds[2];
    char got[64] = {0};

    (void) state;
    pier_buf_init(&tail, 4096);
    /* Streamed as it comes, and its tail kept. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(publish_run_command("echo start; echo done >&2", root,
                                         30000, fds[1], &tail, &err),
                     PIER_OK);
    close(fds[1]);
    assert_int_equal(read(fds[0], got, sizeof(got) - 1), 11);
    assert_string_equal(got, "start\ndone\n");
    close(fds[0]);
    assert_string_equal(tail.data, "start\ndone\n");
    /* The background sleep holds the pipe too: it dies with the group, and
     * the time-out holds although the shell never exits by itself. */
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(
        publish_run_command("sleep 30 & sleep 30", root, 300, -1, &tail, &err),
        PIER_ERR);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_true(b.tv_sec - a.tv_sec < 10);
    pier_buf_release(&tail);
    assert_int_equal(
        publish_run_command("kill -9 $$", root, 5000, -1, NULL, &err),
        PIER_ERR);
    assert_non_null(strstr(err.msg, "signal 9"));
}

static void
test_tree_settings_errors_name_the_line(void **state)
{
    struct publish_settings s;
    struct pier_err err;
    const char *bad[][2] = {
        {"[build]\ncommand = make\n\n[build]\nnope = 1\n",
         "pier.ini:5: unknown key 'nope' in [build]"},
        {"[assets]\nhash = maybe\n", "pier.ini:2: [assets] hash: 'maybe'"},
        {"[assets]\nhash_length = 3\n", "pier.ini:2: [assets] hash_length"},
        {"[compress]\nlevel = max\n", "pier.ini:2: [compress] level"},
        {"[build]\ntimeout = -5\n", "pier.ini:2: [build] timeout"},
        {"[build\n", "pier.ini:1: syntax error"},
        {"[build]\noutput = ../../etc\n", "pier.ini:2: [build] output"},
        {"[build]\noutput = /etc\n", "pier.ini:2: [build] output"},
        {"[build]\noutput = a/./b\n", "pier.ini:2: [build] output"},
        {"[assets]\nintegrity = md5\n", "pier.ini:2: [assets] integrity"},
        {"[assets]\nintegrity = true\n", "pier.ini:2: [assets] integrity"},
    };
    const char *ini;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        publish_settings_init(&s);
        assert_int_equal(publish_settings_parse(&s, "pier.ini", bad[i][0],
                                                strlen(bad[i][0]), &err),
                         PIER_ERR);
        if (strncmp(err.msg, bad[i][1], strlen(bad[i][1])) != 0) {
            fail_msg("got '%s', want '%s...'", err.msg, bad[i][1]);
        }
        publish_settings_release(&s);
    }
    publish_settings_init(&s);
    ini = "[build]\ncommand = make site\noutput = _site\ntimeout = 30\n"
          "[compress]\nlevel = best\nenabled = no\n";
    assert_int_equal(
        publish_settings_parse(&s, "pier.ini", ini, strlen(ini), &err),
        PIER_OK);
    assert_string_equal(s.build_command, "make site");
    assert_string_equal(s.build_output, "_site");
    assert_int_equal(s.build_timeout_s, 30);
    assert_true(s.compress_best);
    assert_false(s.compress);
    publish_settings_release(&s);
    assert_int_equal(s.hash_len, PUBLISH_HASH_LEN_DEFAULT);
    assert_int_equal(s.hash_len, 10);
    assert_int_equal(s.integrity, PUBLISH_SRI_OFF);
    ini = "[assets]\nintegrity = SHA384\nhash_length = 6\n";
    assert_int_equal(
        publish_settings_parse(&s, "pier.ini", ini, strlen(ini), &err),
        PIER_OK);
    assert_int_equal(s.integrity, PUBLISH_SRI_SHA384);
    assert_int_equal(s.hash_len, 6);
    ini = "[assets]\nintegrity = sha512\n";
    assert_int_equal(
        publish_settings_parse(&s, "pier.ini", ini, strlen(ini), &err),
        PIER_OK);
    assert_int_equal(s.integrity, PUBLISH_SRI_SHA512);
    ini = "[assets]\nintegrity = off\n";
    assert_int_equal(
        publish_settings_parse(&s, "pier.ini", ini, strlen(ini), &err),
        PIER_OK);
    assert_int_equal(s.integrity, PUBLISH_SRI_OFF);
    publish_settings_release(&s);
}

static void
test_tree_exclusions(void **state)
{
    struct publish_settings s;
    struct pier_err err;
    const char *ini = "[publish]\nexclude = *.psd drafts/ /docs/old\n"
                      "exclude = tmp/*.log\n";

    (void) state;
    publish_settings_init(&s);
    assert_int_equal(publish_settings_parse(&s, "x", ini, strlen(ini), &err),
                     PIER_OK);
    assert_true(publish_settings_excluded(&s, ".git/config"));
    assert_true(publish_settings_excluded(&s, ".env"));
    assert_true(publish_settings_excluded(&s, "a/.DS_Store"));
    assert_true(publish_settings_excluded(&s, "pier.ini"));
    assert_false(publish_settings_excluded(&s, "a/pier.ini"));
    assert_false(publish_settings_excluded(&s, ".well-known/assetlinks.json"));
    assert_true(publish_settings_excluded(&s, "a/.well-known/x"));
    assert_true(publish_settings_excluded(&s, "art/cover.psd"));
    assert_true(publish_settings_excluded(&s, "drafts/post.html"));
    assert_true(publish_settings_excluded(&s, "blog/drafts/post.html"));
    assert_true(publish_settings_excluded(&s, "docs/old/a.html"));
    assert_false(publish_settings_excluded(&s, "x/docs/old/a.html"));
    assert_true(publish_settings_excluded(&s, "tmp/build.log"));
    assert_false(publish_settings_excluded(&s, "tmp/sub/build.log"));
    assert_false(publish_settings_excluded(&s, "index.html"));
    publish_settings_release(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_lists_without_checkout),
        cmocka_unit_test(test_tree_resolves_refs),
        cmocka_unit_test(test_tree_diff_names_changed_paths),
        cmocka_unit_test(test_tree_sees_quarantined_objects),
        cmocka_unit_test(test_tree_build_publishes_output),
        cmocka_unit_test(test_tree_build_failure_keeps_tail),
        cmocka_unit_test(test_tree_build_times_out),
        cmocka_unit_test(test_tree_settings_errors_name_the_line),
        cmocka_unit_test(test_tree_exclusions),
    };

    return cmocka_run_group_tests_name("publish/tree", tests, setup, teardown);
}
