/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the storage tests: scratch directories under /tmp, a log
 * sink that keeps the lines it got, and entries with checkable content. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "shared/log.h"

#define TEST_LINES_MAX 32

struct test_sink {
        struct log_sink sink;
        unsigned n;
        int priority[TEST_LINES_MAX];
        char *lines[TEST_LINES_MAX];
};

void test_sink_init(struct test_sink *t);
void test_sink_clear(struct test_sink *t);
/* The first captured line containing every one of the NULL-terminated
 * words, or NULL. */
const char *test_sink_find(const struct test_sink *t, ...) __attribute__((sentinel));

/* A fresh directory /tmp/raftd-storage-test.XXXXXX; free the path and
 * remove the tree with test_dir_remove(). */
char *test_dir_new(void);
void test_dir_remove(char *dir);
char *test_path(const char *dir, const char *name); /* malloc'ed dir/name */

/* Entry content derived from (index, term, salt): any reader can check it. */
size_t test_entry_len(raft_index index, raft_term term, uint64_t salt, size_t max);
void test_entry_fill(raft_index index, raft_term term, uint64_t salt, uint8_t *buf, size_t len);
/* n entries from first, term, lengths up to max; free with test_entries_free(). */
struct raft_entry *test_entries_new(raft_index first, size_t n, raft_term term, uint64_t salt, size_t max);
void test_entries_free(struct raft_entry *e, size_t n);
bool test_entry_matches(const struct raft_entry *e, raft_term term, uint64_t salt, size_t max);

/* Damage dir/name in place. */
void test_file_flip_bit(const char *dir, const char *name, uint64_t offset, unsigned bit);
void test_file_truncate(const char *dir, const char *name, uint64_t size);
uint64_t test_file_size(const char *dir, const char *name);
bool test_file_exists(const char *dir, const char *name);
