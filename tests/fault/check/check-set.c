/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The set checker.  Per set, every successful read must hold each add that
 * was acknowledged before the read began (for the final read: every
 * acknowledged add), no element twice, and - for the final read - only
 * elements some client tried to add and not all of whose adds failed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "shared/macro.h"

/* Per distinct element: whether some add of it may have taken effect. */
struct added {
        uint64_t element;
        bool maybe_applied;
        size_t op; /* one add of it, for the report */
};

static int cmp_added(const void *a, const void *b) {
        const struct added *x = a, *y = b;
        return x->element < y->element ? -1 : x->element > y->element;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int check_read(const struct history *h, const size_t *ops, size_t n_ops, size_t read, const struct added *added,
                      size_t n_added, bool final, struct check_result *res) {
        const struct op *rd = &h->ops[read];
        _cleanup_free_ uint64_t *seen = NULL;
        int r;

        seen = calloc(rd->n_elements + 1, sizeof(uint64_t));
        if (!seen)
                return -ENOMEM;
        for (size_t i = 0; i < rd->n_elements; i++)
                seen[i] = rd->elements[i];
        qsort(seen, rd->n_elements, sizeof(uint64_t), cmp_u64);
        for (size_t i = 1; i < rd->n_elements; i++)
                if (seen[i] == seen[i - 1] && (i == 1 || seen[i - 2] != seen[i])) {
                        r = check_report(h, res, read, NO_EVENT,
                                         _("set %s: element %" PRIu64 " appears more than once in one read"), rd->key,
                                         seen[i]);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < n_ops; i++) {
                const struct op *add = &h->ops[ops[i]];

                if (add->kind != OP_ADD || add->result != RESULT_OK || add->t_complete >= rd->t_invoke)
                        continue;
                if (bsearch(&add->value.v, seen, rd->n_elements, sizeof(uint64_t), cmp_u64))
                        continue;
                r = check_report(h, res, ops[i], read,
                                 _("set %s: the acknowledged add of %" PRIu64 " is missing from a read that began after it"),
                                 rd->key, add->value.v);
                if (r < 0)
                        return r;
        }
        if (!final)
                return 0;
        for (size_t i = 0; i < rd->n_elements; i++) {
                struct added key = { .element = seen[i] };
                const struct added *a;

                if (i > 0 && seen[i] == seen[i - 1])
                        continue;
                a = bsearch(&key, added, n_added, sizeof(*added), cmp_added);
                if (!a)
                        r = check_report(h, res, read, NO_EVENT,
                                         _("set %s: the read holds %" PRIu64 ", which no client added"), rd->key, seen[i]);
                else if (!a->maybe_applied)
                        r = check_report(h, res, a->op, read,
                                         _("set %s: the read holds %" PRIu64 ", though every add of it failed"), rd->key,
                                         seen[i]);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_one_set(const struct history *h, const size_t *ops, size_t n_ops, struct check_result *res) {
        _cleanup_free_ struct added *added = NULL;
        size_t n_added = 0, n_distinct = 0, final = NO_EVENT;
        int r;

        added = calloc(n_ops + 1, sizeof(*added));
        if (!added)
                return -ENOMEM;
        for (size_t i = 0; i < n_ops; i++) {
                const struct op *op = &h->ops[ops[i]];

                if (op->kind == OP_ADD)
                        added[n_added++] = (struct added) { op->value.v, op->result != RESULT_FAIL, ops[i] };
                else if (op->result == RESULT_OK &&
                         (final == NO_EVENT || op->t_complete > h->ops[final].t_complete ||
                          (op->t_complete == h->ops[final].t_complete && op->ev_complete > h->ops[final].ev_complete)))
                        final = ops[i];
        }
        qsort(added, n_added, sizeof(*added), cmp_added);
        for (size_t i = 0; i < n_added; i++) { /* one entry per element */
                struct added *last = n_distinct > 0 ? &added[n_distinct - 1] : NULL;

                if (!last || last->element != added[i].element)
                        added[n_distinct++] = added[i];
                else if (!last->maybe_applied && added[i].maybe_applied)
                        *last = added[i];
        }
        n_added = n_distinct;
        if (final == NO_EVENT)
                return check_result_add(res, CHECK_UNDECIDED, h->ops[ops[0]].key, NULL, 0,
                                        _("set %s: undecided, no read of it succeeded"), h->ops[ops[0]].key);
        for (size_t i = 0; i < n_ops; i++) {
                const struct op *op = &h->ops[ops[i]];

                if (op->kind != OP_READ_SET || op->result != RESULT_OK)
                        continue;
                r = check_read(h, ops, n_ops, ops[i], added, n_added, ops[i] == final, res);
                if (r < 0)
                        return r;
        }
        return 0;
}

int check_set(const struct history *h, struct check_result *res) {
        _cleanup_free_ size_t *idx = NULL;
        size_t n;
        int r = 0;

        idx = ops_by_key(h, KIND_BIT(OP_ADD) | KIND_BIT(OP_READ_SET), &n);
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0, j; i < n && r >= 0; i = j) {
                j = ops_key_group_end(h, idx, n, i);
                r = check_one_set(h, idx + i, j - i, res);
        }
        return r;
}
