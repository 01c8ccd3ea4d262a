/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log replication: appends with batching and pipelining, the follower's
 * consistency check, fast back-off on conflicts, commitment (Raft §5.3,
 * §5.4.2) and the leader's periodic duties. */
#include <stdlib.h>

#include "raft/core.h"

void replication_send_append(struct raft *r, struct progress *p) {
        raft_index last = log_last_index(&r->log);
        raft_index prev = p->next - 1;
        uint64_t bytes = 0;
        unsigned n = 0;
        struct raft_message *m;

        if (p->next <= r->log.offset) {
                /* What it needs was compacted away. */
                snapshot_send_chunk(r, p);
                return;
        }
        for (raft_index i = p->next; i <= last && n < r->o.max_msg_entries; i++) {
                size_t len = log_get(&r->log, i)->data.len;

                if (n > 0 && bytes + len > r->o.max_msg_bytes)
                        break;
                bytes += len;
                n++;
        }
        m = core_message(r, RAFT_MSG_APPEND, p->id, false);
        m->append.prev_index = prev;
        m->append.prev_term = log_term_at(&r->log, prev);
        m->append.commit = r->commit;
        m->append.read_ctx = r->read_round_sent;
        m->append.n_entries = n; /* entries are resolved when the update is finished */
        p->commit_sent = MAX_U64(p->commit_sent, MIN_U64(r->commit, prev + n));

        if (p->state == PROGRESS_REPLICATE) {
                if (n > 0) {
                        p->next = prev + n + 1;
                        progress_inflight_add(p, p->next - 1);
                }
        } else
                p->probe_paused = true;
}

static void send_pending(struct raft *r, struct progress *p) {
        raft_index last = log_last_index(&r->log);

        if (p->id == r->o.id)
                return;
        if (p->state == PROGRESS_PROBE) {
                if (!p->probe_paused)
                        replication_send_append(r, p);
                return;
        }
        while (p->state == PROGRESS_REPLICATE && !progress_inflight_full(r, p) && p->next <= last)
                replication_send_append(r, p);
}

void replication_broadcast(struct raft *r) {
        for (unsigned i = 0; i < r->n_prs; i++)
                send_pending(r, &r->prs[i]);
}

/* A heartbeat is an append without entries and without a consistency
 * check (prev_index 0).  It carries a commit index the follower is known to
 * hold: the follower's durable match, which no later append can take away
 * in this term. */
static void send_heartbeat(struct raft *r, struct progress *p) {
        struct raft_message *m = core_message(r, RAFT_MSG_APPEND, p->id, false);

        m->append.commit = MIN_U64(r->commit, p->match);
        m->append.read_ctx = r->read_round_sent;
        p->commit_sent = MAX_U64(p->commit_sent, m->append.commit);
}

/* Tell a follower a commit index it has not heard yet, at once: a follower
 * that forwarded a write answers its client when it applies the entry. */
static void send_commit(struct raft *r, struct progress *p) {
        if (p->id != r->o.id && p->state == PROGRESS_REPLICATE && MIN_U64(r->commit, p->match) > p->commit_sent)
                send_heartbeat(r, p);
}

void replication_send_heartbeats(struct raft *r) {
        raft_index last = log_last_index(&r->log);

        for (unsigned i = 0; i < r->n_prs; i++) {
                struct progress *p = &r->prs[i];

                if (p->id == r->o.id)
                        continue;
                switch (p->state) {
                case PROGRESS_SNAPSHOT:
                        /* The chunk or its answer may have been lost. */
                        snapshot_send_chunk(r, p);
                        break;
                case PROGRESS_PROBE:
                        p->probe_paused = false;
                        replication_send_append(r, p);
                        break;
                case PROGRESS_REPLICATE:
                        if (p->inflight_count > 0 && p->match == p->match_at_heartbeat && p->match < last) {
                                /* No progress for a whole interval: appends were
                                 * lost.  Probe from the match again. */
                                progress_become_probe(p);
                                replication_send_append(r, p);
                        } else
                                send_heartbeat(r, p);
                        break;
                }
                p->match_at_heartbeat = p->match;
        }
}

