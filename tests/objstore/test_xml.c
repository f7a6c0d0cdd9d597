/*
 * tests/objstore/test_xml.c - objstore/xml.c: response documents (well
 * formed, escaped, the fields clients read) and request bodies (valid,
 * malformed, hostile).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objstore/xml.h"

#include <stdio.h>

#include <libxml/parser.h>

/* Every document we write must parse. */
static void
assert_well_formed(const struct pier_buf *b)
{
    xmlDocPtr doc = xmlReadMemory(b->data, (int) b->len, "out.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR
                                      | XML_PARSE_NOWARNING);

    if (doc == NULL) {
        fail_msg("not well-formed: %s", b->data);
    }
    xmlFreeDoc(doc);
}

static void
assert_has(const struct pier_buf *b, const char *s)
{
    if (strstr(b->data, s) == NULL) {
        fail_msg("'%s' not in %s", s, b->data);
    }
}

static void
test_xml_escape_and_urlencode(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_escape(&b, PIER_STR("a<b>&\"'\x01\xc3\xa9")),
                     PIER_OK);
    assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;&apos;&#x1;\xc3\xa9");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_urlencode(&b, PIER_STR("a b/c+d\xc3\xa9~")),
                     PIER_OK);
    assert_string_equal(b.data, "a%20b/c%2Bd%C3%A9~");
    pier_buf_release(&b);
    pier_buf_init(&b, 4);
    assert_int_equal(objstore_xml_escape(&b, PIER_STR("<<")), PIER_ERR);
    pier_buf_release(&b);
}

static void
test_xml_time(void **state)
{
    char t[32];

    (void) state;
    objstore_xml_time(1700000000123LL, t);
    assert_string_equal(t, "2023-11-14T22:13:20.123Z");
    objstore_xml_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
}

static void
test_xml_error_document(void **state)
{
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_error(&b, PIER_S3_NO_SUCH_KEY,
                                        PIER_STR("/bkt/a<b"), "0123abcd", "Key",
                                        PIER_STR("a<b")),
                     PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<Error><Code>NoSuchKey</Code>");
    assert_has(&b, "<Message>The specified key does not exist.</Message>");
    assert_has(&b, "<Key>a&lt;b</Key>");
    assert_has(&b, "<Resource>/bkt/a&lt;b</Resource>");
    assert_has(&b, "<RequestId>0123abcd</RequestId>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_error(&b, PIER_S3_ACCESS_DENIED,
                                        PIER_STR("/"), "x", NULL,
                                        PIER_STR_NULL),
                     PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<Code>AccessDenied</Code>");
    pier_buf_release(&b);
}

static void
test_xml_list_buckets(void **state)
{
    struct objstore_bucket_info bk[2] = {{"aaa", 0}, {"bbb", 1700000000000}};
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_list_buckets(&b, bk, 2, "id1", "pier"),
                     PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<ListAllMyBucketsResult xmlns=\"" OBJSTORE_XML_NS "\">");
    assert_has(&b,
               "<Owner><ID>id1</ID><DisplayName>pier</DisplayName></Owner>");
    assert_has(&b, "<Bucket><Name>bbb</Name><CreationDate>"
                   "2023-11-14T22:13:20.000Z</CreationDate></Bucket>");
    pier_buf_release(&b);
}

static void
fake_page(struct objstore_list *l, bool truncated)
{
    static struct objstore_list_entry e[3];

    memset(e, 0, sizeof(e));
    e[0].key = PIER_STR("a&b");
    e[0].size = 5;
    e[0].mtime_ms = 1700000000000LL;
    snprintf(e[0].etag, sizeof(e[0].etag), "%s",
             "5d41402abc4b2a76b9719d911017c592");
    e[1].key = PIER_STR("dir/");
    e[1].is_prefix = true;
    e[2].key = PIER_STR("sp ace");
    e[2].size = 0;
    snprintf(e[2].etag, sizeof(e[2].etag), "%s", "x-2");
    objstore_list_init(l);
    l->entries = e;
    l->n = 3;
    l->truncated = truncated;
    l->next = e[2].key;
}

