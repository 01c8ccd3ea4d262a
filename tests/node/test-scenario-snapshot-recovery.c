/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "snapshot recovery", embedded mode: CAS state and 100 other
 * keys survive snapshots and a restart of every node; a node that was down
 * while the log was compacted catches up from a snapshot and serves the
 * same values itself. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scenario.h"

#define SNAPSHOT_ENTRIES 20

static void expect_local(struct procs *ps, unsigned id, const char *key, const char *value) {
        struct answer a;

        assert_true(scenario_call(ps, id, &a, 20000, "lget %s", key));
        assert_string_equal(a.kind, "val");
        assert_string_equal(a.value, value);
}

static void state_survives_restart_and_lagging_node_installs_snapshot(void **state) {
        struct procs ps;
        struct answer a;
        unsigned leader, lag;
        char v[16];

        scenario_seed("snapshot-recovery");
        scenario_start(&ps, 3, SNAPSHOT_ENTRIES);
        assert_true(scenario_call(&ps, 1, &a, 20000, "cas /lock - owner1"));
        assert_true(a.swapped);
        assert_true(scenario_put_range(&ps, 2, 0, 100));

        /* Every node at once, with SIGKILL. */
        for (unsigned id = 1; id <= 3; id++)
                procs_signal(&ps, id, SIGKILL);
        procs_start_all(&ps);
        assert_true(procs_wait(&ps, procs_all_ready, NULL, 20000));
        assert_true(scenario_get(&ps, 3, "/lock", &a, 20000));
        assert_string_equal(a.value, "owner1");
        for (int i = 0; i < 100; i += 9) {
                snprintf(v, sizeof(v), "v%d", i);
                assert_true(scenario_call(&ps, (unsigned) i % 3 + 1, &a, 20000, "get /k/%d", i));
                assert_string_equal(a.value, v);
        }

        /* One follower misses enough writes that the others compact past it. */
        leader = procs_leader(&ps, 20000);
        assert_int_not_equal(leader, 0);
        lag = leader % 3 + 1;
        procs_signal(&ps, lag, SIGKILL);
        assert_true(scenario_put_range(&ps, leader, 100, 100 + 5 * SNAPSHOT_ENTRIES));
        assert_true(scenario_call(&ps, leader, &a, 20000, "cas /lock owner1 owner2"));
        assert_true(a.swapped);
        procs_start(&ps, lag);
        assert_true(scenario_wait_local(&ps, lag, "/k/199", 20000));
        expect_local(&ps, lag, "/k/0", "v0");
        expect_local(&ps, lag, "/k/150", "v150");
        expect_local(&ps, lag, "/lock", "owner2");
        procs_destroy(&ps);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(state_survives_restart_and_lagging_node_installs_snapshot),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
