/*
 * objstore/xml.c - S3 XML responses and request bodies.
 *
 * Writers OR together the results of their appends: a failed append
 * changes nothing (pier_buf's rule), so one check at the end suffices.
 */
#include "config.h"

#include "objstore/xml.h"

#include "objstore/cond.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static void
silent(void *ctx, const char *msg, ...)
{
    (void) ctx;
    (void) msg;
}

void
objstore_xml_init(void)
{
    xmlInitParser();
    /* Some libxml2 errors (encoding conversion) ignore XML_PARSE_NOERROR:
     * a client's bad body must never reach stderr. The handlers are
     * per-thread globals: set this thread's and every new thread's. */
    xmlSetGenericErrorFunc(NULL, silent);
    xmlThrDefSetGenericErrorFunc(NULL, silent);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

int
objstore_xml_escape(struct pier_buf *out, struct pier_str s)
{
    size_t i, start = 0;
    int rc = PIER_OK;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];
        const char *rep = NULL;
        char num[8];

        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(num, sizeof(num), "&#x%X;", c);
                rep = num;
            }
        }
        if (rep != NULL) {
            rc |= pier_buf_add(out, s.ptr + start, i - start);
            rc |= pier_buf_adds(out, rep);
            start = i + 1;
        }
    }
    rc |= pier_buf_add(out, s.ptr + start, s.len - start);
    return rc != PIER_OK ? PIER_ERR : PIER_OK;
}

int
objstore_xml_urlencode(struct pier_buf *out, struct pier_str s)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t i;
    int rc = PIER_OK;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char) s.ptr[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || c == '/') {
            rc |= pier_buf_addch(out, (char) c);
        } else {
            rc |= pier_buf_addch(out, '%');
            rc |= pier_buf_addch(out, hexd[c >> 4]);
            rc |= pier_buf_addch(out, hexd[c & 15]);
        }
    }
    return rc != PIER_OK ? PIER_ERR : PIER_OK;
}

void
objstore_xml_time(int64_t ms, char out[32])
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    char tmp[96];

    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) (ms % 1000));
    memcpy(out, tmp, 31);
    out[31] = '\0';
}

/* <name>escaped value</name> */
static int
tag(struct pier_buf *out, const char *name, struct pier_str value)
{
    int rc = pier_buf_addf(out, "<%s>", name);

    rc |= objstore_xml_escape(out, value);
    rc |= pier_buf_addf(out, "</%s>", name);
    return rc;
}

/* The same, url-encoded first when url. */
static int
tag_key(struct pier_buf *out, const char *name, struct pier_str value, bool url)
{
    int rc;

    if (!url) {
        return tag(out, name, value);
    }
    rc = pier_buf_addf(out, "<%s>", name);
    rc |= objstore_xml_urlencode(out, value);
    rc |= pier_buf_addf(out, "</%s>", name);
    return rc;
}

static int
tag_etag(struct pier_buf *out, const char *etag)
{
    return pier_buf_addf(out, "<ETag>&quot;%s&quot;</ETag>", etag);
}

static int
owner(struct pier_buf *out, const char *elem, const char *id, const char *name)
{
    int rc = pier_buf_addf(out, "<%s>", elem);

    rc |= tag(out, "ID", pier_str_cstr(id));
    rc |= tag(out, "DisplayName", pier_str_cstr(name));
    rc |= pier_buf_addf(out, "</%s>", elem);
    return rc;
}

static int
done(int rc)
{
    return rc != PIER_OK ? PIER_ERR : PIER_OK;
}

int
objstore_xml_error(struct pier_buf *out, enum pier_s3 s3,
                   struct pier_str resource, const char *request_id,
                   const char *extra_name, struct pier_str extra_value)
{
    int rc = pier_buf_adds(out, DECL "<Error>");

    rc |= tag(out, "Code", pier_str_cstr(pier_s3_code(s3)));
    rc |= tag(out, "Message", pier_str_cstr(pier_s3_message(s3)));
    if (extra_name != NULL) {
        rc |= tag(out, extra_name, extra_value);
    }
    rc |= tag(out, "Resource", resource);
    rc |= tag(out, "RequestId", pier_str_cstr(request_id));
    rc |= pier_buf_adds(out, "</Error>\n");
    return done(rc);
}

