# publish/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += publish/ref.c publish/css.c publish/url.c publish/html.c \
	publish/compress.c
noinst_HEADERS += publish/ref.h publish/css.h publish/url.h publish/html.h \
	publish/compress.h

PUBLISH_TESTS = tests/publish/test_css tests/publish/test_html \
	tests/publish/test_url tests/publish/test_compress
check_PROGRAMS += $(PUBLISH_TESTS)
TESTS += $(PUBLISH_TESTS)
tests_publish_test_css_SOURCES = tests/publish/test_css.c
tests_publish_test_css_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_css_LDADD = $(TEST_LDADD)
tests_publish_test_html_SOURCES = tests/publish/test_html.c
tests_publish_test_html_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_html_LDADD = $(TEST_LDADD)
tests_publish_test_url_SOURCES = tests/publish/test_url.c
tests_publish_test_url_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_url_LDADD = $(TEST_LDADD)
tests_publish_test_compress_SOURCES = tests/publish/test_compress.c
tests_publish_test_compress_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_compress_LDADD = $(TEST_LDADD)

FUZZ_TARGETS += tests/fuzz/fuzz_css tests/fuzz/fuzz_html
EXTRA_DIST += tests/fuzz/fuzz_css.c tests/fuzz/fuzz_html.c
