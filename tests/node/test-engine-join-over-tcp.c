/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A node started with join (no peers, no addresses) is added to a running
 * cluster of real processes over TCP: as a learner it catches up, from the
 * log or, once the others compacted theirs, from a snapshot; promoted, it
 * serves a write; removed, it keeps running (and connected) without disturbing
 * the cluster.  Once with the highest id (the leader dials it as usual) and
 * once with the lowest (the leader must dial down to it).  And a joiner that
 * went on to lead reaches a member that was down while it was added. */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "raftd.h"
#include "scenario.h"

#define DEADLINE_MS 30000
/* Taken every this many entries, and the log compacted behind them. */
#define SNAPSHOT_ENTRIES 40

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* A membership change, retried while the cluster answers that it cannot
 * take it yet (a promotion waits for the learner to catch up). */
static void change_until_done(struct procs *ps, unsigned via, const char *op, unsigned id) {
        uint64_t end = now_ms() + DEADLINE_MS;
        struct answer a = {};

        while (now_ms() < end) {
                if (scenario_call(ps, via, &a, 10000, "%s %u", op, id) && strcmp(a.kind, "ok") == 0)
                        return;
                (void) procs_poll(ps, 100);
        }
        fail_msg("\"%s %u\" through node %u did not succeed: %s %d", op, id, via, a.kind, a.error);
}

/* members is "1v,2v,4l": is id there, with that role? */
static bool member_is(const char *members, unsigned id, char role) {
        char want[24];
        size_t len = (size_t) snprintf(want, sizeof(want), "%u%c", id, role);

        for (const char *p = members; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, want, len) == 0 && (p[len] == ',' || p[len] == 0))
                        return true;
        return false;
}

/* Node via sees exactly these voters and nobody else. */
struct members_wait {
        unsigned via;
        const unsigned *voters;
        unsigned n;
};

static bool voters_are(struct procs *ps, void *arg) {
        struct members_wait *w = arg;
        struct answer a;
        unsigned listed = 1;

        if (!scenario_call(ps, w->via, &a, 1000, "members") || strcmp(a.kind, "members") != 0)
                return false;
        for (const char *p = a.value; (p = strchr(p, ',')); p++)
                listed++;
        if (listed != w->n)
                return false;
        for (unsigned i = 0; i < w->n; i++)
                if (!member_is(a.value, w->voters[i], 'v'))
                        return false;
        return true;
}

static bool ready(struct procs *ps, void *arg) {
        return ps->p[*(unsigned *) arg].ready;
}

static unsigned count_snapshots(const struct procs *ps, unsigned id) {
        char path[128];
        unsigned n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "%s/n%u/snapshots", ps->dir, id);
        d = opendir(path);
        if (!d)
                return 0;
        for (struct dirent *e; (e = readdir(d));)
                n += strncmp(e->d_name, "snapshot-", 9) == 0;
        closedir(d);
        return n;
}

static void status_of(struct procs *ps, unsigned id, struct answer *a) {
        assert_true(scenario_call(ps, id, a, 10000, "status"));
        assert_string_equal(a->kind, "status");
}

static void joiner_catches_up_serves_and_leaves(unsigned joiner, bool compacted) {
        struct procs ps;
        struct answer a;
        struct members_wait w;
        unsigned voters[3], leader, follower, k = 0;
        const unsigned all[] = { 1, 2, 3, 4 };
        char last_key[32];
        uint64_t term, end;
        int keys = compacted ? 4 * SNAPSHOT_ENTRIES : 20;

        scenario_seed(compacted ? "join-from-snapshot" : "join-from-log");
        procs_init(&ps, 4);
        ps.join[joiner] = true;
        ps.snapshot_entries = compacted ? SNAPSHOT_ENTRIES : 0;
        /* Compacted right up to the snapshot: by default a node keeps at
         * least 1000 entries behind it, more than this test writes. */
        ps.snapshot_trailing = compacted ? 1 : 0;
        for (unsigned id = 1; id <= 4; id++)
                if (id != joiner) {
                        voters[k++] = id;
                        procs_start(&ps, id);
                }
        assert_true(procs_wait(&ps, procs_all_ready, NULL, DEADLINE_MS));
        leader = procs_leader(&ps, DEADLINE_MS);
        assert_int_not_equal(leader, 0);
        follower = voters[0] == leader ? voters[1] : voters[0];
        assert_true(scenario_put_range(&ps, leader, 0, keys));
        if (compacted) {
                /* The log before this index is gone on every voter, whoever
                 * leads when the joiner comes: it can only get /k/0 from a
                 * snapshot. */
                for (unsigned i = 0; i < 3; i++) {
                        assert_true(scenario_call(&ps, voters[i], &a, 20000, "snapshot"));
                        assert_string_equal(a.kind, "ok");
                        assert_true(a.revision > SNAPSHOT_ENTRIES);
                }
        }

        /* Added through a follower: the change is forwarded to the leader. */
        procs_start(&ps, joiner);
        assert_true(scenario_call(&ps, follower, &a, 20000, "add %u 127.0.0.1:%d", joiner, ps.ports[joiner]));
        assert_string_equal(a.kind, "ok");
        /* Ready: it reached the leader and its session was applied. */
        assert_true(procs_wait(&ps, ready, &joiner, DEADLINE_MS));
        snprintf(last_key, sizeof(last_key), "/k/%d", keys - 1);
        assert_true(scenario_wait_local(&ps, joiner, last_key, DEADLINE_MS));
        assert_true(scenario_call(&ps, joiner, &a, 10000, "lget /k/0"));
        assert_string_equal(a.kind, "val");
        assert_string_equal(a.value, "v0");
        if (compacted)
                assert_true(count_snapshots(&ps, joiner) > 0);
        assert_true(scenario_call(&ps, leader, &a, 10000, "members"));
        assert_true(member_is(a.value, joiner, 'l'));

        change_until_done(&ps, leader, "promote", joiner);
        /* The joiner's own view too: it learned the configuration. */
        w = (struct members_wait) { joiner, all, 4 };
        if (!procs_wait(&ps, voters_are, &w, DEADLINE_MS)) {
                assert_true(scenario_call(&ps, joiner, &a, 10000, "members"));
                fail_msg("node %u sees members %s, expected four voters", joiner, a.value);
        }
        assert_true(scenario_call(&ps, joiner, &a, 20000, "put /from/joiner yes"));
        assert_string_equal(a.kind, "ok");
        assert_true(scenario_get(&ps, follower, "/from/joiner", &a, 20000));
        assert_string_equal(a.value, "yes");

        change_until_done(&ps, leader, "remove", joiner);
        w = (struct members_wait) { leader, voters, 3 };
        assert_true(procs_wait(&ps, voters_are, &w, DEADLINE_MS));

        /* The removed node keeps running and connected.  Pre-vote and
         * check-quorum keep it from disturbing the cluster: over several
         * election timeouts (500 ms here) writes go on and the term stays. */
        status_of(&ps, voters[0], &a);
        leader = (unsigned) a.leader;
        term = a.term;
        status_of(&ps, leader, &a);
        assert_int_equal(a.role, RAFTD_LEADER);
        assert_int_equal(a.term, term);
        end = now_ms() + 3000;
        for (int i = 0; now_ms() < end; i++) {
                assert_true(scenario_call(&ps, voters[i % 3], &a, 20000, "put /after/removal %d", i));
                assert_string_equal(a.kind, "ok");
                (void) procs_poll(&ps, 50);
        }
        for (unsigned i = 0; i < 3; i++) {
                status_of(&ps, voters[i], &a);
                assert_int_equal(a.term, term);
                assert_int_equal(a.leader, leader);
        }
        assert_true(procs_alive(&ps, joiner));
        procs_destroy(&ps);
}

