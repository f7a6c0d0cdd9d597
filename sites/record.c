/*
 * sites/record.c - site records, names, domains and branches, and the
 * domain table.
 *
 * The domain table keeps two sorted arrays: exact names, and wildcards
 * stored as their suffix with its dot (".example.com"). A lookup
 * lower-cases the host into a stack buffer, tries the exact array, then
 * each suffix of the host from its first dot on, longest first; so it is
 * a handful of binary searches and no allocation.
 */
#include "config.h"

#include "sites/record.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define SITES_DOMAINS_MAGIC 0x3e9b5d10u
/* inih (Debian's build) reads lines of at most INI_MAX_LINE - 1 bytes and
 * silently splits longer ones; refuse them instead. */
#define RECORD_LINE_MAX (INI_MAX_LINE - 2)

static bool
label_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-') {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

bool
sites_name_ok(struct pier_str name)
{
    return name.ptr != NULL && label_ok(name.ptr, name.len);
}

bool
sites_domain_ok(struct pier_str d, bool wildcard)
{
    size_t i, start, labels = 0;
    bool wild = false;

    if (d.ptr == NULL) {
        return false;
    }
    if (wildcard && d.len > 2 && d.ptr[0] == '*' && d.ptr[1] == '.') {
        d.ptr += 2;
        d.len -= 2;
        wild = true;
    }
    if (d.len == 0 || d.len > SITES_DOMAIN_MAX - (wild ? 2 : 0)) {
        return false;
    }
    start = 0;
    for (i = 0; i <= d.len; i++) {
        if (i == d.len || d.ptr[i] == '.') {
            if (!label_ok(d.ptr + start, i - start)) {
                return false;
            }
            labels++;
            start = i + 1;
        }
    }
    return !wild || labels >= 2;
}

bool
sites_branch_ok(struct pier_str b)
{
    size_t i;

    if (b.ptr == NULL || b.len == 0 || b.len > SITES_BRANCH_MAX
        || b.ptr[0] == '-' || b.ptr[0] == '/' || b.ptr[0] == '.'
        || b.ptr[b.len - 1] == '/' || b.ptr[b.len - 1] == '.'
        || (b.len >= 5 && memcmp(b.ptr + b.len - 5, ".lock", 5) == 0)) {
        return false;
    }
    for (i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char) b.ptr[i];

        if (c <= 0x20 || c >= 0x7f || strchr("~^:?*[\\;#", c) != NULL) {
            return false;
        }
        if (i + 1 < b.len
            && ((c == '.' && b.ptr[i + 1] == '.')
                || (c == '@' && b.ptr[i + 1] == '{')
                || (c == '/' && b.ptr[i + 1] == '/')
                || (c == '/' && b.ptr[i + 1] == '.'))) {
            return false;
        }
    }
    return true;
}

/* Records. */

void
sites_record_init(struct sites_record *r)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->branch, "main", sizeof("main"));
}

void
sites_record_release(struct sites_record *r)
{
    size_t i;

    for (i = 0; i < r->ndomains; i++) {
        pier_free(r->domains[i]);
    }
    pier_free(r->domains);
    sites_record_init(r);
}

int
sites_record_set_name(struct sites_record *r, const char *name,
                      struct pier_err *err)
{
    if (!sites_name_ok(pier_str_cstr(name))) {
        return pier_err_set(err,
                            "bad site name '%.80s' (1 to 63 of a-z, 0-9 and "
                            "'-', not first or last)",
                            name != NULL ? name : "");
    }
    memcpy(r->name, name, strlen(name) + 1);
    return PIER_OK;
}

int
sites_record_set_branch(struct sites_record *r, const char *branch,
                        struct pier_err *err)
{
    if (!sites_branch_ok(pier_str_cstr(branch))) {
        return pier_err_set(err, "bad branch name '%.80s'",
                            branch != NULL ? branch : "");
    }
    memcpy(r->branch, branch, strlen(branch) + 1);
    return PIER_OK;
}

/* Lower-case copy of s, or NULL when longer than max. */
static char *
lower_dup(const char *s, size_t max)
{
    size_t i, n = strlen(s);
    char *d;

    if (n > max) {
        return NULL;
    }
    d = pier_strndup(s, n);
    for (i = 0; i < n; i++) {
        if (d[i] >= 'A' && d[i] <= 'Z') {
            d[i] = (char) (d[i] - 'A' + 'a');
        }
    }
    return d;
}

int
sites_record_add_domain(struct sites_record *r, const char *domain,
                        struct pier_err *err)
{
    char *d;
    size_t i;

