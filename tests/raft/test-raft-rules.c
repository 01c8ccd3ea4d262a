/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One test per Raft rule the core must keep (design.md §4). */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster.h"

static struct raft *R(struct cl *c, raft_id id) {
        return c->nodes[id].r;
}

/* A 3-node cluster with node 1 elected and its no-op committed everywhere. */
static struct cl *three_with_leader(void (*tune)(struct raft_options *o)) {
        struct cl *c = cl_new(3, 0, tune);

        cl_elect(c, 1);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        cl_advance(c, 100); /* heartbeat carries the commit index */
        cl_deliver_all(c, 1000);
        return c;
}

static void election_winner_appends_noop_of_its_term(void **state) {
        struct cl *c = cl_new(3, 0, NULL);
        const struct raft_entry *e;

        cl_elect(c, 1);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(raft_term_current(R(c, 1)), 2);
        e = raft_entry_at(R(c, 1), 2);
        assert_non_null(e);
        assert_int_equal(e->type, RAFT_ENTRY_NOOP);
        assert_int_equal(e->term, 2);
        assert_int_equal(raft_commit_index(R(c, 1)), 2);
        assert_int_equal(raft_leader(R(c, 2)), 1);
        cl_free(c);
}

static void single_voter_elects_itself_and_commits_alone(void **state) {
        struct cl *c = cl_new(1, 0, NULL);

        cl_elect(c, 1);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(cl_propose(c, 1, "x"), 0);
        assert_int_equal(raft_commit_index(R(c, 1)), 3);
        assert_int_equal(c->nodes[1].last_applied, 3);
        cl_free(c);
}

static int step_msg(struct raft *r, struct raft_update *u, uint8_t type, raft_id from, raft_term term,
                    void (*fill)(struct raft_message *m, uint64_t arg), uint64_t arg) {
        struct raft_message m = { .type = type, .from = from, .to = raft_id_self(r), .term = term };
        struct raft_event ev = { .type = RAFT_EVENT_RECEIVE, .now = 100000, .message = &m };

        if (fill)
                fill(&m, arg);
        return raft_step(r, &ev, u);
}

static void fill_granted(struct raft_message *m, uint64_t arg) {
        m->vote_result.granted = true;
}

static void fill_ack(struct raft_message *m, uint64_t index) {
        m->append_result.success = true;
        m->append_result.index = index;
}

/* Figure 8 of the Raft paper: a leader must not commit an entry of an
 * earlier term by counting replicas, only through one of its own term. */
static void commit_counts_replicas_only_for_current_term_entries(void **state) {
        struct raft_config conf = { .n = 3 };
        uint8_t buf[64];
        struct raft_entry log[2] = {
                { .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = { buf, 0 } },
                { .term = 2, .index = 2, .type = RAFT_ENTRY_NORMAL },
        };
        struct raft_hard_state hs = { .term = 3 };
        struct raft_event tick = { .type = RAFT_EVENT_TICK, .now = 100000 };
        struct raft_event persisted = { .type = RAFT_EVENT_PERSISTED, .now = 100000 };
        struct raft_options o;
        struct raft_update u;
        struct raft *r;

        for (unsigned i = 0; i < 3; i++)
                conf.servers[i] = (struct raft_server) { i + 1, RAFT_VOTER };
        raft_config_encode(&conf, buf);
        log[0].data.len = raft_config_encoded_size(&conf);
        raft_options_default(&o, 1);
        assert_int_equal(raft_new(&o, &r), 0);
        assert_int_equal(raft_load(r, &hs, NULL, log, 2), 0);

        tick.now = 0; /* starts the clock */
        assert_int_equal(raft_step(r, &tick, &u), 0);
        tick.now = 100000;
        assert_int_equal(raft_step(r, &tick, &u), 0);
        assert_int_equal(raft_role(r), RAFT_PRE_CANDIDATE);
        assert_int_equal(step_msg(r, &u, RAFT_MSG_PRE_VOTE_RESULT, 2, 4, fill_granted, 0), 0);
        assert_int_equal(raft_role(r), RAFT_CANDIDATE);
        /* The own vote, handed back once durable, and node 2's. */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_VOTE_RESULT, 1, 4, fill_granted, 0), 0);
        assert_int_equal(raft_role(r), RAFT_CANDIDATE);
        assert_int_equal(step_msg(r, &u, RAFT_MSG_VOTE_RESULT, 2, 4, fill_granted, 0), 0);
        assert_int_equal(raft_role(r), RAFT_LEADER);
        assert_int_equal(raft_last_index(r), 3); /* the no-op of term 4 */
        persisted.persisted.index = 3;
        persisted.persisted.term = 4;
        assert_int_equal(raft_step(r, &persisted, &u), 0);

        /* Entry 2 (term 2) is now on a majority: still not committed. */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_APPEND_RESULT, 2, 4, fill_ack, 2), 0);
        assert_int_equal(raft_commit_index(r), 0);
        assert_int_equal(u.n_committed, 0);
        /* Once the no-op of term 4 is on a majority, both commit. */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_APPEND_RESULT, 2, 4, fill_ack, 3), 0);
        assert_int_equal(raft_commit_index(r), 3);
        assert_int_equal(u.n_committed, 3);
        raft_free(r);
}

static void vote_refused_to_candidate_with_older_log(void **state) {
        struct cl *c = three_with_leader(NULL);

        /* Node 3 misses an entry, then campaigns: nobody may vote for it. */
        cl_isolate(c, 3, true);
        assert_int_equal(cl_propose(c, 1, "a"), 0);
        cl_deliver_all(c, 1000);
        cl_isolate(c, 3, false);
        cl_crash(c, 1);
        c->now += 5000; /* past every lease */
        cl_tick(c, 3);
        assert_int_equal(raft_role(R(c, 3)), RAFT_PRE_CANDIDATE);
        cl_deliver_all(c, 1000);
        assert_int_not_equal(raft_role(R(c, 3)), RAFT_LEADER);
        assert_int_not_equal(raft_role(R(c, 3)), RAFT_CANDIDATE);
        /* Node 2, which has the entry, wins. */
        cl_tick(c, 2);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_role(R(c, 2)), RAFT_LEADER);
        cl_free(c);
}

