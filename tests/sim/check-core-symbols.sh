#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Raft core must be a pure state machine: no I/O, no clock, no random
# numbers.  Prove it from the object code: every symbol the core's objects
# leave undefined must be on the allowlist below (memory and string
# helpers, plus the runtimes that sanitizer, coverage and stack-protector
# builds link in).
#
# usage: check-core-symbols.sh NM ARCHIVE...
set -eu

nm=$1
shift

allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen'
# _FORTIFY_SOURCE spells some of the same functions with a _chk suffix.
allowed="$allowed|__memcpy_chk|__memmove_chk|__memset_chk"
allowed="$allowed|__stack_chk_fail|__stack_chk_guard|__stack_chk_fail_local"
allowed="$allowed|__asan_.*|__ubsan_.*|__sanitizer_.*|__gcov_.*|_GLOBAL_OFFSET_TABLE_)$"

status=0
for archive in "$@"; do
        # POSIX format: "archive[member.o]: symbol U ..."
        undefined=$("$nm" -A -u -P "$archive") || {
                echo "cannot read $archive" >&2
                exit 2
        }
        bad=$(printf '%s\n' "$undefined" | awk 'NF >= 2 { print $2, $1 }' | grep -Ev "$allowed " || true)
        if [ -n "$bad" ]; then
                echo "$archive references symbols outside the allowlist (I/O, clock, randomness?):" >&2
                printf '  %s\n' "$bad" >&2
                status=1
        fi
        count=$(printf '%s\n' "$undefined" | awk 'NF >= 2' | wc -l)
        echo "$archive: $count undefined symbol references checked"
done
exit $status
