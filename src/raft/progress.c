/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The leader's view of every other server: match/next indexes, the flow
 * control state and the window of appends in flight. */
#include <string.h>

#include "raft/core.h"

static void progress_init(struct raft *r, struct progress *p, const struct raft_server *s) {
        memset(p, 0, sizeof(*p));
        p->id = s->id;
        p->role = s->role;
        p->state = PROGRESS_PROBE;
        p->next = log_last_index(&r->log) + 1;
        /* Counts as active for the first quorum check of a new term. */
        p->recent_active = true;
}

void progress_reset_all(struct raft *r) {
        r->n_prs = 0;
        for (unsigned i = 0; i < r->config.n; i++)
                progress_init(r, &r->prs[r->n_prs++], &r->config.servers[i]);
}

/* Keep the progress of servers that stay in the configuration. */
void progress_sync_config(struct raft *r) {
        struct progress old[RAFT_CONFIG_MAX];
        unsigned n_old = r->n_prs;

        memcpy(old, r->prs, n_old * sizeof(old[0]));
        r->n_prs = 0;
        for (unsigned i = 0; i < r->config.n; i++) {
                const struct raft_server *s = &r->config.servers[i];
                struct progress *p = &r->prs[r->n_prs++];
                unsigned j;

                for (j = 0; j < n_old && old[j].id != s->id; j++)
                        ;
                if (j < n_old) {
                        *p = old[j];
                        p->role = s->role;
                } else
                        progress_init(r, p, s);
        }
}

struct progress *progress_find(struct raft *r, raft_id id) {
        for (unsigned i = 0; i < r->n_prs; i++)
                if (r->prs[i].id == id)
                        return &r->prs[i];
        return NULL;
}

bool progress_inflight_full(const struct raft *r, const struct progress *p) {
        return p->inflight_count >= r->o.max_inflight;
}

bool progress_can_send(const struct raft *r, const struct progress *p) {
        switch (p->state) {
        case PROGRESS_PROBE:
                return !p->probe_paused;
        case PROGRESS_REPLICATE:
                return !progress_inflight_full(r, p);
        default:
                return false;
        }
}

void progress_inflight_add(struct progress *p, raft_index last) {
        if (p->inflight_count == RAFT_INFLIGHT_CAP)
                return;
        p->inflight[(p->inflight_start + p->inflight_count) % RAFT_INFLIGHT_CAP] = last;
        p->inflight_count++;
}

void progress_inflight_free_to(struct progress *p, raft_index index) {
        while (p->inflight_count > 0) {
                if (p->inflight[p->inflight_start] > index)
                        break;
                p->inflight_start = (p->inflight_start + 1) % RAFT_INFLIGHT_CAP;
                p->inflight_count--;
        }
}

void progress_become_probe(struct progress *p) {
        p->state = PROGRESS_PROBE;
        p->probe_paused = false;
        p->inflight_start = 0;
        p->inflight_count = 0;
        p->next = p->match + 1;
}

void progress_become_replicate(struct progress *p) {
        p->state = PROGRESS_REPLICATE;
        p->probe_paused = false;
        p->inflight_start = 0;
        p->inflight_count = 0;
        p->next = p->match + 1;
}
