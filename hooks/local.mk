# hooks/local.mk - the site's bare repository and its pre-receive hook.
libpier_a_SOURCES += hooks/repo.c hooks/cert.c
noinst_HEADERS += hooks/repo.h hooks/cert.h

check_PROGRAMS += tests/hooks/test_repo
TESTS += tests/hooks/test_repo
tests_hooks_test_repo_SOURCES = tests/hooks/test_repo.c
tests_hooks_test_repo_CFLAGS = $(TEST_CFLAGS)
tests_hooks_test_repo_LDADD = $(TEST_LDADD)

# pier site: the registry record and the site's repository.
pier_SOURCES += hooks/site.c

check_PROGRAMS += tests/hooks/test_cert
TESTS += tests/hooks/test_cert
tests_hooks_test_cert_SOURCES = tests/hooks/test_cert.c
tests_hooks_test_cert_CFLAGS = $(TEST_CFLAGS)
tests_hooks_test_cert_LDADD = $(TEST_LDADD)
