#!/usr/bin/env bash
# tests/integ/test_edge.sh - pier edge with the real parts around it: a
# pier objstore, keys with grants (the edge's is read-only), a site
# registered with pier site and published from git with pier publish,
# then curl through the edge: routing by Host, MISS then HIT, activation
# by the publisher's delta, coalescing of concurrent misses, the admin
# token, a blob past --fetch-max streamed through and then from the disk
# tier (and cut when its bytes are wrong, in the store or on disk), and
# the store killed under a running edge.
source "$(dirname "$0")/lib.sh"

command -v git >/dev/null || { echo "FAIL: git missing (scripts/install-deps)" >&2; exit 1; }

start_server store "$PIER" objstore --data "$work/store" --listen 127.0.0.1:0
ep="http://$(ready_addr store http)"
admin_id=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$work/store.out" | head -1)
admin_secret=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$work/store.out" | head -1)
keyvar() { sed -n "s/^$1=//p"; }
pub=$("$PIER" keys add pub --grant pier:write --data "$work/store" 2>/dev/null)
edge=$("$PIER" keys add edge --grant pier:read --data "$work/store" 2>/dev/null)
AWS_ACCESS_KEY_ID=$admin_id AWS_SECRET_ACCESS_KEY=$admin_secret \
    /usr/bin/aws --endpoint-url "$ep" --region us-east-1 \
    s3api create-bucket --bucket pier >/dev/null

as_pub() {
    AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$pub") \
    AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$pub") "$@"
}
mkdir -p "$work/data"
as_pub "$PIER" site create blog --domain blog.example.com \
    --domain '*.blog.test' --endpoint "$ep" --data "$work/data" >/dev/null

site=$work/site
mkdir -p "$site"
(
    cd "$site"
    git init -q
    printf '<!doctype html><link rel=stylesheet href="style.css"><h1>Home</h1>\n' >index.html
    printf 'h1{color:red}\n' >style.css
    printf '<!doctype html>about v1\n' >about.html
    head -c 200000 /dev/urandom | base64 >big.txt
    head -c $((20 << 20)) /dev/urandom >large.bin
    git add .
    git -c user.name=t -c user.email=t@t commit -qm one
)
publish() {
    as_pub "$PIER" publish --site blog --repo "$site" --endpoint "$ep" "$@"
}
publish >/dev/null

token=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token" >"$work/token"
AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$edge") \
AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$edge") \
    start_server edge "$PIER" edge --endpoint "$ep" --listen 127.0.0.1:0 \
    --admin 127.0.0.1:0 --admin-token-file "$work/token" --workers 2 \
    --cache-dir "$work/cache" --poll 1s --fetch-max 1M
http=$(ready_addr edge http)
adm=$(ready_addr edge admin)

