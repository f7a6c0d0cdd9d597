/*
 * edge/serve.c - the edge's request path (ARCHITECTURE.md, "The edge
 * request path"):
 *
 *   host -> site -> normalise the path -> _redirects -> manifest lookup
 *   (pretty URLs, trailing-slash redirect, the site's 404.html) -> pick
 *   the encoding -> ETag/304 -> Range -> cache lookup by blob -> on a
 *   miss, join the origin fetch of that blob (one per blob, whatever the
 *   number of waiters) and stream it as it arrives.
 *
 * The hit path allocates nothing: request contexts are recycled per
 * worker, their buffers keep their memory, the manifest and the registry
 * are read under hazard pointers, and the body goes out straight from the
 * cached blob, held by a reference until the core says the response left.
 */
#include "config.h"

#include "edge/encoding.h"
#include "edge/internal.h"
#include "edge/range.h"
#include "sites/headers.h"
#include "sites/redirects.h"

#include "lib/log.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define REDIRECT_MAX 4096
#define HEADERS_MAX  16384
#define SPILL_CHUNK  65536 /* a reader's buffer of a spilled body */

struct edge_req {
    unsigned magic;
    struct edge_worker *w;
    struct pier_http_req *req;
    struct edge_deploy *deploy; /* referenced while a miss goes on */
    struct edge_blob *blob;     /* referenced while a hit is sent */
    struct edge_waiter waiter;
    const struct sites_manifest *m; /* valid while protected or held */
    const struct sites_entry *entry;
    int status;
    bool head;
    bool joined;  /* waiter is in a fetch */
    bool started; /* the streamed response started */
    bool writing; /* one write in flight */
    bool ended;
    bool ranged;
    bool hashed;
    struct disk_load *loading; /* a disk read in flight */
    bool reading;              /* a file read in flight (fs) */
    uv_fs_t fs;
    char *fbuf; /* SPILL_CHUNK bytes while streaming from a file */
    /* A large blob streamed from the disk tier, hashed as it goes. */
    int dfd;
    uint64_t doff, dend; /* the next byte to read, the end to read to */
    struct edge_key dkey;
    struct edge_verify *dverify;
    struct edge_range range;
    uint64_t size; /* of the variant being sent */
    char path[EDGE_PATH_MAX];
    char alt[EDGE_PATH_MAX + 16];
    struct pier_buf to;   /* a redirect's or rewrite's target */
    struct pier_buf hdrs; /* _headers lines */
    struct edge_req *next_free;
};

static const char page_404[] =
    "<!doctype html><title>Not Found</title><h1>Not Found</h1>\n";
static const char page_no_site[] =
    "<!doctype html><title>Not Found</title><h1>No site here</h1>\n";
static const char page_502[] =
    "<!doctype html><title>Bad Gateway</title><h1>Bad Gateway</h1>\n"
    "<p>The content could not be fetched. Try again shortly.</p>\n";

/* Request contexts. */

static struct edge_req *
req_get(struct edge_worker *w, struct pier_http_req *hr)
{
    struct edge_req *r = w->free_reqs;

    if (r != NULL) {
        w->free_reqs = r->next_free;
    } else {
        r = pier_calloc(1, sizeof(*r)); /* warm-up only: recycled */
        pier_buf_init(&r->to, REDIRECT_MAX);
        pier_buf_init(&r->hdrs, HEADERS_MAX);
    }
    r->magic = EDGE_REQ_MAGIC;
    r->w = w;
    r->req = hr;
    r->deploy = NULL;
    r->blob = NULL;
    r->m = NULL;
    r->entry = NULL;
    r->status = 200;
    r->head = hr->method_id == PIER_HTTP_HEAD;
    r->joined = false;
    r->started = false;
    r->writing = false;
    r->ended = false;
    r->ranged = false;
    r->hashed = false;
    r->loading = NULL;
    r->reading = false;
    r->dfd = -1;
    r->doff = 0;
    r->dverify = NULL;
    r->size = 0;
    pier_buf_reset(&r->to);
    pier_buf_reset(&r->hdrs);
    return r;
}

struct disk_load;
static void disk_load_gone(struct disk_load *dl);

/* Give r back to its worker's list, dropping what it holds. */
static void
req_recycle(struct edge_req *r)
{
    struct edge_worker *w = r->w;

    PIER_ASSERT(!r->reading);
    if (r->joined) {
        edge_waiter_leave(&r->waiter);
        r->joined = false;
    }
    edge_blob_release(r->blob);
    r->blob = NULL;
    /* Streams of spilled bodies are rare and long: their buffer goes
     * back, so that recycled contexts stay small. */
    pier_free(r->fbuf);
    r->fbuf = NULL;
    if (r->dfd >= 0) {
        PIER_ASSERT(close(r->dfd) == 0);
        r->dfd = -1;
    }
    edge_verify_free(r->dverify);
    r->dverify = NULL;
    if (r->deploy != NULL) {
        edge_deploy_release(r->deploy);
        r->deploy = NULL;
    }
    r->req = NULL;
    r->magic = 0;
    r->next_free = w->free_reqs;
    w->free_reqs = r;
}

static void
on_finish(struct pier_http_req *hr, bool completed, void *ctx)
{
    struct edge_req *r = ctx;

    (void) hr;
    (void) completed;
    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    r->req = NULL;
    if (r->loading != NULL) {
        disk_load_gone(r->loading); /* recycled when the read is done */
        return;
    }
    if (r->reading) {
        return; /* recycled by the read's callback: its fd is in use */
    }
    req_recycle(r);
}

