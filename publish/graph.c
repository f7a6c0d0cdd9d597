/*
 * publish/graph.c - assets, hashed names bottom-up, cycles, rewriting.
 *
 * The only edges that order the hashing are those out of CSS assets: an
 * HTML file is never an asset (its URL must stay stable), and other types
 * are not parsed, so only CSS can make one asset's name depend on
 * another's. A depth-first walk over those edges finishes children before
 * parents; a back edge is a cycle.
 *
 * Parsing every document and finishing the pages (rewrite and hash) are
 * independent per file and run on every core: one file is one job taken
 * from a shared counter. Resolving references (which marks other nodes as
 * assets) and the walk over the assets stay on the calling thread. In a
 * parallel phase a node's warnings wait in the node and join the list in
 * file order afterwards, so the output does not depend on the schedule.
 */
#include "config.h"

#include "publish/graph.h"

#include "lib/buf.h"
#include "lib/par.h"
#include "lib/sha.h"
#include "publish/css.h"
#include "publish/html.h"
#include "publish/url.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <uv.h>

#define NO_FILE SIZE_MAX

enum kind { k_other = 0, k_html, k_css };

struct node {
    enum kind kind; /* k_other for opaque inputs: never parsed */
    bool html;      /* by its name, parsed or not: never an asset */
    struct publish_refs refs;
    struct publish_html_sris sris; /* tags to give an integrity */
    size_t *target; /* per reference: the file it names, or NO_FILE */
    int state;      /* 0: not seen, 1: on the walk's stack, 2: done */
    bool asset;
    bool plain;  /* in a cycle: keeps its plain name */
    char *owned; /* rewritten bytes when not the input's */
    char *hashed;
    struct pier_buf base; /* <base href>, from the parse */
    char **warnings;      /* a parallel phase's, until merged */
    size_t nwarnings;
};

struct publish_graph {
    const struct publish_graph_in *in;
    size_t n;
    struct publish_graph_opts o;
    struct node *nodes;
    struct publish_graph_out *out;
    size_t *byname; /* indexes sorted by path */
    char **warnings;
    size_t nwarnings;
    size_t *stack; /* the walk's path, for cycle reports */
    size_t *next;  /* per step of the path: the next reference */
    size_t sp;
    bool par;             /* in a parallel phase: warnings go to the node */
    uv_mutex_t read_lock; /* o.read is not thread-safe */
};

/* A warning about file i (the list's order is the files'). */
static void PIER_PRINTF(3, 4)
    warn(struct publish_graph *g, size_t i, const char *fmt, ...)
{
    struct pier_buf b;
    va_list ap;
    char ***v = &g->warnings;
    size_t *n = &g->nwarnings;
    int rc;

    pier_buf_init(&b, 4096);
    va_start(ap, fmt);
    rc = pier_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    if (rc != PIER_OK) {
        pier_buf_release(&b);
        return; /* a warning over 4 KB is not worth printing */
    }
    if (g->par) {
        v = &g->nodes[i].warnings;
        n = &g->nodes[i].nwarnings;
    }
    *v = pier_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = pier_buf_detach(&b, NULL);
}

/* After a parallel phase: the nodes' warnings join the list in order. */
static void
merge_warnings(struct publish_graph *g)
{
    size_t i, k;

    for (i = 0; i < g->n; i++) {
        struct node *nd = &g->nodes[i];

        for (k = 0; k < nd->nwarnings; k++) {
            g->warnings = pier_realloc(g->warnings, (g->nwarnings + 1)
                                                        * sizeof(*g->warnings));
            g->warnings[g->nwarnings++] = nd->warnings[k];
        }
        pier_free(nd->warnings);
        nd->warnings = NULL;
        nd->nwarnings = 0;
    }
}

struct phase {
    struct publish_graph *g;
    int (*fn)(struct publish_graph *g, size_t i, struct pier_err *err);
    bool (*pick)(const struct publish_graph *g, size_t i);
};

static int
phase_job(void *arg, void *ctx, size_t i, struct pier_err *err)
{
    struct phase *ph = arg;

    (void) ctx;
    return ph->pick(ph->g, i) ? ph->fn(ph->g, i, err) : PIER_OK;
}

