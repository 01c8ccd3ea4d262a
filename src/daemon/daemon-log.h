/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's log: every line goes to stderr.  When stderr is connected to
 * the journal ($JOURNAL_STREAM names it, as systemd sets it for
 * StandardError=journal), each line starts with sd-daemon's "<N>" priority
 * prefix so the journal records the priority; otherwise lines are plain.
 * Lines above max_level (less important) are dropped. */

#include <stdbool.h>

#include "shared/log.h"

struct daemon_log {
        int max_level;
        bool journal;
        int fd;
};

void daemon_log_init(struct daemon_log *l, int fd, int max_level);
void daemon_log_write(void *userdata, int priority, const char *message);

static inline struct log_sink daemon_log_sink(struct daemon_log *l) {
        return (struct log_sink) { .write = daemon_log_write, .userdata = l };
}
