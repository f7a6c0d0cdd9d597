/*
 * tests/hooks/test_repo.c - hooks/repo.c: the bare repository, its HEAD,
 * the hook's settings in its git config, and that a real `git push` runs
 * the hook with them and the pushed commit and is refused when the hook
 * fails.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks/repo.h"

static char tmpdir[64];

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pier-hooks-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_repo_shell_quote(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, 1024);
    assert_int_equal(hooks_shell_quote(&b, "it's $HOME `x`"), PIER_OK);
    assert_string_equal(b.data, "'it'\\''s $HOME `x`'");
    pier_buf_release(&b);
}

static void
test_repo_refuses_bad_names(void **state)
{
    struct hooks_repo_spec spec = {tmpdir,      "Bad_Name", "main",
                                   "/bin/true", tmpdir,     NULL};
    struct pier_err err;

    (void) state;
    assert_int_equal(hooks_repo_create(&spec, NULL, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "invalid site name 'Bad_Name'"));
    spec.site = "ok";
    spec.branch = "bad..branch";
    assert_int_equal(hooks_repo_create(&spec, NULL, &err), PIER_ERR);
    assert_non_null(strstr(err.msg, "invalid branch name"));
}

/* A fake pier that records its arguments and fails when told to: the test
 * is of the hook's plumbing, so the program it calls is the test's own. */
static void
write_recorder(const char *path, const char *log)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\n"
            "echo \"$@\" >> '%s'\n"
            "[ -e '%s.fail' ] && { echo 'pier: publish failed' >&2; exit 1; }\n"
            "exit 0\n",
            log, log);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static int run(const char *fmt, ...) PIER_PRINTF(1, 2);

static int
run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void
test_repo_push_runs_hook(void **state)
{
    char repos[128], fake[128], log[128], data[128];
    char conf[160];
    struct hooks_repo_spec spec = {repos, "blog", "main", fake, data, NULL};
    struct pier_buf path;
    struct pier_err err;
    FILE *f;
    char line[512], head[41];

    (void) state;
    snprintf(repos, sizeof(repos), "%s/repos", tmpdir);
    snprintf(fake, sizeof(fake), "%s/fake pier", tmpdir);
    snprintf(log, sizeof(log), "%s/calls", tmpdir);
    snprintf(data, sizeof(data), "%s/da'ta", tmpdir);
    write_recorder(fake, log);
    pier_buf_init(&path, 4096);
    assert_int_equal(hooks_repo_create(&spec, &path, &err), PIER_OK);
    assert_non_null(strstr(path.data, "/repos/blog.git"));
    /* The settings live in the repository's git config, not the hook. */
    assert_int_equal(run("test \"$(git --git-dir='%s' config --get pier.site)\""
                         " = blog && ! grep -q blog '%s/hooks/pre-receive' && "
                         "! git --git-dir='%s' config --get pier.config",
                         path.data, path.data, path.data),
                     0);
    /* Re-creating keeps the repository, rewrites the hook and settings. */
    snprintf(conf, sizeof(conf), "%s/pier.conf", data);
    spec.config = conf;
    assert_int_equal(hooks_repo_create(&spec, NULL, &err), PIER_OK);
    assert_int_equal(run("git --git-dir='%s' config --get pier.config | "
                         "grep -q \"/da'ta/pier.conf$\"",
                         path.data),
                     0);

    assert_int_equal(
        run("cd '%s' && git init -q -b main work && cd work && "
            "git -c user.name=t -c user.email=t@t commit -q --allow-empty "
            "-m one && git push -q '%s' main 2>/dev/null && "
            "git rev-parse HEAD > ../head",
            tmpdir, path.data),
        0);
    snprintf(line, sizeof(line), "%s/head", tmpdir);
    f = fopen(line, "r");
    assert_non_null(f);
    assert_non_null(fgets(head, sizeof(head), f));
    fclose(f);
    f = fopen(log, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_non_null(strstr(line, "publish --site blog --data "));
    assert_non_null(strstr(line, " --repo "));
    assert_non_null(strstr(line, head));
    assert_non_null(strstr(line, "--data /tmp/"));
    assert_non_null(strstr(line, "/da'ta"));
    assert_non_null(strstr(line, "--config /tmp/"));

    /* A failing publish refuses the push: the branch keeps its commit. */
    assert_int_equal(run("touch '%s.fail'", log), 0);
    assert_true(run("cd '%s/work' && git -c user.name=t -c user.email=t@t "
                    "commit -q --allow-empty -m two && "
                    "git push -q '%s' main 2>/dev/null",
                    tmpdir, path.data)
                != 0);
    assert_int_equal(run("test \"$(git --git-dir='%s' rev-parse main)\" = "
                         "\"$(cat '%s/head')\"",
                         path.data, tmpdir),
                     0);
    /* Pushing another branch publishes nothing. */
    assert_int_equal(run("rm '%s.fail' && cd '%s/work' && "
                         "git push -q '%s' HEAD:refs/heads/draft 2>/dev/null",
                         log, tmpdir, path.data),
                     0);
    assert_int_equal(run("test $(wc -l < '%s') = 2", log), 0);
    pier_buf_release(&path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo_shell_quote),
        cmocka_unit_test(test_repo_refuses_bad_names),
        cmocka_unit_test(test_repo_push_runs_hook),
    };

    return cmocka_run_group_tests_name("hooks/repo", tests, setup, teardown);
}
