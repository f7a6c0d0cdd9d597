/*
 * lib/clientconf.c - the client commands' view of the store and edges.
 */
#include "config.h"

#include "lib/clientconf.h"

#include "lib/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#define F(f) offsetof(struct pier_client_conf, f)

static const struct pier_conf_entry entries[] = {
    {"endpoint", PIER_CONF_STR, NULL, 0, F(endpoint),
     "the object store's URL (http://127.0.0.1:9000)"},
    {"region", PIER_CONF_STR, NULL, 0, F(region),
     "the signing region (default us-east-1)"},
    {"bucket", PIER_CONF_STR, "pier", 0, F(bucket), "the bucket sites live in"},
    {"access_key_id", PIER_CONF_STR, NULL, 0, F(access_key_id),
     "the publisher's access key id"},
    {"secret_access_key", PIER_CONF_STR, NULL, 0, F(secret_access_key),
     "the publisher's secret key"},
    {"session_token", PIER_CONF_STR, NULL, 0, F(session_token),
     "a session token, with temporary credentials"},
    {"ca_file", PIER_CONF_STR, NULL, 0, F(ca_file),
     "CA certificates for an https endpoint"},
    {"insecure", PIER_CONF_BOOL, "no", 0, F(insecure),
     "skip TLS verification of the endpoint (test stores only)"},
    {"edge", PIER_CONF_STRLIST, NULL, 0, F(edges),
     "an edge's admin URL to notify (repeat for each edge)"},
    {"edge_token", PIER_CONF_STR, NULL, 0, F(edge_token),
     "the bearer token of the edges' admin API"},
};

const struct pier_conf_section pier_client_conf_section = {
    "publish", entries, PIER_NELEMS(entries)};

/* Take var for key only when the file left key unset: the file wins. */
static void
from_env(struct pier_client_conf *c, char **field, const char *var,
         const char *key)
{
    const char *v = getenv(var);
    struct pier_err err;

    if (*field != NULL || v == NULL || *v == '\0') {
        return;
    }
    if (pier_conf_set(&pier_client_conf_section, c, key, v, &err) != PIER_OK) {
        PIER_ASSERT(!"client conf table lacks an environment key");
    }
}

int
pier_client_conf_load(struct pier_client_conf *c, const char *data_flag,
                      const char *config_flag, struct pier_err *err)
{
    const char *env_conf = getenv("PIER_CONFIG");
    struct stat st;
    bool explicit;

    memset(c, 0, sizeof(*c));
    pier_conf_defaults(&pier_client_conf_section, c, err);
    if (pier_data_dir(data_flag, c->data_dir, sizeof(c->data_dir), err)
            != PIER_OK
        || pier_conf_path(config_flag, c->data_dir, c->conf_path,
                          sizeof(c->conf_path), err)
               != PIER_OK) {
        return PIER_ERR;
    }
    explicit = (config_flag != NULL && *config_flag != '\0')
               || (env_conf != NULL && *env_conf != '\0');
    if (!explicit && stat(c->conf_path, &st) != 0 && errno == ENOENT) {
        c->conf_path[0] = '\0';
    } else if (pier_conf_load_file(&pier_client_conf_section, c, c->conf_path,
                                   err)
               != PIER_OK) {
        return PIER_ERR;
    }
    from_env(c, &c->endpoint, "AWS_ENDPOINT_URL", "endpoint");
    from_env(c, &c->region, "AWS_REGION", "region");
    from_env(c, &c->region, "AWS_DEFAULT_REGION", "region");
    if (c->region == NULL) {
        c->region = pier_strdup("us-east-1");
    }
    /* Credentials come as a pair from one place: a key id from the file
     * never signs with a secret from the environment. */
    if (c->access_key_id == NULL && c->secret_access_key == NULL) {
        from_env(c, &c->access_key_id, "AWS_ACCESS_KEY_ID", "access_key_id");
        from_env(c, &c->secret_access_key, "AWS_SECRET_ACCESS_KEY",
                 "secret_access_key");
        from_env(c, &c->session_token, "AWS_SESSION_TOKEN", "session_token");
    }
    return PIER_OK;
}

void
pier_client_conf_release(struct pier_client_conf *c)
{
    pier_conf_release(&pier_client_conf_section, c);
}

void
pier_client_conf_s3(const struct pier_client_conf *c,
                    struct pier_s3_config *cfg)
{
    cfg->endpoint = c->endpoint;
    cfg->region = c->region;
    cfg->bucket = c->bucket;
    cfg->access_key_id = c->access_key_id;
    cfg->secret_access_key = c->secret_access_key;
    cfg->session_token = c->session_token;
    cfg->ca_file = c->ca_file;
    cfg->insecure = c->insecure;
}

