/*
 * publish/notify.h - tell the edges what changed: POST the deploy delta
 * (sites/manifest.h) to each edge's admin URL and wait for each answer.
 *
 * Every edge is asked at once (curl's multi interface), each with its own
 * time-out; an edge that is unreachable, slow or refusing is reported and
 * nothing else happens: the deploy is live whatever the edges say, and an
 * edge that missed the message finds the new live pointer by itself within
 * seconds (ARCHITECTURE.md, "Invalidation").
 */
#ifndef PUBLISH_NOTIFY_H
#define PUBLISH_NOTIFY_H

#include "lib/core.h"

struct publish_edge_result {
    bool ok;        /* answered 2xx */
    int status;     /* HTTP status; 0 when none came */
    double ms;      /* from the start to the answer or the failure */
    char msg[256];  /* "204", "connection refused", "timed out"... */
};

/* POST body (len bytes, JSON) to each of urls[0..n), with
 * "Authorization: Bearer token" when token is not NULL, waiting at most
 * timeout_ms for each; results[i] says how urls[i] answered. Borrows
 * everything. */
void publish_notify(const char *const *urls, size_t n, const char *token,
                    const char *body, size_t len, unsigned timeout_ms,
                    struct publish_edge_result *results);

#endif
