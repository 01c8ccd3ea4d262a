/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Findings of the checkers, collected for the caller to print or test. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "shared/macro.h"

int check_result_add(struct check_result *res, enum check_verdict verdict, const char *key, size_t *events,
                     size_t n_events, const char *fmt, ...) {
        struct check_finding f = { .verdict = verdict, .events = events, .n_events = n_events };
        va_list ap;
        int r;

        if (res->n_findings == res->findings_alloc) {
                size_t n = MAX(res->findings_alloc * 2, 8u);
                struct check_finding *a = reallocarray(res->findings, n, sizeof(*a));

                if (!a) {
                        free(events);
                        return -ENOMEM;
                }
                res->findings = a;
                res->findings_alloc = n;
        }
        va_start(ap, fmt);
        r = vasprintf(&f.message, fmt, ap);
        va_end(ap);
        if (r < 0 || (key && !(f.key = strdup(key)))) {
                if (r >= 0)
                        free(f.message);
                free(events);
                return -ENOMEM;
        }
        res->findings[res->n_findings++] = f;
        res->verdict = MAX(res->verdict, verdict);
        return 0;
}

int check_report_ops(const struct history *h, struct check_result *res, const size_t *ops, size_t n_ops,
                     const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        size_t *lines, n;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        lines = ops_lines(h, ops, n_ops, &n);
        if (!lines)
                return -ENOMEM;
        return check_result_add(res, CHECK_VIOLATION, h->ops[ops[0]].key, lines, n, "%s", message);
}

void check_result_done(struct check_result *res) {
        if (!res)
                return;
        for (size_t i = 0; i < res->n_findings; i++) {
                free(res->findings[i].key);
                free(res->findings[i].message);
                free(res->findings[i].events);
        }
        free(res->findings);
        *res = (struct check_result) {};
}
