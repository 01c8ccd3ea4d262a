/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leases: a TTL renewed by keep-alive; bound keys and locks go with it. */
#include <string.h>

#include "kv/kv-internal.h"
#include "shared/macro.h"

static size_t lease_pos(struct kv *kv, uint64_t id) {
        size_t lo = 0, hi = kv->n_leases;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (kv->leases[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

struct kv_lease *kv_lease_find(struct kv *kv, uint64_t id) {
        size_t i = lease_pos(kv, id);

        return i < kv->n_leases && kv->leases[i]->id == id ? kv->leases[i] : NULL;
}

bool kv_lease_exists(struct kv *kv, uint64_t lease) {
        return kv && kv_lease_find(kv, lease);
}

int kv_lease_save(struct kv *kv, const struct kv_lease *l) {
        struct kv_buf b = {};
        struct kv_tkey k;
        TDB_DATA d;
        int r;

        r = kv_lease_encode(l, &b);
        if (r >= 0) {
                kv_tkey_id(&k, KV_TAG_LEASE, l->id);
                d = (TDB_DATA) { .dptr = b.data, .dsize = b.len };
                r = kv_store_put(kv, k.d, &d, 1);
        }
        kv_buf_done(&b);
        return r;
}

int kv_lease_grant(struct kv *kv, raft_index index, uint64_t ttl_ms, struct kv_result *res) {
        struct kv_lease *l, **a;

        if (ttl_ms == 0) {
                kv_result_set(res, KV_STATUS_INVALID_TTL);
                return 0;
        }
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct kv_lease) {
                .id = index,
                .ttl_ms = ttl_ms,
                .deadline_ms = deadline_after(kv->clock, ttl_ms),
        };
        a = reallocarray(kv->leases, kv->n_leases + 1, sizeof(*a));
        if (!a) {
                kv_lease_free(l);
                return -ENOMEM;
        }
        /* Ids are indexes, so the newest lease sorts last. */
        kv->leases = a;
        kv->leases[kv->n_leases++] = l;
        kv_deadline_note(kv, l->deadline_ms);
        res->id = index;
        res->revision = index;
        return kv_lease_save(kv, l);
}

int kv_lease_keepalive(struct kv *kv, uint64_t id, struct kv_result *res) {
        struct kv_lease *l = kv_lease_find(kv, id);

        if (!l) {
                kv_result_set(res, KV_STATUS_NO_SUCH_LEASE);
                return 0;
        }
        l->deadline_ms = deadline_after(kv->clock, l->ttl_ms);
        kv_deadline_note(kv, l->deadline_ms);
        res->id = id;
        return kv_lease_save(kv, l);
}

int kv_lease_remove(struct kv *kv, raft_index index, uint64_t id, bool expired) {
        size_t i = lease_pos(kv, id);
        struct kv_lease *l;
        struct kv_tkey k;
        int r = 0;

        if (i >= kv->n_leases || kv->leases[i]->id != id)
                return 0;
        l = kv->leases[i];
        memmove(kv->leases + i, kv->leases + i + 1, (kv->n_leases - i - 1) * sizeof(*kv->leases));
        kv->n_leases--;

        kv_tkey_id(&k, KV_TAG_LEASE, id);
        r = kv_store_delete(kv, k.d);
        /* The lease is out of the table, so deleting its keys does not try
         * to unbind them from it again. */
        for (size_t j = 0; r >= 0 && j < l->n_keys; j++) {
                bool found;
                r = kv_data_delete(kv, index, l->keys[j].data, l->keys[j].len, &found);
        }
        if (r >= 0)
                r = kv_locks_drop(kv, index, 0, id, false);
        if (r >= 0 && expired)
                kv_emit(kv, &(struct kv_event) {
                        .type = KV_EVENT_LEASE_EXPIRED,
                        .revision = index,
                        .lease = id,
                });
        kv_lease_free(l);
        return r;
}

int kv_lease_bind(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len) {
        struct kv_lease *l = kv_lease_find(kv, id);
        struct kv_blob *a;
        uint8_t *copy;

        if (!l)
                return 0;
        copy = malloc(key_len + 1);
        if (!copy)
                return -ENOMEM;
        if (key_len > 0)
                memcpy(copy, key, key_len);
        copy[key_len] = 0;
        a = reallocarray(l->keys, l->n_keys + 1, sizeof(*a));
        if (!a) {
                free(copy);
                return -ENOMEM;
        }
        l->keys = a;
        l->keys[l->n_keys++] = (struct kv_blob) { .data = copy, .len = key_len };
        return kv_lease_save(kv, l);
}

int kv_lease_unbind(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len) {
        struct kv_lease *l = kv_lease_find(kv, id);

        if (!l)
                return 0;
        for (size_t i = 0; i < l->n_keys; i++) {
                if (l->keys[i].len != key_len || (key_len > 0 && memcmp(l->keys[i].data, key, key_len) != 0))
                        continue;
                free((void *) l->keys[i].data);
                memmove(l->keys + i, l->keys + i + 1, (l->n_keys - i - 1) * sizeof(*l->keys));
                l->n_keys--;
                return kv_lease_save(kv, l);
        }
        return 0;
}