void
edge_serve_worker_stop(struct edge_worker *w)
{
    struct edge_req *r;

    while ((r = w->free_reqs) != NULL) {
        w->free_reqs = r->next_free;
        pier_buf_release(&r->to);
        pier_buf_release(&r->hdrs);
        pier_free(r);
    }
}

/* Answers that need no manifest. */

static void
send_page(struct edge_req *r, int status, const char *page, size_t n)
{
    (void) pier_http_resp_header(r->req, "Content-Type",
                                 PIER_STR("text/html; charset=utf-8"));
    (void) pier_http_resp_header(r->req, "Cache-Control", PIER_STR("no-store"));
    (void) pier_http_resp_header(r->req, "X-Content-Type-Options",
                                 PIER_STR("nosniff"));
    pier_http_resp_send(r->req, status, pier_str_make(page, n));
}

/* Encodings: the manifest's order and the negotiator's. */
static const enum edge_enc enc_of_sites[SITES_ENC_MAX] = {
    [SITES_ENC_BR] = EDGE_ENC_BR,
    [SITES_ENC_ZSTD] = EDGE_ENC_ZSTD,
    [SITES_ENC_GZIP] = EDGE_ENC_GZIP,
};

static uint64_t
variant_size(const struct sites_entry *e, enum edge_enc enc)
{
    unsigned i;

    if (enc == EDGE_ENC_IDENTITY) {
        return e->size;
    }
    for (i = 0; i < SITES_ENC_MAX; i++) {
        if (enc_of_sites[i] == enc) {
            return e->enc_size[i];
        }
    }
    return 0;
}

static enum edge_enc
pick_encoding(struct edge_req *r, const struct sites_entry *e)
{
    struct edge_accept acc;
    struct pier_err err;
    unsigned avail = 0, i;
    size_t k;
    bool any = false;

    for (i = 0; i < SITES_ENC_MAX; i++) {
        if (e->enc_size[i] > 0) {
            avail |= EDGE_ENC_BIT(enc_of_sites[i]);
        }
    }
    edge_accept_init(&acc);
    if (avail == 0) {
        return EDGE_ENC_IDENTITY;
    }
    /* Several Accept-Encoding lines are one list (RFC 9110 5.3). */
    for (k = 0; k < r->req->nheaders; k++) {
        const struct pier_http_header *h = &r->req->headers[k];

        if (!pier_str_caseeq(h->name, PIER_STR("accept-encoding"))) {
            continue;
        }
        if ((any && edge_accept_parse(&acc, ",", 1, &err) != PIER_OK)
            || edge_accept_parse(&acc, h->value.ptr, h->value.len, &err)
                   != PIER_OK) {
            return EDGE_ENC_IDENTITY; /* malformed: ignored (12.5.3) */
        }
        any = true;
    }
    if (any && edge_accept_finish(&acc, &err) != PIER_OK) {
        return EDGE_ENC_IDENTITY;
    }
    return edge_accept_choose(&acc, avail);
}

/* The ETag of a variant: the content hash, strong, with the coding so
 * that every variant has its own (RFC 9110 8.8.3). */
static size_t
etag_of(const struct sites_entry *e, enum edge_enc enc, char *out, size_t n)
{
    const char *name = edge_enc_name(enc);
    size_t nl = name != NULL ? strlen(name) : 0, len = 0;

    /* No printf: it runs on every hit. */
    PIER_ASSERT(SITES_SHA256_HEX + nl + 4 <= n);
    out[len++] = '"';
    memcpy(out + len, e->sha256, SITES_SHA256_HEX);
    len += SITES_SHA256_HEX;
    if (name != NULL) {
        out[len++] = '-';
        memcpy(out + len, name, nl);
        len += nl;
    }
    out[len++] = '"';
    out[len] = '\0';
    return len;
}

/* If-None-Match (RFC 9110 13.1.2): weak comparison against each tag. */
static bool
none_match(struct edge_req *r, struct pier_str etag)
{
    struct pier_str v = pier_http_req_header(r->req, "if-none-match");
    const char *p, *end, *q;

    if (v.ptr == NULL) {
        return false;
    }
    p = v.ptr;
    end = v.ptr + v.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        if (p < end && *p == '*') {
            return true;
        }
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        q = p;
        while (q < end && *q != ',') {
            q++;
        }
        while (q > p && (q[-1] == ' ' || q[-1] == '\t')) {
            q--;
        }
        if ((size_t) (q - p) == etag.len
            && memcmp(p, etag.ptr, etag.len) == 0) {
            return true;
        }
        while (p < end && *p != ',') {
            p++;
        }
    }
    return false;
}

/* v in decimal, at the end of buf (no printf on the hit path). */
static struct pier_str
u64_str(uint64_t v, char buf[24])
{
    char *p = buf + 24;

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return pier_str_make(p, (size_t) (buf + 24 - p));
}

