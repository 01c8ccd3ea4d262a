/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leadership transfer (dissertation §3.10): catch the target up, then tell
 * it to campaign at once with TimeoutNow.  Proposals wait meanwhile. */
#include "raft/core.h"

int transfer_start(struct raft *r, raft_id target) {
        struct progress *p = NULL;

        if (r->role != RAFT_LEADER)
                return RAFT_ENOTLEADER;
        if (r->transferee)
                return RAFT_EBUSY;
        if (target == r->o.id)
                return 0;
        if (target == 0) {
                for (unsigned i = 0; i < r->n_prs; i++) {
                        struct progress *q = &r->prs[i];

                        if (q->id != r->o.id && q->role == RAFT_VOTER && (!p || q->match > p->match))
                                p = q;
                }
                if (!p)
                        return -ENOENT;
        } else {
                p = progress_find(r, target);
                if (!p || p->role != RAFT_VOTER)
                        return -EINVAL;
        }
        r->transferee = p->id;
        r->transfer_sent = false;
        r->transfer_deadline = r->now + r->o.election_ms;
        if (p->match == log_last_index(&r->log))
                transfer_progress(r, p);
        else if (progress_can_send(r, p))
                replication_send_append(r, p);
        return 0;
}

void transfer_progress(struct raft *r, struct progress *p) {
        /* Once only: a second TimeoutNow would make the target start
         * another election after it won the first. */
        if (r->transferee != p->id || r->transfer_sent || p->match != log_last_index(&r->log))
                return;
        (void) core_message(r, RAFT_MSG_TIMEOUT_NOW, p->id, false);
        r->transfer_sent = true;
}

void transfer_tick(struct raft *r) {
        /* The target did not take over in time: serve again. */
        if (r->transferee && r->now >= r->transfer_deadline)
                transfer_abort(r);
}

void transfer_abort(struct raft *r) {
        r->transferee = 0;
}
