#!/usr/bin/env bash
# tests/integ/test_s3client_moto.sh - lib/s3client.c against an independent
# S3 implementation: moto's server, which recomputes every SigV4 signature
# with botocore. moto is not in Debian 12; it comes with this kind of
# machine's image (the pyenv python3). Its absence fails the test, as a
# missing client does: it is an install problem, never a skip.
source "$(dirname "$0")/lib.sh"

py=
for cand in python3 /usr/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
        "$cand" -c 'import moto.server, boto3' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "FAIL: no python3 with moto and boto3" >&2
    exit 1
fi

probe="$top_builddir/tests/lib/s3client_probe"
# moto is not ours: never under valgrind.
PIER_VALGRIND= start_server moto "$py" "$top_srcdir/tests/integ/s3_moto.py"
addr=$(ready_addr moto s3)
read -r _ akid secret < <(grep '^key ' "$work/moto.ready")

run_probe() {
    local wrap=()
    if [ "${PIER_VALGRIND:-}" = 1 ]; then
        wrap=(valgrind --error-exitcode=99 --leak-check=full
            --errors-for-leak-kinds=definite -q)
    fi
    env AWS_ENDPOINT_URL="http://$addr" AWS_ACCESS_KEY_ID="$akid" \
        AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 \
        AWS_SESSION_TOKEN= TMPDIR="$work" \
        "${wrap[@]}" "$probe" pier >"$work/probe.out" 2>"$work/probe.log"
}
check "the probe passes every check against moto" run_probe
cat "$work/probe.out"
grep FAIL "$work/probe.log" >&2 || true
finish
