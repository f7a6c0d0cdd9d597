/*
 * edge/path.h - request-target normalisation for the edge.
 *
 * Turns the request target of a GET ("/a//b/../c%20d.html?x=1") into the
 * path a manifest is looked up by ("/a/c d.html") and the raw query. It
 * percent-decodes, removes dot segments (RFC 3986 5.2.4) and merges
 * duplicate slashes, and it refuses, with a 400 in err->http, what must
 * never reach a lookup: NUL and other control bytes (raw or encoded), an
 * encoded '/' or '\' (a separator the client hid from us), a raw '\', a
 * ".." that would climb above the root (nginx's rule), an invalid percent
 * escape, a fragment, and a path longer than the output buffer.
 *
 * Origin-form ("/path?query") and absolute-form ("http://host/path",
 * RFC 9112 3.2.2) are accepted; the authority of the latter is returned so
 * that the caller routes by it rather than by Host. The query is split off
 * at the first '?' and left encoded.
 *
 * No allocation: the path is written into a buffer the caller provides.
 * Pure functions: any thread.
 */
#ifndef EDGE_PATH_H
#define EDGE_PATH_H

#include "lib/core.h"
#include "lib/err.h"

/* The longest request target looked at, and the size of an output buffer
 * that holds any normalised path (decoding never lengthens a path). */
#define EDGE_PATH_TARGET_MAX 4096
#define EDGE_PATH_MAX        1024

struct edge_target {
    struct pier_str path;      /* the normalised path, in out; NUL-ended */
    struct pier_str query;     /* raw, after '?'; ptr NULL when no '?' */
    struct pier_str authority; /* absolute-form's host[:port]; else empty */
};

/* Normalise the n bytes of target into out (cap bytes, the NUL included).
 * On success t->path views out, and t->query and t->authority view target:
 * all valid as long as both buffers. PIER_ERR with err->http 400 when the
 * target is refused (see above); t is then undefined. Borrows target. */
int edge_path_normalise(const char *target, size_t n, char *out, size_t cap,
                        struct edge_target *t, struct pier_err *err);

#endif
