/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Snapshot files.  A snapshot is one file, snapshot-<index>-<term> (hex),
 * made of a header carrying the struct raft_snapshot_meta, the data length
 * and the CRC32C of the data, itself protected by a CRC32C, followed by the
 * state machine's data.  The whole file, header included, is what travels
 * in RAFT_MSG_SNAPSHOT chunks, so a receiver verifies exactly what the
 * sender wrote.  See docs/storage-format.md. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "raft/raft.h"
#include "shared/log.h"

struct storage_snapshots;        /* the snapshot directory */
struct storage_snapshot;         /* an open, verified snapshot */
struct storage_snapshot_writer;  /* a local snapshot being written */

int storage_snapshots_open(const char *dir, const struct log_sink *log, struct storage_snapshots **ret);
struct storage_snapshots *storage_snapshots_close(struct storage_snapshots *s);

/* Write a snapshot of the local state machine: begin, write the data in any
 * number of pieces, commit.  Commit writes a temporary file, fsyncs it,
 * renames it into place, fsyncs the directory and then removes older
 * snapshots and transfers of snapshots it covers (a transfer of a newer one
 * stays).  If a newer snapshot was installed meanwhile (received while this
 * one was written, by another process on the same directory), this one is
 * discarded and commit returns -ESTALE.  Freeing an uncommitted writer
 * discards it. */
int storage_snapshot_writer_begin(struct storage_snapshots *s, const struct raft_snapshot_meta *meta,
                                  struct storage_snapshot_writer **ret);
int storage_snapshot_writer_write(struct storage_snapshot_writer *w, const void *data, size_t len);
int storage_snapshot_writer_commit(struct storage_snapshot_writer *w);
struct storage_snapshot_writer *storage_snapshot_writer_free(struct storage_snapshot_writer *w);

/* Open the newest snapshot and verify both checksums.  -ENOENT if there is
 * none; -EBADMSG (with an error naming the file) if it is damaged. */
int storage_snapshot_open_latest(struct storage_snapshots *s, struct storage_snapshot **ret);
struct storage_snapshot *storage_snapshot_close(struct storage_snapshot *snap);
const struct raft_snapshot_meta *storage_snapshot_meta(const struct storage_snapshot *snap);
uint64_t storage_snapshot_data_size(const struct storage_snapshot *snap);
/* Read the state machine's data (offsets relative to the data). */
ssize_t storage_snapshot_read_data(const struct storage_snapshot *snap, uint64_t offset, void *buf, size_t len);
/* Sender side: the bytes of the snapshot file at offset, at most max; done
 * is set when the chunk reaches the end of the file. */
ssize_t storage_snapshot_read_chunk(const struct storage_snapshot *snap, uint64_t offset, void *buf, size_t max,
                                    bool *ret_done);

/* Receiver side: write one chunk at its offset into the partial file of the
 * snapshot it names (a transfer of another snapshot is dropped).  Returns
 * in *ret_next_offset how many bytes are held, where the sender resumes;
 * -ERANGE if the chunk starts beyond that.  When the chunk is marked done,
 * the file is verified (sizes, header against chunk meta, both checksums)
 * and only then installed as the newest snapshot (*ret_installed), as a
 * local snapshot is (-ESTALE if a newer one is there); a truncated or
 * corrupted transfer is removed and refused with -EBADMSG. */
int storage_snapshots_receive(struct storage_snapshots *s, const struct raft_snapshot_chunk *chunk,
                              uint64_t *ret_next_offset, bool *ret_installed);
