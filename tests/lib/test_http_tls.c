/*
 * tests/lib/test_http_tls.c - lib/tls.c against an OpenSSL client over
 * memory: SNI picks the certificate, wildcards, replacing and removing a
 * pair at runtime, the default following the names left, ALPN, TLS 1.2+
 * only, application data both ways.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/tls.h"

struct pem {
    char *cert, *key;
    size_t cert_len, key_len;
};

static char *
bio_text(BIO *b, size_t *len)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *copy = pier_malloc((size_t) n + 1);

    memcpy(copy, p, (size_t) n);
    copy[n] = '\0';
    *len = (size_t) n;
    return copy;
}

/* A self-signed P-256 certificate for cn. */
static void
make_cert(const char *cn, struct pem *out)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *b;

    assert_non_null(pk);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    out->cert = bio_text(b, &out->cert_len);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    out->key = bio_text(b, &out->key_len);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void
pem_free(struct pem *p)
{
    pier_free(p->cert);
    pier_free(p->key);
}

static struct pem pa, pb, pb2, pw;

static int
setup(void **state)
{
    (void) state;
    make_cert("a.test", &pa);
    make_cert("b.test", &pb);
    make_cert("b2.test", &pb2);
    make_cert("w.test", &pw);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    pem_free(&pa);
    pem_free(&pb);
    pem_free(&pb2);
    pem_free(&pw);
    return 0;
}

struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
};

static void
client_init(struct client *c, const char *sni, int max_version)
{
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";

    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    if (max_version != 0) {
        SSL_CTX_set_min_proto_version(c->ctx, 0);
        SSL_CTX_set_max_proto_version(c->ctx, max_version);
        SSL_CTX_set_security_level(c->ctx, 0);
    }
    c->ssl = SSL_new(c->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
    if (sni != NULL) {
        SSL_set_tlsext_host_name(c->ssl, sni);
    }
}

static void
client_release(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* Move the client's bytes to the server and back until both sides are
 * done; PIER_ERR when the server refuses. */
static int
handshake(struct client *c, struct pier_tls_conn *tc, struct pier_buf *plain)
{
    struct pier_buf out;
    struct pier_err err;
    char buf[16384];
    int i, rc = PIER_OK;

    pier_buf_init(&out, SIZE_MAX);
    for (i = 0; i < 20; i++) {
        int n, r = SSL_do_handshake(c->ssl);

        if (r == 1 && pier_tls_conn_ready(tc)) {
            break;
        }
        n = BIO_read(c->wbio, buf, sizeof(buf));
        if (n > 0) {
            rc = pier_tls_conn_feed(tc, buf, (size_t) n, plain, &out, &err);
            if (rc != PIER_OK) {
                break;
            }
        }
        if (out.len > 0) {
            BIO_write(c->rbio, out.data, (int) out.len);
            pier_buf_reset(&out);
        }
    }
    ERR_clear_error();
    pier_buf_release(&out);
    return rc;
}

/* The CN of the certificate the client got. */
static void
peer_cn(struct client *c, char *cn, size_t n)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);

    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                              (int) n);
    X509_free(x);
}

/* Handshake with sni; return the CN served. */
static void
served(struct pier_tls *tls, const char *sni, char *cn, size_t n)
{
    struct pier_tls_conn *tc;
    struct pier_err err;
    struct pier_buf plain;
    struct client c;

    tc = pier_tls_conn_new(tls, &err);
    assert_non_null(tc);
    pier_buf_init(&plain, 65536);
    client_init(&c, sni, 0);
    assert_int_equal(handshake(&c, tc, &plain), PIER_OK);
    assert_true(pier_tls_conn_ready(tc));
    peer_cn(&c, cn, n);
    client_release(&c);
    pier_buf_release(&plain);
    pier_tls_conn_free(tc);
}

/* Handshake with sni: the server refuses it with a fatal alert record in
 * what it sends back (not a silent close), and err says why. */
