/*
 * edge/server.c - the edge's state and control side: sites, their live
 * deploys and the registry (loaded from the store, polled, swapped under
 * hazard pointers), the worker set-up, and the admin API.
 *
 * Control work is blocking S3 I/O through one synchronous client under
 * ctl_mu: at start on the main thread, later on libuv's thread pool
 * (polls from worker 0's timer, admin calls), never on a loop thread.
 */
#include "config.h"

#include "edge/server.h"

#include "edge/internal.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "sites/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAGIC    0x2e4c9b17U
#define MANIFEST_MAX    (256u << 20) /* bytes of a manifest's JSON */
#define DELTA_MAX       (64u << 20)
#define ADMIN_JOB_MAGIC 0x1d6b3ae8U
/* The scheduler slice of the serving workers: EEVDF's shortest (see
 * lib/http.c, worker_slice()). */
#define EDGE_SCHED_SLICE_US 100

/* Deploys and the registry. */

void
edge_deploy_ref(struct edge_deploy *d)
{
    PIER_CHECK_OBJ(d, EDGE_DEPLOY_MAGIC);
    PIER_ASSERT(atomic_fetch_add(&d->refs, 1) > 0);
}

void
edge_deploy_release(struct edge_deploy *d)
{
    PIER_CHECK_OBJ(d, EDGE_DEPLOY_MAGIC);
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) {
        sites_manifest_free(d->m);
        d->magic = 0;
        pier_free(d);
    }
}

static void
deploy_retired(void *p)
{
    edge_deploy_release(p);
}

static struct edge_deploy *
deploy_new(struct sites_manifest *m)
{
    struct edge_deploy *d = pier_calloc(1, sizeof(*d));

    d->magic = EDGE_DEPLOY_MAGIC;
    atomic_init(&d->refs, 1); /* being live */
    d->m = m;
    return d;
}

/* Make m the live deploy of site; the old one is retired. Takes m. */
static void
site_swap(struct edge_server *s, struct edge_site *site,
          struct sites_manifest *m)
{
    struct edge_deploy *d = deploy_new(m);
    void *old = atomic_exchange(&site->live, d);

    edge_hazard_retire(s->hz, old, deploy_retired);
}

static void
registry_free(void *p)
{
    struct edge_registry *reg = p;

    PIER_CHECK_OBJ(reg, EDGE_REG_MAGIC);
    edge_hosts_free(reg->hosts);
    pier_free(reg->sites);
    reg->magic = 0;
    pier_free(reg);
}

struct edge_registry *
edge_registry_get(struct edge_server *s, unsigned w)
{
    struct edge_registry *reg =
        edge_hazard_protect(s->hz, w, EDGE_HZ_REGISTRY, &s->registry);

    if (reg != NULL) {
        PIER_CHECK_OBJ(reg, EDGE_REG_MAGIC);
    }
    return reg;
}

/* Build the registry of the listed sites and swap it in. Under ctl_mu. */
static void
registry_rebuild(struct edge_server *s)
{
    struct edge_registry *reg = pier_calloc(1, sizeof(*reg));
    struct edge_site *site;
    struct pier_err err;
    char local[SITES_NAME_MAX + sizeof(".localhost")];
    size_t n = 0, i;

    reg->magic = EDGE_REG_MAGIC;
    reg->hosts = edge_hosts_new();
    for (site = s->sites; site != NULL; site = site->next) {
        n += site->listed;
    }
    reg->sites = pier_calloc(n + 1, sizeof(*reg->sites));
    for (site = s->sites; site != NULL; site = site->next) {
        if (!site->listed) {
            continue;
        }
        reg->sites[reg->nsites++] = site;
        /* Every site answers at NAME.localhost (browsers resolve it to
         * loopback), so a local site works with no DNS set-up. */
        snprintf(local, sizeof(local), "%s.localhost", site->name);
        if (edge_hosts_add(reg->hosts, pier_str_cstr(local), site, &err)
            != PIER_OK) {
            pier_log(PIER_LOG_WARN, "edge", "site '%s': %s", site->name,
                     err.msg);
        }
        for (i = 0; i < site->ndomains; i++) {
            if (edge_hosts_add(reg->hosts, pier_str_cstr(site->domains[i]),
                               site, &err)
                != PIER_OK) {
                pier_log(PIER_LOG_WARN, "edge", "site '%s': %s", site->name,
                         err.msg);
            }
        }
    }
    edge_hosts_seal(reg->hosts);
    atomic_store(&s->nsites, reg->nsites);
    edge_hazard_retire(s->hz, atomic_exchange(&s->registry, reg),
                       registry_free);
}

/* Sites: loading from the store. Under ctl_mu. */

static struct edge_site *
site_find(struct edge_server *s, const char *name)
{
    struct edge_site *site;

    for (site = s->sites; site != NULL; site = site->next) {
        if (strcmp(site->name, name) == 0) {
            return site;
        }
    }
    return NULL;
}

static struct edge_site *
site_add(struct edge_server *s, const char *name)
{
    struct edge_site *site = pier_calloc(1, sizeof(*site));

    site->magic = EDGE_SITE_MAGIC;
    snprintf(site->name, sizeof(site->name), "%s", name);
    atomic_init(&site->live, NULL);
    site->next = s->sites;
    s->sites = site;
    return site;
}

static void
site_free(struct edge_site *site)
{
    size_t i;
    void *d = atomic_exchange(&site->live, NULL);

    if (d != NULL) {
        edge_deploy_release(d);
    }
    for (i = 0; i < site->ndomains; i++) {
        pier_free(site->domains[i]);
    }
    pier_free(site->domains);
    site->magic = 0;
    pier_free(site);
}

static int
s3_get(struct edge_server *s, const char *key, size_t max,
       struct pier_s3_response *resp, struct pier_err *err)
{
    struct pier_s3_request q;

    memset(&q, 0, sizeof(q));
    q.key = key;
    q.max_body = max;
    pier_s3_response_init(resp);
    return pier_s3_sync_run(s->sync, PIER_S3_OP_GET, &q, resp, err);
}

/* The state kept with the disk tier: each site's live manifest and
 * domains, so that an edge restarted while the store is down still
 * serves (ARCHITECTURE.md: "keep serving when the store is down"). Files
 * are written to a temporary name and renamed. Under ctl_mu. */
static int
write_atomic(const char *path, const void *p, size_t n, struct pier_err *err)
{
    char tmp[4096];
    int fd, sys;
    ssize_t w;
    size_t off = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
        return pier_err_set(err, "path too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return pier_err_sys(err, errno, "cannot create '%s'", tmp);
    }
    while (off < n) {
        w = write(fd, (const char *) p + off, n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            sys = errno;
            close(fd);
            unlink(tmp);
            return pier_err_sys(err, sys, "cannot write '%s'", tmp);
        }
        off += (size_t) w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        sys = errno;
        unlink(tmp);
        return pier_err_sys(err, sys, "cannot write '%s'", path);
    }
    return PIER_OK;
}

