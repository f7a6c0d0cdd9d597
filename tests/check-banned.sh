#!/usr/bin/env bash
# tests/check-banned.sh - fail when the source uses a banned call (STYLE.md,
# after curl's checksrc): sprintf, strcpy, strcat, strncpy, atoi, strtok,
# rand, gmtime (use gmtime_r).
set -euo pipefail
cd "${top_srcdir:-$(dirname "$0")/..}"
pattern='(^|[^_[:alnum:]])(sprintf|vsprintf|strcpy|strcat|strncpy|atoi|strtok|rand|gmtime)[[:space:]]*\('
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find . \( -name '*.c' -o -name '*.h' \) -not -path './tests/fuzz/corpus/*' \
        -not -path './build-aux/*' -not -name 'config.h' -print0)
if [ "${#files[@]}" = 0 ]; then
    echo "no sources found in $PWD" >&2
    exit 1
fi
if grep -nE "$pattern" "${files[@]}" >&2; then
    echo "banned calls above (STYLE.md, Habits)" >&2
    exit 1
fi
echo "1 passed, 0 failed: no banned calls in ${#files[@]} files"
