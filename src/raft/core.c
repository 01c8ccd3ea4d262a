/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lifecycle of the core, the event dispatcher and the update builder. */
#include <stdlib.h>
#include <string.h>

#include "raft/core.h"

void raft_options_default(struct raft_options *o, raft_id id) {
        *o = (struct raft_options) {
                .id = id,
                .heartbeat_ms = 100,
                .election_ms = 1000,
                .max_inflight = 64,
                .max_msg_entries = 256,
                .max_msg_bytes = 1024 * 1024,
                .snapshot_chunk = 1024 * 1024,
                .pre_vote = true,
                .check_quorum = true,
        };
}

int raft_new(const struct raft_options *o, struct raft **ret) {
        struct raft *r;

        if (!o || o->id == 0 || o->heartbeat_ms == 0 || o->election_ms <= o->heartbeat_ms ||
            o->max_inflight == 0 || o->max_inflight > RAFT_INFLIGHT_CAP || o->max_msg_entries == 0 || o->max_msg_bytes == 0 ||
            o->snapshot_chunk == 0)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->o = *o;
        log_init(&r->log);
        r->role = RAFT_FOLLOWER;
        *ret = r;
        return 0;
}

struct raft *raft_free(struct raft *r) {
        if (!r)
                return NULL;
        log_clear(&r->log);
        free(r->reads);
        free(r->rx_buf);
        free(r->msgs);
        free(r->msgs_after_persist);
        free(r->ready);
        free(r->failed);
        free(r);
        return NULL;
}

int raft_load(struct raft *r, const struct raft_hard_state *hs, const struct raft_snapshot_meta *snap,
              const struct raft_entry *entries, unsigned n) {
        raft_index first = 0;
        unsigned start = 0;
        int k;

        if (!r || !hs || (n > 0 && !entries) || r->started || log_last_index(&r->log) > 0)
                return -EINVAL;
        if (n > 0) {
                first = entries[0].index;
                if (snap ? first > snap->index + 1 : first != 1)
                        return -EINVAL;
                for (unsigned i = 0; i < n; i++)
                        if (entries[i].index != first + i || entries[i].term == 0 ||
                            (i > 0 && entries[i].term < entries[i - 1].term) ||
                            entries[i].term > hs->term)
                                return -EINVAL;
        }
        if (snap && snap->term > hs->term)
                return -EINVAL;

        r->hs = *hs;
        if (snap)
                r->snap = *snap;

        /* Trailing entries below the snapshot are kept for slow followers;
         * the first of them becomes the offset since the term of the entry
         * before it is unknown. */
        if (n > 0 && snap && first <= snap->index) {
                raft_index at = snap->index - first;

                if (at < n && entries[at].term != snap->term)
                        return -EINVAL;
                log_reset(&r->log, first, entries[0].term);
                start = 1;
        } else
                log_reset(&r->log, snap ? snap->index : 0, snap ? snap->term : 0);
        for (unsigned i = start; i < n; i++) {
                k = log_append(&r->log, entries[i].term, entries[i].type, entries[i].data.base,
                               entries[i].data.len);
                if (k < 0)
                        return k;
        }
        r->commit = r->snap.index;
        r->applied = r->snap.index;
        r->persisted = log_last_index(&r->log);
        core_config_from_log(r);
        return 0;
}

/* ---- helpers shared by the modules ---- */

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
        size_t c;
        void *n;

        if (need <= *cap)
                return p;
        c = *cap ? *cap * 2 : 16;
        while (c < need)
                c *= 2;
        n = realloc(p, c * size);
        if (!n)
                return NULL;
        *cap = c;
        return n;
}

struct raft_message *core_message(struct raft *r, uint8_t type, raft_id to, bool after_persist) {
        struct raft_message *m, *msgs;
        bool *flags;
        size_t cap = r->cap_msgs;

