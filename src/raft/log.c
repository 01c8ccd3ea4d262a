/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-memory Raft log: a growable array of entries after `offset`.
 * Entry payloads are owned by the log (one allocation each). */
#include <stdlib.h>
#include <string.h>

#include "raft/core.h"

void log_init(struct raft_log *l) {
        memset(l, 0, sizeof(*l));
}

static void entry_free(struct raft_entry *e) {
        free(e->data.base);
        e->data.base = NULL;
}

void log_clear(struct raft_log *l) {
        for (size_t i = 0; i < l->n; i++)
                entry_free(&l->entries[i]);
        free(l->entries);
        log_init(l);
}

raft_index log_last_index(const struct raft_log *l) {
        return l->offset + l->n;
}

raft_term log_last_term(const struct raft_log *l) {
        return l->n > 0 ? l->entries[l->n - 1].term : l->offset_term;
}

raft_term log_term_at(const struct raft_log *l, raft_index index) {
        if (index == l->offset)
                return l->offset_term;
        if (index < l->offset || index > log_last_index(l))
                return 0;
        return l->entries[index - l->offset - 1].term;
}

struct raft_entry *log_get(const struct raft_log *l, raft_index index) {
        if (index <= l->offset || index > log_last_index(l))
                return NULL;
        return &l->entries[index - l->offset - 1];
}

int log_append(struct raft_log *l, raft_term term, uint8_t type, const void *data, size_t len) {
        struct raft_entry *e;
        void *copy = NULL;

        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                struct raft_entry *n = realloc(l->entries, cap * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                l->entries = n;
                l->cap = cap;
        }
        if (len > 0) {
                copy = malloc(len);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, data, len);
        }
        e = &l->entries[l->n];
        e->term = term;
        e->index = log_last_index(l) + 1;
        e->type = type;
        e->data.base = copy;
        e->data.len = len;
        l->n++;
        return 0;
}

void log_truncate(struct raft_log *l, raft_index from) {
        if (from <= l->offset)
                from = l->offset + 1;
        while (log_last_index(l) >= from) {
                entry_free(&l->entries[l->n - 1]);
                l->n--;
        }
}

void log_compact(struct raft_log *l, raft_index index) {
        size_t drop;

        if (index <= l->offset)
                return;
        if (index > log_last_index(l))
                index = log_last_index(l);
        drop = index - l->offset;
        l->offset_term = l->entries[drop - 1].term;
        for (size_t i = 0; i < drop; i++)
                entry_free(&l->entries[i]);
        memmove(l->entries, l->entries + drop, (l->n - drop) * sizeof(*l->entries));
        l->n -= drop;
        l->offset = index;
}

void log_reset(struct raft_log *l, raft_index index, raft_term term) {
        log_truncate(l, l->offset + 1);
        l->offset = index;
        l->offset_term = term;
}
