/*
 * objstore/store.h - the object store's storage: one data directory holding
 * buckets, objects and multipart uploads, durable across kill -9.
 *
 * Layout of DIR (created on first open):
 *   DIR/lock         flock(2)ed by the one process that owns DIR; holds its pid
 *   DIR/meta.db      SQLite (WAL, synchronous=FULL): buckets, objects, uploads,
 *                    parts; a row's commit is the moment an object exists
 *   DIR/data/XX/ID   object and part bytes; ID is 32 random hex digits, XX its
 *                    first two; a file is never modified once renamed here
 *   DIR/tmp/ID.tmp   bodies being received
 * An object of at most OBJSTORE_INLINE_MAX bytes has no file: its bytes are
 * a row of meta.db's bodies table under the same kind of ID, written in the
 * transaction that commits the object and deleted in the one that replaces
 * or deletes it (as MinIO keeps small objects inline in their metadata).
 * Creating, fsyncing and renaming a file and fsyncing its directory was
 * most of the cost of a small PUT; the row costs a share of the group
 * commit's one WAL fsync.
 *
 * Object keys never become file paths: a key is a BLOB column, compared with
 * memcmp, so listings come out in UTF-8 binary order and any key S3 allows
 * is stored verbatim.
 *
 * A write streams to DIR/tmp while MD5 and SHA-256 are computed (a small
 * one is held in memory until it grows past OBJSTORE_INLINE_MAX); commit
 * checks the digests and the size, fsyncs, renames into DIR/data, fsyncs the
 * directory (not for an inline body), then checks the write's condition (If-Match, If-None-Match)
 * and updates the row in one SQLite transaction under the store's mutex
 * (writes that wait together share one: objstore_commit_counts()),
 * so of two racing conditional writers exactly one wins. The replaced file is
 * unlinked only after the commit: a reader that opened it keeps reading it.
 * objstore_get() opens an object's file under the same mutex, so it never
 * sees a row whose file is gone; a struct objstore_reader reads without the
 * mutex and reads the row again when its file went away meanwhile. A crash
 * leaves at most temporary files and unreferenced data files, which
 * objstore_open() removes.
 *
 * Thread safety: every function may be called from any thread; metadata is
 * serialised by one mutex, bodies are read and written outside it. A struct
 * objstore_put and a struct objstore_reader belong to one thread at a time.
 */
#ifndef OBJSTORE_STORE_H
#define OBJSTORE_STORE_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <stdint.h>

#define OBJSTORE_KEY_MAX       1024 /* bytes of UTF-8, as S3 */
#define OBJSTORE_BUCKET_MAX    63
#define OBJSTORE_ETAG_MAX      48 /* 32 hex + "-10000" + NUL, rounded */
#define OBJSTORE_UPLOAD_ID_LEN 32
#define OBJSTORE_PART_MAX      10000
#define OBJSTORE_MAX_OBJECT    (5ULL * 1024 * 1024 * 1024)
#define OBJSTORE_MIN_PART      (5ULL * 1024 * 1024)
#define OBJSTORE_INLINE_MAX    (64 * 1024) /* bytes kept in meta.db */

struct objstore; /* opaque: one open data directory */

struct objstore_opts {
    uint64_t max_object_size; /* bytes of one PUT or part; 0: 5 GiB */
    uint64_t min_part_size;   /* of every part but the last; 0: 5 MiB */
    bool no_fsync;            /* tests only: skip fsync (not durable) */
};

/* Open (creating when needed) the data directory dir: take its lock, create
 * the layout, open the metadata, and recover: remove temporary files and
 * data files no row references. NULL with err set when dir is locked by
 * another process ("... is in use by pid N"), or cannot be created or read.
 * opts may be NULL. The caller owns the result; free with objstore_close(),
 * which releases the lock and accepts NULL. *created (may be NULL) is set
 * when this open created the layout. */
struct objstore *objstore_open(const char *dir,
                               const struct objstore_opts *opts, bool *created,
                               struct pier_err *err);
void objstore_close(struct objstore *st);
/* The directory given to objstore_open(); valid until close. */
const char *objstore_dir(const struct objstore *st);
/* How many files recovery removed at open (temporary + unreferenced). */
size_t objstore_recovered(const struct objstore *st);

