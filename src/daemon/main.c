/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd: one node of a raftd cluster as a system service.  See raftd(8). */
#include <ev.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>

#include "daemon/args.h"
#include "daemon/daemon.h"
#include "shared/macro.h"

int main(int argc, char **argv) {
        struct daemon_log early;
        struct log_sink early_sink;
        struct daemon_args args;
        struct manager *m = NULL;
        struct ev_loop *loop;
        int r, code;

        (void) setlocale(LC_ALL, "");
        (void) bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        daemon_log_init(&early, STDERR_FILENO, LOG_INFO);
        early_sink = daemon_log_sink(&early);

        r = daemon_args_parse(&args, argc, argv, stdout, &early_sink);
        if (r != DAEMON_ARGS_RUN) {
                daemon_args_done(&args);
                return r > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_CONFIG;
        }
        /* A peer that goes away must not kill us on write. */
        (void) signal(SIGPIPE, SIG_IGN);

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                log_sink(&early_sink, LOG_ERR, _("Failed to create the event loop"));
                daemon_args_done(&args);
                return DAEMON_EXIT_START;
        }
        r = manager_new(loop, &args, &m);
        if (r < 0) {
                code = r == -ENOMEM ? DAEMON_EXIT_START : DAEMON_EXIT_CONFIG;
                goto finish;
        }
        r = manager_start(m);
        if (r < 0) {
                code = DAEMON_EXIT_START;
                goto finish;
        }
        code = manager_run(m);
finish:
        manager_free(m);
        ev_loop_destroy(loop);
        daemon_args_done(&args);
        return code;
}
