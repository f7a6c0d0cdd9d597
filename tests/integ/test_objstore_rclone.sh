#!/usr/bin/env bash
# tests/integ/test_objstore_rclone.sh - pier objstore with rclone (SigV4,
# path style): mkdir, copy, sync with its checksum comparison, ls, cat, a
# second sync that transfers nothing, delete; and a read-only key refused
# a write.
source "$(dirname "$0")/lib.sh"

command -v rclone >/dev/null || { echo "missing client: rclone (scripts/install-deps)" >&2; exit 1; }

data="$work/data"
start_server os "$PIER" objstore --data "$data" --listen 127.0.0.1:0 --workers 2
addr=$(ready_addr os http)
eval "$(grep '^AWS_' "$work/os.out")"

# rclone reads its remote from the environment; 1.60 refuses
# AWS_CA_BUNDLE with a plain-http endpoint, so it goes.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG_PIER_TYPE=s3 RCLONE_CONFIG_PIER_PROVIDER=Other
export RCLONE_CONFIG_PIER_ENDPOINT="http://$addr"
export RCLONE_CONFIG_PIER_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_PIER_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_PIER_FORCE_PATH_STYLE=true
rc() { rclone --config /dev/null "$@"; }

mkdir -p "$work/tree/sub"
for i in 1 2 3 4 5; do head -c $((i * 7000)) /dev/urandom >"$work/tree/f$i.bin"; done
echo "nested file" >"$work/tree/sub/n.txt"
head -c 12000000 /dev/urandom >"$work/tree/big.bin" # multipart (chunks of 5 MiB)

check "rclone mkdir" rc mkdir pier:bkt
check "rclone sync up" rc sync "$work/tree" pier:bkt/site --s3-chunk-size 5M --s3-upload-cutoff 5M
rc ls pier:bkt/site >"$work/ls"
check "rclone ls lists 7 files" test "$(wc -l <"$work/ls")" = 7
check "rclone cat" test "$(rc cat pier:bkt/site/sub/n.txt)" = "nested file"
check "rclone check (sizes and MD5s match)" rc check "$work/tree" pier:bkt/site --one-way
rc sync "$work/tree" pier:bkt/site -v 2>"$work/sync2" || true
check "second sync transfers nothing" grep -q "There was nothing to transfer" "$work/sync2"
rm "$work/tree/f1.bin"
echo "changed" >"$work/tree/f2.bin"
check "rclone sync after a change" rc sync "$work/tree" pier:bkt/site
check "deleted file gone" bash -c '! rclone --config /dev/null ls pier:bkt/site | grep -q f1.bin'
check "changed file has its new bytes" test "$(rc cat pier:bkt/site/f2.bin)" = "changed"
mkdir -p "$work/down"
check "rclone copy down" rc copy pier:bkt/site "$work/down"
check "downloaded tree equals the source" diff -r "$work/tree" "$work/down"

# A key that may only read cannot write, whatever the client.
eval "$("$PIER" keys add reader --grant bkt:read --data "$data" | sed 's/^/RO_/')"
export RCLONE_CONFIG_RO_TYPE=s3 RCLONE_CONFIG_RO_PROVIDER=Other
export RCLONE_CONFIG_RO_ENDPOINT="http://$addr" RCLONE_CONFIG_RO_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_RO_ACCESS_KEY_ID="$RO_AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_RO_SECRET_ACCESS_KEY="$RO_AWS_SECRET_ACCESS_KEY"
for _ in $(seq 50); do rc ls ro:bkt/site >/dev/null 2>&1 && break; sleep 0.1; done
check "read-only key reads" rc cat ro:bkt/site/sub/n.txt
check "read-only key cannot write" bash -c '! rclone --config /dev/null copyto "$0" ro:bkt/site/x --retries 1 --low-level-retries 1 2>/dev/null' "$work/tree/sub/n.txt"
check "rclone purge" bash -c 'rclone --config /dev/null purge pier:bkt/site 2>"$0"' "$work/purge.err"
# rclone asks for the bucket's versioning first: an empty configuration,
# not NotImplemented.
check "purge logs no error" bash -c '! grep -q ERROR "$0"' "$work/purge.err"
finish
