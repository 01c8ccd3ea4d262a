/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layout of the records kept in TDB (docs/state-machine.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv-internal.h"
#include "raft/wire.h"
#include "shared/macro.h"

int kv_tkey_make(struct kv_tkey *k, uint8_t tag, const void *name, size_t len) {
        uint8_t *p = k->small;

        k->heap = NULL;
        if (len + 1 > sizeof(k->small)) {
                p = k->heap = malloc(len + 1);
                if (!p)
                        return -ENOMEM;
        }
        p[0] = tag;
        if (len > 0)
                memcpy(p + 1, name, len);
        k->d = (TDB_DATA) { .dptr = p, .dsize = len + 1 };
        return 0;
}

void kv_tkey_id(struct kv_tkey *k, uint8_t tag, uint64_t id) {
        k->heap = NULL;
        k->small[0] = tag;
        for (unsigned i = 0; i < 8; i++)
                k->small[1 + i] = (uint8_t) (id >> (56 - 8 * i));
        k->d = (TDB_DATA) { .dptr = k->small, .dsize = 9 };
}

void kv_tkey_done(struct kv_tkey *k) {
        k->heap = mfree(k->heap);
}

static bool buf_reserve(struct kv_buf *b, size_t n) {
        uint8_t *p;
        size_t cap;

        if (b->oom)
                return false;
        if (b->len + n <= b->cap)
                return true;
        cap = MAX(b->cap * 2, b->len + n + 64);
        p = realloc(b->data, cap);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->data = p;
        b->cap = cap;
        return true;
}

void kv_buf_bytes(struct kv_buf *b, const void *p, size_t n) {
        if (n == 0 || !buf_reserve(b, n))
                return;
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

void kv_buf_u8(struct kv_buf *b, uint8_t v) {
        kv_buf_bytes(b, &v, 1);
}

void kv_buf_u32(struct kv_buf *b, uint32_t v) {
        uint8_t p[4];

        wire_put32(p, v);
        kv_buf_bytes(b, p, sizeof(p));
}

void kv_buf_u64(struct kv_buf *b, uint64_t v) {
        uint8_t p[8];

        wire_put64(p, v);
        kv_buf_bytes(b, p, sizeof(p));
}

void kv_buf_blob16(struct kv_buf *b, const void *p, size_t n) {
        uint8_t l[2];

        wire_put16(l, (uint16_t) n);
        kv_buf_bytes(b, l, sizeof(l));
        kv_buf_bytes(b, p, n);
}

void kv_buf_done(struct kv_buf *b) {
        b->data = mfree(b->data);
        b->len = b->cap = 0;
        b->oom = false;
}

const uint8_t *kv_rd_bytes(struct kv_rd *r, size_t n) {
        const uint8_t *p;

        if (r->bad || r->left < n) {
                r->bad = true;
                return NULL;
        }
        p = r->p;
        r->p += n;
        r->left -= n;
        return p;
}

uint8_t kv_rd_u8(struct kv_rd *r) {
        const uint8_t *p = kv_rd_bytes(r, 1);

        return p ? p[0] : 0;
}

uint32_t kv_rd_u32(struct kv_rd *r) {
        const uint8_t *p = kv_rd_bytes(r, 4);

        return p ? wire_get32(p) : 0;
}

uint64_t kv_rd_u64(struct kv_rd *r) {
        const uint8_t *p = kv_rd_bytes(r, 8);

        return p ? wire_get64(p) : 0;
}

const uint8_t *kv_rd_blob16(struct kv_rd *r, size_t *len) {
        const uint8_t *p = kv_rd_bytes(r, 2);

        *len = p ? wire_get16(p) : 0;
        return kv_rd_bytes(r, *len);
}

void kv_data_header_encode(const struct kv_data_header *h, uint8_t out[static KV_DATA_HEADER_SIZE]) {
        out[0] = KV_RECORD_VERSION;
        wire_put64(out + 1, h->create_revision);
        wire_put64(out + 9, h->mod_revision);
        wire_put64(out + 17, h->lease);
}

int kv_data_header_decode(const uint8_t *p, size_t len, struct kv_data_header *h) {
        if (len < KV_DATA_HEADER_SIZE || p[0] != KV_RECORD_VERSION)
                return -EBADMSG;
        *h = (struct kv_data_header) {
                .create_revision = wire_get64(p + 1),
                .mod_revision = wire_get64(p + 9),
                .lease = wire_get64(p + 17),
        };
        if (h->create_revision == 0 || h->mod_revision < h->create_revision)
                return -EBADMSG;
        return 0;
}

/* A cached response: error, status, revision, id, fence, replayed. */
static void result_encode(const struct kv_result *r, struct kv_buf *b) {
        kv_buf_u32(b, (uint32_t) -r->error);
        kv_buf_u8(b, (uint8_t) r->status);
        kv_buf_u64(b, r->revision);
        kv_buf_u64(b, r->id);
        kv_buf_u64(b, r->fence);
}

static void result_decode(struct kv_rd *r, struct kv_result *res) {
        uint32_t err = kv_rd_u32(r);
        uint8_t status = kv_rd_u8(r);

        *res = (struct kv_result) {
                .error = -(int) (err & 0xffff),
                .status = status,
                .revision = kv_rd_u64(r),
                .id = kv_rd_u64(r),
                .fence = kv_rd_u64(r),
        };
        if (err > 0xffff || status >= _KV_STATUS_MAX)
                r->bad = true;
}

int kv_session_encode(const struct kv_session *s, struct kv_buf *b) {
        kv_buf_u8(b, KV_RECORD_VERSION);
        kv_buf_u64(b, s->id);
        kv_buf_u64(b, s->ttl_ms);
        kv_buf_u64(b, s->deadline_ms);
        kv_buf_u64(b, s->floor);
        kv_buf_u32(b, (uint32_t) s->n_cached);
        for (size_t i = s->first; i < s->first + s->n_cached; i++) {
                kv_buf_u64(b, s->cached[i].seq);
                result_encode(&s->cached[i].result, b);
        }
        return b->oom ? -ENOMEM : 0;
}

struct kv_session *kv_session_free(struct kv_session *s) {
        if (!s)
                return NULL;
        free(s->cached);
        free(s);
        return NULL;
}

int kv_session_decode(const uint8_t *p, size_t len, struct kv_session **ret) {
        struct kv_rd r = { .p = p, .left = len };
        struct kv_session *s;
        uint32_t n;

        if (kv_rd_u8(&r) != KV_RECORD_VERSION)
                return -EBADMSG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->id = kv_rd_u64(&r);
        s->ttl_ms = kv_rd_u64(&r);
        s->deadline_ms = kv_rd_u64(&r);
        s->floor = kv_rd_u64(&r);
        n = kv_rd_u32(&r);
        /* Each entry takes 37 bytes: refuse counts the record cannot hold
         * before allocating for them. */
        if (r.bad || s->id == 0 || n > r.left / 37) {
                kv_session_free(s);
                return -EBADMSG;
        }
        if (n > 0) {
                s->cached = calloc(n, sizeof(*s->cached));
                if (!s->cached) {
                        kv_session_free(s);
                        return -ENOMEM;
                }
        }
        for (uint32_t i = 0; i < n; i++) {
                s->cached[i].seq = kv_rd_u64(&r);
                result_decode(&r, &s->cached[i].result);
                if (i > 0 && s->cached[i].seq <= s->cached[i - 1].seq)
                        r.bad = true;
        }
        s->n_cached = s->cap = n;
        if (r.bad || r.left != 0) {
                kv_session_free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

static void holder_encode(const struct kv_lock_holder *h, struct kv_buf *b) {
        kv_buf_u64(b, h->session);
        kv_buf_u64(b, h->lease);
        kv_buf_u64(b, h->since_ms);
        kv_buf_u64(b, h->fence);
        kv_buf_blob16(b, h->owner, h->owner_len);
}

static int holder_decode(struct kv_rd *r, struct kv_lock_holder *h) {
        const uint8_t *owner;
        uint8_t *copy;

        h->session = kv_rd_u64(r);
        h->lease = kv_rd_u64(r);
        h->since_ms = kv_rd_u64(r);
        h->fence = kv_rd_u64(r);
        owner = kv_rd_blob16(r, &h->owner_len);
        if (r->bad || h->session == 0)
                return -EBADMSG;
        copy = malloc(h->owner_len + 1);
        if (!copy)
                return -ENOMEM;
        if (h->owner_len > 0)
                memcpy(copy, owner, h->owner_len);
        copy[h->owner_len] = 0;
        h->owner = copy;
        return 0;
}

int kv_lock_encode(const struct kv_lock *l, struct kv_buf *b) {
        kv_buf_u8(b, KV_RECORD_VERSION);
        kv_buf_u64(b, l->last_fence);
        kv_buf_u8(b, l->held);
        if (l->held)
                holder_encode(&l->holder, b);
        kv_buf_u32(b, (uint32_t) l->n_waiters);
        for (size_t i = 0; i < l->n_waiters; i++)
                holder_encode(&l->waiters[i], b);
        return b->oom ? -ENOMEM : 0;
}

struct kv_lock *kv_lock_free(struct kv_lock *l) {
        if (!l)
                return NULL;
        free(l->name);
        free((void *) l->holder.owner);
        for (size_t i = 0; i < l->n_waiters; i++)
                free((void *) l->waiters[i].owner);
        free(l->waiters);
        free(l);
        return NULL;
}

int kv_lock_decode(const uint8_t *name, size_t name_len, const uint8_t *p, size_t len, struct kv_lock **ret) {
        struct kv_rd r = { .p = p, .left = len };
        struct kv_lock *l;
        uint8_t held;
        uint32_t n;
        int k;

        if (kv_rd_u8(&r) != KV_RECORD_VERSION)
                return -EBADMSG;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->name = malloc(name_len + 1);
        if (!l->name) {
                kv_lock_free(l);
                return -ENOMEM;
        }
        if (name_len > 0)
                memcpy(l->name, name, name_len);
        l->name[name_len] = 0;
        l->name_len = name_len;
        l->last_fence = kv_rd_u64(&r);
        held = kv_rd_u8(&r);
        if (r.bad || held > 1) {
                kv_lock_free(l);
                return -EBADMSG;
        }
        l->held = held;
        if (held) {
                k = holder_decode(&r, &l->holder);
                if (k < 0) {
                        kv_lock_free(l);
                        return k;
                }
        }
        n = kv_rd_u32(&r);
        /* A waiter takes at least 34 bytes. */
        if (r.bad || n > r.left / 34) {
                kv_lock_free(l);
                return -EBADMSG;
        }
        if (n > 0) {
                l->waiters = calloc(n, sizeof(*l->waiters));
                if (!l->waiters) {
                        kv_lock_free(l);
                        return -ENOMEM;
                }
        }
        for (uint32_t i = 0; i < n; i++) {
                k = holder_decode(&r, &l->waiters[i]);
                if (k < 0) {
                        kv_lock_free(l);
                        return k;
                }
                l->n_waiters++;
        }
        if (r.left != 0 || (!l->held && l->n_waiters > 0)) {
                kv_lock_free(l);
                return -EBADMSG;
        }
        *ret = l;
        return 0;
}

int kv_lease_encode(const struct kv_lease *l, struct kv_buf *b) {
        kv_buf_u8(b, KV_RECORD_VERSION);
        kv_buf_u64(b, l->id);
        kv_buf_u64(b, l->ttl_ms);
        kv_buf_u64(b, l->deadline_ms);
        kv_buf_u32(b, (uint32_t) l->n_keys);
        for (size_t i = 0; i < l->n_keys; i++)
                kv_buf_blob16(b, l->keys[i].data, l->keys[i].len);
        return b->oom ? -ENOMEM : 0;
}

struct kv_lease *kv_lease_free(struct kv_lease *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_keys; i++)
                free((void *) l->keys[i].data);
        free(l->keys);
        free(l);
        return NULL;
}

int kv_lease_decode(const uint8_t *p, size_t len, struct kv_lease **ret) {
        struct kv_rd r = { .p = p, .left = len };
        struct kv_lease *l;
        uint32_t n;

        if (kv_rd_u8(&r) != KV_RECORD_VERSION)
                return -EBADMSG;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->id = kv_rd_u64(&r);
        l->ttl_ms = kv_rd_u64(&r);
        l->deadline_ms = kv_rd_u64(&r);
        n = kv_rd_u32(&r);
        if (r.bad || l->id == 0 || n > r.left / 2) {
                kv_lease_free(l);
                return -EBADMSG;
        }
        if (n > 0) {
                l->keys = calloc(n, sizeof(*l->keys));
                if (!l->keys) {
                        kv_lease_free(l);
                        return -ENOMEM;
                }
        }
        for (uint32_t i = 0; i < n; i++) {
                size_t klen;
                const uint8_t *k = kv_rd_blob16(&r, &klen);
                uint8_t *copy;

                if (r.bad)
                        break;
                copy = malloc(klen + 1);
                if (!copy) {
                        kv_lease_free(l);
                        return -ENOMEM;
                }
                if (klen > 0)
                        memcpy(copy, k, klen);
                l->keys[i] = (struct kv_blob) { .data = copy, .len = klen };
                l->n_keys++;
        }
        if (r.bad || r.left != 0) {
                kv_lease_free(l);
                return -EBADMSG;
        }
        *ret = l;
        return 0;
}

int kv_record_validate(TDB_DATA key, TDB_DATA data) {
        struct kv_data_header h;
        struct kv_session *s = NULL;
        struct kv_lock *l = NULL;
        struct kv_lease *e = NULL;
        int r;

        if (key.dsize < 1)
                return -EBADMSG;
        switch (key.dptr[0]) {
        case KV_TAG_DATA:
                return kv_data_header_decode(data.dptr, data.dsize, &h);
        case KV_TAG_SESSION:
                if (key.dsize != 9)
                        return -EBADMSG;
                r = kv_session_decode(data.dptr, data.dsize, &s);
                kv_session_free(s);
                return r;
        case KV_TAG_LOCK:
                r = kv_lock_decode(key.dptr + 1, key.dsize - 1, data.dptr, data.dsize, &l);
                kv_lock_free(l);
                return r;
        case KV_TAG_LEASE:
                if (key.dsize != 9)
                        return -EBADMSG;
                r = kv_lease_decode(data.dptr, data.dsize, &e);
                kv_lease_free(e);
                return r;
        case KV_TAG_META:
                return key.dsize == 1 && data.dsize == 17 && data.dptr[0] == KV_RECORD_VERSION ? 0 : -EBADMSG;
        case KV_TAG_MARKER:
                return key.dsize == 1 && data.dsize >= 2 && data.dptr[0] == KV_RECORD_VERSION ? 0 : -EBADMSG;
        default:
                return -EBADMSG;
        }
}