static void pre_vote_keeps_isolated_node_from_raising_its_term(void **state) {
        struct cl *c = three_with_leader(NULL);
        raft_term before = raft_term_current(R(c, 3));

        cl_isolate(c, 3, true);
        for (int i = 0; i < 10; i++) {
                c->now += 3000;
                cl_tick(c, 3);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_term_current(R(c, 3)), before);
        cl_isolate(c, 3, false);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        /* It rejoins without deposing the leader. */
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(raft_leader(R(c, 3)), 1);
        cl_free(c);
}

static void check_quorum_deposes_leader_cut_off_from_majority(void **state) {
        struct cl *c = three_with_leader(NULL);

        cl_isolate(c, 1, true);
        for (int i = 0; i < 25; i++) {
                c->now += 100;
                cl_tick(c, 1);
                cl_drop_all(c);
        }
        assert_int_equal(raft_role(R(c, 1)), RAFT_FOLLOWER);
        cl_free(c);
}

static void votes_ignored_while_leader_is_in_contact(void **state) {
        struct cl *c = three_with_leader(NULL);
        struct raft_message m = { .type = RAFT_MSG_VOTE, .from = 3, .to = 2 };
        struct raft_event ev = { .type = RAFT_EVENT_RECEIVE, .message = &m };
        raft_term t = raft_term_current(R(c, 2));

        m.term = t + 5;
        m.vote.last_index = 100;
        m.vote.last_term = t + 4;
        assert_int_equal(cl_step(c, 2, &ev), 0);
        assert_int_equal(raft_term_current(R(c, 2)), t);
        assert_int_equal(cl_count(c, RAFT_MSG_VOTE_RESULT, 3), 0);
        /* With the transfer flag (TimeoutNow) stickiness does not apply. */
        m.vote.transfer = true;
        assert_int_equal(cl_step(c, 2, &ev), 0);
        assert_int_equal(raft_term_current(R(c, 2)), t + 5);
        assert_non_null(cl_find(c, RAFT_MSG_VOTE_RESULT, 3));
        assert_true(cl_find(c, RAFT_MSG_VOTE_RESULT, 3)->m.vote_result.granted);
        cl_free(c);
}

static void granted_vote_and_vote_requests_wait_for_persistence(void **state) {
        struct cl *c = cl_new(3, 0, NULL);
        const struct cl_msg *q;

        c->now += 3000;
        cl_tick(c, 1); /* pre-vote */
        cl_deliver_all(c, 2);
        /* Pre-vote results are back: node 1 asks for real votes. */
        cl_deliver_all(c, 2);
        q = cl_find(c, RAFT_MSG_VOTE, 2);
        assert_non_null(q);
        assert_true(q->after_persist);
        assert_true(c->nodes[1].hs.vote == 1);
        /* Its own vote too waits for the disk. */
        q = cl_find_from(c, RAFT_MSG_VOTE_RESULT, 1, 1);
        assert_non_null(q);
        assert_true(q->after_persist);
        while (c->n_q > 0 && c->q[0].m.type != RAFT_MSG_VOTE)
                cl_deliver_all(c, 1);
        cl_deliver_all(c, 1); /* node 2 grants */
        q = cl_find_from(c, RAFT_MSG_VOTE_RESULT, 2, 1);
        assert_non_null(q);
        assert_true(q->m.vote_result.granted);
        assert_true(q->after_persist);
        cl_free(c);
}

/* Found by the simulator: a lone voter that led a term before the term
 * was on disk could crash, win the same term again and put other entries
 * at the same index and term. */
static void lone_voter_leads_only_once_its_term_is_durable(void **state) {
        struct cl *c = cl_new(1, 1, NULL);
        raft_term t;

        c->now += 3000;
        cl_tick(c, 1);
        t = raft_term_current(R(c, 1));
        assert_int_equal(raft_role(R(c, 1)), RAFT_CANDIDATE);
        /* Nothing may leave in the new term before the own vote is back. */
        assert_int_equal(cl_count(c, RAFT_MSG_APPEND, 0), 0);
        assert_non_null(cl_find_from(c, RAFT_MSG_VOTE_RESULT, 1, 1));
        /* The harness persists synchronously: handing the vote back is the
         * moment the term is on disk. */
        cl_deliver_all(c, 1);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(c->nodes[1].hs.term, t);
        cl_free(c);
}

static void follower_acknowledges_entries_only_after_persistence(void **state) {
        struct cl *c = three_with_leader(NULL);
        const struct cl_msg *q;

        assert_int_equal(cl_propose(c, 1, "x"), 0);
        cl_deliver_all(c, 1); /* the append to node 2 */
        q = cl_find(c, RAFT_MSG_APPEND_RESULT, 1);
        assert_non_null(q);
        assert_true(q->m.append_result.success);
        assert_true(q->after_persist);
        /* The leader's own appends go out at once: its disk write runs in
         * parallel with replication. */
        assert_int_equal(cl_propose(c, 1, "y"), 0);
        q = cl_find(c, RAFT_MSG_APPEND, 2);
        assert_non_null(q);
        assert_false(q->after_persist);
        cl_free(c);
}

