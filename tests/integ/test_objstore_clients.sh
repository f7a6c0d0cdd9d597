#!/usr/bin/env bash
# tests/integ/test_objstore_clients.sh - pier objstore with s3cmd (SigV4
# and SigV2: put, get, ls, sync with its MD5 ETag check, del) and the
# libs3 `s3` tool (SigV2, path style: put, get, list, test, delete).
source "$(dirname "$0")/lib.sh"

for tool in s3cmd s3; do
    command -v "$tool" >/dev/null || { echo "missing client: $tool" >&2; exit 1; }
done

data="$work/data"
start_server os "$PIER" objstore --data "$data" --listen 127.0.0.1:0 --workers 2
addr=$(ready_addr os http)
eval "$(grep '^AWS_' "$work/os.out")"

head -c 300000 /dev/urandom >"$work/small"
mkdir -p "$work/tree/sub"
for i in 1 2 3; do echo "file $i" >"$work/tree/f$i.txt"; done
echo nested >"$work/tree/sub/n.txt"

for sig in v4 v2; do
    cat >"$work/s3cfg.$sig" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $addr
host_bucket = $addr
use_https = False
signature_v2 = $([ "$sig" = v2 ] && echo True || echo False)
bucket_location = us-east-1
CFG
    s3c() { s3cmd -c "$work/s3cfg.$sig" --no-progress "$@"; }
    if [ "$sig" = v4 ]; then
        check "s3cmd mb" s3c mb s3://bkt -q
    fi
    check "s3cmd $sig put" s3c put "$work/small" "s3://bkt/$sig/small" -q
    check "s3cmd $sig get" s3c get "s3://bkt/$sig/small" "$work/back.$sig" -q --force
    check "s3cmd $sig round trip" cmp "$work/small" "$work/back.$sig"
    s3c ls "s3://bkt/$sig/" >"$work/ls.$sig"
    check "s3cmd $sig ls" grep -q "s3://bkt/$sig/small" "$work/ls.$sig"
    check "s3cmd $sig sync" s3c sync "$work/tree/" "s3://bkt/$sig/tree/" -q
    s3c sync "$work/tree/" "s3://bkt/$sig/tree/" --dry-run >"$work/sync.$sig"
    check "s3cmd $sig sync again uploads nothing (MD5 ETags match)" \
        bash -c "! grep -q '^upload' '$work/sync.$sig'"
    check "s3cmd $sig del" s3c del "s3://bkt/$sig/small" -q
    s3c ls "s3://bkt/$sig/" >"$work/ls.$sig"
    check "s3cmd $sig deleted key is gone" bash -c "! grep -q '/small$' '$work/ls.$sig'"
done

export S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export S3_HOSTNAME=$addr
check "libs3 put" s3 -u put bkt/libs3/file filename="$work/small"
check "libs3 get" s3 -u get bkt/libs3/file filename="$work/libs3.back"
check "libs3 round trip" cmp "$work/small" "$work/libs3.back"
s3 -u list bkt prefix=libs3/ >"$work/libs3.ls"
check "libs3 list (ListObjects v1)" grep -q "libs3/file" "$work/libs3.ls"
check "libs3 test" s3 -u test bkt
check "libs3 delete" s3 -u delete bkt/libs3/file
S3_SECRET_ACCESS_KEY=wrongwrongwrong s3 -u -r 0 get bkt/v4/tree/f1.txt \
    filename="$work/nope" >"$work/err" 2>&1 || true
check "libs3 with a wrong secret is refused" grep -q "SignatureDoesNotMatch" "$work/err"
finish
