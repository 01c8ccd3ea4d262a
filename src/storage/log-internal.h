/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by log.c (appending) and log-load.c (opening and recovery). */

#include <inttypes.h>
#include <stdbool.h>

#include "storage/log.h"

#define SEGMENT_NAME_FMT "log-%016" PRIx64
#define SEGMENT_NAME_MAX 32
#define SEGMENT_PREPARE_TMP ".log-prepare.tmp"
/* Buffered records are written out once this much is pending, so a large
 * batch does not hold its whole encoding in memory. */
#define WRITE_BUFFER_FLUSH (1U << 20)

struct record_pos {
        uint64_t offset;
        raft_term term;
};

struct segment {
        uint64_t seq;
        raft_index first; /* index of records[0]; meaningless while n == 0 */
        struct record_pos *records;
        size_t n, cap;
        uint64_t end; /* offset after the last record, buffered ones included */
};

struct storage_log {
        int dirfd;
        char *dir;
        size_t segment_size;
        const struct log_sink *log;

        struct segment *segs; /* ascending seq; the last one is appended to */
        size_t n_segs, cap_segs;
        uint64_t next_seq;
        int active_fd; /* segs[n_segs - 1], or -1 */

        /* Created, preallocated and fsynced ahead of rollover. */
        int prepared_fd;
        uint64_t prepared_seq;

        uint8_t *buf; /* encoded records not yet written to active_fd */
        size_t buf_len, buf_cap;
        uint64_t buf_off; /* file offset of buf[0] */

        raft_index batch_first; /* 0: nothing appended since the last sync started */
        bool active_dirty;
        int failed;

        /* The sync in flight on the sync thread (started, not collected). */
        struct log_syncer *syncer; /* created by the first background sync */
        void (*sync_notify)(void *userdata);
        void *sync_userdata;
        bool sync_busy;
        int sync_fd;           /* the segment it syncs */
        bool sync_fd_orphaned; /* no longer active_fd: close once collected */
        raft_index sync_first; /* its batch's lowest index */
        raft_index sync_index; /* the last entry it covers */
        /* Lowest index truncated or reset since it started (UINT64_MAX:
         * none): entries from there on are not the ones it synced. */
        raft_index sync_floor;
};

void segment_name(uint64_t seq, char name[static SEGMENT_NAME_MAX]);
raft_index segment_last(const struct segment *s);
int segment_push_record(struct segment *s, raft_index index, raft_term term, uint64_t offset);
struct segment *log_push_segment(struct storage_log *l, uint64_t seq, uint64_t end);
