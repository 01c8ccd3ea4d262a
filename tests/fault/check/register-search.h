/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Linearizability of one register's operations: the Wing-Gong search with
 * Lowe's refinements, as Porcupine and Knossos run it.  Operations are
 * [call, return] intervals; an operation whose outcome is unknown returns
 * at infinity and may be left out.  Search states already explored - the
 * set of operations linearized and the register's value - are cached, so
 * no state is expanded twice. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault/check/history.h"

enum reg_step_kind {
        REG_PUT,          /* value */
        REG_DEL,
        REG_GET,          /* observed value */
        REG_CAS,          /* expected -> value, succeeded */
        REG_CAS_MISMATCH, /* observed a value other than expected */
};

struct reg_op {
        enum reg_step_kind kind;
        bool optional; /* outcome unknown: may have taken effect, observed nothing */
        struct reg_value value, expected;
        uint64_t t_call, t_return; /* t_return ignored when optional */
};

enum reg_search_result {
        REG_LINEARIZABLE,
        REG_NOT_LINEARIZABLE,
        REG_BUDGET_EXHAUSTED,
};

struct reg_search_input {
        /* Any order is correct; in call order the cache keys stay short,
         * since "every op below P is linearized" then covers most. */
        const struct reg_op *ops;
        size_t n_ops;
        /* false: the register starts absent.  true: it starts with any value
         * from `written` (sorted) or absent - for a window cut out of a
         * longer history. */
        bool any_start;
        const uint64_t *written;
        size_t n_written;
        uint64_t budget; /* model steps to try at most */
};

/* *steps: model steps tried. */
int reg_search(const struct reg_search_input *in, enum reg_search_result *ret, uint64_t *steps);
