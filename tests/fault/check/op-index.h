/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The operations of some kinds grouped by key, for the checkers that look
 * at one key (register, set, resource) at a time. */

#include <stddef.h>

#include "fault/check/history.h"

#define KIND_BIT(k) (1u << (k))

/* Indices into h->ops of the ops whose kind is in kind_mask, sorted by key
 * (strcmp), then call time, then file order.  NULL on ENOMEM. */
size_t *ops_by_key(const struct history *h, unsigned kind_mask, size_t *n);
/* The end of the group of ops with the same key that starts at idx[i]. */
size_t ops_key_group_end(const struct history *h, const size_t *idx, size_t n, size_t i);
/* The lines (indices into h->events, ascending) of the given ops:
 * invoke and completion of each.  NULL on ENOMEM. */
size_t *ops_lines(const struct history *h, const size_t *ops, size_t n_ops, size_t *n);
