#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Raft core must be a pure state machine: no I/O, no clock, no random
# numbers.  Prove it from the object code: every symbol the core's objects
# need from outside the archive must be on the allowlist below (memory and
# string helpers, qsort, plus the runtimes that sanitizer, coverage and
# stack-protector builds link in).
#
# usage: check-core-symbols.sh NM ARCHIVE...
set -eu

nm=$1
shift

allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen'
# _FORTIFY_SOURCE spells some of the same functions with a _chk suffix.
allowed="$allowed|__memcpy_chk|__memmove_chk|__memset_chk"
# Pure computation on caller memory (the core sorts match indices).
allowed="$allowed|qsort"
allowed="$allowed|__stack_chk_fail|__stack_chk_guard|__stack_chk_fail_local"
allowed="$allowed|__asan_.*|__ubsan_.*|__sanitizer_.*|__gcov_.*|_GLOBAL_OFFSET_TABLE_)$"

status=0
for archive in "$@"; do
        # POSIX format, one line per symbol: "archive[member.o]: name type ...".
        # A symbol one member needs and another defines stays inside the core.
        symbols=$("$nm" -A -P "$archive") || {
                echo "cannot read $archive" >&2
                exit 2
        }
        external=$(printf '%s\n' "$symbols" | awk '
                NF < 3 { next }
                $3 == "U" || (($3 == "w" || $3 == "v") && NF == 3) { if (!($2 in needed)) needed[$2] = $1; next }
                { defined[$2] = 1 }
                END { for (s in needed) if (!(s in defined)) print s, needed[s] }' | sort)
        bad=$(printf '%s\n' "$external" | awk 'NF' | while read -r sym where; do
                printf '%s\n' "$sym" | grep -Eq "$allowed" || printf '  %s (%s)\n' "$sym" "$where"
        done)
        if [ -n "$bad" ]; then
                echo "$archive needs symbols outside the allowlist (I/O, clock, randomness?):" >&2
                printf '%s\n' "$bad" >&2
                status=1
        fi
        echo "$archive needs from outside: $(printf '%s\n' "$external" | awk 'NF { printf "%s ", $1 }')"
done
exit $status
