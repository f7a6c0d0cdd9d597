#!/usr/bin/env bash
# tests/integ/test_http.sh - lib/'s HTTP core through tests/lib/http_test_server:
# curl for GET, HEAD, echo (Content-Length and chunked), 100-continue,
# keep-alive, sendfile, IPv6, TLS with SNI and ALPN; raw sockets for
# pipelining, every limit, slowloris and every request smuggling case;
# SIGHUP reopening the access log; SIGTERM finishing in-flight requests.
source "$(dirname "$0")/lib.sh"

server="${top_builddir:-.}/tests/lib/http_test_server"
py=/usr/bin/python3

# Two self-signed certificates, chosen by SNI.
for n in a b; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=$n.test" -addext "subjectAltName=DNS:$n.test" -days 2 \
        -keyout "$work/$n.key" -out "$work/$n.pem" 2>/dev/null
done
head -c 200000 /dev/urandom >"$work/file"
head -c 3000000 /dev/urandom >"$work/big"

start_server main "$server" --workers 2 --ipv6 \
    --tls-cert "$work/a.pem" --tls-key "$work/a.key" \
    --sni "b.test=$work/b.pem,$work/b.key" --file "$work/file" \
    --access-log "$work/access.log" --max-header-bytes 4096 --max-headers 20 \
    --max-body 4M --header-timeout-ms 3000 --keepalive-timeout-ms 2000 \
    --io-timeout-ms 3000 --whole-max 8M
addr=$(ready_addr main http)
addr6=$(ready_addr main http6)
tls=$(ready_addr main https)
tport=${tls##*:}
url="http://$addr"

# rejected STATUS: stdin is a request that must get STATUS and a close.
rejected() {
    local out
    out=$(raw "$addr" 5)
    grep -q "^HTTP/1.1 $1 " <<<"$out" && grep -q '^\[closed\]$' <<<"$out" &&
        [ "$(grep -c '^HTTP/1.1 ' <<<"$out")" = 1 ]
}

# ---- curl ------------------------------------------------------------------
check "GET 200 with 4 KiB" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code} %{size_download}' $url/hello)\" = '200 4096' ]"
check "HEAD has length, no body" bash -c "curl -sI $url/hello | grep -q '^Content-Length: 4096' && [ \"\$(curl -s -I -o /dev/null -w '%{size_download}' $url/hello)\" = 0 ]"
check "404" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/nope)\" = 404 ]"
check "echo with Content-Length" bash -c "curl -s --data-binary @$work/big $url/echo | cmp -s - $work/big"
check "echo chunked" bash -c "curl -s -H 'Transfer-Encoding: chunked' --data-binary @$work/big $url/echo | cmp -s - $work/big"
check "whole body" bash -c "curl -s --data-binary @$work/file $url/whole | cmp -s - $work/file"
check "100-continue" bash -c "curl -sv -H 'Expect: 100-continue' --data-binary @$work/file $url/echo 2>&1 >/dev/null | grep -q '100 Continue'"
check "keep-alive reuse" bash -c "curl -sv $url/hello $url/hello -o /dev/null -o /dev/null 2>&1 | grep -q 'Re-using existing connection'"
check "sendfile" bash -c "curl -s $url/file | cmp -s - $work/file"
check "sendfile HEAD: length, no body" bash -c "curl -sI $url/file | grep -q '^Content-Length: 200000' && [ \"\$(curl -s -I -o /dev/null -w '%{size_download}' $url/file)\" = 0 ]"
check "sendfile answered from a timer" bash -c "curl -s '$url/slow?ms=1&file=1' | cmp -s - $work/file"
check "streamed chunked response" bash -c "[ \"\$(curl -s '$url/stream?n=3')\" = \"\$(printf 'piece 0\npiece 1\npiece 2')\" ]"
check "IPv6" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$addr6/hello)\" = 200 ]"

