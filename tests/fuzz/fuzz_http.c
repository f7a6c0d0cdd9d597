/*
 * tests/fuzz/fuzz_http.c - arbitrary bytes into one connection's parse and
 * dispatch path (lib/http_conn.c), without sockets.
 *
 * The first byte picks how the rest is split into reads (1 to 256 bytes
 * at a time), so that the header scan, the chunked decoder and the body
 * delivery see every kind of boundary. The handler answers from memory,
 * streams the body back with backpressure, reads it whole, or streams a
 * chunked response, depending on the path.
 */
#include "config.h"

#include "lib/http_internal.h"

#include <stdlib.h>

static char echo_buf[4096];

static void
echo_written(struct pier_http_req *req, bool ok, void *ctx)
{
    bool *ended = ctx;

    if (!ok) {
        return;
    }
    if (*ended) {
        pier_http_resp_end(req);
    } else {
        pier_http_req_resume(req);
    }
}

static bool echo_ended;

static int
echo_body(struct pier_http_req *req, struct pier_str data, void *ctx)
{
    (void) ctx;
    if (data.len == 0) {
        echo_ended = true;
        pier_http_resp_end(req);
        return PIER_OK;
    }
    if (data.len > sizeof(echo_buf)) {
        data.len = sizeof(echo_buf); /* keeps the test simple */
    }
    memcpy(echo_buf, data.ptr, data.len);
    pier_http_resp_write(req, pier_str_make(echo_buf, data.len), echo_written,
                         &echo_ended);
    return PIER_AGAIN;
}

static void
whole_done(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    (void) ctx;
    pier_http_resp_send(req, 201, body);
}

static void
handler(struct pier_http_req *req, void *udata)
{
    (void) udata;
    if (req->path.len > 0 && req->path.ptr[req->path.len - 1] == 'e') {
        echo_ended = false;
        pier_http_resp_start(req, 200, -1);
        pier_http_req_read_body(req, echo_body, NULL);
    } else if (req->path.len > 0 && req->path.ptr[req->path.len - 1] == 'w') {
        pier_http_req_read_whole(req, 100, whole_done, NULL);
    } else if (req->method_id == PIER_HTTP_DELETE) {
        pier_http_resp_error(req, 404);
    } else {
        if (pier_http_resp_header(req, "X-Host", req->host) != PIER_OK) {
            pier_http_resp_error(req, 500);
            return;
        }
        pier_http_resp_send(req, 200, PIER_STR("hello\n"));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uv_loop_t loop;
    static bool loop_ready;
    struct pier_http_limits lim;
    struct pier_http_test *t;
    struct pier_buf out;
    size_t step, off = 0;
    bool closed = false;

    if (!loop_ready) {
        uv_loop_init(&loop);
        loop_ready = true;
    }
    if (size == 0) {
        return 0;
    }
    step = (size_t) data[0] + 1;
    data++;
    size--;
    memset(&lim, 0, sizeof(lim));
    lim.max_header_bytes = 1024;
    lim.max_headers = 16;
    lim.max_body_bytes = 4096;
    pier_buf_init(&out, SIZE_MAX);
    t = pier_http_test_new(&loop, &lim, handler, NULL, &out);
    while (off < size && !closed) {
        size_t n = size - off < step ? size - off : step;
        size_t k = pier_http_test_feed(t, (const char *) data + off, n,
                                       &closed);

        if (k == 0) {
            break; /* the connection waits for nothing we can give */
        }
        off += k;
    }
    pier_http_test_eof(t);
    pier_http_test_free(t);
    uv_run(&loop, UV_RUN_NOWAIT);
    pier_buf_release(&out);
    return 0;
}
