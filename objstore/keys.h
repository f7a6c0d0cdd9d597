/*
 * objstore/keys.h - the object store's access keys and their grants, and
 * the authorisation decision: which key may do what, where.
 *
 * The keys file (DIR/keys, mode 0600, refused when group or others may
 * read it) has one key per line, fields separated by single spaces:
 *     NAME ACCESS_KEY_ID SECRET ROLE [GRANT...]
 * ROLE is "admin" or "-"; a GRANT is BUCKET[/PREFIX]:read or :write
 * (write implies read). '#' starts a comment line. An admin key may do
 * anything, including creating and deleting buckets. A prefix is a plain
 * string prefix of keys: "pier/live/:read" allows reading "live/a" but not
 * "lively".
 *
 * A loaded set is immutable and reference-counted: the server swaps a new
 * set in on SIGHUP while requests on any thread keep the one they took.
 * Secrets are never logged; nothing here prints one except
 * objstore_keys_print_env(), for the one-time credentials output.
 */
#ifndef OBJSTORE_KEYS_H
#define OBJSTORE_KEYS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

#include <stdio.h>

#define OBJSTORE_KEY_NAME_MAX 64
#define OBJSTORE_KEY_ID_LEN   20  /* of generated ids */
#define OBJSTORE_SECRET_LEN   40  /* of generated secrets */
#define OBJSTORE_KEY_ID_MAX   128 /* of any id: [A-Za-z0-9], 3 or more */
#define OBJSTORE_SECRET_MAX   128 /* of any secret: printable, no space,
                                     8 or more */

struct objstore_grant {
    char *bucket; /* owned */
    char *prefix; /* owned; "" for the whole bucket */
    bool write;
};

struct objstore_key {
    char name[OBJSTORE_KEY_NAME_MAX + 1];
    char id[OBJSTORE_KEY_ID_MAX + 1];
    char secret[OBJSTORE_SECRET_MAX + 1];
    bool admin;
    struct objstore_grant *grants; /* owned */
    size_t ngrants;
};

struct objstore_keys; /* opaque: a set of keys */

/* An empty set; the caller owns it (objstore_keys_unref). */
struct objstore_keys *objstore_keys_new(void);
/* Load path: NULL with err set ("keys:3: bad grant 'x'") when it cannot be
 * read or parsed, or when group or others may read it. A missing file is
 * an empty set when missing_ok. The caller owns the result. */
struct objstore_keys *objstore_keys_load(const char *path, bool missing_ok,
                                         struct pier_err *err);
/* Take one more reference; drop one (freeing at zero; NULL is fine). Any
 * thread. */
struct objstore_keys *objstore_keys_ref(struct objstore_keys *keys);
void objstore_keys_unref(struct objstore_keys *keys);

/* Save to path atomically (path.tmp with mode 0600, fsync, rename). */
int objstore_keys_save(const struct objstore_keys *keys, const char *path,
                       struct pier_err *err);

size_t objstore_keys_count(const struct objstore_keys *keys);
/* The i-th key in file order; valid while the set is referenced. */
const struct objstore_key *objstore_keys_at(const struct objstore_keys *keys,
                                            size_t i);
/* Lookups; NULL when absent. The id comparison runs in constant time
 * over the candidates' ids. Valid while the set is referenced. */
const struct objstore_key *objstore_keys_by_id(const struct objstore_keys *keys,
                                               struct pier_str id);
const struct objstore_key *
objstore_keys_by_name(const struct objstore_keys *keys, const char *name);

/* Add a key called name. id and secret NULL: fresh random credentials
 * (OpenSSL RAND_bytes): an id of "PK" and 18 base-32 characters, a
 * 40-character alphanumeric secret; else those given (pier up writes keys
 * it also puts in pier.conf). Fails when the name is invalid
 * ([A-Za-z0-9._-], 1-64), the name or id is taken, or a grant is not
 * valid (objstore_grant_parse()). The new key is valid while the set is
 * referenced (*out may be NULL). Only for a set nobody else references. */
int objstore_keys_add(struct objstore_keys *keys, const char *name,
                      const char *id, const char *secret, bool admin,
                      const char *const *grants, size_t ngrants,
                      const struct objstore_key **out, struct pier_err *err);
/* Remove name; PIER_ERR when there is none. Same restriction. */
int objstore_keys_remove(struct objstore_keys *keys, const char *name,
                         struct pier_err *err);

/* Parse "BUCKET[/PREFIX]:read|write" into g (which the caller releases with
 * objstore_grant_release). The bucket must be a valid bucket name. */
int objstore_grant_parse(struct pier_str s, struct objstore_grant *g,
                         struct pier_err *err);
void objstore_grant_release(struct objstore_grant *g);

/* Print the shell-sourceable credentials of key:
 *   AWS_ACCESS_KEY_ID=PK...
 *   AWS_SECRET_ACCESS_KEY=...                                          */
void objstore_keys_print_env(const struct objstore_key *key, FILE *f);

/* ---- authorisation ---- */

enum objstore_perm {
    OBJSTORE_PERM_READ,   /* read the object `name` */
    OBJSTORE_PERM_WRITE,  /* write or delete the object `name`; multipart */
    OBJSTORE_PERM_LIST,   /* list keys starting with the prefix `name` */
    OBJSTORE_PERM_BUCKET, /* see the bucket: HeadBucket, GetBucketLocation;
                             any grant on it */
    OBJSTORE_PERM_UPLOADS, /* list the bucket's multipart uploads starting
                              with the prefix `name`: write needed */
    OBJSTORE_PERM_ADMIN,  /* create or delete buckets */
};

/* Whether key may do perm on name in bucket. A listing is allowed only
 * when every key it could return lies inside one grant: its prefix must
 * start with the grant's prefix. */
bool objstore_key_allows(const struct objstore_key *key,
                         enum objstore_perm perm, struct pier_str bucket,
                         struct pier_str name);
/* Whether key holds any grant on bucket (ListBuckets shows only those). */
bool objstore_key_sees_bucket(const struct objstore_key *key,
                              struct pier_str bucket);

#endif
