/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The deterministic Raft cluster simulator: one seed fixes one run, byte
 * for byte.  A run mixes faults (partitions, loss, duplication, crashes,
 * clock rates, membership changes, leadership transfers) with client
 * proposals and reads for `steps` core steps, checking the safety
 * invariants after every step; then it heals everything and checks that a
 * leader emerges and a fresh proposal commits on every voter. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_DEFAULT_STEPS 20000

struct sim_options {
        uint64_t seed;
        uint64_t steps; /* core steps in the fault phase */
        unsigned nodes; /* initial voters; 0: 1, 2, 3 or 5, chosen by the seed */
        bool disk_stalls; /* now and then a write takes 50..300 ms more */
        FILE *trace;    /* the story of the run, or NULL */
};

struct sim_stats {
        uint64_t steps;
        uint64_t sim_ms;
        uint64_t applied;   /* highest index applied anywhere */
        uint64_t proposals; /* accepted by a leader */
        uint64_t reads;     /* reads that became ready */
        uint64_t crashes;
        uint64_t snapshots_installed;
        uint64_t config_changes;
        uint64_t transfers;
        uint64_t leaders; /* terms that had a leader */
};

/* 0: the run passed.  -EPROTO: an invariant or the liveness bound broke,
 * failure says which.  Other negative errno: the simulator itself failed. */
int sim_run(const struct sim_options *o, struct sim_stats *stats, char *failure, size_t failure_size);
