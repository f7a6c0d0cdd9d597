#!/usr/bin/env bash
# bench/edge.sh - pier edge on cache hits against the usual front ends:
# nginx serving the same files, nginx proxy_cache and Varnish in front of
# an origin (nginx static). On loopback, in one run, with interleaved
# rounds so that every server sees the same machine. Not a test: run it
# by hand from a built tree.
#
# The site: a git repository with a 4 KiB index.html that references a
# 100 KiB app.js, published by `pier publish` to a `pier objstore`. The
# page and the asset (under the hashed name found in the served HTML) are
# fetched from the warmed edge and written to nginx's root, so that every
# server sends the same bytes; every request says Accept-Encoding:
# identity and Host: SITE.localhost.
#
# For each object (page, asset) and connection count (50, 256), wrk -t2
# with keep-alive drives each server for SECONDS; ROUNDS rounds, the
# servers in another order each round. Medians of requests/s and p99,
# and pier's ratios (requests/s: higher is better; p99: lower is better).
# Then the RSS of pier edge and of nginx (master and workers) with 10,000
# idle keep-alive connections.
#
# PIER_BASE=/path/to/another/pier adds a second edge built from another
# tree ("pier-base", same store, same options) to every round, for a
# before/after comparison in the same run.
#
# PACED=1 adds rounds at one offered load for every server (each
# connection waits between its requests: page 10,000 req/s, asset 2,000
# req/s in all, below every server's saturation), with p50 and p99. At
# saturation wrk shares the 2 cores with the server, so a faster server
# also makes wrk busier and its own queueing shows in the p99; at an equal
# offered load the p99 compares the servers alone. PACED_ROUNDS (3).
# ROUNDS 0 skips the saturating rounds, IDLE_CONNS=0 the RSS check.
# CONNS="256", OBJECTS="asset" and PEERS="nginx" narrow the rounds to
# those cases and servers. WRK_LOG=FILE appends every wrk report to FILE.
#
#   bench/edge.sh [ROUNDS [SECONDS]]   (3, 8)
set -euo pipefail

rounds=${1:-3}
secs=${2:-8}
idle_conns=${IDLE_CONNS:-10000}
conns=${CONNS:-50 256}
objects=${OBJECTS:-page asset}
top=$(cd "$(dirname "$0")/.." && pwd)
pier=${PIER:-$top/pier}
py=/usr/bin/python3
for t in wrk nginx varnishd git curl /usr/bin/aws "$py"; do
    command -v "$t" >/dev/null || { echo "edge bench: needs $t (scripts/install-deps --bench)" >&2; exit 1; }
done
[ -x "$pier" ] || { echo "edge bench: build first ($pier missing)" >&2; exit 1; }
# 10,000 idle connections need as many descriptors in the client and in
# each server (inherited from here).
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((idle_conns + 200)) ] || {
    echo "edge bench: ulimit -n $(ulimit -n) is too low for $idle_conns connections" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pier-bench-edge.XXXXXX")
chmod 755 "$work" # nginx workers may run as nobody
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
unset AWS_SESSION_TOKEN PIER_CONFIG AWS_ENDPOINT_URL
export PIER_HOME="$work/nohome"

wait_file() { # wait_file FILE WHAT: up to 10 s
    for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
    echo "edge bench: $2 did not start" >&2
    exit 1
}
free_port() { # nginx and varnishd cannot report a port-0 bind: a benchmark-only shortcut
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # wait_http URL WHAT
    for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "edge bench: $2 did not answer" >&2
    exit 1
}

# The store, keys (the edge's is read-only), the bucket and the site.
"$pier" objstore --data "$work/store" --listen 127.0.0.1:0 --workers 1 \
    --ready-file "$work/store.ready" >"$work/admin.env" 2>"$work/store.log" &
pids+=($!)
wait_file "$work/store.ready" "pier objstore"
ep="http://$(awk '$1 == "http" { print $2 }' "$work/store.ready")"
keyvar() { sed -n "s/^$1=//p"; }
admin=$(grep '^AWS_' "$work/admin.env")
pub=$("$pier" keys add pub --grant pier:write --data "$work/store" 2>/dev/null)
edgekey=$("$pier" keys add edge --grant pier:read --data "$work/store" 2>/dev/null)
AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$admin") \
AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$admin") \
    /usr/bin/aws --endpoint-url "$ep" --region us-east-1 s3api create-bucket --bucket pier >/dev/null
