/*
 * publish/notify.c - the edge notifications, on curl's multi interface
 * (a CLI waits anyway, so a private blocking loop is enough here).
 */
#include "config.h"

#include "publish/notify.h"

#include <curl/curl.h>
#include <stdio.h>

/* The answer's body is only kept for the message, and only its start. */
struct sink {
    char *msg;
    size_t cap, len;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb, k = n;

    if (k > s->cap - 1 - s->len) {
        k = s->cap - 1 - s->len;
    }
    memcpy(s->msg + s->len, p, k);
    s->len += k;
    s->msg[s->len] = '\0';
    return n;
}

void
publish_notify(const char *const *urls, size_t n, const char *token,
               const char *body, size_t len, unsigned timeout_ms,
               struct publish_edge_result *results)
{
    CURLM *multi;
    CURL **easy;
    struct sink *sinks;
    struct curl_slist *hdrs = NULL;
    char auth[1024];
    int running = 0;
    size_t i;

    if (n == 0) {
        return;
    }
    PIER_ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    PIER_ASSERT(hdrs != NULL);
    multi = curl_multi_init();
    PIER_ASSERT(multi != NULL);
    easy = pier_calloc(n, sizeof(*easy));
    sinks = pier_calloc(n, sizeof(*sinks));
    for (i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        sinks[i].msg = results[i].msg;
        sinks[i].cap = sizeof(results[i].msg);
        easy[i] = curl_easy_init();
        PIER_ASSERT(easy[i] != NULL);
        curl_easy_setopt(easy[i], CURLOPT_URL, urls[i]);
        curl_easy_setopt(easy[i], CURLOPT_POST, 1L);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) len);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &sinks[i]);
        /* No 100-continue round trip for a body this small. */
        curl_easy_setopt(easy[i], CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
        curl_easy_setopt(easy[i], CURLOPT_PROTOCOLS_STR, "http,https");
        curl_multi_add_handle(multi, easy[i]);
    }
    do {
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            break;
        }
        if (running > 0) {
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
    } while (running > 0);
    for (;;) {
        int left;
        CURLMsg *m = curl_multi_info_read(multi, &left);
        long status = 0;
        double secs = 0;

        if (m == NULL) {
            break;
        }
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        for (i = 0; i < n && easy[i] != m->easy_handle; i++) {
        }
        PIER_ASSERT(i < n);
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(easy[i], CURLINFO_TOTAL_TIME, &secs);
        results[i].status = (int) status;
        results[i].ms = secs * 1000.0;
        if (m->data.result != CURLE_OK) {
            snprintf(results[i].msg, sizeof(results[i].msg), "%s",
                     curl_easy_strerror(m->data.result));
        } else if (status >= 200 && status < 300) {
            results[i].ok = true;
        } else if (results[i].msg[0] == '\0') {
            snprintf(results[i].msg, sizeof(results[i].msg), "status %ld",
                     status);
        }
    }
    for (i = 0; i < n; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    pier_free(easy);
    pier_free(sinks);
    curl_global_cleanup();
}
