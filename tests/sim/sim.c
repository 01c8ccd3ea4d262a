/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster: nodes wrapping a struct raft, each with a clock, a disk and
 * a state machine, driven by one agenda in simulated time.  Everything
 * random comes from one PRNG, drawn in the same order on every run of a
 * seed (tracing draws nothing). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "disk.h"
#include "eventq.h"
#include "message.h"
#include "net.h"
#include "prng.h"
#include "raft/wire.h"
#include "shared/macro.h"
#include "sim.h"
#include "sm.h"

/* Node ids 1 .. SIM_MAX_NODES - 1: initial voters plus those added later. */
#define SIM_MAX_NODES 9
#define SIM_EXTRA_NODES 3
#define SIM_MAX_VOTERS 5
#define SIM_MIN_VOTERS 3
#define SIM_LIVENESS_TIMEOUTS 20
#define SIM_SNAPSHOT_CHUNK 64
#define SIM_MAX_UNCOMMITTED 24
/* Older snapshots a leader may be sending at once: one per follower at most. */
#define SIM_SENDING_MAX SIM_MAX_NODES

struct sim_node {
        raft_id id;
        bool exists; /* created (initial member or added later) */
        bool up;
        bool removed; /* a removal was proposed: never add it back */
        uint64_t incarnation;
        struct raft *raft;
        struct disk disk;
        struct sm sm;
        raft_index snapshot_taken_at;
        /* The newest snapshot the core knows of (it may not be durable yet,
         * after an install). */
        bool has_snapshot;
        struct raft_snapshot_meta snapshot_meta;
        uint8_t snapshot[SM_IMAGE_SIZE];
        /* Older snapshots a leader is still sending: kept like the node keeps
         * their files open (raft_snapshot_in_transfer()). */
        struct raft_snapshot_meta sending_meta[SIM_SENDING_MAX];
        uint8_t sending[SIM_SENDING_MAX][SM_IMAGE_SIZE];
        unsigned n_sending;
        /* Chunks of a snapshot being received, as written (page cache). */
        struct raft_snapshot_meta incoming_meta;
        uint8_t incoming[DISK_SNAPSHOT_MAX];
        size_t incoming_len;
        /* local = base_local + (global - base_global) * rate / 1000 */
        uint64_t base_global, base_local;
        uint32_t clock_rate;
        uint64_t tick_generation;
        uint64_t tick_local; /* the next_timeout a tick is scheduled for */
        /* Last role seen, for the story. */
        uint8_t role;
        raft_term term;
        raft_id leader;
};

struct sim {
        struct sim_options opt;
        struct sim_stats stats;
        struct prng prng;
        struct eventq agenda;
        struct net net;
        struct checker *checker;
        struct sim_node nodes[SIM_MAX_NODES];
        unsigned n_ids, max_ids;
        uint64_t now;

        struct raft_options core;
        uint32_t disk_min_ms, disk_max_ms;
        uint32_t net_delay_max_ms; /* on a healthy network */
        unsigned snapshot_every;
        raft_index snapshot_trailing;

        uint64_t next_value;
        uint64_t next_read;
        raft_index proposed_index; /* of the last accepted proposal */
        raft_term proposed_term;

        /* Liveness phase. */
        bool healed;
        uint64_t heal_at, liveness_deadline, liveness_next_propose;
        uint64_t liveness_value_min; /* commands with values >= this are fresh */
        raft_index liveness_index;   /* where a fresh command was applied */

        char *failure;
        size_t failure_size;
        bool failed;
};

__attribute__((format(printf, 2, 3))) static int sim_fail(struct sim *s, const char *fmt, ...) {
        va_list ap;

        if (!s->failed) {
                va_start(ap, fmt);
                vsnprintf(s->failure, s->failure_size, fmt, ap);
                va_end(ap);
                s->failed = true;
        }
        return -EPROTO;
}

static int checker_result(struct sim *s, int r) {
        if (r == -EPROTO)
                return sim_fail(s, "%s", checker_failure(s->checker));
        return r;
}

__attribute__((format(printf, 3, 4))) static void trace(struct sim *s, raft_id node, const char *fmt, ...) {
        va_list ap;

        if (!s->opt.trace)
                return;
        if (node)
                fprintf(s->opt.trace, "[%7" PRIu64 "ms] n%" PRIu64 " > ", s->now, node);
        else
                fprintf(s->opt.trace, "[%7" PRIu64 "ms] -- ", s->now);
        va_start(ap, fmt);
        vfprintf(s->opt.trace, fmt, ap);
        va_end(ap);
        fputc('\n', s->opt.trace);
}

static uint64_t local_now(const struct sim_node *n, uint64_t global) {
        return n->base_local + (global - n->base_global) * n->clock_rate / 1000;
}

/* The first global time at which the node's clock reads at least local. */
static uint64_t global_at(const struct sim_node *n, uint64_t local) {
        if (local <= n->base_local)
                return n->base_global;
        return n->base_global + ((local - n->base_local) * 1000 + n->clock_rate - 1) / n->clock_rate;
}

static void set_clock_rate(struct sim *s, struct sim_node *n, uint32_t rate) {
        n->base_local = local_now(n, s->now);
        n->base_global = s->now;
        n->clock_rate = rate;
}

static struct sim_node *node_get(struct sim *s, raft_id id) {
        if (id == 0 || id >= SIM_MAX_NODES || !s->nodes[id].exists)
                return NULL;
        return &s->nodes[id];
}

static struct sim_node *find_leader(struct sim *s) {
        struct sim_node *best = NULL;

        /* A deposed leader may still believe it leads: take the newest. */
        for (raft_id id = 1; id <= s->n_ids; id++) {
                struct sim_node *n = &s->nodes[id];

                if (n->up && raft_role(n->raft) == RAFT_LEADER &&
                    (!best || raft_term_current(n->raft) > raft_term_current(best->raft)))
                        best = n;
        }
        return best;
}

static const char *role_name(uint8_t role) {
        return raft_role_name((enum raft_role) role);
}

