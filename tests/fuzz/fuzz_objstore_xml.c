/*
 * tests/fuzz/fuzz_objstore_xml.c - the object store's XML request bodies:
 * CreateBucketConfiguration, Delete (with its conditions) and
 * CompleteMultipartUpload. Every
 * input must be parsed or refused with MalformedXML, without a leak, a
 * crash or an entity expanded; whatever parses is written back out as a
 * DeleteResult and must be well-formed.
 */
#include "config.h"

#include "objstore/xml.h"

#include <libxml/parser.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    struct pier_str body = pier_str_make((const char *) data, size);
    struct objstore_xml_delete d;
    struct objstore_xml_complete c;
    struct pier_buf region, out;
    struct pier_err err;
    enum pier_s3 *res;
    size_t i;

    if (!init) {
        objstore_xml_init();
        init = true;
    }
    pier_buf_init(&region, 1024);
    if (objstore_xml_parse_location(body, &region, &err) != PIER_OK) {
        PIER_ASSERT(err.s3 == PIER_S3_MALFORMED_XML);
    }
    pier_buf_release(&region);

    objstore_xml_delete_init(&d);
    if (objstore_xml_parse_delete(body, &d, &err) == PIER_OK) {
        PIER_ASSERT(d.n >= 1 && d.n <= OBJSTORE_DELETE_MAX);
        /* Conditions point into the parser's storage, or are empty. */
        for (i = 0; i < d.n; i++) {
            const struct pier_str *e = &d.conds[i].etag;

            PIER_ASSERT(
                e->len == 0
                || (e->ptr >= d.store_.data
                    && e->ptr + e->len <= d.store_.data + d.store_.len));
            PIER_ASSERT(!d.conds[i].has_mtime || d.conds[i].mtime_ms % 1000 == 0
                        || !d.conds[i].mtime_whole_s);
        }
        res = pier_calloc(d.n, sizeof(*res));
        for (i = 0; i < d.n; i++) {
            res[i] = i % 2 == 0 ? PIER_S3_NONE : PIER_S3_KEY_TOO_LONG;
        }
        pier_buf_init(&out, SIZE_MAX);
        PIER_ASSERT(objstore_xml_delete_result(&out, d.quiet, d.keys, res, d.n)
                    == PIER_OK);
        xmlDocPtr doc = xmlReadMemory(out.data, (int) out.len, "o.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR
                                          | XML_PARSE_NOWARNING);
        /* Keys holding bytes XML 1.0 cannot carry (control characters,
         * escaped as S3 does) make the echo unparsable; anything else
         * must parse. */
        bool controls = false;
        for (i = 0; i < d.n; i++) {
            size_t k;
            for (k = 0; k < d.keys[i].len; k++) {
                unsigned char ch = (unsigned char) d.keys[i].ptr[k];
                controls |= ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r';
            }
        }
        PIER_ASSERT(doc != NULL || controls);
        xmlFreeDoc(doc);
        pier_buf_release(&out);
        pier_free(res);
    } else {
        PIER_ASSERT(err.s3 == PIER_S3_MALFORMED_XML);
    }
    objstore_xml_delete_release(&d);

    objstore_xml_complete_init(&c);
    if (objstore_xml_parse_complete(body, &c, &err) == PIER_OK) {
        PIER_ASSERT(c.n >= 1 && c.n <= OBJSTORE_PART_MAX);
        for (i = 0; i < c.n; i++) {
            PIER_ASSERT(c.parts[i].number >= 1
                        && c.parts[i].number <= OBJSTORE_PART_MAX);
        }
    } else {
        PIER_ASSERT(err.s3 == PIER_S3_MALFORMED_XML);
    }
    objstore_xml_complete_release(&c);
    return 0;
}
