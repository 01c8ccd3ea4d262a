#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# D-Bus activation: node 3 runs as raftd.service and serves on the user
# bus, whose dbus-daemon hands activation to the user manager
# (--systemd-activation); the activation file is the shipped
# dbus/org.raftd1.service, unchanged.  With node 3 stopped, a call to
# org.raftd1 starts raftd.service through the manager, and the started node
# answers it with data written while it was down.
set -euo pipefail
. "$1/tests/systemd/nodes.sh"
manager_enter "$@"
nodes_begin
NODES_BUS_OVERRIDE[3]=$DBUS_SESSION_BUS_ADDRESS
nodes_setup 3
mv "$NODES_CONF_DIR/n3.conf" "$NODES_CONF_DIR/raftd.conf"
mkdir -p "$XDG_RUNTIME_DIR/dbus-1/services"
cp "$TOP/dbus/org.raftd1.service" "$XDG_RUNTIME_DIR/dbus-1/services/org.raftd1.service"

# Nodes 1 and 2 are a majority: they elect a leader and take a write.
nodes_start 1 2
rev=$(nodes_put 1 /activation/key written-while-node-3-was-down)
[ "$(systemctl --user show -P ActiveState raftd.service)" = inactive ] || nodes_fail "raftd.service runs already"
if busctl --user status org.raftd1 >/dev/null 2>&1; then
        nodes_fail "org.raftd1 has an owner on the user bus before activation"
fi

# A linearizable read through the user bus starts node 3 (Exec=/bin/false
# in the file: only the manager can have started it).
out=$(busctl --user --timeout=60 call org.raftd1 /org/raftd1 org.raftd1.KV Get st /activation/key 0) ||
        nodes_fail "the call to the stopped node failed: $out"
expected="ayt 29 $(printf '%s' written-while-node-3-was-down | od -An -tu1 | xargs) $rev"
[ "$out" = "$expected" ] || nodes_fail "activated node 3 answered '$out', expected '$expected'"
[ "$(systemctl --user show -P ActiveState raftd.service)" = active ] || nodes_fail "raftd.service is not active"
[ "$(busctl --user get-property org.raftd1 /org/raftd1 org.raftd1.Cluster NodeId)" = "t 3" ] ||
        nodes_fail "org.raftd1 on the user bus is not node 3"
echo "a call to org.raftd1 started raftd.service through the manager; it answered with revision $rev"
