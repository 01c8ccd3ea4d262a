/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Administration of a node and its cluster: membership with the
 * replicated address book, leadership transfer, graceful stop, and the
 * members' view. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node.h"
#include "shared/macro.h"

struct admin_call {
        uint8_t op;
        raft_id id;
        raftd_write_cb cb;
        void *userdata;
};

static void change_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct admin_call *c = ctx;

        if (c->cb)
                c->cb(c->userdata, error, error < 0 || !res ? 0 : res->revision);
        free(c);
}

/* The address is in the replicated state before the learner is: every
 * node can then reach it as soon as it belongs to the configuration. */
static void address_stored(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct admin_call *c = ctx;
        int k;

        if (error < 0) {
                change_done(n, c, error, NULL);
                return;
        }
        k = node_submit_change(n, c->op, c->id, change_done, c);
        if (k < 0)
                change_done(n, c, k, NULL);
}

int raftd_member_change(struct raftd_node *n, enum raftd_member_op op, uint64_t id, const char *address,
                        raftd_write_cb cb, void *userdata) {
        struct admin_call *c;
        char key[64];
        int k;

        if (id == 0 || op < RAFTD_MEMBER_ADD_LEARNER || op > RAFTD_MEMBER_REMOVE)
                return -EINVAL;
        if (op == RAFTD_MEMBER_ADD_LEARNER) {
                const struct raft_config *conf = raft_config_current(n->raft);
                char host[64];
                uint16_t port;

                if (!address || node_parse_address(address, host, sizeof(host), &port) < 0)
                        return -EINVAL;
                /* A refused add must change nothing: the address below is
                 * written before the leader's core could say "exists", and
                 * a new address for a running member makes every node
                 * redial it (a retried add, or a typo, would cut it off). */
                if (raft_config_get(conf, id))
                        return -EEXIST;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct admin_call) {
                .op = op == RAFTD_MEMBER_ADD_LEARNER ? RAFT_CHANGE_ADD_LEARNER
                      : op == RAFTD_MEMBER_PROMOTE   ? RAFT_CHANGE_PROMOTE
                                                     : RAFT_CHANGE_REMOVE,
                .id = id,
                .cb = cb,
                .userdata = userdata,
        };
        if (op == RAFTD_MEMBER_ADD_LEARNER) {
                struct kv_command put = { .type = KV_CMD_PUT };

                snprintf(key, sizeof(key), RAFTD_MEMBERS_PREFIX "%" PRIu64, id);
                put.key = (struct kv_blob) { (const uint8_t *) key, strlen(key) };
                put.value = (struct kv_blob) { (const uint8_t *) address, strlen(address) };
                k = node_submit_write(n, node_session_default(n), &put, address_stored, c);
        } else
                k = node_submit_change(n, c->op, id, change_done, c);
        if (k < 0)
                free(c);
        return k;
}

static bool parse_member_key(const uint8_t *key, size_t len, raft_id *id) {
        size_t plen = strlen(RAFTD_MEMBERS_PREFIX);
        char buf[32];
        char *end;

        if (len <= plen || len - plen >= sizeof(buf) || memcmp(key, RAFTD_MEMBERS_PREFIX, plen) != 0)
                return false;
        memcpy(buf, key + plen, len - plen);
        buf[len - plen] = 0;
        *id = strtoull(buf, &end, 10);
        return *end == 0 && *id != 0;
}

void node_admin_member_event(struct raftd_node *n, const struct kv_event *e) {
        _cleanup_free_ char *address = NULL;
        raft_id id;

        if (e->type != KV_EVENT_PUT || !parse_member_key(e->key, e->key_len, &id))
                return;
        address = strndup((const char *) e->value, e->value_len);
        if (address)
                (void) node_net_add_peer(n, id, address);
}

