/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "daemon/daemon-log.h"

static bool fd_is_journal_stream(int fd) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(fd, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void daemon_log_init(struct daemon_log *l, int fd, int max_level) {
        *l = (struct daemon_log) { .max_level = max_level, .fd = fd, .journal = fd_is_journal_stream(fd) };
}

void daemon_log_write(void *userdata, int priority, const char *message) {
        struct daemon_log *l = userdata;
        char prefix[8] = "";
        struct iovec iov[3];
        int saved = errno;

        priority &= LOG_PRIMASK;
        if (priority > l->max_level)
                return;
        if (l->journal)
                (void) snprintf(prefix, sizeof(prefix), "<%d>", priority);
        iov[0] = (struct iovec) { prefix, strlen(prefix) };
        iov[1] = (struct iovec) { (void *) message, strlen(message) };
        iov[2] = (struct iovec) { (void *) "\n", 1 };
        /* One writev per line keeps lines whole on a shared stderr. */
        (void) !writev(l->fd, iov, 3);
        errno = saved;
}
