/*
 * tests/hooks/test_cert.c - hooks/cert.c: a self-signed pair is valid,
 * names its domains, and a key from another pair or garbage is refused.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hooks/cert.h"

static void
test_cert_self_signed_matches(void **state)
{
    const char *names[] = {"demo.example.com", "*.demo.example.com",
                           "demo.localhost"};
    struct pier_buf cert, key;
    struct pier_err err;
    BIO *b;
    X509 *x;

    (void) state;
    pier_buf_init(&cert, 1 << 20);
    pier_buf_init(&key, 1 << 20);
    assert_int_equal(hooks_cert_self_signed(names, 3, 30, &cert, &key, &err),
                     PIER_OK);
    assert_non_null(strstr(cert.data, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(key.data, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(
        hooks_cert_check(cert.data, cert.len, key.data, key.len, &err),
        PIER_OK);
    b = BIO_new_mem_buf(cert.data, (int) cert.len);
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    assert_int_equal(X509_check_host(x, "demo.example.com", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "a.demo.example.com", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "demo.localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "other.example.com", 0, 0, NULL), 0);
    X509_free(x);
    BIO_free(b);
    pier_buf_release(&cert);
    pier_buf_release(&key);
}

static void
test_cert_refuses_mismatch_and_garbage(void **state)
{
    const char *names[] = {"a.example.com"};
    struct pier_buf c1, k1, c2, k2;
    struct pier_err err;

    (void) state;
    pier_buf_init(&c1, 1 << 20);
    pier_buf_init(&k1, 1 << 20);
    pier_buf_init(&c2, 1 << 20);
    pier_buf_init(&k2, 1 << 20);
    assert_int_equal(hooks_cert_self_signed(names, 1, 30, &c1, &k1, &err),
                     PIER_OK);
    assert_int_equal(hooks_cert_self_signed(names, 1, 30, &c2, &k2, &err),
                     PIER_OK);
    assert_int_equal(hooks_cert_check(c1.data, c1.len, k2.data, k2.len, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "does not match"));
    assert_int_equal(hooks_cert_check("junk", 4, k1.data, k1.len, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "not a PEM certificate"));
    assert_int_equal(hooks_cert_check(c1.data, c1.len, "junk", 4, &err),
                     PIER_ERR);
    assert_non_null(strstr(err.msg, "not a PEM private key"));
    pier_buf_release(&c1);
    pier_buf_release(&k1);
    pier_buf_release(&c2);
    pier_buf_release(&k2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_self_signed_matches),
        cmocka_unit_test(test_cert_refuses_mismatch_and_garbage),
    };

    return cmocka_run_group_tests_name("hooks/cert", tests, NULL, NULL);
}
