/*
 * lib/s3client.h - pier's one S3 client: libcurl's multi interface driven
 * by a libuv loop, every request signed with lib's SigV4.
 *
 * Used by the publisher (uploads, the live-pointer flip), the edge (origin
 * fetches streamed to waiting clients, listing live/) and `pier site`
 * (through the synchronous wrapper at the end). Path-style addressing
 * against an endpoint URL: http://host:port/bucket/key.
 *
 * A client belongs to one loop and one thread: every call below, and every
 * callback, happens on that loop's thread. Connections are kept alive and
 * reused between requests. Requests that fail with a 5xx, a connection
 * error or a time-out are retried with exponential backoff (re-signed, an
 * uploaded body rewound); 4xx answers are never retried.
 *
 * Every request sends x-amz-content-sha256: the SHA-256 of the body (for a
 * file, computed on the thread pool before sending, unless the caller gives
 * it), or UNSIGNED-PAYLOAD when asked. curl's CURLOPT_AWS_SIGV4 is not used:
 * curl 7.88 gets S3 wrong (no x-amz-content-sha256, an unsorted query).
 */
#ifndef PIER_S3CLIENT_H
#define PIER_S3CLIENT_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stdint.h>
#include <uv.h>

/* Where to send requests and how. The caller fills it; every string is
 * borrowed by pier_s3_client_new(), which copies what it keeps. */
struct pier_s3_config {
    const char *endpoint;          /* "http://127.0.0.1:9000"; https too */
    const char *region;            /* NULL: "us-east-1" */
    const char *bucket;            /* required */
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required */
    const char *session_token;     /* NULL: none */
    const char *ca_file;           /* NULL: the system's CAs */
    bool insecure;                 /* skip TLS verification (test stores) */
    unsigned max_retries;          /* retries after the first attempt */
    unsigned retry_base_ms;        /* first backoff; doubles each retry */
    unsigned retry_max_ms;         /* cap on one backoff */
    unsigned connect_timeout_ms;   /* 0: 5000 */
    unsigned idle_timeout_ms;      /* no byte for this long (whole seconds,
                                      rounded up): time-out; 0: 30000 */
    unsigned request_timeout_ms;   /* whole attempt; 0: no limit */
    unsigned max_host_connections; /* 0: 8; more requests wait in a queue */
};

/* Fill cfg with the defaults above (3 retries from 100 ms, capped at 5 s)
 * and no strings. */
void pier_s3_config_init(struct pier_s3_config *cfg);

/* Fill cfg's strings from the environment: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_S3 (else
 * AWS_ENDPOINT_URL) and AWS_REGION (else AWS_DEFAULT_REGION). Only the
 * variables that are set and non-empty replace a field: apply flags after
 * this call for them to win. The strings are getenv()'s: valid until the
 * environment changes. */
void pier_s3_config_from_env(struct pier_s3_config *cfg);

struct pier_s3_client; /* opaque */

/* Create a client on loop. NULL with err set when the configuration is
 * incomplete or the endpoint is not an http(s) URL. The caller owns the
 * result and frees it with pier_s3_client_free(). */
struct pier_s3_client *pier_s3_client_new(uv_loop_t *loop,
                                          const struct pier_s3_config *cfg,
                                          struct pier_err *err);

/* Cancel every request in flight (each callback is called with err->sys
 * ECANCELED), close the connections and free the client. Its libuv handles
 * close asynchronously: the loop must run once more before
 * uv_loop_close(). Not from inside one of the client's callbacks. NULL is
 * fine. */
void pier_s3_client_free(struct pier_s3_client *c);

/* How many connections the client has opened so far (for tests and the
 * logs: with keep-alive, far fewer than requests). */
uint64_t pier_s3_client_connections(const struct pier_s3_client *c);

enum pier_s3_op {
    PIER_S3_OP_GET = 0,
    PIER_S3_OP_HEAD,
    PIER_S3_OP_PUT,
    PIER_S3_OP_DELETE,
    PIER_S3_OP_LIST,           /* ListObjectsV2 */
    PIER_S3_OP_DELETE_OBJECTS, /* POST /bucket?delete, no key: body is the
                                * <Delete> XML, from memory, with the
                                * Content-MD5 S3 requires among headers;
                                * resp.body is the <DeleteResult> */
};

/* A header to send, or one received. Views; see each use for lifetime. */
struct pier_s3_header {
    struct pier_str name;
    struct pier_str value;
};

/* Stream sink: n bytes of a successful response's body, in order, each
 * byte once. Return PIER_OK to go on, PIER_ERR to abort the request (the
 * done callback then gets an error). When the connection fails after the
 * sink has had bytes, the retry asks for the rest (Range: bytes=N-, with
 * If-Match on the ETag so that the object cannot change under the
 * stream), unless the request had a range of its own; then it is not
 * retried. Called from inside curl: it must not free the client. */
typedef int (*pier_s3_data_cb)(const void *p, size_t n, void *arg);

struct pier_s3_response;
/* A 2xx response's status and headers arrived (before its body); for
 * streaming callers that answer their own clients. Called again if the
 * connection fails before the first body byte and a retry succeeds. Like
 * the sink, it must not free the client. */
typedef void (*pier_s3_headers_cb)(const struct pier_s3_response *resp,
                                   void *arg);

/* One request. Borrowed by the call that starts it, which copies what it
 * keeps, except body (borrowed until the done callback). Zero it, then
 * fill what the operation needs. */
struct pier_s3_request {
    const char *key; /* object key (unencoded); not for LIST */

    /* PUT body: body/body_len from memory, or body_file (a path). */
    const void *body;
    size_t body_len;
    const char *body_file;
    const char *payload_sha256; /* hex SHA-256 when known; NULL: computed */
    bool unsigned_payload;      /* send UNSIGNED-PAYLOAD instead */