static void
refused(struct pier_tls *tls, const char *sni)
{
    struct pier_tls_conn *tc;
    struct pier_err err;
    struct pier_buf plain, out;
    struct client c;
    char buf[16384];
    int n;

    tc = pier_tls_conn_new(tls, &err);
    assert_non_null(tc);
    pier_buf_init(&plain, 65536);
    pier_buf_init(&out, SIZE_MAX);
    client_init(&c, sni, 0);
    assert_int_equal(SSL_do_handshake(c.ssl), -1);
    n = BIO_read(c.wbio, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(pier_tls_conn_feed(tc, buf, (size_t) n, &plain, &out, &err),
                     PIER_ERR);
    assert_true(err.msg[0] != '\0');
    assert_false(pier_tls_conn_ready(tc));
    assert_true(out.len >= 7);
    assert_int_equal((unsigned char) out.data[0], 21); /* alert */
    assert_int_equal((unsigned char) out.data[5], 2);  /* fatal */
    /* The client reads it as a failed handshake. */
    BIO_write(c.rbio, out.data, (int) out.len);
    assert_int_equal(SSL_do_handshake(c.ssl), -1);
    ERR_clear_error();
    client_release(&c);
    pier_buf_release(&out);
    pier_buf_release(&plain);
    pier_tls_conn_free(tc);
}

static struct pier_tls *
tls_ab(void)
{
    struct pier_err err;
    struct pier_tls *tls = pier_tls_new(&err);

    assert_non_null(tls);
    assert_int_equal(pier_tls_set_cert(tls, "a.test", pa.cert, pa.cert_len,
                                       pa.key, pa.key_len, &err),
                     PIER_OK);
    assert_int_equal(pier_tls_set_cert(tls, "b.test", pb.cert, pb.cert_len,
                                       pb.key, pb.key_len, &err),
                     PIER_OK);
    return tls;
}

static void
test_http_tls_sni_picks_cert(void **state)
{
    struct pier_tls *tls = tls_ab();
    char cn[64];

    (void) state;
    served(tls, "b.test", cn, sizeof(cn));
    assert_string_equal(cn, "b.test");
    served(tls, "A.TEST", cn, sizeof(cn));
    assert_string_equal(cn, "a.test");
    /* No SNI, or an unknown name: the first pair is the default. */
    served(tls, NULL, cn, sizeof(cn));
    assert_string_equal(cn, "a.test");
    served(tls, "other.test", cn, sizeof(cn));
    assert_string_equal(cn, "a.test");
    pier_tls_free(tls);
}

static void
test_http_tls_wildcard(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_err err;
    char cn[64];

    (void) state;
    assert_int_equal(pier_tls_set_cert(tls, "*.w.test", pw.cert, pw.cert_len,
                                       pw.key, pw.key_len, &err),
                     PIER_OK);
    served(tls, "x.w.test", cn, sizeof(cn));
    assert_string_equal(cn, "w.test");
    served(tls, "y.x.w.test", cn, sizeof(cn)); /* one label only */
    assert_string_equal(cn, "a.test");
    pier_tls_free(tls);
}

/* The edge swaps a site's certificate while it serves. */
static void
test_http_tls_replace_at_runtime(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_tls_conn *held;
    struct pier_err err;
    struct pier_buf plain;
    struct client c;
    char cn[64];

    (void) state;
    /* A connection in the middle of its handshake keeps its pair. */
    held = pier_tls_conn_new(tls, &err);
    pier_buf_init(&plain, 65536);
    client_init(&c, "b.test", 0);
    assert_int_equal(pier_tls_set_cert(tls, "b.test", pb2.cert, pb2.cert_len,
                                       pb2.key, pb2.key_len, &err),
                     PIER_OK);
    served(tls, "b.test", cn, sizeof(cn));
    assert_string_equal(cn, "b2.test");
    assert_int_equal(handshake(&c, held, &plain), PIER_OK);
    assert_int_equal(pier_tls_remove_cert(tls, "b.test"), PIER_OK);
    assert_int_equal(pier_tls_remove_cert(tls, "b.test"), PIER_ERR);
    served(tls, "b.test", cn, sizeof(cn));
    assert_string_equal(cn, "a.test");
    /* Replacing the name whose pair is the default replaces the default. */
    assert_int_equal(pier_tls_set_cert(tls, "a.test", pw.cert, pw.cert_len,
                                       pw.key, pw.key_len, &err),
                     PIER_OK);
    served(tls, NULL, cn, sizeof(cn));
    assert_string_equal(cn, "w.test");
    client_release(&c);
    pier_buf_release(&plain);
    pier_tls_conn_free(held);
    pier_tls_free(tls);
}

/* The default (no SNI, or an unknown name) is never the pair of a name
 * that was removed: it moves on to the oldest name left, and with none
 * left the handshake fails cleanly. A default set for NULL stays until it
 * is removed with NULL. */
static void
test_http_tls_default_follows_names(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_err err;
    char cn[64];

    (void) state;
    assert_int_equal(pier_tls_remove_cert(tls, "a.test"), PIER_OK);
    served(tls, NULL, cn, sizeof(cn));
    assert_string_equal(cn, "b.test");
    served(tls, "other.test", cn, sizeof(cn));
    assert_string_equal(cn, "b.test");
    /* Re-added: now the newest, so b stays the default. */
    assert_int_equal(pier_tls_set_cert(tls, "a.test", pa.cert, pa.cert_len,
                                       pa.key, pa.key_len, &err),
                     PIER_OK);
    served(tls, "other.test", cn, sizeof(cn));
    assert_string_equal(cn, "b.test");
    assert_int_equal(pier_tls_remove_cert(tls, "b.test"), PIER_OK);
    assert_int_equal(pier_tls_remove_cert(tls, "a.test"), PIER_OK);
    refused(tls, NULL);
    refused(tls, "a.test");
    refused(tls, "other.test");
    /* An explicit default outlives the names, until removed itself. */
    assert_int_equal(pier_tls_remove_cert(tls, NULL), PIER_ERR);
    assert_int_equal(
        pier_tls_set_cert(tls, NULL, pw.cert, pw.cert_len, pw.key, pw.key_len,
                          &err),
        PIER_OK);
    assert_int_equal(pier_tls_set_cert(tls, "a.test", pa.cert, pa.cert_len,
                                       pa.key, pa.key_len, &err),
                     PIER_OK);
    assert_int_equal(pier_tls_remove_cert(tls, "a.test"), PIER_OK);
    served(tls, "other.test", cn, sizeof(cn));
    assert_string_equal(cn, "w.test");
    assert_int_equal(pier_tls_remove_cert(tls, NULL), PIER_OK);
    refused(tls, "other.test");
    pier_tls_free(tls);
}

static void
test_http_tls_rejects_bad_pairs(void **state)
{
    struct pier_err err;
    struct pier_tls *tls = pier_tls_new(&err);

    (void) state;
    assert_int_equal(pier_tls_set_cert(tls, "a.test", pa.cert, pa.cert_len,
                                       pb.key, pb.key_len, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "certificate for 'a.test'"));
    assert_int_equal(
        pier_tls_set_cert(tls, "a.test", "junk", 4, pa.key, pa.key_len, &err),
        PIER_ERR);
    assert_int_equal(pier_tls_set_cert_files(tls, NULL, "/nonexistent/c.pem",
                                             "/nonexistent/k.pem", &err),
                     PIER_ERR);
    pier_tls_free(tls);
}

static void
test_http_tls_alpn_and_data(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_tls_conn *tc;
    struct pier_err err;
    struct pier_buf plain, out;
    struct client c;
    const unsigned char *proto;
    unsigned int plen;
    char buf[4096];
    int n;

    (void) state;
    tc = pier_tls_conn_new(tls, &err);
    pier_buf_init(&plain, 65536);
    pier_buf_init(&out, SIZE_MAX);
    client_init(&c, "b.test", 0);
    assert_int_equal(handshake(&c, tc, &plain), PIER_OK);
    assert_string_equal(pier_tls_conn_alpn(tc), "http/1.1");
    assert_string_equal(pier_tls_conn_sni(tc), "b.test");
    SSL_get0_alpn_selected(c.ssl, &proto, &plen);
    assert_int_equal(plen, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    assert_int_equal(SSL_version(c.ssl), TLS1_3_VERSION);
    /* client to server */
    assert_int_equal(SSL_write(c.ssl, "GET / HTTP/1.1\r\n", 16), 16);
    n = BIO_read(c.wbio, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(
        pier_tls_conn_feed(tc, buf, (size_t) n, &plain, &out, &err), PIER_OK);
    assert_string_equal(plain.data, "GET / HTTP/1.1\r\n");
    /* server to client */
    assert_int_equal(
        pier_tls_conn_write(tc, "HTTP/1.1 200 OK\r\n", 17, &out, &err),
        PIER_OK);
    BIO_write(c.rbio, out.data, (int) out.len);
    n = SSL_read(c.ssl, buf, sizeof(buf));
    assert_int_equal(n, 17);
    assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
    client_release(&c);
    pier_buf_release(&plain);
    pier_buf_release(&out);
    pier_tls_conn_free(tc);
    pier_tls_free(tls);
}

/* A full plaintext buffer leaves the rest inside, for the next call. */
static void
test_http_tls_backpressure(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_tls_conn *tc;
    struct pier_err err;
    struct pier_buf plain, out;
    struct client c;
    char big[3000], buf[8192];
    int n;

    (void) state;
    tc = pier_tls_conn_new(tls, &err);
    pier_buf_init(&plain, 1000);
    pier_buf_init(&out, SIZE_MAX);
    client_init(&c, "a.test", 0);
    assert_int_equal(handshake(&c, tc, &plain), PIER_OK);
    memset(big, 'x', sizeof(big));
    assert_int_equal(SSL_write(c.ssl, big, sizeof(big)), sizeof(big));
    n = BIO_read(c.wbio, buf, sizeof(buf));
    assert_int_equal(
        pier_tls_conn_feed(tc, buf, (size_t) n, &plain, &out, &err), PIER_OK);
    assert_int_equal(plain.len, 1000);
    assert_true(pier_tls_conn_pending(tc));
    pier_buf_reset(&plain);
    assert_int_equal(pier_tls_conn_feed(tc, NULL, 0, &plain, &out, &err),
                     PIER_OK);
    pier_buf_reset(&plain);
    assert_int_equal(pier_tls_conn_feed(tc, NULL, 0, &plain, &out, &err),
                     PIER_OK);
    assert_int_equal(plain.len, 1000);
    assert_false(pier_tls_conn_pending(tc));
    client_release(&c);
    pier_buf_release(&plain);
    pier_buf_release(&out);
    pier_tls_conn_free(tc);
    pier_tls_free(tls);
}

static void
test_http_tls_refuses_tls11(void **state)
{
    struct pier_tls *tls = tls_ab();
    struct pier_tls_conn *tc;
    struct pier_err err;
    struct pier_buf plain;
    struct client c;

    (void) state;
    tc = pier_tls_conn_new(tls, &err);
    pier_buf_init(&plain, 65536);
    client_init(&c, "a.test", TLS1_1_VERSION);
    assert_int_equal(handshake(&c, tc, &plain), PIER_ERR);
    assert_false(pier_tls_conn_ready(tc));
    client_release(&c);
    pier_buf_release(&plain);
    pier_tls_conn_free(tc);
    pier_tls_free(tls);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_tls_sni_picks_cert),
        cmocka_unit_test(test_http_tls_wildcard),
        cmocka_unit_test(test_http_tls_replace_at_runtime),
        cmocka_unit_test(test_http_tls_default_follows_names),
        cmocka_unit_test(test_http_tls_rejects_bad_pairs),
        cmocka_unit_test(test_http_tls_alpn_and_data),
        cmocka_unit_test(test_http_tls_backpressure),
        cmocka_unit_test(test_http_tls_refuses_tls11),
    };
    return cmocka_run_group_tests_name("lib/tls", tests, setup, teardown);
}
