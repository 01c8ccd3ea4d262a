/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP peer transport: connections, handshake driving, queues, reconnects. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/handshake.h"
#include "net/transport.h"
#include "raft/wire.h"
#include "shared/macro.h"

/* A peer that sent no frame yet may send at most this much in one HELLO. */
#define HELLO_PAYLOAD_MAX 128u
#define READ_CHUNK (64u * 1024u)
#define ADDR_STR_MAX (INET6_ADDRSTRLEN + 8)
/* Inbound connections still in their handshake, at most: a stranger cannot
 * pin more memory and timers than this. */
#define HANDSHAKES_MAX 64u
/* A receive buffer grown by a large frame is given back once empty. */
#define RBUF_KEEP (1024u * 1024u)

struct net_conn;

struct net_peer {
        struct net_transport *t;
        uint64_t id;
        /* false: known only by the connection it dialed in on (it is not in
         * the caller's peer table, e.g. the leader dialing a joining node);
         * never dialed, and sends fail while it is not connected. */
        bool has_address;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char addr_str[ADDR_STR_MAX];
        /* Plaintext frames waiting for an established connection or the
         * next flush; pending_cost counts them as they will be sealed. */
        struct net_buf pending;
        size_t pending_cost;
        unsigned pending_frames;
        struct net_peer_stats stats;
        struct net_conn *conn; /* the dialing or established connection */
        bool connected;        /* conn finished the handshake */
        ev_timer reconnect;
        uint32_t backoff_ms;
};

struct net_conn {
        struct net_transport *t;
        struct net_conn *prev, *next;
        struct net_peer *peer; /* NULL until an inbound peer is identified */
        char addr_str[ADDR_STR_MAX];
        int fd;
        bool dialer;
        bool connecting; /* non-blocking connect() in progress */
        bool in_dispatch;
        bool doomed; /* closed during dispatch, freed when it returns */
        bool counted_handshake; /* inbound, counted in inbound_handshakes */
        ev_io io_read, io_write;
        ev_timer handshake_timer;
        struct net_handshake hs;
        struct net_buf rbuf, wbuf;
};

struct ratelimit {
        ev_tstamp begin;
        unsigned n;
        unsigned suppressed;
};

struct net_transport {
        struct ev_loop *loop;
        struct net_options o;
        int listen_fd;
        bool own_listen_fd;
        ev_io io_accept;
        ev_prepare flusher;
        struct net_peer **peers;
        size_t n_peers;
        struct net_conn *conns;
        struct net_buf plain; /* opened payload of the frame being dispatched */
        unsigned inbound_handshakes;
        struct ratelimit drop_log;
};

void net_options_default(struct net_options *o, uint64_t self_id) {
        *o = (struct net_options) {
                .self_id = self_id,
                .listen_fd = -1,
                .queue_limit = 8u * 1024u * 1024u,
                .backoff_min_ms = 100,
                .backoff_max_ms = 5000,
                .handshake_timeout_ms = 5000,
                .user_timeout_ms = 10000,
                .log_burst = 10,
                .log_interval_ms = 10000,
                .addressless_peers_max = 64,
        };
}

static struct net_peer *peer_find(const struct net_transport *t, uint64_t id) {
        for (size_t i = 0; i < t->n_peers; i++)
                if (t->peers[i]->id == id)
                        return t->peers[i];
        return NULL;
}

static void format_addr(const struct sockaddr *sa, char out[ADDR_STR_MAX]) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                (void) inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                port = ntohs(in->sin_port);
                (void) snprintf(out, ADDR_STR_MAX, "%s:%u", host, port);
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                (void) inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                port = ntohs(in6->sin6_port);
                (void) snprintf(out, ADDR_STR_MAX, "[%s]:%u", host, port);
        } else
                (void) snprintf(out, ADDR_STR_MAX, "?");
}

/* One line per dropped connection, at most log_burst per interval; the
 * number of lines held back is reported with the next one let through. */
