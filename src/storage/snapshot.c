/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot file layout (little endian):
 *
 *   "RAFTDSNP", u32 format version, u32 header length (H), u64 index,
 *   u64 term, u64 data length, u32 data CRC32C, u32 config length (C),
 *   config (raft config codec), u32 CRC32C of the header's first H - 4
 *   bytes; then the data at offset H = 52 + C. */
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
#include "storage/snapshot.h"

#define SNAP_MAGIC "RAFTDSNP"
#define SNAP_VERSION 1
#define SNAP_FIXED 48
#define SNAP_HEADER_MAX (SNAP_FIXED + 4 + 4 + RAFT_CONFIG_MAX * 9 + 64)
#define SNAP_NAME_MAX 64
#define SNAP_IO_CHUNK (256U * 1024U)

struct storage_snapshots {
        int dirfd;
        char *dir;
        const struct log_sink *log;
};

struct snapshot_header {
        struct raft_snapshot_meta meta;
        uint32_t header_len;
        uint64_t data_len;
        uint32_t data_crc;
};

struct storage_snapshot {
        int fd;
        struct snapshot_header h;
};

struct storage_snapshot_writer {
        struct storage_snapshots *s;
        int fd;
        struct snapshot_header h;
        char tmp_name[SNAP_NAME_MAX];
};

static void snapshot_name(raft_index index, raft_term term, char name[static SNAP_NAME_MAX]) {
        (void) snprintf(name, SNAP_NAME_MAX, "snapshot-%016" PRIx64 "-%016" PRIx64, index, term);
}

static void partial_name(raft_index index, raft_term term, char name[static SNAP_NAME_MAX]) {
        (void) snprintf(name, SNAP_NAME_MAX, ".snapshot-%016" PRIx64 "-%016" PRIx64 ".partial", index, term);
}

/* Is name a snapshot (or, with partial, a partial transfer) file name? */
static bool parse_snapshot_name(const char *name, bool partial, raft_index *index, raft_term *term) {
        char check[SNAP_NAME_MAX];
        int n = partial ? sscanf(name, ".snapshot-%16" SCNx64 "-%16" SCNx64 ".partial", index, term)
                        : sscanf(name, "snapshot-%16" SCNx64 "-%16" SCNx64, index, term);

        if (n != 2)
                return false;
        if (partial)
                partial_name(*index, *term, check);
        else
                snapshot_name(*index, *term, check);
        return strcmp(check, name) == 0;
}

static size_t header_size(const struct raft_config *c) {
        return SNAP_FIXED + raft_config_encoded_size(c) + 4;
}

static size_t header_encode(const struct snapshot_header *h, uint8_t *p) {
        size_t config_len = raft_config_encoded_size(&h->meta.config);

        memset(p, 0, SNAP_HEADER_MAX);
        memcpy(p, SNAP_MAGIC, 8);
        wire_put32(p + 8, SNAP_VERSION);
        wire_put32(p + 12, (uint32_t) header_size(&h->meta.config));
        wire_put64(p + 16, h->meta.index);
        wire_put64(p + 24, h->meta.term);
        wire_put64(p + 32, h->data_len);
        wire_put32(p + 40, h->data_crc);
        wire_put32(p + 44, (uint32_t) config_len);
        raft_config_encode(&h->meta.config, p + SNAP_FIXED);
        wire_put32(p + SNAP_FIXED + config_len, crc32c(p, SNAP_FIXED + config_len));
        return SNAP_FIXED + config_len + 4;
}

static int header_decode(const uint8_t *p, size_t len, struct snapshot_header *h) {
        uint32_t header_len, config_len;

        if (len < SNAP_FIXED + 4 || memcmp(p, SNAP_MAGIC, 8) != 0)
                return -EBADMSG;
        if (wire_get32(p + 8) != SNAP_VERSION)
                return -EPROTONOSUPPORT;
        header_len = wire_get32(p + 12);
        config_len = wire_get32(p + 44);
        if (header_len > len || header_len != SNAP_FIXED + config_len + 4 ||
            wire_get32(p + SNAP_FIXED + config_len) != crc32c(p, SNAP_FIXED + config_len))
                return -EBADMSG;
        memset(h, 0, sizeof(*h));
        h->header_len = header_len;
        h->meta.index = wire_get64(p + 16);
        h->meta.term = wire_get64(p + 24);
        h->data_len = wire_get64(p + 32);
        h->data_crc = wire_get32(p + 40);
        if (raft_config_decode(p + SNAP_FIXED, config_len, &h->meta.config) < 0)
                return -EBADMSG;
        return 0;
}

