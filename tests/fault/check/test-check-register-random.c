/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Randomised: histories made by running a sequential register under
 * clients whose operations overlap at random (some fail, some end unknown
 * and take effect later or never) are linearizable by construction, so the
 * checker must accept them; the same history with one read changed to a
 * value no linearization allows must be rejected.
 * FAULT_CHECK_SEED=N replays a run; FAULT_CHECK_ROUNDS sets the number of
 * histories (default 300). */
#include "fault/check/check-test.h"
#include "fault/check/history-sim.h"

/* Keep a history the checker got wrong, for raftd-check to replay. */
static void save_failed(const char *text, unsigned round) {
        char path[64];
        FILE *f;

        snprintf(path, sizeof(path), "fault-check-round-%u.hist", round);
        f = fopen(path, "we");
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
        printf("# history saved as %s\n", path);
}

static void run_round(uint64_t *rng, unsigned round) {
        struct sim s = {
                .rng = rng_next(rng),
                .n_keys = 1 + (unsigned) rng_below(rng, 3),
                .n_clients = 2 + (unsigned) rng_below(rng, 5),
                .pct_fail = (unsigned) rng_below(rng, 8),
                .pct_unknown = (unsigned) rng_below(rng, 8),
        };
        size_t n_ops = 10 + rng_below(rng, 300);
        _cleanup_free_ char *valid = NULL, *corrupt = NULL;
        const struct sim_read *rd;
        uint64_t v;

        assert_int_equal(sim_run(&s, n_ops), 0);
        valid = sim_text(&s);
        assert_non_null(valid);
        if (check_text(valid) != CHECK_VALID) {
                save_failed(valid, round);
                fail_msg("round %u: a linearizable history was rejected", round);
        }
        if (s.n_reads == 0) {
                sim_done(&s);
                return;
        }
        rd = &s.reads[rng_below(&s.rng, s.n_reads)];
        v = sim_impossible_value(&s, rd);
        assert_int_equal(sim_set_read(&s, rd, v), 0);
        corrupt = sim_text(&s);
        assert_non_null(corrupt);
        if (check_text(corrupt) != CHECK_VIOLATION) {
                save_failed(corrupt, round);
                fail_msg("round %u: a read of %" PRIu64 " on line %zu was accepted", round, v, rd->line + 1);
        }
        sim_done(&s);
}

static void generated_linearizable_histories_pass_and_one_bad_read_fails(void **state) {
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        const char *env = getenv("FAULT_CHECK_ROUNDS");
        unsigned rounds = env ? (unsigned) strtoul(env, NULL, 10) : 300;

        for (unsigned i = 0; i < rounds; i++)
                run_round(&rng, i);
}

static void long_single_key_history_is_decided_within_the_default_budget(void **state) {
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        struct sim s = { .rng = rng, .n_keys = 1, .n_clients = 5, .pct_fail = 2, .pct_unknown = 1 };
        _cleanup_free_ char *text = NULL;
        struct check_result res;

        assert_int_equal(sim_run(&s, 20000), 0);
        text = sim_text(&s);
        assert_non_null(text);
        if (check_text_budget(text, WORKLOAD_REGISTER, CHECK_DEFAULT_BUDGET, &res) != CHECK_VALID) {
                save_failed(text, 0);
                fail_msg("%s", res.findings[0].message);
        }
        printf("# 20000 ops on one key: %" PRIu64 " search steps\n", res.search_steps);
        check_result_done(&res);
        sim_done(&s);
}

/* When the search of the whole runs out of budget, windows are searched
 * (a violation near the end of a long history may be found there): on a
 * valid history they must not find one; one with a stale read must never
 * be called valid (found, or undecided when the windows cannot tell). */
static void windows_of_a_long_history_find_only_real_violations(void **state) {
        struct sim s = { .rng = test_seed("FAULT_CHECK_SEED"), .n_keys = 1, .n_clients = 5, .pct_fail = 2,
                         .pct_unknown = 1 };
        _cleanup_free_ char *valid = NULL, *stale = NULL;
        const struct sim_read *rd = NULL;
        struct check_result res;
        uint64_t v = 0;

        assert_int_equal(sim_run(&s, 10000), 0);
        valid = sim_text(&s);
        assert_non_null(valid);
        if (check_text_budget(valid, WORKLOAD_REGISTER, 20000, &res) == CHECK_VIOLATION) {
                save_failed(valid, 0);
                fail_msg("%s", res.findings[0].message);
        }
        check_result_done(&res);

        for (size_t i = s.n_reads; i > 0 && v == 0; i--) {
                rd = &s.reads[i - 1];
                v = sim_stale_value(&s, rd);
        }
        assert_true(v > 0);
        assert_int_equal(sim_set_read(&s, rd, v), 0);
        stale = sim_text(&s);
        assert_non_null(stale);
        if (check_text_budget(stale, WORKLOAD_REGISTER, 20000, &res) == CHECK_VALID) {
                save_failed(stale, 1);
                fail_msg("a history with a stale read on line %zu was called valid", rd->line + 1);
        }
        printf("# stale read: %s, %" PRIu64 " steps\n", res.verdict == CHECK_VIOLATION ? "found" : "undecided",
               res.search_steps);
        check_result_done(&res);
        sim_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(generated_linearizable_histories_pass_and_one_bad_read_fails),
                cmocka_unit_test(long_single_key_history_is_decided_within_the_default_budget),
                cmocka_unit_test(windows_of_a_long_history_find_only_real_violations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
