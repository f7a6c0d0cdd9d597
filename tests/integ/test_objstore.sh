#!/usr/bin/env bash
# tests/integ/test_objstore.sh - pier objstore with awscli (s3 cp, ls,
# sync, rm, presign, a 50 MiB multipart upload, s3api copy) and curl
# (unsigned requests, --aws-sigv4, conditional PUTs); the refusal matrix;
# pier keys and SIGHUP; the lock. s3cmd and libs3 are in
# test_objstore_clients.sh, boto3 in test_objstore_boto3.py. Every client
# start costs seconds on a loaded machine: calls are few and do much.
source "$(dirname "$0")/lib.sh"

for tool in /usr/bin/aws curl openssl; do
    command -v "$tool" >/dev/null || { echo "missing client: $tool" >&2; exit 1; }
done

data="$work/data"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -days 2 -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
start_server os "$PIER" objstore --data "$data" --listen 127.0.0.1:0 --workers 2 \
    --tls-listen 127.0.0.1:0 --tls-cert "$work/tls.pem" --tls-key "$work/tls.key"
addr=$(ready_addr os http)
tls_addr=$(ready_addr os https)
url="http://$addr"

# The admin credentials are printed once, shell-sourceable.
check "first start prints the admin key" grep -q '^AWS_ACCESS_KEY_ID=PK' "$work/os.out"
eval "$(grep '^AWS_' "$work/os.out")"
admin_id=$AWS_ACCESS_KEY_ID
admin_secret=$AWS_SECRET_ACCESS_KEY
check "keys file is 0600" test "$(stat -c %a "$data/keys")" = 600
check "keys file holds the admin" grep -q "^admin $admin_id " "$data/keys"

export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
aws() { /usr/bin/aws --endpoint-url "$url" "$@"; }
quiet() { "$@" >/dev/null; }

# ---- configuration ----
printf '[objstore]\nlisten = 127.0.0.1:0\nbogus = 1\n[edge]\nother = x\n' >"$work/bad.conf"
set +e
"$PIER" objstore --config "$work/bad.conf" --data "$work/unused" 2>"$work/conf.err"
rc=$?
set -e
check "unknown [objstore] key refused" test "$rc" = 1
check "... naming the file, the line and the key" grep -q "bad.conf:3: unknown key 'bogus' in \[objstore\]" "$work/conf.err"
printf '[objstore]\nworkers = 300\n' >"$work/bad.conf"
set +e
"$PIER" objstore --config "$work/bad.conf" --data "$work/unused" 2>"$work/conf.err"
rc=$?
set -e
check "an out-of-range value refused" grep -q "bad.conf:2: 'workers' is at most 256" "$work/conf.err"
"$PIER" objstore --help >"$work/help.out"
for k in data listen tls-listen tls-cert tls-key region domain workers access-log; do
    check "--help lists the setting $k" grep -q "^  $k = " "$work/help.out"
done

# ---- the lock ----
set +e
"$PIER" objstore --data "$data" --listen 127.0.0.1:0 >/dev/null 2>"$work/second.err"
rc=$?
set -e
check "a second server on DIR is refused" test "$rc" = 1
check "... with a clear message" grep -q "is in use by another pier objstore (pid" "$work/second.err"

# ---- awscli ----
check "aws s3 mb" aws s3 mb s3://bkt
head -c 100000 /dev/urandom >"$work/small"
check "aws s3 cp up" aws s3 cp "$work/small" s3://bkt/dir/small --quiet
check "aws s3 cp down" aws s3 cp s3://bkt/dir/small "$work/small.back" --quiet
check "round trip is byte for byte" cmp "$work/small" "$work/small.back"
etag=$(aws s3api head-object --bucket bkt --key dir/small --query ETag --output text)
check "ETag is the MD5" test "$etag" = "\"$(md5sum <"$work/small" | cut -d' ' -f1)\""

mkdir -p "$work/tree/sub" "$work/tree/ünï cödé"
for i in 1 2 3; do echo "file $i" >"$work/tree/f$i.txt"; done
echo nested >"$work/tree/sub/n.txt"
echo weird >"$work/tree/ünï cödé/a b+c.txt"
check "aws s3 sync up" aws s3 sync "$work/tree" s3://bkt/site --quiet
aws s3 ls s3://bkt/site/ --recursive >"$work/ls"
check "aws s3 ls lists 5 synced keys" test "$(wc -l <"$work/ls")" = 5
check "unicode key listed" grep -q "site/ünï cödé/a b+c.txt" "$work/ls"
aws s3 ls s3://bkt/site/ >"$work/ls1"
check "delimiter rolls up prefixes" grep -q "PRE sub/" "$work/ls1"
check "aws s3 sync again uploads nothing" test -z "$(aws s3 sync "$work/tree" s3://bkt/site --dryrun)"
mkdir "$work/down"
check "aws s3 sync down" aws s3 sync s3://bkt/site "$work/down" --quiet
check "synced tree is identical" diff -r "$work/tree" "$work/down"