static void trace_message(struct sim *s, const struct raft_message *m, const char *fate) {
        if (!s->opt.trace)
                return;
        switch (m->type) {
        case RAFT_MSG_APPEND:
                trace(s, m->from, "%s n%" PRIu64 " APPEND t%" PRIu64 " prev %" PRIu64 "/%" PRIu64 " entries %u commit %" PRIu64,
                      fate, m->to, m->term, m->append.prev_index, m->append.prev_term, m->append.n_entries,
                      m->append.commit);
                break;
        case RAFT_MSG_APPEND_RESULT:
                trace(s, m->from, "%s n%" PRIu64 " APPEND_RESULT t%" PRIu64 " %s index %" PRIu64 " hint %" PRIu64 "/%" PRIu64,
                      fate, m->to, m->term, m->append_result.success ? "ok" : "reject", m->append_result.index,
                      m->append_result.conflict_index, m->append_result.conflict_term);
                break;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                trace(s, m->from, "%s n%" PRIu64 " %s t%" PRIu64 " last %" PRIu64 "/%" PRIu64 "%s", fate, m->to,
                      raft_message_type_name(m->type), m->term, m->vote.last_index, m->vote.last_term,
                      m->vote.transfer ? " (transfer)" : "");
                break;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                trace(s, m->from, "%s n%" PRIu64 " %s t%" PRIu64 " %s", fate, m->to, raft_message_type_name(m->type),
                      m->term, m->vote_result.granted ? "granted" : "denied");
                break;
        case RAFT_MSG_SNAPSHOT:
                trace(s, m->from, "%s n%" PRIu64 " SNAPSHOT t%" PRIu64 " %" PRIu64 "/%" PRIu64 " offset %" PRIu64 " len %zu%s",
                      fate, m->to, m->term, m->snapshot.meta.index, m->snapshot.meta.term, m->snapshot.offset,
                      m->snapshot.data.len, m->snapshot.done ? " done" : "");
                break;
        case RAFT_MSG_SNAPSHOT_RESULT:
                trace(s, m->from, "%s n%" PRIu64 " SNAPSHOT_RESULT t%" PRIu64 " %" PRIu64 " next %" PRIu64 "%s", fate,
                      m->to, m->term, m->snapshot_result.index, m->snapshot_result.next_offset,
                      m->snapshot_result.done ? " done" : "");
                break;
        default:
                trace(s, m->from, "%s n%" PRIu64 " %s t%" PRIu64, fate, m->to, raft_message_type_name(m->type), m->term);
                break;
        }
}

/* What a message promises about its sender's disk must be true when it
 * leaves: an append or snapshot acknowledgement that the entries are
 * durable, a vote (or a request for votes) that term and vote are. */
static int check_persisted_before_send(struct sim *s, const struct raft_message *m) {
        const struct sim_node *n = node_get(s, m->from);
        const struct raft_hard_state *hs;
        raft_index claimed = 0;

        if (!n)
                return 0;
        hs = &n->disk.hard_state;
        if (m->type == RAFT_MSG_APPEND_RESULT && m->append_result.success)
                claimed = m->append_result.index;
        else if (m->type == RAFT_MSG_SNAPSHOT_RESULT && m->snapshot_result.done)
                claimed = m->snapshot_result.index;
        if (claimed > disk_last_index(&n->disk))
                return sim_fail(s, "Persistence: n%" PRIu64 " tells n%" PRIu64 " it holds %" PRIu64 " (%s) but only %" PRIu64
                                " is on its disk", n->id, m->to, claimed, raft_message_type_name(m->type),
                                disk_last_index(&n->disk));
        if ((m->type == RAFT_MSG_VOTE_RESULT && m->vote_result.granted &&
             (hs->term < m->term || (hs->term == m->term && hs->vote != m->to))) ||
            (m->type == RAFT_MSG_VOTE && (hs->term < m->term || (hs->term == m->term && hs->vote != n->id))))
                return sim_fail(s, "Persistence: n%" PRIu64 " sends %s of term %" PRIu64 " to n%" PRIu64
                                " but its disk says term %" PRIu64 ", vote n%" PRIu64,
                                n->id, raft_message_type_name(m->type), m->term, m->to, hs->term, hs->vote);
        return 0;
}

static int send_message(struct sim *s, const struct raft_message *m) {
        uint64_t delays[2];
        unsigned copies;
        int r;

        r = check_persisted_before_send(s, m);
        if (r < 0)
                return r;

        if (!node_get(s, m->to)) {
                trace_message(s, m, "drops (no such node)");
                return 0;
        }
        if (m->to == m->from) {
                /* A candidate's own vote: handed back, no network involved. */
                copies = 1;
                delays[0] = 0;
        } else
                copies = net_route(&s->net, &s->prng, m->from, m->to, delays);
        trace_message(s, m, copies == 0 ? "loses" : copies == 1 ? "sends" : "sends twice");
        for (unsigned i = 0; i < copies; i++) {
                struct raft_message *copy;

                r = message_copy(m, &copy);
                if (r < 0)
                        return r;
                r = eventq_push(&s->agenda, (struct sim_event) {
                        .at = s->now + delays[i],
                        .kind = SIM_EV_DELIVER,
                        .node = m->to,
                        .message = copy,
                });
                if (r < 0) {
                        message_free(copy);
                        return r;
                }
        }
        return 0;
}

static const struct raft_entry *core_entry_at(const void *raft, raft_index index) {
        return raft_entry_at(raft, index);
}

static int step_internal(struct sim *s, struct sim_node *n, struct raft_event *ev, const char *what);

/* Before the node's snapshot is replaced: keep it while the core still
 * sends it, and drop the kept ones no transfer needs any more. */
static int keep_snapshots_in_transfer(struct sim *s, struct sim_node *n) {
        unsigned k = 0;

        for (unsigned i = 0; i < n->n_sending; i++)
                if (raft_snapshot_in_transfer(n->raft, n->sending_meta[i].index)) {
                        n->sending_meta[k] = n->sending_meta[i];
                        memcpy(n->sending[k], n->sending[i], SM_IMAGE_SIZE);
                        k++;
                }
        n->n_sending = k;
        if (!n->has_snapshot || !raft_snapshot_in_transfer(n->raft, n->snapshot_meta.index))
                return 0;
        if (n->n_sending == SIM_SENDING_MAX)
                return sim_fail(s, "n%" PRIu64 ": more than %d older snapshots in transfer at once", n->id,
                                SIM_SENDING_MAX);
        n->sending_meta[n->n_sending] = n->snapshot_meta;
        memcpy(n->sending[n->n_sending], n->snapshot, SM_IMAGE_SIZE);
        n->n_sending++;
        return 0;
}

