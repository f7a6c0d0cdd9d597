/*
 * tests/lib/sigtest.c - vector files for the signing tests.
 */
#include "config.h"

#include "tests/lib/sigtest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

char *
sigtest_read(const char *rel, size_t *len)
{
    char path[4096];
    FILE *f;
    char *data = NULL;
    size_t n = 0, cap = 0, got;

    snprintf(path, sizeof(path), "%s/tests/data/%s", PIER_SRCDIR, rel);
    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            cap = cap * 2 + 4096;
            data = realloc(data, cap + 1);
            if (data == NULL) {
                fclose(f);
                return NULL;
            }
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    data[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return data;
}

json_t *
sigtest_json(const char *rel)
{
    char path[4096];
    json_error_t jerr;
    json_t *j;

    snprintf(path, sizeof(path), "%s/tests/data/%s", PIER_SRCDIR, rel);
    j = json_load_file(path, 0, &jerr);
    if (j == NULL) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        abort();
    }
    return j;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char **
sigtest_list(const char *rel)
{
    char path[4096];
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/tests/data/%s", PIER_SRCDIR, rel);
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "cannot open '%s'\n", path);
        abort();
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        names = realloc(names, (n + 2) * sizeof(*names));
        if (names == NULL) {
            abort();
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (names == NULL) {
        names = calloc(1, sizeof(*names));
    }
    qsort(names, n, sizeof(*names), cmp_names);
    names[n] = NULL;
    return names;
}

void
sigtest_free_list(char **names)
{
    size_t i;

    for (i = 0; names != NULL && names[i] != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

int
sigtest_parse_request(char *text, size_t len, struct sigtest_req *r)
{
    char *p = text, *end = text + len, *eol, *sp1, *sp2, *q;
    size_t vlen = 0;

    memset(r, 0, sizeof(*r));
    r->values = malloc(8 * len + 64);
    if (r->values == NULL) {
        return -1;
    }
    eol = memchr(p, '\n', (size_t) (end - p));
    if (eol == NULL) {
        return -1;
    }
    sp1 = memchr(p, ' ', (size_t) (eol - p));
    for (sp2 = eol; sp2 > p && sp2[-1] != ' '; sp2--) {
    }
    if (sp1 == NULL || sp2 <= sp1 + 1) {
        return -1;
    }
    sp2--; /* the space before "HTTP/1.1" */
    r->method = pier_str_make(p, (size_t) (sp1 - p));
    q = memchr(sp1 + 1, '?', (size_t) (sp2 - sp1 - 1));
    if (q != NULL) {
        r->path = pier_str_make(sp1 + 1, (size_t) (q - sp1 - 1));
        r->query = pier_str_make(q + 1, (size_t) (sp2 - q - 1));
    } else {
        r->path = pier_str_make(sp1 + 1, (size_t) (sp2 - sp1 - 1));
        r->query = pier_str_make(sp2, 0);
    }
    p = eol + 1;
    while (p < end) {
        char *colon;

        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }
        if (eol == p) { /* blank line: the body follows */
            p++;
            break;
        }
        if ((*p == ' ' || *p == '\t') && r->nheaders > 0) {
            /* A continuation line: the value gets "\n" + the line. */
            struct pier_kv *h = &r->headers[r->nheaders - 1];
            char *v = r->values + vlen;

            memcpy(v, h->value.ptr, h->value.len);
            v[h->value.len] = '\n';
            memcpy(v + h->value.len + 1, p, (size_t) (eol - p));
            h->value = pier_str_make(v, h->value.len + 1 + (size_t) (eol - p));
            vlen += h->value.len;
        } else {
            colon = memchr(p, ':', (size_t) (eol - p));
            if (colon == NULL || r->nheaders == SIGTEST_MAX_HEADERS) {
                return -1;
            }
            r->headers[r->nheaders].name =
                pier_str_make(p, (size_t) (colon - p));
            r->headers[r->nheaders].value =
                pier_str_make(colon + 1, (size_t) (eol - colon - 1));
            r->nheaders++;
        }
        p = eol < end ? eol + 1 : end;
    }
    r->body = pier_str_make(p, (size_t) (end - p));
    return 0;
}

void
sigtest_req_release(struct sigtest_req *r)
{
    free(r->values);
    r->values = NULL;
}
