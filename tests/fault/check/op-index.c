/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "fault/check/op-index.h"

static int cmp_ops_by_key(const void *a, const void *b, void *userdata) {
        const struct history *h = userdata;
        const struct op *x = &h->ops[*(const size_t *) a], *y = &h->ops[*(const size_t *) b];
        size_t ex = x->ev_invoke != NO_EVENT ? x->ev_invoke : x->ev_complete;
        size_t ey = y->ev_invoke != NO_EVENT ? y->ev_invoke : y->ev_complete;
        int c = strcmp(x->key, y->key);

        if (c != 0)
                return c;
        if (x->t_invoke != y->t_invoke)
                return x->t_invoke < y->t_invoke ? -1 : 1;
        return ex < ey ? -1 : ex > ey;
}

size_t *ops_by_key(const struct history *h, unsigned kind_mask, size_t *n) {
        size_t *idx = calloc(h->n_ops + 1, sizeof(size_t));

        if (!idx)
                return NULL;
        *n = 0;
        for (size_t i = 0; i < h->n_ops; i++)
                if (kind_mask & KIND_BIT(h->ops[i].kind))
                        idx[(*n)++] = i;
        qsort_r(idx, *n, sizeof(size_t), cmp_ops_by_key, (void *) h);
        return idx;
}

size_t ops_key_group_end(const struct history *h, const size_t *idx, size_t n, size_t i) {
        const char *key = h->ops[idx[i]].key; /* interned: one pointer per key */

        while (i < n && h->ops[idx[i]].key == key)
                i++;
        return i;
}

static int cmp_size(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return x < y ? -1 : x > y;
}

size_t *ops_lines(const struct history *h, const size_t *ops, size_t n_ops, size_t *n) {
        size_t *lines = calloc(2 * n_ops + 1, sizeof(size_t));

        if (!lines)
                return NULL;
        *n = 0;
        for (size_t i = 0; i < n_ops; i++) {
                const struct op *op = &h->ops[ops[i]];

                if (op->ev_invoke != NO_EVENT)
                        lines[(*n)++] = op->ev_invoke;
                if (op->ev_complete != NO_EVENT)
                        lines[(*n)++] = op->ev_complete;
        }
        qsort(lines, *n, sizeof(size_t), cmp_size);
        return lines;
}