/* The leader's core asks for a snapshot chunk: fill it from the node's
 * snapshot at the offset the core chose. */
static int send_snapshot_chunk(struct sim *s, struct sim_node *n, const struct raft_message *m,
                               struct raft_message *filled) {
        const struct raft_snapshot_chunk *c = &m->snapshot;
        uint8_t *image = n->has_snapshot && n->snapshot_meta.index == c->meta.index &&
                                               n->snapshot_meta.term == c->meta.term
                                       ? n->snapshot
                                       : NULL;
        size_t len;

        for (unsigned i = 0; !image && i < n->n_sending; i++)
                if (n->sending_meta[i].index == c->meta.index && n->sending_meta[i].term == c->meta.term)
                        image = n->sending[i];
        if (!image)
                return sim_fail(s, "n%" PRIu64 ": core sends snapshot %" PRIu64 "/%" PRIu64
                                " but the node's snapshot is %" PRIu64 "/%" PRIu64,
                                n->id, c->meta.index, c->meta.term, n->has_snapshot ? n->snapshot_meta.index : 0,
                                n->has_snapshot ? n->snapshot_meta.term : 0);
        if (c->offset > SM_IMAGE_SIZE || c->chunk_max == 0)
                return sim_fail(s, "n%" PRIu64 ": core asks for snapshot chunk at offset %" PRIu64 " max %" PRIu32
                                " of a %d byte snapshot", n->id, c->offset, c->chunk_max, SM_IMAGE_SIZE);
        len = MIN((size_t) c->chunk_max, SM_IMAGE_SIZE - (size_t) c->offset);
        *filled = *m;
        filled->snapshot.data = (struct raft_buf) { image + c->offset, len };
        filled->snapshot.done = c->offset + len == SM_IMAGE_SIZE;
        return 0;
}

static int receive_snapshot_chunk(struct sim *s, struct sim_node *n, const struct raft_snapshot_chunk *c) {
        struct sm installed;
        int r;

        if (c->offset == 0 || n->incoming_meta.index != c->meta.index || n->incoming_meta.term != c->meta.term) {
                n->incoming_meta = c->meta;
                n->incoming_len = 0;
        }
        if (c->offset > n->incoming_len || c->offset + c->data.len > sizeof(n->incoming))
                return sim_fail(s, "n%" PRIu64 ": core writes snapshot chunk at offset %" PRIu64
                                " but only %zu bytes were received", n->id, c->offset, n->incoming_len);
        memcpy(n->incoming + c->offset, c->data.base, c->data.len);
        n->incoming_len = c->offset + c->data.len;
        if (!c->done)
                return 0;

        r = sm_decode(&installed, n->incoming, n->incoming_len, &c->meta.config);
        if (r < 0 || installed.applied != c->meta.index || installed.applied_term != c->meta.term)
                return sim_fail(s, "n%" PRIu64 ": installed snapshot %" PRIu64 "/%" PRIu64
                                " holds a state machine image of %" PRIu64 " (%zu bytes)",
                                n->id, c->meta.index, c->meta.term, r < 0 ? 0 : installed.applied, n->incoming_len);
        r = keep_snapshots_in_transfer(s, n);
        if (r < 0)
                return r;
        n->sm = installed;
        n->has_snapshot = true;
        n->snapshot_meta = c->meta;
        memcpy(n->snapshot, n->incoming, SM_IMAGE_SIZE);
        n->snapshot_taken_at = c->meta.index;
        n->incoming_len = 0;
        s->stats.snapshots_installed++;
        trace(s, n->id, "installs snapshot %" PRIu64 "/%" PRIu64 " (%u servers)", c->meta.index, c->meta.term,
              c->meta.config.n);
        return checker_result(s, checker_snapshot(s->checker, n->id, c->meta.index, n->sm.digest));
}

static bool is_fresh_command(const struct sim *s, const struct raft_entry *e) {
        return s->healed && e->type == RAFT_ENTRY_NORMAL && e->data.len == SM_COMMAND_SIZE &&
               wire_get64((const uint8_t *) e->data.base + 4) >= s->liveness_value_min;
}

static int apply_committed(struct sim *s, struct sim_node *n, const struct raft_update *u) {
        int r;

        for (unsigned i = 0; i < u->n_committed; i++) {
                const struct raft_entry *e = &u->committed[i];

                if (e->index > disk_last_index(&n->disk))
                        return sim_fail(s, "Persistence: n%" PRIu64 " was handed committed entry %" PRIu64
                                        " but has only %" PRIu64 " on disk", n->id, e->index,
                                        disk_last_index(&n->disk));
                r = sm_apply(&n->sm, e);
                if (r < 0)
                        return sim_fail(s, "n%" PRIu64 ": cannot apply committed entry %" PRIu64 "/%" PRIu64
                                        " (type %u) after %" PRIu64 ": %s", n->id, e->index, e->term, e->type,
                                        n->sm.applied, strerror(-r));
                r = checker_applied(s->checker, n->id, raft_term_current(n->raft), e);
                if (r < 0)
                        return checker_result(s, r);
                if (e->index > s->stats.applied)
                        s->stats.applied = e->index;
                if (s->liveness_index == 0 && is_fresh_command(s, e)) {
                        s->liveness_index = e->index;
                        trace(s, n->id, "applies the fresh command at %" PRIu64, e->index);
                }
        }
        if (u->n_committed)
                trace(s, n->id, "applies %" PRIu64 "..%" PRIu64, u->committed[0].index,
                      u->committed[u->n_committed - 1].index);
        return 0;
}

static int schedule_tick(struct sim *s, struct sim_node *n, uint64_t next_timeout) {
        uint64_t at;

        if (next_timeout == 0 || next_timeout == n->tick_local)
                return 0;
        at = MAX(global_at(n, next_timeout), s->now + 1);
        n->tick_local = next_timeout;
        return eventq_push(&s->agenda, (struct sim_event) {
                .at = at,
                .kind = SIM_EV_TICK,
                .node = n->id,
                .generation = ++n->tick_generation,
        });
}