static void fast_backoff_skips_a_conflicting_term_in_one_round(void **state) {
        struct cl *c = three_with_leader(NULL);
        unsigned appends;

        /* Node 3, isolated, becomes leader of a private term? It cannot
         * (pre-vote). Instead node 1 writes entries node 3 never sees, and a
         * new leader with a different suffix must overwrite node 1's. */
        cl_isolate(c, 2, true);
        cl_isolate(c, 3, true);
        for (int i = 0; i < 20; i++)
                assert_int_equal(cl_propose(c, 1, "stale"), 0);
        cl_drop_all(c);
        cl_isolate(c, 2, false);
        cl_isolate(c, 3, false);
        cl_isolate(c, 1, true);
        c->now += 5000;
        cl_tick(c, 2);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_role(R(c, 2)), RAFT_LEADER);
        for (int i = 0; i < 5; i++)
                assert_int_equal(cl_propose(c, 2, "new"), 0);
        cl_deliver_all(c, 1000);
        cl_isolate(c, 1, false);
        /* Node 1 has 20 entries of the old term past the common prefix: one
         * rejection with a conflict hint must bring next back in one step. */
        cl_advance(c, 100);
        appends = 0;
        for (int round = 0; round < 10 && raft_last_index(R(c, 1)) != raft_last_index(R(c, 2)); round++) {
                appends += cl_count(c, RAFT_MSG_APPEND, 1);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_last_index(R(c, 1)), raft_last_index(R(c, 2)));
        assert_int_equal(raft_entry_at(R(c, 1), raft_last_index(R(c, 1)))->term, raft_term_current(R(c, 2)));
        assert_true(appends <= 3);
        cl_free(c);
}

static void tune_small_batches(struct raft_options *o) {
        o->max_msg_entries = 4;
        o->max_inflight = 2;
}

static void appends_respect_entry_batch_and_inflight_window(void **state) {
        struct cl *c = three_with_leader(tune_small_batches);

        for (int i = 0; i < 40; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        /* Replicating state: at most 2 messages in flight to each follower. */
        assert_true(cl_count(c, RAFT_MSG_APPEND, 2) <= 2);
        for (size_t i = 0; i < c->n_q; i++)
                if (c->q[i].m.type == RAFT_MSG_APPEND)
                        assert_true(c->q[i].m.append.n_entries <= 4);
        for (int i = 0; i < 200 && raft_commit_index(R(c, 1)) < raft_last_index(R(c, 1)); i++)
                cl_deliver_all(c, 1);
        assert_int_equal(raft_commit_index(R(c, 1)), raft_last_index(R(c, 1)));
        cl_free(c);
}

static void tune_byte_batches(struct raft_options *o) {
        o->max_msg_bytes = 10;
}

static void appends_respect_byte_batch_limit(void **state) {
        struct cl *c = three_with_leader(tune_byte_batches);

        for (int i = 0; i < 10; i++)
                assert_int_equal(cl_propose(c, 1, "four"), 0);
        cl_deliver_all(c, 10000);
        for (int i = 0; i < 10; i++)
                assert_int_equal(cl_propose(c, 1, "four"), 0);
        for (size_t i = 0; i < c->n_q; i++) {
                size_t bytes = 0;

                if (c->q[i].m.type != RAFT_MSG_APPEND)
                        continue;
                for (unsigned k = 0; k < c->q[i].m.append.n_entries; k++)
                        bytes += c->q[i].m.append.entries[k].data.len;
                assert_true(bytes <= 10);
        }
        cl_free(c);
}

static void batch_proposal_goes_out_in_one_append_per_follower(void **state) {
        struct cl *c = three_with_leader(NULL);
        struct raft_buf batch[5] = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 }, { "e", 1 } };
        struct raft_event ev = { .type = RAFT_EVENT_PROPOSE };
        raft_index before = raft_last_index(R(c, 1));
        const struct cl_msg *q;

        ev.propose.type = RAFT_ENTRY_NORMAL;
        ev.propose.batch = batch;
        ev.propose.n_batch = 5;
        assert_int_equal(cl_step(c, 1, &ev), 0);
        assert_int_equal(raft_last_index(R(c, 1)), before + 5);
        for (unsigned i = 0; i < 5; i++)
                assert_memory_equal(raft_entry_at(R(c, 1), before + 1 + i)->data.base, batch[i].base, 1);
        assert_int_equal(cl_count(c, RAFT_MSG_APPEND, 2), 1);
        q = cl_find(c, RAFT_MSG_APPEND, 2);
        assert_int_equal(q->m.append.n_entries, 5);
        assert_memory_equal(q->m.append.entries[4].data.base, "e", 1);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 1)), before + 5);
        cl_free(c);
}

static void lost_appends_are_resent_after_a_heartbeat_without_progress(void **state) {
        struct cl *c = three_with_leader(NULL);

        assert_int_equal(cl_propose(c, 1, "lost"), 0);
        cl_drop_all(c);
        for (int i = 0; i < 3; i++) {
                cl_advance(c, 100);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_last_index(R(c, 2)), raft_last_index(R(c, 1)));
        assert_int_equal(raft_commit_index(R(c, 1)), raft_last_index(R(c, 1)));
        cl_free(c);
}

static void read_index_refused_until_leader_commits_in_its_term(void **state) {
        struct cl *c = cl_new(3, 0, NULL);

        c->now += 3000;
        cl_tick(c, 1);
        cl_deliver_all(c, 2); /* pre-votes */
        cl_deliver_all(c, 2); /* pre-vote results */
        cl_deliver_all(c, 2); /* votes */
        cl_deliver_all(c, 2); /* results: leader, no-op not yet committed */
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_true(raft_commit_index(R(c, 1)) < raft_last_index(R(c, 1)));
        assert_int_equal(cl_read(c, 1, 7), RAFT_EAGAIN);
        assert_int_equal(cl_read(c, 2, 7), RAFT_ENOTLEADER);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 1)), raft_last_index(R(c, 1)));
        assert_int_equal(cl_read(c, 1, 7), 0);
        cl_free(c);
}

