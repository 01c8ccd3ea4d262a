/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's peers over TCP: binds the engine to the transport of src/net/. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node.h"
#include "shared/macro.h"

/* "host:port" or "[v6]:port", numeric only: resolving names would block
 * the loop. */
int node_parse_address(const char *s, char *host, size_t host_size, uint16_t *port) {
        const char *colon, *h = s;
        size_t hl;
        char *end;
        unsigned long p;

        if (!s)
                return -EINVAL;
        colon = strrchr(s, ':');
        if (!colon || colon == s)
                return -EINVAL;
        hl = (size_t) (colon - s);
        if (s[0] == '[') {
                if (hl < 3 || s[hl - 1] != ']')
                        return -EINVAL;
                h = s + 1;
                hl -= 2;
        }
        if (hl + 1 > host_size)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = 0;
        errno = 0;
        p = strtoul(colon + 1, &end, 10);
        if (errno != 0 || *end != 0 || end == colon + 1 || p > 65535)
                return -EINVAL;
        *port = (uint16_t) p;
        {
                unsigned char a[16];

                if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
                        return -EINVAL;
        }
        return 0;
}

static int adapter_send(void *u, const struct raft_message *m) {
        struct raftd_node *n = u;

        return net_transport_send_raft(n->net, m);
}

static int adapter_forward(void *u, raft_id to, uint64_t request_id, bool response, const void *payload, size_t len) {
        struct raftd_node *n = u;

        return net_transport_send_forward(n->net, to, response ? NET_FRAME_FORWARD_RESPONSE : NET_FRAME_FORWARD_REQUEST,
                                          request_id, payload, len);
}

static void adapter_flush(void *u) {
        struct raftd_node *n = u;

        net_transport_flush(n->net);
}

static void on_raft(void *userdata, const struct raft_message *m) {
        node_receive_message(userdata, m);
}

static void on_forward(void *userdata, uint64_t peer, uint8_t type, uint64_t request_id, const void *payload,
                       size_t len) {
        node_receive_forward(userdata, peer, request_id, type == NET_FRAME_FORWARD_RESPONSE, payload, len);
}

int node_net_open(struct raftd_node *n) {
        struct node_transport t = {
                .send = adapter_send,
                .forward = adapter_forward,
                .flush = adapter_flush,
                .userdata = n,
        };
        struct net_options o;
        char host[64];
        uint16_t port;
        int r;

        if (!n->cfg.listen)
                return 0; /* no network: a single node, or a test transport */
        net_options_default(&o, n->cfg.id);
        r = node_parse_address(n->cfg.listen, host, sizeof(host), &port);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Invalid listen address \"%s\": expected a numeric host:port."),
                                      n->cfg.listen);
        if (!n->cfg.key_file)
                return log_sink_errno(&n->log, LOG_ERR, EINVAL, _("No cluster key file configured."));
        r = net_key_load(n->cfg.key_file, &o.key, &n->log);
        if (r < 0)
                return r;
        o.listen_address = host;
        o.listen_port = port;
        o.log = n->log;
        o.cb = (struct net_callbacks) { .raft = on_raft, .forward = on_forward, .userdata = n };
        r = net_transport_new(n->loop, &o, &n->net);
        net_key_wipe(&o.key);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to listen on %s: %m"), n->cfg.listen);
        for (size_t i = 0; i < n->cfg.n_peers; i++) {
                const struct raftd_peer *p = &n->cfg.peers[i];

                if (p->id == n->cfg.id)
                        continue;
                r = node_parse_address(p->address, host, sizeof(host), &port);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_ERR, r,
                                              _("Invalid address \"%s\" of peer %" PRIu64 ": expected a numeric host:port."),
                                              p->address ? p->address : "", p->id);
                r = net_transport_add_peer(n->net, p->id, host, port);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to add peer %" PRIu64 ": %m"), p->id);
        }
        node_set_transport(n, &t);
        return 0;
}

void node_net_close(struct raftd_node *n) {
        n->net = net_transport_free(n->net);
}

/* A peer learnt from the replicated address book; known ones are kept. */
int node_net_add_peer(struct raftd_node *n, raft_id id, const char *address) {
        char host[64];
        uint16_t port;
        int r;

        if (!n->net || id == n->cfg.id)
                return 0;
        r = node_parse_address(address, host, sizeof(host), &port);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_WARNING, r,
                                      _("Ignoring the address \"%s\" of member %" PRIu64 ": not a numeric host:port."),
                                      address, id);
        r = net_transport_add_peer(n->net, id, host, port);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return log_sink_errno(&n->log, LOG_WARNING, r, _("Failed to add member %" PRIu64 " at %s: %m"), id,
                                      address);
        log_sink(&n->log, LOG_INFO, _("Member %" PRIu64 " is at %s."), id, address);
        return 0;
}