int
objstore_xml_list_buckets(struct pier_buf *out,
                          const struct objstore_bucket_info *buckets, size_t n,
                          const char *owner_id, const char *owner_name)
{
    char t[32];
    size_t i;
    int rc = pier_buf_adds(
        out, DECL "<ListAllMyBucketsResult xmlns=\"" OBJSTORE_XML_NS "\">");

    rc |= owner(out, "Owner", owner_id, owner_name);
    rc |= pier_buf_adds(out, "<Buckets>");
    for (i = 0; i < n; i++) {
        objstore_xml_time(buckets[i].created_ms, t);
        rc |= pier_buf_adds(out, "<Bucket>");
        rc |= tag(out, "Name", pier_str_cstr(buckets[i].name));
        rc |= tag(out, "CreationDate", pier_str_cstr(t));
        rc |= pier_buf_adds(out, "</Bucket>");
    }
    rc |= pier_buf_adds(out, "</Buckets></ListAllMyBucketsResult>\n");
    return done(rc);
}

static int
token_encode(struct pier_buf *out, struct pier_str key)
{
    static const char hexd[] = "0123456789abcdef";
    size_t i;
    int rc = PIER_OK;

    for (i = 0; i < key.len; i++) {
        rc |= pier_buf_addch(out, hexd[(unsigned char) key.ptr[i] >> 4]);
        rc |= pier_buf_addch(out, hexd[(unsigned char) key.ptr[i] & 15]);
    }
    return rc;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int
objstore_xml_token_decode(struct pier_str token, struct pier_buf *out,
                          struct pier_err *err)
{
    size_t i;

    if (token.len % 2 != 0 || token.len > 2 * OBJSTORE_KEY_MAX) {
        return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                           "bad continuation token");
    }
    for (i = 0; i < token.len; i += 2) {
        int hi = hexval(token.ptr[i]), lo = hexval(token.ptr[i + 1]);

        if (hi < 0 || lo < 0
            || pier_buf_addch(out, (char) (hi * 16 + lo)) != PIER_OK) {
            return pier_err_s3(err, PIER_S3_INVALID_ARGUMENT,
                               "bad continuation token");
        }
    }
    return PIER_OK;
}

int
objstore_xml_list_objects(struct pier_buf *out,
                          const struct objstore_xml_listing *p,
                          const struct objstore_list *page)
{
    char t[32];
    size_t i, nkeys = 0;
    int rc = pier_buf_adds(out, DECL
                           "<ListBucketResult xmlns=\"" OBJSTORE_XML_NS "\">");

    rc |= tag(out, "Name", p->bucket);
    rc |= tag_key(out, "Prefix", p->prefix, p->url);
    if (p->version == 2) {
        if (p->marker.len > 0) {
            rc |= tag_key(out, "StartAfter", p->marker, p->url);
        }
        if (p->token.ptr != NULL) {
            rc |= tag(out, "ContinuationToken", p->token);
        }
        for (i = 0; i < page->n; i++) {
            nkeys++;
        }
        rc |= pier_buf_addf(out, "<KeyCount>%zu</KeyCount>", nkeys);
        if (page->truncated) {
            rc |= pier_buf_adds(out, "<NextContinuationToken>");
            rc |= token_encode(out, page->next);
            rc |= pier_buf_adds(out, "</NextContinuationToken>");
        }
    } else {
        rc |= tag_key(out, "Marker", p->marker, p->url);
        if (page->truncated) {
            rc |= tag_key(out, "NextMarker", page->next, p->url);
        }
    }
    rc |= pier_buf_addf(out, "<MaxKeys>%zu</MaxKeys>", p->max_keys);
    if (p->delimiter.len > 0) {
        rc |= tag_key(out, "Delimiter", p->delimiter, p->url);
    }
    if (p->url) {
        rc |= pier_buf_adds(out, "<EncodingType>url</EncodingType>");
    }
    rc |= pier_buf_addf(out, "<IsTruncated>%s</IsTruncated>",
                        page->truncated ? "true" : "false");
    for (i = 0; i < page->n; i++) {
        const struct objstore_list_entry *e = &page->entries[i];

        if (e->is_prefix) {
            continue;
        }
        objstore_xml_time(e->mtime_ms, t);
        rc |= pier_buf_adds(out, "<Contents>");
        rc |= tag_key(out, "Key", e->key, p->url);
        rc |= tag(out, "LastModified", pier_str_cstr(t));
        rc |= tag_etag(out, e->etag);
        rc |= pier_buf_addf(out, "<Size>%llu</Size>",
                            (unsigned long long) e->size);
        if (p->version == 1 || p->fetch_owner) {
            rc |= owner(out, "Owner", p->owner_id, p->owner_name);
        }
        rc |= pier_buf_adds(out, "<StorageClass>STANDARD</StorageClass>"
                                 "</Contents>");
    }
    for (i = 0; i < page->n; i++) {
        const struct objstore_list_entry *e = &page->entries[i];

        if (!e->is_prefix) {
            continue;
        }
        rc |= pier_buf_adds(out, "<CommonPrefixes>");
        rc |= tag_key(out, "Prefix", e->key, p->url);
        rc |= pier_buf_adds(out, "</CommonPrefixes>");
    }
    rc |= pier_buf_adds(out, "</ListBucketResult>\n");
    return done(rc);
}

