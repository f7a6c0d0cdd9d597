/*
 * tests/fuzz/fuzz_s3xml.c - arbitrary bytes into the S3 client's XML
 * parsers: ListObjectsV2 pages and <Error> documents.
 */
#include "config.h"

#include "lib/s3client.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pier_s3_list l;
    struct pier_err err;
    size_t i;

    pier_s3_list_init(&l);
    if (pier_s3_list_parse((const char *) data, size, &l, &err) == PIER_OK) {
        PIER_ASSERT(!l.truncated || l.next_token != NULL);
        for (i = 0; i < l.nobjects; i++) {
            PIER_ASSERT(l.objects[i].key != NULL && l.objects[i].etag != NULL);
        }
    }
    pier_s3_list_release(&l);
    PIER_ASSERT(
        pier_s3_error_parse(503, (const char *) data, size, "fuzz", &err)
        == PIER_ERR);
    PIER_ASSERT(err.http == 503);
    return 0;
}
