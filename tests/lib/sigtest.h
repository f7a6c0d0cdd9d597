/*
 * tests/lib/sigtest.h - what the signing tests share: reading vector files
 * from the source tree (PIER_SRCDIR/tests/data), listing a vector folder,
 * and a raw request parsed from the AWS suite's request.txt.
 */
#ifndef PIER_TESTS_SIGTEST_H
#define PIER_TESTS_SIGTEST_H

#include <jansson.h>

#include "lib/sigv4.h"

/* The bytes of PIER_SRCDIR/tests/data/<rel>, NUL-terminated; *len may be
 * NULL. NULL when it cannot be read. Free with free(). */
char *sigtest_read(const char *rel, size_t *len);
/* The JSON of tests/data/<rel>; fails the test when it cannot be read. */
json_t *sigtest_json(const char *rel);
/* The sorted names in tests/data/<rel> (files and folders, no dot files),
 * as a NULL-terminated array; free with sigtest_free_list(). */
char **sigtest_list(const char *rel);
void sigtest_free_list(char **names);

#define SIGTEST_MAX_HEADERS 64

/* A request of the AWS SigV4 suite's request.txt format: request line,
 * "Name:value" headers with indented continuation lines, blank line,
 * body. Views point into text. */
struct sigtest_req {
    struct pier_str method;
    struct pier_str path;
    struct pier_str query;
    struct pier_kv headers[SIGTEST_MAX_HEADERS];
    size_t nheaders;
    struct pier_str body;
    char *values; /* joined continuation values live here */
};
int sigtest_parse_request(char *text, size_t len, struct sigtest_req *r);
void sigtest_req_release(struct sigtest_req *r);

#endif
