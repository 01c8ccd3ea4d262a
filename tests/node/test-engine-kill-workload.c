/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes keep flowing into all nodes while the leader is SIGKILLed and
 * restarted, and later paused with SIGSTOP and resumed.  Afterwards every
 * acknowledged write is there, applied exactly once: its key's revision is
 * the one the write was acknowledged with (a second application would have
 * moved it). */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scenario.h"

#define WRITES 400
#define IN_FLIGHT 24

struct workload {
        uint64_t acked[WRITES];  /* revision, 0 = not acknowledged */
        unsigned sent_to[WRITES]; /* node, 0 = not sent */
        bool answered[WRITES];
        unsigned next;
        unsigned acks;
        unsigned errors;
        unsigned lost;
        bool paused[PROCS_MAX + 1]; /* SIGSTOPped: its requests wait, new ones go elsewhere */
};

static void on_line(struct procs *ps, unsigned id, const char *line, void *userdata) {
        struct workload *w = userdata;
        unsigned i;
        uint64_t rev;
        int err;

        if (sscanf(line, "w%u ok %" SCNu64, &i, &rev) == 2 && i < WRITES && !w->answered[i]) {
                w->answered[i] = true;
                w->acked[i] = rev;
                w->acks++;
        } else if (sscanf(line, "w%u err %d", &i, &err) == 2 && i < WRITES && !w->answered[i]) {
                w->answered[i] = true;
                w->errors++;
        }
}

static unsigned outstanding(const struct workload *w, const struct procs *ps) {
        unsigned k = 0;

        for (unsigned i = 0; i < w->next; i++)
                k += !w->answered[i] && procs_alive(ps, w->sent_to[i]) && !w->paused[w->sent_to[i]];
        return k;
}

/* Requests sent to a node that was killed never get an answer. */
static void forget_node(struct workload *w, unsigned id) {
        for (unsigned i = 0; i < w->next; i++)
                if (w->sent_to[i] == id && !w->answered[i]) {
                        w->answered[i] = true;
                        w->lost++;
                }
}

static void send_more(struct procs *ps, struct workload *w) {
        while (outstanding(w, ps) < IN_FLIGHT && w->next < WRITES) {
                unsigned id;

                do
                        id = (unsigned) rand() % ps->n + 1;
                while (!procs_alive(ps, id) || w->paused[id]);
                w->sent_to[w->next] = id;
                procs_send(ps, id, "w%u put /w/%u v%u", w->next, w->next, w->next);
                w->next++;
        }
}

static void pump(struct procs *ps, struct workload *w, unsigned until_acks) {
        unsigned idle = 0;

        while (w->acks < until_acks && w->next < WRITES) {
                send_more(ps, w);
                if (!procs_poll(ps, 1000)) {
                        if (++idle >= 30)
                                fail_msg("30 s without an answer: %u sent, %u acknowledged, %u outstanding", w->next,
                                         w->acks, outstanding(w, ps));
                }
                else
                        idle = 0;
        }
}

static bool drained(struct procs *ps, void *arg) {
        return outstanding(arg, ps) == 0;
}

static void acknowledged_writes_survive_leader_kill_and_pause_exactly_once(void **state) {
        struct workload *w = calloc(1, sizeof(*w));
        struct procs ps;
        unsigned leader;

        assert_non_null(w);
        scenario_seed("kill-workload");
        scenario_start(&ps, 3, 50);
        ps.on_line = on_line;
        ps.userdata = w;

        pump(&ps, w, 100);
        leader = procs_leader(&ps, 20000);
        assert_int_not_equal(leader, 0);
        /* Strike while a full window of writes is in flight. */
        send_more(&ps, w);
        procs_signal(&ps, leader, SIGKILL);
        forget_node(w, leader);
        pump(&ps, w, 180);
        procs_start(&ps, leader);
        pump(&ps, w, 250);

        leader = procs_leader(&ps, 20000);
        assert_int_not_equal(leader, 0);
        send_more(&ps, w);
        procs_signal(&ps, leader, SIGSTOP);
        w->paused[leader] = true;
        pump(&ps, w, 320);
        procs_signal(&ps, leader, SIGCONT);
        w->paused[leader] = false;
        pump(&ps, w, WRITES);
        assert_true(procs_wait(&ps, drained, w, 30000));
        fprintf(stderr, "kill-workload: %u writes sent, %u acknowledged, %u failed, %u lost with the killed node\n",
                w->next, w->acks, w->errors, w->lost);
        assert_true(w->acks >= 300);

        for (unsigned i = 0; i < w->next; i++) {
                struct answer a;
                char want[16];

                if (!w->acked[i])
                        continue;
                snprintf(want, sizeof(want), "v%u", i);
                assert_true(scenario_call(&ps, i % 3 + 1, &a, 20000, "get /w/%u", i));
                if (strcmp(a.kind, "val") != 0 || strcmp(a.value, want) != 0 || a.revision != w->acked[i])
                        fail_msg("write %u acknowledged at revision %" PRIu64 " reads back as %s %s at %" PRIu64, i,
                                 w->acked[i], a.kind, a.value, a.revision);
        }
        procs_destroy(&ps);
        free(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(acknowledged_writes_survive_leader_kill_and_pause_exactly_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
