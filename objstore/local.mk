# objstore/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += objstore/store.c objstore/keys.c objstore/router.c \
	objstore/xml.c objstore/cond.c objstore/server.c
noinst_HEADERS += objstore/store.h objstore/keys.h objstore/router.h \
	objstore/xml.h objstore/cond.h objstore/server.h
pier_SOURCES += objstore/cmd.c

objstore_tests = tests/objstore/test_store tests/objstore/test_keys \
	tests/objstore/test_router tests/objstore/test_xml tests/objstore/test_cond
check_PROGRAMS += $(objstore_tests)
TESTS += $(objstore_tests)
tests_objstore_test_store_SOURCES = tests/objstore/test_store.c
tests_objstore_test_store_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_store_LDADD = $(TEST_LDADD)
tests_objstore_test_keys_SOURCES = tests/objstore/test_keys.c
tests_objstore_test_keys_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_keys_LDADD = $(TEST_LDADD)
tests_objstore_test_router_SOURCES = tests/objstore/test_router.c
tests_objstore_test_router_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_router_LDADD = $(TEST_LDADD)
tests_objstore_test_xml_SOURCES = tests/objstore/test_xml.c
tests_objstore_test_xml_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_xml_LDADD = $(TEST_LDADD)
tests_objstore_test_cond_SOURCES = tests/objstore/test_cond.c
tests_objstore_test_cond_CFLAGS = $(TEST_CFLAGS)
tests_objstore_test_cond_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_objstore_xml
EXTRA_DIST += tests/fuzz/fuzz_objstore_xml.c tests/fuzz/corpus/objstore_xml

objstore_integ = tests/integ/test_objstore.sh \
	tests/integ/test_objstore_clients.sh tests/integ/test_objstore_boto3.py \
	tests/integ/test_objstore_crash.py tests/integ/test_objstore_rclone.sh \
	tests/integ/test_objstore_sdkjs.sh
TESTS += $(objstore_integ)
EXTRA_DIST += $(objstore_integ) tests/node/package.json \
	tests/node/package-lock.json tests/node/sdkjs.mjs
