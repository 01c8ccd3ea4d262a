/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Synchronous request helpers over a procs cluster, for the seed scenarios:
 * send one tagged request to one node and wait for its answer. */

#include <stdbool.h>
#include <stdint.h>

#include "procs.h"

struct answer {
        bool done;
        char kind[16]; /* ok, val, cas, err, members, status */
        int error;
        unsigned role; /* status: enum raftd_role, term and leader */
        uint64_t term, leader;
        uint64_t revision;
        bool swapped;
        char value[256];
};

/* Send "TAG LINE" to node id and wait for the answer (deadline_ms).  Returns
 * false if none came (node dead or stopped). */
bool scenario_call(struct procs *ps, unsigned id, struct answer *a, int deadline_ms, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* Retry a linearizable get until it answers without error or deadline. */
bool scenario_get(struct procs *ps, unsigned id, const char *key, struct answer *a, int deadline_ms);
/* put /k/I vI for I in [from, to) through node via; false at the first
 * write that did not succeed. */
bool scenario_put_range(struct procs *ps, unsigned via, int from, int to);
/* Poll node id's local (possibly stale) read of key until it has a value. */
bool scenario_wait_local(struct procs *ps, unsigned id, const char *key, int deadline_ms);
/* Seed for a randomised test: RAFTD_TEST_SEED or the clock; printed. */
uint64_t scenario_seed(const char *test);
/* Start a 3-node cluster and wait until it serves. */
void scenario_start(struct procs *ps, unsigned n, uint64_t snapshot_entries);
