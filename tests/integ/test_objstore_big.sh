#!/usr/bin/env bash
# tests/integ/test_objstore_big.sh - memory stays bounded: a 2 GiB PUT and
# a 2 GiB GET through pier objstore (curl --aws-sigv4, streamed both ways)
# leave the server's peak RSS (VmHWM) within a few MiB of where it was, and
# the object comes back with the MD5 ETag and the bytes it was sent with.
source "$(dirname "$0")/lib.sh"

size=$((2 * 1024 * 1024 * 1024))
bound_kib=$((16 * 1024)) # "a few MiB": 16 MiB of headroom for the worst case

data="$work/data"
start_server os "$PIER" objstore --data "$data" --listen 127.0.0.1:0 --workers 2
pid=${pids[-1]}
url="http://$(ready_addr os http)"
eval "$(grep '^AWS_' "$work/os.out")"

s3() { # s3 CURL-ARGS...: a request signed with curl's SigV4
    curl -s --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"; }

check "create bucket" test "$(s3 -o /dev/null -w '%{http_code}' -X PUT "$url/big")" = 200
# Warm the server's paths with a small object, so the baseline holds what
# any request costs.
printf 'warm' >"$work/warm"
s3 -o /dev/null -T "$work/warm" "$url/big/warm"
s3 -o /dev/null "$url/big/warm"
base=$(hwm)

# A sparse file: 2 GiB to send, no disk to hold it. Its MD5 is S3's ETag.
truncate -s "$size" "$work/huge"
md5=$(md5sum <"$work/huge" | cut -d' ' -f1)

code=$(s3 -o "$work/put.out" -D "$work/put.hdr" -w '%{http_code}' -T "$work/huge" "$url/big/huge")
check "2 GiB PUT answered 200" test "$code" = 200
check "... with the MD5 ETag" grep -qi "^etag: \"$md5\"" "$work/put.hdr"
after_put=$(hwm)
check "2 GiB PUT grew peak RSS by $((after_put - base)) KiB (bound $bound_kib)" \
    test $((after_put - base)) -le "$bound_kib"

got=$(s3 "$url/big/huge" | md5sum | cut -d' ' -f1)
check "2 GiB GET returns the same bytes" test "$got" = "$md5"
after_get=$(hwm)
check "2 GiB GET grew peak RSS by $((after_get - after_put)) KiB (bound $bound_kib)" \
    test $((after_get - after_put)) -le "$bound_kib"
echo "peak RSS: $base KiB at start, $after_put after the PUT, $after_get after the GET"

rm -f "$work/huge"
check "delete" test "$(s3 -o /dev/null -w '%{http_code}' -X DELETE "$url/big/huge")" = 204
finish
