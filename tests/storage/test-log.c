/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The segmented log: group commit, reopen, suffix truncation, rollover,
 * compaction, reset and refusal of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "storage-test.h"
#include "storage/log.h"

#define SALT 7
#define MAXLEN 200

struct fixture {
        char *dir;
        struct test_sink sink;
        struct storage_log_options o;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        f->dir = test_dir_new();
        test_sink_init(&f->sink);
        f->o = (struct storage_log_options) { .segment_size = 4096, .log = &f->sink.sink };
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

static struct storage_log *reopen(struct fixture *f, struct storage_log *l, struct raft_entry **e, size_t *n) {
        struct storage_log *nl;

        storage_log_close(l);
        assert_int_equal(storage_log_open(f->dir, &f->o, &nl, e, n), 0);
        return nl;
}

static void append(struct storage_log *l, raft_index first, size_t n, raft_term term) {
        struct raft_entry *e = test_entries_new(first, n, term, SALT, MAXLEN);

        assert_int_equal(storage_log_append(l, e, n), 0);
        test_entries_free(e, n);
}

/* Entries [first, first + n) carry the given term and its content. */
static void assert_entries(const struct raft_entry *e, size_t n, raft_index first, const raft_term *terms) {
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(e[i].index, first + i);
                assert_true(test_entry_matches(&e[i], terms[i], SALT, MAXLEN));
        }
}