static bool leads(struct procs *ps, void *arg) {
        unsigned id = *(unsigned *) arg;
        struct answer a;

        return scenario_call(ps, id, &a, 1000, "status") && strcmp(a.kind, "status") == 0 &&
               a.role == RAFTD_LEADER;
}

/* The joiner knows addresses only from the replicated address book; the
 * bootstrapped members have theirs from their peer lists.  A member that was
 * down while the joiner was added cannot dial it (it never applied the
 * joiner's address), so once the joiner leads and the old leader is gone
 * (removed: its queue of appends for the member goes with it), that member
 * comes back only if the joiner can dial it: its address must be in the book
 * although nobody ever added it. */
static void joiner_that_leads_reaches_a_member_that_missed_its_address(void **state) {
        struct procs ps;
        struct answer a;
        unsigned old_leader, missed, joiner = 4;

        scenario_seed("join-then-lead");
        procs_init(&ps, 4);
        ps.join[joiner] = true;
        for (unsigned id = 1; id <= 3; id++)
                procs_start(&ps, id);
        assert_true(procs_wait(&ps, procs_all_ready, NULL, DEADLINE_MS));
        old_leader = procs_leader(&ps, DEADLINE_MS);
        assert_int_not_equal(old_leader, 0);
        missed = old_leader == 1 ? 2 : 1;
        assert_true(scenario_put_range(&ps, old_leader, 0, 10));
        procs_signal(&ps, missed, SIGKILL);

        procs_start(&ps, joiner);
        assert_true(scenario_call(&ps, old_leader, &a, 20000, "add %u 127.0.0.1:%d", joiner, ps.ports[joiner]));
        assert_string_equal(a.kind, "ok");
        assert_true(procs_wait(&ps, ready, &joiner, DEADLINE_MS));
        change_until_done(&ps, old_leader, "promote", joiner);
        assert_true(scenario_call(&ps, old_leader, &a, 20000, "transfer %u", joiner));
        assert_string_equal(a.kind, "ok");
        assert_true(procs_wait(&ps, leads, &joiner, DEADLINE_MS));
        change_until_done(&ps, joiner, "remove", old_leader);
        procs_signal(&ps, old_leader, SIGKILL);
        assert_true(scenario_call(&ps, joiner, &a, 20000, "put /while/joiner/leads yes"));
        assert_string_equal(a.kind, "ok");

        procs_start(&ps, missed);
        if (!scenario_wait_local(&ps, missed, "/while/joiner/leads", DEADLINE_MS)) {
                status_of(&ps, missed, &a);
                fail_msg("node %u did not catch up under leader %u (it names leader %" PRIu64 ")", missed, joiner,
                         a.leader);
        }
        procs_destroy(&ps);
}

static void joiner_with_the_highest_id_catches_up_from_the_log(void **state) {
        joiner_catches_up_serves_and_leaves(4, false);
}

static void joiner_with_the_lowest_id_catches_up_from_a_snapshot(void **state) {
        joiner_catches_up_serves_and_leaves(1, true);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(joiner_with_the_highest_id_catches_up_from_the_log),
                cmocka_unit_test(joiner_with_the_lowest_id_catches_up_from_a_snapshot),
                cmocka_unit_test(joiner_that_leads_reaches_a_member_that_missed_its_address),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