static void read_index_waits_for_majority_and_one_round_serves_many(void **state) {
        struct cl *c = three_with_leader(NULL);
        unsigned heartbeats;

        assert_int_equal(cl_read(c, 1, 1), 0);
        assert_int_equal(c->nodes[1].n_ready, 0);
        heartbeats = cl_count(c, RAFT_MSG_APPEND, 0);
        assert_int_equal(heartbeats, 2);
        /* More reads while the round is out share the next one. */
        assert_int_equal(cl_read(c, 1, 2), 0);
        assert_int_equal(cl_read(c, 1, 3), 0);
        assert_int_equal(cl_count(c, RAFT_MSG_APPEND, 0), 2);
        cl_deliver_all(c, 2);                             /* heartbeats arrive */
        cl_deliver_all(c, 1);                             /* one ack: majority */
        assert_int_equal(c->nodes[1].n_ready, 1);
        assert_int_equal(c->nodes[1].ready[0].id, 1);
        assert_int_equal(c->nodes[1].ready[0].index, raft_commit_index(R(c, 1)));
        cl_deliver_all(c, 1000);
        assert_int_equal(c->nodes[1].n_ready, 3);
        cl_free(c);
}

static void read_index_fails_pending_reads_when_leadership_is_lost(void **state) {
        struct cl *c = three_with_leader(NULL);

        assert_int_equal(cl_read(c, 1, 9), 0);
        cl_drop_all(c);
        cl_isolate(c, 1, true);
        for (int i = 0; i < 25; i++) {
                c->now += 100;
                cl_tick(c, 1);
                cl_drop_all(c);
        }
        assert_int_equal(raft_role(R(c, 1)), RAFT_FOLLOWER);
        assert_int_equal(c->nodes[1].n_failed, 1);
        assert_int_equal(c->nodes[1].n_ready, 0);
        cl_free(c);
}

static void transfer_catches_target_up_then_sends_timeout_now(void **state) {
        struct cl *c = three_with_leader(NULL);

        cl_isolate(c, 3, true);
        assert_int_equal(cl_propose(c, 1, "a"), 0);
        cl_deliver_all(c, 1000);
        cl_isolate(c, 3, false);
        assert_int_equal(cl_transfer(c, 1, 3), 0);
        assert_null(cl_find(c, RAFT_MSG_TIMEOUT_NOW, 3));
        assert_int_equal(cl_propose(c, 1, "b"), RAFT_EBUSY);
        for (int i = 0; i < 10 && raft_role(R(c, 3)) != RAFT_LEADER; i++) {
                cl_advance(c, 100);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_role(R(c, 3)), RAFT_LEADER);
        assert_int_equal(raft_role(R(c, 1)), RAFT_FOLLOWER);
        cl_free(c);
}

static void transfer_gives_up_after_an_election_timeout(void **state) {
        struct cl *c = three_with_leader(NULL);

        cl_isolate(c, 3, true);
        assert_int_equal(cl_transfer(c, 1, 3), 0);
        for (int i = 0; i < 11; i++) {
                c->now += 100;
                cl_tick(c, 1);
                cl_tick(c, 2);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(cl_propose(c, 1, "after"), 0);
        cl_free(c);
}

static void learner_catches_up_before_promotion_and_never_votes(void **state) {
        struct cl *c = cl_new(3, 1, NULL); /* node 4 is new */

        cl_elect(c, 1);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_PROMOTE, 4), -ENOENT);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_ADD_LEARNER, 4), 0);
        /* One change at a time. */
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_REMOVE, 3), RAFT_EBUSY);
        /* Before anything reached it, the learner is behind: no promotion. */
        cl_deliver_all(c, 2);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_PROMOTE, 4), RAFT_EBUSY);
        cl_deliver_all(c, 1000);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_non_null(raft_config_get(raft_config_current(R(c, 4)), 4));
        assert_int_equal(raft_config_get(raft_config_current(R(c, 4)), 4)->role, RAFT_LEARNER);
        /* A learner does not campaign. */
        c->now += 5000;
        cl_tick(c, 4);
        assert_int_equal(raft_role(R(c, 4)), RAFT_FOLLOWER);
        assert_int_equal(cl_count(c, RAFT_MSG_PRE_VOTE, 0), 0);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_PROMOTE, 4), 0);
        cl_deliver_all(c, 1000);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_config_get(raft_config_current(R(c, 4)), 4)->role, RAFT_VOTER);
        assert_int_equal(raft_config_voters(raft_config_current(R(c, 1))), 4);
        cl_free(c);
}

static void promotion_refused_while_learner_lags(void **state) {
        struct cl *c = cl_new(3, 1, NULL);

        cl_elect(c, 1);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        cl_isolate(c, 4, true);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_ADD_LEARNER, 4), 0);
        cl_deliver_all(c, 1000);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_PROMOTE, 4), RAFT_EAGAIN);
        cl_free(c);
}

static void config_change_waits_for_leaders_own_term_commit(void **state) {
        struct cl *c = cl_new(3, 1, NULL);

        c->now += 3000;
        cl_tick(c, 1);
        for (int i = 0; i < 4; i++)
                cl_deliver_all(c, 2);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_true(raft_commit_index(R(c, 1)) < raft_last_index(R(c, 1)));
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_ADD_LEARNER, 4), RAFT_EAGAIN);
        cl_free(c);
}

static void removed_voter_does_not_disrupt_the_cluster(void **state) {
        struct cl *c = three_with_leader(NULL);
        raft_term t;

        cl_isolate(c, 3, true);
        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_REMOVE, 3), 0);
        cl_deliver_all(c, 1000);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_config_voters(raft_config_current(R(c, 1))), 2);
        t = raft_term_current(R(c, 1));
        /* Node 3 never learnt of its removal and keeps timing out. */
        cl_isolate(c, 3, false);
        for (int i = 0; i < 30; i++) {
                cl_advance(c, 100);
                c->now += 200;
                cl_tick(c, 3);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        assert_int_equal(raft_term_current(R(c, 1)), t);
        cl_free(c);
}