get() { # get HOST PATH: headers and body into $work/h and $work/b
    curl -s -o "$work/b" -D "$work/h" -H "Host: $1" "http://$http$2"
}
status() { sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$work/h"; }
hdr() { sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$work/h"; }
stat() {
    curl -s -H "Authorization: Bearer $token" "http://$adm/v1/stats" |
        sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

get blog.example.com /
check "domain routes to the site" [ "$(status)" = 200 ]
check "first request is a miss" [ "$(hdr X-Cache)" = MISS ]
check "the page is the published one" grep -q '<h1>Home</h1>' "$work/b"
css=$(grep -o 'style\.[0-9a-f]*\.css' "$work/b")
get blog.localhost /
check "NAME.localhost routes, second request hits" [ "$(hdr X-Cache)" = HIT ]
get www.blog.test /about
check "wildcard domain and pretty URL" [ "$(status)" = 200 ]
check "about v1" grep -q 'about v1' "$work/b"
get blog.localhost "/$css"
check "hashed asset is immutable" \
    grep -q 'max-age=31536000, immutable' <(hdr Cache-Control)
get nosuch.example /
check "unknown host is 404" [ "$(status)" = 404 ]
lacks() { ! grep -qi "$@"; }
check "and names no internal detail" lacks 'blog\|pier' "$work/b"

# 100 concurrent requests for one uncached blob: one origin fetch.
before=$(stat origin_fetches)
urls=()
for i in $(seq 100); do urls+=("http://$http/big.txt"); done
curl -s --no-progress-meter --parallel --parallel-max 100 -H 'Host: blog.localhost' \
    -o /dev/null -w '%{http_code}\n' "${urls[@]}" >"$work/codes"
check "100 concurrent misses all served" \
    [ "$(grep -c '^200$' "$work/codes")" = 100 ]
check "one origin fetch for them" [ $(($(stat origin_fetches) - before)) = 1 ]

# A blob past --fetch-max streams through a spill file: concurrent slow
# clients get it byte for byte from one origin GET, and the edge's peak
# RSS does not grow by the blob's size (it would by 20 MiB per buffer).
# The store is stopped while they arrive, so all of them join one fetch.
epid=$(ready_addr edge pid)
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$epid/status"; }
hwm0=$(hwm)
before=$(stat origin_fetches)
urls=()
for i in $(seq 5); do urls+=(-o "$work/large.$i" "http://$http/large.bin"); done
kill -STOP "${pids[0]}"
curl -s --no-progress-meter --parallel --parallel-immediate --limit-rate 40M \
    -H 'Host: blog.localhost' -w '%{http_code}\n' "${urls[@]}" >"$work/codes" &
curl_pid=$!
sleep 1
kill -CONT "${pids[0]}"
wait "$curl_pid"
check "5 concurrent clients of a large blob all served" \
    [ "$(grep -c '^200$' "$work/codes")" = 5 ]
ok=0
for i in $(seq 5); do cmp -s "$site/large.bin" "$work/large.$i" && ok=$((ok + 1)); done
check "each got the large blob byte for byte" [ "$ok" = 5 ]
fetches=$(($(stat origin_fetches) - before))
check "one origin fetch for the large blob ($fetches)" [ "$fetches" = 1 ]
# The verified file joined the disk tier: the next request streams it
# from there (hashed as it goes), with no origin GET.
large_sha=$(sha256sum "$site/large.bin" | cut -d' ' -f1)
large_file=$work/cache/blobs/${large_sha:0:2}/$large_sha
for _ in $(seq 50); do [ -f "$large_file" ] && break; sleep 0.1; done
check "the streamed blob joined the disk tier" [ -f "$large_file" ]
before=$(stat origin_fetches)
get blog.localhost /large.bin
check "then it is a disk HIT" [ "$(hdr X-Cache)" = HIT ]
check "served whole from disk" cmp -s "$site/large.bin" "$work/b"
check "with no origin fetch" [ "$(stat origin_fetches)" = "$before" ]
# A range of it, known good: read alone at its offset, not the whole
# file (at most one 64 KiB read past it), bytes as in the file.
before=$(stat disk_read_bytes)
curl -s -o "$work/b" -D "$work/h" -H 'Host: blog.localhost' \
    -H 'Range: bytes=12345678-12399999' "http://$http/large.bin"
check "disk range: 206" [ "$(status)" = 206 ]
check "disk range: Content-Range" \
    [ "$(hdr Content-Range)" = "bytes 12345678-12399999/$((20 << 20))" ]
check "disk range: the bytes at that offset" \
    cmp -s "$work/b" <(tail -c +12345679 "$site/large.bin" | head -c 54322)
read_bytes=$(($(stat disk_read_bytes) - before))
check "disk range: read $read_bytes bytes from disk, not the file" \
    [ "$read_bytes" -ge 54322 -a "$read_bytes" -le $((54322 + 65536)) ]
curl -s -o "$work/b" -D "$work/h" -H 'Host: blog.localhost' \
    -H "Range: bytes=-100" "http://$http/large.bin"
check "disk range: a suffix range" cmp -s "$work/b" <(tail -c 100 "$site/large.bin")
hwm1=$(hwm)
echo "edge VmHWM before/after the large blob: $hwm0/$hwm1 kB"
check "edge peak RSS grew by less than the blob (8 MiB bound)" \
    [ $((hwm1 - hwm0)) -lt 8192 ]
rm -f "$work"/large.[0-9] "$work/b"

# A tampered disk file: the hash check fails before the last byte, the
# response is cut (curl: exit 18, partial file) and the file removed.
printf 'tampered' | dd of="$large_file" bs=1 seek=1000000 conv=notrunc 2>/dev/null
rc=0
curl -s -o "$work/b" -H 'Host: blog.localhost' "http://$http/large.bin" || rc=$?
check "tampered disk file: response cut (curl exit $rc)" [ "$rc" = 18 ]
check "tampered disk file: logged" grep -q 'fails verification, removed' "$work/edge.log"
check "tampered disk file: removed" [ ! -f "$large_file" ]

# The store's copy is replaced by other bytes: the hash check fails before
# the last byte, the response is cut, and nothing is cached.
head -c $((20 << 20)) /dev/urandom >"$work/evil.bin"
as_pub /usr/bin/aws --endpoint-url "$ep" --region us-east-1 s3 cp \
    "$work/evil.bin" "s3://pier/blobs/$large_sha" >/dev/null
# Cut (curl: exit 18, partial file) once the headers left, else a 502
# when the whole body failed before this client's first byte.
for i in 1 2; do
    rc=0
    rm -f "$work/b"
    code=$(curl -s -o "$work/b" -w '%{http_code}' -H 'Host: blog.localhost' \
        "http://$http/large.bin") || rc=$?
    check "corrupt blob: response $i is cut or 502 ($code, curl exit $rc)" \
        [ "$rc" = 18 -o "$code" = 502 ]
    got=0
    [ -f "$work/b" ] && got=$(wc -c <"$work/b")
    check "corrupt blob: response $i is not the whole body" \
        [ "$got" -lt $((20 << 20)) ]
done
check "the mismatch is logged" grep -q 'does not match' "$work/edge.log"
sleep 0.3
check "the corrupt blob did not join the disk tier" [ ! -f "$large_file" ]
check "nor stayed in its tmp/" [ -z "$(ls "$work/cache/tmp")" ]
rm -f "$work/evil.bin" "$work/b"

# Activation: the publisher's delta; the changed page is new at once.
printf '<!doctype html>about v2\n' >"$site/about.html"
git -C "$site" -c user.name=t -c user.email=t@t commit -qam two
publish --edge "http://$adm" --edge-token "$token" >"$work/pub.out" 2>&1
check "the edge applied the delta" grep -q 'applied' "$work/pub.out"
get blog.localhost /about.html
check "changed page is new after the admin call" grep -q 'about v2' "$work/b"
get blog.localhost /
check "unchanged page still a HIT" [ "$(hdr X-Cache)" = HIT ]

# A deploy the edge is not told about: the poll of live/ finds it.
printf '<!doctype html>about v3\n' >"$site/about.html"
git -C "$site" -c user.name=t -c user.email=t@t commit -qam three
publish >/dev/null
for _ in $(seq 50); do
    get blog.localhost /about.html
    grep -q 'about v3' "$work/b" && break
    sleep 0.1
done
check "a missed activation is caught by polling" grep -q 'about v3' "$work/b"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://$adm/v1/stats")
check "admin API without token is 401" [ "$code" = 401 ]
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' \
    "http://$adm/v1/sites")
check "admin API with a wrong token is 401" [ "$code" = 401 ]

# The store dies: cached pages still served; a miss fails fast.
kill -TERM "${pids[0]}"
wait "${pids[0]}" || true
unset 'pids[0]'
get blog.localhost /
check "cached page served with the store down" [ "$(status)" = 200 ]
start=$(date +%s)
get blog.localhost "/$css"
check "store down: a cached asset is served" [ "$(status)" = 200 ]
get blog.localhost /big.txt
check "store down: cached big blob served" [ "$(status)" = 200 ]
check "no request hangs" [ $(($(date +%s) - start)) -lt 10 ]

finish
