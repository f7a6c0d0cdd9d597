#!/usr/bin/env bash
# tests/publish/test_gc_store.sh - `pier gc` against a real `pier
# objstore`, and `[assets] integrity = sha384` checked with openssl: three
# deploys with distinct assets; a dry run changes nothing; gc --keep 1
# --grace 0s deletes the old manifests and exactly the blobs (and
# variants) the live deploy does not list; a fresh edge still serves the
# whole live site, its integrity attributes matching the bytes it serves;
# rollback to a deleted deploy fails cleanly; a --grace 1d run keeps young
# blobs; gc racing a publish and a rollback (publish/gc.h).
source "$(dirname "$0")/../integ/lib.sh"

for tool in zstd openssl /usr/bin/python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool not installed (scripts/install-deps)" >&2
        exit 1
    fi
done

export PIER_HOME="$work/home"
unset PIER_CONFIG

start_server objstore "$PIER" objstore --data "$work/data" \
    --listen 127.0.0.1:0
ep="http://$(ready_addr objstore http)"
admin_id=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$work/objstore.out")
admin_secret=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$work/objstore.out")
# The store as the admin sees it, through curl's SigV4 (the aws CLI takes
# seconds to start on a loaded machine). Query values are sent encoded,
# as curl 7.88 signs them as they are.
s3curl() { # s3curl PATH?QUERY [CURL ARGS]
    curl -sf -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        --aws-sigv4 "aws:amz:us-east-1:s3" -u "$admin_id:$admin_secret" \
        "$ep/pier$1" "${@:2}"
}
s3curl "" -X PUT
"$PIER" keys add publisher --grant pier:write --data "$work/data" \
    >"$work/pub.env" 2>/dev/null
"$PIER" keys add edge --grant pier:read --data "$work/data" \
    >"$work/edge.env" 2>/dev/null
mapfile -t pub_env < <(grep '^AWS_' "$work/pub.env")
mapfile -t edge_env < <(grep '^AWS_' "$work/edge.env")

site="$work/site"
git_() {
    git -C "$site" -c user.name=t -c user.email=t@t "$@"
}
pier_() { # pier_ CMD ARGS...: a client command on the store
    local cmd=$1
    shift
    env "${pub_env[@]}" "$PIER" "$cmd" --endpoint "$ep" "$@"
}
live_id() {
    s3curl /live/demo | tr -d '[:space:]'
}
manifest() { # manifest ID: the deploy's JSON
    s3curl "/sites/demo/deploys/$1.json.zst" | zstd -dcq
}
# The SHA-256 of path $2 in manifest JSON $1.
sha_of() {
    /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["files"][sys.argv[2]]["sha256"])' "$1" "$2"
}
# Every blob key the manifest JSON on stdin names, variants included.
manifest_blobs() {
    /usr/bin/python3 -c '
import json, sys
suf = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
keys = set()
for e in json.load(sys.stdin)["files"].values():
    keys.add("blobs/" + e["sha256"])
    for enc in e.get("enc", {}):
        keys.add("blobs/" + e["sha256"] + suf[enc])
print("\n".join(sorted(keys)))'
}
stored_blobs() { # every key under blobs/, sorted (fewer than 1000 here)
    s3curl "?list-type=2&prefix=blobs%2F" >"$work/list.xml"
    if grep -q '<IsTruncated>true' "$work/list.xml"; then
        echo "FAIL: more blobs than one listing page" >&2
        exit 1
    fi
    grep -o '<Key>[^<]*</Key>' "$work/list.xml" | sed 's/<[^>]*>//g' | sort
}
sri() { # sri FILE: what Chromium computes for it
    echo "sha384-$(openssl dgst -sha384 -binary "$1" | base64 -w0)"
}

# Deploy k: a page, a script big enough for compressed variants, a
# stylesheet and the image it uses, all new each time; about.html stays.
write_site() {
    local k=$1 i
    printf '<!doctype html>\n<LINK REL=stylesheet HREF="style.css"/>\n<script src=app.js></script>\n<p>page v%s <img src=img.png>\n' \
        "$k" >"$site/index.html"
    : >"$site/app.js"
    for i in $(seq 40); do
        printf 'console.log("version %s line %s");\n' "$k" "$i" >>"$site/app.js"
    done
    printf 'body{color:#00%s;background:url(bg.png)}\n' "$k" >"$site/style.css"
    printf 'BG%s' "$k" >"$site/bg.png"
    printf 'IMG%s' "$k" >"$site/img.png"
}