static void
save_site(struct edge_server *s, struct edge_site *site)
{
    struct edge_deploy *d = atomic_load(&site->live);
    char path[4096];
    struct pier_buf b;
    struct pier_err err;
    size_t i;
    int rc;

    if (s->state_dir == NULL || d == NULL) {
        return;
    }
    pier_buf_init(&b, SIZE_MAX);
    rc = sites_manifest_store_zst(d->m, 3, &b, &err);
    snprintf(path, sizeof(path), "%s/%s.json.zst", s->state_dir, site->name);
    if (rc == PIER_OK) {
        rc = write_atomic(path, b.data, b.len, &err);
    }
    pier_buf_reset(&b);
    for (i = 0; rc == PIER_OK && i < site->ndomains; i++) {
        rc = pier_buf_addf(&b, "%s\n", site->domains[i]) == PIER_OK
                 ? PIER_OK
                 : pier_err_set(&err, "domains too long");
    }
    snprintf(path, sizeof(path), "%s/%s.domains", s->state_dir, site->name);
    if (rc == PIER_OK) {
        rc = write_atomic(path, b.data, b.len, &err);
    }
    if (rc != PIER_OK) {
        pier_log(PIER_LOG_WARN, "edge", "saving site '%s': %s", site->name,
                 err.msg);
    }
    pier_buf_release(&b);
}

static bool
read_file(const char *path, struct pier_buf *out)
{
    char buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return false;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (pier_buf_add(out, buf, (size_t) n) != PIER_OK) {
            close(fd);
            return false;
        }
    }
    close(fd);
    return n == 0;
}

/* The store is unreachable at start: serve what was saved. XXX: the
 * record's TLS options (redirect_https, hsts) and certificates are not
 * saved; they come back with the first successful poll. */
static int
restore_sites(struct edge_server *s, struct pier_err *err)
{
    DIR *dir;
    struct dirent *de;
    char path[4096], name[SITES_NAME_MAX + 1];
    struct pier_buf b;
    struct pier_err e2;
    struct sites_manifest *m;
    struct edge_site *site;
    size_t n, restored = 0;

    if (s->state_dir == NULL || (dir = opendir(s->state_dir)) == NULL) {
        return PIER_ERR;
    }
    pier_buf_init(&b, MANIFEST_MAX);
    while ((de = readdir(dir)) != NULL) {
        n = strlen(de->d_name);
        if (n <= 9 || strcmp(de->d_name + n - 9, ".json.zst") != 0
            || n - 9 > SITES_NAME_MAX) {
            continue;
        }
        memcpy(name, de->d_name, n - 9);
        name[n - 9] = '\0';
        if (!sites_name_ok(pier_str_cstr(name))) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", s->state_dir, de->d_name);
        pier_buf_reset(&b);
        if (!read_file(path, &b)) {
            continue;
        }
        m = sites_manifest_load_zst(b.data, b.len, MANIFEST_MAX, &e2);
        if (m == NULL || strcmp(sites_manifest_site(m), name) != 0) {
            pier_log(PIER_LOG_WARN, "edge", "'%s': %s", path,
                     m == NULL ? e2.msg : "another site's manifest");
            sites_manifest_free(m);
            continue;
        }
        site =
            site_find(s, name) != NULL ? site_find(s, name) : site_add(s, name);
        site->listed = true;
        site_swap(s, site, m);
        snprintf(path, sizeof(path), "%s/%s.domains", s->state_dir, name);
        pier_buf_reset(&b);
        if (read_file(path, &b)) {
            char *line = b.data, *nl;

            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = '\0';
                if (sites_domain_ok(pier_str_cstr(line), true)) {
                    site->domains = pier_realloc(site->domains,
                                                 (site->ndomains + 1)
                                                     * sizeof(*site->domains));
                    site->domains[site->ndomains++] = pier_strdup(line);
                }
                line = nl + 1;
            }
        }
        restored++;
    }
    closedir(dir);
    pier_buf_release(&b);
    if (restored == 0) {
        return pier_err_set(err, "no saved sites in '%s'", s->state_dir);
    }
    registry_rebuild(s);
    pier_log(PIER_LOG_WARN, "edge",
             "store unreachable: serving %zu saved sites until it is back",
             restored);
    return PIER_OK;
}

/* Load the site's certificate (tls/<site>/cert.pem and key.pem) for each
 * of its names. A missing pair is fine (the site has no TLS); a bad one
 * fails that site's TLS with a clear log line, never the edge. */
static void
load_certs(struct edge_server *s, struct edge_site *site)
{
    char key[SITES_NAME_MAX + 32], local[SITES_NAME_MAX + 16];
    struct pier_s3_response cert, pkey;
    struct pier_err err;
    size_t i;

    if (s->tls == NULL) {
        return;
    }
    snprintf(key, sizeof(key), "tls/%s/cert.pem", site->name);
    if (s3_get(s, key, 1 << 20, &cert, &err) != PIER_OK) {
        pier_s3_response_release(&cert);
        if (err.http != 404) {
            pier_log(PIER_LOG_ERROR, "edge", "site '%s': certificate: %s",
                     site->name, err.msg);
        }
        return;
    }
    snprintf(key, sizeof(key), "tls/%s/key.pem", site->name);
    if (s3_get(s, key, 1 << 20, &pkey, &err) != PIER_OK) {
        pier_log(PIER_LOG_ERROR, "edge", "site '%s': certificate key: %s",
                 site->name, err.msg);
        pier_s3_response_release(&cert);
        pier_s3_response_release(&pkey);
        return;
    }
    snprintf(local, sizeof(local), "%s.localhost", site->name);
    for (i = 0; i <= site->ndomains; i++) {
        const char *name = i < site->ndomains ? site->domains[i] : local;

        if (pier_tls_set_cert(s->tls, name, cert.body.data, cert.body.len,
                              pkey.body.data, pkey.body.len, &err)
            != PIER_OK) {
            pier_log(PIER_LOG_ERROR, "edge",
                     "site '%s': certificate for %s: %s", site->name, name,
                     err.msg);
            break;
        }
    }
    pier_s3_response_release(&cert);
    pier_s3_response_release(&pkey);
}

