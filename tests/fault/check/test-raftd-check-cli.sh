#!/usr/bin/env bash
# raftd-check as a script calls it: the exit status says valid (0),
# violation (1), bad input or usage (2), undecided (3); a violation prints
# the history lines that show it, a bad line is named by file and number.
# usage: test-raftd-check-cli.sh RAFTD_CHECK
set -euo pipefail
check=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/raftd-check-cli.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS FILE [ARGS...]: run, keep output in $dir/out, check status.
expect() {
        local want=$1 got=0
        shift
        "$check" "$@" >"$dir/out" 2>&1 || got=$?
        [ "$got" -eq "$want" ] || { cat "$dir/out" >&2; fail "raftd-check $* exited $got, wanted $want"; }
}

cat >"$dir/valid" <<'H'
# raftd-history 1 seed=3
10 1 invoke put x 1
20 1 ok put x 1
30 2 invoke get x
40 2 ok get x 1
H
expect 0 "$dir/valid"
grep -q "valid (register workload, 2 operations, seed 3)" "$dir/out" || fail "no summary: $(cat "$dir/out")"

cp "$dir/valid" "$dir/stale"
cat >>"$dir/stale" <<'H'
50 1 invoke put x 2
60 1 ok put x 2
70 2 invoke get x
80 2 ok get x 1
H
expect 1 "$dir/stale"
grep -q "^VIOLATION: key x" "$dir/out" || fail "violation not named: $(cat "$dir/out")"
grep -q "^ *9: 80 2 ok get x 1$" "$dir/out" || fail "stale read line not shown: $(cat "$dir/out")"
if grep -q "^ *3: " "$dir/out"; then fail "window holds the unrelated first put"; fi

printf '# raftd-history 1 seed=3\n10 1 invoke put x 1\n10 1 invoke put x 1\n' >"$dir/bad"
expect 2 "$dir/bad"
grep -q "bad:3: process 1 invokes while its operation from line 2 is outstanding" "$dir/out" ||
        fail "bad line not named: $(cat "$dir/out")"

expect 2 "$dir/does-not-exist"
grep -q "cannot read" "$dir/out" || fail "missing file not reported: $(cat "$dir/out")"
expect 2
expect 2 --workload=bogus "$dir/valid"
expect 2 --budget=0 "$dir/valid"
expect 2 --budget=12x "$dir/valid"
expect 2 --workload=set "$dir/valid"
grep -q "the set workload has no 'put' lines" "$dir/out" || fail "workload mismatch not explained: $(cat "$dir/out")"
expect 0 --help
grep -q "^Usage: raftd-check" "$dir/out" || fail "no usage"

printf '# raftd-history 1 seed=3\n1 1 invoke add s 1\n2 2 invoke put k 1\n' >"$dir/mixed"
expect 2 "$dir/mixed"
grep -q "mixes workloads" "$dir/out" || fail "mixed workloads not refused: $(cat "$dir/out")"

# Undecided: 20 concurrent puts, then reads of 1, 2 and 1 again, which no
# order explains; a budget of 1000 steps cannot show it.
{
        echo "# raftd-history 1 seed=3"
        for i in $(seq 1 20); do echo "$i $i invoke put x $i"; done
        for i in $(seq 1 20); do echo "$((100 + i)) $i ok put x $i"; done
        printf '200 99 invoke get x\n210 99 ok get x 1\n220 99 invoke get x\n230 99 ok get x 2\n'
        printf '240 99 invoke get x\n250 99 ok get x 1\n'
} >"$dir/hard"
expect 3 --budget=1000 "$dir/hard"
grep -q "^UNDECIDED: key x: undecided, the search budget of 1000 steps ran out" "$dir/out" ||
        fail "budget exhaustion not reported: $(cat "$dir/out")"

printf '# raftd-history 1 seed=3\n1 1 invoke add s 1\n2 1 ok add s 1\n3 2 invoke read-set s\n4 2 ok read-set s -\n' >"$dir/set"
expect 1 --workload=auto "$dir/set"
grep -q "set s: the acknowledged add of 1 is missing" "$dir/out" || fail "lost add not reported: $(cat "$dir/out")"
echo "ok"