static void trace_role(struct sim *s, struct sim_node *n) {
        uint8_t role = raft_role(n->raft);
        raft_term term = raft_term_current(n->raft);
        raft_id leader = raft_leader(n->raft);

        if (role == n->role && term == n->term && leader == n->leader)
                return;
        if (role == RAFT_LEADER && (n->role != RAFT_LEADER || n->term != term)) {
                s->stats.leaders++;
                trace(s, n->id, "became leader term %" PRIu64, term);
        } else if (role != n->role || term != n->term)
                trace(s, n->id, "%s term %" PRIu64 " (leader n%" PRIu64 ")", role_name(role), term, leader);
        else
                trace(s, n->id, "learns leader n%" PRIu64 " in term %" PRIu64, leader, term);
        n->role = role;
        n->term = term;
        n->leader = leader;
}

static bool config_equal(const struct raft_config *a, const struct raft_config *b) {
        return a->n == b->n && memcmp(a->servers, b->servers, a->n * sizeof(a->servers[0])) == 0;
}

static int take_snapshot(struct sim *s, struct sim_node *n) {
        struct raft_snapshot_meta meta;
        struct raft_event ev = { .type = RAFT_EVENT_SNAPSHOT_TAKEN };
        int r;

        /* The core says what the snapshot's meta is; the state machine knows
         * independently (the last configuration it applied): compare. */
        r = raft_snapshot_meta_at(n->raft, n->sm.applied, &meta);
        if (r < 0)
                return sim_fail(s, "n%" PRIu64 ": raft_snapshot_meta_at(%" PRIu64 ") of an applied index failed: %s",
                                n->id, n->sm.applied, strerror(-r));
        if (meta.index != n->sm.applied || meta.term != n->sm.applied_term || !config_equal(&meta.config, &n->sm.config))
                return sim_fail(s, "Snapshot meta: n%" PRIu64 " core says %" PRIu64 "/%" PRIu64 " with %u servers, "
                                "the state machine applied %" PRIu64 "/%" PRIu64 " with %u servers",
                                n->id, meta.index, meta.term, meta.config.n, n->sm.applied, n->sm.applied_term,
                                n->sm.config.n);

        r = keep_snapshots_in_transfer(s, n);
        if (r < 0)
                return r;
        sm_encode(&n->sm, n->snapshot);
        r = disk_save_snapshot(&n->disk, &meta, n->snapshot, SM_IMAGE_SIZE, s->snapshot_trailing);
        if (r < 0)
                return r;
        n->has_snapshot = true;
        n->snapshot_meta = meta;
        n->snapshot_taken_at = meta.index;
        r = checker_result(s, checker_snapshot(s->checker, n->id, meta.index, n->sm.digest));
        if (r < 0)
                return r;
        trace(s, n->id, "takes snapshot at %" PRIu64 "/%" PRIu64, meta.index, meta.term);
        ev.snapshot_taken.index = meta.index;
        ev.snapshot_taken.trailing = s->snapshot_trailing;
        return step_internal(s, n, &ev, "SNAPSHOT_TAKEN");
}

static uint64_t disk_latency(struct sim *s) {
        uint64_t ms = prng_range(&s->prng, s->disk_min_ms, s->disk_max_ms);

        /* Now and then a stall (a slow fsync), which widens every window in
         * which a reply could overtake persistence. */
        if (s->opt.disk_stalls && !s->healed && prng_chance(&s->prng, 20))
                ms += prng_range(&s->prng, 50, 300);
        return ms;
}

/* Carry out what an update asks for, in the contract's order. */
static int handle_update(struct sim *s, struct sim_node *n, const struct raft_update *u, bool log_changed) {
        struct checker_log log;
        int r;

        if (u->snapshot_chunk) {
                r = receive_snapshot_chunk(s, n, u->snapshot_chunk);
                if (r < 0)
                        return r;
                log_changed |= u->snapshot_chunk->done;
        }
        log_changed |= u->n_entries > 0;

        r = disk_queue(&n->disk, u, MAX(disk_last_done_at(&n->disk), s->now + disk_latency(s)));
        if (r < 0)
                return r;
        if (r > 0) {
                r = eventq_push(&s->agenda, (struct sim_event) {
                        .at = disk_last_done_at(&n->disk),
                        .kind = SIM_EV_DISK,
                        .node = n->id,
                        .generation = n->incarnation,
                });
                if (r < 0)
                        return r;
        }

        for (unsigned i = 0; i < u->n_messages; i++) {
                const struct raft_message *m = &u->messages[i];
                struct raft_message filled;

                if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.data.len == 0 && !m->snapshot.done) {
                        r = send_snapshot_chunk(s, n, m, &filled);
                        if (r < 0)
                                return r;
                        m = &filled;
                }
                if (u->after_persist && u->after_persist[i]) {
                        r = disk_hold(&n->disk, m);
                        if (r != -ENOENT) {
                                if (r < 0)
                                        return r;
                                trace_message(s, m, "holds until durable:");
                                continue;
                        }
                }
                r = send_message(s, m);
                if (r < 0)
                        return r;
        }

        r = apply_committed(s, n, u);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < u->n_reads_ready; i++) {
                s->stats.reads++;
                trace(s, n->id, "read %" PRIu64 " ready at %" PRIu64, u->reads_ready[i].id, u->reads_ready[i].index);
                r = checker_read_ready(s->checker, u->reads_ready[i].id, u->reads_ready[i].index);
                if (r < 0)
                        return checker_result(s, r);
        }
        for (unsigned i = 0; i < u->n_reads_failed; i++)
                trace(s, n->id, "read %" PRIu64 " failed", u->reads_failed[i]);
        if (u->role_changed)
                trace_role(s, n);
        if (u->config_changed) {
                const struct raft_config *c = raft_config_current(n->raft);

                trace(s, n->id, "configuration now has %u servers, %u voters", c->n, raft_config_voters(c));
        }

        r = schedule_tick(s, n, u->next_timeout);
        if (r < 0)
                return r;

        log = (struct checker_log) {
                .log = n->raft,
                .entry_at = core_entry_at,
                .snapshot_index = raft_snapshot_index(n->raft),
                .last_index = raft_last_index(n->raft),
        };
        r = checker_observe(s->checker, n->id, raft_term_current(n->raft), raft_role(n->raft) == RAFT_LEADER,
                            raft_commit_index(n->raft), &log, log_changed);
        if (r < 0)
                return checker_result(s, r);

        /* The update's pointers die at the next step: take snapshots last. */
        if (n->sm.applied >= n->snapshot_taken_at + s->snapshot_every)
                return take_snapshot(s, n);
        return 0;
}

