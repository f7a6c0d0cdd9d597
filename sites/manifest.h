/*
 * sites/manifest.h - a deploy's manifest (every public path of one deploy
 * of one site) and the deploy delta between two manifests.
 *
 * Shared by the publisher, which builds, encodes and diffs manifests, and
 * the edge, which decodes them, looks paths up on every request and
 * applies deltas. A manifest is built (new, add, set_rules) and then
 * sealed; a sealed manifest is immutable, so any thread may look paths up
 * in it without a lock (the edge swaps whole manifests through an atomic
 * pointer). Decoding and applying a delta produce sealed manifests.
 * Lookup is a binary search over a sorted array and allocates nothing.
 *
 * Stored as sites/<site>/deploys/<id>.json.zst: the JSON below, compressed
 * with zstd (sites_manifest_store_zst / sites_manifest_load_zst).
 *
 *   {
 *     "format": 1,
 *     "site": "blog",                         DNS label (sites_name_ok)
 *     "deploy": "20261124T093000123Z-3f9a1c2-a41b0e",
 *     "parent": "20261123T120000Z-...",      or null for a first deploy
 *     "commit": "<40 or 64 hex>",            or null when not from git
 *     "created": 1795512600,                 Unix seconds, UTC
 *     "files": {                             keys sorted, each a path
 *       "/index.html": {
 *         "sha256": "<64 lowercase hex>",    blob key: blobs/<sha256>
 *         "type": "text/html; charset=utf-8",
 *         "size": 5120,                      bytes of the identity blob
 *         "enc": {"br": 1200, "zstd": 1300, "gzip": 1500},
 *                                            variants that exist, by size:
 *                                            blobs/<sha256>.br .zst .gz
 *         "class": "entry",                  "entry" or "asset"
 *         "git": "<40 or 64 hex>",           git blob id; omitted if none
 *         "headers": [["X-Frame-Options", "DENY"]]   omitted when empty
 *       },
 *       "/app.js": {..., "class": "asset", "alias": "/app.3f9a1c2e1b.js"}
 *     },
 *     "redirects": "/old /new 301\n",        source text of _redirects
 *     "headers": "/blog/:x\n  X-Frame-Options: DENY\n"   and _headers
 *   }
 *
 * The rules are stored as their source text and parsed again on load
 * (sites/redirects.h, sites/headers.h): the text is the format Netlify
 * users know, it is small, and the parser that validated it at publish
 * time is the one the edge runs, so no second format can drift. A
 * manifest whose rules do not parse is refused as a whole.
 *
 * Paths are what the edge looks up after normalisation: they start with
 * '/', have no empty, "." or ".." segment, no control byte, are UTF-8
 * (JSON strings are), and have at most SITES_PATH_MAX bytes. An asset
 * (referenced from HTML or CSS) is served at its path like an entry and
 * also at its hashed alias, immutable; sites_manifest_get() says which
 * one matched. Unknown object keys are ignored (forward compatibility); a
 * "format" other than 1 is refused; of a key repeated in one object the
 * last counts (jansson's way; asking jansson to refuse repeats doubles
 * the load time).
 *
 * The deploy delta, what the publisher POSTs to each edge's admin API:
 *
 *   {
 *     "site": "blog",
 *     "from_deploy": "<id>" or null,
 *     "to_deploy": "<id>",
 *     "parent": "<id>" or null,              the parent recorded in to's
 *     "commit": "<hex>" or null,             manifest, its commit and
 *     "created": 1795512600,                 time, so that applying the
 *                                            delta rebuilds it exactly
 *     "changes": {"/index.html": {entry as above}, "/gone.html": null},
 *     "rules_changed": true,
 *     "redirects": "...", "headers": "..."   present when rules_changed
 *   }
 *
 * "changes" holds every path whose record differs between the two
 * manifests: appeared, disappeared (null), or changed (blob, type,
 * encodings, class, alias, headers, git id). Keys are always the stable
 * public paths; a hashed alias name never is one (a new content gets a new
 * alias, which needs no invalidation and rides inside its path's record).
 * Applying a delta to the manifest of from_deploy yields exactly the
 * manifest of to_deploy.
 */
#ifndef SITES_MANIFEST_H
#define SITES_MANIFEST_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <stdint.h>

#define SITES_PATH_MAX          1024 /* bytes of a path or alias */
#define SITES_SHA256_HEX        64
#define SITES_GIT_HEX_MAX       64 /* sha1 repositories use 40 */
#define SITES_DEPLOY_ID_MAX     64 /* bytes, without the NUL */
#define SITES_TYPE_MAX          255
#define SITES_ENTRY_HEADERS_MAX 64

