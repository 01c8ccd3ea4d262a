/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster-wide locks for libraftd callers.
 *
 * Each lock request gets a client session of its own: the state machine
 * knows holders by session, and two local clients must never pass as one.
 * The request registers the session, asks for the lock under it, and then
 * either holds it at once or waits first-come first-served until a grant
 * is applied.  The session's keep-alive holds the lock while this node
 * runs; if the node dies or is cut off for longer than the TTL, the
 * session expires and the state machine hands the lock on. */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "shared/macro.h"

enum lock_state {
        LOCK_REGISTERING = 1,
        LOCK_ACQUIRING,
        LOCK_WAITING,
        LOCK_HELD,
        LOCK_RELEASING,
};

struct node_lock {
        struct node_lock *next;
        uint64_t handle;
        enum lock_state state;
        struct node_session *session;
        uint8_t *name;
        size_t name_len;
        char *owner;
        uint64_t deadline; /* ms, while not yet held */
        uint64_t fence;
        bool notify;       /* the acquire callback is due (from the loop) */
        int notify_error;
        bool notify_lost;
        raftd_lock_cb cb;
        void (*lost)(void *userdata);
        void *userdata;
        raftd_write_cb release_cb;
        void *release_userdata;
};

static void lock_free(struct raftd_node *n, struct node_lock *l) {
        for (struct node_lock **p = &n->locks; *p; p = &(*p)->next)
                if (*p == l) {
                        *p = l->next;
                        break;
                }
        if (l->session) {
                struct node_session *s = l->session;

                l->session = NULL;
                s->lock = NULL;
                node_session_free(n, s);
        }
        free(l->name);
        free(l->owner);
        free(l);
}

static struct node_lock *lock_by_handle(struct raftd_node *n, uint64_t handle) {
        for (struct node_lock *l = n->locks; l; l = l->next)
                if (l->handle == handle)
                        return l;
        return NULL;
}

static bool lock_alive(struct raftd_node *n, struct node_lock *l) {
        for (struct node_lock *m = n->locks; m; m = m->next)
                if (m == l)
                        return true;
        return false;
}

static void due(struct raftd_node *n, struct node_lock *l, int error) {
        l->notify = true;
        l->notify_error = error;
        if (!ev_is_active(&n->kick))
                ev_timer_start(n->loop, &n->kick);
}

static void close_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct node_lock *l = ctx;

        if (lock_alive(n, l) && l->state == LOCK_RELEASING)
                lock_free(n, l);
}

static void release_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct node_lock *l = ctx;
        struct kv_command close = { .type = KV_CMD_SESSION_CLOSE };
        raftd_write_cb cb;

        if (!lock_alive(n, l))
                return;
        cb = l->release_cb;
        l->release_cb = NULL;
        if (cb)
                cb(l->release_userdata, error < 0 ? error : 0, res ? res->revision : 0);
        if (!lock_alive(n, l) || !l->session)
                return;
        /* Closing the session ends its keep-alive at once. */
        l->session->closing = true;
        if (node_submit_write(n, l->session, &close, close_done, l) < 0)
                lock_free(n, l);
}

/* Give the lock back (held) or withdraw from the queue (waiting). */
static void release(struct raftd_node *n, struct node_lock *l) {
        struct kv_command c = { .type = KV_CMD_LOCK_RELEASE };

        if (!l->session || l->session->id == 0) {
                /* Not registered yet: nothing to give back.  A registration
                 * that still applies later expires after the TTL. */
                if (l->release_cb)
                        node_write_cb_later(n, l->release_cb, l->release_userdata, 0, 0);
                lock_free(n, l);
                return;
        }
        l->state = LOCK_RELEASING;
        c.key = (struct kv_blob) { l->name, l->name_len };
        if (node_submit_write(n, l->session, &c, release_done, l) < 0)
                lock_free(n, l);
}

static void acquire_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct node_lock *l = ctx;

        if (!lock_alive(n, l) || l->state != LOCK_ACQUIRING)
                return;
        if (error < 0) {
                due(n, l, error);
                return;
        }
        switch (res->status) {
        case KV_STATUS_OK:
                l->state = LOCK_HELD;
                l->fence = res->fence;
                due(n, l, 0);
                break;
        case KV_STATUS_LOCK_QUEUED:
                l->state = LOCK_WAITING;
                break;
        default:
                due(n, l, res->error < 0 ? res->error : -EIO);
        }
}

void node_lock_registered(struct raftd_node *n, struct node_lock *l) {
        struct kv_command c = { .type = KV_CMD_LOCK_ACQUIRE };
        int k;

        if (l->state != LOCK_REGISTERING)
                return;
        l->state = LOCK_ACQUIRING;
        c.key = (struct kv_blob) { l->name, l->name_len };
        c.owner = (struct kv_blob) { (const uint8_t *) l->owner, strlen(l->owner) };
        k = node_submit_write(n, l->session, &c, acquire_done, l);
        if (k < 0)
                due(n, l, k);
}

void node_lock_session_lost(struct raftd_node *n, struct node_lock *l) {
        if (l->state == LOCK_HELD) {
                l->notify_lost = true;
                due(n, l, 0);
        } else if (l->state != LOCK_RELEASING)
                due(n, l, -ECONNRESET);
        else
                l->state = LOCK_RELEASING;
        /* Nothing left to give back: the state machine released it. */
        if (l->session)
                l->session->id = 0;
}

