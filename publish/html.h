/*
 * publish/html.h - find the references of an HTML document, with the byte
 * offsets that let publish_refs_rewrite() splice new URLs into the
 * original bytes (the document is never re-serialised).
 *
 * Parsed with gumbo, which follows the HTML5 parsing algorithm and keeps
 * each attribute's original text and offset. Found: href (a, area, and
 * link when rel is stylesheet, preload, modulepreload, prefetch, icon,
 * apple-touch-icon or manifest), src (img, script, iframe, embed, audio,
 * video, source, track, input), srcset (img, source; each candidate's URL,
 * descriptors kept), poster (video), data (object), url() and @import in
 * style attributes and <style> elements (publish/css.h), also inside
 * <template>. <base href> is reported, not applied: resolution is the
 * caller's (publish/url.h).
 *
 * For Subresource Integrity, publish_html_collect_sri() also reports the
 * tags whose resource a browser checks against an integrity attribute:
 * <script src> and <link href> with rel stylesheet or modulepreload, or
 * preload with as=script or as=style (HTML, "fetch and process the linked
 * resource"; SRI, section 3.3).
 */
#ifndef PUBLISH_HTML_H
#define PUBLISH_HTML_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"
#include "publish/ref.h"

/*
 * Append the references of doc (n bytes) to refs; every URL is reported
 * (absolute ones too: the caller decides), empty ones are not. When the
 * document has a <base href>, its decoded value is appended to base
 * (which may be NULL). Borrows doc. PIER_ERR only when gumbo cannot parse
 * at all (out of memory, a document over 2^32 bytes).
 */
int publish_html_collect(const char *doc, size_t n, struct publish_refs *refs,
                         struct pier_buf *base, struct pier_err *err);

/* A tag an integrity attribute can cover. */
struct publish_html_sri {
    size_t ref;      /* index in refs of its src or href reference */
    size_t at;       /* document offset just after that attribute's value
                      * (after its closing quote): where an attribute
                      * ` integrity="..."` can be spliced in */
    char *integrity; /* the tag's own integrity value, decoded, or NULL
                      * when it has none; owned by the list */
    unsigned line;   /* of the src or href value */
};

struct publish_html_sris {
    struct publish_html_sri *v;
    size_t n;
};

void publish_html_sris_init(struct publish_html_sris *s);
void publish_html_sris_release(struct publish_html_sris *s);

/* publish_html_collect(), and when sris is not NULL, append to it the
 * tags above whose src or href was appended to refs. */
int publish_html_collect_sri(const char *doc, size_t n,
                             struct publish_refs *refs, struct pier_buf *base,
                             struct publish_html_sris *sris,
                             struct pier_err *err);

/* Report each URL of a srcset value (n bytes) through fn: its offset and
 * length in value. Descriptors ("1x", "480w") are skipped, a candidate's
 * trailing commas are not part of its URL (HTML, "parse a srcset
 * attribute"). */
void publish_html_srcset(const char *value, size_t n,
                         void (*fn)(void *arg, size_t off, size_t len),
                         void *arg);

#endif
