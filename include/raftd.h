/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libraftd: run a raftd node inside your own process, on your own libev
 * loop.  The raftd daemon is this library plus D-Bus and systemd glue.
 *
 * All calls are made from the thread that runs the loop.  Operations are
 * asynchronous: they return 0 once accepted (or a negative errno at once)
 * and call their completion callback exactly once, from the loop, with 0
 * or a negative errno.  Errors beyond plain errno values:
 *
 *   RAFTD_E_NO_SUCH_KEY       the key does not exist
 *   RAFTD_E_UNAVAILABLE       no leader/quorum within the request timeout;
 *                             the request was never accepted by a leader, so
 *                             it did not take effect
 *   RAFTD_E_OUTCOME_UNKNOWN   the request reached a leader but the node could
 *                             not learn whether it was applied (it may have
 *                             been); reading the key tells
 *   RAFTD_E_TOO_LARGE         key or value over the configured limit
 *
 * API version: RAFTD_API_VERSION grows with every incompatible change
 * until 1.0.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFTD_API_VERSION 1

#define RAFTD_E_NO_SUCH_KEY (-ENOENT)
#define RAFTD_E_UNAVAILABLE (-ETIMEDOUT)
#define RAFTD_E_OUTCOME_UNKNOWN (-EPROTO)
#define RAFTD_E_TOO_LARGE (-EFBIG)

struct ev_loop;
struct raftd_node;

struct raftd_peer {
        uint64_t id;
        const char *address; /* "host:port" */
};

struct raftd_config {
        uint64_t id;           /* this node, > 0 */
        const char *data_dir;  /* created if missing; one node per directory */
        const char *listen;    /* "host:port" for peer traffic */
        const char *key_file;  /* cluster key (raftctl keygen) */
        /* Initial voters, this node included, when bootstrapping a new
         * cluster; ignored once the data directory holds state.  Empty with
         * join = true: start empty and wait to be added by the leader. */
        const struct raftd_peer *peers;
        size_t n_peers;
        bool join;

        uint32_t heartbeat_ms;      /* default 100 */
        uint32_t election_ms;       /* default 1000 */
        uint32_t request_timeout_ms; /* default 5000 */
        uint64_t session_ttl_ms;    /* default 10000: locks of a dead node go after this */
        uint64_t snapshot_entries;  /* snapshot after this many applied entries; default 10000 */
        /* Log entries kept behind a snapshot, for followers a little behind
         * to catch up from instead of being sent a snapshot; 0 (default):
         * half of snapshot_entries, at least 1000. */
        uint64_t snapshot_trailing;
        size_t max_key_len;         /* default 4096 */
        size_t max_value_size;      /* default 1 MiB */

        /* Log lines (syslog priorities); NULL drops them. */
        void (*log)(void *userdata, int priority, const char *message);
        void *log_userdata;
};

void raftd_config_init(struct raftd_config *c);

int raftd_node_new(struct ev_loop *loop, const struct raftd_config *c, struct raftd_node **ret);
/* Opens storage, loads state, starts listening and ticking. */
int raftd_node_start(struct raftd_node *n);
/* Stops at once: pending operations complete with -ECANCELED. */
struct raftd_node *raftd_node_free(struct raftd_node *n);

typedef void (*raftd_write_cb)(void *userdata, int error, uint64_t revision);
typedef void (*raftd_get_cb)(void *userdata, int error, const void *value, size_t len, uint64_t revision);
typedef void (*raftd_cas_cb)(void *userdata, int error, bool swapped, uint64_t revision);

enum {
        RAFTD_GET_LOCAL = 1 << 0, /* serve from this node's state, possibly stale */
};

int raftd_put(struct raftd_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
              raftd_write_cb cb, void *userdata);
int raftd_delete(struct raftd_node *n, const void *key, size_t key_len, raftd_write_cb cb, void *userdata);
int raftd_get(struct raftd_node *n, const void *key, size_t key_len, uint64_t flags, raftd_get_cb cb,
              void *userdata);
/* expected NULL: the key must not exist; new_value NULL: delete it. */
int raftd_cas(struct raftd_node *n, const void *key, size_t key_len, const void *expected, size_t expected_len,
              const void *new_value, size_t new_len, raftd_cas_cb cb, void *userdata);

/* Put bound to a lease (0: none): the key goes when the lease expires. */
int raftd_put_lease(struct raftd_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                    uint64_t lease, raftd_write_cb cb, void *userdata);

struct raftd_kv {
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        uint64_t create_revision;
        uint64_t mod_revision;
        uint64_t lease;
};

/* One page of keys with the prefix, in byte order, after `after` (NULL:
 * from the start).  At most limit entries (0: 1000); more says whether
 * another page follows (continue after the last key). */
typedef void (*raftd_list_cb)(void *userdata, int error, const struct raftd_kv *entries, size_t n, bool more);
int raftd_list(struct raftd_node *n, const void *prefix, size_t prefix_len, const void *after, size_t after_len,
               size_t limit, uint64_t flags, raftd_list_cb cb, void *userdata);

/* Locks.  raftd_lock() waits, first-come first-served, until the lock is
 * granted (callback with error 0 and the fence: strictly increasing per
 * lock) or timeout_ms passes (RAFTD_E_LOCK_TIMEOUT).  A held lock is
 * released by raftd_lock_release(), or cluster-wide when this node dies or
 * is cut off for longer than the session TTL; `lost` (optional) is called
 * if that happens while this node still runs.  *ret_handle names the lock
 * request in later calls. */
#define RAFTD_E_LOCK_TIMEOUT (-ETIME)
typedef void (*raftd_lock_cb)(void *userdata, int error, uint64_t fence);
int raftd_lock_acquire(struct raftd_node *n, const void *name, size_t name_len, const char *owner,
                       uint64_t timeout_ms, raftd_lock_cb cb, void (*lost)(void *userdata), void *userdata,
                       uint64_t *ret_handle);
