/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The log's background sync: appends, truncations and rollovers while a
 * sync is in flight, what its end reports, and a failing fdatasync. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared/macro.h"
#include "storage-test.h"
#include "storage/log.h"

#define SALT 11
#define MAXLEN 200
#define SEG1 "log-0000000000000001"

struct fixture {
        char *dir;
        struct test_sink sink;
        struct storage_log_options o;
        int done_fd; /* eventfd the sync thread's notification writes */
};

static void notify_eventfd(void *userdata) {
        const struct fixture *f = userdata;
        uint64_t one = 1;

        assert_true(write(f->done_fd, &one, sizeof(one)) == sizeof(one));
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        f->dir = test_dir_new();
        test_sink_init(&f->sink);
        f->done_fd = eventfd(0, EFD_CLOEXEC);
        assert_true(f->done_fd >= 0);
        f->o = (struct storage_log_options) {
                .segment_size = 4096,
                .log = &f->sink.sink,
                .sync_notify = notify_eventfd,
                .sync_userdata = f,
        };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        test_dir_remove(f->dir);
        test_sink_clear(&f->sink);
        (void) close(f->done_fd);
        free(f);
        return 0;
}

static void append(struct storage_log *l, raft_index first, size_t n, raft_term term) {
        struct raft_entry *e = test_entries_new(first, n, term, SALT, MAXLEN);

        assert_int_equal(storage_log_append(l, e, n), 0);
        test_entries_free(e, n);
}

/* As an event loop would: wait for the thread's notification (60 s at
 * most), then collect without blocking. */
static int await_sync(struct fixture *f, struct storage_log *l, raft_index *index, raft_term *term) {
        struct pollfd p = { .fd = f->done_fd, .events = POLLIN };
        uint64_t count;

        assert_int_equal(poll(&p, 1, 60 * 1000), 1);
        assert_true(read(f->done_fd, &count, sizeof(count)) == sizeof(count));
        assert_int_equal(count, 1);
        return storage_log_sync_collect(l, false, index, term);
}

/* The sync in flight ends well and reports (index, term). */
static void assert_sync_reports(struct fixture *f, struct storage_log *l, raft_index want_index, raft_term want_term) {
        raft_index index;
        raft_term term;

        assert_int_equal(await_sync(f, l, &index, &term), 1);
        assert_int_equal(index, want_index);
        assert_int_equal(term, want_term);
}

static struct storage_log *open_log(struct fixture *f, struct raft_entry **e, size_t *n) {
        struct storage_log *l;

        assert_int_equal(storage_log_open(f->dir, &f->o, &l, e, n), 0);
        return l;
}

static void assert_entries(const struct raft_entry *e, size_t n, raft_index first, raft_index term_change,
                           raft_term before, raft_term after) {
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(e[i].index, first + i);
                assert_true(test_entry_matches(&e[i], e[i].index < term_change ? before : after, SALT, MAXLEN));
        }
}

/* Reopened, the log holds entries 1..count, of term 'before' below index
 * term_change and 'after' from there on. */
static void assert_log_holds(struct fixture *f, size_t count, raft_index term_change, raft_term before,
                             raft_term after) {
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        l = open_log(f, &e, &n);
        assert_int_equal(n, count);
        assert_entries(e, n, 1, term_change, before, after);
        storage_entries_free(e, n);
        storage_log_close(l);
}

static void async_sync_reports_its_batch_while_appends_go_on(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_index index;
        raft_term term;
        size_t n;

        l = open_log(f, &e, &n);
        free(e);
        assert_int_equal(storage_log_sync_start(l), 0); /* nothing to sync */
        append(l, 1, 5, 1);
        assert_int_equal(storage_log_sync_start(l), 1);
        assert_true(storage_log_sync_busy(l));
        assert_int_equal(storage_log_sync_start(l), -EBUSY);
        /* The loop goes on appending; this batch is not the sync's. */
        append(l, 6, 5, 1);
        assert_sync_reports(f, l, 5, 1);
        assert_false(storage_log_sync_busy(l));
        assert_int_equal(storage_log_sync_collect(l, false, &index, &term), -ENOENT);
        /* The next sync covers what was appended meanwhile. */
        assert_int_equal(storage_log_sync_start(l), 1);
        assert_sync_reports(f, l, 10, 1);
        storage_log_close(l);
        assert_log_holds(f, 10, UINT64_MAX, 1, 1);
}

/* The entries a sync covered were replaced meanwhile: it reports only the
 * ones in front of the cut, never the replaced (index, term). */
static void async_sync_overtaken_by_truncation_reports_only_the_kept_prefix(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        l = open_log(f, &e, &n);
        free(e);
        append(l, 1, 10, 1);
        assert_int_equal(storage_log_sync_start(l), 1);
        append(l, 6, 7, 2); /* replaces 6..10 */
        assert_sync_reports(f, l, 5, 1);
        assert_int_equal(storage_log_sync_start(l), 1);
        assert_sync_reports(f, l, 12, 2);
        storage_log_close(l);
        assert_log_holds(f, 12, 6, 1, 2);
}

/* The sync's segment is rolled over, then dropped by a truncation, while
 * its sync runs: the thread still syncs its own descriptor (a closed one
 * would fail with EBADF, a reused one would sync the wrong file). */
