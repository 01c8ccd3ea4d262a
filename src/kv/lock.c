/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Locks: one holder, first-come first-served waiters, and a fence token per
 * grant that only grows. */
#include <string.h>

#include "kv/kv-internal.h"
#include "shared/macro.h"

static int name_cmp(const struct kv_lock *l, const uint8_t *name, size_t len) {
        int c = l->name_len > 0 && len > 0 ? memcmp(l->name, name, MIN(l->name_len, len)) : 0;

        return c != 0 ? c : (l->name_len > len) - (l->name_len < len);
}

static size_t lock_pos(struct kv *kv, const uint8_t *name, size_t len) {
        size_t lo = 0, hi = kv->n_locks;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (name_cmp(kv->locks[mid], name, len) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static struct kv_lock *lock_find(struct kv *kv, const uint8_t *name, size_t len, size_t *pos) {
        size_t i = lock_pos(kv, name, len);

        if (pos)
                *pos = i;
        return i < kv->n_locks && name_cmp(kv->locks[i], name, len) == 0 ? kv->locks[i] : NULL;
}

static struct kv_lock *lock_new(struct kv *kv, const uint8_t *name, size_t len) {
        struct kv_lock *l, **a;
        size_t pos;

        l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        l->name = malloc(len + 1);
        a = reallocarray(kv->locks, kv->n_locks + 1, sizeof(*a));
        if (a)
                kv->locks = a;
        if (!l->name || !a)
                return kv_lock_free(l);
        if (len > 0)
                memcpy(l->name, name, len);
        l->name[len] = 0;
        l->name_len = len;

        (void) lock_find(kv, name, len, &pos);
        memmove(kv->locks + pos + 1, kv->locks + pos, (kv->n_locks - pos) * sizeof(*kv->locks));
        kv->locks[pos] = l;
        kv->n_locks++;
        return l;
}

/* Writes the lock through, or forgets it once nobody holds or wants it.
 * Forgetting loses no fence: fences are at least the granting index, which
 * only grows.  Returns 1 when the lock was forgotten. */
static int lock_save(struct kv *kv, struct kv_lock *l) {
        struct kv_buf b = {};
        struct kv_tkey k;
        TDB_DATA d;
        size_t pos;
        int r;

        r = kv_tkey_make(&k, KV_TAG_LOCK, l->name, l->name_len);
        if (r < 0)
                return r;
        if (!l->held && l->n_waiters == 0) {
                r = kv_store_delete(kv, k.d);
                kv_tkey_done(&k);
                if (r < 0)
                        return r;
                (void) lock_find(kv, l->name, l->name_len, &pos);
                memmove(kv->locks + pos, kv->locks + pos + 1, (kv->n_locks - pos - 1) * sizeof(*kv->locks));
                kv->n_locks--;
                kv_lock_free(l);
                return 1;
        }
        r = kv_lock_encode(l, &b);
        if (r >= 0) {
                d = (TDB_DATA) { .dptr = b.data, .dsize = b.len };
                r = kv_store_put(kv, k.d, &d, 1);
        }
        kv_buf_done(&b);
        kv_tkey_done(&k);
        return r;
}

static void grant(struct kv *kv, raft_index index, struct kv_lock *l, struct kv_lock_holder h) {
        h.fence = MAX(l->last_fence + 1, index);
        h.since_ms = kv->clock;
        l->last_fence = h.fence;
        l->holder = h;
        l->held = true;
        kv_emit(kv, &(struct kv_event) {
                .type = KV_EVENT_LOCK_GRANTED,
                .key = l->name,
                .key_len = l->name_len,
                .revision = index,
                .session = h.session,
                .lease = h.lease,
                .fence = h.fence,
        });
}

/* The holder lets go; the first waiter, if any, holds it next. */
static void hand_over(struct kv *kv, raft_index index, struct kv_lock *l) {
        uint64_t previous = l->holder.session;

        free((void *) l->holder.owner);
        l->holder = (struct kv_lock_holder) {};
        l->held = false;
        kv_emit(kv, &(struct kv_event) {
                .type = KV_EVENT_LOCK_RELEASED,
                .key = l->name,
                .key_len = l->name_len,
                .revision = index,
                .session = previous,
        });
        if (l->n_waiters > 0) {
                struct kv_lock_holder next = l->waiters[0];

                memmove(l->waiters, l->waiters + 1, (l->n_waiters - 1) * sizeof(*l->waiters));
                l->n_waiters--;
                grant(kv, index, l, next);
        }
}

static ssize_t waiter_pos(const struct kv_lock *l, uint64_t session) {
        for (size_t i = 0; i < l->n_waiters; i++)
                if (l->waiters[i].session == session)
                        return (ssize_t) i;
        return -1;
}

static void waiter_remove(struct kv_lock *l, size_t i) {
        free((void *) l->waiters[i].owner);
        memmove(l->waiters + i, l->waiters + i + 1, (l->n_waiters - i - 1) * sizeof(*l->waiters));
        l->n_waiters--;
}

int kv_lock_acquire(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        struct kv_lock_holder h;
        struct kv_lock *l;
        uint8_t *owner;
        int r;

        if (c->lease != 0 && !kv_lease_find(kv, c->lease)) {
                kv_result_set(res, KV_STATUS_NO_SUCH_LEASE);
                return 0;
        }
        l = lock_find(kv, c->key.data, c->key.len, NULL);
        if (l && l->held && l->holder.session == c->session) {
                /* A repeated acquire by the holder is answered, not queued
                 * behind itself. */
                res->fence = l->holder.fence;
                return 0;
        }
        if (l && waiter_pos(l, c->session) >= 0) {
                kv_result_set(res, KV_STATUS_LOCK_QUEUED);
                return 0;
        }
        if (!l) {
                l = lock_new(kv, c->key.data, c->key.len);
                if (!l)
                        return -ENOMEM;
        }

        owner = malloc(c->owner.len + 1);
        if (!owner)
                return -ENOMEM;
        if (c->owner.len > 0)
                memcpy(owner, c->owner.data, c->owner.len);
        owner[c->owner.len] = 0;
        h = (struct kv_lock_holder) {
                .session = c->session,
                .lease = c->lease,
                .since_ms = kv->clock,
                .owner = owner,
                .owner_len = c->owner.len,
        };

        if (!l->held) {
                grant(kv, index, l, h);
                res->fence = l->holder.fence;
                res->revision = index;
        } else {
                struct kv_lock_holder *a = reallocarray(l->waiters, l->n_waiters + 1, sizeof(*a));

                if (!a) {
                        free(owner);
                        return -ENOMEM;
                }
                l->waiters = a;
                l->waiters[l->n_waiters++] = h;
                kv_result_set(res, KV_STATUS_LOCK_QUEUED);
        }
        r = lock_save(kv, l);
        return r < 0 ? r : 0;
}

int kv_lock_release(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        struct kv_lock *l = lock_find(kv, c->key.data, c->key.len, NULL);
        ssize_t w;
        int r;

        if (!l) {
                kv_result_set(res, KV_STATUS_NOT_LOCK_HOLDER);
                return 0;
        }
        if (l->held && l->holder.session == c->session) {
                hand_over(kv, index, l);
                res->revision = index;
        } else if ((w = waiter_pos(l, c->session)) >= 0)
                waiter_remove(l, (size_t) w); /* a waiter giving up */
        else {
                kv_result_set(res, KV_STATUS_NOT_LOCK_HOLDER);
                return 0;
        }
        r = lock_save(kv, l);
        return r < 0 ? r : 0;
}

static bool matches(const struct kv_lock_holder *h, uint64_t session, uint64_t lease) {
        return (session != 0 && h->session == session) || (lease != 0 && h->lease == lease);
}

int kv_locks_drop(struct kv *kv, raft_index index, uint64_t session, uint64_t lease, bool waits_only) {
        for (size_t i = 0; i < kv->n_locks;) {
                struct kv_lock *l = kv->locks[i];
                bool changed = false;
                int r;

                /* Waiters first, so the hold is not handed to a waiter that
                 * is going away too. */
                for (size_t w = 0; w < l->n_waiters;) {
                        if (matches(&l->waiters[w], session, lease)) {
                                waiter_remove(l, w);
                                changed = true;
                        } else
                                w++;
                }
                if (!waits_only && l->held && matches(&l->holder, session, lease)) {
                        hand_over(kv, index, l);
                        changed = true;
                }
                if (!changed) {
                        i++;
                        continue;
                }
                r = lock_save(kv, l);
                if (r < 0)
                        return r;
                if (r == 0)
                        i++;
        }
        return 0;
}

int kv_lock_foreach(struct kv *kv, int (*fn)(void *userdata, const struct kv_lock_info *l), void *userdata) {
        if (!kv || !fn)
                return -EINVAL;
        for (size_t i = 0; i < kv->n_locks; i++) {
                const struct kv_lock *l = kv->locks[i];
                struct kv_lock_info info = {
                        .name = l->name,
                        .name_len = l->name_len,
                        .held = l->held,
                        .holder = l->holder,
                        .waiters = l->waiters,
                        .n_waiters = l->n_waiters,
                };
                int r = fn(userdata, &info);

                if (r != 0)
                        return r;
        }
        return 0;
}
