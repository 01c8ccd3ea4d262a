/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An in-process transport for engine tests: nodes on one libev loop hand
 * each other deep copies of their messages; delivery happens from the loop
 * after the sender's flush, as with a socket.  Links can be cut. */

#include <stdbool.h>
#include <stdint.h>

#include "node/node.h"

#define HUB_MAX 8

struct hub;

struct hub *hub_new(struct ev_loop *loop);
struct hub *hub_free(struct hub *h);
/* Attach node (id 1..HUB_MAX) to the hub; NULL detaches (a crashed node). */
void hub_attach(struct hub *h, raft_id id, struct raftd_node *n);
void hub_cut(struct hub *h, raft_id a, raft_id b, bool cut);
uint64_t hub_delivered(const struct hub *h);
