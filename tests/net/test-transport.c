/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transport over real TCP sockets on 127.0.0.1: delivery, refusal of
 * wrong keys and garbage, backpressure against a stalled peer process,
 * reconnection to a restarted peer process, peers that are not in the peer
 * table (a joining node) and which side's connection stays.  Every wait
 * runs the loop until a condition holds; the deadline only fails the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "net/transport.h"
#include "raft/wire.h"
#include "shared/macro.h"
#include "samples.h"

#define DEADLINE_S 20.0
#define MAX_NODES 4

struct node {
        struct net_transport *t;
        uint64_t id;
        unsigned received;   /* raft messages */
        unsigned mismatched; /* raft messages that differ from their sample */
        uint64_t last_read_ctx;
        unsigned forwards;
        uint64_t last_request_id;
        char last_forward[64];
        unsigned warnings;
        char last_warning[1024];
        unsigned notices;  /* LOG_NOTICE lines */
        char last_notice[1024];
        unsigned connects; /* "Connected to peer" lines */
        unsigned refusals; /* higher dialers refused because we dial them */
        bool up[MAX_NODES + 1];
        bool remove_sender; /* drop the sending peer from inside the callback */
};

static void node_log(void *userdata, int priority, const char *message) {
        struct node *n = userdata;

        if (strstr(message, "Connected to peer"))
                n->connects++;
        if (strstr(message, "this node dials that peer itself"))
                n->refusals++;
        if (priority == LOG_NOTICE) {
                n->notices++;
                (void) snprintf(n->last_notice, sizeof(n->last_notice), "%s", message);
        }
        if (priority > LOG_WARNING)
                return;
        n->warnings++;
        (void) snprintf(n->last_warning, sizeof(n->last_warning), "%s", message);
        if (getenv("NET_TEST_VERBOSE"))
                fprintf(stderr, "node %llu: %s\n", (unsigned long long) n->id, message);
}

/* Samples carry term 7 + their index: find the sample and compare. */
static void node_on_raft(void *userdata, const struct raft_message *m) {
        struct node *n = userdata;
        struct raft_message want;

        n->received++;
        if (n->remove_sender)
                assert_int_equal(net_transport_remove_peer(n->t, m->from), 0);
        if (m->type == RAFT_MSG_APPEND)
                n->last_read_ctx = m->append.read_ctx;
        if (m->term < 7 || m->term >= 7 + SAMPLE_COUNT)
                return; /* bulk or echo traffic */
        sample_message((unsigned) (m->term - 7), m->from, m->to, &want);
        if (!messages_equal(&want, m))
                n->mismatched++;
}

static void node_on_forward(void *userdata, uint64_t peer, uint8_t type, uint64_t request_id, const void *payload,
                            size_t len) {
        struct node *n = userdata;

        n->forwards++;
        n->last_request_id = request_id;
        (void) snprintf(n->last_forward, sizeof(n->last_forward), "%.*s", (int) MIN(len, 63), (const char *) payload);
}

static void node_on_peer_state(void *userdata, uint64_t peer, bool connected) {
        struct node *n = userdata;

        if (peer <= MAX_NODES)
                n->up[peer] = connected;
}

static void node_start_with(struct ev_loop *loop, struct node *n, uint64_t id, const struct net_key *key,
                            int listen_fd, size_t queue_limit, uint32_t addressless_max) {
        struct net_options o;

        *n = (struct node) { .id = id };
        net_options_default(&o, id);
        if (listen_fd >= 0)
                o.listen_fd = listen_fd;
        else
                o.listen_address = "127.0.0.1";
        o.key = *key;
        o.log = (struct log_sink) { node_log, n };
        o.cb = (struct net_callbacks) { node_on_raft, node_on_forward, node_on_peer_state, n };
        o.backoff_min_ms = 20;
        o.backoff_max_ms = 200;
        o.handshake_timeout_ms = 2000;
        if (queue_limit)
                o.queue_limit = queue_limit;
        if (addressless_max)
                o.addressless_peers_max = addressless_max;
        assert_int_equal(net_transport_new(loop, &o, &n->t), 0);
}

static void node_start(struct ev_loop *loop, struct node *n, uint64_t id, const struct net_key *key, int listen_fd,
                       size_t queue_limit) {
        node_start_with(loop, n, id, key, listen_fd, queue_limit, 0);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents) {
}

static bool run_until(struct ev_loop *loop, bool (*cond)(void *), void *ud) {
        ev_timer deadline;
        ev_tstamp end;

        ev_now_update(loop);
        end = ev_now(loop) + DEADLINE_S;
        /* Wakes the loop even when no socket does. */
        ev_timer_init(&deadline, on_deadline, 0.05, 0.05);
        ev_timer_start(loop, &deadline);
        while (!cond(ud) && ev_now(loop) < end)
                ev_run(loop, EVRUN_ONCE);
        ev_timer_stop(loop, &deadline);
        return cond(ud);
}

struct pair {
        struct node *a;
        uint64_t b;
};

static bool connected(void *ud) {
        struct pair *p = ud;

        return net_transport_peer_connected(p->a->t, p->b);
}

static bool disconnected(void *ud) {
        return !connected(ud);
}

