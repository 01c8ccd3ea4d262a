/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The segmented Raft log; the format is in record.h and
 * docs/storage-format.md, the durability argument in the latter. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/macro.h"
#include "storage/crc32c.h"
#include "storage/fs-util.h"
#include "storage/log-internal.h"
#include "storage/log-sync.h"
#include "storage/record.h"

void segment_name(uint64_t seq, char name[static SEGMENT_NAME_MAX]) {
        (void) snprintf(name, SEGMENT_NAME_MAX, SEGMENT_NAME_FMT, seq);
}

raft_index segment_last(const struct segment *s) {
        return s->n > 0 ? s->first + s->n - 1 : 0;
}

int segment_push_record(struct segment *s, raft_index index, raft_term term, uint64_t offset) {
        if (s->n == s->cap) {
                size_t cap = MAX(s->cap * 2, (size_t) 64);
                struct record_pos *p = reallocarray(s->records, cap, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                s->records = p;
                s->cap = cap;
        }
        if (s->n == 0)
                s->first = index;
        s->records[s->n++] = (struct record_pos) { offset, term };
        return 0;
}

struct segment *log_push_segment(struct storage_log *l, uint64_t seq, uint64_t end) {
        if (l->n_segs == l->cap_segs) {
                size_t cap = MAX(l->cap_segs * 2, (size_t) 8);
                struct segment *p = reallocarray(l->segs, cap, sizeof(*p));

                if (!p)
                        return NULL;
                l->segs = p;
                l->cap_segs = cap;
        }
        l->segs[l->n_segs] = (struct segment) { .seq = seq, .end = end };
        if (seq >= l->next_seq)
                l->next_seq = seq + 1;
        return &l->segs[l->n_segs++];
}

raft_index storage_log_first_index(const struct storage_log *l) {
        for (size_t i = 0; i < l->n_segs; i++)
                if (l->segs[i].n > 0)
                        return l->segs[i].first;
        return 0;
}

raft_index storage_log_last_index(const struct storage_log *l) {
        for (size_t i = l->n_segs; i > 0; i--)
                if (l->segs[i - 1].n > 0)
                        return segment_last(&l->segs[i - 1]);
        return 0;
}

static struct segment *log_find(const struct storage_log *l, raft_index index) {
        for (size_t i = l->n_segs; i > 0; i--) {
                struct segment *s = &l->segs[i - 1];

                if (s->n > 0 && index >= s->first && index <= segment_last(s))
                        return s;
        }
        return NULL;
}

int storage_log_term_at(const struct storage_log *l, raft_index index, raft_term *ret) {
        const struct segment *s = log_find(l, index);

        if (!s)
                return -ENOENT;
        *ret = s->records[index - s->first].term;
        return 0;
}

size_t storage_log_n_segments(const struct storage_log *l) {
        size_t n = 0;

        for (size_t i = 0; i < l->n_segs; i++)
                n += l->segs[i].n > 0;
        return n;
}

void storage_entries_free(struct raft_entry *entries, size_t n) {
        if (!entries)
                return;
        for (size_t i = 0; i < n; i++)
                free(entries[i].data.base);
        free(entries);
}

/* Create segment seq under a temporary name, preallocate it and make it
 * durable, then rename it into place: a crash never leaves a segment file
 * without a valid header. */
static int log_create_segment(struct storage_log *l, uint64_t seq, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        uint8_t header[LOG_SEGMENT_HEADER_SIZE];
        char name[SEGMENT_NAME_MAX];
        int r;

        segment_name(seq, name);
        fd = openat(l->dirfd, SEGMENT_PREPARE_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s: cannot create log segment: %m"), l->dir);
        log_segment_header_encode(seq, header);
        r = pwrite_all(fd, header, sizeof(header), 0);
        /* Preallocation spares each later fdatasync the block allocation;
         * file systems without fallocate simply grow the file. */
        if (r >= 0 && l->segment_size > sizeof(header) &&
            fallocate(fd, 0, sizeof(header), (off_t) (l->segment_size - sizeof(header))) < 0 &&
            errno != EOPNOTSUPP)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(l->dirfd, SEGMENT_PREPARE_TMP, l->dirfd, name) < 0)
                r = -errno;
        if (r >= 0)
                r = fsync_dir_fd(l->dirfd);
        if (r < 0) {
                (void) unlinkat(l->dirfd, SEGMENT_PREPARE_TMP, 0);
                return log_sink_errno(l->log, LOG_ERR, r, _("%s/%s: cannot prepare log segment: %m"), l->dir,
                                      name);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int log_open_new_active(struct storage_log *l) {
        uint64_t seq;
        int fd, r;

        if (l->prepared_fd >= 0) {
                fd = TAKE_FD(l->prepared_fd);
                seq = l->prepared_seq;
        } else {
                seq = l->next_seq;
                r = log_create_segment(l, seq, &fd);
                if (r < 0)
                        return r;
        }
        if (!log_push_segment(l, seq, LOG_SEGMENT_HEADER_SIZE)) {
                (void) close(fd);
                return -ENOMEM;
        }
        l->active_fd = fd;
        l->buf_off = LOG_SEGMENT_HEADER_SIZE;
        l->buf_len = 0;
        return 0;
}

/* The sync thread works on the segment's own descriptor: while its sync
 * runs, the descriptor stays open (its number cannot be reused for another
 * file) and is closed when the sync is collected. */
static void log_close_active(struct storage_log *l) {
        int fd = TAKE_FD(l->active_fd);

        if (l->sync_busy && fd == l->sync_fd)
                l->sync_fd_orphaned = true;
        else
                (void) close(fd);
}

static int log_flush_buffer(struct storage_log *l) {
        int r;

        if (l->buf_len == 0)
                return 0;
        r = pwrite_all(l->active_fd, l->buf, l->buf_len, l->buf_off);
        if (r < 0)
                return log_sink_errno(l->log, LOG_ERR, r, _("%s: cannot write log segment: %m"), l->dir);
        l->buf_off += l->buf_len;
        l->buf_len = 0;
        return 0;
}

static int log_datasync_active(struct storage_log *l) {
        if (fdatasync(l->active_fd) < 0)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s: cannot sync log segment: %m"), l->dir);
        return 0;
}

/* The active segment is full: make its records durable now (they belong to
 * the batch the next sync confirms) and continue in the prepared one. */
static int log_rollover(struct storage_log *l) {
        int r;

        r = log_flush_buffer(l);
        if (r < 0)
                return r;
        r = log_datasync_active(l);
        if (r < 0)
                return r;
        log_close_active(l);
        return log_open_new_active(l);
}

static int log_buffer_reserve(struct storage_log *l, size_t extra) {
        size_t need = l->buf_len + extra;

        if (need > l->buf_cap) {
                size_t cap = MAX(need, l->buf_cap * 2);
                uint8_t *p = realloc(l->buf, cap);

                if (!p)
                        return -ENOMEM;
                l->buf = p;
                l->buf_cap = cap;
        }
        return 0;
}

/* The lowest index not yet known durable: a record written while a sync is
 * in flight must not claim that sync's batch was complete (the loader takes
 * a record of a later batch as proof that earlier damage was synced). */
static raft_index log_unsynced_first(const struct storage_log *l) {
        if (l->sync_busy && l->sync_first > 0 && l->sync_first < l->batch_first)
                return l->sync_first;
        return l->batch_first;
}

static int log_append_one(struct storage_log *l, const struct raft_entry *e) {
        uint64_t size = log_record_size(e->data.len);
        struct log_record_header h;
        struct segment *s;
        uint8_t *p;
        int r;

        if (l->active_fd < 0) {
                r = log_open_new_active(l);
                if (r < 0)
                        return r;
        }
        s = &l->segs[l->n_segs - 1];
        if (s->n > 0 && s->end + size > l->segment_size) {
                r = log_rollover(l);
                if (r < 0)
                        return r;
                s = &l->segs[l->n_segs - 1];
        }

        r = log_buffer_reserve(l, size);
        if (r < 0)
                return r;
        r = segment_push_record(s, e->index, e->term, s->end);
        if (r < 0)
                return r;

        h = (struct log_record_header) {
                .data_crc = crc32c(e->data.base, e->data.len),
                .index = e->index,
                .term = e->term,
                .batch_first = log_unsynced_first(l),
                .data_len = (uint32_t) e->data.len,
                .type = e->type,
        };
        p = l->buf + l->buf_len;
        log_record_header_encode(&h, p);
        if (e->data.len > 0)
                memcpy(p + LOG_RECORD_HEADER_SIZE, e->data.base, e->data.len);
        memset(p + LOG_RECORD_HEADER_SIZE + e->data.len, 0, size - LOG_RECORD_HEADER_SIZE - e->data.len);
        l->buf_len += size;
        s->end += size;
        l->active_dirty = true;

        if (l->buf_len >= WRITE_BUFFER_FLUSH)
                return log_flush_buffer(l);
        return 0;
}

static int log_unlink_segment(struct storage_log *l, const struct segment *s) {
        char name[SEGMENT_NAME_MAX];

        segment_name(s->seq, name);
        if (unlinkat(l->dirfd, name, 0) < 0 && errno != ENOENT)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot remove log segment: %m"), l->dir,
                                      name);
        return 0;
}

/* Remove the newest segments down to (excluding) index keep: newest first,
 * so a crash in between leaves a contiguous prefix of the log. */
static int log_drop_segments_after(struct storage_log *l, size_t keep) {
        bool removed = false;
        int r;

        while (l->n_segs > keep) {
                struct segment *s = &l->segs[l->n_segs - 1];

                if (l->active_fd >= 0) {
                        log_close_active(l);
                        l->buf_len = 0;
                }
                r = log_unlink_segment(l, s);
                if (r < 0)
                        return r;
                free(s->records);
                l->n_segs--;
                removed = true;
        }
        if (removed) {
                r = fsync_dir_fd(l->dirfd);
                if (r < 0)
                        return log_sink_errno(l->log, LOG_ERR, r, _("%s: cannot sync log directory: %m"), l->dir);
        }
        return 0;
}

/* Remove every entry at index >= from.  The cut is made durable at once so
 * a crash never mixes records of the old suffix with the new one. */
static int log_truncate_from(struct storage_log *l, raft_index from) {
        char name[SEGMENT_NAME_MAX];
        struct segment *s = log_find(l, from);
        uint64_t off;
        int r;

        if (!s)
                return -ERANGE;
        if (l->sync_busy)
                l->sync_floor = MIN(l->sync_floor, from);
        r = log_drop_segments_after(l, (size_t) (s - l->segs) + 1);
        if (r < 0)
                return r;
        if (l->active_fd < 0) {
                segment_name(s->seq, name);
                l->active_fd = openat(l->dirfd, name, O_RDWR | O_CLOEXEC);
                if (l->active_fd < 0)
                        return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot open log segment: %m"),
                                              l->dir, name);
                l->buf_off = s->end;
                l->buf_len = 0;
        }

        off = s->records[from - s->first].offset;
        if (off >= l->buf_off)
                l->buf_len = off - l->buf_off; /* the cut suffix was never written */
        else {
                l->buf_len = 0;
                l->buf_off = off;
                if (ftruncate(l->active_fd, (off_t) off) < 0)
                        return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot truncate log segment: %m"),
                                              l->dir, (segment_name(s->seq, name), name));
                if (l->segment_size > off)
                        (void) fallocate(l->active_fd, 0, (off_t) off, (off_t) (l->segment_size - off));
                r = log_datasync_active(l);
                if (r < 0)
                        return r;
        }
        s->n = from - s->first;
        s->end = off;
        l->active_dirty = true;
        return 0;
}

