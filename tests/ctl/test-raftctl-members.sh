#!/usr/bin/env bash
# raftctl members: a 4th raftd (Join=yes) is added as a learner, promoted
# to a voter once it caught up, serves a write, and is removed again.
. "$(dirname "$0")/ctl-test-lib.sh"
start_cluster
leader_of() { ctl "$1" --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["leader"])'; }
member4() { ctl "$(leader_of 1)" --json status | json_check "$1" 2>/dev/null; }

port4=$((RAFTD_DEV_PORT + 4))
dbus-daemon --session --address="unix:path=$dir/bus4" --fork --print-pid=1 > "$dir/bus4.pid"
cat > "$dir/node4.conf" <<CONF
[Node]
Id=4
Listen=127.0.0.1:$port4
DataDirectory=$dir/node4
ClusterKeyFile=$dir/cluster.key
Join=yes

[Bus]
Address=unix:path=$dir/bus4
CONF
start_node 4

expect_status 2 ctl 1 members frob 4
expect_status 2 ctl 1 members add 4
expect_status 2 ctl 1 members promote four
expect_status 3 ctl 1 members remove 9
ctl 1 members add 4 "127.0.0.1:$port4"
wait_for 30 member4 "any(m['id'] == 4 and not m['voter'] for m in d['members'])"
# Again (what a retry after a lost answer meets): a clear refusal, exit 1,
# that changes nothing, the replicated address book included.
out=$(ctl 2 members add 4 "127.0.0.1:1" 2>&1) && fail "a second add of 4 succeeded"
[[ "$out" == *"already a member"* ]] || fail "a second add of 4 did not say it is a member already: $out"
expect "$(ctl 1 get /raftd/members/4)" "127.0.0.1:$port4"
ctl 2 status | grep -q -E '^4 +learner ' || fail "status does not show 4 as a learner: $(ctl 2 status)"

# The learner knows no peer: the leader dials it from the address given to
# add, and it answers over that connection (docs/wire-format.md).
wait_for 30 member4 "any(m['id'] == 4 and m['reachable'] for m in d['members'])"
# Promotion waits for the learner to catch up; Busy/Unavailable (5) means retry.
promote() { ctl 1 members promote 4; }
wait_for 60 promote
wait_for 30 member4 "len(d['members']) == 4 and all(m['voter'] for m in d['members'])"
expect_status 1 ctl 1 members promote 4
out=$(ctl 1 members promote 4 2>&1) || true
[[ "$out" == *"already a voter"* ]] || fail "a second promote of 4 did not say it is a voter already: $out"
ctl 4 put /from/node4 yes >/dev/null
expect "$(ctl 1 get /from/node4)" yes
ctl 1 members remove 4
wait_for 30 member4 "sorted(m['id'] for m in d['members']) == [1, 2, 3]"

echo ok
