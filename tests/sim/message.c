/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "message.h"

static int buf_copy(const struct raft_buf *b, struct raft_buf *ret) {
        *ret = (struct raft_buf) {};
        if (b->len == 0)
                return 0;
        ret->base = malloc(b->len);
        if (!ret->base)
                return -ENOMEM;
        memcpy(ret->base, b->base, b->len);
        ret->len = b->len;
        return 0;
}

void entries_free(struct raft_entry *e, unsigned n) {
        if (!e)
                return;
        for (unsigned i = 0; i < n; i++)
                free(e[i].data.base);
        free(e);
}

int entries_copy(const struct raft_entry *e, unsigned n, struct raft_entry **ret) {
        struct raft_entry *copy;

        *ret = NULL;
        if (n == 0)
                return 0;
        copy = calloc(n, sizeof(*copy));
        if (!copy)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                copy[i] = e[i];
                if (buf_copy(&e[i].data, &copy[i].data) < 0) {
                        entries_free(copy, i);
                        return -ENOMEM;
                }
        }
        *ret = copy;
        return 0;
}

struct raft_message *message_free(struct raft_message *m) {
        if (!m)
                return NULL;
        if (m->type == RAFT_MSG_APPEND)
                entries_free(m->append.entries, m->append.n_entries);
        else if (m->type == RAFT_MSG_SNAPSHOT)
                free(m->snapshot.data.base);
        free(m);
        return NULL;
}

int message_copy(const struct raft_message *m, struct raft_message **ret) {
        struct raft_message *copy = malloc(sizeof(*copy));
        int r = 0;

        if (!copy)
                return -ENOMEM;
        *copy = *m;
        if (m->type == RAFT_MSG_APPEND)
                r = entries_copy(m->append.entries, m->append.n_entries, &copy->append.entries);
        else if (m->type == RAFT_MSG_SNAPSHOT)
                r = buf_copy(&m->snapshot.data, &copy->snapshot.data);
        if (r < 0) {
                free(copy);
                return r;
        }
        *ret = copy;
        return 0;
}
