/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"

/* splitmix64: small, and every client's stream follows from the run's seed. */
uint64_t client_random(struct client *c) {
        uint64_t z = (c->rng += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

uint64_t client_below(struct client *c, uint64_t n) {
        return n > 0 ? client_random(c) % n : 0;
}

uint64_t client_unique_value(struct client *c) {
        return c->index * UINT64_C(1000000000) + ++c->next_value;
}

bool client_running(const struct client *c) {
        return monotonic_ns() < c->deadline_ns;
}

void client_backoff(void) {
        struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };

        (void) nanosleep(&ts, NULL);
}

int client_invoke(struct client *c, const char *op) {
        return history_log(&c->history, "invoke", "%s", op);
}

int client_complete(struct client *c, const struct call_status *s, const char *op, const char *ok_op) {
        int r;

        switch (s->outcome) {
        case OUTCOME_OK:
                return history_log(&c->history, "ok", "%s", ok_op);
        case OUTCOME_FAIL:
                r = history_log(&c->history, "fail", "%s %s", op, s->reason);
                /* The node is down: do not spin on its empty bus name. */
                if (strcmp(s->reason, "no-node") == 0)
                        client_backoff();
                return r;
        case OUTCOME_UNKNOWN:
                r = history_log(&c->history, "unknown", "%s %s", op, s->reason);
                history_next_process(&c->history);
                return r;
        case OUTCOME_BROKEN:
        default:
                fprintf(stderr, "client %" PRIu64 ": %s: unexpected answer: %s\n", c->index, op, s->reason);
                return -EPROTO;
        }
}

const char *value_token(char buf[static 24], bool present, uint64_t value) {
        if (!present)
                return "-";
        snprintf(buf, 24, "%" PRIu64, value);
        return buf;
}
