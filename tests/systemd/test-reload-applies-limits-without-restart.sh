#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `systemctl --user reload` (ExecReload= sends SIGHUP) applies a changed
# MaxValueSize= to the running process: the same MainPID, RELOADING=1 then
# READY=1 seen by the manager, and the new limit is what a D-Bus Put meets,
# raised as well as lowered.
set -euo pipefail
. "$1/tests/systemd/nodes.sh"
manager_enter "$@"
nodes_begin
NODES_LIMITS=MaxValueSize=64
nodes_setup 3
nodes_start 1 2 3
# The manager's debug log shows each notification it receives.
systemctl --user log-level debug

bytes() { head -c "$1" /dev/zero | tr '\0' x; }

put_refused() {
        local out
        if out=$(nodes_put 1 /reload/value "$(bytes "$1")" 2>&1); then
                nodes_fail "a $1-byte value was accepted under MaxValueSize=$2"
        fi
        grep -q "over the value size limit of $2 bytes" <<<"$out" ||
                nodes_fail "the refusal of a $1-byte value does not name the limit $2: $out"
}

put_accepted() {
        nodes_put 1 /reload/value "$(bytes "$1")" >/dev/null || nodes_fail "a $1-byte value was refused"
}

notified() {
        # Every notification since the reload started, in order, one per line.
        journalctl --no-pager -o cat --user-unit raftd@n1.service -u raftd@n1.service --after-cursor="$cursor" 2>/dev/null |
                sed -n "s/^raftd@n1.service: Got notification message from PID $pid (\(.*\))$/\1/p"
}

reloaded() {
        grep -q "^READY=1" <<<"$(notified)" && [ "$(nodes_show 1 ActiveState)" = active ]
}

reload_to() {
        sed -i "s/^MaxValueSize=.*/MaxValueSize=$1/" "$NODES_CONF_DIR/n1.conf"
        cursor=$(journalctl --no-pager -n 0 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
        timeout 60 systemctl --user reload raftd@n1.service || nodes_fail "systemctl reload failed"
        manager_wait_for 30 reloaded || nodes_fail "no READY=1 after the reload; notifications: $(notified)"
        local seen
        seen=$(notified | grep -E "^(RELOADING|READY)=1" | cut -d, -f1 | tr '\n' ' ')
        [ "$seen" = "RELOADING=1 READY=1 " ] || nodes_fail "expected RELOADING=1 then READY=1, the manager saw: $seen"
}

pid=$(nodes_show 1 MainPID)
put_refused 100 64
put_accepted 64

reload_to 128
put_accepted 100
put_refused 200 128

reload_to 16
put_refused 32 16
put_accepted 16

[ "$(nodes_show 1 MainPID)" = "$pid" ] || nodes_fail "raftd@n1 was restarted by the reload"
[ "$(nodes_show 1 NRestarts)" = 0 ] || nodes_fail "raftd@n1 restarted during the reloads"
grep -q "Reloaded: MaxKeyLength=4096 MaxValueSize=16 " <<<"$(nodes_journal 1)" || nodes_fail "raftd did not log the reload"
echo "two reloads applied MaxValueSize=128 then 16 to PID $pid: RELOADING=1 -> READY=1 each time"
