/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The register search against an oracle: on small random histories (any
 * mix of reads, writes, CAS, mismatches and unknown ops, linearizable or
 * not) its verdict must equal that of trying every order and every subset
 * of the unknown ops, with none of the search's pruning.
 * FAULT_CHECK_SEED=N replays a run; FAULT_CHECK_ROUNDS sets the number of
 * histories (default 20000). */
#include "fault/check/check-test.h"
#include "fault/check/register-search.h"

#define MAX_OPS 9

static bool value_eq(struct reg_value a, struct reg_value b) {
        return a.present == b.present && (!a.present || a.v == b.v);
}

/* Whether the ops not yet placed can follow from state. */
static bool oracle(const struct reg_op *ops, size_t n, bool *placed, struct reg_value state) {
        bool done = true;

        for (size_t i = 0; i < n; i++)
                done &= placed[i] || ops[i].optional;
        if (done)
                return true;
        for (size_t x = 0; x < n; x++) {
                struct reg_value next = state;
                bool ok = !placed[x];

                /* Real time: nothing that returned before x was called may
                 * still be waiting. */
                for (size_t y = 0; y < n && ok; y++)
                        if (y != x && !placed[y] && !ops[y].optional && ops[y].t_return < ops[x].t_call)
                                ok = false;
                if (!ok)
                        continue;
                switch (ops[x].kind) {
                case REG_PUT:
                        next = ops[x].value;
                        break;
                case REG_DEL:
                        next = (struct reg_value) {};
                        break;
                case REG_GET:
                        ok = value_eq(state, ops[x].value);
                        break;
                case REG_CAS:
                        ok = value_eq(state, ops[x].expected);
                        next = ops[x].value;
                        break;
                case REG_CAS_MISMATCH:
                        ok = !value_eq(state, ops[x].expected);
                        break;
                }
                if (!ok)
                        continue;
                placed[x] = true;
                if (oracle(ops, n, placed, next)) {
                        placed[x] = false;
                        return true;
                }
                placed[x] = false;
        }
        return false;
}

static struct reg_value random_value(uint64_t *rng) {
        uint64_t v = rng_below(rng, 4);
        return v == 0 ? (struct reg_value) {} : (struct reg_value) { true, v };
}

static void search_agrees_with_trying_every_order(void **state) {
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        const char *env = getenv("FAULT_CHECK_ROUNDS");
        unsigned rounds = env ? (unsigned) strtoul(env, NULL, 10) : 20000, verdicts[2] = {};
        uint64_t written[4] = { 1, 2, 3 };

        for (unsigned round = 0; round < rounds; round++) {
                struct reg_op ops[MAX_OPS] = {};
                bool placed[MAX_OPS] = {};
                size_t n = 1 + rng_below(&rng, MAX_OPS);
                struct reg_search_input in = {
                        .ops = ops, .n_ops = n, .written = written, .n_written = 3, .budget = UINT64_MAX,
                };
                enum reg_search_result result;
                uint64_t steps = 0;
                bool expected;

                for (size_t i = 0; i < n; i++) {
                        ops[i].kind = (enum reg_step_kind) rng_below(&rng, 5);
                        ops[i].value = random_value(&rng);
                        ops[i].expected = random_value(&rng);
                        if (ops[i].kind == REG_PUT)
                                ops[i].value.present = true;
                        ops[i].t_call = rng_below(&rng, 20);
                        ops[i].t_return = ops[i].t_call + rng_below(&rng, 10);
                        ops[i].optional = (ops[i].kind == REG_PUT || ops[i].kind == REG_DEL || ops[i].kind == REG_CAS) &&
                                          rng_below(&rng, 3) == 0;
                }
                expected = oracle(ops, n, placed, (struct reg_value) {});
                assert_int_equal(reg_search(&in, &result, &steps), 0);
                if (result != (expected ? REG_LINEARIZABLE : REG_NOT_LINEARIZABLE)) {
                        for (size_t i = 0; i < n; i++)
                                printf("# op %zu: kind %d optional %d value %d/%" PRIu64 " expected %d/%" PRIu64 " [%" PRIu64 ", %" PRIu64 "]\n",
                                       i, ops[i].kind, ops[i].optional, ops[i].value.present, ops[i].value.v,
                                       ops[i].expected.present, ops[i].expected.v, ops[i].t_call, ops[i].t_return);
                        fail_msg("round %u: the search says %d, trying every order says %s", round, result,
                                 expected ? "linearizable" : "not linearizable");
                }
                verdicts[expected]++;
        }
        printf("# %u linearizable, %u not\n", verdicts[1], verdicts[0]);
        /* Both verdicts must have been exercised for the test to mean anything. */
        assert_true(rounds < 100 || (verdicts[0] > rounds / 10 && verdicts[1] > rounds / 10));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(search_agrees_with_trying_every_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
