/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transport throughput on loopback: two transports in one process on one
 * loop; node 1 sends APPEND messages of one entry to node 2, `batch` per
 * loop iteration, and node 2 counts them.  Reports messages/s, payload MB/s
 * and send() calls per batch.
 *
 *   bench-net [MESSAGES [ENTRY_BYTES [BATCH]]]     defaults 200000 100 64 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/transport.h"

struct bench {
        struct net_transport *a, *b;
        unsigned long total, sent, received;
        unsigned batch;
        struct raft_entry entry;
        ev_idle sender;
};

static void on_raft(void *userdata, const struct raft_message *m) {
        struct bench *b = userdata;

        b->received++;
}

/* Queue one batch per loop iteration while the receiver keeps up; the
 * transport's prepare watcher flushes it. */
static void on_idle(struct ev_loop *loop, ev_idle *w, int revents) {
        struct bench *b = w->data;
        struct raft_message m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1 };

        if (b->received >= b->total) {
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        m.append.n_entries = 1;
        m.append.entries = &b->entry;
        for (unsigned i = 0; i < b->batch && b->sent < b->total; i++) {
                if (net_transport_send_raft(b->a, &m) < 0)
                        break; /* queue full: let the loop drain it */
                b->sent++;
        }
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        struct ev_loop *loop = ev_default_loop(0);
        struct bench b = { .total = 200000, .batch = 64 };
        struct net_options o;
        struct net_peer_stats st;
        size_t entry_bytes = 100;
        double t0, t1;
        void *data;

        if (argc > 1)
                b.total = strtoul(argv[1], NULL, 10);
        if (argc > 2)
                entry_bytes = strtoul(argv[2], NULL, 10);
        if (argc > 3)
                b.batch = (unsigned) strtoul(argv[3], NULL, 10);
        if (sodium_init() < 0 || !(data = calloc(1, entry_bytes ? entry_bytes : 1)))
                return 1;
        b.entry = (struct raft_entry) { .term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .data = { data, entry_bytes } };

        net_options_default(&o, 2);
        randombytes_buf(o.key.bytes, sizeof(o.key.bytes));
        o.listen_address = "127.0.0.1";
        o.cb.raft = on_raft;
        o.cb.userdata = &b;
        if (net_transport_new(loop, &o, &b.b) < 0)
                return 1;
        o.self_id = 1;
        o.listen_address = NULL;
        o.cb.raft = NULL;
        if (net_transport_new(loop, &o, &b.a) < 0 ||
            net_transport_add_peer(b.a, 2, "127.0.0.1", (uint16_t) net_transport_port(b.b)) < 0 ||
            net_transport_add_peer(b.b, 1, "127.0.0.1", 1) < 0)
                return 1;
        while (!net_transport_peer_connected(b.a, 2))
                ev_run(loop, EVRUN_ONCE);

        ev_idle_init(&b.sender, on_idle);
        b.sender.data = &b;
        ev_idle_start(loop, &b.sender);
        t0 = now_s();
        ev_run(loop, 0);
        t1 = now_s();
        (void) net_transport_peer_stats(b.a, 2, &st);
        printf("messages %lu, entry %zu bytes, batch %u: %.0f msg/s, %.1f MB/s of entry data, "
               "%.1f frames per send()\n",
               b.received, entry_bytes, b.batch, (double) b.received / (t1 - t0),
               (double) b.received * (double) entry_bytes / (t1 - t0) / 1e6,
               st.writes ? (double) st.frames_sent / (double) st.writes : 0.0);
        b.a = net_transport_free(b.a);
        b.b = net_transport_free(b.b);
        free(data);
        return 0;
}
