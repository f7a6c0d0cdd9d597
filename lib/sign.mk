# lib/sign.mk - sources, tests and fuzz targets of this part: digests and
# encodings (lib/sha), AWS SigV4 and SigV2 signing and verification, and
# the aws-chunked body decoder.
libpier_a_SOURCES += lib/sha.c lib/sigv4.c
noinst_HEADERS += lib/sha.h lib/sigv4.h

check_PROGRAMS += tests/lib/test_sha tests/lib/test_sigv4
TESTS += tests/lib/test_sha tests/lib/test_sigv4
tests_lib_test_sha_SOURCES = tests/lib/test_sha.c
tests_lib_test_sha_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_sha_LDADD = $(TEST_LDADD)
tests_lib_test_sigv4_SOURCES = tests/lib/test_sigv4.c tests/lib/sigtest.c \
	tests/lib/sigtest.h
tests_lib_test_sigv4_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_sigv4_LDADD = $(TEST_LDADD)

# The vectors, with their README and licences (tests read only this tree).
EXTRA_DIST += tests/data/README.md tests/data/sigv4 tests/data/sigv4-s3 \
	tests/data/sigv2-s3
