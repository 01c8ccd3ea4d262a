/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The register checker on hand-written histories: each anomaly it must
 * catch, and each legal interleaving it must accept. */
#include "fault/check/check-test.h"

static void sequential_puts_and_reads_are_linearizable(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke get x\n"
                                           "20 1 ok get x -\n"
                                           "30 1 invoke put x 1\n"
                                           "40 1 ok put x 1\n"
                                           "50 2 invoke get x\n"
                                           "60 2 ok get x 1\n"
                                           "70 2 invoke del x\n"
                                           "80 2 ok del x\n"
                                           "90 1 invoke get x\n"
                                           "95 1 ok get x -\n"),
                         CHECK_VALID);
}

static void stale_read_after_overwrite_is_a_violation(void **state) {
        const char *text = HEADER "10 1 invoke put x 1\n"
                                  "20 1 ok put x 1\n"
                                  "30 1 invoke put x 2\n"
                                  "40 1 ok put x 2\n"
                                  "50 2 invoke get x\n"
                                  "60 2 ok get x 1\n";
        struct check_result res;

        assert_int_equal(check_text_budget(text, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res), CHECK_VIOLATION);
        assert_int_equal(res.n_findings, 1);
        assert_string_equal(res.findings[0].key, "x");
        /* The window shows put 2 and the stale get (events 2 and 5). */
        assert_true(res.findings[0].n_events <= 6);
        assert_int_equal(res.findings[0].events[res.findings[0].n_events - 1], 5);
        for (size_t i = 0; i < res.findings[0].n_events; i++)
                if (res.findings[0].events[i] == 2)
                        break;
                else
                        assert_true(i + 1 < res.findings[0].n_events);
        check_result_done(&res);
}

static void acknowledged_write_lost_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 7\n"
                                           "20 1 ok put x 7\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x -\n"),
                         CHECK_VIOLATION);
}

static void read_of_a_value_never_written_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x 9\n"),
                         CHECK_VIOLATION);
}

static void read_of_a_value_before_its_write_began_is_a_violation(void **state) {
        assert_int_equal(check_text(HEADER "10 2 invoke get x\n"
                                           "20 2 ok get x 1\n"
                                           "30 1 invoke put x 1\n"
                                           "40 1 ok put x 1\n"),
                         CHECK_VIOLATION);
}

static void concurrent_read_may_see_old_or_new_value(void **state) {
        /* The get overlaps the put: both answers are legal. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke put x 2\n"
                                           "35 2 invoke get x\n"
                                           "36 3 invoke get x\n"
                                           "40 2 ok get x 1\n"
                                           "41 3 ok get x 2\n"
                                           "50 1 ok put x 2\n"),
                         CHECK_VALID);
}

static void reads_overlapping_a_write_cannot_go_back_in_time(void **state) {
        /* Get 2 saw the new value and finished before get 3 began, which
         * then saw the old one: no order of the put allows both. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke put x 2\n"
                                           "35 2 invoke get x\n"
                                           "40 2 ok get x 2\n"
                                           "45 3 invoke get x\n"
                                           "48 3 ok get x 1\n"
                                           "50 1 ok put x 2\n"),
                         CHECK_VIOLATION);
}

static void intervals_that_touch_count_as_overlapping(void **state) {
        /* The get ends at the very nanosecond the put begins. */
        assert_int_equal(check_text(HEADER "10 2 invoke get x\n"
                                           "30 1 invoke put x 1\n"
                                           "30 2 ok get x 1\n"
                                           "40 1 ok put x 1\n"),
                         CHECK_VALID);
}

static void cas_succeeds_only_on_the_expected_value(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke cas x - 1\n"
                                           "20 1 ok cas x - 1\n"
                                           "30 1 invoke cas x 1 2\n"
                                           "40 1 ok cas x 1 2\n"
                                           "50 1 invoke cas x 2 -\n"
                                           "60 1 ok cas x 2 -\n"
                                           "70 1 invoke get x\n"
                                           "80 1 ok get x -\n"),
                         CHECK_VALID);
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke cas x - 2\n"
                                           "40 1 ok cas x - 2\n"),
                         CHECK_VIOLATION);
}

