/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Linearizable register histories for the checker's tests and benchmark:
 * a sequential register under clients whose operations overlap at random.
 * Values written are unique, so a read can be changed to one no
 * linearization allows. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault/check/history.h"

/* splitmix64 */
static inline uint64_t rng_next(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15u);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        return z ^ (z >> 31);
}

static inline uint64_t rng_below(uint64_t *state, uint64_t n) {
        return rng_next(state) % n;
}

enum sim_kind { SIM_PUT, SIM_GET, SIM_CAS, SIM_DEL };
enum sim_phase { SIM_IDLE, SIM_INVOKED, SIM_APPLIED };

struct sim_op {
        enum sim_kind kind;
        unsigned key;
        struct reg_value value, expected;
        bool cas_matched;
        uint64_t t_invoke;
        size_t write; /* index into sim->writes, or SIZE_MAX */
};

struct sim_client {
        uint64_t process;
        enum sim_phase phase;
        struct sim_op op;
};

/* One ok get, as generated: where its completion line is. */
struct sim_read {
        size_t line;
        unsigned key;
        uint64_t t_invoke, t_return;
};

/* Every write invoked (put, del, cas), by whom and when. */
struct sim_write {
        struct reg_value value;
        unsigned key;
        uint64_t t_invoke;
        uint64_t t_complete; /* when it ended ok and took effect, else UINT64_MAX */
};

struct sim {
        uint64_t rng;
        uint64_t t;
        struct reg_value regs[4];
        unsigned n_keys;
        struct sim_client clients[8];
        unsigned n_clients;
        uint64_t next_process, next_value;
        struct sim_op zombies[64]; /* unknown ops that may still take effect */
        size_t n_zombies;
        char **lines;
        size_t n_lines, lines_alloc;
        struct sim_read *reads;
        size_t n_reads, reads_alloc;
        struct sim_write *writes;
        size_t n_writes, writes_alloc;
        unsigned pct_fail, pct_unknown;
        int error; /* sticky: -ENOMEM */
};

/* Set rng, n_keys (1-4), n_clients (1-8), pct_fail and pct_unknown, then
 * run until n_ops operations were invoked.  0 or -ENOMEM. */
int sim_run(struct sim *s, size_t n_ops);
/* The history as text (malloc'ed), or NULL. */
char *sim_text(const struct sim *s);
/* Append a line (the caller then moves it where it belongs). */
void sim_line(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value the read cannot have seen: never written; written only to
 * another key; written to its key by an op invoked after it returned; or
 * (stale) written by an op that a completed write overwrote before the
 * read began - the one kind only the search can rule out. */
uint64_t sim_impossible_value(struct sim *s, const struct sim_read *rd);
/* A value overwritten before the read began: written by an op that
 * completed before another completed write was invoked, which completed
 * before the read was invoked.  0 if there is none. */
uint64_t sim_stale_value(const struct sim *s, const struct sim_read *rd);
/* Make the read report v instead.  0 or -ENOMEM. */
int sim_set_read(struct sim *s, const struct sim_read *rd, uint64_t v);
void sim_done(struct sim *s);
