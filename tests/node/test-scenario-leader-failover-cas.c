/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "leader failover + CAS", embedded mode: the leader is
 * SIGKILLed while a client's CAS(absent -> A) is in flight; afterwards the
 * lock key holds nothing or A, never anything else, and a second client's
 * CAS from the value it reads succeeds. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scenario.h"

static void key_holds_nothing_or_first_client_and_second_cas_succeeds(void **state) {
        struct procs ps;
        struct answer a, g;
        unsigned leader, client_a, client_b;

        scenario_seed("leader-failover-cas");
        scenario_start(&ps, 3, 0);
        leader = procs_leader(&ps, 20000);
        assert_int_not_equal(leader, 0);
        client_a = leader % 3 + 1;
        client_b = client_a % 3 + 1 == leader ? leader % 3 + 1 : client_a % 3 + 1;
        if (client_b == client_a)
                client_b = (client_a % 3) + 1;

        /* The CAS goes to a follower, which forwards it to the leader; the
         * leader dies before the answer can come back. */
        procs_send(&ps, client_a, "first cas /lock - clientA");
        procs_signal(&ps, leader, SIGKILL);
        procs_start(&ps, leader);
        assert_true(procs_wait(&ps, procs_all_ready, NULL, 20000));

        assert_true(scenario_get(&ps, client_b, "/lock", &g, 20000));
        if (strcmp(g.kind, "val") == 0) {
                assert_string_equal(g.value, "clientA");
                assert_true(scenario_call(&ps, client_b, &a, 20000, "cas /lock clientA clientB"));
        } else {
                assert_int_equal(g.error, -2); /* absent */
                assert_true(scenario_call(&ps, client_b, &a, 20000, "cas /lock - clientB"));
        }
        assert_string_equal(a.kind, "cas");
        assert_true(a.swapped);
        assert_true(scenario_get(&ps, leader, "/lock", &g, 20000));
        assert_string_equal(g.value, "clientB");
        procs_destroy(&ps);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(key_holds_nothing_or_first_client_and_second_cas_succeeds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
