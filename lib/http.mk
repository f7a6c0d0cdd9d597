# lib/http.mk - the HTTP/1.1 server core, chunked decoding, TLS, access log.
noinst_HEADERS += lib/http.h lib/chunked.h lib/tls.h lib/accesslog.h
libpier_a_SOURCES += lib/http.c lib/http_conn.c lib/chunked.c lib/tls.c \
	lib/accesslog.c
noinst_HEADERS += lib/http_internal.h

check_PROGRAMS += tests/lib/test_chunked tests/lib/test_http \
	tests/lib/test_http_tls tests/lib/test_http_accesslog \
	tests/lib/http_test_server
TESTS += tests/lib/test_chunked tests/lib/test_http tests/lib/test_http_tls \
	tests/lib/test_http_accesslog tests/integ/test_http.sh
EXTRA_DIST += tests/integ/test_http.sh bench/http-core.sh bench/README.md
tests_lib_test_chunked_SOURCES = tests/lib/test_chunked.c
tests_lib_test_chunked_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_chunked_LDADD = $(TEST_LDADD)
tests_lib_test_http_SOURCES = tests/lib/test_http.c
tests_lib_test_http_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_http_LDADD = $(TEST_LDADD)
tests_lib_test_http_tls_SOURCES = tests/lib/test_http_tls.c
tests_lib_test_http_tls_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_http_tls_LDADD = $(TEST_LDADD)
tests_lib_test_http_accesslog_SOURCES = tests/lib/test_http_accesslog.c
tests_lib_test_http_accesslog_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_http_accesslog_LDADD = $(TEST_LDADD)
tests_lib_http_test_server_SOURCES = tests/lib/http_test_server.c
tests_lib_http_test_server_CFLAGS = $(AM_CFLAGS)
tests_lib_http_test_server_LDADD = libpier.a $(DEP_LIBS)

FUZZ_TARGETS += tests/fuzz/fuzz_http
EXTRA_DIST += tests/fuzz/fuzz_http.c
