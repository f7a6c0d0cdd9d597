# sites/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += sites/manifest.c sites/headers.c sites/record.c
noinst_HEADERS += sites/manifest.h sites/headers.h sites/record.h

check_PROGRAMS += tests/sites/test_manifest
TESTS += tests/sites/test_manifest
tests_sites_test_manifest_SOURCES = tests/sites/test_manifest.c
tests_sites_test_manifest_CFLAGS = $(TEST_CFLAGS)
tests_sites_test_manifest_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_manifest
EXTRA_DIST += tests/fuzz/fuzz_manifest.c
