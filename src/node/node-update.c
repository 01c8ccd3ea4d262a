/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Carrying out the core's updates: persistence with group commit, sending,
 * applying committed entries, and the once-per-iteration flush.
 *
 * Within one loop iteration every update's entries are appended to the
 * log's buffer and its messages either sent at once (the leader's appends,
 * so followers write in parallel with the leader's disk) or held when they
 * promise durability.  The ev_prepare watcher then writes the hard state
 * (synchronously) and starts one fdatasync for everything appended on the
 * log's sync thread; the loop goes on receiving and appending meanwhile.
 * When the sync returns (ev_async), the messages held for it leave and the
 * core learns what is durable; the next flush starts the next sync, which
 * covers everything appended in between (at most one is in flight).  See
 * docs/engine.md for the ordering argument. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/node.h"
#include "shared/macro.h"

/* The core's clock: monotonic, unlike ev_now(), which follows the wall
 * clock and would turn a clock step into elections. */
uint64_t node_now_ms(const struct raftd_node *n) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* xorshift64*: election timeouts need spread, not secrecy. */
static uint32_t node_random(struct raftd_node *n) {
        n->rng ^= n->rng >> 12;
        n->rng ^= n->rng << 25;
        n->rng ^= n->rng >> 27;
        return (uint32_t) ((n->rng * 2685821657736338717ULL) >> 32);
}

static void send_now(struct raftd_node *n, struct raft_message *m) {
        _cleanup_free_ void *chunk = NULL;

        if (m->to == n->cfg.id) {
                /* The own vote, once durable: handed back to the core after
                 * this round of sends (not from inside it). */
                if (m->type == RAFT_MSG_VOTE_RESULT && n->n_self < ELEMENTSOF(n->self))
                        n->self[n->n_self++] = *m;
                return;
        }

        if (m->type == RAFT_MSG_SNAPSHOT && !m->snapshot.data.base &&
            node_snapshot_fill_chunk(n, m, &chunk) < 0)
                return; /* the core resends at the next heartbeat */
        if (n->transport.send)
                (void) n->transport.send(n->transport.userdata, m);
}

void node_held_free(struct raft_message *m) {
        if (m->type == RAFT_MSG_APPEND) {
                for (unsigned i = 0; i < m->append.n_entries; i++)
                        free(m->append.entries[i].data.base);
                free(m->append.entries);
        }
}

/* Held messages are replies (append and snapshot results, votes): they
 * carry no entries today, but copy them anyway should that change. */
static int hold(struct raftd_node *n, const struct raft_message *m) {
        struct raft_message *c;

        if (n->n_held == n->cap_held) {
                size_t cap = n->cap_held ? n->cap_held * 2 : 16;
                struct raft_message *a = realloc(n->held, cap * sizeof(*a));

                if (!a)
                        return -ENOMEM;
                n->held = a;
                n->cap_held = cap;
        }
        c = &n->held[n->n_held];
        *c = *m;
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
                c->append.entries = calloc(m->append.n_entries, sizeof(*c->append.entries));
                if (!c->append.entries)
                        return -ENOMEM;
                for (unsigned i = 0; i < m->append.n_entries; i++) {
                        const struct raft_entry *e = &m->append.entries[i];

                        c->append.entries[i] = *e;
                        c->append.entries[i].data.base = NULL;
                        if (e->data.len > 0) {
                                c->append.entries[i].data.base = malloc(e->data.len);
                                if (!c->append.entries[i].data.base)
                                        return -ENOMEM;
                                memcpy(c->append.entries[i].data.base, e->data.base, e->data.len);
                        }
                }
        } else if (m->type == RAFT_MSG_SNAPSHOT)
                c->snapshot.data = (struct raft_buf) { 0 };
        n->n_held++;
        return 0;
}

static void notify_status(struct raftd_node *n);

