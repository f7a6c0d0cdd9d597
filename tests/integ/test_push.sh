#!/usr/bin/env bash
# tests/integ/test_push.sh - the product end to end: pier up, pier site
# create, git push publishes, the edge serves the site on its domain with
# hashed assets, site rules and targeted invalidation (an unchanged page
# stays a cache HIT across a deploy), a broken push is refused and changes
# nothing, rollback, two sites routed by Host, pier site domain add|rm
# (also concurrently), pier site cert (a checked pair and --self-signed,
# served over TLS), pier site rm, the hook's settings in git config, and
# the store refuses unsigned requests. Real git, real curl, real servers.
source "$(dirname "$0")/lib.sh"

start_up
check "pier.conf written with mode 0600" \
    test "$(stat -c %a "$data/pier.conf")" = 600

"$PIER" site create demo --domain demo.example.com >"$work/create.out"
check "site create names the repository" grep -q "repos/demo.git" "$work/create.out"
check "site list shows it" bash -c '"$PIER" site list | grep -q "^demo .*demo.example.com"'
check "hook settings in git config: site" \
    test "$(git --git-dir="$data/repos/demo.git" config --get pier.site)" = demo
check "hook settings in git config: pier.conf" \
    test "$(git --git-dir="$data/repos/demo.git" config --get pier.config)" = "$data/pier.conf"
check "hook script holds no setting" bash -c '! grep -q "demo" "$0/repos/demo.git/hooks/pre-receive"' "$data"

# The demo site, pushed with git.
src="$work/src"
cp -r "$top_srcdir/examples/site" "$src"
git_site "$src" one
git -C "$src" remote add pier "$data/repos/demo.git"
check "git push publishes" bash -c 'git -C "$0" push -q pier main 2>"$1/push1.log"' "$src" "$work"
live=$(git --git-dir="$data/repos/demo.git" rev-parse --short=7 main)
check "push output: the deploy id" grep -Eq "^remote: demo: deploy [0-9T]+Z-$live-[0-9a-f]+ is live" "$work/push1.log"
check "push output: the bytes sent" grep -Eq "^remote: demo: .* [1-9][0-9]* bytes sent" "$work/push1.log"
check "push output: the changed pages" grep -q "^remote: demo:   /index.html" "$work/push1.log"
check "push output: the domain's URL" grep -q "^remote: demo: http://demo.example.com/" "$work/push1.log"
check "push output: the local edge's URL" grep -q "^remote: demo: http://demo.localhost:${http##*:}/" "$work/push1.log"

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
css=$(grep -o 'href="/css/site\.[0-9a-f]\{10\}\.css"' "$work/body" | head -1 | cut -d'"' -f2 || true)
check "stylesheet has a 10-digit hashed name" test -n "$css"
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

# /about is cached; the next deploy leaves it alone.
get /about
get /about
check "unchanged page a HIT before the push" test "$(header X-Cache)" = HIT
# A change is live as soon as the push returns: the edge was told.
sed -i 's/Published with pier/Republished with pier/' "$src/index.html"
git -C "$src" -c user.name=t -c user.email=t@t commit -qam two
check "second push publishes" bash -c 'git -C "$0" push -q pier main 2>"$1/push2.log"' "$src" "$work"
get /
check "new HTML live right after the push" grep -q "Republished with pier" "$work/body"
get "$css"
check "unchanged asset still served" test "$(status)" = 200
get /about
check "unchanged page still a HIT after the push" test "$(header X-Cache)" = HIT
check "unchanged page body" grep -q "<h1>About</h1>" "$work/body"

# A broken _redirects refuses the push; the branch and the live site stay.
live_before=$("$PIER" site show demo | awk '/^live deploy:/ {print $3}')
head_before=$(git --git-dir="$data/repos/demo.git" rev-parse main)
printf '/old /new 999\n' >>"$src/_redirects"
sed -i 's/Republished with pier/Broken with pier/' "$src/index.html"
git -C "$src" -c user.name=t -c user.email=t@t commit -qam broken
check "push with a broken _redirects refused" \
    bash -c '! git -C "$0" push -q pier main 2>"$1/push3.log"' "$src" "$work"
check "the pusher sees why" grep -q "_redirects" "$work/push3.log"
check "branch unchanged after the refused push" \
    test "$(git --git-dir="$data/repos/demo.git" rev-parse main)" = "$head_before"
check "live deploy unchanged after the refused push" \
    test "$("$PIER" site show demo | awk '/^live deploy:/ {print $3}')" = "$live_before"
get /
check "live site unchanged after the refused push" grep -q "Republished with pier" "$work/body"
git -C "$src" reset -q --hard HEAD~1

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

