/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Damage to log files: a torn tail is cut off with a warning, damage to
 * synced records stops the open with an error naming file and offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "raft/wire.h"
#include "storage-test.h"
#include "storage/crc32c.h"
#include "storage/log.h"

/* 24 data bytes: every record takes 64 bytes, record k (from 0) starts at
 * 32 + 64 k in the first segment. */
#define DATA_LEN 24
#define RECORD(k) (32 + 64 * (uint64_t) (k))
#define SEG1 "log-0000000000000001"

struct fixture {
        char *dir;
        struct test_sink sink;
        struct storage_log_options o;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        f->dir = test_dir_new();
        test_sink_init(&f->sink);
        f->o = (struct storage_log_options) { .segment_size = 1 << 20, .log = &f->sink.sink };
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

/* Write batches of the given sizes, one sync each, starting at index 1. */
static void write_batches(struct fixture *f, const unsigned *sizes, unsigned n_batches) {
        struct storage_log *l;
        struct raft_entry *e;
        raft_index next = 1;
        size_t n;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        free(e);
        for (unsigned b = 0; b < n_batches; b++) {
                e = calloc(sizes[b], sizeof(*e));
                for (unsigned i = 0; i < sizes[b]; i++) {
                        e[i] = (struct raft_entry) { .index = next + i, .term = 1, .type = RAFT_ENTRY_NORMAL };
                        e[i].data.base = calloc(1, DATA_LEN);
                        e[i].data.len = DATA_LEN;
                        test_entry_fill(next + i, 1, 0, e[i].data.base, DATA_LEN);
                }
                assert_int_equal(storage_log_append(l, e, sizes[b]), 0);
                assert_int_equal(storage_log_sync(l), 0);
                test_entries_free(e, sizes[b]);
                next += sizes[b];
        }
        storage_log_close(l);
}

static int open_log(struct fixture *f, size_t *n) {
        struct storage_log *l = NULL;
        struct raft_entry *e = NULL;
        int r;

        *n = 0;
        r = storage_log_open(f->dir, &f->o, &l, &e, n);
        if (r >= 0) {
                for (size_t i = 0; i < *n; i++)
                        assert_int_equal(e[i].index, i + 1);
                storage_entries_free(e, *n);
                storage_log_close(l);
        }
        return r;
}

static void log_torn_last_record_is_cut_with_warning(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 5, 5 };
        size_t n;

        write_batches(f, batches, 2);
        test_file_flip_bit(f->dir, SEG1, RECORD(9) + 50, 3); /* data of entry 10 */
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 9);
        assert_non_null(test_sink_find(&f->sink, "torn", SEG1, "offset 608", NULL));

        /* The cut was made durable: the next open is clean. */
        test_sink_clear(&f->sink);
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 9);
        assert_int_equal(f->sink.n, 0);
}

static void log_partial_record_at_tail_is_cut(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 4, 4 };
        size_t n;

        write_batches(f, batches, 2);
        /* The write of the last record stopped halfway. */
        test_file_truncate(f->dir, SEG1, RECORD(7) + 30);
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 7);
        assert_non_null(test_sink_find(&f->sink, "torn", "offset 480", NULL));
}

static void log_garbage_after_last_record_is_cut(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 3 };
        size_t n;

        write_batches(f, batches, 1);
        test_file_flip_bit(f->dir, SEG1, RECORD(3) + 100, 0);
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 3);
        assert_non_null(test_sink_find(&f->sink, "torn", "offset 224", NULL));
}

static void log_flipped_bit_in_synced_middle_record_stops_open(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 5, 5 };
        size_t n;

        write_batches(f, batches, 2);
        test_file_flip_bit(f->dir, SEG1, RECORD(2) + 45, 6); /* data of entry 3 */
        assert_int_equal(open_log(f, &n), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "damaged", SEG1, "offset 160", NULL));

        /* Nothing was cut: undoing the damage restores every entry. */
        test_file_flip_bit(f->dir, SEG1, RECORD(2) + 45, 6);
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 10);
}

