/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The history parser: what it accepts, and that anything else is refused
 * with the number of the offending line - also for random garbage and
 * random damage to good histories (FAULT_CHECK_SEED=N replays that). */
#include "fault/check/check-test.h"

static void well_formed_history_is_paired_into_operations(void **state) {
        struct history *h = parse_ok("# raftd-history 1 seed=77 workload=register\n"
                                     "# a comment\n"
                                     "10 1 invoke cas k - 5\n"
                                     "20 2 invoke get k\n"
                                     "30 1 fail cas k - 5 mismatch\n"
                                     "40 2 ok get k 5\n"
                                     "50 3 invoke put k 6\n"
                                     "60 4 invoke read-set s\n"
                                     "70 4 ok read-set s 1,2,3\n"
                                     "80 9 ok write-fenced r 1 2 3 4\n");

        assert_int_equal(h->seed, 77);
        assert_int_equal(h->n_events, 8);
        assert_int_equal(h->n_ops, 5);
        assert_int_equal(h->ops[0].kind, OP_CAS);
        assert_int_equal(h->ops[0].result, RESULT_FAIL);
        assert_string_equal(h->ops[0].reason, "mismatch");
        assert_false(h->ops[0].expected.present);
        assert_int_equal(h->ops[0].value.v, 5);
        assert_int_equal(h->ops[1].result, RESULT_OK);
        assert_int_equal(h->ops[1].value.v, 5);
        assert_int_equal(h->ops[2].result, RESULT_PENDING);
        assert_int_equal(h->ops[3].n_elements, 3);
        assert_int_equal(h->ops[3].elements[2], 3);
        assert_int_equal(h->ops[4].result, RESULT_OBSERVED_OK);
        assert_int_equal(h->ops[4].num[3], 4);
        assert_int_equal(h->events[h->ops[1].ev_complete].line_no, 6);
        assert_ptr_equal(h->ops[0].key, h->ops[1].key); /* keys are interned */
        history_free(h);
}

