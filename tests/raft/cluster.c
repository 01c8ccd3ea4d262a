/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define SNAPSHOT_IMAGE_SIZE 100

static void *xmemdup(const void *p, size_t len) {
        void *d;

        if (len == 0)
                return NULL;
        d = malloc(len);
        if (!d)
                abort();
        memcpy(d, p, len);
        return d;
}

static void msg_free(struct raft_message *m) {
        if (m->type == RAFT_MSG_APPEND) {
                for (unsigned i = 0; i < m->append.n_entries; i++)
                        free(m->append.entries[i].data.base);
                free(m->append.entries);
        } else if (m->type == RAFT_MSG_SNAPSHOT)
                free(m->snapshot.data.base);
}

static void enqueue(struct cl *c, struct cl_node *from, const struct raft_message *m, bool after) {
        struct cl_msg *q;

        if (c->n_q == c->cap_q) {
                c->cap_q = c->cap_q ? c->cap_q * 2 : 64;
                c->q = realloc(c->q, c->cap_q * sizeof(*c->q));
                if (!c->q)
                        abort();
        }
        q = &c->q[c->n_q++];
        q->m = *m;
        q->after_persist = after;
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
                q->m.append.entries = calloc(m->append.n_entries, sizeof(struct raft_entry));
                for (unsigned i = 0; i < m->append.n_entries; i++) {
                        q->m.append.entries[i] = m->append.entries[i];
                        q->m.append.entries[i].data.base =
                                xmemdup(m->append.entries[i].data.base, m->append.entries[i].data.len);
                }
        } else if (m->type == RAFT_MSG_APPEND)
                q->m.append.entries = NULL;
        if (m->type == RAFT_MSG_SNAPSHOT) {
                /* The leader's core leaves the data to us: a synthetic image. */
                uint64_t off = m->snapshot.offset;
                size_t len = off >= from->snap_size ? 0 : from->snap_size - off;

                if (len > m->snapshot.chunk_max)
                        len = m->snapshot.chunk_max;
                q->m.snapshot.data.base = len ? calloc(1, len) : NULL;
                q->m.snapshot.data.len = len;
                q->m.snapshot.done = off + len >= from->snap_size;
        }
}

static void persist_entries(struct cl_node *n, const struct raft_entry *e, unsigned count) {
        size_t keep = 0;

        if (count == 0)
                return;
        while (keep < n->n_log && n->log[keep].index < e[0].index)
                keep++;
        for (size_t i = keep; i < n->n_log; i++)
                free(n->log[i].data.base);
        n->n_log = keep;
        n->log = realloc(n->log, (n->n_log + count) * sizeof(*n->log));
        for (unsigned i = 0; i < count; i++) {
                n->log[n->n_log] = e[i];
                n->log[n->n_log].data.base = xmemdup(e[i].data.base, e[i].data.len);
                n->n_log++;
        }
}

static void handle_update(struct cl *c, struct cl_node *n, raft_id id, const struct raft_update *u) {
        n->last = *u;
        if (u->hard_state)
                n->hs = *u->hard_state;
        persist_entries(n, u->entries, u->n_entries);
        if (u->snapshot_chunk) {
                n->rx_received = u->snapshot_chunk->offset + u->snapshot_chunk->data.len;
                n->rx_chunks++;
                if (u->snapshot_chunk->done) {
                        n->snap = u->snapshot_chunk->meta;
                        n->snap_size = n->rx_received;
                        for (size_t i = 0; i < n->n_log; i++)
                                free(n->log[i].data.base);
                        n->n_log = 0;
                        n->last_applied = n->snap.index;
                }
        }
        for (unsigned i = 0; i < u->n_messages; i++)
                enqueue(c, n, &u->messages[i], u->after_persist[i]);
        for (unsigned i = 0; i < u->n_committed; i++) {
                const struct raft_entry *e = &u->committed[i];

                if (e->index < 4096)
                        n->applied[e->index] = e->term;
                n->last_applied = e->index;
        }
        for (unsigned i = 0; i < u->n_reads_ready && n->n_ready < 64; i++)
                n->ready[n->n_ready++] = u->reads_ready[i];
        n->n_failed += u->n_reads_failed;
        if (u->n_entries > 0) {
                struct raft_event ev = {
                        .type = RAFT_EVENT_PERSISTED,
                        .persisted = { u->entries[u->n_entries - 1].index, u->entries[u->n_entries - 1].term },
                };

                (void) cl_step(c, id, &ev);
        }
}