mkdir -p "$site"
git init -q -b main "$site"
printf '[assets]\nintegrity = sha384\n' >"$site/pier.ini"
printf '<p>about\n' >"$site/about.html"
ids=()
for k in 1 2 3; do
    write_site "$k"
    git_ add -A
    git_ commit -qm "v$k"
    out=$(pier_ publish --site demo --repo "$site" 2>"$work/publish.err")
    check "deploy $k is live" grep -q "is live" <<<"$out"
    ids+=("$(live_id)")
done
check "three deploys" test "$(pier_ deploys --site demo | grep -c '^[ *] 2')" = 3

# Subresource Integrity, checked against the stored identity bytes:
# check_sri ID K (deploy ID's page says "page vK"); sets js_name and
# css_name.
check_sri() {
    local m
    m=$(manifest "$1")
    s3curl "/blobs/$(sha_of "$m" /index.html)" -o "$work/page"
    s3curl "/blobs/$(sha_of "$m" /app.js)" -o "$work/app.js"
    s3curl "/blobs/$(sha_of "$m" /style.css)" -o "$work/style.css"
    js_name=$(grep -o 'src=app\.[0-9a-f]\{10\}\.js' "$work/page" | cut -d= -f2 || true)
    css_name=$(grep -o 'HREF="style\.[0-9a-f]\{10\}\.css"' "$work/page" | cut -d'"' -f2 || true)
    check "v$2: the script has a 10-digit hashed name" test -n "$js_name"
    check "v$2: the stylesheet has a 10-digit hashed name" test -n "$css_name"
    check "v$2: the script's integrity is its sha384" \
        grep -qF "<script src=$js_name integrity=\"$(sri "$work/app.js")\"></script>" "$work/page"
    check "v$2: the stylesheet's integrity covers its rewritten bytes" \
        grep -qF "<LINK REL=stylesheet HREF=\"$css_name\" integrity=\"$(sri "$work/style.css")\"/>" "$work/page"
    check "v$2: the stylesheet was rewritten" grep -q 'bg\.[0-9a-f]\{10\}\.png' "$work/style.css"
    check "v$2: the rest of the page is as written" \
        grep -qF "<p>page v$2 <img src=img." "$work/page"
}
check_sri "${ids[2]}" 3

# What the live deploy needs, and what is there.
manifest "${ids[2]}" | manifest_blobs >"$work/need"
stored_blobs >"$work/before"
check "old deploys left blobs the live one does not need" \
    test -n "$(comm -13 "$work/need" "$work/before")"
check "some blobs have compressed variants" grep -q '\.br$' "$work/before"

# A dry run says what would go and deletes nothing.
out=$(pier_ gc --keep 1 --grace 0s --dry-run)
check "dry run: two deploys to delete" grep -q "1 deploys kept, 2 to delete" <<<"$out"
stored_blobs >"$work/after_dry"
check "dry run: blobs untouched" cmp -s "$work/before" "$work/after_dry"
check "dry run: deploys untouched" \
    test "$(pier_ deploys --site demo | grep -c '^[ *] 2')" = 3

# The real thing.
out=$(pier_ gc --keep 1 --grace 0s)
want=$(comm -13 "$work/need" "$work/before" | wc -l)
check "gc: summary line" grep -q "1 sites, 1 deploys kept, 2 deleted; $want blobs deleted" <<<"$out"
stored_blobs >"$work/after"
check "gc: exactly the live deploy's blobs remain" cmp -s "$work/need" "$work/after"
check "gc: one deploy left" \
    test "$(pier_ deploys --site demo | grep -c '^\* 2')" = 1
check "gc: the live deploy is untouched" test "$(live_id)" = "${ids[2]}"

# A fresh edge (an empty cache) serves the whole live site.
start_server edge env "${edge_env[@]}" "$PIER" edge --endpoint "$ep" \
    --listen 127.0.0.1:0 --admin off