void node_locks_event(struct raftd_node *n, const struct kv_event *e) {
        for (struct node_lock *l = n->locks; l; l = l->next) {
                if (!l->session || l->session->id == 0 || e->session != l->session->id)
                        continue;
                if (e->type == KV_EVENT_LOCK_GRANTED && (l->state == LOCK_WAITING || l->state == LOCK_ACQUIRING)) {
                        l->state = LOCK_HELD;
                        l->fence = e->fence;
                        due(n, l, 0);
                } else if (e->type == KV_EVENT_SESSION_EXPIRED)
                        node_lock_session_lost(n, l);
                return;
        }
}

/* Callbacks and timeouts, from the loop. */
void node_locks_tick(struct raftd_node *n) {
        uint64_t now = node_now_ms(n);
        struct node_lock *l = n->locks;

        while (l) {
                struct node_lock *next = l->next;

                if (l->notify) {
                        int error = l->notify_error;

                        l->notify = false;
                        if (l->notify_lost) {
                                l->notify_lost = false;
                                if (l->lost)
                                        l->lost(l->userdata);
                                if (lock_alive(n, l))
                                        lock_free(n, l);
                        } else if (error < 0) {
                                raftd_lock_cb cb = l->cb;
                                void *userdata = l->userdata;

                                l->cb = NULL;
                                release(n, l);
                                if (cb)
                                        cb(userdata, error, 0);
                        } else if (l->state == LOCK_HELD && l->cb) {
                                raftd_lock_cb cb = l->cb;

                                l->cb = NULL;
                                cb(l->userdata, 0, l->fence);
                        }
                        /* A callback may have changed the list. */
                        l = n->locks;
                        continue;
                }
                if (l->state != LOCK_HELD && l->state != LOCK_RELEASING && now >= l->deadline) {
                        raftd_lock_cb cb = l->cb;
                        void *userdata = l->userdata;

                        l->cb = NULL;
                        release(n, l);
                        if (cb)
                                cb(userdata, RAFTD_E_LOCK_TIMEOUT, 0);
                        l = n->locks;
                        continue;
                }
                l = next;
        }
}

void node_locks_free_all(struct raftd_node *n) {
        while (n->locks) {
                struct node_lock *l = n->locks;
                raftd_lock_cb cb = l->cb;
                void *userdata = l->userdata;

                l->cb = NULL;
                lock_free(n, l);
                if (cb)
                        cb(userdata, -ECANCELED, 0);
        }
}

int raftd_lock_acquire(struct raftd_node *n, const void *name, size_t name_len, const char *owner,
                       uint64_t timeout_ms, raftd_lock_cb cb, void (*lost)(void *userdata), void *userdata,
                       uint64_t *ret_handle) {
        struct node_lock *l;

        if (!name || name_len == 0 || !cb)
                return -EINVAL;
        if (name_len > n->cfg.max_key_len || (owner && strlen(owner) > n->cfg.max_key_len))
                return RAFTD_E_TOO_LARGE;
        if (!n->started || n->failed)
                return -ENOTCONN;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->name = malloc(name_len);
        l->owner = strdup(owner ? owner : "");
        if (!l->name || !l->owner) {
                free(l->name);
                free(l->owner);
                free(l);
                return -ENOMEM;
        }
        memcpy(l->name, name, name_len);
        l->name_len = name_len;
        l->handle = ++n->next_handle;
        l->state = LOCK_REGISTERING;
        l->deadline = node_now_ms(n) + timeout_ms;
        l->cb = cb;
        l->lost = lost;
        l->userdata = userdata;
        l->next = n->locks;
        n->locks = l;
        l->session = node_session_new(n, l);
        if (!l->session) {
                lock_free(n, l);
                return -ENOMEM;
        }
        if (ret_handle)
                *ret_handle = l->handle;
        return 0;
}

int raftd_lock_release(struct raftd_node *n, uint64_t handle, raftd_write_cb cb, void *userdata) {
        struct node_lock *l = lock_by_handle(n, handle);

        if (!l || l->state == LOCK_RELEASING)
                return -ENOENT;
        /* The caller lets go: neither the acquire callback of a withdrawn
         * request nor a "lost" notice comes after this (the caller may free
         * what they would touch). */
        l->cb = NULL;
        l->lost = NULL;
        l->notify_lost = false;
        l->release_cb = cb;
        l->release_userdata = userdata;
        release(n, l);
        return 0;
}

struct list_ctx {
        void (*fn)(void *userdata, const struct raftd_lock_info *l);
        void *userdata;
};

static int list_one(void *userdata, const struct kv_lock_info *k) {
        struct list_ctx *c = userdata;
        _cleanup_free_ char *owner = strndup((const char *) k->holder.owner, k->holder.owner_len);
        struct raftd_lock_info info = {
                .name = k->name,
                .name_len = k->name_len,
                .held = k->held,
                .owner = k->held ? owner : NULL,
                .session = k->held ? k->holder.session : 0,
                .fence = k->held ? k->holder.fence : 0,
                .since_ms = k->held ? k->holder.since_ms : 0,
                .n_waiters = k->n_waiters,
        };

        if (k->held && k->holder.owner_len > 0 && !owner)
                return -ENOMEM;
        c->fn(c->userdata, &info);
        return 0;
}

int raftd_lock_list(struct raftd_node *n, void (*fn)(void *userdata, const struct raftd_lock_info *l),
                    void *userdata) {
        struct list_ctx c = { .fn = fn, .userdata = userdata };

        if (!fn || !n->kv)
                return -EINVAL;
        return kv_lock_foreach(n->kv, list_one, &c);
}

size_t node_lock_handles(struct raftd_node *n, uint64_t *out, size_t max) {
        size_t k = 0;

        for (struct node_lock *l = n->locks; l && k < max; l = l->next)
                if (l->state != LOCK_RELEASING)
                        out[k++] = l->handle;
        return k;
}