static void malformed_lines_are_refused_with_their_line_number(void **state) {
        static const struct {
                const char *text;
                size_t line;
                const char *says;
        } cases[] = {
                { "", 1, "empty history" },
                { "10 1 invoke get k\n", 1, "first line" },
                { "# raftd-history 2 seed=1\n", 1, "version" },
                { "# raftd-history 1 seed=x\n", 1, "seed" },
                { "# raftd-history 1 seed=1 junk\n", 1, "name=value" },
                { HEADER "\n", 2, "empty line" },
                { HEADER "10 1 invoke get  k\n", 2, "empty field" },
                { HEADER "10 1 invoke get k \n", 2, "empty field" },
                { HEADER "10\t1 invoke get k\n", 2, "control character" },
                { HEADER "10 1 invoke get k\r\n", 2, "control character" },
                { HEADER "10 1 start get k\n", 2, "event type" },
                { HEADER "10 1 invoke frob k\n", 2, "unknown operation" },
                { HEADER "10 1 invoke get\n", 2, "arguments" },
                { HEADER "10 1 invoke get k extra\n", 2, "arguments" },
                { HEADER "10 1 invoke put k -\n", 2, "not a decimal" },
                { HEADER "10 1 invoke put k -5\n", 2, "not a decimal" },
                { HEADER "10 1 invoke put k 18446744073709551616\n", 2, "not a decimal" },
                { HEADER "-1 1 invoke get k\n", 2, "time" },
                { HEADER "10 x invoke get k\n", 2, "process" },
                { HEADER "10 1 ok get k 1\n", 2, "did not invoke" },
                { HEADER "10 1 invoke get k\n20 1 invoke get k\n", 3, "outstanding" },
                { HEADER "10 1 invoke get k\n20 1 ok get j 1\n", 3, "does not match" },
                { HEADER "10 1 invoke put k 1\n20 1 ok put k 2\n", 3, "does not match" },
                { HEADER "10 1 invoke put k 1\n20 1 ok get k 1\n", 3, "does not match" },
                { HEADER "10 1 invoke put k 1\n5 1 ok put k 1\n", 3, "precedes" },
                { HEADER "10 1 invoke put k 1\n20 1 ok put k 1 because\n", 3, "arguments" },
                { HEADER "10 1 invoke get k\n20 1 unknown get k\n30 1 invoke get k\n", 4, "used again" },
                { HEADER "10 1 invoke write-fenced r 1 2 3 4\n", 2, "observation" },
                { HEADER "10 1 fail write-fenced r 1 2 3 4\n", 2, "stale" },
                { HEADER "10 1 fail applied k 1 2\n", 2, "failed observation" },
                { HEADER "10 1 ok read-set s 1,,2\n", 2, "element list" },
                { HEADER "# gap 5\n", 2, "gap" },
                { HEADER "# gap 9 5\n", 2, "before it starts" },
                { HEADER "10 1 invoke get k\n20 1 ok get k 1\n30 2 invoke get k\n40 2 ok get k\0", 5, "NUL" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = strlen(cases[i].text);
                struct history_error error;
                struct history *h = NULL;

                /* The NUL case: count the byte after the string too. */
                if (strstr(cases[i].says, "NUL"))
                        len++;
                if (history_parse(cases[i].text, len, &h, &error) != -EINVAL)
                        fail_msg("case %zu was accepted", i);
                assert_null(h);
                if (error.line_no != cases[i].line || !strstr(error.message, cases[i].says))
                        fail_msg("case %zu: line %zu '%s', wanted line %zu mentioning '%s'", i, error.line_no,
                                 error.message, cases[i].line, cases[i].says);
        }
}

static void final_line_without_newline_is_read(void **state) {
        struct history *h = parse_ok(HEADER "10 1 invoke get k\n20 1 ok get k 3");

        assert_int_equal(h->ops[0].value.v, 3);
        history_free(h);
}

/* Whatever the input: no crash (the sanitizer build watches), either a
 * history or an error on a line that exists; a parsed history can be
 * checked. */
static void parse_and_check_anything(const char *data, size_t size) {
        struct history_error error;
        struct history *h = NULL;
        size_t lines = 1;
        int r;

        for (size_t i = 0; i + 1 < size; i++)
                lines += data[i] == '\n';
        r = history_parse(data, size, &h, &error);
        if (r < 0) {
                assert_int_equal(r, -EINVAL);
                assert_true(error.line_no >= 1 && error.line_no <= lines);
                assert_true(error.message[0] != '\0');
                return;
        }
        for (enum workload w = WORKLOAD_REGISTER; w < _WORKLOAD_MAX; w++) {
                struct check_result res = {};

                assert_int_equal(check_history(h, w, 10000, &res), 0);
                check_result_done(&res);
        }
        history_free(h);
}

static void random_garbage_and_damaged_histories_never_crash(void **state) {
        static const char good[] = HEADER "10 1 invoke put k 1\n"
                                          "20 1 ok put k 1\n"
                                          "25 2 invoke cas k 1 2\n"
                                          "30 2 fail cas k 1 2 mismatch\n"
                                          "35 3 invoke add s 4\n"
                                          "40 3 unknown add s 4\n"
                                          "45 4 invoke read-set s\n"
                                          "50 4 ok read-set s 4,5\n"
                                          "55 5 invoke incr r\n"
                                          "60 9 ok write-fenced r 1 0 0 1\n"
                                          "65 5 ok incr r 1\n"
                                          "70 9 ok applied k 1 3\n"
                                          "# gap 4 6\n";
        static const char alphabet[] = "0123456789 \n-#,abcdegiklnoprstuvkw=\t";
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        char buf[sizeof(good) + 64];

        for (unsigned round = 0; round < 20000; round++) {
                size_t size;

                if (round % 2 == 0) {
                        /* Damage a good history: flip, insert or cut bytes. */
                        memcpy(buf, good, sizeof(good) - 1);
                        size = sizeof(good) - 1;
                        for (unsigned k = 1 + (unsigned) rng_below(&rng, 4); k > 0 && size > 0; k--) {
                                size_t at = rng_below(&rng, size);
                                char c = rng_below(&rng, 8) == 0 ? (char) rng_below(&rng, 256)
                                                                 : alphabet[rng_below(&rng, sizeof(alphabet) - 1)];

                                switch (rng_below(&rng, 3)) {
                                case 0:
                                        buf[at] = c;
                                        break;
                                case 1:
                                        if (size < sizeof(buf)) {
                                                memmove(buf + at + 1, buf + at, size - at);
                                                buf[at] = c;
                                                size++;
                                        }
                                        break;
                                default:
                                        size = at;
                                }
                        }
                } else {
                        size = rng_below(&rng, sizeof(buf));
                        memcpy(buf, HEADER, MIN(size, strlen(HEADER)));
                        for (size_t i = MIN(size, strlen(HEADER)); i < size; i++)
                                buf[i] = alphabet[rng_below(&rng, sizeof(alphabet) - 1)];
                }
                parse_and_check_anything(buf, size);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(well_formed_history_is_paired_into_operations),
                cmocka_unit_test(malformed_lines_are_refused_with_their_line_number),
                cmocka_unit_test(final_line_without_newline_is_read),
                cmocka_unit_test(random_garbage_and_damaged_histories_never_crash),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