/* fn(g, i) for every file pick() takes, on every core (lib/par.h: the
 * first failing file's error is the one reported); then the warnings the
 * phase left in the nodes join the list in file order. */
static int
par_each(struct publish_graph *g,
         int (*fn)(struct publish_graph *g, size_t i, struct pier_err *err),
         bool (*pick)(const struct publish_graph *g, size_t i),
         struct pier_err *err)
{
    struct phase ph = {g, fn, pick};
    struct pier_par p = {.fn = phase_job, .arg = &ph, .min_jobs = 64};
    int rc;

    g->par = true;
    rc = pier_par_each(&p, g->n, err);
    g->par = false;
    merge_warnings(g);
    return rc;
}

static enum kind
kind_of(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL || strchr(dot, '/') != NULL) {
        return k_other;
    }
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0) {
        return k_html;
    }
    if (strcasecmp(dot, ".css") == 0) {
        return k_css;
    }
    return k_other;
}

bool
publish_graph_parses(const char *path)
{
    return kind_of(path) != k_other;
}

static int
cmp_byname(const void *a, const void *b, void *arg)
{
    const struct publish_graph *g = arg;

    return strcmp(g->in[*(const size_t *) a].path,
                  g->in[*(const size_t *) b].path);
}

static size_t
find(const struct publish_graph *g, const char *path)
{
    size_t lo = 0, hi = g->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, g->in[g->byname[mid]].path);

        if (c == 0) {
            return g->byname[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NO_FILE;
}

/* The file a resolved path names: itself, or for folders and pretty URLs
 * the page the edge would serve (ARCHITECTURE.md, the request path). */
static size_t
find_page(const struct publish_graph *g, struct pier_buf *p)
{
    size_t len = p->len, i;

    if (len > 0 && p->data[len - 1] != '/') {
        i = find(g, p->data);
        if (i != NO_FILE) {
            return i;
        }
        PIER_ASSERT(pier_buf_adds(p, ".html") == PIER_OK);
        i = find(g, p->data);
        pier_buf_truncate(p, len);
        if (i != NO_FILE) {
            return i;
        }
        PIER_ASSERT(pier_buf_addch(p, '/') == PIER_OK);
    }
    PIER_ASSERT(pier_buf_adds(p, "index.html") == PIER_OK);
    i = find(g, p->data);
    pier_buf_truncate(p, len);
    return i;
}

static void
hashed_path(const char *path, const char *hex, unsigned hash_len,
            struct pier_buf *out)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem =
        dot != NULL && dot != base ? (size_t) (dot - path) : strlen(path);

    pier_buf_reset(out);
    PIER_ASSERT(pier_buf_add(out, path, stem) == PIER_OK);
    PIER_ASSERT(pier_buf_addch(out, '.') == PIER_OK);
    PIER_ASSERT(pier_buf_add(out, hex, hash_len) == PIER_OK);
    PIER_ASSERT(pier_buf_adds(out, path + stem) == PIER_OK);
}

void
publish_graph_hashed_path(const char *path, const char *hex, unsigned hash_len,
                          struct pier_buf *out)
{
    PIER_ASSERT(hash_len <= strlen(hex));
    hashed_path(path, hex, hash_len, out);
}

static const char *
basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* Parse file i for its references (any thread). */
static int
parse(struct publish_graph *g, size_t i, struct pier_err *err)
{
    const struct publish_graph_in *in = &g->in[i];
    struct node *nd = &g->nodes[i];

    if (nd->kind == k_html
        && publish_html_collect_sri(
               in->data, in->len, &nd->refs, &nd->base,
               g->o.integrity != PUBLISH_SRI_OFF ? &nd->sris : NULL, err)
               != PIER_OK) {
        char msg[sizeof(err->msg)];

        memcpy(msg, err->msg, sizeof(msg));
        return pier_err_set(err, "%s: %s", in->path, msg);
    }
    if (nd->kind == k_css) {
        publish_css_collect(in->data, in->len, 0, 1, PUBLISH_REF_NOGROUP,
                            &nd->refs);
    }
    return PIER_OK;
}

static bool
is_doc(const struct publish_graph *g, size_t i)
{
    return g->nodes[i].kind != k_other;
}

/* What the references of parsed file i name; marks those as assets (the
 * building thread only). */