/* After a restart, the address book is in the state machine already. */
void node_admin_learn_members(struct raftd_node *n) {
        struct kv_entry *e = NULL;
        size_t count = 0;
        bool more = false;

        if (!n->net || kv_list(n->kv, RAFTD_MEMBERS_PREFIX, strlen(RAFTD_MEMBERS_PREFIX), NULL, 0, RAFT_CONFIG_MAX, &e,
                               &count, &more) < 0)
                return;
        for (size_t i = 0; i < count; i++) {
                raft_id id;
                _cleanup_free_ char *address = NULL;

                if (!parse_member_key(e[i].key, e[i].key_len, &id))
                        continue;
                address = strndup((const char *) e[i].value.data, e[i].value.len);
                if (address)
                        (void) node_net_add_peer(n, id, address);
        }
        kv_entries_free(e, count);
}

static void bootstrap_address_stored(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        if (error < 0 && error != -ECANCELED)
                log_sink_errno(&n->log, LOG_DEBUG, error, _("Failed to record a member's address, ignoring: %m"));
}

/* Members of a bootstrapped cluster have their addresses from [Peers], not
 * from AddMember, so the address book starts without them.  A node that
 * joined later knows only the book, and a new leader must be able to dial
 * every member it leads: a member that missed the joiner's address while
 * cut off cannot dial the joiner either.  So a leader records the [Peers]
 * addresses of members the book lacks.  Create-only (a CAS expecting no
 * key): an address an AddMember stored meanwhile, for an id re-added
 * elsewhere, is never overwritten by an older [Peers] line, whatever this
 * node has applied when it checks. */
void node_admin_leader_elected(struct raftd_node *n) {
        const struct raft_config *conf = raft_config_current(n->raft);

        for (size_t i = 0; i < n->cfg.n_peers; i++) {
                const struct raftd_peer *p = &n->cfg.peers[i];
                struct kv_command cas = {
                        .type = KV_CMD_COMPARE_AND_SWAP,
                        .expected_present = false,
                        .new_present = true,
                };
                struct kv_value v;
                char key[64], host[64];
                uint16_t port;
                int k;

                if (!raft_config_get(conf, p->id) || !p->address ||
                    node_parse_address(p->address, host, sizeof(host), &port) < 0)
                        continue;
                snprintf(key, sizeof(key), RAFTD_MEMBERS_PREFIX "%" PRIu64, p->id);
                k = kv_get(n->kv, key, strlen(key), &v);
                if (k >= 0) {
                        kv_value_done(&v);
                        continue;
                }
                cas.key = (struct kv_blob) { (const uint8_t *) key, strlen(key) };
                cas.value = (struct kv_blob) { (const uint8_t *) p->address, strlen(p->address) };
                k = node_submit_write(n, node_session_default(n), &cas, bootstrap_address_stored, NULL);
                if (k < 0)
                        log_sink_errno(&n->log, LOG_WARNING, k,
                                       _("Failed to record the address of member %" PRIu64 ", ignoring: %m"), p->id);
        }
}

int raftd_members(struct raftd_node *n, struct raftd_member *out, size_t max) {
        const struct raft_config *c = raft_config_current(n->raft);
        struct raft_progress_info progress[RAFT_CONFIG_MAX];
        unsigned np = raft_progress(n->raft, progress, RAFT_CONFIG_MAX);
        size_t k = 0;

        for (unsigned i = 0; i < c->n && k < max; i++, k++) {
                raft_id id = c->servers[i].id;

                out[k] = (struct raftd_member) {
                        .id = id,
                        .voter = c->servers[i].role == RAFT_VOTER,
                        .leader = raft_leader(n->raft) == id,
                        .self = id == n->cfg.id,
                        .reachable = id == n->cfg.id || (n->net && net_transport_peer_connected(n->net, id)),
                };
                for (unsigned j = 0; j < np; j++)
                        if (progress[j].id == id)
                                out[k].match = progress[j].match;
        }
        return (int) k;
}

static void transfer_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        change_done(n, ctx, error, res);
}

