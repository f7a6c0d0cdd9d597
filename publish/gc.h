/*
 * publish/gc.h - deleting what no kept deploy needs (`pier gc`).
 *
 * Blobs are never overwritten and deploys never delete any, so the store
 * only grows; gc takes it back. For every site that has deploys under
 * sites/<site>/deploys/, the `keep` newest (by id, that is by time) and
 * the live one are kept, the manifests of the others are deleted; then
 * every blob (blobs/<sha256> and its .br, .zst and .gz variants) that no
 * kept manifest lists is deleted, unless its LastModified is within the
 * grace period. Manifests that appear while gc runs, or that were written
 * again after the listing (a rollback, point 5), are read and their blobs
 * kept too.
 *
 * Manifests go first: a crash between the two steps leaves unreferenced
 * blobs for the next run, never a kept manifest with missing blobs. Keys
 * under blobs/ that are not a SHA-256 with an optional variant suffix are
 * left alone. Deletes go in DeleteObjects batches of up to 1000 keys.
 *
 * gc runs safely beside publishes. A publish reuses what the store has:
 * blobs its base manifest (the live deploy's, or for a first deploy a
 * sibling site's) lists, without a request, and blobs its survey or a
 * listing found present. Nothing is half-deployed because:
 *
 * 1. Every blob a publish found present (and every stored variant it
 *    reuses) whose LastModified is older than PUBLISH_REFRESH_AGE_S is
 *    refreshed before the manifest is written: copied onto itself
 *    (CopyObject, x-amz-metadata-directive: REPLACE, with the headers its
 *    PUT would send), which gives it a new LastModified. A copy answered
 *    NoSuchKey (gc was first) makes the publish upload it again.
 * 2. gc deletes a blob only if its LastModified is still the one its
 *    listing gave (DeleteObjects' <LastModifiedTime>, sent exactly as
 *    listed): a blob refreshed after gc listed it fails that condition,
 *    and gc counts it as kept ("touched meanwhile"), not as an error.
 *    The store checks and deletes in one transaction, so a refresh lands
 *    either before the check (and the delete fails) or after the delete
 *    (and the copy answers NoSuchKey).
 * 3. So a blob a publish reuses is, at gc's listing, either refreshed
 *    already (young: kept by the grace), refreshed later (the delete
 *    fails), or younger than PUBLISH_REFRESH_AGE_S at the publish's
 *    survey: a gc may delete it only if it started a grace minus that age
 *    after the survey, by which time the publish is done: its manifest
 *    is then kept (live, newest, or read by gc's second listing). The
 *    invariant is PUBLISH_REFRESH_AGE_S + (a publish's time from survey
 *    to manifest) + (clock skew between gc and the store) < grace:
 *    1 hour + 23 hours of slack with the default grace of a day, and gc
 *    warns below PUBLISH_GC_GRACE_MIN_S (and goes on: --grace 0s is for
 *    tests and stores nobody publishes to). Ages are measured on the
 *    store's clock by the publish (the Date of its listing) and by gc's
 *    own clock.
 * 4. Blobs of the base manifest are not refreshed, which keeps a publish
 *    that changes one file at zero requests for the others. They need
 *    none: the live flip is conditional on the pointer's ETag the
 *    publish read, so a deploy that goes live had its base live from its
 *    first step to its last. A gc that reads that site's pointer in that
 *    time keeps the base and all it lists. One that read it earlier saw
 *    the deploy the base was published on (its blobs kept) or a chain of
 *    such publishes, each of whose blobs is its base's or covered by 1-3.
 *    A publish whose base stops being live meanwhile loses the flip: its
 *    manifest is written but never live (a rollback to it may find
 *    blobs gone, and fails: point 5).
 * 5. `pier rollback` to a deploy gc has chosen (it read the site's
 *    pointer before the flip) uses the same mechanism. Before the flip
 *    the rollback refreshes every blob and listed variant of the target
 *    older than PUBLISH_REFRESH_AGE_S (the publish's survey, lookups and
 *    copies, in parallel), then, always and last, its manifest. gc
 *    deletes manifests as it deletes blobs, conditional on the listed
 *    LastModified; one that fails ("touched meanwhile") keeps its deploy,
 *    and gc reads it and keeps all it lists before it lists and deletes
 *    blobs. So a gc that listed the manifest before its refresh either
 *    deleted it first (the refresh answers NoSuchKey and the rollback
 *    fails, the pointer unchanged) or keeps the deploy whole; a gc that
 *    deleted blobs of it first makes their refresh answer NoSuchKey (or
 *    the lookup find them missing): the rollback fails, naming how many.
 *    Young blobs are not refreshed: gc deletes them only a grace minus
 *    that age later, when the flip is long done (as in point 3). Nor are
 *    the blobs the live manifest lists, by point 4's argument (a gc that
 *    read the pointer before the flip keeps them), so a rollback to the
 *    previous deploy costs requests only for the files that differ.
 *
 * XXX: not covered: a gc that lists the target's manifest after the
 * rollback refreshed it and reads the pointer before the flip (the
 * window is the one request between the manifest's refresh and the
 * flip, which gc's listing and its read of the pointer must both fall
 * into): it deletes the manifest. Closing it would take a grace for
 * manifests too. And stores that ignore <LastModifiedTime> (AWS
 * documents it for directory buckets only): with them points 2 and 5 do
 * not hold and a refresh after gc's listing no longer saves a blob or a
 * manifest, as before conditional deletes.
 */
