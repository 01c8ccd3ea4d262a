/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The checker must be able to fail: feed it hand-made histories that break
 * each invariant and assert that it says so, and a legal history that it
 * accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "checker.h"
#include "digest.h"

struct fake_log {
        struct raft_entry e[16];
        raft_index snapshot_index;
        raft_index last;
};

static const struct raft_entry *fake_entry_at(const void *log, raft_index index) {
        const struct fake_log *l = log;

        if (index <= l->snapshot_index || index > l->last || index >= 16)
                return NULL;
        return &l->e[index];
}

/* A log whose entry i has term terms[i - 1] and payload "p<term>". */
static void fake_log_init(struct fake_log *l, const raft_term *terms, unsigned n) {
        static char payload[8][4] = { "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7" };

        memset(l, 0, sizeof(*l));
        for (unsigned i = 1; i <= n; i++)
                l->e[i] = (struct raft_entry) {
                        .index = i,
                        .term = terms[i - 1],
                        .type = RAFT_ENTRY_NORMAL,
                        .data = { payload[terms[i - 1] % 8], 2 },
                };
        l->last = n;
}

static struct checker_log view(const struct fake_log *l) {
        return (struct checker_log) {
                .log = l,
                .entry_at = fake_entry_at,
                .snapshot_index = l->snapshot_index,
                .last_index = l->last,
        };
}

static void expect_failure(struct checker *c, int r, const char *what) {
        assert_int_equal(r, -EPROTO);
        assert_non_null(checker_failure(c));
        assert_non_null(strstr(checker_failure(c), what));
}

static void checker_accepts_legal_history(void **state) {
        struct checker *c;
        struct fake_log a, b;
        const raft_term t[] = { 1, 1, 2, 2 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 4);
        fake_log_init(&b, t, 3);
        struct checker_log va = view(&a), vb = view(&b);

        assert_int_equal(checker_observe(c, 1, 2, true, 0, &va, true), 0);
        assert_int_equal(checker_observe(c, 2, 2, false, 0, &vb, true), 0);
        for (raft_index i = 1; i <= 3; i++) {
                assert_int_equal(checker_applied(c, 1, 2, &a.e[i]), 0);
                assert_int_equal(checker_applied(c, 2, 2, &b.e[i]), 0);
        }
        assert_int_equal(checker_read_issued(c, 1, 3), 0);
        assert_int_equal(checker_read_ready(c, 1, 3), 0);
        /* A new leader in term 3 that holds everything committed. */
        assert_int_equal(checker_observe(c, 2, 3, true, 3, &vb, false), 0);
        assert_null(checker_failure(c));
        checker_free(c);
}

static void checker_reports_two_leaders_in_one_term(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 1);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 5, true, 0, &va, true), 0);
        expect_failure(c, checker_observe(c, 2, 5, true, 0, &va, true), "Election Safety");
        checker_free(c);
}

static void checker_reports_same_node_leading_a_term_again_after_restart(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 1);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 5, true, 0, &va, true), 0);
        assert_int_equal(checker_observe(c, 1, 5, true, 0, &va, false), 0);
        assert_int_equal(checker_restarted(c, 1, 0, 0), 0);
        expect_failure(c, checker_observe(c, 1, 5, true, 0, &va, true), "again after a restart");
        checker_free(c);
}

static void checker_reports_divergent_applied_entry(void **state) {
        struct checker *c;
        struct fake_log a, b;
        const raft_term ta[] = { 1, 2 }, tb[] = { 1, 3 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, ta, 2);
        fake_log_init(&b, tb, 2);
        assert_int_equal(checker_applied(c, 1, 2, &a.e[1]), 0);
        assert_int_equal(checker_applied(c, 1, 2, &a.e[2]), 0);
        assert_int_equal(checker_applied(c, 2, 3, &b.e[1]), 0);
        expect_failure(c, checker_applied(c, 2, 3, &b.e[2]), "State Machine Safety");
        checker_free(c);
}

static void checker_reports_applying_out_of_order(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 1, 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 3);
        assert_int_equal(checker_applied(c, 1, 1, &a.e[1]), 0);
        expect_failure(c, checker_applied(c, 1, 1, &a.e[3]), "applied index 3 after 1");
        checker_free(c);
}

static void checker_reports_snapshot_that_differs_from_applied_state(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 2);
        assert_int_equal(checker_applied(c, 1, 1, &a.e[1]), 0);
        assert_int_equal(checker_applied(c, 1, 1, &a.e[2]), 0);
        expect_failure(c, checker_snapshot(c, 2, 2, 0x1234), "snapshot at 2");
        checker_free(c);
}

static void checker_reports_stale_read(void **state) {
        struct checker *c;

        assert_int_equal(checker_new(&c), 0);
        assert_int_equal(checker_read_issued(c, 7, 10), 0);
        expect_failure(c, checker_read_ready(c, 7, 9), "ReadIndex safety");
        checker_free(c);
}

