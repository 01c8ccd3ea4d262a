/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Raft safety checker.  It sees a cluster only through what the
 * simulator reports after each step, so hand-made histories can be fed to
 * it as well (the checker's own tests prove every check can fail).
 *
 * Every function returns 0, -EPROTO when the reported history breaks an
 * invariant (checker_failure() then says which and why; the first failure
 * is kept), or -ENOMEM. */

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

/* Node ids the checker can track: 1 .. CHECKER_MAX_NODES - 1. */
#define CHECKER_MAX_NODES 64

typedef const struct raft_entry *(*checker_entry_at_fn)(const void *log, raft_index index);

/* A node's in-memory log as the core holds it right after a step. */
struct checker_log {
        const void *log;
        checker_entry_at_fn entry_at;
        raft_index snapshot_index; /* entries above this must all be present */
        raft_index last_index;
};

struct checker;

int checker_new(struct checker **ret);
struct checker *checker_free(struct checker *c);

/* The first violation found, or NULL. */
const char *checker_failure(const struct checker *c);

/* After every step of a node.  log_changed: the step appended, truncated or
 * replaced the log (a cheaper step skips the per-entry checks). */
int checker_observe(struct checker *c, raft_id node, raft_term term, bool leader, raft_index commit,
                    const struct checker_log *log, bool log_changed);

/* The node lost its memory (crash) and starts over from its durable
 * snapshot at snapshot_index (0: none) whose state machine digest is given. */
int checker_restarted(struct checker *c, raft_id node, raft_index snapshot_index, uint64_t digest);

/* The node's state machine applied e (handed out as committed). term is the
 * node's current term, a bound for the term in which e was committed. */
int checker_applied(struct checker *c, raft_id node, raft_term term, const struct raft_entry *e);

/* The node's state machine now is a snapshot at index with this digest
 * (taken locally or installed from the leader). */
int checker_snapshot(struct checker *c, raft_id node, raft_index index, uint64_t digest);

/* A linearizable read was handed to a leader while commit_seen was the
 * highest commit index any node had reached. */
int checker_read_issued(struct checker *c, uint64_t id, raft_index commit_seen);
/* The core declared the read safe to serve at index. */
int checker_read_ready(struct checker *c, uint64_t id, raft_index index);

/* Highest index ever handed out as committed by any node. */
raft_index checker_committed_max(const struct checker *c);
