/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "hub.h"

struct hub_frame {
        struct hub_frame *next;
        raft_id from, to;
        bool forward, response;
        uint64_t request_id;
        struct raft_message m;
        void *payload;
        size_t len;
};

struct hub_port {
        struct hub *hub;
        raft_id id;
};

struct hub {
        struct ev_loop *loop;
        struct raftd_node *nodes[HUB_MAX + 1];
        struct hub_port ports[HUB_MAX + 1];
        bool cut[HUB_MAX + 1][HUB_MAX + 1];
        struct hub_frame *head, *tail;
        ev_timer deliver;
        uint64_t delivered;
};

static void *dup_mem(const void *p, size_t len) {
        void *d;

        if (len == 0)
                return NULL;
        d = malloc(len);
        if (!d)
                abort();
        memcpy(d, p, len);
        return d;
}

static void frame_free(struct hub_frame *f) {
        if (f->m.type == RAFT_MSG_APPEND) {
                for (unsigned i = 0; i < f->m.append.n_entries; i++)
                        free(f->m.append.entries[i].data.base);
                free(f->m.append.entries);
        } else if (f->m.type == RAFT_MSG_SNAPSHOT)
                free(f->m.snapshot.data.base);
        free(f->payload);
        free(f);
}

static void push(struct hub *h, struct hub_frame *f) {
        if (h->cut[f->from][f->to] || f->to == 0 || f->to > HUB_MAX) {
                frame_free(f);
                return;
        }
        if (h->tail)
                h->tail->next = f;
        else
                h->head = f;
        h->tail = f;
}

static int hub_send(void *t, const struct raft_message *m) {
        struct hub_port *p = t;
        struct hub_frame *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->from = p->id;
        f->to = m->to;
        f->m = *m;
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
                f->m.append.entries = calloc(m->append.n_entries, sizeof(struct raft_entry));
                for (unsigned i = 0; i < m->append.n_entries; i++) {
                        f->m.append.entries[i] = m->append.entries[i];
                        f->m.append.entries[i].data.base =
                                dup_mem(m->append.entries[i].data.base, m->append.entries[i].data.len);
                }
        } else if (m->type == RAFT_MSG_SNAPSHOT)
                f->m.snapshot.data.base = dup_mem(m->snapshot.data.base, m->snapshot.data.len);
        push(p->hub, f);
        return 0;
}

static int hub_forward(void *t, raft_id to, uint64_t request_id, bool response, const void *payload, size_t len) {
        struct hub_port *p = t;
        struct hub_frame *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->from = p->id;
        f->to = to;
        f->forward = true;
        f->response = response;
        f->request_id = request_id;
        f->payload = dup_mem(payload, len);
        f->len = len;
        push(p->hub, f);
        return 0;
}

static void hub_flush(void *t) {
        struct hub_port *p = t;

        if (p->hub->head && !ev_is_active(&p->hub->deliver))
                ev_timer_start(p->hub->loop, &p->hub->deliver);
}

static void on_deliver(struct ev_loop *loop, ev_timer *w, int revents) {
        struct hub *h = w->data;
        struct hub_frame *f = h->head;

        /* Deliver what was queued before this point; later sends wait for
         * the next round, like bytes behind a socket's read. */
        h->head = h->tail = NULL;
        while (f) {
                struct hub_frame *next = f->next;
                struct raftd_node *n = h->nodes[f->to];

                if (n && !h->cut[f->from][f->to]) {
                        h->delivered++;
                        if (f->forward)
                                node_receive_forward(n, f->from, f->request_id, f->response, f->payload, f->len);
                        else
                                node_receive_message(n, &f->m);
                }
                frame_free(f);
                f = next;
        }
}

struct hub *hub_new(struct ev_loop *loop) {
        struct hub *h = calloc(1, sizeof(*h));

        if (!h)
                abort();
        h->loop = loop;
        ev_timer_init(&h->deliver, on_deliver, 0.0, 0.0);
        h->deliver.data = h;
        return h;
}

struct hub *hub_free(struct hub *h) {
        if (!h)
                return NULL;
        ev_timer_stop(h->loop, &h->deliver);
        while (h->head) {
                struct hub_frame *f = h->head;

                h->head = f->next;
                frame_free(f);
        }
        free(h);
        return NULL;
}

void hub_attach(struct hub *h, raft_id id, struct raftd_node *n) {
        struct node_transport t = {
                .send = hub_send,
                .forward = hub_forward,
                .flush = hub_flush,
                .userdata = &h->ports[id],
        };

        h->ports[id] = (struct hub_port) { .hub = h, .id = id };
        h->nodes[id] = n;
        if (n)
                node_set_transport(n, &t);
}

void hub_cut(struct hub *h, raft_id a, raft_id b, bool cut) {
        h->cut[a][b] = cut;
        h->cut[b][a] = cut;
}

uint64_t hub_delivered(const struct hub *h) {
        return h->delivered;
}
