/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Three nodes on one loop, with real storage and state machine files,
 * joined by the in-process hub: the fixture of the engine's in-process
 * tests. */

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"

#define N 3

struct fixture {
        struct ev_loop *loop;
        struct hub *hub;
        char dir[64];
        struct raftd_node *nodes[HUB_MAX + 1];
        uint64_t snapshot_entries;
        uint64_t session_ttl_ms;
};

struct op {
        bool done;
        int error;
        bool swapped;
        uint64_t revision;
        char value[256];
        size_t len;
};

/* The result of a raftd_index_cb (snapshot, backup). */
struct index_op {
        bool done;
        int error;
        uint64_t index;
};

void write_done(void *userdata, int error, uint64_t revision);
void index_done(void *userdata, int error, uint64_t index);
bool index_op_done(struct fixture *f, void *arg);
void cas_done(void *userdata, int error, bool swapped, uint64_t revision);
void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision);
void run_until(struct fixture *f, bool (*cond)(struct fixture *f, void *arg), void *arg, double seconds);
bool op_done(struct fixture *f, void *arg);
raft_id leader_of(struct fixture *f);
bool ready(struct fixture *f, void *arg);
unsigned count_snapshots(struct fixture *f, raft_id id);
void start_node(struct fixture *f, raft_id id);
/* A new node, empty, waiting to be added (join = true). */
void start_joining_node(struct fixture *f, raft_id id);
void stop_node(struct fixture *f, raft_id id);
struct fixture *cluster_ttl(uint64_t snapshot_entries, uint64_t session_ttl_ms);
struct fixture *cluster(uint64_t snapshot_entries);
void run_for(struct fixture *f, double seconds);
void cluster_free(struct fixture *f);
raft_id follower_of(struct fixture *f, raft_id not);
void put(struct fixture *f, raft_id id, const char *key, const char *value);
void get(struct fixture *f, raft_id id, const char *key, uint64_t flags, struct op *o);