int
objstore_xml_location(struct pier_buf *out, struct pier_str region)
{
    int rc = pier_buf_adds(
        out, DECL "<LocationConstraint xmlns=\"" OBJSTORE_XML_NS "\">");

    /* us-east-1 is the empty constraint, as S3 answers. */
    if (!pier_str_eq(region, PIER_STR("us-east-1"))) {
        rc |= objstore_xml_escape(out, region);
    }
    rc |= pier_buf_adds(out, "</LocationConstraint>\n");
    return done(rc);
}

int
objstore_xml_versioning(struct pier_buf *out)
{
    return done(pier_buf_adds(
        out,
        DECL "<VersioningConfiguration xmlns=\"" OBJSTORE_XML_NS "\"/>\n"));
}

int
objstore_xml_copy_result(struct pier_buf *out, const char *etag,
                         int64_t mtime_ms)
{
    char t[32];
    int rc = pier_buf_adds(out, DECL
                           "<CopyObjectResult xmlns=\"" OBJSTORE_XML_NS "\">");

    objstore_xml_time(mtime_ms, t);
    rc |= tag(out, "LastModified", pier_str_cstr(t));
    rc |= tag_etag(out, etag);
    rc |= pier_buf_adds(out, "</CopyObjectResult>\n");
    return done(rc);
}

int
objstore_xml_initiate(struct pier_buf *out, struct pier_str bucket,
                      struct pier_str key, const char *upload_id)
{
    int rc = pier_buf_adds(
        out,
        DECL "<InitiateMultipartUploadResult xmlns=\"" OBJSTORE_XML_NS "\">");

    rc |= tag(out, "Bucket", bucket);
    rc |= tag(out, "Key", key);
    rc |= tag(out, "UploadId", pier_str_cstr(upload_id));
    rc |= pier_buf_adds(out, "</InitiateMultipartUploadResult>\n");
    return done(rc);
}

int
objstore_xml_complete(struct pier_buf *out, struct pier_str location,
                      struct pier_str bucket, struct pier_str key,
                      const char *etag)
{
    int rc = pier_buf_adds(
        out,
        DECL "<CompleteMultipartUploadResult xmlns=\"" OBJSTORE_XML_NS "\">");

    rc |= tag(out, "Location", location);
    rc |= tag(out, "Bucket", bucket);
    rc |= tag(out, "Key", key);
    rc |= tag_etag(out, etag);
    rc |= pier_buf_adds(out, "</CompleteMultipartUploadResult>\n");
    return done(rc);
}