static int log_validate(const struct storage_log *l, const struct raft_entry *e, size_t n) {
        raft_index first = storage_log_first_index(l), last = storage_log_last_index(l);
        raft_term prev_term;

        for (size_t i = 0; i < n; i++) {
                if (e[i].data.len > STORAGE_LOG_ENTRY_MAX)
                        return -EMSGSIZE;
                if (e[i].type < RAFT_ENTRY_NORMAL || e[i].type > RAFT_ENTRY_CONFIG || e[i].term == 0 ||
                    (e[i].data.len > 0 && !e[i].data.base))
                        return -EINVAL;
                if (i > 0 && (e[i].index != e[0].index + i || e[i].term < e[i - 1].term))
                        return -EINVAL;
        }
        if (e[0].index == 0)
                return -EINVAL;
        if (last == 0)
                return 0;
        if (e[0].index < first || e[0].index > last + 1)
                return -ERANGE;
        if (e[0].index > first && storage_log_term_at(l, e[0].index - 1, &prev_term) >= 0 &&
            prev_term > e[0].term)
                return -EINVAL;
        return 0;
}

int storage_log_append(struct storage_log *l, const struct raft_entry *entries, size_t n) {
        int r;

        if (l->failed < 0)
                return -EIO;
        if (n == 0)
                return 0;
        r = log_validate(l, entries, n);
        if (r < 0)
                return r;

        if (entries[0].index <= storage_log_last_index(l)) {
                r = log_truncate_from(l, entries[0].index);
                if (r < 0)
                        goto fail;
        }
        /* Every record written before the next sync is marked with the
         * lowest index of this batch: the loader uses it to recognise an
         * unsynced, torn batch. */
        if (l->batch_first == 0 || entries[0].index < l->batch_first)
                l->batch_first = entries[0].index;
        for (size_t i = 0; i < n; i++) {
                r = log_append_one(l, &entries[i]);
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        l->failed = r;
        return r;
}

/* Prepare the next segment while the current one still has room, so the
 * append that fills it does not wait for file creation. */
static void log_prepare_next_segment(struct storage_log *l) {
        if (l->prepared_fd < 0 && l->n_segs > 0 && l->segs[l->n_segs - 1].end >= l->segment_size / 2) {
                l->prepared_seq = l->next_seq;
                if (log_create_segment(l, l->prepared_seq, &l->prepared_fd) >= 0)
                        l->next_seq++;
                else
                        l->prepared_fd = -1; /* retried at rollover; the synced data is safe */
        }
}

int storage_log_sync(struct storage_log *l) {
        int r;

        if (l->sync_busy) {
                raft_index index;
                raft_term term;

                r = storage_log_sync_collect(l, true, &index, &term);
                if (r < 0)
                        return r;
        }
        if (l->failed < 0)
                return -EIO;
        if (l->active_dirty) {
                r = log_flush_buffer(l);
                if (r >= 0)
                        r = log_datasync_active(l);
                if (r < 0) {
                        l->failed = r;
                        return r;
                }
                l->active_dirty = false;
        }
        l->batch_first = 0;
        log_prepare_next_segment(l);
        return 0;
}

bool storage_log_sync_busy(const struct storage_log *l) {
        return l->sync_busy;
}

int storage_log_sync_start(struct storage_log *l) {
        int r;

        if (l->failed < 0)
                return -EIO;
        if (l->sync_busy)
                return -EBUSY;
        if (!l->active_dirty) {
                l->batch_first = 0;
                return 0;
        }
        r = log_flush_buffer(l);
        if (r >= 0 && !l->syncer)
                r = log_syncer_new(l->sync_notify, l->sync_userdata, &l->syncer);
        if (r < 0) {
                l->failed = r;
                return r;
        }
        r = log_syncer_submit(l->syncer, l->active_fd);
        if (r < 0)
                return r;
        l->sync_busy = true;
        l->sync_fd = l->active_fd;
        l->sync_fd_orphaned = false;
        /* Everything appended so far: earlier segments were synced at
         * rollover, the active one up to here is what the thread syncs. */
        l->sync_first = l->batch_first;
        l->sync_index = storage_log_last_index(l);
        l->sync_floor = UINT64_MAX;
        l->batch_first = 0;
        l->active_dirty = false;
        log_prepare_next_segment(l);
        return 1;
}

int storage_log_sync_collect(struct storage_log *l, bool wait, raft_index *ret_index, raft_term *ret_term) {
        raft_index index;
        raft_term term = 0;
        int error = 0, r;

        if (!l->sync_busy)
                return -ENOENT;
        r = log_syncer_collect(l->syncer, wait, &error);
        if (r <= 0)
                return r;
        l->sync_busy = false;
        l->sync_first = 0;
        if (l->sync_fd_orphaned)
                (void) close(l->sync_fd); /* rolled over, truncated away or reset meanwhile */
        l->sync_fd_orphaned = false;
        if (error < 0) {
                l->failed = error;
                return log_sink_errno(l->log, LOG_ERR, error, _("%s: cannot sync log segment: %m"), l->dir);
        }
        if (l->failed < 0)
                return -EIO;
        /* Entries truncated since it started were replaced by others the
         * sync does not cover: report only those in front of the cut. */
        index = l->sync_index;
        if (l->sync_floor <= index)
                index = l->sync_floor > 0 ? l->sync_floor - 1 : 0;
        if (index > 0 && storage_log_term_at(l, index, &term) < 0)
                index = 0; /* compacted meanwhile: reported durable before */
        *ret_index = index;
        *ret_term = index > 0 ? term : 0;
        return 1;
}

int storage_log_compact(struct storage_log *l, raft_index index) {
        size_t drop = 0;
        int r = 0;

        if (l->failed < 0)
                return -EIO;
        /* Oldest first, so a crash in between leaves a contiguous suffix. */
        while (drop + 1 < l->n_segs && segment_last(&l->segs[drop]) <= index) {
                r = log_unlink_segment(l, &l->segs[drop]);
                if (r < 0)
                        break;
                free(l->segs[drop].records);
                drop++;
        }
        if (drop == 0)
                return r;
        memmove(l->segs, l->segs + drop, (l->n_segs - drop) * sizeof(*l->segs));
        l->n_segs -= drop;
        if (r >= 0)
                r = fsync_dir_fd(l->dirfd);
        return r < 0 ? log_sink_errno(l->log, LOG_ERR, r, _("%s: cannot compact log: %m"), l->dir) : 0;
}

int storage_log_reset(struct storage_log *l) {
        int r;

        if (l->failed < 0)
                return -EIO;
        if (l->sync_busy) {
                l->sync_floor = 0;
                l->sync_first = 0;
        }
        r = log_drop_segments_after(l, 0);
        if (r < 0) {
                l->failed = r;
                return r;
        }
        l->batch_first = 0;
        l->active_dirty = false;
        return 0;
}

int storage_log_fit_snapshot(struct storage_log *l, const struct raft_snapshot_meta *meta) {
        raft_index first = storage_log_first_index(l);
        raft_term term;
        int r;

        if (first == 0 || first == meta->index + 1)
                return 0;
        if (first > meta->index + 1)
                return log_sink_errno(l->log, LOG_ERR, EBADMSG,
                                      _("%s: log starts at index %" PRIu64 ", snapshot ends at %" PRIu64 ": entries in between are missing"),
                                      l->dir, first, meta->index);
        if (storage_log_term_at(l, meta->index, &term) >= 0 && term == meta->term)
                return 0;
        log_sink(l->log, LOG_NOTICE,
                 _("%s: log does not match snapshot at index %" PRIu64 " (installed before a crash), dropping it"),
                 l->dir, meta->index);
        r = storage_log_reset(l);
        return r < 0 ? r : 1;
}

struct storage_log *storage_log_close(struct storage_log *l) {
        if (!l)
                return NULL;
        /* Joins the thread after its job; a result not collected is lost
         * like anything else not synced at close. */
        l->syncer = log_syncer_free(l->syncer);
        if (l->sync_fd_orphaned)
                (void) close(l->sync_fd);
        for (size_t i = 0; i < l->n_segs; i++)
                free(l->segs[i].records);
        free(l->segs);
        free(l->buf);
        free(l->dir);
        if (l->active_fd >= 0)
                (void) close(l->active_fd);
        if (l->prepared_fd >= 0)
                (void) close(l->prepared_fd);
        if (l->dirfd >= 0)
                (void) close(l->dirfd);
        free(l);
        return NULL;
}