        msgs = grow(r->msgs, &cap, r->n_msgs + 1, sizeof(*msgs));
        if (!msgs) {
                r->oom = -ENOMEM;
                memset(&r->discard, 0, sizeof(r->discard));
                return &r->discard;
        }
        r->msgs = msgs;
        if (cap != r->cap_msgs) {
                flags = realloc(r->msgs_after_persist, cap * sizeof(*flags));
                if (!flags) {
                        r->oom = -ENOMEM;
                        memset(&r->discard, 0, sizeof(r->discard));
                        return &r->discard;
                }
                r->msgs_after_persist = flags;
                r->cap_msgs = cap;
        }
        m = &r->msgs[r->n_msgs];
        memset(m, 0, sizeof(*m));
        m->type = type;
        m->from = r->o.id;
        m->to = to;
        m->term = r->hs.term;
        r->msgs_after_persist[r->n_msgs] = after_persist;
        r->n_msgs++;
        return m;
}

void core_read_ready(struct raft *r, uint64_t id, raft_index index) {
        struct raft_read_ready *a = grow(r->ready, &r->cap_ready, r->n_ready + 1, sizeof(*a));

        if (!a) {
                r->oom = -ENOMEM;
                return;
        }
        r->ready = a;
        a[r->n_ready++] = (struct raft_read_ready) { .id = id, .index = index };
}

void core_read_failed(struct raft *r, uint64_t id) {
        uint64_t *a = grow(r->failed, &r->cap_failed, r->n_failed + 1, sizeof(*a));

        if (!a) {
                r->oom = -ENOMEM;
                return;
        }
        r->failed = a;
        a[r->n_failed++] = id;
}

void core_set_term(struct raft *r, raft_term term) {
        if (term == r->hs.term)
                return;
        r->hs.term = term;
        r->hs.vote = 0;
        r->hs_dirty = true;
        if (r->u)
                r->u->role_changed = true;
}

void core_reset_election_timer(struct raft *r) {
        /* The caller's random number spreads timeouts over [1x, 2x). */
        r->election_deadline = r->now + r->o.election_ms + (uint64_t) (r->cur_random % r->o.election_ms);
}

bool core_is_voter(const struct raft *r, raft_id id) {
        const struct raft_server *s = raft_config_get(&r->config, id);

        return s && s->role == RAFT_VOTER;
}

unsigned core_quorum(const struct raft *r) {
        return raft_config_voters(&r->config) / 2 + 1;
}

void core_apply_config(struct raft *r, const struct raft_config *c, raft_index index) {
        r->config = *c;
        r->config_index = index;
        if (r->u)
                r->u->config_changed = true;
        if (r->role == RAFT_LEADER)
                progress_sync_config(r);
}

/* The configuration in force is the latest one in the log, or the
 * snapshot's when the log holds none. */
void core_config_from_log(struct raft *r) {
        for (raft_index i = log_last_index(&r->log); i > r->log.offset; i--) {
                const struct raft_entry *e = log_get(&r->log, i);
                struct raft_config c;

                if (e->type != RAFT_ENTRY_CONFIG)
                        continue;
                if (raft_config_decode(e->data.base, e->data.len, &c) < 0)
                        continue; /* a leader never replicates a bad config */
                if (i != r->config_index || memcmp(&c, &r->config, sizeof(c)) != 0)
                        core_apply_config(r, &c, i);
                return;
        }
        if (r->config_index != 0 || memcmp(&r->snap.config, &r->config, sizeof(r->config)) != 0)
                core_apply_config(r, &r->snap.config, 0);
}

/* ---- the step function ---- */

static void begin_update(struct raft *r, struct raft_update *u) {
        memset(u, 0, sizeof(*u));
        r->u = u;
        r->hs_dirty = false;
        r->persist_from = UINT64_MAX;
        r->n_msgs = 0;
        r->n_ready = 0;
        r->n_failed = 0;
        r->oom = 0;
}

static uint64_t next_timeout(const struct raft *r) {
        uint64_t t;

        if (r->role != RAFT_LEADER)
                return r->election_deadline;
        t = MIN_U64(r->heartbeat_deadline, r->quorum_deadline);
        if (r->transferee)
                t = MIN_U64(t, r->transfer_deadline);
        return t;
}

