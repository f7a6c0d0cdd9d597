/*
 * publish/settings.c - pier.ini through inih, driven by one table of keys
 * (nginx's command tables: the table parses, validates and documents).
 */
#include "config.h"

#include "publish/settings.h"

#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <stdlib.h>
#include <strings.h>

enum opt_type { T_STR, T_DIR, T_BOOL, T_UINT, T_LIST, T_LEVEL, T_SRI };

struct opt {
    const char *section;
    const char *name;
    enum opt_type type;
    size_t off;
    unsigned min, max; /* T_UINT */
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct publish_settings, f)

static const struct opt opts[] = {
    {"build", "command", T_STR, OFF(build_command), 0, 0, "(none)",
     "shell command that builds the site in a checkout of the commit"},
    {"build", "output", T_DIR, OFF(build_output), 0, 0, "public/ or root",
     "folder to publish: public/ when the build made it, else the root"},
    {"build", "timeout", T_UINT, OFF(build_timeout_s), 1, 86400, "600",
     "seconds the build may run"},
    {"publish", "exclude", T_LIST, OFF(exclude), 0, 0, "(none)",
     "patterns of files not to publish (repeatable, space-separated)"},
    {"assets", "hash", T_BOOL, OFF(hash), 0, 0, "true",
     "publish files that HTML and CSS reference under hashed names"},
    {"assets", "hash_length", T_UINT, OFF(hash_len), PUBLISH_HASH_LEN_MIN,
     PUBLISH_HASH_LEN_MAX, "10", "hex digits of SHA-256 in name.<hash>.ext"},
    {"assets", "integrity", T_SRI, OFF(integrity), 0, 0, "off",
     "sha256, sha384 or sha512: Subresource Integrity on scripts and "
     "stylesheets"},
    {"compress", "enabled", T_BOOL, OFF(compress), 0, 0, "true",
     "store brotli, zstd and gzip variants"},
    {"compress", "level", T_LEVEL, OFF(compress_best), 0, 0, "default",
     "default (brotli 9, zstd 12, gzip 6) or best (11, 19, 9)"},
};

void
publish_settings_init(struct publish_settings *c)
{
    memset(c, 0, sizeof(*c));
    c->build_timeout_s = PUBLISH_BUILD_TIMEOUT_S;
    c->hash = true;
    c->hash_len = PUBLISH_HASH_LEN_DEFAULT;
    c->compress = true;
}

void
publish_settings_release(struct publish_settings *c)
{
    size_t i;

    pier_free(c->build_command);
    pier_free(c->build_output);
    for (i = 0; i < c->nexclude; i++) {
        pier_free(c->exclude[i]);
    }
    pier_free(c->exclude);
    publish_settings_init(c);
}

struct parse_ctx {
    struct publish_settings *c;
    char msg[200]; /* what was wrong; inih tells the line */
};

static bool
parse_bool(const char *v, bool *out)
{
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0
        || strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0
        || strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static void
add_patterns(struct publish_settings *c, const char *v)
{
    while (*v != '\0') {
        size_t n;

        while (*v == ' ' || *v == '\t') {
            v++;
        }
        n = strcspn(v, " \t");
        if (n == 0) {
            break;
        }
        c->exclude =
            pier_realloc(c->exclude, (c->nexclude + 1) * sizeof(*c->exclude));
        c->exclude[c->nexclude++] = pier_strndup(v, n);
        v += n;
    }
}

/* A relative path without "." or ".." segments or backslashes; one
 * trailing slash is allowed. */
static bool
dir_ok(const char *v)
{
    const char *p = v;

    if (v[0] == '\0' || v[0] == '/' || strchr(v, '\\') != NULL) {
        return false;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, "/");

        if (n == 0 && p[n] == '/') {
            return false; /* "a//b" */
        }
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            return false;
        }
        p += n;
        if (*p == '/') {
            p++;
        }
    }
    return true;
}

