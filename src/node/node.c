/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libraftd: a node's lifecycle and its watchers on the caller's loop. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "node/node.h"
#include "shared/macro.h"

void raftd_config_init(struct raftd_config *c) {
        *c = (struct raftd_config) {
                .heartbeat_ms = 100,
                .election_ms = 1000,
                .request_timeout_ms = 5000,
                .session_ttl_ms = 10000,
                .snapshot_entries = 10000,
                .max_key_len = 4096,
                .max_value_size = 1024 * 1024,
        };
}

static void log_forward(void *userdata, int priority, const char *message) {
        struct raftd_node *n = userdata;

        if (n->cfg.log)
                n->cfg.log(n->cfg.log_userdata, priority, message);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
        struct raftd_node *n = w->data;
        struct raft_event ev = { .type = RAFT_EVENT_TICK };

        (void) node_step(n, &ev);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
        struct raftd_node *n = w->data;

        node_flush(n);
        if (!n->failed && n->snap_pid <= 0 && n->cfg.snapshot_entries > 0 &&
            kv_applied_index(n->kv) >= n->last_snapshot_index + n->cfg.snapshot_entries)
                (void) node_snapshot_start(n, NULL, NULL);
}

static void on_sync_done(struct ev_loop *loop, ev_async *w, int revents) {
        node_sync_finished(w->data);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents) {
        struct raftd_node *n = w->data;

        node_requests_retry(n);
        node_sessions_keepalive(n);
        node_locks_tick(n);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents) {
        struct raftd_node *n = w->data;

        node_requests_kick(n);
        node_locks_tick(n);
}

static void on_kv_commit(struct ev_loop *loop, ev_timer *w, int revents) {
        struct raftd_node *n = w->data;
        int r;

        if (n->snap_pid > 0)
                return; /* committed once the snapshot child is gone */
        r = node_kv_checkpoint(n);
        if (r < 0 && !n->failed) {
                /* The state machine cannot keep up with the log. */
                n->failed = r;
                ev_break(n->loop, EVBREAK_ONE);
        }
}