http=$(ready_addr edge http)
get() { # get PATH [CURL ARGS]
    curl -sf -H "Host: demo.localhost" "http://$http$1" "${@:2}"
}
for p in / /about.html /app.js "/$js_name" "/$css_name" /style.css /img.png \
    /bg.png; do
    check "the edge serves $p" get "$p" -o /dev/null
done
get "/$js_name" >"$work/served.js"
get / >"$work/served.html"
check "the served page's integrity matches the served script" \
    grep -qF "integrity=\"$(sri "$work/served.js")\"" "$work/served.html"
check "the compressed variant is served" bash -c \
    "curl -sf -H 'Host: demo.localhost' -H 'Accept-Encoding: br' 'http://$http/$js_name' -o /dev/null -D - | grep -qi 'content-encoding: br'"

# Rollback to a deleted deploy fails with one line.
set +e
pier_ rollback --site demo "${ids[0]}" >"$work/rb.out" 2>"$work/rb.err"
rc=$?
set -e
check "rollback to a deleted deploy fails" test "$rc" != 0
check "rollback says why in one line" test "$(wc -l <"$work/rb.err")" = 1
check "rollback leaves live alone" test "$(live_id)" = "${ids[2]}"

# Nothing more to take.
out=$(pier_ gc --keep 1 --grace 1d)
check "second gc deletes nothing" grep -q "0 deleted; 0 blobs deleted" <<<"$out"

# A fourth deploy: with a day of grace the third's blobs stay, its
# manifest goes.
write_site 4
git_ add -A
git_ commit -qm v4
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
out=$(pier_ gc --keep 1 --grace 1d)
check "grace: the old manifest goes" grep -q "1 deploys kept, 1 deleted" <<<"$out"
check "grace: young blobs stay" grep -q "0 blobs deleted" <<<"$out"
check "grace: they are counted" grep -qv " 0 unreferenced within" <<<"$out"

# Only the page's text changes: the script and stylesheet are unchanged
# (known by hash only, read again for their digests), the integrity the
# same and right.
js4=$js_name
check_sri "$(live_id)" 4
check "v4 has a new script" test "$js_name" != "$js4"
js4=$js_name
css4=$css_name
sed -i 's/page v4/page v5/' "$site/index.html"
git_ commit -qam v5
out=$(pier_ publish --site demo --repo "$site" 2>"$work/publish.err")
check "page-only change: one blob" grep -q " 1 uploaded" <<<"$out"
check "page-only change: no warning" bash -c "! grep -q warning '$work/publish.err'"
check_sri "$(live_id)" 5
check "page-only change: same script" test "$js_name" = "$js4"
check "page-only change: same stylesheet" test "$css_name" = "$css4"

# More than one DeleteObjects batch: 1005 blobs nobody references, then
# a gc without grace leaves exactly the live deploy's blobs.
# One curl, eight requests at a time.
/usr/bin/python3 -c 'import hashlib, sys
for i in range(1005):
    print("url = \"%s/pier/blobs/%s\"\noutput = /dev/null"
          % (sys.argv[1], hashlib.sha256(b"junk %d" % i).hexdigest()))' \
    "$ep" >"$work/junk.curlrc"
s3curl /junk -X PUT --data-binary junk --parallel --parallel-max 8 \
    -K "$work/junk.curlrc" -o /dev/null
check "1005 more blobs stored" test "$(s3curl "?list-type=2&prefix=blobs%2F" |
    grep -c '<IsTruncated>true')" = 1
out=$(pier_ gc --keep 1 --grace 0s)
deleted=$(sed -n 's/.*; \([0-9]*\) blobs deleted.*/\1/p' <<<"$out")
check "two batches: the junk and the old deploys' blobs go" \
    test "${deleted:-0}" -gt 1005
manifest "$(live_id)" | manifest_blobs >"$work/need"
stored_blobs >"$work/after"
check "two batches: exactly the live deploy's blobs remain" \
    cmp -s "$work/need" "$work/after"