/* Every header of a content answer but Content-Length (the core's). */
static void
add_headers(struct edge_req *r, const struct sites_entry *e, enum edge_enc enc,
            bool hashed, struct pier_str etag, const char *xcache, int64_t age)
{
    struct pier_http_req *hr = r->req;
    char num[24];
    const struct sites_headers *rules = sites_manifest_headers(r->m);
    struct pier_err err;
    const char *p, *end, *colon, *eol;
    size_t i;

    (void) pier_http_resp_header(hr, "Content-Type", pier_str_cstr(e->type));
    if (!sites_headers_sets(rules, pier_str_cstr(r->path),
                            PIER_STR("Cache-Control"))) {
        (void) pier_http_resp_header(
            hr, "Cache-Control",
            hashed ? PIER_STR("public, max-age=31536000, immutable")
                   : PIER_STR("public, max-age=0, must-revalidate"));
    }
    (void) pier_http_resp_header(hr, "ETag", etag);
    if (edge_enc_name(enc) != NULL) {
        (void) pier_http_resp_header(hr, "Content-Encoding",
                                     pier_str_cstr(edge_enc_name(enc)));
    }
    if (e->enc_size[SITES_ENC_BR] != 0 || e->enc_size[SITES_ENC_ZSTD] != 0
        || e->enc_size[SITES_ENC_GZIP] != 0) {
        (void) pier_http_resp_header(hr, "Vary", PIER_STR("Accept-Encoding"));
    }
    if (enc == EDGE_ENC_IDENTITY) {
        (void) pier_http_resp_header(hr, "Accept-Ranges", PIER_STR("bytes"));
    }
    (void) pier_http_resp_header(hr, "X-Content-Type-Options",
                                 PIER_STR("nosniff"));
    (void) pier_http_resp_header(hr, "X-Cache", pier_str_cstr(xcache));
    (void) pier_http_resp_header(hr, "Age",
                                 u64_str(age > 0 ? (uint64_t) age : 0, num));
    for (i = 0; i < e->nheaders; i++) {
        (void) pier_http_resp_header(hr, e->headers[i].name,
                                     pier_str_cstr(e->headers[i].value));
    }
    /* _headers: "Name: value\r\n" lines, checked at publish time. */
    pier_buf_reset(&r->hdrs);
    if (sites_headers_match(rules, pier_str_cstr(r->path), &r->hdrs, &err)
        > 0) {
        p = r->hdrs.data;
        end = p + r->hdrs.len;
        while (p < end) {
            eol = memchr(p, '\r', (size_t) (end - p));
            if (eol == NULL) {
                break;
            }
            colon = memchr(p, ':', (size_t) (eol - p));
            if (colon != NULL && colon > p) {
                char name[SITES_HEADER_NAME_MAX + 1];
                const char *v = colon + 1;
                size_t nl = (size_t) (colon - p);

                if (nl < sizeof(name)) {
                    memcpy(name, p, nl);
                    name[nl] = '\0';
                    while (v < eol && *v == ' ') {
                        v++;
                    }
                    (void) pier_http_resp_header(
                        hr, name, pier_str_make(v, (size_t) (eol - v)));
                }
            }
            p = eol + 2;
        }
    }
}

/* The origin side of a fetch this worker started. */

#define ORIGIN_MAGIC 0x0a19e7c5U

struct origin {
    unsigned magic;
    struct edge_server *srv;
    uv_loop_t *loop;
    struct edge_fetch *f;
    bool begun;
};

static void
origin_headers(const struct pier_s3_response *resp, void *arg)
{
    struct origin *o = arg;
    struct pier_err err;

    PIER_CHECK_OBJ(o, ORIGIN_MAGIC);
    if (resp->content_length < 0) {
        return; /* failed at the first byte, or at the end */
    }
    if (edge_fetch_begin(o->f, (uint64_t) resp->content_length, &err)
        == PIER_OK) {
        o->begun = true;
    }
}

static int
origin_data(const void *p, size_t n, void *arg)
{
    struct origin *o = arg;
    struct pier_err err;

    PIER_CHECK_OBJ(o, ORIGIN_MAGIC);
    if (!o->begun) {
        return PIER_ERR; /* no length: nothing to write into */
    }
    return edge_fetch_append(o->f, p, n, &err);
}

/* Disk tier work on the thread pool: store a fetched blob, adopt a
 * spilled one's file (path), or remove a file that failed verification
 * (bad). */
struct disk_job {
    uv_work_t work;
    struct edge_server *srv;
    struct edge_blob *blob;
    char *path;
    struct edge_key k;
    uint64_t size;
    bool bad;
};

static void
disk_store_work(uv_work_t *w)
{
    struct disk_job *j = w->data;
    struct pier_err err;
    int rc = PIER_OK;

    if (j->bad) {
        edge_cache_disk_bad(j->srv->cache, &j->k);
    } else if (j->path != NULL) {
        rc =
            edge_cache_disk_adopt(j->srv->cache, &j->k, j->size, j->path, &err);
    } else {
        rc = edge_cache_disk_store(j->srv->cache, j->blob, &err);
    }
    if (rc != PIER_OK) {
        pier_log(PIER_LOG_WARN, "edge", "disk cache: %s", err.msg);
    }
}

static void
disk_store_done(uv_work_t *w, int status)
{
    struct disk_job *j = w->data;

    (void) status;
    edge_blob_release(j->blob);
    pier_free(j->path);
    pier_free(j);
}

/* Queue j (filled but for work) on loop; on failure drop it. */
static void
disk_job_queue(uv_loop_t *loop, struct disk_job *j)
{
    j->work.data = j;
    if (uv_queue_work(loop, &j->work, disk_store_work, disk_store_done) != 0) {
        if (j->path != NULL) {
            (void) unlink(j->path);
        }
        disk_store_done(&j->work, 0);
    }
}

static void
origin_done(struct pier_s3_response *resp, const struct pier_err *err,
            void *arg)
{
    struct origin *o = arg;
    struct edge_server *srv = o->srv;
    char why[300];
    struct edge_blob *b;
    struct disk_job *j;

    PIER_CHECK_OBJ(o, ORIGIN_MAGIC);
    (void) resp;
    if (err != NULL) {
        snprintf(why, sizeof(why), "%s", err->msg);
        atomic_fetch_add(&srv->origin_errors, 1);
    }
    if (edge_fetch_finish(o->f, err == NULL, err != NULL ? why : NULL)
        == PIER_OK) {
        b = edge_fetch_blob(o->f); /* NULL when spilled */
        if (b != NULL && edge_cache_disk_enabled(srv->cache)) {
            j = pier_calloc(1, sizeof(*j));
            j->srv = srv;
            j->blob = b;
            disk_job_queue(o->loop, j);
        } else if (b == NULL) {
            /* A spilled body's file joins the disk tier, if there is
             * one; its readers keep their descriptors. */
            j = pier_calloc(1, sizeof(*j));
            j->srv = srv;
            j->path = edge_fetch_spill_take(o->f);
            j->k = *edge_fetch_key(o->f);
            j->size = edge_fetch_size(o->f);
            if (j->path != NULL) {
                disk_job_queue(o->loop, j);
            } else {
                pier_free(j);
            }
        } else {
            edge_blob_release(b);
        }
    }
    edge_fetch_release(o->f);
    o->magic = 0;
    pier_free(o);
}

