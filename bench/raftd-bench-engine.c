/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node engine end to end: a 3-node cluster on loopback, one process
 * per node, measured through the embedded API (libraftd) of node 1, which
 * this program embeds on its own libev loop.  Nodes 2 and 3 are
 * raftd-embed-node processes.
 *
 *   raftd-bench-engine [DIR] [SECONDS-PER-ROW]
 *
 * DIR defaults to /var/tmp: a scratch directory is made in it for the
 * cluster key, the three data directories and the raw fdatasync file, and
 * removed afterwards.  The path of raftd-embed-node is fixed at build time
 * (the one built next to this program); RAFTD_EMBED_NODE overrides it.
 * RAFTD_BENCH_SNAPSHOT_ENTRIES=N sets every node's snapshot interval (0:
 * never) instead of the library's default; RAFTD_BENCH_VERBOSE=1 prints
 * node 1's log lines; RAFTD_BENCH_ROWS=leader-put-256,follower-put-1,...
 * runs only the rows named (role-op-depth), e.g. under a profiler.
 *
 * Besides rates and latencies every row reports the CPU time the three
 * processes spent in its measured window per completed request (user +
 * system, from getrusage() and /proc/PID/stat), in total and for node 1
 * (which includes this load generator), node 2 and node 3: on a shared
 * machine it varies much less than the rates do.
 *
 * Workloads, each with 1, 16 and 256 requests in flight (closed loop: a
 * completed request is replaced by a new one), a 1 s warm-up and then
 * SECONDS-PER-ROW measured: put (sequential 8-byte keys, 64-byte values)
 * and linearizable get of keys written before.  Every workload runs
 * twice: with node 1 the leader, and with node 1 a follower, which
 * forwards to the leader.  The roles are arranged by pausing nodes: the
 * leader child gets SIGSTOP until another node leads, and node 1 gives up
 * leadership by not running its loop for longer than an election timeout.
 *
 * The raw rate of one small write + fdatasync on a plain file is measured
 * in the same directory before the cluster starts and after it ran; the
 * put rate with 256 in flight is compared to the higher of the two.
 *
 * Not a test: nothing is asserted, and meson test does not run it.  Every
 * wait is bounded; the children are killed on every exit path (and get
 * SIGKILL from the kernel should this process die first). */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/free-port.h"
#include "net/key.h"
#include "raftd.h"

#ifndef EMBED_NODE_PATH
#error "EMBED_NODE_PATH must name the raftd-embed-node binary"
#endif

#define N_NODES 3
#define KEY_SIZE 8
#define VALUE_SIZE 64
#define RAW_WRITE_SIZE 64
#define RAW_SECONDS 2.0
#define WARMUP_SECONDS 1.0
#define HEARTBEAT_MS 50 /* as raftd-embed-node */
#define ELECTION_MS 500
#define START_TIMEOUT_S 30.0
#define ROLE_TIMEOUT_S 10.0
#define DRAIN_TIMEOUT_S 15.0
#define LEADER_ROUNDS 8

enum op { OP_PUT, OP_GET };
enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN };

struct bench;

struct child {
        struct bench *b;
        unsigned id;
        pid_t pid;
        int in_fd, out_fd;
        bool ready;   /* its client session is registered */
        struct raftd_status st;
        ev_io out;
        char buf[4096];
        size_t len;
};

struct slot {
        struct workload *w;
        uint64_t started_ns;
};

/* CPU time (user + system) of the three processes, in ns. */
struct cpu_sample {
        uint64_t ns[N_NODES + 1];
};

struct workload {
        struct bench *b;
        enum op op;
        unsigned depth;
        enum phase phase;
        struct slot *slots;
        unsigned *idle; /* stack of slot numbers */
        unsigned n_idle;
        unsigned in_flight;
        uint64_t measure_start, measure_end;
        struct cpu_sample cpu_start, cpu_end;
        uint64_t *lat;
        size_t n_lat, cap_lat;
        uint64_t errors;
        int last_error;
        int fatal;
        ev_timer phase_timer;
        double measure_seconds;
};

struct row {
        enum raftd_role role_start, role_end;
        double cpu_us[N_NODES + 1]; /* per request; [0] is the sum */
        double raw_rate; /* fdatasync/s measured just before the row, 0: not measured */
        enum op op;
        unsigned depth;
        uint64_t ops, errors;
        double seconds, p50, p99, p999, max;
};

