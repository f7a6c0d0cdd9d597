#!/usr/bin/env bash
# bench/http-core.sh - lib/'s HTTP core against nginx: the test server's
# hello handler (4 KiB from memory) and nginx serving the same 4 KiB file,
# on loopback, both with 2 workers, driven by wrk with keep-alive.
# Interleaved rounds (pier, nginx, pier, nginx, ...) so that both see the
# same machine; prints requests/s and p99 per run, the medians and the
# ratio. Not a test: run it by hand from a built tree.
#
#   bench/http-core.sh [ROUNDS [SECONDS [CONNECTIONS]]]   (3, 10, 50)
set -euo pipefail

rounds=${1:-3}
secs=${2:-10}
conns=${3:-50}
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
server="$top_builddir/tests/lib/http_test_server"
py=/usr/bin/python3
for t in wrk nginx; do
    command -v "$t" >/dev/null || { echo "http-core: needs $t (scripts/install-deps --bench)" >&2; exit 1; }
done
[ -x "$server" ] || { echo "http-core: build first (make check builds $server)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pier-bench.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The same 4096 bytes as the hello handler: a..z repeated, then "\n".
"$py" -c "import sys; b=bytes(ord('a')+i%26 for i in range(4096)); sys.stdout.buffer.write(b[:-1]+b'\n')" >"$work/hello"

# pier: port 0 and the ready file.
"$server" --workers 2 --ready-file "$work/pier.ready" >/dev/null 2>"$work/pier.log" &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/pier.ready" ] && break; sleep 0.1; done
pier_addr=$(awk '$1 == "http" { print $2 }' "$work/pier.ready")

# nginx cannot report a port-0 bind: take a free port from the kernel (a
# benchmark-only shortcut; tests never do this).
nport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs" "$work/www"
chmod 755 "$work" "$work/www" # nginx workers may run as nobody
cp "$work/hello" "$work/www/hello"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=100;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:$nport reuseport;
        root $work/www;
    }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.err" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$nport/hello" && break; sleep 0.1; done
nginx_addr=127.0.0.1:$nport

# Both must serve the same bytes.
cmp -s <(curl -s "http://$pier_addr/hello") "$work/hello" || { echo "http-core: pier body differs" >&2; exit 1; }
cmp -s <(curl -s "http://$nginx_addr/hello") "$work/hello" || { echo "http-core: nginx body differs" >&2; exit 1; }

# run NAME ADDR: one wrk run; prints "NAME RPS P99_MS".
run() {
    local out rps p99
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://$2/hello")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
          else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
          printf "%.3f", v }' <<<"$out")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "http-core: $1 had errors:" >&2
        grep "Non-2xx\|Socket errors" <<<"$out" >&2
    fi
    echo "$1 $rps $p99"
}

: >"$work/results"
for r in $(seq "$rounds"); do
    run pier "$pier_addr" | tee -a "$work/results" | awk -v r="$r" '{ printf "round %s  %-5s %12.0f req/s  p99 %8.3f ms\n", r, $1, $2, $3 }'
    run nginx "$nginx_addr" | tee -a "$work/results" | awk -v r="$r" '{ printf "round %s  %-5s %12.0f req/s  p99 %8.3f ms\n", r, $1, $2, $3 }'
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
p_rps=$(awk '$1 == "pier" { print $2 }' "$work/results" | median)
n_rps=$(awk '$1 == "nginx" { print $2 }' "$work/results" | median)
p_p99=$(awk '$1 == "pier" { print $3 }' "$work/results" | median)
n_p99=$(awk '$1 == "nginx" { print $3 }' "$work/results" | median)
printf 'median pier  %12.0f req/s  p99 %8.3f ms\n' "$p_rps" "$p_p99"
printf 'median nginx %12.0f req/s  p99 %8.3f ms\n' "$n_rps" "$n_p99"
awk -v p="$p_rps" -v n="$n_rps" -v pp="$p_p99" -v np="$n_p99" \
    'BEGIN { printf "ratio pier/nginx: %.2fx requests/s, p99 %.2fx (lower is better)\n", p / n, pp / np }'
