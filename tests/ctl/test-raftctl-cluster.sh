#!/usr/bin/env bash
# raftctl's cluster commands against real daemons: keygen writes the key the
# whole cluster runs with; status shows 3 members and a leader; watch on
# node 3 sees puts made via node 1 in order; transfer-leader moves
# leadership; snapshot; backup FILE.
. "$(dirname "$0")/ctl-test-lib.sh"

# keygen: mode 0600, refuses to overwrite, --force replaces; the cluster
# below starts with this key (local-cluster.sh keeps an existing one).
"$raftctl" keygen "$dir/cluster.key"
expect "$(stat -c %a "$dir/cluster.key")" 600
expect "$(stat -c %s "$dir/cluster.key")" 32
old=$(od -An -tx1 "$dir/cluster.key")
expect_status 1 "$raftctl" keygen "$dir/cluster.key"
expect "$(od -An -tx1 "$dir/cluster.key")" "$old" "keygen overwrote a key without --force"
"$raftctl" keygen --force "$dir/cluster.key"
[ "$(od -An -tx1 "$dir/cluster.key")" != "$old" ] || fail "keygen --force kept the old key"
expect "$(stat -c %a "$dir/cluster.key")" 600
start_cluster

leader_of() { ctl "$1" --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["leader"])'; }

# status: 3 voters, exactly one leader, all reachable, seen from node 2.
ctl 2 --json status | json_check "d['node_id'] == 2 and len(d['members']) == 3 and sum(m['leader'] for m in d['members']) == 1 and all(m['voter'] and m['reachable'] for m in d['members']) and d['leader'] in [m['id'] for m in d['members']]"
# Which bus: --bus-address (above), $DBUS_SYSTEM_BUS_ADDRESS by default, the
# session bus with --user.
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus3" "$raftctl" --json status | json_check "d['node_id'] == 3"
DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/bus2" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus3" \
        "$raftctl" --user --json status | json_check "d['node_id'] == 2"
leader=$(leader_of 1)
ctl "$leader" --json status | json_check "d['role'] == 'leader' and all(m['match_index'] is not None for m in d['members'])"
human=$(ctl 1 status)
expect "$(echo "$human" | grep -c -E '^[123] +(leader|voter) ')" 3 "status table: $human"
expect "$(echo "$human" | grep -c -E '^[123] +leader ')" 1 "status table: $human"

# watch on node 3, puts via node 1: every change once, in revision order.
"$raftctl" --bus-address="unix:path=$dir/bus3" --json watch /w/ > "$dir/watch" &
watcher=$!
# A prefix that is not a subtree ("/w/k1") selects like list: k1, k10..k19.
"$raftctl" --bus-address="unix:path=$dir/bus3" watch /w/k1 > "$dir/watch-k1" &
watcher_k1=$!
ctl_test_children="$watcher $watcher_k1"
# Subscribed once a put made now shows up.
# (/w/k1-ready is under both watchers' prefixes.)
watching() { ctl 1 put /w/k1-ready x >/dev/null; grep -q /w/k1-ready "$dir/watch" && grep -q /w/k1-ready "$dir/watch-k1"; }
wait_for 30 watching
for i in $(seq 1 20); do ctl 1 put "/w/k$i" "v$i" >/dev/null; done
ctl 1 put /elsewhere x >/dev/null
ctl 1 del /w/k1 >/dev/null
wait_for 30 grep -q '"deleted":true' "$dir/watch"
wait_for 30 grep -q ' deleted /w/k1$' "$dir/watch-k1"
kill -TERM "$watcher"
kill -INT "$watcher_k1"
wait "$watcher" || fail "watch did not exit 0 on SIGTERM"
wait "$watcher_k1" || fail "watch did not exit 0 on SIGINT"
expect "$(grep -v /w/k1-ready "$dir/watch-k1" | awk '{print $2, $3}' | tr '\n' ' ')" \
        "put /w/k1 $(for i in $(seq 10 19); do printf 'put /w/k%d ' "$i"; done)deleted /w/k1 " "watch /w/k1"
grep -v /w/k1-ready "$dir/watch" | python3 -c '
import json, sys
events = [json.loads(l) for l in sys.stdin]
keys = [(e["key"], e.get("value"), e["deleted"]) for e in events]
want = [("/w/k%d" % i, "v%d" % i, False) for i in range(1, 21)] + [("/w/k1", None, True)]
revs = [e["revision"] for e in events]
assert keys == want, keys
assert revs == sorted(set(revs)), revs
' || fail "watch output: $(cat "$dir/watch")"

# transfer-leader: another node leads afterwards, and every node agrees.
old_leader=$(leader_of 1)
new_leader=$(ctl "$old_leader" --json transfer-leader | python3 -c 'import json, sys; print(json.load(sys.stdin)["leader"])')
[ "$new_leader" != "$old_leader" ] && [ "$new_leader" != 0 ] || fail "leadership stayed with $old_leader"
agreed() { [ "$(leader_of 1)" = "$new_leader" ] && [ "$(leader_of 2)" = "$new_leader" ] && [ "$(leader_of 3)" = "$new_leader" ]; }
wait_for 30 agreed

# snapshot and backup.
ctl 2 --json snapshot | json_check "d['index'] > 0"
ctl 3 backup "$dir/backup.img" >/dev/null
[ -s "$dir/backup.img" ] || fail "backup wrote no data"
expect "$(stat -c %a "$dir/backup.img")" 600
expect_status 1 ctl 3 backup "$dir/backup.img"
ctl 3 --json backup --force "$dir/backup.img" | json_check "d['index'] > 0"
[ -z "$(ls "$dir" | grep 'backup.img.')" ] || fail "backup left a temporary file"

# watch ends with 5 when its node leaves the bus (here: SIGKILL).
"$raftctl" --bus-address="unix:path=$dir/bus3" watch / > /dev/null &
watcher=$!
ctl_test_children=$watcher
# Connected once the bus has three clients: raftd, raftctl and busctl.  (If
# raftd dies before raftctl subscribed, raftctl's check for a node fails:
# also 5.)
subscribed() { [ "$(busctl --address="unix:path=$dir/bus3" list --no-legend --unique | wc -l)" -ge 3 ]; }
wait_for 30 subscribed
kill -KILL "$(cat "$dir/raftd3.pid")"
rc=0
wait "$watcher" || rc=$?
expect "$rc" 5 "watch exit status after its node died"
echo ok
