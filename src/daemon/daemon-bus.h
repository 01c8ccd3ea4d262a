/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The seam between the daemon and the D-Bus front end (src/bus/),
 * implemented in daemon-bus.c.  All three do nothing with --no-bus. */

struct manager;

/* Called once the node has started; the bus connects and takes its name. */
int daemon_bus_start(struct manager *m);
/* Called after a reload applied new access lists to m->config. */
int daemon_bus_reload(struct manager *m);
void daemon_bus_stop(struct manager *m);