static void log_drop(struct net_transport *t, const struct net_conn *c, const char *reason) {
        ev_tstamp now = ev_now(t->loop);
        char id[24] = "?";
        uint64_t claimed = c->peer ? c->peer->id : c->hs.peer_id;

        if (now - t->drop_log.begin >= t->o.log_interval_ms / 1000.0) {
                t->drop_log.begin = now;
                t->drop_log.n = 0;
        }
        if (t->drop_log.n >= t->o.log_burst) {
                t->drop_log.suppressed++;
                return;
        }
        t->drop_log.n++;
        if (claimed != 0)
                (void) snprintf(id, sizeof(id), "%" PRIu64, claimed);
        if (t->drop_log.suppressed > 0)
                log_sink(&t->o.log, LOG_WARNING,
                         _("Dropped connection with peer %s (claimed id %s): %s (%u similar messages suppressed)"),
                         c->addr_str, id, reason, t->drop_log.suppressed);
        else
                log_sink(&t->o.log, LOG_WARNING, _("Dropped connection with peer %s (claimed id %s): %s"),
                         c->addr_str, id, reason);
        t->drop_log.suppressed = 0;
}

static void peer_schedule_reconnect(struct net_peer *p);
static void conn_flush(struct net_conn *c);

/* A peer without an address cannot be reached until it dials in again:
 * nothing queued for it would leave before its next connection. */
static void peer_drop_pending(struct net_peer *p) {
        p->pending.len = 0;
        p->pending_cost = 0;
        p->pending_frames = 0;
}

static void conn_free(struct net_conn *c) {
        net_buf_done(&c->rbuf);
        net_buf_done(&c->wbuf);
        net_handshake_wipe(&c->hs);
        free(c);
}

/* Close the socket and detach from the peer; a dialer's peer reconnects. */
static void conn_close(struct net_conn *c) {
        struct net_transport *t = c->t;
        struct net_peer *p = c->peer;

        if (c->fd < 0)
                return; /* already closed during this dispatch */
        if (c->counted_handshake) {
                t->inbound_handshakes--;
                c->counted_handshake = false;
        }
        ev_io_stop(t->loop, &c->io_read);
        ev_io_stop(t->loop, &c->io_write);
        ev_timer_stop(t->loop, &c->handshake_timer);
        (void) close(c->fd);
        c->fd = -1;
        if (c->prev)
                c->prev->next = c->next;
        else
                t->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;

        if (p && p->conn == c) {
                bool was_connected = p->connected;

                p->conn = NULL;
                p->connected = false;
                c->peer = NULL;
                /* Either side redials a lost peer whose address it knows: the
                 * other may not know ours (conn_on_hello). */
                if (p->has_address)
                        peer_schedule_reconnect(p);
                else
                        peer_drop_pending(p);
                if (was_connected) {
                        log_sink(&t->o.log, LOG_INFO, _("Lost connection to peer %" PRIu64 " at %s"), p->id,
                                 p->addr_str);
                        /* Last use of p: the callback may remove the peer. */
                        if (t->o.cb.peer_state)
                                t->o.cb.peer_state(t->o.cb.userdata, p->id, false);
                }
        }
        c->peer = NULL;
        if (c->in_dispatch)
                c->doomed = true;
        else
                conn_free(c);
}

static void conn_drop(struct net_conn *c, const char *reason) {
        log_drop(c->t, c, reason);
        conn_close(c);
}

static void conn_write(struct net_conn *c) {
        struct net_transport *t = c->t;

        while (c->wbuf.len > 0) {
                ssize_t k = send(c->fd, c->wbuf.data, c->wbuf.len, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        conn_close(c);
                        return;
                }
                net_buf_consume(&c->wbuf, (size_t) k);
                if (c->peer && c->peer->conn == c) {
                        c->peer->stats.writes++;
                        c->peer->stats.bytes_sent += (uint64_t) k;
                }
        }
        if (c->wbuf.len > 0)
                ev_io_start(t->loop, &c->io_write);
        else
                ev_io_stop(t->loop, &c->io_write);
}

static void on_reconnect(struct ev_loop *loop, ev_timer *w, int revents);
static void peer_free(struct net_peer *p);