static int step(struct sim *s, struct sim_node *n, struct raft_event *ev) {
        struct raft_update u;
        int r;

        ev->now = local_now(n, s->now);
        ev->random = (uint32_t) prng_next(&s->prng);
        memset(&u, 0, sizeof(u));
        s->stats.steps++;
        r = raft_step(n->raft, ev, &u);
        if (r < 0)
                return r;
        s->proposed_index = u.proposed_index;
        s->proposed_term = u.proposed_term;
        return handle_update(s, n, &u, false);
}

/* Steps for which the core may legitimately say no. */
static bool refusal_is_normal(int r) {
        return r == RAFT_ENOTLEADER || r == RAFT_EBUSY || r == RAFT_EAGAIN;
}

/* A step the core must accept: any error is a finding. */
static int step_internal(struct sim *s, struct sim_node *n, struct raft_event *ev, const char *what) {
        int r = step(s, n, ev);

        if (r < 0 && !s->failed)
                return sim_fail(s, "n%" PRIu64 ": raft_step(%s) failed: %s", n->id, what, strerror(-r));
        return r;
}

/* A request the core may refuse: 1 accepted, 0 refused normally. */
static int step_request(struct sim *s, struct sim_node *n, struct raft_event *ev, const char *what) {
        int r = step(s, n, ev);

        if (s->failed)
                return -EPROTO;
        if (refusal_is_normal(r)) {
                trace(s, n->id, "refuses %s: %s", what, strerror(-r));
                return 0;
        }
        if (r < 0)
                return sim_fail(s, "n%" PRIu64 ": raft_step(%s) failed: %s", n->id, what, strerror(-r));
        return 1;
}

static void options_for(const struct sim *s, raft_id id, struct raft_options *o) {
        *o = s->core;
        o->id = id;
}

/* Bring a node up from what its disk holds: raft_new + raft_load, and the
 * state machine from the durable snapshot. */
static int node_start(struct sim *s, struct sim_node *n) {
        struct raft_options o;
        struct raft_event ev = { .type = RAFT_EVENT_TICK };
        const struct raft_snapshot_meta *snap = n->disk.has_snapshot ? &n->disk.snapshot_meta : NULL;
        int r;

        options_for(s, n->id, &o);
        r = raft_new(&o, &n->raft);
        if (r < 0)
                return sim_fail(s, "n%" PRIu64 ": raft_new failed: %s", n->id, strerror(-r));
        r = raft_load(n->raft, &n->disk.hard_state, snap, n->disk.log, (unsigned) n->disk.n_log);
        if (r < 0)
                return sim_fail(s, "n%" PRIu64 ": raft_load of its own durable state failed: %s", n->id, strerror(-r));

        sm_init(&n->sm);
        n->n_sending = 0;
        n->has_snapshot = snap != NULL;
        n->snapshot_taken_at = 0;
        if (snap) {
                r = sm_decode(&n->sm, n->disk.snapshot, n->disk.snapshot_len, &snap->config);
                if (r < 0)
                        return sim_fail(s, "n%" PRIu64 ": durable snapshot does not decode", n->id);
                n->snapshot_meta = *snap;
                memcpy(n->snapshot, n->disk.snapshot, SM_IMAGE_SIZE);
                n->snapshot_taken_at = snap->index;
        }
        n->incoming_meta = n->disk.partial_meta;
        n->incoming_len = n->disk.has_partial ? n->disk.partial_len : 0;
        memcpy(n->incoming, n->disk.partial, n->incoming_len);
        n->up = true;
        n->incarnation++;
        n->tick_local = 0;
        n->role = raft_role(n->raft);
        n->term = raft_term_current(n->raft);
        n->leader = raft_leader(n->raft);
        trace(s, n->id, "starts: term %" PRIu64 ", vote n%" PRIu64 ", snapshot %" PRIu64 ", log up to %" PRIu64,
              n->disk.hard_state.term, n->disk.hard_state.vote, snap ? snap->index : 0, disk_last_index(&n->disk));
        r = checker_restarted(s->checker, n->id, n->sm.applied, n->sm.digest);
        if (r < 0)
                return checker_result(s, r);
        /* The first step tells when the core wants its first tick. */
        return step_internal(s, n, &ev, "TICK");
}

static int node_create(struct sim *s, raft_id id, const struct raft_config *bootstrap) {
        struct sim_node *n = &s->nodes[id];

        *n = (struct sim_node) {
                .id = id,
                .exists = true,
                .clock_rate = (uint32_t) prng_range(&s->prng, 900, 1100),
                .base_local = prng_range(&s->prng, 0, 1000000),
                .base_global = s->now,
        };
        disk_init(&n->disk);
        if (bootstrap) {
                uint8_t buf[4 + RAFT_CONFIG_MAX * 9];
                struct raft_entry e = {
                        .term = 1,
                        .index = 1,
                        .type = RAFT_ENTRY_CONFIG,
                        .data = { buf, raft_config_encoded_size(bootstrap) },
                };
                int r;

                raft_config_encode(bootstrap, buf);
                n->disk.hard_state = (struct raft_hard_state) { .term = 1 };
                r = entries_copy(&e, 1, &n->disk.log);
                if (r < 0)
                        return r;
                n->disk.n_log = n->disk.cap_log = 1;
        }
        if (id > s->n_ids)
                s->n_ids = (unsigned) id;
        return node_start(s, n);
}

static void node_crash(struct sim *s, struct sim_node *n) {
        n->raft = raft_free(n->raft);
        disk_crash(&n->disk);
        n->up = false;
        n->incarnation++;
        n->incoming_len = 0;
        s->stats.crashes++;
        trace(s, n->id, "crashes (disk keeps log up to %" PRIu64 ", term %" PRIu64 ")", disk_last_index(&n->disk),
              n->disk.hard_state.term);
}

