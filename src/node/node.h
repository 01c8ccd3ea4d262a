/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The node engine behind libraftd: one libev loop drives the Raft core,
 * the durable storage and the state machine.  Internal to src/node/. */

#include <ev.h>

#include "kv/command.h"
#include "kv/kv.h"
#include "raft/raft.h"
#include "raftd.h"
#include "shared/log.h"
#include "storage/log.h"
#include "storage/meta.h"
#include "storage/snapshot.h"

/* How a node reaches its peers.  The TCP transport (src/net/) and the
 * in-process transport of the tests implement it.  Sends never block: a
 * message that cannot be queued is dropped (Raft retransmits). */
struct node_transport {
        /* Encode and queue m at once (its pointers die after the call). */
        int (*send)(void *t, const struct raft_message *m);
        /* Forward a client request to peer `to`, or answer one. */
        int (*forward)(void *t, raft_id to, uint64_t request_id, bool response, const void *payload, size_t len);
        /* Write out everything queued (once per loop iteration). */
        void (*flush)(void *t);
        void *userdata;
};

/* Frames a node forwards to the leader, and the leader's answers. */
enum node_forward_type {
        NODE_FORWARD_PROPOSE = 1, /* payload: encoded kv command */
        NODE_FORWARD_READ_INDEX,  /* payload: none */
};

struct node_request;
struct net_transport;

struct raftd_node {
        struct ev_loop *loop;
        struct raftd_config cfg;
        char *data_dir;
        struct log_sink log;

        struct raft *raft;
        struct storage_log *slog;
        struct storage_meta *meta;
        struct storage_snapshots *snaps;
        struct storage_snapshot *snap; /* newest, open for sending chunks */
        struct kv *kv;
        struct node_transport transport;
        struct net_transport *net; /* NULL: no network, or a test transport */

        ev_timer tick;
        ev_prepare flush;
        ev_timer retry;
        bool started;
        int failed;   /* storage failed: the node stopped serving */
        uint64_t rng; /* xorshift state for election timeouts */
        ev_timer kick; /* completes requests that became ready */

        /* Persistence owed before held messages may leave. */
        struct raft_hard_state hs;
        bool hs_dirty;
        bool log_dirty;
        raft_index appended_index;
        raft_term appended_term;
        struct raft_message *held; /* deep copies */
        size_t n_held, cap_held;

        /* Client requests. */
        uint64_t session;   /* this node's client session; 0 until registered */
        uint64_t next_seq;
        uint64_t next_request_id;
        struct node_request *requests; /* doubly linked, oldest first */
        struct node_request *requests_tail;
        raft_index last_snapshot_index;
        uint64_t next_keepalive; /* ms */

        void (*status_cb)(void *userdata, const struct raftd_status *s);
        void *status_userdata;
};

#define RETRY_INTERVAL_S 0.02

static inline void raftd_node_freep(struct raftd_node **n) {
        raftd_node_free(*n);
}

/* node.c */
void node_set_transport(struct raftd_node *n, const struct node_transport *t);
uint64_t raftd_node_session(const struct raftd_node *n);

/* node-net.c */
int node_parse_address(const char *s, char *host, size_t host_size, uint16_t *port);
int node_net_open(struct raftd_node *n);
void node_net_close(struct raftd_node *n);

/* node-storage.c */
int node_storage_open(struct raftd_node *n);
void node_storage_close(struct raftd_node *n);
int node_snapshot_take(struct raftd_node *n);
int node_snapshot_fill_chunk(struct raftd_node *n, struct raft_message *m, void **buf);
int node_snapshot_receive(struct raftd_node *n, const struct raft_snapshot_chunk *c);

/* node-update.c */
int node_step(struct raftd_node *n, struct raft_event *ev);
int node_step_proposed(struct raftd_node *n, struct raft_event *ev, raft_index *ret_index, raft_term *ret_term);
void node_flush(struct raftd_node *n);
void node_held_free(struct raft_message *m);
uint64_t node_now_ms(const struct raftd_node *n);

/* node-request.c */
void node_requests_applied(struct raftd_node *n, raft_index index, raft_term term, const struct kv_command *c,
                           const struct kv_result *res);
void node_requests_read_ready(struct raftd_node *n, uint64_t id, raft_index index);
void node_requests_read_failed(struct raftd_node *n, uint64_t id);
void node_requests_applied_to(struct raftd_node *n, raft_index applied);
void node_requests_role_changed(struct raftd_node *n);
void node_requests_cancel_all(struct raftd_node *n);
void node_requests_retry(struct raftd_node *n);
void node_requests_kick(struct raftd_node *n);
int node_session_open(struct raftd_node *n);
void node_session_keepalive(struct raftd_node *n);
/* Transport callbacks. */
void node_receive_message(struct raftd_node *n, const struct raft_message *m);
void node_receive_forward(struct raftd_node *n, raft_id from, uint64_t request_id, bool response,
                          const void *payload, size_t len);