# A second site, its repository out of DATA/repos, on its own domain.
"$PIER" site create blog --domain blog.example.com --repo-dir "$work/repos2" >"$work/create2.out"
check "--repo-dir places the repository" test -f "$work/repos2/blog.git/hooks/pre-receive"
blog="$work/blog"
mkdir -p "$blog"
echo '<!doctype html><title>Blog</title><h1>The blog</h1>' >"$blog/index.html"
git_site "$blog" one
check "push to the second site" bash -c 'git -C "$0" push -q "$1/repos2/blog.git" main 2>"$1/push4.log"' "$blog" "$work"
code=$(curl -s -o "$work/b1" -w '%{http_code}' -H "Host: blog.example.com" "http://$http/")
check "Host blog.example.com routes to blog" bash -c '[ "$0" = 200 ] && grep -q "The blog" "$1/b1"' "$code" "$work"
curl -s -o "$work/b2" -H "Host: demo.example.com" "http://$http/"
check "Host demo.example.com still routes to demo" grep -q "with pier" "$work/b2"
check "blog is not served on demo's domain" bash -c '! grep -q "The blog" "$0/b2"' "$work"

# Domains added and removed; the edge follows the record.
check "domain add" "$PIER" site domain add demo www.demo.test
check "new domain served" poll_code www.demo.test / 200
set +e
"$PIER" site domain add demo www.demo.test 2>"$work/err"; rc=$?
set -e
check "adding a domain twice fails" bash -c '[ "$0" != 0 ] && grep -q "listed twice" "$1/err"' "$rc" "$work"
set +e
"$PIER" site domain add demo 'bad_domain!' 2>"$work/err"; rc=$?
set -e
check "an invalid domain is refused" test "$rc" != 0
# Two edits at once: If-Match makes the loser retry, so neither is lost.
"$PIER" site domain add demo a.demo.test >"$work/c1" 2>&1 &
c1=$!
"$PIER" site domain add demo b.demo.test >"$work/c2" 2>&1 &
c2=$!
check "concurrent edit 1 succeeds" wait "$c1"
check "concurrent edit 2 succeeds" wait "$c2"
"$PIER" site show demo >"$work/show"
check "both concurrent edits kept" bash -c 'grep -q "a.demo.test" "$0" && grep -q "b.demo.test" "$0"' "$work/show"
check "domain rm" "$PIER" site domain rm demo www.demo.test
check "removed domain no longer served" poll_code www.demo.test / 404
check "the other domains still served" poll_code b.demo.test / 200

# Certificates: a pair made by openssl, checked, then served by SNI.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=demo.example.com -addext "subjectAltName=DNS:demo.example.com,DNS:demo.localhost" \
    -keyout "$work/k1.pem" -out "$work/c1.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=other -keyout "$work/k2.pem" -out "$work/c2.pem" 2>/dev/null
set +e
"$PIER" site cert demo --cert "$work/c1.pem" --key "$work/k2.pem" 2>"$work/err"; rc=$?
set -e
check "a key of another certificate is refused" \
    bash -c '[ "$0" != 0 ] && grep -q "does not match" "$1/err"' "$rc" "$work"
check "cert stores a matching pair" "$PIER" site cert demo --cert "$work/c1.pem" --key "$work/k1.pem"
hport=${https##*:}
tls_get() { # tls_get HOST [curl args]: status of https://HOST/ at the edge
    local h=$1
    shift
    curl -s -o "$work/tbody" -w '%{http_code}' --resolve "$h:$hport:127.0.0.1" "$@" "https://$h:$hport/"
}
export -f tls_get
export work hport
check "HTTPS with the stored certificate, verified" \
    test "$(tls_get demo.example.com --cacert "$work/c1.pem")" = 200
check "HTTPS body" grep -q "with pier" "$work/tbody"
check "self-signed certificate made and stored" "$PIER" site cert demo --self-signed
check "self-signed: the old CA no longer verifies" \
    bash -c '[ "$(tls_get demo.localhost --cacert "$0/c1.pem")" != 200 ]' "$work"
check "self-signed: served for NAME.localhost" test "$(tls_get demo.localhost -k)" = 200
echo | openssl s_client -connect "127.0.0.1:$hport" -servername a.demo.test 2>/dev/null \
    | openssl x509 -noout -text >"$work/x509" 2>/dev/null || true
check "self-signed: names every domain" grep -q "DNS:a.demo.test" "$work/x509"

# pier site rm: refused without --yes off a terminal, then removed.
set +e
"$PIER" site rm blog </dev/null 2>"$work/err"; rc=$?
set -e
check "rm without --yes refused off a terminal" \
    bash -c '[ "$0" != 0 ] && grep -q -- "--yes" "$1/err"' "$rc" "$work"
check "rm --yes" "$PIER" site rm blog --yes
check "removed site no longer served" poll_code blog.example.com / 404
check "removed site not listed" bash -c '! "$PIER" site list | grep -q "^blog "'
check "demo still served" poll_code demo.example.com / 200

# The store refuses what is not signed.
code=$(curl -s -o "$work/anon" -w '%{http_code}' "http://$store/pier/live/demo")
check "unsigned GET refused with 403" test "$code" = 403
check "refusal is AccessDenied" grep -q "<Code>AccessDenied</Code>" "$work/anon"
finish
