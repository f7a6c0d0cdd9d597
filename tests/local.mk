# tests/local.mk - tests that belong to no one folder.
EXTRA_DIST += tests/integ/lib.sh tests/integ/test_cli.sh tests/check-banned.sh
TESTS += tests/check-banned.sh tests/integ/test_cli.sh

# The demo site that pier demo publishes.
EXTRA_DIST += $(shell cd $(top_srcdir) && find examples -type f)
EXTRA_DIST += tests/README.md
