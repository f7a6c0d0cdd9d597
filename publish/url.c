/*
 * publish/url.c - resolving references against a site's paths
 * (RFC 3986 section 5.2, for the relative and root-relative forms only).
 */
#include "config.h"

#include "publish/url.h"

size_t
publish_url_pathlen(const char *url)
{
    return strcspn(url, "?#");
}

bool
publish_url_is_absolute(const char *url)
{
    size_t i;

    if (url[0] == '/' && url[1] == '/') {
        return true;
    }
    if (url[0] == '\\' && (url[1] == '\\' || url[1] == '/')) {
        return true; /* browsers read backslashes as slashes in http URLs */
    }
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (!((url[0] >= 'a' && url[0] <= 'z')
          || (url[0] >= 'A' && url[0] <= 'Z'))) {
        return false;
    }
    for (i = 1; url[i] != '\0'; i++) {
        char c = url[i];

        if (c == ':') {
            return true;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) {
            return false;
        }
    }
    return false;
}

/* Append the segments of path (n bytes, percent-decoded on the fly) to
 * out, applying "." and ".." the way RFC 3986's remove_dot_segments does.
 * out holds complete segments, each followed by '/'. Returns false on a
 * decoded NUL or '/', which name no file. */
static bool
add_segments(struct pier_buf *out, const char *path, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t seg = out->len, j = i;
        bool last;

        while (j < n && path[j] != '/' && path[j] != '\\') {
            char c = path[j];

            if (c == '%' && j + 2 < n && pier_hexval((unsigned char) path[j + 1]) >= 0
                && pier_hexval((unsigned char) path[j + 2]) >= 0) {
                c = (char) (pier_hexval((unsigned char) path[j + 1]) * 16 + pier_hexval((unsigned char) path[j + 2]));
                if (c == '\0' || c == '/' || c == '\\') {
                    return false;
                }
                j += 2;
            }
            PIER_ASSERT(pier_buf_addch(out, c) == PIER_OK);
            j++;
        }
        last = j >= n;
        if (out->len - seg == 1 && out->data[seg] == '.') {
            pier_buf_truncate(out, seg);
        } else if (out->len - seg == 2 && out->data[seg] == '.'
                   && out->data[seg + 1] == '.') {
            /* Pop the previous segment; above the root stays at the root. */
            pier_buf_truncate(out, seg);
            if (out->len > 0) {
                size_t k = out->len - 1;

                while (k > 0 && out->data[k - 1] != '/') {
                    k--;
                }
                pier_buf_truncate(out, k);
            }
        } else if (!last) {
            PIER_ASSERT(pier_buf_addch(out, '/') == PIER_OK);
        }
        if (last) {
            break;
        }
        i = j + 1;
    }
    return true;
}

bool
publish_url_resolve(const char *from, const char *base, const char *url,
                    struct pier_buf *out)
{
    size_t n = publish_url_pathlen(url);

    pier_buf_reset(out);
    if (n == 0 || publish_url_is_absolute(url)) {
        return false; /* "", "#x", "?q", "http://", "data:" */
    }
    if (url[0] != '/' && url[0] != '\\') {
        const char *dir = base;
        size_t dn;

        if (dir == NULL) {
            const char *slash = strrchr(from, '/');

            dir = from;
            dn = slash != NULL ? (size_t) (slash + 1 - from) : 0;
        } else {
            dn = strlen(dir);
        }
        if (!add_segments(out, dir, dn)) {
            return false;
        }
    }
    if (url[0] == '/' || url[0] == '\\') {
        url++; /* root-relative: the segments start after the slash */
        n--;
    }
    if (!add_segments(out, url, n)) {
        return false;
    }
    /* "." or ".." at the end name the folder: keep its slash. Any path that
     * cancelled itself out names the root folder, which out="" means. */
    if (out->len == 0) {
        return false;
    }
    return true;
}

bool
publish_url_rename(const char *url, const char *name, const char *hashed_name,
                   struct pier_buf *out)
{
    size_t pn = publish_url_pathlen(url), seg = pn, nn = strlen(name);
    size_t hn = strlen(hashed_name), pre = 0, suf = 0, sn, i, k;

    while (seg > 0 && url[seg - 1] != '/' && url[seg - 1] != '\\') {
        seg--;
    }
    sn = pn - seg;
    /* The decoded segment must be the file's name. */
    for (i = seg, k = 0; i < pn; i++, k++) {
        char c = url[i];

        if (c == '%' && i + 2 < pn && pier_hexval((unsigned char) url[i + 1]) >= 0
            && pier_hexval((unsigned char) url[i + 2]) >= 0) {
            c = (char) (pier_hexval((unsigned char) url[i + 1]) * 16 + pier_hexval((unsigned char) url[i + 2]));
            i += 2;
        }
        if (k >= nn || name[k] != c) {
            return false;
        }
    }
    if (k != nn) {
        return false;
    }
    /* hashed_name is name with one insertion: find it. */
    while (pre < nn && pre < hn && name[pre] == hashed_name[pre]) {
        pre++;
    }
    while (suf < nn - pre && suf < hn - pre
           && name[nn - 1 - suf] == hashed_name[hn - 1 - suf]) {
        suf++;
    }
    PIER_ASSERT(pre + suf == nn); /* a pure insertion */
    if (suf > sn || memcmp(url + pn - suf, name + nn - suf, suf) != 0) {
        return false; /* the extension is written with escapes */
    }
    pier_buf_reset(out);
    PIER_ASSERT(pier_buf_add(out, url, pn - suf) == PIER_OK);
    PIER_ASSERT(pier_buf_add(out, hashed_name + pre, hn - pre - suf)
                == PIER_OK);
    PIER_ASSERT(pier_buf_adds(out, url + pn - suf) == PIER_OK);
    return true;
}
