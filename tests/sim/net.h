/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The simulated network: per-message random delay (which also reorders),
 * loss, duplication, and partitions as a matrix of blocked directed links,
 * so symmetric, one-way and isolating partitions are all the same thing. */

#include <stdbool.h>
#include <stdint.h>

#include "prng.h"
#include "raft/raft.h"

/* Node ids the network can carry: 1 .. NET_MAX_NODES - 1. */
#define NET_MAX_NODES 16

struct net {
        bool blocked[NET_MAX_NODES][NET_MAX_NODES]; /* [from][to] */
        unsigned loss_permille;
        unsigned dup_permille;
        uint32_t delay_min_ms, delay_max_ms;
};

/* A healthy network with the given delay bounds. */
void net_init(struct net *n, uint32_t delay_min_ms, uint32_t delay_max_ms);
/* Lift every partition, stop losing and duplicating messages. */
void net_heal(struct net *n);
/* Cut the link from -> to (one way). */
void net_block(struct net *n, raft_id from, raft_id to);
/* Cut every link between a node in group and a node outside it (bit i of
 * group: node i). */
void net_split(struct net *n, uint32_t group);
/* Cut every link to and from node. */
void net_isolate(struct net *n, raft_id node);
bool net_connected(const struct net *n, raft_id from, raft_id to);

/* Decide the fate of one message: returns how many copies arrive (0, 1 or
 * 2) and their delays in delays[]. */
unsigned net_route(const struct net *n, struct prng *p, raft_id from, raft_id to, uint64_t delays[2]);