static int on_disk(struct sim *s, struct sim_node *n) {
        struct disk_write w;
        struct raft_event ev = { .type = RAFT_EVENT_PERSISTED };
        bool report;
        int r;

        r = disk_complete(&n->disk, &w);
        if (r == -EILSEQ) {
                disk_write_free(&w);
                return sim_fail(s, "n%" PRIu64 ": core asked to persist entries or a chunk that leave a gap "
                                "after durable index %" PRIu64, n->id, disk_last_index(&n->disk));
        }
        if (r < 0) {
                disk_write_free(&w);
                return r;
        }
        report = w.n_entries > 0 || (w.has_chunk && w.chunk.done);
        for (unsigned i = 0; i < w.n_held && r >= 0; i++)
                r = send_message(s, w.held[i]);
        disk_write_free(&w);
        if (r < 0 || !report)
                return r;
        ev.persisted.index = disk_last_index(&n->disk);
        ev.persisted.term = disk_last_term(&n->disk);
        return step_internal(s, n, &ev, "PERSISTED");
}

static int client_propose(struct sim *s, struct sim_node *n, uint64_t value) {
        uint8_t cmd[SM_COMMAND_SIZE];
        struct raft_event ev = { .type = RAFT_EVENT_PROPOSE };
        int r;

        sm_command(cmd, (uint32_t) prng_range(&s->prng, 0, SM_KEYS - 1), value);
        ev.propose.type = RAFT_ENTRY_NORMAL;
        ev.propose.data = (struct raft_buf) { cmd, sizeof(cmd) };
        r = step_request(s, n, &ev, "PROPOSE");
        if (r <= 0)
                return r;
        s->stats.proposals++;
        trace(s, n->id, "accepts proposal %" PRIu64 " at %" PRIu64 "/%" PRIu64, value, s->proposed_index, s->proposed_term);
        return 1;
}

static int on_client(struct sim *s) {
        struct sim_node *n = find_leader(s);

        /* Flow control, as a real engine has: do not pile up more
         * uncommitted entries than the cluster can catch up on. */
        if (n && raft_last_index(n->raft) > raft_commit_index(n->raft) + SIM_MAX_UNCOMMITTED)
                return 0;

        /* Now and then ask a follower, which must refuse. */
        if (!n || prng_chance(&s->prng, 100)) {
                raft_id id = prng_range(&s->prng, 1, s->n_ids);

                n = &s->nodes[id];
                if (!n->up)
                        return 0;
        }
        return client_propose(s, n, ++s->next_value);
}

static raft_index commit_seen(const struct sim *s) {
        raft_index max = 0;

        for (raft_id id = 1; id <= s->n_ids; id++)
                if (s->nodes[id].up)
                        max = MAX(max, raft_commit_index(s->nodes[id].raft));
        return max;
}

static int on_read(struct sim *s) {
        struct sim_node *n = find_leader(s);
        struct raft_event ev = { .type = RAFT_EVENT_READ };
        int r;

        if (!n)
                return 0;
        ev.read.id = ++s->next_read;
        r = checker_read_issued(s->checker, ev.read.id, commit_seen(s));
        if (r < 0)
                return checker_result(s, r);
        r = step_request(s, n, &ev, "READ");
        if (r > 0)
                trace(s, n->id, "takes read %" PRIu64, ev.read.id);
        return r;
}

static int membership_change(struct sim *s, struct sim_node *leader) {
        const struct raft_config *c = raft_config_current(leader->raft);
        struct raft_event ev = { .type = RAFT_EVENT_CHANGE };
        raft_id learner = 0, candidate = 0;
        unsigned voters = raft_config_voters(c), choice;
        static const char *const op_name[] = { "", "add learner", "promote", "remove" };
        int r;

        for (unsigned i = 0; i < c->n; i++)
                if (c->servers[i].role == RAFT_LEARNER)
                        learner = c->servers[i].id;
        for (raft_id id = 1; id <= s->n_ids; id++)
                if (!s->nodes[id].removed && !raft_config_get(c, id))
                        candidate = id;

        choice = (unsigned) prng_range(&s->prng, 0, 2);
        if (choice == 0 && learner && voters < SIM_MAX_VOTERS) {
                ev.change.op = RAFT_CHANGE_PROMOTE;
                ev.change.id = learner;
        } else if (choice <= 1 && !learner && (candidate || s->n_ids < s->max_ids)) {
                if (!candidate) {
                        candidate = s->n_ids + 1;
                        trace(s, 0, "creates node n%" PRIu64 " (empty, waits to be added)", candidate);
                        r = node_create(s, candidate, NULL);
                        if (r < 0)
                                return r;
                }
                ev.change.op = RAFT_CHANGE_ADD_LEARNER;
                ev.change.id = candidate;
        } else if (choice == 2 && learner && prng_chance(&s->prng, 300)) {
                /* A learner that never made it to voter. */
                ev.change.op = RAFT_CHANGE_REMOVE;
                ev.change.id = learner;
        } else if (voters > SIM_MIN_VOTERS) {
                unsigned k = (unsigned) prng_range(&s->prng, 1, voters);

                for (unsigned i = 0; i < c->n; i++)
                        if (c->servers[i].role == RAFT_VOTER && --k == 0)
                                ev.change.id = c->servers[i].id;
                ev.change.op = RAFT_CHANGE_REMOVE;
        } else
                return 0;

        trace(s, leader->id, "asked to %s n%" PRIu64, op_name[ev.change.op], ev.change.id);
        r = step_request(s, leader, &ev, "CHANGE");
        if (r <= 0)
                return r;
        if (ev.change.op == RAFT_CHANGE_REMOVE)
                s->nodes[ev.change.id].removed = true;
        s->stats.config_changes++;
        trace(s, leader->id, "proposes to %s n%" PRIu64, op_name[ev.change.op], ev.change.id);
        return 0;
}

static int transfer(struct sim *s, struct sim_node *leader) {
        const struct raft_config *c = raft_config_current(leader->raft);
        struct raft_event ev = { .type = RAFT_EVENT_TRANSFER };
        int r;

        if (prng_chance(&s->prng, 700)) {
                const struct raft_server *sv = &c->servers[prng_range(&s->prng, 0, c->n - 1)];

                if (sv->role == RAFT_VOTER && sv->id != leader->id)
                        ev.transfer.target = sv->id;
        }
        /* Nobody to hand leadership to (the core would say -ENOENT). */
        if (raft_config_voters(c) - (raft_config_get(c, leader->id) &&
                                     raft_config_get(c, leader->id)->role == RAFT_VOTER) == 0)
                return 0;
        trace(s, leader->id, "asked to transfer leadership to n%" PRIu64 "%s", ev.transfer.target,
              ev.transfer.target ? "" : " (most up to date)");
        r = step_request(s, leader, &ev, "TRANSFER");
        if (r > 0)
                s->stats.transfers++;
        return r;
}