static void log_entries_survive_sync_and_reopen(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_term terms[30];
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        assert_int_equal(n, 0);
        free(e);
        append(l, 1, 10, 1);
        append(l, 11, 20, 2);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_first_index(l), 1);
        assert_int_equal(storage_log_last_index(l), 30);

        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 30);
        for (unsigned i = 0; i < 30; i++)
                terms[i] = i < 10 ? 1 : 2;
        assert_entries(e, n, 1, terms);
        storage_entries_free(e, n);

        /* Appending continues after a reopen. */
        append(l, 31, 1, 2);
        assert_int_equal(storage_log_sync(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 31);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_append_replaces_suffix_within_segment(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_term terms[12] = { 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3 };
        size_t n;

        f->o.segment_size = 1 << 20;
        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        append(l, 1, 10, 1);
        assert_int_equal(storage_log_sync(l), 0);
        /* Conflict at 6: entries 6..10 of term 1 must go. */
        append(l, 6, 7, 3);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_last_index(l), 12);
        assert_int_equal(storage_log_n_segments(l), 1);

        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 12);
        assert_entries(e, n, 1, terms);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_append_replaces_unsynced_suffix(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_term terms[7] = { 1, 1, 1, 1, 2, 2, 2 };
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        /* Both appends belong to one batch: the cut falls in the buffer. */
        append(l, 1, 10, 1);
        append(l, 5, 3, 2);
        assert_int_equal(storage_log_sync(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 7);
        assert_entries(e, n, 1, terms);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_append_replaces_suffix_across_segments(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_term terms[300];
        raft_term t;
        size_t n, segs_before;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        for (unsigned i = 0; i < 10; i++) {
                append(l, 1 + i * 20, 20, 1);
                assert_int_equal(storage_log_sync(l), 0);
        }
        segs_before = storage_log_n_segments(l);
        assert_true(segs_before >= 5);
        /* Cut near the start: the later segment files must disappear. */
        append(l, 15, 5, 4);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_last_index(l), 19);
        assert_true(storage_log_n_segments(l) < segs_before);
        assert_int_equal(storage_log_term_at(l, 14, &t), 0);
        assert_int_equal(t, 1);
        assert_int_equal(storage_log_term_at(l, 15, &t), 0);
        assert_int_equal(t, 4);
        assert_int_equal(storage_log_term_at(l, 20, &t), -ENOENT);

        /* The log keeps growing after the cut, over new segments. */
        append(l, 20, 100, 4);
        assert_int_equal(storage_log_sync(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 119);
        for (unsigned i = 0; i < n; i++)
                terms[i] = i < 14 ? 1 : 4;
        assert_entries(e, n, 1, terms);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_rolls_over_into_prepared_segment(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        /* Fill the first segment past half: sync prepares segment 2
         * before any append needs it. */
        do {
                append(l, storage_log_last_index(l) + 1, 1, 1);
                assert_int_equal(storage_log_sync(l), 0);
        } while (storage_log_n_segments(l) == 1 && !test_file_exists(f->dir, "log-0000000000000002"));
        assert_int_equal(storage_log_n_segments(l), 1);
        assert_int_equal(test_file_size(f->dir, "log-0000000000000002"), f->o.segment_size);

        while (storage_log_n_segments(l) < 3) {
                append(l, storage_log_last_index(l) + 1, 3, 1);
                assert_int_equal(storage_log_sync(l), 0);
        }
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, storage_log_last_index(l));
        for (size_t i = 0; i < n; i++)
                assert_true(test_entry_matches(&e[i], 1, SALT, MAXLEN));
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_compaction_drops_only_whole_segments_at_or_below_index(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;
        raft_index first;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        for (unsigned i = 0; i < 20; i++) {
                append(l, 1 + i * 10, 10, 1);
                assert_int_equal(storage_log_sync(l), 0);
        }
        assert_true(storage_log_n_segments(l) >= 4);
        assert_int_equal(storage_log_compact(l, 100), 0);
        first = storage_log_first_index(l);
        /* Nothing above the snapshot index is lost, and whole segments at
         * or below it are gone. */
        assert_true(first > 1);
        assert_true(first <= 101);
        assert_int_equal(storage_log_last_index(l), 200);

        l = reopen(f, l, &e, &n);
        assert_int_equal(e[0].index, first);
        assert_int_equal(n, 200 - first + 1);
        storage_entries_free(e, n);

        /* Compacting past the end keeps the segment being appended to. */
        assert_int_equal(storage_log_compact(l, 1000), 0);
        assert_int_equal(storage_log_n_segments(l), 1);
        assert_int_equal(storage_log_last_index(l), 200);
        storage_log_close(l);
}

static void log_reset_drops_everything_and_restarts_anywhere(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        append(l, 1, 100, 1);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_reset(l), 0);
        assert_int_equal(storage_log_last_index(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 0);
        free(e);
        /* After installing a snapshot at 500 the log restarts at 501. */
        append(l, 501, 5, 3);
        assert_int_equal(storage_log_sync(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 5);
        assert_int_equal(e[0].index, 501);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_refuses_bad_input_and_changes_nothing(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e, big;
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        append(l, 1, 10, 2);
        assert_int_equal(storage_log_sync(l), 0);

        big = (struct raft_entry) { .index = 11, .term = 2, .type = RAFT_ENTRY_NORMAL };
        big.data.len = STORAGE_LOG_ENTRY_MAX + 1;
        big.data.base = calloc(1, big.data.len);
        assert_non_null(big.data.base);
        assert_int_equal(storage_log_append(l, &big, 1), -EMSGSIZE);
        /* Oversized at the conflict point: the suffix must survive too. */
        big.index = 5;
        assert_int_equal(storage_log_append(l, &big, 1), -EMSGSIZE);
        free(big.data.base);

        e = test_entries_new(13, 1, 2, SALT, MAXLEN); /* gap after 10 */
        assert_int_equal(storage_log_append(l, e, 1), -ERANGE);
        e[0].index = 11;
        e[0].term = 1; /* term goes backwards */
        assert_int_equal(storage_log_append(l, e, 1), -EINVAL);
        e[0].term = 2;
        e[0].type = 99;
        assert_int_equal(storage_log_append(l, e, 1), -EINVAL);
        test_entries_free(e, 1);
        e = test_entries_new(11, 2, 2, SALT, MAXLEN);
        e[1].index = 13; /* not consecutive */
        assert_int_equal(storage_log_append(l, e, 2), -EINVAL);
        test_entries_free(e, 2);

        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_last_index(l), 10);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 10);
        for (size_t i = 0; i < n; i++)
                assert_true(test_entry_matches(&e[i], 2, SALT, MAXLEN));
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_holds_entry_larger_than_segment(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e, big = { .index = 2, .term = 1, .type = RAFT_ENTRY_NORMAL };
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        append(l, 1, 1, 1);
        big.data.len = 3 * f->o.segment_size;
        big.data.base = malloc(big.data.len);
        memset(big.data.base, 0xab, big.data.len);
        assert_int_equal(storage_log_append(l, &big, 1), 0);
        append(l, 3, 1, 1);
        assert_int_equal(storage_log_sync(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 3);
        assert_int_equal(e[1].data.len, big.data.len);
        assert_memory_equal(e[1].data.base, big.data.base, big.data.len);
        free(big.data.base);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void log_fits_snapshot_left_by_crash_during_install(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta meta = { .index = 50, .term = 2 };
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        append(l, 1, 40, 1);
        append(l, 41, 20, 2);
        assert_int_equal(storage_log_sync(l), 0);

        /* The log holds the snapshot's last entry with its term: kept. */
        assert_int_equal(storage_log_fit_snapshot(l, &meta), 0);
        assert_int_equal(storage_log_last_index(l), 60);
        /* Started right after the snapshot: kept. */
        meta.index = 0;
        assert_int_equal(storage_log_fit_snapshot(l, &meta), 0);

        /* Another history at the snapshot's index: the old log goes. */
        meta = (struct raft_snapshot_meta) { .index = 50, .term = 3 };
        assert_int_equal(storage_log_fit_snapshot(l, &meta), 1);
        assert_int_equal(storage_log_last_index(l), 0);
        l = reopen(f, l, &e, &n);
        assert_int_equal(n, 0);
        free(e);

        /* A log entirely before the snapshot is dropped as well. */
        append(l, 1, 10, 1);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_fit_snapshot(l, &meta), 1);
        assert_int_equal(storage_log_last_index(l), 0);

        /* A log starting beyond the snapshot has a hole: refused. */
        append(l, 70, 5, 3);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_fit_snapshot(l, &meta), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "missing", NULL));
        assert_int_equal(storage_log_last_index(l), 74);
        storage_log_close(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(log_entries_survive_sync_and_reopen, setup, teardown),
                cmocka_unit_test_setup_teardown(log_append_replaces_suffix_within_segment, setup, teardown),
                cmocka_unit_test_setup_teardown(log_append_replaces_unsynced_suffix, setup, teardown),
                cmocka_unit_test_setup_teardown(log_append_replaces_suffix_across_segments, setup, teardown),
                cmocka_unit_test_setup_teardown(log_rolls_over_into_prepared_segment, setup, teardown),
                cmocka_unit_test_setup_teardown(log_compaction_drops_only_whole_segments_at_or_below_index, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(log_reset_drops_everything_and_restarts_anywhere, setup, teardown),
                cmocka_unit_test_setup_teardown(log_refuses_bad_input_and_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(log_holds_entry_larger_than_segment, setup, teardown),
                cmocka_unit_test_setup_teardown(log_fits_snapshot_left_by_crash_during_install, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
