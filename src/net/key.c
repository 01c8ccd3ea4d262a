/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster key file: creation and strict loading. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/key.h"
#include "shared/macro.h"

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int net_key_generate(const char *path, const struct log_sink *log) {
        _cleanup_close_ int fd = -1;
        uint8_t key[NET_KEY_SIZE];
        int r;

        if (sodium_init() < 0)
                return log_sink_errno(log, LOG_ERR, EIO, _("Failed to initialise libsodium"));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_sink_errno(log, LOG_ERR, errno, _("Failed to create cluster key file %s: %m"), path);
        /* The umask can only narrow 0600, but an inherited ACL default could
         * widen it: set the mode explicitly. */
        if (fchmod(fd, 0600) < 0) {
                r = -errno;
                goto fail;
        }
        randombytes_buf(key, sizeof(key));
        r = write_all(fd, key, sizeof(key));
        sodium_memzero(key, sizeof(key));
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;
fail:
        (void) unlink(path);
        return log_sink_errno(log, LOG_ERR, r, _("Failed to write cluster key file %s: %m"), path);
}

int net_key_load(const char *path, struct net_key *ret, const struct log_sink *log) {
        _cleanup_close_ int fd = -1;
        struct net_key key;
        struct stat st;
        size_t got = 0;

        if (sodium_init() < 0)
                return log_sink_errno(log, LOG_ERR, EIO, _("Failed to initialise libsodium"));
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_sink_errno(log, LOG_ERR, errno, _("Failed to open cluster key file %s: %m"), path);
        if (fstat(fd, &st) < 0)
                return log_sink_errno(log, LOG_ERR, errno, _("Failed to stat cluster key file %s: %m"), path);
        if (!S_ISREG(st.st_mode))
                return log_sink_errno(log, LOG_ERR, EINVAL,
                                      _("Cluster key file %s is not a regular file, refusing"), path);
        if ((st.st_mode & 077) != 0)
                return log_sink_errno(log, LOG_ERR, EPERM,
                                      _("Cluster key file %s has mode %04o; it must not be accessible by group or "
                                        "others (use mode 0600), refusing"),
                                      path, (unsigned) (st.st_mode & 07777));
        if (st.st_size != NET_KEY_SIZE)
                return log_sink_errno(log, LOG_ERR, EBADMSG,
                                      _("Cluster key file %s holds %lld bytes, expected exactly %u, refusing"),
                                      path, (long long) st.st_size, NET_KEY_SIZE);
        while (got < sizeof(key.bytes)) {
                ssize_t k = read(fd, key.bytes + got, sizeof(key.bytes) - got);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        sodium_memzero(&key, sizeof(key));
                        return log_sink_errno(log, LOG_ERR, k < 0 ? errno : EBADMSG,
                                              _("Failed to read cluster key file %s: %m"), path);
                }
                got += (size_t) k;
        }
        *ret = key;
        sodium_memzero(&key, sizeof(key));
        return 0;
}

void net_key_wipe(struct net_key *k) {
        if (k)
                sodium_memzero(k, sizeof(*k));
}
