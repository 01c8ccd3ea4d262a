#!/usr/bin/env bash
# raftctl's exit status 7 when the node's [Access] lists refuse the caller:
# a one-node raftd (root only may write and administer, nobody may read)
# on a bus every uid may connect to, raftctl run as nobody.
. "$(dirname "$0")/ctl-test-lib.sh"
# Reachable by nobody: the directory, the bus socket, and a copy of raftctl
# (the build tree may be under a home directory nobody cannot enter).
chmod 755 "$dir"
install -m 755 "$raftctl" "$dir/raftctl"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
port=$((RAFTD_DEV_PORT + 1))
cat > "$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus1</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$dir/bus.conf" --fork --print-pid=1 > "$dir/bus1.pid"
"$raftctl" keygen "$dir/cluster.key"
cat > "$dir/node1.conf" <<CONF
[Node]
Id=1
Listen=127.0.0.1:$port
DataDirectory=$dir/node1
ClusterKeyFile=$dir/cluster.key

[Peers]
1=127.0.0.1:$port

[Access]
ReadUsers=nobody

[Bus]
Address=unix:path=$dir/bus1
CONF
start_node 1
ready() { ctl 1 put /ready yes >/dev/null 2>&1; }
wait_for 30 ready

expect "$(as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" get /ready)" yes
expect_status 3 as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" get /missing
expect_status 7 as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" put /k v
expect_status 7 as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" cas --absent /k v
expect_status 7 as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" lock /locks/l true
expect_status 7 as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" snapshot
err=$(as_nobody "$dir/raftctl" --bus-address="unix:path=$dir/bus1" del /ready 2>&1) && fail "nobody deleted a key"
# The message says what was refused and, from the node, which list.
echo "$err" | grep -q "access denied" || fail "no 'access denied' in: $err"
expect "$(ctl 1 get /ready)" yes
echo ok
