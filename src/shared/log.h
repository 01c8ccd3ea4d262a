/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Libraries below the daemon never write to stderr or the journal
 * themselves: they report through a sink the caller supplies (the daemon
 * forwards to the journal, tests capture the lines).  Priorities are
 * syslog's (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */

#include <stdarg.h>
#include <syslog.h>

struct log_sink {
        void (*write)(void *userdata, int priority, const char *message);
        void *userdata;
};

/* Format and hand a line to the sink; a NULL sink or NULL write drops it.
 * Returns -err so call sites can "return log_sink_errno(...)". */
__attribute__((format(printf, 4, 5))) int log_sink_errno(const struct log_sink *s, int priority,
                                                         int err, const char *fmt, ...);
#define log_sink(s, prio, ...) ((void) log_sink_errno((s), (prio), 0, __VA_ARGS__))
