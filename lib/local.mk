# lib/local.mk - lib/'s base: core, errors, buffers, logging, CLI helpers.
libpier_a_SOURCES += lib/core.c lib/err.c lib/buf.c lib/log.c lib/cli.c lib/conf.c \
	lib/par.c
noinst_HEADERS += lib/core.h lib/err.h lib/buf.h lib/log.h lib/cli.h lib/conf.h \
	lib/par.h

check_PROGRAMS += tests/lib/test_buf tests/lib/test_err tests/lib/test_conf \
	tests/lib/test_par
TESTS += tests/lib/test_buf tests/lib/test_err tests/lib/test_conf \
	tests/lib/test_par
tests_lib_test_buf_SOURCES = tests/lib/test_buf.c
tests_lib_test_buf_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_buf_LDADD = $(TEST_LDADD)
tests_lib_test_err_SOURCES = tests/lib/test_err.c
tests_lib_test_err_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_err_LDADD = $(TEST_LDADD)
tests_lib_test_conf_SOURCES = tests/lib/test_conf.c
tests_lib_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_conf_LDADD = $(TEST_LDADD)
tests_lib_test_par_SOURCES = tests/lib/test_par.c
tests_lib_test_par_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_par_LDADD = $(TEST_LDADD)

# The client commands' configuration (needs lib/s3client.h).
libpier_a_SOURCES += lib/clientconf.c
noinst_HEADERS += lib/clientconf.h
check_PROGRAMS += tests/lib/test_clientconf
TESTS += tests/lib/test_clientconf
tests_lib_test_clientconf_SOURCES = tests/lib/test_clientconf.c
tests_lib_test_clientconf_CFLAGS = $(TEST_CFLAGS)
tests_lib_test_clientconf_LDADD = $(TEST_LDADD)
