#!/usr/bin/env bash
# raftd-bench drives every workload without a failed call: the echo
# ceiling against its own serve-echo on a private dbus-daemon, and put, get,
# get-local, cas and lock against a real 3-node cluster
# (demo/local-cluster.sh), a fraction of a second each.  Guards the load
# generator that bench/compare-etcd.sh relies on; measures nothing.
set -euo pipefail
top=$1
bench=$2
export RAFTD=$3
dir=$(mktemp -d /tmp/raftd-bench-smoke-XXXXXX)
# Below the kernel's ephemeral range, away from other runs on this machine.
export RAFTD_DEV_PORT=$((20000 + RANDOM % 11000))
echo_pid=
bus_pid=
cleanup() {
        [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
        [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
        "$top/demo/local-cluster.sh" stop "$dir"
        rm -rf "$dir"
}
trap cleanup EXIT

# A RESULT line with calls done and none failed.
check() { # OP OUTPUT
        local ops errors
        ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$2")
        errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$2")
        echo "$2"
        if [ -z "$ops" ] || [ "$ops" -eq 0 ] || [ "$errors" != 0 ]; then
                echo "raftd-bench $1: no calls or failed calls" >&2
                exit 1
        fi
}

bus_pid=$(dbus-daemon --session --address="unix:path=$dir/bus-echo" --fork --print-pid=1)
"$bench" --address="unix:path=$dir/bus-echo" serve-echo > "$dir/echo.log" &
echo_pid=$!
for _ in $(seq 1 200); do grep -q serving "$dir/echo.log" && break; sleep 0.05; done
check echo "$("$bench" --address="unix:path=$dir/bus-echo" -k 8 -c 2 -d 0.3 --warmup=0 echo | tail -1)"

"$top/demo/local-cluster.sh" start "$dir" >/dev/null
for op in put get get-local cas lock; do
        check "$op" "$("$bench" --address="unix:path=$dir/bus2" -k 8 -c 2 -d 0.3 --warmup=0 "$op" | tail -1)"
done
check "put --total" "$("$bench" --address="unix:path=$dir/bus3" -k 4 --total=50 put | tail -1)"
