/*
 * publish/settings.h - a site repository's pier.ini: the build step, what is
 * not published, hashing and compression.
 *
 *   [build]
 *   command = npm ci && npm run build   ; run in a checkout of the commit
 *   output = dist                       ; default: public/ when it exists
 *   timeout = 600                       ; seconds
 *   [publish]
 *   exclude = drafts/ *.psd             ; repeatable, space-separated
 *   [assets]
 *   hash = true                         ; publish referenced files hashed
 *   hash_length = 10                    ; hex digits in name.<hash>.ext
 *   integrity = sha384                  ; or sha256, sha512, off (default)
 *   [compress]
 *   enabled = true
 *   level = default                     ; or best
 *
 * Unknown sections and keys are errors naming the file and line. The
 * struct is embedded by the caller and owns its strings.
 */
#ifndef PUBLISH_SETTINGS_H
#define PUBLISH_SETTINGS_H

#include "lib/core.h"
#include "lib/err.h"
#include "publish/graph.h"

#include <stdio.h>

#define PUBLISH_HASH_LEN_DEFAULT 10
#define PUBLISH_HASH_LEN_MIN     6
#define PUBLISH_HASH_LEN_MAX     64
#define PUBLISH_BUILD_TIMEOUT_S  600

struct publish_settings {
    char *build_command; /* NULL: no build, the tree is read as is */
    char *build_output;  /* NULL: the default */
    unsigned build_timeout_s;
    char **exclude; /* patterns, see publish_settings_excluded() */
    size_t nexclude;
    bool hash;
    unsigned hash_len;
    enum publish_sri integrity; /* Subresource Integrity attributes */
    bool compress;
    bool compress_best;
};

/* Fill with the defaults. Release with publish_settings_release(). */
void publish_settings_init(struct publish_settings *c);
void publish_settings_release(struct publish_settings *c);

/* Parse text (n bytes, no NUL needed) into c, on top of what c holds;
 * messages start with "name:line: ". */
int publish_settings_parse(struct publish_settings *c, const char *name,
                           const char *text, size_t n, struct pier_err *err);

/* Print the keys, their defaults and help to f. */
void publish_settings_help(FILE *f);

/*
 * True when path (a site path, no leading slash) is not published:
 * a segment starting with '.' (.git, .env, .DS_Store) except a first
 * segment ".well-known"; "pier.ini" at the root; or an exclude pattern.
 * A pattern without '/' is matched (fnmatch) against every segment, so
 * "*.psd" or "drafts" work at any depth; one with '/' against the path
 * from the root ("/" at the start is allowed) and every folder on the
 * way, so "drafts/" and "docs/old" exclude whole folders.
 */
bool publish_settings_excluded(const struct publish_settings *c,
                               const char *path);

#endif
