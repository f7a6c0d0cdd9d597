#!/usr/bin/env bash
# tests/publish/test_publish.sh - `pier publish`, `pier deploys` and
# `pier rollback` against a real `pier objstore` and a real `pier edge`:
# a first publish served by the edge, a no-op, one page changed, one
# stylesheet changed (a new hashed name the edge serves immutable), the
# deploy list, a rollback the edge applies, a failing build that leaves
# live alone; the progress (plain lines when piped, a bar on a terminal,
# none with --quiet) and the summary (deploy id, bytes, changed paths,
# the site's URLs from its record and pier.conf).
source "$(dirname "$0")/../integ/lib.sh"

AWS=/usr/bin/aws
if [ ! -x "$AWS" ]; then
    echo "FAIL: $AWS not installed (scripts/install-deps)" >&2
    exit 1
fi

# No pier.conf of the user's may answer for the flags below.
export PIER_HOME="$work/home"
unset PIER_CONFIG

# The store, its bucket, a publisher key and a read-only edge key.
start_server objstore "$PIER" objstore --data "$work/data" \
    --listen 127.0.0.1:0
ep="http://$(ready_addr objstore http)"
mapfile -t admin_env < <(grep '^AWS_' "$work/objstore.out")
env "${admin_env[@]}" "$AWS" --endpoint-url "$ep" --region us-east-1 \
    s3 mb s3://pier >/dev/null
"$PIER" keys add publisher --grant pier:write --data "$work/data" \
    >"$work/pub.env" 2>/dev/null
"$PIER" keys add edge --grant pier:read --data "$work/data" \
    >"$work/edge.env" 2>/dev/null
mapfile -t pub_env < <(grep '^AWS_' "$work/pub.env")
mapfile -t edge_env < <(grep '^AWS_' "$work/edge.env")
echo "t0k3n" >"$work/token"

site="$work/site"
git_() {
    git -C "$site" -c user.name=t -c user.email=t@t "$@"
}
publish() {
    env "${pub_env[@]}" "$PIER" publish --site demo --repo "$site" \
        --endpoint "$ep" "$@"
}
page() { # page PATH: the body the edge serves for demo's PATH
    curl -s -H "Host: demo.localhost" "http://$http$1"
}

mkdir -p "$site/css" "$site/img"
git init -q -b main "$site"
printf '<!doctype html><link rel=stylesheet href="css/site.css">\n<p>home <img src=img/logo.png>\n' \
    >"$site/index.html"
printf '<p>about\n' >"$site/about.html"
printf 'body{background:url(../img/bg.png)}\n' >"$site/css/site.css"
printf 'LOGO' >"$site/img/logo.png"
printf 'BG' >"$site/img/bg.png"
printf '/old /about 301\n' >"$site/_redirects"
git_ add -A
git_ commit -qm one

# The site's record: its domain gives the URL the summary prints.
printf '[site]\nname = demo\ndomain = demo.example.com\nredirect_https = true\n' \
    >"$work/demo.ini"
env "${pub_env[@]}" "$AWS" --endpoint-url "$ep" --region us-east-1 \
    s3 cp "$work/demo.ini" s3://pier/sites/demo.ini >/dev/null

