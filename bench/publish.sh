#!/usr/bin/env bash
# bench/publish.sh - how long a publish takes, against the peers a site
# owner would otherwise use to upload the same folder to the same store:
# `aws s3 sync` (awscli) and `rclone sync`. Not a test.
#
# One generated site in a git repository: PAGES HTML pages of 10 to 20 KB
# of text sharing PAGES/5 assets (stylesheets, scripts and images; the
# images are random bytes, so nothing about the size is flattering), about
# 200 MB at the default 10,000 pages. One fresh `pier objstore` on
# loopback, one bucket per tool. In one run, in this order:
#   cold    the first upload
#   noop    the same again: nothing changed
#   change  one page edited (and committed)
#   second  (pier only) the same commit published as a second site: every
#           blob is already stored
# Each line gives the wall time, what was uploaded (pier: its summary;
# the peers: the store's access log, PUT requests and the bytes of the
# files they named) and pier's time ratio to each peer (above 1.0: pier
# is faster). pier does more work than the peers (hashing, rewriting,
# three compressed variants per text file, a manifest, the live-pointer
# flip).
#
# Usage: bench/publish.sh [PAGES]   (default 10000; PAGES=600 for a quick
# run). The generated site is kept in $PIER_BENCH_CACHE (default
# /tmp/pier-bench-site-v3-PAGES) between runs; delete it to regenerate.
set -euo pipefail

pages=${1:-${PAGES:-10000}}
top=$(cd "$(dirname "$0")/.." && pwd)
pier=${PIER:-$top/pier}
for t in /usr/bin/aws rclone git "$pier"; do
    command -v "$t" >/dev/null || { echo "bench: missing $t (scripts/install-deps --bench)" >&2; exit 1; }
