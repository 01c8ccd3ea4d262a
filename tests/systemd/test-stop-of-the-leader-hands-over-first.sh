#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `systemctl --user stop` on the leader hands leadership over before raftd
# exits (its last log line names the new leader, and the term grows by one:
# a single election, the transfer's), while a client writes through another
# node one Put at a time.  Prints the longest gap between two successful
# writes of each trial and their median.  RAFTD_STOP_TRIALS=N runs N
# trials (default 5; docs/daemon.md has figures for 50).
set -euo pipefail
. "$1/tests/systemd/nodes.sh"
manager_enter "$@"
trials=${RAFTD_STOP_TRIALS:-5}
nodes_begin
nodes_setup 3
nodes_start 1 2 3

gaps=()
for trial in $(seq 1 "$trials"); do
        leader=$(nodes_leader 1)
        [ "$leader" -ge 1 ] || nodes_fail "trial $trial: no leader"
        writer=$((leader % 3 + 1))
        nodes_all_see_leader 1 2 3 || nodes_fail "trial $trial: the nodes disagree on the leader"
        term=$(nodes_property "$writer" Term)
        nodes_writer_start "$writer" "/stop/trial$trial"
        nodes_writer_wait_for 20 || nodes_fail "trial $trial: too few writes before the stop"

        timeout 60 systemctl --user stop "raftd@n$leader.service" ||
                nodes_fail "trial $trial: stopping raftd@n$leader failed or timed out"
        # Writes go on through the new leader.
        after=$(nodes_writer_count)
        nodes_writer_wait_for $((after + 20)) || nodes_fail "trial $trial: writes did not resume after the stop"
        nodes_writer_stop
        summary=$NODES_WRITER_SUMMARY
        [ "$(nodes_summary_field "$summary" failures)" = 0 ] ||
                nodes_fail "trial $trial: writes failed across the handover: $summary"

        last=$(nodes_journal "$leader" | grep -E "^Stopped; " | tail -n 1)
        new=$(sed -n 's/^Stopped; node \([0-9]*\) leads the cluster$/\1/p' <<<"$last")
        [ -n "$new" ] && [ "$new" != "$leader" ] ||
                nodes_fail "trial $trial: node $leader exited without handing over (its last word: '$last')"
        [ "$(nodes_leader "$writer")" = "$new" ] || nodes_fail "trial $trial: node $writer does not follow node $new"
        new_term=$(nodes_property "$writer" Term)
        [ "$new_term" = $((term + 1)) ] ||
                nodes_fail "trial $trial: term went from $term to $new_term: more than the transfer's election"
        [ "$(nodes_show "$leader" ActiveState)" = inactive ] || nodes_fail "trial $trial: raftd@n$leader is not inactive"

        gap=$(nodes_summary_field "$summary" longest_gap_ms)
        gaps+=("$gap")
        echo "trial $trial: node $leader -> node $new (term $new_term); writer through node $writer: $summary"
        nodes_start "$leader"
done

sorted=$(printf '%s\n' "${gaps[@]}" | sort -n)
median=$(awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' <<<"$sorted")
max=$(tail -n 1 <<<"$sorted")
echo "graceful stop of the leader: longest write gap median $median ms, max $max ms over $trials trials"