int node_kv_checkpoint(struct raftd_node *n) {
        int r;

        if (!n->kv_batch_open)
                return 0;
        /* A snapshot child reads the file as of the last commit. */
        if (n->snap_pid > 0)
                node_snapshot_wait(n);
        if (!n->kv_batch_open)
                return 0; /* committed when the child was reaped */
        n->kv_batch_open = false;
        ev_timer_stop(n->loop, &n->kv_commit);
        r = kv_batch_commit(n->kv);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to commit applied entries to the state machine: %m"));
        return 0;
}

/* Applied entries share one state machine transaction until enough of them
 * or enough time passed.  The TDB file is a cache of the log's effect (see
 * docs/state-machine.md): a killed node finds it at the last commit and
 * re-applies the log from there, so committing less often costs a longer
 * replay, never an acknowledged write.  Reads on this node see the open
 * transaction, i.e. everything applied. */
static int kv_batch_ensure(struct raftd_node *n) {
        int r;

        if (n->kv_batch_open)
                return 0;
        r = kv_batch_begin(n->kv);
        if (r < 0)
                return r;
        n->kv_batch_open = true;
        n->kv_batch_entries = 0;
        ev_timer_set(&n->kv_commit, NODE_KV_COMMIT_S, 0.0);
        ev_timer_start(n->loop, &n->kv_commit);
        return 0;
}

static int apply_committed(struct raftd_node *n, const struct raft_entry *entries, unsigned count) {
        raft_index applied = kv_applied_index(n->kv);
        int r = 0;

        for (unsigned i = 0; i < count && r >= 0; i++) {
                const struct raft_entry *e = &entries[i];
                struct kv_command c;
                struct kv_result res;

                /* After a restart the core hands out entries the state
                 * machine already holds. */
                if (e->index <= applied)
                        continue;
                r = kv_batch_ensure(n);
                if (r < 0)
                        break;
                n->kv_batch_entries++;
                if (e->type != RAFT_ENTRY_NORMAL) {
                        r = kv_skip(n->kv, e->index);
                        if (r >= 0)
                                node_requests_entry_applied(n, e->index, e->term);
                        continue;
                }
                r = kv_apply(n->kv, e->index, e->data.base, e->data.len, &res);
                if (r < 0)
                        break;
                if (kv_command_decode(e->data.base, e->data.len, &c) == 0)
                        node_requests_applied(n, e->index, e->term, &c, &res);
        }
        if (r < 0) {
                (void) node_kv_checkpoint(n); /* cancels: the handle is broken */
                return log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to apply committed entries: %m"));
        }
        if (n->kv_batch_entries >= NODE_KV_COMMIT_ENTRIES && n->snap_pid <= 0) {
                r = node_kv_checkpoint(n);
                if (r < 0)
                        return r;
        }
        node_requests_applied_to(n, kv_applied_index(n->kv));
        notify_status(n);
        return 0;
}

int node_apply_deferred(struct raftd_node *n) {
        raft_index applied = kv_applied_index(n->kv), to = n->deferred_to;
        const struct raft_entry *first;

        n->deferred_to = 0;
        if (to <= applied)
                return 0;
        /* Contiguous in the core's log, which compacts only after this. */
        first = raft_entry_at(n->raft, applied + 1);
        if (!first || !raft_entry_at(n->raft, to))
                return log_sink_errno(&n->log, LOG_CRIT, ESTALE, _("Entries deferred during a snapshot are gone."));
        return apply_committed(n, first, (unsigned) (to - applied));
}

static void notify_status(struct raftd_node *n) {
        struct raftd_status s;

        if (!n->status_cb)
                return;
        raftd_status(n, &s);
        n->status_cb(n->status_userdata, &s);
}