/* Object and part writes (PUT, copy, UploadPart) are committed in
 * groups: a write that arrives while another group commits waits for the
 * next one, which commits every write then waiting in one transaction
 * (one WAL fsync), in arrival order; each write still returns only after
 * its own group committed. How many group transactions ran, and how many
 * writes they held. Any thread. */
void objstore_commit_counts(struct objstore *st, uint64_t *commits,
                            uint64_t *writes);

/* Object metadata kept beside the bytes: pairs of a lower-case header name
 * and its value, serialised as "name\0value\0..." in a pier_buf. */
PIER_NODISCARD int objstore_meta_add(struct pier_buf *meta,
                                     struct pier_str name,
                                     struct pier_str value);
/* Iterate: *pos starts at 0; returns false at the end. The views point into
 * meta and are valid until it changes. */
bool objstore_meta_next(const struct pier_buf *meta, size_t *pos,
                        struct pier_str *name, struct pier_str *value);
/* The value of name, or PIER_STR_NULL (ptr NULL) when absent. */
struct pier_str objstore_meta_get(const struct pier_buf *meta,
                                  struct pier_str name);

/* What a stored object is. Embedded: init before use, release after. */
struct objstore_obj {
    char etag[OBJSTORE_ETAG_MAX]; /* without quotes: hex MD5 or "hex-N" */
    uint64_t size;
    int64_t mtime_ms;     /* last modified, ms since the epoch */
    struct pier_buf meta; /* see objstore_meta_next() */
};
void objstore_obj_init(struct objstore_obj *obj);
void objstore_obj_release(struct objstore_obj *obj);

/* A write's condition, checked atomically with its commit. */
struct objstore_cond {
    bool if_none_match_star;  /* fail when the key exists */
    struct pier_str if_match; /* ETag (quotes allowed) or "*"; empty: none */
};

/* ---- buckets ---- */

/* S3's bucket name rules: 3-63 of [a-z0-9.-], starting and ending with a
 * letter or digit, no "..", ".-" or "-.", not an IPv4 address, no "xn--"
 * prefix nor "-s3alias" suffix. No name starts with '_', so /_pier/ never
 * shadows a bucket. */
bool objstore_bucket_name_ok(struct pier_str name);

/* BucketAlreadyOwnedByYou when it exists, InvalidBucketName. region is
 * recorded for GetBucketLocation (borrowed; "" for us-east-1). */
int objstore_bucket_create(struct objstore *st, struct pier_str name,
                           struct pier_str region, struct pier_err *err);
/* NoSuchBucket; BucketNotEmpty when it holds objects. Uploads in progress
 * are aborted with it. */
int objstore_bucket_delete(struct objstore *st, struct pier_str name,
                           struct pier_err *err);
/* NoSuchBucket when absent; else PIER_OK and, when region is not NULL, the
 * bucket's region appended to it. */
int objstore_bucket_get(struct objstore *st, struct pier_str name,
                        struct pier_buf *region, struct pier_err *err);

struct objstore_bucket_info {
    char name[OBJSTORE_BUCKET_MAX + 1];
    int64_t created_ms;
};
/* Every bucket in name order; the caller owns *out (pier_free) and *n. */
int objstore_bucket_list(struct objstore *st, struct objstore_bucket_info **out,
                         size_t *n, struct pier_err *err);

/* ---- objects ---- */

/* One body being received, for an object or a part. */
struct objstore_put;

/* Start receiving key's body in bucket (NoSuchBucket, KeyTooLongError,
 * InvalidArgument for a key that is not UTF-8 or holds NUL). The caller
 * owns the result and ends it with objstore_put_commit() or
 * objstore_put_abort(), either of which frees it. */
struct objstore_put *objstore_put_begin(struct objstore *st,
                                        struct pier_str bucket,
                                        struct pier_str key,
                                        struct pier_err *err);
/* Start receiving part part_number (1..10000, else InvalidArgument) of
 * upload_id (NoSuchUpload unless it belongs to bucket and key). */
struct objstore_put *
objstore_part_begin(struct objstore *st, struct pier_str bucket,
                    struct pier_str key, struct pier_str upload_id,
                    unsigned part_number, struct pier_err *err);
/* Append n bytes; EntityTooLarge past the store's maximum. After a failure
 * the put can only be aborted. */