# Pagination: 25 keys, 7 per page (ListObjectsV2 continuation tokens),
# 4 per page (v1 markers).
mkdir "$work/page"
for i in $(seq -w 1 25); do printf x >"$work/page/k$i"; done
check "aws s3 sync 25 keys" aws s3 sync "$work/page" s3://bkt/page --quiet
n=$(aws s3api list-objects-v2 --bucket bkt --prefix page/ --page-size 7 --query 'Contents[].Key' --output text | wc -w)
check "list-objects-v2 pages through 25 keys" test "$n" = 25
n=$(aws s3api list-objects --bucket bkt --prefix page/ --page-size 4 --query 'Contents[].Key' --output text | wc -w)
check "list-objects (v1) pages through 25 keys" test "$n" = 25

# Multipart: 50 MiB goes multipart with awscli's 8 MiB parts.
head -c $((50 * 1024 * 1024)) /dev/urandom >"$work/big"
check "aws s3 cp 50 MiB (multipart)" aws s3 cp "$work/big" s3://bkt/big --quiet
etag=$(aws s3api head-object --bucket bkt --key big --query ETag --output text)
check "multipart ETag is md5-of-md5s-7" bash -c "[[ '$etag' == *-7\\\" ]]"
check "aws s3 cp 50 MiB down" aws s3 cp s3://bkt/big "$work/big.back" --quiet
check "50 MiB round trip" cmp "$work/big" "$work/big.back"
rm -f "$work/big.back"
check "no upload left behind" test "$(aws s3api list-multipart-uploads --bucket bkt --query 'length(Uploads || `[]`)' --output text)" = 0

