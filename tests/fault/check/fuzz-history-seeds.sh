#!/bin/sh
# Writes the fuzzer's seed histories, one per workload, into DIR.
# usage: fuzz-history-seeds.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cat >"$dir/register" <<'H'
# raftd-history 1 seed=1
10 1 invoke put k 1
20 1 ok put k 1
25 2 invoke cas k 1 2
30 2 fail cas k 1 2 mismatch
31 3 invoke cas k - 2
32 3 unknown cas k - 2
33 4 invoke del k
34 5 invoke get k
40 5 ok get k -
H
cat >"$dir/set" <<'H'
# raftd-history 1 seed=2
35 3 invoke add s 4
40 3 unknown add s 4
41 4 invoke add s 5
42 4 ok add s 5
45 6 invoke read-set s
50 6 ok read-set s 4,5
H
cat >"$dir/lock" <<'H'
# raftd-history 1 seed=3
55 5 invoke incr r
60 9 ok write-fenced r 1 0 0 1
61 9 fail write-fenced r 0 0 1 1 stale
65 5 ok incr r 1
H
cat >"$dir/exactly-once" <<'H'
# raftd-history 1 seed=4
10 1 invoke put k 1
20 1 ok put k 1
70 9 ok applied k 1 3
# gap 4 6
H
