/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The register checker: a history is linearizable iff each key's is
 * (P-compositionality, Herlihy & Wing), so each key is searched on its own.
 * A violation is explained by a short window: the shortest prefix (by
 * time) of the key's lines that is already not linearizable, then cut from
 * the left while it stays so - from then on the key's start value is left
 * open, so the window holds whatever the contradiction needs and no more. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "fault/check/register-search.h"
#include "shared/macro.h"

/* Events per window in the first pass over a long history. */
#define WINDOW_EVENTS 2000
/* ... and the part of the budget each may use. */
#define WINDOW_BUDGET_SHARE 20

struct key_history {
        const struct history *h;
        const char *key;
        const size_t *ops; /* indices into h->ops, by call time */
        size_t n_ops;
        size_t n_events;
        size_t *pos_invoke, *pos_complete; /* per op: position among the key's events, SIZE_MAX: none */
        uint64_t *written;                 /* values any op may have written, sorted, unique */
        uint64_t *first_write;             /* per written value: the first such op's invoke time */
        size_t n_written;
        struct reg_op *scratch; /* reg_ops of the current cut */
        size_t *scratch_op;     /* ... and the key op each came from */
        uint64_t budget;
        uint64_t steps;
};

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The key's events in time order (file order between equal times). */
struct key_event {
        uint64_t t;
        size_t event;
        size_t op;
        bool invoke;
};

static int cmp_key_events(const void *a, const void *b) {
        const struct key_event *x = a, *y = b;

        if (x->t != y->t)
                return x->t < y->t ? -1 : 1;
        return x->event < y->event ? -1 : x->event > y->event;
}

struct first_write {
        uint64_t value, t;
};

static int cmp_first_write(const void *a, const void *b) {
        const struct first_write *x = a, *y = b;

        if (x->value != y->value)
                return x->value < y->value ? -1 : 1;
        return x->t < y->t ? -1 : x->t > y->t;
}

static int key_history_init(struct key_history *k) {
        _cleanup_free_ struct first_write *writes = NULL;
        _cleanup_free_ struct key_event *ev = NULL;
        size_t n = 0;

        k->pos_invoke = calloc(k->n_ops, sizeof(size_t));
        k->pos_complete = calloc(k->n_ops, sizeof(size_t));
        k->written = calloc(k->n_ops + 1, sizeof(uint64_t));
        k->first_write = calloc(k->n_ops + 1, sizeof(uint64_t));
        writes = calloc(k->n_ops + 1, sizeof(*writes));
        k->scratch = calloc(k->n_ops + 1, sizeof(struct reg_op));
        k->scratch_op = calloc(k->n_ops + 1, sizeof(size_t));
        ev = calloc(2 * k->n_ops, sizeof(*ev));
        if (!k->pos_invoke || !k->pos_complete || !k->written || !k->scratch || !k->scratch_op || !ev || !k->first_write || !writes)
                return -ENOMEM;
        for (size_t i = 0; i < k->n_ops; i++) {
                const struct op *op = &k->h->ops[k->ops[i]];

                ev[n++] = (struct key_event) { op->t_invoke, op->ev_invoke, i, true };
                if (op->ev_complete != NO_EVENT)
                        ev[n++] = (struct key_event) { op->t_complete, op->ev_complete, i, false };
                k->pos_complete[i] = SIZE_MAX;
                if ((op->kind == OP_PUT || op->kind == OP_CAS) && op->value.present && op->result != RESULT_FAIL)
                        writes[k->n_written++] = (struct first_write) { op->value.v, op->t_invoke };
        }
        qsort(ev, n, sizeof(*ev), cmp_key_events);
        for (size_t i = 0; i < n; i++) {
                if (ev[i].invoke)
                        k->pos_invoke[ev[i].op] = i;
                else
                        k->pos_complete[ev[i].op] = i;
        }
        k->n_events = n;
        qsort(writes, k->n_written, sizeof(*writes), cmp_first_write);
        n = 0;
        for (size_t i = 0; i < k->n_written; i++)
                if (n == 0 || k->written[n - 1] != writes[i].value) {
                        k->written[n] = writes[i].value;
                        k->first_write[n++] = writes[i].t;
                }
        k->n_written = n;
        return 0;
}

static void key_history_done(struct key_history *k) {
        free(k->pos_invoke);
        free(k->pos_complete);
        free(k->written);
        free(k->first_write);
        free(k->scratch);
        free(k->scratch_op);
}

