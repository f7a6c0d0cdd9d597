# up/local.mk - pier up: the local stack in one command.
libpier_a_SOURCES += up/prepare.c
noinst_HEADERS += up/up.h
pier_SOURCES += up/cmd.c up/status.c

# The demo site, installed for pier demo.
nobase_dist_pkgdata_DATA = examples/site/404.html \
	examples/site/_headers \
	examples/site/_redirects \
	examples/site/about.html \
	examples/site/blog/index.html \
	examples/site/css/base.css \
	examples/site/css/site.css \
	examples/site/fonts/LICENSE.txt \
	examples/site/fonts/dejavu-sans-latin.woff2 \
	examples/site/img/logo.svg \
	examples/site/img/wave.svg \
	examples/site/index.html \
	examples/site/js/app.js \
	examples/site/robots.txt

TESTS += tests/integ/test_push.sh tests/integ/test_push_ssh.sh tests/integ/test_demo.sh tests/integ/test_up_crash.sh
EXTRA_DIST += tests/integ/test_push.sh tests/integ/test_push_ssh.sh tests/integ/test_demo.sh tests/integ/test_up_crash.sh
TESTS += tests/integ/test_browser.sh
EXTRA_DIST += tests/integ/test_browser.sh tests/integ/browser_cdp.py
check_PROGRAMS += tests/up/test_up
TESTS += tests/up/test_up
tests_up_test_up_SOURCES = tests/up/test_up.c
tests_up_test_up_CFLAGS = $(TEST_CFLAGS)
tests_up_test_up_LDADD = $(TEST_LDADD)