static int handle_update(struct raftd_node *n, struct raft_update *u) {
        int r;

        if (u->hard_state) {
                n->hs = *u->hard_state;
                n->hs_dirty = true;
        }
        if (u->n_entries > 0) {
                r = storage_log_append(n->slog, u->entries, u->n_entries);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to append to the log: %m"));
                n->log_dirty = true;
                n->appended_index = u->entries[u->n_entries - 1].index;
                n->appended_term = u->entries[u->n_entries - 1].term;
        }
        if (u->snapshot_chunk) {
                r = node_snapshot_receive(n, u->snapshot_chunk);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < u->n_messages; i++) {
                if (u->after_persist[i] && (n->hs_dirty || n->log_dirty || storage_log_sync_busy(n->slog))) {
                        r = hold(n, &u->messages[i]);
                        if (r < 0)
                                return r;
                } else
                        send_now(n, &u->messages[i]);
        }
        /* Applied once per loop iteration, in the flush: one state machine
         * transaction for everything committed meanwhile.  The core keeps
         * the entries until a snapshot covers them. */
        if (u->n_committed > 0)
                n->deferred_to = MAX(n->deferred_to, u->committed[u->n_committed - 1].index);
        for (unsigned i = 0; i < u->n_reads_ready; i++)
                node_requests_read_ready(n, u->reads_ready[i].id, u->reads_ready[i].index);
        for (unsigned i = 0; i < u->n_reads_failed; i++)
                node_requests_read_failed(n, u->reads_failed[i]);
        if (u->role_changed) {
                if (raft_role(n->raft) == RAFT_LEADER)
                        node_admin_leader_elected(n);
                node_requests_role_changed(n);
                notify_status(n);
        }
        /* Absolute ms on the loop's clock; the timer wants seconds from now. */
        ev_timer_stop(n->loop, &n->tick);
        {
                uint64_t now = node_now_ms(n);
                double after = u->next_timeout > now ? (double) (u->next_timeout - now) / 1000.0 : 0.0;

                ev_timer_set(&n->tick, after, 0.0);
        }
        ev_timer_start(n->loop, &n->tick);
        return 0;
}

int node_step_proposed(struct raftd_node *n, struct raft_event *ev, raft_index *ret_index, raft_term *ret_term) {
        struct raft_update u;
        int r, k;

        ev->now = node_now_ms(n);
        ev->random = node_random(n);
        r = raft_step(n->raft, ev, &u);
        if (ret_index)
                *ret_index = u.proposed_index;
        if (ret_term)
                *ret_term = u.proposed_term;
        k = handle_update(n, &u);
        if (k < 0) {
                /* Storage failed: the node cannot keep its promises. */
                n->failed = k;
                ev_break(n->loop, EVBREAK_ONE);
        }
        return r;
}

int node_step(struct raftd_node *n, struct raft_event *ev) {
        return node_step_proposed(n, ev, NULL, NULL);
}

static void deliver_self(struct raftd_node *n) {
        struct raft_message self[ELEMENTSOF(n->self)];
        size_t count = n->n_self;

        memcpy(self, n->self, count * sizeof(self[0]));
        n->n_self = 0;
        for (size_t i = 0; i < count; i++)
                node_receive_message(n, &self[i]);
}

static void release_held(struct raftd_node *n, struct raft_message *held, size_t *count) {
        for (size_t i = 0; i < *count; i++) {
                send_now(n, &held[i]);
                node_held_free(&held[i]);
        }
        *count = 0;
}

/* The held messages wait for the sync in flight: nothing was appended
 * since it started, and the hard state is saved. */