# A first deploy, before the edge starts: the edge loads it from the store.
out=$(publish 2>"$work/publish.err")
check "first publish is live" grep -q "is live" <<<"$out"
check "first publish uploads each blob" grep -q " 5 uploaded" <<<"$out"
live=$(env "${pub_env[@]}" "$AWS" --endpoint-url "$ep" --region us-east-1 \
    s3 cp s3://pier/live/demo - 2>/dev/null | tr -d '\n')
check "summary names the deploy id" grep -q "^demo: deploy $live is live" <<<"$out"
check "summary names the bytes sent" grep -Eq " [1-9][0-9]* bytes sent" <<<"$out"
check "summary lists changed paths" grep -q "^demo:   /about.html$" <<<"$out"
check "summary gives the domain's URL" grep -q "^demo: https://demo.example.com/$" <<<"$out"
check "summary gives the time per phase" grep -q "time: read .* upload .* activate" <<<"$out"
check "piped progress: phase lines" grep -q "files: reading" "$work/publish.err"
check "piped progress: no control characters" \
    bash -c '! grep -q "[[:cntrl:]]" "$0"' "$work/publish.err"

start_server edge env "${edge_env[@]}" "$PIER" edge --endpoint "$ep" \
    --listen 127.0.0.1:0 --admin 127.0.0.1:0 --admin-token-file "$work/token"
http=$(ready_addr edge http)
admin=$(ready_addr edge admin)
edge_flags=(--edge "http://$admin" --edge-token t0k3n)

home=$(page /)
css=$(grep -o 'css/site\.[0-9a-f]*\.css' <<<"$home" || true)
check "the edge serves the page, rewritten" test -n "$css"
check "the hashed stylesheet is served immutable" bash -c \
    "curl -sI -H 'Host: demo.localhost' 'http://$http/$css' | grep -qi 'cache-control: public, max-age=31536000, immutable'"
check "the plain stylesheet is served too" bash -c \
    "curl -s -H 'Host: demo.localhost' 'http://$http/css/site.css' | grep -q 'bg\.[0-9a-f]*\.png'"

# The same tree again: nothing to do.
git_ commit -q --allow-empty -m again
out=$(publish "${edge_flags[@]}" 2>"$work/publish.err")
check "same tree is a no-op" grep -q "nothing to do" <<<"$out"

# One page: one blob, one path, and the edge has it at once. On a
# terminal (script(1) gives one) the progress is a bar redrawn in place.
printf '<p>about, changed\n' >"$site/about.html"
git_ commit -qam two
script -qefc "env ${pub_env[*]} '$PIER' publish --site demo --repo '$site' --endpoint '$ep' ${edge_flags[*]}" \
    "$work/tty.log" >/dev/null </dev/null
out=$(tr -d '\r' <"$work/tty.log")
check "one page: one blob" grep -q " 1 uploaded" <<<"$out"
check "one page: one path" grep -q "1 paths changed" <<<"$out"
check "one page: the summary names it" grep -q "^demo:   /about.html$" <<<"$out"
check "one page: the edge applied it" grep -q "1 applied the delta" <<<"$out"
check "one page: the edge's latency" grep -Eq "^demo: edge http://.*: applied \([0-9]+ ms\)" <<<"$out"
check "terminal: the bar is redrawn in place" grep -q $'\r.*blobs 1/1 done.*\e\\[K' "$work/tty.log"
check "one page: the edge serves it" grep -q "about, changed" <<<"$(page /about.html)"

# One image: the stylesheet that uses it gets a new name, and the page.
printf 'BG2' >"$site/img/bg.png"
git_ commit -qam three
out=$(publish --quiet "${edge_flags[@]}" 2>"$work/publish.err")
check "--quiet: no progress" test ! -s "$work/publish.err"
css2=$(grep -o 'css/site\.[0-9a-f]*\.css' <<<"$(page /)" || true)
check "image change renames the stylesheet" test -n "$css2" -a "$css2" != "$css"
check "three blobs: image, stylesheet, page" grep -q " 3 uploaded" <<<"$out"

# The list, then back one deploy: the edge serves the old stylesheet.
out=$(env "${pub_env[@]}" "$PIER" deploys --site demo --endpoint "$ep")
check "deploys lists three" test "$(grep -c '^[ *] 2' <<<"$out")" = 3
check "deploys marks one live" test "$(grep -c '^\* ' <<<"$out")" = 1
out=$(env "${pub_env[@]}" "$PIER" rollback --site demo --endpoint "$ep" \
    "${edge_flags[@]}" 2>"$work/rollback.err")
check "rollback says so" grep -q "is live again" <<<"$out"
check "rollback reached the edge" grep -q "applied" "$work/rollback.err"
check "the edge serves the previous stylesheet" grep -q "$css" <<<"$(page /)"

# A failing build publishes nothing and says why.
printf '[build]\ncommand = echo compiling; exit 3\n' >"$site/pier.ini"
git_ add pier.ini
git_ commit -qm build
set +e
publish "${edge_flags[@]}" >"$work/out" 2>"$work/publish.err"
rc=$?
set -e
check "failing build exits 1" test "$rc" = 1
check "failing build shows its output" grep -q "compiling" "$work/publish.err"
check "failing build names the status" grep -q "exit status 3" "$work/publish.err"
check "failing build leaves the site as it was" grep -q "$css" <<<"$(page /)"

# pier.conf's [publish] section stands in for every flag and variable.
{
    echo "[publish]"
    echo "endpoint = $ep"
    sed -n 's/^AWS_ACCESS_KEY_ID=/access_key_id = /p; s/^AWS_SECRET_ACCESS_KEY=/secret_access_key = /p' "$work/pub.env"
    echo "edge = http://$admin"
    echo "edge_token = t0k3n"
    echo "[up]"
    echo "http = 127.0.0.1:8080"
} >"$work/pier.conf"
git_ rm -q pier.ini
printf '<p>about, from the conf\n' >"$site/about.html"
git_ commit -qam conf
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
    "$PIER" publish --site demo --repo "$site" --config "$work/pier.conf" \
    2>"$work/publish.err")
check "pier.conf: publish is live" grep -q "is live" <<<"$out"
check "pier.conf: the edge applied it" grep -q "1 applied the delta" <<<"$out"
check "pier.conf: the local edge's URL" grep -q "^demo: http://demo.localhost:8080/$" <<<"$out"
check "pier.conf: the edge serves it" grep -q "from the conf" <<<"$(page /about.html)"
finish
