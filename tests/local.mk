# tests/local.mk - tests that belong to no one folder.
EXTRA_DIST += tests/integ/lib.sh tests/integ/raw_http.py tests/integ/test_cli.sh tests/check-banned.sh tests/integ/test_objstore_big.sh tests/integ/test_edge_rules.sh
TESTS += tests/check-banned.sh tests/integ/test_cli.sh tests/integ/test_objstore_big.sh tests/integ/test_edge_rules.sh

EXTRA_DIST += tests/README.md