# gc racing a publish (publish/gc.h). A publish that reuses stored
# blobs refreshes the old ones (a copy onto themselves) before writing
# its manifest; gc deletes a blob only if its LastModified is still the
# listed one. Staged with the test-only hooks: PIER_TEST_REFRESH_ALL
# makes every reused blob "old" for the publish, PIER_TEST_GC_NOW (two
# days ahead) makes every blob old for gc, PIER_TEST_GC_WAIT pauses gc
# between choosing the blobs and deleting them.
lm_of() { # lm_of KEY: its LastModified as listed
    s3curl "?list-type=2&prefix=$(sed 's|/|%2F|g' <<<"$1")" |
        grep -o '<LastModified>[^<]*' | head -1 | cut -d'>' -f2
}
# X: 70 files (more than SURVEY_MIN blobs to look up: the survey path);
# Y: the same paths, other bytes.
write_many() {
    local k=$1 i
    rm -rf "$site"/many
    mkdir -p "$site/many"
    for i in $(seq 70); do
        printf 'file %s of set %s\n' "$i" "$k" >"$site/many/f$i.txt"
    done
    printf 'var set_%s = [%s];\n' "$k" "$(seq -s, 400)" >"$site/many/big.js"
}
write_many X
git_ add -A
git_ commit -qm X
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
x_id=$(live_id)
write_many Y
git_ add -A
git_ commit -qm Y
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
manifest "$x_id" | manifest_blobs >"$work/x_blobs"
manifest "$(live_id)" | manifest_blobs >"$work/y_blobs"
comm -23 "$work/x_blobs" "$work/y_blobs" >"$work/x_only"
check "the race: X has blobs Y does not use" test "$(wc -l <"$work/x_only")" -gt 70
check "the race: some of them are variants" grep -q '\.br$' "$work/x_only"
while read -r k; do
    echo "$k $(lm_of "$k")"
done <"$work/x_only" >"$work/x_lm_before"

# gc lists, finds X's blobs unreferenced (X's manifest goes: --keep 0)
# and old, and waits; meanwhile X is published again (a revert).
rm -f "$work/go" "$work/go.ready"
env PIER_TEST_GC_NOW=$(($(date +%s) + 2 * 86400)) \
    PIER_TEST_GC_WAIT="$work/go" "${pub_env[@]}" "$PIER" gc --endpoint "$ep" \
    --keep 0 --grace 1d >"$work/gc_race.out" 2>"$work/gc_race.err" &
gc_pid=$!
for _ in $(seq 300); do
    test -e "$work/go.ready" && break
    sleep 0.1
done
check "the race: gc has chosen its blobs" test -e "$work/go.ready"
git_ revert --no-edit HEAD >/dev/null
sleep 0.01 # a LastModified of another millisecond
out=$(env PIER_TEST_REFRESH_ALL=1 "${pub_env[@]}" "$PIER" publish \
    --endpoint "$ep" --site demo --repo "$site" 2>&1)
check "the race: the revert is live" grep -q "is live" <<<"$out"
check "the race: nothing uploaded, all found" grep -q " 0 uploaded (+0 variants)" <<<"$out"
check "the race: the reused objects were refreshed" \
    grep -q "already stored ($(wc -l <"$work/x_only") objects refreshed)" <<<"$out"
moved=0
while read -r k lm; do
    test "$(lm_of "$k")" != "$lm" && moved=$((moved + 1))
done <"$work/x_lm_before"
check "the race: every refreshed LastModified moved" \
    test "$moved" = "$(wc -l <"$work/x_only")"
touch "$work/go"
gc_rc=0
wait "$gc_pid" || gc_rc=$?
check "the race: gc succeeds" test "$gc_rc" = 0
check "the race: gc warns about nothing" test ! -s "$work/gc_race.err"
check "the race: gc deleted none of the live deploy's blobs" \
    grep -q "; 0 blobs deleted" "$work/gc_race.out"
check "the race: gc counts them as written meanwhile" \
    grep -q ", $(wc -l <"$work/x_only") written meanwhile (kept)" "$work/gc_race.out"
manifest "$(live_id)" | manifest_blobs >"$work/need"
stored_blobs >"$work/after"
check "the race: every blob of the live deploy is stored" \
    test -z "$(comm -23 "$work/need" "$work/after")"

