/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Deep copies of core messages: what a core puts in an update dies at its
 * next raft_step(), a message in flight must outlive that. */

#include "raft/raft.h"

int message_copy(const struct raft_message *m, struct raft_message **ret);
struct raft_message *message_free(struct raft_message *m);

int entries_copy(const struct raft_entry *e, unsigned n, struct raft_entry **ret);
void entries_free(struct raft_entry *e, unsigned n);