static int held_join_sync(struct raftd_node *n) {
        if (n->n_held == 0)
                return 0;
        if (n->n_held_sync == 0) {
                /* Trade the arrays: no copy, both keep their capacity. */
                struct raft_message *a = n->held_sync;
                size_t cap = n->cap_held_sync;

                n->held_sync = n->held;
                n->cap_held_sync = n->cap_held;
                n->n_held_sync = n->n_held;
                n->held = a;
                n->cap_held = cap;
                n->n_held = 0;
                return 0;
        }
        if (n->n_held_sync + n->n_held > n->cap_held_sync) {
                size_t cap = MAX(n->cap_held_sync * 2, n->n_held_sync + n->n_held);
                struct raft_message *a = reallocarray(n->held_sync, cap, sizeof(*a));

                if (!a)
                        return -ENOMEM;
                n->held_sync = a;
                n->cap_held_sync = cap;
        }
        memcpy(n->held_sync + n->n_held_sync, n->held, n->n_held * sizeof(*n->held));
        n->n_held_sync += n->n_held;
        n->n_held = 0;
        return 0;
}

void node_sync_notify(void *userdata) {
        struct raftd_node *n = userdata;

        ev_async_send(n->loop, &n->sync_done);
}

void node_sync_finished(struct raftd_node *n) {
        struct raft_event ev = { .type = RAFT_EVENT_PERSISTED };
        int r;

        if (!n->slog || !storage_log_sync_busy(n->slog))
                return;
        r = storage_log_sync_collect(n->slog, false, &ev.persisted.index, &ev.persisted.term);
        if (r == 0)
                return; /* woken for a sync collected already */
        if (r < 0) {
                /* No retry: after a failed fdatasync the kernel may have
                 * dropped the pages, a second one could lie. */
                n->failed = log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to sync the log: %m"));
                ev_break(n->loop, EVBREAK_ONE);
                return;
        }
        release_held(n, n->held_sync, &n->n_held_sync);
        /* 0: every entry it covered was truncated since; the next sync
         * reports their replacements. */
        if (ev.persisted.index > 0)
                (void) node_step(n, &ev);
}

/* Save the hard state, start the log's sync or let held messages go when
 * everything they follow is durable. */
static int persist(struct raftd_node *n) {
        int r;

        if (n->hs_dirty) {
                struct storage_meta_state st = { .hs = n->hs };

                r = storage_meta_save(n->meta, &st);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to save the hard state: %m"));
                n->hs_dirty = false;
        }
        if (storage_log_sync_busy(n->slog)) {
                /* Appended since it started: wait for the next sync. */
                if (n->log_dirty)
                        return 0;
                return held_join_sync(n);
        }
        if (n->log_dirty) {
                struct raft_event ev = { .type = RAFT_EVENT_PERSISTED };

                r = storage_log_sync_start(n->slog);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_CRIT, r, _("Failed to sync the log: %m"));
                n->log_dirty = false;
                if (r > 0)
                        return held_join_sync(n);
                /* Nothing left to sync: an installed snapshot, durable
                 * already (see node_snapshot_receive()). */
                release_held(n, n->held, &n->n_held);
                ev.persisted.index = n->appended_index;
                ev.persisted.term = n->appended_term;
                (void) node_step(n, &ev);
                return 0;
        }
        release_held(n, n->held, &n->n_held);
        return 0;
}

void node_flush(struct raftd_node *n) {
        int r;

        for (int round = 0; round < 16 && !n->failed; round++) {
                bool syncing;

                deliver_self(n);
                node_proposals_flush(n);
                /* Leader's appends first, so followers write in parallel. */
                if (n->transport.flush)
                        n->transport.flush(n->transport.userdata);
                if (node_apply_deferred(n) < 0) {
                        n->failed = -EIO;
                        break;
                }
                r = persist(n);
                if (r < 0) {
                        n->failed = r;
                        break;
                }
                /* Done when what is left waits for the sync in flight. */
                syncing = storage_log_sync_busy(n->slog);
                if (n->n_self == 0 && n->n_proposals == 0 && n->deferred_to == 0 && !n->hs_dirty &&
                    (syncing || (!n->log_dirty && n->n_held == 0)))
                        break;
        }
        if (n->transport.flush)
                n->transport.flush(n->transport.userdata);
        if (n->failed)
                ev_break(n->loop, EVBREAK_ONE);
}
