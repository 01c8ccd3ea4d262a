/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which checkers a history needs, told by the operations in it. */
#include <errno.h>
#include <string.h>

#include "fault/check/check.h"
#include "fault/check/op-index.h"
#include "shared/macro.h"

#define REGISTER_KINDS (KIND_BIT(OP_PUT) | KIND_BIT(OP_DEL) | KIND_BIT(OP_GET) | KIND_BIT(OP_CAS))

/* The kinds each workload may hold. */
static const unsigned workload_kinds[_WORKLOAD_MAX] = {
        [WORKLOAD_REGISTER] = REGISTER_KINDS,
        [WORKLOAD_SET] = KIND_BIT(OP_ADD) | KIND_BIT(OP_READ_SET),
        [WORKLOAD_LOCK] = KIND_BIT(OP_INCR) | KIND_BIT(OP_WRITE_FENCED),
        [WORKLOAD_EXACTLY_ONCE] = REGISTER_KINDS | KIND_BIT(OP_APPLIED),
};

static const char *const workload_names[_WORKLOAD_MAX] = {
        [WORKLOAD_AUTO] = "auto",
        [WORKLOAD_REGISTER] = "register",
        [WORKLOAD_SET] = "set",
        [WORKLOAD_LOCK] = "lock",
        [WORKLOAD_EXACTLY_ONCE] = "exactly-once",
};

int workload_from_string(const char *s, enum workload *ret) {
        for (size_t w = 0; w < _WORKLOAD_MAX; w++)
                if (strcmp(s, workload_names[w]) == 0) {
                        *ret = w;
                        return 0;
                }
        return -EINVAL;
}

const char *workload_to_string(enum workload w) {
        return w < _WORKLOAD_MAX ? workload_names[w] : "?";
}

static unsigned kinds_present(const struct history *h) {
        unsigned kinds = 0;

        for (size_t i = 0; i < h->n_ops; i++)
                kinds |= KIND_BIT(h->ops[i].kind);
        return kinds;
}

static const char *first_kind(unsigned kinds) {
        for (size_t k = 0; k < _OP_KIND_MAX; k++)
                if (kinds & KIND_BIT(k))
                        return op_kind_to_string(k);
        return "?";
}

int workload_detect(const struct history *h, enum workload *ret, const char **why_a, const char **why_b) {
        unsigned kinds = kinds_present(h);
        enum workload w;

        /* The watcher's lines (or its gap notes) make it exactly-once; the
         * other workloads have operations of their own. */
        if (kinds & KIND_BIT(OP_APPLIED) || h->n_gaps > 0)
                w = WORKLOAD_EXACTLY_ONCE;
        else if (kinds & workload_kinds[WORKLOAD_SET])
                w = WORKLOAD_SET;
        else if (kinds & workload_kinds[WORKLOAD_LOCK])
                w = WORKLOAD_LOCK;
        else
                w = WORKLOAD_REGISTER;
        if (kinds & ~workload_kinds[w]) {
                *why_a = first_kind(kinds & workload_kinds[w]);
                *why_b = first_kind(kinds & ~workload_kinds[w]);
                return -EINVAL;
        }
        *ret = w;
        return 0;
}

int check_history(const struct history *h, enum workload w, uint64_t budget, struct check_result *res) {
        int r;

        switch (w) {
        case WORKLOAD_REGISTER:
                return check_register(h, budget, res);
        case WORKLOAD_SET:
                return check_set(h, res);
        case WORKLOAD_LOCK:
                return check_lock(h, res);
        case WORKLOAD_EXACTLY_ONCE:
                /* Unique values make the reads and CASes of this workload
                 * a register history too. */
                r = check_exactly_once(h, res);
                if (r < 0)
                        return r;
                return check_register(h, budget, res);
        default:
                return -EINVAL;
        }
}

/* Whether every op in h belongs to workload w; if not, *stray names one. */
bool workload_admits(const struct history *h, enum workload w, const char **stray) {
        unsigned extra = kinds_present(h) & ~workload_kinds[w];

        if (!extra)
                return true;
        *stray = first_kind(extra);
        return false;
}
