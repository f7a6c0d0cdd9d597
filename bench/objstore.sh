#!/usr/bin/env bash
# bench/objstore.sh - `pier objstore` against nginx, on loopback, in one run:
#   GET  4 KiB and 1 MiB objects: pier (SigV4 presigned) vs nginx serving
#        the same files (sendfile, open_file_cache);
#   PUT  4 KiB and 1 MiB objects: pier (SigV4 presigned, UNSIGNED-PAYLOAD;
#        durable: the client hears 200 after fsync, rename and the SQLite
#        commit) vs nginx WebDAV (dav_methods PUT: temp file + rename, no
#        fsync) accepting the same requests;
#   the single-thread create+write+fsync+rename rate of the same disk
#        (4 KiB and 1 MiB), the bound a durable PUT is compared with.
# Load: wrk -t2 with keep-alive and bench/objstore.lua, which cycles through
# presigned request targets made before each run by bench/presign.c (built
# here against libpier.a, lib/sigv4.h's pier_sigv4_presign). nginx ignores
# the query string, so it gets the very same requests. Rounds interleave
# the servers (pier first in odd rounds, nginx first in even ones); medians
# and ratios are printed. Not a test: run it by hand from a built tree.
#
#   bench/objstore.sh [ROUNDS [SECONDS [CONNECTIONS...]]]   (3, 8, "16 64")
# OPS="GET" (or "PUT") runs only those; PIER=path takes another pier binary
# (a build from before a change, to compare ratios); WORKERS=N (2) is both
# pier's --workers and nginx's worker_processes, so that neither server
# gets more loops than the other.
set -euo pipefail

rounds=${1:-3}
secs=${2:-8}
shift 2 2>/dev/null || shift $#
conns_list=${*:-16 64}
ops=${OPS:-GET PUT}
workers=${WORKERS:-2}
case " $ops " in *" GET "* | *" PUT "*) ;; *) echo "objstore-bench: OPS must hold GET, PUT or both" >&2; exit 2 ;; esac
has_op() { case " $ops " in *" $1 "*) return 0 ;; esac; return 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${top_builddir:-$top}
pier=${PIER:-$top_builddir/pier}
py=/usr/bin/python3
for t in wrk nginx curl cc pkg-config "$py" "$pier"; do
    command -v "$t" >/dev/null || { echo "objstore-bench: needs $t (scripts/install-deps --bench; build first)" >&2; exit 1; }
done
[ -f "$top_builddir/libpier.a" ] || { echo "objstore-bench: build first (no $top_builddir/libpier.a)" >&2; exit 1; }
nginx -V 2>&1 | grep -q -- --with-http_dav_module ||
    { echo "objstore-bench: this nginx lacks the dav module (scripts/install-deps --bench)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pier-bench-objstore.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
echo "objstore-bench: $rounds rounds of ${secs}s, wrk -t2 -c{${conns_list// /,}}, $workers workers each, data in $work ($(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }'))"

# The signer: lib/sigv4.h through libpier.a.
read -ra cflags <<<"$(pkg-config --cflags libcrypto zlib)"
read -ra libs <<<"$(pkg-config --libs libcrypto zlib)"
cc -std=c17 -O2 -I"$top" -I"$top_builddir" "${cflags[@]}" \
    -o "$work/presign" "$top/bench/presign.c" "$top_builddir/libpier.a" "${libs[@]}"

# pier: port 0 and the ready file; the first start prints the admin key.
"$pier" objstore --data "$work/store" --listen 127.0.0.1:0 --workers "$workers" \
    --ready-file "$work/pier.ready" >"$work/admin.env" 2>"$work/pier.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/pier.ready" ] && break; sleep 0.1; done
pier_addr=$(awk '$1 == "http" { print $2 }' "$work/pier.ready")
[ -n "$pier_addr" ] || { echo "objstore-bench: pier did not start:" >&2; cat "$work/pier.log" >&2; exit 1; }
eval "$(grep '^AWS_' "$work/admin.env")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d" " -f1)" \
    -X PUT "http://$pier_addr/bench" -o /dev/null || { echo "objstore-bench: CreateBucket failed" >&2; exit 1; }

# nginx cannot report a port-0 bind: take a free port from the kernel (a
# benchmark-only shortcut; tests never do this). One server: GET from
# www/, WebDAV PUT into www/.
nport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs" "$work/nginx/body" "$work/www/bench"
user=""
[ "$(id -u)" = 0 ] && user="user root root;" # workers write www/ and body/
cat >"$work/nginx/nginx.conf" <<CONF
$user
worker_processes $workers;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_max_body_size 2m;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nport reuseport;
        root $work/www;
        dav_methods PUT;
        create_full_put_path on;
        dav_access user:rw group:r all:r;
    }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.err" &
