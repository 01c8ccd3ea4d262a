/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "shared/macro.h"
#include "storage/fs-util.h"

int pwrite_all(int fd, const void *buf, size_t len, uint64_t offset) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t k = pwrite(fd, p, len, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                len -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

ssize_t pread_full(int fd, void *buf, size_t len, uint64_t offset) {
        uint8_t *p = buf;
        size_t done = 0;

        while (done < len) {
                ssize_t k = pread(fd, p + done, len - done, (off_t) (offset + done));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

int fsync_dir_fd(int dirfd) {
        return fsync(dirfd) < 0 ? -errno : 0;
}

int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len) {
        _cleanup_close_ int fd = -1;
        char tmp[256];
        int r;

        if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = pwrite_all(fd, buf, len, 0);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return fsync_dir_fd(dirfd);
}
