/*
 * lib/conf.h - pier.conf: one INI file, one table per section.
 *
 * Each command describes its section as a table (nginx's command tables):
 * name, type, default, limit, help, and where the value goes in the
 * command's own struct. The table drives inih, validation, defaults and
 * the configuration part of --help. Keys of the other known sections are
 * left to their commands; an unknown key in this section, or an unknown
 * section, is an error naming file:line.
 *
 * Strings are allocated; pier_conf_release() frees them. Not thread-safe:
 * load at start-up or on SIGHUP into a fresh struct, then swap it in.
 */
#ifndef PIER_CONF_H
#define PIER_CONF_H

#include "lib/core.h"
#include "lib/err.h"

#include <stdio.h>

enum pier_conf_type {
    PIER_CONF_STR,      /* char *; NULL when unset without default; an
                         * empty value means the default */
    PIER_CONF_BOOL,     /* bool: yes/no, true/false, on/off, 1/0 */
    PIER_CONF_UINT,     /* uint64_t, at most max (0: no limit) */
    PIER_CONF_SIZE,     /* uint64_t bytes: 256M, 4G; at most max */
    PIER_CONF_MS,       /* uint64_t milliseconds: 500ms, 5s, 2m, 1h */
    PIER_CONF_STRLIST,  /* struct pier_conf_list: the key may repeat */
};

struct pier_conf_list {
    char **items;
    size_t n;
};

struct pier_conf_entry {
    const char *name;
    enum pier_conf_type type;
    const char *def;  /* default as text, parsed like a value; NULL: none */
    uint64_t max;     /* for UINT, SIZE and MS; 0: no limit */
    size_t offset;    /* offsetof() in the command's struct */
    const char *help; /* one line */
};

struct pier_conf_section {
    const char *name; /* "objstore" */
    const struct pier_conf_entry *entries;
    size_t n;
};

/* Sections that pier.conf may hold; keys in them belong to their commands. */
extern const char *const pier_conf_known_sections[];

/* Set every entry of sec in out to its default. Call before loading. */
int pier_conf_defaults(const struct pier_conf_section *sec, void *out,
                       struct pier_err *err);
/* Read path and set the entries of sec in out. Missing file: error. */
int pier_conf_load_file(const struct pier_conf_section *sec, void *out,
                        const char *path, struct pier_err *err);
/* The same from a NUL-terminated string; name is used in messages. */
int pier_conf_load_string(const struct pier_conf_section *sec, void *out,
                          const char *name, const char *text,
                          struct pier_err *err);
/* Set one entry from text, as the command line does (--cache-mem 256M).
 * For a STRLIST the value is appended. */
int pier_conf_set(const struct pier_conf_section *sec, void *out,
                  const char *key, const char *value, struct pier_err *err);
/* Free what the loaders allocated in out. */
void pier_conf_release(const struct pier_conf_section *sec, void *out);
/* Print "  [sec] key = default    help" lines for --help. */
void pier_conf_help(FILE *f, const struct pier_conf_section *sec);

/* Parse "500ms", "5s", "2m", "1h" or a plain number of seconds. */
int pier_conf_parse_ms(const char *s, uint64_t *ms);

/*
 * The data directory: flag when given, else $PIER_HOME, else
 * $XDG_DATA_HOME/pier, else ~/.local/share/pier. Written into out.
 */
int pier_data_dir(const char *flag, char *out, size_t n, struct pier_err *err);
/* The config file: flag, else $PIER_CONFIG, else DATA/pier.conf. */
int pier_conf_path(const char *flag, const char *data_dir, char *out, size_t n,
                   struct pier_err *err);

#endif