int objstore_put_write(struct objstore_put *p, const void *data, size_t n,
                       struct pier_err *err);
/* Bytes written so far. */
uint64_t objstore_put_size(const struct objstore_put *p);

/* What the body must match, checked before anything is stored. */
struct objstore_put_check {
    const uint8_t *md5;    /* 16 bytes (Content-MD5) or NULL */
    const uint8_t *sha256; /* 32 bytes (x-amz-content-sha256) or NULL */
    int64_t size;          /* Content-Length or decoded length; -1: any */
};
/*
 * Make the body the object (or the part): BadDigest,
 * XAmzContentSHA256Mismatch, IncompleteBody when check fails; then for an
 * object, PreconditionFailed when cond fails (NoSuchKey for If-Match on a
 * missing key, as S3), NoSuchBucket when the bucket went away; for a part,
 * NoSuchUpload when the upload went away. Nothing is stored on failure.
 * meta (borrowed, may be NULL) becomes the object's metadata; it is
 * ignored for parts. On success *out (may be NULL; initialised by the
 * caller) gets the object's ETag, size, time and metadata. Frees p in every
 * case. check and cond may be NULL.
 */
int objstore_put_commit(struct objstore_put *p,
                        const struct objstore_put_check *check,
                        const struct objstore_cond *cond,
                        const struct pier_buf *meta, struct objstore_obj *out,
                        struct pier_err *err);
/* Drop the body; frees p; accepts NULL. */
void objstore_put_abort(struct objstore_put *p);

/* Look key up: NoSuchBucket, NoSuchKey. On success obj (initialised by the
 * caller) is filled and, when fd is not NULL, *fd is a read-only
 * descriptor of the bytes the caller owns and closes; it keeps reading
 * this version whatever later writes do (for an inline object, a memory
 * file holding a copy). */
int objstore_get(struct objstore *st, struct pier_str bucket,
                 struct pier_str key, struct objstore_obj *obj, int *fd,
                 struct pier_err *err);

/*
 * A reader: a read-only SQLite connection of its own, for one thread at a
 * time (an HTTP worker's loop), so that lookups take neither the store's
 * mutex nor a trip to a thread pool; WAL lets it read while a writer
 * commits. Each get is one statement, so one snapshot of the row, then the
 * file is opened; when a commit unlinked that file in between (an
 * overwrite or delete that committed after the read), the row is read
 * again, which then sees the commit. A reader remembers the rows it read
 * (a few hundred, small ones) together with the store's commit count at
 * the time; a remembered row serves while no commit happened since, so a
 * steady stream of GETs reads SQLite once per key. The caller owns the
 * reader and closes it (NULL is fine) before objstore_close().
 */
struct objstore_reader;
struct objstore_reader *objstore_reader_open(struct objstore *st,
                                             struct pier_err *err);
void objstore_reader_close(struct objstore_reader *r);

/* The whole bytes of a small object, kept in memory by a reader and
 * shared by reference count (not atomic: the reader's thread only). A data
 * file never changes once written, so its bytes are its bytes for ever. */
#define OBJSTORE_SMALL_MAX (16 * 1024)
struct objstore_body {
    unsigned refs;
    size_t len;
    char data[];
};
/* Drop a reference; NULL is fine. The reader's thread. */
void objstore_body_unref(struct objstore_body *b);

/* objstore_get() through r: the same answers and the same guarantee. With
 * body not NULL, an inline object or one of at most OBJSTORE_SMALL_MAX
 * bytes comes as *body (a reference the caller drops) and *fd stays -1; a
 * larger one, or any with body NULL, as *fd when fd is not NULL (HEAD
 * passes neither). A reader keeps up to 256 bodies of at most
 * OBJSTORE_SMALL_MAX bytes (4 MiB), by data file. */
int objstore_reader_get(struct objstore_reader *r, struct pier_str bucket,
                        struct pier_str key, struct objstore_obj *obj, int *fd,
                        struct objstore_body **body, struct pier_err *err);

/* Delete key (NoSuchBucket; a missing key is no error, as S3). *existed
 * (may be NULL) tells whether there was one. */
int objstore_delete(struct objstore *st, struct pier_str bucket,
                    struct pier_str key, bool *existed, struct pier_err *err);