int raftd_node_new(struct ev_loop *loop, const struct raftd_config *c, struct raftd_node **ret) {
        _cleanup_(raftd_node_freep) struct raftd_node *n = NULL;
        struct raft_options o;
        int r;

        if (!loop || !c || !ret || c->id == 0 || !c->data_dir || c->heartbeat_ms == 0 ||
            c->election_ms <= c->heartbeat_ms || c->max_key_len == 0)
                return -EINVAL;
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->loop = loop;
        n->dir_lock_fd = -1;
        n->snap_pipe = -1;
        n->cfg = *c;
        n->cfg.peers = NULL; /* copied below */
        n->cfg.n_peers = 0;
        n->cfg.listen = NULL;
        n->cfg.key_file = NULL;
        if ((c->listen && !(n->cfg.listen = strdup(c->listen))) ||
            (c->key_file && !(n->cfg.key_file = strdup(c->key_file))))
                return -ENOMEM;
        n->data_dir = strdup(c->data_dir);
        if (!n->data_dir)
                return -ENOMEM;
        if (c->n_peers > 0) {
                struct raftd_peer *p = calloc(c->n_peers, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                n->cfg.peers = p;
                n->cfg.n_peers = c->n_peers;
                for (size_t i = 0; i < c->n_peers; i++) {
                        p[i].id = c->peers[i].id;
                        if (c->peers[i].address && !(p[i].address = strdup(c->peers[i].address)))
                                return -ENOMEM;
                }
        }
        n->cfg.data_dir = n->data_dir;
        n->log = (struct log_sink) { .write = log_forward, .userdata = n };
        if (getrandom(&n->rng, sizeof(n->rng), 0) != sizeof(n->rng) || n->rng == 0)
                n->rng = 0x9e3779b97f4a7c15ULL ^ c->id;

        raft_options_default(&o, c->id);
        o.heartbeat_ms = c->heartbeat_ms;
        o.election_ms = c->election_ms;
        r = raft_new(&o, &n->raft);
        if (r < 0)
                return r;

        ev_timer_init(&n->tick, on_tick, 0.0, 0.0);
        n->tick.data = n;
        ev_prepare_init(&n->flush, on_prepare);
        n->flush.data = n;
        ev_async_init(&n->sync_done, on_sync_done);
        n->sync_done.data = n;
        ev_timer_init(&n->retry, on_retry, RETRY_INTERVAL_S, RETRY_INTERVAL_S);
        n->retry.data = n;
        ev_timer_init(&n->kick, on_kick, 0.0, 0.0);
        n->kick.data = n;
        ev_timer_init(&n->kv_commit, on_kv_commit, NODE_KV_COMMIT_S, 0.0);
        n->kv_commit.data = n;
        *ret = TAKE_PTR(n);
        return 0;
}

void node_set_transport(struct raftd_node *n, const struct node_transport *t) {
        n->transport = *t;
}

int raftd_node_start(struct raftd_node *n) {
        struct raft_event ev = { .type = RAFT_EVENT_TICK };
        int r;

        if (n->started)
                return -EALREADY;
        /* Before the log opens; stopped by raftd_node_free() after the
         * log's sync thread was joined. */
        ev_async_start(n->loop, &n->sync_done);
        r = node_storage_open(n);
        if (r < 0)
                return r;
        r = node_net_open(n);
        if (r < 0)
                return r;
        node_admin_learn_members(n);
        n->started = true;
        ev_prepare_start(n->loop, &n->flush);
        ev_timer_start(n->loop, &n->retry);
        /* The default session, for this node's writes. */
        if (!node_session_new(n, NULL))
                return -ENOMEM;
        /* The first event starts the core's clock and election timer. */
        (void) node_step(n, &ev);
        return 0;
}

struct raftd_node *raftd_node_free(struct raftd_node *n) {
        bool was_started;

        if (!n)
                return NULL;
        /* Cancelled callbacks may call in again: they are refused. */
        was_started = n->started;
        n->started = false;
        if (was_started) {
                node_snapshot_wait(n);
                node_locks_free_all(n);
                node_watches_free_all(n);
                node_requests_cancel_all(n);
                while (n->sessions)
                        node_session_free(n, n->sessions);
                ev_timer_stop(n->loop, &n->tick);
                ev_timer_stop(n->loop, &n->retry);
                ev_timer_stop(n->loop, &n->kick);
                ev_prepare_stop(n->loop, &n->flush);
                ev_timer_stop(n->loop, &n->kv_commit);
        }
        node_proposals_free(n);
        free(n->request_index);
        for (size_t i = 0; i < n->n_held; i++)
                node_held_free(&n->held[i]);
        free(n->held);
        for (size_t i = 0; i < n->n_held_sync; i++)
                node_held_free(&n->held_sync[i]);
        free(n->held_sync);
        node_net_close(n);
        node_storage_close(n); /* joins the log's sync thread */
        ev_async_stop(n->loop, &n->sync_done);
        raft_free(n->raft);
        for (size_t i = 0; i < n->cfg.n_peers; i++)
                free((void *) n->cfg.peers[i].address);
        free((void *) n->cfg.peers);
        free((void *) n->cfg.listen);
        free((void *) n->cfg.key_file);
        free(n->data_dir);
        free(n);
        return NULL;
}

void raftd_status(const struct raftd_node *n, struct raftd_status *s) {
        enum raft_role role = raft_role(n->raft);

        *s = (struct raftd_status) {
                .id = n->cfg.id,
                .role = role == RAFT_LEADER        ? RAFTD_LEADER
                        : role == RAFT_FOLLOWER ? RAFTD_FOLLOWER
                                                : RAFTD_CANDIDATE,
                .term = raft_term_current(n->raft),
                .leader = raft_leader(n->raft),
                .commit_index = raft_commit_index(n->raft),
                .applied_index = n->kv ? kv_applied_index(n->kv) : 0,
                .last_index = raft_last_index(n->raft),
        };
}

void raftd_on_status(struct raftd_node *n, void (*cb)(void *userdata, const struct raftd_status *s),
                     void *userdata) {
        n->status_cb = cb;
        n->status_userdata = userdata;
}


bool raftd_node_ready(const struct raftd_node *n) {
        return n->started && n->failed == 0 && raft_leader(n->raft) != 0 && raftd_node_session(n) != 0;
}

int raftd_node_failed(const struct raftd_node *n) {
        return n->failed < 0 ? n->failed : n->failed > 0 ? -n->failed : 0;
}

int raftd_node_set_limits(struct raftd_node *n, size_t max_key_len, size_t max_value_size) {
        if (max_key_len == 0 || max_value_size == 0)
                return -EINVAL;
        n->cfg.max_key_len = max_key_len;
        n->cfg.max_value_size = max_value_size;
        return 0;
}

struct write_cb_later {
        ev_timer t;
        raftd_write_cb cb;
        void *userdata;
        int error;
        uint64_t revision;
};

static void write_cb_fire(struct ev_loop *loop, ev_timer *w, int revents) {
        struct write_cb_later *c = w->data;

        c->cb(c->userdata, c->error, c->revision);
        free(c);
}

void node_write_cb_later(struct raftd_node *n, raftd_write_cb cb, void *userdata, int error, uint64_t revision) {
        struct write_cb_later *c = calloc(1, sizeof(*c));

        if (!c) {
                cb(userdata, error, revision); /* better early than never */
                return;
        }
        *c = (struct write_cb_later) { .cb = cb, .userdata = userdata, .error = error, .revision = revision };
        ev_timer_init(&c->t, write_cb_fire, 0.0, 0.0);
        c->t.data = c;
        ev_timer_start(n->loop, &c->t);
}