enum sites_class {
    SITES_CLASS_ENTRY = 0, /* stable URL, revalidated on every use */
    SITES_CLASS_ASSET,     /* also served immutable at its hashed alias */
};

/* Encodings a blob may have a variant in, in the edge's preference
 * order at equal q. */
enum sites_enc {
    SITES_ENC_BR = 0,
    SITES_ENC_ZSTD,
    SITES_ENC_GZIP,
    SITES_ENC_MAX
};

/* "br", "zstd", "gzip": the Content-Encoding token and JSON key. */
const char *sites_enc_name(enum sites_enc enc);
/* ".br", ".zst", ".gz": the suffix of the variant's blob key. */
const char *sites_enc_suffix(enum sites_enc enc);

struct sites_header {
    const char *name;
    const char *value;
};

/* One public path. In a manifest every pointer is owned by the manifest
 * and valid until it is freed. Passed to sites_manifest_add(), it is
 * borrowed (copied). */
struct sites_entry {
    const char *path;
    char sha256[SITES_SHA256_HEX + 1]; /* lowercase hex */
    const char *type;                  /* Content-Type */
    uint64_t size;                     /* identity bytes */
    uint64_t enc_size[SITES_ENC_MAX];  /* 0: no such variant */
    enum sites_class klass;
    char git_blob[SITES_GIT_HEX_MAX + 1]; /* "" when unknown */
    const char *alias;                    /* assets only, else NULL */
    const struct sites_header *headers;   /* extra response headers */
    size_t nheaders;
};

/* true when both records say the same thing (every field). */
bool sites_entry_eq(const struct sites_entry *a, const struct sites_entry *b);

/* true for a path as described above. */
bool sites_path_ok(struct pier_str path);
/* true for "YYYYMMDDTHHMMSSmmmZ-" (or, from before milliseconds,
 * "YYYYMMDDTHHMMSSZ-") and then [0-9a-z-]. */
bool sites_deploy_id_ok(struct pier_str id);
/* Write a new deploy id for time now_ms (milliseconds since the epoch)
 * into out (SITES_DEPLOY_ID_MAX + 1 bytes):
 * "20261124T093000123Z-3f9a1c2-a41b0e", the UTC time to the millisecond,
 * the first 7 hex of commit when commit is not NULL, and 6 random hex
 * digits. Ids sort by time (deploys, rollback and gc order them so); the
 * random part keeps two deploys of the same millisecond apart. */
int sites_deploy_id_new(int64_t now_ms, const char *commit,
                        char out[SITES_DEPLOY_ID_MAX + 1],
                        struct pier_err *err);

struct sites_manifest;  /* opaque */
struct sites_redirects; /* sites/redirects.h */
struct sites_headers;   /* sites/headers.h */

/* Start a manifest for deploy of site. parent and commit may be NULL.
 * NULL with err set when a name or id is malformed. The caller owns the
 * result and frees it with sites_manifest_free(), which accepts NULL. */
struct sites_manifest *sites_manifest_new(const char *site, const char *deploy,
                                          const char *parent,
                                          const char *commit, int64_t created,
                                          struct pier_err *err);
void sites_manifest_free(struct sites_manifest *m);

/* Add one path (before seal); borrows e. PIER_ERR when a field is
 * malformed (the message names the path). Duplicates are found by seal. */
int sites_manifest_add(struct sites_manifest *m, const struct sites_entry *e,
                       struct pier_err *err);
/* Set the _redirects and _headers source text (before seal); either may be
 * NULL for none. PIER_ERR when longer than 1 MiB or not UTF-8. Borrows the
 * text; the rules are parsed by seal. */
int sites_manifest_set_rules(struct sites_manifest *m, const char *redirects,
                             size_t redirects_len, const char *headers,
                             size_t headers_len, struct pier_err *err);
/* Sort, check for duplicate paths and aliases (an alias may not be
 * another path either), parse the rules (errors "_redirects:LINE: ...",
 * "_headers:LINE: ..."). After PIER_OK the manifest is read-only. On PIER_ERR
 * it is unchanged but can only be freed. */
int sites_manifest_seal(struct sites_manifest *m, struct pier_err *err);

/* Check every invariant of a sealed manifest (sorted unique paths, a
 * valid record each, the alias index); panics on a broken one. O(n). */
void sites_manifest_assert(const struct sites_manifest *m);

/* Accessors of a sealed manifest; strings valid until it is freed.
 * parent and commit may be NULL. */
const char *sites_manifest_site(const struct sites_manifest *m);
const char *sites_manifest_deploy(const struct sites_manifest *m);
const char *sites_manifest_parent(const struct sites_manifest *m);
const char *sites_manifest_commit(const struct sites_manifest *m);
int64_t sites_manifest_created(const struct sites_manifest *m);
size_t sites_manifest_count(const struct sites_manifest *m);
/* The i-th entry in path order, i < count. */
const struct sites_entry *sites_manifest_at(const struct sites_manifest *m,
                                            size_t i);