static int peers_append(struct net_transport *t, struct net_peer *p) {
        struct net_peer **peers = realloc(t->peers, (t->n_peers + 1) * sizeof(*peers));

        if (!peers)
                return -ENOMEM;
        t->peers = peers;
        t->peers[t->n_peers++] = p;
        ev_timer_init(&p->reconnect, on_reconnect, 0., 0.);
        p->reconnect.data = p;
        return 0;
}

/* An authenticated peer that is not in the peer table, added without an
 * address: it is answered over the connection it dialed in on.  Their
 * number is bounded; one that is not connected gives way to a newcomer. */
static int peer_add_addressless(struct net_transport *t, const struct net_conn *c, struct net_peer **ret) {
        struct net_peer *p;
        size_t n = 0, idle = SIZE_MAX;
        int r;

        for (size_t i = 0; i < t->n_peers; i++) {
                if (t->peers[i]->has_address)
                        continue;
                n++;
                if (!t->peers[i]->conn && idle == SIZE_MAX)
                        idle = i;
        }
        if (n >= t->o.addressless_peers_max) {
                if (idle == SIZE_MAX)
                        return -EUSERS;
                peer_free(t->peers[idle]);
                t->peers[idle] = t->peers[--t->n_peers];
        }
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->t = t;
        p->id = c->hs.peer_id;
        memcpy(p->addr_str, c->addr_str, sizeof(p->addr_str));
        r = peers_append(t, p);
        if (r < 0) {
                free(p);
                return r;
        }
        /* Once per peer, not per reconnect: the entry outlives its
         * connections. */
        log_sink(&t->o.log, LOG_NOTICE,
                 _("Peer %" PRIu64 " at %s is not in the peer table; it holds the cluster key, so it is answered over "
                   "its own connection."),
                 p->id, c->addr_str);
        *ret = p;
        return 0;
}

static int conn_established(struct net_conn *c) {
        struct net_transport *t = c->t;
        struct net_peer *p = c->peer;
        int r;

        if (!p) {
                /* An id that was not in the peer table at its HELLO: it may
                 * have been added since. */
                p = peer_find(t, c->hs.peer_id);
                if (!p) {
                        r = peer_add_addressless(t, c, &p);
                        if (r < 0)
                                return r;
                }
                c->peer = p;
        }
        ev_timer_stop(t->loop, &c->handshake_timer);
        if (c->counted_handshake) {
                t->inbound_handshakes--;
                c->counted_handshake = false;
        }
        if (p->conn && p->conn != c) {
                struct net_conn *old = p->conn;

                /* Superseded: the peer restarted, or both sides dialed at
                 * once.  This connection is the way to the peer now, so the
                 * old one is closed without a redial or a reachability
                 * report. */
                p->conn = NULL;
                p->connected = false;
                old->peer = NULL;
                conn_close(old);
        }
        ev_timer_stop(t->loop, &p->reconnect);
        p->conn = c;
        p->connected = true;
        p->backoff_ms = 0;
        log_sink(&t->o.log, LOG_INFO, _("Connected to peer %" PRIu64 " at %s"), p->id, c->addr_str);
        if (t->o.cb.peer_state)
                t->o.cb.peer_state(t->o.cb.userdata, p->id, true);
        if (c->fd >= 0)
                conn_flush(c);
        return 0;
}

/* Seal everything pending for the peer and write it in one go. */
static void conn_flush(struct net_conn *c) {
        struct net_peer *p = c->peer;
        size_t off = 0;

        if (!p || !p->connected || p->pending.len == 0)
                return;
        while (off < p->pending.len) {
                uint32_t frame = wire_get32(p->pending.data + off) + 4;

                if (net_session_seal(&c->hs.session, p->pending.data + off, frame, &c->wbuf) < 0) {
                        conn_close(c);
                        return;
                }
                off += frame;
        }
        p->stats.frames_sent += p->pending_frames;
        p->pending.len = 0;
        p->pending_cost = 0;
        p->pending_frames = 0;
        if (!ev_is_active(&c->io_write))
                conn_write(c);
}