static void leader_that_removes_itself_steps_down_after_commit(void **state) {
        struct cl *c = three_with_leader(NULL);

        assert_int_equal(cl_change(c, 1, RAFT_CHANGE_REMOVE, 1), 0);
        assert_int_equal(raft_role(R(c, 1)), RAFT_LEADER);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_role(R(c, 1)), RAFT_FOLLOWER);
        cl_free(c);
}

static void tune_small_chunks(struct raft_options *o) {
        o->snapshot_chunk = 16;
}

static void lagging_follower_receives_snapshot_in_chunks(void **state) {
        struct cl *c = three_with_leader(tune_small_chunks);
        raft_index last;

        cl_isolate(c, 3, true);
        for (int i = 0; i < 30; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        cl_deliver_all(c, 1000);
        last = raft_commit_index(R(c, 1));
        assert_int_equal(cl_snapshot(c, 1, last, 2), 0);
        assert_int_equal(raft_snapshot_index(R(c, 1)), last);
        assert_null(raft_entry_at(R(c, 1), last - 2));
        assert_non_null(raft_entry_at(R(c, 1), last - 1));
        assert_int_equal(cl_snapshot(c, 1, last, 2), -EINVAL); /* not newer */
        cl_isolate(c, 3, false);
        for (int i = 0; i < 20 && raft_snapshot_index(R(c, 3)) != last; i++) {
                cl_advance(c, 100);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_snapshot_index(R(c, 3)), last);
        assert_true(c->nodes[3].rx_chunks >= 100 / 16);
        assert_int_equal(c->nodes[3].snap_size, 100);
        /* And it follows the log after the snapshot. */
        assert_int_equal(cl_propose(c, 1, "after"), 0);
        cl_deliver_all(c, 1000);
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 3)), raft_last_index(R(c, 1)));
        assert_int_equal(c->nodes[3].last_applied, raft_last_index(R(c, 1)));
        cl_free(c);
}

static void snapshot_transfer_resumes_from_follower_offset_after_loss(void **state) {
        struct cl *c = three_with_leader(tune_small_chunks);
        raft_index last;

        cl_isolate(c, 3, true);
        for (int i = 0; i < 10; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        cl_deliver_all(c, 1000);
        last = raft_commit_index(R(c, 1));
        assert_int_equal(cl_snapshot(c, 1, last, 0), 0);
        cl_isolate(c, 3, false);
        cl_advance(c, 100); /* first chunk goes out */
        cl_deliver_all(c, 1000);
        assert_true(c->nodes[3].rx_chunks >= 1);
        /* Lose everything in flight twice; the transfer must still end. */
        cl_drop_all(c);
        cl_advance(c, 100);
        cl_drop_all(c);
        for (int i = 0; i < 20 && raft_snapshot_index(R(c, 3)) != last; i++) {
                cl_advance(c, 100);
                cl_deliver_all(c, 1000);
        }
        assert_int_equal(raft_snapshot_index(R(c, 3)), last);
        /* No chunk was received twice at an offset already held. */
        assert_int_equal(c->nodes[3].rx_received, 100);
        cl_free(c);
}

/* Takes the first queued message of a type from one node to another out
 * of the network, to be delivered later by hand. */
static struct raft_message hold_back(struct cl *c, uint8_t type, raft_id from, raft_id to) {
        for (size_t i = 0; i < c->n_q; i++)
                if (c->q[i].m.type == type && c->q[i].m.from == from && c->q[i].m.to == to) {
                        struct raft_message m = c->q[i].m;

                        memmove(c->q + i, c->q + i + 1, (c->n_q - i - 1) * sizeof(*c->q));
                        c->n_q--;
                        return m;
                }
        fail_msg("no message of type %u from %" PRIu64 " to %" PRIu64 " is queued", type, from, to);
        return (struct raft_message) {};
}

/* Found by the fault suite (a learner joining under load with a snapshot
 * every 100 entries): the leader took a newer snapshot while the follower
 * installed the one it was sent, went on to send the newer one, and
 * ignored the follower's "installed" for the older: the follower chased
 * the leader's snapshots.  The older one is enough when the leader's log
 * goes on from it. */
static void follower_that_installed_an_older_snapshot_catches_up_from_the_log(void **state) {
        struct cl *c = three_with_leader(tune_small_chunks);
        struct raft_event late = { .type = RAFT_EVENT_RECEIVE };
        struct raft_message installed;
        raft_index first, second;

        cl_isolate(c, 3, true);
        for (int i = 0; i < 10; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        cl_deliver_all(c, 1000);
        first = raft_commit_index(R(c, 1));
        assert_int_equal(cl_snapshot(c, 1, first, 0), 0); /* node 3 needs it */
        cl_isolate(c, 3, false);
        cl_advance(c, 100);
        for (int i = 0; i < 1000 && raft_snapshot_index(R(c, 3)) != first; i++)
                if (cl_deliver_all(c, 1) == 0)
                        cl_advance(c, 100);
        assert_int_equal(raft_snapshot_index(R(c, 3)), first);
        /* Its "installed" is late; meanwhile the leader writes on, takes a
         * newer snapshot (keeping the log from first + 1 on) and starts
         * sending that one. */
        installed = hold_back(c, RAFT_MSG_SNAPSHOT_RESULT, 3, 1);
        assert_true(installed.snapshot_result.done);
        assert_int_equal(installed.snapshot_result.index, first);
        for (int i = 0; i < 3; i++)
                assert_int_equal(cl_propose(c, 1, "w"), 0);
        second = raft_last_index(R(c, 1));
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 1)), second);
        assert_int_equal(cl_snapshot(c, 1, second, 10), 0);
        cl_advance(c, 100);
        assert_non_null(cl_find(c, RAFT_MSG_SNAPSHOT, 3));
        late.message = &installed;
        assert_int_equal(cl_step(c, 1, &late), 0);
        for (int i = 0; i < 20 && raft_commit_index(R(c, 3)) < second; i++) {
                cl_deliver_all(c, 1000);
                cl_advance(c, 100);
        }
        assert_int_equal(raft_commit_index(R(c, 3)), second);
        /* From the log, not from the newer snapshot. */
        assert_int_equal(raft_snapshot_index(R(c, 3)), first);
        cl_free(c);
}

