/*
 * hooks/cert.c - check a certificate and key pair; make a self-signed one.
 */
#include "config.h"

#include "hooks/cert.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* OpenSSL's last error, into err after what. */
static int
ssl_fail(struct pier_err *err, const char *what)
{
    char msg[256];
    unsigned long e = ERR_peek_last_error();

    if (e != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
    } else {
        snprintf(msg, sizeof(msg), "no PEM data");
    }
    ERR_clear_error();
    return pier_err_set(err, "%s: %s", what, msg);
}

int
hooks_cert_check(const char *cert, size_t cert_len, const char *key,
                 size_t key_len, struct pier_err *err)
{
    BIO *b = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int rc = PIER_ERR;

    ERR_clear_error();
    b = BIO_new_mem_buf(cert, (int) cert_len);
    if (b == NULL || (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
        ssl_fail(err, "not a PEM certificate");
        goto out;
    }
    BIO_free(b);
    b = BIO_new_mem_buf(key, (int) key_len);
    if (b == NULL
        || (k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
        ssl_fail(err, "not a PEM private key (or it is encrypted)");
        goto out;
    }
    if (X509_check_private_key(x, k) != 1) {
        ERR_clear_error();
        pier_err_set(err, "the key does not match the certificate");
        goto out;
    }
    rc = PIER_OK;
out:
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

/* Append the PEM that write() puts in a memory BIO to out. */
static int
pem_to(struct pier_buf *out, BIO *b, struct pier_err *err)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);

    if (n <= 0 || pier_buf_add(out, p, (size_t) n) != PIER_OK) {
        return pier_err_set(err, "cannot hold the PEM output");
    }
    return PIER_OK;
}

int
hooks_cert_self_signed(const char *const *names, size_t n, unsigned days,
                       struct pier_buf *cert_out, struct pier_buf *key_out,
                       struct pier_err *err)
{
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    X509_NAME *subj;
    X509_EXTENSION *ext = NULL;
    GENERAL_NAMES *sans = NULL;
    BIO *cb = NULL, *kb = NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    size_t i;
    int rc = PIER_ERR;

    PIER_ASSERT(n >= 1);
    ERR_clear_error();
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    x = X509_new();
    sans = GENERAL_NAMES_new();
    if (k == NULL || x == NULL || sans == NULL) {
        ssl_fail(err, "cannot make a key");
        goto out;
    }
    if (RAND_bytes(serial, sizeof(serial)) != 1) {
        ssl_fail(err, "no randomness for the serial");
        goto out;
    }
    serial[0] &= 0x7f; /* a positive serial */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    subj = X509_get_subject_name(x);
    if (bn == NULL || X509_set_version(x, 2) != 1
        || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL
        || X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), (long) days * 86400L) == NULL
        || X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                      (const unsigned char *) names[0], -1, -1,
                                      0)
               != 1
        || X509_set_issuer_name(x, subj) != 1 || X509_set_pubkey(x, k) != 1) {
        ssl_fail(err, "cannot fill the certificate");
        goto out;
    }
    for (i = 0; i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();

        if (g == NULL || s == NULL
            || ASN1_STRING_set(s, names[i], (int) strlen(names[i])) != 1) {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
            ssl_fail(err, "cannot add a name");
            goto out;
        }
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        if (sk_GENERAL_NAME_push(sans, g) == 0) {
            GENERAL_NAME_free(g);
            ssl_fail(err, "cannot add a name");
            goto out;
        }
    }
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1
        || X509_sign(x, k, EVP_sha256()) == 0) {
        ssl_fail(err, "cannot sign the certificate");
        goto out;
    }
    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_mem());
    if (cb == NULL || kb == NULL || PEM_write_bio_X509(cb, x) != 1
        || PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) != 1) {
        ssl_fail(err, "cannot write PEM");
        goto out;
    }
    if (pem_to(cert_out, cb, err) != PIER_OK
        || pem_to(key_out, kb, err) != PIER_OK) {
        goto out;
    }
    rc = PIER_OK;
out:
    BIO_free(cb);
    BIO_free(kb);
    X509_EXTENSION_free(ext);
    GENERAL_NAMES_free(sans);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}
