/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The node engine behind libraftd: one libev loop drives the Raft core,
 * the durable storage and the state machine.  Internal to src/node/. */

#include <ev.h>
#include <sys/types.h>

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
        NODE_FORWARD_CHANGE,      /* payload: u8 op, u64 id */
        NODE_FORWARD_TRANSFER,    /* payload: u64 target */
};

struct node_request;
struct node_proposal;
struct snapshot_waiter;
struct node_session;
struct node_lock;
struct node_watch;
struct net_transport;

/* A client session in the replicated state (Raft dissertation §6.3): the
 * unit of exactly-once and the holder of locks.  Every node has a default
 * session for its writes, and one more per lock request, so that two local
 * clients never pass as one lock holder. */
struct node_session {
        struct node_session *next;
        uint64_t id;        /* 0 until registered */
        uint64_t next_seq;
        uint64_t last_used; /* ms: a request keeps it alive */
        /* Its writes with a sequence number, in seq order (the first is the
         * lowest unacknowledged), and those waiting for room in the window. */
        struct node_request *bound, *bound_tail;
        unsigned n_bound;
        struct node_request *blocked, *blocked_tail;
        bool closing;
        struct node_lock *lock; /* NULL: the default session */
};

struct raftd_node {
        struct ev_loop *loop;
        struct raftd_config cfg;
        char *data_dir;
        int dir_lock_fd; /* flock()ed: one node per data directory */
        struct log_sink log;

        struct raft *raft;
        struct storage_log *slog;
        struct storage_meta *meta;
        struct storage_snapshots *snaps;
        struct storage_snapshot *snap; /* newest, open for sending chunks */
        /* Older snapshots a leader is still sending (see
         * raft_snapshot_in_transfer()): open, though their files may be gone. */
        struct storage_snapshot **snap_sending;
        size_t n_snap_sending;
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
        /* The state machine's transaction stays open across loop
         * iterations and is committed every NODE_KV_COMMIT_ENTRIES applied
         * entries or NODE_KV_COMMIT_S seconds, whichever comes first. */
        bool kv_batch_open;
        unsigned kv_batch_entries;
        ev_timer kv_commit;

        /* Persistence owed before held messages may leave. */
        struct raft_hard_state hs;
        bool hs_dirty;
        bool log_dirty;
        raft_index appended_index;
        raft_term appended_term;
        struct raft_message *held; /* deep copies */
        size_t n_held, cap_held;
        /* The log's fdatasync in flight on its sync thread, and the held
         * messages that wait for exactly that sync (the log's appends and
         * the hard state they followed are in it or saved before it). */
        ev_async sync_done;
        struct raft_message *held_sync;
        size_t n_held_sync, cap_held_sync;
        struct raft_message self[4]; /* to ourselves: the own vote */
        size_t n_self;

        /* Client requests. */
        struct node_session *sessions; /* the default one first */
        uint64_t next_request_id;
        struct node_request *requests; /* doubly linked, oldest first */
        struct node_request *requests_tail;
        struct node_request **request_index; /* by id: chained hash buckets */
        size_t request_index_size, n_requests;
        struct node_request *due, *due_tail; /* to (re)submit from the kick */
        uint64_t kick_round;
        unsigned n_reads_ready;
        unsigned n_registering;
        struct node_proposal *proposals; /* this iteration's, proposed in the flush */
        size_t n_proposals, cap_proposals;
        raft_index last_snapshot_index;
        /* Background snapshot: a child process writes it from the state
         * machine while applies wait (the log keeps the entries). */
        pid_t snap_pid;
        bool snap_ok;  /* the child said its snapshot is on disk */
        bool snap_eof; /* the child closed its end of the pipe */
        int snap_pipe; /* read end; EOF once the child is gone */
        ev_io snap_watch;
        struct raft_snapshot_meta snap_meta;
        raft_index deferred_to; /* committed entries handed out, not applied yet */
        struct snapshot_waiter *snap_waiters;
        struct node_lock *locks;
        struct node_watch *watches;
        bool dispatching_watches;
        uint64_t next_handle;

        void (*status_cb)(void *userdata, const struct raftd_status *s);
        void *status_userdata;
};

#define RETRY_INTERVAL_S 0.02
/* A state machine commit has a fixed cost of ~0.1 ms (TDB copies its hash
 * table and writes a recovery area): amortised over this many entries. A
 * killed node re-applies at most this much of its log on restart. */
#define NODE_KV_COMMIT_ENTRIES 8192
#define NODE_KV_COMMIT_S 0.1
/* Writes of one session in flight at once; the state machine caches twice
 * as many responses, so a retried request always finds its answer. */
#define NODE_SESSION_WINDOW 256

static inline void raftd_node_freep(struct raftd_node **n) {
        raftd_node_free(*n);
}

/* node.c */
void node_set_transport(struct raftd_node *n, const struct node_transport *t);
/* Call a write callback from the loop, not from inside the caller's call. */
void node_write_cb_later(struct raftd_node *n, raftd_write_cb cb, void *userdata, int error, uint64_t revision);
uint64_t raftd_node_session(const struct raftd_node *n);

/* node-admin.c */
void node_admin_member_event(struct raftd_node *n, const struct kv_event *e);
void node_admin_learn_members(struct raftd_node *n);
void node_admin_leader_elected(struct raftd_node *n);

