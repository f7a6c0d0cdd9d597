/*
 * publish/url.h - what a reference in a site's document points at.
 *
 * Resolves a URL found in the file at `from` (a site path such as
 * "blog/post.html", no leading slash) to the site path it names, the way a
 * browser would on the same host: root-relative against the site's root,
 * relative against the file's folder (or a <base href>), with dot segments
 * removed and percent-escapes decoded. Absolute URLs (any scheme: http:,
 * data:, mailto:), protocol-relative ones (//host), pure fragments and
 * bare query strings name no file of the site.
 */
#ifndef PUBLISH_URL_H
#define PUBLISH_URL_H

#include "lib/buf.h"
#include "lib/core.h"

/* Length of the path part of url: the bytes before the first '?' or '#'. */
size_t publish_url_pathlen(const char *url);

/* True when url (NUL-terminated) names a file of the site; then the site
 * path is appended to out (reset first), without a leading slash; it ends
 * with '/' when the URL names a folder. base, when not NULL, is the folder
 * relative references resolve against instead of from's (a site path that
 * ends with '/', or "" for the root). Borrows everything. */
bool publish_url_resolve(const char *from, const char *base, const char *url,
                         struct pier_buf *out);

/* True when url has a scheme or starts with "//": it points off the site. */
bool publish_url_is_absolute(const char *url);

/* The new URL for a reference: url with the last segment of its path
 * replaced by hashed_name when that segment names `name` (the target's
 * file name); the query, fragment and the rest of the path are kept as
 * written (out, without maximum, is reset first). Returns false when the
 * segment is not the file name (a folder, an index page), or when the name's
 * extension is written with escapes in url, so that the rewrite would not be an
 * insertion. */
bool publish_url_rename(const char *url, const char *name,
                        const char *hashed_name, struct pier_buf *out);

#endif