    /* Conditionals: PUT and GET/HEAD. Values as sent ("\"etag\"", "*"). */
    const char *if_match;
    const char *if_none_match;
    const char *range; /* GET: "bytes=0-99" */

    /* Extra headers (Content-Type, Cache-Control, Content-Encoding,
     * x-amz-meta-*); all are signed. */
    const struct pier_s3_header *headers;
    size_t nheaders;

    /* GET response body: to memory (the default, at most max_body bytes;
     * 0: no cap), to out_file (created or truncated), or to on_data. */
    size_t max_body;
    const char *out_file;
    pier_s3_data_cb on_data;
    pier_s3_headers_cb on_headers;
    void *stream_arg;

    /* LIST: ListObjectsV2 parameters; NULL or 0 when unused. */
    const char *prefix;
    const char *delimiter;
    const char *continuation_token;
    const char *start_after;
    unsigned max_keys;
};

/* One object of a listing. */
struct pier_s3_object {
    char *key;
    char *etag; /* as S3 sends it, quotes included */
    uint64_t size;
    int64_t last_modified; /* seconds since the epoch; 0 if absent */
    /* LastModified as the listing wrote it ("" if absent or longer): what
     * a conditional delete (<LastModifiedTime>) must send back. */
    char last_modified_text[40];
};

/* A parsed ListObjectsV2 page. */
struct pier_s3_list {
    struct pier_s3_object *objects;
    size_t nobjects;
    char **prefixes; /* CommonPrefixes */
    size_t nprefixes;
    bool truncated;
    char *next_token; /* NextContinuationToken; NULL when not truncated */
};

void pier_s3_list_init(struct pier_s3_list *l);
void pier_s3_list_release(struct pier_s3_list *l);
/* Parse a ListBucketResult document into l (initialised by the caller;
 * the caller releases it, also on failure). */
int pier_s3_list_parse(const char *xml, size_t n, struct pier_s3_list *l,
                       struct pier_err *err);

/* Parse an S3 <Error> document answered with status into err: the code
 * becomes its lib/err.h row (by status when the code is unknown or the
 * body is not S3 XML), err->http the status. Always returns PIER_ERR. */
int pier_s3_error_parse(int status, const char *xml, size_t n, const char *what,
                        struct pier_err *err);

/* What came back. Owned by the client and valid until the done callback
 * returns; the callback may take body with pier_buf_detach() and list by
 * copying the struct and calling pier_s3_list_init() on the original. */
struct pier_s3_response {
    int status;        /* last HTTP status (206 after a resumed stream); 0 when
                          none arrived */
    unsigned attempts; /* 1 + retries made */
    struct pier_buf body;   /* GET to memory: the body */
    struct pier_str etag;   /* ETag header, quotes included; may be empty */
    int64_t content_length; /* -1 when absent */
    struct pier_str content_type;
    struct pier_str last_modified;
    struct pier_str request_id;  /* x-amz-request-id */
    struct pier_s3_list list;    /* LIST: the page */
    struct pier_buf headers_raw; /* "name: value\r\n"..., the last response's */
};

/* A received header's value by name (case-insensitive); false if none. */
bool pier_s3_response_header(const struct pier_s3_response *resp,
                             const char *name, struct pier_str *value);

/* Called once per request with err NULL on success (2xx), else err says
 * why: err->s3 and err->http for an S3 error answer (404 NoSuchKey, 412
 * PreconditionFailed, 304 NotModified...), err->sys for a local failure
 * (ECANCELED when the client was freed). resp is never NULL. The callback
 * may start new requests on the same client, except while the client is
 * being freed. */
typedef void (*pier_s3_done_cb)(struct pier_s3_response *resp,
                                const struct pier_err *err, void *arg);

/* Start op. PIER_OK when it is under way (cb will be called, never from
 * inside this call); PIER_ERR with err set when the request is invalid
 * (cb is not called). */
int pier_s3_start(struct pier_s3_client *c, enum pier_s3_op op,
                  const struct pier_s3_request *r, pier_s3_done_cb cb,
                  void *arg, struct pier_err *err);

/*
 * The synchronous wrapper, for CLI commands: a private loop and client;
 * each call runs the loop until its request is done. Connections are kept
 * alive between calls. Not for servers.
 */
struct pier_s3_sync; /* opaque */

/* The caller owns the result and frees it with pier_s3_sync_free(). */
struct pier_s3_sync *pier_s3_sync_new(const struct pier_s3_config *cfg,
                                      struct pier_err *err);
void pier_s3_sync_free(struct pier_s3_sync *s);

/* Run one request to its end. On return resp (which the caller
 * initialises with pier_s3_response_init()) holds what came back, also on
 * failure; release it with pier_s3_response_release(). PIER_OK on a 2xx. */
int pier_s3_sync_run(struct pier_s3_sync *s, enum pier_s3_op op,
                     const struct pier_s3_request *r,
                     struct pier_s3_response *resp, struct pier_err *err);

/* List every key under prefix, page by page (ListObjectsV2 continuation
 * tokens), calling fn for each object in order; fn's object is valid for
 * the call only. Stops at the first failing request (PIER_ERR, err set) or
 * when fn returns false (PIER_OK). */
int pier_s3_sync_list_each(struct pier_s3_sync *s, const char *prefix,
                           bool (*fn)(void *arg, const struct pier_s3_object *ob),
                           void *arg, struct pier_err *err);

void pier_s3_response_init(struct pier_s3_response *resp);
void pier_s3_response_release(struct pier_s3_response *resp);

#endif