static bool
names_domain(const struct edge_site *site, const char *name)
{
    size_t i;

    for (i = 0; i < site->ndomains; i++) {
        if (strcmp(site->domains[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* Take name's certificate out of SNI selection, unless another site in
 * the registry names it (that site's load installed its own pair). A
 * handshake under way keeps the context it chose. Under ctl_mu. */
static void
drop_cert(struct edge_server *s, const struct edge_site *site, const char *name)
{
    const struct edge_site *o;

    for (o = s->sites; o != NULL; o = o->next) {
        if (o != site && o->listed && names_domain(o, name)) {
            return;
        }
    }
    if (pier_tls_remove_cert(s->tls, name) == PIER_OK) {
        pier_log(PIER_LOG_INFO, "edge", "site '%s': certificate for %s dropped",
                 site->name, name);
    }
}

/* The site's domains are about to become the n of keep: drop the
 * certificates of those it no longer names. Under ctl_mu. */
static void
drop_certs(struct edge_server *s, const struct edge_site *site, char **keep,
           size_t n)
{
    size_t i, j;

    if (s->tls == NULL) {
        return;
    }
    for (i = 0; i < site->ndomains; i++) {
        for (j = 0; j < n && strcmp(keep[j], site->domains[i]) != 0; j++) {
        }
        if (j == n) {
            drop_cert(s, site, site->domains[i]);
        }
    }
}

/* Read the site's record (sites/<name>.ini): domains and TLS options.
 * A missing record leaves the site at NAME.localhost only; a bad one is
 * logged and changes nothing. */
static void
load_record(struct edge_server *s, struct edge_site *site)
{
    char key[SITES_NAME_MAX + 16];
    struct pier_s3_response resp;
    struct pier_err err;
    struct sites_record rec;
    size_t i;

    snprintf(key, sizeof(key), "sites/%s.ini", site->name);
    if (s3_get(s, key, 1 << 20, &resp, &err) != PIER_OK) {
        if (err.http != 404) {
            pier_log(PIER_LOG_WARN, "edge", "site '%s': record: %s", site->name,
                     err.msg);
        }
        pier_s3_response_release(&resp);
        return;
    }
    snprintf(site->record_etag, sizeof(site->record_etag), "%.*s",
             (int) resp.etag.len, resp.etag.ptr);
    sites_record_init(&rec);
    if (sites_record_parse(&rec, key, resp.body.data, resp.body.len, &err)
        != PIER_OK) {
        pier_log(PIER_LOG_WARN, "edge", "site '%s': %s", site->name, err.msg);
        pier_s3_response_release(&resp);
        return;
    }
    pier_s3_response_release(&resp);
    drop_certs(s, site, rec.domains, rec.ndomains);
    for (i = 0; i < site->ndomains; i++) {
        pier_free(site->domains[i]);
    }
    pier_free(site->domains);
    site->domains = rec.domains; /* taken over from the record */
    site->ndomains = rec.ndomains;
    rec.domains = NULL;
    rec.ndomains = 0;
    atomic_store(&site->redirect_https, rec.redirect_https);
    atomic_store(&site->hsts_max_age, rec.hsts_max_age);
    atomic_store(&site->hsts_subdomains, rec.hsts_subdomains);
    sites_record_release(&rec);
    load_certs(s, site);
}

/* Load site's live deploy when its pointer changed (or always, with
 * force). Keeps the old deploy on any failure. */
static int
load_site(struct edge_server *s, struct edge_site *site, bool force,
          struct pier_err *err)
{
    char key[SITES_NAME_MAX + SITES_DEPLOY_ID_MAX + 32];
    char id[SITES_DEPLOY_ID_MAX + 1];
    struct pier_s3_response resp;
    struct sites_manifest *m;
    struct pier_str body;
    struct edge_deploy *cur;
    char etag[sizeof(site->pointer_etag)];

    snprintf(key, sizeof(key), "live/%s", site->name);
    if (s3_get(s, key, 4096, &resp, err) != PIER_OK) {
        pier_s3_response_release(&resp);
        return PIER_ERR;
    }
    snprintf(etag, sizeof(etag), "%.*s", (int) resp.etag.len, resp.etag.ptr);
    body = pier_buf_str(&resp.body);
    while (body.len > 0
           && (body.ptr[body.len - 1] == '\n' || body.ptr[body.len - 1] == '\r'
               || body.ptr[body.len - 1] == ' ')) {
        body.len--;
    }
    if (!sites_deploy_id_ok(body)) {
        pier_s3_response_release(&resp);
        return pier_err_set(err, "live/%s does not hold a deploy id",
                            site->name);
    }
    snprintf(id, sizeof(id), "%.*s", (int) body.len, body.ptr);
    pier_s3_response_release(&resp);
    if (!force && etag[0] != '\0' && strcmp(etag, site->pointer_etag) == 0) {
        return PIER_OK;
    }
    cur = atomic_load(&site->live); /* only control swaps it: ctl_mu */
    if (!force && cur != NULL
        && strcmp(sites_manifest_deploy(cur->m), id) == 0) {
        /* An activation already brought this deploy (as a delta). */
        snprintf(site->pointer_etag, sizeof(site->pointer_etag), "%s", etag);
        return PIER_OK;
    }
    snprintf(key, sizeof(key), "sites/%s/deploys/%s.json.zst", site->name, id);
    if (s3_get(s, key, MANIFEST_MAX, &resp, err) != PIER_OK) {
        pier_s3_response_release(&resp);
        return PIER_ERR;
    }
    m = sites_manifest_load_zst(resp.body.data, resp.body.len, MANIFEST_MAX,
                                err);
    pier_s3_response_release(&resp);
    if (m == NULL) {
        return PIER_ERR;
    }
    if (strcmp(sites_manifest_site(m), site->name) != 0
        || strcmp(sites_manifest_deploy(m), id) != 0) {
        sites_manifest_free(m);
        return pier_err_set(err, "%s is not the manifest of %s", key, id);
    }
    load_record(s, site);
    site_swap(s, site, m);
    save_site(s, site);
    snprintf(site->pointer_etag, sizeof(site->pointer_etag), "%s", etag);
    pier_log(PIER_LOG_INFO, "edge", "site '%s': deploy %s live (%zu paths)",
             site->name, id, sites_manifest_count(m));
    return PIER_OK;
}

/* List live/ and load every pointer whose ETag changed; rebuild the
 * registry. Under ctl_mu. */
static int
poll_live(struct edge_server *s, struct pier_err *err)
{
    struct pier_s3_request q;
    struct pier_s3_response resp;
    struct edge_site *site;
    struct pier_err e2;
    char token[1024] = "", name[SITES_NAME_MAX + 1];
    bool more = true;
    size_t i;

    for (site = s->sites; site != NULL; site = site->next) {
        site->seen = false;
    }
    while (more) {
        memset(&q, 0, sizeof(q));
        q.prefix = "live/";
        q.continuation_token = token[0] != '\0' ? token : NULL;
        pier_s3_response_init(&resp);
        if (pier_s3_sync_run(s->sync, PIER_S3_OP_LIST, &q, &resp, err)
            != PIER_OK) {
            pier_s3_response_release(&resp);
            return PIER_ERR;
        }
        for (i = 0; i < resp.list.nobjects; i++) {
            const struct pier_s3_object *o = &resp.list.objects[i];
            struct pier_str n = pier_str_cstr(o->key + 5);

            if (!sites_name_ok(n)) {
                continue;
            }
            snprintf(name, sizeof(name), "%s", o->key + 5);
            site = site_find(s, name);
            if (site == NULL) {
                site = site_add(s, name);
            }
            site->seen = true;
            if (strcmp(o->etag, site->pointer_etag) != 0
                && load_site(s, site, false, &e2) != PIER_OK) {
                pier_log(PIER_LOG_WARN, "edge", "site '%s': %s", name, e2.msg);
            }
        }
        more = resp.list.truncated && resp.list.next_token != NULL;
        if (more) {
            snprintf(token, sizeof(token), "%s", resp.list.next_token);
        }
        pier_s3_response_release(&resp);
    }
    /* Records: one listing of sites/ shows which changed by ETag (a
     * domain added with `pier site domain add`, HSTS turned on) without
     * a deploy. */
    more = true;
    token[0] = '\0';
    while (more) {
        memset(&q, 0, sizeof(q));
        q.prefix = "sites/";
        q.delimiter = "/";
        q.continuation_token = token[0] != '\0' ? token : NULL;
        pier_s3_response_init(&resp);
        if (pier_s3_sync_run(s->sync, PIER_S3_OP_LIST, &q, &resp, err)
            != PIER_OK) {
            pier_s3_response_release(&resp);
            return PIER_ERR;
        }
        for (i = 0; i < resp.list.nobjects; i++) {
            const struct pier_s3_object *o = &resp.list.objects[i];
            size_t kl = strlen(o->key);

            if (kl <= 10 || strcmp(o->key + kl - 4, ".ini") != 0
                || kl - 10 > SITES_NAME_MAX) {
                continue;
            }
            snprintf(name, sizeof(name), "%.*s", (int) (kl - 10), o->key + 6);
            site = site_find(s, name);
            if (site != NULL && site->seen && site->pointer_etag[0] != '\0'
                && strcmp(o->etag, site->record_etag) != 0) {
                load_record(s, site);
            }
        }
        more = resp.list.truncated && resp.list.next_token != NULL;
        if (more) {
            snprintf(token, sizeof(token), "%s", resp.list.next_token);
        }
        pier_s3_response_release(&resp);
    }
    /* The listing is complete: only now may sites leave the registry,
     * and their certificates SNI selection. */
    for (site = s->sites; site != NULL; site = site->next) {
        site->gone = site->listed && !site->seen;
        site->listed = site->seen;
    }
    for (site = s->sites; site != NULL; site = site->next) {
        if (site->gone) {
            char local[SITES_NAME_MAX + 16];

            drop_certs(s, site, NULL, 0);
            snprintf(local, sizeof(local), "%s.localhost", site->name);
            drop_cert(s, site, local);
        }
    }
    registry_rebuild(s);
    return PIER_OK;
}

int
edge_server_load_site(struct edge_server *s, const char *name,
                      struct pier_err *err)
{
    struct edge_site *site;
    int rc;

    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    if (!sites_name_ok(pier_str_cstr(name))) {
        return pier_err_set(err, "'%s' is not a site name", name);
    }
    PIER_ASSERT(pthread_mutex_lock(&s->ctl_mu) == 0);
    site = site_find(s, name);
    if (site == NULL) {
        site = site_add(s, name);
    }
    rc = load_site(s, site, true, err);
    if (rc == PIER_OK && !site->listed) {
        site->listed = true;
    }
    registry_rebuild(s);
    PIER_ASSERT(pthread_mutex_unlock(&s->ctl_mu) == 0);
    return rc;
}

int
edge_server_poll(struct edge_server *s, struct pier_err *err)
{
    int rc;

    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    PIER_ASSERT(pthread_mutex_lock(&s->ctl_mu) == 0);
    rc = poll_live(s, err);
    PIER_ASSERT(pthread_mutex_unlock(&s->ctl_mu) == 0);
    return rc;
}

/* Workers. */

static void
poll_work(uv_work_t *req)
{
    struct edge_worker *w = req->data;
    struct pier_err err;

    PIER_ASSERT(pthread_mutex_lock(&w->srv->ctl_mu) == 0);
    if (poll_live(w->srv, &err) != PIER_OK) {
        pier_log(PIER_LOG_WARN, "edge", "polling live/: %s", err.msg);
    }
    PIER_ASSERT(pthread_mutex_unlock(&w->srv->ctl_mu) == 0);
}

static void
poll_done(uv_work_t *req, int status)
{
    struct edge_worker *w = req->data;

    (void) status;
    w->polling = false;
    pier_free(req);
}

static void
on_poll(uv_timer_t *t)
{
    struct edge_worker *w = t->data;
    uv_work_t *req;

    PIER_CHECK_OBJ(w, EDGE_WORKER_MAGIC);
    (void) edge_hazard_reclaim(w->srv->hz);
    if (w->polling) {
        return;
    }
    req = pier_calloc(1, sizeof(*req));
    req->data = w;
    w->polling = true;
    if (uv_queue_work(w->loop, req, poll_work, poll_done) != 0) {
        w->polling = false;
        pier_free(req);
    }
}

static void
on_worker_start(struct pier_http_worker *hw, void *udata)
{
    struct edge_server *s = udata;
    unsigned i = pier_http_worker_index(hw);
    struct edge_worker *w;
    struct pier_err err;

    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    PIER_ASSERT(i < s->nworkers);
    w = pier_calloc(1, sizeof(*w));
    w->magic = EDGE_WORKER_MAGIC;
    w->srv = s;
    w->hw = hw;
    w->index = i;
    w->loop = pier_http_worker_loop(hw);
    w->notifier = edge_notifier_new(w->loop, &err);
    PIER_ASSERT(w->notifier != NULL);
    w->s3 = pier_s3_client_new(w->loop, &s->s3, &err);
    if (w->s3 == NULL) {
        /* The configuration was checked by the synchronous client. */
        pier_panic(__func__, __FILE__, __LINE__, err.msg);
    }
    s->workers[i] = w;
    pier_http_worker_set_data(hw, w);
    if (i == 0) {
        PIER_ASSERT(uv_timer_init(w->loop, &w->poll) == 0);
        w->poll.data = w;
        PIER_ASSERT(uv_timer_start(&w->poll, on_poll, s->poll_ms, s->poll_ms)
                    == 0);
        w->poll_running = true;
    }
}

static void
on_poll_closed(uv_handle_t *h)
{
    (void) h;
}

static void
on_worker_stop(struct pier_http_worker *hw, void *udata)
{
    struct edge_worker *w = pier_http_worker_data(hw);

    (void) udata;
    PIER_CHECK_OBJ(w, EDGE_WORKER_MAGIC);
    if (w->poll_running) {
        uv_close((uv_handle_t *) &w->poll, on_poll_closed);
        w->poll_running = false;
    }
    pier_s3_client_free(w->s3);
    w->s3 = NULL;
    edge_notifier_close(w->notifier);
    w->notifier = NULL;
    edge_serve_worker_stop(w);
}

/* Lifecycle. */

static int
split_addr(const char *addr, char *host, size_t n, unsigned *port,
           struct pier_err *err)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hl;
    char *end;
    unsigned long v;

    if (colon == NULL) {
        return pier_err_set(err, "'%s' is not HOST:PORT", addr);
    }
    hl = (size_t) (colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    errno = 0;
    v = strtoul(colon + 1, &end, 10);
    if (hl == 0 || hl >= n || *end != '\0' || end == colon + 1 || v > 65535
        || errno != 0) {
        return pier_err_set(err, "'%s' is not HOST:PORT", addr);
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned) v;
    return PIER_OK;
}

static const char *
keep(struct edge_server *s, size_t i, const char *v)
{
    if (v == NULL) {
        return NULL;
    }
    s->s3_strings[i] = pier_strdup(v);
    return s->s3_strings[i];
}

struct edge_server *
edge_server_new(const struct edge_server_opts *o, struct pier_err *err)
{
    struct edge_server *s = pier_calloc(1, sizeof(*s));
    struct pier_http_config hc;
    struct edge_fetches_opts fo;
    char spill[4096];
    char host[256];
    unsigned port;

    s->magic = SERVER_MAGIC;
    PIER_ASSERT(pthread_mutex_init(&s->ctl_mu, NULL) == 0);
    s->s3 = o->s3;
    s->s3.endpoint = keep(s, 0, o->s3.endpoint);
    s->s3.region = keep(s, 1, o->s3.region);
    s->s3.bucket = keep(s, 2, o->s3.bucket);
    s->s3.access_key_id = keep(s, 3, o->s3.access_key_id);
    s->s3.secret_access_key = keep(s, 4, o->s3.secret_access_key);
    s->s3.session_token = keep(s, 5, o->s3.session_token);
    s->poll_ms = o->poll_ms != 0 ? o->poll_ms : 5000;
    s->nworkers = o->workers != 0 ? o->workers : uv_available_parallelism();
    if (s->nworkers == 0) {
        s->nworkers = 1;
    }
    if (o->admin != NULL
        && (o->admin_token == NULL || o->admin_token[0] == '\0')) {
        pier_err_set(err, "the admin API needs a token");
        goto fail;
    }
    s->admin_token =
        o->admin_token != NULL ? pier_strdup(o->admin_token) : NULL;
    s->cache = edge_cache_new(&o->cache, err);
    if (s->cache == NULL) {
        goto fail;
    }
    memset(&fo, 0, sizeof(fo));
    fo.fetch_max = o->fetch_max != 0 ? o->fetch_max : (16u << 20);
    s->fetch_max = fo.fetch_max;
    /* Spill files go with the disk tier (whose tmp/ is emptied at start),
     * else to $TMPDIR. */
    if (o->cache.dir != NULL) {
        snprintf(spill, sizeof(spill), "%s/tmp", o->cache.dir);
        fo.spill_dir = spill;
        fo.spill_keep = true; /* the tier adopts verified ones */
    } else {
        fo.spill_dir = getenv("TMPDIR");
    }
    s->fetches = edge_fetches_new(&fo, s->cache);
    s->hz = edge_hazard_new(s->nworkers, EDGE_HZ_SLOTS);
    s->workers = pier_calloc(s->nworkers, sizeof(*s->workers));
    s->ctr = pier_calloc(s->nworkers, sizeof(*s->ctr));
    atomic_init(&s->registry, NULL);
    s->sync = pier_s3_sync_new(&s->s3, err);
    if (s->sync == NULL) {
        goto fail;
    }
    if (o->tls_listen != NULL) {
        s->tls = pier_tls_new(err);
        if (s->tls == NULL) {
            goto fail;
        }
    }

    if (o->cache.dir != NULL) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/manifests", o->cache.dir);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            pier_err_sys(err, errno, "cannot create '%s'", path);
            goto fail;
        }
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            s->state_dir = pier_strdup(path);
        }
    }

    /* Sites first: an edge that cannot see its store starts only from
     * the sites it saved. */
    PIER_ASSERT(pthread_mutex_lock(&s->ctl_mu) == 0);
    if (poll_live(s, err) != PIER_OK) {
        struct pier_err why = *err;

        if (restore_sites(s, err) != PIER_OK) {
            PIER_ASSERT(pthread_mutex_unlock(&s->ctl_mu) == 0);
            *err = why;
            goto fail;
        }
    }
    PIER_ASSERT(pthread_mutex_unlock(&s->ctl_mu) == 0);

    pier_http_config_init(&hc);
    hc.workers = s->nworkers;
    hc.sched_slice_us = EDGE_SCHED_SLICE_US;
    hc.on_worker_start = on_worker_start;
    hc.on_worker_stop = on_worker_stop;
    hc.udata = s;
    s->http = pier_http_server_new(&hc);
    if (split_addr(o->listen != NULL ? o->listen : "127.0.0.1:8080", host,
                   sizeof(host), &port, err)
            != PIER_OK
        || pier_http_server_listen(s->http, "http", host, port, NULL,
                                   edge_serve, s, err)
               != PIER_OK) {
        goto fail;
    }
    if (o->tls_listen != NULL
        && (split_addr(o->tls_listen, host, sizeof(host), &port, err) != PIER_OK
            || pier_http_server_listen(s->http, "https", host, port, s->tls,
                                       edge_serve, s, err)
                   != PIER_OK)) {
        goto fail;
    }
    if (o->tls_listen != NULL) {
        char addr[64];
        const char *colon;

        PIER_ASSERT(pier_http_server_addr(s->http, "https", addr, sizeof(addr))
                    == PIER_OK);
        colon = strrchr(addr, ':');
        s->https_port =
            colon != NULL ? (unsigned) strtoul(colon + 1, NULL, 10) : 443;
    }
    if (o->admin != NULL
        && (split_addr(o->admin, host, sizeof(host), &port, err) != PIER_OK
            || pier_http_server_listen(s->http, "admin", host, port, NULL,
                                       edge_admin, s, err)
                   != PIER_OK)) {
        goto fail;
    }
    return s;

fail:
    edge_server_free(s);
    return NULL;
}

void
edge_server_free(struct edge_server *s)
{
    struct edge_site *site, *next;
    void *reg;
    unsigned i;

    if (s == NULL) {
        return;
    }
    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    pier_http_server_free(s->http);
    pier_tls_free(s->tls);
    for (i = 0; s->workers != NULL && i < s->nworkers; i++) {
        if (s->workers[i] != NULL) {
            s->workers[i]->magic = 0;
            pier_free(s->workers[i]);
        }
    }
    pier_free(s->workers);
    pier_free(s->ctr);
    reg = atomic_exchange(&s->registry, NULL);
    if (reg != NULL) {
        registry_free(reg);
    }
    edge_hazard_free(s->hz); /* frees retired deploys and registries */
    for (site = s->sites; site != NULL; site = next) {
        next = site->next;
        site_free(site);
    }
    pier_s3_sync_free(s->sync);
    edge_fetches_free(s->fetches);
    edge_cache_free(s->cache);
    for (i = 0; i < PIER_NELEMS(s->s3_strings); i++) {
        pier_free(s->s3_strings[i]);
    }
    pier_free(s->admin_token);
    pier_free(s->state_dir);
    PIER_ASSERT(pthread_mutex_destroy(&s->ctl_mu) == 0);
    s->magic = 0;
    pier_free(s);
}

struct pier_http_server *
edge_server_http(struct edge_server *s)
{
    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    return s->http;
}

void
edge_server_stats(struct edge_server *s, struct edge_server_stats *st)
{
    unsigned i;

    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    memset(st, 0, sizeof(*st));
    for (i = 0; i < s->nworkers; i++) {
        st->requests += atomic_load(&s->ctr[i].requests);
        st->hits += atomic_load(&s->ctr[i].hits);
        st->bytes_out += atomic_load(&s->ctr[i].bytes_out);
    }
    st->misses = atomic_load(&s->misses);
    st->not_found = atomic_load(&s->not_found);
    st->origin_errors = atomic_load(&s->origin_errors);
    st->disk_read_bytes = atomic_load(&s->disk_read_bytes);
    st->activations = atomic_load(&s->activations);
    st->activation_us_last = atomic_load(&s->activation_us_last);
    st->sites = atomic_load(&s->nsites);
}

/* The admin API: loopback by default, a bearer token, JSON. */

enum job_kind { J_ACTIVATE, J_PURGE, J_SITES };

struct admin_job {
    unsigned magic;
    uv_work_t work;
    struct edge_server *s;
    struct edge_worker *w; /* the loop it answers on */
    struct pier_http_req *req;
    enum job_kind kind;
    char site[SITES_NAME_MAX + 1];
    char *body;
    size_t body_len;
    bool working, gone;
    int status;
    char *answer;              /* JSON, allocated by jansson */
    struct edge_key *prefetch; /* blobs of the changed entries */
    uint64_t *prefetch_size;   /* their identity sizes (decoding bound) */
    size_t nprefetch;
};

#define PREFETCH_MAX 1024 /* blobs per activation */

static void
job_free(struct admin_job *j)
{
    PIER_CHECK_OBJ(j, ADMIN_JOB_MAGIC);
    pier_free(j->body);
    free(j->answer);
    pier_free(j->prefetch);
    pier_free(j->prefetch_size);
    j->magic = 0;
    pier_free(j);
}

static void
job_finished(struct pier_http_req *req, bool completed, void *ctx)
{
    struct admin_job *j = ctx;

    (void) req;
    (void) completed;
    PIER_CHECK_OBJ(j, ADMIN_JOB_MAGIC);
    j->req = NULL;
    if (j->working) {
        j->gone = true; /* after_work frees it */
        return;
    }
    job_free(j);
}

static void
job_answer(struct admin_job *j, int status, json_t *o)
{
    j->status = status;
    j->answer = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    PIER_ASSERT(j->answer != NULL);
}

static void
job_error(struct admin_job *j, int status, const char *msg)
{
    job_answer(j, status, json_pack("{s:s}", "error", msg));
}

static uint64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static const char *
live_id(struct edge_site *site)
{
    struct edge_deploy *d = atomic_load(&site->live);

    return d != NULL ? sites_manifest_deploy(d->m) : NULL;
}

/* The blobs (every variant) of the entries a delta changed or added, to
 * fetch right away so that the first visitor hits. */
static void
collect_prefetch(struct admin_job *j, const struct sites_delta *d)
{
    size_t i, n = sites_delta_count(d);
    const struct sites_entry *e;
    const char *path;
    struct pier_err err;
    unsigned v;

    j->prefetch = pier_calloc(PREFETCH_MAX, sizeof(*j->prefetch));
    j->prefetch_size = pier_calloc(PREFETCH_MAX, sizeof(*j->prefetch_size));
    for (i = 0; i < n && j->nprefetch + 4 <= PREFETCH_MAX; i++) {
        e = sites_delta_at(d, i, &path);
        if (e == NULL || e->klass != SITES_CLASS_ENTRY) {
            continue; /* removed, or an asset (named by content) */
        }
        for (v = 0; v < EDGE_ENC_MAX; v++) {
            bool has =
                v == EDGE_ENC_IDENTITY
                || (v == EDGE_ENC_BR && e->enc_size[SITES_ENC_BR] > 0)
                || (v == EDGE_ENC_ZSTD && e->enc_size[SITES_ENC_ZSTD] > 0)
                || (v == EDGE_ENC_GZIP && e->enc_size[SITES_ENC_GZIP] > 0);

            if (has
                && edge_key_parse(&j->prefetch[j->nprefetch],
                                  pier_str_cstr(e->sha256), v, &err)
                       == PIER_OK) {
                j->prefetch_size[j->nprefetch++] = e->size;
            }
        }
    }
}

/* POST /v1/sites/{site}/activate: apply the delta when it starts from the
 * deploy we hold, else load the whole manifest. Under ctl_mu. */
static void
do_activate(struct admin_job *j)
{
    struct edge_server *s = j->s;
    struct sites_delta *d;
    struct sites_manifest *m = NULL;
    struct edge_site *site;
    struct edge_deploy *cur;
    struct pier_err err;
    const char *applied = "delta", *from;
    uint64_t t0 = now_us(), us;

    d = sites_delta_decode(j->body, j->body_len, &err);
    if (d == NULL) {
        job_error(j, 400, err.msg);
        return;
    }
    if (j->site[0] == '\0') {
        /* POST /v1/activate: the site is the delta's. */
        if (!sites_name_ok(pier_str_cstr(sites_delta_site(d)))) {
            sites_delta_free(d);
            job_error(j, 400, "bad site name in the delta");
            return;
        }
        snprintf(j->site, sizeof(j->site), "%s", sites_delta_site(d));
    }
    if (strcmp(sites_delta_site(d), j->site) != 0) {
        sites_delta_free(d);
        job_error(j, 400, "the delta is for another site");
        return;
    }
    site = site_find(s, j->site);
    if (site == NULL) {
        site = site_add(s, j->site);
    }
    cur = atomic_load(&site->live);
    from = sites_delta_from(d);
    if (cur != NULL && from != NULL
        && strcmp(sites_manifest_deploy(cur->m), from) == 0) {
        m = sites_manifest_apply(cur->m, d, &err);
        if (m == NULL) {
            pier_log(PIER_LOG_WARN, "edge", "site '%s': delta: %s", j->site,
                     err.msg);
        }
    }
    if (m != NULL) {
        site_swap(s, site, m);
        save_site(s, site);
        pier_log(PIER_LOG_INFO, "edge",
                 "site '%s': deploy %s live (delta of %zu paths)", j->site,
                 sites_delta_to(d), sites_delta_count(d));
    } else {
        applied = "manifest";
        if (load_site(s, site, true, &err) != PIER_OK) {
            sites_delta_free(d);
            job_error(j, 502, err.msg);
            return;
        }
    }
    if (!site->listed) {
        site->listed = true;
        registry_rebuild(s);
    }
    us = now_us() - t0;
    collect_prefetch(j, d);
    atomic_fetch_add(&s->activations, 1);
    atomic_store(&s->activation_us_last, us);
    job_answer(j, 200,
               json_pack("{s:s,s:s?,s:s,s:I,s:I}", "site", j->site, "deploy",
                         live_id(site), "applied", applied, "changes",
                         (json_int_t) sites_delta_count(d), "us",
                         (json_int_t) us));
    sites_delta_free(d);
}

/* POST /v1/purge {"site": S, "paths": [...]}: reload the site's manifest
 * from the store (for pointers changed by hand), and drop the blobs of
 * the given paths from the cache. */
static void
do_purge(struct admin_job *j)
{
    struct edge_server *s = j->s;
    json_error_t jerr;
    json_t *root = json_loadb(j->body, j->body_len, 0, &jerr), *paths, *p;
    const char *name;
    struct edge_site *site;
    struct edge_deploy *d;
    struct pier_err err;
    struct edge_key k;
    size_t i, dropped = 0;
    unsigned e;

    if (root == NULL || json_unpack(root, "{s:s}", "site", &name) != 0
        || !sites_name_ok(pier_str_cstr(name))) {
        json_decref(root);
        job_error(j, 400, "expected {\"site\": NAME, \"paths\": [...]}");
        return;
    }
    site = site_find(s, name);
    if (site == NULL) {
        json_decref(root);
        job_error(j, 404, "no such site");
        return;
    }
    paths = json_object_get(root, "paths");
    d = atomic_load(&site->live);
    json_array_foreach(paths, i, p)
    {
        const struct sites_entry *en;
        bool hashed;

        if (d == NULL || !json_is_string(p)) {
            continue;
        }
        en = sites_manifest_get(d->m, pier_str_cstr(json_string_value(p)),
                                &hashed);
        for (e = 0; en != NULL && e < EDGE_ENC_MAX; e++) {
            if (edge_key_parse(&k, pier_str_cstr(en->sha256), e, &err)
                == PIER_OK) {
                edge_cache_drop(s->cache, &k);
                dropped++;
            }
        }
    }
    if (load_site(s, site, true, &err) != PIER_OK) {
        json_decref(root);
        job_error(j, 502, err.msg);
        return;
    }
    job_answer(j, 200,
               json_pack("{s:s,s:s?,s:I}", "site", name, "deploy",
                         live_id(site), "dropped", (json_int_t) dropped));
    json_decref(root);
}

static void
do_sites(struct admin_job *j)
{
    json_t *arr = json_array(), *doms;
    struct edge_site *site;
    struct edge_deploy *d;
    size_t i;

    for (site = j->s->sites; site != NULL; site = site->next) {
        if (!site->listed) {
            continue;
        }
        doms = json_array();
        for (i = 0; i < site->ndomains; i++) {
            json_array_append_new(doms, json_string(site->domains[i]));
        }
        d = atomic_load(&site->live);
        json_array_append_new(
            arr, json_pack("{s:s,s:o,s:s?,s:I}", "site", site->name, "domains",
                           doms, "deploy", live_id(site), "paths",
                           (json_int_t) (d != NULL ? sites_manifest_count(d->m)
                                                   : 0)));
    }
    job_answer(j, 200, json_pack("{s:o}", "sites", arr));
}

static void
job_work(uv_work_t *w)
{
    struct admin_job *j = w->data;

    PIER_ASSERT(pthread_mutex_lock(&j->s->ctl_mu) == 0);
    switch (j->kind) {
    case J_ACTIVATE:
        do_activate(j);
        break;
    case J_PURGE:
        do_purge(j);
        break;
    case J_SITES:
        do_sites(j);
        break;
    }
    PIER_ASSERT(pthread_mutex_unlock(&j->s->ctl_mu) == 0);
}

static void
job_done(uv_work_t *work, int status)
{
    struct admin_job *j = work->data;
    struct edge_worker *w;
    struct edge_fetch *f;
    size_t i;

    (void) status;
    j->working = false;
    /* Prefetch on this worker, whether or not the caller still waits. */
    w = j->w;
    for (i = 0; i < j->nprefetch; i++) {
        if (edge_fetches_prefetch(j->s->fetches, &j->prefetch[i],
                                  j->prefetch_size[i], &f)) {
            edge_origin_start(w, f);
        }
    }
    if (j->gone) {
        job_free(j);
        return;
    }
    (void) pier_http_resp_header(j->req, "Content-Type",
                                 PIER_STR("application/json"));
    pier_http_resp_send(j->req, j->status, pier_str_cstr(j->answer));
}

static void
job_start(struct admin_job *j)
{
    uv_loop_t *loop = j->w->loop;

    j->work.data = j;
    j->working = true;
    if (uv_queue_work(loop, &j->work, job_work, job_done) != 0) {
        j->working = false;
        pier_http_resp_error(j->req, 503);
    }
}

static void
job_body(struct pier_http_req *req, struct pier_str body, void *ctx)
{
    struct admin_job *j = ctx;

    (void) req;
    PIER_CHECK_OBJ(j, ADMIN_JOB_MAGIC);
    j->body = pier_strndup(body.ptr, body.len);
    j->body_len = body.len;
    job_start(j);
}

static bool
authorised(struct edge_server *s, struct pier_http_req *req)
{
    struct pier_str a = pier_http_req_header(req, "authorization");
    size_t n = strlen(s->admin_token);

    return a.ptr != NULL && a.len == 7 + n
           && pier_str_caseeq(pier_str_make(a.ptr, 7), PIER_STR("Bearer "))
           && CRYPTO_memcmp(a.ptr + 7, s->admin_token, n) == 0;
}

static void
send_text(struct pier_http_req *req, int status, const char *type,
          struct pier_buf *b)
{
    (void) pier_http_resp_header(req, "Content-Type", pier_str_cstr(type));
    pier_http_resp_send(req, status, pier_buf_str(b));
}

static void
admin_finished(struct pier_http_req *req, bool completed, void *ctx)
{
    struct pier_buf *b = ctx;

    (void) req;
    (void) completed;
    pier_buf_release(b);
    pier_free(b);
}

/* GET /v1/stats (JSON) and /metrics (Prometheus text): counters only. */
static void
send_stats(struct edge_server *s, struct pier_http_req *req, bool prom)
{
    struct edge_server_stats st;
    struct edge_cache_stats cs;
    struct edge_fetches_stats fs;
    struct pier_buf *b = pier_malloc(sizeof(*b));
    int rc;

    pier_buf_init(b, 1 << 20);
    pier_http_req_on_finish(req, admin_finished, b);
    edge_server_stats(s, &st);
    edge_cache_stats(s->cache, &cs);
    edge_fetches_stats(s->fetches, &fs);
    if (prom) {
        rc = pier_buf_addf(
            b,
            "# TYPE pier_edge_requests_total counter\n"
            "pier_edge_requests_total %llu\n"
            "# TYPE pier_edge_hits_total counter\n"
            "pier_edge_hits_total %llu\n"
            "# TYPE pier_edge_misses_total counter\n"
            "pier_edge_misses_total %llu\n"
            "# TYPE pier_edge_not_found_total counter\n"
            "pier_edge_not_found_total %llu\n"
            "# TYPE pier_edge_bytes_sent_total counter\n"
            "pier_edge_bytes_sent_total %llu\n"
            "# TYPE pier_edge_origin_fetches_total counter\n"
            "pier_edge_origin_fetches_total %llu\n"
            "# TYPE pier_edge_origin_errors_total counter\n"
            "pier_edge_origin_errors_total %llu\n"
            "# TYPE pier_edge_coalesced_waits_total counter\n"
            "pier_edge_coalesced_waits_total %llu\n"
            "# TYPE pier_edge_cache_bytes gauge\n"
            "pier_edge_cache_bytes{tier=\"memory\"} %llu\n"
            "pier_edge_cache_bytes{tier=\"disk\"} %llu\n"
            "# TYPE pier_edge_activations_total counter\n"
            "pier_edge_activations_total %llu\n"
            "# TYPE pier_edge_activation_seconds gauge\n"
            "pier_edge_activation_seconds %.6f\n"
            "# TYPE pier_edge_sites gauge\n"
            "pier_edge_sites %llu\n",
            (unsigned long long) st.requests, (unsigned long long) st.hits,
            (unsigned long long) st.misses, (unsigned long long) st.not_found,
            (unsigned long long) st.bytes_out, (unsigned long long) fs.started,
            (unsigned long long) st.origin_errors,
            (unsigned long long) fs.joined, (unsigned long long) cs.mem_bytes,
            (unsigned long long) cs.disk_bytes,
            (unsigned long long) st.activations,
            (double) st.activation_us_last / 1e6,
            (unsigned long long) st.sites);
        PIER_ASSERT(rc == PIER_OK);
        send_text(req, 200, "text/plain; version=0.0.4", b);
        return;
    }
    rc = pier_buf_addf(
        b,
        "{\"requests\":%llu,\"hits\":%llu,\"misses\":%llu,"
        "\"not_found\":%llu,\"bytes_sent\":%llu,\"origin_fetches\":%llu,"
        "\"origin_errors\":%llu,\"coalesced_waits\":%llu,"
        "\"late_hits\":%llu,\"fetch_failures\":%llu,\"in_flight\":%llu,"
        "\"cache\":{\"memory_bytes\":%llu,\"memory_entries\":%llu,"
        "\"memory_max\":%llu,\"disk_bytes\":%llu,\"disk_entries\":%llu,"
        "\"evictions\":%llu,\"disk_read_bytes\":%llu},"
        "\"activations\":%llu,"
        "\"activation_us_last\":%llu,\"sites\":%llu}\n",
        (unsigned long long) st.requests, (unsigned long long) st.hits,
        (unsigned long long) st.misses, (unsigned long long) st.not_found,
        (unsigned long long) st.bytes_out, (unsigned long long) fs.started,
        (unsigned long long) st.origin_errors, (unsigned long long) fs.joined,
        (unsigned long long) fs.late_hits, (unsigned long long) fs.failed,
        (unsigned long long) fs.in_flight, (unsigned long long) cs.mem_bytes,
        (unsigned long long) cs.mem_entries, (unsigned long long) cs.mem_max,
        (unsigned long long) cs.disk_bytes,
        (unsigned long long) cs.disk_entries,
        (unsigned long long) cs.mem_evictions,
        (unsigned long long) st.disk_read_bytes,
        (unsigned long long) st.activations,
        (unsigned long long) st.activation_us_last,
        (unsigned long long) st.sites);
    PIER_ASSERT(rc == PIER_OK);
    send_text(req, 200, "application/json", b);
}

void
edge_admin(struct pier_http_req *req, void *udata)
{
    struct edge_server *s = udata;
    struct pier_str path = req->path;
    struct admin_job *j;
    bool get = req->method_id == PIER_HTTP_GET, post;

    PIER_CHECK_OBJ(s, SERVER_MAGIC);
    post = req->method_id == PIER_HTTP_POST;
    if (pier_str_eq(path, PIER_STR("/healthz"))) {
        pier_http_resp_send(req, 200, PIER_STR("ok\n"));
        return;
    }
    if (!authorised(s, req)) {
        (void) pier_http_resp_header(req, "WWW-Authenticate",
                                     PIER_STR("Bearer"));
        pier_http_resp_error(req, 401);
        return;
    }
    if (get && pier_str_eq(path, PIER_STR("/metrics"))) {
        send_stats(s, req, true);
        return;
    }
    if (get && pier_str_eq(path, PIER_STR("/v1/stats"))) {
        send_stats(s, req, false);
        return;
    }
    j = pier_calloc(1, sizeof(*j));
    j->magic = ADMIN_JOB_MAGIC;
    j->s = s;
    j->w = pier_http_worker_data(pier_http_req_worker(req));
    j->req = req;
    PIER_CHECK_OBJ(j->w, EDGE_WORKER_MAGIC);
    pier_http_req_on_finish(req, job_finished, j);
    if (get && pier_str_eq(path, PIER_STR("/v1/sites"))) {
        j->kind = J_SITES;
        job_start(j);
        return;
    }
    if (post
        && (pier_str_eq(path, PIER_STR("/v1/activate"))
            || pier_str_eq(path, PIER_STR("/")))) {
        /* The site named in the delta: what `pier publish --edge URL`
         * posts to when URL is the edge's bare admin address. */
        j->kind = J_ACTIVATE;
        pier_http_req_read_whole(req, DELTA_MAX, job_body, j);
        return;
    }
    if (post && pier_str_eq(path, PIER_STR("/v1/purge"))) {
        j->kind = J_PURGE;
        pier_http_req_read_whole(req, DELTA_MAX, job_body, j);
        return;
    }
    if (post && path.len > sizeof("/v1/sites/") + sizeof("/activate") - 2
        && memcmp(path.ptr, "/v1/sites/", 10) == 0
        && memcmp(path.ptr + path.len - 9, "/activate", 9) == 0) {
        struct pier_str name = pier_str_make(path.ptr + 10, path.len - 19);

        if (!sites_name_ok(name)) {
            pier_http_resp_error(req, 404);
            return;
        }
        memcpy(j->site, name.ptr, name.len);
        j->site[name.len] = '\0';
        j->kind = J_ACTIVATE;
        pier_http_req_read_whole(req, DELTA_MAX, job_body, j);
        return;
    }
    pier_http_resp_error(req, 404);
}
