/*
 * hooks/cert.h - a site's TLS certificate for `pier site cert`: check that
 * a certificate and a key belong together, or make a self-signed pair for
 * local testing. OpenSSL's C API; PEM in and out.
 */
#ifndef HOOKS_CERT_H
#define HOOKS_CERT_H

#include "lib/buf.h"
#include "lib/err.h"

/* PIER_OK when cert (PEM: the leaf first, then any chain) and key (PEM,
 * unencrypted) parse and the key is the certificate's; else PIER_ERR with
 * err saying which. Borrows both. */
int hooks_cert_check(const char *cert, size_t cert_len, const char *key,
                     size_t key_len, struct pier_err *err);

/* Append a fresh P-256 key (PKCS#8 PEM) to key_out and a self-signed
 * certificate for it (PEM), valid from now for days days, to cert_out.
 * Its subject CN is names[0]; every name (wildcards too) is a DNS
 * subjectAltName. n >= 1. */
int hooks_cert_self_signed(const char *const *names, size_t n, unsigned days,
                           struct pier_buf *cert_out, struct pier_buf *key_out,
                           struct pier_err *err);

#endif
