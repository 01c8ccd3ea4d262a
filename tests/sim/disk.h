/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A node's simulated disk.  Writes requested by an update are queued and
 * become durable one by one, in order, when the simulator says so; a crash
 * forgets every write not yet durable.  Messages that must wait for
 * persistence (after_persist) ride on the newest queued write and are
 * handed back when it completes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define DISK_SNAPSHOT_MAX 4096

struct disk_write {
        uint64_t done_at;
        bool has_hard_state;
        struct raft_hard_state hard_state;
        struct raft_entry *entries;
        unsigned n_entries;
        bool has_chunk;
        struct raft_snapshot_chunk chunk; /* data owned */
        struct raft_message **held;
        unsigned n_held;
};

struct disk {
        /* Durable. */
        struct raft_hard_state hard_state;
        struct raft_entry *log; /* contiguous, data owned */
        size_t n_log, cap_log;
        bool has_snapshot;
        struct raft_snapshot_meta snapshot_meta;
        uint8_t snapshot[DISK_SNAPSHOT_MAX];
        size_t snapshot_len;
        /* A snapshot being received in chunks. */
        bool has_partial;
        struct raft_snapshot_meta partial_meta;
        uint8_t partial[DISK_SNAPSHOT_MAX];
        size_t partial_len;

        /* Queued, oldest first. */
        struct disk_write *pending;
        size_t n_pending, cap_pending;
};

void disk_init(struct disk *d);
void disk_done(struct disk *d);

/* Queue what u asks to persist (hard state, entries, snapshot chunk), to
 * complete at done_at.  Returns 1 if something was queued, 0 if u persists
 * nothing. */
int disk_queue(struct disk *d, const struct raft_update *u, uint64_t done_at);
/* Attach a copy of m to the newest queued write.  -ENOENT: nothing is
 * queued, m may go at once. */
int disk_hold(struct disk *d, const struct raft_message *m);
uint64_t disk_last_done_at(const struct disk *d);

/* Make the oldest queued write durable.  *ret receives it with its held
 * messages (the caller frees them and calls disk_write_free()).
 * -EILSEQ: the write does not fit the durable log (a gap). */
int disk_complete(struct disk *d, struct disk_write *ret);
void disk_write_free(struct disk_write *w);
/* Forget every queued write and the messages held by them. */
void disk_crash(struct disk *d);

/* A snapshot the node took itself, durable at once; keeps `trailing`
 * entries at and below meta->index. */
int disk_save_snapshot(struct disk *d, const struct raft_snapshot_meta *meta, const void *image, size_t len,
                       raft_index trailing);

/* The last durable entry (or the snapshot's, if the log is empty). */
raft_index disk_last_index(const struct disk *d);
raft_term disk_last_term(const struct disk *d);
