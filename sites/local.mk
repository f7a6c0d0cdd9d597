# sites/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += sites/manifest.c sites/headers.c sites/record.c \
	sites/pattern.c sites/redirects.c
noinst_HEADERS += sites/manifest.h sites/headers.h sites/record.h \
	sites/internal.h sites/redirects.h

check_PROGRAMS += tests/sites/test_manifest tests/sites/test_redirects \
	tests/sites/test_headers tests/sites/test_record
TESTS += tests/sites/test_manifest tests/sites/test_redirects \
	tests/sites/test_headers tests/sites/test_record
tests_sites_test_record_SOURCES = tests/sites/test_record.c
tests_sites_test_record_CFLAGS = $(TEST_CFLAGS)
tests_sites_test_record_LDADD = $(TEST_LDADD)
tests_sites_test_headers_SOURCES = tests/sites/test_headers.c
tests_sites_test_headers_CFLAGS = $(TEST_CFLAGS)
tests_sites_test_headers_LDADD = $(TEST_LDADD)
tests_sites_test_redirects_SOURCES = tests/sites/test_redirects.c
tests_sites_test_redirects_CFLAGS = $(TEST_CFLAGS)
tests_sites_test_redirects_LDADD = $(TEST_LDADD)
tests_sites_test_manifest_SOURCES = tests/sites/test_manifest.c
tests_sites_test_manifest_CFLAGS = $(TEST_CFLAGS)
tests_sites_test_manifest_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_manifest tests/fuzz/fuzz_redirects \
	tests/fuzz/fuzz_headers
EXTRA_DIST += tests/fuzz/fuzz_manifest.c tests/fuzz/fuzz_redirects.c \
	tests/fuzz/fuzz_headers.c
