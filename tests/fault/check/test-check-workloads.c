/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The set, lock (fenced resource) and exactly-once checkers, and how a
 * history's workload is told. */
#include "fault/check/check-test.h"

/* --- set --- */

static void set_with_every_acknowledged_add_read_is_valid(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke add s 1\n"
                                           "20 1 ok add s 1\n"
                                           "30 2 invoke add s 2\n"
                                           "40 2 unknown add s 2\n"
                                           "50 3 invoke add s 3\n"
                                           "60 3 unknown add s 3\n"
                                           "70 4 invoke add s 4\n"
                                           "80 4 fail add s 4 unavailable\n"
                                           "90 1 invoke read-set s\n"
                                           "95 1 ok read-set s 1,3\n"),
                         CHECK_VALID);
}

static void set_losing_an_acknowledged_add_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke add s 1\n"
                                  "20 1 ok add s 1\n"
                                  "30 2 invoke add s 2\n"
                                  "40 2 ok add s 2\n"
                                  "90 1 invoke read-set s\n"
                                  "95 1 ok read-set s 1\n";

        assert_int_equal(check_text(text), CHECK_VIOLATION);
        assert_finding_mentions(text, "add of 2");
}

static void set_add_acknowledged_after_the_read_began_may_be_missing(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke add s 1\n"
                                           "20 2 invoke read-set s\n"
                                           "30 1 ok add s 1\n"
                                           "40 2 ok read-set s -\n"),
                         CHECK_VALID);
}

static void set_element_read_twice_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke add s 1\n"
                                  "20 1 ok add s 1\n"
                                  "90 1 invoke read-set s\n"
                                  "95 1 ok read-set s 1,1\n";

        assert_int_equal(check_text(text), CHECK_VIOLATION);
        assert_finding_mentions(text, "more than once");
}

static void set_element_nobody_added_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke add s 1\n"
                                  "20 1 ok add s 1\n"
                                  "90 1 invoke read-set s\n"
                                  "95 1 ok read-set s 1,77\n";

        assert_int_equal(check_text(text), CHECK_VIOLATION);
        assert_finding_mentions(text, "77");
}

static void set_element_whose_add_failed_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke add s 5\n"
                                           "20 1 fail add s 5 unavailable\n"
                                           "90 1 invoke read-set s\n"
                                           "95 1 ok read-set s 5\n"),
                         CHECK_VIOLATION);
}

static void set_without_a_successful_read_is_undecided(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke add s 5\n"
                                           "20 1 ok add s 5\n"
                                           "90 1 invoke read-set s\n"
                                           "95 1 fail read-set s unavailable\n"),
                         CHECK_UNDECIDED);
}

/* --- lock: the fenced resource --- */

static void lock_with_fenced_writes_in_order_is_valid(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke incr r\n"
                                           "20 100 ok write-fenced r 5 0 0 1\n"
                                           "25 1 ok incr r 1\n"
                                           "30 2 invoke incr r\n"
                                           "40 100 ok write-fenced r 6 1 1 2\n"
                                           "45 2 ok incr r 2\n"
                                           "50 3 invoke incr r\n"
                                           "60 100 fail write-fenced r 5 1 2 2 stale\n"
                                           "65 3 fail incr r stale-fence\n"),
                         CHECK_VALID);
}

static void lock_lost_update_without_fencing_is_a_violation(void **state) {
        /* The no-fence counter-example: the resource accepts a write based
         * on a value it no longer holds. */
        const char *text = HEADER "10 1 invoke incr r\n"
                                  "11 2 invoke incr r\n"
                                  "20 100 ok write-fenced r 6 0 0 1\n"
                                  "21 1 ok incr r 1\n"
                                  "30 100 ok write-fenced r 5 0 1 1\n"
                                  "31 2 ok incr r 1\n";
        struct check_result res;

        assert_int_equal(check_text_budget(text, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res), CHECK_VIOLATION);
        /* The lost update, the fence going back, two clients told 1. */
        assert_int_equal(res.n_findings, 3);
        assert_non_null(strstr(res.findings[0].message, "lost update"));
        check_result_done(&res);
}

static void lock_fence_going_back_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "20 100 ok write-fenced r 6 0 0 1\n"
                                           "30 100 ok write-fenced r 5 1 1 2\n"),
                         CHECK_VIOLATION);
}

static void lock_increment_the_resource_never_accepted_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke incr r\n"
                                           "20 100 ok write-fenced r 6 0 0 1\n"
                                           "21 1 ok incr r 2\n"),
                         CHECK_VIOLATION);
}

/* --- exactly-once --- */

static void exactly_once_complete_log_is_valid(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put k 1\n"
                                           "20 1 ok put k 1\n"
                                           "30 2 invoke put k 2\n"
                                           "40 2 unknown put k 2\n"
                                           "50 3 invoke put k 3\n"
                                           "60 3 unknown put k 3\n"
                                           "70 9 ok applied k 1 5\n"
                                           "71 9 ok applied k 3 8\n"
                                           "72 9 ok applied k 3 8\n"),
                         CHECK_VALID);
}

