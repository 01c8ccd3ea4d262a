/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "net.h"

void net_init(struct net *n, uint32_t delay_min_ms, uint32_t delay_max_ms) {
        *n = (struct net) {
                .delay_min_ms = delay_min_ms,
                .delay_max_ms = delay_max_ms,
        };
}

void net_heal(struct net *n) {
        memset(n->blocked, 0, sizeof(n->blocked));
        n->loss_permille = 0;
        n->dup_permille = 0;
}

static bool valid(raft_id id) {
        return id > 0 && id < NET_MAX_NODES;
}

void net_block(struct net *n, raft_id from, raft_id to) {
        if (valid(from) && valid(to))
                n->blocked[from][to] = true;
}

void net_split(struct net *n, uint32_t group) {
        for (raft_id a = 1; a < NET_MAX_NODES; a++)
                for (raft_id b = 1; b < NET_MAX_NODES; b++)
                        if (!!(group & (UINT32_C(1) << a)) != !!(group & (UINT32_C(1) << b)))
                                n->blocked[a][b] = true;
}

void net_isolate(struct net *n, raft_id node) {
        if (!valid(node))
                return;
        for (raft_id b = 1; b < NET_MAX_NODES; b++) {
                n->blocked[node][b] = true;
                n->blocked[b][node] = true;
        }
}

bool net_connected(const struct net *n, raft_id from, raft_id to) {
        return valid(from) && valid(to) && !n->blocked[from][to];
}

unsigned net_route(const struct net *n, struct prng *p, raft_id from, raft_id to, uint64_t delays[2]) {
        unsigned copies;

        if (!net_connected(n, from, to))
                return 0;
        /* Draw the same amount of randomness whatever the outcome, so a
         * change of loss rate does not shift the rest of the run. */
        bool lost = prng_chance(p, n->loss_permille);
        bool dup = prng_chance(p, n->dup_permille);

        delays[0] = prng_range(p, n->delay_min_ms, n->delay_max_ms);
        delays[1] = prng_range(p, n->delay_min_ms, n->delay_max_ms * 3);
        if (lost)
                return 0;
        copies = dup ? 2 : 1;
        return copies;
}