static void
test_xml_list_objects_v1_v2(void **state)
{
    struct objstore_xml_listing p = {
        .version = 1,
        .bucket = PIER_STR("bkt"),
        .prefix = PIER_STR(""),
        .delimiter = PIER_STR("/"),
        .marker = PIER_STR("m"),
        .max_keys = 3,
        .owner_id = "id1",
        .owner_name = "pier",
    };
    struct objstore_list l;
    struct pier_buf b, tok;
    struct pier_err err;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    fake_page(&l, true);
    assert_int_equal(objstore_xml_list_objects(&b, &p, &l), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<Name>bkt</Name><Prefix></Prefix><Marker>m</Marker>"
                   "<NextMarker>sp ace</NextMarker><MaxKeys>3</MaxKeys>"
                   "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>");
    assert_has(&b, "<Contents><Key>a&amp;b</Key><LastModified>"
                   "2023-11-14T22:13:20.000Z</LastModified><ETag>&quot;"
                   "5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size>"
                   "<Owner>");
    assert_has(&b, "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>");
    assert_null(strstr(b.data, "<Key>dir/</Key>"));

    pier_buf_reset(&b);
    p.version = 2;
    p.url = true;
    p.marker = PIER_STR("");
    p.token = PIER_STR("abcd");
    assert_int_equal(objstore_xml_list_objects(&b, &p, &l), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<ContinuationToken>abcd</ContinuationToken>"
                   "<KeyCount>3</KeyCount><NextContinuationToken>"
                   "737020616365</NextContinuationToken>");
    assert_has(&b, "<EncodingType>url</EncodingType>");
    assert_has(&b, "<Key>a%26b</Key>");
    assert_has(&b, "<Key>sp%20ace</Key>");
    assert_null(strstr(b.data, "<Owner>"));
    assert_null(strstr(b.data, "StartAfter"));
    pier_buf_init(&tok, SIZE_MAX);
    assert_int_equal(
        objstore_xml_token_decode(PIER_STR("737020616365"), &tok, &err),
        PIER_OK);
    assert_string_equal(tok.data, "sp ace");
    pier_buf_reset(&tok);
    assert_int_equal(objstore_xml_token_decode(PIER_STR("7g"), &tok, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_INVALID_ARGUMENT);
    assert_int_equal(objstore_xml_token_decode(PIER_STR("737"), &tok, &err),
                     PIER_ERR);
    pier_buf_release(&tok);
    pier_buf_release(&b);
    l.entries = NULL;
    objstore_list_release(&l);
}

static void
test_xml_small_documents(void **state)
{
    struct objstore_part_info parts[2] = {
        {1, 5, 0, "aa"},
        {2, 6, 0, "bb"},
    };
    struct objstore_xml_parts pp = {
        PIER_STR("bkt"), PIER_STR("k"), PIER_STR("up1"), 0, 2, "id", "pier"};
    struct pier_str keys[2] = {PIER_STR("ok"), PIER_STR("long")};
    enum pier_s3 res[2] = {PIER_S3_NONE, PIER_S3_KEY_TOO_LONG};
    struct pier_buf b;

    (void) state;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_location(&b, PIER_STR("us-east-1")), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "\"></LocationConstraint>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_location(&b, PIER_STR("eu-west-1")), PIER_OK);
    assert_has(&b, ">eu-west-1</LocationConstraint>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_copy_result(&b, "abc", 0), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<ETag>&quot;abc&quot;</ETag>");
    pier_buf_reset(&b);
    assert_int_equal(
        objstore_xml_initiate(&b, PIER_STR("bkt"), PIER_STR("k&"), "up1"),
        PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<Bucket>bkt</Bucket><Key>k&amp;</Key>"
                   "<UploadId>up1</UploadId>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_complete(&b, PIER_STR("http://h/bkt/k"),
                                           PIER_STR("bkt"), PIER_STR("k"),
                                           "ff-2"),
                     PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<ETag>&quot;ff-2&quot;</ETag>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_list_parts(&b, &pp, parts, 2, true), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<NextPartNumberMarker>2</NextPartNumberMarker>");
    assert_has(&b, "<Part><PartNumber>1</PartNumber>");
    assert_has(&b, "<IsTruncated>true</IsTruncated>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_delete_result(&b, false, keys, res, 2),
                     PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<Deleted><Key>ok</Key></Deleted>");
    assert_has(&b, "<Error><Key>long</Key><Code>KeyTooLongError</Code>");
    pier_buf_reset(&b);
    assert_int_equal(objstore_xml_delete_result(&b, true, keys, res, 2),
                     PIER_OK);
    assert_null(strstr(b.data, "<Deleted>"));
    assert_has(&b, "<Error><Key>long</Key>");
    pier_buf_release(&b);
}

static void
test_xml_list_uploads(void **state)
{
    struct objstore_upload_list l;
    struct objstore_upload_info u[2];
    struct objstore_xml_uploads p = {
        .bucket = PIER_STR("bkt"),
        .prefix = PIER_STR(""),
        .key_marker = PIER_STR(""),
        .id_marker = PIER_STR(""),
        .max_uploads = 1,
        .owner_id = "id",
        .owner_name = "pier",
    };
    struct pier_buf b;

    (void) state;
    memset(u, 0, sizeof(u));
    u[0].key = PIER_STR("big<");
    snprintf(u[0].id, sizeof(u[0].id), "%s", "0123");
    objstore_upload_list_init(&l);
    l.uploads = u;
    l.n = 1;
    l.truncated = true;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_list_uploads(&b, &p, &l), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<NextKeyMarker>big&lt;</NextKeyMarker>"
                   "<NextUploadIdMarker>0123</NextUploadIdMarker>");
    assert_has(&b, "<Upload><Key>big&lt;</Key><UploadId>0123</UploadId>");
    pier_buf_release(&b);

    /* With a delimiter: uploads first, then the common prefixes; a page
     * that ends on a prefix continues from it, without an upload id. */
    u[1].key = PIER_STR("dir/");
    u[1].is_prefix = true;
    l.n = 2;
    p.delimiter = PIER_STR("/");
    p.max_uploads = 2;
    pier_buf_init(&b, SIZE_MAX);
    assert_int_equal(objstore_xml_list_uploads(&b, &p, &l), PIER_OK);
    assert_well_formed(&b);
    assert_has(&b, "<NextKeyMarker>dir/</NextKeyMarker><Prefix></Prefix>"
                   "<Delimiter>/</Delimiter>");
    assert_has(&b, "</Upload><CommonPrefixes><Prefix>dir/</Prefix>"
                   "</CommonPrefixes></ListMultipartUploadsResult>");
    assert_int_equal(strstr(b.data, "NextUploadIdMarker"), NULL);
    pier_buf_release(&b);
    l.uploads = NULL;
    objstore_upload_list_release(&l);
}

static void
test_xml_parse_location(void **state)
{
    struct pier_buf r;
    struct pier_err err;

    (void) state;
    pier_buf_init(&r, 64);
    assert_int_equal(objstore_xml_parse_location(PIER_STR(""), &r, &err),
                     PIER_OK);
    assert_int_equal(objstore_xml_parse_location(PIER_STR(" \n"), &r, &err),
                     PIER_OK);
    assert_int_equal(r.len, 0);
    assert_int_equal(
        objstore_xml_parse_location(
            PIER_STR("<CreateBucketConfiguration xmlns=\"" OBJSTORE_XML_NS
                     "\"><LocationConstraint>eu-west-1</LocationConstraint>"
                     "</CreateBucketConfiguration>"),
            &r, &err),
        PIER_OK);
    assert_string_equal(r.data, "eu-west-1");
    pier_buf_reset(&r);
    assert_int_equal(objstore_xml_parse_location(
                         PIER_STR("<CreateBucketConfiguration/>"), &r, &err),
                     PIER_OK);
    assert_int_equal(r.len, 0);
    assert_int_equal(
        objstore_xml_parse_location(PIER_STR("<Other/>"), &r, &err), PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
    assert_int_equal(objstore_xml_parse_location(PIER_STR("<a"), &r, &err),
                     PIER_ERR);
    pier_buf_release(&r);
}

static void
test_xml_parse_delete(void **state)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Delete xmlns=\"" OBJSTORE_XML_NS "\">\n"
        "  <Quiet>true</Quiet>\n"
        "  <Object><Key>a&amp;b</Key></Object>\n"
        "  <Object><Key>sp ace</Key><VersionId>null</VersionId></Object>\n"
        "  <Object><Key><![CDATA[<c>]]></Key></Object>\n"
        "</Delete>";
    struct objstore_xml_delete d;
    struct pier_err err;

    (void) state;
    objstore_xml_delete_init(&d);
    assert_int_equal(objstore_xml_parse_delete(PIER_STR(body), &d, &err),
                     PIER_OK);
    assert_true(d.quiet);
    assert_int_equal(d.n, 3);
    assert_true(pier_str_eq(d.keys[0], PIER_STR("a&b")));
    assert_true(pier_str_eq(d.keys[1], PIER_STR("sp ace")));
    assert_true(pier_str_eq(d.keys[2], PIER_STR("<c>")));
    objstore_xml_delete_release(&d);

    objstore_xml_delete_init(&d);
    assert_int_equal(objstore_xml_parse_delete(
                         PIER_STR("<Delete><Object><Key>k</Key></Object>"
                                  "</Delete>"),
                         &d, &err),
                     PIER_OK);
    assert_false(d.quiet);
    assert_int_equal(d.n, 1);
    objstore_xml_delete_release(&d);
}

/* An <Object>'s ETag, LastModifiedTime and Size, as the 2024 S3 API
 * (and pier gc) send them. */
static void
test_xml_parse_delete_conditions(void **state)
{
    static const char body[] =
        "<Delete><Quiet>true</Quiet>"
        "<Object><Key>plain</Key></Object>"
        "<Object><Key>blobs/x.br</Key>"
        "<LastModifiedTime>2025-05-01T10:00:00.123Z</LastModifiedTime>"
        "</Object>"
        "<Object><Key>k</Key><ETag>\"abc\"</ETag><Size>42</Size>"
        "<LastModifiedTime>2025-05-01T10:00:00.5+00:00</LastModifiedTime>"
        "</Object>"
        "<Object><Key>h</Key>"
        "<LastModifiedTime>Thu, 01 May 2025 10:00:00 GMT</LastModifiedTime>"
        "</Object>"
        "</Delete>";
    struct objstore_xml_delete d;
    struct pier_err err;

    (void) state;
    objstore_xml_delete_init(&d);
    assert_int_equal(objstore_xml_parse_delete(PIER_STR(body), &d, &err),
                     PIER_OK);
    assert_int_equal(d.n, 4);
    assert_false(objstore_del_cond_any(&d.conds[0]));
    assert_true(pier_str_eq(d.keys[1], PIER_STR("blobs/x.br")));
    assert_true(d.conds[1].has_mtime);
    assert_false(d.conds[1].mtime_whole_s);
    assert_int_equal(d.conds[1].mtime_ms, 1746093600123LL);
    assert_false(d.conds[1].has_size);
    assert_int_equal(d.conds[1].etag.len, 0);
    assert_true(pier_str_eq(d.conds[2].etag, PIER_STR("\"abc\"")));
    assert_true(d.conds[2].has_size);
    assert_int_equal(d.conds[2].size, 42);
    assert_int_equal(d.conds[2].mtime_ms, 1746093600500LL);
    assert_true(d.conds[3].mtime_whole_s);
    assert_int_equal(d.conds[3].mtime_ms, 1746093600000LL);
    objstore_xml_delete_release(&d);
}

static void
test_xml_parse_delete_refuses(void **state)
{
    static const char *bad[] = {
        "<Delete><Object><Key>a</Key><Size>-1</Size></Object></Delete>",
        "<Delete><Object><Key>a</Key><Size></Size></Object></Delete>",
        "<Delete><Object><Key>a</Key><Size>1x</Size></Object></Delete>",
        "<Delete><Object><Key>a</Key><Size>99999999999999999999999</Size>"
        "</Object></Delete>",
        "<Delete><Object><Key>a</Key><LastModifiedTime>yesterday"
        "</LastModifiedTime></Object></Delete>",
        "<Delete><Object><Key>a</Key><LastModifiedTime>2025-05-01T10:00:00."
        "Z</LastModifiedTime></Object></Delete>",
        "<Delete><Object><Key>a</Key><LastModifiedTime>2025-13-01T10:00:00Z"
        "</LastModifiedTime></Object></Delete>",
        "",
        "<Delete></Delete>",
        "<Delete><Object></Object></Delete>",
        "<Delete><Object><Key>a<b/></Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object>",
        "<NotDelete><Object><Key>a</Key></Object></NotDelete>",
        "not xml at all",
    };
    struct objstore_xml_delete d;
    struct pier_buf many;
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        objstore_xml_delete_init(&d);
        if (objstore_xml_parse_delete(pier_str_cstr(bad[i]), &d, &err)
            != PIER_ERR) {
            fail_msg("accepted '%s'", bad[i]);
        }
        assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
        objstore_xml_delete_release(&d);
    }
    pier_buf_init(&many, SIZE_MAX);
    assert_int_equal(pier_buf_adds(&many, "<Delete>"), PIER_OK);
    for (i = 0; i < OBJSTORE_DELETE_MAX + 1; i++) {
        assert_int_equal(pier_buf_addf(&many,
                                       "<Object><Key>k%zu</Key>"
                                       "</Object>",
                                       i),
                         PIER_OK);
    }
    assert_int_equal(pier_buf_adds(&many, "</Delete>"), PIER_OK);
    objstore_xml_delete_init(&d);
    assert_int_equal(objstore_xml_parse_delete(pier_buf_str(&many), &d, &err),
                     PIER_ERR);
    assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
    objstore_xml_delete_release(&d);
    pier_buf_release(&many);
}