/* The entry served at path: its own path first, then a hashed alias
 * (*hashed set true: serve immutable). NULL when none. hashed may be
 * NULL. Allocates nothing; any thread. */
const struct sites_entry *sites_manifest_get(const struct sites_manifest *m,
                                             struct pier_str path,
                                             bool *hashed);
/* The parsed _redirects rules (never NULL; maybe empty); valid until m is
 * freed. Any thread may match them. */
const struct sites_redirects *
sites_manifest_redirects(const struct sites_manifest *m);
/* The parsed _headers rules, the same way. */
const struct sites_headers *
sites_manifest_headers(const struct sites_manifest *m);
/* The rules' source text ("" when none); valid until m is freed. */
struct pier_str sites_manifest_redirects_text(const struct sites_manifest *m);
struct pier_str sites_manifest_headers_text(const struct sites_manifest *m);
/* Sum of the identity sizes, for `pier deploys`. */
uint64_t sites_manifest_bytes(const struct sites_manifest *m);

/* Append the JSON of a sealed manifest to out (compact, paths sorted).
 * PIER_ERR when out would pass its maximum. */
int sites_manifest_encode(const struct sites_manifest *m, struct pier_buf *out,
                          struct pier_err *err);
/* Parse n bytes of JSON into a sealed manifest; borrows json. NULL with
 * err set ("manifest: ..." naming the line, column or path) on failure.
 * The caller owns the result (sites_manifest_free). */
struct sites_manifest *sites_manifest_decode(const char *json, size_t n,
                                             struct pier_err *err);

/* Make jansson allocate through sites/manifest.c, so that decoding a
 * manifest or a delta takes its tree from an arena of large mappings and
 * drops it whole (page faults and frees were a third of a one-page
 * publish). Call it once, first thing in main(), before any jansson value
 * exists and before any thread starts; without it, decoding works the
 * same on the heap. */
void sites_json_init(void);

/* The stored form: encode, then zstd at level (3 is a good default). */
int sites_manifest_store_zst(const struct sites_manifest *m, int level,
                             struct pier_buf *out, struct pier_err *err);
/* Decompress at most max bytes of JSON, then decode. */
struct sites_manifest *sites_manifest_load_zst(const void *p, size_t n,
                                               size_t max,
                                               struct pier_err *err);

/* zstd one-shot helpers. Compress appends one frame to out. Decompress
 * appends the content of every frame in [p, p+n) to out; PIER_ERR when
 * the data is not zstd, is truncated, or would pass out's maximum. */
int sites_zstd_compress(const void *p, size_t n, int level,
                        struct pier_buf *out, struct pier_err *err);
int sites_zstd_decompress(const void *p, size_t n, struct pier_buf *out,
                          struct pier_err *err);

/* The deploy delta. */
struct sites_delta; /* opaque */

/* The delta that turns from (NULL for a first deploy) into to; both
 * sealed, same site. The caller owns the result (sites_delta_free). */
struct sites_delta *sites_delta_compute(const struct sites_manifest *from,
                                        const struct sites_manifest *to,
                                        struct pier_err *err);
void sites_delta_free(struct sites_delta *d);

const char *sites_delta_site(const struct sites_delta *d);
const char *sites_delta_from(const struct sites_delta *d); /* may be NULL */
const char *sites_delta_to(const struct sites_delta *d);
bool sites_delta_rules_changed(const struct sites_delta *d);
size_t sites_delta_count(const struct sites_delta *d);
/* The i-th change in path order: sets *path and returns the new record,
 * or NULL when the path disappeared. Valid until d is freed. */
const struct sites_entry *sites_delta_at(const struct sites_delta *d, size_t i,
                                         const char **path);

/* Append the delta's JSON to out. */
int sites_delta_encode(const struct sites_delta *d, struct pier_buf *out,
                       struct pier_err *err);
/* Parse n bytes of JSON ("delta: ..." errors); borrows json. The caller
 * owns the result (sites_delta_free). */
struct sites_delta *sites_delta_decode(const char *json, size_t n,
                                       struct pier_err *err);
/* The manifest of to_deploy, from the manifest of from_deploy and the
 * delta; from is borrowed and unchanged. NULL with err set when the site
 * or from_deploy does not match (the edge then loads the whole manifest),
 * a removed path is missing, or the result does not seal. The caller owns
 * the result. */
struct sites_manifest *sites_manifest_apply(const struct sites_manifest *from,
                                            const struct sites_delta *d,
                                            struct pier_err *err);

#endif
