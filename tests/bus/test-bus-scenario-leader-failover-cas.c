/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "leader failover + CAS" over D-Bus: client A (a busctl
 * process on a follower's bus) sends CAS(absent -> clientA) and the leader
 * is SIGKILLed while it is in flight; afterwards the key holds nothing or
 * clientA, never anything else, and client B (busctl on another node)
 * swaps from what it reads. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define BUSCTL "busctl --address='%s' --timeout=30 "
#define KV "org.raftd1 /org/raftd1 org.raftd1.KV "

/* "clientA" and "clientB" as busctl writes bytes. */
#define CLIENT_A "7 99 108 105 101 110 116 65"
#define CLIENT_B "7 99 108 105 101 110 116 66"

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static pid_t spawn_busctl_cas(const char *address) {
        char cmd[512];
        pid_t pid;

        snprintf(cmd, sizeof(cmd), BUSCTL "call " KV "CompareAndSwap sbaybayt /lock false 0 true " CLIENT_A " 0",
                 address);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                for (int fd = 3; fd < 1024; fd++)
                        (void) close(fd);
                execl("/bin/sh", "sh", "-c", cmd, NULL);
                _exit(127);
        }
        return pid;
}

/* A linearizable Get, retried while no leader serves (Unavailable). */
static int get_lock(const char *address, char *out, size_t size) {
        for (int i = 0; i < 100; i++) {
                int r = run(out, size, BUSCTL "call " KV "Get st /lock 0", address);

                if (r == 0 || strstr(out, "does not exist"))
                        return r;
                usleep(200 * 1000);
        }
        fail_msg("no answer to Get: %s", out);
        return -1;
}

static void test_key_holds_nothing_or_client_a_and_client_b_swaps(void **state) {
        unsigned leader, node_a, node_b;
        char out[512];
        pid_t client_a;
        int status;

        c = (struct bus_cluster) {};
        assert_int_equal(cluster_start(&c, 3), 0);
        leader = cluster_leader(&c, 20000);
        assert_true(leader > 0);
        node_a = leader % 3 + 1;
        node_b = node_a % 3 + 1;

        /* Through a follower, which forwards to the leader that dies. */
        client_a = spawn_busctl_cas(c.node[node_a].address);
        cluster_kill_host(&c, leader);
        assert_int_equal(cluster_restart_host(&c, leader), 0);
        assert_int_equal(waitpid(client_a, &status, 0), client_a);

        if (get_lock(c.node[node_b].address, out, sizeof(out)) == 0) {
                fprintf(stderr, "client A's CAS took effect (exit status %d)\n", WEXITSTATUS(status));
                assert_true(strncmp(out, "ayt " CLIENT_A " ", strlen("ayt " CLIENT_A " ")) == 0);
                assert_int_equal(run(out, sizeof(out),
                                     BUSCTL "call " KV "CompareAndSwap sbaybayt /lock true " CLIENT_A " true " CLIENT_B
                                            " 0",
                                     c.node[node_b].address),
                                 0);
        } else {
                fprintf(stderr, "client A's CAS did not take effect (exit status %d)\n", WEXITSTATUS(status));
                assert_non_null(strstr(out, "does not exist"));
                assert_int_equal(run(out, sizeof(out),
                                     BUSCTL "call " KV "CompareAndSwap sbaybayt /lock false 0 true " CLIENT_B " 0",
                                     c.node[node_b].address),
                                 0);
        }
        assert_true(strncmp(out, "bt true ", 8) == 0);
        assert_int_equal(get_lock(c.node[leader].address, out, sizeof(out)), 0);
        assert_true(strncmp(out, "ayt " CLIENT_B " ", strlen("ayt " CLIENT_B " ")) == 0);
        assert_int_equal(cluster_stop(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_key_holds_nothing_or_client_a_and_client_b_swaps, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