# A publish of few blobs (one listing each, not the survey) refreshes
# too, and a conditional delete with a time listed before fails.
printf 'solo\n' >"$site/solo.txt"
git_ add -A
git_ commit -qm solo
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
solo=$(comm -13 "$work/need" <(manifest "$(live_id)" | manifest_blobs) | head -1)
lm=$(lm_of "$solo")
git_ rm -q solo.txt
git_ commit -qm unsolo
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
git_ revert --no-edit HEAD >/dev/null
sleep 0.01
out=$(env PIER_TEST_REFRESH_ALL=1 "${pub_env[@]}" "$PIER" publish \
    --endpoint "$ep" --site demo --repo "$site" 2>&1)
check "one listing per blob: refreshed" grep -q "(1 objects refreshed)" <<<"$out"
check "one listing per blob: LastModified moved" test "$(lm_of "$solo")" != "$lm"
printf '<Delete><Quiet>true</Quiet><Object><Key>%s</Key><LastModifiedTime>%s</LastModifiedTime></Object></Delete>' \
    "$solo" "$lm" >"$work/del.xml"
s3curl "?delete=" -X POST --data-binary @"$work/del.xml" \
    -H "Content-MD5: $(openssl dgst -md5 -binary "$work/del.xml" | base64)" \
    >"$work/del.out"
check "a stale LastModifiedTime: PreconditionFailed" \
    grep -q "<Code>PreconditionFailed</Code>" "$work/del.out"
check "a stale LastModifiedTime: the blob stays" s3curl "/$solo" -o /dev/null

# gc first: the blob goes between the publish's listing and its refresh;
# the refresh answers NoSuchKey and the publish uploads it again.
git_ revert --no-edit HEAD >/dev/null
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
git_ revert --no-edit HEAD >/dev/null
rm -f "$work/go2" "$work/go2.ready"
env PIER_TEST_REFRESH_ALL=1 PIER_TEST_PUBLISH_WAIT="$work/go2" \
    "${pub_env[@]}" "$PIER" publish --endpoint "$ep" --site demo \
    --repo "$site" >"$work/gone.out" 2>&1 &
pub_pid=$!
for _ in $(seq 300); do
    test -e "$work/go2.ready" && break
    sleep 0.1
done
check "gc first: the publish waits before refreshing" test -e "$work/go2.ready"
s3curl "/$solo" -X DELETE
check "gc first: the blob is gone" test -z "$(stored_blobs | grep -F "$solo")"
touch "$work/go2"
pub_rc=0
wait "$pub_pid" || pub_rc=$?
check "gc first: the publish succeeds" test "$pub_rc" = 0
check "gc first: the blob is uploaded again" grep -q " 1 uploaded" "$work/gone.out"
check "gc first: and stored" s3curl "/$solo" -o /dev/null

# gc racing a rollback (publish/gc.h, point 5). R and then S are
# published; gc (--keep 0, every blob old for it) reads live = S, chooses
# to delete R and waits before deleting manifests; meanwhile a rollback
# to R refreshes R's blobs and manifest and flips. gc's conditional
# delete of R's manifest fails: it keeps R and all R lists.
write_many R
git_ add -A
git_ commit -qm R
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
r_id=$(live_id)
write_many S
git_ add -A
git_ commit -qm S
pier_ publish --site demo --repo "$site" >/dev/null 2>"$work/publish.err"
s_id=$(live_id)
manifest "$r_id" | manifest_blobs >"$work/r_blobs"
manifest "$s_id" | manifest_blobs >"$work/s_blobs"
check "rollback race: R has blobs S does not use" \
    test "$(comm -23 "$work/r_blobs" "$work/s_blobs" | wc -l)" -gt 70
rm -f "$work/go3" "$work/go3.ready"
env PIER_TEST_GC_NOW=$(($(date +%s) + 2 * 86400)) \
    PIER_TEST_GC_WAIT_MANIFESTS="$work/go3" "${pub_env[@]}" "$PIER" gc \
    --endpoint "$ep" --keep 0 --grace 1d >"$work/gc_rb.out" \
    2>"$work/gc_rb.err" &
