/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fault-suite history (format v1, docs/fault-history.md), parsed strictly
 * and paired into operations: every invoke with the completion of its
 * process.  The checkers read only the operations; the events keep the
 * original lines so a violation can be shown as the lines that caused it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum event_type {
        EVENT_INVOKE,
        EVENT_OK,
        EVENT_FAIL,
        EVENT_UNKNOWN,
};

enum op_kind {
        OP_PUT,
        OP_DEL,
        OP_GET,
        OP_CAS,
        OP_ADD,
        OP_READ_SET,
        OP_INCR,
        /* Observations: logged by the fenced resource and the watcher,
         * one line each, never invoked. */
        OP_WRITE_FENCED,
        OP_APPLIED,
        _OP_KIND_MAX,
};

/* How an operation ended.  PENDING: invoked, never completed (counts as
 * unknown).  OBSERVED: an observation line, which has no invoke. */
enum op_result {
        RESULT_OK,
        RESULT_FAIL,
        RESULT_UNKNOWN,
        RESULT_PENDING,
        RESULT_OBSERVED_OK,
        RESULT_OBSERVED_FAIL,
};

/* A register value: `-` in the history is an absent key. */
struct reg_value {
        bool present;
        uint64_t v;
};

#define NO_EVENT SIZE_MAX

struct event {
        uint64_t t_ns;
        uint64_t process;
        enum event_type type;
        enum op_kind kind;
        size_t line_no; /* 1-based */
        char *text;     /* the line as written, without the newline */
};

struct op {
        enum op_kind kind;
        enum op_result result;
        const char *key; /* points into history->keys storage */
        uint64_t process;
        /* Arguments.  put: value; cas: expected, new; add: element;
         * get (ok): the value read; incr (ok): the new value;
         * applied: value, revision in num[0];
         * write-fenced: fence, base, current, new in num[0..3]. */
        struct reg_value value;
        struct reg_value expected;
        uint64_t num[4];
        /* read-set (ok): the elements read, in the order logged. */
        uint64_t *elements;
        size_t n_elements;
        char *reason; /* fail/unknown reason, or NULL */
        uint64_t t_invoke, t_complete;
        size_t ev_invoke, ev_complete; /* indices into history->events, or NO_EVENT */
};

struct history_gap {
        uint64_t from, to;
        size_t line_no;
};

struct history {
        uint64_t seed;
        struct event *events; /* in file order */
        size_t n_events;
        struct op *ops; /* in order of their first line */
        size_t n_ops;
        struct history_gap *gaps; /* `# gap FROM TO` comments */
        size_t n_gaps;
        char **keys; /* every distinct key string, owned */
        size_t n_keys;
};

/* Where and why parsing failed. */
struct history_error {
        size_t line_no; /* 0: not tied to a line */
        char message[256];
};

/* Parse a whole history held in memory (need not be NUL-terminated).
 * Returns 0, -EINVAL with *error filled for malformed input, -ENOMEM. */
int history_parse(const char *data, size_t size, struct history **ret, struct history_error *error);
/* Read and parse a file; -errno if it cannot be read (error says so). */
int history_parse_file(const char *path, struct history **ret, struct history_error *error);
struct history *history_free(struct history *h);
static inline void history_freep(struct history **h) {
        history_free(*h);
}

const char *op_kind_to_string(enum op_kind k);
/* The op may or may not have taken effect: an `unknown` completion, or an
 * invoke the history ends before completing. */
static inline bool op_result_is_indefinite(enum op_result r) {
        return r == RESULT_UNKNOWN || r == RESULT_PENDING;
}
