/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "distributed lock" over D-Bus: three clients (busctl
 * processes, one per node's bus, started together) race CAS(absent -> id);
 * exactly one wins; a release by a wrong owner fails; after the owner's
 * release the next client acquires. */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define BUSCTL "busctl --address='%s' --timeout=30 "
#define KV "org.raftd1 /org/raftd1 org.raftd1.KV "

struct racer {
        pid_t pid;
        int out;
};

/* CAS(absent -> "client<id>") on node id's bus, answer on a pipe. */
/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static void racer_start(struct bus_cluster *cl, unsigned id, struct racer *r) {
        char cmd[512];
        int p[2];

        snprintf(cmd, sizeof(cmd),
                 BUSCTL "call " KV "CompareAndSwap sbaybayt /lock false 0 true 7 99 108 105 101 110 116 %u 0 2>&1",
                 cl->node[id].address, '0' + id);
        assert_int_equal(pipe(p), 0);
        r->pid = fork();
        assert_true(r->pid >= 0);
        if (r->pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                for (int fd = 3; fd < 1024; fd++)
                        (void) close(fd);
                execl("/bin/sh", "sh", "-c", cmd, NULL);
                _exit(127);
        }
        close(p[1]);
        r->out = p[0];
}

static bool racer_swapped(struct racer *r) {
        char out[256];
        ssize_t n = read(r->out, out, sizeof(out) - 1);

        assert_int_equal(waitpid(r->pid, NULL, 0), r->pid);
        close(r->out);
        out[n > 0 ? n : 0] = 0;
        if (strncmp(out, "bt true ", 8) == 0)
                return true;
        if (strncmp(out, "bt false ", 9) != 0)
                fail_msg("unexpected answer: %s", out);
        return false;
}

static void test_exactly_one_wins_wrong_owner_cannot_release_next_acquires(void **state) {
        struct racer racers[4];
        unsigned winner = 0, wins = 0, other, next;
        char out[256], want[64];

        c = (struct bus_cluster) {};
        assert_int_equal(cluster_start(&c, 3), 0);
        assert_true(cluster_leader(&c, 20000) > 0);

        for (unsigned id = 1; id <= 3; id++)
                racer_start(&c, id, &racers[id]);
        for (unsigned id = 1; id <= 3; id++)
                if (racer_swapped(&racers[id])) {
                        winner = id;
                        wins++;
                }
        assert_int_equal(wins, 1);
        other = winner % 3 + 1;
        next = other % 3 + 1;

        /* A wrong owner's release: CAS(client<other> -> absent) fails. */
        assert_int_equal(run(out, sizeof(out),
                             BUSCTL "call " KV "CompareAndSwap sbaybayt /lock true 7 99 108 105 101 110 116 %u false 0 0",
                             c.node[other].address, '0' + other),
                         0);
        assert_true(strncmp(out, "bt false ", 9) == 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /lock 0", c.node[other].address), 0);
        snprintf(want, sizeof(want), "ayt 7 99 108 105 101 110 116 %u ", '0' + winner);
        assert_true(strncmp(out, want, strlen(want)) == 0);

        /* The owner's release, then the next client acquires. */
        assert_int_equal(run(out, sizeof(out),
                             BUSCTL "call " KV "CompareAndSwap sbaybayt /lock true 7 99 108 105 101 110 116 %u false 0 0",
                             c.node[winner].address, '0' + winner),
                         0);
        assert_true(strncmp(out, "bt true ", 8) == 0);
        racer_start(&c, next, &racers[next]);
        assert_true(racer_swapped(&racers[next]));
        assert_int_equal(cluster_stop(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_exactly_one_wins_wrong_owner_cannot_release_next_acquires, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
