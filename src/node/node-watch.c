/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watches: the state machine's change events, fanned out to callers by
 * key prefix, and to the lock requests waiting for a grant. */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

struct node_watch {
        struct node_watch *next;
        uint64_t handle;
        uint8_t *prefix;
        size_t prefix_len;
        raftd_watch_cb cb; /* NULL: removed during a dispatch */
        void *userdata;
};

static void sweep(struct raftd_node *n) {
        struct node_watch **p = &n->watches;

        while (*p) {
                struct node_watch *w = *p;

                if (w->cb) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                free(w->prefix);
                free(w);
        }
}

void node_on_kv_event(void *userdata, const struct kv_event *e) {
        struct raftd_node *n = userdata;
        struct raftd_change c;

        node_locks_event(n, e);
        node_admin_member_event(n, e);
        if (e->type != KV_EVENT_PUT && e->type != KV_EVENT_DELETE)
                return;
        c = (struct raftd_change) {
                .key = e->key,
                .key_len = e->key_len,
                .value = e->type == KV_EVENT_PUT ? (e->value ? (const void *) e->value : (const void *) "") : NULL,
                .value_len = e->type == KV_EVENT_PUT ? e->value_len : 0,
                .revision = e->revision,
        };
        n->dispatching_watches = true;
        for (struct node_watch *w = n->watches; w; w = w->next)
                if (w->cb && e->key_len >= w->prefix_len &&
                    (w->prefix_len == 0 || memcmp(e->key, w->prefix, w->prefix_len) == 0))
                        w->cb(w->userdata, &c);
        n->dispatching_watches = false;
        sweep(n);
}

int raftd_watch(struct raftd_node *n, const void *prefix, size_t prefix_len, raftd_watch_cb cb, void *userdata,
                uint64_t *ret_handle) {
        struct node_watch *w;

        if (!cb || (prefix_len > 0 && !prefix))
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        if (prefix_len > 0) {
                w->prefix = malloc(prefix_len);
                if (!w->prefix) {
                        free(w);
                        return -ENOMEM;
                }
                memcpy(w->prefix, prefix, prefix_len);
        }
        w->prefix_len = prefix_len;
        w->cb = cb;
        w->userdata = userdata;
        w->handle = ++n->next_handle;
        w->next = n->watches;
        n->watches = w;
        if (ret_handle)
                *ret_handle = w->handle;
        return 0;
}

int raftd_unwatch(struct raftd_node *n, uint64_t handle) {
        for (struct node_watch *w = n->watches; w; w = w->next)
                if (w->handle == handle && w->cb) {
                        w->cb = NULL;
                        if (!n->dispatching_watches)
                                sweep(n);
                        return 0;
                }
        return -ENOENT;
}

void node_watches_free_all(struct raftd_node *n) {
        for (struct node_watch *w = n->watches; w; w = w->next)
                w->cb = NULL;
        sweep(n);
}
