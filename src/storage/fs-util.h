/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* File helpers for the storage code: full reads and writes that retry on
 * EINTR and short transfers, and the directory fsync that makes a create,
 * rename or unlink durable. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int pwrite_all(int fd, const void *buf, size_t len, uint64_t offset);
/* Reads up to len bytes; fewer only at end of file.  Returns bytes read. */
ssize_t pread_full(int fd, void *buf, size_t len, uint64_t offset);
int fsync_dir_fd(int dirfd);
/* Create or replace name in dirfd with exactly buf: temporary file, fsync,
 * rename, directory fsync. */
int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len);