/* node-net.c */
int node_net_add_peer(struct raftd_node *n, raft_id id, const char *address);
int node_parse_address(const char *s, char *host, size_t host_size, uint16_t *port);
int node_net_open(struct raftd_node *n);
void node_net_close(struct raftd_node *n);

/* node-storage.c */
int node_storage_open(struct raftd_node *n);
void node_storage_close(struct raftd_node *n);
/* Start a snapshot in a child process (-EBUSY if one runs); done() gets
 * the index once it is durable and the log was compacted. */
int node_snapshot_start(struct raftd_node *n, void (*done)(struct raftd_node *n, void *ctx, int error, raft_index index),
                        void *ctx);
/* Wait for a running snapshot child (install, shutdown). */
void node_snapshot_wait(struct raftd_node *n);
int node_snapshot_fill_chunk(struct raftd_node *n, struct raft_message *m, void **buf);
int node_snapshot_receive(struct raftd_node *n, const struct raft_snapshot_chunk *c);

/* node-update.c */
int node_step(struct raftd_node *n, struct raft_event *ev);
int node_apply_deferred(struct raftd_node *n);
/* Commit the state machine's open transaction, if any: before anything
 * reads the TDB file as a whole (snapshot, backup) or replaces it. */
int node_kv_checkpoint(struct raftd_node *n);
int node_step_proposed(struct raftd_node *n, struct raft_event *ev, raft_index *ret_index, raft_term *ret_term);
void node_flush(struct raftd_node *n);
void node_held_free(struct raft_message *m);
/* On the log's sync thread: wake the loop (node_sync_finished() runs). */
void node_sync_notify(void *userdata);
void node_sync_finished(struct raftd_node *n);
uint64_t node_now_ms(const struct raftd_node *n);

/* node-request.c */
enum node_request_kind {
        REQUEST_WRITE = 1,
        REQUEST_REGISTER,    /* registering a session */
        REQUEST_READ,        /* waits for a read index, then runs serve() */
        REQUEST_REMOTE_READ, /* leader side: a ReadIndex for a follower */
        REQUEST_CHANGE,      /* a membership change, done once committed */
        REQUEST_TRANSFER,    /* done once another node leads */
};

/* Completion of a write: res is NULL when it failed before applying. */
typedef void (*node_write_done)(struct raftd_node *n, void *ctx, int error, const struct kv_result *res);
/* A read whose index this node reached; error < 0 if it failed. */
typedef void (*node_read_serve)(struct raftd_node *n, void *ctx, int error);

int node_submit_write(struct raftd_node *n, struct node_session *s, const struct kv_command *c, node_write_done done,
                      void *ctx);
int node_submit_read(struct raftd_node *n, bool local, node_read_serve serve, void *ctx);
int node_submit_register(struct raftd_node *n, struct node_session *s);
int node_submit_change(struct raftd_node *n, uint8_t op, raft_id id, node_write_done done, void *ctx);
int node_submit_transfer(struct raftd_node *n, raft_id target, node_write_done done, void *ctx);
/* Every applied entry, whatever its type. */
void node_requests_entry_applied(struct raftd_node *n, raft_index index, raft_term term);
void node_requests_applied(struct raftd_node *n, raft_index index, raft_term term, const struct kv_command *c,
                           const struct kv_result *res);
void node_requests_read_ready(struct raftd_node *n, uint64_t id, raft_index index);
void node_requests_read_failed(struct raftd_node *n, uint64_t id);
void node_requests_applied_to(struct raftd_node *n, raft_index applied);
void node_requests_role_changed(struct raftd_node *n);
void node_requests_cancel_all(struct raftd_node *n);
void node_requests_retry(struct raftd_node *n);
void node_requests_kick(struct raftd_node *n);
void node_proposals_flush(struct raftd_node *n);
void node_proposals_free(struct raftd_node *n);
/* Fail (with error) every pending write of session s. */
void node_requests_fail_session(struct raftd_node *n, struct node_session *s, int error);
/* Resubmit the session's writes under fresh sequence numbers. */
void node_requests_rebind_session(struct raftd_node *n, struct node_session *s);

/* node-session.c */
struct node_session *node_session_new(struct raftd_node *n, struct node_lock *lock);
void node_session_free(struct raftd_node *n, struct node_session *s);
struct node_session *node_session_default(struct raftd_node *n);
struct node_session *node_session_by_id(struct raftd_node *n, uint64_t id);
void node_session_registered(struct raftd_node *n, struct node_session *s, uint64_t id);
void node_session_lost(struct raftd_node *n, struct node_session *s);
void node_sessions_keepalive(struct raftd_node *n);

/* node-lock.c */
void node_lock_registered(struct raftd_node *n, struct node_lock *l);
void node_lock_session_lost(struct raftd_node *n, struct node_lock *l);
void node_locks_event(struct raftd_node *n, const struct kv_event *e);
void node_locks_tick(struct raftd_node *n);
void node_locks_free_all(struct raftd_node *n);
size_t node_lock_handles(struct raftd_node *n, uint64_t *out, size_t max);

/* node-watch.c */
void node_on_kv_event(void *userdata, const struct kv_event *e);
void node_watches_free_all(struct raftd_node *n);

/* Transport callbacks. */
void node_receive_message(struct raftd_node *n, const struct raft_message *m);
void node_receive_forward(struct raftd_node *n, raft_id from, uint64_t request_id, bool response,
                          const void *payload, size_t len);
