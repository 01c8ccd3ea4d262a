/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading the applied index, the apply clock and the in-memory tables of
 * sessions, locks and leases from TDB. */
#include <string.h>

#include "kv/kv-internal.h"
#include "raft/wire.h"
#include "shared/macro.h"

static int load_meta(struct kv *kv) {
        uint8_t k = KV_TAG_META;
        TDB_DATA d = tdb_fetch(kv->tdb, (TDB_DATA) { .dptr = &k, .dsize = 1 });
        int r = 0;

        if (!d.dptr) {
                kv->applied = kv->clock = 0;
                return tdb_error(kv->tdb) == TDB_ERR_NOEXIST ? 0 : kv_errno_from_tdb(kv);
        }
        if (d.dsize != 17 || d.dptr[0] != KV_RECORD_VERSION)
                r = -EUCLEAN;
        else {
                kv->applied = wire_get64(d.dptr + 1);
                kv->clock = wire_get64(d.dptr + 9);
        }
        free(d.dptr);
        return r;
}

void kv_tables_clear(struct kv *kv) {
        for (size_t i = 0; i < kv->n_sessions; i++)
                kv_session_free(kv->sessions[i]);
        for (size_t i = 0; i < kv->n_locks; i++)
                kv_lock_free(kv->locks[i]);
        for (size_t i = 0; i < kv->n_leases; i++)
                kv_lease_free(kv->leases[i]);
        kv->sessions = mfree(kv->sessions);
        kv->locks = mfree(kv->locks);
        kv->leases = mfree(kv->leases);
        kv->n_sessions = kv->n_locks = kv->n_leases = 0;
        kv->next_deadline = 0;
}

static int append_ptr(void ***array, size_t *n, void *p) {
        void **a = reallocarray(*array, *n + 1, sizeof(void *));

        if (!a)
                return -ENOMEM;
        a[(*n)++] = p;
        *array = a;
        return 0;
}

static int cmp_session(const void *a, const void *b) {
        const struct kv_session *x = *(struct kv_session *const *) a, *y = *(struct kv_session *const *) b;

        return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_lease(const void *a, const void *b) {
        const struct kv_lease *x = *(struct kv_lease *const *) a, *y = *(struct kv_lease *const *) b;

        return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_lock(const void *a, const void *b) {
        const struct kv_lock *x = *(struct kv_lock *const *) a, *y = *(struct kv_lock *const *) b;
        int c = memcmp(x->name, y->name, MIN(x->name_len, y->name_len));

        return c != 0 ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int load_one(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *userdata) {
        struct kv *kv = userdata;
        struct kv_session *s;
        struct kv_lock *l;
        struct kv_lease *e;
        int r = 0;

        if (key.dsize < 1)
                return 0;
        switch (key.dptr[0]) {
        case KV_TAG_SESSION:
                r = kv_session_decode(data.dptr, data.dsize, &s);
                if (r >= 0 && (r = append_ptr((void ***) &kv->sessions, &kv->n_sessions, s)) < 0)
                        kv_session_free(s);
                break;
        case KV_TAG_LOCK:
                r = kv_lock_decode(key.dptr + 1, key.dsize - 1, data.dptr, data.dsize, &l);
                if (r >= 0 && (r = append_ptr((void ***) &kv->locks, &kv->n_locks, l)) < 0)
                        kv_lock_free(l);
                break;
        case KV_TAG_LEASE:
                r = kv_lease_decode(data.dptr, data.dsize, &e);
                if (r >= 0 && (r = append_ptr((void ***) &kv->leases, &kv->n_leases, e)) < 0)
                        kv_lease_free(e);
                break;
        }
        return r < 0 ? -1 : 0;
}

int kv_tables_load(struct kv *kv) {
        int r;

        kv_tables_clear(kv);
        r = load_meta(kv);
        if (r < 0)
                return r;
        if (tdb_traverse_read(kv->tdb, load_one, kv) < 0) {
                kv_tables_clear(kv);
                return -EUCLEAN;
        }
        /* TDB walks in hash order; the tables are kept sorted. */
        if (kv->n_sessions > 1)
                qsort(kv->sessions, kv->n_sessions, sizeof(void *), cmp_session);
        if (kv->n_leases > 1)
                qsort(kv->leases, kv->n_leases, sizeof(void *), cmp_lease);
        if (kv->n_locks > 1)
                qsort(kv->locks, kv->n_locks, sizeof(void *), cmp_lock);
        /* Recomputed exactly on the first apply that reaches it. */
        kv->next_deadline = 0;
        return 0;
}
