/*
 * lib/s3client_xml.c - the S3 client's XML: ListObjectsV2 pages and
 * <Error> documents, parsed with libxml2.
 *
 * Both parsers are lenient about what they do not know (namespaces, extra
 * elements such as StorageClass or Owner) and strict about what they use:
 * a Size that is not a number fails the page rather than becoming 0.
 */
#include "config.h"

#include "lib/s3client.h"

#include "lib/sigv2.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

void
pier_s3_list_init(struct pier_s3_list *l)
{
    memset(l, 0, sizeof(*l));
}

void
pier_s3_list_release(struct pier_s3_list *l)
{
    size_t i;

    for (i = 0; i < l->nobjects; i++) {
        pier_free(l->objects[i].key);
        pier_free(l->objects[i].etag);
    }
    pier_free(l->objects);
    for (i = 0; i < l->nprefixes; i++) {
        pier_free(l->prefixes[i]);
    }
    pier_free(l->prefixes);
    pier_free(l->next_token);
    pier_s3_list_init(l);
}

static bool
named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE
           && strcmp((const char *) n->name, name) == 0;
}

/* The text of n, as a pier_strdup()'d string the caller frees. */
static char *
text(const xmlNode *n)
{
    xmlChar *s = xmlNodeGetContent(n);
    char *copy = pier_strdup(s != NULL ? (const char *) s : "");

    xmlFree(s);
    return copy;
}

static const xmlNode *
child(const xmlNode *n, const char *name)
{
    const xmlNode *k;

    for (k = n->children; k != NULL; k = k->next) {
        if (named(k, name)) {
            return k;
        }
    }
    return NULL;
}

/* "2009-10-12T17:50:30.000Z" (fraction optional) to seconds. */
static int
parse_time(const char *s, int64_t *out)
{
    int64_t ms;

    if (pier_iso8601_parse(pier_str_cstr(s), &ms) != PIER_OK) {
        return PIER_ERR;
    }
    *out = ms / 1000;
    return PIER_OK;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9') {
        return PIER_ERR;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return PIER_ERR;
    }
    *out = v;
    return PIER_OK;
}

static int
parse_contents(const xmlNode *n, struct pier_s3_list *l, struct pier_err *err)
{
    struct pier_s3_object *o;
    const xmlNode *k;
    char *s;
    int rc = PIER_OK;

    if ((l->nobjects & (l->nobjects - 1)) == 0) {
        l->objects =
            pier_realloc(l->objects, (l->nobjects ? l->nobjects * 2 : 1)
                                         * sizeof(*l->objects));
    }
    o = &l->objects[l->nobjects++];
    memset(o, 0, sizeof(*o));
    k = child(n, "Key");
    if (k == NULL) {
        return pier_err_set(err, "ListObjectsV2: Contents without a Key");
    }
    o->key = text(k);
    k = child(n, "ETag");
    o->etag = k != NULL ? text(k) : pier_strdup("");
    k = child(n, "Size");
    if (k != NULL) {
        s = text(k);
        if (parse_u64(s, &o->size) != PIER_OK) {
            rc = pier_err_set(err, "ListObjectsV2: bad Size '%.40s' of '%s'", s,
                              o->key);
        }
        pier_free(s);
    }
    k = child(n, "LastModified");
    if (k != NULL && rc == PIER_OK) {
        s = text(k);
        if (parse_time(s, &o->last_modified) != PIER_OK) {
            rc = pier_err_set(err,
                              "ListObjectsV2: bad LastModified '%.40s' of '%s'",
                              s, o->key);
        } else if (strlen(s) < sizeof(o->last_modified_text)) {
            memcpy(o->last_modified_text, s, strlen(s) + 1);
        }
        pier_free(s);
    }
    return rc;
}

static xmlDoc *
read_doc(const char *xml, size_t n)
{
    if (n > INT32_MAX) {
        return NULL;
    }
    return xmlReadMemory(xml, (int) n, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR
                             | XML_PARSE_NOWARNING);
}

int
pier_s3_list_parse(const char *xml, size_t n, struct pier_s3_list *l,
                   struct pier_err *err)
{
    xmlDoc *doc = read_doc(xml, n);
    const xmlNode *root, *k, *p;
    char *s;
    int rc = PIER_OK;

