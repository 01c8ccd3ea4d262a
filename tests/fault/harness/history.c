/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "history.h"

uint64_t monotonic_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

int history_open(struct history *h, const char *path, uint64_t process, uint64_t stride) {
        h->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (h->fd < 0)
                return -errno;
        h->process = process;
        h->stride = stride > 0 ? stride : 1;
        return 0;
}

void history_close(struct history *h) {
        if (h->fd >= 0)
                (void) close(h->fd);
        h->fd = -1;
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Each line goes out with one write() (a final read-set line can be long). */
static int write_line(struct history *h, const char *prefix, const char *fmt, va_list ap) {
        char *rest = NULL, *line = NULL;
        int n, r;

        if (vasprintf(&rest, fmt, ap) < 0)
                return -ENOMEM;
        n = asprintf(&line, "%s%s\n", prefix, rest);
        free(rest);
        if (n < 0)
                return -ENOMEM;
        r = write_all(h->fd, line, (size_t) n);
        free(line);
        return r;
}

int history_log(struct history *h, const char *type, const char *fmt, ...) {
        char prefix[96];
        va_list ap;
        int r;

        snprintf(prefix, sizeof(prefix), "%" PRIu64 " %" PRIu64 " %s ", monotonic_ns(), h->process, type);
        va_start(ap, fmt);
        r = write_line(h, prefix, fmt, ap);
        va_end(ap);
        return r;
}

int history_comment(struct history *h, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = write_line(h, "# ", fmt, ap);
        va_end(ap);
        return r;
}

void history_next_process(struct history *h) {
        h->process += h->stride;
}
