/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real raftd processes on 127.0.0.1 (with --no-bus until the D-Bus front
 * end is merged), each with its own config file and its own sd_notify
 * socket that the test reads: the daemon as systemd would see it.
 *
 * Every wait here is for an event (a notify datagram, a process exit via
 * its pidfd) with a generous deadline that only bounds a failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared/free-port.h"

#ifndef RAFTD_PATH
#error "RAFTD_PATH must name the raftd binary"
#endif

#define NODES 3
#define MAX_MSGS 512
#define DEADLINE_MS 30000

struct node {
        pid_t pid;
        int pidfd;
        int notify_fd;
        char notify_path[128];
        char conf[128];
        char log[128];
        char *msgs[MAX_MSGS]; /* one notify assignment ("READY=1") each, in arrival order */
        unsigned n_msgs;
        bool exited;
        int wait_status;
};

struct cluster {
        char dir[64];
        char key[96];
        int ports[NODES + 1];
        struct node n[NODES + 1];
};

static void die(const char *what) {
        fail_msg("%s: %s", what, strerror(errno));
}

static int free_port(void) {
        int port = free_tcp_port();

        if (port < 0)
                abort(); /* no free port below the ephemeral range */
        return port;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f)
                die(path);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* The node's config: the cluster's [Node] and [Peers], fast timeouts, and
 * whatever `extra` adds at the end. */
static void write_config(struct cluster *c, unsigned id, unsigned conf_id, const char *extra) {
        char text[2048];
        int k;

        k = snprintf(text, sizeof(text),
                     "# raftd test node %u\n[Node]\nId=%u\nListen=127.0.0.1:%d\nDataDirectory=%s/n%u\n"
                     "ClusterKeyFile=%s\n[Timeouts]\nHeartbeatSec=50ms\nElectionSec=500ms\nRequestSec=2s\n[Peers]\n",
                     id, conf_id, c->ports[id], c->dir, id, c->key);
        for (unsigned i = 1; i <= NODES; i++)
                k += snprintf(text + k, sizeof(text) - (size_t) k, "%u=127.0.0.1:%d\n", i, c->ports[i]);
        snprintf(text + k, sizeof(text) - (size_t) k, "%s", extra ?: "");
        write_file(c->n[id].conf, text);
}

static void cluster_init(struct cluster *c) {
        uint8_t key[32];
        int fd;

        memset(c, 0, sizeof(*c));
        strcpy(c->dir, "/tmp/raftd-daemon-XXXXXX");
        if (!mkdtemp(c->dir))
                die("mkdtemp");
        snprintf(c->key, sizeof(c->key), "%s/cluster.key", c->dir);
        assert_int_equal(getrandom(key, sizeof(key), 0), (ssize_t) sizeof(key));
        fd = open(c->key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t) sizeof(key))
                die("cluster key");
        close(fd);
        for (unsigned id = 1; id <= NODES; id++) {
                struct node *n = &c->n[id];
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                c->ports[id] = free_port();
                n->pid = -1;
                n->pidfd = -1;
                snprintf(n->conf, sizeof(n->conf), "%s/n%u.conf", c->dir, id);
                snprintf(n->log, sizeof(n->log), "%s/n%u.log", c->dir, id);
                snprintf(n->notify_path, sizeof(n->notify_path), "%s/n%u.notify", c->dir, id);
                n->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n->notify_path);
                if (n->notify_fd < 0 || bind(n->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        die("notify socket");
        }
        for (unsigned id = 1; id <= NODES; id++)
                write_config(c, id, id, NULL);
}

static void node_start(struct cluster *c, unsigned id) {
        struct node *n = &c->n[id];

        n->exited = false;
        n->pid = fork();
        if (n->pid < 0)
                die("fork");
        if (n->pid == 0) {
                char pid[32];
                int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
                        _exit(127);
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                setenv("NOTIFY_SOCKET", n->notify_path, 1);
                /* The watchdog, as systemd hands it to this very process. */
                setenv("WATCHDOG_USEC", "400000", 1);
                setenv("WATCHDOG_PID", pid, 1);
                unsetenv("JOURNAL_STREAM");
                execl(RAFTD_PATH, RAFTD_PATH, "--config", n->conf, "--no-bus", (char *) NULL);
                _exit(127);
        }
        n->pidfd = (int) syscall(SYS_pidfd_open, n->pid, 0);
        if (n->pidfd < 0)
                die("pidfd_open");
}

