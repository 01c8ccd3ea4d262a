/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the checker tests: histories written inline as text. */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fault/check/check.h"
#include "fault/check/history-sim.h"
#include "shared/macro.h"
#include "../../test-seed.h"

#define HEADER "# raftd-history 1 seed=1\n"

static inline struct history *parse_ok(const char *text) {
        struct history_error error;
        struct history *h = NULL;
        int r = history_parse(text, strlen(text), &h, &error);

        if (r < 0)
                fail_msg("history does not parse: line %zu: %s", error.line_no, error.message);
        return h;
}

/* Check text as workload w (AUTO: detected) with the given budget; the
 * result is left in *res for the caller to look at and free. */
static inline enum check_verdict check_text_budget(const char *text, enum workload w, uint64_t budget,
                                                   struct check_result *res) {
        struct history *h = parse_ok(text);
        const char *a, *b;

        if (w == WORKLOAD_AUTO)
                assert_int_equal(workload_detect(h, &w, &a, &b), 0);
        *res = (struct check_result) {};
        assert_int_equal(check_history(h, w, budget, res), 0);
        history_free(h);
        return res->verdict;
}

static inline enum check_verdict check_text(const char *text) {
        struct check_result res;
        enum check_verdict v = check_text_budget(text, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res);

        for (size_t i = 0; i < res.n_findings; i++)
                printf("# %s\n", res.findings[i].message);
        check_result_done(&res);
        return v;
}

/* The first finding mentions `needle` (a key, a value). */
static inline void assert_finding_mentions(const char *text, const char *needle) {
        struct check_result res;

        (void) check_text_budget(text, WORKLOAD_AUTO, CHECK_DEFAULT_BUDGET, &res);
        assert_true(res.n_findings > 0);
        if (!strstr(res.findings[0].message, needle))
                fail_msg("finding '%s' does not mention '%s'", res.findings[0].message, needle);
        check_result_done(&res);
}

/* A growing text buffer for generated histories. */
struct text {
        char *p;
        size_t len, alloc;
};

__attribute__((format(printf, 2, 3))) static inline void text_printf(struct text *t, const char *fmt, ...) {
        va_list ap;
        int n;

        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(t->p ? t->p + t->len : NULL, t->alloc - t->len, fmt, ap);
                va_end(ap);
                assert_true(n >= 0);
                if (t->len + (size_t) n < t->alloc)
                        break;
                t->alloc = (t->alloc + (size_t) n + 1) * 2;
                t->p = realloc(t->p, t->alloc);
                assert_non_null(t->p);
        }
        t->len += (size_t) n;
}