struct bench {
        struct ev_loop *loop;
        char dir[PATH_MAX];
        char key[PATH_MAX + 16];
        const char *node_path;
        int ports[N_NODES + 1];
        struct child ch[N_NODES + 1]; /* 2 and 3 */
        struct raftd_node *node;
        bool verbose;
        const char *snapshot_entries; /* NULL: the library's default */
        const char *rows;             /* NULL: all, else "leader-put-256,..." */
        int stop_error; /* a child died or a signal came: stop everything */

        /* run_until() */
        bool (*cond)(struct bench *b, void *arg);
        void *cond_arg;
        bool cond_met;
        ev_check cond_check;
        ev_timer cond_deadline;
        ev_signal sigs[3];

        struct workload w;
        ev_prepare issue;
        uint64_t next_put_key;
        uint64_t next_get_key;
        uint8_t value[VALUE_SIZE];
};

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static const char *role_name(enum raftd_role r) {
        switch (r) {
        case RAFTD_LEADER:
                return "leader";
        case RAFTD_FOLLOWER:
                return "follower";
        case RAFTD_CANDIDATE:
                return "candidate";
        }
        return "?";
}

/* ---- waiting on the loop ---- */

static void on_cond_check(struct ev_loop *loop, ev_check *w, int revents) {
        struct bench *b = w->data;

        if (b->stop_error || b->cond(b, b->cond_arg)) {
                b->cond_met = !b->stop_error;
                ev_break(loop, EVBREAK_ONE);
        }
}