static void exactly_once_value_applied_twice_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke put k 1\n"
                                  "20 1 ok put k 1\n"
                                  "70 9 ok applied k 1 5\n"
                                  "71 9 ok applied k 1 9\n";

        assert_int_equal(check_text(text), CHECK_VIOLATION);
        assert_finding_mentions(text, "applied 2 times");
}

static void exactly_once_unknown_put_applied_twice_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put k 1\n"
                                           "20 1 unknown put k 1\n"
                                           "70 9 ok applied k 1 5\n"
                                           "71 9 ok applied k 1 9\n"),
                         CHECK_VIOLATION);
}

static void exactly_once_acknowledged_put_missing_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke put k 1\n"
                                  "20 1 ok put k 1\n"
                                  "30 1 invoke put k 2\n"
                                  "40 1 ok put k 2\n"
                                  "70 9 ok applied k 1 5\n";

        assert_int_equal(check_text(text), CHECK_VIOLATION);
        assert_finding_mentions(text, "missing");
}

static void exactly_once_gap_leaves_only_at_most_once(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put k 1\n"
                                           "20 1 ok put k 1\n"
                                           "30 1 invoke put k 2\n"
                                           "40 1 ok put k 2\n"
                                           "70 9 ok applied k 1 5\n"
                                           "# gap 6 9\n"),
                         CHECK_VALID);
}

static void exactly_once_failed_put_applied_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put k 1\n"
                                           "20 1 fail put k 1 unavailable\n"
                                           "70 9 ok applied k 1 5\n"),
                         CHECK_VIOLATION);
}

static void exactly_once_value_nobody_wrote_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "70 9 ok applied k 4 5\n"), CHECK_VIOLATION);
}

/* --- workloads --- */

static void workload_is_told_by_its_operations(void **state) {
        static const struct {
                const char *text;
                enum workload expected;
        } cases[] = {
                { HEADER, WORKLOAD_REGISTER },
                { HEADER "1 1 invoke get k\n", WORKLOAD_REGISTER },
                { HEADER "1 1 invoke add s 1\n", WORKLOAD_SET },
                { HEADER "1 1 invoke incr r\n", WORKLOAD_LOCK },
                { HEADER "1 1 ok write-fenced r 1 0 0 1\n", WORKLOAD_LOCK },
                { HEADER "1 1 invoke put k 1\n2 9 ok applied k 1 3\n", WORKLOAD_EXACTLY_ONCE },
                { HEADER "1 1 invoke put k 1\n# gap 1 2\n", WORKLOAD_EXACTLY_ONCE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct history *h = parse_ok(cases[i].text);
                const char *a, *b;
                enum workload w;

                assert_int_equal(workload_detect(h, &w, &a, &b), 0);
                assert_int_equal(w, cases[i].expected);
                history_free(h);
        }
}

static void mixed_workloads_are_refused(void **state) {
        struct history *h = parse_ok(HEADER "1 1 invoke add s 1\n2 2 invoke put k 1\n");
        const char *a, *b;
        enum workload w;

        assert_int_equal(workload_detect(h, &w, &a, &b), -EINVAL);
        assert_string_equal(a, "add");
        assert_string_equal(b, "put");
        assert_false(workload_admits(h, WORKLOAD_SET, &a));
        assert_string_equal(a, "put");
        history_free(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(set_with_every_acknowledged_add_read_is_valid),
                cmocka_unit_test(set_losing_an_acknowledged_add_is_a_violation),
                cmocka_unit_test(set_add_acknowledged_after_the_read_began_may_be_missing),
                cmocka_unit_test(set_element_read_twice_is_a_violation),
                cmocka_unit_test(set_element_nobody_added_is_a_violation),
                cmocka_unit_test(set_element_whose_add_failed_is_a_violation),
                cmocka_unit_test(set_without_a_successful_read_is_undecided),
                cmocka_unit_test(lock_with_fenced_writes_in_order_is_valid),
                cmocka_unit_test(lock_lost_update_without_fencing_is_a_violation),
                cmocka_unit_test(lock_fence_going_back_is_a_violation),
                cmocka_unit_test(lock_increment_the_resource_never_accepted_is_a_violation),
                cmocka_unit_test(exactly_once_complete_log_is_valid),
                cmocka_unit_test(exactly_once_value_applied_twice_is_a_violation),
                cmocka_unit_test(exactly_once_unknown_put_applied_twice_is_a_violation),
                cmocka_unit_test(exactly_once_acknowledged_put_missing_is_a_violation),
                cmocka_unit_test(exactly_once_gap_leaves_only_at_most_once),
                cmocka_unit_test(exactly_once_failed_put_applied_is_a_violation),
                cmocka_unit_test(exactly_once_value_nobody_wrote_is_a_violation),
                cmocka_unit_test(workload_is_told_by_its_operations),
                cmocka_unit_test(mixed_workloads_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