# ---- TLS --------------------------------------------------------------------
tcurl() { curl -s --resolve "a.test:$tport:127.0.0.1" --resolve "b.test:$tport:127.0.0.1" "$@"; }
check "TLS GET, default cert" bash -c "$(declare -f tcurl); tport=$tport; [ \"\$(tcurl --cacert $work/a.pem -o /dev/null -w '%{http_code} %{size_download}' https://a.test:$tport/hello)\" = '200 4096' ]"
check "TLS SNI picks b's cert" bash -c "$(declare -f tcurl); tport=$tport; [ \"\$(tcurl --cacert $work/b.pem -o /dev/null -w '%{http_code}' https://b.test:$tport/hello)\" = 200 ]"
check "TLS SNI: a's cert for a" bash -c "$(declare -f tcurl); tport=$tport; ! tcurl --cacert $work/b.pem -o /dev/null https://a.test:$tport/hello"
check "TLS ALPN http/1.1" bash -c "$(declare -f tcurl); tport=$tport; tcurl -v --cacert $work/a.pem -o /dev/null https://a.test:$tport/hello 2>&1 | grep -qi 'ALPN.*accepted.*http/1.1'"
check "TLS echo chunked" bash -c "$(declare -f tcurl); tport=$tport; tcurl --cacert $work/a.pem -H 'Transfer-Encoding: chunked' --data-binary @$work/big https://a.test:$tport/echo | cmp -s - $work/big"
check "TLS large memory response" bash -c "$(declare -f tcurl); tport=$tport; tcurl --cacert $work/a.pem --data-binary @$work/big https://a.test:$tport/whole | cmp -s - $work/big"
check "TLS file" bash -c "$(declare -f tcurl); tport=$tport; tcurl --cacert $work/a.pem https://a.test:$tport/file | cmp -s - $work/file"
check "TLS 1.1 refused" bash -c "! echo | openssl s_client -connect $tls -tls1_1 >/dev/null 2>&1"
check "TLS 1.3 spoken" bash -c "echo | openssl s_client -connect $tls -tls1_3 -servername b.test 2>/dev/null | grep -q 'CN = b.test'"

