/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock workload: take the cluster lock over D-Bus, read a counter from
 * the fenced resource, "work" for a while, write counter+1 with the fence,
 * release.  The pause inside the critical section is the window in which
 * the nemesis can pause a holder until its lock is given to someone else. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "resource-protocol.h"
#include "unix-address.h"
#include "shared/macro.h"

#define LOCK_WAIT_USEC (3 * UINT64_C(1000000))

static int resource_connect(const char *path) {
        struct sockaddr_un sa;
        int fd, r;

        r = unix_address(path, &sa);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* One request line out, one answer line back. */
static int resource_ask(int fd, const char *request, char *answer, size_t size) {
        size_t len = strlen(request), got = 0;

        if (write(fd, request, len) != (ssize_t) len)
                return -EIO;
        while (got + 1 < size) {
                ssize_t n = read(fd, answer + got, 1);

                if (n <= 0)
                        return n < 0 ? -errno : -ECONNRESET;
                if (answer[got] == '\n') {
                        answer[got] = 0;
                        return 0;
                }
                got++;
        }
        return -EBADMSG;
}

static void work_pause(struct client *c) {
        uint64_t ms = client_below(c, c->work_max_ms + 1);
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000 };

        (void) nanosleep(&ts, NULL);
}

/* The critical section, with the lock held. */
static int increment(struct client *c, int resource, uint64_t fence, const char *op) {
        char request[RESOURCE_LINE_MAX], answer[RESOURCE_LINE_MAX], ok[96];
        struct call_status s = { .outcome = OUTCOME_FAIL };
        uint64_t base;
        int r;

        snprintf(request, sizeof(request), "read %s %" PRIu64 "\n", c->name, fence);
        r = resource_ask(resource, request, answer, sizeof(answer));
        if (r < 0)
                return r;
        if (strcmp(answer, "stale") == 0) {
                snprintf(s.reason, sizeof(s.reason), "stale-read");
                return client_complete(c, &s, op, op);
        }
        if (sscanf(answer, "ok %" SCNu64, &base) != 1)
                return -EBADMSG;

        work_pause(c);

        snprintf(request, sizeof(request), "write %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", c->name, fence, base,
                 base + 1);
        r = resource_ask(resource, request, answer, sizeof(answer));
        if (r < 0)
                return r;
        if (strcmp(answer, "stale") == 0) {
                snprintf(s.reason, sizeof(s.reason), "stale");
                return client_complete(c, &s, op, op);
        }
        if (strcmp(answer, "ok") != 0)
                return -EBADMSG;
        s.outcome = OUTCOME_OK;
        snprintf(ok, sizeof(ok), "incr %s %" PRIu64, c->name, base + 1);
        return client_complete(c, &s, op, ok);
}

int workload_lock(struct client *c) {
        char lock_name[96], op[96];
        _cleanup_close_ int resource = -EBADF;
        int r = 0;

        resource = resource_connect(c->resource);
        if (resource < 0) {
                fprintf(stderr, "client %" PRIu64 ": cannot reach the resource %s: %s\n", c->index, c->resource,
                        strerror(-resource));
                return resource;
        }
        snprintf(lock_name, sizeof(lock_name), "/fault/lock/%s", c->name);
        snprintf(op, sizeof(op), "incr %s", c->name);

        while (r >= 0 && client_running(c)) {
                _cleanup_close_ int lock = -EBADF;
                struct call_status s;
                uint64_t fence = 0;

                r = client_invoke(c, op);
                if (r < 0)
                        break;
                s = call_acquire(&c->caller, lock_name, LOCK_WAIT_USEC, &lock, &fence);
                if (s.outcome == OUTCOME_OK)
                        r = increment(c, resource, fence, op);
                else {
                        /* Without the lock nothing reached the resource: no effect. */
                        if (s.outcome == OUTCOME_UNKNOWN)
                                s.outcome = OUTCOME_FAIL;
                        r = client_complete(c, &s, op, op);
                }
                if (r == -EBADMSG || r == -ECONNRESET || r == -EIO)
                        fprintf(stderr, "client %" PRIu64 ": the resource broke off: %s\n", c->index, strerror(-r));
        }
        return r;
}
