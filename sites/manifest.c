/*
 * sites/manifest.c - manifests and deploy deltas: build, seal, look up,
 * JSON and zstd, diff and apply.
 *
 * A manifest keeps its entries in one array sorted by path, and a second
 * array of pointers to the assets sorted by alias, so that a lookup is one
 * or two binary searches and touches no allocator: the edge calls it on
 * every request, from every loop, without a lock. Everything the JSON
 * brings in is checked here once, on load, so the edge never has to doubt
 * a path, a hash or a header it found in a manifest.
 */
#include "config.h"

#include "sites/manifest.h"

#include "sites/headers.h"
#include "sites/record.h"
#include "sites/redirects.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <zstd.h>
#include <zstd_errors.h>

#define SITES_MANIFEST_MAGIC 0x6d1f3a29u
#define SITES_DELTA_MAGIC    0x2b84c0e7u
#define MANIFEST_FORMAT      1
#define SITES_RULES_MAX      (1024 * 1024) /* bytes of _redirects/_headers */

struct sites_manifest {
    unsigned magic;
    bool sealed;
    char *site;
    char *deploy;
    char *parent; /* NULL for a first deploy */
    char *commit; /* NULL when not from git */
    int64_t created;
    struct sites_entry *e; /* sorted by path once sealed */
    size_t n;
    size_t cap;
    const struct sites_entry **by_alias; /* the assets, sorted by alias */
    size_t nalias;
    char *redirects; /* NUL-terminated source text, never NULL */
    size_t redirects_len;
    char *headers;
    size_t headers_len;
    struct arena_block *strs;   /* the entries' strings */
    struct sites_redirects *rd; /* parsed by seal */
    struct sites_headers *hd;
};

struct sites_change {
    const char *path;      /* in the delta's arena */
    struct sites_entry *e; /* likewise; NULL: the path disappeared */
};

struct sites_delta {
    unsigned magic;
    char *site;
    char *from; /* may be NULL */
    char *to;
    char *parent; /* the parent recorded in to's manifest; may be NULL */
    char *commit; /* may be NULL */
    int64_t created;
    struct sites_change *c; /* sorted by path */
    size_t n;
    size_t cap;
    struct arena_block *strs; /* paths and records of the changes */
    bool rules_changed;
    char *redirects; /* set only when rules_changed */
    size_t redirects_len;
    char *headers;
    size_t headers_len;
};

static const char *const enc_names[SITES_ENC_MAX] = {"br", "zstd", "gzip"};
static const char *const enc_suffixes[SITES_ENC_MAX] = {".br", ".zst", ".gz"};

const char *
sites_enc_name(enum sites_enc enc)
{
    PIER_ASSERT((unsigned) enc < SITES_ENC_MAX);
    return enc_names[enc];
}

const char *
sites_enc_suffix(enum sites_enc enc)
{
    PIER_ASSERT((unsigned) enc < SITES_ENC_MAX);
    return enc_suffixes[enc];
}

/* Checks of single fields. */

static bool
hex_ok(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* UTF-8 as RFC 3629 has it (no overlong forms, surrogates or code
 * points past U+10FFFF): what jansson accepts, so what can be stored. */
static bool
utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        size_t len, k;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) {
            return false;
        }
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

/* A git object id: 40 (sha1) or 64 (sha256) lowercase hex digits. */
static bool
git_id_ok(const char *p, size_t n)
{
    return (n == 40 || n == 64) && hex_ok(p, n);
}

