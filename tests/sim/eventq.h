/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The simulator's agenda: a binary min-heap of events ordered by time and,
 * for equal times, by insertion order, so every run pops the same
 * sequence. */

#include <stddef.h>
#include <stdint.h>

struct raft_message;

enum sim_event_kind {
        SIM_EV_DELIVER = 1, /* a message arrives at node */
        SIM_EV_DISK,        /* node's oldest pending write becomes durable */
        SIM_EV_TICK,        /* node's timer fires */
        SIM_EV_RESTART,     /* a crashed node comes back */
        SIM_EV_CLIENT,      /* a client proposes */
        SIM_EV_READ,        /* a client asks for a linearizable read */
        SIM_EV_FAULT,       /* the fault schedule acts */
};

struct sim_event {
        uint64_t at; /* global simulated time, ms */
        uint64_t seq;
        uint8_t kind;
        uint64_t node;
        uint64_t generation; /* node incarnation or timer generation */
        struct raft_message *message; /* DELIVER: owned by the event */
};

struct eventq {
        struct sim_event *heap;
        size_t n, cap;
        uint64_t next_seq;
};

int eventq_push(struct eventq *q, struct sim_event ev);
/* Returns 0 when empty. */
int eventq_pop(struct eventq *q, struct sim_event *ret);
const struct sim_event *eventq_peek(const struct eventq *q);
/* Frees the queue and every message still in it. */
void eventq_done(struct eventq *q);
