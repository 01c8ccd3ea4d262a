/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Metadata file layout (little endian), always META_FILE_SIZE bytes so a
 * rewrite never changes the file size:
 *
 *   "RAFTDMET", u32 format version, u32 zero, u64 sequence, u64 term,
 *   u64 vote, u64 config index, u32 config length, config (raft config
 *   codec), u32 CRC32C of everything before it, zero padding. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "raft/wire.h"
#include "shared/macro.h"
#include "storage/crc32c.h"
#include "storage/fs-util.h"
#include "storage/meta.h"

#define META_MAGIC "RAFTDMET"
#define META_VERSION 1
#define META_FIXED 52
#define META_FILE_SIZE 512

struct storage_meta {
        int dirfd;
        int fds[2];
        uint64_t seq; /* of the newest valid file; 0 if none */
        char *dir;
        const struct log_sink *log;
};

static const char *const meta_names[2] = { "metadata1", "metadata2" };

static int meta_decode(const uint8_t *p, uint64_t *ret_seq, struct storage_meta_state *st) {
        uint32_t config_len;

        if (memcmp(p, META_MAGIC, 8) != 0)
                return -EBADMSG;
        config_len = wire_get32(p + 48);
        if (config_len > META_FILE_SIZE - META_FIXED - 4 ||
            wire_get32(p + META_FIXED + config_len) != crc32c(p, META_FIXED + config_len))
                return -EBADMSG;
        if (wire_get32(p + 8) != META_VERSION)
                return -EPROTONOSUPPORT;
        memset(st, 0, sizeof(*st));
        *ret_seq = wire_get64(p + 16);
        st->hs.term = wire_get64(p + 24);
        st->hs.vote = wire_get64(p + 32);
        st->config_index = wire_get64(p + 40);
        if (st->config_index > 0 && raft_config_decode(p + META_FIXED, config_len, &st->config) < 0)
                return -EBADMSG;
        return 0;
}

static int meta_encode(uint64_t seq, const struct storage_meta_state *st, uint8_t *p) {
        size_t config_len = st->config_index > 0 ? raft_config_encoded_size(&st->config) : 0;

        if (st->config.n > RAFT_CONFIG_MAX || META_FIXED + config_len + 4 > META_FILE_SIZE)
                return -EINVAL;
        memset(p, 0, META_FILE_SIZE);
        memcpy(p, META_MAGIC, 8);
        wire_put32(p + 8, META_VERSION);
        wire_put64(p + 16, seq);
        wire_put64(p + 24, st->hs.term);
        wire_put64(p + 32, st->hs.vote);
        wire_put64(p + 40, st->config_index);
        wire_put32(p + 48, (uint32_t) config_len);
        if (config_len > 0)
                raft_config_encode(&st->config, p + META_FIXED);
        wire_put32(p + META_FIXED + config_len, crc32c(p, META_FIXED + config_len));
        return 0;
}

struct storage_meta *storage_meta_close(struct storage_meta *m) {
        if (!m)
                return NULL;
        for (unsigned i = 0; i < 2; i++)
                if (m->fds[i] >= 0)
                        (void) close(m->fds[i]);
        if (m->dirfd >= 0)
                (void) close(m->dirfd);
        free(m->dir);
        free(m);
        return NULL;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int storage_meta_open(const char *dir, const struct log_sink *log, struct storage_meta **ret,
                      struct storage_meta_state *ret_state) {
        struct storage_meta *m;
        struct storage_meta_state states[2];
        uint64_t seqs[2] = {};
        bool valid[2] = {}, written[2] = {}, created = false;
        int r, best = -1;

        if ((r = mkdir_durable(dir, 0700)) < 0)
                return log_sink_errno(log, LOG_ERR, r, _("%s: cannot create directory: %m"), dir);
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (struct storage_meta) { .dirfd = -1, .fds = { -1, -1 }, .log = log };
        m->dir = strdup(dir);
        if (!m->dir) {
                r = -ENOMEM;
                goto fail;
        }
        m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->dirfd < 0) {
                r = log_sink_errno(log, LOG_ERR, errno, _("%s: cannot open directory: %m"), dir);
                goto fail;
        }
        for (unsigned i = 0; i < 2; i++) {
                uint8_t buf[META_FILE_SIZE];
                ssize_t k;

                m->fds[i] = openat(m->dirfd, meta_names[i], O_RDWR | O_CLOEXEC);
                if (m->fds[i] < 0 && errno == ENOENT) {
                        m->fds[i] = openat(m->dirfd, meta_names[i], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                        created = true;
                }
                if (m->fds[i] < 0) {
                        r = log_sink_errno(log, LOG_ERR, errno, _("%s/%s: cannot open: %m"), dir, meta_names[i]);
                        goto fail;
                }
                k = pread_full(m->fds[i], buf, sizeof(buf), 0);
                if (k < 0) {
                        r = log_sink_errno(log, LOG_ERR, (int) k, _("%s/%s: cannot read: %m"), dir, meta_names[i]);
                        goto fail;
                }
                written[i] = !all_zero(buf, (size_t) k);
                if (k == META_FILE_SIZE) {
                        r = meta_decode(buf, &seqs[i], &states[i]);
                        if (r == -EPROTONOSUPPORT) {
                                r = log_sink_errno(log, LOG_ERR, r, _("%s/%s: unsupported metadata format version"),
                                                   dir, meta_names[i]);
                                goto fail;
                        }
                        valid[i] = r >= 0;
                }
                if (valid[i] && (best < 0 || seqs[i] > seqs[best]))
                        best = (int) i;
        }
        if (created && (r = fsync_dir_fd(m->dirfd)) < 0)
                goto fail;
        for (unsigned i = 0; i < 2; i++)
                if (written[i] && !valid[i]) {
                        if (best < 0) {
                                r = log_sink_errno(log, LOG_ERR, EBADMSG,
                                                   _("%s/%s: damaged metadata and no valid copy, refusing to forget term and vote"),
                                                   dir, meta_names[i]);
                                goto fail;
                        }
                        /* Only the file being replaced can be torn; the other
                         * one was synced before this write began. */
                        log_sink(log, LOG_WARNING, _("%s/%s: damaged metadata (torn write), using %s"), dir,
                                 meta_names[i], meta_names[best]);
                }
        if (best >= 0) {
                m->seq = seqs[best];
                *ret_state = states[best];
        } else
                memset(ret_state, 0, sizeof(*ret_state));
        *ret = m;
        return 0;
fail:
        storage_meta_close(m);
        return r;
}

int storage_meta_save(struct storage_meta *m, const struct storage_meta_state *state) {
        uint8_t buf[META_FILE_SIZE];
        uint64_t seq = m->seq + 1;
        /* Never overwrite the newest valid copy: sequence parity picks the
         * file, so consecutive saves alternate. */
        int fd = m->fds[seq % 2 == 1 ? 0 : 1], r;

        r = meta_encode(seq, state, buf);
        if (r < 0)
                return r;
        r = pwrite_all(fd, buf, sizeof(buf), 0);
        if (r >= 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r < 0)
                return log_sink_errno(m->log, LOG_ERR, r, _("%s: cannot write metadata: %m"), m->dir);
        m->seq = seq;
        return 0;
}