/* inih calls this for every key; returning 0 stops it, and it returns
 * the line. */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse_ctx *ctx = user;
    char *base = (char *) ctx->c;
    const struct opt *o = NULL;
    unsigned long u;
    char *end;
    size_t i;

    for (i = 0; i < PIER_NELEMS(opts); i++) {
        if (strcasecmp(opts[i].section, section) == 0
            && strcasecmp(opts[i].name, name) == 0) {
            o = &opts[i];
            break;
        }
    }
    if (o == NULL) {
        snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [%s]", name,
                 section);
        return 0;
    }
    switch (o->type) {
    case T_STR: {
        char **p = (char **) (base + o->off);

        pier_free(*p);
        *p = value[0] != '\0' ? pier_strdup(value) : NULL;
        break;
    }
    case T_DIR: {
        char **p = (char **) (base + o->off);

        /* A folder of the checkout: a pushed pier.ini must not point the
         * publisher at the rest of the machine. */
        if (!dir_ok(value)) {
            snprintf(ctx->msg, sizeof(ctx->msg),
                     "[%s] %s: '%s' is not a folder inside the repository",
                     section, name, value);
            return 0;
        }
        pier_free(*p);
        *p = pier_strdup(value);
        break;
    }
    case T_BOOL:
        if (!parse_bool(value, (bool *) (base + o->off))) {
            snprintf(ctx->msg, sizeof(ctx->msg),
                     "[%s] %s: '%s' is not true or false", section, name,
                     value);
            return 0;
        }
        break;
    case T_UINT:
        errno = 0;
        u = strtoul(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || value[0] == '-'
            || u < o->min || u > o->max) {
            snprintf(ctx->msg, sizeof(ctx->msg),
                     "[%s] %s: '%s' is not a number from %u to %u", section,
                     name, value, o->min, o->max);
            return 0;
        }
        *(unsigned *) (base + o->off) = (unsigned) u;
        break;
    case T_LIST:
        add_patterns(ctx->c, value);
        break;
    case T_LEVEL:
        if (strcasecmp(value, "default") == 0) {
            *(bool *) (base + o->off) = false;
        } else if (strcasecmp(value, "best") == 0) {
            *(bool *) (base + o->off) = true;
        } else {
            snprintf(ctx->msg, sizeof(ctx->msg),
                     "[%s] %s: '%s' is not default or best", section, name,
                     value);
            return 0;
        }
        break;
    case T_SRI: {
        static const char *const names[] = {"off", "sha256", "sha384",
                                            "sha512"};
        bool off;

        for (i = 0; i < PIER_NELEMS(names); i++) {
            if (strcasecmp(value, names[i]) == 0) {
                break;
            }
        }
        if (i == 0
            || (i == PIER_NELEMS(names) && parse_bool(value, &off) && !off)) {
            i = 0; /* "off", "false", "no" */
        } else if (i == PIER_NELEMS(names)) {
            snprintf(ctx->msg, sizeof(ctx->msg),
                     "[%s] %s: '%s' is not sha256, sha384, sha512 or off",
                     section, name, value);
            return 0;
        }
        *(enum publish_sri *) (base + o->off) = (enum publish_sri) i;
        break;
    }
    }
    return 1;
}

int
publish_settings_parse(struct publish_settings *c, const char *name,
                       const char *text, size_t n, struct pier_err *err)
{
    struct parse_ctx ctx = {.c = c};
    char *copy = pier_strndup(text, n);
    int line;

    if (strlen(copy) != n) {
        pier_free(copy);
        return pier_err_set(err, "%s: NUL byte in the file", name);
    }
    line = ini_parse_string(copy, on_key, &ctx);
    pier_free(copy);
    if (line < 0) {
        return pier_err_set(err, "%s: cannot parse", name);
    }
    if (line > 0) {
        return pier_err_set(err, "%s:%d: %s", name, line,
                            ctx.msg[0] != '\0' ? ctx.msg : "syntax error");
    }
    return PIER_OK;
}

void
publish_settings_help(FILE *f)
{
    const char *section = "";
    size_t i;

    for (i = 0; i < PIER_NELEMS(opts); i++) {
        if (strcmp(section, opts[i].section) != 0) {
            section = opts[i].section;
            fprintf(f, "[%s]\n", section);
        }
        fprintf(f, "  %-12s %s (default: %s)\n", opts[i].name, opts[i].help,
                opts[i].def);
    }
}

/* pattern (with '/') against every folder on path's way and path. */
static bool
match_anchored(const char *pat, const char *path)
{
    char buf[4096];
    size_t n = strlen(path), i;

    if (n >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, path, n + 1);
    for (i = 0; i <= n; i++) {
        if (i == n || buf[i] == '/') {
            char save = buf[i];

            buf[i] = '\0';
            if (fnmatch(pat, buf, FNM_PATHNAME) == 0) {
                return true;
            }
            buf[i] = save;
        }
    }
    return false;
}

static bool
match_segment(const char *pat, const char *path)
{
    char seg[1024];
    const char *p = path;

    while (*p != '\0') {
        size_t k = strcspn(p, "/");

        if (k < sizeof(seg)) {
            memcpy(seg, p, k);
            seg[k] = '\0';
            if (fnmatch(pat, seg, 0) == 0) {
                return true;
            }
        }
        p += k;
        if (*p == '/') {
            p++;
        }
    }
    return false;
}

bool
publish_settings_excluded(const struct publish_settings *c, const char *path)
{
    const char *p;
    size_t i;

    /* Dotfiles and dot-folders anywhere, except /.well-known/ (RFC 8615). */
    for (p = path; p != NULL; p = strchr(p, '/')) {
        if (*p == '/') {
            p++;
        }
        if (p[0] == '.'
            && !(p == path && strncmp(p, ".well-known/", 12) == 0)) {
            return true;
        }
    }
    if (strcmp(path, "pier.ini") == 0) {
        return true;
    }
    for (i = 0; i < c->nexclude; i++) {
        char pat[1024];
        const char *q = c->exclude[i];
        size_t n;

        while (*q == '/') {
            q++;
        }
        n = strlen(q);
        if (n == 0 || n >= sizeof(pat)) {
            continue;
        }
        memcpy(pat, q, n + 1);
        while (n > 0 && pat[n - 1] == '/') {
            pat[--n] = '\0'; /* "drafts/" names the folder */
        }
        if (strchr(pat, '/') != NULL || q != c->exclude[i]) {
            if (match_anchored(pat, path)) {
                return true;
            }
        } else if (match_segment(pat, path)) {
            return true;
        }
    }
    return false;
}