/* Delete n keys in one transaction. results[i] is PIER_OK or the S3 error
 * of keys[i] (KeyTooLongError...). NoSuchBucket fails the whole call. */
int objstore_delete_many(struct objstore *st, struct pier_str bucket,
                         const struct pier_str *keys, size_t n,
                         enum pier_s3 *results, struct pier_err *err);

/*
 * A delete's condition: S3's conditional deletes (DeleteObject's If-Match,
 * x-amz-if-match-last-modified-time and x-amz-if-match-size headers; the
 * ETag, LastModifiedTime and Size of a DeleteObjects <Object>). It is
 * checked in the transaction that deletes, under the store's mutex, so a
 * write or copy of the key commits either before the check (and fails a
 * condition on its old version) or after the delete. A missing key fails
 * with NoSuchKey when etag is given (as S3 answers If-Match) and is no
 * error otherwise (S3: "if the object doesn't exist, 204"). Zero it, then
 * set what the request gave.
 */
struct objstore_del_cond {
    struct pier_str etag; /* ETag (quotes allowed) or "*"; empty: none */
    bool has_mtime;
    int64_t mtime_ms;   /* the LastModified the object must have... */
    bool mtime_whole_s; /* ...to the second only (an HTTP-date) */
    bool has_size;
    uint64_t size;
};
/* Whether cond asks anything. */
bool objstore_del_cond_any(const struct objstore_del_cond *cond);

/* objstore_delete() under cond (NULL: none): PreconditionFailed when the
 * key's ETag, LastModified or size differs, NoSuchKey as said above. */
int objstore_delete_if(struct objstore *st, struct pier_str bucket,
                       struct pier_str key,
                       const struct objstore_del_cond *cond, bool *existed,
                       struct pier_err *err);
/* objstore_delete_many() with conds[i] the condition of keys[i] (conds
 * NULL: none): a failed condition is that key's PreconditionFailed or
 * NoSuchKey in results, and the other keys go on. */
int objstore_delete_many_if(struct objstore *st, struct pier_str bucket,
                            const struct pier_str *keys,
                            const struct objstore_del_cond *conds, size_t n,
                            enum pier_s3 *results, struct pier_err *err);

/* Copy src to dst (may be the same key) sharing the bytes (a hard link).
 * meta NULL keeps src's metadata (directive COPY); else it replaces it.
 * NoSuchBucket, NoSuchKey for the source; dst_cond as for a put. *out gets
 * the new object. */
int objstore_copy(struct objstore *st, struct pier_str src_bucket,
                  struct pier_str src_key, struct pier_str dst_bucket,
                  struct pier_str dst_key, const struct pier_buf *meta,
                  const struct objstore_cond *dst_cond,
                  struct objstore_obj *out, struct pier_err *err);

/* The same, failing with PreconditionFailed unless the source's ETag is
 * src_etag at the moment of the copy (empty: any): the caller evaluated
 * x-amz-copy-source-if-* on that version, and a source overwritten since
 * must not be copied in its place. */
int objstore_copy_if(struct objstore *st, struct pier_str src_bucket,
                     struct pier_str src_key, struct pier_str src_etag,
                     struct pier_str dst_bucket, struct pier_str dst_key,
                     const struct pier_buf *meta,
                     const struct objstore_cond *dst_cond,
                     struct objstore_obj *out, struct pier_err *err);

/* ---- listing ---- */

struct objstore_list_opts {
    struct pier_str prefix;
    struct pier_str delimiter; /* empty: none */
    struct pier_str after;     /* marker / start-after / token: exclusive */
    size_t max_keys;           /* objects + common prefixes; capped at 1000 */
};

struct objstore_list_entry {
    struct pier_str key; /* into the result's storage */
    bool is_prefix;      /* a CommonPrefix: only key is set */
    uint64_t size;
    int64_t mtime_ms;
    char etag[OBJSTORE_ETAG_MAX];
};

/* A page of a listing. Embedded: init, then release. */
struct objstore_list {
    struct objstore_list_entry *entries; /* in key order */
    size_t n;
    bool truncated;
    struct pier_str next; /* when truncated: the last key or prefix given,
                             to pass as `after` for the next page */
    struct pier_buf store_;
};
void objstore_list_init(struct objstore_list *l);
void objstore_list_release(struct objstore_list *l);