#ifndef PUBLISH_GC_H
#define PUBLISH_GC_H

#include "lib/core.h"
#include "lib/err.h"
#include "lib/s3client.h"

#define PUBLISH_GC_BATCH 1000 /* keys in one DeleteObjects (S3's limit) */
/* A publish refreshes the blobs it reuses that are older than this. */
#define PUBLISH_REFRESH_AGE_S      3600
#define PUBLISH_GC_GRACE_DEFAULT_S 86400
/* A shorter grace gets a warning: see point 3 above. */
#define PUBLISH_GC_GRACE_MIN_S (2 * PUBLISH_REFRESH_AGE_S)

struct publish_gc_opts {
    size_t keep;     /* newest deploys kept per site, besides the live one */
    int64_t grace_s; /* blobs younger than this stay */
    bool dry_run;    /* count, delete nothing */
    int64_t now;     /* seconds since the epoch; 0: the clock */
    int out_fd;      /* one line per deleted deploy; -1: none */
    /* Tests: called after the blobs are listed and chosen, before they
     * are deleted (a publish racing gc). NULL: none. */
    void (*before_blob_delete)(void *arg);
    /* Tests: called after the deploys are chosen, before their manifests
     * are deleted (a rollback racing gc). NULL: none. */
    void (*before_manifest_delete)(void *arg);
    void *hook_arg;
};

struct publish_gc_result {
    size_t sites;
    size_t deploys_kept, deploys_deleted;
    size_t deploys_touched; /* chosen, but their manifest was written since
                               the listing (a rollback refreshed it): kept,
                               and counted in deploys_kept */
    size_t blobs_kept;      /* objects under blobs/ that stay referenced */
    size_t blobs_young;     /* unreferenced, within the grace period */
    size_t blobs_touched;   /* chosen, but written since the listing (a
                               publish refreshed them): kept */
    size_t blobs_deleted;   /* objects, variants included */
    uint64_t bytes_freed;   /* their sizes */
};

/* Run gc on the store behind s3 (with dry_run, only count what would
 * go). PIER_ERR, with err set, when a listing, a live pointer or a kept
 * manifest cannot be read (then nothing is deleted) or a delete fails
 * (then some may have been). */
int publish_gc(struct pier_s3_sync *s3, const struct publish_gc_opts *o,
               struct publish_gc_result *res, struct pier_err *err);

/* "90", "90s", "15m", "12h", "1d", "2w" as seconds into *out. */
int publish_gc_parse_duration(const char *s, int64_t *out);

/* The DeleteObjects body for n keys (quiet: only errors come back),
 * into out (reset first). keys[i] carries <LastModifiedTime>times[i]
 * when times is not NULL and times[i] is neither NULL nor "". */
void publish_gc_delete_xml(const char *const *keys, const char *const *times,
                           size_t n, struct pier_buf *out);

#endif
