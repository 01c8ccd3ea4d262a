/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client sessions for exactly-once (Raft dissertation §6.3). */
#include <string.h>

#include "kv/kv-internal.h"
#include "shared/macro.h"

static size_t session_pos(struct kv *kv, uint64_t id) {
        size_t lo = 0, hi = kv->n_sessions;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (kv->sessions[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

struct kv_session *kv_session_find(struct kv *kv, uint64_t id) {
        size_t i = session_pos(kv, id);

        return i < kv->n_sessions && kv->sessions[i]->id == id ? kv->sessions[i] : NULL;
}

bool kv_session_exists(struct kv *kv, uint64_t session) {
        return kv && kv_session_find(kv, session);
}

static int session_store(struct kv *kv, struct kv_session *s) {
        struct kv_buf b = {};
        struct kv_tkey k;
        TDB_DATA d;
        int r;

        r = kv_session_encode(s, &b);
        if (r < 0) {
                kv_buf_done(&b);
                return r;
        }
        kv_tkey_id(&k, KV_TAG_SESSION, s->id);
        d = (TDB_DATA) { .dptr = b.data, .dsize = b.len };
        r = kv_store_put(kv, k.d, &d, 1);
        kv_buf_done(&b);
        if (r >= 0)
                s->dirty = false;
        return r;
}

/* A session's record holds its cached responses: storing it on every
 * request of a batch re-encoded the whole window each time.  Within a
 * batch it is stored once, before the batch commits (same transaction). */
int kv_session_save(struct kv *kv, struct kv_session *s) {
        if (kv->in_batch) {
                s->dirty = true;
                return 0;
        }
        return session_store(kv, s);
}

int kv_sessions_flush(struct kv *kv) {
        for (size_t i = 0; i < kv->n_sessions; i++)
                if (kv->sessions[i]->dirty) {
                        int r = session_store(kv, kv->sessions[i]);

                        if (r < 0)
                                return r;
                }
        return 0;
}

int kv_session_register(struct kv *kv, raft_index index, uint64_t ttl_ms, struct kv_result *res) {
        struct kv_session *s, **a;
        int r;

        if (ttl_ms == 0) {
                kv_result_set(res, KV_STATUS_INVALID_TTL);
                return 0;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (struct kv_session) {
                .id = index,
                .ttl_ms = ttl_ms,
                .deadline_ms = deadline_after(kv->clock, ttl_ms),
                .floor = 1,
        };
        a = reallocarray(kv->sessions, kv->n_sessions + 1, sizeof(*a));
        if (!a) {
                kv_session_free(s);
                return -ENOMEM;
        }
        /* Ids are indexes, so the newest session sorts last. */
        kv->sessions = a;
        kv->sessions[kv->n_sessions++] = s;
        kv_deadline_note(kv, s->deadline_ms);

        r = kv_session_save(kv, s);
        if (r < 0)
                return r;
        res->id = index;
        res->revision = index;
        return 0;
}

int kv_session_remove(struct kv *kv, raft_index index, uint64_t id, bool expired) {
        size_t i = session_pos(kv, id);
        struct kv_tkey k;
        int r;

        if (i >= kv->n_sessions || kv->sessions[i]->id != id)
                return 0;
        kv_session_free(kv->sessions[i]);
        memmove(kv->sessions + i, kv->sessions + i + 1, (kv->n_sessions - i - 1) * sizeof(*kv->sessions));
        kv->n_sessions--;

        kv_tkey_id(&k, KV_TAG_SESSION, id);
        r = kv_store_delete(kv, k.d);
        if (r < 0)
                return r;
        /* Its locks go to the next waiters. */
        r = kv_locks_drop(kv, index, id, 0, false);
        if (r < 0)
                return r;
        if (expired)
                kv_emit(kv, &(struct kv_event) {
                        .type = KV_EVENT_SESSION_EXPIRED,
                        .revision = index,
                        .session = id,
                });
        return 0;
}

const struct kv_result *kv_session_cached(const struct kv_session *s, uint64_t seq) {
        const struct kv_cached_response *a = s->cached + s->first;
        size_t lo = 0, hi = s->n_cached;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (a[mid].seq < seq)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < s->n_cached && a[lo].seq == seq ? &a[lo].result : NULL;
}

/* Forgets responses the client has seen. */
void kv_session_acknowledge(struct kv *kv, struct kv_session *s, uint64_t lowest_unacked) {
        size_t drop = 0;

        if (lowest_unacked <= s->floor)
                return;
        s->floor = lowest_unacked;
        while (drop < s->n_cached && s->cached[s->first + drop].seq < s->floor)
                drop++;
        s->first = drop == s->n_cached ? 0 : s->first + drop;
        s->n_cached -= drop;
}

int kv_session_remember(struct kv *kv, struct kv_session *s, uint64_t seq, const struct kv_result *res) {
        struct kv_cached_response *a;
        size_t pos;

        if (s->first + s->n_cached == s->cap) {
                if (s->first > 0 && s->first >= s->n_cached) {
                        /* Mostly dropped from the front: move the rest back. */
                        memmove(s->cached, s->cached + s->first, s->n_cached * sizeof(*s->cached));
                        s->first = 0;
                } else {
                        size_t cap = MAX(2 * s->cap, (size_t) 16);

                        a = reallocarray(s->cached, cap, sizeof(*a));
                        if (!a)
                                return -ENOMEM;
                        s->cached = a;
                        s->cap = cap;
                }
        }
        /* Requests mostly apply in seq order: search from the newest. */
        a = s->cached + s->first;
        for (pos = s->n_cached; pos > 0 && a[pos - 1].seq > seq; pos--)
                ;
        memmove(a + pos + 1, a + pos, (s->n_cached - pos) * sizeof(*a));
        a[pos] = (struct kv_cached_response) { .seq = seq, .result = *res };
        a[pos].result.replayed = false;
        s->n_cached++;

        /* A client that never acknowledges must not grow the record without
         * bound: forget the oldest, whose retry then gets "forgotten". */
        if (s->n_cached > kv->opts.max_cached_responses)
                kv_session_acknowledge(kv, s, a[s->n_cached - kv->opts.max_cached_responses].seq);
        return kv_session_save(kv, s);
}