static void checker_reports_read_served_below_applied_commit(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 1, 1 };

        /* No node reports commit 3, but it was applied: that counts too. */
        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 3);
        for (raft_index i = 1; i <= 3; i++)
                assert_int_equal(checker_applied(c, 1, 1, &a.e[i]), 0);
        assert_int_equal(checker_read_issued(c, 1, 0), 0);
        expect_failure(c, checker_read_ready(c, 1, 2), "ReadIndex safety");
        checker_free(c);
}

static void checker_reports_log_mismatch_at_same_index_and_term(void **state) {
        struct checker *c;
        struct fake_log a, b;
        const raft_term ta[] = { 1, 2, 3 }, tb[] = { 1, 1, 3 };

        /* Same (3, 3) in both logs, but sitting on different terms at 2. */
        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, ta, 3);
        fake_log_init(&b, tb, 3);
        struct checker_log va = view(&a), vb = view(&b);

        assert_int_equal(checker_observe(c, 1, 3, false, 0, &va, true), 0);
        expect_failure(c, checker_observe(c, 2, 3, false, 0, &vb, true), "Log Matching");
        checker_free(c);
}

static void checker_reports_leader_overwriting_its_log(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 2, 2 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 3);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 2, true, 0, &va, true), 0);
        a.last = 2;
        va = view(&a);
        expect_failure(c, checker_observe(c, 1, 2, true, 0, &va, true), "Leader Append-Only");
        checker_free(c);
}

static void checker_reports_leader_missing_committed_entry(void **state) {
        struct checker *c;
        struct fake_log a, b;
        const raft_term ta[] = { 1, 1, 1 }, tb[] = { 1, 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, ta, 3);
        fake_log_init(&b, tb, 2);
        struct checker_log vb = view(&b);

        for (raft_index i = 1; i <= 3; i++)
                assert_int_equal(checker_applied(c, 1, 1, &a.e[i]), 0);
        /* n2 leads term 2 without entry 3, committed in term 1. */
        expect_failure(c, checker_observe(c, 2, 2, true, 2, &vb, true), "Leader Completeness");
        checker_free(c);
}

static void checker_allows_stale_leader_without_newer_commits(void **state) {
        struct checker *c;
        struct fake_log a, b;
        const raft_term ta[] = { 1, 1, 3 }, tb[] = { 1, 1 };

        /* Entry 3 was committed in term 3; a deposed leader of term 2 that
         * still believes it leads need not hold it. */
        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, ta, 3);
        fake_log_init(&b, tb, 2);
        struct checker_log vb = view(&b);

        for (raft_index i = 1; i <= 3; i++)
                assert_int_equal(checker_applied(c, 1, 3, &a.e[i]), 0);
        assert_int_equal(checker_observe(c, 2, 2, true, 2, &vb, true), 0);
        assert_null(checker_failure(c));
        checker_free(c);
}

static void checker_reports_commit_index_going_back(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 1 };

        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 2);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 1, false, 2, &va, false), 0);
        expect_failure(c, checker_observe(c, 1, 1, false, 1, &va, false), "commit index went back");
        checker_free(c);
}

static void checker_reports_leader_committing_old_term_entry_by_counting(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 2, 2, 4 };

        /* Leader of term 4 moves its commit index from 1 to 3 (term 2):
         * only an entry of term 4 may be committed by counting. */
        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 4);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 4, true, 1, &va, true), 0);
        expect_failure(c, checker_observe(c, 1, 4, true, 3, &va, false), "Commit rule");
        checker_free(c);
}

static void checker_allows_leader_commit_on_own_term_entry(void **state) {
        struct checker *c;
        struct fake_log a;
        const raft_term t[] = { 1, 2, 2, 4 };

        /* A commit index that was already high when it won stays legal. */
        assert_int_equal(checker_new(&c), 0);
        fake_log_init(&a, t, 4);
        struct checker_log va = view(&a);

        assert_int_equal(checker_observe(c, 1, 4, false, 3, &va, true), 0);
        assert_int_equal(checker_observe(c, 1, 4, true, 3, &va, false), 0);
        assert_int_equal(checker_observe(c, 1, 4, true, 4, &va, false), 0);
        assert_null(checker_failure(c));
        checker_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(checker_accepts_legal_history),
                cmocka_unit_test(checker_reports_two_leaders_in_one_term),
                cmocka_unit_test(checker_reports_same_node_leading_a_term_again_after_restart),
                cmocka_unit_test(checker_reports_divergent_applied_entry),
                cmocka_unit_test(checker_reports_applying_out_of_order),
                cmocka_unit_test(checker_reports_snapshot_that_differs_from_applied_state),
                cmocka_unit_test(checker_reports_stale_read),
                cmocka_unit_test(checker_reports_read_served_below_applied_commit),
                cmocka_unit_test(checker_reports_log_mismatch_at_same_index_and_term),
                cmocka_unit_test(checker_reports_leader_overwriting_its_log),
                cmocka_unit_test(checker_reports_leader_missing_committed_entry),
                cmocka_unit_test(checker_allows_stale_leader_without_newer_commits),
                cmocka_unit_test(checker_reports_commit_index_going_back),
                cmocka_unit_test(checker_reports_leader_committing_old_term_entry_by_counting),
                cmocka_unit_test(checker_allows_leader_commit_on_own_term_entry),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
