# Sourced by the raftctl tests: a 3-node raftd cluster from
# demo/local-cluster.sh (real daemons on private buses), stopped on exit,
# and small assertions.  Arguments of the sourcing script: TOP RAFTD RAFTCTL.
set -euo pipefail
# Untranslated messages and table headers, whatever the caller's locale.
export LC_ALL=C.UTF-8 LANGUAGE=
top=$1
export RAFTD=$2
raftctl=$3
dir=$(mktemp -d /tmp/raftctl-test-XXXXXX)
# Below the kernel's ephemeral range, away from other runs on this machine.
export RAFTD_DEV_PORT=$((20000 + RANDOM % 11000))
cleanup() {
        local pid
        # Background raftctl processes of a failed test, and their commands.
        for pid in ${ctl_test_children:-}; do
                pkill -KILL -P "$pid" 2>/dev/null || true
                kill -KILL "$pid" 2>/dev/null || true
        done
        "$top/demo/local-cluster.sh" stop "$dir" || true
        if [ -n "${RAFTD_TEST_KEEP:-}" ]; then
                echo "kept $dir" >&2
        else
                rm -rf "$dir"
        fi
}
trap cleanup EXIT

start_cluster() {
        "$top/demo/local-cluster.sh" start "$dir" >/dev/null
}

# start_node N: one more raftd from $dir/nodeN.conf (written by the test),
# stopped with the cluster (its pid file is one that local-cluster.sh stops).
start_node() {
        NOTIFY_SOCKET= "$RAFTD" --config "$dir/node$1.conf" </dev/null >"$dir/node$1.log" 2>&1 &
        echo $! > "$dir/raftd$1.pid"
}

# raftctl on node N's bus.
ctl() {
        "$raftctl" --bus-address="unix:path=$dir/bus$1" "${@:2}"
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

expect() {
        [ "$1" = "$2" ] || fail "expected '$2', got '$1'${3:+ ($3)}"
}

# expect_status CODE CMD...: CMD must exit with CODE.
expect_status() {
        local want=$1 got=0
        shift
        "$@" || got=$?
        [ "$got" = "$want" ] || fail "'$*' exited with $got, expected $want"
}

# wait_for SECONDS CMD...: poll CMD until it succeeds or the deadline passes.
wait_for() {
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $*"
                sleep 0.05
        done
}

# A JSON document on stdin, checked by a Python expression on it (d).
json_check() {
        python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" ||
                fail "JSON check failed: $1"
}
