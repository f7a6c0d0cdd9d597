#!/usr/bin/env bash
# tests/integ/test_browser.sh - the demo site in a real browser: pier up on
# free ports, the demo site published with git push, a self-signed
# certificate for it, and headless Chromium (Debian's) driven over the
# DevTools protocol by browser_cdp.py, over HTTP and over TLS, at
# demo.localhost (which Chromium resolves to loopback by itself); the
# certificate is trusted through Chromium's SPKI flag.
# Skipped (77) when /usr/bin/chromium or python3-websocket is missing:
# scripts/install-deps installs both.
source "$(dirname "$0")/lib.sh"

if [ ! -x /usr/bin/chromium ] || ! /usr/bin/python3 -c "import websocket" 2>/dev/null; then
    # A missing client is an install bug, never a skip.
    echo "FAIL: needs /usr/bin/chromium and python3-websocket (scripts/install-deps)" >&2
    exit 1
fi

start_up

"$PIER" site create demo >/dev/null
check "self-signed certificate for demo" "$PIER" site cert demo --self-signed
src="$work/src"
cp -r "$top_srcdir/examples/site" "$src"
git_site "$src" demo
check "git push publishes the demo" \
    bash -c 'git -C "$0" push -q "$1/repos/demo.git" main 2>"$2/push.log"' "$src" "$data" "$work"

# Chromium trusts the site's self-signed key by its SPKI hash.
echo | openssl s_client -connect "$https" -servername demo.localhost 2>/dev/null \
    | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64 >"$work/spki"
check "the edge serves the site's certificate by SNI" test -s "$work/spki"
mkdir -p "$work/profile"
check "headless Chromium over HTTP and TLS" \
    /usr/bin/python3 "$top_srcdir/tests/integ/browser_cdp.py" /usr/bin/chromium \
    "$work/profile" "http://demo.localhost:${http##*:}/" \
    "https://demo.localhost:${https##*:}/" --spki "$(cat "$work/spki")"
finish