int raftd_transfer_leadership(struct raftd_node *n, uint64_t target, raftd_write_cb cb, void *userdata) {
        struct admin_call *c = calloc(1, sizeof(*c));
        int k;

        if (!c)
                return -ENOMEM;
        c->cb = cb;
        c->userdata = userdata;
        k = node_submit_transfer(n, target, transfer_done, c);
        if (k < 0)
                free(c);
        return k;
}

struct stop_call {
        void (*done)(void *userdata);
        void *userdata;
        unsigned pending;
};

static void stop_step_done(struct stop_call *s) {
        if (--s->pending > 0)
                return;
        if (s->done)
                s->done(s->userdata);
        free(s);
}

static void stop_transfer_done(void *userdata, int error, uint64_t revision) {
        stop_step_done(userdata);
}

static void stop_release_done(void *userdata, int error, uint64_t revision) {
        stop_step_done(userdata);
}

int raftd_node_stop(struct raftd_node *n, void (*done)(void *userdata), void *userdata) {
        struct stop_call *s;
        uint64_t handles[256];
        size_t nh;

        if (!n->started)
                return -ENOTCONN;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->done = done;
        s->userdata = userdata;
        s->pending = 1; /* released at the end of this function */

        /* Locks first, so waiters elsewhere get them without a TTL's wait. */
        nh = node_lock_handles(n, handles, ELEMENTSOF(handles));
        for (size_t i = 0; i < nh; i++) {
                s->pending++;
                if (raftd_lock_release(n, handles[i], stop_release_done, s) < 0)
                        s->pending--;
        }
        if (raft_role(n->raft) == RAFT_LEADER && raft_config_voters(raft_config_current(n->raft)) > 1) {
                s->pending++;
                if (raftd_transfer_leadership(n, 0, stop_transfer_done, s) < 0)
                        s->pending--;
        }
        stop_step_done(s);
        return 0;
}

struct index_call {
        raftd_index_cb cb;
        void *userdata;
        int error;
        uint64_t index;
        ev_timer t;
};

static void index_call_fire(struct ev_loop *loop, ev_timer *w, int revents) {
        struct index_call *c = w->data;

        c->cb(c->userdata, c->error, c->index);
        free(c);
}

/* Completions run from the loop, never inside the caller's call. */
static int complete_later(struct raftd_node *n, raftd_index_cb cb, void *userdata, int error, uint64_t index) {
        struct index_call *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        *c = (struct index_call) { .cb = cb, .userdata = userdata, .error = error, .index = index };
        ev_timer_init(&c->t, index_call_fire, 0.0, 0.0);
        c->t.data = c;
        ev_timer_start(n->loop, &c->t);
        return 0;
}

struct snapshot_call {
        raftd_index_cb cb;
        void *userdata;
};

static void snapshot_done(struct raftd_node *n, void *ctx, int error, raft_index index) {
        struct snapshot_call *c = ctx;

        c->cb(c->userdata, error, error < 0 ? 0 : index);
        free(c);
}

int raftd_snapshot(struct raftd_node *n, raftd_index_cb cb, void *userdata) {
        struct snapshot_call *c;
        int k;

        if (!cb)
                return -EINVAL;
        if (!n->started || n->failed)
                return -ENOTCONN;
        if (kv_applied_index(n->kv) <= n->last_snapshot_index && n->snap_pid <= 0)
                return complete_later(n, cb, userdata, 0, n->last_snapshot_index);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct snapshot_call) { .cb = cb, .userdata = userdata };
        k = node_snapshot_start(n, snapshot_done, c);
        if (k < 0)
                free(c);
        return k;
}

int raftd_backup(struct raftd_node *n, int fd, raftd_index_cb cb, void *userdata) {
        uint64_t index;
        int k;

        if (!cb || fd < 0)
                return -EINVAL;
        if (!n->started || n->failed)
                return -ENOTCONN;
        index = kv_applied_index(n->kv);
        k = node_kv_checkpoint(n);
        if (k >= 0)
                k = kv_snapshot_write(n->kv, fd);
        return complete_later(n, cb, userdata, k, k < 0 ? 0 : index);
}
