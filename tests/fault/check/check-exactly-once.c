/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exactly-once checker.  Every write carries a unique value, and the
 * watcher logs each change it saw with its revision.  No value may be
 * applied at two revisions (the same revision seen twice is one change seen
 * twice, not a second apply); every applied value was written by a client
 * whose write did not fail; and when the watcher's log is complete (no
 * `# gap` line) every acknowledged put is in it. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "shared/macro.h"

static bool is_write(const struct op *op) {
        return (op->kind == OP_PUT || op->kind == OP_CAS) && op->value.present;
}

/* Group by key and value; in a group applied lines first, by revision. */
static int cmp_by_value(const void *a, const void *b, void *userdata) {
        const struct history *h = userdata;
        const struct op *x = &h->ops[*(const size_t *) a], *y = &h->ops[*(const size_t *) b];
        int c = strcmp(x->key, y->key);

        if (c != 0)
                return c;
        if (x->value.v != y->value.v)
                return x->value.v < y->value.v ? -1 : 1;
        if ((x->kind == OP_APPLIED) != (y->kind == OP_APPLIED))
                return x->kind == OP_APPLIED ? -1 : 1;
        if (x->num[0] != y->num[0])
                return x->num[0] < y->num[0] ? -1 : 1;
        return *(const size_t *) a < *(const size_t *) b ? -1 : *(const size_t *) a > *(const size_t *) b;
}

static int check_value(const struct history *h, const size_t *ops, size_t n, bool complete, struct check_result *res) {
        const struct op *first = &h->ops[ops[0]];
        size_t n_applied = 0, revisions = 0, n_written = 0, maybe_applied = 0;
        uint64_t rev_a = 0, rev_b = 0;
        size_t *lines, n_lines;

        for (size_t i = 0; i < n; i++) {
                const struct op *op = &h->ops[ops[i]];

                if (op->kind == OP_APPLIED) {
                        if (n_applied == 0 || op->num[0] != h->ops[ops[i - 1]].num[0]) {
                                revisions++;
                                if (revisions == 1)
                                        rev_a = op->num[0];
                                else if (revisions == 2)
                                        rev_b = op->num[0];
                        }
                        n_applied++;
                        continue;
                }
                n_written++;
                maybe_applied += op->result != RESULT_FAIL;
        }
        lines = ops_lines(h, ops, n, &n_lines);
        if (!lines)
                return -ENOMEM;
        if (revisions > 1)
                return check_result_add(res, CHECK_VIOLATION, first->key, lines, n_lines,
                                        _("key %s: value %" PRIu64 " was applied %zu times (revisions %" PRIu64 " and %" PRIu64 "%s)"),
                                        first->key, first->value.v, revisions, rev_a, rev_b,
                                        revisions > 2 ? _(" and more") : "");
        if (n_applied > 0 && n_written == 0)
                return check_result_add(res, CHECK_VIOLATION, first->key, lines, n_lines,
                                        _("key %s: value %" PRIu64 " was applied, but no client wrote it"), first->key,
                                        first->value.v);
        if (n_applied > 0 && maybe_applied == 0)
                return check_result_add(res, CHECK_VIOLATION, first->key, lines, n_lines,
                                        _("key %s: value %" PRIu64 " was applied, though its write failed"),
                                        first->key, first->value.v);
        if (n_applied == 0 && complete)
                for (size_t i = 0; i < n; i++) {
                        const struct op *op = &h->ops[ops[i]];

                        if (op->kind == OP_PUT && op->result == RESULT_OK)
                                return check_result_add(res, CHECK_VIOLATION, first->key, lines, n_lines,
                                                        _("key %s: the acknowledged put of %" PRIu64 " is missing from the complete applied log"),
                                                        first->key, first->value.v);
                }
        free(lines);
        return 0;
}

int check_exactly_once(const struct history *h, struct check_result *res) {
        _cleanup_free_ size_t *idx = NULL;
        size_t n = 0;
        int r = 0;

        idx = calloc(h->n_ops + 1, sizeof(size_t));
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_ops; i++) {
                const struct op *op = &h->ops[i];

                if ((op->kind == OP_APPLIED && op->value.present) || is_write(op))
                        idx[n++] = i;
        }
        qsort_r(idx, n, sizeof(size_t), cmp_by_value, (void *) h);
        for (size_t i = 0, j; i < n && r >= 0; i = j) {
                const struct op *first = &h->ops[idx[i]];

                for (j = i + 1; j < n && h->ops[idx[j]].key == first->key && h->ops[idx[j]].value.v == first->value.v;
                     j++)
                        ;
                r = check_value(h, idx + i, j - i, h->n_gaps == 0, res);
        }
        return r;
}
