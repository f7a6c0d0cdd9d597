# tests/integ/lib.sh - shared by the integration tests; source it.
#
# start_server NAME CMD...  starts CMD with --ready-file, waits for the
#                           file, records the pid; sets READY_<NAME> lines
#                           readable with `ready_addr NAME LISTENER`.
# stop_all                  (trap EXIT) stops every server by PID: SIGTERM,
#                           a grace period, then SIGKILL and a failure; exit
#                           status 0 required, logs checked for sanitizer
#                           reports.
set -euo pipefail

: "${PIER:?PIER must name the pier binary (make check sets it)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
work=$(mktemp -d "${TMPDIR:-/tmp}/pier-integ.XXXXXX")
pids=()
names=()
failures=0
passes=0

stop_all() {
    local rc=$? pid i
    for i in "${!pids[@]}"; do
        pid=${pids[$i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -KILL "$pid" 2>/dev/null; then
            echo "server ${names[$i]} (pid $pid) ignored SIGTERM" >&2
            rc=1
        fi
        if ! wait "$pid"; then
            echo "server ${names[$i]} (pid $pid) exited with status $?" >&2
            rc=1
        fi
    done
    if grep -qs "AddressSanitizer\|runtime error:\|LeakSanitizer\|== ERROR SUMMARY: [1-9]\|definitely lost: [1-9]" "$work"/*.log; then
        echo "sanitizer or valgrind reports:" >&2
        grep -s -A20 "AddressSanitizer\|runtime error:\|LeakSanitizer\|ERROR SUMMARY\|definitely lost" "$work"/*.log >&2 || true
        rc=1
    fi
    if [ "$rc" != 0 ]; then
        for f in "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f (last 30 lines)" >&2
            tail -n 30 "$f" >&2
        done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap stop_all EXIT

# Run a server command, under valgrind when PIER_VALGRIND=1.
start_server() {
    local name=$1 ready="$work/$1.ready"
    shift
    local wrap=()
    if [ "${PIER_VALGRIND:-}" = 1 ]; then
        wrap=(valgrind --leak-check=full --errors-for-leak-kinds=definite -q)
    fi
    "${wrap[@]}" "$@" --ready-file "$ready" >"$work/$name.out" 2>"$work/$name.log" &
    pids+=($!)
    names+=("$name")
    for _ in $(seq 300); do
        [ -f "$ready" ] && return 0
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then
            echo "server $name died before it was ready" >&2
            cat "$work/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "server $name not ready after 30 s" >&2
    return 1
}

# ready_addr NAME LISTENER: the HOST:PORT the server wrote for LISTENER.
ready_addr() {
    awk -v l="$2" '$1 == l { print $2 }' "$work/$1.ready"
}

# check DESCRIPTION CMD...: run CMD, count and report the result.
check() {
    local what=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $what" >&2
        failures=$((failures + 1))
    fi
}

# finish: print the plain summary line; fail when anything failed.
finish() {
    echo "$passes passed, $failures failed"
    [ "$failures" = 0 ]
}

# start_up: pier up on free loopback ports with its data in $work/data
# (exported as PIER_HOME, no AWS variable or PIER_CONFIG of the caller's
# answering for it); sets data, http, https, store and admin.
start_up() {
    data="$work/data"
    export PIER_HOME="$data"
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
        AWS_ENDPOINT_URL PIER_CONFIG
    start_server up "$PIER" up --data "$data" --store 127.0.0.1:0 \
        --http 127.0.0.1:0 --https 127.0.0.1:0 --admin 127.0.0.1:0
    http=$(ready_addr up http)
    https=$(ready_addr up https)
    store=$(ready_addr up store)
    admin=$(ready_addr up admin)
}

# git_site DIR MSG: make DIR a git repository on branch main holding all
# its files in one commit.
git_site() {
    git -C "$1" init -q -b main
    git -C "$1" add -A
    git -C "$1" -c user.name=t -c user.email=t@t commit -qm "$2"
}

# raw ADDR [TIMEOUT]: send stdin over one TCP connection, print what comes
# back, then "[closed]", "[reset]" or, after TIMEOUT s (2), "[open]".
raw() {
    /usr/bin/python3 "$top_srcdir/tests/integ/raw_http.py" "$@"
}

# poll_code HOST PATH CODE: wait (at most 15 s) until the edge at
# $http answers Host: HOST with CODE (the edge polls the registry).
poll_code() {
    local c
    for _ in $(seq 150); do
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://$http$2")
        [ "$c" = "$3" ] && return 0
        sleep 0.1
    done
    echo "Host $1 $2: $c, not $3" >&2
    return 1
}
