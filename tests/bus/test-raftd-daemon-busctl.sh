#!/usr/bin/env bash
# The real daemon on private buses, driven with busctl as the README shows:
# put through node 1, linearizable get through node 3, CAS from absent,
# a lock with its fence, and the cluster properties.
set -euo pipefail
top=$1
export RAFTD=$2
dir=$(mktemp -d /tmp/raftd-busctl-XXXXXX)
# Below the kernel's ephemeral range, away from other runs on this machine.
export RAFTD_DEV_PORT=$((20000 + RANDOM % 11000))
trap '"$top/demo/local-cluster.sh" stop "$dir"; rm -rf "$dir"' EXIT
"$top/demo/local-cluster.sh" start "$dir"
b() { busctl --address="unix:path=$dir/bus$1" "${@:2}"; }

expect() {
        if [ "$1" != "$2" ]; then
                echo "expected: $2" >&2
                echo "got:      $1" >&2
                exit 1
        fi
}

rev=$(b 1 call org.raftd1 /org/raftd1 org.raftd1.KV Put saytt /config/color 4 98 108 117 101 0 0 | awk '{print $2}')
[ "$rev" -gt 0 ]
expect "$(b 3 call org.raftd1 /org/raftd1 org.raftd1.KV Get st /config/color 0)" "ayt 4 98 108 117 101 $rev"
expect "$(b 2 call org.raftd1 /org/raftd1 org.raftd1.KV CompareAndSwap sbaybayt /config/owner false 0 true 1 49 0 | awk '{print $1, $2}')" "bt true"
expect "$(b 3 call org.raftd1 /org/raftd1 org.raftd1.KV CompareAndSwap sbaybayt /config/owner false 0 true 1 50 0 | awk '{print $1, $2}')" "bt false"
f1=$(b 1 call org.raftd1 /org/raftd1 org.raftd1.Lock Acquire stt backup 1000000 0 | awk '{print $3}')
f2=$(b 2 call org.raftd1 /org/raftd1 org.raftd1.Lock Acquire stt backup 1000000 0 | awk '{print $3}')
# busctl closes the fd when it exits: each acquire is released in turn,
# and fences only grow.
[ "$f2" -gt "$f1" ]
expect "$(b 2 get-property org.raftd1 /org/raftd1 org.raftd1.Cluster NodeId)" "t 2"
if b 1 call org.raftd1 /org/raftd1 org.raftd1.KV Get st /missing 0 2>/tmp/err.$$; then
        echo "a missing key was found" >&2
        exit 1
fi
grep -q "does not exist" /tmp/err.$$ && rm -f /tmp/err.$$
