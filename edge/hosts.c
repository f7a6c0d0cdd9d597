/*
 * edge/hosts.c - host routing: two sorted arrays, exact names and
 * wildcard suffixes, searched with bsearch after the host is brought to
 * its canonical form in a stack buffer.
 */
#include "config.h"

#include "edge/hosts.h"

#include "sites/record.h"

#include <stdlib.h>
#include <strings.h>

#define HOSTS_MAGIC 0x68f1c2a7U

struct host {
    char *name; /* exact: "example.com"; wildcard: "example.com" too */
    void *site;
};

struct edge_hosts {
    unsigned magic;
    bool sealed;
    struct host *exact, *wild;
    size_t nexact, nwild, capexact, capwild;
};

struct edge_hosts *
edge_hosts_new(void)
{
    struct edge_hosts *h = pier_calloc(1, sizeof(*h));

    h->magic = HOSTS_MAGIC;
    return h;
}

void
edge_hosts_free(struct edge_hosts *h)
{
    size_t i;

    if (h == NULL) {
        return;
    }
    PIER_CHECK_OBJ(h, HOSTS_MAGIC);
    for (i = 0; i < h->nexact; i++) {
        pier_free(h->exact[i].name);
    }
    for (i = 0; i < h->nwild; i++) {
        pier_free(h->wild[i].name);
    }
    pier_free(h->exact);
    pier_free(h->wild);
    h->magic = 0;
    pier_free(h);
}

static int
cmp_host(const void *a, const void *b)
{
    return strcmp(((const struct host *) a)->name,
                  ((const struct host *) b)->name);
}

static struct host *
find(struct host *arr, size_t n, const char *name)
{
    struct host key = {(char *) name, NULL};

    return n == 0 ? NULL : bsearch(&key, arr, n, sizeof(*arr), cmp_host);
}

int
edge_hosts_add(struct edge_hosts *h, struct pier_str domain, void *site,
               struct pier_err *err)
{
    bool wild;
    struct host **arr;
    size_t *n, *cap, i;
    struct pier_str name;

    PIER_CHECK_OBJ(h, HOSTS_MAGIC);
    PIER_ASSERT(!h->sealed);
    if (!sites_domain_ok(domain, true)) {
        return pier_err_set(err, "'%.*s' is not a domain name",
                            (int) (domain.len < 300 ? domain.len : 300),
                            domain.ptr);
    }
    wild = domain.len > 2 && domain.ptr[0] == '*';
    name = wild ? pier_str_make(domain.ptr + 2, domain.len - 2) : domain;
    arr = wild ? &h->wild : &h->exact;
    n = wild ? &h->nwild : &h->nexact;
    cap = wild ? &h->capwild : &h->capexact;
    /* Linear: adding happens once per registry load, a duplicate check
     * per add keeps the rule simple. */
    for (i = 0; i < *n; i++) {
        if (strlen((*arr)[i].name) == name.len
            && memcmp((*arr)[i].name, name.ptr, name.len) == 0) {
            return pier_err_set(err, "domain '%.*s' is mapped twice",
                                (int) domain.len, domain.ptr);
        }
    }
    if (*n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 16;
        *arr = pier_realloc(*arr, *cap * sizeof(**arr));
    }
    (*arr)[*n].name = pier_strndup(name.ptr, name.len);
    (*arr)[*n].site = site;
    (*n)++;
    return PIER_OK;
}

void
edge_hosts_seal(struct edge_hosts *h)
{
    PIER_CHECK_OBJ(h, HOSTS_MAGIC);
    if (h->nexact > 0) {
        qsort(h->exact, h->nexact, sizeof(*h->exact), cmp_host);
    }
    if (h->nwild > 0) {
        qsort(h->wild, h->nwild, sizeof(*h->wild), cmp_host);
    }
    h->sealed = true;
}

size_t
edge_hosts_count(const struct edge_hosts *h)
{
    PIER_CHECK_OBJ(h, HOSTS_MAGIC);
    return h->nexact + h->nwild;
}

void *
edge_hosts_find(const struct edge_hosts *h, struct pier_str host)
{
    char name[256];
    size_t i, n = host.len;
    const char *dot;
    struct host *e;

    PIER_CHECK_OBJ(h, HOSTS_MAGIC);
    PIER_ASSERT(h->sealed);
    if (n > 0 && host.ptr[0] == '[') {
        return NULL; /* an IPv6 literal names no site */
    }
    /* Drop ":port" (RFC 9110 7.2), then one trailing dot. */
    for (i = 0; i < host.len; i++) {
        if (host.ptr[i] == ':') {
            n = i;
            break;
        }
    }
    if (n > 0 && host.ptr[n - 1] == '.') {
        n--;
    }
    if (n == 0 || n >= sizeof(name)) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) host.ptr[i];

        if (c == '\0') {
            return NULL;
        }
        name[i] = (char) (c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    name[n] = '\0';
    e = find((struct host *) h->exact, h->nexact, name);
    if (e != NULL) {
        return e->site;
    }
    /* Wildcards, the longest suffix first: "a.b.example.com" tries
     * "*.b.example.com", then "*.example.com", then "*.com". */
    dot = name;
    while ((dot = strchr(dot, '.')) != NULL) {
        if (dot == name) {
            return NULL; /* an empty first label */
        }
        dot++;
        e = find((struct host *) h->wild, h->nwild, dot);
        if (e != NULL) {
            return e->site;
        }
    }
    return NULL;
}
