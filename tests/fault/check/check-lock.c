/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock checker, from the fenced resource's log.  A write the resource
 * accepted must have been based on the value it held (BASE == CURRENT),
 * else a client's read was overtaken while it believed it held the lock: a
 * lost update.  Accepted fences never decrease.  On the clients' side no
 * two were told they incremented to the same value, and each value a client
 * was told is one the resource accepted. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "shared/macro.h"

enum { FENCE, BASE, CURRENT, NEW };

/* Accepted writes in the resource's order: by time, then file order. */
static int check_writes(const struct history *h, const size_t *ops, size_t n_ops, struct check_result *res) {
        size_t max_fence_op = NO_EVENT;
        int r;

        for (size_t i = 0; i < n_ops; i++) {
                const struct op *w = &h->ops[ops[i]];

                if (w->kind != OP_WRITE_FENCED || w->result != RESULT_OBSERVED_OK)
                        continue;
                if (w->num[BASE] != w->num[CURRENT]) {
                        r = check_report(h, res, ops[i], NO_EVENT,
                                   _("resource %s: lost update: the write with fence %" PRIu64 " was based on %" PRIu64
                                     " but the resource held %" PRIu64),
                                   w->key, w->num[FENCE], w->num[BASE], w->num[CURRENT]);
                        if (r < 0)
                                return r;
                }
                if (max_fence_op != NO_EVENT && w->num[FENCE] < h->ops[max_fence_op].num[FENCE]) {
                        r = check_report(h, res, max_fence_op, ops[i],
                                   _("resource %s: accepted fence %" PRIu64 " after fence %" PRIu64), w->key,
                                   w->num[FENCE], h->ops[max_fence_op].num[FENCE]);
                        if (r < 0)
                                return r;
                }
                if (max_fence_op == NO_EVENT || w->num[FENCE] > h->ops[max_fence_op].num[FENCE])
                        max_fence_op = ops[i];
        }
        return 0;
}

static int cmp_by_value(const void *a, const void *b, void *userdata) {
        const struct history *h = userdata;
        const struct op *x = &h->ops[*(const size_t *) a], *y = &h->ops[*(const size_t *) b];
        /* An accepted write's new value, or an acknowledged incr's. */
        uint64_t vx = x->kind == OP_INCR ? x->value.v : x->num[NEW];
        uint64_t vy = y->kind == OP_INCR ? y->value.v : y->num[NEW];

        if (vx != vy)
                return vx < vy ? -1 : 1;
        return x->kind != y->kind ? (x->kind == OP_WRITE_FENCED ? -1 : 1) : 0;
}

static int check_increments(const struct history *h, const size_t *ops, size_t n_ops, struct check_result *res) {
        _cleanup_free_ size_t *v = NULL;
        size_t n = 0;
        int r;

        v = calloc(n_ops + 1, sizeof(size_t));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_ops; i++) {
                const struct op *op = &h->ops[ops[i]];

                if ((op->kind == OP_INCR && op->result == RESULT_OK) ||
                    (op->kind == OP_WRITE_FENCED && op->result == RESULT_OBSERVED_OK))
                        v[n++] = ops[i];
        }
        /* By value, accepted writes before the increments that report it. */
        qsort_r(v, n, sizeof(size_t), cmp_by_value, (void *) h);
        for (size_t i = 0, j; i < n; i = j) {
                size_t write = NO_EVENT, incr = NO_EVENT;
                uint64_t first = h->ops[v[i]].kind == OP_INCR ? h->ops[v[i]].value.v : h->ops[v[i]].num[NEW];

                for (j = i; j < n; j++) {
                        const struct op *op = &h->ops[v[j]];
                        uint64_t value = op->kind == OP_INCR ? op->value.v : op->num[NEW];

                        if (value != first)
                                break;
                        if (op->kind == OP_WRITE_FENCED) {
                                write = v[j];
                                continue;
                        }
                        if (incr != NO_EVENT)
                                r = check_report(h, res, incr, v[j],
                                           _("resource %s: two clients were told they incremented it to %" PRIu64),
                                           op->key, value);
                        else if (write == NO_EVENT)
                                r = check_report(h, res, v[j], NO_EVENT,
                                           _("resource %s: a client was told it incremented it to %" PRIu64
                                             ", a value the resource never accepted"),
                                           op->key, value);
                        else
                                r = 0;
                        if (r < 0)
                                return r;
                        incr = v[j];
                }
        }
        return 0;
}

int check_lock(const struct history *h, struct check_result *res) {
        _cleanup_free_ size_t *idx = NULL;
        size_t n;
        int r = 0;

        idx = ops_by_key(h, KIND_BIT(OP_INCR) | KIND_BIT(OP_WRITE_FENCED), &n);
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0, j; i < n && r >= 0; i = j) {
                j = ops_key_group_end(h, idx, n, i);
                r = check_writes(h, idx + i, j - i, res);
                if (r >= 0)
                        r = check_increments(h, idx + i, j - i, res);
        }
        return r;
}
