#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-doc-example.sh DOC EXAMPLE
#
# DOC shows EXAMPLE inline, in a ```c block between the markers
# "<!-- NAME begin -->" and "<!-- NAME end -->" (NAME = EXAMPLE's file
# name).  The lib tests build and run EXAMPLE itself; this keeps the copy
# in DOC from drifting away from it.
set -euo pipefail

doc=$1
example=$2
name=$(basename "$example")

shown=$(awk -v begin="<!-- $name begin -->" -v end="<!-- $name end -->" '
        $0 == begin { inside = 1; next }
        $0 == end { inside = 0 }
        inside && !/^```/ { print }' "$doc")
if [[ -z $shown ]]; then
        echo "FAIL: $doc has no block between <!-- $name begin --> and <!-- $name end -->"
        exit 1
fi
if ! diff -u --label "$name" --label "$doc" "$example" <(printf '%s\n' "$shown"); then
        echo "FAIL: the copy of $name in $doc differs from the file (see the diff above)"
        exit 1
fi
echo "ok: $doc shows $name as it is"
