/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plaintext frame codec; the layout is specified in docs/wire-format.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "raft/wire.h"
#include "shared/macro.h"

int net_buf_reserve(struct net_buf *b, size_t extra) {
        size_t need, cap;
        uint8_t *p;

        if (extra > SIZE_MAX - b->len)
                return -ENOMEM;
        need = b->len + extra;
        if (need <= b->cap)
                return 0;
        cap = MAX(b->cap, (size_t) 256);
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int net_buf_append(struct net_buf *b, const void *p, size_t n) {
        int r;

        if (n == 0)
                return 0;
        r = net_buf_reserve(b, n);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

void net_buf_consume(struct net_buf *b, size_t n) {
        if (n >= b->len) {
                b->len = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

void net_buf_done(struct net_buf *b) {
        if (!b)
                return;
        free(b->data);
        *b = (struct net_buf) {};
}

int net_frame_header_parse(const uint8_t *p, size_t payload_max, uint8_t *type, uint32_t *payload_len) {
        uint32_t length = wire_get32(p);

        if (length < NET_FRAME_PREFIX_SIZE)
                return -EBADMSG;
        if (p[4] != NET_WIRE_VERSION)
                return -EPROTONOSUPPORT;
        if (p[5] < NET_FRAME_HELLO || p[5] >= _NET_FRAME_TYPE_MAX)
                return -EBADMSG;
        if (length - NET_FRAME_PREFIX_SIZE > payload_max)
                return -EMSGSIZE;
        *type = p[5];
        *payload_len = length - NET_FRAME_PREFIX_SIZE;
        return 0;
}

void net_frame_header_write(uint8_t *p, uint8_t type, uint32_t payload_len) {
        wire_put32(p, payload_len + NET_FRAME_PREFIX_SIZE);
        p[4] = NET_WIRE_VERSION;
        p[5] = type;
}

/* Common prefix of every RAFT payload: type, from, to, term. */
#define MSG_HEAD_SIZE (1 + 8 + 8 + 8)
#define ENTRY_HEAD_SIZE (8 + 8 + 1 + 4)
#define SERVER_SIZE (8 + 1)

static size_t config_size(const struct raft_config *c) {
        return 4 + (size_t) c->n * SERVER_SIZE;
}

size_t net_raft_encoded_size(const struct raft_message *m) {
        size_t n = MSG_HEAD_SIZE;

        switch (m->type) {
        case RAFT_MSG_APPEND:
                n += 8 * 4 + 4;
                for (unsigned i = 0; i < m->append.n_entries; i++)
                        n += ENTRY_HEAD_SIZE + m->append.entries[i].data.len;
                return n;
        case RAFT_MSG_APPEND_RESULT:
                return n + 1 + 8 * 4;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                return n + 8 + 8 + 1;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                return n + 1;
        case RAFT_MSG_SNAPSHOT:
                return n + 8 + 8 + config_size(&m->snapshot.meta.config) + 8 + 4 + 1 + 4 +
                       m->snapshot.data.len;
        case RAFT_MSG_SNAPSHOT_RESULT:
                return n + 8 + 8 + 1;
        case RAFT_MSG_TIMEOUT_NOW:
                return n;
        default:
                return 0;
        }
}

struct writer {
        uint8_t *p;
};

static void put8(struct writer *w, uint8_t v) {
        *w->p++ = v;
}
static void put32(struct writer *w, uint32_t v) {
        wire_put32(w->p, v);
        w->p += 4;
}
static void put64(struct writer *w, uint64_t v) {
        wire_put64(w->p, v);
        w->p += 8;
}
static void put_bytes(struct writer *w, const void *src, size_t n) {
        if (n > 0)
                memcpy(w->p, src, n);
        w->p += n;
}

static bool raft_message_encodable(const struct raft_message *m) {
        if (m->type < RAFT_MSG_APPEND || m->type >= _RAFT_MSG_TYPE_MAX)
                return false;
        if (m->type == RAFT_MSG_APPEND) {
                if (m->append.n_entries > NET_MSG_ENTRIES_MAX)
                        return false;
                if (m->append.n_entries > 0 && !m->append.entries)
                        return false;
                for (unsigned i = 0; i < m->append.n_entries; i++)
                        if (m->append.entries[i].data.len > UINT32_MAX)
                                return false;
        }
        if (m->type == RAFT_MSG_SNAPSHOT &&
            (m->snapshot.meta.config.n > RAFT_CONFIG_MAX || m->snapshot.data.len > UINT32_MAX))
                return false;
        return true;
}

int net_encode_raft(struct net_buf *b, const struct raft_message *m) {
        struct writer w;
        size_t size;
        int r;

        if (!raft_message_encodable(m))
                return -EINVAL;
        size = net_raft_encoded_size(m);
        if (size > NET_FRAME_PAYLOAD_MAX)
                return -EMSGSIZE;
        r = net_buf_reserve(b, NET_FRAME_HEADER_SIZE + size);
        if (r < 0)
                return r;

        net_frame_header_write(b->data + b->len, NET_FRAME_RAFT, (uint32_t) size);
        w.p = b->data + b->len + NET_FRAME_HEADER_SIZE;
        put8(&w, m->type);
        put64(&w, m->from);
        put64(&w, m->to);
        put64(&w, m->term);
        switch (m->type) {
        case RAFT_MSG_APPEND:
                put64(&w, m->append.prev_index);
                put64(&w, m->append.prev_term);
                put64(&w, m->append.commit);
                put64(&w, m->append.read_ctx);
                put32(&w, m->append.n_entries);
                for (unsigned i = 0; i < m->append.n_entries; i++) {
                        const struct raft_entry *e = &m->append.entries[i];

                        put64(&w, e->term);
                        put64(&w, e->index);
                        put8(&w, e->type);
                        put32(&w, (uint32_t) e->data.len);
                        put_bytes(&w, e->data.base, e->data.len);
                }
                break;
        case RAFT_MSG_APPEND_RESULT:
                put8(&w, m->append_result.success);
                put64(&w, m->append_result.index);
                put64(&w, m->append_result.conflict_term);
                put64(&w, m->append_result.conflict_index);
                put64(&w, m->append_result.read_ctx);
                break;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                put64(&w, m->vote.last_index);
                put64(&w, m->vote.last_term);
                put8(&w, m->vote.transfer);
                break;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                put8(&w, m->vote_result.granted);
                break;
        case RAFT_MSG_SNAPSHOT: {
                const struct raft_snapshot_chunk *s = &m->snapshot;

                put64(&w, s->meta.index);
                put64(&w, s->meta.term);
                put32(&w, s->meta.config.n);
                for (unsigned i = 0; i < s->meta.config.n; i++) {
                        put64(&w, s->meta.config.servers[i].id);
                        put8(&w, s->meta.config.servers[i].role);
                }
                put64(&w, s->offset);
                put32(&w, s->chunk_max);
                put8(&w, s->done);
                put32(&w, (uint32_t) s->data.len);
                put_bytes(&w, s->data.base, s->data.len);
                break;
        }
        case RAFT_MSG_SNAPSHOT_RESULT:
                put64(&w, m->snapshot_result.index);
                put64(&w, m->snapshot_result.next_offset);
                put8(&w, m->snapshot_result.done);
                break;
        case RAFT_MSG_TIMEOUT_NOW:
                break;
        }
        b->len += NET_FRAME_HEADER_SIZE + size;
        return 0;
}

int net_encode_forward(struct net_buf *b, uint8_t type, uint64_t request_id, const void *payload, size_t len) {
        uint8_t *p;
        int r;

        if (type != NET_FRAME_FORWARD_REQUEST && type != NET_FRAME_FORWARD_RESPONSE)
                return -EINVAL;
        if (len > NET_FRAME_PAYLOAD_MAX - 8)
                return -EMSGSIZE;
        r = net_buf_reserve(b, NET_FRAME_HEADER_SIZE + 8 + len);
        if (r < 0)
                return r;
        p = b->data + b->len;
        net_frame_header_write(p, type, (uint32_t) (8 + len));
        wire_put64(p + NET_FRAME_HEADER_SIZE, request_id);
        if (len > 0)
                memcpy(p + NET_FRAME_HEADER_SIZE + 8, payload, len);
        b->len += NET_FRAME_HEADER_SIZE + 8 + len;
        return 0;
}

/* A bounds-checked cursor: once a read fails, every later read fails too,
 * so decoders check `ok` once per message instead of per field. */
struct reader {
        const uint8_t *p;
        size_t left;
        bool ok;
};

static bool need(struct reader *r, size_t n) {
        if (!r->ok || r->left < n) {
                r->ok = false;
                return false;
        }
        return true;
}
static uint8_t get8(struct reader *r) {
        if (!need(r, 1))
                return 0;
        r->left--;
        return *r->p++;
}
static bool get_bool(struct reader *r) {
        uint8_t v = get8(r);

        if (v > 1)
                r->ok = false;
        return v == 1;
}
static uint32_t get32(struct reader *r) {
        uint32_t v;

        if (!need(r, 4))
                return 0;
        v = wire_get32(r->p);
        r->p += 4;
        r->left -= 4;
        return v;
}
static uint64_t get64(struct reader *r) {
        uint64_t v;

        if (!need(r, 8))
                return 0;
        v = wire_get64(r->p);
        r->p += 8;
        r->left -= 8;
        return v;
}
/* Points into the input: the zero-copy part of the decoder. */
static struct raft_buf get_bytes(struct reader *r, size_t n) {
        struct raft_buf b = {};

        if (!need(r, n))
                return b;
        if (n > 0)
                b.base = (void *) r->p;
        b.len = n;
        r->p += n;
        r->left -= n;
        return b;
}

static int decode_entries(struct reader *r, struct net_raft_message *out) {
        struct raft_append *a = &out->msg.append;
        uint32_t n = get32(r);

        if (!r->ok || n > NET_MSG_ENTRIES_MAX || (size_t) n * ENTRY_HEAD_SIZE > r->left)
                return -EBADMSG;
        a->n_entries = n;
        if (n == 0)
                return 0;
        out->entries = calloc(n, sizeof(struct raft_entry));
        if (!out->entries)
                return -ENOMEM;
        a->entries = out->entries;
        for (uint32_t i = 0; i < n; i++) {
                struct raft_entry *e = &out->entries[i];

                e->term = get64(r);
                e->index = get64(r);
                e->type = get8(r);
                e->data = get_bytes(r, get32(r));
                if (!r->ok || e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG)
                        return -EBADMSG;
                /* The core places entries by position after prev_index and
                 * trusts Raft's log invariants: refuse what breaks them. */
                if (e->index != a->prev_index + 1 + i || e->index == 0 || e->term == 0 ||
                    e->term > out->msg.term || (i > 0 && e->term < out->entries[i - 1].term))
                        return -EBADMSG;
        }
        return 0;
}

static int decode_config(struct reader *r, struct raft_config *c) {
        uint32_t n = get32(r);

        if (!r->ok || n > RAFT_CONFIG_MAX)
                return -EBADMSG;
        c->n = n;
        for (uint32_t i = 0; i < n; i++) {
                c->servers[i].id = get64(r);
                c->servers[i].role = get8(r);
                if (!r->ok || c->servers[i].id == 0 || c->servers[i].role < RAFT_VOTER ||
                    c->servers[i].role > RAFT_LEARNER)
                        return -EBADMSG;
                for (uint32_t j = 0; j < i; j++)
                        if (c->servers[j].id == c->servers[i].id)
                                return -EBADMSG;
        }
        return 0;
}

static int decode_body(struct reader *r, struct net_raft_message *out) {
        struct raft_message *m = &out->msg;

        switch (m->type) {
        case RAFT_MSG_APPEND:
                m->append.prev_index = get64(r);
                m->append.prev_term = get64(r);
                m->append.commit = get64(r);
                m->append.read_ctx = get64(r);
                return decode_entries(r, out);
        case RAFT_MSG_APPEND_RESULT:
                m->append_result.success = get_bool(r);
                m->append_result.index = get64(r);
                m->append_result.conflict_term = get64(r);
                m->append_result.conflict_index = get64(r);
                m->append_result.read_ctx = get64(r);
                return 0;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                m->vote.last_index = get64(r);
                m->vote.last_term = get64(r);
                m->vote.transfer = get_bool(r);
                return 0;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                m->vote_result.granted = get_bool(r);
                return 0;
        case RAFT_MSG_SNAPSHOT: {
                struct raft_snapshot_chunk *s = &m->snapshot;
                int k;

                s->meta.index = get64(r);
                s->meta.term = get64(r);
                k = decode_config(r, &s->meta.config);
                if (k < 0)
                        return k;
                s->offset = get64(r);
                s->chunk_max = get32(r);
                s->done = get_bool(r);
                s->data = get_bytes(r, get32(r));
                return 0;
        }
        case RAFT_MSG_SNAPSHOT_RESULT:
                m->snapshot_result.index = get64(r);
                m->snapshot_result.next_offset = get64(r);
                m->snapshot_result.done = get_bool(r);
                return 0;
        case RAFT_MSG_TIMEOUT_NOW:
                return 0;
        default:
                return -EBADMSG;
        }
}

int net_decode_raft(const uint8_t *p, size_t len, struct net_raft_message *out) {
        struct reader r = { .p = p, .left = len, .ok = true };
        int k;

        *out = (struct net_raft_message) {};
        if (len > NET_FRAME_PAYLOAD_MAX)
                return -EBADMSG;
        out->msg.type = get8(&r);
        out->msg.from = get64(&r);
        out->msg.to = get64(&r);
        out->msg.term = get64(&r);
        if (!r.ok || out->msg.from == 0 || out->msg.to == 0)
                k = -EBADMSG;
        else
                k = decode_body(&r, out);
        if (k >= 0 && (!r.ok || r.left != 0))
                k = -EBADMSG;
        if (k < 0)
                net_raft_message_done(out);
        return k;
}

void net_raft_message_done(struct net_raft_message *m) {
        if (!m)
                return;
        free(m->entries);
        *m = (struct net_raft_message) {};
}

int net_decode_forward(const uint8_t *p, size_t len, struct net_forward *out) {
        if (len < 8 || len > NET_FRAME_PAYLOAD_MAX)
                return -EBADMSG;
        *out = (struct net_forward) {
                .request_id = wire_get64(p),
                .payload = p + 8,
                .len = len - 8,
        };
        return 0;
}
