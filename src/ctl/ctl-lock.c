/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock NAME [--timeout=SEC] -- CMD...: run CMD while holding the cluster-wide
 * lock, like flock(1).  The descriptor Lock.Acquire returns is the lock; it
 * stays here (close-on-exec, CMD does not inherit it) together with the bus
 * connection, so if raftctl dies the kernel closes both and raftd releases
 * the lock.  CMD learns the fence from $RAFTD_LOCK_FENCE. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

/* "Wait as long as it takes": ten years, which the node can add to its
 * clock without overflow. */
#define LOCK_WAIT_FOREVER_USEC (UINT64_C(10) * 365 * 24 * 3600 * 1000000)
/* The method call outlives the lock's own timeout by this much, so that the
 * node's LockTimeout, not sd-bus's, answers. */
#define LOCK_CALL_SLACK_USEC (UINT64_C(30) * 1000000)

static int acquire(struct ctl *c, const char *name, int *ret_fd, uint64_t *ret_fence) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t wait = c->has_timeout ? c->timeout_usec : LOCK_WAIT_FOREVER_USEC;
        int fd, r;

        /* A lost reply may mean the lock was granted to a reply that never
         * came; raftd releases it when this connection goes, so it is "not
         * held" either way: not a write with unknown outcome for the user. */
        r = ctl_call(c, CTL_IFACE_LOCK, "Acquire", c->has_timeout ? wait + LOCK_CALL_SLACK_USEC : UINT64_MAX,
                     &reply, &error, "stt", name, wait, UINT64_C(0));
        if (r < 0)
                return ctl_call_failed(name, &error, r, false);
        r = sd_bus_message_read(reply, "ht", &fd, ret_fence);
        if (r < 0)
                return ctl_parse_failed(r);
        /* The message owns fd; keep a copy above stdio, closed on exec. */
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (*ret_fd < 0) {
                ctl_error(_("Failed to keep the lock's file descriptor: %s"), strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

static _Noreturn void run_child(char **argv, const char *name, uint64_t fence, const sigset_t *blocked) {
        char fence_text[32];

        (void) sigprocmask(SIG_UNBLOCK, blocked, NULL);
        (void) snprintf(fence_text, sizeof(fence_text), "%" PRIu64, fence);
        if (setenv("RAFTD_LOCK_FENCE", fence_text, 1) < 0 || setenv("RAFTD_LOCK_NAME", name, 1) < 0)
                _exit(126);
        execvp(argv[0], argv);
        ctl_error(_("Failed to execute %s: %s"), argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

int ctl_lock(struct ctl *c) {
        _cleanup_close_ int lock_fd = -1, signal_fd = -1;
        const char *name = c->args[0];
        char **command = c->args + 1;
        bool lost_reported = false;
        sigset_t blocked;
        uint64_t fence;
        pid_t child;
        int status, r;

        /* Block before the fork, so no signal slips between it and the
         * child's exec, and none is lost to raftctl. */
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGCHLD);
        sigaddset(&blocked, SIGINT);
        sigaddset(&blocked, SIGTERM);
        sigaddset(&blocked, SIGHUP);
        sigaddset(&blocked, SIGQUIT);

        r = acquire(c, name, &lock_fd, &fence);
        if (r != CTL_EXIT_OK)
                return r;

        if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0 ||
            (signal_fd = signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                ctl_error(_("Failed to set up signal handling: %s"), strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        (void) fflush(NULL);
        child = fork();
        if (child < 0) {
                ctl_error(_("Failed to fork: %s"), strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        if (child == 0)
                run_child(command, name, fence, &blocked);

        /* Wait for CMD; pass on the signals a shell or a unit sends to stop
         * it, and report (once) if raftd tells us the lock was lost. */
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = signal_fd, .events = POLLIN },
                        { .fd = lock_fd, .events = 0 }, /* POLLERR is always reported */
                };
                struct signalfd_siginfo si;

                if (poll(p, lost_reported ? 1 : 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        ctl_error(_("Failed to wait for the command: %s"), strerror(errno));
                        break;
                }
                if (!lost_reported && (p[1].revents & (POLLERR | POLLHUP))) {
                        ctl_error(_("Lost lock %s (fence %" PRIu64 "): raftd released it while %s runs"), name,
                                  fence, command[0]);
                        lost_reported = true;
                }
                while (read(signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                        if (si.ssi_signo != SIGCHLD)
                                (void) kill(child, (int) si.ssi_signo);
                r = waitpid(child, &status, WNOHANG);
                if (r == child)
                        break;
        }
        /* CMD has ended: release the lock before anything else. */
        if (r != child)
                (void) waitpid(child, &status, 0);
        (void) close(TAKE_FD(lock_fd));
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return CTL_EXIT_FAILURE;
}