/* Node 3 missed ten entries that the leader compacted away; the first
 * chunk of that snapshot has reached it and its answer is queued.  Returns
 * the snapshot's index. */
static raft_index first_chunk_answered(struct cl *c) {
        raft_index first;

        cl_isolate(c, 3, true);
        for (int i = 0; i < 10; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        cl_deliver_all(c, 1000);
        first = raft_commit_index(R(c, 1));
        assert_int_equal(cl_snapshot(c, 1, first, 0), 0);
        cl_isolate(c, 3, false);
        cl_advance(c, 100);
        for (int i = 0; i < 1000 && !cl_find(c, RAFT_MSG_SNAPSHOT_RESULT, 1); i++)
                if (cl_deliver_all(c, 1) == 0)
                        cl_advance(c, 100);
        assert_non_null(cl_find(c, RAFT_MSG_SNAPSHOT_RESULT, 1));
        return first;
}

/* A transfer under way is not switched to the newer snapshot the leader
 * took meanwhile (switching restarted it at every snapshot interval, so a
 * large state under writes never arrived), and the leader keeps the log
 * after the snapshot in transfer, so the follower goes on from there. */
static void snapshot_in_transfer_is_sent_to_the_end_and_the_log_after_it_kept(void **state) {
        struct cl *c = three_with_leader(tune_small_chunks);
        struct raft_event late = { .type = RAFT_EVENT_RECEIVE };
        struct raft_message answer;
        const struct cl_msg *next;
        raft_index first, second;

        first = first_chunk_answered(c);
        /* Its answer ("go on at 16") is held. */
        answer = hold_back(c, RAFT_MSG_SNAPSHOT_RESULT, 3, 1);
        assert_false(answer.snapshot_result.done);
        assert_true(answer.snapshot_result.next_offset > 0);
        /* Meanwhile the leader writes on and takes a newer snapshot, asking
         * to keep no log behind it. */
        cl_isolate(c, 3, true);
        for (int i = 0; i < 3; i++)
                assert_int_equal(cl_propose(c, 1, "w"), 0);
        second = raft_last_index(R(c, 1));
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 1)), second);
        assert_int_equal(cl_snapshot(c, 1, second, 0), 0);
        assert_non_null(raft_entry_at(R(c, 1), first + 1));
        cl_drop_all(c);
        cl_isolate(c, 3, false);
        late.message = &answer;
        assert_int_equal(cl_step(c, 1, &late), 0);
        next = cl_find(c, RAFT_MSG_SNAPSHOT, 3);
        assert_non_null(next);
        assert_int_equal(next->m.snapshot.meta.index, first);
        assert_int_equal(next->m.snapshot.offset, answer.snapshot_result.next_offset);
        for (int i = 0; i < 50 && raft_commit_index(R(c, 3)) < second; i++) {
                cl_deliver_all(c, 1000);
                cl_advance(c, 100);
        }
        assert_int_equal(raft_commit_index(R(c, 3)), second);
        assert_int_equal(raft_snapshot_index(R(c, 3)), first);
        cl_free(c);
}

/* ...but not for a follower that went silent: after an election timeout
 * without a word from it, neither the log nor the old snapshot is held. */
static void silent_follower_does_not_hold_the_log_for_its_transfer(void **state) {
        struct cl *c = three_with_leader(tune_small_chunks);
        struct raft_event late = { .type = RAFT_EVENT_RECEIVE };
        struct raft_message answer;
        const struct cl_msg *next;
        raft_index first, second;

        first = first_chunk_answered(c);
        answer = hold_back(c, RAFT_MSG_SNAPSHOT_RESULT, 3, 1);
        late.message = &answer;
        assert_int_equal(cl_step(c, 1, &late), 0);
        assert_true(raft_snapshot_in_transfer(R(c, 1), first));
        cl_isolate(c, 3, true);
        for (int i = 0; i < 3; i++)
                assert_int_equal(cl_propose(c, 1, "w"), 0);
        /* Two election timeouts: one quorum check finds it silent. */
        for (int i = 0; i < 20; i++) {
                cl_deliver_all(c, 1000);
                cl_advance(c, 100);
        }
        second = raft_commit_index(R(c, 1));
        assert_true(second > first);
        assert_int_equal(cl_snapshot(c, 1, second, 0), 0);
        assert_null(raft_entry_at(R(c, 1), first + 1));
        cl_drop_all(c);
        cl_isolate(c, 3, false);
        cl_advance(c, 100);
        next = cl_find(c, RAFT_MSG_SNAPSHOT, 3);
        assert_non_null(next);
        assert_int_equal(next->m.snapshot.meta.index, second);
        assert_int_equal(next->m.snapshot.offset, 0);
        assert_false(raft_snapshot_in_transfer(R(c, 1), first));
        cl_free(c);
}

static void fill_chunk(struct raft_message *m, uint64_t index) {
        static const char data[4] = "snap";

        m->snapshot.meta.index = index;
        m->snapshot.meta.term = 2;
        m->snapshot.meta.config.n = 1;
        m->snapshot.meta.config.servers[0] = (struct raft_server) { 1, RAFT_VOTER };
        m->snapshot.offset = 0;
        m->snapshot.done = true;
        m->snapshot.data.base = (void *) data;
        m->snapshot.data.len = sizeof(data);
}

