#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-exports-rejects.sh CHECKER LIBRARY HEADER
#
# Proves that check-exports.sh can fail: LIBRARY is built from the same
# objects as libraftd.so but without the version script, so the checker
# must refuse it for leaked internal names and for unversioned symbols.
set -uo pipefail

checker=$1
lib=$2
header=$3

out=$("$checker" "$lib" "$header")
rc=$?
printf '%s\n' "$out"
if ((rc == 0)); then
        echo "FAIL: the export check accepted $lib, which exports every internal name"
        exit 1
fi
status=0
for expected in 'is not part of the raftd_ API' 'has symbol version' 'expected libraftd.so.0'; do
        if ! grep -qF -- "$expected" <<<"$out"; then
                echo "FAIL: the export check did not report '$expected'"
                status=1
        fi
done
((status == 0)) && echo "ok: the export check refuses a library without the version script"
exit $status
