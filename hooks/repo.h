/*
 * hooks/repo.h - the git side of a site: its bare repository and the
 * pre-receive hook that publishes what is pushed to the production branch.
 *
 * The hook runs `pier publish` inside git's quarantine (the pushed objects
 * are visible to it through the environment git sets) and exits non-zero
 * when the publish fails, so git refuses the push: a push is either live or
 * rejected, never half-deployed.
 */
#ifndef HOOKS_REPO_H
#define HOOKS_REPO_H

#include "lib/buf.h"
#include "lib/err.h"

struct hooks_repo_spec {
    const char *repos_dir; /* DATA/repos; created when missing */
    const char *site;      /* a valid site name: [a-z0-9-], at most 63 */
    const char *branch;    /* production branch, e.g. "main" */
    const char *pier;      /* absolute path of the pier binary to run */
    const char *data_dir;  /* passed to pier publish as --data */
    const char *config;    /* pier.conf to pass as --config; NULL: none */
};

/* Create repos_dir/<site>.git as a bare repository whose HEAD names the
 * production branch, write the hook's settings into its git config
 * (pier.site, pier.branch, pier.program, pier.data and, when spec->config
 * is set, pier.config) and install (or replace) its pre-receive hook,
 * which reads them with `git config --get`. An existing repository keeps
 * its history; its settings and hook are rewritten.
 * Writes the repository's path to path_out when it is not NULL. */
int hooks_repo_create(const struct hooks_repo_spec *spec,
                      struct pier_buf *path_out, struct pier_err *err);

/* The hook script, appended to out (exposed for tests). It holds no
 * setting: everything comes from the repository's git config. */
int hooks_repo_script(struct pier_buf *out, struct pier_err *err);

/* Append s to out quoted for a POSIX shell ('...' with ' as '\''). */
PIER_NODISCARD int hooks_shell_quote(struct pier_buf *out, const char *s);

#endif