/* Start the origin GET of the fetch f on this worker's S3 client. */
void
edge_origin_start(struct edge_worker *w, struct edge_fetch *f)
{
    struct pier_s3_request q;
    struct pier_err err;
    struct origin *o = pier_calloc(1, sizeof(*o));
    char key[80 + 8];

    o->magic = ORIGIN_MAGIC;
    o->srv = w->srv;
    o->loop = w->loop;
    o->f = f;
    memcpy(key, "blobs/", 6);
    PIER_ASSERT(edge_key_name(edge_fetch_key(f), key + 6, sizeof(key) - 6) > 0);
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.on_data = origin_data;
    q.on_headers = origin_headers;
    q.stream_arg = o;
    if (pier_s3_start(w->s3, PIER_S3_OP_GET, &q, origin_done, o, &err)
        != PIER_OK) {
        atomic_fetch_add(&w->srv->origin_errors, 1);
        (void) edge_fetch_finish(f, false, err.msg);
        edge_fetch_release(f);
        o->magic = 0;
        pier_free(o);
    }
}

/* Streaming a miss to its client as the fetch brings the bytes. */

static void pump(struct edge_req *r);

static void
on_written(struct pier_http_req *hr, bool ok, void *ctx)
{
    struct edge_req *r = ctx;

    (void) hr;
    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    r->writing = false;
    if (ok) {
        pump(r);
    } /* else the finish callback follows */
}

static void
on_news(struct edge_waiter *wt)
{
    struct edge_req *r = wt->data;

    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    if (!r->writing) {
        pump(r);
    }
}

static void
end_stream(struct edge_req *r)
{
    r->ended = true;
    edge_waiter_leave(&r->waiter);
    r->joined = false;
    pier_http_resp_end(r->req);
}

/* A read of a spilled body came back: send what it got. */
static void
on_spill_read(uv_fs_t *fs)
{
    struct edge_req *r = fs->data;
    ssize_t got = fs->result;

    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    uv_fs_req_cleanup(fs);
    r->reading = false;
    if (r->req == NULL) {
        req_recycle(r); /* the client left while we read */
        return;
    }
    if (got <= 0) {
        pier_log(PIER_LOG_WARN, "edge", "cannot read a spill file: %s",
                 got < 0 ? uv_strerror((int) got) : "end of file");
        end_stream(r); /* short of its length: the core cuts it */
        return;
    }
    edge_waiter_consume(&r->waiter, (size_t) got);
    r->writing = true;
    edge_count(r->w, bytes_out, (uint64_t) got);
    pier_http_resp_write(r->req, pier_str_make(r->fbuf, (size_t) got),
                         on_written, r);
}

/* Read up to n bytes of the spilled body at off into the request's
 * buffer, on the thread pool; on_spill_read sends them. */
static void
spill_read(struct edge_req *r, uint64_t off, size_t n)
{
    uv_buf_t ub;
    int rc;

    if (r->fbuf == NULL) {
        r->fbuf = pier_malloc(SPILL_CHUNK);
    }
    ub = uv_buf_init(r->fbuf, (unsigned) (n < SPILL_CHUNK ? n : SPILL_CHUNK));
    r->fs.data = r;
    rc = uv_fs_read(r->w->loop, &r->fs, edge_waiter_fd(&r->waiter), &ub, 1,
                    (int64_t) off, on_spill_read);
    if (rc != 0) {
        pier_log(PIER_LOG_WARN, "edge", "cannot read a spill file: %s",
                 uv_strerror(rc));
        end_stream(r);
        return;
    }
    r->reading = true;
}

static void
pump(struct edge_req *r)
{
    const unsigned char *p;
    size_t n, skip, take;
    uint64_t size, off;
    int rc;

    while (!r->ended && !r->writing && !r->reading) {
        off = r->waiter.off;
        rc = edge_waiter_peek(&r->waiter, &p, &n, &size);
        if (rc == PIER_ERR) {
            if (!r->started) {
                r->ended = true;
                edge_waiter_leave(&r->waiter);
                r->joined = false;
                (void) pier_http_resp_header(r->req, "Retry-After",
                                             PIER_STR("5"));
                send_page(r, 502, page_502, sizeof(page_502) - 1);
            } else {
                end_stream(r); /* short of its length: the core cuts it */
            }
            return;
        }
        if (size == UINT64_MAX || (!r->started && n == 0 && rc != PIER_OK)) {
            /* The origin has not answered yet, or sent no byte: the head
             * waits for one, so that a fetch failing before it is a 502,
             * not an empty reply. */
            return;
        }
        if (!r->started) {
            if (size != r->size) {
                /* The store's object is not what the manifest says; the
                 * hash check decides, but the length sent must be right. */
                r->size = size;
                if (r->ranged && r->range.last >= size) {
                    r->ranged = false;
                    r->status = 200;
                }
            }
            r->started = true;
            pier_http_resp_start(
                r->req, r->status,
                (int64_t) (r->ranged ? r->range.last - r->range.first + 1
                                     : size));
        }
        if (n == 0) {
            if (rc == PIER_OK) {
                end_stream(r);
            }
            return;
        }
        /* Only the part inside the range, if any. */
        skip = 0;
        take = n;
        if (r->ranged) {
            uint64_t lo = r->range.first, hi = r->range.last + 1;
            uint64_t a = off < lo ? lo : off, b = off + n < hi ? off + n : hi;

            if (a >= b) {
                edge_waiter_consume(&r->waiter, n);
                continue;
            }
            skip = (size_t) (a - off);
            take = (size_t) (b - a);
        }
        if (p == NULL) {
            /* Spilled: skip what precedes the range unread. */
            edge_waiter_consume(&r->waiter, skip);
            spill_read(r, off + skip, take);
            return;
        }
        edge_waiter_consume(&r->waiter, n);
        r->writing = true;
        edge_count(r->w, bytes_out, take);
        pier_http_resp_write(r->req,
                             pier_str_make((const char *) p + skip, take),
                             on_written, r);
    }
}