int
objstore_xml_list_parts(struct pier_buf *out,
                        const struct objstore_xml_parts *p,
                        const struct objstore_part_info *parts, size_t n,
                        bool truncated)
{
    char t[32];
    size_t i;
    int rc = pier_buf_adds(out, DECL "<ListPartsResult xmlns=\"" OBJSTORE_XML_NS
                                     "\">");

    rc |= tag(out, "Bucket", p->bucket);
    rc |= tag(out, "Key", p->key);
    rc |= tag(out, "UploadId", p->upload_id);
    rc |= owner(out, "Initiator", p->owner_id, p->owner_name);
    rc |= owner(out, "Owner", p->owner_id, p->owner_name);
    rc |= pier_buf_adds(out, "<StorageClass>STANDARD</StorageClass>");
    rc |= pier_buf_addf(out, "<PartNumberMarker>%u</PartNumberMarker>",
                        p->marker);
    if (truncated && n > 0) {
        rc |= pier_buf_addf(out,
                            "<NextPartNumberMarker>%u</NextPartNumberMarker>",
                            parts[n - 1].number);
    }
    rc |= pier_buf_addf(out, "<MaxParts>%zu</MaxParts>", p->max_parts);
    rc |= pier_buf_addf(out, "<IsTruncated>%s</IsTruncated>",
                        truncated ? "true" : "false");
    for (i = 0; i < n; i++) {
        objstore_xml_time(parts[i].mtime_ms, t);
        rc |= pier_buf_addf(out, "<Part><PartNumber>%u</PartNumber>",
                            parts[i].number);
        rc |= tag(out, "LastModified", pier_str_cstr(t));
        rc |= tag_etag(out, parts[i].etag);
        rc |= pier_buf_addf(out, "<Size>%llu</Size></Part>",
                            (unsigned long long) parts[i].size);
    }
    rc |= pier_buf_adds(out, "</ListPartsResult>\n");
    return done(rc);
}

int
objstore_xml_list_uploads(struct pier_buf *out,
                          const struct objstore_xml_uploads *p,
                          const struct objstore_upload_list *list)
{
    char t[32];
    size_t i;
    int rc = pier_buf_adds(
        out, DECL "<ListMultipartUploadsResult xmlns=\"" OBJSTORE_XML_NS "\">");

    rc |= tag(out, "Bucket", p->bucket);
    rc |= tag_key(out, "KeyMarker", p->key_marker, p->url);
    rc |= tag(out, "UploadIdMarker", p->id_marker);
    if (list->truncated && list->n > 0) {
        const struct objstore_upload_info *last = &list->uploads[list->n - 1];

        rc |= tag_key(out, "NextKeyMarker", last->key, p->url);
        if (!last->is_prefix) {
            rc |= tag(out, "NextUploadIdMarker", pier_str_cstr(last->id));
        }
    }
    rc |= tag_key(out, "Prefix", p->prefix, p->url);
    if (p->delimiter.len > 0) {
        rc |= tag_key(out, "Delimiter", p->delimiter, p->url);
    }
    rc |= pier_buf_addf(out, "<MaxUploads>%zu</MaxUploads>", p->max_uploads);
    if (p->url) {
        rc |= pier_buf_adds(out, "<EncodingType>url</EncodingType>");
    }
    rc |= pier_buf_addf(out, "<IsTruncated>%s</IsTruncated>",
                        list->truncated ? "true" : "false");
    for (i = 0; i < list->n; i++) {
        const struct objstore_upload_info *u = &list->uploads[i];

        if (u->is_prefix) {
            continue;
        }
        objstore_xml_time(u->created_ms, t);
        rc |= pier_buf_adds(out, "<Upload>");
        rc |= tag_key(out, "Key", u->key, p->url);
        rc |= tag(out, "UploadId", pier_str_cstr(u->id));
        rc |= owner(out, "Initiator", p->owner_id, p->owner_name);
        rc |= owner(out, "Owner", p->owner_id, p->owner_name);
        rc |= pier_buf_adds(out, "<StorageClass>STANDARD</StorageClass>");
        rc |= tag(out, "Initiated", pier_str_cstr(t));
        rc |= pier_buf_adds(out, "</Upload>");
    }
    for (i = 0; i < list->n; i++) {
        if (list->uploads[i].is_prefix) {
            rc |= pier_buf_adds(out, "<CommonPrefixes>");
            rc |= tag_key(out, "Prefix", list->uploads[i].key, p->url);
            rc |= pier_buf_adds(out, "</CommonPrefixes>");
        }
    }
    rc |= pier_buf_adds(out, "</ListMultipartUploadsResult>\n");
    return done(rc);
}