static void receive(struct node *n, unsigned id) {
        char buf[4096];
        ssize_t k;

        while ((k = recv(n->notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
                char *save = NULL;

                buf[k] = 0;
                for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        assert_true(n->n_msgs < MAX_MSGS);
                        if (getenv("RAFTD_TEST_VERBOSE"))
                                fprintf(stderr, "n%u notify: %s\n", id, l);
                        n->msgs[n->n_msgs] = strdup(l);
                        assert_non_null(n->msgs[n->n_msgs]);
                        n->n_msgs++;
                }
        }
}

static void reap(struct node *n) {
        if (n->pid > 0 && waitpid(n->pid, &n->wait_status, WNOHANG) == n->pid) {
                n->exited = true;
                n->pid = -1;
                close(n->pidfd);
                n->pidfd = -1;
        }
}

/* Wait up to timeout_ms for notify datagrams or a process exit. */
static void pump(struct cluster *c, int timeout_ms) {
        struct pollfd fds[2 * NODES];
        unsigned ids[2 * NODES], k = 0;

        for (unsigned id = 1; id <= NODES; id++) {
                fds[k] = (struct pollfd) { .fd = c->n[id].notify_fd, .events = POLLIN };
                ids[k++] = id;
                if (c->n[id].pidfd >= 0) {
                        fds[k] = (struct pollfd) { .fd = c->n[id].pidfd, .events = POLLIN };
                        ids[k++] = id;
                }
        }
        if (poll(fds, k, timeout_ms) < 0 && errno != EINTR)
                die("poll");
        for (unsigned i = 0; i < k; i++)
                if (fds[i].revents) {
                        /* Datagrams first: a process's last words precede its exit. */
                        receive(&c->n[ids[i]], ids[i]);
                        if (fds[i].fd == c->n[ids[i]].pidfd)
                                reap(&c->n[ids[i]]);
                }
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Index of the first message of node id at or after `from` that starts
 * with prefix, or -1. */
static int find_msg(const struct node *n, unsigned from, const char *prefix) {
        for (unsigned i = from; i < n->n_msgs; i++)
                if (strncmp(n->msgs[i], prefix, strlen(prefix)) == 0)
                        return (int) i;
        return -1;
}

/* Wait for that message; fails the test after the deadline. */
static unsigned await_msg(struct cluster *c, unsigned id, unsigned from, const char *prefix) {
        uint64_t end = now_ms() + DEADLINE_MS;
        int i;

        while ((i = find_msg(&c->n[id], from, prefix)) < 0) {
                if (now_ms() > end || c->n[id].exited)
                        fail_msg("node %u: no \"%s\" (exited: %d); see %s", id, prefix, c->n[id].exited, c->n[id].log);
                pump(c, 100);
        }
        return (unsigned) i;
}

static int await_exit(struct cluster *c, unsigned id) {
        uint64_t end = now_ms() + DEADLINE_MS;

        while (!c->n[id].exited) {
                if (now_ms() > end)
                        fail_msg("node %u did not exit; see %s", id, c->n[id].log);
                pump(c, 100);
        }
        receive(&c->n[id], id);
        return c->n[id].wait_status;
}

/* The newest STATUS= of a node. */
static const char *last_status(const struct node *n, unsigned before) {
        for (unsigned i = before; i > 0; i--)
                if (strncmp(n->msgs[i - 1], "STATUS=", 7) == 0)
                        return n->msgs[i - 1];
        return NULL;
}

static unsigned status_leader(const char *status) {
        const char *p = status ? strstr(status, "leader node ") : NULL;

        return p ? (unsigned) strtoul(p + 12, NULL, 10) : 0;
}

static bool status_says_leader(const char *status) {
        return status && strstr(status, "Role leader,");
}

/* Wait until a node's newest STATUS says it leads; returns it. */
static unsigned await_leader(struct cluster *c, unsigned not) {
        uint64_t end = now_ms() + DEADLINE_MS;

        for (;;) {
                for (unsigned id = 1; id <= NODES; id++)
                        if (id != not && !c->n[id].exited && c->n[id].pid > 0 &&
                            status_says_leader(last_status(&c->n[id], c->n[id].n_msgs)))
                                return id;
                if (now_ms() > end)
                        fail_msg("no leader reported");
                pump(c, 100);
        }
}

static void start_all_and_await_ready(struct cluster *c) {
        for (unsigned id = 1; id <= NODES; id++)
                node_start(c, id);
        for (unsigned id = 1; id <= NODES; id++)
                (void) await_msg(c, id, 0, "READY=1");
}

static bool log_contains(const struct node *n, const char *what) {
        char buf[65536];
        FILE *f = fopen(n->log, "re");
        size_t k;

        if (!f)
                return false;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = 0;
        return strstr(buf, what) != NULL;
}

static void assert_clean_exit(struct cluster *c, unsigned id) {
        int st = await_exit(c, id);

        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fail_msg("node %u: wait status 0x%x, expected exit 0; see %s", id, st, c->n[id].log);
}

static void cluster_free_contents(struct cluster *c) {
        char cmd[128];
        bool keep = false;

        for (unsigned id = 1; id <= NODES; id++) {
                struct node *n = &c->n[id];

                if (n->pid > 0) {
                        kill(n->pid, SIGKILL);
                        (void) waitpid(n->pid, NULL, 0);
                        close(n->pidfd);
                }
                close(n->notify_fd);
                for (unsigned i = 0; i < n->n_msgs; i++)
                        free(n->msgs[i]);
        }
        keep = getenv("RAFTD_TEST_KEEP") != NULL;
        if (keep) {
                fprintf(stderr, "kept %s\n", c->dir);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
        (void) !system(cmd);
}

static void sigterm_on_the_leader_hands_over_leadership_before_a_clean_exit(void **state) {
        struct cluster *c = *state;
        unsigned leader, next, stopping;
        const char *final;

        start_all_and_await_ready(c);
        leader = await_leader(c, 0);

        kill(c->n[leader].pid, SIGTERM);
        assert_clean_exit(c, leader);
        stopping = (unsigned) find_msg(&c->n[leader], 0, "STOPPING=1");
        assert_true((int) stopping > find_msg(&c->n[leader], 0, "READY=1"));
        /* The stopped leader's last STATUS, sent after STOPPING=1, names
         * another leader: it saw the handover before it went away (after a
         * plain exit nobody would have been elected yet, and it could not
         * have known). */
        final = last_status(&c->n[leader], c->n[leader].n_msgs);
        assert_true(find_msg(&c->n[leader], stopping, "STATUS=") >= 0);
        next = status_leader(final);
        if (next == 0 || next == leader)
                fail_msg("old leader %u stopped with \"%s\"", leader, final ?: "(none)");
        assert_true(log_contains(&c->n[leader], "leads the cluster"));
        /* And the new leader says so itself. */
        assert_int_equal(await_leader(c, leader), next);

        for (unsigned id = 1; id <= NODES; id++)
                if (id != leader) {
                        kill(c->n[id].pid, SIGTERM);
                        assert_clean_exit(c, id);
                }
}

static void notify_sends_status_ready_watchdog_then_stopping_in_order(void **state) {
        struct cluster *c = *state;
        unsigned leader, f;
        int status, ready, watchdog, stopping;

        start_all_and_await_ready(c);
        leader = await_leader(c, 0);
        f = leader == 1 ? 2 : 1;
        (void) await_msg(c, f, 0, "WATCHDOG=1");
        kill(c->n[f].pid, SIGTERM);
        assert_clean_exit(c, f);

        status = find_msg(&c->n[f], 0, "STATUS=");
        ready = find_msg(&c->n[f], 0, "READY=1");
        watchdog = find_msg(&c->n[f], 0, "WATCHDOG=1");
        stopping = find_msg(&c->n[f], 0, "STOPPING=1");
        assert_true(status >= 0 && ready >= 0 && watchdog >= 0 && stopping >= 0);
        assert_true(status < ready);
        assert_true(ready < stopping);
        /* READY=1 exactly once, and only once the node served: its STATUS
         * named a leader by then. */
        assert_int_equal(find_msg(&c->n[f], (unsigned) ready + 1, "READY=1"), -1);
        assert_int_not_equal(status_leader(last_status(&c->n[f], (unsigned) ready)), 0);
        /* The STATUS line systemctl shows carries role, term, leader and
         * commit index. */
        {
                const char *st = last_status(&c->n[f], (unsigned) stopping);

                assert_non_null(st);
                assert_non_null(strstr(st, "STATUS=Role "));
                assert_non_null(strstr(st, ", term "));
                assert_non_null(strstr(st, ", leader node "));
                assert_non_null(strstr(st, ", commit index "));
        }

        for (unsigned id = 1; id <= NODES; id++)
                if (id != f) {
                        kill(c->n[id].pid, SIGTERM);
                        assert_clean_exit(c, id);
                }
}

static void sighup_applies_a_new_limit_and_refuses_to_change_the_id(void **state) {
        struct cluster *c = *state;
        unsigned reloading, ready;

        start_all_and_await_ready(c);

        /* Id=2 is a valid config on its own (node 2 is a peer), but not a
         * change a running node 1 can make. */
        write_config(c, 1, 2, "[Limits]\nMaxValueSize=10\nMaxKeyLength=32\n[Node]\nLogLevel=debug\n");
        kill(c->n[1].pid, SIGHUP);
        reloading = await_msg(c, 1, 0, "RELOADING=1");
        ready = await_msg(c, 1, reloading, "READY=1");
        assert_true(find_msg(&c->n[1], reloading, "MONOTONIC_USEC=") > (int) reloading);
        assert_true(ready > reloading);
        assert_true(log_contains(&c->n[1], "Cannot change Id= at runtime"));
        assert_true(log_contains(&c->n[1], "Reloaded: MaxKeyLength=32 MaxValueSize=10 LogLevel=debug"));
        assert_false(log_contains(&c->n[1], "Cannot change MaxValueSize"));

        /* A broken file on reload: the running configuration stays, and the
         * reload still ends with READY=1. */
        write_config(c, 1, 1, "[Limits]\nMaxValueSize=lots\n");
        kill(c->n[1].pid, SIGHUP);
        reloading = await_msg(c, 1, ready + 1, "RELOADING=1");
        (void) await_msg(c, 1, reloading, "READY=1");
        assert_true(log_contains(&c->n[1], "n1.conf:"));
        assert_true(log_contains(&c->n[1], "[Limits] MaxValueSize=: expected a size"));
        assert_true(log_contains(&c->n[1], "Failed to reload the configuration, keeping the running one"));

        for (unsigned id = 1; id <= NODES; id++) {
                kill(c->n[id].pid, SIGTERM);
                assert_clean_exit(c, id);
        }
}

static void bad_config_exits_1_naming_file_line_and_key(void **state) {
        struct cluster *c = *state;
        char expect[192];
        int st;

        /* Line 10 of the file: after the 9 lines write_config() starts with. */
        write_config(c, 1, 1, NULL);
        {
                FILE *f = fopen(c->n[1].conf, "we");
                assert_non_null(f);
                fprintf(f, "# raftd test node 1\n[Node]\nId=1\nListen=127.0.0.1:%d\nDataDirectory=%s/n1\n"
                           "ClusterKeyFile=%s\n[Peers]\n1=127.0.0.1:%d\n[Timeouts]\nHeartbeatSecs=1s\n",
                        c->ports[1], c->dir, c->key, c->ports[1]);
                assert_int_equal(fclose(f), 0);
        }
        node_start(c, 1);
        st = await_exit(c, 1);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 1);
        snprintf(expect, sizeof(expect), "%s:10: [Timeouts] HeartbeatSecs=: unknown key", c->n[1].conf);
        if (!log_contains(&c->n[1], expect))
                fail_msg("%s lacks \"%s\"", c->n[1].log, expect);
        /* Never READY on a bad config. */
        assert_int_equal(find_msg(&c->n[1], 0, "READY=1"), -1);
}

/* The commit index in a STATUS= line, 0 if none. */
static uint64_t status_commit(const char *status) {
        const char *p = status ? strstr(status, "commit index ") : NULL;

        return p ? strtoull(p + 13, NULL, 10) : 0;
}

static uint64_t await_commit_beyond(struct cluster *c, unsigned id, uint64_t beyond) {
        uint64_t end = now_ms() + DEADLINE_MS, commit;

        while ((commit = status_commit(last_status(&c->n[id], c->n[id].n_msgs))) <= beyond) {
                if (now_ms() > end || c->n[id].exited)
                        fail_msg("node %u: commit index stays at %" PRIu64 ", waited for %" PRIu64 "; see %s", id,
                                 commit, beyond, c->n[id].log);
                pump(c, 100);
        }
        return commit;
}

/* A storage failure while running: a follower that fell behind must
 * install a snapshot from the leader, but its snapshot directory was
 * removed under it.  It must say why and exit 3 (so Restart=on-failure
 * restarts it), not 0 as a clean stop. */
static void node_whose_storage_fails_while_running_exits_3_naming_the_cause(void **state) {
        struct cluster *c = *state;
        char snapshots[160], cmd[192], expect[256];
        unsigned leader, f;
        uint64_t commit;
        int st;

        /* Idle nodes still write: session keep-alives every 100 ms. */
        for (unsigned id = 1; id <= NODES; id++)
                write_config(c, id, id, "[Limits]\nSnapshotEntries=8\nSnapshotTrailingEntries=4\n[Timeouts]\nSessionTTLSec=300ms\n");
        start_all_and_await_ready(c);
        leader = await_leader(c, 0);
        f = leader == 1 ? 2 : 1;

        assert_int_equal(kill(c->n[f].pid, SIGSTOP), 0);
        commit = status_commit(last_status(&c->n[leader], c->n[leader].n_msgs));
        /* Far enough that the leader compacted what f lacks. */
        (void) await_commit_beyond(c, leader, commit + 40);
        snprintf(snapshots, sizeof(snapshots), "%s/n%u/snapshots", c->dir, f);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", snapshots);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(kill(c->n[f].pid, SIGCONT), 0);

        st = await_exit(c, f);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 3)
                fail_msg("node %u: wait status 0x%x, expected exit 3; see %s", f, st, c->n[f].log);
        /* The storage names the file, the daemon says what it means. */
        snprintf(expect, sizeof(expect), "%s/.snapshot-", snapshots);
        if (!log_contains(&c->n[f], expect) || !log_contains(&c->n[f], "cannot open partial snapshot: No such file"))
                fail_msg("%s lacks the failed file", c->n[f].log);
        if (!log_contains(&c->n[f], "Storage failed (No such file or directory): the node stopped serving; exiting"))
                fail_msg("%s lacks the daemon's line", c->n[f].log);
        assert_true(find_msg(&c->n[f], 0, "STATUS=Failed: storage error") >= 0);
        assert_int_equal(find_msg(&c->n[f], 0, "STOPPING=1"), -1);

        for (unsigned id = 1; id <= NODES; id++)
                if (id != f) {
                        kill(c->n[id].pid, SIGTERM);
                        assert_clean_exit(c, id);
                }
}

static int cluster_setup(void **state) {
        struct cluster *c = calloc(1, sizeof(*c));

        assert_non_null(c);
        cluster_init(c);
        *state = c;
        return 0;
}

/* Runs after a failed assertion too: no raftd outlives its test. */
static int cluster_teardown(void **state) {
        struct cluster *c = *state;

        cluster_free_contents(c);
        free(c);
        return 0;
}

static void sigterm_before_ready_stops_cleanly_without_ever_sending_ready(void **state) {
        struct cluster *c = *state;

        /* Alone, node 1 never sees a leader: it must still stop, bounded by
         * RequestSec=, and never claim to be ready. */
        node_start(c, 1);
        (void) await_msg(c, 1, 0, "STATUS=Starting");
        kill(c->n[1].pid, SIGTERM);
        assert_clean_exit(c, 1);
        assert_true(find_msg(&c->n[1], 0, "STOPPING=1") >= 0);
        assert_int_equal(find_msg(&c->n[1], 0, "READY=1"), -1);
        assert_true(log_contains(&c->n[1], "Stopped; no other leader is known"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(sigterm_on_the_leader_hands_over_leadership_before_a_clean_exit, cluster_setup, cluster_teardown),
                cmocka_unit_test_setup_teardown(notify_sends_status_ready_watchdog_then_stopping_in_order, cluster_setup, cluster_teardown),
                cmocka_unit_test_setup_teardown(sighup_applies_a_new_limit_and_refuses_to_change_the_id, cluster_setup, cluster_teardown),
                cmocka_unit_test_setup_teardown(bad_config_exits_1_naming_file_line_and_key, cluster_setup, cluster_teardown),
                cmocka_unit_test_setup_teardown(sigterm_before_ready_stops_cleanly_without_ever_sending_ready, cluster_setup,
                                                cluster_teardown),
                cmocka_unit_test_setup_teardown(node_whose_storage_fails_while_running_exits_3_naming_the_cause,
                                                cluster_setup, cluster_teardown),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