void replication_leader_tick(struct raft *r) {
        if (r->now >= r->heartbeat_deadline) {
                r->heartbeat_deadline = r->now + r->o.heartbeat_ms;
                if (r->n_reads > 0 && r->read_round_sent == r->read_round_confirmed)
                        read_start_round(r); /* sends the heartbeats */
                else
                        replication_send_heartbeats(r);
        }
        if (r->o.check_quorum && r->now >= r->quorum_deadline) {
                unsigned active = 0;

                r->quorum_deadline = r->now + r->o.election_ms;
                for (unsigned i = 0; i < r->n_prs; i++) {
                        struct progress *p = &r->prs[i];

                        if (p->role == RAFT_VOTER && (p->id == r->o.id || p->recent_active))
                                active++;
                        p->recent_active = false;
                }
                /* Cut off from the majority: stop serving as leader so
                 * clients look elsewhere (dissertation §6.2). */
                if (active < core_quorum(r))
                        election_become_follower(r, r->hs.term, 0);
        }
}

static int cmp_index_desc(const void *a, const void *b) {
        raft_index x = *(const raft_index *) a, y = *(const raft_index *) b;

        return x < y ? 1 : x > y ? -1 : 0;
}

void replication_maybe_commit(struct raft *r) {
        raft_index matches[RAFT_CONFIG_MAX];
        unsigned n = 0;
        raft_index index;

        if (r->role != RAFT_LEADER)
                return;
        for (unsigned i = 0; i < r->n_prs; i++) {
                const struct progress *p = &r->prs[i];

                if (p->role != RAFT_VOTER)
                        continue;
                matches[n++] = p->id == r->o.id ? r->persisted : p->match;
        }
        if (n == 0)
                return;
        qsort(matches, n, sizeof(matches[0]), cmp_index_desc);
        index = matches[n / 2];
        /* Only entries of the current term are committed by counting
         * replicas; earlier ones follow by the Log Matching property. */
        if (index <= r->commit || log_term_at(&r->log, index) != r->hs.term)
                return;
        r->commit = index;
        for (unsigned i = 0; i < r->n_prs; i++)
                send_commit(r, &r->prs[i]);
        /* A leader that removed itself steps down once that is committed. */
        if (r->config_index <= r->commit && !core_is_voter(r, r->o.id))
                election_become_follower(r, r->hs.term, 0);
}

int replication_propose(struct raft *r, uint8_t type, const struct raft_buf *entries, unsigned n) {
        raft_index first;
        int k;

        if (r->role != RAFT_LEADER)
                return RAFT_ENOTLEADER;
        if (r->transferee)
                return RAFT_EBUSY;
        if (!entries || n == 0)
                return -EINVAL;
        first = log_last_index(&r->log) + 1;
        for (unsigned i = 0; i < n; i++) {
                k = log_append(&r->log, r->hs.term, type, entries[i].base, entries[i].len);
                if (k < 0) {
                        /* All or nothing: the caller learns one outcome. */
                        log_truncate(&r->log, first);
                        return k;
                }
        }
        r->persist_from = MIN_U64(r->persist_from, first);
        r->u->proposed_index = first;
        r->u->proposed_term = r->hs.term;
        /* One round of appends for the whole batch. */
        replication_broadcast(r);
        return 0;
}

/* ---- follower side ---- */

static void follow(struct raft *r, raft_id leader) {
        if (r->role != RAFT_FOLLOWER)
                election_become_follower(r, r->hs.term, leader);
        else if (r->leader != leader) {
                r->leader = leader;
                r->u->role_changed = true;
        }
        r->last_leader_contact = r->now;
        core_reset_election_timer(r);
}

static void reject(struct raft *r, struct raft_message *reply, raft_index prev) {
        raft_index last = log_last_index(&r->log);
        raft_term t;
        raft_index i;

        reply->append_result.success = false;
        reply->append_result.index = prev;
        if (prev > last) {
                reply->append_result.conflict_term = 0;
                reply->append_result.conflict_index = last + 1;
                return;
        }
        t = log_term_at(&r->log, prev);
        for (i = prev; i > r->log.offset + 1 && log_term_at(&r->log, i - 1) == t; i--)
                ;
        reply->append_result.conflict_term = t;
        reply->append_result.conflict_index = i;
}

