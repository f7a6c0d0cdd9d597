# objstore/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += objstore/store.c
noinst_HEADERS += objstore/store.h

check_PROGRAMS += tests/objstore/test_store
TESTS += tests/objstore/test_store
tests_objstore_test_store_SOURCES = tests/objstore/test_store.c
tests_objstore_test_store_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_store_LDADD = $(TEST_LDADD)
