/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The callers' credentials cache on its own (no bus): lookups, removal
 * from the middle of a chain and of the age order, and the bound, which
 * forgets the longest-known caller and never one still being asked about. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bus-internal.h"

static struct bus_caller *add_known(struct bus_callers *c, const char *name, uid_t uid) {
        struct bus_caller *p = NULL;

        assert_int_equal(bus_callers_add(c, name, &p), 0);
        assert_non_null(p);
        bus_callers_learned(c, p, uid, (pid_t) uid + 1);
        return p;
}

static void name_of(char *buf, size_t size, unsigned i) {
        snprintf(buf, size, ":1.%u", i);
}

static void test_every_name_is_found_until_removed(void **state) {
        struct bus_callers c;
        char name[32];

        /* More names than buckets, so chains hold several. */
        bus_callers_init(&c, 5000);
        for (unsigned i = 0; i < 3000; i++) {
                name_of(name, sizeof(name), i);
                add_known(&c, name, i);
        }
        assert_int_equal(c.n, 3000);
        for (unsigned i = 0; i < 3000; i += 3) {
                name_of(name, sizeof(name), i);
                bus_callers_remove(&c, bus_callers_get(&c, name));
        }
        for (unsigned i = 0; i < 3000; i++) {
                struct bus_caller *p;

                name_of(name, sizeof(name), i);
                p = bus_callers_get(&c, name);
                if (i % 3 == 0)
                        assert_null(p);
                else {
                        assert_non_null(p);
                        assert_true(p->known);
                        assert_int_equal(p->uid, i);
                        assert_int_equal(p->pid, i + 1);
                }
        }
        assert_int_equal(c.n, 2000);
        assert_null(bus_callers_get(&c, ":2.0"));
        bus_callers_remove(&c, NULL);
        bus_callers_done(&c);
        assert_int_equal(c.n, 0);
}

static void test_the_bound_forgets_the_longest_known_caller(void **state) {
        struct bus_callers c;
        struct bus_caller *asking = NULL;
        char name[32];

        bus_callers_init(&c, 4);
        add_known(&c, ":1.0", 0);
        /* Still being asked about: never forgotten for the bound. */
        assert_int_equal(bus_callers_add(&c, ":1.1", &asking), 0);
        add_known(&c, ":1.2", 2);
        add_known(&c, ":1.3", 3);
        /* :1.2 leaves: the age order skips it. */
        bus_callers_remove(&c, bus_callers_get(&c, ":1.2"));
        add_known(&c, ":1.4", 4);
        assert_int_equal(c.n, 4);

        add_known(&c, ":1.5", 5);
        assert_int_equal(c.n, 4);
        assert_null(bus_callers_get(&c, ":1.0"));
        add_known(&c, ":1.6", 6);
        assert_null(bus_callers_get(&c, ":1.3"));
        assert_ptr_equal(bus_callers_get(&c, ":1.1"), asking);

        /* Answered late, it joins the age order as the newest. */
        bus_callers_learned(&c, asking, 1, 2);
        add_known(&c, ":1.7", 7);
        add_known(&c, ":1.8", 8);
        add_known(&c, ":1.9", 9);
        assert_int_equal(c.n, 4);
        assert_non_null(bus_callers_get(&c, ":1.1"));
        for (unsigned i = 0; i < 7; i++) {
                name_of(name, sizeof(name), i);
                if (i != 1)
                        assert_null(bus_callers_get(&c, name));
        }
        bus_callers_done(&c);
}

static void test_at_the_bound_with_only_callers_being_asked_about_adding_still_works(void **state) {
        struct bus_callers c;
        struct bus_caller *p;

        bus_callers_init(&c, 2);
        assert_int_equal(bus_callers_add(&c, ":1.0", &p), 0);
        assert_int_equal(bus_callers_add(&c, ":1.1", &p), 0);
        assert_int_equal(bus_callers_add(&c, ":1.2", &p), 0);
        assert_int_equal(c.n, 3);
        /* Once some are answered, the next addition brings it back to the bound. */
        bus_callers_learned(&c, bus_callers_get(&c, ":1.0"), 0, 0);
        bus_callers_learned(&c, bus_callers_get(&c, ":1.1"), 0, 0);
        add_known(&c, ":1.3", 3);
        assert_int_equal(c.n, 2);
        assert_null(bus_callers_get(&c, ":1.0"));
        assert_null(bus_callers_get(&c, ":1.1"));
        assert_non_null(bus_callers_get(&c, ":1.2"));
        assert_non_null(bus_callers_get(&c, ":1.3"));
        bus_callers_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_name_is_found_until_removed),
                cmocka_unit_test(test_the_bound_forgets_the_longest_known_caller),
                cmocka_unit_test(test_at_the_bound_with_only_callers_being_asked_about_adding_still_works),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
