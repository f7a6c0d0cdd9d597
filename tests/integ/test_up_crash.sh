#!/usr/bin/env bash
# tests/integ/test_up_crash.sh - pier up supervises its two servers: when
# one dies (kill -9 of the object store, then of the edge) pier up says
# which and how, stops the other, and exits non-zero; Ctrl-C (SIGINT)
# stops both cleanly with status 0; a restart on the same data directory
# keeps pier.conf and its keys, and serves what was published before.
source "$(dirname "$0")/lib.sh"

data="$work/data"
export PIER_HOME="$data"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL PIER_CONFIG

up_pid=
# up_start TAG: pier up in the background, its ready file waited for.
up_start() {
    rm -f "$work/$1.ready"
    "$PIER" up --data "$data" --store 127.0.0.1:0 --http 127.0.0.1:0 \
        --https 127.0.0.1:0 --admin 127.0.0.1:0 --ready-file "$work/$1.ready" \
        >"$work/$1.out" 2>"$work/$1.err" &
    up_pid=$!
    for _ in $(seq 300); do
        [ -s "$work/$1.ready" ] && return 0
        kill -0 "$up_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# child NAME: the pid of up's child whose command line names NAME.
child() {
    local p
    for p in $(pgrep -P "$up_pid"); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q " $1 "; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
# up_wait: pier up's exit status into $rc, waiting at most 30 s (then
# SIGKILL). Not in a subshell: only this shell can wait for its child.
up_wait() {
    for _ in $(seq 300); do
        kill -0 "$up_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$up_pid" 2>/dev/null; then
        kill -KILL "$up_pid"
    fi
    rc=0
    wait "$up_pid" || rc=$?
}
gone() { ! kill -0 "$1" 2>/dev/null; }
cleanup() {
    if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
        kill -TERM "$up_pid"
        up_wait
    fi
}
trap 'st=$?; cleanup; (exit $st); stop_all' EXIT

# The store dies: the edge is stopped, and pier up says so and fails.
check "pier up starts" up_start one
keys() { grep -E "^(access_key_id|secret_access_key|admin_token|edge_token) *=" "$data/pier.conf" | sort; }
keys_before=$(keys)
store_pid=$(child objstore)
edge_pid=$(child edge)
check "two children: the store and the edge" test -n "$store_pid" -a -n "$edge_pid"
"$PIER" site create keep --domain keep.test >/dev/null
mkdir -p "$work/site"
echo '<!doctype html><h1>Kept</h1>' >"$work/site/index.html"
git_site "$work/site" one
check "publish before the crash" bash -c '"$0" publish --site keep --repo "$1" >/dev/null 2>&1' "$PIER" "$work/site"
kill -KILL "$store_pid"
up_wait
check "pier up exits non-zero when the store dies (got $rc)" test "$rc" = 1
check "it names the store and the signal" grep -q "objstore was killed by signal 9" "$work/one.err"
check "it says it stops the other server" grep -q "stopping the other server" "$work/one.err"
check "the edge was stopped" gone "$edge_pid"

# The edge dies: the store is stopped.
check "pier up starts again on the same data" up_start two
check "pier.conf's keys kept" test "$(keys)" = "$keys_before"
check "... and there are keys" test "$(keys | wc -l)" -ge 2
http=$(awk '$1 == "http" {print $2}' "$work/two.ready")
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "Host: keep.test" "http://$http/")
check "what was published before is served after the restart" \
    bash -c '[ "$0" = 200 ] && grep -q Kept "$1/body"' "$code" "$work"
store_pid=$(child objstore)
edge_pid=$(child edge)
kill -KILL "$edge_pid"
up_wait
check "pier up exits non-zero when the edge dies (got $rc)" test "$rc" = 1
check "it names the edge" grep -q "edge was killed by signal 9" "$work/two.err"
check "the store was stopped" gone "$store_pid"

# Ctrl-C: both stop cleanly, status 0.
check "pier up starts a third time" up_start three
store_pid=$(child objstore)
edge_pid=$(child edge)
kill -INT "$up_pid"
up_wait
check "Ctrl-C: pier up exits 0 (got $rc)" test "$rc" = 0
check "Ctrl-C: the store stopped" gone "$store_pid"
check "Ctrl-C: the edge stopped" gone "$edge_pid"
check "Ctrl-C: no error printed" bash -c '! grep -q "exited with status\|killed by signal" "$0/three.err"' "$work"

if [ "$failures" != 0 ]; then
    tail -n 20 "$work"/*.err >&2 || true
fi
finish