as_pub() {
    AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$pub") \
    AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$pub") "$@"
}
site=bench
host=$site.localhost
mkdir -p "$work/data" "$work/repo"
as_pub "$pier" site create "$site" --endpoint "$ep" --data "$work/data" >/dev/null
"$py" - "$work/repo" <<'PY'
import random, sys
root = sys.argv[1]
rnd = random.Random(6)
words = ["pier", "edge", "store", "deploy", "asset", "hash", "push", "cache", "site"]
head = '<!doctype html><html><head><meta charset="utf-8"><title>bench</title>' \
       '<script src="app.js" defer></script></head><body><h1>bench</h1>\n'
tail = "</body></html>\n"
body = []
n = len(head) + len(tail)
while n < 4096 - 200:
    p = "<p>" + " ".join(rnd.choice(words) for _ in range(12)) + "</p>\n"
    body.append(p)
    n += len(p)
page = head + "".join(body) + tail
page = page.replace("</body>", "<!--" + "x" * (4096 - len(page) - 7) + "--></body>")
assert len(page) == 4096, len(page)
open(f"{root}/index.html", "w").write(page)
# 100 KiB of script-like text that does not compress to nothing.
lines, n = [], 0
while n < 102400:
    l = "var v%d=%r;\n" % (len(lines), "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64)))
    lines.append(l)
    n += len(l)
js = "".join(lines)[:102399] + "\n"
open(f"{root}/app.js", "w").write(js)
PY
git -C "$work/repo" init -q
git -C "$work/repo" add index.html app.js
git -C "$work/repo" -c user.name=b -c user.email=b@b commit -qm site
as_pub "$pier" publish --site "$site" --repo "$work/repo" --endpoint "$ep" >"$work/publish.log" 2>&1 ||
    { echo "edge bench: pier publish failed:" >&2; cat "$work/publish.log" >&2; exit 1; }

# pier edge: 2 workers, read-only key, port 0 and the ready file.
AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$edgekey") \
AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$edgekey") \
    "$pier" edge --endpoint "$ep" --listen 127.0.0.1:0 --admin off --workers 2 \
    --ready-file "$work/edge.ready" >"$work/edge.out" 2>"$work/edge.log" &
edge_pid=$!
pids+=($edge_pid)
wait_file "$work/edge.ready" "pier edge"
pier_addr=$(awk '$1 == "http" { print $2 }' "$work/edge.ready")
base_addr=
if [ -n "${PIER_BASE:-}" ]; then
    [ -x "$PIER_BASE" ] || { echo "edge bench: PIER_BASE $PIER_BASE is not executable" >&2; exit 1; }
    AWS_ACCESS_KEY_ID=$(keyvar AWS_ACCESS_KEY_ID <<<"$edgekey") \
    AWS_SECRET_ACCESS_KEY=$(keyvar AWS_SECRET_ACCESS_KEY <<<"$edgekey") \
        "$PIER_BASE" edge --endpoint "$ep" --listen 127.0.0.1:0 --admin off --workers 2 \
        --ready-file "$work/base.ready" >"$work/base.out" 2>"$work/base.log" &
    pids+=($!)
    wait_file "$work/base.ready" "pier edge (PIER_BASE)"
    base_addr=$(awk '$1 == "http" { print $2 }' "$work/base.ready")
fi

get() { # get ADDR PATH OUT: the body, identity, Host: the site
    curl -sf -H "Host: $host" -H 'Accept-Encoding: identity' -o "$3" -D "$3.h" "http://$1$2"
}
mkdir -p "$work/www"
chmod 755 "$work/www"
get "$pier_addr" / "$work/www/index.html" || { echo "edge bench: pier edge does not serve the page" >&2; exit 1; }
asset=/$(grep -o 'app\.[0-9a-f]*\.js' "$work/www/index.html" | head -1)
[ "$asset" != / ] || { echo "edge bench: no hashed asset in the served page" >&2; exit 1; }
get "$pier_addr" "$asset" "$work/www/${asset#/}"
page=/index.html
get "$pier_addr" "$page" "$work/page.check" && cmp -s "$work/page.check" "$work/www/index.html" || page=/
# Warm: every object is a hit from here on.
for _ in 1 2 3; do
    get "$pier_addr" "$page" "$work/w"
    get "$pier_addr" "$asset" "$work/w"
done
grep -qi '^X-Cache: HIT' "$work/w.h" || { echo "edge bench: the edge does not hit after warming" >&2; exit 1; }

