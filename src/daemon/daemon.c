/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon-bus.h"
#include "daemon/daemon.h"
#include "shared/macro.h"

int manager_new(struct ev_loop *loop, const struct daemon_args *args, struct manager **ret) {
        struct manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->loop = loop;
        m->args = args;
        daemon_log_init(&m->log, STDERR_FILENO, args->log_level >= 0 ? args->log_level : LOG_INFO);
        m->log_sink = daemon_log_sink(&m->log);
        r = daemon_config_read(&m->config, args, &m->log_sink);
        if (r < 0) {
                free(m);
                return r;
        }
        m->log.max_level = m->config.log_level;
        *ret = m;
        return 0;
}

static void notify_ready_if_serving(struct manager *m) {
        struct raftd_status s;

        if (m->ready_sent || m->stopping || !raftd_node_ready(m->node))
                return;
        m->ready_sent = true;
        /* `systemctl status` right after start shows the state READY=1
         * was sent in, not the rate-limited one from the election. */
        raftd_status(m->node, &s);
        manager_notify_status(m, &s, true);
        (void) sd_notify(false, "READY=1");
        log_sink(&m->log_sink, LOG_INFO, _("Node %" PRIu64 " is ready: a leader is known and its session is up"),
                 m->config.id);
}

void manager_on_node_status(void *userdata, const struct raftd_status *s) {
        struct manager *m = userdata;

        manager_notify_status(m, s, false);
        notify_ready_if_serving(m);
}

static void on_stopped(void *userdata) {
        struct manager *m = userdata;
        struct raftd_status s;

        raftd_status(m->node, &s);
        /* The last STATUS says who leads now: on a leader this shows the
         * handover happened before the process went away. */
        manager_notify_status(m, &s, true);
        if (s.leader && s.leader != m->config.id)
                log_sink(&m->log_sink, LOG_INFO, _("Stopped; node %" PRIu64 " leads the cluster"), s.leader);
        else
                log_sink(&m->log_sink, LOG_INFO, _("Stopped; no other leader is known"));
        ev_break(m->loop, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents) {
        struct manager *m = w->data;
        int r;

        if (m->stopping) {
                log_sink(&m->log_sink, LOG_NOTICE, _("Received %s again, exiting without waiting for the handover"),
                         strsignal(w->signum));
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        m->stopping = true;
        (void) sd_notify(false, "STOPPING=1");
        log_sink(&m->log_sink, LOG_INFO, _("Received %s, stopping: handing over leadership and locks first"),
                 strsignal(w->signum));
        daemon_bus_stop(m);
        m->bus = NULL;
        r = raftd_node_stop(m->node, on_stopped, m);
        if (r < 0) {
                log_sink_errno(&m->log_sink, LOG_WARNING, r, _("Failed to stop gracefully, exiting at once: %m"));
                ev_break(loop, EVBREAK_ALL);
        }
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *w, int revents) {
        struct manager *m = w->data;

        if (m->stopping)
                return;
        (void) manager_reload(m);
}

int manager_start(struct manager *m) {
        _cleanup_free_ struct raftd_peer *peers = calloc(m->config.n_peers + 1, sizeof(*peers));
        struct raftd_config c;
        int r;

        if (!peers)
                return -ENOMEM;
        daemon_config_to_node(&m->config, &c, peers);
        c.log = daemon_log_write;
        c.log_userdata = &m->log;
        r = raftd_node_new(m->loop, &c, &m->node);
        if (r < 0)
                return log_sink_errno(&m->log_sink, LOG_ERR, r, _("Failed to create node %" PRIu64 ": %m"), m->config.id);
        raftd_on_status(m->node, manager_on_node_status, m);
        r = raftd_node_start(m->node);
        if (r < 0)
                return log_sink_errno(&m->log_sink, LOG_ERR, r,
                                      _("Failed to start node %" PRIu64 " (data in %s, listening on %s): %m"),
                                      m->config.id, m->config.data_dir, m->config.listen);
        r = daemon_bus_start(m);
        if (r < 0)
                return r;

        ev_signal_init(&m->sigterm, on_stop_signal, SIGTERM);
        ev_signal_init(&m->sigint, on_stop_signal, SIGINT);
        ev_signal_init(&m->sighup, on_reload_signal, SIGHUP);
        m->sigterm.data = m->sigint.data = m->sighup.data = m;
        ev_signal_start(m->loop, &m->sigterm);
        ev_signal_start(m->loop, &m->sigint);
        ev_signal_start(m->loop, &m->sighup);
        manager_watchdog_setup(m);

        log_sink(&m->log_sink, LOG_INFO, _("Node %" PRIu64 " started: listening on %s, data in %s"), m->config.id,
                 m->config.listen, m->config.data_dir);
        (void) sd_notifyf(false, "STATUS=%s", _("Starting: waiting for a leader and a session"));
        notify_ready_if_serving(m);
        return 0;
}

int manager_run(struct manager *m) {
        ev_run(m->loop, 0);
        return m->exit_code;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        if (m->bus)
                daemon_bus_stop(m);
        if (m->loop) {
                ev_signal_stop(m->loop, &m->sigterm);
                ev_signal_stop(m->loop, &m->sigint);
                ev_signal_stop(m->loop, &m->sighup);
                ev_timer_stop(m->loop, &m->watchdog);
                ev_timer_stop(m->loop, &m->status_timer);
        }
        raftd_node_free(m->node);
        daemon_config_done(&m->config);
        free(m);
        return NULL;
}
