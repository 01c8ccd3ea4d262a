#!/usr/bin/env bash
# A local 3-node raftd cluster for trying the D-Bus API: each node is a
# real raftd daemon with its own private bus (as each machine has its own
# system bus) and its own data directory, on 127.0.0.1.
#
#   demo/local-cluster.sh start [DIR]    (default DIR: /tmp/raftd-dev)
#   demo/local-cluster.sh stop [DIR]
#
# Peers listen on 127.0.0.1, ports RAFTD_DEV_PORT+1..+3 (default 7100).
#
# After start, talk to node N with
#   busctl --address=unix:path=DIR/busN ...
set -euo pipefail

cmd=${1:-start}
dir=${2:-/tmp/raftd-dev}
top=$(cd "$(dirname "$0")/.." && pwd)
raftd=${RAFTD:-$top/build/src/daemon/raftd}
base=${RAFTD_DEV_PORT:-7100}

stop() {
        for f in "$dir"/raftd*.pid "$dir"/bus*.pid; do
                [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
        done
        rm -f "$dir"/*.pid
}

case "$cmd" in
stop)
        stop
        exit 0
        ;;
start) ;;
*)
        echo "usage: $0 start|stop [DIR]" >&2
        exit 2
        ;;
esac

[ -x "$raftd" ] || { echo "$raftd not found: run meson compile -C build first" >&2; exit 1; }
mkdir -p "$dir"
stop
if [ ! -f "$dir/cluster.key" ]; then
        (umask 077 && head -c 32 /dev/urandom > "$dir/cluster.key")
fi
for i in 1 2 3; do
        dbus-daemon --session --address="unix:path=$dir/bus$i" --fork --print-pid=1 > "$dir/bus$i.pid"
        cat > "$dir/node$i.conf" <<CONF
[Node]
Id=$i
Listen=127.0.0.1:$((base + i))
DataDirectory=$dir/node$i
ClusterKeyFile=$dir/cluster.key

[Peers]
1=127.0.0.1:$((base + 1))
2=127.0.0.1:$((base + 2))
3=127.0.0.1:$((base + 3))

[Access]
ReadUsers=*
WriteUsers=*
LockUsers=*

[Bus]
Address=unix:path=$dir/bus$i
CONF
        NOTIFY_SOCKET= "$raftd" --config "$dir/node$i.conf" </dev/null >"$dir/node$i.log" 2>&1 &
        echo $! > "$dir/raftd$i.pid"
done
# Ready when every node answers with a known leader.
for _ in $(seq 1 100); do
        ok=0
        for i in 1 2 3; do
                leader=$(busctl --address="unix:path=$dir/bus$i" get-property org.raftd1 /org/raftd1 \
                        org.raftd1.Cluster Leader 2>/dev/null | awk '{print $2}') || true
                [ -n "${leader:-}" ] && [ "$leader" != 0 ] && ok=$((ok + 1))
        done
        [ "$ok" = 3 ] && break
        sleep 0.1
done
if [ "$ok" != 3 ]; then
        echo "the cluster did not come up; logs in $dir/node*.log" >&2
        exit 1
fi
echo "3 nodes up; data and logs in $dir.  Talk to node N with:"
echo "  busctl --address=unix:path=$dir/busN call org.raftd1 /org/raftd1 ..."
echo "Stop with: $0 stop $dir"
