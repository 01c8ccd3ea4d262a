/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots: log compaction after the caller saved its state machine, and
 * InstallSnapshot in chunks with a resumable offset (Raft §7). */
#include <stdlib.h>
#include <string.h>

#include "raft/core.h"

/* A transfer whose follower answered within an election timeout: it holds
 * its snapshot and the log after it.  A silent one holds nothing, and gets
 * the newest snapshot when it is back. */
static bool transfer_alive(const struct raft *r, const struct progress *p) {
        return p->state == PROGRESS_SNAPSHOT && p->id != r->o.id && r->now < p->snap_heard + r->o.election_ms;
}

void snapshot_send_chunk(struct raft *r, struct progress *p) {
        struct raft_message *m;

        if (r->snap.index == 0)
                return; /* nothing compacted, so nothing to send */
        if (p->state != PROGRESS_SNAPSHOT)
                p->snap_heard = r->now;
        /* A transfer under way goes on with the snapshot it began with,
         * although the leader took newer ones meanwhile (the caller keeps
         * that file readable while raft_snapshot_in_transfer() says so).
         * Switching to each new snapshot restarted the transfer every
         * snapshot interval: a large state under writes never arrived. */
        if (p->state != PROGRESS_SNAPSHOT ||
            ((p->snap_offset == 0 || !transfer_alive(r, p)) && p->snap_index != r->snap.index)) {
                p->state = PROGRESS_SNAPSHOT;
                p->snap_index = r->snap.index;
                p->snap_meta = r->snap;
                p->snap_offset = 0;
                p->inflight_count = 0;
        }
        m = core_message(r, RAFT_MSG_SNAPSHOT, p->id, false);
        m->snapshot.meta = p->snap_meta;
        m->snapshot.offset = p->snap_offset;
        m->snapshot.chunk_max = r->o.snapshot_chunk;
}

static int keep_chunk(struct raft *r, const struct raft_snapshot_chunk *c) {
        /* The caller's message dies when raft_step() returns; the update
         * must stay valid until the next step. */
        if (c->data.len > r->rx_buf_cap) {
                void *n = realloc(r->rx_buf, c->data.len);

                if (!n)
                        return -ENOMEM;
                r->rx_buf = n;
                r->rx_buf_cap = c->data.len;
        }
        if (c->data.len > 0)
                memcpy(r->rx_buf, c->data.base, c->data.len);
        r->rx_chunk = *c;
        r->rx_chunk.data.base = c->data.len > 0 ? r->rx_buf : NULL;
        r->u->snapshot_chunk = &r->rx_chunk;
        return 0;
}

static void install(struct raft *r, const struct raft_snapshot_meta *meta) {
        r->snap = *meta;
        /* Until the caller reports the install durable (PERSISTED with the
         * snapshot's index and term), only what was durable and committed
         * before is known to match the leader's log. */
        r->persisted = MIN_U64(r->persisted, r->commit);
        log_reset(&r->log, meta->index, meta->term);
        r->persist_from = UINT64_MAX;
        r->commit = MAX_U64(r->commit, meta->index);
        r->applied = meta->index;
        r->rx_active = false;
        core_apply_config(r, &meta->config, 0);
}

void snapshot_handle_chunk(struct raft *r, const struct raft_message *m) {
        const struct raft_snapshot_chunk *c = &m->snapshot;
        struct raft_snapshot_result res = { .index = c->meta.index };
        bool wrote = false;
        struct raft_message *reply;

        if (r->role != RAFT_FOLLOWER)
                election_become_follower(r, r->hs.term, m->from);
        else if (r->leader != m->from) {
                r->leader = m->from;
                r->u->role_changed = true;
        }
        r->last_leader_contact = r->now;
        core_reset_election_timer(r);

        if (c->meta.index <= r->commit || log_term_at(&r->log, c->meta.index) == c->meta.term) {
                /* Everything it covers is here already: committed, or in a
                 * log that matches the leader's up to its last entry (Raft
                 * Fig. 13 step 6).  Installing it would drop entries after
                 * it that this server may have acknowledged.  "Done" claims
                 * them durable: the answer waits until they are. */
                r->rx_active = false;
                res.done = true;
                wrote = c->meta.index > r->persisted;
        } else {
                /* Resuming another sender's transfer would splice two
                 * images: a new leader (or the same one in a later term)
                 * is answered "from 0" and starts over. */
                bool same = r->rx_active && r->rx_meta.index == c->meta.index && r->rx_meta.term == c->meta.term &&
                            r->rx_from == m->from && r->rx_term == r->hs.term;

                if (!same && c->offset == 0) {
                        r->rx_active = true;
                        r->rx_meta = c->meta;
                        r->rx_from = m->from;
                        r->rx_term = r->hs.term;
                        r->rx_offset = 0;
                        same = true;
                }
                if (same && c->offset == r->rx_offset && keep_chunk(r, c) == 0) {
                        wrote = true;
                        r->rx_offset += c->data.len;
                        if (c->done) {
                                install(r, &c->meta);
                                res.done = true;
                        }
                }
                res.next_offset = same ? r->rx_offset : 0;
        }
        reply = core_message(r, RAFT_MSG_SNAPSHOT_RESULT, m->from, wrote);
        reply->snapshot_result = res;
}

