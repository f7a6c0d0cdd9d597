#!/usr/bin/env bash
# tests/integ/test_push.sh - the product end to end: pier up, pier site
# create, git push publishes, the edge serves the site on its domain with
# hashed assets, site rules and targeted invalidation, rollback, and the
# store refuses unsigned requests. Real git, real curl, real servers.
source "$(dirname "$0")/lib.sh"

data="$work/data"
export PIER_HOME="$data"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL PIER_CONFIG

start_server up "$PIER" up --data "$data" --store 127.0.0.1:0 \
    --http 127.0.0.1:0 --admin 127.0.0.1:0
http=$(ready_addr up http)
store=$(ready_addr up store)
check "pier.conf written with mode 0600" \
    test "$(stat -c %a "$data/pier.conf")" = 600

"$PIER" site create demo --domain demo.example.com >"$work/create.out"
check "site create names the repository" grep -q "repos/demo.git" "$work/create.out"
check "site list shows it" bash -c '"$PIER" site list | grep -q "^demo .*demo.example.com"'

# The demo site, pushed with git.
src="$work/src"
cp -r "$top_srcdir/examples/demo" "$src"
git -C "$src" init -q -b main
git -C "$src" add -A
git -C "$src" -c user.name=t -c user.email=t@t commit -qm one
git -C "$src" remote add pier "$data/repos/demo.git"
check "git push publishes" bash -c 'git -C "$0" push -q pier main 2>"$1/push1.log"' "$src" "$work"

get() { # get PATH [curl args...]: body to $work/body, headers to $work/hdr
    local path=$1
    shift
    curl -s -o "$work/body" -D "$work/hdr" -H "Host: demo.example.com" "$@" "http://$http$path"
}
status() { awk 'NR==1 {print $2}' "$work/hdr"; }
header() { grep -i "^$1:" "$work/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

get /
check "home page 200" test "$(status)" = 200
check "home page content" grep -q "Published with pier" "$work/body"
check "entry cache policy" test "$(header Cache-Control)" = "public, max-age=0, must-revalidate"
check "_headers applied" test "$(header X-Frame-Options)" = "DENY"
css=$(grep -o 'href="/css/site\.[0-9a-f]*\.css"' "$work/body" | head -1 | cut -d'"' -f2 || true)
check "stylesheet has a hashed name" test -n "$css"
etag=$(header ETag)
get / -H "If-None-Match: $etag"
check "If-None-Match gives 304" test "$(status)" = 304

get "$css"
check "asset 200" test "$(status)" = 200
check "asset immutable" grep -qi "^cache-control: public, max-age=31536000, immutable" "$work/hdr"
get "$css" -H "Accept-Encoding: br"
check "asset in brotli when asked" test "$(header Content-Encoding)" = "br"

get /about
check "pretty URL /about" grep -q "<h1>About</h1>" "$work/body"
get /home
check "_redirects 301" test "$(status)" = 301
get /nope
check "site 404 page with status 404" test "$(status)" = 404
check "site 404 page body" grep -q "Nothing lives here" "$work/body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: unknown.example.com" "http://$http/")
check "unknown host 404" test "$code" = 404

curl -s -o /dev/null -H "Host: demo.localhost" -w '%{http_code}' "http://$http/" >"$work/code"
check "NAME.localhost serves the site" test "$(cat "$work/code")" = 200

# A change is live as soon as the push returns: the edge was told.
sed -i 's/Published with pier/Republished with pier/' "$src/index.html"
git -C "$src" -c user.name=t -c user.email=t@t commit -qam two
check "second push publishes" bash -c 'git -C "$0" push -q pier main 2>"$1/push2.log"' "$src" "$work"
get /
check "new HTML live right after the push" grep -q "Republished with pier" "$work/body"
get "$css"
check "unchanged asset still served" test "$(status)" = 200

# Rollback flips the pointer back; nothing is uploaded.
first=$("$PIER" deploys --site demo | awk 'NR>1 && $1 != "*" {print $1; exit}' || true)
check "deploys lists the first deploy" test -n "$first"
check "rollback succeeds" "$PIER" rollback --site demo
get /
check "old HTML live after rollback" grep -q ">Published with pier" "$work/body"

# pier status reads pier up's ready files and asks the edge.
"$PIER" status >"$work/status"
check "status: objstore running" grep -q "^objstore  running" "$work/status"
check "status: edge serves demo" grep -q "^  demo .*demo.example.com" "$work/status"
check "status: hit ratio" grep -q "hit ratio" "$work/status"
check "purge answers" bash -c '"$PIER" purge --site demo / /about | grep -q "\"dropped\""'
get /
check "served after a purge" test "$(status)" = 200
set +e
"$PIER" purge --site demo 2>"$work/err"; rc=$?
set -e
check "purge without a path is a usage error" test "$rc" = 2

# The store refuses what is not signed.
code=$(curl -s -o "$work/anon" -w '%{http_code}' "http://$store/pier/live/demo")
check "unsigned GET refused with 403" test "$code" = 403
check "refusal is AccessDenied" grep -q "<Code>AccessDenied</Code>" "$work/anon"
finish