/* The register operations of the key's events [start, end): an op invoked
 * at or after end is left out, one completed at or after end is cut short
 * and its outcome is unknown.  Before start, what completed is left out
 * (the start value, left open, stands for its effect), and a write still
 * running at start is kept as one of unknown outcome, since it may take
 * effect inside the window: so a window that cannot be ordered proves the
 * whole history cannot.  Returns how many. */
static size_t cut(struct key_history *k, size_t start, size_t end) {
        size_t n = 0;

        for (size_t i = 0; i < k->n_ops; i++) {
                const struct op *op = &k->h->ops[k->ops[i]];
                bool completed = k->pos_complete[i] < end;
                enum op_result result = completed ? op->result : RESULT_PENDING;
                struct reg_op r = { .value = op->value, .expected = op->expected, .t_call = op->t_invoke,
                                    .t_return = op->t_complete };

                if (k->pos_invoke[i] >= end)
                        continue;
                if (k->pos_invoke[i] < start) {
                        /* An unknown write may land anywhere later, even
                         * if its `unknown` line came before start. */
                        if (op->kind == OP_GET || result == RESULT_FAIL ||
                            (k->pos_complete[i] < start && !op_result_is_indefinite(result)))
                                continue;
                        result = RESULT_PENDING;
                }
                if (result == RESULT_FAIL) {
                        /* Did not take effect; only a CAS mismatch observed something. */
                        if (op->kind != OP_CAS || !op->reason || strcmp(op->reason, "mismatch") != 0)
                                continue;
                        r.kind = REG_CAS_MISMATCH;
                } else if (op_result_is_indefinite(result)) {
                        if (op->kind == OP_GET)
                                continue; /* no effect, no observation */
                        r.optional = true;
                        r.kind = op->kind == OP_PUT ? REG_PUT : op->kind == OP_DEL ? REG_DEL : REG_CAS;
                } else
                        r.kind = op->kind == OP_PUT   ? REG_PUT
                                 : op->kind == OP_DEL ? REG_DEL
                                 : op->kind == OP_GET ? REG_GET
                                                      : REG_CAS;
                k->scratch_op[n] = i;
                k->scratch[n++] = r;
        }
        return n;
}

static int search_cut(struct key_history *k, size_t start, size_t end, enum reg_search_result *ret) {
        struct reg_search_input in = {
                .ops = k->scratch,
                .n_ops = cut(k, start, end),
                .any_start = start > 0,
                .written = k->written,
                .n_written = k->n_written,
                .budget = k->budget,
        };
        uint64_t steps = 0;
        int r;

        r = reg_search(&in, ret, &steps);
        k->steps += steps;
        return r;
}

static int cmp_size(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return x < y ? -1 : x > y;
}

/* Narrow a known violation in events [first, last) down to a short window
 * and report its lines. */
static int report_violation(struct key_history *k, size_t first, size_t last, struct check_result *res) {
        enum reg_search_result verdict;
        size_t lo = first, hi = last, end, start, n = 0;
        size_t *lines;
        int r;

        /* Shortest violating prefix: prefixes only gain constraints, so
         * bisection finds it.  A prefix whose search runs out of budget
         * counts as not shown to violate. */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                r = search_cut(k, first, mid, &verdict);
                if (r < 0)
                        return r;
                if (verdict == REG_NOT_LINEARIZABLE)
                        hi = mid;
                else
                        lo = mid;
        }
        end = hi;
        /* Then the latest start that still violates.  Not strictly
         * monotone, so bisection gives a short window, not always the
         * shortest; every window it keeps was checked to violate. */
        lo = first;
        hi = end;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                r = search_cut(k, mid, end, &verdict);
                if (r < 0)
                        return r;
                if (verdict == REG_NOT_LINEARIZABLE)
                        lo = mid;
                else
                        hi = mid;
        }
        start = lo;

        lines = calloc(2 * k->n_ops + 1, sizeof(size_t));
        if (!lines)
                return -ENOMEM;
        /* The lines of the ops the window holds. */
        for (size_t i = 0, c = cut(k, start, end); i < c; i++) {
                const struct op *op = &k->h->ops[k->ops[k->scratch_op[i]]];

                lines[n++] = op->ev_invoke;
                if (k->pos_complete[k->scratch_op[i]] < end)
                        lines[n++] = op->ev_complete;
        }
        qsort(lines, n, sizeof(size_t), cmp_size);
        if (start == 0)
                return check_result_add(res, CHECK_VIOLATION, k->key, lines, n,
                                        _("key %s is not linearizable: no order of these %zu lines is legal for a register that starts absent"),
                                        k->key, n);
        return check_result_add(res, CHECK_VIOLATION, k->key, lines, n,
                                _("key %s is not linearizable: no order of these %zu lines is legal, whatever the key held before them"),
                                k->key, n);
}