int
objstore_xml_delete_result(struct pier_buf *out, bool quiet,
                           const struct pier_str *keys,
                           const enum pier_s3 *results, size_t n)
{
    size_t i;
    int rc =
        pier_buf_adds(out, DECL "<DeleteResult xmlns=\"" OBJSTORE_XML_NS "\">");

    for (i = 0; i < n; i++) {
        if (results[i] == PIER_S3_NONE) {
            if (!quiet) {
                rc |= pier_buf_adds(out, "<Deleted>");
                rc |= tag(out, "Key", keys[i]);
                rc |= pier_buf_adds(out, "</Deleted>");
            }
            continue;
        }
        rc |= pier_buf_adds(out, "<Error>");
        rc |= tag(out, "Key", keys[i]);
        rc |= tag(out, "Code", pier_str_cstr(pier_s3_code(results[i])));
        rc |= tag(out, "Message", pier_str_cstr(pier_s3_message(results[i])));
        rc |= pier_buf_adds(out, "</Error>");
    }
    rc |= pier_buf_adds(out, "</DeleteResult>\n");
    return done(rc);
}

/* ---- parsing ---- */

static int
malformed(struct pier_err *err, const char *what)
{
    return pier_err_s3(err, PIER_S3_MALFORMED_XML, "%s", what);
}

/* Parse body; NULL with MalformedXML on any error or any DTD. */
static xmlDocPtr
parse(struct pier_str body, const char *root, struct pier_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr r;

    if (body.len == 0 || body.len > INT_MAX) {
        malformed(err, "empty or huge body");
        return NULL;
    }
    /* NONET: never fetch. No NOENT: entities stay references. NO{ERROR,
     * WARNING}: libxml2 must not print. */
    doc = xmlReadMemory(body.ptr, (int) body.len, "body.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR
                            | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (doc == NULL) {
        malformed(err, "not well-formed");
        return NULL;
    }
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        xmlFreeDoc(doc);
        malformed(err, "DTDs are refused");
        return NULL;
    }
    r = xmlDocGetRootElement(doc);
    if (r == NULL || xmlStrcmp(r->name, (const xmlChar *) root) != 0) {
        xmlFreeDoc(doc);
        malformed(err, "unexpected root element");
        return NULL;
    }
    return doc;
}

static bool
is_elem(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE
           && xmlStrcmp(n->name, (const xmlChar *) name) == 0;
}

/* The text of element n, which must hold only text; appended to out.
 * PIER_ERR when it holds elements, entity references or too much. */
static int
text(xmlNodePtr n, struct pier_buf *out)
{
    xmlNodePtr c;

    for (c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content != NULL
                && pier_buf_adds(out, (const char *) c->content) != PIER_OK) {
                return PIER_ERR;
            }
        } else if (c->type != XML_COMMENT_NODE) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

