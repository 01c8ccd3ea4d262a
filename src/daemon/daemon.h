/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The manager: owns the loop's watchers, the node, the bus and the
 * configuration of one raftd process, and speaks sd_notify to the service
 * manager (READY, STATUS, WATCHDOG, RELOADING, STOPPING). */

#include <ev.h>
#include <stdbool.h>

#include "daemon/args.h"
#include "daemon/config.h"
#include "daemon/daemon-log.h"
#include "raftd.h"

/* Exit statuses of raftd (documented in --help and raftd(8)). */
enum {
        DAEMON_EXIT_OK = 0,
        DAEMON_EXIT_CONFIG = 1,  /* bad configuration or command line */
        DAEMON_EXIT_START = 2,   /* the node could not start (storage, listen, key, bus) */
        DAEMON_EXIT_RUNTIME = 3, /* failed while running (storage, bus) */
};

/* STATUS= lines for changes of the commit index alone go out at most this
 * often; a role, term or leader change goes out at once. */
#define DAEMON_STATUS_INTERVAL_S 1.0

struct manager {
        struct ev_loop *loop;
        const struct daemon_args *args; /* kept: a reload re-applies them */
        struct daemon_config config;
        struct daemon_log log;
        struct log_sink log_sink;

        struct raftd_node *node;
        void *bus; /* the D-Bus front end, see daemon-bus.h */

        ev_signal sigterm;
        ev_signal sigint;
        ev_signal sighup;
        ev_timer watchdog;
        ev_timer status_timer;

        uint64_t watchdog_usec; /* 0: no watchdog */
        struct raftd_status last_status;
        bool status_sent;
        bool status_dirty;
        bool ready_sent;
        bool stopping;
        bool failure_logged;
        int exit_code;
};

/* Reads the configuration; -EINVAL (logged) when it is bad. */
int manager_new(struct ev_loop *loop, const struct daemon_args *args, struct manager **ret);
/* Creates and starts the node and the bus, installs signal handlers. */
int manager_start(struct manager *m);
/* Runs until stopped; returns the exit status. */
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);

/* SIGHUP: re-read the configuration and apply what may change at runtime. */
int manager_reload(struct manager *m);

/* The node's status hook (the bus takes it over and forwards to it). */
void manager_on_node_status(void *userdata, const struct raftd_status *s);

/* sd_notify side, daemon-notify.c. */
void manager_notify_status(struct manager *m, const struct raftd_status *s, bool force);
void manager_watchdog_setup(struct manager *m);
/* The node failed: logs why (once), says so in STATUS= and sets the exit
 * status to DAEMON_EXIT_RUNTIME. */
bool manager_node_failed(struct manager *m);
