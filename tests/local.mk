# tests/local.mk - tests that belong to no one folder.
EXTRA_DIST += tests/integ/lib.sh tests/integ/test_cli.sh tests/check-banned.sh tests/integ/test_objstore_big.sh
TESTS += tests/check-banned.sh tests/integ/test_cli.sh tests/integ/test_objstore_big.sh

EXTRA_DIST += tests/README.md