/* A hit: the blob's bytes (or the range of them) straight from memory. */
static void
send_blob(struct edge_req *r, struct edge_blob *b)
{
    struct pier_str body = pier_str_make((const char *) b->data, b->size);

    r->blob = b; /* released by on_finish, once the bytes left */
    if (r->ranged) {
        body = pier_str_make((const char *) b->data + r->range.first,
                             r->range.last - r->range.first + 1);
    }
    if (!r->head) {
        edge_count(r->w, bytes_out, body.len);
    }
    pier_http_resp_send(r->req, r->status, body);
}

/* A miss in memory (and on disk): join or start the blob's fetch. */
static void
miss(struct edge_req *r, struct edge_deploy *d, const struct edge_key *kp)
{
    struct edge_server *srv = r->w->srv;
    const struct sites_entry *e = r->entry;
    enum edge_enc enc = (enum edge_enc) kp->enc;
    struct edge_key k = *kp;
    struct edge_blob *hit;
    struct edge_fetch *f;
    bool hashed = r->hashed;
    char etag[SITES_SHA256_HEX + 16];
    size_t etag_len = etag_of(e, enc, etag, sizeof(etag));

    atomic_fetch_add(&srv->misses, 1);
    if (r->head) {
        /* The manifest knows the length: no need to fetch for HEAD. */
        add_headers(r, e, enc, hashed, pier_str_make(etag, etag_len), "MISS",
                    0);
        pier_http_resp_start(r->req, r->status,
                             (int64_t) (r->ranged
                                            ? r->range.last - r->range.first + 1
                                            : r->size));
        pier_http_resp_end(r->req);
        return;
    }
    /* The miss outlives the handler: keep the deploy (e points into it). */
    if (r->deploy == NULL) {
        edge_deploy_ref(d);
        r->deploy = d;
    }
    edge_waiter_init(&r->waiter, on_news, r);
    switch (edge_fetches_join(srv->fetches, &k, e->size, r->w->notifier,
                              &r->waiter, &hit, &f)) {
    case EDGE_JOIN_HIT:
        add_headers(r, e, enc, hashed, pier_str_make(etag, etag_len), "HIT",
                    (int64_t) time(NULL) - hit->stored_s);
        send_blob(r, hit);
        return;
    case EDGE_JOIN_STARTED:
        r->joined = true;
        edge_origin_start(r->w, f);
        break;
    case EDGE_JOIN_WAIT:
        r->joined = true;
        break;
    }
    add_headers(r, e, enc, hashed, pier_str_make(etag, etag_len), "MISS", 0);
    /* The waiter's first callback comes from the loop: pump starts there. */
}

/* The disk tier: read on the thread pool, then serve or fetch. */

struct disk_load {
    uv_work_t work;
    struct edge_req *r;
    struct edge_key k;
    struct edge_blob *got;
    bool big; /* past fetch_max: open it to stream, not read it whole */
    int fd;   /* big: the file, -1 when not on disk */
    bool verified; /* big: the file is known good */
    uint64_t size;
    int64_t stored_s;
    bool gone; /* the client left meanwhile */
};

static void
disk_load_gone(struct disk_load *dl)
{
    dl->gone = true;
}

static void
disk_load_work(uv_work_t *w)
{
    struct disk_load *dl = w->data;
    struct pier_err err;
    int rc;

    if (dl->big) {
        rc = edge_cache_disk_open(dl->r->w->srv->cache, &dl->k, &dl->fd,
                                  &dl->size, &dl->stored_s, &dl->verified,
                                  &err);
    } else {
        rc = edge_cache_disk_load(dl->r->w->srv->cache, &dl->k,
                                  dl->r->entry->size, &dl->got, &err);
    }
    if (rc != PIER_OK) {
        pier_log(PIER_LOG_WARN, "edge", "disk cache: %s", err.msg);
    }
}

/* A large blob from the disk tier: streamed through the request's read
 * buffer, hashed as it goes, the last chunk sent only once the hash
 * matched its name (so a torn or tampered file is cut, and removed), and
 * then known good. A range of a file known good is read alone, from its
 * offset; one of a file not yet verified (found at start: a crash may
 * have torn it) reads the whole file once, to verify it. */

static void disk_pump(struct edge_req *r);

static void
on_disk_written(struct pier_http_req *hr, bool ok, void *ctx)
{
    struct edge_req *r = ctx;

    (void) hr;
    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    if (ok) {
        disk_pump(r);
    } /* else the finish callback follows */
}