int cl_step(struct cl *c, raft_id id, struct raft_event *ev) {
        struct cl_node *n = &c->nodes[id];
        struct raft_update u;
        int rc;

        if (!n->up)
                return -ESHUTDOWN;
        ev->now = c->now;
        ev->random = c->random;
        rc = raft_step(n->r, ev, &u);
        n->last_rc = rc;
        handle_update(c, n, id, &u);
        return rc;
}

int cl_tick(struct cl *c, raft_id id);

static void load(struct cl *c, raft_id id) {
        struct cl_node *n = &c->nodes[id];
        struct raft_options o = c->o;

        o.id = id;
        if (raft_new(&o, &n->r) < 0)
                abort();
        if (raft_load(n->r, &n->hs, n->snap.index ? &n->snap : NULL, n->log, (unsigned) n->n_log) < 0)
                abort();
        n->up = true;
        /* The first event starts the node's clock. */
        (void) cl_tick(c, id);
}

struct cl *cl_new(unsigned voters, unsigned extra, void (*tune)(struct raft_options *o)) {
        struct cl *c = calloc(1, sizeof(*c));
        struct raft_config config = { .n = voters };
        uint8_t buf[512];
        struct raft_entry boot = { .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = { buf, 0 } };

        if (!c)
                abort();
        c->n = voters + extra;
        c->now = 1000;
        c->random = 0;
        raft_options_default(&c->o, 1);
        c->o.heartbeat_ms = 100;
        c->o.election_ms = 1000;
        if (tune)
                tune(&c->o);
        for (unsigned i = 0; i < voters; i++)
                config.servers[i] = (struct raft_server) { .id = i + 1, .role = RAFT_VOTER };
        raft_config_encode(&config, buf);
        boot.data.len = raft_config_encoded_size(&config);
        for (raft_id id = 1; id <= c->n; id++) {
                struct cl_node *n = &c->nodes[id];

                if (id <= voters) {
                        n->hs = (struct raft_hard_state) { .term = 1 };
                        persist_entries(n, &boot, 1);
                }
                n->snap_size = SNAPSHOT_IMAGE_SIZE;
                load(c, id);
        }
        return c;
}

void cl_free(struct cl *c) {
        if (!c)
                return;
        cl_drop_all(c);
        free(c->q);
        for (raft_id id = 1; id <= c->n; id++) {
                struct cl_node *n = &c->nodes[id];

                raft_free(n->r);
                for (size_t i = 0; i < n->n_log; i++)
                        free(n->log[i].data.base);
                free(n->log);
        }
        free(c);
}

int cl_tick(struct cl *c, raft_id id) {
        struct raft_event ev = { .type = RAFT_EVENT_TICK };

        return cl_step(c, id, &ev);
}

int cl_propose(struct cl *c, raft_id id, const char *data) {
        struct raft_event ev = { .type = RAFT_EVENT_PROPOSE };

        ev.propose.type = RAFT_ENTRY_NORMAL;
        ev.propose.data.base = (void *) data;
        ev.propose.data.len = strlen(data);
        return cl_step(c, id, &ev);
}

int cl_read(struct cl *c, raft_id id, uint64_t read_id) {
        struct raft_event ev = { .type = RAFT_EVENT_READ };

        ev.read.id = read_id;
        return cl_step(c, id, &ev);
}

int cl_change(struct cl *c, raft_id id, uint8_t op, raft_id target) {
        struct raft_event ev = { .type = RAFT_EVENT_CHANGE };

        ev.change.op = op;
        ev.change.id = target;
        return cl_step(c, id, &ev);
}

