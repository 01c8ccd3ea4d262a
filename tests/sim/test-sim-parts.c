/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator's building blocks on their own: the PRNG is reproducible,
 * the agenda pops in (time, insertion) order, the network honours
 * partitions, loss and duplication, and message copies are deep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "eventq.h"
#include "message.h"
#include "net.h"
#include "prng.h"

static void prng_same_seed_gives_same_sequence(void **state) {
        struct prng a, b, c;

        prng_seed(&a, 42);
        prng_seed(&b, 42);
        prng_seed(&c, 43);
        for (unsigned i = 0; i < 1000; i++) {
                uint64_t x = prng_next(&a);

                assert_int_equal(x, prng_next(&b));
                assert_true(x != prng_next(&c) || i > 0);
        }
        for (unsigned i = 0; i < 1000; i++) {
                uint64_t x = prng_range(&a, 5, 9);

                assert_true(x >= 5 && x <= 9);
        }
}

static void eventq_pops_by_time_then_insertion(void **state) {
        struct eventq q = {};
        struct sim_event ev;
        const uint64_t at[] = { 30, 10, 20, 10, 30, 0 };

        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(eventq_push(&q, (struct sim_event) { .at = at[i], .node = i }), 0);
        const uint64_t order[] = { 5, 1, 3, 2, 0, 4 };
        for (unsigned i = 0; i < 6; i++) {
                assert_int_equal(eventq_pop(&q, &ev), 1);
                assert_int_equal(ev.node, order[i]);
        }
        assert_int_equal(eventq_pop(&q, &ev), 0);
        eventq_done(&q);
}

static void net_partitions_block_the_right_links(void **state) {
        struct net n;
        struct prng p;
        uint64_t d[2];

        prng_seed(&p, 1);
        net_init(&n, 1, 5);
        assert_int_equal(net_route(&n, &p, 1, 2, d), 1);
        assert_true(d[0] >= 1 && d[0] <= 5);

        net_block(&n, 1, 2); /* one way */
        assert_false(net_connected(&n, 1, 2));
        assert_true(net_connected(&n, 2, 1));
        assert_int_equal(net_route(&n, &p, 1, 2, d), 0);

        net_heal(&n);
        net_split(&n, (1u << 1) | (1u << 2)); /* {1,2} | rest */
        assert_true(net_connected(&n, 1, 2));
        assert_false(net_connected(&n, 1, 3));
        assert_false(net_connected(&n, 3, 2));
        assert_true(net_connected(&n, 3, 4));

        net_heal(&n);
        net_isolate(&n, 3);
        assert_false(net_connected(&n, 3, 1));
        assert_false(net_connected(&n, 1, 3));
        assert_true(net_connected(&n, 1, 2));
        net_heal(&n);
        assert_true(net_connected(&n, 3, 1));
}

static void net_loses_and_duplicates_at_the_configured_rate(void **state) {
        struct net n;
        struct prng p;
        uint64_t d[2];
        unsigned copies[3] = {};

        prng_seed(&p, 7);
        net_init(&n, 1, 10);
        n.loss_permille = 200;
        n.dup_permille = 100;
        for (unsigned i = 0; i < 10000; i++)
                copies[net_route(&n, &p, 1, 2, d)]++;
        assert_in_range(copies[0], 1500, 2500);
        assert_in_range(copies[2], 500, 1200);
}

static void message_copy_is_deep(void **state) {
        char payload[] = "abc";
        struct raft_entry e = { .term = 2, .index = 5, .type = RAFT_ENTRY_NORMAL, .data = { payload, 3 } };
        struct raft_message m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2 }, *copy;

        m.append.n_entries = 1;
        m.append.entries = &e;
        assert_int_equal(message_copy(&m, &copy), 0);
        payload[0] = 'X';
        assert_ptr_not_equal(copy->append.entries, &e);
        assert_memory_equal(copy->append.entries[0].data.base, "abc", 3);
        message_free(copy);

        uint8_t chunk[4] = { 1, 2, 3, 4 };
        struct raft_message s = { .type = RAFT_MSG_SNAPSHOT };
        s.snapshot.data = (struct raft_buf) { chunk, 4 };
        assert_int_equal(message_copy(&s, &copy), 0);
        chunk[0] = 9;
        assert_int_equal(((uint8_t *) copy->snapshot.data.base)[0], 1);
        message_free(copy);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(prng_same_seed_gives_same_sequence),
                cmocka_unit_test(eventq_pops_by_time_then_insertion),
                cmocka_unit_test(net_partitions_block_the_right_links),
                cmocka_unit_test(net_loses_and_duplicates_at_the_configured_rate),
                cmocka_unit_test(message_copy_is_deep),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
