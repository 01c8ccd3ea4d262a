/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening the log: read every segment, verify every record, and decide
 * whether damage is a torn (never synced) tail, which is cut off, or damage
 * to synced data, which stops the open. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/wire.h"
#include "shared/macro.h"
#include "storage/crc32c.h"
#include "storage/fs-util.h"
#include "storage/log-internal.h"
#include "storage/record.h"

struct log_loader {
        struct storage_log *l;
        uint64_t *seqs; /* segment files found, ascending */
        size_t n_seqs;
        struct raft_entry *entries;
        size_t n, cap;
        raft_index last; /* 0: no record seen yet */
        raft_term last_term;
};

static struct log_loader *log_loader_free(struct log_loader *ld) {
        free(ld->seqs);
        storage_entries_free(ld->entries, ld->n);
        return NULL;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static int log_list_segments(struct log_loader *ld) {
        struct storage_log *l = ld->l;
        size_t cap = 0;
        DIR *d;
        int fd;

        fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                char name[SEGMENT_NAME_MAX];
                uint64_t seq;

                if (strcmp(de->d_name, SEGMENT_PREPARE_TMP) == 0) {
                        /* A preparation that did not finish: never held data. */
                        (void) unlinkat(l->dirfd, de->d_name, 0);
                        continue;
                }
                if (sscanf(de->d_name, "log-%16" SCNx64, &seq) != 1)
                        continue;
                segment_name(seq, name);
                if (strcmp(name, de->d_name) != 0)
                        continue;
                if (ld->n_seqs == cap) {
                        uint64_t *p;

                        cap = MAX(cap * 2, (size_t) 16);
                        p = reallocarray(ld->seqs, cap, sizeof(*p));
                        if (!p) {
                                (void) closedir(d);
                                return -ENOMEM;
                        }
                        ld->seqs = p;
                }
                ld->seqs[ld->n_seqs++] = seq;
        }
        (void) closedir(d);
        if (ld->n_seqs > 0)
                qsort(ld->seqs, ld->n_seqs, sizeof(*ld->seqs), cmp_u64);
        return 0;
}