# nginx static (also the origin of the caches), nginx proxy_cache.
nginx_conf() { # nginx_conf NAME PORT SERVER_BODY [HTTP_EXTRA]
    mkdir -p "$work/$1/logs"
    cat >"$work/$1/nginx.conf" <<CONF
worker_processes 2;
worker_rlimit_nofile $(ulimit -n);
error_log $work/$1/logs/error.log warn;
pid $work/$1/nginx.pid;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=100;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $work/$1/body;
    proxy_temp_path $work/$1/proxy;
    fastcgi_temp_path $work/$1/fastcgi;
    uwsgi_temp_path $work/$1/uwsgi;
    scgi_temp_path $work/$1/scgi;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ${4:-}
    server {
        listen 127.0.0.1:$2 reuseport;
        $3
    }
}
CONF
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -g 'daemon off;' 2>"$work/$1.err" &
    pids+=($!)
}
nport=$(free_port)
nginx_conf nginx "$nport" "root $work/www; index index.html;"
nginx_pid=${pids[-1]}
wait_http "http://127.0.0.1:$nport/" nginx
cport=$(free_port)
nginx_conf nginxc "$cport" "location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$host;
            proxy_cache pc;
            proxy_cache_valid 200 1h;
            add_header X-Cache \$upstream_cache_status;
        }" "proxy_cache_path $work/nginxc/cache levels=1:2 keys_zone=pc:10m max_size=256m inactive=1h use_temp_path=off;
    upstream origin { server 127.0.0.1:$nport; keepalive 16; }"
wait_http "http://127.0.0.1:$cport/" "nginx proxy_cache"

# Varnish: foreground, its own working dir, malloc storage, the origin.
vport=$(free_port)
mkdir -p "$work/varnish"
cat >"$work/varnish.vcl" <<VCL
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$nport"; }
sub vcl_backend_response { set beresp.ttl = 1h; }
VCL
varnishd -F -j none -n "$work/varnish" -a "127.0.0.1:$vport" -T none \
    -f "$work/varnish.vcl" -s malloc,256m \
    -p thread_pools=2 -p thread_pool_min=100 -p thread_pool_max=1000 \
    >"$work/varnish.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$vport/" varnish

declare -A addr=([pier]=$pier_addr [nginx]=127.0.0.1:$nport [nginx-cache]=127.0.0.1:$cport [varnish]=127.0.0.1:$vport)
servers=(pier nginx nginx-cache varnish)
if [ -n "$base_addr" ]; then
    addr[pier-base]=$base_addr
    servers+=(pier-base)
fi
# Same bytes everywhere, and the caches warm (two gets: MISS then HIT).
for s in "${servers[@]}"; do
    for p in "$page" "$asset"; do
        get "${addr[$s]}" "$p" "$work/w" && get "${addr[$s]}" "$p" "$work/w" ||
            { echo "edge bench: $s does not serve $p" >&2; exit 1; }
        cmp -s "$work/w" "$work/www/$([ "$p" = / ] && echo index.html || echo "${p#/}")" ||
            { echo "edge bench: $s sends other bytes for $p" >&2; exit 1; }
        case $s in
        pier | pier-base | nginx-cache) hit='^X-Cache: HIT' ;;
        varnish) hit='^X-Varnish: [0-9]* [0-9]*' ;;
        *) hit=. ;;
        esac
        grep -qi "$hit" "$work/w.h" || { echo "edge bench: $s does not hit on $p" >&2; exit 1; }
    done
done
# PEERS="nginx" narrows the rounds to pier (and pier-base) and those peers.
if [ -n "${PEERS:-}" ]; then
    servers=(pier $PEERS)
    [ -n "$base_addr" ] && servers+=(pier-base)
fi
page_bytes=$(stat -c %s "$work/www/index.html")
asset_bytes=$(stat -c %s "$work/www/${asset#/}")

# Paced mode: each connection waits args[1] ms before each request.
cat >"$work/pace.lua" <<'LUA'
local ms = 0
function init(args) ms = tonumber(args[1]) end
function delay() return ms end
LUA

