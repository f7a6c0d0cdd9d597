# edge/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += edge/path.c
noinst_HEADERS += edge/path.h

EDGE_TESTS = tests/edge/test_path
check_PROGRAMS += $(EDGE_TESTS)
TESTS += $(EDGE_TESTS)
tests_edge_test_path_SOURCES = tests/edge/test_path.c
tests_edge_test_path_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_path_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_edge_path
EXTRA_DIST += tests/fuzz/fuzz_edge_path.c
