/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Membership changes, one server at a time (dissertation §4.1, with the
 * fix of §4.1's erratum: a leader first commits an entry of its own term).
 * Learners receive the log but do not vote; they are promoted only once
 * caught up, so a new voter cannot stall commitment. */
#include <string.h>

#include "raft/core.h"

static int change_config(struct raft_config *c, struct raft *r, uint8_t op, raft_id id) {
        struct raft_server *s = NULL;
        const struct progress *p;

        for (unsigned i = 0; i < c->n; i++)
                if (c->servers[i].id == id)
                        s = &c->servers[i];
        switch (op) {
        case RAFT_CHANGE_ADD_LEARNER:
                if (s)
                        return -EEXIST;
                if (c->n == RAFT_CONFIG_MAX)
                        return -ENOSPC;
                c->servers[c->n++] = (struct raft_server) { .id = id, .role = RAFT_LEARNER };
                return 0;
        case RAFT_CHANGE_PROMOTE:
                if (!s)
                        return -ENOENT;
                if (s->role == RAFT_VOTER)
                        return -EALREADY;
                p = progress_find(r, id);
                if (!p || p->match < r->commit)
                        return RAFT_EAGAIN; /* still catching up */
                s->role = RAFT_VOTER;
                return 0;
        case RAFT_CHANGE_REMOVE:
                if (!s)
                        return -ENOENT;
                if (s->role == RAFT_VOTER && raft_config_voters(c) == 1)
                        return -EINVAL;
                *s = c->servers[--c->n];
                return 0;
        default:
                return -EINVAL;
        }
}

int membership_change(struct raft *r, uint8_t op, raft_id id) {
        struct raft_config c = r->config;
        uint8_t buf[4 + RAFT_CONFIG_MAX * 9];
        raft_index index;
        int k;

        if (r->role != RAFT_LEADER)
                return RAFT_ENOTLEADER;
        if (id == 0)
                return -EINVAL;
        if (r->commit < r->term_start)
                return RAFT_EAGAIN;
        if (r->transferee || r->config_index > r->commit)
                return RAFT_EBUSY; /* one change at a time */
        k = change_config(&c, r, op, id);
        if (k < 0)
                return k;
        raft_config_encode(&c, buf);
        k = log_append(&r->log, r->hs.term, RAFT_ENTRY_CONFIG, buf, raft_config_encoded_size(&c));
        if (k < 0)
                return k;
        index = log_last_index(&r->log);
        r->persist_from = MIN_U64(r->persist_from, index);
        r->u->proposed_index = index;
        r->u->proposed_term = r->hs.term;
        core_apply_config(r, &c, index);
        replication_broadcast(r);
        replication_maybe_commit(r);
        return 0;
}