static void log_flipped_bit_in_record_header_stops_open(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 2, 2, 2 };
        size_t n;

        write_batches(f, batches, 3);
        test_file_flip_bit(f->dir, SEG1, RECORD(1) + 32, 4); /* data length of entry 2 */
        assert_int_equal(open_log(f, &n), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "damaged", SEG1, "offset 96", NULL));
}

/* Damage inside the last batch looks exactly like a torn write of that
 * batch (whose sync may never have completed): it is cut, not fatal. */
static void log_damage_inside_last_batch_counts_as_torn(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 2, 8 };
        size_t n;

        write_batches(f, batches, 2);
        test_file_flip_bit(f->dir, SEG1, RECORD(4) + 45, 1); /* entry 5 of batch 3..10 */
        assert_int_equal(open_log(f, &n), 0);
        assert_int_equal(n, 4);
        assert_non_null(test_sink_find(&f->sink, "torn", "offset 288", NULL));
}

static void log_bad_segment_header_stops_open(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 3 };
        size_t n;

        write_batches(f, batches, 1);
        test_file_flip_bit(f->dir, SEG1, 2, 0);
        assert_int_equal(open_log(f, &n), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "header", SEG1, "offset 0", NULL));
}

static void log_segment_of_future_format_version_is_refused(void **state) {
        struct fixture *f = *state;
        const unsigned batches[] = { 3 };
        uint8_t header[32];
        char *path = test_path(f->dir, SEG1);
        FILE *file;
        size_t n;

        write_batches(f, batches, 1);
        /* A newer raftd wrote this segment: version 2, valid checksum. */
        file = fopen(path, "r+");
        assert_non_null(file);
        assert_int_equal(fread(header, 1, sizeof(header), file), sizeof(header));
        wire_put32(header + 8, 2);
        wire_put32(header + 28, crc32c(header, 28));
        rewind(file);
        assert_int_equal(fwrite(header, 1, sizeof(header), file), sizeof(header));
        fclose(file);
        free(path);
        assert_int_equal(open_log(f, &n), -EPROTONOSUPPORT);
        assert_non_null(test_sink_find(&f->sink, "unsupported log format version 2", SEG1, NULL));
}

static void log_missing_middle_segment_is_an_index_gap(void **state) {
        struct fixture *f = *state;
        unsigned batches[40];
        char *seg2 = test_path(f->dir, "log-0000000000000002");
        size_t n;

        for (unsigned i = 0; i < 40; i++)
                batches[i] = 5;
        f->o.segment_size = 1024;
        write_batches(f, batches, 40);
        assert_true(test_file_exists(f->dir, "log-0000000000000004"));
        assert_int_equal(unlink(seg2), 0);
        free(seg2);
        assert_int_equal(open_log(f, &n), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "gap", "log-0000000000000003", "offset 32", NULL));
}

static void log_damage_at_end_of_earlier_segment_stops_open(void **state) {
        struct fixture *f = *state;
        unsigned batches[40];
        size_t n;

        for (unsigned i = 0; i < 40; i++)
                batches[i] = 1;
        f->o.segment_size = 1024; /* 15 records per segment */
        write_batches(f, batches, 40);
        /* The last record of segment 1 was synced before segment 2 got any
         * of its later batches. */
        test_file_flip_bit(f->dir, SEG1, RECORD(14) + 50, 2);
        assert_int_equal(open_log(f, &n), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "damaged", SEG1, "offset 928", NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(log_torn_last_record_is_cut_with_warning, setup, teardown),
                cmocka_unit_test_setup_teardown(log_partial_record_at_tail_is_cut, setup, teardown),
                cmocka_unit_test_setup_teardown(log_garbage_after_last_record_is_cut, setup, teardown),
                cmocka_unit_test_setup_teardown(log_flipped_bit_in_synced_middle_record_stops_open, setup, teardown),
                cmocka_unit_test_setup_teardown(log_flipped_bit_in_record_header_stops_open, setup, teardown),
                cmocka_unit_test_setup_teardown(log_damage_inside_last_batch_counts_as_torn, setup, teardown),
                cmocka_unit_test_setup_teardown(log_bad_segment_header_stops_open, setup, teardown),
                cmocka_unit_test_setup_teardown(log_segment_of_future_format_version_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(log_missing_middle_segment_is_an_index_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(log_damage_at_end_of_earlier_segment_stops_open, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