static void
resolve(struct publish_graph *g, size_t i)
{
    const struct publish_graph_in *in = &g->in[i];
    struct node *nd = &g->nodes[i];
    struct pier_buf p;
    const char *base_dir = NULL;
    bool offsite = false;
    size_t j;

    pier_buf_init(&p, SIZE_MAX);
    if (nd->base.len > 0) {
        /* <base href>: off the site, every relative reference is too;
         * else relative references start from its folder. */
        if (publish_url_is_absolute(nd->base.data)) {
            offsite = true;
        } else {
            size_t k;

            if (!publish_url_resolve(in->path, NULL, nd->base.data, &p)) {
                pier_buf_reset(&p); /* "/" or "": the root */
            }
            k = p.len;
            while (k > 0 && p.data[k - 1] != '/') {
                k--; /* "/x/page.html" as a base means the folder /x/ */
            }
            pier_buf_truncate(&p, k);
            pier_buf_reset(&nd->base);
            PIER_ASSERT(pier_buf_addstr(&nd->base, pier_buf_str(&p))
                        == PIER_OK);
            base_dir = nd->base.data;
        }
    }
    nd->target = pier_malloc((nd->refs.n + 1) * sizeof(*nd->target));
    for (j = 0; j < nd->refs.n; j++) {
        const struct publish_ref *r = &nd->refs.refs[j];
        size_t t;

        nd->target[j] = NO_FILE;
        if (offsite || !publish_url_resolve(in->path, base_dir, r->url, &p)) {
            continue;
        }
        t = find_page(g, &p);
        if (t == NO_FILE) {
            warn(g, i, "%s:%u: '%s' (%s): no such file '%s'", in->path, r->line,
                 r->url, r->what, p.data);
            continue;
        }
        nd->target[j] = t;
        if (g->o.hash && !g->nodes[t].html) {
            g->nodes[t].asset = true;
        }
    }
    pier_buf_release(&p);
}

static const char *const sri_names[] = {"", "sha256", "sha384", "sha512"};

void
publish_graph_sri(enum publish_sri kind, const void *p, size_t n,
                  struct pier_buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char b64[PIER_BASE64_LEN(EVP_MAX_MD_SIZE) + 1];
    const EVP_MD *type = kind == PUBLISH_SRI_SHA256   ? EVP_sha256()
                         : kind == PUBLISH_SRI_SHA384 ? EVP_sha384()
                                                      : EVP_sha512();
    unsigned mdn = 0;

    PIER_ASSERT(kind > PUBLISH_SRI_OFF && kind <= PUBLISH_SRI_SHA512);
    PIER_ASSERT(EVP_Digest(p, n, md, &mdn, type, NULL) == 1);
    b64[pier_base64_encode(md, mdn, b64)] = '\0';
    pier_buf_reset(out);
    PIER_ASSERT(pier_buf_addf(out, "%s-%s", sri_names[kind], b64) == PIER_OK);
}

/* The strongest algorithm among an integrity value's tokens
 * ("sha384-<base64>[?options]"), or OFF when none is known (SRI,
 * "get the strongest metadata from set"). */
static enum publish_sri
sri_strongest(const char *v)
{
    enum publish_sri best = PUBLISH_SRI_OFF, k;
    const char *p = v;

    while (*p != '\0') {
        size_t n;

        p += strspn(p, " \t\n\r\f");
        n = strcspn(p, " \t\n\r\f");
        for (k = PUBLISH_SRI_SHA256; k <= PUBLISH_SRI_SHA512; k++) {
            size_t an = strlen(sri_names[k]);

            if (n > an && strncasecmp(p, sri_names[k], an) == 0 && p[an] == '-'
                && k > best) {
                best = k;
            }
        }
        p += n;
    }
    return best;
}

/* True when one of v's tokens of want's algorithm is want ("sha384-..."),
 * options after '?' ignored. */
