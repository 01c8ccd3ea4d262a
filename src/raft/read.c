/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Linearizable reads with ReadIndex (dissertation §6.4): a read waits for
 * one heartbeat round, started after it arrived, that a majority
 * acknowledged.  One round confirms every read that joined it. */
#include <stdlib.h>

#include "raft/core.h"

static int add_read(struct raft *r, uint64_t id, raft_index index) {
        if (r->n_reads == r->cap_reads) {
                size_t cap = r->cap_reads ? r->cap_reads * 2 : 16;
                struct pending_read *n = realloc(r->reads, cap * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                r->reads = n;
                r->cap_reads = cap;
        }
        r->reads[r->n_reads++] = (struct pending_read) { .id = id, .index = index };
        return 0;
}

int read_request(struct raft *r, uint64_t id) {
        int k;

        if (r->role != RAFT_LEADER)
                return RAFT_ENOTLEADER;
        /* Until an entry of its term is committed, the leader's commit
         * index may lag what an earlier leader already acknowledged. */
        if (r->commit < r->term_start)
                return RAFT_EAGAIN;
        if (raft_config_voters(&r->config) == 1 && core_is_voter(r, r->o.id)) {
                core_read_ready(r, id, r->commit);
                return 0;
        }
        k = add_read(r, id, r->commit);
        if (k < 0)
                return k;
        if (r->read_round_sent == r->read_round_confirmed)
                read_start_round(r);
        return 0;
}

void read_start_round(struct raft *r) {
        r->read_round_sent++;
        for (size_t i = 0; i < r->n_reads; i++)
                if (r->reads[i].round == 0)
                        r->reads[i].round = r->read_round_sent;
        replication_send_heartbeats(r);
}

static int cmp_round_desc(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? 1 : x > y ? -1 : 0;
}

void read_handle_ack(struct raft *r, struct progress *p, uint64_t round) {
        uint64_t acks[RAFT_CONFIG_MAX];
        unsigned n = 0;
        uint64_t confirmed;
        size_t kept = 0;

        if (round <= p->read_ack || round > r->read_round_sent)
                return;
        p->read_ack = round;
        if (p->role != RAFT_VOTER || r->n_reads == 0)
                return;

        for (unsigned i = 0; i < r->n_prs; i++) {
                const struct progress *q = &r->prs[i];

                if (q->role == RAFT_VOTER)
                        acks[n++] = q->id == r->o.id ? r->read_round_sent : q->read_ack;
        }
        qsort(acks, n, sizeof(acks[0]), cmp_round_desc);
        confirmed = acks[n / 2];
        if (confirmed <= r->read_round_confirmed)
                return;
        r->read_round_confirmed = confirmed;

        for (size_t i = 0; i < r->n_reads; i++) {
                struct pending_read *rd = &r->reads[i];

                if (rd->round != 0 && rd->round <= confirmed)
                        core_read_ready(r, rd->id, rd->index);
                else
                        r->reads[kept++] = *rd;
        }
        r->n_reads = kept;
        /* Reads that arrived during the round wait for the next one. */
        if (r->n_reads > 0)
                read_start_round(r);
}

void read_fail_all(struct raft *r) {
        for (size_t i = 0; i < r->n_reads; i++)
                core_read_failed(r, r->reads[i].id);
        r->n_reads = 0;
}