static void two_racing_cas_with_one_expectation_cannot_both_succeed(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke cas x 1 2\n"
                                           "31 2 invoke cas x 1 3\n"
                                           "40 1 ok cas x 1 2\n"
                                           "41 2 ok cas x 1 3\n"),
                         CHECK_VIOLATION);
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke cas x 1 2\n"
                                           "31 2 invoke cas x 1 3\n"
                                           "40 1 ok cas x 1 2\n"
                                           "41 2 fail cas x 1 3 mismatch\n"),
                         CHECK_VALID);
}

static void cas_mismatch_is_an_observation(void **state) {
        /* The value was the expected one throughout: a mismatch is a lie. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 2 invoke cas x 1 2\n"
                                           "40 2 fail cas x 1 2 mismatch\n"),
                         CHECK_VIOLATION);
        /* Concurrent with a put that changed the value: fine. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 1 invoke put x 5\n"
                                           "31 2 invoke cas x 1 2\n"
                                           "40 2 fail cas x 1 2 mismatch\n"
                                           "50 1 ok put x 5\n"),
                         CHECK_VALID);
}

static void cas_failed_for_another_reason_constrains_nothing(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 2 invoke cas x 1 2\n"
                                           "40 2 fail cas x 1 2 unavailable\n"
                                           "50 2 invoke get x\n"
                                           "60 2 ok get x 1\n"),
                         CHECK_VALID);
}

static void failed_put_must_not_be_assumed_applied(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 fail put x 1 unavailable\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x 1\n"),
                         CHECK_VIOLATION);
}

static void unknown_put_may_have_been_applied(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 unknown put x 1 timeout\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x 1\n"),
                         CHECK_VALID);
}

static void unknown_put_may_have_been_lost(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 unknown put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x -\n"),
                         CHECK_VALID);
}

static void unknown_put_takes_effect_late_but_never_undoes_itself(void **state) {
        /* Applied late (after the first get): fine. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 unknown put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x -\n"
                                           "50 2 invoke get x\n"
                                           "60 2 ok get x 1\n"),
                         CHECK_VALID);
        /* Seen, then gone without a delete: a violation. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 unknown put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x 1\n"
                                           "50 2 invoke get x\n"
                                           "60 2 ok get x -\n"),
                         CHECK_VIOLATION);
}

static void unknown_put_cannot_take_effect_before_its_invoke(void **state) {
        assert_int_equal(check_text(HEADER "10 2 invoke get x\n"
                                           "20 2 ok get x 1\n"
                                           "30 1 invoke put x 1\n"
                                           "40 1 unknown put x 1\n"),
                         CHECK_VIOLATION);
}

static void unknown_cas_applies_only_where_expected(void **state) {
        /* cas 1->2 of unknown outcome, value 1 before: 2 may be read. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 2 invoke cas x 1 2\n"
                                           "40 2 unknown cas x 1 2\n"
                                           "50 3 invoke get x\n"
                                           "60 3 ok get x 2\n"),
                         CHECK_VALID);
        /* ... but not if the key held 5 all along. */
        assert_int_equal(check_text(HEADER "10 1 invoke put x 5\n"
                                           "20 1 ok put x 5\n"
                                           "30 2 invoke cas x 1 2\n"
                                           "40 2 unknown cas x 1 2\n"
                                           "50 3 invoke get x\n"
                                           "60 3 ok get x 2\n"),
                         CHECK_VIOLATION);
}

static void invoke_never_completed_counts_as_unknown(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 ok get x 1\n"),
                         CHECK_VALID);
}

static void unknown_get_observes_nothing(void **state) {
        assert_int_equal(check_text(HEADER "10 1 invoke put x 1\n"
                                           "20 1 ok put x 1\n"
                                           "30 2 invoke get x\n"
                                           "40 2 unknown get x\n"),
                         CHECK_VALID);
}

static void keys_are_checked_independently_and_the_bad_one_named(void **state) {
        const char *text = HEADER "10 1 invoke put a 1\n"
                                  "11 2 invoke put b 1\n"
                                  "20 1 ok put a 1\n"
                                  "21 2 ok put b 1\n"
                                  "30 1 invoke get a\n"
                                  "31 2 invoke get b\n"
                                  "40 1 ok get a 1\n"
                                  "41 2 ok get b -\n";
        struct check_result res;

        assert_int_equal(check_text_budget(text, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res), CHECK_VIOLATION);
        assert_int_equal(res.n_findings, 1);
        assert_string_equal(res.findings[0].key, "b");
        check_result_done(&res);
}

