/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads: one key, and bounded pages of keys by prefix. */
#include <string.h>

#include "kv/kv-internal.h"
#include "shared/macro.h"

void kv_value_done(struct kv_value *v) {
        if (v)
                v->data = mfree(v->data);
}

static int value_from_record(TDB_DATA d, struct kv_value *ret) {
        struct kv_data_header h;
        size_t n;
        int r;

        r = kv_data_header_decode(d.dptr, d.dsize, &h);
        if (r < 0)
                return -EUCLEAN;
        n = d.dsize - KV_DATA_HEADER_SIZE;
        ret->data = malloc(n + 1);
        if (!ret->data)
                return -ENOMEM;
        if (n > 0)
                memcpy(ret->data, d.dptr + KV_DATA_HEADER_SIZE, n);
        ret->data[n] = 0;
        ret->len = n;
        ret->create_revision = h.create_revision;
        ret->mod_revision = h.mod_revision;
        ret->lease = h.lease;
        return 0;
}

int kv_get(struct kv *kv, const void *key, size_t key_len, struct kv_value *ret) {
        struct kv_tkey k;
        TDB_DATA d;
        int r;

        if (!kv || (!key && key_len > 0) || !ret)
                return -EINVAL;
        *ret = (struct kv_value) {};
        r = kv_tkey_make(&k, KV_TAG_DATA, key, key_len);
        if (r < 0)
                return r;
        d = tdb_fetch(kv->tdb, k.d);
        kv_tkey_done(&k);
        if (!d.dptr)
                return tdb_error(kv->tdb) == TDB_ERR_NOEXIST ? -ENOENT : kv_errno_from_tdb(kv);
        r = value_from_record(d, ret);
        free(d.dptr);
        return r;
}

struct kv_entry *kv_entries_free(struct kv_entry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].key);
                kv_value_done(&e[i].value);
        }
        free(e);
        return NULL;
}

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
        int c = an > 0 && bn > 0 ? memcmp(a, b, MIN(an, bn)) : 0;

        return c != 0 ? c : (an > bn) - (an < bn);
}

/* Collects the `limit` smallest matching keys in one pass over the file:
 * memory stays bounded by the page, whatever the data set. */
struct list_ctx {
        const uint8_t *prefix, *after;
        size_t prefix_len, after_len, limit, n;
        bool has_after, more;
        struct kv_entry *e;
        int error;
};

static int list_one(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *userdata) {
        struct list_ctx *c = userdata;
        const uint8_t *k = key.dptr + 1;
        size_t kn = key.dsize - 1, pos;
        struct kv_entry e = {};
        int r;

        if (key.dsize < 1 || key.dptr[0] != KV_TAG_DATA || kn < c->prefix_len ||
            (c->prefix_len > 0 && memcmp(k, c->prefix, c->prefix_len) != 0))
                return 0;
        if (c->has_after && key_cmp(k, kn, c->after, c->after_len) <= 0)
                return 0;
        if (c->n == c->limit) {
                c->more = true;
                if (key_cmp(k, kn, c->e[c->n - 1].key, c->e[c->n - 1].key_len) > 0)
                        return 0;
                /* Evict the largest to make room. */
                c->n--;
                free(c->e[c->n].key);
                kv_value_done(&c->e[c->n].value);
        }
        /* Binary search for the insertion point. */
        size_t lo = 0, hi = c->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (key_cmp(c->e[mid].key, c->e[mid].key_len, k, kn) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        pos = lo;
        e.key = malloc(kn + 1);
        if (!e.key) {
                c->error = -ENOMEM;
                return -1;
        }
        if (kn > 0)
                memcpy(e.key, k, kn);
        e.key[kn] = 0;
        e.key_len = kn;
        r = value_from_record(data, &e.value);
        if (r < 0) {
                free(e.key);
                c->error = r;
                return -1;
        }
        memmove(c->e + pos + 1, c->e + pos, (c->n - pos) * sizeof(*c->e));
        c->e[pos] = e;
        c->n++;
        return 0;
}

int kv_list(struct kv *kv, const void *prefix, size_t prefix_len, const void *after, size_t after_len,
            size_t limit, struct kv_entry **ret, size_t *ret_n, bool *more) {
        struct list_ctx c = {
                .prefix = prefix,
                .prefix_len = prefix_len,
                .after = after,
                .after_len = after_len,
                .has_after = after != NULL,
                .limit = limit,
        };
        bool locked;

        if (!kv || limit == 0 || !ret || !ret_n || (!prefix && prefix_len > 0))
                return -EINVAL;
        c.e = calloc(limit, sizeof(*c.e));
        if (!c.e)
                return -ENOMEM;
        /* One lock for the walk instead of one fcntl() per hash chain.  TDB
         * refuses it inside a transaction (a batch left open between
         * applies), where the walk sees the transaction's own view and
         * nobody else writes. */
        locked = !kv->in_batch;
        if (locked && tdb_lockall_read(kv->tdb) < 0) {
                free(c.e);
                return kv_errno_from_tdb(kv);
        }
        if (tdb_traverse_read(kv->tdb, list_one, &c) < 0 && c.error == 0)
                c.error = kv_errno_from_tdb(kv);
        if (locked)
                (void) tdb_unlockall_read(kv->tdb);
        if (c.error < 0) {
                kv_entries_free(c.e, c.n);
                return c.error;
        }
        *ret = c.e;
        *ret_n = c.n;
        if (more)
                *more = c.more;
        return 0;
}
