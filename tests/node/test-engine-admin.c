/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Administration through the embedded API: membership changes, leadership
 * transfer and graceful stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static void change(struct fixture *f, raft_id via, enum raftd_member_op op, raft_id id, int expect) {
        struct op o = { 0 };
        int k = raftd_member_change(f->nodes[via], op, id, "127.0.0.1:9", write_done, &o);

        /* Refused at once when the node knows better already. */
        if (k < 0 && expect < 0) {
                assert_int_equal(k, expect);
                return;
        }
        assert_int_equal(k, 0);
        run_until(f, op_done, &o, 20);
        assert_int_equal(o.error, expect);
        if (expect == 0)
                assert_true(o.revision > 0);
}

static unsigned voters_seen_by(struct fixture *f, raft_id id) {
        struct raftd_member m[16];
        int k = raftd_members(f->nodes[id], m, 16);
        unsigned v = 0;

        assert_true(k >= 0);
        for (int i = 0; i < k; i++)
                v += m[i].voter;
        return v;
}

static bool has_key_locally(struct fixture *f, void *arg) {
        struct op o;

        get(f, 4, arg, RAFTD_GET_LOCAL, &o);
        return o.error == 0;
}

static void new_node_joins_as_learner_catches_up_and_is_promoted(void **state) {
        struct fixture *f = cluster(0);
        char key[32];

        for (int i = 0; i < 40; i++) {
                snprintf(key, sizeof(key), "/j/%d", i);
                put(f, 1, key, "v");
        }
        start_joining_node(f, 4);
        /* Through a follower: the change is forwarded to the leader. */
        change(f, follower_of(f, 0), RAFTD_MEMBER_ADD_LEARNER, 4, 0);
        change(f, 1, RAFTD_MEMBER_ADD_LEARNER, 4, -EEXIST);
        run_until(f, has_key_locally, "/j/39", 10);
        assert_int_equal(voters_seen_by(f, leader_of(f)), 3);
        change(f, 2, RAFTD_MEMBER_PROMOTE, 4, 0);
        assert_int_equal(voters_seen_by(f, leader_of(f)), 4);
        change(f, 3, RAFTD_MEMBER_PROMOTE, 4, -EALREADY);
        /* The new voter takes writes like any other node. */
        put(f, 4, "/j/new", "w");
        cluster_free(f);
}

static void removed_voter_leaves_and_writes_go_on(void **state) {
        struct fixture *f = cluster(0);
        raft_id gone = follower_of(f, 0);

        change(f, leader_of(f), RAFTD_MEMBER_REMOVE, gone, 0);
        assert_int_equal(voters_seen_by(f, leader_of(f)), 2);
        change(f, leader_of(f), RAFTD_MEMBER_REMOVE, gone, -ENOENT);
        stop_node(f, gone);
        put(f, leader_of(f), "/after-remove", "ok");
        cluster_free(f);
}

static void transfer_moves_leadership_to_the_named_voter(void **state) {
        struct fixture *f = cluster(0);
        raft_id target = follower_of(f, 0);
        struct op o = { 0 };

        /* Asked through the other follower: forwarded to the leader. */
        assert_int_equal(raftd_transfer_leadership(f->nodes[follower_of(f, target)], target, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        run_until(f, ready, NULL, 10);
        assert_int_equal(leader_of(f), target);
        cluster_free(f);
}

static void stop_done(void *userdata) {
        *(bool *) userdata = true;
}

static bool flag(struct fixture *f, void *arg) {
        return *(bool *) arg;
}

static void graceful_stop_of_the_leader_hands_over_first(void **state) {
        struct fixture *f = cluster(0);
        raft_id old = leader_of(f);
        bool stopped = false;

        assert_int_equal(raftd_node_stop(f->nodes[old], stop_done, &stopped), 0);
        run_until(f, flag, &stopped, 10);
        /* Someone else leads before the old leader is gone. */
        {
                struct raftd_status s;

                raftd_status(f->nodes[old], &s);
                assert_int_not_equal(s.role, RAFTD_LEADER);
                assert_int_not_equal(s.leader, 0);
                assert_int_not_equal(s.leader, old);
        }
        stop_node(f, old);
        put(f, follower_of(f, 0) ? follower_of(f, 0) : leader_of(f), "/after-stop", "ok");
        cluster_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(new_node_joins_as_learner_catches_up_and_is_promoted),
                cmocka_unit_test(removed_voter_leaves_and_writes_go_on),
                cmocka_unit_test(transfer_moves_leadership_to_the_named_voter),
                cmocka_unit_test(graceful_stop_of_the_leader_hands_over_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