static int read_segment(struct storage_log *l, uint64_t seq, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        char name[SEGMENT_NAME_MAX];
        uint64_t header_seq = 0;
        struct stat st;
        ssize_t k;
        int r;

        segment_name(seq, name);
        fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot open log segment: %m"), l->dir, name);
        buf = malloc(MAX((size_t) st.st_size, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        k = pread_full(fd, buf, (size_t) st.st_size, 0);
        if (k < 0)
                return log_sink_errno(l->log, LOG_ERR, (int) k, _("%s/%s: cannot read log segment: %m"), l->dir,
                                      name);
        r = (size_t) k < LOG_SEGMENT_HEADER_SIZE ? -EBADMSG : log_segment_header_decode(buf, &header_seq);
        if (r == -EPROTONOSUPPORT)
                return log_sink_errno(l->log, LOG_ERR, r,
                                      _("%s/%s: unsupported log format version %" PRIu32 " (this build reads version %d)"),
                                      l->dir, name, wire_get32(buf + 8), LOG_SEGMENT_VERSION);
        if (r < 0 || header_seq != seq)
                return log_sink_errno(l->log, LOG_ERR, EBADMSG,
                                      _("%s/%s: bad log segment header at offset 0, refusing to open the log"),
                                      l->dir, name);
        *ret = TAKE_PTR(buf);
        *ret_size = (size_t) k;
        return 0;
}

/* Offset after the last non-zero byte: the rest of a preallocated
 * segment reads as zeros. */
static size_t nonzero_end(const uint8_t *buf, size_t size) {
        while (size > 0 && buf[size - 1] == 0)
                size--;
        return size;
}

/* 1 and *h: a valid record at off.  0: clean end of the segment (only
 * zeros follow).  -EBADMSG: damage at off. */
static int parse_record(const uint8_t *buf, size_t size, size_t data_end, size_t off, struct log_record_header *h) {
        if (off >= data_end)
                return 0;
        if (size - off < LOG_RECORD_HEADER_SIZE)
                return -EBADMSG;
        if (log_record_header_decode(buf + off, STORAGE_LOG_ENTRY_MAX, h) < 0)
                return -EBADMSG;
        if (log_record_size(h->data_len) > size - off)
                return -EBADMSG;
        if (crc32c(buf + off + LOG_RECORD_HEADER_SIZE, h->data_len) != h->data_crc)
                return -EBADMSG;
        return 1;
}

/* Is there a valid record from 'from' on whose batch started after index
 * damaged?  Such a record was written only after the batch holding the
 * damaged record had been synced. */
static bool scan_for_later_batch(const uint8_t *buf, size_t size, size_t from, raft_index damaged) {
        size_t end = nonzero_end(buf, size);

        for (size_t off = from; off < end;) {
                struct log_record_header h;

                if (parse_record(buf, size, end, off, &h) > 0) {
                        if (h.batch_first > damaged)
                                return true;
                        off += log_record_size(h.data_len);
                } else
                        off += LOG_RECORD_ALIGN;
        }
        return false;
}

/* Damage at off in segment i, where index 'damaged' was expected.  A torn
 * write only ever hits the last batch, which was never confirmed by a sync;
 * damage is a torn write unless a record of a later batch follows it. */
static int damage_is_synced(struct log_loader *ld, size_t i, const uint8_t *buf, size_t size, size_t off,
                            raft_index damaged) {
        if (scan_for_later_batch(buf, size, off + LOG_RECORD_ALIGN, damaged))
                return 1;
        for (size_t j = i + 1; j < ld->n_seqs; j++) {
                _cleanup_free_ uint8_t *later = NULL;
                size_t later_size;
                int r;

                r = read_segment(ld->l, ld->seqs[j], &later, &later_size);
                if (r < 0)
                        return r;
                if (scan_for_later_batch(later, later_size, LOG_SEGMENT_HEADER_SIZE, damaged))
                        return 1;
        }
        return 0;
}

/* Cut the log at off in segment i: the record there and everything after
 * it was never confirmed by a sync. */
static int cut_torn_tail(struct log_loader *ld, size_t i, size_t off) {
        struct storage_log *l = ld->l;
        _cleanup_close_ int fd = -1;
        char name[SEGMENT_NAME_MAX];

        segment_name(ld->seqs[i], name);
        log_sink(l->log, LOG_WARNING,
                 _("%s/%s: torn log record at offset %zu (a write that was never synced), cutting off the log tail"),
                 l->dir, name, off);
        for (size_t j = ld->n_seqs; j > i + 1; j--) {
                char later[SEGMENT_NAME_MAX];

                segment_name(ld->seqs[j - 1], later);
                if (unlinkat(l->dirfd, later, 0) < 0)
                        return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot remove log segment: %m"),
                                              l->dir, later);
        }
        ld->n_seqs = i + 1;
        fd = openat(l->dirfd, name, O_RDWR | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t) off) < 0)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot truncate log segment: %m"), l->dir,
                                      name);
        if (l->segment_size > off)
                (void) fallocate(fd, 0, (off_t) off, (off_t) (l->segment_size - off));
        if (fsync(fd) < 0)
                return log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot sync log segment: %m"), l->dir, name);
        return fsync_dir_fd(l->dirfd);
}

