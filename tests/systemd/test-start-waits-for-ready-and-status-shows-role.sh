#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Three instances of the project's raftd@.service under a real user manager
# form a cluster; `systemctl --user start` returns only once each node sent
# READY=1 (a leader known, its session up): each node serves a write right
# after it returns, and `systemctl --user status` shows the STATUS= line.
set -euo pipefail
. "$1/tests/systemd/nodes.sh"
manager_enter "$@"
nodes_begin
nodes_setup 3

nodes_start 1 2 3
# No waiting here: Type=notify made start wait for READY=1.
for i in 1 2 3; do
        state=$(nodes_show "$i" ActiveState)
        [ "$state" = active ] || nodes_fail "raftd@n$i is $state right after start returned"
        rev=$(nodes_put "$i" "/ready/n$i" "up") || nodes_fail "node $i did not serve a Put right after start"
        [ "$rev" -gt 0 ] || nodes_fail "node $i answered Put with revision '$rev'"
done

status_re='Role (leader|follower), term [1-9][0-9]*, leader node [1-3], commit index [1-9][0-9]*'
for i in 1 2 3; do
        out=$(systemctl --user status --no-pager "raftd@n$i.service" || true)
        line=$(grep -E "^ *Status: \"$status_re\"" <<<"$out") ||
                nodes_fail "systemctl status of raftd@n$i shows no STATUS= line with role, term, leader, commit:"$'\n'"$out"
        echo "raftd@n$i:$line"
done
# The manager saw READY=1 before it reported the start as done.
grep -q "is ready: a leader is known" <<<"$(nodes_journal 1)" || nodes_fail "node 1 did not log that it was ready"
echo "3 instances started; each served a write at once; STATUS= shown"