struct batch_wait {
        struct node *n;
        unsigned want;
};

static bool got_n(void *ud) {
        struct batch_wait *w = ud;

        return w->n->received >= w->want;
}

static void random_key(struct net_key *k) {
        randombytes_buf(k->bytes, sizeof(k->bytes));
}

static bool all_received(void *ud) {
        struct node *n = ud;

        for (unsigned i = 0; i < 3; i++)
                if (n[i].received < 2 * SAMPLE_COUNT || n[i].forwards < 2)
                        return false;
        return true;
}

static void three_transports_deliver_every_message_type(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[3];
        struct net_key key;

        random_key(&key);
        for (unsigned i = 0; i < 3; i++)
                node_start(loop, &n[i], i + 1, &key, -1, 0);
        for (unsigned i = 0; i < 3; i++)
                for (unsigned j = 0; j < 3; j++)
                        if (i != j)
                                assert_int_equal(net_transport_add_peer(n[i].t, j + 1, "127.0.0.1",
                                                                        (uint16_t) net_transport_port(n[j].t)),
                                                 0);
        /* Queued before any connection exists: delivered once one does. */
        for (unsigned i = 0; i < 3; i++)
                for (unsigned j = 0; j < 3; j++) {
                        char payload[32];

                        if (i == j)
                                continue;
                        for (unsigned s = 0; s < SAMPLE_COUNT; s++) {
                                struct raft_message m;

                                sample_message(s, i + 1, j + 1, &m);
                                assert_int_equal(net_transport_send_raft(n[i].t, &m), 0);
                        }
                        (void) snprintf(payload, sizeof(payload), "from %u", i + 1);
                        assert_int_equal(net_transport_send_forward(n[i].t, j + 1, NET_FRAME_FORWARD_REQUEST,
                                                                    100 + i, payload, strlen(payload)),
                                         0);
                }
        assert_true(run_until(loop, all_received, n));
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(n[i].received, 2 * SAMPLE_COUNT);
                assert_int_equal(n[i].mismatched, 0);
                assert_int_equal(n[i].forwards, 2);
                assert_int_equal(n[i].warnings, 0);
                for (unsigned j = 0; j < 3; j++)
                        if (i != j)
                                assert_true(n[i].up[j + 1]);
        }
        assert_int_equal(net_transport_send_forward(n[0].t, 9, NET_FRAME_FORWARD_REQUEST, 1, "x", 1), -ENOENT);
        for (unsigned i = 0; i < 3; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

static bool both_warned(void *ud) {
        struct node *n = ud;

        return n[0].warnings > 0 && n[1].warnings > 0;
}

static void another_clusters_key_is_refused_and_logged(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[2];
        struct net_key k1, k2;
        struct raft_message m;
        char expect[64];

        random_key(&k1);
        random_key(&k2);
        node_start(loop, &n[0], 1, &k1, -1, 0);
        node_start(loop, &n[1], 2, &k2, -1, 0);
        assert_int_equal(net_transport_add_peer(n[1].t, 1, "127.0.0.1", (uint16_t) net_transport_port(n[0].t)), 0);
        assert_int_equal(net_transport_add_peer(n[0].t, 2, "127.0.0.1", (uint16_t) net_transport_port(n[1].t)), 0);
        sample_message(3, 1, 2, &m); /* a vote request: must never arrive */
        assert_int_equal(net_transport_send_raft(n[0].t, &m), 0);
        sample_message(4, 2, 1, &m);
        assert_int_equal(net_transport_send_raft(n[1].t, &m), 0);

        assert_true(run_until(loop, both_warned, n));
        /* The acceptor names the dialer's address and claimed id. */
        assert_non_null(strstr(n[1].last_warning, "127.0.0.1:"));
        assert_non_null(strstr(n[1].last_warning, "claimed id 1"));
        assert_non_null(strstr(n[1].last_warning, "authentication"));
        (void) snprintf(expect, sizeof(expect), "127.0.0.1:%d (claimed id 2)", net_transport_port(n[1].t));
        assert_non_null(strstr(n[0].last_warning, expect));
        assert_int_equal(n[0].received + n[1].received, 0);
        assert_false(net_transport_peer_connected(n[0].t, 2) || net_transport_peer_connected(n[1].t, 1));
        assert_false(n[0].up[2] || n[1].up[1]);
        /* Still queued, never sent in clear. */
        assert_true(net_transport_peer_queued(n[0].t, 2) > 0);
        for (unsigned i = 0; i < 2; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

struct raw {
        int fd;
        bool closed;
        struct node *victim;
};

static int raw_connect(uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* The transport closed its end: reads reach EOF (or a reset). */
static bool raw_dropped(void *ud) {
        struct raw *r = ud;
        char buf[4096];

        while (!r->closed) {
                ssize_t k = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (k > 0)
                        continue; /* the transport's HELLO */
                if (k < 0 && errno == EAGAIN)
                        return false;
                r->closed = true;
        }
        return r->victim->warnings > 0;
}

static bool got_one_more(void *ud) {
        struct node *n = ud;

        return n->received >= 1 + SAMPLE_COUNT;
}

static void drop_by_raw_bytes(struct ev_loop *loop, struct node *victim, const void *bytes, size_t len,
                              const char *reason) {
        struct raw r = { .victim = victim };

        victim->warnings = 0;
        r.fd = raw_connect((uint16_t) net_transport_port(victim->t));
        assert_int_equal(send(r.fd, bytes, len, MSG_NOSIGNAL), (ssize_t) len);
        assert_true(run_until(loop, raw_dropped, &r));
        assert_int_equal(victim->warnings, 1);
        assert_non_null(strstr(victim->last_warning, "127.0.0.1:"));
        assert_non_null(strstr(victim->last_warning, reason));
        (void) close(r.fd);
}

static void garbage_and_forged_frames_drop_only_their_connection(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[2];
        struct net_key key;
        struct raft_message m;
        struct pair p = { &n[0], 2 };
        uint8_t frame[64] = {};

        random_key(&key);
        node_start(loop, &n[0], 1, &key, -1, 0);
        node_start(loop, &n[1], 2, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(n[1].t, 1, "127.0.0.1", (uint16_t) net_transport_port(n[0].t)), 0);
        assert_int_equal(net_transport_add_peer(n[0].t, 2, "127.0.0.1", (uint16_t) net_transport_port(n[1].t)), 0);
        assert_true(run_until(loop, connected, &p));

        drop_by_raw_bytes(loop, &n[1], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, "unsupported wire version");
        /* A RAFT frame before any handshake: unauthenticated. */
        net_frame_header_write(frame, NET_FRAME_RAFT, 25);
        drop_by_raw_bytes(loop, &n[1], frame, NET_FRAME_HEADER_SIZE + 25, "authentication");
        /* A HELLO announcing 1 GiB. */
        net_frame_header_write(frame, NET_FRAME_HELLO, 1u << 30);
        drop_by_raw_bytes(loop, &n[1], frame, NET_FRAME_HEADER_SIZE, "oversized frame");
        /* A well-formed HELLO from an id the node does not know is let into
         * the handshake, and its AUTH must still prove the cluster key. */
        {
                uint8_t hello_auth[2 * NET_FRAME_HEADER_SIZE + 49 + 57] = {};
                uint8_t *auth = hello_auth + NET_FRAME_HEADER_SIZE + 49;

                net_frame_header_write(hello_auth, NET_FRAME_HELLO, 49);
                hello_auth[6] = 1;
                wire_put64(hello_auth + 7, 42);
                wire_put64(hello_auth + 15, 2);
                net_frame_header_write(auth, NET_FRAME_HELLO, 57);
                auth[6] = 2;
                drop_by_raw_bytes(loop, &n[1], hello_auth, sizeof(hello_auth), "claimed id 42");
                assert_non_null(strstr(n[1].last_warning, "handshake failed authentication"));
        }
        /* A HELLO claiming the node's own id. */
        net_frame_header_write(frame, NET_FRAME_HELLO, 49);
        frame[6] = 1;
        wire_put64(frame + 7, 2);
        wire_put64(frame + 15, 2);
        drop_by_raw_bytes(loop, &n[1], frame, NET_FRAME_HEADER_SIZE + 49, "unexpected peer id");
        assert_int_equal(n[1].notices, 0);

        /* The authenticated peer was not disturbed. */
        assert_true(net_transport_peer_connected(n[0].t, 2));
        for (unsigned s = 0; s < SAMPLE_COUNT; s++) {
                sample_message(s, 1, 2, &m);
                assert_int_equal(net_transport_send_raft(n[0].t, &m), 0);
        }
        sample_message(1, 1, 2, &m);
        assert_int_equal(net_transport_send_raft(n[0].t, &m), 0);
        assert_true(run_until(loop, got_one_more, &n[1]));
        assert_int_equal(n[1].mismatched, 0);
        for (unsigned i = 0; i < 2; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

static bool warned(void *ud) {
        struct node *n = ud;

        return n->warnings > 0;
}

static void peer_removed_from_its_own_message_callback_is_gone(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[2];
        struct net_key key;
        struct raft_message m;
        struct pair p = { &n[0], 2 };

        random_key(&key);
        node_start(loop, &n[0], 1, &key, -1, 0);
        node_start(loop, &n[1], 2, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(n[1].t, 1, "127.0.0.1", (uint16_t) net_transport_port(n[0].t)), 0);
        assert_int_equal(net_transport_add_peer(n[0].t, 2, "127.0.0.1", (uint16_t) net_transport_port(n[1].t)), 0);
        assert_true(run_until(loop, connected, &p));
        n[1].remove_sender = true;
        /* Three frames in one write: the first removes the peer, the rest
         * of the batch must not be dispatched on the freed connection. */
        for (unsigned s = 0; s < 3; s++) {
                sample_message(s, 1, 2, &m);
                assert_int_equal(net_transport_send_raft(n[0].t, &m), 0);
        }
        assert_true(run_until(loop, disconnected, &p));
        assert_int_equal(n[1].received, 1);
        sample_message(1, 2, 1, &m);
        assert_int_equal(net_transport_send_raft(n[1].t, &m), -ENOENT);
        /* Node 1 redials; it holds the key, so node 2 takes it back as a
         * peer without an address and answers over that connection. */
        n[1].remove_sender = false;
        {
                struct pair back = { &n[1], 1 };
                struct batch_wait w = { &n[0], 1 };

                assert_true(run_until(loop, connected, &back));
                assert_int_equal(net_transport_send_raft(n[1].t, &m), 0);
                assert_true(run_until(loop, got_n, &w));
        }
        assert_int_equal(n[1].received, 1);
        assert_int_equal(n[1].notices, 1);
        assert_non_null(strstr(n[1].last_notice, "Peer 1 at 127.0.0.1:"));
        assert_int_equal(n[0].warnings + n[1].warnings, 0);
        for (unsigned i = 0; i < 2; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

struct window {
        struct ev_loop *loop;
        ev_tstamp end;
};

static bool window_passed(void *ud) {
        struct window *w = ud;

        return ev_now(w->loop) >= w->end;
}

static void drop_lines_are_rate_limited_and_count_the_suppressed(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct net_options o;
        struct node n = { .id = 2 };
        struct net_key key;
        struct window w = { .loop = loop };

        random_key(&key);
        net_options_default(&o, 2);
        o.listen_address = "127.0.0.1";
        o.key = key;
        o.log = (struct log_sink) { node_log, &n };
        o.log_burst = 2;
        o.log_interval_ms = 300;
        assert_int_equal(net_transport_new(loop, &o, &n.t), 0);
        ev_now_update(loop);
        w.end = ev_now(loop) + 0.3;

        for (unsigned i = 0; i < 5; i++) {
                struct raw r = { .victim = &n };

                r.fd = raw_connect((uint16_t) net_transport_port(n.t));
                assert_int_equal(send(r.fd, "garbage!", 8, MSG_NOSIGNAL), 8);
                /* Dropped every time, logged the first two times. */
                assert_true(run_until(loop, raw_dropped, &r));
                (void) close(r.fd);
        }
        assert_int_equal(n.warnings, 2);
        /* The limit is a rate: the next window lets a line through, and
         * that line says how many were held back. */
        assert_true(run_until(loop, window_passed, &w));
        {
                struct raw r = { .victim = &n };

                r.fd = raw_connect((uint16_t) net_transport_port(n.t));
                assert_int_equal(send(r.fd, "garbage!", 8, MSG_NOSIGNAL), 8);
                n.warnings = 0;
                assert_true(run_until(loop, raw_dropped, &r));
                (void) close(r.fd);
        }
        assert_int_equal(n.warnings, 1);
        assert_non_null(strstr(n.last_warning, "3 similar messages suppressed"));
        n.t = net_transport_free(n.t);
        ev_loop_destroy(loop);
}

static bool batch_received(void *ud) {
        struct batch_wait *w = ud;

        return w[0].n->received >= w[0].want && w[1].n->received >= w[1].want;
}

static void sends_of_one_iteration_leave_in_one_write_per_peer(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[3];
        struct net_key key;
        struct net_peer_stats before[2], after[2];
        struct pair p2 = { &n[0], 2 }, p3 = { &n[0], 3 };
        struct batch_wait w[2] = { { &n[1], 40 }, { &n[2], 40 } };

        random_key(&key);
        for (unsigned i = 0; i < 3; i++)
                node_start(loop, &n[i], i + 1, &key, -1, 0);
        for (unsigned j = 1; j < 3; j++) {
                assert_int_equal(net_transport_add_peer(n[0].t, j + 1, "127.0.0.1",
                                                        (uint16_t) net_transport_port(n[j].t)),
                                 0);
                assert_int_equal(net_transport_add_peer(n[j].t, 1, "127.0.0.1",
                                                        (uint16_t) net_transport_port(n[0].t)),
                                 0);
        }
        assert_true(run_until(loop, connected, &p2));
        assert_true(run_until(loop, connected, &p3));
        for (unsigned j = 0; j < 2; j++)
                assert_int_equal(net_transport_peer_stats(n[0].t, j + 2, &before[j]), 0);

        /* Forty messages per peer, all within one loop iteration. */
        for (unsigned k = 0; k < 40; k++)
                for (unsigned j = 2; j <= 3; j++) {
                        struct raft_message m;

                        sample_message(k % SAMPLE_COUNT, 1, j, &m);
                        assert_int_equal(net_transport_send_raft(n[0].t, &m), 0);
                }
        assert_true(run_until(loop, batch_received, w));
        for (unsigned j = 0; j < 2; j++) {
                assert_int_equal(net_transport_peer_stats(n[0].t, j + 2, &after[j]), 0);
                assert_int_equal(after[j].frames_sent - before[j].frames_sent, 40);
                assert_int_equal(after[j].writes - before[j].writes, 1);
                assert_int_equal(n[j + 1].mismatched, 0);
        }
        assert_int_equal(net_transport_peer_stats(n[0].t, 9, &after[0]), -ENOENT);
        for (unsigned i = 0; i < 3; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

/* Connect a stranger that sends garbage until one is let into the handshake
 * (and then dropped for its garbage) rather than refused at the door. */
static bool stranger_admitted(void *ud) {
        struct raw *r = ud;

        if (r->fd < 0) {
                r->victim->warnings = 0;
                r->closed = false;
                r->fd = raw_connect((uint16_t) net_transport_port(r->victim->t));
                assert_int_equal(send(r->fd, "garbage!", 8, MSG_NOSIGNAL), 8);
        }
        if (!raw_dropped(r))
                return false;
        if (strstr(r->victim->last_warning, "unsupported wire version"))
                return true;
        (void) close(r->fd);
        r->fd = -1;
        return false;
}

static void strangers_in_their_handshake_are_capped(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n;
        struct net_key key;
        int fds[65];
        struct raw r = { .fd = -1, .victim = &n };

        random_key(&key);
        node_start(loop, &n, 2, &key, -1, 0);
        /* Silent connections: each holds a handshake slot until it times out. */
        for (unsigned i = 0; i < 65; i++)
                fds[i] = raw_connect((uint16_t) net_transport_port(n.t));
        assert_true(run_until(loop, warned, &n));
        assert_non_null(strstr(n.last_warning, "too many connections in their handshake"));
        assert_int_equal(n.warnings, 1);
        /* Strangers that leave give their slots back. */
        for (unsigned i = 0; i < 65; i++)
                (void) close(fds[i]);
        assert_true(run_until(loop, stranger_admitted, &r));
        (void) close(r.fd);
        n.t = net_transport_free(n.t);
        ev_loop_destroy(loop);
}

/* What the acceptor sees when a peer restarts without its old connection
 * ending (power loss): a second authenticated connection for the same id. */
static void newer_connection_from_a_peer_replaces_the_older(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node old_one, new_one, two;
        struct net_key key;
        struct raft_message m;
        struct pair p_old = { &old_one, 2 };
        struct batch_wait w = { &two, 1 };

        random_key(&key);
        node_start(loop, &two, 2, &key, -1, 0);
        node_start(loop, &old_one, 1, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(two.t, 1, "127.0.0.1", 1), 0);
        assert_int_equal(net_transport_add_peer(old_one.t, 2, "127.0.0.1", (uint16_t) net_transport_port(two.t)), 0);
        sample_message(3, 1, 2, &m);
        assert_int_equal(net_transport_send_raft(old_one.t, &m), 0);
        assert_true(run_until(loop, got_n, &w));
        assert_true(run_until(loop, connected, &p_old));

        node_start(loop, &new_one, 1, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(new_one.t, 2, "127.0.0.1", (uint16_t) net_transport_port(two.t)), 0);
        sample_message(5, 1, 2, &m);
        assert_int_equal(net_transport_send_raft(new_one.t, &m), 0);
        w.want = 2;
        assert_true(run_until(loop, got_n, &w));
        /* The old connection was closed in favour of the new one. */
        assert_true(run_until(loop, disconnected, &p_old));
        old_one.t = net_transport_free(old_one.t);
        assert_int_equal(two.mismatched, 0);
        assert_int_equal(two.warnings, 0);
        new_one.t = net_transport_free(new_one.t);
        two.t = net_transport_free(two.t);
        ev_loop_destroy(loop);
}

/* A peer process (id 2) that echoes every APPEND back as an APPEND with the
 * same read_ctx.  Never returns. */
static void __attribute__((noreturn)) run_echo_peer(int listen_fd, const struct net_key *key);

static void echo_on_raft(void *userdata, const struct raft_message *m) {
        struct node *n = userdata;
        struct raft_message reply = { .type = RAFT_MSG_APPEND, .from = 2, .to = m->from, .term = 1000 };

        if (m->type != RAFT_MSG_APPEND || m->term != 1000)
                return;
        reply.append.read_ctx = m->append.read_ctx;
        (void) net_transport_send_raft(n->t, &reply);
}

static void run_echo_peer(int listen_fd, const struct net_key *key) {
        struct ev_loop *loop;
        struct net_options o;
        struct node n = { .id = 2 };

        /* Die with the test, even when it fails with this peer stopped. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Only the listening socket: no copies of the parent's connections. */
        for (int fd = 3; fd < 1024; fd++)
                if (fd != listen_fd)
                        (void) close(fd);
        loop = ev_loop_new(EVFLAG_AUTO);
        if (!loop)
                _exit(2);
        net_options_default(&o, 2);
        o.listen_fd = listen_fd;
        o.key = *key;
        o.cb = (struct net_callbacks) { echo_on_raft, NULL, NULL, &n };
        if (net_transport_new(loop, &o, &n.t) < 0 || net_transport_add_peer(n.t, 1, "127.0.0.1", 1) < 0)
                _exit(3);
        ev_run(loop, 0);
        _exit(4);
}

static int listen_ephemeral(uint16_t *port) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &l), 0);
        *port = ntohs(sa.sin_port);
        return fd;
}

static pid_t spawn_echo_peer(int listen_fd, const struct net_key *key) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                run_echo_peer(listen_fd, key);
        return pid;
}

static void kill_and_reap(pid_t pid) {
        int status;

        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

struct echo_wait {
        struct node *n;
        uint64_t ctx;
};

static bool echoed(void *ud) {
        struct echo_wait *w = ud;

        return w->n->last_read_ctx == w->ctx;
}

static void send_echo_request(struct node *n, uint64_t ctx) {
        struct raft_message m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1000 };

        m.append.read_ctx = ctx;
        assert_int_equal(net_transport_send_raft(n->t, &m), 0);
}

static void restarted_peer_process_receives_new_messages(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n;
        struct net_key key;
        struct pair p = { &n, 2 };
        struct echo_wait w = { &n, 1 };
        uint16_t port;
        int lfd;
        pid_t pid;

        random_key(&key);
        /* The test owns the listening socket, so a restarted peer listens on
         * the same port and connection attempts in between wait in its
         * backlog instead of racing a rebind. */
        lfd = listen_ephemeral(&port);
        pid = spawn_echo_peer(lfd, &key);
        node_start(loop, &n, 1, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(n.t, 2, "127.0.0.1", port), 0);
        send_echo_request(&n, 1);
        assert_true(run_until(loop, echoed, &w));

        kill_and_reap(pid);
        assert_true(run_until(loop, disconnected, &p));
        assert_false(n.up[2]);
        pid = spawn_echo_peer(lfd, &key);
        send_echo_request(&n, 2);
        w.ctx = 2;
        assert_true(run_until(loop, echoed, &w));
        assert_true(n.up[2]);

        /* And once more, killed while idle. */
        kill_and_reap(pid);
        assert_true(run_until(loop, disconnected, &p));
        pid = spawn_echo_peer(lfd, &key);
        send_echo_request(&n, 3);
        w.ctx = 3;
        assert_true(run_until(loop, echoed, &w));
        assert_int_equal(n.warnings, 0);
        kill_and_reap(pid);
        n.t = net_transport_free(n.t);
        (void) close(lfd);
        ev_loop_destroy(loop);
}

/* A joining node knows no addresses: the leader's dial is its only way to
 * the cluster, and that connection is its way back. */
static void joining_node_answers_an_unknown_dialer_over_its_connection(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node one, joiner;
        struct net_key key;
        struct raft_message m;
        struct pair back = { &joiner, 1 };
        struct batch_wait at_joiner = { &joiner, 1 }, at_one = { &one, 1 };

        random_key(&key);
        node_start(loop, &joiner, 2, &key, -1, 0);
        node_start(loop, &one, 1, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(one.t, 2, "127.0.0.1", (uint16_t) net_transport_port(joiner.t)), 0);
        sample_message(3, 1, 2, &m);
        assert_int_equal(net_transport_send_raft(one.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_joiner));
        sample_message(4, 2, 1, &m);
        assert_int_equal(net_transport_send_raft(joiner.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_one));
        assert_int_equal(one.mismatched + joiner.mismatched, 0);
        assert_true(joiner.up[1]);
        assert_int_equal(joiner.notices, 1);
        assert_non_null(strstr(joiner.last_notice, "Peer 1 at 127.0.0.1:"));
        assert_non_null(strstr(joiner.last_notice, "not in the peer table"));

        /* Gone: nothing is queued for a peer only it can reconnect. */
        one.t = net_transport_free(one.t);
        assert_true(run_until(loop, disconnected, &back));
        assert_false(joiner.up[1]);
        assert_int_equal(net_transport_send_raft(joiner.t, &m), -ENOTCONN);
        assert_int_equal(net_transport_peer_queued(joiner.t, 1), 0);

        /* Back after a restart: the same entry, not announced again. */
        node_start(loop, &one, 1, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(one.t, 2, "127.0.0.1", (uint16_t) net_transport_port(joiner.t)), 0);
        assert_true(run_until(loop, connected, &back));
        assert_int_equal(net_transport_send_raft(joiner.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_one));
        assert_int_equal(joiner.notices, 1);
        assert_int_equal(one.warnings + joiner.warnings, 0);
        one.t = net_transport_free(one.t);
        joiner.t = net_transport_free(joiner.t);
        ev_loop_destroy(loop);
}

/* A joining node with a lower id than the leader: the leader must dial
 * down to it, although the lower id normally dials. */
static void higher_id_dials_a_lower_node_that_lacks_its_address(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node joiner, leader;
        struct net_key key;
        struct raft_message m;
        struct batch_wait at_joiner = { &joiner, 1 }, at_leader = { &leader, 1 };

        random_key(&key);
        node_start(loop, &joiner, 1, &key, -1, 0);
        node_start(loop, &leader, 3, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(leader.t, 1, "127.0.0.1", (uint16_t) net_transport_port(joiner.t)),
                         0);
        sample_message(3, 3, 1, &m);
        assert_int_equal(net_transport_send_raft(leader.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_joiner));
        sample_message(4, 1, 3, &m);
        assert_int_equal(net_transport_send_raft(joiner.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_leader));
        assert_int_equal(joiner.mismatched + leader.mismatched, 0);
        assert_int_equal(joiner.notices, 1);
        assert_int_equal(joiner.warnings + leader.warnings, 0);
        leader.t = net_transport_free(leader.t);
        joiner.t = net_transport_free(joiner.t);
        ev_loop_destroy(loop);
}

/* The joining node learns the address later (from the replicated address
 * book): it keeps the connection it has and, as the lower id, dials the
 * peer itself from then on. */
static void addressless_peer_given_its_address_is_redialed_by_the_lower_id(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node joiner, other;
        struct net_key key;
        struct raft_message m;
        struct pair j3 = { &joiner, 3 }, o1 = { &other, 1 };
        struct batch_wait at_joiner = { &joiner, 1 };
        uint16_t port;
        int lfd;

        random_key(&key);
        /* The test owns node 3's socket, so its restart listens on the same
         * port. */
        lfd = listen_ephemeral(&port);
        node_start(loop, &joiner, 1, &key, -1, 0);
        node_start(loop, &other, 3, &key, lfd, 0);
        assert_int_equal(net_transport_add_peer(other.t, 1, "127.0.0.1", (uint16_t) net_transport_port(joiner.t)), 0);
        assert_true(run_until(loop, connected, &j3));
        assert_int_equal(net_transport_add_peer(joiner.t, 3, "127.0.0.1", port), 0);
        assert_int_equal(net_transport_add_peer(joiner.t, 3, "127.0.0.1", port), -EEXIST);
        assert_true(net_transport_peer_connected(joiner.t, 3));
        assert_int_equal(joiner.connects, 1);

        /* Node 3 restarts knowing nobody: only node 1 can dial now. */
        other.t = net_transport_free(other.t);
        assert_true(run_until(loop, disconnected, &j3));
        node_start(loop, &other, 3, &key, lfd, 0);
        assert_true(run_until(loop, connected, &o1));
        assert_true(run_until(loop, connected, &j3));
        sample_message(3, 3, 1, &m);
        assert_int_equal(net_transport_send_raft(other.t, &m), 0);
        assert_true(run_until(loop, got_n, &at_joiner));
        assert_int_equal(other.notices, 1);
        assert_int_equal(joiner.warnings + other.warnings, 0);
        other.t = net_transport_free(other.t);
        joiner.t = net_transport_free(joiner.t);
        (void) close(lfd);
        ev_loop_destroy(loop);
}

struct mesh {
        struct node *n;
        unsigned count;
};

static bool mesh_connected(void *ud) {
        struct mesh *m = ud;

        for (unsigned i = 0; i < m->count; i++)
                for (unsigned j = 0; j < m->count; j++)
                        if (i != j && !net_transport_peer_connected(m->n[i].t, m->n[j].id))
                                return false;
        return true;
}

/* Both nodes of a pair dial while they have no connection, and the lower
 * id refuses the higher one's dial: one connection per pair forms, and
 * none is replaced by a second. */
static void both_sides_dial_but_each_pair_keeps_one_connection(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n[4];
        struct mesh mesh = { n, 4 };
        struct window w = { .loop = loop };
        struct net_key key;

        random_key(&key);
        for (unsigned i = 0; i < 4; i++)
                node_start(loop, &n[i], i + 1, &key, -1, 0);
        for (unsigned i = 0; i < 4; i++)
                for (unsigned j = 0; j < 4; j++)
                        if (i != j)
                                assert_int_equal(net_transport_add_peer(n[i].t, j + 1, "127.0.0.1",
                                                                        (uint16_t) net_transport_port(n[j].t)),
                                                 0);
        assert_true(run_until(loop, mesh_connected, &mesh));
        /* Long enough for every redial of a refused dialer (200 ms here). */
        ev_now_update(loop);
        w.end = ev_now(loop) + 0.6;
        assert_true(run_until(loop, window_passed, &w));
        assert_true(mesh_connected(&mesh));
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(n[i].connects, 3);
                assert_int_equal(n[i].notices, 0);
                assert_int_equal(n[i].warnings, 0);
        }
        for (unsigned i = 0; i < 4; i++)
                n[i].t = net_transport_free(n[i].t);
        ev_loop_destroy(loop);
}

/* A key holder cannot make a node keep ever more peers: past the cap a
 * newcomer is refused, unless a disconnected one makes room. */
static void addressless_peers_are_capped_and_idle_ones_make_room(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node hub, d[3];
        struct net_key key;
        struct raft_message m;
        struct pair h1 = { &hub, 1 }, h2 = { &hub, 2 }, h3 = { &hub, 3 };

        random_key(&key);
        node_start_with(loop, &hub, 10, &key, -1, 0, 2);
        for (unsigned i = 0; i < 2; i++) {
                node_start(loop, &d[i], i + 1, &key, -1, 0);
                assert_int_equal(net_transport_add_peer(d[i].t, 10, "127.0.0.1", (uint16_t) net_transport_port(hub.t)),
                                 0);
        }
        assert_true(run_until(loop, connected, &h1));
        assert_true(run_until(loop, connected, &h2));
        node_start(loop, &d[2], 3, &key, -1, 0);
        assert_int_equal(net_transport_add_peer(d[2].t, 10, "127.0.0.1", (uint16_t) net_transport_port(hub.t)), 0);
        assert_true(run_until(loop, warned, &hub));
        assert_non_null(strstr(hub.last_warning, "claimed id 3"));
        assert_non_null(strstr(hub.last_warning, "too many peers without an address"));
        assert_false(net_transport_peer_connected(hub.t, 3));

        d[0].t = net_transport_free(d[0].t);
        assert_true(run_until(loop, disconnected, &h1));
        /* Node 3 redials on its own and takes node 1's place. */
        assert_true(run_until(loop, connected, &h3));
        sample_message(3, 10, 1, &m);
        assert_int_equal(net_transport_send_raft(hub.t, &m), -ENOENT);
        assert_true(net_transport_peer_connected(hub.t, 2));
        assert_int_equal(hub.notices, 3);
        for (unsigned i = 1; i < 3; i++)
                d[i].t = net_transport_free(d[i].t);
        hub.t = net_transport_free(hub.t);
        ev_loop_destroy(loop);
}

struct flood {
        struct node *n;
        size_t limit;
        size_t max_seen;
        unsigned refused_at_once; /* refused although the loop had flushed */
        unsigned accepted;
        int error;
        struct raft_entry entry;
};

/* Called once per loop iteration, i.e. after a flush: send until refused.
 * A refusal of the very first send means the flush could not make room:
 * the peer is not reading and the queue is at its limit. */
static bool flood_step(struct flood *f) {
        struct raft_message m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2000 };

        m.append.n_entries = 1;
        m.append.entries = &f->entry;
        for (unsigned i = 0;; i++) {
                int r = net_transport_send_raft(f->n->t, &m);

                f->max_seen = MAX(f->max_seen, net_transport_peer_queued(f->n->t, 2));
                if (r == 0) {
                        f->accepted++;
                        continue;
                }
                if (r != -ENOBUFS)
                        f->error = r;
                else if (i == 0)
                        f->refused_at_once++;
                return f->refused_at_once > 0 || f->error != 0;
        }
}

static void stalled_peer_keeps_queue_bounded_and_sends_fail_with_enobufs(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct node n;
        struct net_key key;
        struct pair p = { &n, 2 };
        struct flood f = { .n = &n, .limit = 256 * 1024 };
        static char data[60000];
        ev_tstamp end;
        uint16_t port;
        int lfd;
        pid_t pid;

        random_key(&key);
        lfd = listen_ephemeral(&port);
        pid = spawn_echo_peer(lfd, &key);
        node_start(loop, &n, 1, &key, -1, f.limit);
        assert_int_equal(net_transport_add_peer(n.t, 2, "127.0.0.1", port), 0);
        assert_true(run_until(loop, connected, &p));

        /* The peer stops reading: its socket buffers fill, then our queue. */
        assert_int_equal(kill(pid, SIGSTOP), 0);
        f.entry = (struct raft_entry) { .term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .data = { data, sizeof(data) } };
        ev_now_update(loop);
        end = ev_now(loop) + DEADLINE_S;
        while (!flood_step(&f) && ev_now(loop) < end)
                ev_run(loop, EVRUN_NOWAIT);
        if (getenv("NET_TEST_VERBOSE"))
                fprintf(stderr, "accepted %u frames of %zu bytes before the queue stayed full\n", f.accepted,
                        sizeof(data));
        assert_int_equal(f.error, 0);
        assert_int_equal(f.refused_at_once, 1);
        /* More than the queue limit went out: the socket buffers took it. */
        assert_true(f.accepted * sizeof(data) > f.limit);
        assert_true(f.max_seen <= f.limit);
        assert_true(net_transport_peer_queued(n.t, 2) > f.limit - sizeof(data) - 100);
        /* Refusal holds while the peer stays stalled, and memory with it. */
        for (unsigned i = 0; i < 10; i++) {
                ev_run(loop, EVRUN_NOWAIT);
                (void) flood_step(&f);
        }
        assert_int_equal(f.refused_at_once, 11);
        assert_true(f.max_seen <= f.limit);
        assert_true(net_transport_peer_connected(n.t, 2));

        assert_int_equal(kill(pid, SIGCONT), 0);
        kill_and_reap(pid);
        n.t = net_transport_free(n.t);
        (void) close(lfd);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(three_transports_deliver_every_message_type),
                cmocka_unit_test(another_clusters_key_is_refused_and_logged),
                cmocka_unit_test(garbage_and_forged_frames_drop_only_their_connection),
                cmocka_unit_test(peer_removed_from_its_own_message_callback_is_gone),
                cmocka_unit_test(drop_lines_are_rate_limited_and_count_the_suppressed),
                cmocka_unit_test(sends_of_one_iteration_leave_in_one_write_per_peer),
                cmocka_unit_test(strangers_in_their_handshake_are_capped),
                cmocka_unit_test(newer_connection_from_a_peer_replaces_the_older),
                cmocka_unit_test(restarted_peer_process_receives_new_messages),
                cmocka_unit_test(stalled_peer_keeps_queue_bounded_and_sends_fail_with_enobufs),
                cmocka_unit_test(joining_node_answers_an_unknown_dialer_over_its_connection),
                cmocka_unit_test(higher_id_dials_a_lower_node_that_lacks_its_address),
                cmocka_unit_test(addressless_peer_given_its_address_is_redialed_by_the_lower_id),
                cmocka_unit_test(both_sides_dial_but_each_pair_keeps_one_connection),
                cmocka_unit_test(addressless_peers_are_capped_and_idle_ones_make_room),
        };

        signal(SIGPIPE, SIG_IGN);
        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