static void
disk_cut(struct edge_req *r, const char *why)
{
    struct disk_job *j = pier_calloc(1, sizeof(*j));
    char name[80];

    PIER_ASSERT(edge_key_name(&r->dkey, name, sizeof(name)) > 0);
    pier_log(PIER_LOG_WARN, "edge", "disk cache: blob '%s' %s, removed", name,
             why);
    j->srv = r->w->srv;
    j->k = r->dkey;
    j->bad = true;
    disk_job_queue(r->w->loop, j);
    pier_http_resp_end(r->req); /* short of its length: the core cuts it */
}

static void
on_disk_read(uv_fs_t *fs)
{
    struct edge_req *r = fs->data;
    ssize_t got = fs->result;
    struct pier_err err;
    uint64_t off, lo, hi, a, b;

    PIER_CHECK_OBJ(r, EDGE_REQ_MAGIC);
    uv_fs_req_cleanup(fs);
    r->reading = false;
    if (r->req == NULL) {
        req_recycle(r); /* the client left while we read */
        return;
    }
    if (got <= 0) {
        disk_cut(r, got < 0 ? "cannot be read" : "is short");
        return;
    }
    off = r->doff;
    r->doff += (uint64_t) got;
    atomic_fetch_add(&r->w->srv->disk_read_bytes, (uint64_t) got);
    if (r->dverify != NULL) {
        if (edge_verify_update(r->dverify, r->fbuf, (size_t) got, &err)
                != PIER_OK
            || (r->doff == r->size
                && edge_verify_final(r->dverify, r->dkey.sha, &err)
                       != PIER_OK)) {
            disk_cut(r, "fails verification");
            return;
        }
        if (r->doff == r->size) {
            edge_cache_disk_verified(r->w->srv->cache, &r->dkey);
        }
    }
    lo = r->ranged ? r->range.first : 0;
    hi = r->ranged ? r->range.last + 1 : r->size;
    a = off < lo ? lo : off;
    b = r->doff < hi ? r->doff : hi;
    if (a >= b) {
        disk_pump(r);
        return;
    }
    edge_count(r->w, bytes_out, b - a);
    pier_http_resp_write(r->req,
                         pier_str_make(r->fbuf + (a - off), (size_t) (b - a)),
                         on_disk_written, r);
}

static void
disk_pump(struct edge_req *r)
{
    uint64_t left = r->dend - r->doff;
    uv_buf_t ub;
    int rc;

    if (left == 0) {
        pier_http_resp_end(r->req);
        return;
    }
    ub = uv_buf_init(r->fbuf,
                     (unsigned) (left < SPILL_CHUNK ? left : SPILL_CHUNK));
    r->fs.data = r;
    rc = uv_fs_read(r->w->loop, &r->fs, r->dfd, &ub, 1, (int64_t) r->doff,
                    on_disk_read);
    if (rc != 0) {
        disk_cut(r, "cannot be read");
        return;
    }
    r->reading = true;
}

static void
disk_stream_start(struct edge_req *r, struct disk_load *dl)
{
    char etag[SITES_SHA256_HEX + 16];
    size_t etag_len;
    enum edge_enc enc = (enum edge_enc) dl->k.enc;

    r->dfd = dl->fd;
    r->dkey = dl->k;
    r->doff = 0;
    if (dl->size != r->size) {
        /* Not what the manifest says: the hash check will cut it, but
         * the length sent must be the file's. */
        r->size = dl->size;
        if (r->ranged && r->range.last >= r->size) {
            r->ranged = false;
            r->status = 200;
        }
    }
    etag_len = etag_of(r->entry, enc, etag, sizeof(etag));
    add_headers(r, r->entry, enc, r->hashed, pier_str_make(etag, etag_len),
                "HIT", (int64_t) time(NULL) - dl->stored_s);
    pier_http_resp_start(
        r->req, r->status,
        (int64_t) (r->ranged ? r->range.last - r->range.first + 1 : r->size));
    if (r->head) {
        pier_http_resp_end(r->req);
        return;
    }
    r->dend = r->size;
    if (r->ranged && dl->verified) {
        r->doff = r->range.first;
        r->dend = r->range.last + 1;
    } else {
        r->dverify = edge_verify_new(enc, r->entry->size);
    }
    if (r->fbuf == NULL) {
        r->fbuf = pier_malloc(SPILL_CHUNK);
    }
    disk_pump(r);
}

static void
disk_load_done(uv_work_t *w, int status)
{
    struct disk_load *dl = w->data;
    struct edge_req *r = dl->r;
    char etag[SITES_SHA256_HEX + 16];
    size_t etag_len;

    (void) status;
    if (dl->gone) {
        /* on_finish ran while we read; it left r to us. */
        edge_blob_release(dl->got);
        if (dl->fd >= 0) {
            PIER_ASSERT(close(dl->fd) == 0);
        }
        r->loading = NULL;
        req_recycle(r);
        pier_free(dl);
        return;
    }
    r->loading = NULL;
    if (dl->fd >= 0) {
        disk_stream_start(r, dl);
        pier_free(dl);
        return;
    }
    if (dl->got == NULL) {
        miss(r, r->deploy, &dl->k);
        pier_free(dl);
        return;
    }
    etag_len = etag_of(r->entry, (enum edge_enc) dl->k.enc, etag, sizeof(etag));
    add_headers(r, r->entry, (enum edge_enc) dl->k.enc, r->hashed,
                pier_str_make(etag, etag_len), "HIT",
                (int64_t) time(NULL) - dl->got->stored_s);
    send_blob(r, dl->got);
    pier_free(dl);
}