pids+=($!)
nginx_addr=127.0.0.1:$nport
for _ in $(seq 100); do curl -s -o /dev/null "http://$nginx_addr/" && break; sleep 0.1; done

# The bodies, and GET_KEYS objects of each size in both servers.
head -c 4096 /dev/urandom >"$work/body-4k"
head -c 1048576 /dev/urandom >"$work/body-1m"
get_keys=64
for size in 4k 1m; do
    "$work/presign" PUT "$pier_addr" bench "get-$size-" "$get_keys" 3600 >"$work/put-get-$size"
    while read -r target; do
        curl -sf -T "$work/body-$size" "http://$pier_addr$target" -o /dev/null ||
            { echo "objstore-bench: PUT $target to pier failed" >&2; exit 1; }
    done <"$work/put-get-$size"
    for i in $(seq 0 $((get_keys - 1))); do cp "$work/body-$size" "$work/www/bench/get-$size-$i"; done
    "$work/presign" GET "$pier_addr" bench "get-$size-" "$get_keys" 3600 >"$work/get-$size"
    t=$(head -n1 "$work/get-$size")
    cmp -s <(curl -sf "http://$pier_addr$t") "$work/body-$size" || { echo "objstore-bench: pier GET differs" >&2; exit 1; }
    cmp -s <(curl -sf "http://$nginx_addr$t") "$work/body-$size" || { echo "objstore-bench: nginx GET differs" >&2; exit 1; }
done
# The same presigned PUT works on both; nginx ignores the query string.
"$work/presign" PUT "$pier_addr" bench "check-" 1 3600 >"$work/put-check"
t=$(cat "$work/put-check")
for a in "$pier_addr" "$nginx_addr"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/body-4k" "http://$a$t")
    case $code in 200 | 201 | 204) ;; *) echo "objstore-bench: PUT to $a answered $code" >&2; exit 1 ;; esac
done
cmp -s "$work/www/bench/check-0" "$work/body-4k" || { echo "objstore-bench: nginx PUT stored other bytes" >&2; exit 1; }

# PUT targets: 4 KiB PUTs go to distinct keys (PUT4K_KEYS per run, shared
# by the two servers, which keep separate data; a run that sends more
# wraps around and overwrites, which is reported); 1 MiB PUTs cycle over
# 256 keys per run and overwrite them (distinct 1 MiB keys would write
# gigabytes).
put4k_keys=${PUT4K_KEYS:-$((10000 * secs))}

# run SERVER OP SIZE CONNS TARGETS: one wrk run, appends
# "OP SIZE CONNS SERVER OPS_S P99_MS ROUND" to results and prints it.
: >"$work/results"
run() {
    local server=$1 op=$2 size=$3 conns=$4 targets=$5 addr out ops p99 body=- wraps
    [ "$server" = pier ] && addr=$pier_addr || addr=$nginx_addr
    [ "$op" = PUT ] && body="$work/body-$size"
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s --latency -s "$top/bench/objstore.lua" \
        "http://$addr" -- "$targets" "$op" "$body" 2)
    ops=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
          else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
          printf "%.3f", v }' <<<"$out")
    wraps=$(awk '$1 == "wraps" { print $2 }' <<<"$out")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "objstore-bench: $server $op $size c$conns had errors:" >&2
        grep "Non-2xx\|Socket errors" <<<"$out" >&2
    fi
    echo "$op $size $conns $server $ops $p99 $r" >>"$work/results"
    printf 'round %s  %-3s %-2s c%-3s %-5s %10.0f ops/s  p99 %9.3f ms%s\n' "$r" "$op" "$size" "$conns" \
        "$server" "$ops" "$p99" "$([ "$op" = PUT ] && [ "${wraps:-0}" -gt 0 ] && echo "  (targets wrapped $wraps times: overwrites)")"
}