static void async_sync_survives_rollover_and_segment_drop(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_index next;
        size_t n;

        l = open_log(f, &e, &n);
        free(e);
        /* 10 entries of at most 240 bytes: all in the first segment. */
        append(l, 1, 10, 1);
        assert_int_equal(storage_log_sync(l), 0);
        assert_int_equal(storage_log_n_segments(l), 1);
        /* The sync runs on the second segment... */
        for (next = 11; storage_log_n_segments(l) < 2; next += 5)
                append(l, next, 5, 1);
        assert_int_equal(storage_log_sync_start(l), 1);
        /* ...which is rolled over while it runs... */
        for (; storage_log_n_segments(l) < 4; next += 5)
                append(l, next, 5, 1);
        /* ...and then unlinked by a cut into the first one. */
        append(l, 6, 3, 2);
        assert_int_equal(storage_log_n_segments(l), 1);
        assert_sync_reports(f, l, 5, 1);
        assert_int_equal(storage_log_sync_start(l), 1);
        assert_sync_reports(f, l, 8, 2);
        storage_log_close(l);
        assert_log_holds(f, 8, 6, 1, 2);
}

/* Rolled over while its sync runs, nothing truncated: every entry,
 * across the segments, is there after reopening. */
static void async_sync_across_rollover_keeps_every_entry(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_index index, next = 1;
        raft_term term;
        size_t n;

        l = open_log(f, &e, &n);
        free(e);
        for (unsigned round = 0; round < 20; round++) {
                append(l, next, 7, 1 + round / 5);
                next += 7;
                if (storage_log_sync_busy(l)) {
                        assert_int_equal(await_sync(f, l, &index, &term), 1);
                        assert_true(index > 0 && index < next);
                }
                assert_int_equal(storage_log_sync_start(l), 1);
        }
        assert_int_equal(await_sync(f, l, &index, &term), 1);
        assert_int_equal(index, next - 1);
        assert_true(storage_log_n_segments(l) > 2);
        storage_log_close(l);

        l = open_log(f, &e, &n);
        assert_int_equal(n, next - 1);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(e[i].index, i + 1);
                assert_true(test_entry_matches(&e[i], 1 + (raft_term) (i / 7) / 5, SALT, MAXLEN));
        }
        storage_entries_free(e, n);
        storage_log_close(l);
}

/* A crash while a sync runs, after the loop wrote the next batch (the
 * write buffer spills at 1 MiB): the sync's batch may be torn, and the
 * records behind it must not pass for a batch that began after a
 * confirmed sync, or the loader would take the tear for damage to synced
 * data and refuse to start. */
static void records_written_during_a_sync_leave_its_batch_torn_not_damaged(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;

        f->o.segment_size = 8U << 20;
        l = open_log(f, &e, &n);
        free(e);
        e = test_entries_new(1, 3, 1, SALT, MAXLEN);
        assert_int_equal(storage_log_append(l, e, 3), 0);
        test_entries_free(e, 3);
        assert_int_equal(storage_log_sync_start(l), 1);
        e = test_entries_new(4, 24, 1, SALT, 200 << 10); /* > 1 MiB: written at once */
        assert_int_equal(storage_log_append(l, e, 24), 0);
        test_entries_free(e, 24);
        storage_log_close(l); /* "crash": the sync's result is never seen */

        /* Its first record torn (a flipped bit in the header's CRC'ed part). */
        test_file_flip_bit(f->dir, SEG1, 32 + 8, 0);
        assert_int_equal(storage_log_open(f->dir, &f->o, &l, &e, &n), 0);
        assert_int_equal(n, 0);
        assert_non_null(test_sink_find(&f->sink, "torn log record", NULL));
        storage_entries_free(e, n);
        storage_log_close(l);
}

/* Put /dev/zero behind the log's descriptor of segment name: writes go
 * through, fdatasync fails with EINVAL, the real error path of a disk
 * that reports a failed flush. */
static void make_fdatasync_fail(const char *dir, const char *name) {
        _cleanup_free_ char *path = test_path(dir, name);
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int zero = open("/dev/zero", O_RDWR | O_CLOEXEC), hits = 0;

        assert_non_null(d);
        assert_true(zero >= 0);
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

                if (k <= 0)
                        continue;
                target[k] = 0;
                if (strcmp(target, path) == 0) {
                        assert_true(dup3(zero, atoi(de->d_name), O_CLOEXEC) >= 0);
                        hits++;
                }
        }
        closedir(d);
        (void) close(zero);
        assert_int_equal(hits, 1);
}

static void async_sync_failure_fails_the_log(void **state) {
        struct fixture *f = *state;
        struct storage_log *l;
        struct raft_entry *e;
        raft_index index = 99;
        raft_term term = 99;
        size_t n;

        l = open_log(f, &e, &n);
        free(e);
        append(l, 1, 3, 1);
        assert_int_equal(storage_log_sync(l), 0);
        append(l, 4, 3, 1);
        make_fdatasync_fail(f->dir, SEG1);
        assert_int_equal(storage_log_sync_start(l), 1);
        assert_int_equal(await_sync(f, l, &index, &term), -EINVAL);
        assert_int_equal(index, 99); /* nothing reported durable */
        assert_non_null(test_sink_find(&f->sink, f->dir, "cannot sync log segment", NULL));
        /* No second fdatasync that could report success for lost pages. */
        assert_int_equal(storage_log_sync_start(l), -EIO);
        assert_int_equal(storage_log_sync(l), -EIO);
        {
                struct raft_entry *more = test_entries_new(7, 1, 1, SALT, MAXLEN);

                assert_int_equal(storage_log_append(l, more, 1), -EIO);
                test_entries_free(more, 1);
        }
        storage_log_close(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(async_sync_reports_its_batch_while_appends_go_on, setup, teardown),
                cmocka_unit_test_setup_teardown(async_sync_overtaken_by_truncation_reports_only_the_kept_prefix, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(async_sync_survives_rollover_and_segment_drop, setup, teardown),
                cmocka_unit_test_setup_teardown(async_sync_across_rollover_keeps_every_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(records_written_during_a_sync_leave_its_batch_torn_not_damaged, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(async_sync_failure_fails_the_log, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