/* Check a complete snapshot file: header, size, data checksum. */
static int snapshot_verify(int fd, struct snapshot_header *ret) {
        _cleanup_free_ uint8_t *buf = malloc(SNAP_IO_CHUNK);
        uint8_t header[SNAP_HEADER_MAX];
        struct snapshot_header h;
        uint32_t crc = 0;
        struct stat st;
        ssize_t k;
        int r;

        if (!buf)
                return -ENOMEM;
        if (fstat(fd, &st) < 0)
                return -errno;
        k = pread_full(fd, header, sizeof(header), 0);
        if (k < 0)
                return (int) k;
        r = header_decode(header, (size_t) k, &h);
        if (r < 0)
                return r;
        if ((uint64_t) st.st_size != h.header_len + h.data_len)
                return -EBADMSG;
        for (uint64_t off = 0; off < h.data_len; off += (uint64_t) k) {
                k = pread_full(fd, buf, (size_t) MIN((uint64_t) SNAP_IO_CHUNK, h.data_len - off), h.header_len + off);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -EBADMSG;
                crc = crc32c_extend(crc, buf, (size_t) k);
        }
        if (crc != h.data_crc)
                return -EBADMSG;
        *ret = h;
        return 0;
}

int storage_snapshots_open(const char *dir, const struct log_sink *log, struct storage_snapshots **ret) {
        struct storage_snapshots *s;
        int r;

        if ((r = mkdir_durable(dir, 0700)) < 0)
                return log_sink_errno(log, LOG_ERR, r, _("%s: cannot create snapshot directory: %m"), dir);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->log = log;
        s->dir = strdup(dir);
        s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!s->dir || s->dirfd < 0) {
                r = s->dir ? log_sink_errno(log, LOG_ERR, errno, _("%s: cannot open snapshot directory: %m"), dir)
                           : -ENOMEM;

                storage_snapshots_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct storage_snapshots *storage_snapshots_close(struct storage_snapshots *s) {
        if (!s)
                return NULL;
        if (s->dirfd >= 0)
                (void) close(s->dirfd);
        free(s->dir);
        free(s);
        return NULL;
}

/* NULL with errno set on failure. */
static DIR *snapshots_opendir(struct storage_snapshots *s) {
        int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), saved;
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d) {
                saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return d;
}

/* The newest complete snapshot other than skip: its index, 0 if none. */
static int snapshots_newest_other(struct storage_snapshots *s, const char *skip, raft_index *ret) {
        DIR *d = snapshots_opendir(s);

        if (!d)
                return -errno;
        *ret = 0;
        for (struct dirent *de; (de = readdir(d));) {
                raft_index index;
                raft_term term;

                if (parse_snapshot_name(de->d_name, false, &index, &term) && strcmp(de->d_name, skip) != 0)
                        *ret = MAX(*ret, index);
        }
        (void) closedir(d);
        return 0;
}

/* Remove the partial transfers and (unless partials_only) the complete
 * snapshots at or below up_to, except keep, then make the removals
 * durable.  An installed snapshot removes what it covers, and only that: a
 * transfer of a newer snapshot stays, being received while this one was
 * written (the engine writes local snapshots in a child process, so the
 * two can finish in either order). */
static int snapshots_remove_covered(struct storage_snapshots *s, const char *keep, raft_index up_to,
                                    bool partials_only) {
        bool removed = false;
        DIR *d = snapshots_opendir(s);

        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                raft_index index;
                raft_term term;
                bool partial = parse_snapshot_name(de->d_name, true, &index, &term);

                if (!partial && (partials_only || !parse_snapshot_name(de->d_name, false, &index, &term)))
                        continue;
                if (index > up_to || strcmp(de->d_name, keep) == 0)
                        continue;
                if (unlinkat(s->dirfd, de->d_name, 0) >= 0)
                        removed = true;
        }
        (void) closedir(d);
        return removed ? fsync_dir_fd(s->dirfd) : 0;
}