# fsync_rate SIZE: single-thread create+write+fsync+rename of SIZE-byte
# files in the data's file system for SECONDS; appends
# "FSYNC SIZE 1 disk OPS_S P99_MS ROUND".
fsync_rate() {
    local line
    mkdir -p "$work/fsync"
    line=$("$py" - "$work/fsync" "$work/body-$1" "$secs" <<'PY'
import os, sys, time
d, body, secs = sys.argv[1], open(sys.argv[2], "rb").read(), float(sys.argv[3])
lat, n = [], 0
t0 = time.monotonic()
while time.monotonic() - t0 < secs:
    s = time.monotonic()
    tmp, dst = f"{d}/t{n}.tmp", f"{d}/o{n % 256}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, body)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, dst)
    lat.append(time.monotonic() - s)
    n += 1
el = time.monotonic() - t0
lat.sort()
print(f"{n / el:.1f} {lat[int(len(lat) * 0.99)] * 1000:.3f}")
PY
)
    rm -rf "$work/fsync"
    echo "FSYNC $1 1 disk $line $r" >>"$work/results"
    # shellcheck disable=SC2086
    printf 'round %s  fsync %-2s 1 thread  %10.0f ops/s  p99 %9.3f ms\n' "$r" "$1" $line
}

order() { if [ $((r % 2)) = 1 ]; then echo pier nginx; else echo nginx pier; fi; }
for r in $(seq "$rounds"); do
    for size in 4k 1m; do
        has_op GET || break
        for c in $conns_list; do
            for s in $(order); do run "$s" GET "$size" "$c" "$work/get-$size"; done
        done
    done
    for size in 4k 1m; do
        has_op PUT || break
        fsync_rate "$size"
        for c in $conns_list; do
            if [ "$size" = 4k ]; then
                "$work/presign" PUT "$pier_addr" bench "put-4k-r$r-c$c-" "$put4k_keys" 3600 >"$work/put-4k"
            else
                "$work/presign" PUT "$pier_addr" bench "put-1m-r$r-c$c-" 256 3600 >"$work/put-1m"
            fi
            for s in $(order); do run "$s" PUT "$size" "$c" "$work/put-$size"; done
            find "$work/www/bench" -name "put-*" -delete # nginx's copies: keep the disk in bounds
        done
    done
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { awk -v o="$1" -v z="$2" -v c="$3" -v s="$4" -v f="$5" '$1 == o && $2 == z && $3 == c && $4 == s { print $f }' "$work/results" | median; }
echo
echo "medians of $rounds rounds (ratios: pier/peer ops/s; p99 pier/peer, lower is better)"
for size in 4k 1m; do
    has_op GET || break
    for c in $conns_list; do
        pr=$(med GET "$size" "$c" pier 5); pp=$(med GET "$size" "$c" pier 6)
        nr=$(med GET "$size" "$c" nginx 5); np=$(med GET "$size" "$c" nginx 6)
        awk -v z="$size" -v c="$c" -v pr="$pr" -v pp="$pp" -v nr="$nr" -v np="$np" 'BEGIN {
            printf "GET %-2s c%-3s pier %8.0f ops/s p99 %8.3f ms | nginx     %8.0f ops/s p99 %8.3f ms | %.2fx, p99 %.2fx%s\n",
                z, c, pr, pp, nr, np, pr / nr, pp / np, (pr / nr >= 0.9) ? "  target >= 0.9x: met" : "  target >= 0.9x: MISSED" }'
    done
done
for size in 4k 1m; do
    has_op PUT || break
    fr=$(med FSYNC "$size" 1 disk 5); fp=$(med FSYNC "$size" 1 disk 6)
    printf 'fsync %-2s 1 thread  %8.0f ops/s p99 %8.3f ms (create+write+fsync+rename)\n' "$size" "$fr" "$fp"
    for c in $conns_list; do
        pr=$(med PUT "$size" "$c" pier 5); pp=$(med PUT "$size" "$c" pier 6)
        nr=$(med PUT "$size" "$c" nginx 5); np=$(med PUT "$size" "$c" nginx 6)
        # pier's PUT rate over the fsync rate of the same round, median:
        # steadier than a ratio of medians when the disk's speed drifts.
        rr=$(awk -v z="$size" -v c="$c" '$1 == "FSYNC" && $2 == z { f[$7] = $5 }
            $1 == "PUT" && $2 == z && $3 == c && $4 == "pier" { p[$7] = $5 }
            END { for (r in p) if (f[r] > 0) print p[r] / f[r] }' "$work/results" | median)
        awk -v z="$size" -v c="$c" -v pr="$pr" -v pp="$pp" -v nr="$nr" -v np="$np" -v rr="$rr" 'BEGIN {
            printf "PUT %-2s c%-3s pier %8.0f ops/s p99 %8.3f ms | nginx-dav %8.0f ops/s p99 %8.3f ms | %.2fx, p99 %.2fx | %.2fx fsync-bound%s\n",
                z, c, pr, pp, nr, np, pr / nr, pp / np, rr, (z == "4k") ? ((rr >= 0.8) ? "  target >= 0.8x: met" : "  target >= 0.8x: MISSED") : "" }'
    done
done