/* No DTD, no entity expansion, no external fetch: XXE and billion laughs
 * are MalformedXML. */
static void
test_xml_refuses_dtd_and_entities(void **state)
{
    static const char *hostile[] = {
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><Delete><Object><Key>&x;</Key></Object>"
        "</Delete>",
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
        "<Delete><Object><Key>&c;</Key></Object></Delete>",
        "<!DOCTYPE Delete SYSTEM \"http://127.0.0.1:1/x.dtd\">"
        "<Delete><Object><Key>a</Key></Object></Delete>",
        "<Delete><Object><Key>&undefined;</Key></Object></Delete>",
    };
    struct objstore_xml_delete d;
    struct objstore_xml_complete c;
    struct pier_err err;
    size_t i;

    (void) state;
    for (i = 0; i < PIER_NELEMS(hostile); i++) {
        objstore_xml_delete_init(&d);
        if (objstore_xml_parse_delete(pier_str_cstr(hostile[i]), &d, &err)
            != PIER_ERR) {
            fail_msg("accepted hostile body %zu", i);
        }
        assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
        objstore_xml_delete_release(&d);
    }
    objstore_xml_complete_init(&c);
    assert_int_equal(
        objstore_xml_parse_complete(
            PIER_STR("<!DOCTYPE x [<!ENTITY e \"1\">]><CompleteMultipartUpload>"
                     "<Part><PartNumber>&e;</PartNumber><ETag>a</ETag></Part>"
                     "</CompleteMultipartUpload>"),
            &c, &err),
        PIER_ERR);
    objstore_xml_complete_release(&c);
}

