/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

int mkdir_durable(const char *path, mode_t mode) {
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int fd = -1;
        char *slash;

        if (mkdir(path, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        /* The new directory entry lives in the parent: sync that. */
        parent = strdup(path);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (!slash)
                strcpy(parent, ".");
        else if (slash == parent)
                slash[1] = 0;
        else
                *slash = 0;
        fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync_dir_fd(fd);
}
