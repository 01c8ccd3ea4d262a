/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"

int log_sink_errno(const struct log_sink *s, int priority, int err, const char *fmt, ...) {
        char line[1024];
        va_list ap;
        int saved = errno;

        if (err < 0)
                err = -err;
        if (!s || !s->write)
                return -err;
        errno = err; /* so %m in fmt names err */
        va_start(ap, fmt);
        (void) vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        errno = saved;
        s->write(s->userdata, priority, line);
        return -err;
}