static void on_cond_deadline(struct ev_loop *loop, ev_timer *w, int revents) {
        ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop until cond() holds, checked after every loop iteration
 * (the node's heartbeat timer guarantees iterations). */
static int run_until(struct bench *b, bool (*cond)(struct bench *b, void *arg), void *arg, double timeout_s) {
        if (b->stop_error)
                return b->stop_error;
        if (cond(b, arg))
                return 0;
        b->cond = cond;
        b->cond_arg = arg;
        b->cond_met = false;
        ev_check_start(b->loop, &b->cond_check);
        ev_timer_set(&b->cond_deadline, timeout_s, 0.0);
        ev_timer_start(b->loop, &b->cond_deadline);
        ev_run(b->loop, 0);
        ev_check_stop(b->loop, &b->cond_check);
        ev_timer_stop(b->loop, &b->cond_deadline);
        if (b->stop_error)
                return b->stop_error;
        return b->cond_met ? 0 : -ETIMEDOUT;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
        struct bench *b = w->data;

        fprintf(stderr, "interrupted by signal %d, cleaning up\n", w->signum);
        b->stop_error = -EINTR;
        ev_break(loop, EVBREAK_ALL);
}

/* ---- the two child nodes ---- */

static int free_port(void) {
        int port = free_tcp_port();

        if (port < 0)
                abort(); /* no free port below the ephemeral range */
        return port;
}

static void child_line(struct child *c, char *line) {
        unsigned role;
        struct raftd_status s = { .id = c->id };

        if (strcmp(line, "ready") == 0) {
                c->ready = true;
                return;
        }
        /* "s status ROLE TERM LEADER COMMIT APPLIED" */
        if (sscanf(line, "s status %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &role, &s.term, &s.leader,
                   &s.commit_index, &s.applied_index) == 5) {
                s.role = (enum raftd_role) role;
                c->st = s;
        }
}

static void on_child_output(struct ev_loop *loop, ev_io *w, int revents) {
        struct child *c = w->data;
        ssize_t k = read(c->out_fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
        char *start, *nl;

        if (k <= 0) {
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                fprintf(stderr, "node %u exited unexpectedly\n", c->id);
                ev_io_stop(loop, w);
                c->b->stop_error = -ECHILD;
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        c->len += (size_t) k;
        c->buf[c->len] = 0;
        start = c->buf;
        while ((nl = strchr(start, '\n'))) {
                *nl = 0;
                child_line(c, start);
                start = nl + 1;
        }
        c->len -= (size_t) (start - c->buf);
        memmove(c->buf, start, c->len);
        if (c->len == sizeof(c->buf) - 1)
                c->len = 0; /* a line this long is nothing we asked for */
}

static int child_start(struct bench *b, unsigned id) {
        struct child *c = &b->ch[id];
        char args[9 + N_NODES][PATH_MAX + 32];
        char *argv[10 + N_NODES];
        unsigned k = 0;
        pid_t parent = getpid();
        int in[2], out[2];

        snprintf(args[k], sizeof(args[k]), "%s", b->node_path);
        snprintf(args[++k], sizeof(args[k]), "--id=%u", id);
        snprintf(args[++k], sizeof(args[k]), "--dir=%s/n%u", b->dir, id);
        snprintf(args[++k], sizeof(args[k]), "--listen=127.0.0.1:%d", b->ports[id]);
        snprintf(args[++k], sizeof(args[k]), "--key=%s", b->key);
        for (unsigned i = 1; i <= N_NODES; i++)
                snprintf(args[++k], sizeof(args[k]), "--peer=%u=127.0.0.1:%d", i, b->ports[i]);
        if (b->snapshot_entries)
                snprintf(args[++k], sizeof(args[k]), "--snapshot-entries=%s", b->snapshot_entries);
        k++;
        for (unsigned i = 0; i < k; i++)
                argv[i] = args[i];
        argv[k] = NULL;

        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(out, O_CLOEXEC) < 0) {
                close(in[0]);
                close(in[1]);
                return -errno;
        }
        c->pid = fork();
        if (c->pid < 0) {
                int r = -errno;

                close(in[0]);
                close(in[1]);
                close(out[0]);
                close(out[1]);
                return r;
        }
        if (c->pid == 0) {
                /* Should the benchmark die without cleaning up, so does the node. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        c->b = b;
        c->id = id;
        c->in_fd = in[1];
        c->out_fd = out[0];
        (void) fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
        ev_io_init(&c->out, on_child_output, c->out_fd, EV_READ);
        c->out.data = c;
        ev_io_start(b->loop, &c->out);
        return 0;
}

static void child_kill(struct bench *b, struct child *c) {
        if (c->pid <= 0)
                return;
        ev_io_stop(b->loop, &c->out);
        (void) kill(c->pid, SIGKILL); /* also ends a stopped process */
        (void) waitpid(c->pid, NULL, 0);
        c->pid = 0;
        close(c->in_fd);
        close(c->out_fd);
}

static void child_ask_status(struct child *c) {
        static const char req[] = "s status\n";

        /* A node that cannot take a line now gets asked again. */
        (void) !write(c->in_fd, req, sizeof(req) - 1);
}

static void child_signal(struct child *c, int sig) {
        if (c->pid > 0)
                (void) kill(c->pid, sig);
}

/* ---- the raw fdatasync rate ---- */

static int bench_raw_fdatasync(const char *dir, double *ret_rate) {
        uint8_t rec[RAW_WRITE_SIZE];
        uint64_t start, end, n = 0;
        char path[PATH_MAX + 16];
        int fd, r = 0;

        snprintf(path, sizeof(path), "%s/raw", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        memset(rec, 0x5a, sizeof(rec));
        start = now_ns();
        end = start + (uint64_t) (RAW_SECONDS * 1e9);
        while (now_ns() < end) {
                if (write(fd, rec, sizeof(rec)) != (ssize_t) sizeof(rec) || fdatasync(fd) < 0) {
                        r = -EIO;
                        break;
                }
                n++;
        }
        *ret_rate = (double) n / ((double) (now_ns() - start) / 1e9);
        close(fd);
        (void) unlink(path);
        return r;
}

struct raw_probe {
        pid_t pid;
        int fd;
        bool done;
        double rate;
        ev_io io;
};

static void on_raw_probe(struct ev_loop *loop, ev_io *w, int revents) {
        struct raw_probe *p = w->data;
        double rate;

        if (read(p->fd, &rate, sizeof(rate)) == (ssize_t) sizeof(rate))
                p->rate = rate;
        p->done = true; /* a short read or EOF: the probe failed, rate stays 0 */
        ev_io_stop(loop, w);
}

static bool raw_probe_done(struct bench *b, void *arg) {
        return ((struct raw_probe *) arg)->done;
}

/* While the cluster runs, node 1's loop must keep running too (a silent
 * leader gets replaced), so the fdatasync loop runs in a child process. */
static int raw_rate_beside_cluster(struct bench *b, double *ret_rate) {
        struct raw_probe p = {};
        pid_t parent = getpid();
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        p.pid = fork();
        if (p.pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (p.pid == 0) {
                double rate = 0;

                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                close(fds[0]);
                if (bench_raw_fdatasync(b->dir, &rate) < 0)
                        _exit(1);
                _exit(write(fds[1], &rate, sizeof(rate)) == (ssize_t) sizeof(rate) ? 0 : 1);
        }
        close(fds[1]);
        p.fd = fds[0];
        ev_io_init(&p.io, on_raw_probe, p.fd, EV_READ);
        p.io.data = &p;
        ev_io_start(b->loop, &p.io);
        r = run_until(b, raw_probe_done, &p, 4 * RAW_SECONDS + 5);
        ev_io_stop(b->loop, &p.io);
        if (!p.done)
                (void) kill(p.pid, SIGKILL);
        (void) waitpid(p.pid, NULL, 0);
        close(p.fd);
        if (r < 0)
                return r;
        if (p.rate <= 0)
                return -EIO;
        *ret_rate = p.rate;
        return 0;
}

/* ---- CPU time ---- */

static uint64_t self_cpu_ns(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return ((uint64_t) ru.ru_utime.tv_sec + (uint64_t) ru.ru_stime.tv_sec) * 1000000000ULL +
               ((uint64_t) ru.ru_utime.tv_usec + (uint64_t) ru.ru_stime.tv_usec) * 1000ULL;
}

/* utime + stime of a running child: fields 14 and 15 of /proc/PID/stat,
 * counted after the command name, which may hold spaces. */
static uint64_t child_cpu_ns(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long utime, stime;
        ssize_t k;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        k = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (k <= 0)
                return 0;
        buf[k] = 0;
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return 0;
        return (uint64_t) (utime + stime) * (1000000000ULL / (uint64_t) sysconf(_SC_CLK_TCK));
}

static void cpu_sample(struct bench *b, struct cpu_sample *s) {
        s->ns[0] = 0;
        s->ns[1] = self_cpu_ns();
        for (unsigned id = 2; id <= N_NODES; id++)
                s->ns[id] = child_cpu_ns(b->ch[id].pid);
}

/* ---- workloads ---- */

static void key_of(uint64_t n, uint8_t key[KEY_SIZE]) {
        /* Big-endian, so consecutive keys sort consecutively. */
        for (unsigned i = 0; i < KEY_SIZE; i++)
                key[i] = (uint8_t) (n >> (8 * (KEY_SIZE - 1 - i)));
}

static void workload_done_one(struct slot *s, int error) {
        struct workload *w = s->w;
        uint64_t t = now_ns();

        w->in_flight--;
        w->idle[w->n_idle++] = (unsigned) (s - w->slots);
        if (error < 0 && !(w->op == OP_GET && error == RAFTD_E_NO_SUCH_KEY)) {
                if (w->phase == PHASE_MEASURE)
                        w->errors++;
                w->last_error = error;
        } else if (w->phase == PHASE_MEASURE) {
                if (w->n_lat == w->cap_lat) {
                        size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
                        uint64_t *a = realloc(w->lat, cap * sizeof(*a));

                        if (!a) {
                                w->fatal = -ENOMEM;
                                ev_break(w->b->loop, EVBREAK_ONE);
                                return;
                        }
                        w->lat = a;
                        w->cap_lat = cap;
                }
                w->lat[w->n_lat++] = t - s->started_ns;
        }
        if (w->phase == PHASE_DRAIN && w->in_flight == 0)
                ev_break(w->b->loop, EVBREAK_ONE);
}

static void on_put_done(void *userdata, int error, uint64_t revision) {
        workload_done_one(userdata, error);
}

static void on_get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        workload_done_one(userdata, error);
}

/* Requests are issued from a prepare watcher of the highest priority: never
 * from inside a completion (which runs within the node's own processing),
 * and before the node's prepare watcher, so that what is issued in one loop
 * iteration goes out with that iteration's flush. */
static void on_issue(struct ev_loop *loop, ev_prepare *p, int revents) {
        struct bench *b = p->data;
        struct workload *w = &b->w;

        while (w->phase != PHASE_DRAIN && w->n_idle > 0 && !w->fatal) {
                struct slot *s = &w->slots[w->idle[w->n_idle - 1]];
                uint8_t key[KEY_SIZE];
                int r;

                if (w->op == OP_PUT) {
                        key_of(b->next_put_key++, key);
                        s->started_ns = now_ns();
                        r = raftd_put(b->node, key, sizeof(key), b->value, sizeof(b->value), on_put_done, s);
                } else {
                        key_of(b->next_get_key++ % b->next_put_key, key);
                        s->started_ns = now_ns();
                        r = raftd_get(b->node, key, sizeof(key), 0, on_get_done, s);
                }
                if (r < 0) {
                        fprintf(stderr, "node 1 refused a request: %s\n", strerror(-r));
                        w->fatal = r;
                        ev_break(loop, EVBREAK_ONE);
                        return;
                }
                w->n_idle--;
                w->in_flight++;
        }
}

static void on_phase_timer(struct ev_loop *loop, ev_timer *t, int revents) {
        struct workload *w = t->data;

        switch (w->phase) {
        case PHASE_WARMUP:
                w->phase = PHASE_MEASURE;
                cpu_sample(w->b, &w->cpu_start);
                w->measure_start = now_ns();
                ev_timer_set(t, w->measure_seconds, 0.0);
                ev_timer_start(loop, t);
                break;
        case PHASE_MEASURE:
                w->phase = PHASE_DRAIN;
                w->measure_end = now_ns();
                cpu_sample(w->b, &w->cpu_end);
                /* Bounded: whatever is still in flight after this is an error. */
                ev_timer_set(t, DRAIN_TIMEOUT_S, 0.0);
                ev_timer_start(loop, t);
                if (w->in_flight == 0)
                        ev_break(loop, EVBREAK_ONE);
                break;
        case PHASE_DRAIN:
                fprintf(stderr, "%u requests did not complete within %.0f s\n", w->in_flight, DRAIN_TIMEOUT_S);
                w->fatal = -ETIMEDOUT;
                ev_break(loop, EVBREAK_ONE);
                break;
        }
}

static double percentile_ms(const uint64_t *sorted, size_t n, double q) {
        size_t i;

        if (n == 0)
                return 0.0;
        i = (size_t) ((double) n * q);
        if (i >= n)
                i = n - 1;
        return (double) sorted[i] / 1e6;
}

static int run_workload(struct bench *b, enum op op, unsigned depth, double seconds, struct row *ret) {
        struct workload *w = &b->w;
        struct raftd_status st;

        free(w->slots);
        free(w->idle);
        w->slots = calloc(depth, sizeof(*w->slots));
        w->idle = calloc(depth, sizeof(*w->idle));
        if (!w->slots || !w->idle)
                return -ENOMEM;
        w->b = b;
        w->op = op;
        w->depth = depth;
        w->phase = PHASE_WARMUP;
        w->n_lat = 0;
        w->errors = 0;
        w->last_error = 0;
        w->fatal = 0;
        w->in_flight = 0;
        w->measure_seconds = seconds;
        for (unsigned i = 0; i < depth; i++) {
                w->slots[i].w = w;
                w->idle[i] = depth - 1 - i;
        }
        w->n_idle = depth;

        raftd_status(b->node, &st);
        ret->role_start = st.role;
        ev_timer_init(&w->phase_timer, on_phase_timer, WARMUP_SECONDS, 0.0);
        w->phase_timer.data = w;
        ev_timer_start(b->loop, &w->phase_timer);
        ev_prepare_start(b->loop, &b->issue);
        ev_run(b->loop, 0);
        ev_prepare_stop(b->loop, &b->issue);
        ev_timer_stop(b->loop, &w->phase_timer);
        raftd_status(b->node, &st);
        ret->role_end = st.role;
        if (b->stop_error)
                return b->stop_error;
        if (w->fatal)
                return w->fatal;
        if (w->phase != PHASE_DRAIN || w->in_flight > 0) {
                /* The node broke the loop: its storage failed. */
                fprintf(stderr, "node 1 stopped the loop (storage failure?)\n");
                return -EIO;
        }

        qsort(w->lat, w->n_lat, sizeof(*w->lat), cmp_u64);
        *ret = (struct row) {
                .role_start = ret->role_start,
                .role_end = ret->role_end,
                .op = op,
                .depth = depth,
                .ops = w->n_lat,
                .errors = w->errors,
                .seconds = (double) (w->measure_end - w->measure_start) / 1e9,
                .p50 = percentile_ms(w->lat, w->n_lat, 0.50),
                .p99 = percentile_ms(w->lat, w->n_lat, 0.99),
                .p999 = percentile_ms(w->lat, w->n_lat, 0.999),
                .max = percentile_ms(w->lat, w->n_lat, 1.0),
        };
        for (unsigned id = 1; id <= N_NODES && w->n_lat > 0; id++) {
                ret->cpu_us[id] = (double) (w->cpu_end.ns[id] - w->cpu_start.ns[id]) / 1e3 / (double) w->n_lat;
                ret->cpu_us[0] += ret->cpu_us[id];
        }
        if (w->errors > 0)
                fprintf(stderr, "%" PRIu64 " requests failed, the last with %s\n", w->errors,
                        strerror(-w->last_error));
        return 0;
}

/* ---- arranging roles ---- */

static bool node1_serves(struct bench *b, void *arg) {
        int *state = arg; /* 0 idle, 1 in flight, 2 done */

        return *state == 2 && b->ch[2].ready && b->ch[3].ready;
}

static void on_probe_done(void *userdata, int error, uint64_t revision) {
        int *state = userdata;

        *state = error < 0 ? 0 : 2;
}

/* Writes through node 1 until one succeeds and both children registered
 * their client sessions, which they do through the leader: all three serve. */
static int wait_cluster_serves(struct bench *b) {
        static const char key[] = "bench-probe";
        uint64_t end = now_ns() + (uint64_t) (START_TIMEOUT_S * 1e9);
        int state = 0, r;

        while (now_ns() < end) {
                if (state == 0) {
                        r = raftd_put(b->node, key, sizeof(key) - 1, "1", 1, on_probe_done, &state);
                        if (r < 0)
                                return r;
                        state = 1;
                }
                r = run_until(b, node1_serves, &state, 0.5);
                if (r != -ETIMEDOUT)
                        return r;
        }
        return -ETIMEDOUT;
}

static bool leader_other_than(struct bench *b, void *arg) {
        uint64_t not = *(uint64_t *) arg;
        struct raftd_status st;

        raftd_status(b->node, &st);
        return st.leader != 0 && st.leader != not;
}

struct follow {
        struct child *c;
        uint64_t leader;
        uint64_t asked_ns;
};

static bool child_follows(struct bench *b, void *arg) {
        struct follow *f = arg;

        if (f->c->st.role == RAFTD_FOLLOWER && f->c->st.leader == f->leader)
                return true;
        if (now_ns() - f->asked_ns > 50 * 1000000ULL) {
                child_ask_status(f->c);
                f->asked_ns = now_ns();
        }
        return false;
}

/* Pauses whichever child leads until another node leads; a coin toss
 * between node 1 and the other child, repeated a bounded number of times. */
static int make_node1_leader(struct bench *b) {
        for (unsigned round = 0; round < LEADER_ROUNDS; round++) {
                struct raftd_status st;
                struct child *c;
                struct follow f;
                int r;

                raftd_status(b->node, &st);
                if (st.leader == 1 && st.role == RAFTD_LEADER)
                        return 0;
                if (st.leader < 2 || st.leader > N_NODES)
                        return -EBUSY; /* no known leader: the caller waited for one */
                c = &b->ch[st.leader];
                child_signal(c, SIGSTOP);
                r = run_until(b, leader_other_than, &st.leader, ROLE_TIMEOUT_S);
                child_signal(c, SIGCONT);
                if (r < 0)
                        return r;
                /* It must follow again before the next pause, or the
                 * remaining two would lack a quorum. */
                raftd_status(b->node, &st);
                f = (struct follow) { .c = c, .leader = st.leader };
                r = run_until(b, child_follows, &f, ROLE_TIMEOUT_S);
                if (r < 0)
                        return r;
        }
        return -EAGAIN;
}

/* Node 1 falls silent for several election timeouts (its loop does not
 * run, as if it were stopped); the children elect one of them, and node 1
 * follows once it hears the new term. */
static int make_node1_follower(struct bench *b) {
        struct timespec pause = { .tv_sec = 4 * ELECTION_MS / 1000, .tv_nsec = (4 * ELECTION_MS % 1000) * 1000000L };
        uint64_t self = 1;
        struct raftd_status st;

        raftd_status(b->node, &st);
        if (st.role == RAFTD_FOLLOWER && st.leader > 1)
                return 0;
        (void) nanosleep(&pause, NULL);
        return run_until(b, leader_other_than, &self, ROLE_TIMEOUT_S);
}

/* ---- the run ---- */

static void log_line(void *userdata, int priority, const char *message) {
        struct bench *b = userdata;

        if (b->verbose || priority <= 3)
                fprintf(stderr, "node 1: %s\n", message);
}

/* "leader", or "leader>follower" when the role changed during the row. */
static const char *role_label(const struct row *r, char *buf, size_t size) {
        if (r->role_start == r->role_end)
                snprintf(buf, size, "%s", role_name(r->role_start));
        else
                snprintf(buf, size, "%s>%s", role_name(r->role_start), role_name(r->role_end));
        return buf;
}

static int print_row(const struct row *r) {
        char role[32];

        role_label(r, role, sizeof(role));
        return printf("%-16s %-4s %9u %9" PRIu64 " %10.0f %8.3f %8.3f %9.3f %8.3f %7" PRIu64
                      " %8.1f %6.1f %6.1f %6.1f\n",
                      role, r->op == OP_PUT ? "put" : "get", r->depth, r->ops, (double) r->ops / r->seconds, r->p50,
                      r->p99, r->p999, r->max, r->errors, r->cpu_us[0], r->cpu_us[1], r->cpu_us[2], r->cpu_us[3]);
}

static void print_header(void) {
        printf("%-16s %-4s %9s %9s %10s %8s %8s %9s %8s %7s %8s %6s %6s %6s\n", "node 1", "op", "in-flight", "ops",
               "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "cpu us/op", "n1", "n2", "n3");
}

#define MAX_ROWS 12

/* RAFTD_BENCH_ROWS: a comma-separated list of "ROLE-OP-DEPTH". */
static bool row_selected(const struct bench *b, unsigned pass, enum op op, unsigned depth) {
        char name[64];
        const char *p;
        size_t l;

        if (!b->rows)
                return true;
        l = (size_t) snprintf(name, sizeof(name), "%s-%s-%u", pass == 0 ? "leader" : "follower",
                              op == OP_PUT ? "put" : "get", depth);
        for (p = b->rows; (p = strstr(p, name)); p += l)
                if ((p == b->rows || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
                        return true;
        return false;
}

static int run_cluster(struct bench *b, double seconds, struct row *rows, size_t *n_rows) {
        static const unsigned depths[] = { 1, 16, 256 };
        struct raftd_peer peers[N_NODES];
        char addr[N_NODES + 1][32], data_dir[PATH_MAX + 8], listen[32];
        struct raftd_config c;
        uint64_t none = 0;
        double raw = 0;
        int r;

        for (unsigned id = 1; id <= N_NODES; id++) {
                b->ports[id] = free_port();
                if (b->ports[id] < 0)
                        return b->ports[id];
                snprintf(addr[id], sizeof(addr[id]), "127.0.0.1:%d", b->ports[id]);
                peers[id - 1] = (struct raftd_peer) { .id = id, .address = addr[id] };
        }
        for (unsigned id = 2; id <= N_NODES; id++) {
                r = child_start(b, id);
                if (r < 0)
                        return r;
        }

        raftd_config_init(&c);
        c.id = 1;
        snprintf(data_dir, sizeof(data_dir), "%s/n1", b->dir);
        c.data_dir = data_dir;
        snprintf(listen, sizeof(listen), "%s", addr[1]);
        c.listen = listen;
        c.key_file = b->key;
        c.peers = peers;
        c.n_peers = N_NODES;
        c.heartbeat_ms = HEARTBEAT_MS;
        c.election_ms = ELECTION_MS;
        if (b->snapshot_entries)
                c.snapshot_entries = strtoull(b->snapshot_entries, NULL, 10);
        c.log = log_line;
        c.log_userdata = b;
        r = raftd_node_new(b->loop, &c, &b->node);
        if (r < 0)
                return r;
        r = raftd_node_start(b->node);
        if (r < 0)
                return r;
        r = wait_cluster_serves(b);
        if (r < 0) {
                fprintf(stderr, "the cluster did not serve within %.0f s\n", START_TIMEOUT_S);
                return r;
        }
        r = run_until(b, leader_other_than, &none, ROLE_TIMEOUT_S);
        if (r < 0)
                return r;

        *n_rows = 0;
        for (unsigned pass = 0; pass < 2; pass++)
                for (unsigned op = OP_PUT; op <= OP_GET; op++)
                        for (unsigned i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
                                struct row *row;

                                if (!row_selected(b, pass, (enum op) op, depths[i]))
                                        continue;
                                row = &rows[(*n_rows)++];
                                /* Again before every row: leadership can move
                                 * under load, and the table says so. */
                                r = pass == 0 ? make_node1_leader(b) : make_node1_follower(b);
                                if (r < 0 && r != -EAGAIN)
                                        return r;
                                /* A lost coin toss series: run with whatever role node 1 has. */
                                if (r == -EAGAIN)
                                        fprintf(stderr, "node 1 did not win an election in %u rounds\n",
                                                LEADER_ROUNDS);
                                /* The ratio asked for compares this row with
                                 * the disk as it is now, next to it in time. */
                                if (op == OP_PUT && depths[i] == 256) {
                                        r = raw_rate_beside_cluster(b, &raw);
                                        if (r < 0)
                                                return r;
                                }
                                r = run_workload(b, (enum op) op, depths[i], seconds, row);
                                row->raw_rate = op == OP_PUT && depths[i] == 256 ? raw : 0;
                                if (r < 0)
                                        return r;
                                print_row(row);
                                fflush(stdout);
                        }
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int main(int argc, char **argv) {
        static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
        const char *parent = argc > 1 ? argv[1] : "/var/tmp";
        double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
        struct bench *b = calloc(1, sizeof(*b));
        struct row rows[MAX_ROWS] = {};
        size_t n_rows = 0;
        double raw_before = 0, raw_after = 0;
        struct utsname u;
        time_t started = time(NULL);
        char when[64];
        int r;

        if (!b)
                return 1;
        if (argc > 3 || !(seconds > 0 && seconds <= 3600)) {
                fprintf(stderr, "usage: %s [DIR] [SECONDS-PER-ROW]\n", argv[0]);
                return 2;
        }
        b->node_path = getenv("RAFTD_EMBED_NODE") ?: EMBED_NODE_PATH;
        b->verbose = getenv("RAFTD_BENCH_VERBOSE") != NULL;
        b->snapshot_entries = getenv("RAFTD_BENCH_SNAPSHOT_ENTRIES");
        b->rows = getenv("RAFTD_BENCH_ROWS");
        if (b->snapshot_entries && strspn(b->snapshot_entries, "0123456789") != strlen(b->snapshot_entries)) {
                fprintf(stderr, "RAFTD_BENCH_SNAPSHOT_ENTRIES must be a number\n");
                return 2;
        }
        if (access(b->node_path, X_OK) < 0) {
                fprintf(stderr, "cannot run %s: %m (set RAFTD_EMBED_NODE)\n", b->node_path);
                return 1;
        }
        memset(b->value, 'v', sizeof(b->value));
        signal(SIGPIPE, SIG_IGN);
        b->loop = ev_default_loop(0);
        if (!b->loop)
                return 1;
        for (unsigned i = 0; i < 3; i++) {
                ev_signal_init(&b->sigs[i], on_signal, signals[i]);
                b->sigs[i].data = b;
                ev_signal_start(b->loop, &b->sigs[i]);
        }
        ev_check_init(&b->cond_check, on_cond_check);
        b->cond_check.data = b;
        ev_timer_init(&b->cond_deadline, on_cond_deadline, 0.0, 0.0);
        ev_prepare_init(&b->issue, on_issue);
        ev_set_priority(&b->issue, EV_MAXPRI);
        b->issue.data = b;

        snprintf(b->dir, sizeof(b->dir), "%s/raftd-bench-engine.XXXXXX", parent);
        if (!mkdtemp(b->dir)) {
                fprintf(stderr, "cannot create a scratch directory in %s: %m\n", parent);
                return 1;
        }
        snprintf(b->key, sizeof(b->key), "%s/cluster.key", b->dir);

        uname(&u);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&started));
        printf("raftd-bench-engine: %s %s %s, %ld CPUs, directory %s, %s\n", u.sysname, u.release, u.machine,
               sysconf(_SC_NPROCESSORS_ONLN), parent, when);
        printf("3 processes on 127.0.0.1, requests through node 1's embedded API, %.0f s warm-up + %.1f s per row,\n"
               "%d-byte sequential keys, %d-byte values, heartbeat %d ms, election %d ms, snapshot every %s entries\n",
               WARMUP_SECONDS, seconds, KEY_SIZE, VALUE_SIZE, HEARTBEAT_MS, ELECTION_MS,
               b->snapshot_entries ?: "10000 (default)");
        fflush(stdout);

        r = net_key_generate(b->key, NULL);
        if (r >= 0)
                r = bench_raw_fdatasync(b->dir, &raw_before);
        if (r >= 0) {
                print_header();
                r = run_cluster(b, seconds, rows, &n_rows);
        }
        b->node = raftd_node_free(b->node);
        for (unsigned id = 2; id <= N_NODES; id++)
                child_kill(b, &b->ch[id]);
        if (r >= 0 && !b->stop_error)
                r = bench_raw_fdatasync(b->dir, &raw_after);
        (void) nftw(b->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(b->w.slots);
        free(b->w.idle);
        free(b->w.lat);
        for (unsigned i = 0; i < 3; i++)
                ev_signal_stop(b->loop, &b->sigs[i]);
        free(b);
        if (r < 0) {
                fprintf(stderr, "benchmark failed: %s\n", strerror(-r));
                return 1;
        }

        printf("raw %d-byte write+fdatasync: %.0f/s before the cluster started, %.0f/s after it stopped\n",
               RAW_WRITE_SIZE, raw_before, raw_after);
        for (size_t i = 0; i < n_rows; i++)
                if (rows[i].raw_rate > 0)
                        printf("put, 256 in flight, node 1 %s: %.0f ops/s = %.1fx the raw rate of %.0f/s measured "
                               "just before it (%.1fx the higher of before/after)\n",
                               role_label(&rows[i], (char[32]) {}, 32), (double) rows[i].ops / rows[i].seconds,
                               (double) rows[i].ops / rows[i].seconds / rows[i].raw_rate, rows[i].raw_rate,
                               (double) rows[i].ops / rows[i].seconds /
                                       (raw_before > raw_after ? raw_before : raw_after));
        return 0;
}