done
cache=${PIER_BENCH_CACHE:-/tmp/pier-bench-site-v3-$pages}
work=$(mktemp -d /tmp/pier-bench-publish.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The site, generated once per size (a deterministic generator).
if [ ! -f "$cache/.done" ]; then
    rm -rf "$cache"
    mkdir -p "$cache/site"
    echo "bench: generating $pages pages in $cache/site" >&2
    /usr/bin/python3 - "$cache/site" "$pages" <<'PY'
import os, random, sys
root, pages = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
assets = max(10, pages // 5)
ncss, njs = max(2, assets // 10), max(2, assets // 10)
nimg = assets - ncss - njs
words = ("the of and to in is that for it as with was on be by at this from "
         "an which or have are not but had all were when we there can been "
         "one their if more no will would out so what up about into than "
         "them some could other time these two may then do first any my "
         "now such like our over man me even most made after also did many "
         "before must through back years where much your way well down "
         "should because each just those people how too little state good "
         "very make world still own see men work long get here between both "
         "life being under never day same another know while last might us "
         "great old year off come since against go came right used take "
         "three publish deploy edge cache asset store commit branch push "
         "static site page stylesheet script image manifest hash").split()
def text(n):
    return " ".join(rnd.choices(words, k=n))
for d in ("assets/css", "assets/js", "assets/img"):
    os.makedirs(f"{root}/{d}", exist_ok=True)
def ext(j):
    return "png" if j % 3 else "jpg"
def img(j):
    return f"/assets/img/i{j}.{ext(j)}"
for i in range(nimg):
    with open(f"{root}{img(i)}", "wb") as f:
        f.write(os.urandom(rnd.randint(8000, 30000)))
for i in range(ncss):
    with open(f"{root}/assets/css/s{i}.css", "w") as f:
        for k in range(rnd.randint(40, 120)):
            f.write(f".c{i}-{k} {{ margin: {k}px; color: #{rnd.randrange(1 << 24):06x}; }}\n")
        for k in range(3):
            j = rnd.randrange(nimg)
            f.write(f".bg{k} {{ background: url(../img/i{j}.{ext(j)}); }}\n")
for i in range(njs):
    with open(f"{root}/assets/js/a{i}.js", "w") as f:
        for k in range(rnd.randint(40, 150)):
            f.write(f"function f{i}_{k}(x) {{ return x * {k} + {rnd.randrange(1000)}; }} // {text(8)}\n")
for p in range(pages):
    d = f"{root}/docs/s{p // 500}"
    os.makedirs(d, exist_ok=True)
    css = [rnd.randrange(ncss) for _ in range(2)]
    js = [rnd.randrange(njs) for _ in range(3)]
    imgs = [rnd.randrange(nimg) for _ in range(5)]
    body = []
    for k in range(rnd.randint(22, 44)):
        body.append(f"<h2 id=\"h{k}\">{text(5)}</h2>\n<p>{text(rnd.randint(60, 110))}</p>\n")
        if k < len(imgs):
            body.append(f'<figure><img src="{img(imgs[k])}" alt="{text(3)}" loading="lazy"></figure>\n')
    with open(f"{d}/p{p}.html", "w") as f:
        f.write("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                f"<title>{text(6)}</title>\n"
                + "".join(f'<link rel="stylesheet" href="../../assets/css/s{c}.css">\n' for c in css)
                + "".join(f'<script src="/assets/js/a{j}.js" defer></script>\n' for j in js)
                + f"</head><body><nav><a href=\"/\">home</a> <a href=\"p{p + 1 if (p + 1) % 500 and p + 1 < pages else p // 500 * 500}.html\">next</a></nav>\n"
                + "".join(body) + "</body></html>\n")
with open(f"{root}/index.html", "w") as f:
    f.write('<!doctype html><html><head><link rel="stylesheet" href="assets/css/s0.css"></head><body>'
            + "".join(f'<a href="docs/s{s}/p{s * 500}.html">part {s}</a>\n' for s in range((pages + 499) // 500))
            + "</body></html>\n")
PY
    git -C "$cache/site" init -q -b main
    git -C "$cache/site" add -A
    git -C "$cache/site" -c user.name=b -c user.email=b@b commit -qm cold
    touch "$cache/.done"
fi
site="$work/site"
git clone -q "$cache/site" "$site"
nfiles=$(git -C "$site" ls-files | wc -l)
mb=$(du -sm --exclude=.git "$site" | cut -f1)

# The store, on a free loopback port, with its admin key; an access log
# for what the peers upload.
"$pier" objstore --data "$work/store" --listen 127.0.0.1:0 \
    --access-log "$work/access.log" \
    --ready-file "$work/ready" >"$work/admin.env" 2>"$work/store.log" &
pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
addr=$(awk '$1 == "http" {print $2}' "$work/ready")
endpoint="http://$addr"
eval "$(grep '^AWS_' "$work/admin.env")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=$endpoint
unset AWS_SESSION_TOKEN PIER_CONFIG
export PIER_HOME="$work/nohome"
for b in pier aws rclone; do
    /usr/bin/aws --endpoint-url "$endpoint" s3 mb "s3://$b" >/dev/null
done
export RCLONE_CONFIG_STORE_TYPE=s3 RCLONE_CONFIG_STORE_PROVIDER=Other
export RCLONE_CONFIG_STORE_ENDPOINT=$endpoint
export RCLONE_CONFIG_STORE_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

quiet=
"$pier" publish --help | grep -q -- --quiet && quiet=--quiet
run_pier() { "$pier" publish $quiet --site site --bucket pier --repo "$site" --endpoint "$endpoint"; }
run_second() { "$pier" publish $quiet --site second --bucket pier --repo "$site" --endpoint "$endpoint"; }
run_aws() { /usr/bin/aws --endpoint-url "$endpoint" s3 sync --quiet --delete --exclude '.git/*' "$site" s3://aws/; }
# rclone 1.60 fails on AWS_CA_BUNDLE with a plain-http endpoint.
run_rclone() { env -u AWS_CA_BUNDLE rclone sync --exclude '.git/**' "$site" store:rclone/; }

# The access log is flushed every second: wait for it, then take the
# PUTs into bucket $1 after line $2: "N PUTs, B bytes" (the bytes of the
# local files named).
log_lines() { sleep 1.2; wc -l <"$work/access.log"; }
puts() {
    tail -n +"$(($2 + 1))" "$work/access.log" \
        | awk -v b="/$1/" -v sizes="$work/sizes" '
              BEGIN { while ((getline l < sizes) > 0) { split(l, f, " "); sz[f[1]] = f[2] } }
              $6 == "\"PUT" && index($7, b) == 1 {
                  k = substr($7, length(b) + 1); sub(/\?.*/, "", k); n++; bytes += sz[k] }
              END { printf "%d PUTs, %d bytes\n", n, bytes }'
}
ms() { # ms OUT CMD...: run CMD, its output in OUT, print its wall time in ms
    local out=$1 t0 t1
    shift
    t0=$(date +%s%N)
    if ! "$@" >"$out" 2>&1; then
        echo "bench: '$*' failed:" >&2
        tail -5 "$out" >&2
        return 1
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
declare -A t sent
for case in cold noop change; do
    if [ "$case" = change ]; then
        sed -i '0,/<p>/s//<p>edited /' "$site/docs/s0/p7.html"
        git -C "$site" -c user.name=b -c user.email=b@b commit -qam change
    fi
    (cd "$site" && find . -path ./.git -prune -o -type f -printf '%P %s\n') >"$work/sizes"
    for tool in pier aws rclone; do
        before=$(log_lines)
        t[$case,$tool]=$(ms "$work/$case-$tool.out" "run_$tool") || exit 1
        if [ "$tool" = pier ]; then
            sent[$case,$tool]="$(grep -m1 -e 'uploaded' -e 'nothing to do' "$work/$case-$tool.out" | sed 's/^[^:]*: //')"
        else
            sent[$case,$tool]="$(puts "$tool" "$before")"
        fi
    done
done
t[second,pier]=$(ms "$work/second-pier.out" run_second) || exit 1
sent[second,pier]="$(grep -m1 'uploaded' "$work/second-pier.out" | sed 's/^[^:]*: //')"

printf 'publish bench: %s pages, %s files, %s MB; load average %s\n' \
    "$pages" "$nfiles" "$mb" "$(cut -d' ' -f1-3 /proc/loadavg)"
for case in cold noop change; do
    awk -v c="$case" -v p="${t[$case,pier]}" -v a="${t[$case,aws]}" -v r="${t[$case,rclone]}" 'BEGIN {
        printf "%-7s pier %7d ms  aws s3 sync %7d ms  rclone %7d ms  aws/pier %5.2fx  rclone/pier %5.2fx\n",
            c, p, a, r, a / p, r / p }'
    printf '        pier:   %s\n        aws:    %s\n        rclone: %s\n' \
        "${sent[$case,pier]}" "${sent[$case,aws]}" "${sent[$case,rclone]}"
done
printf '%-7s pier %7d ms  (the same commit as a second site; no peer does this)\n' second "${t[second,pier]}"
printf '        pier:   %s\n' "${sent[second,pier]}"
echo "targets: cold aws/pier >= 1.0x; noop <= 300 ms; change <= 500 ms, one page's blobs + the manifest; second <= 2000 ms, no blob"
if [ -n "${PIER_BENCH_KEEP:-}" ]; then
    cp "$work"/*.out "$PIER_BENCH_KEEP"/ 2>/dev/null || true
fi
