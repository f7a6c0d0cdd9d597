/*
 * lib/conf.c - table-driven INI configuration on inih.
 */
#include "config.h"

#include "lib/conf.h"

#include "lib/cli.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const pier_conf_known_sections[] = {"objstore", "edge", "publish",
                                                "up", NULL};

/* Debian's inih calls the handler without a line number; ini_parse*()
 * returns the line of the first error instead, so the handler keeps the
 * first message and finish() puts "file:line: " in front. */
struct load_ctx {
    const struct pier_conf_section *sec;
    void *out;
    const char *name;
    struct pier_err *err;
    bool failed;
    struct pier_err first;
};

int
pier_conf_parse_ms(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long long v;
    uint64_t mul;

    if (*s < '0' || *s > '9') {
        return PIER_ERR;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return PIER_ERR;
    }
    if (strcmp(end, "ms") == 0) {
        mul = 1;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        mul = 1000;
    } else if (strcmp(end, "m") == 0) {
        mul = 60 * 1000;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600 * 1000;
    } else {
        return PIER_ERR;
    }
    if (v > UINT64_MAX / mul) {
        return PIER_ERR;
    }
    *ms = v * mul;
    return PIER_OK;
}

static int
parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    size_t i;

    for (i = 0; i < PIER_NELEMS(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return PIER_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return PIER_OK;
        }
    }
    return PIER_ERR;
}

/* Key names compare with '-' and '_' as one: [edge] spells its keys
 * cache_mem, [objstore] tls-listen, as their flags do; either works. */
static bool
key_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (*a != *b
            && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_'))) {
            return false;
        }
    }
    return *a == *b;
}

static const struct pier_conf_entry *
find_entry(const struct pier_conf_section *sec, const char *key)
{
    size_t i;

    for (i = 0; i < sec->n; i++) {
        if (key_eq(sec->entries[i].name, key)) {
            return &sec->entries[i];
        }
    }
    return NULL;
}

/* Store value into the entry's field; message without a location prefix. */
static int
set_entry(const struct pier_conf_entry *e, void *out, const char *value,
          struct pier_err *err)
{
    char *field = (char *) out + e->offset;
    uint64_t v;
    char *end;
    struct pier_conf_list *l;

    switch (e->type) {
    case PIER_CONF_STR:
        /* "key =" with nothing after it is the default ("none" for most),
         * so that a file can list every key, as --help does. */
        pier_free(*(char **) field);
        *(char **) field = value[0] == '\0'
                               ? (e->def != NULL ? pier_strdup(e->def) : NULL)
                               : pier_strdup(value);
        return PIER_OK;
    case PIER_CONF_STRLIST:
        l = (struct pier_conf_list *) field;
        l->items = pier_realloc(l->items, (l->n + 1) * sizeof(*l->items));
        l->items[l->n++] = pier_strdup(value);
        return PIER_OK;
    case PIER_CONF_BOOL:
        if (parse_bool(value, (bool *) field) != PIER_OK) {
            return pier_err_set(err, "'%s' wants yes or no, not '%s'", e->name,
                                value);
        }
        return PIER_OK;
    case PIER_CONF_UINT:
        errno = 0;
        v = strtoull(value, &end, 10);
        if (errno != 0 || *value < '0' || *value > '9' || *end != '\0') {
            return pier_err_set(err, "'%s' wants a number, not '%s'", e->name,
                                value);
        }
        break;
    case PIER_CONF_SIZE:
        if (pier_cli_parse_size(value, &v) != PIER_OK) {
            return pier_err_set(err, "'%s' wants a size (256M, 4G), not '%s'",
                                e->name, value);
        }
        break;
    case PIER_CONF_MS:
        if (pier_conf_parse_ms(value, &v) != PIER_OK) {
            return pier_err_set(err,
                                "'%s' wants a duration (500ms, 5s), not '%s'",
                                e->name, value);
        }
        break;
    default:
        PIER_ASSERT(!"unknown conf type");
    }
    if (e->max != 0 && v > e->max) {
        return pier_err_set(err, "'%s' is at most %llu, not '%s'", e->name,
                            (unsigned long long) e->max, value);
    }
    *(uint64_t *) field = v;
    return PIER_OK;
}

int
pier_conf_defaults(const struct pier_conf_section *sec, void *out,
                   struct pier_err *err)
{
    size_t i;

    for (i = 0; i < sec->n; i++) {
        const struct pier_conf_entry *e = &sec->entries[i];

        if (e->def != NULL && set_entry(e, out, e->def, err) != PIER_OK) {
            PIER_ASSERT(!"bad default in a config table");
        }
    }
    return PIER_OK;
}

int
pier_conf_set(const struct pier_conf_section *sec, void *out, const char *key,
              const char *value, struct pier_err *err)
{
    const struct pier_conf_entry *e = find_entry(sec, key);

    if (e == NULL) {
        return pier_err_set(err, "unknown setting '%s'", key);
    }
    return set_entry(e, out, value, err);
}