/* Release a held lock, or withdraw a waiting request (its acquire callback
 * is then never called, nor `lost`).  cb may be NULL. */
int raftd_lock_release(struct raftd_node *n, uint64_t handle, raftd_write_cb cb, void *userdata);

struct raftd_lock_info {
        const void *name;
        size_t name_len;
        bool held;
        const char *owner; /* the holder's identity as given to acquire */
        uint64_t session;
        uint64_t fence;
        uint64_t since_ms; /* leader-stamped time of the grant */
        size_t n_waiters;
};
/* Every held or awaited lock, from this node's state. */
int raftd_lock_list(struct raftd_node *n, void (*fn)(void *userdata, const struct raftd_lock_info *l),
                    void *userdata);

/* Leases: keys put with a lease disappear when it expires. */
typedef void (*raftd_lease_cb)(void *userdata, int error, uint64_t lease);
int raftd_lease_grant(struct raftd_node *n, uint64_t ttl_ms, raftd_lease_cb cb, void *userdata);
int raftd_lease_keepalive(struct raftd_node *n, uint64_t lease, raftd_write_cb cb, void *userdata);
int raftd_lease_revoke(struct raftd_node *n, uint64_t lease, raftd_write_cb cb, void *userdata);

/* Watch: called for every change this node applies to a key with the
 * prefix, in revision order; value is NULL for a deletion.  Every node
 * applies every change, so a watcher sees all changes cluster-wide. */
struct raftd_change {
        const void *key;
        size_t key_len;
        const void *value; /* NULL: deleted */
        size_t value_len;
        uint64_t revision;
};
typedef void (*raftd_watch_cb)(void *userdata, const struct raftd_change *c);
int raftd_watch(struct raftd_node *n, const void *prefix, size_t prefix_len, raftd_watch_cb cb, void *userdata,
                uint64_t *ret_handle);
int raftd_unwatch(struct raftd_node *n, uint64_t handle);

/* Membership, one server at a time.  A new node starts with join = true
 * and is added as a learner (its address is stored in the replicated
 * state under "/raftd/members/<id>", so every node can reach it), then
 * promoted to voter; promotion waits until the learner has caught up.
 * The callback runs once the configuration change is committed; its
 * revision is the index of the configuration entry.  Errors: -EEXIST for
 * adding a member (at once if this node knows it, else from the leader),
 * -EALREADY for promoting a voter, -ENOENT for an unknown id. */
enum raftd_member_op {
        RAFTD_MEMBER_ADD_LEARNER = 1,
        RAFTD_MEMBER_PROMOTE,
        RAFTD_MEMBER_REMOVE,
};
#define RAFTD_MEMBERS_PREFIX "/raftd/members/"
int raftd_member_change(struct raftd_node *n, enum raftd_member_op op, uint64_t id, const char *address,
                        raftd_write_cb cb, void *userdata);

struct raftd_member {
        uint64_t id;
        bool voter;
        bool leader;
        bool self;
        uint64_t match;  /* known on the leader only; 0 elsewhere */
        bool reachable;  /* a connection to it is up (self: true) */
};
/* The configuration in force; returns how many members were written (at
 * most max) or a negative errno. */
int raftd_members(struct raftd_node *n, struct raftd_member *out, size_t max);

/* Hand leadership to target (0: the most up-to-date voter).  Callback once
 * another node leads, or RAFTD_E_UNAVAILABLE on timeout. */
int raftd_transfer_leadership(struct raftd_node *n, uint64_t target, raftd_write_cb cb, void *userdata);

/* Graceful stop: waiting lock requests are withdrawn, held locks released,
 * and leadership handed over if this node leads; then done() runs and the
 * node may be freed.  Bounded by the request timeout. */
int raftd_node_stop(struct raftd_node *n, void (*done)(void *userdata), void *userdata);

/* Snapshot the state machine now (the log before it is compacted). */
typedef void (*raftd_index_cb)(void *userdata, int error, uint64_t index);
int raftd_snapshot(struct raftd_node *n, raftd_index_cb cb, void *userdata);
/* Write a consistent image of the state machine (a snapshot stream, as
 * loaded by a new node) to fd; index is the applied index it holds. */
int raftd_backup(struct raftd_node *n, int fd, raftd_index_cb cb, void *userdata);

enum raftd_role {
        RAFTD_FOLLOWER = 1,
        RAFTD_CANDIDATE,
        RAFTD_LEADER,
};

struct raftd_status {
        uint64_t id;
        enum raftd_role role;
        uint64_t term;
        uint64_t leader; /* 0: none known */
        uint64_t commit_index;
        uint64_t applied_index;
        uint64_t last_index;
};

void raftd_status(const struct raftd_node *n, struct raftd_status *ret);

/* The node serves requests: it was started, its storage has not failed, a
 * leader is known and this node's client session is registered (so a
 * request made now goes through without waiting for either).  What a
 * daemon tells its service manager as "ready". */
bool raftd_node_ready(const struct raftd_node *n);
/* 0 while storage works; the negative errno that made the node stop
 * serving otherwise (it then refuses every request until restarted). */
int raftd_node_failed(const struct raftd_node *n);
/* Change the key length and value size limits of a running node (both
 * > 0); requests made afterwards are checked against them. */
int raftd_node_set_limits(struct raftd_node *n, size_t max_key_len, size_t max_value_size);
/* Called after every change of role, term or leader, and after every batch
 * of applied entries (so commit and applied indexes are current). */
void raftd_on_status(struct raftd_node *n, void (*cb)(void *userdata, const struct raftd_status *s),
                     void *userdata);