gc_pid=$!
for _ in $(seq 300); do
    test -e "$work/go3.ready" && break
    sleep 0.1
done
check "rollback race: gc has chosen the deploys" test -e "$work/go3.ready"
sleep 0.01 # a LastModified of another millisecond
rb_rc=0
env PIER_TEST_REFRESH_ALL=1 "${pub_env[@]}" "$PIER" rollback \
    --endpoint "$ep" --site demo "$r_id" >"$work/rb_race.out" \
    2>"$work/rb_race.err" || rb_rc=$?
check "rollback race: the rollback succeeds" test "$rb_rc" = 0
check "rollback race: R is live" test "$(live_id)" = "$r_id"
touch "$work/go3"
gc_rc=0
wait "$gc_pid" || gc_rc=$?
check "rollback race: gc succeeds" test "$gc_rc" = 0
check "rollback race: gc keeps R, restored meanwhile" \
    grep -q "; 1 deploys restored meanwhile (kept)" "$work/gc_rb.out"
check "rollback race: gc does not say it deleted R" \
    bash -c "! grep -q 'deleted deploy $r_id' '$work/gc_rb.out'"
check "rollback race: R's manifest is stored" \
    s3curl "/sites/demo/deploys/$r_id.json.zst" -o /dev/null
stored_blobs >"$work/after"
check "rollback race: every blob R lists is stored" \
    test -z "$(comm -23 "$work/r_blobs" "$work/after")"
check "rollback race: gc deleted others' blobs meanwhile" \
    grep -qv "; 0 blobs deleted" "$work/gc_rb.out"
check "rollback race: every blob S (live when gc read it) lists is stored" \
    test -z "$(comm -23 "$work/s_blobs" "$work/after")"

# gc first: a rollback to S waits before its first refresh, gc (reading
# live = R) deletes S's manifest and the blobs only S lists; the
# rollback's refreshes answer NoSuchKey and it fails, live unchanged.
comm -23 "$work/s_blobs" "$work/r_blobs" | grep -cvE '\.(br|zst|gz)$' \
    >"$work/s_only_n"
rm -f "$work/go4" "$work/go4.ready"
env PIER_TEST_REFRESH_ALL=1 PIER_TEST_PUBLISH_WAIT="$work/go4" \
    "${pub_env[@]}" "$PIER" rollback --endpoint "$ep" --site demo "$s_id" \
    >"$work/rb_gone.out" 2>"$work/rb_gone.err" &
rb_pid=$!
for _ in $(seq 300); do
    test -e "$work/go4.ready" && break
    sleep 0.1
done
check "rollback gc first: the rollback waits before refreshing" \
    test -e "$work/go4.ready"
pier_ gc --keep 0 --grace 0s >"$work/gc_first.out" 2>/dev/null
check "rollback gc first: gc deletes S" \
    grep -q "deleted deploy $s_id" "$work/gc_first.out"
touch "$work/go4"
rb_rc=0
wait "$rb_pid" || rb_rc=$?
check "rollback gc first: the rollback fails" test "$rb_rc" != 0
check "rollback gc first: one line" test "$(wc -l <"$work/rb_gone.err")" = 1
check "rollback gc first: it names what gc deleted" \
    grep -q "deploy $s_id can no longer be restored: $(cat "$work/s_only_n") blobs were deleted by gc; publish it again" \
    "$work/rb_gone.err"
check "rollback gc first: live unchanged" test "$(live_id)" = "$r_id"
stored_blobs >"$work/after"
check "rollback gc first: every blob R lists is still stored" \
    test -z "$(comm -23 "$work/r_blobs" "$work/after")"

# Usage errors.
set +e
pier_ gc >/dev/null 2>"$work/usage.err"
rc=$?
set -e
check "gc without --keep is a usage error" test "$rc" = 2
check "gc --help" bash -c "'$PIER' gc --help | grep -q -- '--grace'"
check "gc --help says it is safe while publishing" \
    bash -c "'$PIER' gc --help | grep -q 'safe while publishing'"
pier_ gc --keep 5 --grace 1h --dry-run >/dev/null 2>"$work/warn.err"
check "gc warns on a grace below two hours" grep -q "warning" "$work/warn.err"
finish