    d = domain != NULL ? lower_dup(domain, SITES_DOMAIN_MAX) : NULL;
    if (d == NULL || !sites_domain_ok(pier_str_cstr(d), true)) {
        pier_free(d);
        return pier_err_set(err,
                            "bad domain '%.80s' (DNS labels of a-z, 0-9 and "
                            "'-'; a wildcard only as a leading '*.')",
                            domain != NULL ? domain : "");
    }
    for (i = 0; i < r->ndomains; i++) {
        if (strcmp(r->domains[i], d) == 0) {
            pier_free(d);
            return pier_err_set(err, "domain '%.80s' listed twice", domain);
        }
    }
    if (r->ndomains == SITES_RECORD_DOMAINS_MAX) {
        pier_free(d);
        return pier_err_set(err, "more than %d domains",
                            SITES_RECORD_DOMAINS_MAX);
    }
    r->domains =
        pier_realloc(r->domains, (r->ndomains + 1) * sizeof(*r->domains));
    r->domains[r->ndomains++] = d;
    return PIER_OK;
}

int
sites_record_remove_domain(struct sites_record *r, const char *domain,
                           struct pier_err *err)
{
    size_t i;

    for (i = 0; i < r->ndomains; i++) {
        if (strcasecmp(r->domains[i], domain) == 0) {
            pier_free(r->domains[i]);
            memmove(&r->domains[i], &r->domains[i + 1],
                    (r->ndomains - i - 1) * sizeof(*r->domains));
            r->ndomains--;
            return PIER_OK;
        }
    }
    return pier_err_set(err, "site has no domain '%.80s'", domain);
}

struct parse_ctx {
    struct sites_record *r;
    char why[sizeof(((struct pier_err *) 0)->msg)]; /* first error, or "" */
    unsigned seen; /* scalar keys already set, by bit */
};

static int
parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < PIER_NELEMS(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return PIER_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return PIER_OK;
        }
    }
    return PIER_ERR;
}

static int
parse_u32(const char *v, uint32_t *out)
{
    unsigned long long x;
    char *end;

    if (v[0] < '0' || v[0] > '9') {
        return PIER_ERR;
    }
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x > UINT32_MAX) {
        return PIER_ERR;
    }
    *out = (uint32_t) x;
    return PIER_OK;
}

/* inih's handler: 1 to go on, 0 for an error at this line. Only the first
 * error is kept (inih goes on parsing and reports the first line). */
static int
on_kv(void *user, const char *section, const char *key, const char *value)
{
    struct parse_ctx *c = user;
    struct pier_err e;
    static const char *const scalars[] = {"name", "branch", "redirect_https",
                                          "hsts", "hsts_subdomains"};
    size_t i;
    int ok = PIER_OK;

    if (c->why[0] != '\0') {
        return 0;
    }
    if (strcmp(section, "site") != 0) {
        snprintf(c->why, sizeof(c->why), "unknown section [%.40s]", section);
        return 0;
    }
    for (i = 0; i < PIER_NELEMS(scalars); i++) {
        if (strcmp(key, scalars[i]) == 0) {
            if ((c->seen & (1u << i)) != 0) {
                snprintf(c->why, sizeof(c->why), "'%s' set twice", key);
                return 0;
            }
            c->seen |= 1u << i;
        }
    }
    if (strcmp(key, "name") == 0) {
        ok = sites_record_set_name(c->r, value, &e);
    } else if (strcmp(key, "domain") == 0) {
        ok = sites_record_add_domain(c->r, value, &e);
    } else if (strcmp(key, "branch") == 0) {
        ok = sites_record_set_branch(c->r, value, &e);
    } else if (strcmp(key, "redirect_https") == 0) {
        if (parse_bool(value, &c->r->redirect_https) != PIER_OK) {
            ok = pier_err_set(&e, "redirect_https is true or false");
        }
    } else if (strcmp(key, "hsts_subdomains") == 0) {
        if (parse_bool(value, &c->r->hsts_subdomains) != PIER_OK) {
            ok = pier_err_set(&e, "hsts_subdomains is true or false");
        }
    } else if (strcmp(key, "hsts") == 0) {
        if (parse_u32(value, &c->r->hsts_max_age) != PIER_OK) {
            ok = pier_err_set(&e, "hsts is a number of seconds (0: none)");
        }
    } else {
        ok = pier_err_set(&e, "unknown key '%.40s'", key);
    }
    if (ok != PIER_OK) {
        memcpy(c->why, e.msg, sizeof(c->why));
        return 0;
    }
    return 1;
}

