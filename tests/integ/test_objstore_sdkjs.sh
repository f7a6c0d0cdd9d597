#!/usr/bin/env bash
# tests/integ/test_objstore_sdkjs.sh - pier objstore with the AWS SDK for
# JavaScript v3 (@aws-sdk/client-s3 and lib-storage, pinned in
# tests/node/package.json, installed by scripts/install-deps) over plain
# http with its default checksums on: streamed PutObject and UploadPart go
# as STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-checksum-crc32 in the
# trailer. Put, get, range, head, list, multipart (lib-storage's Upload and
# by hand), abort, delete; bytes compared. See tests/node/sdkjs.mjs.
source "$(dirname "$0")/lib.sh"

node_dir="$top_srcdir/tests/node"
command -v node >/dev/null || { echo "missing client: node (scripts/install-deps)" >&2; exit 1; }
# A tree without node_modules (make distcheck's unpacked tarball) installs
# the locked packages from npm's cache, which scripts/install-deps filled;
# offline, so an install that never happened still fails here.
if [ ! -d "$node_dir/node_modules/@aws-sdk/client-s3" ]; then
    mkdir -p "$work/node"
    cp "$node_dir/package.json" "$node_dir/package-lock.json" "$node_dir/sdkjs.mjs" "$work/node/"
    node_dir="$work/node"
    npm ci --offline --no-audit --no-fund --prefix "$node_dir" >"$work/npm.txt" 2>&1 ||
        { echo "missing client: tests/node/node_modules (scripts/install-deps runs npm ci)" >&2; exit 1; }
fi

start_server os "$PIER" objstore --data "$work/data" --listen 127.0.0.1:0 --workers 2
addr=$(ready_addr os http)
eval "$(grep '^AWS_' "$work/os.out")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

check "AWS SDK JS v3 against pier objstore" node "$node_dir/sdkjs.mjs" "http://$addr" sdkjs-bucket
finish