static void
test_xml_parse_complete(void **state)
{
    static const char body[] =
        "<CompleteMultipartUpload xmlns=\"" OBJSTORE_XML_NS "\">"
        "<Part><ETag>\"aa\"</ETag><PartNumber>1</PartNumber></Part>"
        "<Part><PartNumber>3</PartNumber><ETag>bb</ETag>"
        "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        "</CompleteMultipartUpload>";
    static const char *bad[] = {
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber>"
        "<ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber>"
        "<ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber>"
        "<ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber>"
        "<ETag>a</ETag></Part></CompleteMultipartUpload>",
    };
    struct objstore_xml_complete c;
    struct pier_err err;
    size_t i;

    (void) state;
    objstore_xml_complete_init(&c);
    assert_int_equal(objstore_xml_parse_complete(PIER_STR(body), &c, &err),
                     PIER_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.parts[0].number, 1);
    assert_true(pier_str_eq(c.parts[0].etag, PIER_STR("\"aa\"")));
    assert_int_equal(c.parts[1].number, 3);
    assert_true(pier_str_eq(c.parts[1].etag, PIER_STR("bb")));
    objstore_xml_complete_release(&c);
    for (i = 0; i < PIER_NELEMS(bad); i++) {
        objstore_xml_complete_init(&c);
        if (objstore_xml_parse_complete(pier_str_cstr(bad[i]), &c, &err)
            != PIER_ERR) {
            fail_msg("accepted '%s'", bad[i]);
        }
        assert_int_equal(err.s3, PIER_S3_MALFORMED_XML);
        objstore_xml_complete_release(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_escape_and_urlencode),
        cmocka_unit_test(test_xml_time),
        cmocka_unit_test(test_xml_error_document),
        cmocka_unit_test(test_xml_list_buckets),
        cmocka_unit_test(test_xml_list_objects_v1_v2),
        cmocka_unit_test(test_xml_small_documents),
        cmocka_unit_test(test_xml_list_uploads),
        cmocka_unit_test(test_xml_parse_location),
        cmocka_unit_test(test_xml_parse_delete),
        cmocka_unit_test(test_xml_parse_delete_conditions),
        cmocka_unit_test(test_xml_parse_delete_refuses),
        cmocka_unit_test(test_xml_refuses_dtd_and_entities),
        cmocka_unit_test(test_xml_parse_complete),
    };

    objstore_xml_init();
    return cmocka_run_group_tests_name("objstore/xml", tests, NULL, NULL);
}
