/*
 * lib/tls.c - OpenSSL 3 behind memory BIOs; one SSL_CTX per certificate.
 *
 * Each certificate + key pair gets its own SSL_CTX (same settings), and
 * the servername callback moves a connection onto the one for its name
 * with SSL_set_SSL_CTX, which takes a reference: replacing or removing a
 * pair never pulls it from under a connection that uses it. The table is
 * a short list under a read-write lock; lookups happen once per
 * handshake.
 *
 * The default pair (no SNI, or a name with no pair) is the one set for
 * NULL if there is one; otherwise it follows the table: the pair of the
 * oldest name still in it, recomputed on every change, so a name that was
 * removed never goes on being served as the default. With no pair at all
 * the handshake fails with an unrecognized_name alert.
 */
#include "config.h"

#include "lib/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#define PIER_TLS_MAGIC      0x6c1e93a4u
#define PIER_TLS_CONN_MAGIC 0x19d4f07bu
#define MAX_CERT_FILE       (1024 * 1024)

struct cert_entry {
    char *name; /* "*.example.com" for a wildcard */
    SSL_CTX *ctx;
    struct cert_entry *next;
};

struct pier_tls {
    unsigned magic;
    SSL_CTX *base; /* new connections start here */
    pthread_rwlock_t lock;
    struct cert_entry *entries; /* the newest first */
    SSL_CTX *def;               /* no SNI, or no match; a reference */
    bool def_set;               /* def was set for NULL, not followed */
};

struct pier_tls_conn {
    unsigned magic;
    struct pier_tls *tls;
    SSL *ssl;
    BIO *rbio, *wbio;
    bool ready;
    bool blocked; /* plaintext was full with more to decrypt */
    char sni[256];
    char alpn[32];
};