static bool
known_section(const char *s)
{
    size_t i;

    for (i = 0; pier_conf_known_sections[i] != NULL; i++) {
        if (strcmp(pier_conf_known_sections[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *ctx = user;
    const struct pier_conf_entry *e;

    if (ctx->failed) {
        return 1; /* keep the first error; inih reports its line */
    }
    if (*section == '\0') {
        ctx->failed = true;
        pier_err_set(&ctx->first, "'%s' outside any [section]", name);
        return 0;
    }
    if (!known_section(section)) {
        ctx->failed = true;
        pier_err_set(&ctx->first, "unknown section '[%s]'", section);
        return 0;
    }
    if (strcmp(section, ctx->sec->name) != 0) {
        return 1;
    }
    e = find_entry(ctx->sec, name);
    if (e == NULL) {
        ctx->failed = true;
        pier_err_set(&ctx->first, "unknown key '%s' in [%s]", name, section);
        return 0;
    }
    if (set_entry(e, ctx->out, value, &ctx->first) != PIER_OK) {
        ctx->failed = true;
        return 0;
    }
    return 1;
}

static int
finish(struct load_ctx *ctx, int rc)
{
    if (rc > 0) {
        return pier_err_set(ctx->err, "%s:%d: %s", ctx->name, rc,
                            ctx->failed ? ctx->first.msg : "syntax error");
    }
    if (rc < 0) {
        return pier_err_set(ctx->err, "cannot read '%s'", ctx->name);
    }
    return PIER_OK;
}

int
pier_conf_load_string(const struct pier_conf_section *sec, void *out,
                      const char *name, const char *text, struct pier_err *err)
{
    struct load_ctx ctx = {sec, out, name, err, false, {0}};

    return finish(&ctx, ini_parse_string(text, on_ini, &ctx));
}

int
pier_conf_load_file(const struct pier_conf_section *sec, void *out,
                    const char *path, struct pier_err *err)
{
    struct load_ctx ctx = {sec, out, path, err, false, {0}};
    FILE *f = fopen(path, "r");
    int rc;

    if (f == NULL) {
        return pier_err_sys(err, errno, "cannot open '%s'", path);
    }
    rc = ini_parse_file(f, on_ini, &ctx);
    fclose(f);
    return finish(&ctx, rc);
}

void
pier_conf_release(const struct pier_conf_section *sec, void *out)
{
    size_t i, j;

    for (i = 0; i < sec->n; i++) {
        char *field = (char *) out + sec->entries[i].offset;
        struct pier_conf_list *l;

        switch (sec->entries[i].type) {
        case PIER_CONF_STR:
            pier_free(*(char **) field);
            *(char **) field = NULL;
            break;
        case PIER_CONF_STRLIST:
            l = (struct pier_conf_list *) field;
            for (j = 0; j < l->n; j++) {
                pier_free(l->items[j]);
            }
            pier_free(l->items);
            l->items = NULL;
            l->n = 0;
            break;
        default:
            break;
        }
    }
}

void
pier_conf_help(FILE *f, const struct pier_conf_section *sec)
{
    size_t i;
    char key[64];

    fprintf(f, "Settings in pier.conf, section [%s]:\n", sec->name);
    for (i = 0; i < sec->n; i++) {
        const struct pier_conf_entry *e = &sec->entries[i];

        snprintf(key, sizeof(key), "%s = %s", e->name,
                 e->def != NULL ? e->def : "");
        fprintf(f, "  %-32s %s\n", key, e->help);
    }
}

int
pier_data_dir(const char *flag, char *out, size_t n, struct pier_err *err)
{
    const char *v;
    int w;

    if (flag != NULL && *flag != '\0') {
        w = snprintf(out, n, "%s", flag);
    } else if ((v = getenv("PIER_HOME")) != NULL && *v != '\0') {
        w = snprintf(out, n, "%s", v);
    } else if ((v = getenv("XDG_DATA_HOME")) != NULL && *v != '\0') {
        w = snprintf(out, n, "%s/pier", v);
    } else if ((v = getenv("HOME")) != NULL && *v != '\0') {
        w = snprintf(out, n, "%s/.local/share/pier", v);
    } else {
        return pier_err_set(err, "no data directory: set --data or PIER_HOME");
    }
    if (w < 0 || (size_t) w >= n) {
        return pier_err_set(err, "data directory path too long");
    }
    return PIER_OK;
}

int
pier_conf_path(const char *flag, const char *data_dir, char *out, size_t n,
               struct pier_err *err)
{
    const char *v;
    int w;

    if (flag != NULL && *flag != '\0') {
        w = snprintf(out, n, "%s", flag);
    } else if ((v = getenv("PIER_CONFIG")) != NULL && *v != '\0') {
        w = snprintf(out, n, "%s", v);
    } else {
        w = snprintf(out, n, "%s/pier.conf", data_dir);
    }
    if (w < 0 || (size_t) w >= n) {
        return pier_err_set(err, "config path too long");
    }
    return PIER_OK;
}