const char *
pier_client_conf_missing(const struct pier_client_conf *c)
{
    if (c->endpoint == NULL) {
        return "no object store: run 'pier up', or give --endpoint or "
               "AWS_ENDPOINT_URL";
    }
    if (c->access_key_id == NULL || c->secret_access_key == NULL) {
        return "no credentials: run 'pier up', or set AWS_ACCESS_KEY_ID and "
               "AWS_SECRET_ACCESS_KEY";
    }
    return NULL;
}

void
pier_client_args_release(struct pier_client_args *a)
{
    pier_free(a->edges);
    a->edges = NULL;
    a->nedges = 0;
}

/* Flags shared by the three commands: true when c was one of them. */
bool
pier_client_flag(struct pier_client_args *a, int c, const char *arg)
{
    switch (c) {
    case PIER_CLIENT_OPT_DATA:
        a->data = arg;
        return true;
    case PIER_CLIENT_OPT_CONFIG:
        a->config = arg;
        return true;
    case PIER_CLIENT_OPT_ENDPOINT:
        a->endpoint = arg;
        return true;
    case PIER_CLIENT_OPT_BUCKET:
        a->bucket = arg;
        return true;
    case PIER_CLIENT_OPT_REGION:
        a->region = arg;
        return true;
    case PIER_CLIENT_OPT_EDGE:
        a->edges = pier_realloc(a->edges, (a->nedges + 1) * sizeof(*a->edges));
        a->edges[a->nedges++] = arg;
        return true;
    case PIER_CLIENT_OPT_EDGE_TOKEN:
        a->edge_token = arg;
        return true;
    default:
        return false;
    }
}

const char pier_client_help[] =
    "  --endpoint URL   the S3 endpoint\n"
    "  --bucket NAME    the bucket (default: pier)\n"
    "  --region R       the signing region (default: us-east-1)\n"
    "  --edge URL       an edge's admin API (http://127.0.0.1:8081): the "
    "deploy\n                   delta is POSTed to it (repeatable)\n"
    "  --edge-token T   the edges' bearer token\n"
    "  --data DIR       the data directory whose pier.conf to read\n"
    "  --config FILE    the pier.conf to read\n\n"
    "Flags first; then the [publish] section of pier.conf (--config, "
    "$PIER_CONFIG,\nor the data directory's: --data, $PIER_HOME, "
    "~/.local/share/pier), so that\nafter 'pier up' no flag is needed; then "
    "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,\nAWS_SECRET_ACCESS_KEY, "
    "AWS_SESSION_TOKEN, AWS_REGION.\n";

/* Load the client configuration and put the flags over it. With
 * need_store, a store that cannot be reached as configured is an error.
 * Prints why on failure. */
bool
pier_client_load(const char *cmd, const struct pier_client_args *a, bool need_store,
            struct pier_client_conf *c, struct pier_s3_config *cfg)
{
    const struct {
        const char *key, *value;
    } flags[] = {
        {"endpoint", a->endpoint},
        {"bucket", a->bucket},
        {"region", a->region},
        {"edge_token", a->edge_token},
    };
    struct pier_err err;
    const char *missing;
    size_t i;

    if (pier_client_conf_load(c, a->data, a->config, &err) != PIER_OK) {
        pier_client_conf_release(c);
        pier_cli_fail(cmd, "%s", err.msg);
        return false;
    }
    for (i = 0; i < PIER_NELEMS(flags); i++) {
        if (flags[i].value != NULL
            && pier_conf_set(&pier_client_conf_section, c, flags[i].key,
                             flags[i].value, &err)
                   != PIER_OK) {
            pier_client_conf_release(c);
            pier_cli_fail(cmd, "%s", err.msg);
            return false;
        }
    }
    pier_s3_config_init(cfg);
    pier_client_conf_s3(c, cfg);
    missing = pier_client_conf_missing(c);
    if (need_store && missing != NULL) {
        pier_client_conf_release(c);
        pier_cli_fail(cmd, "%s", missing);
        return false;
    }
    return true;
}

/* The edges and token to notify: the flags', else pier.conf's, and the
 * token also from $PIER_EDGE_TOKEN. */
void
pier_client_edges(const struct pier_client_args *a, const struct pier_client_conf *c,
             const char *const **edges, size_t *n, const char **token)
{
    if (a->nedges > 0) {
        *edges = a->edges;
        *n = a->nedges;
    } else {
        *edges = (const char *const *) c->edges.items;
        *n = c->edges.n;
    }
    *token = c->edge_token != NULL ? c->edge_token : getenv("PIER_EDGE_TOKEN");
}
