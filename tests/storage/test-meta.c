/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hard state and configuration: atomic replacement through two
 * alternating files, fallback to the older copy after a torn write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "storage-test.h"
#include "storage/meta.h"

struct fixture {
        char *dir;
        struct test_sink sink;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        f->dir = test_dir_new();
        test_sink_init(&f->sink);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        test_dir_remove(f->dir);
        test_sink_clear(&f->sink);
        free(f);
        return 0;
}

static struct storage_meta_state make_state(raft_term term, raft_id vote, unsigned n_servers) {
        struct storage_meta_state st = { .hs = { term, vote } };

        if (n_servers > 0) {
                st.config_index = term * 10;
                st.config.n = n_servers;
                for (unsigned i = 0; i < n_servers; i++)
                        st.config.servers[i] = (struct raft_server) { 100 + i, i == 0 ? RAFT_LEARNER : RAFT_VOTER };
        }
        return st;
}

static void assert_state_equal(const struct storage_meta_state *a, const struct storage_meta_state *b) {
        assert_int_equal(a->hs.term, b->hs.term);
        assert_int_equal(a->hs.vote, b->hs.vote);
        assert_int_equal(a->config_index, b->config_index);
        assert_int_equal(a->config.n, b->config.n);
        assert_memory_equal(a->config.servers, b->config.servers, a->config.n * sizeof(struct raft_server));
}

static void save_and_close(struct fixture *f, const struct storage_meta_state *st) {
        struct storage_meta *m;
        struct storage_meta_state old;

        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &old), 0);
        assert_int_equal(storage_meta_save(m, st), 0);
        storage_meta_close(m);
}

static void meta_fresh_directory_has_zero_state(void **state) {
        struct fixture *f = *state;
        struct storage_meta *m;
        struct storage_meta_state st, zero = {};

        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &zero);
        storage_meta_close(m);
}

static void meta_latest_save_wins_after_reopen(void **state) {
        struct fixture *f = *state;
        struct storage_meta *m;
        struct storage_meta_state st, a = make_state(3, 2, 3), b = make_state(4, 0, 5), c = make_state(5, 7, 0);

        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_int_equal(storage_meta_save(m, &a), 0);
        assert_int_equal(storage_meta_save(m, &b), 0);
        storage_meta_close(m);
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &b);
        assert_int_equal(storage_meta_save(m, &c), 0);
        storage_meta_close(m);
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &c);
        storage_meta_close(m);
        assert_int_equal(f->sink.n, 0);
}

static void meta_torn_newer_copy_falls_back_to_older(void **state) {
        struct fixture *f = *state;
        struct storage_meta *m;
        struct storage_meta_state st, a = make_state(3, 2, 3), b = make_state(4, 1, 3), c = make_state(6, 1, 1);

        save_and_close(f, &a); /* metadata1 */
        save_and_close(f, &b); /* metadata2 */
        test_file_flip_bit(f->dir, "metadata2", 25, 0); /* the term of b */
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &a);
        assert_non_null(test_sink_find(&f->sink, "metadata2", "damaged", NULL));
        /* The next save replaces the damaged copy, not the valid one. */
        assert_int_equal(storage_meta_save(m, &c), 0);
        storage_meta_close(m);
        test_sink_clear(&f->sink);
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &c);
        assert_int_equal(f->sink.n, 0);
        storage_meta_close(m);

        /* A half-written newer copy (write stopped early) also falls back. */
        save_and_close(f, &a); /* metadata1 again, newest */
        test_file_truncate(f->dir, "metadata1", 40);
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), 0);
        assert_state_equal(&st, &c);
        storage_meta_close(m);
}

static void meta_refuses_when_no_copy_is_valid(void **state) {
        struct fixture *f = *state;
        struct storage_meta *m;
        struct storage_meta_state st, a = make_state(3, 2, 3);

        save_and_close(f, &a);
        save_and_close(f, &a);
        test_file_flip_bit(f->dir, "metadata1", 30, 0);
        test_file_flip_bit(f->dir, "metadata2", 30, 0);
        assert_int_equal(storage_meta_open(f->dir, &f->sink.sink, &m, &st), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "metadata", "refusing", NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(meta_fresh_directory_has_zero_state, setup, teardown),
                cmocka_unit_test_setup_teardown(meta_latest_save_wins_after_reopen, setup, teardown),
                cmocka_unit_test_setup_teardown(meta_torn_newer_copy_falls_back_to_older, setup, teardown),
                cmocka_unit_test_setup_teardown(meta_refuses_when_no_copy_is_valid, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