static void violation_window_is_short_in_a_long_history(void **state) {
        struct text t = {};
        struct check_result res;

        text_printf(&t, HEADER);
        for (unsigned i = 1; i <= 500; i++)
                text_printf(&t, "%u 1 invoke put k %u\n%u 1 ok put k %u\n%u 2 invoke get k\n%u 2 ok get k %u\n",
                            i * 100, i, i * 100 + 10, i, i * 100 + 20, i * 100 + 30, i);
        text_printf(&t, "60000 2 invoke get k\n60010 2 ok get k 250\n");
        for (unsigned i = 501; i <= 600; i++)
                text_printf(&t, "%u 1 invoke put k %u\n%u 1 ok put k %u\n", i * 1000, i, i * 1000 + 10, i);

        assert_int_equal(check_text_budget(t.p, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res), CHECK_VIOLATION);
        assert_int_equal(res.n_findings, 1);
        /* The stale get and the op just before it (the last put or the
         * get that saw it), nothing more; events 0..1999 are the loop's. */
        printf("# window: %zu lines\n", res.findings[0].n_events);
        assert_true(res.findings[0].n_events <= 4);
        assert_int_equal(res.findings[0].events[res.findings[0].n_events - 1], 2001);
        check_result_done(&res);
        free(t.p);
}

static void exhausted_budget_is_reported_undecided(void **state) {
        struct text t = {};
        struct check_result res;

        /* 24 puts all concurrent, then reads of 1, 2 and 1 again: no
         * order explains them, and the search must try every order of
         * the puts to know, far beyond the budget. */
        text_printf(&t, HEADER);
        for (unsigned i = 1; i <= 24; i++)
                text_printf(&t, "%u %u invoke put x %u\n", i, i, i);
        for (unsigned i = 1; i <= 24; i++)
                text_printf(&t, "%u %u ok put x %u\n", 100 + i, i, i);
        text_printf(&t, "200 99 invoke get x\n210 99 ok get x 1\n"
                        "220 99 invoke get x\n230 99 ok get x 2\n"
                        "240 99 invoke get x\n250 99 ok get x 1\n");

        assert_int_equal(check_text_budget(t.p, WORKLOAD_REGISTER, 100000, &res), CHECK_UNDECIDED);
        assert_int_equal(res.n_findings, 1);
        assert_int_equal(res.findings[0].verdict, CHECK_UNDECIDED);
        check_result_done(&res);
        free(t.p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sequential_puts_and_reads_are_linearizable),
                cmocka_unit_test(stale_read_after_overwrite_is_a_violation),
                cmocka_unit_test(acknowledged_write_lost_is_a_violation),
                cmocka_unit_test(read_of_a_value_never_written_is_a_violation),
                cmocka_unit_test(read_of_a_value_before_its_write_began_is_a_violation),
                cmocka_unit_test(concurrent_read_may_see_old_or_new_value),
                cmocka_unit_test(reads_overlapping_a_write_cannot_go_back_in_time),
                cmocka_unit_test(intervals_that_touch_count_as_overlapping),
                cmocka_unit_test(cas_succeeds_only_on_the_expected_value),
                cmocka_unit_test(two_racing_cas_with_one_expectation_cannot_both_succeed),
                cmocka_unit_test(cas_mismatch_is_an_observation),
                cmocka_unit_test(cas_failed_for_another_reason_constrains_nothing),
                cmocka_unit_test(failed_put_must_not_be_assumed_applied),
                cmocka_unit_test(unknown_put_may_have_been_applied),
                cmocka_unit_test(unknown_put_may_have_been_lost),
                cmocka_unit_test(unknown_put_takes_effect_late_but_never_undoes_itself),
                cmocka_unit_test(unknown_put_cannot_take_effect_before_its_invoke),
                cmocka_unit_test(unknown_cas_applies_only_where_expected),
                cmocka_unit_test(invoke_never_completed_counts_as_unknown),
                cmocka_unit_test(unknown_get_observes_nothing),
                cmocka_unit_test(keys_are_checked_independently_and_the_bad_one_named),
                cmocka_unit_test(violation_window_is_short_in_a_long_history),
                cmocka_unit_test(exhausted_budget_is_reported_undecided),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
