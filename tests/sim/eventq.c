/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "eventq.h"
#include "message.h"

static bool before(const struct sim_event *a, const struct sim_event *b) {
        return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void swap(struct sim_event *a, struct sim_event *b) {
        struct sim_event t = *a;

        *a = *b;
        *b = t;
}

int eventq_push(struct eventq *q, struct sim_event ev) {
        size_t i;

        if (q->n == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 256;
                struct sim_event *h = realloc(q->heap, cap * sizeof(*h));

                if (!h)
                        return -ENOMEM;
                q->heap = h;
                q->cap = cap;
        }
        ev.seq = q->next_seq++;
        i = q->n++;
        q->heap[i] = ev;
        while (i > 0 && before(&q->heap[i], &q->heap[(i - 1) / 2])) {
                swap(&q->heap[i], &q->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        return 0;
}

const struct sim_event *eventq_peek(const struct eventq *q) {
        return q->n ? &q->heap[0] : NULL;
}

int eventq_pop(struct eventq *q, struct sim_event *ret) {
        size_t i = 0;

        if (q->n == 0)
                return 0;
        *ret = q->heap[0];
        q->heap[0] = q->heap[--q->n];
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < q->n && before(&q->heap[l], &q->heap[m]))
                        m = l;
                if (r < q->n && before(&q->heap[r], &q->heap[m]))
                        m = r;
                if (m == i)
                        break;
                swap(&q->heap[i], &q->heap[m]);
                i = m;
        }
        return 1;
}

void eventq_done(struct eventq *q) {
        for (size_t i = 0; i < q->n; i++)
                message_free(q->heap[i].message);
        free(q->heap);
        *q = (struct eventq) {};
}