static bool
disk_load_start(struct edge_req *r, struct edge_deploy *d,
                const struct edge_key *k)
{
    struct disk_load *dl = pier_calloc(1, sizeof(*dl));

    dl->r = r;
    dl->k = *k;
    dl->big = r->size > r->w->srv->fetch_max;
    dl->fd = -1;
    dl->work.data = dl;
    edge_deploy_ref(d); /* r->entry points into it until the answer */
    r->deploy = d;
    if (uv_queue_work(r->w->loop, &dl->work, disk_load_work, disk_load_done)
        != 0) {
        pier_free(dl);
        return false;
    }
    r->loading = dl;
    return true;
}

/* Serve entry e of the deploy protected for this request with status. */
static void
serve_entry(struct edge_req *r, struct edge_deploy *d,
            const struct sites_entry *e, bool hashed, int status)
{
    struct edge_server *srv = r->w->srv;
    enum edge_enc enc = pick_encoding(r, e);
    char etag[SITES_SHA256_HEX + 16], cr[EDGE_RANGE_CONTENT_RANGE_MAX];
    size_t etag_len = etag_of(e, enc, etag, sizeof(etag));
    struct pier_str rv, ir;
    struct edge_key k;
    struct edge_blob *b;
    struct pier_err err;
    int rs;

    r->entry = e;
    r->hashed = hashed;
    r->status = status;
    r->size = variant_size(e, enc);
    if (status == 200 && none_match(r, pier_str_make(etag, etag_len))) {
        add_headers(r, e, enc, hashed, pier_str_make(etag, etag_len), "HIT", 0);
        pier_http_resp_send(r->req, 304, PIER_STR_NULL);
        return;
    }
    /* Range: one range, on the identity variant (RFC 9110 14.2), unless
     * If-Range names another representation. */
    rv = pier_http_req_header(r->req, "range");
    if (status == 200 && enc == EDGE_ENC_IDENTITY && rv.ptr != NULL) {
        ir = pier_http_req_header(r->req, "if-range");
        if (ir.ptr == NULL || pier_str_eq(ir, pier_str_make(etag, etag_len))) {
            rs = edge_range_parse(rv.ptr, rv.len, r->size, &r->range);
            if (rs == 416) {
                if (edge_range_content_range(NULL, r->size, cr, sizeof(cr))
                    > 0) {
                    (void) pier_http_resp_header(r->req, "Content-Range",
                                                 pier_str_cstr(cr));
                }
                pier_http_resp_send(r->req, 416, PIER_STR_NULL);
                return;
            }
            if (rs == 206) {
                r->ranged = true;
                r->status = 206;
                PIER_ASSERT(
                    edge_range_content_range(&r->range, r->size, cr, sizeof(cr))
                    > 0);
                (void) pier_http_resp_header(r->req, "Content-Range",
                                             pier_str_cstr(cr));
            }
        }
    }

    PIER_ASSERT(edge_key_parse(&k, pier_str_make(e->sha256, SITES_SHA256_HEX),
                               enc, &err)
                == PIER_OK);
    b = edge_cache_get(srv->cache, &k);
    if (b != NULL) {
        edge_count(r->w, hits, 1);
        add_headers(r, e, enc, hashed, pier_str_make(etag, etag_len), "HIT",
                    (int64_t) time(NULL) - b->stored_s);
        send_blob(r, b);
        return;
    }
    if (edge_cache_disk_has(srv->cache, &k) && disk_load_start(r, d, &k)) {
        return; /* continues in disk_load_done */
    }
    miss(r, d, &k);
}

/* Look path up with pretty URLs: "/a" is "/a", "/a.html" or, redirected
 * to "/a/", "/a/index.html"; "/d/" is "/d/index.html". *redirect is set
 * when the answer is the trailing-slash redirect. */
static const struct sites_entry *
lookup(struct edge_req *r, const struct sites_manifest *m, const char *path,
       bool *hashed, bool *redirect)
{
    const struct sites_entry *e;
    size_t n = strlen(path);

    *redirect = false;
    *hashed = false;
    e = sites_manifest_get(m, pier_str_make(path, n), hashed);
    if (e != NULL) {
        return e;
    }
    if (n + sizeof("/index.html") > sizeof(r->alt)) {
        return NULL;
    }
    memcpy(r->alt, path, n);
    if (path[n - 1] == '/') {
        memcpy(r->alt + n, "index.html", sizeof("index.html"));
        return sites_manifest_get(m, pier_str_cstr(r->alt), hashed);
    }
    memcpy(r->alt + n, ".html", sizeof(".html"));
    e = sites_manifest_get(m, pier_str_cstr(r->alt), hashed);
    if (e != NULL) {
        return e;
    }
    memcpy(r->alt + n, "/index.html", sizeof("/index.html"));
    if (sites_manifest_get(m, pier_str_cstr(r->alt), hashed) != NULL) {
        *redirect = true;
    }
    return NULL;
}

static void
redirect_to(struct edge_req *r, int status, struct pier_str to,
            struct pier_str query)
{
    /* Keep the query string when the target has none (as Netlify does). */
    pier_buf_reset(&r->hdrs);
    if (pier_buf_addstr(&r->hdrs, to) != PIER_OK
        || (query.ptr != NULL && memchr(to.ptr, '?', to.len) == NULL
            && (pier_buf_addch(&r->hdrs, '?') != PIER_OK
                || pier_buf_addstr(&r->hdrs, query) != PIER_OK))) {
        pier_http_resp_error(r->req, 414);
        return;
    }
    (void) pier_http_resp_header(r->req, "Location", pier_buf_str(&r->hdrs));
    send_page(r, status, "", 0);
}