/* Found by the simulator: a snapshot that reaches a follower after the
 * entries it covers (and some after them, already acknowledged) must not
 * make the follower drop those entries. */
static void snapshot_covered_by_a_matching_log_is_not_installed(void **state) {
        struct cl *c = three_with_leader(NULL);
        raft_term t = raft_term_current(R(c, 1));
        raft_index last;
        struct raft_update u;

        for (int i = 0; i < 5; i++)
                assert_int_equal(cl_propose(c, 1, "v"), 0);
        cl_deliver_all(c, 1000);
        last = raft_last_index(R(c, 2));
        assert_int_equal(last, raft_last_index(R(c, 1)));
        assert_int_equal(raft_entry_at(R(c, 2), last - 2)->term, t);
        cl_drop_all(c);
        /* A late snapshot of an index the follower holds with that term. */
        assert_int_equal(step_msg(R(c, 2), &u, RAFT_MSG_SNAPSHOT, 1, t, fill_chunk, last - 2), 0);
        assert_null(u.snapshot_chunk);
        assert_int_equal(raft_last_index(R(c, 2)), last);
        assert_int_equal(raft_snapshot_index(R(c, 2)), 0);
        assert_int_equal(u.n_messages, 1);
        assert_int_equal(u.messages[0].type, RAFT_MSG_SNAPSHOT_RESULT);
        assert_true(u.messages[0].snapshot_result.done);
        cl_free(c);
}

/* Server 2 of voters {1, 2, 3}, bootstrapped in term 1 with nothing else
 * in its log: messages are stepped into it by hand. */
static struct raft *follower_2_of_three_in_term_1(void) {
        struct raft_config conf = { .n = 3 };
        uint8_t buf[64];
        struct raft_entry boot = { .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = { buf, 0 } };
        struct raft_hard_state hs = { .term = 1 };
        struct raft_options o;
        struct raft *r;

        for (unsigned i = 0; i < 3; i++)
                conf.servers[i] = (struct raft_server) { i + 1, RAFT_VOTER };
        raft_config_encode(&conf, buf);
        boot.data.len = raft_config_encoded_size(&conf);
        raft_options_default(&o, 2);
        assert_int_equal(raft_new(&o, &r), 0);
        assert_int_equal(raft_load(r, &hs, NULL, &boot, 1), 0);
        return r;
}

static void fill_append_2_to_4(struct raft_message *m, uint64_t arg) {
        static struct raft_entry e[3] = { { .term = 2, .index = 2, .type = RAFT_ENTRY_NOOP },
                                          { .term = 2, .index = 3, .type = RAFT_ENTRY_NOOP },
                                          { .term = 2, .index = 4, .type = RAFT_ENTRY_NOOP } };

        m->append.prev_index = 1;
        m->append.prev_term = 1;
        m->append.commit = 1;
        m->append.n_entries = 3;
        m->append.entries = e;
}

static void fill_chunk_term2(struct raft_message *m, uint64_t index) {
        fill_chunk(m, index);
        m->snapshot.meta.term = 2;
}

/* Found by the simulator: "done" for a snapshot the log covers claims the
 * covered entries durable, so it waits for them like an append result. */
static void covered_snapshot_is_acknowledged_only_once_durable(void **state) {
        struct raft_event persisted = { .type = RAFT_EVENT_PERSISTED, .now = 100000 };
        struct raft *r = follower_2_of_three_in_term_1();
        struct raft_update u;

        assert_int_equal(step_msg(r, &u, RAFT_MSG_APPEND, 1, 2, fill_append_2_to_4, 0), 0);
        assert_int_equal(u.n_entries, 3); /* to persist; not reported yet */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 1, 2, fill_chunk_term2, 3), 0);
        assert_int_equal(u.n_messages, 1);
        assert_true(u.messages[0].snapshot_result.done);
        assert_true(u.after_persist[0]);
        persisted.persisted.index = 4;
        persisted.persisted.term = 2;
        assert_int_equal(raft_step(r, &persisted, &u), 0);
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 1, 2, fill_chunk_term2, 3), 0);
        assert_true(u.messages[0].snapshot_result.done);
        assert_false(u.after_persist[0]);
        raft_free(r);
}

static void fill_partial_chunk(struct raft_message *m, uint64_t offset) {
        static const char data[4] = "part";

        fill_chunk(m, 10);
        m->snapshot.offset = offset;
        m->snapshot.done = false;
        m->snapshot.data.base = (void *) data;
        m->snapshot.data.len = sizeof(data);
}

static uint64_t snapshot_reply_offset(const struct raft_update *u) {
        assert_int_equal(u->n_messages, 1);
        assert_int_equal(u->messages[0].type, RAFT_MSG_SNAPSHOT_RESULT);
        assert_false(u->messages[0].snapshot_result.done);
        return u->messages[0].snapshot_result.next_offset;
}

/* Found by the fault suite: a new leader resumed the old leader's transfer
 * of the same snapshot at the offset the follower held, and the follower
 * spliced two leaders' images (the same state in other bytes) into one
 * that failed its checksum.  A transfer belongs to one sender in one term:
 * anyone else starts from offset 0. */