static int conn_on_hello(struct net_conn *c, const uint8_t *payload, size_t len) {
        struct net_transport *t = c->t;
        int r;

        if (len == 0)
                return -EBADMSG;
        if (payload[0] == NET_HELLO_STEP_HELLO) {
                r = net_handshake_read_hello(&c->hs, payload, len);
                if (r < 0)
                        return r;
                if (!c->dialer) {
                        struct net_peer *p = peer_find(t, c->hs.peer_id);

                        if (c->hs.peer_id == t->o.self_id)
                                return -EPROTO; /* our own id: a misconfigured twin */
                        /* Both sides dial a peer whose address they know, and
                         * the lower id's connection is the one kept: a higher
                         * id is let in only by a node that cannot dial it
                         * back (it joins and has no address book yet). */
                        if (c->hs.peer_id > t->o.self_id && p && p->has_address) {
                                log_sink(&t->o.log, LOG_DEBUG,
                                         _("Refused a connection from peer %" PRIu64
                                           " at %s: this node dials that peer itself."),
                                         c->hs.peer_id, c->addr_str);
                                conn_close(c);
                                return 0;
                        }
                        /* NULL for an id not in the peer table: the cluster
                         * key decides, and the peer is added once the
                         * handshake authenticated it (conn_established). */
                        c->peer = p;
                }
                r = net_handshake_write_auth(&c->hs, &c->wbuf);
                if (r < 0)
                        return r;
                conn_write(c);
                return 0;
        }
        r = net_handshake_read_auth(&c->hs, payload, len);
        if (r < 0)
                return r;
        if (net_handshake_done(&c->hs) && c->fd >= 0)
                return conn_established(c);
        return 0;
}

static int conn_dispatch(struct net_conn *c, uint8_t type, const uint8_t *payload, size_t len) {
        struct net_transport *t = c->t;
        struct net_peer *p = c->peer;
        size_t plain_len;
        int r;

        r = net_buf_reserve(&t->plain, len);
        if (r < 0)
                return r;
        r = net_session_open(&c->hs.session, payload - NET_FRAME_HEADER_SIZE, payload, len, t->plain.data,
                             &plain_len);
        if (r < 0)
                return -EACCES;

        if (type == NET_FRAME_RAFT) {
                struct net_raft_message m;

                r = net_decode_raft(t->plain.data, plain_len, &m);
                if (r < 0)
                        return r;
                /* Every key holder could claim any id: hold a peer to the id
                 * it authenticated with. */
                if (m.msg.from != p->id || m.msg.to != t->o.self_id) {
                        net_raft_message_done(&m);
                        return -EBADMSG;
                }
                p->stats.frames_received++;
                if (t->o.cb.raft)
                        t->o.cb.raft(t->o.cb.userdata, &m.msg);
                net_raft_message_done(&m);
                return 0;
        }
        if (type == NET_FRAME_FORWARD_REQUEST || type == NET_FRAME_FORWARD_RESPONSE) {
                struct net_forward f;

                r = net_decode_forward(t->plain.data, plain_len, &f);
                if (r < 0)
                        return r;
                p->stats.frames_received++;
                if (t->o.cb.forward)
                        t->o.cb.forward(t->o.cb.userdata, p->id, type, f.request_id, f.payload, f.len);
                return 0;
        }
        return -EBADMSG; /* HELLO after the handshake */
}

static const char *drop_reason(int r, bool authenticated) {
        switch (r) {
        case -EMSGSIZE:
                return _("oversized frame");
        case -EPROTONOSUPPORT:
                return _("unsupported wire version");
        case -EACCES:
                return authenticated ? _("frame failed authentication") : _("handshake failed authentication");
        case -ENOTCONN:
                return _("frame sent before authentication");
        case -EPROTO:
                return _("unexpected peer id");
        case -EUSERS:
                return _("too many peers without an address");
        case -ENOMEM:
                return _("out of memory");
        default:
                return authenticated ? _("malformed frame") : _("malformed or unauthenticated handshake frame");
        }
}

