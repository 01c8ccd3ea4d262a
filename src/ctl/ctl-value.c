/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Values are bytes: from an argument, from stdin ("-") or from a file,
 * read whole and unchanged (no newline stripped). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

/* A D-Bus message is at most 128 MiB; the node's own limit is far lower
 * and it names it when it refuses. */
#define CTL_VALUE_MAX (64u * 1024 * 1024)

void ctl_value_done(struct ctl_value *v) {
        if (!v)
                return;
        free(v->data);
        *v = (struct ctl_value) {};
}

static int read_fd(int fd, const char *name, struct ctl_value *ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0, size = 0;

        for (;;) {
                ssize_t k;

                if (len == size) {
                        size_t n = size ? size * 2 : 4096;
                        uint8_t *p;

                        if (size >= CTL_VALUE_MAX) {
                                ctl_error(_("The value from %s is over %u MiB, refusing"), name,
                                          CTL_VALUE_MAX / (1024 * 1024));
                                return CTL_EXIT_FAILURE;
                        }
                        p = realloc(buf, n + 1);
                        if (!p) {
                                ctl_error(_("Out of memory"));
                                return CTL_EXIT_FAILURE;
                        }
                        buf = p;
                        size = n;
                }
                k = read(fd, buf + len, size - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        ctl_error(_("Failed to read %s: %s"), name, strerror(errno));
                        return CTL_EXIT_FAILURE;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        ret->data = TAKE_PTR(buf);
        ret->len = len;
        return CTL_EXIT_OK;
}

int ctl_value_from_file(const char *path, struct ctl_value *ret) {
        _cleanup_close_ int fd = -1;

        if (strcmp(path, "-") == 0)
                return read_fd(STDIN_FILENO, _("standard input"), ret);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                ctl_error(_("Failed to open %s: %s"), path, strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        return read_fd(fd, path, ret);
}

int ctl_value_from_arg(const char *arg, struct ctl_value *ret) {
        if (strcmp(arg, "-") == 0)
                return ctl_value_from_file(arg, ret);
        ret->len = strlen(arg);
        ret->data = (uint8_t *) strndup(arg, ret->len);
        if (!ret->data) {
                ctl_error(_("Out of memory"));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}
