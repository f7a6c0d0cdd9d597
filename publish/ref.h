/*
 * publish/ref.h - references found in a document (HTML or CSS), and the
 * rewrite that splices new URLs in at their byte offsets.
 *
 * A reference is a URL as the browser reads it (entities and CSS escapes
 * decoded) plus where its bytes are. Rewriting changes only the bytes of
 * references whose URL changes, and of those only the part that differs:
 * `../img/logo.png?v=2` becoming `../img/logo.3f9a1c2e1b.png?v=2` is an
 * insertion of "3f9a1c2e1b." and every other byte of the document stays.
 *
 * Where the raw bytes are not the URL (an entity in an HTML attribute, an
 * escape in a CSS token), the raw range is replaced whole by the new URL
 * escaped for its context. An HTML attribute holding entities is a "group":
 * its references are found in the decoded value, the value is rewritten,
 * re-encoded and spliced over the attribute's raw value (quotes included).
 *
 * A struct publish_refs owns its URLs and group values; it is not shared
 * between threads while being filled.
 */
#ifndef PUBLISH_REF_H
#define PUBLISH_REF_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <limits.h>

#define PUBLISH_REF_NOGROUP UINT_MAX

/* How new text spliced into a reference's range is escaped. */
enum publish_esc {
    PUBLISH_ESC_HTML = 0, /* an HTML attribute value or text */
    PUBLISH_ESC_CSS,      /* a CSS string or unquoted url() token */
    PUBLISH_ESC_NONE,     /* markup the caller made (an inserted
                           * attribute): spliced as it is */
};

struct publish_ref {
    char *url;         /* decoded, NUL-terminated; owned by the list */
    size_t start, end; /* raw range: in the document, or in the group's
                        * decoded value when group != NOGROUP */
    unsigned line;     /* 1-based line of start in the document */
    unsigned group;    /* index into publish_refs.groups, or NOGROUP */
    enum publish_esc esc;
    bool raw_is_url;  /* the range's bytes are exactly url */
    const char *what; /* static: "img src", "css url()"... for messages */
};

/* An HTML attribute whose raw value is not its decoded value. */
struct publish_ref_group {
    size_t start, end; /* the raw value in the document, quotes included */
    char *value;       /* the decoded value; owned by the list */
    size_t len;
    char quote; /* '"', '\'' or 0 when unquoted */
};

struct publish_refs {
    struct publish_ref *refs;
    size_t n, cap;
    struct publish_ref_group *groups;
    size_t ngroups, gcap;
};

void publish_refs_init(struct publish_refs *r);
void publish_refs_release(struct publish_refs *r);

/* Append a reference; copies url (n bytes). Returns the new entry, valid
 * until the next append. */
struct publish_ref *publish_refs_add(struct publish_refs *r, const char *url,
                                     size_t n, size_t start, size_t end,
                                     unsigned line);
/* Append a group; copies value. Returns its index. */
unsigned publish_refs_add_group(struct publish_refs *r, size_t start,
                                size_t end, const char *value, size_t n,
                                char quote);

/*
 * Write doc (n bytes) to out with each reference i whose urls[i] is not
 * NULL replaced by urls[i] (a decoded URL, escaped here for its context).
 * urls has r->n entries; borrows everything. References must not overlap;
 * they may come in any order. PIER_ERR when out would pass its maximum.
 */
int publish_refs_rewrite(const struct publish_refs *r, const char *doc,
                         size_t n, const char *const *urls,
                         struct pier_buf *out, struct pier_err *err);

/* Append s escaped for a double-quoted HTML attribute value (& " < >). */
PIER_NODISCARD int publish_esc_html(struct pier_buf *out, const char *s,
                                    size_t n);
/* Append s escaped for the inside of a CSS string or url() token: quotes,
 * backslash, parentheses, whitespace, controls and & < > become hex
 * escapes ("\22 "), so the result is also safe inside an HTML attribute. */
PIER_NODISCARD int publish_esc_css(struct pier_buf *out, const char *s,
                                   size_t n);

#endif
