#!/usr/bin/env bash
# tests/integ/test_cli.sh - the pier command's conventions: --help, --version,
# exit 2 with a one-line reason on a bad command or option.
source "$(dirname "$0")/lib.sh"

out=$("$PIER" --help)
check "--help names the program" grep -q "usage: pier" <<<"$out"
check "--version prints the version" bash -c '"$PIER" --version | grep -Eq "^pier [0-9]+\.[0-9]+"'
check "help exits 0" "$PIER" help
set +e
"$PIER" no-such-command 2>"$work/err"; rc=$?
set -e
check "unknown command exits 2" test "$rc" = 2
check "unknown command names it" grep -q "unknown command 'no-such-command'" "$work/err"
set +e
"$PIER" --bogus 2>"$work/err"; rc=$?
"$PIER" >/dev/null 2>&1; rc2=$?
set -e
check "unknown option exits 2" test "$rc" = 2
check "no command exits 2" test "$rc2" = 2
finish
