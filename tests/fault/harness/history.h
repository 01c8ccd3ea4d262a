/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One client's part of a fault-suite history (format v1, see
 * docs/fault-testing.md): "<t_ns> <process> <type> <f> [args...]" lines on
 * CLOCK_MONOTONIC.  Every client writes a file of its own; the orchestrator
 * merges them by time.  A process id that saw an "unknown" completion is
 * never used again: the client continues under id + stride. */

#include <stdint.h>

struct history {
        int fd;
        uint64_t process;
        uint64_t stride;
};

uint64_t monotonic_ns(void);

/* Opens (creates, appends to) path.  Returns 0 or a negative errno. */
int history_open(struct history *h, const char *path, uint64_t process, uint64_t stride);
void history_close(struct history *h);

/* One line "<now> <process> <type> <rest>\n" written with one write(). */
int history_log(struct history *h, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A comment line "# <rest>". */
int history_comment(struct history *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After an unknown completion: continue as a fresh process. */
void history_next_process(struct history *h);
