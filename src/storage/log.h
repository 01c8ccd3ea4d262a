/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The durable Raft log: append-only segment files in one directory.
 *
 * Group commit: storage_log_append() buffers records (and may write them),
 * storage_log_sync() writes what is buffered and issues ONE fdatasync that
 * covers every append since the previous sync.  Only after sync returns 0
 * are the appended entries durable.  After a failed write or sync the log
 * refuses all further work (-EIO): the kernel may have dropped the dirty
 * pages, so retrying the fsync could report success for lost data.
 *
 * The same fdatasync can run on the log's own sync thread instead
 * (storage_log_sync_start()/storage_log_sync_collect()): the caller keeps
 * appending while it runs, and the next sync covers what was appended
 * meanwhile.  At most one sync is in flight.
 *
 * Not thread-safe: one thread calls every function here (the sync thread
 * only runs fdatasync on a descriptor of its own); one process owns the
 * directory (the caller locks it). */

#include <stddef.h>

#include "raft/raft.h"
#include "shared/log.h"

/* Largest entry payload accepted; bigger entries are refused with -EMSGSIZE
 * before anything changes. */
#define STORAGE_LOG_ENTRY_MAX (16U << 20)
#define STORAGE_LOG_SEGMENT_SIZE_DEFAULT (8U << 20)

struct storage_log_options {
        /* A segment is closed once its records reach this size (a single
         * bigger record still gets a segment of its own). */
        size_t segment_size;
        const struct log_sink *log; /* may be NULL */
        /* Called on the sync thread when a background sync finished (may be
         * NULL): it may only wake the caller's thread (ev_async_send()),
         * which then calls storage_log_sync_collect(). */
        void (*sync_notify)(void *userdata);
        void *sync_userdata;
};

struct storage_log;

/* Open (creating the directory if missing) and load every entry, in order,
 * into a newly allocated array (free with storage_entries_free()).  A torn
 * record at the tail is cut off with a warning; damage elsewhere fails with
 * -EBADMSG and an error naming file and offset. */
int storage_log_open(const char *dir, const struct storage_log_options *o, struct storage_log **ret,
                     struct raft_entry **ret_entries, size_t *ret_n);
/* Does not sync: anything appended since the last sync may be lost. */
struct storage_log *storage_log_close(struct storage_log *l);

/* Entries must have consecutive indexes and non-decreasing terms.  They
 * replace every entry at an index >= entries[0].index.  On an empty log any
 * first index is accepted; otherwise entries[0].index must lie in
 * [first, last + 1].  Invalid input returns -EINVAL/-ERANGE/-EMSGSIZE with
 * nothing changed. */
int storage_log_append(struct storage_log *l, const struct raft_entry *entries, size_t n);
/* Synchronous: waits for a background sync in flight, then syncs. */
int storage_log_sync(struct storage_log *l);

/* Write what is buffered and start its fdatasync on the sync thread.
 * Returns 1 if started, 0 if nothing was appended since the last sync
 * started (everything collected so far is durable), -EBUSY while a sync is
 * in flight (not yet collected). */
int storage_log_sync_start(struct storage_log *l);
bool storage_log_sync_busy(const struct storage_log *l);
/* Collect the background sync: 0 if it still runs and !wait, -ENOENT if
 * none was started; 1 when it returned successfully, with the last entry it
 * made durable in *ret_index and *ret_term (*ret_index 0: every entry it
 * covered was truncated or reset since).  A failed sync fails the log like
 * a failed storage_log_sync(): -EIO from then on. */
int storage_log_sync_collect(struct storage_log *l, bool wait, raft_index *ret_index, raft_term *ret_term);

/* Drop whole segments whose entries all lie at or below index (after a
 * snapshot at index).  The segment being appended to is kept. */
int storage_log_compact(struct storage_log *l, raft_index index);
/* Drop every entry (after installing a received snapshot).  Durable on
 * return. */
int storage_log_reset(struct storage_log *l);

/* After opening, make the log agree with the newest snapshot: a crash
 * between installing a received snapshot and storage_log_reset() leaves
 * the old log behind.  The log is kept if it holds the snapshot's last
 * entry with the snapshot's term (Log Matching: it agrees with the
 * snapshot) or starts right after it; otherwise it is reset.  Returns 0 if
 * kept, 1 if reset (drop the entries storage_log_open() returned), -EBADMSG
 * if the log starts beyond meta->index + 1: entries nobody can restore are
 * missing. */
int storage_log_fit_snapshot(struct storage_log *l, const struct raft_snapshot_meta *meta);

raft_index storage_log_first_index(const struct storage_log *l); /* 0 if empty */
raft_index storage_log_last_index(const struct storage_log *l);  /* 0 if empty */
/* -ENOENT if index is not in the log. */
int storage_log_term_at(const struct storage_log *l, raft_index index, raft_term *ret);
/* Segment files currently holding entries (for tests and status). */
size_t storage_log_n_segments(const struct storage_log *l);

void storage_entries_free(struct raft_entry *entries, size_t n);
