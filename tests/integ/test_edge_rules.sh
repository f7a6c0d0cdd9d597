#!/usr/bin/env bash
# tests/integ/test_edge_rules.sh - every serving rule of the edge, through
# curl and raw sockets, on sites published by pier publish into the store
# that pier up runs: two sites with two certificates chosen by SNI
# (openssl s_client and curl --resolve), a wildcard domain, HTTP to HTTPS
# and HSTS per site, _redirects (301/302, placeholders, splats, 200
# rewrites, shadowing and '!' force), pretty URLs and the directory
# redirect, the site's 404 page, _headers, methods, HEAD, Accept-Encoding
# negotiation by q-value (br, zstd, gzip, identity), ETag and 304, Range
# (206, 416), path normalisation and its refusals, and the foundation's
# smuggling and limit cases arriving at the edge.
source "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
start_up
hport=${https##*:}

"$PIER" site create shop --domain shop.test --domain '*.shop.test' \
    --redirect-https --hsts 300 >/dev/null
"$PIER" site create docs --domain docs.test >/dev/null

# Two certificates, one per site, made here and stored with pier site cert.
for s in shop docs; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$s.test" -addext "subjectAltName=DNS:$s.test,DNS:*.$s.test" \
        -keyout "$work/$s.key" -out "$work/$s.pem" 2>/dev/null
    "$PIER" site cert "$s" --cert "$work/$s.pem" --key "$work/$s.key" >/dev/null
done

# The docs site: every rule has something to bite on.
src="$work/docs"
mkdir -p "$src/guide" "$src/assets"
cat >"$src/index.html" <<'EOF'
<!doctype html><title>Docs</title><h1>Docs home</h1>
EOF
echo '<!doctype html><h1>About docs</h1>' >"$src/about.html"
echo '<!doctype html><h1>Forced file</h1>' >"$src/forced.html"
echo '<!doctype html><h1>The guide</h1>' >"$src/guide/index.html"
echo '<!doctype html><h1>Post page</h1>' >"$src/post.html"
echo '<!doctype html><h1>No such page here</h1>' >"$src/404.html"
# A text file big enough to compress, with the same lines over and over.
for i in $(seq 400); do echo "line $i of the big text file, compressible"; done >"$src/assets/big.txt"
cat >"$src/_redirects" <<'EOF'
# FROM                TO                      STATUS
/old                  /about                  301
/blog/:year/:slug     /posts/:year/:slug      302
/news/*               /about                  200
/about.html           /index.html             301
/forced               /index.html             301!
/forced.html          /index.html             301!
/gone/*               /post.html              404
EOF
cat >"$src/_headers" <<'EOF'
/assets/*
  X-Asset: yes
/*
  X-Frame-Options: DENY
EOF
git_site "$src" one
check "publish docs" bash -c '"$0" publish --site docs --repo "$1" >"$2/pub-docs.out" 2>&1' "$PIER" "$src" "$work"

shop="$work/shop"
mkdir -p "$shop"
echo '<!doctype html><h1>The shop</h1>' >"$shop/index.html"
git_site "$shop" one
check "publish shop" bash -c '"$0" publish --site shop --repo "$1" >"$2/pub-shop.out" 2>&1' "$PIER" "$shop" "$work"

get() { # get HOST PATH [curl args]: body to $work/b, headers to $work/h
    local host=$1 path=$2
    shift 2
    curl -s -o "$work/b" -D "$work/h" -H "Host: $host" "$@" "http://$http$path"
}
status() { sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$work/h"; }
hdr() { sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$work/h" | head -1; }
has() { grep -q "$1" "$work/b"; }

check "docs served" poll_code docs.test / 200

# ---- TLS: two sites, two certificates, chosen by SNI ----
tls() { # tls HOST PATH CA: status over HTTPS, verified against CA
    curl -s -o "$work/tb" -D "$work/th" -w '%{http_code}' \
        --resolve "$1:$hport:127.0.0.1" --cacert "$3" "https://$1:$hport$2"
}
subject() {
    echo | openssl s_client -connect "127.0.0.1:$hport" -servername "$1" 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null
}
ok_tls=0
for _ in $(seq 100); do
    [ "$(tls docs.test / "$work/docs.pem")" = 200 ] && [ "$(tls shop.test / "$work/shop.pem")" = 200 ] &&
        { ok_tls=1; break; }
    sleep 0.1
done
check "HTTPS docs.test verified with docs' certificate" test "$ok_tls" = 1
check "HTTPS shop.test verified with shop's certificate" test "$(tls shop.test / "$work/shop.pem")" = 200
check "... and the body is shop's" grep -q "The shop" "$work/tb"
check "docs.test is not verified by shop's certificate" \
    bash -c '[ "$(tls docs.test / "$0/shop.pem")" != 200 ]' "$work"
export -f tls
export hport
check "s_client: SNI docs.test gets CN docs.test" grep -q "CN *= *docs.test" <(subject docs.test)
check "s_client: SNI shop.test gets CN shop.test" grep -q "CN *= *shop.test" <(subject shop.test)
check "wildcard a.shop.test over HTTPS" test "$(tls a.shop.test / "$work/shop.pem")" = 200
check "HSTS on shop's HTTPS answers" grep -qi "^strict-transport-security: max-age=300" "$work/th"
tls docs.test / "$work/docs.pem" >/dev/null
check "no HSTS for docs" bash -c '! grep -qi "^strict-transport-security" "$0/th"' "$work"

get shop.test "/x?y=1"
check "shop over HTTP redirects to HTTPS" bash -c '[ "$0" = 301 ] || [ "$0" = 308 ]' "$(status)"
check "... to the TLS listener, keeping the path and query" \
    test "$(hdr Location)" = "https://shop.test:$hport/x?y=1"
get docs.test /
check "docs over HTTP is served" test "$(status)" = 200

# ---- _redirects, pretty URLs, 404 ----
get docs.test /old
check "301 rule" test "$(status)" = 301
check "... to its target" test "$(hdr Location)" = /about
get docs.test /blog/2024/hello
check "placeholders: 302" test "$(status)" = 302
check "... filled in" test "$(hdr Location)" = /posts/2024/hello
get docs.test /news/a/b/c
check "200 rewrite serves the target" bash -c '[ "$0" = 200 ] && grep -q "About docs" "$1/b"' "$(status)" "$work"
get docs.test /about.html
check "a rule without ! is shadowed by a file" bash -c '[ "$0" = 200 ] && grep -q "About docs" "$1/b"' "$(status)" "$work"
get docs.test /forced.html
check "a forced rule wins over the file" test "$(status)" = 301
get docs.test /gone/x
check "404 rule serves its target with 404" bash -c '[ "$0" = 404 ] && grep -q "Post page" "$1/b"' "$(status)" "$work"
get docs.test /about
check "pretty URL /about" bash -c '[ "$0" = 200 ] && grep -q "About docs" "$1/b"' "$(status)" "$work"
get docs.test /guide
check "a directory without its slash: 301" test "$(status)" = 301
check "... to the slash" test "$(hdr Location)" = /guide/
get docs.test /guide/
check "directory index" grep -q "The guide" "$work/b"
get docs.test /nothing/here
check "missing path: the site's 404 page with 404" \
    bash -c '[ "$0" = 404 ] && grep -q "No such page here" "$1/b"' "$(status)" "$work"
check "entries revalidate" test "$(hdr Cache-Control)" = "public, max-age=0, must-revalidate"
check "nosniff everywhere" test "$(hdr X-Content-Type-Options)" = nosniff

# ---- _headers ----
get docs.test /assets/big.txt
check "_headers: path rule" test "$(hdr X-Asset)" = yes
check "_headers: catch-all rule" test "$(hdr X-Frame-Options)" = DENY
get docs.test /
check "_headers: path rule not applied elsewhere" test -z "$(hdr X-Asset)"

# ---- methods and HEAD ----
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x -H "Host: docs.test" "http://$http/")
check "POST is 405" test "$code" = 405
code=$(curl -s -o /dev/null -D "$work/h" -w '%{http_code}' -X DELETE -H "Host: docs.test" "http://$http/")
check "DELETE is 405" test "$code" = 405
check "405 says what is allowed" grep -qi "^allow: .*GET" "$work/h"
get docs.test /assets/big.txt
glen=$(hdr Content-Length)
getag=$(hdr ETag)
curl -s -I -o /dev/null -D "$work/h" -H "Host: docs.test" "http://$http/assets/big.txt"
check "HEAD: the same length as GET" test "$(hdr Content-Length)" = "$glen"
check "HEAD: the same ETag as GET" test "$(hdr ETag)" = "$getag"
check "HEAD: no body" test "$(curl -s -I -o /dev/null -w '%{size_download}' -H 'Host: docs.test' "http://$http/assets/big.txt")" = 0

# ---- Accept-Encoding ----
size=$(stat -c %s "$src/assets/big.txt")
enc() { # enc ACCEPT-ENCODING: the Content-Encoding chosen ("" = identity)
    get docs.test /assets/big.txt -H "Accept-Encoding: $1"
    hdr Content-Encoding
}
check "br preferred at equal q" test "$(enc 'gzip, zstd, br')" = br
check "zstd next" test "$(enc 'gzip, zstd')" = zstd
check "gzip" test "$(enc 'gzip')" = gzip
check "q-values outrank the preference" test "$(enc 'br;q=0.5, gzip;q=1')" = gzip
check "q=0 refuses a coding" test "$(enc 'br;q=0, gzip')" = gzip
check "identity" test -z "$(enc 'identity')"
check "no Accept-Encoding: identity" test -z "$(enc '')"
check "Vary: Accept-Encoding" test "$(hdr Vary)" = Accept-Encoding
get docs.test /assets/big.txt -H "Accept-Encoding: gzip"
etag_gz=$(hdr ETag)
check "gzip body decodes to the file" bash -c '"$0" -c "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1],\"rb\").read()))" "$1/b" | cmp -s - "$2"' \
    "$py" "$work" "$src/assets/big.txt"
check "each encoding has its own ETag" test "$etag_gz" != "$getag"
get docs.test /assets/big.txt --compressed -H "Accept-Encoding: br"
check "br body decodes to the file (curl)" cmp -s "$work/b" "$src/assets/big.txt"
get docs.test /assets/big.txt -H "If-None-Match: $etag_gz" -H "Accept-Encoding: gzip"
check "If-None-Match: 304" test "$(status)" = 304

# ---- Range ----
# Ranges apply to the identity variant (RFC 9110 14.2: a server may ignore
# Range); a client that takes br gets the whole br body, as from nginx.
get docs.test /assets/big.txt -H "Range: bytes=0-99"
check "Range: 206" test "$(status)" = 206
check "Range: Content-Range" test "$(hdr Content-Range)" = "bytes 0-99/$size"
check "Range: the identity bytes" bash -c 'cmp -s "$0/b" <(head -c 100 "$1")' "$work" "$src/assets/big.txt"
check "Range: Accept-Ranges on identity" test "$(hdr Accept-Ranges)" = bytes
get docs.test /assets/big.txt -H "Range: bytes=0-99" -H "Accept-Encoding: br"
check "Range with br accepted: the whole br body, 200" \
    bash -c '[ "$0" = 200 ] && [ "$1" = br ]' "$(status)" "$(hdr Content-Encoding)"
get docs.test /assets/big.txt -H "Range: bytes=0-99" -H "If-Range: \"other\""
check "If-Range naming another representation: 200 whole" \
    bash -c '[ "$0" = 200 ] && cmp -s "$1/b" "$2"' "$(status)" "$work" "$src/assets/big.txt"
get docs.test /assets/big.txt -H "Range: bytes=-10"
check "suffix Range" bash -c 'cmp -s "$0/b" <(tail -c 10 "$1")' "$work" "$src/assets/big.txt"
get docs.test /assets/big.txt -H "Range: bytes=$size-"
check "unsatisfiable Range: 416" test "$(status)" = 416
check "... with Content-Range */size" test "$(hdr Content-Range)" = "bytes */$size"

# ---- path normalisation ----
get docs.test "/guide/../about"
check "dot segments resolved" grep -q "About docs" "$work/b"
get docs.test "//guide///"
check "duplicate slashes merged" grep -q "The guide" "$work/b"
get docs.test "/%61bout"
check "percent-decoding" grep -q "About docs" "$work/b"
code_of() { curl -s -o /dev/null -w '%{http_code}' --path-as-is -H "Host: docs.test" "http://$http$1"; }
check "encoded NUL refused with 400" test "$(code_of /a%00b)" = 400
check "encoded slash refused with 400" test "$(code_of /a%2f..%2f..%2fetc)" = 400
check "encoded backslash refused with 400" test "$(code_of /a%5c..)" = 400
check "climbing above the root refused with 400" test "$(code_of /../../etc/passwd)" = 400
check "an over-long path refused with 400" test "$(code_of "/$(head -c 2000 /dev/zero | tr '\0' a)")" = 400

# ---- the foundation's smuggling and limit cases, at the edge ----
rejected() { # stdin is a request that must get $1 and a closed connection
    local out
    out=$(raw "$http" 5)
    grep -q "^HTTP/1.1 $1 " <<<"$out" && grep -q '^\[closed\]$' <<<"$out" &&
        [ "$(grep -c '^HTTP/1.1 ' <<<"$out")" = 1 ]
}
smuggle=(
    'GET / HTTP/1.1\r\nHost: docs.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nContent-Length: 5, 6\r\n\r\nhello'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nX-A: 1\r\n folded\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nContent-Length : 5\r\n\r\nhello'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nX-A: a\0b\r\n\r\n'
    'GET / HTTP/1.1\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: docs.test\r\nHost: shop.test\r\n\r\n'
)
for s in "${smuggle[@]}"; do
    check "400 and close at the edge: $s" rejected 400 < <(printf "$s")
done
# A body on a GET is never read as the next request: one answer, then the
# connection closes.
once() {
    local out
    out=$(raw "$http" 5)
    [ "$(grep -c '^HTTP/1.1 ' <<<"$out")" = 1 ] && grep -q '^\[closed\]$' <<<"$out"
}
check "a malformed chunked body on a GET is not a second request" once \
    < <(printf 'GET / HTTP/1.1\r\nHost: docs.test\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\nGET /about HTTP/1.1\r\nHost: docs.test\r\n\r\n')
check "431 at the edge: headers too large" rejected 431 \
    < <(printf 'GET / HTTP/1.1\r\nHost: docs.test\r\nX-A: %070000d\r\n\r\n' 0)
pipe_out=$(printf 'GET / HTTP/1.1\r\nHost: docs.test\r\n\r\nGET /about HTTP/1.1\r\nHost: docs.test\r\nConnection: close\r\n\r\n' |
    raw "$http" 5)
check "pipelined requests at the edge: two answers in order" \
    bash -c '[ "$(grep -c "^HTTP/1.1 200" <<<"$0")" = 2 ] && grep -q "Docs home" <<<"$0" && grep -q "^\[closed\]$" <<<"$0"' "$pipe_out"

finish
