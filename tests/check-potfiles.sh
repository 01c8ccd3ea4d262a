#!/usr/bin/env bash
# Every source file with a string marked for translation (_("...")) must be
# listed in po/POTFILES, or its strings never reach the catalogs.
set -euo pipefail
top=$1
cd "$top"
missing=$(grep -rl --include='*.c' '_("' src demo | sort | comm -23 - <(sort po/POTFILES))
if [ -n "$missing" ]; then
        echo "po/POTFILES lacks files with translatable strings:" >&2
        echo "$missing" >&2
        exit 1
fi
stale=$(sort po/POTFILES | while read -r f; do [ -f "$f" ] || echo "$f"; done)
if [ -n "$stale" ]; then
        echo "po/POTFILES lists files that do not exist:" >&2
        echo "$stale" >&2
        exit 1
fi