int
sites_record_parse(struct sites_record *r, const char *file, const char *text,
                   size_t n, struct pier_err *err)
{
    struct parse_ctx c;
    size_t i, col = 0;
    unsigned line = 1;
    char *copy;
    int rc;

    /* inih reads a NUL-terminated string: a NUL would end the file early,
     * and long lines would be split; refuse both, naming the line. */
    for (i = 0; i < n; i++) {
        if (text[i] == '\0') {
            sites_record_release(r);
            return pier_err_set(err, "%s:%u: NUL byte", file, line);
        }
        if (text[i] == '\n') {
            line++;
            col = 0;
        } else if (++col > RECORD_LINE_MAX) {
            sites_record_release(r);
            return pier_err_set(err, "%s:%u: line longer than %d bytes", file,
                                line, RECORD_LINE_MAX);
        }
    }
    memset(&c, 0, sizeof(c));
    c.r = r;
    copy = pier_strndup(text, n);
    rc = ini_parse_string(copy, on_kv, &c);
    pier_free(copy);
    if (rc != 0) {
        if (c.why[0] == '\0') {
            snprintf(c.why, sizeof(c.why), "not 'key = value' or '[section]'");
        }
        sites_record_release(r);
        return pier_err_set(err, "%s:%d: %s", file, rc, c.why);
    }
    if (r->name[0] == '\0') {
        sites_record_release(r);
        return pier_err_set(err, "%s: no name", file);
    }
    return PIER_OK;
}

int
sites_record_format(const struct sites_record *r, struct pier_buf *out,
                    struct pier_err *err)
{
    size_t len0 = out->len, i;

    if (r->name[0] == '\0') {
        return pier_err_set(err, "record without a name");
    }
    if (pier_buf_addf(out, "[site]\nname = %s\n", r->name) != PIER_OK) {
        goto full;
    }
    for (i = 0; i < r->ndomains; i++) {
        if (strlen(r->domains[i]) + 9 > RECORD_LINE_MAX) {
            pier_buf_truncate(out, len0);
            return pier_err_set(err, "domain '%.60s...' too long for a record",
                                r->domains[i]);
        }
        if (pier_buf_addf(out, "domain = %s\n", r->domains[i]) != PIER_OK) {
            goto full;
        }
    }
    if (pier_buf_addf(out,
                      "branch = %s\nredirect_https = %s\nhsts = %" PRIu32
                      "\nhsts_subdomains = %s\n",
                      r->branch, r->redirect_https ? "true" : "false",
                      r->hsts_max_age, r->hsts_subdomains ? "true" : "false")
        != PIER_OK) {
        goto full;
    }
    return PIER_OK;

full:
    pier_buf_truncate(out, len0);
    return pier_err_set(err, "record longer than %zu bytes", out->max);
}

/* The domain table. */

struct dom {
    char *key; /* exact: the domain; wildcard: ".suffix" */
    char *site;
};

struct sites_domains {
    unsigned magic;
    bool sealed;
    struct dom *exact;
    size_t nexact;
    size_t capexact;
    struct dom *wild;
    size_t nwild;
    size_t capwild;
};

struct sites_domains *
sites_domains_new(void)
{
    struct sites_domains *t = pier_calloc(1, sizeof(*t));

    t->magic = SITES_DOMAINS_MAGIC;
    return t;
}

static void
doms_free(struct dom *d, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        pier_free(d[i].key);
        pier_free(d[i].site);
    }
    pier_free(d);
}

void
sites_domains_free(struct sites_domains *t)
{
    if (t == NULL) {
        return;
    }
    PIER_CHECK_OBJ(t, SITES_DOMAINS_MAGIC);
    doms_free(t->exact, t->nexact);
    doms_free(t->wild, t->nwild);
    t->magic = 0;
    pier_free(t);
}

int
sites_domains_add(struct sites_domains *t, const char *domain, const char *site,
                  struct pier_err *err)
{
    char *d;
    struct dom *x;