/* List bucket (NoSuchBucket): keys starting with prefix, greater than
 * after, in binary order; with a delimiter, keys whose rest after the
 * prefix holds it roll up into one common prefix each. */
int objstore_list_objects(struct objstore *st, struct pier_str bucket,
                          const struct objstore_list_opts *opts,
                          struct objstore_list *out, struct pier_err *err);

/* ---- multipart uploads ---- */

/* Start an upload of key with metadata meta (borrowed, may be NULL): the
 * new id (32 hex digits + NUL) goes to id. NoSuchBucket, KeyTooLongError. */
int objstore_upload_create(struct objstore *st, struct pier_str bucket,
                           struct pier_str key, const struct pier_buf *meta,
                           char id[OBJSTORE_UPLOAD_ID_LEN + 1],
                           struct pier_err *err);

struct objstore_part_ref {
    unsigned number;
    struct pier_str etag; /* quotes allowed */
};
/* Complete the upload from parts[0..n) as the client listed them:
 * InvalidPartOrder unless numbers strictly ascend, InvalidPart for an
 * unknown number or a wrong ETag, EntityTooSmall for a part but the last
 * under the minimum, MalformedXML for n == 0, NoSuchUpload; cond as for a
 * put. The object's ETag is hex(md5(part md5s))-n. On success the upload
 * is gone and *out (may be NULL) describes the object. */
int objstore_upload_complete(struct objstore *st, struct pier_str bucket,
                             struct pier_str key, struct pier_str upload_id,
                             const struct objstore_part_ref *parts, size_t n,
                             const struct objstore_cond *cond,
                             struct objstore_obj *out, struct pier_err *err);
/* NoSuchUpload; otherwise the upload and its parts are gone. */
int objstore_upload_abort(struct objstore *st, struct pier_str bucket,
                          struct pier_str key, struct pier_str upload_id,
                          struct pier_err *err);

struct objstore_part_info {
    unsigned number;
    uint64_t size;
    int64_t mtime_ms;
    char etag[OBJSTORE_ETAG_MAX];
};
/* Parts numbered above after, at most max (capped at 1000) of them, in
 * order. The caller owns *out (pier_free). *truncated when more follow. */
int objstore_parts_list(struct objstore *st, struct pier_str bucket,
                        struct pier_str key, struct pier_str upload_id,
                        unsigned after, size_t max,
                        struct objstore_part_info **out, size_t *n,
                        bool *truncated, struct pier_err *err);

struct objstore_upload_info {
    struct pier_str key; /* into the list's storage */
    bool is_prefix;      /* a CommonPrefix: only key is set */
    char id[OBJSTORE_UPLOAD_ID_LEN + 1];
    int64_t created_ms;
};
struct objstore_upload_list {
    struct objstore_upload_info *uploads; /* by key, then creation */
    size_t n;
    bool truncated;
    struct pier_buf store_;
};
void objstore_upload_list_init(struct objstore_upload_list *l);
void objstore_upload_list_release(struct objstore_upload_list *l);

struct objstore_uploads_opts {
    struct pier_str prefix;
    struct pier_str delimiter;  /* empty: none */
    struct pier_str key_marker; /* continue after this key... */
    struct pier_str id_marker;  /* ...and this upload of it; empty: after
                                   every upload of key_marker */
    size_t max;                 /* uploads + common prefixes; capped at
                                   1000 */
};
/* Uploads in bucket whose key starts with prefix and that come after
 * (key_marker, id_marker), in order; with a delimiter, keys whose rest
 * after the prefix holds it roll up into one common prefix each, and a
 * key_marker inside such a prefix continues after all of it. When
 * truncated, the last entry (an upload or a prefix) is where the next
 * page continues: its key (and id) as the markers. */
int objstore_uploads_list(struct objstore *st, struct pier_str bucket,
                          const struct objstore_uploads_opts *opts,
                          struct objstore_upload_list *out,
                          struct pier_err *err);

/* ---- helpers shared with the HTTP layer ---- */

/* True when s is well-formed UTF-8 without NUL (S3's key alphabet). */
bool objstore_utf8_ok(struct pier_str s);
/* ETag comparison ignoring surrounding quotes and a W/ prefix. */
bool objstore_etag_eq(struct pier_str a, struct pier_str b);

#endif