static int crash(struct sim *s, struct sim_node *n) {
        if (!n || !n->up)
                return 0;
        node_crash(s, n);
        return eventq_push(&s->agenda, (struct sim_event) {
                .at = s->now + prng_range(&s->prng, 20, 1500),
                .kind = SIM_EV_RESTART,
                .node = n->id,
                .generation = n->incarnation,
        });
}

static int on_fault(struct sim *s) {
        struct sim_node *leader = find_leader(s);
        raft_id a = prng_range(&s->prng, 1, s->n_ids), b = prng_range(&s->prng, 1, s->n_ids);
        uint32_t group;

        switch (prng_range(&s->prng, 0, 11)) {
        case 0:
                group = (uint32_t) prng_range(&s->prng, 1, (UINT64_C(1) << (s->n_ids + 1)) - 1) & ~UINT32_C(1);
                net_split(&s->net, group);
                trace(s, 0, "partition: nodes {mask %#x} cut from the rest", group);
                return 0;
        case 1:
                if (a == b)
                        return 0;
                net_block(&s->net, a, b);
                trace(s, 0, "partition: n%" PRIu64 " -> n%" PRIu64 " cut (one way)", a, b);
                return 0;
        case 2:
                if (!leader)
                        return 0;
                net_isolate(&s->net, leader->id);
                trace(s, 0, "partition: leader n%" PRIu64 " isolated", leader->id);
                return 0;
        case 3:
        case 4:
                net_heal(&s->net);
                trace(s, 0, "network healed");
                return 0;
        case 5:
                s->net.loss_permille = (unsigned) prng_range(&s->prng, 0, 250);
                s->net.dup_permille = (unsigned) prng_range(&s->prng, 0, 150);
                s->net.delay_max_ms = (uint32_t) prng_range(&s->prng, s->net.delay_min_ms, 60);
                trace(s, 0, "network: loss %u‰, duplication %u‰, delay %" PRIu32 "..%" PRIu32 "ms",
                      s->net.loss_permille, s->net.dup_permille, s->net.delay_min_ms, s->net.delay_max_ms);
                return 0;
        case 6:
                return crash(s, node_get(s, a));
        case 7:
                return crash(s, leader);
        case 8: {
                struct sim_node *n = node_get(s, a);
                uint32_t rate = (uint32_t) prng_range(&s->prng, 900, 1100);

                if (n) {
                        set_clock_rate(s, n, rate);
                        trace(s, a, "clock runs at %" PRIu32 "‰", rate);
                }
                return 0;
        }
        case 9:
        case 10:
                return leader ? membership_change(s, leader) : 0;
        default:
                return leader ? transfer(s, leader) : 0;
        }
}

static int schedule(struct sim *s, uint8_t kind, uint64_t lo, uint64_t hi) {
        return eventq_push(&s->agenda, (struct sim_event) {
                .at = s->now + prng_range(&s->prng, lo, hi),
                .kind = kind,
        });
}

