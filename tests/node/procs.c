/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/free-port.h"
#include "net/key.h"
#include "procs.h"

#ifndef EMBED_NODE_PATH
#error "EMBED_NODE_PATH must name the raftd-embed-node binary"
#endif

static void die(const char *what) {
        fprintf(stderr, "procs: %s: %s\n", what, strerror(errno));
        abort();
}

/* A port the kernel just handed out and released: free for a moment. */
static int free_port(void) {
        int port = free_tcp_port();

        if (port < 0)
                abort(); /* no free port below the ephemeral range */
        return port;
}

void procs_init(struct procs *ps, unsigned n) {
        memset(ps, 0, sizeof(*ps));
        ps->n = n;
        strcpy(ps->dir, "/tmp/raftd-procs-XXXXXX");
        if (!mkdtemp(ps->dir))
                die("mkdtemp");
        snprintf(ps->key, sizeof(ps->key), "%s/cluster.key", ps->dir);
        if (net_key_generate(ps->key, NULL) < 0)
                die("key");
        for (unsigned id = 1; id <= n; id++) {
                ps->ports[id] = free_port();
                ps->p[id].pid = -1;
        }
        signal(SIGPIPE, SIG_IGN);
}

void procs_start(struct procs *ps, unsigned id) {
        struct proc *p = &ps->p[id];
        int in[2], out[2];
        char *argv[32], args[32][160];
        unsigned k = 0;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                die("pipe");
#define ARG(...)                                                                                                       \
        do {                                                                                                           \
                snprintf(args[k], sizeof(args[k]), __VA_ARGS__);                                                       \
                argv[k] = args[k];                                                                                     \
                k++;                                                                                                   \
        } while (0)
        ARG("%s", EMBED_NODE_PATH);
        ARG("--id=%u", id);
        ARG("--dir=%s/n%u", ps->dir, id);
        ARG("--listen=127.0.0.1:%d", ps->ports[id]);
        ARG("--key=%s", ps->key);
        if (ps->snapshot_entries)
                ARG("--snapshot-entries=%" PRIu64, ps->snapshot_entries);
        if (ps->snapshot_trailing)
                ARG("--snapshot-trailing=%" PRIu64, ps->snapshot_trailing);
        if (ps->join[id])
                ARG("--join");
        else
                for (unsigned i = 1; i <= ps->n; i++)
                        if (!ps->join[i])
                                ARG("--peer=%u=127.0.0.1:%d", i, ps->ports[i]);
        if (getenv("RAFTD_TEST_VERBOSE"))
                ARG("--verbose");
        argv[k] = NULL;
#undef ARG
        p->pid = fork();
        if (p->pid < 0)
                die("fork");
        if (p->pid == 0) {
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        p->in_fd = in[1];
        p->out_fd = out[0];
        p->ready = false;
        p->len = 0;
}

void procs_start_all(struct procs *ps) {
        for (unsigned id = 1; id <= ps->n; id++)
                procs_start(ps, id);
}

bool procs_alive(const struct procs *ps, unsigned id) {
        return ps->p[id].pid > 0;
}

void procs_signal(struct procs *ps, unsigned id, int sig) {
        struct proc *p = &ps->p[id];

        if (p->pid <= 0)
                return;
        kill(p->pid, sig);
        if (sig == SIGKILL) {
                (void) waitpid(p->pid, NULL, 0);
                p->pid = -1;
                close(p->in_fd);
                close(p->out_fd);
                p->ready = false;
        }
}

void procs_send(struct procs *ps, unsigned id, const char *fmt, ...) {
        struct proc *p = &ps->p[id];
        char line[1024];
        va_list ap;
        int len;

        if (p->pid <= 0)
                return;
        va_start(ap, fmt);
        len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        line[len++] = '\n';
        /* A stopped node's pipe may fill: then the request is simply lost. */
        (void) !write(p->in_fd, line, (size_t) len);
}

static void consume(struct procs *ps, unsigned id) {
        struct proc *p = &ps->p[id];
        char *start = p->buf, *nl;

        while ((nl = memchr(start, '\n', p->len - (size_t) (start - p->buf)))) {
                *nl = 0;
                if (strcmp(start, "ready") == 0)
                        p->ready = true;
                else if (ps->on_line)
                        ps->on_line(ps, id, start, ps->userdata);
                start = nl + 1;
        }
        p->len -= (size_t) (start - p->buf);
        memmove(p->buf, start, p->len);
}

bool procs_poll(struct procs *ps, int timeout_ms) {
        struct pollfd fds[PROCS_MAX];
        unsigned ids[PROCS_MAX], n = 0;
        bool any = false;
        int k;

        for (unsigned id = 1; id <= ps->n; id++)
                if (ps->p[id].pid > 0) {
                        fds[n] = (struct pollfd) { .fd = ps->p[id].out_fd, .events = POLLIN };
                        ids[n++] = id;
                }
        k = poll(fds, n, timeout_ms);
        if (k <= 0)
                return false;
        for (unsigned i = 0; i < n; i++) {
                struct proc *p = &ps->p[ids[i]];
                ssize_t r;

                if (!(fds[i].revents & (POLLIN | POLLHUP)))
                        continue;
                r = read(p->out_fd, p->buf + p->len, sizeof(p->buf) - p->len);
                if (r > 0) {
                        p->len += (size_t) r;
                        consume(ps, ids[i]);
                        any = true;
                }
        }
        return any;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

bool procs_wait(struct procs *ps, bool (*cond)(struct procs *ps, void *arg), void *arg, int deadline_ms) {
        uint64_t end = now_ms() + (uint64_t) deadline_ms;

        while (!cond(ps, arg)) {
                uint64_t now = now_ms();

                if (now >= end)
                        return false;
                (void) procs_poll(ps, (int) (end - now < 50 ? end - now : 50));
        }
        return true;
}

bool procs_all_ready(struct procs *ps, void *arg) {
        for (unsigned id = 1; id <= ps->n; id++)
                if (ps->p[id].pid > 0 && !ps->p[id].ready)
                        return false;
        return true;
}

struct leader_probe {
        void (*saved)(struct procs *, unsigned, const char *, void *);
        void *saved_userdata;
        unsigned answers;
        unsigned leaders[PROCS_MAX + 1];
};

static void on_status(struct procs *ps, unsigned id, const char *line, void *userdata) {
        struct leader_probe *lp = userdata;
        unsigned role;
        uint64_t term, leader;

        if (sscanf(line, "probe status %u %" SCNu64 " %" SCNu64, &role, &term, &leader) == 3) {
                lp->leaders[id] = (unsigned) leader;
                lp->answers++;
        } else if (lp->saved)
                lp->saved(ps, id, line, lp->saved_userdata);
}

static bool probe_answered(struct procs *ps, void *arg) {
        struct leader_probe *lp = arg;
        unsigned live = 0;

        for (unsigned id = 1; id <= ps->n; id++)
                live += ps->p[id].pid > 0;
        return lp->answers >= live;
}

unsigned procs_leader(struct procs *ps, int deadline_ms) {
        uint64_t end = now_ms() + (uint64_t) deadline_ms;

        while (now_ms() < end) {
                struct leader_probe lp = { .saved = ps->on_line, .saved_userdata = ps->userdata };
                unsigned agreed = 0;
                bool same = true;

                ps->on_line = on_status;
                ps->userdata = &lp;
                for (unsigned id = 1; id <= ps->n; id++)
                        procs_send(ps, id, "probe status");
                (void) procs_wait(ps, probe_answered, &lp, 1000);
                ps->on_line = lp.saved;
                ps->userdata = lp.saved_userdata;
                for (unsigned id = 1; id <= ps->n; id++) {
                        if (ps->p[id].pid <= 0)
                                continue;
                        if (agreed == 0)
                                agreed = lp.leaders[id];
                        same = same && lp.leaders[id] == agreed;
                }
                if (same && agreed != 0 && ps->p[agreed].pid > 0)
                        return agreed;
                (void) procs_poll(ps, 50);
        }
        return 0;
}

void procs_destroy(struct procs *ps) {
        char cmd[160];

        for (unsigned id = 1; id <= ps->n; id++) {
                if (ps->p[id].pid > 0)
                        kill(ps->p[id].pid, SIGCONT);
                procs_signal(ps, id, SIGKILL);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", ps->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "procs: could not remove %s\n", ps->dir);
}
