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

#endif