static bool
sri_matches(const char *v, const char *want)
{
    const char *p = v, *dash = strchr(want, '-');
    size_t an = (size_t) (dash - want);

    while (*p != '\0') {
        size_t n, m;

        p += strspn(p, " \t\n\r\f");
        n = strcspn(p, " \t\n\r\f");
        m = strcspn(p, "? \t\n\r\f");
        if (m == strlen(want) && strncasecmp(p, want, an + 1) == 0
            && memcmp(p + an + 1, dash + 1, m - an - 1) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

/* The published bytes of finished file t, for an integrity: NULL when
 * they are not at hand. */
static int
sri_bytes(struct publish_graph *g, size_t t, const char **data, size_t *len,
          struct pier_err *err)
{
    const struct publish_graph_out *o = &g->out[t];
    int rc;

    *data = o->data;
    *len = o->len;
    if (o->data != NULL || o->len == 0) {
        *data = o->data != NULL ? o->data : "";
        return PIER_OK;
    }
    if (g->in[t].opaque || g->o.read == NULL) {
        return PIER_OK; /* rewritten bytes we do not have */
    }
    uv_mutex_lock(&g->read_lock);
    rc = g->o.read(g->o.read_arg, t, data, len, err);
    uv_mutex_unlock(&g->read_lock);
    return rc;
}

/* Append to nd's references one insertion per tag that gets an integrity
 * attribute, their texts to texts; warn about tags whose own attribute
 * does not match. */
static int
add_integrity(struct publish_graph *g, size_t i, char ***texts, size_t *ntexts,
              struct pier_err *err)
{
    struct node *nd = &g->nodes[i];
    struct pier_buf b, attr;
    size_t k;
    int rc = PIER_OK;

    pier_buf_init(&b, SIZE_MAX);
    pier_buf_init(&attr, SIZE_MAX);
    for (k = 0; k < nd->sris.n && rc == PIER_OK; k++) {
        const struct publish_html_sri *s = &nd->sris.v[k];
        const char *url = nd->refs.refs[s->ref].url;
        size_t t = nd->target[s->ref], len;
        enum publish_sri kind = g->o.integrity;
        const char *data;
        struct publish_ref *r;

        if (t == NO_FILE || g->nodes[t].html) {
            continue;
        }
        PIER_ASSERT(g->nodes[t].state == 2);
        if (s->integrity != NULL) {
            kind = sri_strongest(s->integrity);
            if (kind == PUBLISH_SRI_OFF) {
                continue; /* nothing a browser checks, nothing we can */
            }
        }
        rc = sri_bytes(g, t, &data, &len, err);
        if (rc != PIER_OK) {
            break;
        }
        if (data == NULL) {
            warn(g, i, "%s:%u: '%s': no integrity, its bytes are not at hand",
                 g->in[i].path, s->line, url);
            continue;
        }
        publish_graph_sri(kind, data, len, &b);
        if (s->integrity != NULL) {
            if (!sri_matches(s->integrity, b.data)) {
                warn(g, i,
                     "%s:%u: '%s': its integrity attribute does not match "
                     "the published file (%s), kept as it is",
                     g->in[i].path, s->line, url, b.data);
            }
            continue;
        }
        /* base64 needs no escaping inside double quotes. */
        PIER_ASSERT(pier_buf_addf(&attr, " integrity=\"%s\"", b.data)
                    == PIER_OK);
        *texts = pier_realloc(*texts, (*ntexts + 1) * sizeof(**texts));
        (*texts)[(*ntexts)++] = pier_buf_detach(&attr, NULL);
        r = publish_refs_add(&nd->refs, "", 0, s->at, s->at, s->line);
        r->esc = PUBLISH_ESC_NONE;
        r->raw_is_url = false;
        r->what = "integrity";
    }
    pier_buf_release(&attr);
    pier_buf_release(&b);
    return rc;
}

/* Rewrite file i with the hashed names of the assets it references,
 * hash it, and name it if it is an asset. */
static int
finish(struct publish_graph *g, size_t i, struct pier_err *err)
{
    const struct publish_graph_in *in = &g->in[i];
    struct node *nd = &g->nodes[i];
    struct publish_graph_out *o = &g->out[i];
    const char **urls = NULL;
    char **owned_urls = NULL, **texts = NULL;
    struct pier_buf b;
    bool any = false;
    size_t j, nrefs = nd->refs.n, ntexts = 0;
    int rc = PIER_OK;

    pier_buf_init(&b, SIZE_MAX);
    if (nd->sris.n > 0) {
        rc = add_integrity(g, i, &texts, &ntexts, err);
    }
    if (nd->refs.n > 0) {
        urls = pier_calloc(nd->refs.n, sizeof(*urls));
        owned_urls = pier_calloc(nd->refs.n, sizeof(*owned_urls));
    }
    for (j = 0; j < ntexts; j++) {
        /* The insertions come after the references scan() resolved. */
        owned_urls[nrefs + j] = texts[j];
        urls[nrefs + j] = texts[j];
        any = true;
    }
    pier_free(texts);
    for (j = 0; j < nrefs; j++) {
        size_t t = nd->target[j];

        if (t == NO_FILE || g->nodes[t].hashed == NULL) {
            continue;
        }
        if (publish_url_rename(nd->refs.refs[j].url, basename_of(g->in[t].path),
                               basename_of(g->nodes[t].hashed), &b)) {
            owned_urls[j] = pier_buf_detach(&b, NULL);
            urls[j] = owned_urls[j];
            any = true;
        }
    }
    o->path = in->path;
    o->data = in->data;
    o->len = in->len;
    o->type = publish_mime_type(in->path);
    if (any && rc == PIER_OK) {
        rc = publish_refs_rewrite(&nd->refs, in->data, in->len, urls, &b, err);
        if (rc == PIER_OK) {
            nd->owned = pier_buf_detach(&b, &o->len);
            o->data = nd->owned;
            o->rewritten = true;
        }
    }
    for (j = 0; j < nd->refs.n; j++) {
        pier_free(owned_urls[j]);
    }
    pier_free(owned_urls);
    if (rc != PIER_OK) {
        pier_buf_release(&b);
        return rc;
    }
    pier_free(urls);
    if (in->sha256 != NULL && !o->rewritten) {
        PIER_ASSERT(strlen(in->sha256) == PUBLISH_SHA256_HEX - 1);
        memcpy(o->sha256, in->sha256, PUBLISH_SHA256_HEX);
    } else {
        PIER_ASSERT(o->data != NULL || o->len == 0);
        publish_sha256_hex(o->data != NULL ? o->data : "", o->len, o->sha256);
    }
    if (nd->asset && !nd->plain) {
        hashed_path(in->path, o->sha256, g->o.hash_len, &b);
        nd->hashed = pier_buf_detach(&b, NULL);
        o->hashed = nd->hashed;
    }
    pier_buf_release(&b);
    nd->state = 2;
    return rc;
}

static void
report_cycle(struct publish_graph *g, size_t from)
{
    struct pier_buf b;
    size_t k = g->sp;

    /* The cycle is the stack from `from` to its top, back to `from`. */
    while (k > 0 && g->stack[k - 1] != from) {
        k--;
    }
    PIER_ASSERT(k > 0);
    pier_buf_init(&b, SIZE_MAX);
    for (k = k - 1; k < g->sp; k++) {
        g->nodes[g->stack[k]].plain = true;
        PIER_ASSERT(pier_buf_addf(&b, "%s -> ", g->in[g->stack[k]].path)
                    == PIER_OK);
    }
    warn(g, from, "reference cycle: %s%s: these keep their plain names", b.data,
         g->in[from].path);
    pier_buf_release(&b);
}

/* Depth first from asset i: CSS children finish before their parent.
 * Iterative, with the path in g->stack and the next reference to follow
 * of each step in g->next, so a long chain of imports cannot exhaust the
 * C stack. */
static int
visit(struct publish_graph *g, size_t i, struct pier_err *err)
{
    g->nodes[i].state = 1;
    g->stack[0] = i;
    g->next[0] = 0;
    g->sp = 1;
    while (g->sp > 0) {
        size_t top = g->stack[g->sp - 1];
        struct node *nd = &g->nodes[top];

        if (nd->kind == k_css && g->next[g->sp - 1] < nd->refs.n) {
            size_t t = nd->target[g->next[g->sp - 1]++];

            if (t == NO_FILE || !g->nodes[t].asset) {
                continue;
            }
            if (g->nodes[t].state == 1) {
                report_cycle(g, t);
            } else if (g->nodes[t].state == 0) {
                g->nodes[t].state = 1;
                g->stack[g->sp] = t;
                g->next[g->sp] = 0;
                g->sp++;
            }
            continue;
        }
        g->sp--;
        if (finish(g, top, err) != PIER_OK) {
            return PIER_ERR;
        }
    }
    return PIER_OK;
}

static bool
is_other_entry(const struct publish_graph *g, size_t i)
{
    return g->nodes[i].state == 0 && !g->nodes[i].html;
}

static bool
is_page(const struct publish_graph *g, size_t i)
{
    return g->nodes[i].state == 0 && g->nodes[i].html;
}

struct publish_graph *
publish_graph_build(const struct publish_graph_in *files, size_t n,
                    const struct publish_graph_opts *o, struct pier_err *err)
{
    struct publish_graph *g = pier_calloc(1, sizeof(*g));
    size_t i;

    PIER_ASSERT(!o->hash || (o->hash_len >= 1 && o->hash_len <= 64));
    g->in = files;
    g->n = n;
    g->o = *o;
    g->nodes = pier_calloc(n + 1, sizeof(*g->nodes));
    g->out = pier_calloc(n + 1, sizeof(*g->out));
    g->byname = pier_malloc((n + 1) * sizeof(*g->byname));
    g->stack = pier_malloc((n + 1) * sizeof(*g->stack));
    g->next = pier_malloc((n + 1) * sizeof(*g->next));
    PIER_ASSERT(uv_mutex_init(&g->read_lock) == 0);
    for (i = 0; i < n; i++) {
        publish_refs_init(&g->nodes[i].refs);
        publish_html_sris_init(&g->nodes[i].sris);
        pier_buf_init(&g->nodes[i].base, SIZE_MAX);
        g->byname[i] = i;
        g->nodes[i].html = kind_of(files[i].path) == k_html;
        g->nodes[i].kind = files[i].opaque ? k_other : kind_of(files[i].path);
        g->nodes[i].asset = o->hash && files[i].asset && !g->nodes[i].html;
        /* Documents are parsed: their bytes must be there. */
        PIER_ASSERT(files[i].data != NULL || g->nodes[i].kind == k_other);
        PIER_ASSERT(!files[i].opaque || files[i].sha256 != NULL);
    }
    qsort_r(g->byname, n, sizeof(*g->byname), cmp_byname, g);
    if (par_each(g, parse, is_doc, err) != PIER_OK) {
        publish_graph_free(g);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        resolve(g, i);
    }
    /* Assets first, children before parents; then everything else, whose
     * references all name finished assets or entries, pages last: an
     * integrity covers the final bytes of what a page references. */
    for (i = 0; i < n; i++) {
        if (g->nodes[i].asset && g->nodes[i].state == 0
            && visit(g, i, err) != PIER_OK) {
            publish_graph_free(g);
            return NULL;
        }
    }
    if (par_each(g, finish, is_other_entry, err) != PIER_OK
        || par_each(g, finish, is_page, err) != PIER_OK) {
        publish_graph_free(g);
        return NULL;
    }
    return g;
}

void
publish_graph_free(struct publish_graph *g)
{
    size_t i, k;

    if (g == NULL) {
        return;
    }
    for (i = 0; i < g->n; i++) {
        publish_refs_release(&g->nodes[i].refs);
        publish_html_sris_release(&g->nodes[i].sris);
        pier_free(g->nodes[i].target);
        pier_free(g->nodes[i].owned);
        pier_free(g->nodes[i].hashed);
        pier_buf_release(&g->nodes[i].base);
        for (k = 0; k < g->nodes[i].nwarnings; k++) {
            pier_free(g->nodes[i].warnings[k]);
        }
        pier_free(g->nodes[i].warnings);
    }
    uv_mutex_destroy(&g->read_lock);
    for (i = 0; i < g->nwarnings; i++) {
        pier_free(g->warnings[i]);
    }
    pier_free(g->warnings);
    pier_free(g->nodes);
    pier_free(g->out);
    pier_free(g->byname);
    pier_free(g->stack);
    pier_free(g->next);
    pier_free(g);
}

size_t
publish_graph_count(const struct publish_graph *g)
{
    return g->n;
}

const struct publish_graph_out *
publish_graph_get(const struct publish_graph *g, size_t i)
{
    PIER_ASSERT(i < g->n);
    return &g->out[i];
}

size_t
publish_graph_nwarnings(const struct publish_graph *g)
{
    return g->nwarnings;
}

const char *
publish_graph_warning(const struct publish_graph *g, size_t i)
{
    PIER_ASSERT(i < g->nwarnings);
    return g->warnings[i];
}
