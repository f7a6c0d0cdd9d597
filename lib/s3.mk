# lib/s3.mk - the S3 client (libcurl multi on libuv, signed with lib's
# SigV4) and its test against a loopback S3 test origin.
libpier_a_SOURCES += lib/s3client.c lib/s3client_xml.c
noinst_HEADERS += lib/s3client.h tests/lib/s3_test_origin.h

check_PROGRAMS += tests/lib/test_s3client
TESTS += tests/lib/test_s3client
tests_lib_test_s3client_SOURCES = tests/lib/test_s3client.c \
	tests/lib/s3_test_origin.c
tests_lib_test_s3client_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_s3client_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_s3xml
EXTRA_DIST += tests/fuzz/fuzz_s3xml.c tests/fuzz/corpus/s3xml

# Against an independent S3 (moto), when the machine has it.
check_PROGRAMS += tests/lib/s3client_probe
tests_lib_s3client_probe_SOURCES = tests/lib/s3client_probe.c
tests_lib_s3client_probe_CFLAGS = $(TEST_CFLAGS)
tests_lib_s3client_probe_LDADD = $(TEST_LDADD)
TESTS += tests/integ/test_s3client_moto.sh
EXTRA_DIST += tests/integ/test_s3client_moto.sh tests/integ/s3_moto.py