static int
ssl_err(struct pier_err *err, const char *what)
{
    char buf[160];
    unsigned long e = ERR_get_error();

    if (e == 0) {
        ERR_clear_error();
        return pier_err_set(err, "%s", what);
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return pier_err_set(err, "%s: %s", what, buf);
}

static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
        const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel;

    (void) ssl;
    (void) arg;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK; /* no http/1.1 offered: no ALPN */
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
ctx_new(struct pier_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        ssl_err(err, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    return ctx;
}

/* name matches pattern: equal (case-insensitive), or "*.rest" and name is
 * one label followed by ".rest". */
static bool
name_matches(const char *pattern, const char *name)
{
    const char *dot;

    if (strcasecmp(pattern, name) == 0) {
        return true;
    }
    if (pattern[0] != '*' || pattern[1] != '.') {
        return false;
    }
    dot = strchr(name, '.');
    return dot != NULL && dot != name && strcasecmp(dot, pattern + 1) == 0;
}

static int
on_servername(SSL *ssl, int *alert, void *arg)
{
    struct pier_tls *tls = arg;
    struct pier_tls_conn *tc = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    struct cert_entry *e, *wild = NULL;
    SSL_CTX *pick = NULL;

    (void) alert;
    if (name != NULL && tc != NULL) {
        snprintf(tc->sni, sizeof(tc->sni), "%s", name);
    }
    pthread_rwlock_rdlock(&tls->lock);
    for (e = tls->entries; name != NULL && e != NULL; e = e->next) {
        if (strcasecmp(e->name, name) == 0) {
            pick = e->ctx;
            break;
        }
        if (wild == NULL && name_matches(e->name, name)) {
            wild = e;
        }
    }
    if (pick == NULL && wild != NULL) {
        pick = wild->ctx;
    }
    if (pick == NULL) {
        pick = tls->def;
    }
    if (pick != NULL) {
        SSL_set_SSL_CTX(ssl, pick); /* takes a reference */
    }
    pthread_rwlock_unlock(&tls->lock);
    if (pick == NULL) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

struct pier_tls *
pier_tls_new(struct pier_err *err)
{
    struct pier_tls *tls = pier_calloc(1, sizeof(*tls));

    tls->magic = PIER_TLS_MAGIC;
    tls->base = ctx_new(err);
    if (tls->base == NULL) {
        pier_free(tls);
        return NULL;
    }
    SSL_CTX_set_tlsext_servername_callback(tls->base, on_servername);
    SSL_CTX_set_tlsext_servername_arg(tls->base, tls);
    pthread_rwlock_init(&tls->lock, NULL);
    return tls;
}

void
pier_tls_free(struct pier_tls *tls)
{
    struct cert_entry *e, *next;

    if (tls == NULL) {
        return;
    }
    PIER_CHECK_OBJ(tls, PIER_TLS_MAGIC);
    for (e = tls->entries; e != NULL; e = next) {
        next = e->next;
        SSL_CTX_free(e->ctx);
        pier_free(e->name);
        pier_free(e);
    }
    SSL_CTX_free(tls->def);
    SSL_CTX_free(tls->base);
    pthread_rwlock_destroy(&tls->lock);
    tls->magic = 0;
    pier_free(tls);
}

/* Unless a default was set for NULL, make the default the pair of the
 * oldest name in the table (the last entry), or none. Under the write
 * lock. */
static void
def_follow(struct pier_tls *tls)
{
    struct cert_entry *e = tls->entries;
    SSL_CTX *ctx = NULL;

    if (tls->def_set) {
        return;
    }
    while (e != NULL && e->next != NULL) {
        e = e->next;
    }
    if (e != NULL) {
        ctx = e->ctx;
        SSL_CTX_up_ref(ctx);
    }
    SSL_CTX_free(tls->def);
    tls->def = ctx;
}

static SSL_CTX *
ctx_with_cert(const char *cert_pem, size_t cert_len, const char *key_pem,
              size_t key_len, struct pier_err *err)
{
    SSL_CTX *ctx;
    BIO *b = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;

    ctx = ctx_new(err);
    if (ctx == NULL) {
        return NULL;
    }
    b = BIO_new_mem_buf(cert_pem, (int) cert_len);
    if (b == NULL) {
        ssl_err(err, "BIO_new_mem_buf");
        goto fail;
    }
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
        ssl_err(err, "cannot read the certificate");
        goto fail;
    }
    X509_free(x);
    x = NULL;
    /* The rest of the PEM is the chain. */
    for (;;) {
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x == NULL) {
            ERR_clear_error(); /* the end of the file */
            break;
        }
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
            ssl_err(err, "cannot add a chain certificate");
            goto fail;
        }
        x = NULL;
    }
    BIO_free(b);
    b = BIO_new_mem_buf(key_pem, (int) key_len);
    if (b == NULL) {
        ssl_err(err, "BIO_new_mem_buf");
        goto fail;
    }
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    if (k == NULL || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
        ssl_err(err, "cannot read the key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, "the key does not match the certificate");
        goto fail;
    }
    EVP_PKEY_free(k);
    BIO_free(b);
    return ctx;

fail:
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(b);
    SSL_CTX_free(ctx);
    return NULL;
}

int
pier_tls_set_cert(struct pier_tls *tls, const char *name, const char *cert_pem,
                  size_t cert_len, const char *key_pem, size_t key_len,
                  struct pier_err *err)
{
    SSL_CTX *ctx;
    struct cert_entry *e;

    PIER_CHECK_OBJ(tls, PIER_TLS_MAGIC);
    ctx = ctx_with_cert(cert_pem, cert_len, key_pem, key_len, err);
    if (ctx == NULL) {
        char why[sizeof(err->msg)];

        /* err->msg cannot be formatted into itself. */
        memcpy(why, err->msg, sizeof(why));
        return pier_err_set(err, "certificate for '%s': %s",
                            name != NULL ? name : "(default)", why);
    }
    pthread_rwlock_wrlock(&tls->lock);
    if (name == NULL) {
        SSL_CTX_free(tls->def);
        tls->def = ctx; /* only the default holds it */
        tls->def_set = true;
    } else {
        for (e = tls->entries; e != NULL; e = e->next) {
            if (strcasecmp(e->name, name) == 0) {
                break;
            }
        }
        if (e == NULL) {
            e = pier_calloc(1, sizeof(*e));
            e->name = pier_strdup(name);
            e->next = tls->entries;
            tls->entries = e;
        } else {
            SSL_CTX_free(e->ctx);
        }
        e->ctx = ctx;
        def_follow(tls);
    }
    pthread_rwlock_unlock(&tls->lock);
    return PIER_OK;
}

static char *
read_file(const char *path, size_t *len, struct pier_err *err)
{
    FILE *f = fopen(path, "rb");
    struct pier_buf b;
    char tmp[8192];
    size_t n;

    if (f == NULL) {
        pier_err_sys(err, errno, "cannot open '%s'", path);
        return NULL;
    }
    pier_buf_init(&b, MAX_CERT_FILE);
    for (;;) {
        n = fread(tmp, 1, sizeof(tmp), f);
        if (n == 0) {
            break;
        }
        if (pier_buf_add(&b, tmp, n) != 0) {
            fclose(f);
            pier_buf_release(&b);
            pier_err_set(err, "'%s' is too large", path);
            return NULL;
        }
    }
    if (ferror(f)) {
        int e = errno;

        fclose(f);
        pier_buf_release(&b);
        pier_err_sys(err, e, "cannot read '%s'", path);
        return NULL;
    }
    fclose(f);
    return pier_buf_detach(&b, len);
}

int
pier_tls_set_cert_files(struct pier_tls *tls, const char *name,
                        const char *cert_path, const char *key_path,
                        struct pier_err *err)
{
    char *cert, *key;
    size_t clen, klen;
    int r;

    cert = read_file(cert_path, &clen, err);
    if (cert == NULL) {
        return PIER_ERR;
    }
    key = read_file(key_path, &klen, err);
    if (key == NULL) {
        pier_free(cert);
        return PIER_ERR;
    }
    r = pier_tls_set_cert(tls, name, cert, clen, key, klen, err);
    OPENSSL_cleanse(key, klen);
    pier_free(key);
    pier_free(cert);
    return r;
}

int
pier_tls_remove_cert(struct pier_tls *tls, const char *name)
{
    struct cert_entry **pp, *e;
    int r = PIER_ERR;

    PIER_CHECK_OBJ(tls, PIER_TLS_MAGIC);
    pthread_rwlock_wrlock(&tls->lock);
    if (name == NULL) {
        if (tls->def_set) {
            tls->def_set = false;
            r = PIER_OK;
        }
    } else {
        for (pp = &tls->entries; *pp != NULL; pp = &(*pp)->next) {
            e = *pp;
            if (strcasecmp(e->name, name) == 0) {
                *pp = e->next;
                SSL_CTX_free(e->ctx);
                pier_free(e->name);
                pier_free(e);
                r = PIER_OK;
                break;
            }
        }
    }
    if (r == PIER_OK) {
        def_follow(tls);
    }
    pthread_rwlock_unlock(&tls->lock);
    return r;
}

struct pier_tls_conn *
pier_tls_conn_new(struct pier_tls *tls, struct pier_err *err)
{
    struct pier_tls_conn *tc;

    PIER_CHECK_OBJ(tls, PIER_TLS_MAGIC);
    tc = pier_calloc(1, sizeof(*tc));
    tc->magic = PIER_TLS_CONN_MAGIC;
    tc->tls = tls;
    tc->ssl = SSL_new(tls->base);
    tc->rbio = BIO_new(BIO_s_mem());
    tc->wbio = BIO_new(BIO_s_mem());
    if (tc->ssl == NULL || tc->rbio == NULL || tc->wbio == NULL) {
        ssl_err(err, "SSL_new");
        SSL_free(tc->ssl);
        BIO_free(tc->rbio);
        BIO_free(tc->wbio);
        pier_free(tc);
        return NULL;
    }
    BIO_set_mem_eof_return(tc->rbio, -1);
    BIO_set_mem_eof_return(tc->wbio, -1);
    SSL_set_bio(tc->ssl, tc->rbio, tc->wbio);
    SSL_set_app_data(tc->ssl, tc);
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void
pier_tls_conn_free(struct pier_tls_conn *tc)
{
    if (tc == NULL) {
        return;
    }
    PIER_CHECK_OBJ(tc, PIER_TLS_CONN_MAGIC);
    SSL_free(tc->ssl); /* frees the BIOs */
    tc->magic = 0;
    pier_free(tc);
}

/* Move what OpenSSL wrote into out. */
static void
drain(struct pier_tls_conn *tc, struct pier_buf *out)
{
    size_t pending;

    for (pending = BIO_ctrl_pending(tc->wbio); pending > 0;
         pending = BIO_ctrl_pending(tc->wbio)) {
        char *p = pier_buf_reserve(out, pending);
        int n;

        PIER_ASSERT(p != NULL);
        n = BIO_read(tc->wbio, p, (int) pier_buf_avail(out));
        if (n <= 0) {
            break;
        }
        pier_buf_commit(out, (size_t) n);
    }
}

int
pier_tls_conn_feed(struct pier_tls_conn *tc, const char *p, size_t n,
                   struct pier_buf *plain, struct pier_buf *out,
                   struct pier_err *err)
{
    int r;

    PIER_CHECK_OBJ(tc, PIER_TLS_CONN_MAGIC);
    if (n > 0 && BIO_write(tc->rbio, p, (int) n) != (int) n) {
        return ssl_err(err, "BIO_write");
    }
    if (!tc->ready) {
        r = SSL_do_handshake(tc->ssl);
        if (r != 1) {
            int e = SSL_get_error(tc->ssl, r);

            drain(tc, out);
            if (e == SSL_ERROR_WANT_READ) {
                return PIER_OK;
            }
            return ssl_err(err, "TLS handshake");
        }
        tc->ready = true;
        {
            const unsigned char *ap;
            unsigned int an;

            SSL_get0_alpn_selected(tc->ssl, &ap, &an);
            if (ap != NULL && an < sizeof(tc->alpn)) {
                memcpy(tc->alpn, ap, an);
                tc->alpn[an] = '\0';
            }
        }
    }
    tc->blocked = false;
    for (;;) {
        size_t room = plain->max - plain->len;
        char *q;

        if (room == 0) {
            tc->blocked =
                SSL_pending(tc->ssl) > 0 || BIO_ctrl_pending(tc->rbio) > 0;
            break;
        }
        q = pier_buf_reserve(plain, room);
        PIER_ASSERT(q != NULL);
        r = SSL_read(tc->ssl, q, (int) pier_buf_avail(plain));
        if (r > 0) {
            pier_buf_commit(plain, (size_t) r);
            continue;
        }
        r = SSL_get_error(tc->ssl, r);
        if (r == SSL_ERROR_WANT_READ) {
            break;
        }
        drain(tc, out);
        if (r == SSL_ERROR_ZERO_RETURN) {
            return pier_err_set(err, "TLS close_notify");
        }
        return ssl_err(err, "TLS read");
    }
    drain(tc, out);
    return PIER_OK;
}

bool
pier_tls_conn_ready(const struct pier_tls_conn *tc)
{
    return tc->ready;
}

bool
pier_tls_conn_pending(const struct pier_tls_conn *tc)
{
    return tc->blocked;
}

int
pier_tls_conn_write(struct pier_tls_conn *tc, const char *p, size_t n,
                    struct pier_buf *out, struct pier_err *err)
{
    PIER_CHECK_OBJ(tc, PIER_TLS_CONN_MAGIC);
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int) n;
        int r = SSL_write(tc->ssl, p, chunk);

        if (r <= 0) {
            return ssl_err(err, "TLS write");
        }
        p += r;
        n -= (size_t) r;
        drain(tc, out);
    }
    return PIER_OK;
}

void
pier_tls_conn_shutdown(struct pier_tls_conn *tc, struct pier_buf *out)
{
    PIER_CHECK_OBJ(tc, PIER_TLS_CONN_MAGIC);
    if (tc->ready) {
        (void) SSL_shutdown(tc->ssl);
        ERR_clear_error();
        drain(tc, out);
    }
}

const char *
pier_tls_conn_sni(const struct pier_tls_conn *tc)
{
    return tc->sni;
}

const char *
pier_tls_conn_alpn(const struct pier_tls_conn *tc)
{
    return tc->alpn;
}