# Ranges.
# Presigned URLs (and ranges through them).
purl=$(aws s3 presign s3://bkt/dir/small --expires-in 60)
check "range GET gives 10 bytes" cmp <(curl -sf -H 'Range: bytes=10-19' "$purl") <(head -c 20 "$work/small" | tail -c 10)
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=200000-' "$purl")
check "unsatisfiable range is 416" test "$code" = 416
check "presigned GET works with plain curl" cmp <(curl -sf "$purl") "$work/small"
code=$(curl -s -o /dev/null -w '%{http_code}' "${purl/Signature=/Signature=0}")
check "tampered presigned URL is refused" test "$code" = 403

# Copy, metadata directives and source conditions.
aws s3api put-object --bucket bkt --key meta/src --body "$work/small" \
    --content-type text/x-pier --cache-control max-age=60 \
    --metadata color=blue >/dev/null
check "copy (COPY)" quiet aws s3api copy-object --bucket bkt --key meta/c1 --copy-source bkt/meta/src
ct=$(aws s3api head-object --bucket bkt --key meta/c1 --query '[ContentType,CacheControl,Metadata.color]' --output text)
check "COPY keeps metadata" test "$ct" = "text/x-pier	max-age=60	blue"
check "copy (REPLACE)" quiet aws s3api copy-object --bucket bkt --key meta/c2 --copy-source bkt/meta/src \
    --metadata-directive REPLACE --content-type text/y --metadata color=red
ct=$(aws s3api head-object --bucket bkt --key meta/c2 --query '[ContentType,Metadata.color]' --output text)
check "REPLACE replaces metadata" test "$ct" = "text/y	red"
# Delete, multi-delete.
check "aws s3 rm" aws s3 rm s3://bkt/meta/c1 --quiet
check "aws s3 rm --recursive (DeleteObjects)" aws s3 rm s3://bkt/page --recursive --quiet
check "page/ is empty" test -z "$(aws s3 ls s3://bkt/page/)"
set +e
aws s3 rb s3://bkt >/dev/null 2>"$work/err"
set -e
check "non-empty bucket is BucketNotEmpty" grep -q BucketNotEmpty "$work/err"
set +e
aws s3 mb s3://bkt >/dev/null 2>"$work/err"
set -e
check "second mb is BucketAlreadyOwnedByYou" grep -q BucketAlreadyOwnedByYou "$work/err"
check "location is us-east-1 (empty)" test "$(aws s3api get-bucket-location --bucket bkt --output text)" = None

# ---- curl: no signature, no data ----
curl -s -o "$work/anon" -w '%{http_code}' "$url/bkt/dir/small" >"$work/code"
check "anonymous GET is 403" test "$(cat "$work/code")" = 403
check "... AccessDenied" grep -q "<Code>AccessDenied</Code>" "$work/anon"
check "... with a RequestId" grep -q "<RequestId>[0-9a-f]\{16\}</RequestId>" "$work/anon"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data x "$url/bkt/anon")
check "anonymous PUT is 403" test "$code" = 403
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/")
check "anonymous ListBuckets is 403" test "$code" = 403
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/bkt?acl")
check "anonymous sub-resource is 403 before 501" test "$code" = 403
check "health answers without auth" test "$(curl -sf "$url/_pier/health")" = ok
check "every answer has x-amz-request-id" bash -c "curl -sI '$url/_pier/health' | grep -qi '^x-amz-request-id: '"
# curl's own SigV4 with the header S3 needs. (curl 7.88 signs a valueless
# query parameter "acl" as "acl", not "acl=": its URLs here use "acl=".)
code=$(curl -s -o "$work/cs" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$url/bkt/dir/small")
check "curl --aws-sigv4 GET" test "$code" = 200
check "... the right bytes" cmp "$work/cs" "$work/small"
# TLS beside the plain listener.
code=$(curl -s -k -o "$work/tl" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "https://$tls_addr/bkt/dir/small")
check "GET over TLS" test "$code" = 200
check "... the right bytes" cmp "$work/tl" "$work/small"
check "awscli over TLS" quiet /usr/bin/aws --endpoint-url "https://$tls_addr" --no-verify-ssl \
    s3 cp "$work/small" s3://bkt/tls/small
check "... stored" cmp <(curl -sf "$(aws s3 presign s3://bkt/tls/small)") "$work/small"
# Virtual-host style: the bucket in Host (BUCKET.localhost, the default
# domain), signed by curl over the same loopback address.
port=${addr##*:}
code=$(curl -s -o "$work/vh" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --connect-to "bkt.localhost:$port:127.0.0.1:$port" "http://bkt.localhost:$port/dir/small")
check "virtual-host GET" test "$code" = 200
check "... the right bytes" cmp "$work/vh" "$work/small"

# Conditional PUT (the publisher's live pointer flip), signed by curl.
cput() { # cput KEY BODY HEADER... -> status
    local k=$1 b=$2
    shift 2
    curl -s -o "$work/cput" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -X PUT --data-binary "$b" "$@" "$url/bkt/live/site"
}
check "If-None-Match: * creates" test "$(cput live/site d1 -H 'If-None-Match: *')" = 200
check "If-None-Match: * on an existing key is 412" test "$(cput live/site d2 -H 'If-None-Match: *')" = 412
check "... PreconditionFailed" grep -q PreconditionFailed "$work/cput"
old="\"$(printf d1 | md5sum | cut -d' ' -f1)\""
check "If-Match old ETag flips" test "$(cput live/site d2 -H "If-Match: $old")" = 200
check "If-Match stale ETag is 412" test "$(cput live/site d3 -H "If-Match: $old")" = 412
check "the pointer holds d2" test "$(aws s3 cp s3://bkt/live/site -)" = d2

# ---- keys, grants and the refusal matrix ----
"$PIER" keys add reader --grant bkt/dir/:read --data "$data" >"$work/reader.env" 2>"$work/keys.err"
check "pier keys add prints shell lines" grep -q '^AWS_SECRET_ACCESS_KEY=' "$work/reader.env"
check "pier keys add signals the server" grep -q "told pier objstore" "$work/keys.err"
"$PIER" keys list --data "$data" >"$work/keys.list"
check "pier keys list names keys" grep -q "^reader PK[A-Z2-7]* - bkt/dir/:read$" "$work/keys.list"
check "pier keys list shows no secret" bash -c "! grep -q \"$admin_secret\" '$work/keys.list'"
sleep 0.5
before=$(aws s3 ls s3://bkt --recursive | sort | md5sum)
(
    eval "$(cat "$work/reader.env")"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    check "reader may read inside its grant" aws s3 cp s3://bkt/dir/small "$work/r" --quiet
    set +e
    aws s3api get-object --bucket bkt --key meta/src "$work/r" 2>"$work/e1" >/dev/null
    aws s3 cp "$work/small" s3://bkt/dir/new 2>"$work/e2" >/dev/null
    aws s3 rm s3://bkt/dir/small 2>"$work/e3" >/dev/null
    aws s3 ls s3://bkt/ 2>"$work/e4"
    aws s3api create-multipart-upload --bucket bkt --key dir/x 2>"$work/e5" >/dev/null
    aws s3 mb s3://other 2>"$work/e6"
    set -e
    check "reader reading outside its grant: AccessDenied" grep -q AccessDenied "$work/e1"
    check "reader writing: AccessDenied" grep -q AccessDenied "$work/e2"
    check "reader deleting: AccessDenied" grep -q AccessDenied "$work/e3"
    check "reader listing outside its grant: AccessDenied" grep -q AccessDenied "$work/e4"
    check "reader starting an upload: AccessDenied" grep -q AccessDenied "$work/e5"
    check "reader creating a bucket: AccessDenied" grep -q AccessDenied "$work/e6"
    check "reader listing inside its grant" quiet aws s3 ls s3://bkt/dir/
    [ "$failures" = 0 ]
) || failures=$((failures + 1))
set +e
AWS_SECRET_ACCESS_KEY=wrong aws s3 ls s3://bkt 2>"$work/e7"
AWS_ACCESS_KEY_ID=PKUNKNOWNUNKNOWNUNKN aws s3 ls s3://bkt 2>"$work/e8"
set -e
check "wrong secret: SignatureDoesNotMatch" grep -q SignatureDoesNotMatch "$work/e7"
check "unknown key: InvalidAccessKeyId" grep -q InvalidAccessKeyId "$work/e8"
code=$(curl -s -o "$work/skew" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -H "x-amz-date: 20200101T000000Z" "$url/bkt/dir/small")
check "skewed date: 403 RequestTimeTooSkewed" grep -q RequestTimeTooSkewed "$work/skew"
code=$(curl -s -o "$work/tamper" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" \
    -H "x-amz-content-sha256: $(printf good | sha256sum | cut -d' ' -f1)" \
    -X PUT --data-binary bad "$url/bkt/tampered")
check "tampered body: XAmzContentSHA256Mismatch" grep -q XAmzContentSHA256Mismatch "$work/tamper"
code=$(curl -s -o "$work/badmd5" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -H "Content-MD5: $(printf good | openssl md5 -binary | base64)" \
    -X PUT --data-binary bad "$url/bkt/badmd5")
check "wrong Content-MD5: BadDigest" grep -q BadDigest "$work/badmd5"
code=$(curl -s -o "$work/mx" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X POST --data-binary '<Delete><Object>' "$url/bkt?delete=")
check "malformed XML: MalformedXML" grep -q MalformedXML "$work/mx"
set +e
aws s3api create-bucket --bucket Bad_Name 2>"$work/e9" >/dev/null
aws s3api put-object --bucket bkt --key "$(head -c 1025 /dev/zero | tr '\0' k)" --body "$work/small" 2>"$work/e10" >/dev/null
set -e
check "invalid bucket name: InvalidBucketName" grep -q InvalidBucketName "$work/e9"
check "1025-byte key: KeyTooLongError" grep -q KeyTooLongError "$work/e10"
code=$(curl -s -o "$work/ni" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$admin_id:$admin_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$url/bkt?acl=")
check "unsupported sub-resource: 501 NotImplemented" grep -q NotImplemented "$work/ni"
after=$(aws s3 ls s3://bkt --recursive | sort | md5sum)
check "refusals changed nothing" test "$before" = "$after"

check "pier keys rm" "$PIER" keys rm reader --data "$data"
sleep 0.5
(
    eval "$(cat "$work/reader.env")"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    set +e
    aws s3api get-object --bucket bkt --key dir/small "$work/r" 2>"$work/e11" >/dev/null
    set -e
    grep -q InvalidAccessKeyId "$work/e11"
) || true
check "a removed key is gone after SIGHUP" grep -q InvalidAccessKeyId "$work/e11"

# ---- a server configured by pier.conf alone ----
printf '[objstore]\ndata = %s\nlisten = 127.0.0.1:0\nregion = eu-test-1\ndomain = a.test\ndomain = b.test\nworkers = 1\n[edge]\nbucket = other\n' \
    "$work/cfgdata" >"$work/pier.conf"
PIER_CONFIG="$work/pier.conf" start_server cfg "$PIER" objstore
cfg_addr=$(ready_addr cfg http)
cfg_code() { # REGION [CURL ARGS...]: the status of a request signed for REGION
    local region=$1
    shift
    (
        eval "$(grep '^AWS_' "$work/cfg.out")"
        curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$region:s3" \
            --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d" " -f1)" "$@"
    )
}
check "config: data directory from the file" test -f "$work/cfgdata/keys"
check "config: region from the file" test "$(cfg_code eu-test-1 "http://$cfg_addr/")" = 200
check "config: ... and no other" test "$(cfg_code us-east-1 "http://$cfg_addr/")" = 400
check "config: CreateBucket" test "$(cfg_code eu-test-1 -X PUT "http://$cfg_addr/cfgb")" = 200
check "config: the second domain addresses the bucket" \
    test "$(cfg_code eu-test-1 -I -H "Host: cfgb.b.test" "http://$cfg_addr/")" = 200
check "config: ... an unlisted one does not" \
    test "$(cfg_code eu-test-1 -I -H "Host: cfgb.c.test" "http://$cfg_addr/")" = 405

finish
