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
/* Called after every change of role, term or leader. */
void raftd_on_status(struct raftd_node *n, void (*cb)(void *userdata, const struct raftd_status *s),
                     void *userdata);
