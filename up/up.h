/*
 * up/up.h - `pier up`: the local object store and edge as one product.
 *
 * pier up owns the data directory's shared parts: on first start it lays
 * out DATA (pier.conf, objstore/, edge/, repos/, run/), writes the keys
 * (an admin key, a publisher key that may write the bucket, an edge key
 * that may only read it) and the edge's admin token, and creates the
 * bucket. Then it runs `pier objstore` and `pier edge` as supervised
 * children: Ctrl-C (SIGINT/SIGTERM) stops both; if either dies, pier up
 * says so, stops the other and exits non-zero. SIGHUP is passed on.
 *
 * pier.conf is then the client side's view: its [publish] section holds
 * the store's URL, the publisher's key, the edges' admin URL and token, so
 * pier publish, pier site and git push need no flag. When a listener is
 * configured on port 0, pier up rewrites the [publish] endpoint and edge
 * lines with the ports the children got.
 */
#ifndef UP_UP_H
#define UP_UP_H

#include "lib/buf.h"
#include "lib/err.h"

struct up_layout {
    char data[4096];      /* DATA */
    char conf[4096];      /* DATA/pier.conf */
    char objstore[4096];  /* DATA/objstore */
    char edge[4096];      /* DATA/edge */
    char repos[4096];     /* DATA/repos */
    char run[4096];       /* DATA/run: ready files of the children */
    char token[4096];     /* DATA/edge/admin.token */
    char keys[4096];      /* DATA/objstore/keys */
};

/* Fill l from the data directory's path. */
int up_layout_init(struct up_layout *l, const char *data, struct pier_err *err);

/* Create what is missing: folders (mode 0700), keys, the admin token and
 * the bucket. Idempotent: an existing installation is left as it is. Sets
 * *created when this call made the keys. */
int up_prepare(const struct up_layout *l, const char *bucket, bool *created,
               struct pier_err *err);

/* Replace the value of key in [section] of the INI text in, or add the
 * line at the end of the section (adding the section when missing), and
 * append the result to out. For a key that may repeat (edge), every line
 * of it is replaced by the one given. Other lines are kept as they are. */
int up_ini_set(const char *in, const char *section, const char *key,
               const char *value, struct pier_buf *out, struct pier_err *err);

#endif
