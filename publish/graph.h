/*
 * publish/graph.h - the asset graph of a site: which files are assets,
 * their hashed names, and every HTML and CSS file rewritten to use them.
 *
 * A file referenced from HTML or CSS (publish/html.h, publish/css.h) that
 * is not itself HTML is an asset: it is also published as
 * `name.<hash>.ext`, the hash being the first hash_len hex digits of the
 * SHA-256 of its published bytes. Names are computed children first, so a
 * CSS file's hash covers its rewritten content: a changed image changes
 * the name of the CSS that uses it, and of the CSS that imports that one.
 * Files in a reference cycle (a.css imports b.css imports a.css) cannot be
 * named that way; the cycle is reported and its files keep their plain
 * names. Every file, asset or not, is also published at its own path (an
 * entry), so no external link breaks.
 *
 * With an integrity option, every <script src> and stylesheet or script
 * <link> (publish/html.h) naming a file of the site gets an attribute
 * ` integrity="sha384-<base64>"`, spliced in after its src or href, over
 * the exact bytes published for that file (rewritten, not compressed: the
 * browser checks the decoded body). A tag that has an integrity attribute
 * keeps it, with a warning when it does not match.
 *
 * References to absolute URLs, data:, fragments and files the site does
 * not have are left alone; a missing file is a warning with file and
 * line. Folder references ("docs/") and pretty URLs ("/about" for
 * about.html) count as found.
 *
 * The graph owns its results; the inputs are borrowed until
 * publish_graph_free(). One thread builds it, with a helper thread per
 * core for parsing and finishing pages (lib/par.h; opts.read is called
 * under a lock); once built it is read-only.
 */
#ifndef PUBLISH_GRAPH_H
#define PUBLISH_GRAPH_H

#include "lib/core.h"
#include "lib/err.h"
#include "publish/compress.h"


/* One file of the site, as input. */
struct publish_graph_in {
    const char *path; /* site path, no leading slash */
    const char *data; /* its bytes */
    size_t len;
    const char *sha256; /* NULL, or the bytes' SHA-256 in hex, known from
                         * the live manifest: then data may be NULL (never
                         * for HTML or CSS that are parsed) */
    bool opaque;        /* an HTML or CSS file not to parse: its published
                         * bytes are known (sha256, len) and unchanged */
    bool asset;         /* an asset whoever references it (it was one in
                         * the live deploy); ignored for HTML */
};

/* One file of the site, as published. */
struct publish_graph_out {
    const char *path;   /* the input's path */
    const char *hashed; /* the asset's hashed site path; NULL for entries */
    const char *data;   /* published bytes: rewritten HTML or CSS, or the
                         * input's own (NULL when the input gave none) */
    size_t len;
    char sha256[PUBLISH_SHA256_HEX]; /* of data */
    const char *type;                /* Content-Type, static */
    bool rewritten;                  /* data differs from the input */
};

/* Subresource Integrity's digests. */
enum publish_sri {
    PUBLISH_SRI_OFF = 0,
    PUBLISH_SRI_SHA256,
    PUBLISH_SRI_SHA384,
    PUBLISH_SRI_SHA512,
};

struct publish_graph_opts {
    bool hash;         /* false: no asset is hashed, nothing rewritten */
    unsigned hash_len; /* hex digits in the name, 6..64 */
    enum publish_sri integrity;
    /* For an integrity over input i that gave no bytes (data NULL, not
     * opaque): set *data and *len to its bytes, valid until
     * publish_graph_free(). NULL, or an opaque input: that tag gets no
     * integrity, with a warning. */
    int (*read)(void *arg, size_t i, const char **data, size_t *len,
                struct pier_err *err);
    void *read_arg;
};

struct publish_graph; /* opaque */

/*
 * Build the graph of n files (paths unique). NULL with err set only when
 * a document cannot be parsed at all. Borrows files (and their bytes)
 * until publish_graph_free(). The caller owns the result.
 */
struct publish_graph *publish_graph_build(const struct publish_graph_in *files,
                                          size_t n,
                                          const struct publish_graph_opts *o,
                                          struct pier_err *err);
void publish_graph_free(struct publish_graph *g);

/* The outputs, in the order of the inputs; valid until the free. */
size_t publish_graph_count(const struct publish_graph *g);
const struct publish_graph_out *publish_graph_get(const struct publish_graph *g,
                                                  size_t i);

/* Warnings ("blog/a.html:12: 'img/x.png' (img src): no such file
 * 'blog/img/x.png'", "reference cycle: a.css -> b.css -> a.css: ..."),
 * in the order found; valid until the free. */
size_t publish_graph_nwarnings(const struct publish_graph *g);
const char *publish_graph_warning(const struct publish_graph *g, size_t i);

/* "sha384-<base64>" of n bytes at p into out (reset first). */
void publish_graph_sri(enum publish_sri kind, const void *p, size_t n,
                       struct pier_buf *out);

/* True for the files the graph parses (HTML and CSS, by extension): their
 * bytes must be given. */
bool publish_graph_parses(const char *path);

/* Write the hashed name of path into out (reset first): "css/site.css"
 * and "3f9a1c2e1b..." give "css/site.3f9a1c2e1b.css"; a name without an
 * extension ("LICENSE", ".env") gets ".<hash>" at its end. */
void publish_graph_hashed_path(const char *path, const char *hex,
                               unsigned hash_len, struct pier_buf *out);

#endif