void snapshot_handle_result(struct raft *r, const struct raft_message *m) {
        const struct raft_snapshot_result *res = &m->snapshot_result;
        struct progress *p;

        if (r->role != RAFT_LEADER)
                return;
        p = progress_find(r, m->from);
        if (!p || p->id == r->o.id)
                return;
        p->recent_active = true;
        if (p->state != PROGRESS_SNAPSHOT)
                return;
        /* Silent until now: its snapshot and the log after it may be gone
         * (the caller keeps only snapshots in a live transfer), so a
         * transfer of an older snapshot starts over with the newest. */
        if (!transfer_alive(r, p) && p->snap_index != r->snap.index && !res->done) {
                p->snap_heard = r->now;
                p->snap_offset = 0;
                snapshot_send_chunk(r, p);
                return;
        }
        p->snap_heard = r->now;
        /* Installed, but an older snapshot than the one this leader went
         * on to send (it took a newer one meanwhile): good enough when the
         * log goes on from there.  Ignoring it made a follower chase the
         * leader's snapshots while writes went on. */
        if (res->done && res->index != p->snap_index && res->index >= r->log.offset)
                p->snap_index = res->index;
        if (res->index != p->snap_index)
                return;
        if (res->done) {
                p->match = MAX_U64(p->match, res->index);
                progress_become_probe(p);
                replication_send_append(r, p);
                replication_maybe_commit(r);
                if (r->role == RAFT_LEADER)
                        transfer_progress(r, p);
                return;
        }
        /* Answers to a resent chunk repeat an offset: send on progress only,
         * the heartbeat resends when an answer is lost. */
        if (res->next_offset == p->snap_offset)
                return;
        p->snap_offset = res->next_offset;
        snapshot_send_chunk(r, p);
}

int raft_snapshot_meta_at(const struct raft *r, raft_index index, struct raft_snapshot_meta *ret) {
        struct raft_config config = r->snap.config;

        if (index > r->applied || index <= r->log.offset)
                return -ERANGE;
        /* The configuration in force at index: the latest config entry at
         * or below it, or the previous snapshot's. */
        for (raft_index i = index; i > r->log.offset; i--) {
                const struct raft_entry *e = log_get(&r->log, i);

                if (e->type == RAFT_ENTRY_CONFIG && raft_config_decode(e->data.base, e->data.len, &config) == 0)
                        break;
        }
        ret->index = index;
        ret->term = log_term_at(&r->log, index);
        ret->config = config;
        return 0;
}

bool raft_snapshot_in_transfer(const struct raft *r, raft_index index) {
        if (r->role != RAFT_LEADER)
                return false;
        for (unsigned i = 0; i < r->n_prs; i++)
                if (transfer_alive(r, &r->prs[i]) && r->prs[i].snap_index == index)
                        return true;
        return false;
}

int snapshot_taken(struct raft *r, raft_index index, raft_index trailing) {
        raft_index keep_from = index > trailing ? index - trailing : 0;

        if (index <= r->snap.index || raft_snapshot_meta_at(r, index, &r->snap) < 0)
                return -EINVAL;
        /* A follower that installs a snapshot still in transfer goes on from
         * the log after it: compacting that away sent it the next snapshot,
         * and the next (a large state takes longer to install than the
         * trailing entries last under writes). */
        if (r->role == RAFT_LEADER)
                for (unsigned i = 0; i < r->n_prs; i++)
                        if (transfer_alive(r, &r->prs[i]))
                                keep_from = MIN_U64(keep_from, r->prs[i].snap_index);
        if (keep_from > 0)
                log_compact(&r->log, keep_from);
        return 0;
}