/* The site asks for HTTPS: 301 to the same URL on the TLS listener. */
static void
https_redirect(struct edge_req *r, struct pier_str host,
               const struct edge_target *t)
{
    struct edge_server *srv = r->w->srv;
    size_t n = 0;
    bool ok;

    while (n < host.len && host.ptr[n] != ':') {
        n++;
    }
    pier_buf_reset(&r->hdrs);
    ok = pier_buf_adds(&r->hdrs, "https://") == PIER_OK
         && pier_buf_add(&r->hdrs, host.ptr, n) == PIER_OK;
    if (ok && srv->https_port != 443) {
        ok = pier_buf_addf(&r->hdrs, ":%u", srv->https_port) == PIER_OK;
    }
    /* The path as normalised (safe for a Location), then the query. */
    ok = ok && pier_buf_adds(&r->hdrs, r->path) == PIER_OK;
    if (ok && t->query.ptr != NULL) {
        ok = pier_buf_addch(&r->hdrs, '?') == PIER_OK
             && pier_buf_addstr(&r->hdrs, t->query) == PIER_OK;
    }
    if (!ok) {
        pier_http_resp_error(r->req, 414);
        return;
    }
    (void) pier_http_resp_header(r->req, "Location", pier_buf_str(&r->hdrs));
    send_page(r, 301, "", 0);
}

static void
not_found(struct edge_req *r, struct edge_deploy *d)
{
    const struct sites_entry *e;
    bool hashed;

    atomic_fetch_add(&r->w->srv->not_found, 1);
    e = sites_manifest_get(d->m, PIER_STR("/404.html"), &hashed);
    if (e != NULL) {
        serve_entry(r, d, e, false, 404);
        return;
    }
    send_page(r, 404, page_404, sizeof(page_404) - 1);
}

/* The public listener's handler. */
void
edge_serve(struct pier_http_req *hr, void *udata)
{
    struct edge_server *srv = udata;
    struct edge_worker *w = pier_http_worker_data(pier_http_req_worker(hr));
    struct edge_req *r;
    struct edge_registry *reg;
    struct edge_site *site;
    struct edge_deploy *d;
    const struct sites_entry *e;
    struct edge_target t;
    struct pier_str host;
    struct pier_err err;
    bool hashed, redir;
    int rs;

    PIER_CHECK_OBJ(w, EDGE_WORKER_MAGIC);
    edge_count(w, requests, 1);
    r = req_get(w, hr);
    pier_http_req_on_finish(hr, on_finish, r);
    if (hr->method_id != PIER_HTTP_GET && hr->method_id != PIER_HTTP_HEAD) {
        (void) pier_http_resp_header(hr, "Allow", PIER_STR("GET, HEAD"));
        pier_http_resp_error(hr, 405);
        return;
    }
    if (edge_path_normalise(hr->target.ptr, hr->target.len, r->path,
                            sizeof(r->path), &t, &err)
        != PIER_OK) {
        pier_http_resp_error(hr, 400);
        return;
    }
    host = t.authority.len > 0 ? t.authority : hr->host;
    if (host.len == 0) {
        host = hr->sni;
    }

    reg = edge_registry_get(srv, w->index);
    site = reg != NULL ? edge_hosts_find(reg->hosts, host) : NULL;
    if (site == NULL) {
        edge_hazard_clear(srv->hz, w->index, EDGE_HZ_REGISTRY);
        send_page(r, 404, page_no_site, sizeof(page_no_site) - 1);
        return;
    }
    PIER_CHECK_OBJ(site, EDGE_SITE_MAGIC);
    d = edge_hazard_protect(srv->hz, w->index, EDGE_HZ_DEPLOY, &site->live);
    edge_hazard_clear(srv->hz, w->index, EDGE_HZ_REGISTRY);
    if (d == NULL) {
        send_page(r, 404, page_no_site, sizeof(page_no_site) - 1);
        goto out;
    }
    PIER_CHECK_OBJ(d, EDGE_DEPLOY_MAGIC);
    r->m = d->m;
    if (!hr->tls && atomic_load(&site->redirect_https)
        && srv->https_port != 0) {
        https_redirect(r, host, &t);
        goto out;
    }
    if (hr->tls && atomic_load(&site->hsts_max_age) > 0) {
        (void) pier_http_resp_headerf(
            hr, "Strict-Transport-Security", "max-age=%u%s",
            (unsigned) atomic_load(&site->hsts_max_age),
            atomic_load(&site->hsts_subdomains) ? "; includeSubDomains" : "");
    }

    /* _redirects first; a rule without '!' yields to an existing file. */
    e = lookup(r, d->m, r->path, &hashed, &redir);
    pier_buf_reset(&r->to);
    rs = sites_redirects_match(
        sites_manifest_redirects(d->m), pier_str_cstr(r->path),
        e != NULL ? SITES_REDIRECTS_EXISTS : 0, &r->to, &err);
    if (rs >= 301 && rs <= 308) {
        redirect_to(r, rs, pier_buf_str(&r->to), t.query);
        goto out;
    }
    if (rs == 200 || rs == 404) {
        /* A rewrite: serve the target's content at this URL. */
        if (r->to.len >= sizeof(r->path)) {
            not_found(r, d);
            goto out;
        }
        memcpy(r->path, r->to.data, r->to.len + 1);
        e = lookup(r, d->m, r->path, &hashed, &redir);
        if (e == NULL) {
            not_found(r, d);
            goto out;
        }
        serve_entry(r, d, e, hashed, rs);
        goto out;
    }
    if (e != NULL) {
        serve_entry(r, d, e, hashed, 200);
        goto out;
    }
    if (redir) {
        size_t n = strlen(r->path);

        r->path[n] = '/';
        redirect_to(r, 301, pier_str_make(r->path, n + 1), t.query);
        goto out;
    }
    not_found(r, d);

out:
    edge_hazard_clear(srv->hz, w->index, EDGE_HZ_DEPLOY);
}
