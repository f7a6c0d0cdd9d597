/*
 * lib/clientconf.h - how the client commands (pier publish, site, deploys,
 * rollback, purge) find the object store and the edges.
 *
 * Precedence (ARCHITECTURE.md, Configuration): flags first; then the
 * [publish] section of pier.conf (--config, else $PIER_CONFIG, else the
 * data directory's: --data, $PIER_HOME or ~/.local/share/pier) when one
 * exists, so that after `pier up` no flag is needed even with real AWS
 * keys in the environment; then AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION.
 *
 * pier_client_conf_load() applies the environment and the file; the
 * command then applies its flags with pier_conf_set() on
 * pier_client_conf_section, so the flags win.
 */
#ifndef PIER_CLIENTCONF_H
#define PIER_CLIENTCONF_H

#include "lib/conf.h"
#include "lib/s3client.h"

#include <getopt.h>

struct pier_client_conf {
    char *endpoint;
    char *region;
    char *bucket;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *ca_file;
    bool insecure;
    struct pier_conf_list edges; /* admin API URLs of the edges */
    char *edge_token;            /* their bearer token */
    char data_dir[4096];         /* the data directory resolved */
    char conf_path[4096];        /* the pier.conf read; "" when none */
};

/* The [publish] section's table: endpoint, region, bucket,
 * access_key_id, secret_access_key, session_token, ca_file, insecure,
 * edge (repeatable), edge_token. */
extern const struct pier_conf_section pier_client_conf_section;

/* Zero c, then fill it from defaults, the environment and pier.conf.
 * data_flag and config_flag may be NULL. An explicit config_flag (or
 * $PIER_CONFIG) that cannot be read is an error; a data directory without
 * a pier.conf is not. Release with pier_client_conf_release(). */
int pier_client_conf_load(struct pier_client_conf *c, const char *data_flag,
                          const char *config_flag, struct pier_err *err);
void pier_client_conf_release(struct pier_client_conf *c);

/* Fill cfg (after pier_s3_config_init) with c's strings, which cfg
 * borrows. */
void pier_client_conf_s3(const struct pier_client_conf *c,
                         struct pier_s3_config *cfg);

/* A one-line reason when the store cannot be reached as configured (no
 * endpoint, no credentials); NULL when complete. */
const char *pier_client_conf_missing(const struct pier_client_conf *c);

/*
 * The flags every client command shares (--data, --config, --endpoint,
 * --bucket, --region, --edge, --edge-token). A command puts
 * PIER_CLIENT_OPTIONS in its getopt_long table, hands each option to
 * pier_client_flag() first, prints pier_client_help in its --help, and
 * loads with pier_client_load(). The option values are above any
 * character, so a command's own short codes never clash with them.
 */
enum {
    PIER_CLIENT_OPT_DATA = 0x100,
    PIER_CLIENT_OPT_CONFIG,
    PIER_CLIENT_OPT_ENDPOINT,
    PIER_CLIENT_OPT_BUCKET,
    PIER_CLIENT_OPT_REGION,
    PIER_CLIENT_OPT_EDGE,
    PIER_CLIENT_OPT_EDGE_TOKEN,
};

#define PIER_CLIENT_OPTIONS                                               \
    {"data", required_argument, NULL, PIER_CLIENT_OPT_DATA},              \
        {"config", required_argument, NULL, PIER_CLIENT_OPT_CONFIG},      \
        {"endpoint", required_argument, NULL, PIER_CLIENT_OPT_ENDPOINT},  \
        {"bucket", required_argument, NULL, PIER_CLIENT_OPT_BUCKET},      \
        {"region", required_argument, NULL, PIER_CLIENT_OPT_REGION},      \
        {"edge", required_argument, NULL, PIER_CLIENT_OPT_EDGE},          \
        {"edge-token", required_argument, NULL, PIER_CLIENT_OPT_EDGE_TOKEN}

/* The flags given; views of argv, except edges (release them). */
struct pier_client_args {
    const char *data, *config;
    const char *endpoint, *bucket, *region;
    const char **edges; /* flags; when given, instead of pier.conf's */
    size_t nedges;
    const char *edge_token;
};

/* The lines of --help that describe the flags and the precedence. */
extern const char pier_client_help[];

void pier_client_args_release(struct pier_client_args *a);
/* Take option c (from getopt_long) when it is one of the shared flags. */
bool pier_client_flag(struct pier_client_args *a, int c, const char *arg);
/* Load the configuration (pier_client_conf_load), put the flags over it
 * and fill cfg. With need_store, a store that cannot be reached as
 * configured is an error. Prints "pier CMD: why" on failure, having
 * released c. */
bool pier_client_load(const char *cmd, const struct pier_client_args *a,
                      bool need_store, struct pier_client_conf *c,
                      struct pier_s3_config *cfg);
/* The edges and token to notify: the flags', else pier.conf's; the token
 * also from $PIER_EDGE_TOKEN. Views valid while a and c live. */
void pier_client_edges(const struct pier_client_args *a,
                       const struct pier_client_conf *c,
                       const char *const **edges, size_t *n,
                       const char **token);

#endif