# run SERVER OBJ PATH CONNS [PACE_MS]: one wrk run, appended to results as
# "SERVER OBJ CONNS RPS P99_MS" (to paced as "... P50_MS" after it).
run() {
    local out rps p99 p50 pace=()
    [ -n "${5:-}" ] && pace=(-s "$work/pace.lua")
    out=$(wrk -t2 -c"$4" -d"${secs}s" --latency -H "Host: $host" -H 'Accept-Encoding: identity' \
        "${pace[@]}" "http://${addr[$1]}$3" ${5:+-- "$5"})
    [ -n "${WRK_LOG:-}" ] && printf '== round %s %s %s c%s %s\n%s\n' "$r" "$1" "$2" "$4" "${5:+paced $5 ms}" "$out" >>"$WRK_LOG"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
          else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
          printf "%.3f", v }' <<<"$out")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "edge bench: $1 $2 c$4 had errors:" >&2
        grep "Non-2xx\|Socket errors" <<<"$out" >&2
    fi
    if [ -n "${5:-}" ]; then
        p50=$(awk '$1 == "50%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
              else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
              printf "%.3f", v }' <<<"$out")
        echo "$1 $2 $4 $rps $p99 $p50" >>"$work/paced"
        printf 'paced %s  %-6s c%-4s %-12s %10.0f req/s  p50 %8.3f ms  p99 %8.3f ms\n' "$r" "$2" "$4" "$1" "$rps" "$p50" "$p99"
        return
    fi
    echo "$1 $2 $4 $rps $p99" >>"$work/results"
    printf 'round %s  %-6s c%-4s %-12s %10.0f req/s  p99 %8.3f ms\n' "$r" "$2" "$4" "$1" "$rps" "$p99"
}
order_for() { # order_for ROUND: the servers in another order each round
    local ns=${#servers[@]} i rev=()
    order=()
    for ((i = 0; i < ns; i++)); do order+=("${servers[$(((i + $1 - 1) % ns))]}"); done
    if [ $(($1 % 2)) = 0 ]; then
        for ((i = ns - 1; i >= 0; i--)); do rev+=("${order[$i]}"); done
        order=("${rev[@]}")
    fi
}

echo "edge bench: page $page ($page_bytes bytes), asset $asset ($asset_bytes bytes), Host: $host, Accept-Encoding: identity"
echo "edge bench: $rounds rounds of ${secs}s per configuration, wrk -t2, keep-alive; pier edge and nginx 2 workers, varnish 2 thread pools"
echo "edge bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other load skews the numbers)"
: >"$work/results"
for r in $(seq "$rounds"); do
    # Another order each round: rotate, and reverse every other round.
    order_for "$r"
    for c in $conns; do
        for obj in $objects; do
            p=$page
            [ "$obj" = asset ] && p=$asset
            for s in "${order[@]}"; do run "$s" "$obj" "$p" "$c"; done
        done
    done
done

echo "edge bench: load average now $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
[ "$rounds" -gt 0 ] && echo && echo "medians of $rounds rounds (ratio: pier/peer; req/s higher is better, p99 lower is better)"
for c in $conns; do
    [ "$rounds" -gt 0 ] || break
    for obj in $objects; do
        declare -A mr=() mp=()
        for s in "${servers[@]}"; do
            mr[$s]=$(awk -v s="$s" -v o="$obj" -v c="$c" '$1 == s && $2 == o && $3 == c { print $4 }' "$work/results" | median)
            mp[$s]=$(awk -v s="$s" -v o="$obj" -v c="$c" '$1 == s && $2 == o && $3 == c { print $5 }' "$work/results" | median)
        done
        for s in "${servers[@]}"; do
            if [ "$s" = pier ]; then
                printf 'median %-6s c%-4s %-12s %10.0f req/s  p99 %8.3f ms\n' "$obj" "$c" "$s" "${mr[$s]}" "${mp[$s]}"
            else
                awk -v o="$obj" -v c="$c" -v s="$s" -v r="${mr[$s]}" -v p="${mp[$s]}" \
                    -v pr="${mr[pier]}" -v pp="${mp[pier]}" 'BEGIN {
                    printf "median %-6s c%-4s %-12s %10.0f req/s  p99 %8.3f ms   pier/%s: %.2fx req/s, p99 %.2fx\n",
                        o, c, s, r, p, s, pr / r, pp / p }'
            fi
        done
    done
done

if [ "${PACED:-0}" = 1 ]; then
    : >"$work/paced"
    # Per connection: CONNS * 1000 / RATE ms between requests.
    for r in $(seq "${PACED_ROUNDS:-3}"); do
        order_for "$r"
        for c in $conns; do
            for obj in $objects; do
                p=$page rate=10000
                [ "$obj" = asset ] && p=$asset rate=2000
                for s in "${order[@]}"; do run "$s" "$obj" "$p" "$c" $((c * 1000 / rate)); done
            done
        done
    done
    echo "edge bench: load average now $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "paced medians of ${PACED_ROUNDS:-3} rounds, the same offered load for all (page 10,000 req/s, asset 2,000 req/s; ratio: pier/peer, lower is better)"
    for c in $conns; do
        for obj in $objects; do
            declare -A mr=() mp=() m5=()
            for s in "${servers[@]}"; do
                mr[$s]=$(awk -v s="$s" -v o="$obj" -v c="$c" '$1 == s && $2 == o && $3 == c { print $4 }' "$work/paced" | median)
                mp[$s]=$(awk -v s="$s" -v o="$obj" -v c="$c" '$1 == s && $2 == o && $3 == c { print $5 }' "$work/paced" | median)
                m5[$s]=$(awk -v s="$s" -v o="$obj" -v c="$c" '$1 == s && $2 == o && $3 == c { print $6 }' "$work/paced" | median)
            done
            for s in "${servers[@]}"; do
                awk -v o="$obj" -v c="$c" -v s="$s" -v r="${mr[$s]}" -v p="${mp[$s]}" -v q="${m5[$s]}" \
                    -v pp="${mp[pier]}" -v pq="${m5[pier]}" 'BEGIN {
                    printf "paced  %-6s c%-4s %-12s %10.0f req/s  p50 %8.3f ms  p99 %8.3f ms", o, c, s, r, q, p
                    if (s != "pier") printf "   pier/%s: p50 %.2fx, p99 %.2fx", s, pq / q, pp / p
                    printf "\n" }'
            done
        done
    done
