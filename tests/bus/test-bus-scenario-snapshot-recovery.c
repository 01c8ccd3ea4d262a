/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "snapshot recovery" over D-Bus: CAS state and 100 other
 * keys survive snapshots and a SIGKILL of every node; a node that was down
 * while the log was compacted catches up from a snapshot and serves the
 * same values itself (local reads through its own bus). */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define SNAPSHOT_ENTRIES "20"

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static sd_bus *clients[4];

static int call_cas(unsigned node, const char *key, const char *expected, const char *new_value, bool *swapped) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        uint64_t rev;
        int s = 0, r;

        assert_true(sd_bus_message_new_method_call(clients[node], &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV",
                                                   "CompareAndSwap") >= 0);
        assert_true(sd_bus_message_append(m, "sb", key, (int) !!expected) >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', expected ?: "", expected ? strlen(expected) : 0) >= 0);
        assert_true(sd_bus_message_append(m, "b", 1) >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', new_value, strlen(new_value)) >= 0);
        assert_true(sd_bus_message_append(m, "t", (uint64_t) 0) >= 0);
        r = sd_bus_call(clients[node], m, 30 * 1000000ULL, &e, &reply);
        if (r >= 0)
                assert_int_equal(sd_bus_message_read(reply, "bt", &s, &rev), 1);
        else
                fprintf(stderr, "CAS via node %u: %s: %s\n", node, e.name, e.message);
        *swapped = s;
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r;
}

static void put_range(unsigned node, int from, int to) {
        for (int i = from; i < to; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *m = NULL, *reply = NULL;
                char key[32], value[32];

                snprintf(key, sizeof(key), "/k/%d", i);
                snprintf(value, sizeof(value), "v%d", i);
                assert_true(sd_bus_message_new_method_call(clients[node], &m, "org.raftd1", "/org/raftd1",
                                                           "org.raftd1.KV", "Put") >= 0);
                assert_true(sd_bus_message_append(m, "s", key) >= 0);
                assert_true(sd_bus_message_append_array(m, 'y', value, strlen(value)) >= 0);
                assert_true(sd_bus_message_append(m, "tt", (uint64_t) 0, (uint64_t) 0) >= 0);
                if (sd_bus_call(clients[node], m, 30 * 1000000ULL, &e, &reply) < 0)
                        fail_msg("Put %s via node %u: %s: %s", key, node, e.name, e.message);
                sd_bus_message_unref(m);
                sd_bus_message_unref(reply);
        }
}

/* The value of key as node serves it (flags 1: its own state), or "" if
 * it has none; retried while no leader serves a linearizable read. */
static void get(unsigned node, const char *key, uint64_t flags, char *value, size_t size) {
        for (int i = 0; i < 100; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const void *v;
                size_t len;
                int r = sd_bus_call_method(clients[node], "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get", &e,
                                           &reply, "st", key, flags);

                if (r >= 0) {
                        assert_true(sd_bus_message_read_array(reply, 'y', &v, &len) >= 0);
                        assert_true(len < size);
                        memcpy(value, v, len);
                        value[len] = 0;
                        sd_bus_message_unref(reply);
                        return;
                }
                if (sd_bus_error_has_name(&e, "org.raftd1.NoSuchKey")) {
                        value[0] = 0;
                        sd_bus_error_free(&e);
                        return;
                }
                sd_bus_error_free(&e);
                usleep(200 * 1000);
        }
        fail_msg("node %u never answered Get %s", node, key);
}

static void connect_clients(struct bus_cluster *cl) {
        for (unsigned id = 1; id <= 3; id++) {
                clients[id] = sd_bus_flush_close_unref(clients[id]);
                clients[id] = cluster_client(cl, id);
        }
}

static void test_state_survives_restart_and_lagging_node_installs_snapshot(void **state) {
        unsigned leader, lag;
        char value[64], want[16];
        bool swapped;

        c = (struct bus_cluster) { .host_args = { "--snapshot-entries=" SNAPSHOT_ENTRIES } };
        assert_int_equal(cluster_start(&c, 3), 0);
        assert_true(cluster_leader(&c, 20000) > 0);
        connect_clients(&c);
        assert_true(call_cas(1, "/lock", NULL, "owner1", &swapped) >= 0);
        assert_true(swapped);
        put_range(2, 0, 100);

        /* Every node at once, with SIGKILL; their buses stay. */
        for (unsigned id = 1; id <= 3; id++)
                cluster_kill_host(&c, id);
        for (unsigned id = 1; id <= 3; id++)
                cluster_spawn_host(&c, id);
        for (unsigned id = 1; id <= 3; id++)
                assert_int_equal(cluster_await_ready(&c, id), 0);
        get(3, "/lock", 0, value, sizeof(value));
        assert_string_equal(value, "owner1");
        for (int i = 0; i < 100; i += 9) {
                char key[16];

                snprintf(key, sizeof(key), "/k/%d", i);
                snprintf(want, sizeof(want), "v%d", i);
                get((unsigned) i % 3 + 1, key, 0, value, sizeof(value));
                assert_string_equal(value, want);
        }

        /* One follower misses enough writes that the others compact past it. */
        leader = cluster_leader(&c, 20000);
        assert_true(leader > 0);
        lag = leader % 3 + 1;
        cluster_kill_host(&c, lag);
        put_range(leader, 100, 200);
        assert_true(call_cas(leader, "/lock", "owner1", "owner2", &swapped) >= 0);
        assert_true(swapped);
        cluster_spawn_host(&c, lag);
        assert_int_equal(cluster_await_ready(&c, lag), 0);
        for (int i = 0; i < 200; i++) {
                get(lag, "/k/199", 1, value, sizeof(value));
                if (value[0])
                        break;
                /* Catching up has no signal a client can await here. */
                usleep(50 * 1000);
        }
        assert_string_equal(value, "v199");
        get(lag, "/k/0", 1, value, sizeof(value));
        assert_string_equal(value, "v0");
        get(lag, "/k/150", 1, value, sizeof(value));
        assert_string_equal(value, "v150");
        get(lag, "/lock", 1, value, sizeof(value));
        assert_string_equal(value, "owner2");

        for (unsigned id = 1; id <= 3; id++)
                clients[id] = sd_bus_flush_close_unref(clients[id]);
        assert_int_equal(cluster_stop(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_state_survives_restart_and_lagging_node_installs_snapshot, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
