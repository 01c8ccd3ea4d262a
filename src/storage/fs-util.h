/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* File helpers for the storage code: full reads and writes that retry on
 * EINTR and short transfers, and the directory fsyncs that make a create,
 * rename or unlink durable. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int pwrite_all(int fd, const void *buf, size_t len, uint64_t offset);
/* Reads up to len bytes; fewer only at end of file.  Returns bytes read. */
ssize_t pread_full(int fd, void *buf, size_t len, uint64_t offset);
int fsync_dir_fd(int dirfd);
/* mkdir that survives a crash: the parent directory is fsynced when the
 * directory was created.  An existing directory is fine. */
int mkdir_durable(const char *path, mode_t mode);