/* Handle every complete frame in rbuf.  Returns false once c is closed. */
static bool conn_process(struct net_conn *c) {
        size_t off = 0;

        while (c->rbuf.len - off >= NET_FRAME_HEADER_SIZE) {
                const uint8_t *h = c->rbuf.data + off;
                bool established = c->peer && c->peer->conn == c && c->peer->connected;
                uint32_t len;
                uint8_t type;
                int r;

                r = net_frame_header_parse(h, established ? NET_FRAME_PAYLOAD_MAX + NET_SEAL_OVERHEAD
                                                          : HELLO_PAYLOAD_MAX,
                                           &type, &len);
                if (r >= 0 && !established && type != NET_FRAME_HELLO)
                        r = -ENOTCONN;
                if (r < 0) {
                        conn_drop(c, drop_reason(r, established));
                        return false;
                }
                if (c->rbuf.len - off - NET_FRAME_HEADER_SIZE < len)
                        break;
                if (type == NET_FRAME_HELLO && !established)
                        r = conn_on_hello(c, h + NET_FRAME_HEADER_SIZE, len);
                else
                        r = conn_dispatch(c, type, h + NET_FRAME_HEADER_SIZE, len);
                if (c->fd < 0)
                        return false; /* closed by a callback or a failed write */
                if (r < 0) {
                        conn_drop(c, drop_reason(r, established));
                        return false;
                }
                off += NET_FRAME_HEADER_SIZE + len;
        }
        net_buf_consume(&c->rbuf, off);
        if (c->rbuf.len == 0 && c->rbuf.cap > RBUF_KEEP)
                net_buf_done(&c->rbuf);
        if (c->t->plain.cap > RBUF_KEEP)
                net_buf_done(&c->t->plain);
        return true;
}

static void on_conn_readable(struct net_conn *c) {
        ssize_t k;

        if (net_buf_reserve(&c->rbuf, READ_CHUNK) < 0) {
                conn_drop(c, _("out of memory"));
                return;
        }
        k = recv(c->fd, c->rbuf.data + c->rbuf.len, c->rbuf.cap - c->rbuf.len, MSG_DONTWAIT);
        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                conn_close(c);
                return;
        }
        if (k == 0) {
                conn_close(c);
                return;
        }
        c->rbuf.len += (size_t) k;
        (void) conn_process(c);
}

static void conn_handle_io(struct ev_loop *loop, struct net_conn *c, int revents) {
        if (c->connecting) {
                int err = 0;
                socklen_t l = sizeof(err);

                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0) {
                        conn_close(c);
                        return;
                }
                c->connecting = false;
                ev_io_start(loop, &c->io_read);
        }
        if (revents & EV_WRITE) {
                conn_write(c);
                if (c->fd < 0)
                        return;
        }
        if (revents & EV_READ)
                on_conn_readable(c);
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents) {
        struct net_conn *c = w->data;

        /* Callbacks run from here may close c: it is freed only once the
         * handler is done with it. */
        c->in_dispatch = true;
        conn_handle_io(loop, c, revents);
        c->in_dispatch = false;
        if (c->doomed)
                conn_free(c);
}

static void on_handshake_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
        struct net_conn *c = w->data;

        if (c->connecting) {
                conn_close(c); /* nobody answered: not worth a warning */
                return;
        }
        conn_drop(c, _("handshake timed out"));
}

static struct net_conn *conn_new(struct net_transport *t, int fd, bool dialer, const struct sockaddr *sa) {
        struct net_conn *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->t = t;
        c->fd = fd;
        c->dialer = dialer;
        format_addr(sa, c->addr_str);
        ev_io_init(&c->io_read, on_conn_io, fd, EV_READ);
        ev_io_init(&c->io_write, on_conn_io, fd, EV_WRITE);
        c->io_read.data = c->io_write.data = c;
        ev_timer_init(&c->handshake_timer, on_handshake_timeout, t->o.handshake_timeout_ms / 1000.0, 0.);
        c->handshake_timer.data = c;
        c->next = t->conns;
        if (t->conns)
                t->conns->prev = c;
        t->conns = c;
        return c;
}

