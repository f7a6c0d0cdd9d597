#!/usr/bin/env bash
# bench/publish.sh - how long a publish takes, against the peers a site
# owner would otherwise use to upload the same folder to the same store:
# `aws s3 sync` (awscli) and `rclone sync`. Not a test.
#
# One generated site (FILES files: pages that reference stylesheets,
# scripts and images) in a git repository; one pier objstore on loopback.
# Three cases, each measured ROUNDS times with the tools interleaved;
# medians are printed with pier's ratio to each peer:
#   cold    the first upload into an empty prefix
#   change  one page edited
#   noop    nothing changed
#   second  (pier only) the same commit published as a second site
# pier does more work than the peers (hashing, rewriting, three
# compressed variants, a manifest, the live-pointer flip), so a ratio
# below 1.0 means pier is faster despite it.
#
# Usage: bench/publish.sh [FILES] [ROUNDS]   (defaults 600 and 3)
set -euo pipefail

files=${1:-600}
rounds=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
pier=${PIER:-$top/pier}
for t in /usr/bin/aws rclone git "$pier"; do
    command -v "$t" >/dev/null || { echo "bench: missing $t (scripts/install-deps --bench)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/pier-bench-publish.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The store, on a free loopback port, with an admin key for the peers.
"$pier" objstore --data "$work/store" --listen 127.0.0.1:0 \
    --ready-file "$work/ready" >"$work/admin.env" 2>"$work/store.log" &
pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
addr=$(awk '$1 == "http" {print $2}' "$work/ready")
endpoint="http://$addr"
eval "$(grep '^AWS_' "$work/admin.env")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=$endpoint
unset AWS_SESSION_TOKEN PIER_HOME PIER_CONFIG
export PIER_HOME="$work/nohome"
/usr/bin/aws --endpoint-url "$endpoint" s3 mb s3://peers >/dev/null
export RCLONE_CONFIG_STORE_TYPE=s3 RCLONE_CONFIG_STORE_PROVIDER=Other
export RCLONE_CONFIG_STORE_ENDPOINT=$endpoint
export RCLONE_CONFIG_STORE_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

# The site: pages referencing shared and per-page assets.
site="$work/site"
mkdir -p "$site/css" "$site/js" "$site/img"
/usr/bin/python3 - "$site" "$files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
def text(k):
    words = ["pier", "edge", "store", "deploy", "asset", "hash", "push", "cache"]
    return " ".join(rnd.choice(words) for _ in range(k))
pages = n // 3
for i in range(n - 2 * pages):
    with open(f"{root}/css/s{i}.css", "w") as f:
        f.write(f".c{i} {{ background: url(../img/i{i % pages}.svg); }}\n" + "/* " + text(200) + " */\n")
for i in range(pages):
    with open(f"{root}/img/i{i}.svg", "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg"><text>{text(30)}</text></svg>\n')
    with open(f"{root}/js/a{i}.js", "w") as f:
        f.write(f"// {text(100)}\nconsole.log({i});\n")
for i in range(pages):
    with open(f"{root}/p{i}.html", "w") as f:
        f.write(f'<!doctype html><html><head><link rel="stylesheet" href="css/s{i % max(1, n - 2 * pages)}.css">'
                f'<script src="js/a{i}.js"></script></head><body><img src="img/i{i}.svg">'
                f"<p>{text(400)}</p></body></html>\n")
PY
git -C "$site" init -q -b main
git -C "$site" add -A
git -C "$site" -c user.name=b -c user.email=b@b commit -qm cold

ms() { # ms CMD...: run CMD quietly, print its wall time in ms
    local t0 t1
    t0=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$work/last.err"; then
        echo "bench: '$*' failed:" >&2
        tail -5 "$work/last.err" >&2
        return 1
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Each round publishes into its own bucket: blobs are content-addressed,
# so a second "cold" publish into the same bucket would upload nothing.
run_pier() { "$pier" publish --site site --bucket "pier-$1" --repo "$site" --endpoint "$endpoint"; }
# The same commit under a second site name: every blob is already stored.
run_second() { "$pier" publish --site second --bucket "pier-$1" --repo "$site" --endpoint "$endpoint"; }
run_aws() { /usr/bin/aws --endpoint-url "$endpoint" s3 sync --quiet --delete --exclude '.git/*' "$site" "s3://peers/aws-$1/"; }
# rclone 1.60 fails on AWS_CA_BUNDLE with a plain-http endpoint.
run_rclone() { env -u AWS_CA_BUNDLE rclone sync --exclude '.git/**' "$site" "store:peers/rclone-$1/"; }

declare -A res
for r in $(seq "$rounds"); do
    # A fresh prefix (or bucket) per round: each cold run is cold. The
    # tools take turns, in another order each round.
    git -C "$site" checkout -q main
    /usr/bin/aws --endpoint-url "$endpoint" s3 mb "s3://pier-r$r" >/dev/null
    order=(pier aws rclone)
    [ $((r % 2)) = 0 ] && order=(rclone aws pier)
    for case in cold change noop; do
        if [ "$case" = change ]; then
            sed -i "s/<p>/<p>edit $r /" "$site/p0.html"
            git -C "$site" -c user.name=b -c user.email=b@b commit -qam "change $r"
        fi
        for tool in "${order[@]}"; do
            t=$(ms "run_$tool" "r$r") || exit 1
            res[$case,$tool]+="$t "
        done
    done
    t=$(ms run_second "r$r") || exit 1
    res[second,pier]+="$t "
done

printf 'publish bench: %s files, %s rounds, medians in ms (lower is better)\n' "$files" "$rounds"
for case in cold change noop; do
    p=$(tr ' ' '\n' <<<"${res[$case,pier]}" | grep . | median)
    a=$(tr ' ' '\n' <<<"${res[$case,aws]}" | grep . | median)
    c=$(tr ' ' '\n' <<<"${res[$case,rclone]}" | grep . | median)
    awk -v c="$case" -v p="$p" -v a="$a" -v r="$c" 'BEGIN {
        printf "%-7s pier %6d  aws s3 sync %6d  rclone %6d  pier/aws %.2f  pier/rclone %.2f\n",
            c, p, a, r, p / a, p / r }'
done
p=$(tr ' ' '\n' <<<"${res[second,pier]}" | grep . | median)
printf '%-7s pier %6d  (the same commit as a second site: no blob uploaded; no peer does this)\n' second "$p"