static void finish_update(struct raft *r, struct raft_update *u) {
        raft_index last = log_last_index(&r->log);
        raft_index upto;

        if (r->hs_dirty)
                u->hard_state = &r->hs;
        if (r->persist_from <= last) {
                u->entries = log_get(&r->log, r->persist_from);
                u->n_entries = (unsigned) (last - r->persist_from + 1);
        }

        /* Entry payloads of appends are resolved only now: the log array
         * may have moved while the update was being built. */
        for (size_t i = 0; i < r->n_msgs; i++) {
                struct raft_message *m = &r->msgs[i];

                if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0)
                        m->append.entries = log_get(&r->log, m->append.prev_index + 1);
        }
        u->messages = r->msgs;
        u->after_persist = r->msgs_after_persist;
        u->n_messages = (unsigned) r->n_msgs;

        upto = MIN_U64(r->commit, r->persisted);
        if (upto > r->applied) {
                u->committed = log_get(&r->log, r->applied + 1);
                u->n_committed = (unsigned) (upto - r->applied);
                r->applied = upto;
        }
        u->reads_ready = r->ready;
        u->n_reads_ready = (unsigned) r->n_ready;
        u->reads_failed = r->failed;
        u->n_reads_failed = (unsigned) r->n_failed;
        u->next_timeout = next_timeout(r);
        r->u = NULL;
}

static void handle_persisted(struct raft *r, raft_index index, raft_term term) {
        if (index > log_last_index(&r->log) || index <= r->persisted)
                return;
        /* A report about entries that were truncated since is stale. */
        if (log_term_at(&r->log, index) != term)
                return;
        r->persisted = index;
        if (r->role == RAFT_LEADER)
                replication_maybe_commit(r);
}

/* Common term handling for every received message (Raft §5.1 plus the
 * pre-vote and leader-stickiness rules, §9.6 of the dissertation).
 * Returns false if the message must not be processed further. */
static bool receive_term(struct raft *r, const struct raft_message *m) {
        struct raft_message *reply;

        if (m->term > r->hs.term) {
                bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE;

                if (vote_req && !m->vote.transfer && election_in_lease(r))
                        return false;
                if (m->type == RAFT_MSG_PRE_VOTE)
                        return true;
                if (m->type == RAFT_MSG_PRE_VOTE_RESULT && m->vote_result.granted)
                        return true;
                if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
                    m->type == RAFT_MSG_TIMEOUT_NOW)
                        election_become_follower(r, m->term, m->from);
                else
                        election_become_follower(r, m->term, 0);
                return true;
        }
        if (m->term < r->hs.term) {
                switch (m->type) {
                case RAFT_MSG_APPEND:
                case RAFT_MSG_SNAPSHOT:
                        /* Tell a deposed leader about the newer term. */
                        reply = core_message(r, RAFT_MSG_APPEND_RESULT, m->from, false);
                        reply->append_result.success = false;
                        reply->append_result.index = 0;
                        break;
                case RAFT_MSG_PRE_VOTE:
                        reply = core_message(r, RAFT_MSG_PRE_VOTE_RESULT, m->from, false);
                        reply->vote_result.granted = false;
                        break;
                default:
                        break;
                }
                return false;
        }
        return true;
}

static void handle_receive(struct raft *r, const struct raft_message *m) {
        if (m->to != r->o.id || m->from == 0 || m->type == 0 || m->type >= _RAFT_MSG_TYPE_MAX)
                return;
        /* From ourselves only the own vote, once durable (see election.c). */
        if (m->from == r->o.id && m->type != RAFT_MSG_VOTE_RESULT)
                return;
        if (!receive_term(r, m))
                return;
        switch (m->type) {
        case RAFT_MSG_APPEND:
                replication_handle_append(r, m);
                break;
        case RAFT_MSG_APPEND_RESULT:
                replication_handle_append_result(r, m);
                break;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                election_handle_vote(r, m);
                break;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                election_handle_vote_result(r, m);
                break;
        case RAFT_MSG_SNAPSHOT:
                snapshot_handle_chunk(r, m);
                break;
        case RAFT_MSG_SNAPSHOT_RESULT:
                snapshot_handle_result(r, m);
                break;
        case RAFT_MSG_TIMEOUT_NOW:
                election_handle_timeout_now(r, m);
                break;
        }
}