static void set_socket_options(const struct net_transport *t, int fd) {
        unsigned timeout = t->o.user_timeout_ms;
        int one = 1;

        /* Raft messages are latency-bound and already batched per loop
         * iteration: Nagle would only add delay. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* A peer that vanished without a reset (power loss, partition) would
         * otherwise hold its connection for the kernel's ~15 minutes of
         * retransmissions; unacknowledged data past the timeout ends it. */
        if (timeout > 0)
                (void) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
}

static void peer_connect(struct net_peer *p) {
        struct net_transport *t = p->t;
        struct net_conn *c;
        int fd;

        if (!p->has_address || p->conn)
                return; /* nowhere to dial, or a connection is up or on its way */

        fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                peer_schedule_reconnect(p);
                return;
        }
        set_socket_options(t, fd);
        c = conn_new(t, fd, true, (const struct sockaddr *) &p->addr);
        if (!c) {
                (void) close(fd);
                peer_schedule_reconnect(p);
                return;
        }
        c->peer = p;
        p->conn = c;
        net_handshake_init(&c->hs, &t->o.key, true, t->o.self_id, p->id);
        if (net_handshake_write_hello(&c->hs, &c->wbuf) < 0) {
                conn_close(c);
                return;
        }
        ev_timer_start(t->loop, &c->handshake_timer);
        if (connect(fd, (const struct sockaddr *) &p->addr, p->addr_len) < 0) {
                if (errno != EINPROGRESS) {
                        conn_close(c);
                        return;
                }
                c->connecting = true;
                ev_io_start(t->loop, &c->io_write);
                return;
        }
        ev_io_start(t->loop, &c->io_read);
        conn_write(c);
}

static void on_reconnect(struct ev_loop *loop, ev_timer *w, int revents) {
        peer_connect(w->data);
}

static void peer_schedule_reconnect(struct net_peer *p) {
        struct net_transport *t = p->t;
        uint32_t delay;

        /* Exponential backoff with jitter in [backoff/2, backoff], so
         * peers that lost each other at once do not redial in lockstep. */
        if (p->backoff_ms == 0)
                p->backoff_ms = t->o.backoff_min_ms;
        else
                p->backoff_ms = MIN(p->backoff_ms * 2, t->o.backoff_max_ms);
        delay = p->backoff_ms / 2 + randombytes_uniform(p->backoff_ms / 2 + 1);
        ev_timer_stop(t->loop, &p->reconnect);
        ev_timer_set(&p->reconnect, delay / 1000.0, 0.);
        ev_timer_start(t->loop, &p->reconnect);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents) {
        struct net_transport *t = w->data;

        for (;;) {
                struct sockaddr_storage sa;
                socklen_t l = sizeof(sa);
                struct net_conn *c;
                int fd;

                fd = accept4(t->listen_fd, (struct sockaddr *) &sa, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_sink_errno(&t->o.log, LOG_WARNING, errno,
                                               _("Failed to accept a peer connection: %m"));
                        return;
                }
                if (t->inbound_handshakes >= HANDSHAKES_MAX) {
                        struct net_conn stranger = { .t = t };

                        format_addr((const struct sockaddr *) &sa, stranger.addr_str);
                        log_drop(t, &stranger, _("too many connections in their handshake"));
                        (void) close(fd);
                        continue;
                }
                set_socket_options(t, fd);
                c = conn_new(t, fd, false, (const struct sockaddr *) &sa);
                if (!c) {
                        (void) close(fd);
                        continue;
                }
                c->counted_handshake = true;
                t->inbound_handshakes++;
                net_handshake_init(&c->hs, &t->o.key, false, t->o.self_id, 0);
                if (net_handshake_write_hello(&c->hs, &c->wbuf) < 0) {
                        conn_close(c);
                        continue;
                }
                ev_timer_start(loop, &c->handshake_timer);
                ev_io_start(loop, &c->io_read);
                conn_write(c);
        }
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
        net_transport_flush(w->data);
}

static int parse_address(const char *address, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
        struct addrinfo hints = {
                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                .ai_socktype = SOCK_STREAM,
        };
        struct addrinfo *res = NULL;
        char service[8];

        (void) snprintf(service, sizeof(service), "%u", (unsigned) port);
        if (!address || getaddrinfo(address, service, &hints, &res) != 0 || !res)
                return -EINVAL;
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
}