fi

[ "$idle_conns" -gt 0 ] || exit 0

# RSS with idle keep-alive connections: each connection makes one request
# for the page, reads the response and stays open, idle.
cat >"$work/idle.py" <<'PY'
import os, selectors, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
n, vhost, ready, stop = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
req = ("GET / HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n\r\n" % vhost).encode()
sel = selectors.DefaultSelector()
socks, state, got, ok, failed = [], {}, {}, 0, 0
deadline = time.time() + 25
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((host, int(port)))
    except BlockingIOError:
        pass
    socks.append(s)
    state[s] = "connect"
    got[s] = b""
    sel.register(s, selectors.EVENT_WRITE)
    if i % 500 == 499:  # let the accept queue drain
        time.sleep(0.02)
pending = n
while pending and time.time() < deadline:
    for key, ev in sel.select(1):
        s = key.fileobj
        if state[s] == "connect":
            try:
                s.send(req)
                state[s] = "read"
                sel.modify(s, selectors.EVENT_READ)
            except OSError:
                failed += 1; pending -= 1; sel.unregister(s); state[s] = "done"
            continue
        try:
            d = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if not d:
            failed += 1; pending -= 1; sel.unregister(s); state[s] = "done"; continue
        got[s] += d
        h, sep, body = got[s].partition(b"\r\n\r\n")
        if sep:
            cl = 0
            for line in h.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    cl = int(line.split(b":")[1])
            if len(body) >= cl:
                if h.startswith(b"HTTP/1.1 200"):
                    ok += 1
                else:
                    failed += 1
                pending -= 1; sel.unregister(s); state[s] = "done"; got[s] = b""
with open(ready + ".tmp", "w") as f:
    f.write("%d %d\n" % (ok, failed))
os.rename(ready + ".tmp", ready)
# Hold the connections, idle, until told to stop or at most 20 s more.
end = time.time() + 20
while time.time() < end and not os.path.exists(stop):
    time.sleep(0.1)
PY
rss_kb() { # rss_kb PID: VmRSS of PID and its children, in KiB
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
idle() { # idle NAME PID ADDR
    local before after ok failed
    sleep 1
    before=$(rss_kb "$2")
    rm -f "$work/idle.ready" "$work/idle.stop"
    "$py" "$work/idle.py" "$3" "$idle_conns" "$host" "$work/idle.ready" "$work/idle.stop" &
    local cpid=$!
    pids+=($cpid)
    for _ in $(seq 300); do [ -s "$work/idle.ready" ] && break; sleep 0.1; done
    [ -s "$work/idle.ready" ] || { echo "edge bench: the idle client did not finish" >&2; exit 1; }
    sleep 1
    after=$(rss_kb "$2")
    read -r ok failed <"$work/idle.ready"
    touch "$work/idle.stop"
    wait "$cpid" || true
    echo "$1 $before $after $ok" >>"$work/rss"
    awk -v s="$1" -v b="$before" -v a="$after" -v ok="$ok" -v f="$failed" 'BEGIN {
        printf "rss %-6s idle %7.1f MiB  with %d idle keep-alive conns %7.1f MiB  (+%.2f KiB/conn; %d failed)\n",
            s, b / 1024, ok, a / 1024, ok ? (a - b) / ok : 0, f }'
}
echo
: >"$work/rss"
idle pier "$edge_pid" "$pier_addr"
sleep 1
idle nginx "$nginx_pid" "127.0.0.1:$nport"
awk '{ a[$1] = $3; d[$1] = $3 - $2 } END {
    printf "rss ratio pier/nginx with idle conns: %.2fx total, %.2fx growth\n", a["pier"] / a["nginx"], d["nginx"] ? d["pier"] / d["nginx"] : 0 }' "$work/rss"
