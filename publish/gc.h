/*
 * publish/gc.h - deleting what no kept deploy needs (`pier gc`).
 *
 * Blobs are never overwritten and deploys never delete any, so the store
 * only grows; gc takes it back. For every site that has deploys under
 * sites/<site>/deploys/, the `keep` newest (by id, that is by time) and
 * the live one are kept, the manifests of the others are deleted; then
 * every blob (blobs/<sha256> and its .br, .zst and .gz variants) that no
 * kept manifest lists is deleted, unless its LastModified is within the
 * grace period: a publish running meanwhile may have found a blob with
 * HEAD that it has not referenced yet, or uploaded blobs whose manifest
 * is not written yet. Manifests that appear while gc runs are read and
 * their blobs kept too.
 *
 * Manifests go first: a crash between the two steps leaves unreferenced
 * blobs for the next run, never a kept manifest with missing blobs. Keys
 * under blobs/ that are not a SHA-256 with an optional variant suffix are
 * left alone. Deletes go in DeleteObjects batches of up to 1000 keys.
 *
 * A rollback to a deleted deploy fails (its manifest is gone); the live
 * deploy of a site is never deleted, nor anything it references.
 */
#ifndef PUBLISH_GC_H
#define PUBLISH_GC_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"

#define PUBLISH_GC_BATCH 1000 /* keys in one DeleteObjects (S3's limit) */

struct publish_gc_opts {
    size_t keep;     /* newest deploys kept per site, besides the live one */
    int64_t grace_s; /* blobs younger than this stay */
    bool dry_run;    /* count, delete nothing */
    int64_t now;     /* seconds since the epoch; 0: the clock */
    int out_fd;      /* one line per deleted deploy; -1: none */
};

struct publish_gc_result {
    size_t sites;
    size_t deploys_kept, deploys_deleted;
    size_t blobs_kept;    /* objects under blobs/ that stay referenced */
    size_t blobs_young;   /* unreferenced, within the grace period */
    size_t blobs_deleted; /* objects, variants included */
    uint64_t bytes_freed; /* their sizes */
};

/* Run gc on the store behind s3 (with dry_run, only count what would
 * go). PIER_ERR, with err set, when a listing, a live pointer or a kept
 * manifest cannot be read (then nothing is deleted) or a delete fails
 * (then some may have been). */
int publish_gc(struct pier_s3_sync *s3, const struct publish_gc_opts *o,
               struct publish_gc_result *res, struct pier_err *err);

/* "90", "90s", "15m", "12h", "1d", "2w" as seconds into *out. */
int publish_gc_parse_duration(const char *s, int64_t *out);

/* The DeleteObjects body for keys n keys (quiet: only errors come
 * back), into out (reset first). */
void publish_gc_delete_xml(const char *const *keys, size_t n,
                           struct pier_buf *out);

#endif
