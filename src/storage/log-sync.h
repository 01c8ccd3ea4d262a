/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The log's sync thread: runs one fdatasync at a time off the caller's
 * thread and reports its end through a callback, so an event loop keeps
 * receiving and appending while the disk flushes.
 *
 * The caller keeps the descriptor open until it collected the result (the
 * log defers closing a segment whose sync runs), so the thread never syncs
 * a number that was reused for another file.  The thread touches nothing
 * but this object and the descriptor, so a fork()ed child (which has no
 * such thread) never needs its lock. */

#include <stdbool.h>

struct log_syncer;

/* notify (may be NULL) is called on the sync thread after every job, with
 * this object's lock held: it may only wake the owner (ev_async_send(), a
 * write to an eventfd), never call back into the log. */
int log_syncer_new(void (*notify)(void *userdata), void *userdata, struct log_syncer **ret);
/* Waits for the job in flight (its result is dropped) and joins the thread. */
struct log_syncer *log_syncer_free(struct log_syncer *s);

/* Starts fdatasync(fd); fd must stay open until collected.  -EBUSY if a
 * job is in flight or its result was not collected. */
int log_syncer_submit(struct log_syncer *s, int fd);
/* The finished job's result (0 or -errno from fdatasync) in *ret_error;
 * returns 1 once collected, 0 if it is still running and !wait, -ENOENT if
 * no job was submitted since the last collection. */
int log_syncer_collect(struct log_syncer *s, bool wait, int *ret_error);
