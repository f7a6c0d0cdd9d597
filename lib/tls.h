/*
 * lib/tls.h - TLS for the HTTP core: OpenSSL 3 over memory BIOs, a
 * certificate per host name chosen through SNI.
 *
 * A struct pier_tls is the server side of TLS for one or more listeners:
 * TLS 1.2 and 1.3 only, ALPN "http/1.1", and a table from host names to
 * certificate + key pairs. Certificates can be added, replaced and removed
 * at any time from any thread (the edge loads a site's certificate when
 * the site appears): lookups take a read lock, changes a write lock, and a
 * connection keeps the pair it started with even if it is replaced.
 *
 * A struct pier_tls_conn is one connection's TLS state. It never touches a
 * socket: the core feeds it what it reads and sends what it produces
 * (memory BIOs), so it runs on whatever transport the core has. A
 * connection belongs to one worker thread.
 */
#ifndef PIER_TLS_H
#define PIER_TLS_H

#include "lib/buf.h"
#include "lib/core.h"
#include "lib/err.h"

struct pier_tls;      /* opaque */
struct pier_tls_conn; /* opaque */

/* A new TLS context with no certificate. NULL with err set on failure.
 * The caller owns it and frees it with pier_tls_free() (NULL is fine)
 * after every connection using it is gone. */
struct pier_tls *pier_tls_new(struct pier_err *err);
void pier_tls_free(struct pier_tls *tls);

/*
 * Add or replace the certificate chain and key for host name ("example.com",
 * "*.example.com" for one label of wildcard, or NULL for the default, used
 * when the client sends no SNI or a name with no certificate). Until a
 * default is set with NULL, the default follows the table: it is the pair
 * of the oldest name still in it (the first added while it stays), and
 * with no name left there is none: such a handshake fails with an
 * unrecognized_name alert. PEM text, borrowed.
 * Checks that the key matches the certificate. Any thread.
 */
int pier_tls_set_cert(struct pier_tls *tls, const char *name,
                      const char *cert_pem, size_t cert_len,
                      const char *key_pem, size_t key_len,
                      struct pier_err *err);
/* The same, reading PEM files. */
int pier_tls_set_cert_files(struct pier_tls *tls, const char *name,
                            const char *cert_path, const char *key_path,
                            struct pier_err *err);
/* Forget name's pair (if it was the default, the default moves on to the
 * next oldest name's), or with NULL the default set for NULL (the default
 * follows the table again); PIER_ERR if there was none. Any thread. */
int pier_tls_remove_cert(struct pier_tls *tls, const char *name);

/* One connection's TLS state. The caller owns it and frees it with
 * pier_tls_conn_free() (NULL is fine). */
struct pier_tls_conn *pier_tls_conn_new(struct pier_tls *tls,
                                        struct pier_err *err);
void pier_tls_conn_free(struct pier_tls_conn *tc);

/*
 * Feed n bytes read from the socket, then decrypt what can be into
 * plain (up to its maximum). Appends handshake records and alerts to be
 * sent to out. PIER_OK when plaintext may have been added (or the
 * handshake progressed), PIER_ERR with err set on a TLS failure (send
 * out, then close). Bytes that do not fit into plain stay inside and come
 * out on the next call (with n == 0).
 */
int pier_tls_conn_feed(struct pier_tls_conn *tc, const char *p, size_t n,
                       struct pier_buf *plain, struct pier_buf *out,
                       struct pier_err *err);
/* True once the handshake finished. */
bool pier_tls_conn_ready(const struct pier_tls_conn *tc);
/* True when ciphertext fed earlier is still waiting because plain was
 * full. */
bool pier_tls_conn_pending(const struct pier_tls_conn *tc);
/* Encrypt n bytes into out. PIER_ERR with err on failure. */
int pier_tls_conn_write(struct pier_tls_conn *tc, const char *p, size_t n,
                        struct pier_buf *out, struct pier_err *err);
/* Append a close_notify alert to out. */
void pier_tls_conn_shutdown(struct pier_tls_conn *tc, struct pier_buf *out);
/* The server name the client asked for; "" if none. Valid as long as tc. */
const char *pier_tls_conn_sni(const struct pier_tls_conn *tc);
/* The negotiated ALPN protocol ("http/1.1"); "" if none. */
const char *pier_tls_conn_alpn(const struct pier_tls_conn *tc);

#endif