# ---- raw sockets ------------------------------------------------------------
pipe_out=$(printf 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /stream?n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$addr" 5)
check "pipelining: three answers" test "$(grep -c '^HTTP/1.1 ' <<<"$pipe_out")" = 3
check "pipelining: in order" bash -c "grep '^HTTP/1.1 ' <<<'$pipe_out' | tr -d '\r' | tr '\n' ' ' | grep -q '200 OK HTTP/1.1 200 OK HTTP/1.1 404'"
check "pipelining: closed after Connection: close" grep -q '^\[closed\]$' <<<"$pipe_out"
# 100 pipelined in one write: answered in bursts (16 per loop turn, the
# rest on the next turns), all of them, in order.
pipe_out=$({ for i in $(seq 100); do printf 'GET /hello?i=%d HTTP/1.1\r\nHost: x\r\n\r\n' "$i"; done
    printf 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; } | raw "$addr" 5)
check "pipelining 100: 101 answers" test "$(grep -c '^HTTP/1.1 ' <<<"$pipe_out")" = 101
pipe_order=$(grep '^HTTP/1.1 ' <<<"$pipe_out" | tr -d '\r' | uniq -c | tr -s ' ' | tr '\n' '|')
check "pipelining 100: in order ($pipe_order)" \
    test "$pipe_order" = ' 100 HTTP/1.1 200 OK| 1 HTTP/1.1 404 Not Found|'

# Two file answers pipelined: the second starts in the turn the first
# ended in (head with MSG_MORE, then sendfile); both whole, in order.
pipe_files() {
    "$py" - "$addr" "$work/file" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
body = open(sys.argv[2], "rb").read()
s = socket.create_connection((host, int(port)))
s.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
s.settimeout(5)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
parts = out.split(b"HTTP/1.1 200 OK\r\n")
sys.exit(0 if len(parts) == 3 and parts[0] == b""
         and all(p.endswith(b"\r\n\r\n" + body) for p in parts[1:]) else 1)
PY
}
check "sendfile pipelined: two whole answers" pipe_files

check "431: request line and headers" rejected 431 < <(printf 'GET / HTTP/1.1\r\nHost: x\r\nX-A: %05000d\r\n\r\n' 0)
check "431: header count" rejected 431 < <(printf 'GET / HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 25); do printf 'X-%d: 1\r\n' "$i"; done; printf '\r\n')
check "413: declared body" rejected 413 < <(printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n')
check "413: chunked body" rejected 413 < <(printf 'POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n500000\r\n'; head -c $((0x500000)) /dev/zero; printf '\r\n0\r\n\r\n')

# Slowloris: half a request, then nothing; 408 and a close, in time.
slow_out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n' | raw "$addr" 8)
check "408 slowloris" bash -c "grep -q '^HTTP/1.1 408 ' <<<'$slow_out' && grep -q '^\[closed\]$' <<<'$slow_out'"
# A body that stops coming: 408 after the io time-out, and a close.
stall_out=$(printf 'POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc' | raw "$addr" 8)
check "408 stalled body" bash -c "grep -q '^HTTP/1.1 408 ' <<<'$stall_out' && grep -q '^\[closed\]$' <<<'$stall_out'"
# Idle keep-alive: one answer, then a quiet close.
idle_out=$(printf 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n' | raw "$addr" 6)
check "idle keep-alive closes" bash -c "[ \$(grep -c '^HTTP/1.1 ' <<<'$idle_out') = 1 ] && grep -q '^\[closed\]$' <<<'$idle_out'"

# Request smuggling: every case gets 400 and a closed connection.
smuggle=(
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\nhello\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n'
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello'
    'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'
    'GET / HTTP/1.1\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
)
for s in "${smuggle[@]}"; do
    check "400 and close: $s" rejected 400 < <(printf "$s")
done

# ---- the access log and SIGHUP ---------------------------------------------
# eventually FILE PATTERN: wait up to 10 s for PATTERN in FILE (the access
# log is flushed once a second).
eventually() {
    for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
check "access log lines" eventually "$work/access.log" '"GET /hello HTTP/1.1" 200 4096 "-" "curl/'
sleep 1.1 # what is buffered now goes out before the rename
mv "$work/access.log" "$work/access.log.1"
kill -HUP "${pids[0]}"
check "SIGHUP calls the reload hook" eventually "$work/main.log" 'reloaded'
curl -s -o /dev/null "$url/hello?after-hup"
check "SIGHUP reopens the access log" eventually "$work/access.log" 'after-hup'
check "the old log keeps the old lines" grep -q '"GET /hello HTTP/1.1"' "$work/access.log.1"

# ---- maximum connections ----------------------------------------------------
start_server busy "$server" --workers 1 --max-conns 2
busy=$(ready_addr busy http)
check "over max connections: 503" bash -c "$py - $busy <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(':', 1)
held = [socket.create_connection((host, int(port))) for _ in range(2)]
import time; time.sleep(0.3)
s = socket.create_connection((host, int(port)))
s.settimeout(5)
data = s.recv(1000)
sys.exit(0 if data.startswith(b'HTTP/1.1 503 ') else 1)
EOF"
check "under the limit again: 200" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$busy/hello)\" = 200 ]"

# ---- SIGTERM with a request in flight ----------------------------------------
start_server grace "$server" --workers 2
gaddr=$(ready_addr grace http)
curl -s "http://$gaddr/slow?ms=800" >"$work/slow.out" &
cpid=$!
for _ in $(seq 100); do grep -q 'slow request' "$work/grace.log" && break; sleep 0.1; done
gpid=${pids[-1]}
kill -TERM "$gpid"
wait "$cpid" || true
check "in-flight request finishes after SIGTERM" grep -q '^slow$' "$work/slow.out"
grc=0
wait "$gpid" || grc=$?
check "SIGTERM exits 0" test "$grc" = 0
check "stopped server refuses" bash -c "! curl -s -o /dev/null http://$gaddr/hello"

# SIGINT stops as SIGTERM does.
start_server int "$server" --workers 2
ipid=${pids[-1]}
check "before SIGINT: 200" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$(ready_addr int http)/hello)\" = 200 ]"
kill -INT "$ipid"
irc=0
wait "$ipid" || irc=$?
check "SIGINT exits 0" test "$irc" = 0

finish