int storage_snapshot_writer_begin(struct storage_snapshots *s, const struct raft_snapshot_meta *meta,
                                  struct storage_snapshot_writer **ret) {
        struct storage_snapshot_writer *w;

        if (!meta || meta->index == 0 || meta->config.n > RAFT_CONFIG_MAX)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->s = s;
        w->h.meta = *meta;
        w->h.header_len = (uint32_t) header_size(&meta->config);
        (void) snprintf(w->tmp_name, sizeof(w->tmp_name), ".snapshot-%016" PRIx64 "-%016" PRIx64 ".tmp",
                        meta->index, meta->term);
        w->fd = openat(s->dirfd, w->tmp_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w->fd < 0) {
                int r = log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot create snapshot: %m"), s->dir,
                                       w->tmp_name);
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int storage_snapshot_writer_write(struct storage_snapshot_writer *w, const void *data, size_t len) {
        int r = pwrite_all(w->fd, data, len, w->h.header_len + w->h.data_len);

        if (r < 0)
                return log_sink_errno(w->s->log, LOG_ERR, r, _("%s/%s: cannot write snapshot: %m"), w->s->dir,
                                      w->tmp_name);
        w->h.data_crc = crc32c_extend(w->h.data_crc, data, len);
        w->h.data_len += len;
        return 0;
}

static int snapshots_install(struct storage_snapshots *s, int fd, const char *from, raft_index index,
                             raft_term term) {
        char name[SNAP_NAME_MAX];
        raft_index newest = 0;
        int r;

        snapshot_name(index, term, name);
        if (fsync(fd) < 0)
                return log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot sync snapshot: %m"), s->dir, from);
        if (renameat(s->dirfd, from, s->dirfd, name) < 0)
                return log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot install snapshot: %m"), s->dir,
                                      name);
        r = fsync_dir_fd(s->dirfd);
        if (r < 0)
                return log_sink_errno(s->log, LOG_ERR, r, _("%s: cannot sync snapshot directory: %m"), s->dir);
        /* Looked at after the rename: whichever of two installs racing in
         * two processes renames last sees the other's file, so the newer
         * one always stays. */
        r = snapshots_newest_other(s, name, &newest);
        if (r < 0)
                return log_sink_errno(s->log, LOG_ERR, r, _("%s: cannot read snapshot directory: %m"), s->dir);
        if (newest > index) {
                (void) unlinkat(s->dirfd, name, 0);
                (void) fsync_dir_fd(s->dirfd);
                log_sink(s->log, LOG_INFO,
                         _("%s/%s: a newer snapshot (index %" PRIu64 ") was installed meanwhile, discarded this one"),
                         s->dir, name, newest);
                return -ESTALE;
        }
        /* The new snapshot is durable: what it covers is no longer needed. */
        r = snapshots_remove_covered(s, name, index, false);
        if (r < 0)
                log_sink_errno(s->log, LOG_WARNING, r, _("%s: cannot remove old snapshots: %m"), s->dir);
        return 0;
}

int storage_snapshot_writer_commit(struct storage_snapshot_writer *w) {
        uint8_t header[SNAP_HEADER_MAX];
        size_t len = header_encode(&w->h, header);
        int r;

        r = pwrite_all(w->fd, header, len, 0);
        if (r < 0)
                return log_sink_errno(w->s->log, LOG_ERR, r, _("%s/%s: cannot write snapshot: %m"), w->s->dir,
                                      w->tmp_name);
        r = snapshots_install(w->s, w->fd, w->tmp_name, w->h.meta.index, w->h.meta.term);
        if (r < 0 && r != -ESTALE)
                return r;
        w->tmp_name[0] = 0; /* renamed: nothing to discard */
        return r;
}

struct storage_snapshot_writer *storage_snapshot_writer_free(struct storage_snapshot_writer *w) {
        if (!w)
                return NULL;
        if (w->tmp_name[0])
                (void) unlinkat(w->s->dirfd, w->tmp_name, 0);
        if (w->fd >= 0)
                (void) close(w->fd);
        free(w);
        return NULL;
}

int storage_snapshot_open_latest(struct storage_snapshots *s, struct storage_snapshot **ret) {
        struct storage_snapshot *snap;
        char best_name[SNAP_NAME_MAX];
        raft_index best = 0;
        raft_term best_term = 0;
        DIR *d = snapshots_opendir(s);
        int r;

        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                raft_index index;
                raft_term term;

                if (parse_snapshot_name(de->d_name, false, &index, &term) && index > best) {
                        best = index;
                        best_term = term;
                }
        }
        (void) closedir(d);
        if (best == 0)
                return -ENOENT;
        snapshot_name(best, best_term, best_name);

        snap = calloc(1, sizeof(*snap));
        if (!snap)
                return -ENOMEM;
        snap->fd = openat(s->dirfd, best_name, O_RDONLY | O_CLOEXEC);
        if (snap->fd < 0) {
                r = log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot open snapshot: %m"), s->dir, best_name);
                free(snap);
                return r;
        }
        r = snapshot_verify(snap->fd, &snap->h);
        if (r < 0) {
                storage_snapshot_close(snap);
                if (r == -EBADMSG || r == -EPROTONOSUPPORT)
                        return log_sink_errno(s->log, LOG_ERR, r,
                                              r == -EBADMSG ? _("%s/%s: damaged snapshot (bad header, size or checksum)")
                                                            : _("%s/%s: unsupported snapshot format version"),
                                              s->dir, best_name);
                return log_sink_errno(s->log, LOG_ERR, r, _("%s/%s: cannot read snapshot: %m"), s->dir, best_name);
        }
        *ret = snap;
        return 0;
}

