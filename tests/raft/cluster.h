/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small hand-driven cluster for the core's rule tests.  Persistence is
 * synchronous (every update is durable when the step returns), messages
 * wait in one FIFO queue until a test delivers, drops or inspects them, and
 * time moves only when a test says so.  The randomised simulator with
 * faults lives in tests/sim/. */

#include <stdbool.h>
#include <stddef.h>

#include "raft/raft.h"

#define CL_MAX 8

struct cl_msg {
        struct raft_message m;
        bool after_persist;
};

struct cl_node {
        struct raft *r;
        bool up;
        struct raft_hard_state hs;
        struct raft_entry *log; /* durable log, deep copies */
        size_t n_log;
        struct raft_snapshot_meta snap;
        size_t snap_size;    /* bytes of the (synthetic) snapshot image */
        size_t rx_received;  /* snapshot bytes received so far */
        unsigned rx_chunks;  /* chunks received */
        raft_index applied[4096]; /* terms of applied entries, by index */
        raft_index last_applied;
        struct raft_read_ready ready[64];
        unsigned n_ready;
        unsigned n_failed;
        int last_rc;
        struct raft_update last; /* the last update (pointers not valid) */
};

struct cl {
        struct cl_node nodes[CL_MAX + 1]; /* 1-based ids */
        unsigned n;
        uint64_t now;
        uint32_t random;
        struct cl_msg *q;
        size_t n_q;
        size_t cap_q;
        bool cut[CL_MAX + 1][CL_MAX + 1]; /* cut[from][to]: drop */
        struct raft_options o;
};

/* n voters 1..n, bootstrapped with the same configuration; `learners`
 * extra ids n+1..n+learners start empty (not in the configuration). */
struct cl *cl_new(unsigned voters, unsigned extra, void (*tune)(struct raft_options *o));
void cl_free(struct cl *c);

/* Deliver an event to node id and handle its update. Returns raft_step's rc. */
int cl_step(struct cl *c, raft_id id, struct raft_event *ev);
int cl_tick(struct cl *c, raft_id id);
int cl_propose(struct cl *c, raft_id id, const char *data);
int cl_read(struct cl *c, raft_id id, uint64_t read_id);
int cl_change(struct cl *c, raft_id id, uint8_t op, raft_id target);
int cl_transfer(struct cl *c, raft_id id, raft_id target);
int cl_snapshot(struct cl *c, raft_id id, raft_index index, raft_index trailing);

/* Move time forward by ms and tick every live node. */
void cl_advance(struct cl *c, uint64_t ms);
/* Deliver queued messages until the queue is empty (or max). Returns count. */
unsigned cl_deliver_all(struct cl *c, unsigned max);
/* Drop every queued message. */
void cl_drop_all(struct cl *c);
/* Time out node id's election timer and run to quiescence. */
void cl_elect(struct cl *c, raft_id id);
void cl_isolate(struct cl *c, raft_id id, bool isolated);
/* Crash: forget memory, keep durable state; restart: load it again. */
void cl_crash(struct cl *c, raft_id id);
void cl_restart(struct cl *c, raft_id id);
/* Count queued messages of a type to a node (0 = any). */
unsigned cl_count(const struct cl *c, uint8_t type, raft_id to);
const struct cl_msg *cl_find(const struct cl *c, uint8_t type, raft_id to);
const struct cl_msg *cl_find_from(const struct cl *c, uint8_t type, raft_id from, raft_id to);
raft_id cl_leader(const struct cl *c);