static int loader_push_entry(struct log_loader *ld, const struct log_record_header *h, const uint8_t *data) {
        struct raft_entry *e;

        if (ld->n == ld->cap) {
                size_t cap = MAX(ld->cap * 2, (size_t) 256);
                struct raft_entry *p = reallocarray(ld->entries, cap, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                ld->entries = p;
                ld->cap = cap;
        }
        e = &ld->entries[ld->n];
        *e = (struct raft_entry) { .term = h->term, .index = h->index, .type = h->type };
        if (h->data_len > 0) {
                e->data.base = malloc(h->data_len);
                if (!e->data.base)
                        return -ENOMEM;
                memcpy(e->data.base, data, h->data_len);
                e->data.len = h->data_len;
        }
        ld->n++;
        return 0;
}

/* Returns 1 when loading must stop after this segment (tail cut). */
static int load_segment(struct log_loader *ld, size_t i) {
        struct storage_log *l = ld->l;
        _cleanup_free_ uint8_t *buf = NULL;
        char name[SEGMENT_NAME_MAX];
        struct segment *s;
        size_t size, data_end, off = LOG_SEGMENT_HEADER_SIZE;
        int r;

        segment_name(ld->seqs[i], name);
        r = read_segment(l, ld->seqs[i], &buf, &size);
        if (r < 0)
                return r;
        data_end = nonzero_end(buf, size);
        s = log_push_segment(l, ld->seqs[i], LOG_SEGMENT_HEADER_SIZE);
        if (!s)
                return -ENOMEM;

        while (off < size) {
                struct log_record_header h;

                r = parse_record(buf, size, data_end, off, &h);
                if (r == 0)
                        break;
                if (r < 0) {
                        /* With no record before it, the damaged one is the
                         * log's first: assume the lowest index possible. */
                        r = damage_is_synced(ld, i, buf, size, off, ld->last + 1);
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                r = cut_torn_tail(ld, i, off);
                                return r < 0 ? r : 1;
                        }
                        return log_sink_errno(l->log, LOG_ERR, EBADMSG,
                                              _("%s/%s: damaged log record at offset %zu with synced records after it, refusing to open the log"),
                                              l->dir, name, off);
                }
                if (ld->last > 0 && h.index != ld->last + 1)
                        return log_sink_errno(l->log, LOG_ERR, EBADMSG,
                                              _("%s/%s: log index gap at offset %zu: expected index %" PRIu64 ", found %" PRIu64),
                                              l->dir, name, off, ld->last + 1, h.index);
                if (ld->last > 0 && h.term < ld->last_term)
                        return log_sink_errno(l->log, LOG_ERR, EBADMSG,
                                              _("%s/%s: log term goes backwards at offset %zu (index %" PRIu64 ")"),
                                              l->dir, name, off, h.index);
                r = loader_push_entry(ld, &h, buf + off + LOG_RECORD_HEADER_SIZE);
                if (r < 0)
                        return r;
                r = segment_push_record(s, h.index, h.term, off);
                if (r < 0)
                        return r;
                ld->last = h.index;
                ld->last_term = h.term;
                off += log_record_size(h.data_len);
                s->end = off;
        }
        return 0;
}

int storage_log_open(const char *dir, const struct storage_log_options *o, struct storage_log **ret,
                     struct raft_entry **ret_entries, size_t *ret_n) {
        _cleanup_(log_loader_free) struct log_loader ld = {};
        struct storage_log *l;
        int r;

        if (!dir || !ret || !ret_entries || !ret_n)
                return -EINVAL;
        if ((r = mkdir_durable(dir, 0700)) < 0)
                return log_sink_errno(o ? o->log : NULL, LOG_ERR, r, _("%s: cannot create log directory: %m"),
                                      dir);
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (struct storage_log) {
                .dirfd = -1,
                .active_fd = -1,
                .prepared_fd = -1,
                .segment_size = o && o->segment_size > 0 ? o->segment_size : STORAGE_LOG_SEGMENT_SIZE_DEFAULT,
                .log = o ? o->log : NULL,
                .sync_notify = o ? o->sync_notify : NULL,
                .sync_userdata = o ? o->sync_userdata : NULL,
                .next_seq = 1,
        };
        ld.l = l;
        l->dir = strdup(dir);
        if (!l->dir) {
                r = -ENOMEM;
                goto fail;
        }
        l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dirfd < 0) {
                r = log_sink_errno(l->log, LOG_ERR, errno, _("%s: cannot open log directory: %m"), dir);
                goto fail;
        }
        r = log_list_segments(&ld);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < ld.n_seqs; i++) {
                r = load_segment(&ld, i);
                if (r < 0)
                        goto fail;
                if (r > 0)
                        break;
        }
        if (l->n_segs > 0) {
                struct segment *s = &l->segs[l->n_segs - 1];
                char name[SEGMENT_NAME_MAX];

                segment_name(s->seq, name);
                l->active_fd = openat(l->dirfd, name, O_RDWR | O_CLOEXEC);
                if (l->active_fd < 0) {
                        r = log_sink_errno(l->log, LOG_ERR, errno, _("%s/%s: cannot open log segment: %m"), dir,
                                           name);
                        goto fail;
                }
                l->buf_off = s->end;
        }
        *ret_entries = TAKE_PTR(ld.entries);
        *ret_n = ld.n;
        ld.n = 0;
        *ret = l;
        return 0;
fail:
        storage_log_close(l);
        return r;
}
