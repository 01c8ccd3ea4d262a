/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stand-in for the D-Bus front end until src/bus/ is merged: see
 * daemon-bus.h for what replaces it. */
#include <errno.h>

#include "daemon/daemon-bus.h"
#include "daemon/daemon.h"
#include "shared/macro.h"

int daemon_bus_start(struct manager *m) {
        if (m->config.no_bus)
                return 0;
        return log_sink_errno(&m->log_sink, LOG_ERR, EOPNOTSUPP,
                              _("This raftd was built without the D-Bus front end: run it with --no-bus"));
}

int daemon_bus_reload(struct manager *m) {
        return 0;
}

void daemon_bus_stop(struct manager *m) {
}
