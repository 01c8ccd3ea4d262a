/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One fault-suite client process: a connection to one node, its part of
 * the history, its random stream and its deadline.  The workloads
 * (workload-*.c) run on it. */

#include <stdbool.h>
#include <stdint.h>

#include "history.h"
#include "raftd-call.h"

struct client {
        struct caller caller;
        struct history history;
        /* 1..n, unique among the run's clients: values are index * 1e9 + n. */
        uint64_t index;
        uint64_t next_value;
        uint64_t rng;
        uint64_t deadline_ns;
        unsigned keys;
        /* The set's name, or the lock's and the resource's. */
        const char *name;
        /* The fenced resource's socket (lock workload). */
        const char *resource;
        /* Longest pause inside the critical section (lock workload). */
        uint64_t work_max_ms;
};

uint64_t client_random(struct client *c);
/* Uniform in [0, n). */
uint64_t client_below(struct client *c, uint64_t n);
/* A value no other write of the run uses. */
uint64_t client_unique_value(struct client *c);
bool client_running(const struct client *c);
/* A pause before retrying an operation that failed at once. */
void client_backoff(void);

/* Logs the invoke "op". */
int client_invoke(struct client *c, const char *op);
/* Logs the completion of op: "ok <ok_op>", "fail <op> <reason>" or
 * "unknown <op> <reason>" (then continues as a fresh process).  A broken
 * call is reported on stderr and returns -EPROTO. */
int client_complete(struct client *c, const struct call_status *s, const char *op, const char *ok_op);

/* "-" for absent, else the decimal value, in buf. */
const char *value_token(char buf[static 24], bool present, uint64_t value);

int workload_register(struct client *c);
int workload_register_final(struct client *c);
int workload_set(struct client *c);
int workload_set_final(struct client *c);
int workload_eo_writer(struct client *c);
int workload_eo_watcher(struct client *c);
int workload_lock(struct client *c);