    PIER_CHECK_OBJ(t, SITES_DOMAINS_MAGIC);
    PIER_ASSERT(!t->sealed);
    if (!sites_name_ok(pier_str_cstr(site))) {
        return pier_err_set(err, "bad site name '%.80s'", site);
    }
    d = lower_dup(domain, SITES_DOMAIN_MAX);
    if (d == NULL || !sites_domain_ok(pier_str_cstr(d), true)) {
        pier_free(d);
        return pier_err_set(err, "bad domain '%.80s'", domain);
    }
    if (d[0] == '*') {
        if (t->nwild == t->capwild) {
            t->capwild = t->capwild == 0 ? 16 : t->capwild * 2;
            t->wild = pier_realloc(t->wild, t->capwild * sizeof(*t->wild));
        }
        x = &t->wild[t->nwild++];
        /* Keep ".suffix": what a host's tail is compared with. */
        memmove(d, d + 1, strlen(d));
    } else {
        if (t->nexact == t->capexact) {
            t->capexact = t->capexact == 0 ? 16 : t->capexact * 2;
            t->exact = pier_realloc(t->exact, t->capexact * sizeof(*t->exact));
        }
        x = &t->exact[t->nexact++];
    }
    x->key = d;
    x->site = pier_strdup(site);
    return PIER_OK;
}

int
sites_domains_add_record(struct sites_domains *t, const struct sites_record *r,
                         bool localhost, struct pier_err *err)
{
    char local[SITES_NAME_MAX + sizeof(".localhost")];
    size_t i;

    if (r->name[0] == '\0') {
        return pier_err_set(err, "record without a name");
    }
    for (i = 0; i < r->ndomains; i++) {
        if (sites_domains_add(t, r->domains[i], r->name, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    if (localhost) {
        snprintf(local, sizeof(local), "%s.localhost", r->name);
        return sites_domains_add(t, local, r->name, err);
    }
    return PIER_OK;
}

static int
cmp_dom(const void *a, const void *b)
{
    const struct dom *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c != 0 ? c : strcmp(x->site, y->site);
}

/* Sort, drop repeated pairs, refuse a key held by two sites. */
static int
seal_one(struct dom *d, size_t *n, bool wild, struct pier_err *err)
{
    size_t i, o = 0;

    if (*n > 1) {
        qsort(d, *n, sizeof(*d), cmp_dom);
    }
    for (i = 0; i < *n; i++) {
        if (o > 0 && strcmp(d[o - 1].key, d[i].key) == 0) {
            if (strcmp(d[o - 1].site, d[i].site) != 0) {
                return pier_err_set(err,
                                    "domain '%s%s' belongs to sites '%s' and "
                                    "'%s'",
                                    wild ? "*" : "", d[i].key, d[o - 1].site,
                                    d[i].site);
            }
            pier_free(d[i].key);
            pier_free(d[i].site);
            continue;
        }
        d[o++] = d[i];
    }
    *n = o;
    return PIER_OK;
}

int
sites_domains_seal(struct sites_domains *t, struct pier_err *err)
{
    PIER_CHECK_OBJ(t, SITES_DOMAINS_MAGIC);
    PIER_ASSERT(!t->sealed);
    if (seal_one(t->exact, &t->nexact, false, err) != PIER_OK
        || seal_one(t->wild, &t->nwild, true, err) != PIER_OK) {
        return PIER_ERR;
    }
    t->sealed = true;
    return PIER_OK;
}

size_t
sites_domains_count(const struct sites_domains *t)
{
    PIER_CHECK_OBJ(t, SITES_DOMAINS_MAGIC);
    return t->nexact + t->nwild;
}

static const char *
find(const struct dom *d, size_t n, const char *key)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, d[mid].key);

        if (c == 0) {
            return d[mid].site;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const char *
sites_domains_lookup(const struct sites_domains *t, struct pier_str host)
{
    char h[SITES_DOMAIN_MAX + 1];
    const char *site;
    size_t i, n = host.len;

    PIER_CHECK_OBJ(t, SITES_DOMAINS_MAGIC);
    PIER_ASSERT(t->sealed);
    if (host.ptr == NULL) {
        return NULL;
    }
    /* "example.com:8080" -> "example.com"; an IPv6 literal never names a
     * site, so "[::1]:8080" simply finds nothing. */
    for (i = 0; i < n; i++) {
        if (host.ptr[i] == ':') {
            n = i;
            break;
        }
    }
    if (n > 0 && host.ptr[n - 1] == '.') {
        n--;
    }
    if (n == 0 || n > SITES_DOMAIN_MAX) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char c = host.ptr[i];

        h[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
    }
    h[n] = '\0';
    if (!sites_domain_ok(pier_str_make(h, n), false)) {
        return NULL;
    }
    site = find(t->exact, t->nexact, h);
    if (site != NULL) {
        return site;
    }
    /* Longest wildcard first: the suffixes from each dot, left to right. */
    for (i = 1; i < n; i++) {
        if (h[i] != '.') {
            continue;
        }
        site = find(t->wild, t->nwild, h + i);
        if (site != NULL) {
            return site;
        }
    }
    return NULL;
}
