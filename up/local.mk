# up/local.mk - pier up: the local stack in one command.
libpier_a_SOURCES += up/prepare.c
noinst_HEADERS += up/up.h
pier_SOURCES += up/cmd.c up/status.c

# The demo site, installed for pier demo.
nobase_dist_pkgdata_DATA = examples/demo/404.html \
	examples/demo/_headers \
	examples/demo/_redirects \
	examples/demo/about.html \
	examples/demo/blog/index.html \
	examples/demo/css/base.css \
	examples/demo/css/site.css \
	examples/demo/img/logo.svg \
	examples/demo/img/wave.svg \
	examples/demo/index.html \
	examples/demo/js/app.js \
	examples/demo/robots.txt

TESTS += tests/integ/test_push.sh tests/integ/test_demo.sh
EXTRA_DIST += tests/integ/test_push.sh tests/integ/test_demo.sh
TESTS += tests/integ/test_browser.sh
EXTRA_DIST += tests/integ/test_browser.sh tests/integ/browser_cdp.py
check_PROGRAMS += tests/up/test_up
TESTS += tests/up/test_up
tests_up_test_up_SOURCES = tests/up/test_up.c
tests_up_test_up_CFLAGS = $(TEST_CFLAGS)
tests_up_test_up_LDADD = $(TEST_LDADD)
