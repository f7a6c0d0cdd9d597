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

int
publish_deploys_list(struct pier_s3_sync *s3, const char *site, size_t load,
                     struct publish_deploy_info **out, size_t *n,
                     struct pier_err *err)
{
    static const char suffix[] = ".json.zst";
    struct publish_deploy_info *v = NULL;
    char prefix[256], live[SITES_DEPLOY_ID_MAX + 1], *etag = NULL;
    char *token = NULL;
    size_t k = 0, cap = 0, i;
    int rc = PIER_OK;

    *out = NULL;
    *n = 0;
    if (publish_live_read(s3, site, live, &etag, err) != PIER_OK) {
        return PIER_ERR;
    }
    pier_free(etag);
    snprintf(prefix, sizeof(prefix), "sites/%s/deploys/", site);
    do {
        struct pier_s3_request r = {0};
        struct pier_s3_response resp;

        r.prefix = prefix;
        r.continuation_token = token;
        pier_s3_response_init(&resp);
        rc = pier_s3_sync_run(s3, PIER_S3_OP_LIST, &r, &resp, err);
        pier_free(token);
        token = NULL;
        if (rc != PIER_OK) {
            pier_s3_response_release(&resp);
            break;
        }
        for (i = 0; i < resp.list.nobjects; i++) {
            const char *key = resp.list.objects[i].key + strlen(prefix);
            size_t kn = strlen(key);

            if (kn <= sizeof(suffix) - 1
                || strcmp(key + kn - (sizeof(suffix) - 1), suffix) != 0
                || kn - (sizeof(suffix) - 1) > SITES_DEPLOY_ID_MAX) {
                continue;
            }
            if (k == cap) {
                cap = cap != 0 ? cap * 2 : 32;
                v = pier_realloc(v, cap * sizeof(*v));
            }
            memset(&v[k], 0, sizeof(v[k]));
            memcpy(v[k].id, key, kn - (sizeof(suffix) - 1));
            v[k].live = strcmp(v[k].id, live) == 0;
            k++;
        }
        if (resp.list.truncated && resp.list.next_token != NULL) {
            token = pier_strdup(resp.list.next_token);
        }
        pier_s3_response_release(&resp);
    } while (token != NULL);
    if (rc != PIER_OK) {
        pier_free(v);
        return PIER_ERR;
    }
    if (k > 1) {
        qsort(v, k, sizeof(*v), cmp_info);
    }
    for (i = k > load ? k - load : 0; i < k; i++) {
        struct sites_manifest *m = publish_manifest_fetch(s3, site, v[i].id,
                                                          err);
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

int
publish_rollback(struct pier_s3_sync *s3, const char *site, const char *to,
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
    if (publish_live_flip(s3, site, res->to, etag, &lost, winner, err)
        != PIER_OK) {
        goto out;
    }
    if (lost) {
        pier_err_set(err, "live/%s changed meanwhile (now %s): not rolled back",
                     site, winner[0] != '\0' ? winner : "unknown");
        goto out;
    }
    rc = publish_notify_delta(delta, edges, nedges, edge_token,
                              edge_timeout_ms, out_fd, &res->edges_ok,
                              &res->edges_failed, err);
out:
    sites_delta_free(delta);
    sites_manifest_free(target);
    sites_manifest_free(cur);
    pier_free(etag);
    return rc;
}