struct storage_snapshot *storage_snapshot_close(struct storage_snapshot *snap) {
        if (!snap)
                return NULL;
        if (snap->fd >= 0)
                (void) close(snap->fd);
        free(snap);
        return NULL;
}

const struct raft_snapshot_meta *storage_snapshot_meta(const struct storage_snapshot *snap) {
        return &snap->h.meta;
}

uint64_t storage_snapshot_data_size(const struct storage_snapshot *snap) {
        return snap->h.data_len;
}

ssize_t storage_snapshot_read_data(const struct storage_snapshot *snap, uint64_t offset, void *buf, size_t len) {
        if (offset >= snap->h.data_len)
                return 0;
        return pread_full(snap->fd, buf, (size_t) MIN((uint64_t) len, snap->h.data_len - offset),
                          snap->h.header_len + offset);
}

ssize_t storage_snapshot_read_chunk(const struct storage_snapshot *snap, uint64_t offset, void *buf, size_t max,
                                    bool *ret_done) {
        uint64_t size = snap->h.header_len + snap->h.data_len;
        ssize_t k;

        if (offset > size)
                return -ERANGE;
        k = pread_full(snap->fd, buf, (size_t) MIN((uint64_t) max, size - offset), offset);
        if (k >= 0)
                *ret_done = offset + (uint64_t) k >= size;
        return k;
}

static bool meta_equal(const struct raft_snapshot_meta *a, const struct raft_snapshot_meta *b) {
        if (a->index != b->index || a->term != b->term || a->config.n != b->config.n)
                return false;
        for (unsigned i = 0; i < a->config.n; i++)
                if (a->config.servers[i].id != b->config.servers[i].id ||
                    a->config.servers[i].role != b->config.servers[i].role)
                        return false;
        return true;
}

int storage_snapshots_receive(struct storage_snapshots *s, const struct raft_snapshot_chunk *c,
                              uint64_t *ret_next_offset, bool *ret_installed) {
        _cleanup_close_ int fd = -1;
        char name[SNAP_NAME_MAX];
        struct snapshot_header h;
        struct stat st;
        uint64_t held;
        int r;

        *ret_installed = false;
        if (c->meta.index == 0 || (c->data.len > 0 && !c->data.base))
                return -EINVAL;
        partial_name(c->meta.index, c->meta.term, name);
        /* Only one transfer at a time: a chunk of another snapshot means the
         * sender gave up on the old one. */
        r = snapshots_remove_covered(s, name, UINT64_MAX, true);
        if (r < 0)
                return r;
        fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || fstat(fd, &st) < 0)
                return log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot open partial snapshot: %m"), s->dir,
                                      name);
        held = (uint64_t) st.st_size;
        if (c->offset == 0 && held > 0) {
                /* A transfer starting over, maybe from another leader whose
                 * image differs: none of the old bytes may stay. */
                if (ftruncate(fd, 0) < 0)
                        return log_sink_errno(s->log, LOG_ERR, errno, _("%s/%s: cannot truncate partial snapshot: %m"),
                                              s->dir, name);
                held = 0;
        }
        *ret_next_offset = held;
        if (c->offset > held)
                return -ERANGE;
        r = pwrite_all(fd, c->data.base, c->data.len, c->offset);
        if (r < 0)
                return log_sink_errno(s->log, LOG_ERR, r, _("%s/%s: cannot write partial snapshot: %m"), s->dir,
                                      name);
        held = MAX(held, c->offset + c->data.len);
        *ret_next_offset = held;
        if (!c->done)
                return 0;

        r = snapshot_verify(fd, &h);
        if (r >= 0 && (!meta_equal(&h.meta, &c->meta) || held != h.header_len + h.data_len))
                r = -EBADMSG;
        if (r < 0) {
                (void) unlinkat(s->dirfd, name, 0);
                *ret_next_offset = 0;
                return log_sink_errno(s->log, LOG_ERR, r,
                                      _("%s/%s: received snapshot of index %" PRIu64 " is incomplete or corrupted, discarded"),
                                      s->dir, name, c->meta.index);
        }
        r = snapshots_install(s, fd, name, c->meta.index, c->meta.term);
        if (r < 0)
                return r;
        *ret_installed = true;
        return 0;
}
