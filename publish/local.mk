# publish/local.mk - sources, tests and fuzz targets of this part.
libpier_a_SOURCES += publish/ref.c publish/css.c publish/url.c publish/html.c \
	publish/compress.c publish/settings.c publish/tree.c \
	publish/graph.c publish/deploy.c publish/notify.c publish/history.c \
	publish/gc.c
noinst_HEADERS += publish/ref.h publish/css.h publish/url.h publish/html.h \
	publish/compress.h publish/settings.h publish/tree.h \
	publish/graph.h publish/deploy.h publish/notify.h publish/history.h \
	publish/internal.h publish/gc.h
pier_SOURCES += publish/cmd.c publish/gc_cmd.c
libpier_a_SOURCES += publish/report.c
noinst_HEADERS += publish/report.h

PUBLISH_TESTS = tests/publish/test_css tests/publish/test_html \
	tests/publish/test_url tests/publish/test_compress \
	tests/publish/test_tree tests/publish/test_graph \
	tests/publish/test_deploy tests/publish/test_gc
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
tests_publish_test_tree_SOURCES = tests/publish/test_tree.c
tests_publish_test_tree_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_tree_LDADD = $(TEST_LDADD)
tests_publish_test_graph_SOURCES = tests/publish/test_graph.c
tests_publish_test_graph_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_graph_LDADD = $(TEST_LDADD)
tests_publish_test_deploy_SOURCES = tests/publish/test_deploy.c \
	tests/lib/s3_test_origin.c
tests_publish_test_deploy_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_deploy_LDADD = $(TEST_LDADD)

tests_publish_test_gc_SOURCES = tests/publish/test_gc.c
tests_publish_test_gc_CFLAGS = $(TEST_CFLAGS)
tests_publish_test_gc_LDADD = $(TEST_LDADD)

TESTS += tests/publish/test_publish.sh tests/publish/test_gc_store.sh
EXTRA_DIST += tests/publish/test_publish.sh tests/publish/test_gc_store.sh

FUZZ_TARGETS += tests/fuzz/fuzz_css tests/fuzz/fuzz_html
EXTRA_DIST += tests/fuzz/fuzz_css.c tests/fuzz/fuzz_html.c
