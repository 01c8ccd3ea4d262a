/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The checkers of the fault suite and what they report.  How each one
 * decides is in docs/fault-history.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault/check/history.h"

/* Ordered by weight: a result is the heaviest of its findings. */
enum check_verdict {
        CHECK_VALID,
        CHECK_UNDECIDED,
        CHECK_VIOLATION,
};

struct check_finding {
        enum check_verdict verdict; /* CHECK_VIOLATION or CHECK_UNDECIDED */
        char *key;                  /* key, set or resource it concerns, or NULL */
        char *message;
        size_t *events; /* indices into history->events, ascending: the lines to show */
        size_t n_events;
};

struct check_result {
        enum check_verdict verdict;
        struct check_finding *findings;
        size_t n_findings, findings_alloc;
        uint64_t search_steps; /* linearizability: model steps tried, all keys */
};

/* Add a finding; takes `events` (malloc'ed, may be NULL) in all cases. */
__attribute__((format(printf, 6, 7))) int check_result_add(struct check_result *res, enum check_verdict verdict,
                                                           const char *key, size_t *events, size_t n_events,
                                                           const char *fmt, ...);
/* A violation shown by the lines of some ops (invoke and completion of
 * each), concerning the key of the first. */
__attribute__((format(printf, 5, 6))) int check_report_ops(const struct history *h, struct check_result *res,
                                                           const size_t *ops, size_t n_ops, const char *fmt, ...);
/* The same for one op, or two (op_b NO_EVENT: one). */
#define check_report(h, res, op_a, op_b, ...)                                                              \
        check_report_ops((h), (res), (const size_t[]) { (op_a), (op_b) }, (op_b) == NO_EVENT ? 1 : 2, __VA_ARGS__)
void check_result_done(struct check_result *res);

#define CHECK_DEFAULT_BUDGET UINT64_C(20000000)

/* Per key: is there a linearization of the put/del/get/cas operations?
 * `budget` bounds the model steps tried per key; when it runs out the key
 * is reported undecided, never guessed. */
int check_register(const struct history *h, uint64_t budget, struct check_result *res);
int check_set(const struct history *h, struct check_result *res);
int check_lock(const struct history *h, struct check_result *res);
int check_exactly_once(const struct history *h, struct check_result *res);

enum workload {
        WORKLOAD_AUTO,
        WORKLOAD_REGISTER,
        WORKLOAD_SET,
        WORKLOAD_LOCK,
        WORKLOAD_EXACTLY_ONCE,
        _WORKLOAD_MAX,
};

int workload_from_string(const char *s, enum workload *ret);
const char *workload_to_string(enum workload w);
/* Which workload the operations in h belong to; -EINVAL if they mix
 * workloads (with a message naming the two operations in *why). */
int workload_detect(const struct history *h, enum workload *ret, const char **why_a, const char **why_b);
/* Whether every op in h belongs to workload w (not AUTO); if not, *stray
 * names an operation that does not. */
bool workload_admits(const struct history *h, enum workload w, const char **stray);
/* Run the checkers of workload w (not AUTO) over h. */
int check_history(const struct history *h, enum workload w, uint64_t budget, struct check_result *res);
