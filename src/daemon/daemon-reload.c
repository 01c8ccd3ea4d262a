/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SIGHUP: re-read the configuration and apply what a running node can
 * change (limits, access lists, log level).  What it cannot change (id,
 * listen address, data directory, key, timeouts, bus) keeps its running
 * value and a warning names the key: the admin restarts to apply it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon/daemon-bus.h"
#include "daemon/config-value.h"
#include "daemon/daemon.h"
#include "shared/macro.h"

static bool str_equal(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void refuse(struct manager *m, const char *key) {
        log_sink(&m->log_sink, LOG_WARNING, _("Cannot change %s at runtime, keeping the running value: restart raftd "
                                              "to apply it"),
                 key);
}

/* Keep the running value in n; the old config is freed afterwards, so
 * strings are swapped, not copied. */
#define KEEP_NUMBER(n, o, field, key)                                                                                  \
        do {                                                                                                           \
                if ((n)->field != (o)->field) {                                                                        \
                        refuse(m, key);                                                                                \
                        (n)->field = (o)->field;                                                                       \
                }                                                                                                      \
        } while (0)
#define KEEP_STRING(n, o, field, key)                                                                                  \
        do {                                                                                                           \
                if (!str_equal((n)->field, (o)->field)) {                                                              \
                        char *_t = (n)->field;                                                                         \
                        refuse(m, key);                                                                                \
                        (n)->field = (o)->field;                                                                       \
                        (o)->field = _t;                                                                               \
                }                                                                                                      \
        } while (0)

static bool peers_equal(const struct daemon_config *a, const struct daemon_config *b) {
        if (a->n_peers != b->n_peers)
                return false;
        for (size_t i = 0; i < a->n_peers; i++)
                if (a->peers[i].id != b->peers[i].id || strcmp(a->peers[i].address, b->peers[i].address) != 0)
                        return false;
        return true;
}

static void keep_fixed(struct manager *m, struct daemon_config *n, struct daemon_config *o) {
        KEEP_NUMBER(n, o, id, "Id=");
        KEEP_STRING(n, o, listen, "Listen=");
        KEEP_STRING(n, o, data_dir, "DataDirectory=");
        KEEP_STRING(n, o, key_file, "ClusterKeyFile=");
        KEEP_NUMBER(n, o, join, "Join=");
        KEEP_NUMBER(n, o, snapshot_entries, "SnapshotEntries=");
        KEEP_NUMBER(n, o, snapshot_trailing, "SnapshotTrailingEntries=");
        KEEP_NUMBER(n, o, heartbeat_ms, "HeartbeatSec=");
        KEEP_NUMBER(n, o, election_ms, "ElectionSec=");
        KEEP_NUMBER(n, o, request_timeout_ms, "RequestSec=");
        KEEP_NUMBER(n, o, session_ttl_ms, "SessionTTLSec=");
        KEEP_STRING(n, o, bus_address, "[Bus] Address=");
        KEEP_NUMBER(n, o, user_bus, "UserBus=");
        if (!peers_equal(n, o))
                /* Not an error: [Peers] only seeds a new cluster; members
                 * change through the Cluster API. */
                log_sink(&m->log_sink, LOG_NOTICE,
                         _("[Peers] changed: it only seeds a new cluster; change members with raftctl members"));
}

static void notify_reloading(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        /* MONOTONIC_USEC: what Type=notify-reload (systemd 253+) expects. */
        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                          (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000);
}

int manager_reload(struct manager *m) {
        _cleanup_free_ char *path = daemon_args_config_path(m->args);
        struct daemon_config n, old;
        int r;

        notify_reloading();
        log_sink(&m->log_sink, LOG_INFO, _("Reloading the configuration from %s"), path ?: "?");
        r = daemon_config_read(&n, m->args, &m->log_sink);
        if (r < 0) {
                log_sink_errno(&m->log_sink, LOG_ERR, r,
                               _("Failed to reload the configuration, keeping the running one: %m"));
                goto done;
        }
        keep_fixed(m, &n, &m->config);
        r = raftd_node_set_limits(m->node, n.max_key_len, n.max_value_size);
        if (r < 0) {
                log_sink_errno(&m->log_sink, LOG_ERR, r, _("Failed to apply the new limits, keeping the running one: %m"));
                n.max_key_len = m->config.max_key_len;
                n.max_value_size = m->config.max_value_size;
        }
        n.no_bus = m->config.no_bus;
        old = m->config;
        m->config = n;
        daemon_config_done(&old);
        m->log.max_level = m->config.log_level;
        r = daemon_bus_reload(m);
        if (r < 0)
                log_sink_errno(&m->log_sink, LOG_ERR, r, _("Failed to apply the new access lists: %m"));
        log_sink(&m->log_sink, LOG_INFO,
                 _("Reloaded: MaxKeyLength=%" PRIu64 " MaxValueSize=%" PRIu64 " LogLevel=%s, access lists updated"),
                 m->config.max_key_len, m->config.max_value_size, log_level_to_string(m->config.log_level));
done:
        /* READY=1 ends the reload for the service manager; before the node
         * was first ready it waits for that. */
        if (m->ready_sent)
                (void) sd_notify(false, "READY=1");
        return r;
}
