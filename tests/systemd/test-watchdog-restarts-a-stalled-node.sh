#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A stalled raftd (SIGSTOP: its loop, and so its WATCHDOG=1 pings, stop) is
# killed by the manager's watchdog and restarted (Restart=on-failure,
# counted in NRestarts=), while the rest of the cluster keeps serving
# writes.  Prints the time from SIGSTOP until the unit is active again.
set -euo pipefail
. "$1/tests/systemd/nodes.sh"
manager_enter "$@"
nodes_begin
nodes_dropin 60-watchdog $'[Service]\nWatchdogSec=2s'
nodes_setup 3
nodes_start 1 2 3

# Stall a follower and write through the other one.
leader=$(nodes_leader 1)
victim= other=
for i in 1 2 3; do
        [ "$i" = "$leader" ] && continue
        if [ -z "$victim" ]; then victim=$i; else other=$i; fi
done
[ "$(nodes_show "$victim" NRestarts)" = 0 ] || nodes_fail "NRestarts is not 0 before the stall"
nodes_writer_start "$other" /watchdog/counter

pid=$(nodes_show "$victim" MainPID)
t0=$(nodes_now_usec)
kill -STOP "$pid"
before=$(nodes_writer_count)
nodes_writer_wait_for $((before + 5)) 20 || nodes_fail "writes through node $other stopped while node $victim stalled"
state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || state=gone
[ "$state" = T ] || nodes_fail "node $victim was no longer stopped ($state) when the writes were checked"

restarted() {
        local p
        p=$(nodes_show "$victim" MainPID)
        [ "$p" != 0 ] && [ "$p" != "$pid" ] && nodes_active "$victim"
}
manager_wait_for 60 restarted || nodes_fail "raftd@n$victim was not restarted after the watchdog"
t1=$(nodes_timestamp_usec "$victim" ActiveEnterTimestamp)
restarts=$(nodes_show "$victim" NRestarts)
[ "$restarts" = 1 ] || nodes_fail "NRestarts is $restarts after one watchdog kill"
grep -q "Failed with result 'watchdog'" <<<"$(nodes_journal "$victim")" ||
        nodes_fail "the manager did not report a watchdog failure of raftd@n$victim"
# The restarted node serves again, and the writer never saw a failure.
rev=$(nodes_put "$victim" /watchdog/after restarted) || nodes_fail "restarted node $victim does not serve"
nodes_writer_stop
summary=$NODES_WRITER_SUMMARY
[ "$(nodes_summary_field "$summary" failures)" = 0 ] || nodes_fail "writes failed during the stall: $summary"
echo "writer through node $other during the stall: $summary"
printf 'watchdog restart: SIGSTOP -> active again in %d.%03d s (WatchdogSec=2s, RestartSec=1s)\n' \
        $(((t1 - t0) / 1000000)) $((((t1 - t0) % 1000000) / 1000))
