#!/usr/bin/env bash
# raftctl lock: a command run under the lock on node 1 excludes one on
# node 2 (the second starts only after the first ended), raftctl exits with
# the command's status, and a SIGKILLed holder lets a waiter on another node
# in while its command still runs.
. "$(dirname "$0")/ctl-test-lib.sh"
start_cluster

waiters() {
        busctl --address="unix:path=$dir/bus1" --json=short call org.raftd1 /org/raftd1 org.raftd1.Lock List t 0 |
                python3 -c 'import json, sys; print(sum(l[9] for l in json.load(sys.stdin)["data"][0] if l[0] == sys.argv[1]))' "$1"
}
has_waiter() { [ "$(waiters "$1")" -ge 1 ]; }

# Mutual exclusion across nodes, in order: start1 end1 start2 end2.
log=$dir/order
# (raftctl itself in the background, not the ctl function: $! is its pid.)
# The first command holds on until the second raftctl is seen waiting.
"$raftctl" --bus-address="unix:path=$dir/bus1" lock /locks/job -- sh -c \
        "echo start1 >> $log; i=0; until [ -e $dir/release ] || [ \$i -ge 1200 ]; do sleep 0.05; i=\$((i + 1)); done; echo end1 >> $log" &
first=$!
ctl_test_children="$first"
wait_for 30 grep -qs start1 "$log"
"$raftctl" --bus-address="unix:path=$dir/bus2" lock /locks/job -- sh -c "echo start2 >> $log; echo end2 >> $log" &
second=$!
ctl_test_children="$first $second"
wait_for 30 has_waiter /locks/job
touch "$dir/release"
wait "$first" || fail "first lock holder failed"
wait "$second" || fail "second lock holder failed"
expect "$(tr '\n' ' ' < "$log")" "start1 end1 start2 end2 " "the commands overlapped"

# The fence reaches the command and grows; options after NAME are raftctl's,
# options after CMD are CMD's.
f1=$(ctl 3 lock /locks/fence -- sh -c 'echo $RAFTD_LOCK_FENCE')
f2=$(ctl 1 lock /locks/fence --timeout=10 -- sh -c 'echo $RAFTD_LOCK_FENCE')
[ "$f2" -gt "$f1" ] || fail "fences did not grow: $f1 then $f2"
expect "$(ctl 2 lock --timeout=10 /locks/fence echo -n --json)" "--json"

# raftctl lock exits with CMD's status; a signal becomes 128+N; a missing
# command 127.
expect_status 42 ctl 1 lock /locks/status -- sh -c 'exit 42'
expect_status 0 ctl 2 lock /locks/status true
expect_status $((128 + 15)) ctl 3 lock /locks/status -- sh -c 'kill -TERM $$'
expect_status 127 ctl 3 lock /locks/status -- /nonexistent/command
# Neither the lock's descriptor nor the bus connection leaks into the
# command: raftctl started with only stdin, stdout and stderr open, CMD has
# just those.
only_stdio() {
        (
                for fd in /proc/$BASHPID/fd/*; do
                        fd=${fd##*/}
                        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
                done
                exec "$@"
        )
}
# (CMD is ls itself: a shell may hold pipe descriptors of its own; fd 3 is
# the directory ls reads.)
expect "$(only_stdio "$raftctl" --bus-address="unix:path=$dir/bus1" lock /locks/status -- ls /proc/self/fd |
        sort -n | tr '\n' ' ')" "0 1 2 3 " "descriptors leaked into CMD"

# A timeout while another holds the lock: 5, and the command never runs.
"$raftctl" --bus-address="unix:path=$dir/bus1" lock /locks/busy -- sleep 300 &
holder=$!
ctl_test_children="$holder"
wait_for 30 sh -c "busctl --address=unix:path=$dir/bus1 call org.raftd1 /org/raftd1 org.raftd1.Lock List t 0 | grep -q /locks/busy"
expect_status 5 ctl 2 lock --timeout=0.5 /locks/busy -- touch "$dir/must-not-run"
[ ! -e "$dir/must-not-run" ] || fail "the command ran without the lock"

# SIGKILL of the holder releases the lock while its command still runs.
sleeper=$(pgrep -P "$holder" sleep) || fail "the holder's command is not running"
"$raftctl" --bus-address="unix:path=$dir/bus2" lock --timeout=60 /locks/busy -- touch "$dir/waiter-ran" &
waiter=$!
ctl_test_children="$holder $waiter $sleeper"
wait_for 30 has_waiter /locks/busy
kill -KILL "$holder"
wait "$waiter" || fail "the waiter did not get the lock after the holder was killed"
[ -e "$dir/waiter-ran" ] || fail "the waiter's command did not run"
kill -0 "$sleeper" || fail "the killed holder's command ended: the release was not the kill's doing"
kill "$sleeper"
echo ok