void replication_handle_append(struct raft *r, const struct raft_message *m) {
        const struct raft_append *a = &m->append;
        raft_index prev = a->prev_index, last, new_last;
        struct raft_message *reply;
        bool config = false;

        follow(r, m->from);
        last = log_last_index(&r->log);

        if (prev == 0 && a->n_entries == 0) {
                /* Heartbeat. */
                r->commit = MAX_U64(r->commit, MIN_U64(a->commit, last));
                reply = core_message(r, RAFT_MSG_APPEND_RESULT, m->from, false);
                reply->append_result.success = true;
                reply->append_result.read_ctx = a->read_ctx;
                return;
        }

        /* Entries at or below the offset are committed (covered by our
         * snapshot or applied), so they match whatever the leader sends. */
        if (prev > last || (prev >= r->log.offset && log_term_at(&r->log, prev) != a->prev_term)) {
                reply = core_message(r, RAFT_MSG_APPEND_RESULT, m->from, false);
                reply->append_result.read_ctx = a->read_ctx;
                reject(r, reply, prev);
                return;
        }

        for (unsigned k = 0; k < a->n_entries; k++) {
                const struct raft_entry *e = &a->entries[k];
                raft_index index = prev + 1 + k;

                if (index <= r->log.offset)
                        continue;
                if (index <= log_last_index(&r->log)) {
                        if (log_term_at(&r->log, index) == e->term)
                                continue;
                        if (index <= r->commit)
                                return; /* a leader never rewrites committed entries */
                        log_truncate(&r->log, index);
                        r->persisted = MIN_U64(r->persisted, index - 1);
                        if (r->config_index >= index)
                                config = true;
                }
                if (log_append(&r->log, e->term, e->type, e->data.base, e->data.len) < 0) {
                        r->oom = -ENOMEM;
                        return;
                }
                r->persist_from = MIN_U64(r->persist_from, index);
                if (e->type == RAFT_ENTRY_CONFIG)
                        config = true;
        }
        /* A configuration takes effect as soon as it is in the log. */
        if (config)
                core_config_from_log(r);

        new_last = prev + a->n_entries;
        r->commit = MAX_U64(r->commit, MIN_U64(a->commit, new_last));
        /* Success promises the entries are durable: the reply waits. */
        reply = core_message(r, RAFT_MSG_APPEND_RESULT, m->from, new_last > r->persisted);
        reply->append_result.success = true;
        reply->append_result.index = new_last;
        reply->append_result.read_ctx = a->read_ctx;
}

/* ---- leader side ---- */

static raft_index next_from_hint(struct raft *r, const struct raft_append_result *ar) {
        raft_index j;

        if (ar->conflict_term > 0) {
                /* Skip the follower's whole conflicting term if we have it,
                 * otherwise everything from where that term starts there. */
                j = MIN_U64(ar->index, log_last_index(&r->log));
                while (j > r->log.offset && log_term_at(&r->log, j) > ar->conflict_term)
                        j--;
                if (j > r->log.offset && log_term_at(&r->log, j) == ar->conflict_term)
                        return j + 1;
        }
        return ar->conflict_index;
}

void replication_handle_append_result(struct raft *r, const struct raft_message *m) {
        const struct raft_append_result *ar = &m->append_result;
        struct progress *p;

        if (r->role != RAFT_LEADER)
                return;
        p = progress_find(r, m->from);
        if (!p || p->id == r->o.id)
                return;
        p->recent_active = true;
        read_handle_ack(r, p, ar->read_ctx);

        if (!ar->success) {
                raft_index next;

                if (ar->index == 0)
                        return;
                if (p->state == PROGRESS_REPLICATE) {
                        if (ar->index <= p->match)
                                return; /* stale */
                        progress_become_probe(p);
                } else if (p->state != PROGRESS_PROBE || ar->index != p->next - 1)
                        return; /* stale */
                next = next_from_hint(r, ar);
                next = MIN_U64(next, ar->index);
                p->next = MAX_U64(next, p->match + 1);
                p->probe_paused = false;
                replication_send_append(r, p);
                return;
        }
        if (ar->index == 0)
                return; /* heartbeat acknowledgement */
        if (ar->index > p->match)
                p->match = ar->index;
        switch (p->state) {
        case PROGRESS_PROBE:
                progress_become_replicate(p);
                break;
        case PROGRESS_REPLICATE:
                progress_inflight_free_to(p, ar->index);
                if (p->next <= p->match)
                        p->next = p->match + 1;
                break;
        case PROGRESS_SNAPSHOT:
                if (p->match >= p->snap_index)
                        progress_become_probe(p);
                break;
        }
        replication_maybe_commit(r);
        if (r->role != RAFT_LEADER)
                return;
        transfer_progress(r, p);
        send_pending(r, p);
        send_commit(r, p);
}
