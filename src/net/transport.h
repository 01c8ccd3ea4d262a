/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The TCP peer transport on a caller-supplied libev loop (no threads, no
 * globals).  Peers are known by node id and a numeric address:port.
 *
 *  - One connection per peer pair.  Both nodes dial a peer whose address
 *    they know while they have no connection to it; a node refuses (quietly)
 *    a dialer with a higher id whose address it knows, because it dials that
 *    one itself, so the lower id's connection is the one that stays.  A newer
 *    authenticated connection from a peer replaces the older one (the peer
 *    restarted).
 *  - A peer that is not in the peer table but completes the handshake (it
 *    holds the cluster key) is added without an address: the connection it
 *    dialed in on is the way back to it.  This is how a joining node, which
 *    knows no addresses yet, hears from the leader.  Such a peer is never
 *    dialed; sends to it fail with -ENOTCONN while it is not connected.  At
 *    most addressless_peers_max of them are kept (a disconnected one makes
 *    room for a newcomer); net_transport_add_peer() gives one its address.
 *  - Dialing reconnects with exponential backoff and full jitter drawn
 *    from libsodium's randombytes.
 *  - Every connection starts with the handshake of handshake.h; nothing
 *    but HELLO frames is accepted before it completes, and every later frame
 *    is sealed.  A malformed, oversized or unauthenticated frame drops the
 *    connection and logs one rate-limited line naming the peer's address
 *    and claimed id; nothing else changes.
 *  - Sends are queued per peer, as plaintext frames until a connection is
 *    established, and sealed and written when the queue is flushed.  A peer's
 *    queue (queued frames plus unwritten bytes) is bounded by
 *    net_options.queue_limit: beyond it sends fail with -ENOBUFS (Raft
 *    tolerates lost messages), never growing memory.
 *  - Batching: an ev_prepare watcher at EV_MINPRI flushes every peer once per
 *    loop iteration, after the iteration's other callbacks (including the
 *    caller's own ev_prepare watchers of higher priority) ran, so all sends
 *    of one iteration leave in one write() per peer.  net_transport_flush()
 *    does the same at once.
 *
 * Callbacks may send and flush.  They must not free the transport; removing
 * a peer from a callback is fine.
 */

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/codec.h"
#include "net/key.h"
#include "shared/log.h"

struct net_transport;

struct net_callbacks {
        /* A RAFT message from an authenticated peer, with m->from equal to
         * that peer and m->to equal to us.  m and everything it points to
         * (entries, snapshot data) live until the callback returns. */
        void (*raft)(void *userdata, const struct raft_message *m);
        /* A FORWARD_REQUEST or FORWARD_RESPONSE frame from peer; payload
         * lives until the callback returns. */
        void (*forward)(void *userdata, uint64_t peer, uint8_t type, uint64_t request_id, const void *payload,
                        size_t len);
        /* Reachability: an authenticated connection to peer came up or went
         * down.  Optional. */
        void (*peer_state)(void *userdata, uint64_t peer, bool connected);
        void *userdata;
};

struct net_options {
        uint64_t self_id;
        /* Where to listen (numeric IPv4 or IPv6 address; port 0 picks an
         * ephemeral port), or listen_fd >= 0: an already listening socket,
         * e.g. from socket activation; it stays the caller's to close.  With
         * neither the transport only dials. */
        const char *listen_address;
        uint16_t listen_port;
        int listen_fd;
        struct net_key key;
        struct log_sink log;
        struct net_callbacks cb;
        size_t queue_limit;            /* bytes per peer */
        uint32_t backoff_min_ms;       /* first reconnect delay */
        uint32_t backoff_max_ms;       /* cap of the doubling delay */
        uint32_t handshake_timeout_ms; /* connect + handshake */
        uint32_t user_timeout_ms;      /* TCP_USER_TIMEOUT; 0: the kernel's */
        uint32_t log_burst;            /* drop lines per log_interval_ms */
        uint32_t log_interval_ms;
        /* Peers known only by their inbound connection, at most; 0 refuses
         * every id that is not in the peer table. */
        uint32_t addressless_peers_max;
};

void net_options_default(struct net_options *o, uint64_t self_id);

int net_transport_new(struct ev_loop *loop, const struct net_options *o, struct net_transport **ret);
struct net_transport *net_transport_free(struct net_transport *t);

/* The port the transport listens on, or -EBADF if it does not listen. */
int net_transport_port(const struct net_transport *t);

/* address must be numeric (the caller resolves names: resolving would
 * block the loop).  -EEXIST if id is known with an address, -EINVAL for id
 * 0 or self.  A peer known only by its inbound connection gets the address
 * and keeps the connection. */
int net_transport_add_peer(struct net_transport *t, uint64_t id, const char *address, uint16_t port);
int net_transport_remove_peer(struct net_transport *t, uint64_t id);

/* Queue m for m->to.  -ENOENT: unknown peer; -ENOTCONN: a peer without an
 * address that is not connected; -ENOBUFS: the peer's queue is full;
 * -EMSGSIZE: m does not fit in one frame; -EINVAL: m is invalid. */
int net_transport_send_raft(struct net_transport *t, const struct raft_message *m);
/* type is NET_FRAME_FORWARD_REQUEST or NET_FRAME_FORWARD_RESPONSE. */
int net_transport_send_forward(struct net_transport *t, uint64_t peer, uint8_t type, uint64_t request_id,
                               const void *payload, size_t len);
void net_transport_flush(struct net_transport *t);

bool net_transport_peer_connected(const struct net_transport *t, uint64_t id);
/* Bytes queued for peer and counted against queue_limit. */
size_t net_transport_peer_queued(const struct net_transport *t, uint64_t id);

/* Counters since the peer was added, for status reports and benchmarks. */
struct net_peer_stats {
        uint64_t frames_sent;     /* handed to a connection, sealed */
        uint64_t bytes_sent;      /* written to sockets, all frames */
        uint64_t writes;          /* send() calls that wrote something */
        uint64_t frames_received; /* RAFT and FORWARD frames delivered */
        uint64_t refused;         /* sends refused with -ENOBUFS */
};
int net_transport_peer_stats(const struct net_transport *t, uint64_t id, struct net_peer_stats *ret);
