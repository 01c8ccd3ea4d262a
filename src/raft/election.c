/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leader election: timeouts, Pre-Vote, votes, leader stickiness and role
 * changes (Raft §5.2, dissertation §9.6). */
#include <string.h>

#include "raft/core.h"

static bool can_campaign(const struct raft *r) {
        /* Learners and servers outside the configuration (new nodes, or
         * removed ones that may not know it yet) never start elections. */
        return core_is_voter(r, r->o.id);
}

bool election_in_lease(const struct raft *r) {
        if (!r->o.check_quorum)
                return false;
        if (r->role == RAFT_LEADER)
                return true;
        return r->leader != 0 && r->now < r->last_leader_contact + r->o.election_ms;
}

static void mark_role_changed(struct raft *r) {
        if (r->u)
                r->u->role_changed = true;
}

void election_become_follower(struct raft *r, raft_term term, raft_id leader) {
        if (r->role == RAFT_LEADER) {
                read_fail_all(r);
                transfer_abort(r);
        }
        if (r->role != RAFT_FOLLOWER || r->leader != leader)
                mark_role_changed(r);
        core_set_term(r, term);
        r->role = RAFT_FOLLOWER;
        r->leader = leader;
        if (leader)
                r->last_leader_contact = r->now;
        core_reset_election_timer(r);
}

static void become_leader(struct raft *r) {
        raft_index index;

        r->role = RAFT_LEADER;
        r->leader = r->o.id;
        r->transferee = 0;
        mark_role_changed(r);
        progress_reset_all(r);
        r->read_round_sent = 0;
        r->read_round_confirmed = 0;
        r->heartbeat_deadline = r->now + r->o.heartbeat_ms;
        r->quorum_deadline = r->now + r->o.election_ms;

        /* The no-op lets the leader commit entries of earlier terms, which
         * it may not count replicas for (Raft §5.4.2), and marks when reads
         * become safe (§6.4). */
        index = log_last_index(&r->log) + 1;
        if (log_append(&r->log, r->hs.term, RAFT_ENTRY_NOOP, NULL, 0) < 0) {
                r->oom = -ENOMEM;
                election_become_follower(r, r->hs.term, 0);
                return;
        }
        r->persist_from = MIN_U64(r->persist_from, index);
        r->term_start = index;
        replication_broadcast(r);
        replication_maybe_commit(r);
}

static bool has_responded(const struct raft *r, raft_id id) {
        for (unsigned i = 0; i < r->n_votes + r->n_rejects; i++)
                if (r->votes[i] == id)
                        return true;
        return false;
}

void election_campaign(struct raft *r, bool pre_vote, bool transfer) {
        raft_term term;

        r->n_votes = 0;
        r->n_rejects = 0;
        r->campaign_transfer = transfer;
        r->leader = 0;
        if (pre_vote) {
                /* Ask without raising the term: a server that cannot win
                 * (partitioned, behind, removed) disrupts nobody. */
                r->role = RAFT_PRE_CANDIDATE;
                term = r->hs.term + 1;
        } else {
                core_set_term(r, r->hs.term + 1);
                r->hs.vote = r->o.id;
                r->hs_dirty = true;
                r->role = RAFT_CANDIDATE;
                term = r->hs.term;
        }
        mark_role_changed(r);
        core_reset_election_timer(r);

        if (pre_vote) {
                r->votes[r->n_votes++] = r->o.id;
                if (r->n_votes >= core_quorum(r)) {
                        election_campaign(r, false, transfer);
                        return;
                }
        } else {
                /* The own vote counts once it is durable, like anyone's: a
                 * result addressed to ourselves, held until the new term is
                 * on disk.  Otherwise a lone voter would lead, and append,
                 * in a term it can forget in a crash and win again with
                 * other entries at the same index and term. */
                struct raft_message *m = core_message(r, RAFT_MSG_VOTE_RESULT, r->o.id, true);

                m->vote_result.granted = true;
        }
        for (unsigned i = 0; i < r->config.n; i++) {
                const struct raft_server *s = &r->config.servers[i];
                struct raft_message *m;

                if (s->id == r->o.id || s->role != RAFT_VOTER)
                        continue;
                /* The own vote must be durable before anyone can count it. */
                m = core_message(r, pre_vote ? RAFT_MSG_PRE_VOTE : RAFT_MSG_VOTE, s->id, !pre_vote);
                m->term = term;
                m->vote.last_index = log_last_index(&r->log);
                m->vote.last_term = log_last_term(&r->log);
                m->vote.transfer = transfer;
        }
}

void election_tick(struct raft *r) {
        if (r->now < r->election_deadline)
                return;
        if (r->leader && r->now >= r->last_leader_contact + r->o.election_ms) {
                r->leader = 0;
                mark_role_changed(r);
        }
        if (!can_campaign(r)) {
                core_reset_election_timer(r);
                return;
        }
        election_campaign(r, r->o.pre_vote, false);
}

void election_handle_vote(struct raft *r, const struct raft_message *m) {
        bool pre = m->type == RAFT_MSG_PRE_VOTE;
        raft_term last_term = log_last_term(&r->log);
        bool up_to_date = m->vote.last_term > last_term ||
                          (m->vote.last_term == last_term && m->vote.last_index >= log_last_index(&r->log));
        struct raft_message *reply;
        bool grant;

        if (pre)
                grant = m->term > r->hs.term && up_to_date;
        else
                grant = m->term == r->hs.term && up_to_date &&
                        (r->hs.vote == m->from || (r->hs.vote == 0 && r->leader == 0));

        /* A granted vote is a promise: it must be on disk before it leaves. */
        reply = core_message(r, pre ? RAFT_MSG_PRE_VOTE_RESULT : RAFT_MSG_VOTE_RESULT, m->from, !pre && grant);
        reply->term = pre && grant ? m->term : r->hs.term;
        reply->vote_result.granted = grant;
        if (!pre && grant) {
                r->hs.vote = m->from;
                r->hs_dirty = true;
                core_reset_election_timer(r);
        }
}

void election_handle_vote_result(struct raft *r, const struct raft_message *m) {
        bool pre = m->type == RAFT_MSG_PRE_VOTE_RESULT;
        unsigned voters = raft_config_voters(&r->config);

        if (r->role != (pre ? RAFT_PRE_CANDIDATE : RAFT_CANDIDATE))
                return;
        if (m->term != (pre && m->vote_result.granted ? r->hs.term + 1 : r->hs.term))
                return;
        if (!core_is_voter(r, m->from) || has_responded(r, m->from))
                return;

        if (m->vote_result.granted) {
                /* votes[] holds grants first, then rejects. */
                memmove(&r->votes[r->n_votes + 1], &r->votes[r->n_votes], r->n_rejects * sizeof(raft_id));
                r->votes[r->n_votes++] = m->from;
                if (r->n_votes >= core_quorum(r)) {
                        if (pre)
                                election_campaign(r, false, r->campaign_transfer);
                        else
                                become_leader(r);
                }
                return;
        }
        r->votes[r->n_votes + r->n_rejects++] = m->from;
        if (r->n_rejects > voters - core_quorum(r))
                election_become_follower(r, r->hs.term, 0);
}

void election_handle_timeout_now(struct raft *r, const struct raft_message *m) {
        if (r->role == RAFT_LEADER || !can_campaign(r))
                return;
        /* The leader asked us to take over: skip Pre-Vote, and the vote
         * requests say so, so that followers ignore leader stickiness. */
        election_campaign(r, false, true);
}