int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *u) {
        int k = 0;

        if (!r || !ev || !u)
                return -EINVAL;
        begin_update(r, u);
        r->cur_random = ev->random;
        if (ev->now > r->now)
                r->now = ev->now;
        if (!r->started) {
                r->started = true;
                core_reset_election_timer(r);
                r->last_leader_contact = 0;
        }

        switch (ev->type) {
        case RAFT_EVENT_TICK:
                if (r->role == RAFT_LEADER) {
                        replication_leader_tick(r);
                        transfer_tick(r);
                } else
                        election_tick(r);
                break;
        case RAFT_EVENT_RECEIVE:
                if (!ev->message)
                        k = -EINVAL;
                else
                        handle_receive(r, ev->message);
                break;
        case RAFT_EVENT_PERSISTED:
                handle_persisted(r, ev->persisted.index, ev->persisted.term);
                break;
        case RAFT_EVENT_PROPOSE:
                if (ev->propose.type != RAFT_ENTRY_NORMAL)
                        k = -EINVAL;
                else if (ev->propose.n_batch > 0)
                        k = replication_propose(r, RAFT_ENTRY_NORMAL, ev->propose.batch, ev->propose.n_batch);
                else
                        k = replication_propose(r, RAFT_ENTRY_NORMAL, &ev->propose.data, 1);
                break;
        case RAFT_EVENT_READ:
                k = read_request(r, ev->read.id);
                break;
        case RAFT_EVENT_TRANSFER:
                k = transfer_start(r, ev->transfer.target);
                break;
        case RAFT_EVENT_CHANGE:
                k = membership_change(r, ev->change.op, ev->change.id);
                break;
        case RAFT_EVENT_SNAPSHOT_TAKEN:
                k = snapshot_taken(r, ev->snapshot_taken.index, ev->snapshot_taken.trailing);
                break;
        default:
                k = -EINVAL;
        }
        finish_update(r, u);
        if (k >= 0 && r->oom < 0)
                k = r->oom;
        return k;
}

/* ---- introspection ---- */

enum raft_role raft_role(const struct raft *r) {
        return r->role;
}

raft_id raft_id_self(const struct raft *r) {
        return r->o.id;
}

raft_term raft_term_current(const struct raft *r) {
        return r->hs.term;
}

raft_id raft_leader(const struct raft *r) {
        return r->leader;
}

raft_index raft_commit_index(const struct raft *r) {
        return r->commit;
}

raft_index raft_last_index(const struct raft *r) {
        return log_last_index(&r->log);
}

raft_index raft_snapshot_index(const struct raft *r) {
        return r->snap.index;
}

const struct raft_config *raft_config_current(const struct raft *r) {
        return &r->config;
}

const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index) {
        return log_get(&r->log, index);
}

unsigned raft_progress(const struct raft *r, struct raft_progress_info *out, unsigned max) {
        unsigned n = 0;

        if (r->role != RAFT_LEADER)
                return 0;
        for (unsigned i = 0; i < r->n_prs && n < max; i++, n++)
                out[n] = (struct raft_progress_info) {
                        .id = r->prs[i].id,
                        .role = r->prs[i].role,
                        .match = r->prs[i].id == r->o.id ? r->persisted : r->prs[i].match,
                        .next = r->prs[i].id == r->o.id ? log_last_index(&r->log) + 1 : r->prs[i].next,
                        .recent_active = r->prs[i].id == r->o.id || r->prs[i].recent_active,
                };
        return n;
}

const char *raft_role_name(enum raft_role role) {
        switch (role) {
        case RAFT_FOLLOWER:
                return "follower";
        case RAFT_PRE_CANDIDATE:
                return "pre-candidate";
        case RAFT_CANDIDATE:
                return "candidate";
        case RAFT_LEADER:
                return "leader";
        }
        return "unknown";
}

const char *raft_message_type_name(enum raft_message_type t) {
        static const char *const names[_RAFT_MSG_TYPE_MAX] = {
                [RAFT_MSG_APPEND] = "append",
                [RAFT_MSG_APPEND_RESULT] = "append-result",
                [RAFT_MSG_VOTE] = "vote",
                [RAFT_MSG_VOTE_RESULT] = "vote-result",
                [RAFT_MSG_PRE_VOTE] = "pre-vote",
                [RAFT_MSG_PRE_VOTE_RESULT] = "pre-vote-result",
                [RAFT_MSG_SNAPSHOT] = "snapshot",
                [RAFT_MSG_SNAPSHOT_RESULT] = "snapshot-result",
                [RAFT_MSG_TIMEOUT_NOW] = "timeout-now",
        };

        if ((unsigned) t < _RAFT_MSG_TYPE_MAX && names[t])
                return names[t];
        return "unknown";
}
