/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "storage-test.h"

static void test_sink_write(void *userdata, int priority, const char *message) {
        struct test_sink *t = userdata;

        if (getenv("RAFTD_TEST_VERBOSE"))
                fprintf(stderr, "<%d> %s\n", priority, message);
        if (t->n < TEST_LINES_MAX) {
                t->priority[t->n] = priority;
                t->lines[t->n++] = strdup(message);
        }
}

void test_sink_init(struct test_sink *t) {
        memset(t, 0, sizeof(*t));
        t->sink = (struct log_sink) { test_sink_write, t };
}

void test_sink_clear(struct test_sink *t) {
        for (unsigned i = 0; i < t->n; i++)
                free(t->lines[i]);
        test_sink_init(t);
}

const char *test_sink_find(const struct test_sink *t, ...) {
        for (unsigned i = 0; i < t->n; i++) {
                bool all = true;
                va_list ap;

                va_start(ap, t);
                for (const char *w; (w = va_arg(ap, const char *));)
                        if (!strstr(t->lines[i], w))
                                all = false;
                va_end(ap);
                if (all)
                        return t->lines[i];
        }
        return NULL;
}

char *test_dir_new(void) {
        char *d = strdup("/tmp/raftd-storage-test.XXXXXX");

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void test_dir_remove(char *dir) {
        if (!dir)
                return;
        (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}

char *test_path(const char *dir, const char *name) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static uint64_t mix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

size_t test_entry_len(raft_index index, raft_term term, uint64_t salt, size_t max) {
        return max == 0 ? 0 : (size_t) (mix(index * 31 + term * 7 + salt) % (max + 1));
}

void test_entry_fill(raft_index index, raft_term term, uint64_t salt, uint8_t *buf, size_t len) {
        uint64_t x = mix(index ^ (term << 40) ^ salt);

        for (size_t i = 0; i < len; i++) {
                if (i % 8 == 0)
                        x = mix(x);
                buf[i] = (uint8_t) (x >> (8 * (i % 8)));
        }
}

struct raft_entry *test_entries_new(raft_index first, size_t n, raft_term term, uint64_t salt, size_t max) {
        struct raft_entry *e = calloc(n, sizeof(*e));

        assert_non_null(e);
        for (size_t i = 0; i < n; i++) {
                e[i].index = first + i;
                e[i].term = term;
                e[i].type = RAFT_ENTRY_NORMAL;
                e[i].data.len = test_entry_len(e[i].index, term, salt, max);
                e[i].data.base = malloc(e[i].data.len + 1);
                assert_non_null(e[i].data.base);
                test_entry_fill(e[i].index, term, salt, e[i].data.base, e[i].data.len);
        }
        return e;
}

void test_entries_free(struct raft_entry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++)
                free(e[i].data.base);
        free(e);
}

bool test_entry_matches(const struct raft_entry *e, raft_term term, uint64_t salt, size_t max) {
        uint8_t buf[65536];
        size_t len = test_entry_len(e->index, term, salt, max);

        if (e->term != term || e->type != RAFT_ENTRY_NORMAL || e->data.len != len || len > sizeof(buf))
                return false;
        test_entry_fill(e->index, term, salt, buf, len);
        return len == 0 || memcmp(buf, e->data.base, len) == 0;
}

void test_file_flip_bit(const char *dir, const char *name, uint64_t offset, unsigned bit) {
        char *path = test_path(dir, name);
        int fd = open(path, O_RDWR);
        uint8_t b;

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, &b, 1, (off_t) offset), 1);
        b ^= (uint8_t) (1U << bit);
        assert_int_equal(pwrite(fd, &b, 1, (off_t) offset), 1);
        close(fd);
        free(path);
}

void test_file_truncate(const char *dir, const char *name, uint64_t size) {
        char *path = test_path(dir, name);

        assert_int_equal(truncate(path, (off_t) size), 0);
        free(path);
}

uint64_t test_file_size(const char *dir, const char *name) {
        char *path = test_path(dir, name);
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        free(path);
        return (uint64_t) st.st_size;
}

bool test_file_exists(const char *dir, const char *name) {
        char *path = test_path(dir, name);
        bool r = access(path, F_OK) == 0;

        free(path);
        return r;
}