int
objstore_xml_parse_location(struct pier_str body, struct pier_buf *region,
                            struct pier_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr n;
    int rc = PIER_OK;
    size_t i;

    for (i = 0; i < body.len; i++) {
        char c = body.ptr[i];

        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            break;
        }
    }
    if (i == body.len) {
        return PIER_OK;
    }
    doc = parse(body, "CreateBucketConfiguration", err);
    if (doc == NULL) {
        return PIER_ERR;
    }
    for (n = xmlDocGetRootElement(doc)->children; n != NULL; n = n->next) {
        if (is_elem(n, "LocationConstraint")) {
            if (text(n, region) != PIER_OK) {
                rc = malformed(err, "bad LocationConstraint");
            }
            break;
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

void
objstore_xml_delete_init(struct objstore_xml_delete *d)
{
    memset(d, 0, sizeof(*d));
    pier_buf_init(&d->store_, 4 * 1024 * 1024);
}

void
objstore_xml_delete_release(struct objstore_xml_delete *d)
{
    pier_free(d->keys);
    d->keys = NULL;
    pier_free(d->conds);
    d->conds = NULL;
    d->n = 0;
    pier_buf_release(&d->store_);
}

/* An <Object>'s conditions: ETag (appended to store, *eoff and *elen
 * say where), LastModifiedTime, Size. MalformedXML when one is bad. */
static int
object_cond(xmlNodePtr obj, struct pier_buf *store, size_t *eoff, size_t *elen,
            struct objstore_del_cond *cond, struct pier_err *err)
{
    struct pier_buf v;
    xmlNodePtr c;
    char *end;
    int rc = PIER_OK;

    pier_buf_init(&v, 64);
    for (c = obj->children; c != NULL && rc == PIER_OK; c = c->next) {
        if (is_elem(c, "ETag")) {
            *eoff = store->len;
            if (text(c, store) != PIER_OK) {
                rc = malformed(err, "bad ETag");
            }
            *elen = store->len - *eoff;
            continue;
        }
        if (!is_elem(c, "LastModifiedTime") && !is_elem(c, "Size")) {
            continue;
        }
        pier_buf_reset(&v);
        if (text(c, &v) != PIER_OK) {
            rc = malformed(err, "bad condition");
        } else if (is_elem(c, "Size")) {
            errno = 0;
            cond->size = strtoull(v.data, &end, 10);
            cond->has_size = true;
            if (v.len == 0 || v.data[0] < '0' || v.data[0] > '9' || *end != '\0'
                || errno != 0) {
                rc = malformed(err, "bad Size");
            }
        } else {
            cond->has_mtime = true;
            if (objstore_time_parse(pier_buf_str(&v), &cond->mtime_ms,
                                    &cond->mtime_whole_s)
                != PIER_OK) {
                rc = malformed(err, "bad LastModifiedTime");
            }
        }
    }
    pier_buf_release(&v);
    return rc;
}

int
objstore_xml_parse_delete(struct pier_str body, struct objstore_xml_delete *d,
                          struct pier_err *err)
{
    struct pier_buf q;
    size_t *offs = NULL, *lens = NULL, *eoffs = NULL, *elens = NULL, i;
    xmlDocPtr doc;
    xmlNodePtr n, c;
    int rc = PIER_ERR;

    doc = parse(body, "Delete", err);
    if (doc == NULL) {
        return PIER_ERR;
    }
    pier_buf_init(&q, 16);
    offs = pier_calloc(OBJSTORE_DELETE_MAX, sizeof(*offs));
    lens = pier_calloc(OBJSTORE_DELETE_MAX, sizeof(*lens));
    eoffs = pier_calloc(OBJSTORE_DELETE_MAX, sizeof(*eoffs));
    elens = pier_calloc(OBJSTORE_DELETE_MAX, sizeof(*elens));
    d->conds = pier_calloc(OBJSTORE_DELETE_MAX, sizeof(*d->conds));
    for (n = xmlDocGetRootElement(doc)->children; n != NULL; n = n->next) {
        if (is_elem(n, "Quiet")) {
            pier_buf_reset(&q);
            if (text(n, &q) != PIER_OK) {
                malformed(err, "bad Quiet");
                goto out;
            }
            d->quiet = pier_str_eq(pier_buf_str(&q), PIER_STR("true"));
            continue;
        }
        if (!is_elem(n, "Object")) {
            continue;
        }
        if (d->n == OBJSTORE_DELETE_MAX) {
            malformed(err, "more than 1000 keys");
            goto out;
        }
        for (c = n->children; c != NULL; c = c->next) {
            if (is_elem(c, "Key")) {
                break;
            }
        }
        if (c == NULL) {
            malformed(err, "an Object without a Key");
            goto out;
        }
        offs[d->n] = d->store_.len;
        if (text(c, &d->store_) != PIER_OK) {
            malformed(err, "bad Key");
            goto out;
        }
        lens[d->n] = d->store_.len - offs[d->n];
        if (object_cond(n, &d->store_, &eoffs[d->n], &elens[d->n],
                        &d->conds[d->n], err)
            != PIER_OK) {
            goto out;
        }
        d->n++;
    }
    if (d->n == 0) {
        malformed(err, "no Object");
        goto out;
    }
    /* The store may have moved while it grew: views only now. */
    d->keys = pier_calloc(d->n, sizeof(*d->keys));
    for (i = 0; i < d->n; i++) {
        d->keys[i] = pier_str_make(d->store_.data + offs[i], lens[i]);
        d->conds[i].etag = pier_str_make(d->store_.data + eoffs[i], elens[i]);
    }
    rc = PIER_OK;
out:
    if (rc != PIER_OK) {
        d->n = 0;
        pier_free(d->conds);
        d->conds = NULL;
    }
    pier_free(offs);
    pier_free(lens);
    pier_free(eoffs);
    pier_free(elens);
    pier_buf_release(&q);
    xmlFreeDoc(doc);
    return rc;
}

void
objstore_xml_complete_init(struct objstore_xml_complete *c)
{
    memset(c, 0, sizeof(*c));
    pier_buf_init(&c->store_, 1024 * 1024);
}

void
objstore_xml_complete_release(struct objstore_xml_complete *c)
{
    pier_free(c->parts);
    c->parts = NULL;
    c->n = 0;
    pier_buf_release(&c->store_);
}

static int
part_number(const struct pier_buf *b, unsigned *out)
{
    size_t i;
    unsigned v = 0;

    if (b->len == 0 || b->len > 5) {
        return PIER_ERR;
    }
    for (i = 0; i < b->len; i++) {
        if (b->data[i] < '0' || b->data[i] > '9') {
            return PIER_ERR;
        }
        v = v * 10 + (unsigned) (b->data[i] - '0');
    }
    if (v < 1 || v > OBJSTORE_PART_MAX) {
        return PIER_ERR;
    }
    *out = v;
    return PIER_OK;
}

int
objstore_xml_parse_complete(struct pier_str body,
                            struct objstore_xml_complete *cm,
                            struct pier_err *err)
{
    struct pier_buf num;
    size_t cap = 0, *offs = NULL, *lens = NULL, i;
    xmlDocPtr doc;
    xmlNodePtr n, c;
    int rc = PIER_ERR;

    doc = parse(body, "CompleteMultipartUpload", err);
    if (doc == NULL) {
        return PIER_ERR;
    }
    pier_buf_init(&num, 16);
    for (n = xmlDocGetRootElement(doc)->children; n != NULL; n = n->next) {
        bool have_num = false, have_etag = false;
        unsigned number = 0;

        if (!is_elem(n, "Part")) {
            continue;
        }
        if (cm->n == OBJSTORE_PART_MAX) {
            malformed(err, "more than 10000 parts");
            goto out;
        }
        if (cm->n == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            cm->parts = pier_realloc(cm->parts, cap * sizeof(*cm->parts));
            offs = pier_realloc(offs, cap * sizeof(*offs));
            lens = pier_realloc(lens, cap * sizeof(*lens));
        }
        for (c = n->children; c != NULL; c = c->next) {
            if (is_elem(c, "PartNumber") && !have_num) {
                pier_buf_reset(&num);
                if (text(c, &num) != PIER_OK
                    || part_number(&num, &number) != PIER_OK) {
                    malformed(err, "bad PartNumber");
                    goto out;
                }
                have_num = true;
            } else if (is_elem(c, "ETag") && !have_etag) {
                offs[cm->n] = cm->store_.len;
                if (text(c, &cm->store_) != PIER_OK) {
                    malformed(err, "bad ETag");
                    goto out;
                }
                lens[cm->n] = cm->store_.len - offs[cm->n];
                have_etag = true;
            }
        }
        if (!have_num || !have_etag) {
            malformed(err, "a Part without PartNumber or ETag");
            goto out;
        }
        cm->parts[cm->n].number = number;
        cm->n++;
    }
    if (cm->n == 0) {
        malformed(err, "no Part");
        goto out;
    }
    for (i = 0; i < cm->n; i++) {
        cm->parts[i].etag = pier_str_make(cm->store_.data + offs[i], lens[i]);
    }
    rc = PIER_OK;
out:
    if (rc != PIER_OK) {
        cm->n = 0;
    }
    pier_free(offs);
    pier_free(lens);
    pier_buf_release(&num);
    xmlFreeDoc(doc);
    return rc;
}
