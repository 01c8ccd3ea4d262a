/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the service manager hears from raftd: STATUS= lines with role, term,
 * leader and commit index (what `systemctl status` shows), and WATCHDOG=1
 * pings.  sd_notify() is a no-op without $NOTIFY_SOCKET. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon/daemon.h"
#include "shared/macro.h"

static const char *role_to_string(enum raftd_role r) {
        switch (r) {
        case RAFTD_LEADER:
                return _("leader");
        case RAFTD_FOLLOWER:
                return _("follower");
        case RAFTD_CANDIDATE:
                return _("candidate");
        }
        return "?";
}

static void send_status(struct manager *m, const struct raftd_status *s) {
        char leader[32], text[256];

        if (s->leader)
                (void) snprintf(leader, sizeof(leader), _("node %" PRIu64), s->leader);
        else
                (void) snprintf(leader, sizeof(leader), "%s", _("none"));
        (void) snprintf(text, sizeof(text), _("Role %s, term %" PRIu64 ", leader %s, commit index %" PRIu64),
                        role_to_string(s->role), s->term, leader, s->commit_index);
        (void) sd_notifyf(false, "STATUS=%s", text);
        m->last_status = *s;
        m->status_sent = true;
        m->status_dirty = false;
}

void manager_notify_status(struct manager *m, const struct raftd_status *s, bool force) {
        const struct raftd_status *l = &m->last_status;

        if (force || !m->status_sent || s->role != l->role || s->term != l->term || s->leader != l->leader) {
                send_status(m, s);
                return;
        }
        /* Only the indexes moved: a busy node would send a datagram per
         * batch; the status timer sends the newest once per interval. */
        if (s->commit_index != l->commit_index)
                m->status_dirty = true;
}

static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        struct manager *m = w->data;
        struct raftd_status s;

        if (!m->status_dirty || m->stopping)
                return;
        raftd_status(m->node, &s);
        send_status(m, &s);
}

bool manager_node_failed(struct manager *m) {
        int failed = raftd_node_failed(m->node);
        char text[256];

        if (failed >= 0)
                return false;
        m->exit_code = DAEMON_EXIT_RUNTIME;
        if (m->failure_logged)
                return true;
        m->failure_logged = true;
        /* The node logged what failed; this line says what it means. */
        log_sink_errno(&m->log_sink, LOG_CRIT, failed, _("Storage failed (%m): the node stopped serving; exiting"));
        (void) snprintf(text, sizeof(text), _("Failed: storage error (%s)"), strerror(-failed));
        (void) sd_notifyf(false, "STATUS=%s", text);
        return true;
}

/* Health, from the loop: a loop that is stuck never gets here, so its
 * pings stop by themselves.  A failed node breaks the loop itself (see
 * manager_run()); this catches one that did not. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents) {
        struct manager *m = w->data;

        if (manager_node_failed(m)) {
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        if (m->watchdog_usec)
                (void) sd_notify(false, "WATCHDOG=1");
}

void manager_watchdog_setup(struct manager *m) {
        uint64_t usec = 0;
        double interval;

        /* > 0 only when $WATCHDOG_USEC is set for this very process. */
        if (sd_watchdog_enabled(false, &usec) > 0 && usec > 0)
                m->watchdog_usec = usec;
        /* Ping at half the interval; without a watchdog, still check the
         * node's health once a second. */
        interval = m->watchdog_usec ? (double) m->watchdog_usec / 2e6 : 1.0;
        ev_timer_init(&m->watchdog, on_watchdog, 0.0, interval);
        m->watchdog.data = m;
        ev_timer_start(m->loop, &m->watchdog);
        ev_timer_init(&m->status_timer, on_status_timer, DAEMON_STATUS_INTERVAL_S, DAEMON_STATUS_INTERVAL_S);
        m->status_timer.data = m;
        ev_timer_start(m->loop, &m->status_timer);
        if (m->watchdog_usec)
                log_sink(&m->log_sink, LOG_DEBUG, _("Watchdog enabled: pinging every %.3fs"), interval);
}
