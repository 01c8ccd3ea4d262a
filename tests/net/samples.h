/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sample Raft messages of every type, shared by the codec, fuzz and
 * transport tests, and a field-by-field comparison. */

#include <stdbool.h>

#include "raft/raft.h"

#define SAMPLE_COUNT 11

/* Fills m with sample i (0 <= i < SAMPLE_COUNT) from `from` to `to`; data
 * points into static storage. */
void sample_message(unsigned i, raft_id from, raft_id to, struct raft_message *m);
bool messages_equal(const struct raft_message *a, const struct raft_message *b);