bool
sites_path_ok(struct pier_str path)
{
    size_t i, seg;

    if (path.ptr == NULL || path.len < 2 || path.len > SITES_PATH_MAX
        || path.ptr[0] != '/') {
        return false;
    }
    seg = 1; /* where the current segment starts */
    for (i = 1; i <= path.len; i++) {
        unsigned char c;

        if (i == path.len || path.ptr[i] == '/') {
            size_t len = i - seg;

            if (len == 0 || (len == 1 && path.ptr[seg] == '.')
                || (len == 2 && path.ptr[seg] == '.'
                    && path.ptr[seg + 1] == '.')) {
                return false;
            }
            seg = i + 1;
            continue;
        }
        c = (unsigned char) path.ptr[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return utf8_ok(path.ptr, path.len);
}

static bool
digits_ok(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

bool
sites_deploy_id_ok(struct pier_str id)
{
    size_t i, z;

    /* "YYYYMMDDTHHMMSSmmmZ-" (20 bytes), or without the milliseconds as
     * the first ids were (17). */
    if (id.ptr == NULL || id.len < 18 || id.len > SITES_DEPLOY_ID_MAX
        || !digits_ok(id.ptr, 8) || id.ptr[8] != 'T'
        || !digits_ok(id.ptr + 9, 6)) {
        return false;
    }
    z = id.ptr[15] == 'Z' ? 15 : 18;
    if (id.len < z + 3 || !digits_ok(id.ptr + 15, z - 15) || id.ptr[z] != 'Z'
        || id.ptr[z + 1] != '-') {
        return false;
    }
    for (i = z + 2; i < id.len; i++) {
        char c = id.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

int
sites_deploy_id_new(int64_t now_ms, const char *commit,
                    char out[SITES_DEPLOY_ID_MAX + 1], struct pier_err *err)
{
    time_t t = (time_t) (now_ms / 1000);
    struct tm tm;
    unsigned char rnd[3];
    size_t len;
    ssize_t got;

    if (commit != NULL && !git_id_ok(commit, strlen(commit))) {
        return pier_err_set(err, "bad commit id '%.80s'", commit);
    }
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999
        || tm.tm_year + 1900 < 1000) {
        return pier_err_set(err, "time %" PRId64 " ms out of range", now_ms);
    }
    got = getrandom(rnd, sizeof(rnd), 0);
    if (got != (ssize_t) sizeof(rnd)) {
        return pier_err_sys(err, got < 0 ? errno : EIO,
                            "cannot read random bytes");
    }
    len = strftime(out, SITES_DEPLOY_ID_MAX + 1, "%Y%m%dT%H%M%S", &tm);
    PIER_ASSERT(len == 15);
    len += (size_t) snprintf(out + len, SITES_DEPLOY_ID_MAX + 1 - len,
                             "%03uZ-", (unsigned) (now_ms % 1000));
    PIER_ASSERT(len == 20);
    if (commit != NULL) {
        memcpy(out + len, commit, 7);
        len += 7;
        out[len++] = '-';
    }
    snprintf(out + len, SITES_DEPLOY_ID_MAX + 1 - len, "%02x%02x%02x", rnd[0],
             rnd[1], rnd[2]);
    PIER_ASSERT(sites_deploy_id_ok(pier_str_cstr(out)));
    return PIER_OK;
}

/* Entries. */

static bool
type_ok(const char *p)
{
    size_t i, n = strlen(p);

    if (n == 0 || n > SITES_TYPE_MAX) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static bool
str_eq0(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

bool
sites_entry_eq(const struct sites_entry *a, const struct sites_entry *b)
{
    size_t i;

    if (strcmp(a->path, b->path) != 0 || strcmp(a->sha256, b->sha256) != 0
        || strcmp(a->type, b->type) != 0 || a->size != b->size
        || a->klass != b->klass || strcmp(a->git_blob, b->git_blob) != 0
        || !str_eq0(a->alias, b->alias) || a->nheaders != b->nheaders) {
        return false;
    }
    for (i = 0; i < SITES_ENC_MAX; i++) {
        if (a->enc_size[i] != b->enc_size[i]) {
            return false;
        }
    }
    for (i = 0; i < a->nheaders; i++) {
        if (strcmp(a->headers[i].name, b->headers[i].name) != 0
            || strcmp(a->headers[i].value, b->headers[i].value) != 0) {
            return false;
        }
    }
    return true;
}

/* Check what one record says, naming its path in the message. */
static int
entry_check(const struct sites_entry *e, struct pier_err *err)
{
    size_t i;
    struct pier_err herr;

    if (e->path == NULL || !sites_path_ok(pier_str_cstr(e->path))) {
        return pier_err_set(err, "bad path '%.200s'",
                            e->path != NULL ? e->path : "(null)");
    }
    if (strlen(e->sha256) != SITES_SHA256_HEX
        || !hex_ok(e->sha256, SITES_SHA256_HEX)) {
        return pier_err_set(err, "'%.200s': bad sha256", e->path);
    }
    if (e->type == NULL || !type_ok(e->type)) {
        return pier_err_set(err, "'%.200s': bad content type", e->path);
    }
    if (e->git_blob[0] != '\0'
        && !git_id_ok(e->git_blob, strnlen(e->git_blob, sizeof(e->git_blob)))) {
        return pier_err_set(err, "'%.200s': bad git blob id", e->path);
    }
    switch (e->klass) {
    case SITES_CLASS_ENTRY:
        if (e->alias != NULL) {
            return pier_err_set(err, "'%.200s': an entry has no alias",
                                e->path);
        }
        break;
    case SITES_CLASS_ASSET:
        if (e->alias == NULL || !sites_path_ok(pier_str_cstr(e->alias))) {
            return pier_err_set(err, "'%.200s': bad or missing alias", e->path);
        }
        break;
    default:
        return pier_err_set(err, "'%.200s': bad class", e->path);
    }
    if (e->nheaders > SITES_ENTRY_HEADERS_MAX) {
        return pier_err_set(err, "'%.200s': more than %d headers", e->path,
                            SITES_ENTRY_HEADERS_MAX);
    }
    for (i = 0; i < e->nheaders; i++) {
        if (e->headers[i].name == NULL || e->headers[i].value == NULL) {
            return pier_err_set(err, "'%.200s': header without name or value",
                                e->path);
        }
        if (sites_header_check(pier_str_cstr(e->headers[i].name),
                               pier_str_cstr(e->headers[i].value), &herr)
            != PIER_OK) {
            return pier_err_set(err, "'%.200s': %s", e->path, herr.msg);
        }
        if (!utf8_ok(e->headers[i].value, strlen(e->headers[i].value))) {
            return pier_err_set(err, "'%.200s': header '%.60s' is not UTF-8",
                                e->path, e->headers[i].name);
        }
    }
    return PIER_OK;
}

/* The strings of a manifest or delta live in an arena of large blocks,
 * freed all at once (nginx's pools): a 10,000-path manifest would
 * otherwise make and free some 50,000 small allocations each time an
 * edge loads one. Blocks never move, so pointers into them stay valid. */
struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    char data[];
};

#define ARENA_BLOCK (64 * 1024)

static void *
arena_alloc(struct arena_block **head, size_t n)
{
    struct arena_block *b = *head;
    size_t need = (n + 7) & ~(size_t) 7; /* keep every piece aligned */

    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;

        b = pier_malloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        /* A block for one large piece goes second, so that the current
         * block keeps filling up. */
        if (*head != NULL && need > ARENA_BLOCK) {
            b->next = (*head)->next;
            (*head)->next = b;
        } else {
            b->next = *head;
            *head = b;
        }
    }
    b->used += need;
    return b->data + b->used - need;
}

static char *
arena_strdup(struct arena_block **head, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = arena_alloc(head, n);

    memcpy(d, s, n);
    return d;
}

static void
arena_free(struct arena_block *b)
{
    while (b != NULL) {
        struct arena_block *next = b->next;

        pier_free(b);
        b = next;
    }
}

/*
 * jansson's allocations while a manifest or a delta is read. A
 * 10,000-path manifest is some 250,000 small allocations, a few tens of
 * MB, freed again a moment later; on a virtual machine the page faults
 * alone took a third of a publish's time. Once sites_json_init() has
 * installed these functions, a decode points its thread's json_arena at
 * an arena of its own: the tree comes from a few large mappings backed by
 * huge pages where the kernel allows (MADV_HUGEPAGE), and goes with them,
 * never walked. Anything else jansson allocates, on any thread, is
 * malloc's as before (so json_dumps()'s strings still go with free()).
 */
#define JSON_HUGE        ((size_t) 2 << 20)
#define JSON_ARENA_RATIO 16 /* tree bytes per JSON byte, at most */
#define JSON_BLOCK_MIN   ((size_t) 64 << 10)
#define JSON_BLOCK_MAX   ((size_t) 256 << 20)

struct json_block {
    struct json_block *next;
    size_t size;
    size_t used;
};

struct json_arena {
    struct json_block *head;
    size_t block; /* the size of a new mapping */
};

static bool json_arena_ok;
static _Thread_local struct json_arena *json_arena;

/* The size of a mapping for n bytes: whole huge pages when it is worth
 * them, else 64 KiB steps. */
static size_t
block_round(size_t n)
{
    size_t step = n >= 2 * JSON_HUGE ? JSON_HUGE : JSON_BLOCK_MIN;

    return (n + step - 1) & ~(step - 1);
}

static void *
json_arena_alloc(struct json_arena *a, size_t n)
{
    struct json_block *b = a->head;
    size_t hdr = (sizeof(*b) + 15) & ~(size_t) 15;

    n = (n + 15) & ~(size_t) 15;
    if (b == NULL || b->size - b->used < n) {
        size_t size = block_round(n + hdr > a->block ? n + hdr : a->block);
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
            return NULL; /* jansson fails the parse */
        }
        if (size >= 2 * JSON_HUGE) {
            (void) madvise(p, size, MADV_HUGEPAGE); /* a hint */
        }
        b = p;
        b->next = a->head;
        b->size = size;
        b->used = hdr;
        a->head = b;
    }
    b->used += n;
    return (char *) b + b->used - n;
}

static void
json_arena_free(struct json_arena *a)
{
    struct json_block *b = a->head, *next;

    for (; b != NULL; b = next) {
        next = b->next;
        PIER_ASSERT(munmap(b, b->size) == 0);
    }
    a->head = NULL;
}

/* Whether p is in arena a. */
static bool
json_arena_has(const struct json_arena *a, const void *p)
{
    const struct json_block *b;

    for (b = a->head; b != NULL; b = b->next) {
        if ((const char *) p >= (const char *) b
            && (const char *) p < (const char *) b + b->size) {
            return true;
        }
    }
    return false;
}

static void *
json_alloc(size_t n)
{
    if (json_arena != NULL) {
        return n < JSON_BLOCK_MAX ? json_arena_alloc(json_arena, n) : NULL;
    }
    return malloc(n);
}

/* What jansson frees during a decode is the decode's; everything else,
 * json_dumps()'s strings included, is malloc's. */
static void
json_free(void *p)
{
    if (json_arena == NULL || !json_arena_has(json_arena, p)) {
        free(p);
    }
}

void
sites_json_init(void)
{
    json_set_alloc_funcs(json_alloc, json_free);
    json_arena_ok = true;
}

/* Deep copy of a checked record into arena a. */
static void
entry_copy(struct arena_block **a, struct sites_entry *dst,
           const struct sites_entry *src)
{
    struct sites_header *h = NULL;
    size_t i;

    *dst = *src;
    dst->path = arena_strdup(a, src->path);
    dst->type = arena_strdup(a, src->type);
    dst->alias = src->alias != NULL ? arena_strdup(a, src->alias) : NULL;
    if (src->nheaders > 0) {
        h = arena_alloc(a, src->nheaders * sizeof(*h));
        for (i = 0; i < src->nheaders; i++) {
            h[i].name = arena_strdup(a, src->headers[i].name);
            h[i].value = arena_strdup(a, src->headers[i].value);
        }
    }
    dst->headers = h;
}

/* Byte order of two views; the order strcmp gives NUL-free strings. */
static int
str_cmp(struct pier_str a, struct pier_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;

    if (c != 0) {
        return c;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

/* Manifests. */

static char *
dup_or_null(const char *s)
{
    return s != NULL ? pier_strdup(s) : NULL;
}

static char *
text_dup(const char *p, size_t n)
{
    return p != NULL ? pier_strndup(p, n) : pier_strdup("");
}

struct sites_manifest *
sites_manifest_new(const char *site, const char *deploy, const char *parent,
                   const char *commit, int64_t created, struct pier_err *err)
{
    struct sites_manifest *m;

    if (site == NULL || !sites_name_ok(pier_str_cstr(site))) {
        pier_err_set(err, "bad site name '%.80s'",
                     site != NULL ? site : "(null)");
        return NULL;
    }
    if (deploy == NULL || !sites_deploy_id_ok(pier_str_cstr(deploy))) {
        pier_err_set(err, "bad deploy id '%.80s'",
                     deploy != NULL ? deploy : "(null)");
        return NULL;
    }
    if (parent != NULL && !sites_deploy_id_ok(pier_str_cstr(parent))) {
        pier_err_set(err, "bad parent deploy id '%.80s'", parent);
        return NULL;
    }
    if (commit != NULL && !git_id_ok(commit, strlen(commit))) {
        pier_err_set(err, "bad commit id '%.80s'", commit);
        return NULL;
    }
    m = pier_calloc(1, sizeof(*m));
    m->magic = SITES_MANIFEST_MAGIC;
    m->site = pier_strdup(site);
    m->deploy = pier_strdup(deploy);
    m->parent = dup_or_null(parent);
    m->commit = dup_or_null(commit);
    m->created = created;
    m->redirects = pier_strdup("");
    m->headers = pier_strdup("");
    return m;
}

void
sites_manifest_free(struct sites_manifest *m)
{
    if (m == NULL) {
        return;
    }
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    arena_free(m->strs);
    pier_free(m->e);
    pier_free(m->by_alias);
    pier_free(m->site);
    pier_free(m->deploy);
    pier_free(m->parent);
    pier_free(m->commit);
    pier_free(m->redirects);
    pier_free(m->headers);
    sites_redirects_free(m->rd);
    sites_headers_free(m->hd);
    m->magic = 0;
    pier_free(m);
}

int
sites_manifest_add(struct sites_manifest *m, const struct sites_entry *e,
                   struct pier_err *err)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(!m->sealed);
    if (entry_check(e, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (m->n == m->cap) {
        m->cap = m->cap == 0 ? 64 : m->cap * 2;
        m->e = pier_realloc(m->e, m->cap * sizeof(*m->e));
    }
    entry_copy(&m->strs, &m->e[m->n++], e);
    return PIER_OK;
}

int
sites_manifest_set_rules(struct sites_manifest *m, const char *redirects,
                         size_t redirects_len, const char *headers,
                         size_t headers_len, struct pier_err *err)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(!m->sealed);
    if (redirects_len > SITES_RULES_MAX || headers_len > SITES_RULES_MAX) {
        return pier_err_set(err, "rules longer than %d bytes", SITES_RULES_MAX);
    }
    /* The manifest stores the text as a JSON string, which is UTF-8. */
    if (redirects != NULL && !utf8_ok(redirects, redirects_len)) {
        return pier_err_set(err, "_redirects: not valid UTF-8");
    }
    if (headers != NULL && !utf8_ok(headers, headers_len)) {
        return pier_err_set(err, "_headers: not valid UTF-8");
    }
    pier_free(m->redirects);
    pier_free(m->headers);
    m->redirects = text_dup(redirects, redirects != NULL ? redirects_len : 0);
    m->redirects_len = redirects != NULL ? redirects_len : 0;
    m->headers = text_dup(headers, headers != NULL ? headers_len : 0);
    m->headers_len = headers != NULL ? headers_len : 0;
    return PIER_OK;
}

static int
cmp_entry(const void *a, const void *b)
{
    const struct sites_entry *x = a, *y = b;

    return strcmp(x->path, y->path);
}

static int
cmp_alias(const void *a, const void *b)
{
    const struct sites_entry *const *x = a, *const *y = b;

    return strcmp((*x)->alias, (*y)->alias);
}

static const struct sites_entry *
find_path(const struct sites_manifest *m, struct pier_str path)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(path, pier_str_cstr(m->e[mid].path));

        if (c == 0) {
            return &m->e[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

static const struct sites_entry *
find_alias(const struct sites_manifest *m, struct pier_str path)
{
    size_t lo = 0, hi = m->nalias;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(path, pier_str_cstr(m->by_alias[mid]->alias));

        if (c == 0) {
            return m->by_alias[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

int
sites_manifest_seal(struct sites_manifest *m, struct pier_err *err)
{
    const struct sites_entry **by_alias;
    size_t i, nalias = 0;

    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(!m->sealed);
    if (m->n > 1) {
        qsort(m->e, m->n, sizeof(*m->e), cmp_entry);
    }
    for (i = 1; i < m->n; i++) {
        if (strcmp(m->e[i - 1].path, m->e[i].path) == 0) {
            return pier_err_set(err, "path '%.200s' listed twice",
                                m->e[i].path);
        }
    }
    by_alias = pier_calloc(m->n + 1, sizeof(*by_alias));
    for (i = 0; i < m->n; i++) {
        if (m->e[i].klass == SITES_CLASS_ASSET) {
            by_alias[nalias++] = &m->e[i];
        }
    }
    if (nalias > 1) {
        qsort(by_alias, nalias, sizeof(*by_alias), cmp_alias);
    }
    for (i = 0; i < nalias; i++) {
        /* An alias that is also a path would make a URL mean two files. */
        if (i > 0 && strcmp(by_alias[i - 1]->alias, by_alias[i]->alias) == 0) {
            pier_err_set(err, "alias '%.200s' of '%.200s' listed twice",
                         by_alias[i]->alias, by_alias[i]->path);
            pier_free(by_alias);
            return PIER_ERR;
        }
        if (find_path(m, pier_str_cstr(by_alias[i]->alias)) != NULL) {
            pier_err_set(err, "alias '%.200s' of '%.200s' is also a path",
                         by_alias[i]->alias, by_alias[i]->path);
            pier_free(by_alias);
            return PIER_ERR;
        }
    }
    m->rd = sites_redirects_parse("_redirects", m->redirects, m->redirects_len,
                                  err);
    if (m->rd == NULL) {
        pier_free(by_alias);
        return PIER_ERR;
    }
    m->hd = sites_headers_parse("_headers", m->headers, m->headers_len, err);
    if (m->hd == NULL) {
        sites_redirects_free(m->rd);
        m->rd = NULL;
        pier_free(by_alias);
        return PIER_ERR;
    }
    m->by_alias = by_alias;
    m->nalias = nalias;
    m->sealed = true;
    return PIER_OK;
}

void
sites_manifest_assert(const struct sites_manifest *m)
{
    size_t i, nalias = 0;
    struct pier_err err;

    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    PIER_ASSERT(m->rd != NULL && m->hd != NULL);
    PIER_ASSERT(m->redirects != NULL && m->headers != NULL);
    for (i = 0; i < m->n; i++) {
        PIER_ASSERT(entry_check(&m->e[i], &err) == PIER_OK);
        PIER_ASSERT(i == 0 || strcmp(m->e[i - 1].path, m->e[i].path) < 0);
        if (m->e[i].klass == SITES_CLASS_ASSET) {
            nalias++;
        }
    }
    PIER_ASSERT(nalias == m->nalias);
    for (i = 0; i < m->nalias; i++) {
        const struct sites_entry *e = m->by_alias[i];

        PIER_ASSERT(e >= m->e && e < m->e + m->n);
        PIER_ASSERT(i == 0 || strcmp(m->by_alias[i - 1]->alias, e->alias) < 0);
        PIER_ASSERT(find_path(m, pier_str_cstr(e->alias)) == NULL);
    }
}

const char *
sites_manifest_site(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->site;
}

const char *
sites_manifest_deploy(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->deploy;
}

const char *
sites_manifest_parent(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->parent;
}

const char *
sites_manifest_commit(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->commit;
}

int64_t
sites_manifest_created(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->created;
}

size_t
sites_manifest_count(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return m->n;
}

const struct sites_entry *
sites_manifest_at(const struct sites_manifest *m, size_t i)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    PIER_ASSERT(i < m->n);
    return &m->e[i];
}

const struct sites_entry *
sites_manifest_get(const struct sites_manifest *m, struct pier_str path,
                   bool *hashed)
{
    const struct sites_entry *e;

    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    if (hashed != NULL) {
        *hashed = false;
    }
    if (path.ptr == NULL) {
        return NULL;
    }
    e = find_path(m, path);
    if (e != NULL) {
        return e;
    }
    e = find_alias(m, path);
    if (e != NULL && hashed != NULL) {
        *hashed = true;
    }
    return e;
}

struct pier_str
sites_manifest_redirects_text(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return pier_str_make(m->redirects, m->redirects_len);
}

const struct sites_redirects *
sites_manifest_redirects(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    return m->rd;
}

const struct sites_headers *
sites_manifest_headers(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    return m->hd;
}

struct pier_str
sites_manifest_headers_text(const struct sites_manifest *m)
{
    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    return pier_str_make(m->headers, m->headers_len);
}

uint64_t
sites_manifest_bytes(const struct sites_manifest *m)
{
    uint64_t sum = 0;
    size_t i;

    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    for (i = 0; i < m->n; i++) {
        sum += m->e[i].size;
    }
    return sum;
}

/* JSON out. The encoder writes straight into the caller's buffer: a
 * jansson tree of a 10,000-path manifest costs a third of a million
 * allocations to build and free, and the publisher encodes one on every
 * deploy. Every string written was checked to be UTF-8 when it came in,
 * so the output is valid JSON, which jansson reads back. */

struct jw {
    struct pier_buf *out;
    int rc; /* PIER_ERR once an append failed; later appends do nothing */
};

static void
jw_raw(struct jw *w, const char *p, size_t n)
{
    if (w->rc == PIER_OK) {
        w->rc = pier_buf_add(w->out, p, n);
    }
}

static void
jw_lit(struct jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

/* A quoted string: '"', '\' and control bytes escaped, the rest as is. */
static void
jw_str(struct jw *w, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    jw_raw(w, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        jw_raw(w, p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            jw_raw(w, "\\\"", 2);
            break;
        case '\\':
            jw_raw(w, "\\\\", 2);
            break;
        case '\n':
            jw_raw(w, "\\n", 2);
            break;
        case '\r':
            jw_raw(w, "\\r", 2);
            break;
        case '\t':
            jw_raw(w, "\\t", 2);
            break;
        default:
            jw_raw(w, esc, sizeof(esc));
            break;
        }
    }
    jw_raw(w, p + run, n - run);
    jw_raw(w, "\"", 1);
}

static void
jw_cstr(struct jw *w, const char *s)
{
    if (s == NULL) {
        jw_raw(w, "null", 4);
    } else {
        jw_str(w, s, strlen(s));
    }
}

/* ",\"key\":" (the comma unless first). Keys are plain ASCII. */
static void
jw_key(struct jw *w, const char *key, bool first)
{
    if (!first) {
        jw_raw(w, ",", 1);
    }
    jw_raw(w, "\"", 1);
    jw_lit(w, key);
    jw_raw(w, "\":", 2);
}

static void
jw_i64(struct jw *w, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);

    jw_raw(w, num, (size_t) n);
}

static void
jw_entry(struct jw *w, const struct sites_entry *e)
{
    size_t i;
    bool first = true;

    jw_key(w, "sha256", true);
    jw_str(w, e->sha256, strlen(e->sha256));
    jw_key(w, "type", false);
    jw_cstr(w, e->type);
    jw_key(w, "size", false);
    jw_i64(w, (int64_t) e->size);
    jw_key(w, "enc", false);
    jw_raw(w, "{", 1);
    for (i = 0; i < SITES_ENC_MAX; i++) {
        if (e->enc_size[i] > 0) {
            jw_key(w, enc_names[i], first);
            jw_i64(w, (int64_t) e->enc_size[i]);
            first = false;
        }
    }
    jw_raw(w, "}", 1);
    jw_key(w, "class", false);
    jw_lit(w, e->klass == SITES_CLASS_ASSET ? "\"asset\"" : "\"entry\"");
    if (e->git_blob[0] != '\0') {
        jw_key(w, "git", false);
        jw_cstr(w, e->git_blob);
    }
    if (e->alias != NULL) {
        jw_key(w, "alias", false);
        jw_cstr(w, e->alias);
    }
    if (e->nheaders > 0) {
        jw_key(w, "headers", false);
        jw_raw(w, "[", 1);
        for (i = 0; i < e->nheaders; i++) {
            jw_raw(w, i == 0 ? "[" : ",[", i == 0 ? 1 : 2);
            jw_cstr(w, e->headers[i].name);
            jw_raw(w, ",", 1);
            jw_cstr(w, e->headers[i].value);
            jw_raw(w, "]", 1);
        }
        jw_raw(w, "]", 1);
    }
}

/* Finish: on failure leave out as it was. */
static int
jw_end(struct jw *w, size_t len0, const char *what, struct pier_err *err)
{
    if (w->rc != PIER_OK) {
        pier_buf_truncate(w->out, len0);
        return pier_err_set(err, "%s: JSON longer than %zu bytes", what,
                            w->out->max);
    }
    return PIER_OK;
}

/* A string member, NULL when absent or null; PIER_ERR when of another
 * type or holding a NUL. */
static int
get_str(const json_t *o, const char *key, bool required, const char **out,
        size_t *len, const char *what, struct pier_err *err)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    if (len != NULL) {
        *len = 0;
    }
    if (v == NULL || json_is_null(v)) {
        if (required) {
            return pier_err_set(err, "%s: missing \"%s\"", what, key);
        }
        return PIER_OK;
    }
    if (!json_is_string(v)) {
        return pier_err_set(err, "%s: \"%s\" is not a string", what, key);
    }
    *out = json_string_value(v);
    if (len != NULL) {
        *len = json_string_length(v);
    } else if (strlen(*out) != json_string_length(v)) {
        return pier_err_set(err, "%s: \"%s\" holds a NUL", what, key);
    }
    return PIER_OK;
}

static int
get_uint(const json_t *v, uint64_t *out)
{
    json_int_t i;

    if (!json_is_integer(v)) {
        return PIER_ERR;
    }
    i = json_integer_value(v);
    if (i < 0) {
        return PIER_ERR;
    }
    *out = (uint64_t) i;
    return PIER_OK;
}

/* Read one record into e, whose strings point into o (valid while o
 * lives); headers go to hbuf (SITES_ENTRY_HEADERS_MAX long). Checked. */
static int
entry_from_json(const char *path, const json_t *o, struct sites_entry *e,
                struct sites_header *hbuf, struct pier_err *err)
{
    const char *s, *cls;
    const json_t *enc, *hs, *v;
    const char *key;
    size_t i, len;
    char what[240];

    memset(e, 0, sizeof(*e));
    e->path = path;
    snprintf(what, sizeof(what), "'%.200s'", path);
    if (!json_is_object(o)) {
        return pier_err_set(err, "%s: not an object", what);
    }
    if (get_str(o, "sha256", true, &s, NULL, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (strlen(s) != SITES_SHA256_HEX) {
        return pier_err_set(err, "%s: bad sha256", what);
    }
    memcpy(e->sha256, s, SITES_SHA256_HEX + 1);
    if (get_str(o, "type", true, &e->type, NULL, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (get_uint(json_object_get(o, "size"), &e->size) != PIER_OK) {
        return pier_err_set(err, "%s: bad or missing \"size\"", what);
    }
    enc = json_object_get(o, "enc");
    if (enc != NULL && !json_is_object(enc)) {
        return pier_err_set(err, "%s: \"enc\" is not an object", what);
    }
    json_object_foreach((json_t *) enc, key, v)
    {
        for (i = 0; i < SITES_ENC_MAX; i++) {
            if (strcmp(key, enc_names[i]) == 0) {
                break;
            }
        }
        if (i == SITES_ENC_MAX) {
            continue; /* an encoding this version does not serve */
        }
        if (get_uint(v, &e->enc_size[i]) != PIER_OK || e->enc_size[i] == 0) {
            return pier_err_set(err, "%s: bad size of encoding %s", what,
                                enc_names[i]);
        }
    }
    if (get_str(o, "class", true, &cls, NULL, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (strcmp(cls, "entry") == 0) {
        e->klass = SITES_CLASS_ENTRY;
    } else if (strcmp(cls, "asset") == 0) {
        e->klass = SITES_CLASS_ASSET;
    } else {
        return pier_err_set(err, "%s: unknown class '%.40s'", what, cls);
    }
    if (get_str(o, "git", false, &s, NULL, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    if (s != NULL) {
        len = strlen(s);
        if (len >= sizeof(e->git_blob)) {
            return pier_err_set(err, "%s: bad git blob id", what);
        }
        memcpy(e->git_blob, s, len + 1);
    }
    if (get_str(o, "alias", false, &e->alias, NULL, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    hs = json_object_get(o, "headers");
    if (hs != NULL && !json_is_null(hs)) {
        if (!json_is_array(hs)) {
            return pier_err_set(err, "%s: \"headers\" is not an array", what);
        }
        if (json_array_size(hs) > SITES_ENTRY_HEADERS_MAX) {
            return pier_err_set(err, "%s: more than %d headers", what,
                                SITES_ENTRY_HEADERS_MAX);
        }
        json_array_foreach(hs, i, v)
        {
            const json_t *n = json_array_get(v, 0), *val = json_array_get(v, 1);

            if (!json_is_array(v) || json_array_size(v) != 2
                || !json_is_string(n) || !json_is_string(val)
                || strlen(json_string_value(n)) != json_string_length(n)
                || strlen(json_string_value(val)) != json_string_length(val)) {
                return pier_err_set(err, "%s: header %zu is not [name, value]",
                                    what, i);
            }
            hbuf[i].name = json_string_value(n);
            hbuf[i].value = json_string_value(val);
        }
        e->headers = hbuf;
        e->nheaders = json_array_size(hs);
    }
    return entry_check(e, err);
}

int
sites_manifest_encode(const struct sites_manifest *m, struct pier_buf *out,
                      struct pier_err *err)
{
    struct jw w = {out, PIER_OK};
    size_t i, len0 = out->len;

    PIER_CHECK_OBJ(m, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(m->sealed);
    jw_lit(&w, "{\"format\":1");
    jw_key(&w, "site", false);
    jw_cstr(&w, m->site);
    jw_key(&w, "deploy", false);
    jw_cstr(&w, m->deploy);
    jw_key(&w, "parent", false);
    jw_cstr(&w, m->parent);
    jw_key(&w, "commit", false);
    jw_cstr(&w, m->commit);
    jw_key(&w, "created", false);
    jw_i64(&w, m->created);
    jw_key(&w, "files", false);
    jw_raw(&w, "{", 1);
    for (i = 0; i < m->n; i++) {
        if (i > 0) {
            jw_raw(&w, ",", 1);
        }
        jw_cstr(&w, m->e[i].path);
        jw_raw(&w, ":{", 2);
        jw_entry(&w, &m->e[i]);
        jw_raw(&w, "}", 1);
    }
    jw_raw(&w, "}", 1);
    jw_key(&w, "redirects", false);
    jw_str(&w, m->redirects, m->redirects_len);
    jw_key(&w, "headers", false);
    jw_str(&w, m->headers, m->headers_len);
    jw_raw(&w, "}", 1);
    return jw_end(&w, len0, "manifest", err);
}

/* Drop a tree load_json made. */
static void
drop_json(json_t *root, struct json_arena *arena)
{
    if (arena->head == NULL) {
        json_decref(root); /* on the heap */
    }
    json_arena_free(arena);
}

/* Parse json; after sites_json_init(), the tree lives in arena (which the
 * caller zeroed) and goes with drop_json(). */
static json_t *
load_json(const char *json, size_t n, const char *what,
          struct json_arena *arena, struct pier_err *err)
{
    json_error_t jerr;
    json_t *root;

    arena->block = n < JSON_BLOCK_MAX / JSON_ARENA_RATIO
                       ? n * JSON_ARENA_RATIO
                       : JSON_BLOCK_MAX;
    json_arena = json_arena_ok ? arena : NULL;
    root = json_loadb(json, n, 0, &jerr);
    json_arena = NULL;
    if (root == NULL) {
        json_arena_free(arena); /* what the parse made before it failed */
        pier_err_set(err, "%s: %d:%d: %s", what, jerr.line, jerr.column,
                     jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        drop_json(root, arena);
        pier_err_set(err, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* The header fields shared by a manifest and a delta. */
struct head {
    const char *site;
    const char *parent;
    const char *commit;
    int64_t created;
};

static int
get_head(const json_t *root, const char *what, struct head *h,
         struct pier_err *err)
{
    const json_t *v;

    if (get_str(root, "site", true, &h->site, NULL, what, err) != PIER_OK
        || get_str(root, "parent", false, &h->parent, NULL, what, err)
               != PIER_OK
        || get_str(root, "commit", false, &h->commit, NULL, what, err)
               != PIER_OK) {
        return PIER_ERR;
    }
    v = json_object_get(root, "created");
    if (!json_is_integer(v)) {
        return pier_err_set(err, "%s: bad or missing \"created\"", what);
    }
    h->created = json_integer_value(v);
    return PIER_OK;
}

/* The rules text members, "" when absent. */
static int
get_rules(const json_t *root, const char *what, const char **r, size_t *rlen,
          const char **h, size_t *hlen, struct pier_err *err)
{
    if (get_str(root, "redirects", false, r, rlen, what, err) != PIER_OK
        || get_str(root, "headers", false, h, hlen, what, err) != PIER_OK) {
        return PIER_ERR;
    }
    return PIER_OK;
}

/* Prefix err's message with what. */
static void
err_prefix(struct pier_err *err, const char *what)
{
    size_t w, n;

    if (err == NULL) {
        return;
    }
    w = strlen(what);
    PIER_ASSERT(w + 2 < sizeof(err->msg));
    n = strnlen(err->msg, sizeof(err->msg) - 1);
    if (n > sizeof(err->msg) - 1 - (w + 2)) {
        n = sizeof(err->msg) - 1 - (w + 2);
    }
    memmove(err->msg + w + 2, err->msg, n);
    memcpy(err->msg, what, w);
    err->msg[w] = ':';
    err->msg[w + 1] = ' ';
    err->msg[w + 2 + n] = '\0';
}

struct sites_manifest *
sites_manifest_decode(const char *json, size_t n, struct pier_err *err)
{
    struct json_arena ja = {0};
    json_t *root;
    const json_t *files, *v;
    const char *deploy, *path, *r, *h;
    size_t rlen, hlen;
    struct sites_manifest *m = NULL;
    struct sites_header hbuf[SITES_ENTRY_HEADERS_MAX];
    struct sites_entry e;
    struct head hd;

    root = load_json(json, n, "manifest", &ja, err);
    if (root == NULL) {
        return NULL;
    }
    v = json_object_get(root, "format");
    if (!json_is_integer(v) || json_integer_value(v) != MANIFEST_FORMAT) {
        pier_err_set(err, "manifest: \"format\" is not %d", MANIFEST_FORMAT);
        goto fail;
    }
    if (get_head(root, "manifest", &hd, err) != PIER_OK
        || get_str(root, "deploy", true, &deploy, NULL, "manifest", err)
               != PIER_OK
        || get_rules(root, "manifest", &r, &rlen, &h, &hlen, err) != PIER_OK) {
        goto fail;
    }
    m = sites_manifest_new(hd.site, deploy, hd.parent, hd.commit, hd.created,
                           err);
    if (m == NULL) {
        err_prefix(err, "manifest");
        goto fail;
    }
    files = json_object_get(root, "files");
    if (!json_is_object(files)) {
        pier_err_set(err, "manifest: \"files\" is not an object");
        goto fail;
    }
    json_object_foreach((json_t *) files, path, v)
    {
        if (entry_from_json(path, v, &e, hbuf, err) != PIER_OK
            || sites_manifest_add(m, &e, err) != PIER_OK) {
            err_prefix(err, "manifest");
            goto fail;
        }
    }
    if (sites_manifest_set_rules(m, r, rlen, h, hlen, err) != PIER_OK
        || sites_manifest_seal(m, err) != PIER_OK) {
        err_prefix(err, "manifest");
        goto fail;
    }
    drop_json(root, &ja);
    return m;

fail:
    sites_manifest_free(m);
    drop_json(root, &ja);
    return NULL;
}

/* zstd. */

int
sites_zstd_compress(const void *p, size_t n, int level, struct pier_buf *out,
                    struct pier_err *err)
{
    size_t bound = ZSTD_compressBound(n), r;
    char *dst;

    dst = pier_buf_reserve(out, bound);
    if (dst == NULL) {
        return pier_err_set(err, "zstd: output longer than %zu bytes",
                            out->max);
    }
    r = ZSTD_compress(dst, pier_buf_avail(out), p, n, level);
    if (ZSTD_isError(r)) {
        if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
            return pier_err_set(err, "zstd: output longer than %zu bytes",
                                out->max);
        }
        return pier_err_set(err, "zstd: %s", ZSTD_getErrorName(r));
    }
    pier_buf_commit(out, r);
    return PIER_OK;
}

int
sites_zstd_decompress(const void *p, size_t n, struct pier_buf *out,
                      struct pier_err *err)
{
    ZSTD_DCtx *dctx;
    ZSTD_inBuffer in = {p, n, 0};
    size_t len0 = out->len, last = 0;
    char scratch[1];
    bool full = false;

    if (n == 0) {
        return pier_err_set(err, "zstd: empty input");
    }
    dctx = ZSTD_createDCtx();
    if (dctx == NULL) {
        return pier_err_set(err, "zstd: cannot create a context");
    }
    /* Run until all input is taken and zstd has nothing left to flush: a
     * frame in progress (last != 0) whose previous call filled the output
     * may hold more. A call after a finished frame would start a new one,
     * so none is made then. */
    while (in.pos < in.size || (last != 0 && full)) {
        char *dst = pier_buf_reserve(out, 64 * 1024);
        size_t in0 = in.pos;
        ZSTD_outBuffer o;

        /* At the maximum a one-byte scratch tells whether the frame has
         * more to give (too long) or was done. */
        o.dst = dst != NULL ? dst : scratch;
        o.size = dst != NULL ? pier_buf_avail(out) : sizeof(scratch);
        o.pos = 0;
        last = ZSTD_decompressStream(dctx, &o, &in);
        if (ZSTD_isError(last)) {
            ZSTD_freeDCtx(dctx);
            pier_buf_truncate(out, len0);
            return pier_err_set(err, "zstd: %s", ZSTD_getErrorName(last));
        }
        if (dst == NULL && o.pos > 0) {
            ZSTD_freeDCtx(dctx);
            pier_buf_truncate(out, len0);
            return pier_err_set(err, "zstd: content longer than %zu bytes",
                                out->max);
        }
        if (dst != NULL) {
            pier_buf_commit(out, o.pos);
        }
        full = o.pos == o.size;
        if (o.pos == 0 && in.pos == in0) {
            break; /* no progress: the frame wants input we do not have */
        }
    }
    ZSTD_freeDCtx(dctx);
    if (last != 0) {
        pier_buf_truncate(out, len0);
        return pier_err_set(err, "zstd: truncated frame");
    }
    return PIER_OK;
}

int
sites_manifest_store_zst(const struct sites_manifest *m, int level,
                         struct pier_buf *out, struct pier_err *err)
{
    struct pier_buf json;
    int r;

    pier_buf_init(&json, SIZE_MAX);
    r = sites_manifest_encode(m, &json, err);
    if (r == PIER_OK) {
        r = sites_zstd_compress(json.data, json.len, level, out, err);
    }
    pier_buf_release(&json);
    return r;
}

struct sites_manifest *
sites_manifest_load_zst(const void *p, size_t n, size_t max,
                        struct pier_err *err)
{
    struct pier_buf json;
    struct sites_manifest *m = NULL;
    unsigned long long size = ZSTD_getFrameContentSize(p, n);

    pier_buf_init(&json, max);
    if (size != ZSTD_CONTENTSIZE_UNKNOWN && size != ZSTD_CONTENTSIZE_ERROR
        && size < max) {
        /* Told by the frame (and a lie costs only memory up to max): one
         * allocation instead of a doubling per 64 KiB step. */
        (void) pier_buf_reserve(&json, (size_t) size + 1);
    }
    if (sites_zstd_decompress(p, n, &json, err) == PIER_OK) {
        m = sites_manifest_decode(json.data, json.len, err);
    } else {
        err_prefix(err, "manifest");
    }
    pier_buf_release(&json);
    return m;
}

/* Deltas. */

static struct sites_delta *
delta_new(const char *site, const char *from, const char *to,
          const char *parent, const char *commit, int64_t created)
{
    struct sites_delta *d = pier_calloc(1, sizeof(*d));

    d->magic = SITES_DELTA_MAGIC;
    d->site = pier_strdup(site);
    d->from = dup_or_null(from);
    d->to = pier_strdup(to);
    d->parent = dup_or_null(parent);
    d->commit = dup_or_null(commit);
    d->created = created;
    return d;
}

/* Append a change; e (checked) is copied, NULL for a removal. */
static void
delta_push(struct sites_delta *d, const char *path, const struct sites_entry *e)
{
    struct sites_change *c;

    if (d->n == d->cap) {
        d->cap = d->cap == 0 ? 16 : d->cap * 2;
        d->c = pier_realloc(d->c, d->cap * sizeof(*d->c));
    }
    c = &d->c[d->n++];
    c->path = arena_strdup(&d->strs, path);
    c->e = NULL;
    if (e != NULL) {
        c->e = arena_alloc(&d->strs, sizeof(*c->e));
        entry_copy(&d->strs, c->e, e);
    }
}

void
sites_delta_free(struct sites_delta *d)
{
    if (d == NULL) {
        return;
    }
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    arena_free(d->strs);
    pier_free(d->c);
    pier_free(d->site);
    pier_free(d->from);
    pier_free(d->to);
    pier_free(d->parent);
    pier_free(d->commit);
    pier_free(d->redirects);
    pier_free(d->headers);
    d->magic = 0;
    pier_free(d);
}

static void
delta_set_rules(struct sites_delta *d, const char *r, size_t rlen,
                const char *h, size_t hlen)
{
    d->rules_changed = true;
    d->redirects = text_dup(r, r != NULL ? rlen : 0);
    d->redirects_len = r != NULL ? rlen : 0;
    d->headers = text_dup(h, h != NULL ? hlen : 0);
    d->headers_len = h != NULL ? hlen : 0;
}

struct sites_delta *
sites_delta_compute(const struct sites_manifest *from,
                    const struct sites_manifest *to, struct pier_err *err)
{
    struct sites_delta *d;
    size_t i = 0, j = 0, nfrom;

    PIER_CHECK_OBJ(to, SITES_MANIFEST_MAGIC);
    PIER_ASSERT(to->sealed);
    if (from != NULL) {
        PIER_CHECK_OBJ(from, SITES_MANIFEST_MAGIC);
        PIER_ASSERT(from->sealed);
        if (strcmp(from->site, to->site) != 0) {
            pier_err_set(err, "delta: manifests of sites '%s' and '%s'",
                         from->site, to->site);
            return NULL;
        }
    }
    d = delta_new(to->site, from != NULL ? from->deploy : NULL, to->deploy,
                  to->parent, to->commit, to->created);
    nfrom = from != NULL ? from->n : 0;
    /* Both arrays are sorted by path: one merge walk. */
    while (i < nfrom || j < to->n) {
        int c;

        if (i == nfrom) {
            c = 1;
        } else if (j == to->n) {
            c = -1;
        } else {
            c = strcmp(from->e[i].path, to->e[j].path);
        }
        if (c < 0) {
            delta_push(d, from->e[i].path, NULL);
            i++;
        } else if (c > 0) {
            delta_push(d, to->e[j].path, &to->e[j]);
            j++;
        } else {
            if (!sites_entry_eq(&from->e[i], &to->e[j])) {
                delta_push(d, to->e[j].path, &to->e[j]);
            }
            i++;
            j++;
        }
    }
    if (from == NULL || from->redirects_len != to->redirects_len
        || memcmp(from->redirects, to->redirects, to->redirects_len) != 0
        || from->headers_len != to->headers_len
        || memcmp(from->headers, to->headers, to->headers_len) != 0) {
        delta_set_rules(d, to->redirects, to->redirects_len, to->headers,
                        to->headers_len);
    }
    return d;
}

const char *
sites_delta_site(const struct sites_delta *d)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    return d->site;
}

const char *
sites_delta_from(const struct sites_delta *d)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    return d->from;
}

const char *
sites_delta_to(const struct sites_delta *d)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    return d->to;
}

bool
sites_delta_rules_changed(const struct sites_delta *d)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    return d->rules_changed;
}

size_t
sites_delta_count(const struct sites_delta *d)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    return d->n;
}

const struct sites_entry *
sites_delta_at(const struct sites_delta *d, size_t i, const char **path)
{
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    PIER_ASSERT(i < d->n);
    if (path != NULL) {
        *path = d->c[i].path;
    }
    return d->c[i].e;
}

int
sites_delta_encode(const struct sites_delta *d, struct pier_buf *out,
                   struct pier_err *err)
{
    struct jw w = {out, PIER_OK};
    size_t i, len0 = out->len;

    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    jw_raw(&w, "{", 1);
    jw_key(&w, "site", true);
    jw_cstr(&w, d->site);
    jw_key(&w, "from_deploy", false);
    jw_cstr(&w, d->from);
    jw_key(&w, "to_deploy", false);
    jw_cstr(&w, d->to);
    jw_key(&w, "parent", false);
    jw_cstr(&w, d->parent);
    jw_key(&w, "commit", false);
    jw_cstr(&w, d->commit);
    jw_key(&w, "created", false);
    jw_i64(&w, d->created);
    jw_key(&w, "changes", false);
    jw_raw(&w, "{", 1);
    for (i = 0; i < d->n; i++) {
        if (i > 0) {
            jw_raw(&w, ",", 1);
        }
        jw_cstr(&w, d->c[i].path);
        if (d->c[i].e == NULL) {
            jw_raw(&w, ":null", 5);
            continue;
        }
        jw_raw(&w, ":{", 2);
        jw_entry(&w, d->c[i].e);
        jw_raw(&w, "}", 1);
    }
    jw_raw(&w, "}", 1);
    jw_key(&w, "rules_changed", false);
    jw_lit(&w, d->rules_changed ? "true" : "false");
    if (d->rules_changed) {
        jw_key(&w, "redirects", false);
        jw_str(&w, d->redirects, d->redirects_len);
        jw_key(&w, "headers", false);
        jw_str(&w, d->headers, d->headers_len);
    }
    jw_raw(&w, "}", 1);
    return jw_end(&w, len0, "delta", err);
}

static int
cmp_change(const void *a, const void *b)
{
    const struct sites_change *x = a, *y = b;

    return strcmp(x->path, y->path);
}

struct sites_delta *
sites_delta_decode(const char *json, size_t n, struct pier_err *err)
{
    struct json_arena ja = {0};
    json_t *root;
    const json_t *changes, *v, *rc;
    const char *from, *to, *path, *r, *h;
    size_t rlen, hlen;
    struct sites_delta *d = NULL;
    struct sites_header hbuf[SITES_ENTRY_HEADERS_MAX];
    struct sites_entry e;
    struct head hd;

    root = load_json(json, n, "delta", &ja, err);
    if (root == NULL) {
        return NULL;
    }
    if (get_head(root, "delta", &hd, err) != PIER_OK
        || get_str(root, "from_deploy", false, &from, NULL, "delta", err)
               != PIER_OK
        || get_str(root, "to_deploy", true, &to, NULL, "delta", err)
               != PIER_OK) {
        goto fail;
    }
    if (!sites_name_ok(pier_str_cstr(hd.site))) {
        pier_err_set(err, "delta: bad site name '%.80s'", hd.site);
        goto fail;
    }
    if ((from != NULL && !sites_deploy_id_ok(pier_str_cstr(from)))
        || !sites_deploy_id_ok(pier_str_cstr(to))
        || (hd.parent != NULL
            && !sites_deploy_id_ok(pier_str_cstr(hd.parent)))) {
        pier_err_set(err, "delta: bad deploy id");
        goto fail;
    }
    if (hd.commit != NULL && !git_id_ok(hd.commit, strlen(hd.commit))) {
        pier_err_set(err, "delta: bad commit id");
        goto fail;
    }
    rc = json_object_get(root, "rules_changed");
    if (!json_is_boolean(rc)) {
        pier_err_set(err, "delta: bad or missing \"rules_changed\"");
        goto fail;
    }
    d = delta_new(hd.site, from, to, hd.parent, hd.commit, hd.created);
    if (json_is_true(rc)) {
        if (get_rules(root, "delta", &r, &rlen, &h, &hlen, err) != PIER_OK) {
            goto fail;
        }
        if (rlen > SITES_RULES_MAX || hlen > SITES_RULES_MAX) {
            pier_err_set(err, "delta: rules longer than %d bytes",
                         SITES_RULES_MAX);
            goto fail;
        }
        delta_set_rules(d, r, rlen, h, hlen);
    }
    changes = json_object_get(root, "changes");
    if (!json_is_object(changes)) {
        pier_err_set(err, "delta: \"changes\" is not an object");
        goto fail;
    }
    json_object_foreach((json_t *) changes, path, v)
    {
        if (json_is_null(v)) {
            if (!sites_path_ok(pier_str_cstr(path))) {
                pier_err_set(err, "delta: bad path '%.200s'", path);
                goto fail;
            }
            delta_push(d, path, NULL);
            continue;
        }
        if (entry_from_json(path, v, &e, hbuf, err) != PIER_OK) {
            err_prefix(err, "delta");
            goto fail;
        }
        delta_push(d, path, &e);
    }
    if (d->n > 1) {
        qsort(d->c, d->n, sizeof(*d->c), cmp_change);
    }
    drop_json(root, &ja);
    return d;

fail:
    sites_delta_free(d);
    drop_json(root, &ja);
    return NULL;
}

struct sites_manifest *
sites_manifest_apply(const struct sites_manifest *from,
                     const struct sites_delta *d, struct pier_err *err)
{
    struct sites_manifest *m;
    size_t i = 0, j = 0;
    int r;

    PIER_CHECK_OBJ(from, SITES_MANIFEST_MAGIC);
    PIER_CHECK_OBJ(d, SITES_DELTA_MAGIC);
    PIER_ASSERT(from->sealed);
    if (strcmp(from->site, d->site) != 0) {
        pier_err_set(err, "delta: for site '%s', not '%s'", d->site,
                     from->site);
        return NULL;
    }
    if (d->from == NULL || strcmp(from->deploy, d->from) != 0) {
        pier_err_set(err, "delta: from deploy '%s', not '%s'",
                     d->from != NULL ? d->from : "(none)", from->deploy);
        return NULL;
    }
    m = sites_manifest_new(d->site, d->to, d->parent, d->commit, d->created,
                           err);
    if (m == NULL) {
        return NULL;
    }
    m->cap = from->n + d->n;
    m->e = pier_malloc((m->cap > 0 ? m->cap : 1) * sizeof(*m->e));
    /* Both are sorted by path: one merge walk. */
    while (i < from->n || j < d->n) {
        int c;

        if (i == from->n) {
            c = 1;
        } else if (j == d->n) {
            c = -1;
        } else {
            c = strcmp(from->e[i].path, d->c[j].path);
        }
        if (c < 0) {
            entry_copy(&m->strs, &m->e[m->n++], &from->e[i]);
            i++;
            continue;
        }
        if (c > 0 && d->c[j].e == NULL) {
            pier_err_set(err, "delta: removes '%.200s', which '%s' lacks",
                         d->c[j].path, from->deploy);
            sites_manifest_free(m);
            return NULL;
        }
        if (d->c[j].e != NULL) {
            entry_copy(&m->strs, &m->e[m->n++], d->c[j].e);
        }
        if (c == 0) {
            i++;
        }
        j++;
    }
    /* Both texts were checked against SITES_RULES_MAX when they came in,
     * so this cannot fail. */
    if (d->rules_changed) {
        r = sites_manifest_set_rules(m, d->redirects, d->redirects_len,
                                     d->headers, d->headers_len, err);
    } else {
        r = sites_manifest_set_rules(m, from->redirects, from->redirects_len,
                                     from->headers, from->headers_len, err);
    }
    PIER_ASSERT(r == PIER_OK);
    if (sites_manifest_seal(m, err) != PIER_OK) {
        err_prefix(err, "delta");
        sites_manifest_free(m);
        return NULL;
    }
    return m;
}
