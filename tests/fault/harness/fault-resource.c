/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd-fault-resource: the protected resource of the lock workload, a
 * counter per name behind a unix socket (resource-protocol.h).  It keeps
 * the highest fence it has seen and refuses older ones, as a resource
 * guarded by raftd's locks must; with --no-fence-check it accepts
 * everything (the counter-example).  Every write it receives becomes one
 * history line "ok|fail write-fenced R FENCE BASE CURRENT NEW [stale]".
 *
 * raftd-fault-resource --socket PATH --history FILE --process ID [--no-fence-check]
 * Prints "ready" once it listens; ends when stdin closes. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "history.h"
#include "resource-protocol.h"
#include "unix-address.h"
#include "shared/macro.h"

#define CONNECTIONS_MAX 64
#define COUNTERS_MAX 8

struct counter {
        char name[64];
        uint64_t value;
        uint64_t highest_fence;
};

struct connection {
        int fd;
        char buf[RESOURCE_LINE_MAX];
        size_t len;
};

struct resource {
        struct history history;
        bool check_fences;
        struct counter counters[COUNTERS_MAX];
        size_t n_counters;
        struct connection conns[CONNECTIONS_MAX];
};

static struct counter *counter_get(struct resource *res, const char *name) {
        for (size_t i = 0; i < res->n_counters; i++)
                if (strcmp(res->counters[i].name, name) == 0)
                        return &res->counters[i];
        if (res->n_counters == COUNTERS_MAX || strlen(name) >= sizeof(res->counters[0].name))
                return NULL;
        struct counter *c = &res->counters[res->n_counters++];
        snprintf(c->name, sizeof(c->name), "%s", name);
        return c;
}

/* Whether a request with this fence may touch the counter; raises the
 * highest fence seen. */
static bool fence_admits(struct resource *res, struct counter *c, uint64_t fence) {
        if (res->check_fences && fence < c->highest_fence)
                return false;
        c->highest_fence = MAX(c->highest_fence, fence);
        return true;
}

/* Answers one request line; negative on a malformed one. */
static int handle(struct resource *res, const char *line, char *answer, size_t size) {
        char name[64];
        uint64_t fence, base, new_value;
        struct counter *c;

        if (sscanf(line, "read %63s %" SCNu64, name, &fence) == 2) {
                c = counter_get(res, name);
                if (!c)
                        return -ENOSPC;
                if (!fence_admits(res, c, fence))
                        snprintf(answer, size, "stale\n");
                else
                        snprintf(answer, size, "ok %" PRIu64 "\n", c->value);
                return 0;
        }
        if (sscanf(line, "write %63s %" SCNu64 " %" SCNu64 " %" SCNu64, name, &fence, &base, &new_value) == 4) {
                uint64_t current;
                bool admitted;

                c = counter_get(res, name);
                if (!c)
                        return -ENOSPC;
                current = c->value;
                admitted = fence_admits(res, c, fence);
                if (admitted)
                        c->value = new_value;
                snprintf(answer, size, admitted ? "ok\n" : "stale\n");
                return history_log(&res->history, admitted ? "ok" : "fail",
                                   "write-fenced %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "%s", name, fence,
                                   base, current, new_value, admitted ? "" : " stale");
        }
        return -EBADMSG;
}

static void connection_close(struct connection *conn) {
        if (conn->fd >= 0)
                close(conn->fd);
        conn->fd = -1;
        conn->len = 0;
}

static int connection_input(struct resource *res, struct connection *conn) {
        ssize_t n = read(conn->fd, conn->buf + conn->len, sizeof(conn->buf) - conn->len);
        char *nl;

        if (n <= 0) {
                connection_close(conn);
                return 0;
        }
        conn->len += (size_t) n;
        while ((nl = memchr(conn->buf, '\n', conn->len))) {
                char answer[RESOURCE_LINE_MAX];
                size_t line_len = (size_t) (nl - conn->buf);
                int r;

                *nl = 0;
                r = handle(res, conn->buf, answer, sizeof(answer));
                if (r < 0) {
                        fprintf(stderr, "resource: bad request \"%s\": %s\n", conn->buf, strerror(-r));
                        return r;
                }
                if (write(conn->fd, answer, strlen(answer)) < 0)
                        connection_close(conn);
                memmove(conn->buf, nl + 1, conn->len - line_len - 1);
                conn->len -= line_len + 1;
                if (conn->fd < 0)
                        return 0;
        }
        if (conn->len == sizeof(conn->buf)) {
                fprintf(stderr, "resource: request line too long\n");
                return -EBADMSG;
        }
        return 0;
}

static int listen_on(const char *path) {
        struct sockaddr_un sa;
        int fd, r;

        r = unix_address(path, &sa);
        if (r < 0)
                return r;
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, CONNECTIONS_MAX) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int serve(struct resource *res, int listen_fd) {
        for (;;) {
                struct pollfd p[CONNECTIONS_MAX + 2];
                size_t n = 0;

                p[n++] = (struct pollfd) { .fd = STDIN_FILENO, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = listen_fd, .events = POLLIN };
                for (size_t i = 0; i < CONNECTIONS_MAX; i++)
                        p[n++] = (struct pollfd) { .fd = res->conns[i].fd, .events = POLLIN };
                if (poll(p, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[0].revents) {
                        char buf[64];

                        if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                                return 0;
                }
                if (p[1].revents & POLLIN) {
                        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                        size_t i;

                        for (i = 0; fd >= 0 && i < CONNECTIONS_MAX && res->conns[i].fd >= 0; i++)
                                ;
                        if (fd >= 0 && i == CONNECTIONS_MAX) {
                                fprintf(stderr, "resource: more than %d clients\n", CONNECTIONS_MAX);
                                close(fd);
                                return -EMFILE;
                        }
                        if (fd >= 0)
                                res->conns[i].fd = fd;
                }
                for (size_t i = 0; i < CONNECTIONS_MAX; i++)
                        if (res->conns[i].fd >= 0 && p[i + 2].revents) {
                                int r = connection_input(res, &res->conns[i]);

                                if (r < 0)
                                        return r;
                        }
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "history", required_argument, NULL, 'H' },
                { "process", required_argument, NULL, 'p' },
                { "no-fence-check", no_argument, NULL, 'n' },
                {},
        };
        static struct resource res;
        const char *socket_path = NULL, *history_path = NULL;
        uint64_t process = 0;
        _cleanup_close_ int listen_fd = -EBADF;
        int c, r;

        res.check_fences = true;
        for (size_t i = 0; i < CONNECTIONS_MAX; i++)
                res.conns[i].fd = -1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'H':
                        history_path = optarg;
                        break;
                case 'p':
                        process = strtoull(optarg, NULL, 10);
                        break;
                case 'n':
                        res.check_fences = false;
                        break;
                default:
                        return 2;
                }
        if (!socket_path || !history_path) {
                fprintf(stderr, "usage: %s --socket PATH --history FILE --process ID [--no-fence-check]\n", argv[0]);
                return 2;
        }
        r = history_open(&res.history, history_path, process, 1);
        if (r < 0) {
                fprintf(stderr, "resource: %s: %s\n", history_path, strerror(-r));
                return 1;
        }
        listen_fd = listen_on(socket_path);
        if (listen_fd < 0) {
                fprintf(stderr, "resource: cannot listen on %s: %s\n", socket_path, strerror(-listen_fd));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        r = serve(&res, listen_fd);
        for (size_t i = 0; i < CONNECTIONS_MAX; i++)
                connection_close(&res.conns[i]);
        history_close(&res.history);
        (void) unlink(socket_path);
        return r < 0 ? 1 : 0;
}