int cl_transfer(struct cl *c, raft_id id, raft_id target) {
        struct raft_event ev = { .type = RAFT_EVENT_TRANSFER };

        ev.transfer.target = target;
        return cl_step(c, id, &ev);
}

int cl_snapshot(struct cl *c, raft_id id, raft_index index, raft_index trailing) {
        struct raft_event ev = { .type = RAFT_EVENT_SNAPSHOT_TAKEN };
        int rc;

        ev.snapshot_taken.index = index;
        ev.snapshot_taken.trailing = trailing;
        rc = cl_step(c, id, &ev);
        if (rc == 0) {
                struct cl_node *n = &c->nodes[id];

                n->snap.index = index;
                n->snap.term = raft_entry_at(n->r, index) ? raft_entry_at(n->r, index)->term : 0;
                n->snap.config = *raft_config_current(n->r);
                n->snap_size = SNAPSHOT_IMAGE_SIZE;
        }
        return rc;
}

void cl_advance(struct cl *c, uint64_t ms) {
        c->now += ms;
        for (raft_id id = 1; id <= c->n; id++)
                if (c->nodes[id].up)
                        (void) cl_tick(c, id);
}

unsigned cl_deliver_all(struct cl *c, unsigned max) {
        unsigned count = 0;

        while (c->n_q > 0 && count < max) {
                struct cl_msg q = c->q[0];
                struct raft_event ev = { .type = RAFT_EVENT_RECEIVE, .message = &q.m };

                memmove(c->q, c->q + 1, (c->n_q - 1) * sizeof(*c->q));
                c->n_q--;
                if (!c->cut[q.m.from][q.m.to] && q.m.to <= c->n && c->nodes[q.m.to].up)
                        (void) cl_step(c, q.m.to, &ev);
                msg_free(&q.m);
                count++;
        }
        return count;
}

void cl_drop_all(struct cl *c) {
        for (size_t i = 0; i < c->n_q; i++)
                msg_free(&c->q[i].m);
        c->n_q = 0;
}

void cl_elect(struct cl *c, raft_id id) {
        /* Only id is ticked past its deadline; the others see the time
         * only through the messages they receive. */
        c->now += 2 * c->o.election_ms;
        (void) cl_tick(c, id);
        (void) cl_deliver_all(c, 10000);
}

void cl_isolate(struct cl *c, raft_id id, bool isolated) {
        for (raft_id o = 1; o <= CL_MAX; o++) {
                c->cut[id][o] = isolated;
                c->cut[o][id] = isolated;
        }
}

void cl_crash(struct cl *c, raft_id id) {
        struct cl_node *n = &c->nodes[id];

        n->r = raft_free(n->r);
        n->up = false;
}

void cl_restart(struct cl *c, raft_id id) {
        load(c, id);
}

unsigned cl_count(const struct cl *c, uint8_t type, raft_id to) {
        unsigned k = 0;

        for (size_t i = 0; i < c->n_q; i++)
                k += (type == 0 || c->q[i].m.type == type) && (to == 0 || c->q[i].m.to == to);
        return k;
}

const struct cl_msg *cl_find(const struct cl *c, uint8_t type, raft_id to) {
        for (size_t i = 0; i < c->n_q; i++)
                if (c->q[i].m.type == type && (to == 0 || c->q[i].m.to == to))
                        return &c->q[i];
        return NULL;
}

const struct cl_msg *cl_find_from(const struct cl *c, uint8_t type, raft_id from, raft_id to) {
        for (size_t i = 0; i < c->n_q; i++)
                if (c->q[i].m.type == type && c->q[i].m.from == from && c->q[i].m.to == to)
                        return &c->q[i];
        return NULL;
}

raft_id cl_leader(const struct cl *c) {
        raft_id found = 0;

        for (raft_id id = 1; id <= c->n; id++)
                if (c->nodes[id].up && raft_role(c->nodes[id].r) == RAFT_LEADER)
                        found = id;
        return found;
}