/* Whether some op that may have written v was invoked by time t. */
static bool written_by(const struct key_history *k, uint64_t v, uint64_t t) {
        const uint64_t *w = bsearch(&v, k->written, k->n_written, sizeof(uint64_t), cmp_u64);

        return w && k->first_write[w - k->written] <= t;
}

/* Before any search: a read (or a CAS's expectation) of a value that no op
 * wrote before it returned cannot be ordered at all.  Found here in one
 * pass, such a read costs no search, which in a long history could run
 * out of budget proving the same. */
static int check_impossible_reads(struct key_history *k, struct check_result *res, bool *found) {
        int r;

        for (size_t i = 0; i < k->n_ops; i++) {
                const struct op *op = &k->h->ops[k->ops[i]];
                struct reg_value seen = op->kind == OP_GET ? op->value : op->expected;

                if (op->result != RESULT_OK || (op->kind != OP_GET && op->kind != OP_CAS) || !seen.present)
                        continue;
                if (written_by(k, seen.v, op->t_complete))
                        continue;
                r = check_report(k->h, res, k->ops[i], NO_EVENT,
                                 _("key %s is not linearizable: %" PRIu64 " was read, but no operation wrote it before the read returned"),
                                 k->key, seen.v);
                if (r < 0)
                        return r;
                *found = true;
        }
        return 0;
}

/* A violation in a long history costs a search of every order up to it,
 * which may not fit the budget; a window around it costs little.  So
 * when the whole is undecided, overlapping windows are searched, each a
 * sound test (see cut()) with a share of the budget. */
static int search_windows(struct key_history *k, struct check_result *res, enum reg_search_result *verdict) {
        uint64_t budget = k->budget;
        int r = 0;

        *verdict = REG_BUDGET_EXHAUSTED;
        for (size_t first = 0; first < k->n_events; first += WINDOW_EVENTS / 2) {
                size_t last = MIN(first + WINDOW_EVENTS, k->n_events);

                k->budget = MAX(budget / WINDOW_BUDGET_SHARE, 1u);
                r = search_cut(k, first, last, verdict);
                k->budget = budget;
                if (r < 0)
                        return r;
                if (*verdict == REG_NOT_LINEARIZABLE)
                        return report_violation(k, first, last, res);
                if (last == k->n_events)
                        break;
        }
        *verdict = REG_BUDGET_EXHAUSTED;
        return 0;
}

static int check_key(struct key_history *k, struct check_result *res) {
        enum reg_search_result verdict;
        bool impossible = false;
        int r;

        r = key_history_init(k);
        if (r < 0)
                return r;
        r = check_impossible_reads(k, res, &impossible);
        if (r < 0 || impossible)
                return r;
        r = search_cut(k, 0, k->n_events, &verdict);
        if (r < 0)
                return r;
        switch (verdict) {
        case REG_LINEARIZABLE:
                return 0;
        case REG_BUDGET_EXHAUSTED:
                r = search_windows(k, res, &verdict);
                if (r < 0 || verdict == REG_NOT_LINEARIZABLE)
                        return r;
                return check_result_add(res, CHECK_UNDECIDED, k->key, NULL, 0,
                                        _("key %s: undecided, the search budget of %" PRIu64 " steps ran out"), k->key,
                                        k->budget);
        default:
                return report_violation(k, 0, k->n_events, res);
        }
}

int check_register(const struct history *h, uint64_t budget, struct check_result *res) {
        _cleanup_free_ size_t *idx = NULL;
        size_t n;
        int r = 0;

        idx = ops_by_key(h, KIND_BIT(OP_PUT) | KIND_BIT(OP_DEL) | KIND_BIT(OP_GET) | KIND_BIT(OP_CAS), &n);
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0, j; i < n && r >= 0; i = j) {
                struct key_history k = { .h = h, .key = h->ops[idx[i]].key, .ops = idx + i, .budget = budget };

                j = ops_key_group_end(h, idx, n, i);
                k.n_ops = j - i;
                r = check_key(&k, res);
                res->search_steps += k.steps;
                key_history_done(&k);
        }
        return r;
}
