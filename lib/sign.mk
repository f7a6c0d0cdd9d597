# lib/sign.mk - sources, tests and fuzz targets of this part: digests and
# encodings (lib/sha), AWS SigV4 and SigV2 signing and verification, and
# the aws-chunked body decoder.
libpier_a_SOURCES += lib/sha.c lib/sigv4.c lib/sigv2.c lib/awschunk.c
noinst_HEADERS += lib/sha.h lib/sigv4.h lib/sigv2.h lib/awschunk.h

check_PROGRAMS += tests/lib/test_sha tests/lib/test_sigv4 \
	tests/lib/test_sigv2 tests/lib/test_awschunk
TESTS += tests/lib/test_sha tests/lib/test_sigv4 tests/lib/test_sigv2 \
	tests/lib/test_awschunk
tests_lib_test_sha_SOURCES = tests/lib/test_sha.c
tests_lib_test_sha_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_sha_LDADD = $(TEST_LDADD)
tests_lib_test_sigv4_SOURCES = tests/lib/test_sigv4.c tests/lib/sigtest.c \
	tests/lib/sigtest.h
tests_lib_test_sigv4_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_sigv4_LDADD = $(TEST_LDADD)
tests_lib_test_sigv2_SOURCES = tests/lib/test_sigv2.c tests/lib/sigtest.c \
	tests/lib/sigtest.h
tests_lib_test_sigv2_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_sigv2_LDADD = $(TEST_LDADD)
tests_lib_test_awschunk_SOURCES = tests/lib/test_awschunk.c \
	tests/lib/sigtest.c tests/lib/sigtest.h
tests_lib_test_awschunk_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_awschunk_LDADD = $(TEST_LDADD)

# The vectors, with their README and licences (tests read only this tree).
EXTRA_DIST += tests/data/README.md tests/data/sigv4 tests/data/sigv4-s3 \
	tests/data/sigv2-s3

# Fuzz targets (make fuzz, make fuzz-run); seeds in tests/fuzz/corpus/.
FUZZ_TARGETS += tests/fuzz/fuzz_sigv4 tests/fuzz/fuzz_awschunk
EXTRA_DIST += tests/fuzz/fuzz_sigv4.c tests/fuzz/fuzz_awschunk.c \
	tests/fuzz/make_awschunk_seeds.py \
	tests/fuzz/corpus/sigv4 tests/fuzz/corpus/awschunk

# Requests signed by botocore, verified by lib (tests/lib/sign_check).
check_PROGRAMS += tests/lib/sign_check
tests_lib_sign_check_SOURCES = tests/lib/sign_check.c
tests_lib_sign_check_CFLAGS = $(TEST_CFLAGS)
tests_lib_sign_check_LDADD = $(TEST_LDADD)
TESTS += tests/integ/test_sign_botocore.py
EXTRA_DIST += tests/integ/test_sign_botocore.py