    if (doc == NULL) {
        return pier_err_s3(err, PIER_S3_MALFORMED_XML,
                           "ListObjectsV2: answer is not XML");
    }
    root = xmlDocGetRootElement(doc);
    if (root == NULL || !named(root, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return pier_err_s3(err, PIER_S3_MALFORMED_XML,
                           "ListObjectsV2: no ListBucketResult");
    }
    for (k = root->children; k != NULL && rc == PIER_OK; k = k->next) {
        if (named(k, "Contents")) {
            rc = parse_contents(k, l, err);
        } else if (named(k, "CommonPrefixes")) {
            p = child(k, "Prefix");
            if (p == NULL) {
                continue;
            }
            if ((l->nprefixes & (l->nprefixes - 1)) == 0) {
                l->prefixes = pier_realloc(l->prefixes,
                                           (l->nprefixes ? l->nprefixes * 2 : 1)
                                               * sizeof(char *));
            }
            l->prefixes[l->nprefixes++] = text(p);
        } else if (named(k, "IsTruncated")) {
            s = text(k);
            l->truncated = strcmp(s, "true") == 0;
            pier_free(s);
        } else if (named(k, "NextContinuationToken")) {
            pier_free(l->next_token);
            l->next_token = text(k);
        }
    }
    xmlFreeDoc(doc);
    if (rc == PIER_OK && l->truncated && l->next_token == NULL) {
        rc = pier_err_set(err, "ListObjectsV2: truncated page without "
                               "NextContinuationToken");
    }
    if (rc == PIER_OK && !l->truncated) {
        pier_free(l->next_token);
        l->next_token = NULL;
    }
    return rc;
}

/* The table row for a status when the answer names no known code: HEAD
 * answers have no body, and proxies answer with HTML. */
static enum pier_s3
by_status(int status)
{
    switch (status) {
    case 304:
        return PIER_S3_NOT_MODIFIED;
    case 400:
        return PIER_S3_INVALID_REQUEST;
    case 403:
        return PIER_S3_ACCESS_DENIED;
    case 404:
        return PIER_S3_NO_SUCH_KEY;
    case 405:
        return PIER_S3_METHOD_NOT_ALLOWED;
    case 411:
        return PIER_S3_MISSING_CONTENT_LENGTH;
    case 412:
        return PIER_S3_PRECONDITION_FAILED;
    case 416:
        return PIER_S3_INVALID_RANGE;
    case 501:
        return PIER_S3_NOT_IMPLEMENTED;
    case 503:
        return PIER_S3_SERVICE_UNAVAILABLE;
    default:
        return status >= 500 ? PIER_S3_INTERNAL_ERROR : PIER_S3_NONE;
    }
}

static enum pier_s3
by_code(const char *code)
{
    int i;

    for (i = PIER_S3_NONE + 1; i < PIER_S3_MAX; i++) {
        if (strcmp(pier_s3_code((enum pier_s3) i), code) == 0) {
            return (enum pier_s3) i;
        }
    }
    return PIER_S3_NONE;
}

int
pier_s3_error_parse(int status, const char *xml, size_t n, const char *what,
                    struct pier_err *err)
{
    xmlDoc *doc = n > 0 ? read_doc(xml, n) : NULL;
    const xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    const xmlNode *k;
    char *code = NULL, *msg = NULL, *reqid = NULL;
    enum pier_s3 s3 = PIER_S3_NONE;

    if (root != NULL && named(root, "Error")) {
        k = child(root, "Code");
        code = k != NULL ? text(k) : NULL;
        k = child(root, "Message");
        msg = k != NULL ? text(k) : NULL;
        k = child(root, "RequestId");
        reqid = k != NULL ? text(k) : NULL;
    }
    if (code != NULL) {
        s3 = by_code(code);
    }
    if (s3 == PIER_S3_NONE) {
        s3 = by_status(status);
    }
    if (s3 != PIER_S3_NONE) {
        pier_err_s3(err, s3, "%s: %d %s%s%s%s%s", what, status,
                    code != NULL ? code : pier_s3_code(s3),
                    msg != NULL ? ": " : "", msg != NULL ? msg : "",
                    reqid != NULL ? " (request " : "",
                    reqid != NULL ? reqid : "");
    } else {
        pier_err_set(err, "%s: HTTP %d%s%s", what, status,
                     code != NULL ? " " : "", code != NULL ? code : "");
    }
    if (reqid != NULL && err != NULL) {
        n = strlen(err->msg);
        if (n + 1 < sizeof(err->msg)) {
            snprintf(err->msg + n, sizeof(err->msg) - n, ")");
        }
    }
    if (err != NULL) {
        err->http = status;
    }
    pier_free(code);
    pier_free(msg);
    pier_free(reqid);
    xmlFreeDoc(doc);
    return PIER_ERR;
}