static int heal(struct sim *s) {
        int r;

        s->healed = true;
        s->heal_at = s->now;
        s->liveness_deadline = s->now + SIM_LIVENESS_TIMEOUTS * (uint64_t) s->core.election_ms;
        s->liveness_value_min = s->next_value + 1;
        net_heal(&s->net);
        s->net.delay_max_ms = s->net_delay_max_ms;
        trace(s, 0, "faults end: network healed, crashed nodes restart; a leader must commit a fresh "
              "proposal on every voter by %" PRIu64 "ms", s->liveness_deadline);
        for (raft_id id = 1; id <= s->n_ids; id++) {
                struct sim_node *n = &s->nodes[id];

                if (!n->up) {
                        r = node_start(s, n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* After healing: done once a fresh command is applied on every voter of
 * the leader's configuration. */
static int liveness(struct sim *s, bool *done) {
        struct sim_node *leader = find_leader(s);
        const struct raft_config *c;
        int r;

        if (s->now > s->liveness_deadline) {
                char lagging[128] = "";
                size_t len = 0;

                if (!leader)
                        return sim_fail(s, "Liveness: no leader %u election timeouts after the faults healed",
                                        SIM_LIVENESS_TIMEOUTS);
                c = raft_config_current(leader->raft);
                for (unsigned i = 0; i < c->n && len < sizeof(lagging) - 32; i++) {
                        const struct sim_node *v = node_get(s, c->servers[i].id);

                        if (c->servers[i].role == RAFT_VOTER && v && v->sm.applied < s->liveness_index)
                                len += (size_t) snprintf(lagging + len, sizeof(lagging) - len,
                                                         " n%" PRIu64 " applied %" PRIu64, v->id, v->sm.applied);
                }
                return sim_fail(s, "Liveness: leader n%" PRIu64 " of term %" PRIu64 " did not commit a fresh "
                                "proposal on every voter within %u election timeouts (applied at %" PRIu64
                                ", 0: nowhere; behind:%s)",
                                leader->id, raft_term_current(leader->raft), SIM_LIVENESS_TIMEOUTS,
                                s->liveness_index, lagging);
        }
        if (!leader)
                return 0;
        if (s->liveness_index == 0) {
                if (s->now >= s->liveness_next_propose) {
                        r = client_propose(s, leader, ++s->next_value);
                        if (r < 0)
                                return r;
                        s->liveness_next_propose = s->now + (r > 0 ? 2 * s->core.election_ms : s->core.heartbeat_ms);
                }
                return 0;
        }
        c = raft_config_current(leader->raft);
        for (unsigned i = 0; i < c->n; i++) {
                struct sim_node *n = node_get(s, c->servers[i].id);

                if (c->servers[i].role == RAFT_VOTER && (!n || n->sm.applied < s->liveness_index))
                        return 0;
        }
        trace(s, 0, "liveness: the fresh command at %" PRIu64 " is applied on every voter", s->liveness_index);
        *done = true;
        return 0;
}

static int dispatch(struct sim *s, const struct sim_event *ev) {
        struct sim_node *n = ev->node ? node_get(s, ev->node) : NULL;
        struct raft_event re = {};
        int r;

        switch (ev->kind) {
        case SIM_EV_DELIVER:
                if (!n || !n->up)
                        return 0;
                re.type = RAFT_EVENT_RECEIVE;
                re.message = ev->message;
                return step_internal(s, n, &re, raft_message_type_name(ev->message->type));
        case SIM_EV_DISK:
                if (!n || !n->up || n->incarnation != ev->generation)
                        return 0;
                return on_disk(s, n);
        case SIM_EV_TICK:
                if (!n || !n->up || n->tick_generation != ev->generation)
                        return 0;
                n->tick_local = 0;
                re.type = RAFT_EVENT_TICK;
                return step_internal(s, n, &re, "TICK");
        case SIM_EV_RESTART:
                if (!n || n->up || n->incarnation != ev->generation)
                        return 0;
                return node_start(s, n);
        case SIM_EV_CLIENT:
                if (s->healed)
                        return 0;
                r = on_client(s);
                return r < 0 ? r : schedule(s, SIM_EV_CLIENT, 2, 40);
        case SIM_EV_READ:
                if (s->healed)
                        return 0;
                r = on_read(s);
                return r < 0 ? r : schedule(s, SIM_EV_READ, 5, 80);
        case SIM_EV_FAULT:
                if (s->healed)
                        return 0;
                r = on_fault(s);
                return r < 0 ? r : schedule(s, SIM_EV_FAULT, 20, 400);
        }
        return 0;
}

static void setup(struct sim *s, const struct sim_options *o) {
        s->opt = *o;
        prng_seed(&s->prng, o->seed);
        if (s->opt.nodes == 0) {
                /* Mostly the usual 3 and 5; 1 and 2 voters have no slack
                 * at all (a lone voter elects itself without messages). */
                uint64_t pick = prng_range(&s->prng, 0, 9);

                s->opt.nodes = pick < 1 ? 1 : pick < 2 ? 2 : pick < 6 ? 3 : 5;
        }
        s->max_ids = MIN(s->opt.nodes + SIM_EXTRA_NODES, SIM_MAX_NODES - 1);

        raft_options_default(&s->core, 0);
        s->core.heartbeat_ms = (uint32_t) prng_range(&s->prng, 10, 30);
        s->core.election_ms = s->core.heartbeat_ms * (uint32_t) prng_range(&s->prng, 5, 10);
        s->core.snapshot_chunk = SIM_SNAPSHOT_CHUNK;
        /* Small batches and windows exercise the limits; not so small that
         * a voter's catch-up after the heal outlasts the liveness bound. */
        s->core.max_inflight = (uint32_t) prng_range(&s->prng, 1, 8);
        s->core.max_msg_entries = (uint32_t) prng_range(&s->prng, 4, 16);
        s->core.max_msg_bytes = (uint32_t) prng_range(&s->prng, 64, 1024);
        s->snapshot_every = (unsigned) prng_range(&s->prng, 10, 30);
        s->snapshot_trailing = prng_range(&s->prng, 0, 8);
        /* Raft's timing requirement, broadcast time << election timeout,
         * holds on a healthy cluster; faults break it for a while. */
        s->disk_min_ms = 1;
        s->disk_max_ms = (uint32_t) prng_range(&s->prng, 2, MIN(30, s->core.election_ms / 5));
        s->net_delay_max_ms = (uint32_t) prng_range(&s->prng, 2, MIN(15, s->core.election_ms / 10));
        net_init(&s->net, 1, s->net_delay_max_ms);
}

int sim_run(const struct sim_options *o, struct sim_stats *stats, char *failure, size_t failure_size) {
        struct sim *s;
        struct raft_config bootstrap = {};
        struct sim_event ev;
        bool done = false;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->failure = failure;
        s->failure_size = failure_size;
        setup(s, o);
        r = checker_new(&s->checker);
        if (r < 0)
                goto finish;

        trace(s, 0, "seed %" PRIu64 ": %u voters, election %" PRIu32 "ms, heartbeat %" PRIu32 "ms, inflight %" PRIu32
              ", %" PRIu32 " entries/%" PRIu32 " bytes per append, snapshot every %u (trailing %" PRIu64 ")",
              o->seed, s->opt.nodes, s->core.election_ms, s->core.heartbeat_ms, s->core.max_inflight,
              s->core.max_msg_entries, s->core.max_msg_bytes, s->snapshot_every, s->snapshot_trailing);

        bootstrap.n = s->opt.nodes;
        for (unsigned i = 0; i < s->opt.nodes; i++)
                bootstrap.servers[i] = (struct raft_server) { .id = i + 1, .role = RAFT_VOTER };
        for (raft_id id = 1; id <= s->opt.nodes && r >= 0; id++)
                r = node_create(s, id, &bootstrap);
        if (r >= 0)
                r = schedule(s, SIM_EV_CLIENT, 50, 100);
        if (r >= 0)
                r = schedule(s, SIM_EV_READ, 50, 100);
        if (r >= 0)
                r = schedule(s, SIM_EV_FAULT, 100, 500);

        while (r >= 0 && !done) {
                if (!s->healed && s->stats.steps >= s->opt.steps) {
                        r = heal(s);
                        if (r < 0)
                                break;
                }
                if (s->healed) {
                        r = liveness(s, &done);
                        if (r < 0 || done)
                                break;
                }
                if (!eventq_pop(&s->agenda, &ev)) {
                        r = sim_fail(s, "agenda ran dry: no node asked for a tick");
                        break;
                }
                s->now = MAX(s->now, ev.at);
                r = dispatch(s, &ev);
                message_free(ev.message);
        }

finish:
        if (r < 0 && r != -EPROTO && !s->failed)
                sim_fail(s, "simulator error: %s", strerror(-r));
        s->stats.sim_ms = s->now;
        if (stats)
                *stats = s->stats;
        for (raft_id id = 1; id < SIM_MAX_NODES; id++) {
                raft_free(s->nodes[id].raft);
                disk_done(&s->nodes[id].disk);
        }
        eventq_done(&s->agenda);
        checker_free(s->checker);
        r = s->failed ? -EPROTO : 0;
        free(s);
        return r;
}
