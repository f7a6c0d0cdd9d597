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

/* Report each URL of a srcset value (n bytes) through fn: its offset and
 * length in value. Descriptors ("1x", "480w") are skipped, a candidate's
 * trailing commas are not part of its URL (HTML, "parse a srcset
 * attribute"). */
void publish_html_srcset(const char *value, size_t n,
                         void (*fn)(void *arg, size_t off, size_t len),
                         void *arg);

#endif