static int transport_listen(struct net_transport *t) {
        struct sockaddr_storage ss;
        socklen_t len;
        int one = 1, r;
        _cleanup_close_ int fd = -1;

        r = parse_address(t->o.listen_address, t->o.listen_port, &ss, &len);
        if (r < 0)
                return log_sink_errno(&t->o.log, LOG_ERR, EINVAL, _("Invalid listen address %s"),
                                      t->o.listen_address);
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, SOMAXCONN) < 0)
                return log_sink_errno(&t->o.log, LOG_ERR, errno, _("Failed to listen on %s port %u: %m"),
                                      t->o.listen_address, (unsigned) t->o.listen_port);
        t->listen_fd = TAKE_FD(fd);
        t->own_listen_fd = true;
        return 0;
}

int net_transport_new(struct ev_loop *loop, const struct net_options *o, struct net_transport **ret) {
        struct net_transport *t;
        int r;

        if (!loop || !o || !ret || o->self_id == 0 || o->queue_limit == 0 || o->handshake_timeout_ms == 0 ||
            o->backoff_min_ms < 2 || o->backoff_max_ms < o->backoff_min_ms)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->loop = loop;
        t->o = *o;
        t->o.listen_address = NULL; /* not needed after listening; do not keep the caller's pointer */
        t->listen_fd = -1;
        if (o->listen_fd >= 0) {
                t->listen_fd = o->listen_fd;
                if (fcntl(t->listen_fd, F_SETFL, fcntl(t->listen_fd, F_GETFL) | O_NONBLOCK) < 0) {
                        r = -errno;
                        goto fail;
                }
        } else if (o->listen_address) {
                t->o.listen_address = o->listen_address;
                r = transport_listen(t);
                t->o.listen_address = NULL;
                if (r < 0)
                        goto fail;
        }
        if (t->listen_fd >= 0) {
                ev_io_init(&t->io_accept, on_accept, t->listen_fd, EV_READ);
                t->io_accept.data = t;
                ev_io_start(loop, &t->io_accept);
        }
        ev_prepare_init(&t->flusher, on_prepare);
        t->flusher.data = t;
        ev_set_priority(&t->flusher, EV_MINPRI);
        ev_prepare_start(loop, &t->flusher);
        *ret = t;
        return 0;
fail:
        net_key_wipe(&t->o.key);
        free(t);
        return r;
}

static void peer_free(struct net_peer *p) {
        struct net_transport *t = p->t;

        ev_timer_stop(t->loop, &p->reconnect);
        /* Inbound connections still in their handshake point here too. */
        for (struct net_conn *c = t->conns, *next; c; c = next) {
                next = c->next;
                if (c->peer == p && p->conn != c) {
                        c->peer = NULL;
                        conn_close(c);
                }
        }
        if (p->conn) {
                struct net_conn *c = p->conn;

                /* No reconnect, no reachability report for a removed peer. */
                p->conn = NULL;
                c->peer = NULL;
                conn_close(c);
        }
        net_buf_done(&p->pending);
        free(p);
}

struct net_transport *net_transport_free(struct net_transport *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_peers; i++)
                peer_free(t->peers[i]);
        free(t->peers);
        while (t->conns)
                conn_close(t->conns);
        if (t->listen_fd >= 0) {
                ev_io_stop(t->loop, &t->io_accept);
                if (t->own_listen_fd)
                        (void) close(t->listen_fd);
        }
        ev_prepare_stop(t->loop, &t->flusher);
        net_buf_done(&t->plain);
        net_key_wipe(&t->o.key);
        free(t);
        return NULL;
}

int net_transport_port(const struct net_transport *t) {
        struct sockaddr_storage ss;
        socklen_t l = sizeof(ss);

        if (t->listen_fd < 0)
                return -EBADF;
        if (getsockname(t->listen_fd, (struct sockaddr *) &ss, &l) < 0)
                return -errno;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *) &ss)->sin_port);
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
        return -EAFNOSUPPORT;
}