static void snapshot_transfer_is_not_resumed_from_another_leader(void **state) {
        struct raft *r = follower_2_of_three_in_term_1();
        struct raft_update u;

        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 1, 2, fill_partial_chunk, 0), 0);
        assert_non_null(u.snapshot_chunk);
        assert_int_equal(snapshot_reply_offset(&u), 4);
        /* Node 3 leads term 3 and offers the same snapshot where node 1
         * stopped: refused, "start from 0". */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 3, 3, fill_partial_chunk, 4), 0);
        assert_null(u.snapshot_chunk);
        assert_int_equal(snapshot_reply_offset(&u), 0);
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 3, 3, fill_partial_chunk, 0), 0);
        assert_non_null(u.snapshot_chunk);
        assert_int_equal(u.snapshot_chunk->offset, 0);
        assert_int_equal(snapshot_reply_offset(&u), 4);
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 3, 3, fill_partial_chunk, 4), 0);
        assert_non_null(u.snapshot_chunk);
        assert_int_equal(snapshot_reply_offset(&u), 8);
        /* The same sender in a later term starts over too. */
        assert_int_equal(step_msg(r, &u, RAFT_MSG_SNAPSHOT, 3, 4, fill_partial_chunk, 8), 0);
        assert_null(u.snapshot_chunk);
        assert_int_equal(snapshot_reply_offset(&u), 0);
        raft_free(r);
}

static void restart_reloads_durable_state_and_rejoins(void **state) {
        struct cl *c = three_with_leader(NULL);
        raft_index last;

        assert_int_equal(cl_propose(c, 1, "kept"), 0);
        cl_deliver_all(c, 1000);
        last = raft_last_index(R(c, 1));
        cl_crash(c, 2);
        cl_restart(c, 2);
        assert_int_equal(raft_last_index(R(c, 2)), last);
        assert_int_equal(raft_term_current(R(c, 2)), raft_term_current(R(c, 1)));
        cl_advance(c, 100);
        cl_deliver_all(c, 1000);
        assert_int_equal(raft_commit_index(R(c, 2)), last);
        cl_free(c);
}

static void load_refuses_inconsistent_persisted_state(void **state) {
        struct raft_options o;
        struct raft *r;
        struct raft_hard_state hs = { .term = 2 };
        struct raft_entry e[2] = { { .term = 1, .index = 1, .type = RAFT_ENTRY_NOOP },
                                   { .term = 1, .index = 3, .type = RAFT_ENTRY_NOOP } };
        struct raft_snapshot_meta snap = { .index = 5, .term = 3 };

        raft_options_default(&o, 1);
        assert_int_equal(raft_new(&o, &r), 0);
        assert_int_equal(raft_load(r, &hs, NULL, e, 2), -EINVAL); /* gap */
        e[1].index = 2;
        e[1].term = 3;
        assert_int_equal(raft_load(r, &hs, NULL, e, 2), -EINVAL); /* term above hard state */
        assert_int_equal(raft_load(r, &hs, &snap, NULL, 0), -EINVAL); /* snapshot term above */
        e[1].term = 1;
        e[0].index = 2;
        e[1].index = 3;
        assert_int_equal(raft_load(r, &hs, NULL, e, 2), -EINVAL); /* no snapshot, not from 1 */
        raft_free(r);
        o.max_inflight = 0;
        assert_int_equal(raft_new(&o, &r), -EINVAL);
        assert_null(raft_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(election_winner_appends_noop_of_its_term),
                cmocka_unit_test(single_voter_elects_itself_and_commits_alone),
                cmocka_unit_test(commit_counts_replicas_only_for_current_term_entries),
                cmocka_unit_test(vote_refused_to_candidate_with_older_log),
                cmocka_unit_test(pre_vote_keeps_isolated_node_from_raising_its_term),
                cmocka_unit_test(check_quorum_deposes_leader_cut_off_from_majority),
                cmocka_unit_test(votes_ignored_while_leader_is_in_contact),
                cmocka_unit_test(granted_vote_and_vote_requests_wait_for_persistence),
                cmocka_unit_test(lone_voter_leads_only_once_its_term_is_durable),
                cmocka_unit_test(follower_acknowledges_entries_only_after_persistence),
                cmocka_unit_test(fast_backoff_skips_a_conflicting_term_in_one_round),
                cmocka_unit_test(appends_respect_entry_batch_and_inflight_window),
                cmocka_unit_test(appends_respect_byte_batch_limit),
                cmocka_unit_test(batch_proposal_goes_out_in_one_append_per_follower),
                cmocka_unit_test(lost_appends_are_resent_after_a_heartbeat_without_progress),
                cmocka_unit_test(read_index_refused_until_leader_commits_in_its_term),
                cmocka_unit_test(read_index_waits_for_majority_and_one_round_serves_many),
                cmocka_unit_test(read_index_fails_pending_reads_when_leadership_is_lost),
                cmocka_unit_test(transfer_catches_target_up_then_sends_timeout_now),
                cmocka_unit_test(transfer_gives_up_after_an_election_timeout),
                cmocka_unit_test(learner_catches_up_before_promotion_and_never_votes),
                cmocka_unit_test(promotion_refused_while_learner_lags),
                cmocka_unit_test(config_change_waits_for_leaders_own_term_commit),
                cmocka_unit_test(removed_voter_does_not_disrupt_the_cluster),
                cmocka_unit_test(leader_that_removes_itself_steps_down_after_commit),
                cmocka_unit_test(lagging_follower_receives_snapshot_in_chunks),
                cmocka_unit_test(snapshot_transfer_resumes_from_follower_offset_after_loss),
                cmocka_unit_test(snapshot_covered_by_a_matching_log_is_not_installed),
                cmocka_unit_test(covered_snapshot_is_acknowledged_only_once_durable),
                cmocka_unit_test(snapshot_transfer_is_not_resumed_from_another_leader),
                cmocka_unit_test(follower_that_installed_an_older_snapshot_catches_up_from_the_log),
                cmocka_unit_test(snapshot_in_transfer_is_sent_to_the_end_and_the_log_after_it_kept),
                cmocka_unit_test(silent_follower_does_not_hold_the_log_for_its_transfer),
                cmocka_unit_test(restart_reloads_durable_state_and_rejoins),
                cmocka_unit_test(load_refuses_inconsistent_persisted_state),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
