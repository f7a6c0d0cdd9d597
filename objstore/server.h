/*
 * objstore/server.h - the S3 API over lib/http.h: every request routed,
 * verified (lib/sigv4.h: SigV4 header and query, SigV2 header and query),
 * authorised against the keys file, then served from objstore/store.h.
 *
 * Threads. The handler runs on the worker loop that owns the request: it
 * copies what it needs out of the request, routes, verifies and
 * authorises, and streams a PUT body into the store (write(2) into the
 * page cache). GetObject and HeadObject are answered right there, as a
 * file server answers: each worker has a read-only SQLite connection of
 * its own (objstore_reader: WAL, so it never waits for a writer, and no
 * store-wide mutex), opens the file and hands it to the core's sendfile.
 * Everything else that may wait on the disk (commits and their fsyncs,
 * writes to SQLite, listings, multipart assembly) runs on libuv's thread
 * pool (uv_queue_work) from those copies; the answer is sent back on the
 * loop. A request whose connection dies while its work runs is freed when
 * the work returns.
 *
 * Keys: the set in use is swapped whole on objstore_server_reload()
 * (SIGHUP); each request holds a reference to the set it started with.
 */
#ifndef OBJSTORE_SERVER_H
#define OBJSTORE_SERVER_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/http.h"

#include "objstore/keys.h"
#include "objstore/store.h"

struct objstore_server; /* opaque */

struct objstore_server_config {
    const char *region;         /* signing region; NULL: "us-east-1" */
    const char *const *domains; /* virtual-host domains; borrowed */
    size_t ndomains;
};

/* A server over st (borrowed until free) with the keys of keys_path
 * (loaded now: NULL with err set when it cannot be read). cfg is copied.
 * The caller owns the result and frees it with objstore_server_free()
 * (NULL is fine) after the HTTP server stopped. */
struct objstore_server *
objstore_server_new(struct objstore *st, const char *keys_path,
                    const struct objstore_server_config *cfg,
                    struct pier_err *err);
void objstore_server_free(struct objstore_server *srv);

/* Load the keys file again and swap it in; on failure the old keys stay
 * and err says why. Any thread. */
int objstore_server_reload(struct objstore_server *srv, struct pier_err *err);

/* The pier_http_handler_fn of the store's listeners; udata is the struct
 * objstore_server. */
void objstore_server_handle(struct pier_http_req *req, void *udata);

#endif