int net_transport_add_peer(struct net_transport *t, uint64_t id, const char *address, uint16_t port) {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        struct net_peer *p;
        int r;

        if (id == 0 || id == t->o.self_id)
                return -EINVAL;
        r = parse_address(address, port, &addr, &addr_len);
        if (r < 0)
                return r;
        p = peer_find(t, id);
        if (p && p->has_address)
                return -EEXIST;
        if (!p) {
                p = calloc(1, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                p->t = t;
                p->id = id;
                r = peers_append(t, p);
                if (r < 0) {
                        free(p);
                        return r;
                }
        }
        /* A peer that dialed in before its address was known keeps its
         * connection; from now on it is redialed like any other. */
        p->has_address = true;
        p->addr = addr;
        p->addr_len = addr_len;
        format_addr((const struct sockaddr *) &p->addr, p->addr_str);
        peer_connect(p);
        return 0;
}

int net_transport_remove_peer(struct net_transport *t, uint64_t id) {
        for (size_t i = 0; i < t->n_peers; i++) {
                if (t->peers[i]->id != id)
                        continue;
                peer_free(t->peers[i]);
                t->peers[i] = t->peers[--t->n_peers];
                return 0;
        }
        return -ENOENT;
}

static size_t peer_queued(const struct net_peer *p) {
        return p->pending_cost + (p->conn ? p->conn->wbuf.len : 0);
}

/* Account for a frame just appended to p->pending, or take it back. */
static int peer_commit_frame(struct net_peer *p, size_t before) {
        size_t cost = p->pending.len - before + NET_SEAL_OVERHEAD;

        if (peer_queued(p) + cost > p->t->o.queue_limit) {
                p->pending.len = before;
                p->stats.refused++;
                return -ENOBUFS;
        }
        p->pending_cost += cost;
        p->pending_frames++;
        return 0;
}

int net_transport_send_raft(struct net_transport *t, const struct raft_message *m) {
        struct net_peer *p = peer_find(t, m->to);
        size_t before;
        int r;

        if (!p)
                return -ENOENT;
        if (!p->has_address && !p->connected)
                return -ENOTCONN;
        if (peer_queued(p) + NET_FRAME_HEADER_SIZE + net_raft_encoded_size(m) + NET_SEAL_OVERHEAD >
            t->o.queue_limit) {
                p->stats.refused++;
                return -ENOBUFS;
        }
        before = p->pending.len;
        r = net_encode_raft(&p->pending, m);
        if (r < 0)
                return r;
        return peer_commit_frame(p, before);
}

int net_transport_send_forward(struct net_transport *t, uint64_t peer, uint8_t type, uint64_t request_id,
                               const void *payload, size_t len) {
        struct net_peer *p = peer_find(t, peer);
        size_t before;
        int r;

        if (!p)
                return -ENOENT;
        if (!p->has_address && !p->connected)
                return -ENOTCONN;
        if (len > t->o.queue_limit || peer_queued(p) + NET_FRAME_HEADER_SIZE + 8 + len + NET_SEAL_OVERHEAD >
                                              t->o.queue_limit) {
                p->stats.refused++;
                return -ENOBUFS;
        }
        before = p->pending.len;
        r = net_encode_forward(&p->pending, type, request_id, payload, len);
        if (r < 0)
                return r;
        return peer_commit_frame(p, before);
}

void net_transport_flush(struct net_transport *t) {
        for (size_t i = 0; i < t->n_peers; i++) {
                struct net_peer *p = t->peers[i];

                if (p->connected && p->conn)
                        conn_flush(p->conn);
        }
}

bool net_transport_peer_connected(const struct net_transport *t, uint64_t id) {
        const struct net_peer *p = peer_find(t, id);

        return p && p->connected;
}

size_t net_transport_peer_queued(const struct net_transport *t, uint64_t id) {
        const struct net_peer *p = peer_find(t, id);

        return p ? peer_queued(p) : 0;
}

int net_transport_peer_stats(const struct net_transport *t, uint64_t id, struct net_peer_stats *ret) {
        const struct net_peer *p = peer_find(t, id);

        if (!p)
                return -ENOENT;
        *ret = p->stats;
        return 0;
}
