/*
 * publish/history.c - listing a site's deploys, and rollback.
 */
#include "config.h"

#include "publish/history.h"

#include "publish/internal.h"

#include <stdio.h>
#include <stdlib.h>

static int
cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct publish_deploy_info *) a)->id,
                  ((const struct publish_deploy_info *) b)->id);
}

struct deploy_list {
    size_t prefix_len;
    const char *live;
    struct publish_deploy_info *v;
    size_t n, cap;
};

/* One key of sites/<site>/deploys/: a deploy when it is "<id>.json.zst". */
static bool
deploy_one(void *arg, const struct pier_s3_object *ob)
{
    static const char suffix[] = ".json.zst";
    struct deploy_list *l = arg;
    const char *key = ob->key + l->prefix_len;
    size_t kn = strlen(key);

    if (kn <= sizeof(suffix) - 1
        || strcmp(key + kn - (sizeof(suffix) - 1), suffix) != 0
        || kn - (sizeof(suffix) - 1) > SITES_DEPLOY_ID_MAX) {
        return true;
    }
    if (l->n == l->cap) {
        l->cap = l->cap != 0 ? l->cap * 2 : 32;
        l->v = pier_realloc(l->v, l->cap * sizeof(*l->v));
    }
    memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
    memcpy(l->v[l->n].id, key, kn - (sizeof(suffix) - 1));
    l->v[l->n].live = strcmp(l->v[l->n].id, l->live) == 0;
    l->n++;
    return true;
}

int
publish_deploys_list(struct pier_s3_sync *s3, const char *site, size_t load,
                     struct publish_deploy_info **out, size_t *n,
                     struct pier_err *err)
{
    char prefix[256], live[SITES_DEPLOY_ID_MAX + 1], *etag = NULL;
    struct deploy_list l = {.live = live};
    struct publish_deploy_info *v;
    size_t k, i;
    int rc;

    *out = NULL;
    *n = 0;
    if (publish_live_read(s3, site, live, &etag, err) != PIER_OK) {
        return PIER_ERR;
    }
    pier_free(etag);
    snprintf(prefix, sizeof(prefix), "sites/%s/deploys/", site);
    l.prefix_len = strlen(prefix);
    rc = pier_s3_sync_list_each(s3, prefix, deploy_one, &l, err);
    v = l.v;
    k = l.n;
    if (rc != PIER_OK) {
        pier_free(v);
        return PIER_ERR;
    }
    if (k > 1) {
        qsort(v, k, sizeof(*v), cmp_info);
    }
    for (i = k > load ? k - load : 0; i < k; i++) {
        struct sites_manifest *m =
            publish_manifest_fetch(s3, site, v[i].id, err);
        const char *c;

        if (m == NULL) {
            pier_free(v);
            return PIER_ERR;
        }
        c = sites_manifest_commit(m);
        snprintf(v[i].commit, sizeof(v[i].commit), "%s", c != NULL ? c : "");
        v[i].created = sites_manifest_created(m);
        v[i].files = sites_manifest_count(m);
        v[i].bytes = sites_manifest_bytes(m);
        v[i].loaded = true;
        sites_manifest_free(m);
    }
    *out = v;
    *n = k;
    return PIER_OK;
}

/*
 * Keep gc off the target until the flip (publish/gc.h, point 5): its old
 * blobs and variants, then its manifest, are refreshed as a publish
 * refreshes what it reuses. A gc that listed them before fails its
 * conditional deletes (and, for the manifest, keeps the deploy and all
 * it lists); one that was first leaves them missing, and the rollback
 * stops before the flip. The manifest goes last, just before the flip,
 * and always (one request: gc gives manifests no grace). Blobs the live
 * manifest lists need nothing (gc.h, point 4's argument): a rollback to
 * the previous deploy refreshes only what differs.
 */
static int
refresh_target(struct pier_s3_sync *s3, const struct pier_s3_config *cfg,
               const char *site, const struct sites_manifest *target,
               const struct sites_manifest *live,
               const struct publish_refresh_opts *ro,
               struct publish_rollback_result *res, struct pier_err *err)
{
    struct publish_refresh_opts none = {0};
    size_t gone;
    bool man_gone;

    if (publish_blobs_refresh(cfg, target, live, ro != NULL ? ro : &none,
                              &res->refreshed, &gone, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (gone > 0) {
        return pier_err_set(err,
                            "deploy %s can no longer be restored: %zu blobs "
                            "were deleted by gc; publish it again",
                            res->to, gone);
    }
    if (publish_manifest_refresh(s3, cfg->bucket, site, res->to, &man_gone, err)
        != PIER_OK) {
        return PIER_ERR;
    }
    if (man_gone) {
        return pier_err_set(err,
                            "deploy %s can no longer be restored: its "
                            "manifest was deleted by gc; publish it again",
                            res->to);
    }
    res->refreshed++;
    return PIER_OK;
}

int
publish_rollback(struct pier_s3_sync *s3, const struct pier_s3_config *cfg,
                 const char *site, const char *to,
                 const struct publish_refresh_opts *ro,
                 const char *const *edges, size_t nedges,
                 const char *edge_token, unsigned edge_timeout_ms, int out_fd,
                 struct publish_rollback_result *res, struct pier_err *err)
{
    struct sites_manifest *cur = NULL, *target = NULL;
    struct sites_delta *delta = NULL;
    char *etag = NULL, winner[SITES_DEPLOY_ID_MAX + 1];
    bool lost;
    int rc = PIER_ERR;

    memset(res, 0, sizeof(*res));
    if (publish_live_read(s3, site, res->from, &etag, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (res->from[0] == '\0') {
        return pier_err_set(err, "site '%s' has no live deploy", site);
    }
    cur = publish_manifest_fetch(s3, site, res->from, err);
    if (cur == NULL) {
        goto out;
    }
    if (to == NULL) {
        to = sites_manifest_parent(cur);
        if (to == NULL) {
            pier_err_set(err, "deploy %s has no previous deploy", res->from);
            goto out;
        }
    }
    if (!sites_deploy_id_ok(pier_str_cstr(to))) {
        pier_err_set(err, "'%s' is not a deploy id", to);
        goto out;
    }
    if (strcmp(to, res->from) == 0) {
        pier_err_set(err, "deploy %s is already live", to);
        goto out;
    }
    snprintf(res->to, sizeof(res->to), "%s", to);
    /* The target must load: flipping to a manifest the edges cannot read
     * would take the site down. */
    target = publish_manifest_fetch(s3, site, res->to, err);
    if (target == NULL) {
        goto out;
    }
    delta = sites_delta_compute(cur, target, err);
    if (delta == NULL) {
        goto out;
    }
    res->changed = sites_delta_count(delta);
    if (refresh_target(s3, cfg, site, target, cur, ro, res, err) != PIER_OK) {
        goto out;
    }
    if (publish_live_flip(s3, site, res->to, etag, &lost, winner, err)
        != PIER_OK) {
        goto out;
    }
    if (lost) {
        pier_err_set(err, "live/%s changed meanwhile (now %s): not rolled back",
                     site, winner[0] != '\0' ? winner : "unknown");
        goto out;
    }
    rc = publish_notify_delta(delta, edges, nedges, edge_token, edge_timeout_ms,
                              out_fd, &res->edges_ok, &res->edges_failed, err);
out:
    sites_delta_free(delta);
    sites_manifest_free(target);
    sites_manifest_free(cur);
    pier_free(etag);
    return rc;
}
