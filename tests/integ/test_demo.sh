#!/usr/bin/env bash
# tests/integ/test_demo.sh - pier demo: the README's first command ends
# here. It starts the stack, publishes the demo site through git push and
# serves it on demo.localhost.
source "$(dirname "$0")/lib.sh"

data="$work/data"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL PIER_CONFIG PIER_HOME

start_server demo "$PIER" demo --data "$data" --store 127.0.0.1:0 \
    --http 127.0.0.1:0 --admin 127.0.0.1:0
http=$(ready_addr demo http)
# The ready file is written once the stack is up; the demo is published
# right after it: wait for the message that says it is live.
for _ in $(seq 100); do grep -q "The demo site is live" "$work/demo.out" && break; sleep 0.1; done
check "demo says where it is" grep -q "http://demo.localhost:" "$work/demo.out"
body=$(curl -s -H "Host: demo.localhost" "http://$http/")
check "demo home page served" grep -q "Published with pier" <<<"$body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: demo.localhost" "http://$http/blog/")
check "demo blog served" test "$code" = 200
check "pier.conf has the publisher's key" grep -q "^access_key_id = " "$data/pier.conf"
check "keys file is private" test "$(stat -c %a "$data/objstore/keys")" = 600
finish
