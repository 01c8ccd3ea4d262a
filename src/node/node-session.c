/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client sessions: registration, keep-alive and loss.  The state machine
 * expires a session whose last request is older than its TTL (on the
 * leader's clock); a node keeps its sessions alive while it runs, so they
 * and the locks they hold go only when the node dies or is cut off. */
#include <inttypes.h>
#include <stdlib.h>

#include "node/node.h"
#include "shared/macro.h"

struct node_session *node_session_new(struct raftd_node *n, struct node_lock *lock) {
        struct node_session *s = calloc(1, sizeof(*s)), **tail;

        if (!s)
                return NULL;
        s->next_seq = 1;
        s->lock = lock;
        s->last_used = node_now_ms(n);
        /* Appended: the default session stays first. */
        for (tail = &n->sessions; *tail; tail = &(*tail)->next)
                ;
        *tail = s;
        if (node_submit_register(n, s) < 0) {
                node_session_free(n, s);
                return NULL;
        }
        return s;
}

void node_session_free(struct raftd_node *n, struct node_session *s) {
        for (struct node_session **p = &n->sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        node_requests_fail_session(n, s, -ECANCELED);
        free(s);
}

struct node_session *node_session_default(struct raftd_node *n) {
        return n->sessions;
}

struct node_session *node_session_by_id(struct raftd_node *n, uint64_t id) {
        for (struct node_session *s = n->sessions; s; s = s->next)
                if (s->id == id && id != 0)
                        return s;
        return NULL;
}

void node_session_registered(struct raftd_node *n, struct node_session *s, uint64_t id) {
        s->id = id;
        s->next_seq = 1;
        s->last_used = node_now_ms(n);
        if (!s->lock)
                log_sink(&n->log, LOG_INFO, _("Client session %" PRIu64 " registered."), id);
        /* Writes that waited for it go now. */
        node_requests_role_changed(n);
        if (s->lock)
                node_lock_registered(n, s->lock);
}

void node_session_lost(struct raftd_node *n, struct node_session *s) {
        if (s->lock) {
                /* The lock went with it, cluster-wide. */
                node_lock_session_lost(n, s->lock);
                return;
        }
        log_sink(&n->log, LOG_WARNING, _("Client session %" PRIu64 " expired, registering a new one."), s->id);
        s->id = 0;
        /* Nothing of the pending writes applied: they go again under the
         * new session, with new sequence numbers. */
        node_requests_rebind_session(n, s);
        (void) node_submit_register(n, s);
}

static void keepalive_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        if (error < 0 && error != -ECANCELED)
                log_sink_errno(&n->log, LOG_DEBUG, error, _("Session keep-alive failed: %m"));
}

void node_sessions_keepalive(struct raftd_node *n) {
        uint64_t now = node_now_ms(n), every = n->cfg.session_ttl_ms / 3;

        /* Three times per TTL, so one lost round does not expire it; any
         * request of the session counts. */
        for (struct node_session *s = n->sessions; s; s = s->next) {
                struct kv_command c = { .type = KV_CMD_SESSION_KEEPALIVE };
                int k;

                if (s->id == 0 || s->closing || now < s->last_used + every)
                        continue;
                s->last_used = now;
                k = node_submit_write(n, s, &c, keepalive_done, NULL);
                if (k < 0)
                        log_sink_errno(&n->log, LOG_WARNING, k, _("Failed to queue a session keep-alive, ignoring: %m"));
        }
}

uint64_t raftd_node_session(const struct raftd_node *n) {
        return n->sessions ? n->sessions->id : 0;
}
