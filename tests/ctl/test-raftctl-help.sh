#!/usr/bin/env bash
# Every command's --help exits 0 and names the command; raftctl --help lists
# every command; --version; usage errors exit 2 before raftctl looks for a
# bus (there is none here).
set -euo pipefail
raftctl=$1
# No bus at all: a usage error must be found before raftctl connects.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/raftctl-help-test
commands="get put del cas list watch lock status members transfer-leader snapshot backup keygen"
fail() { echo "FAIL: $*" >&2; exit 1; }

main_help=$("$raftctl" --help) || fail "raftctl --help exited $?"
for c in $commands; do
        out=$("$raftctl" "$c" --help) || fail "raftctl $c --help exited $?"
        # No pipes into grep -q/head here: with pipefail, a writer that
        # gets SIGPIPE after an early match fails the test at random.
        first_line=${out%%$'\n'*}
        [[ "$first_line" == *" $c"* ]] || fail "raftctl $c --help does not name $c: $first_line"
        out=$("$raftctl" --json "$c" -h) || fail "raftctl --json $c -h exited $?"
        grep -q -E "^  $c( |$)" <<<"$main_help" || fail "raftctl --help does not list $c"
done
version=$("$raftctl" --version)
[[ "$version" =~ ^raftctl\ [0-9]+\.[0-9]+ ]] || fail "--version: $version"
for bad in "" "nosuchcommand" "--nosuchoption get k" "get" "get --timeout=1 k" "--raw get k" "lock onlyname" \
           "lock --timeout=soon n true" "put --lease=x k v" "--bus-address" "put /k" "put --file=/f /k v" \
           "cas /k one" "cas --absent /k" "cas --absent --expected-file=/f /k v" "cas /k - -" \
           "members frob 4" "members add 4" "members promote four" "members remove -1" "transfer-leader x"; do
        rc=0
        # shellcheck disable=SC2086 # word splitting is the point
        "$raftctl" $bad >/dev/null 2>&1 || rc=$?
        [ "$rc" = 2 ] || fail "'raftctl $bad' exited $rc, expected 2 (usage)"
done
echo ok
