/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The seam between the daemon and the D-Bus front end (src/bus/, written on
 * the `bus` branch).
 *
 * INTEGRATION POINT: daemon-bus-stub.c implements these three while
 * src/bus/ is absent.  The integrator replaces it with a daemon-bus.c that
 * fills the bus's options from m->config (bus_address/user_bus and the
 * four access lists) and calls
 *     bus_new(m->loop, m->node, &bus_options, &m->log_sink, &m->bus)
 * in daemon_bus_start(), the bus's reload hook for the access lists in
 * daemon_bus_reload(), and bus_free(m->bus) in daemon_bus_stop().
 * All three do nothing when m->config.no_bus is set (--no-bus). */

struct manager;

/* Called once the node has started; the bus connects and takes its name. */
int daemon_bus_start(struct manager *m);
/* Called after a reload applied new access lists to m->config. */
int daemon_bus_reload(struct manager *m);
void daemon_bus_stop(struct manager *m);
