/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed scenario "distributed lock", embedded mode: clients on different
 * nodes (separate processes over TCP) compete with CAS(absent -> id);
 * exactly one wins; a release by a wrong owner fails; after the owner's
 * release the next client acquires. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scenario.h"

struct race {
        unsigned answers;
        int swapped[4]; /* -1: no answer yet */
};

static void on_race(struct procs *ps, unsigned id, const char *line, void *userdata) {
        struct race *r = userdata;
        unsigned who;
        int swapped;
        uint64_t rev;

        if (sscanf(line, "race%u cas %d %" SCNu64, &who, &swapped, &rev) == 3 && who >= 1 && who <= 3 &&
            r->swapped[who] < 0) {
                r->swapped[who] = swapped;
                r->answers++;
        }
}

static bool all_answered(struct procs *ps, void *arg) {
        return ((struct race *) arg)->answers == 3;
}

static void expect_holder(struct procs *ps, unsigned ask, unsigned holder) {
        struct answer g;
        char want[16];

        snprintf(want, sizeof(want), "client%u", holder);
        assert_true(scenario_get(ps, ask, "/locks/backup", &g, 20000));
        assert_string_equal(g.kind, "val");
        assert_string_equal(g.value, want);
}

static void one_winner_wrong_owner_release_fails_next_client_acquires(void **state) {
        struct race race = { .swapped = { -1, -1, -1, -1 } };
        struct procs ps;
        struct answer a;
        unsigned winner = 0, winners = 0, next;

        scenario_seed("distributed-lock");
        scenario_start(&ps, 3, 0);
        /* All three are sent before any answer is read: they race. */
        ps.on_line = on_race;
        ps.userdata = &race;
        for (unsigned id = 1; id <= 3; id++)
                procs_send(&ps, id, "race%u cas /locks/backup - client%u", id, id);
        assert_true(procs_wait(&ps, all_answered, &race, 20000));
        for (unsigned id = 1; id <= 3; id++)
                if (race.swapped[id] == 1) {
                        winners++;
                        winner = id;
                }
        assert_int_equal(winners, 1);
        expect_holder(&ps, 1, winner);

        /* A wrong owner's release fails and changes nothing. */
        next = winner % 3 + 1;
        assert_true(scenario_call(&ps, next, &a, 20000, "cas /locks/backup client%u -", next));
        assert_string_equal(a.kind, "cas");
        assert_false(a.swapped);
        expect_holder(&ps, next, winner);

        /* The owner releases; the next client acquires. */
        assert_true(scenario_call(&ps, winner, &a, 20000, "cas /locks/backup client%u -", winner));
        assert_true(a.swapped);
        assert_true(scenario_call(&ps, next, &a, 20000, "cas /locks/backup - client%u", next));
        assert_true(a.swapped);
        expect_holder(&ps, winner, next);
        procs_destroy(&ps);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(one_winner_wrong_owner_release_fails_next_client_acquires),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
