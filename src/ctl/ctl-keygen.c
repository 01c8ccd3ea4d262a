/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keygen [FILE]: a new cluster key, written by the same code the nodes use
 * to read it (src/net/key.c), so the format cannot drift.  Local only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "net/key.h"
#include "shared/macro.h"

#define DEFAULT_KEY_FILE "/etc/raftd/cluster.key"

static void log_to_stderr(void *userdata, int priority, const char *message) {
        ctl_error("%s", message);
}

int ctl_keygen(struct ctl *c) {
        const struct log_sink sink = { .write = log_to_stderr };
        const char *path = c->n_args > 0 ? c->args[0] : DEFAULT_KEY_FILE;
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (!c->force) {
                /* net_key_generate() creates with O_EXCL: an existing key stays. */
                if (access(path, F_OK) == 0) {
                        ctl_error(_("%s exists; a cluster key is not replaced without --force (every node "
                                    "needs the new key then)"),
                                  path);
                        return CTL_EXIT_FAILURE;
                }
                r = net_key_generate(path, &sink);
        } else {
                /* A fresh name, then rename(): the old key stays whole until
                 * the new one is complete. */
                if (asprintf(&tmp, "%s.new-%d", path, (int) getpid()) < 0) {
                        ctl_error(_("Out of memory"));
                        return CTL_EXIT_FAILURE;
                }
                r = net_key_generate(tmp, &sink);
                if (r >= 0 && rename(tmp, path) < 0) {
                        r = -errno;
                        ctl_error(_("Failed to replace %s: %s"), path, strerror(errno));
                        (void) unlink(tmp);
                }
        }
        if (r < 0)
                return CTL_EXIT_FAILURE;
        if (c->json) {
                fputs("{\"path\":", stdout);
                ctl_json_string(stdout, path, strlen(path));
                fputs("}\n", stdout);
        }
        return ctl_flush_stdout();
}
