/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's D-Bus front end (src/bus/): options from the configuration,
 * the access lists on reload, and an exit when the bus goes away (the
 * service manager restarts raftd and it reconnects). */
#include <errno.h>

#include "bus/bus.h"
#include "daemon/daemon-bus.h"
#include "daemon/daemon.h"
#include "shared/macro.h"

static void acl_from_users(struct bus_acl *acl, const struct daemon_users *u) {
        *acl = (struct bus_acl) { .uids = u->uids, .n_uids = u->n, .everyone = u->everyone };
}

static void config_acl(const struct daemon_config *c, struct bus_acl acl[_BUS_ACCESS_MAX]) {
        acl_from_users(&acl[BUS_ACCESS_READ], &c->read_users);
        acl_from_users(&acl[BUS_ACCESS_WRITE], &c->write_users);
        acl_from_users(&acl[BUS_ACCESS_LOCK], &c->lock_users);
        acl_from_users(&acl[BUS_ACCESS_ADMIN], &c->admin_users);
}

static void on_disconnected(void *userdata) {
        struct manager *m = userdata;

        log_sink(&m->log_sink, LOG_ERR, _("Lost the connection to the bus, exiting so the service manager restarts raftd."));
        m->exit_code = DAEMON_EXIT_RUNTIME;
        ev_break(m->loop, EVBREAK_ALL);
}

int daemon_bus_start(struct manager *m) {
        struct bus_options o = {
                .address = m->config.bus_address,
                .user_bus = m->config.user_bus,
                .max_key_len = m->config.max_key_len,
                .max_value_size = m->config.max_value_size,
                .status_changed = manager_on_node_status,
                .disconnected = on_disconnected,
                .userdata = m,
        };
        struct bus *b = NULL;
        int r;

        if (m->config.no_bus)
                return 0;
        config_acl(&m->config, o.acl);
        r = bus_new(m->loop, m->node, &o, &m->log_sink, &b);
        if (r < 0)
                return log_sink_errno(&m->log_sink, LOG_ERR, r,
                                      r == -EEXIST ? _("Another process owns the bus name org.raftd1: %m")
                                                   : _("Failed to connect to the bus: %m"));
        m->bus = b;
        return 0;
}

int daemon_bus_reload(struct manager *m) {
        struct bus_acl acl[_BUS_ACCESS_MAX];

        if (!m->bus)
                return 0;
        /* The bus checks arguments before the node does: without its copy
         * of the limits, a raised limit would still be refused there. */
        bus_set_limits(m->bus, m->config.max_key_len, m->config.max_value_size);
        config_acl(&m->config, acl);
        return bus_set_acl(m->bus, acl);
}

void daemon_bus_stop(struct manager *m) {
        m->bus = bus_free(m->bus);
}
