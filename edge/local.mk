# edge/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += edge/path.c edge/encoding.c edge/range.c \
	edge/verify.c edge/cache.c edge/fetch.c edge/hazard.c \
	edge/hosts.c edge/server.c edge/serve.c
pier_SOURCES += edge/cmd.c
noinst_HEADERS += edge/path.h edge/encoding.h edge/range.h \
	edge/verify.h edge/cache.h edge/fetch.h edge/hazard.h \
	edge/hosts.h edge/server.h edge/internal.h

EDGE_TESTS = tests/edge/test_path tests/edge/test_encoding \
	tests/edge/test_range tests/edge/test_verify tests/edge/test_cache \
	tests/edge/test_fetch tests/edge/test_hazard tests/edge/test_hosts \
	tests/edge/test_server
check_PROGRAMS += $(EDGE_TESTS)
TESTS += $(EDGE_TESTS)
tests_edge_test_path_SOURCES = tests/edge/test_path.c
tests_edge_test_path_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_path_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_edge_path
EXTRA_DIST += tests/fuzz/fuzz_edge_path.c
tests_edge_test_encoding_SOURCES = tests/edge/test_encoding.c
tests_edge_test_encoding_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_encoding_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_edge_encoding
EXTRA_DIST += tests/fuzz/fuzz_edge_encoding.c
tests_edge_test_range_SOURCES = tests/edge/test_range.c
tests_edge_test_range_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_range_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_edge_range
EXTRA_DIST += tests/fuzz/fuzz_edge_range.c
tests_edge_test_verify_SOURCES = tests/edge/test_verify.c
tests_edge_test_verify_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_verify_LDADD = $(TEST_LDADD)
tests_edge_test_cache_SOURCES = tests/edge/test_cache.c
tests_edge_test_cache_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_cache_LDADD = $(TEST_LDADD)
tests_edge_test_fetch_SOURCES = tests/edge/test_fetch.c
tests_edge_test_fetch_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_fetch_LDADD = $(TEST_LDADD)
tests_edge_test_hazard_SOURCES = tests/edge/test_hazard.c
tests_edge_test_hazard_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_hazard_LDADD = $(TEST_LDADD)
tests_edge_test_hosts_SOURCES = tests/edge/test_hosts.c
tests_edge_test_hosts_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_hosts_LDADD = $(TEST_LDADD)
tests_edge_test_server_SOURCES = tests/edge/test_server.c \
	tests/lib/s3_test_origin.c
tests_edge_test_server_CFLAGS = $(TEST_CFLAGS)
tests_edge_test_server_LDADD = $(TEST_LDADD)

TESTS += tests/integ/test_edge.sh
EXTRA_DIST += tests/integ/test_edge.sh
