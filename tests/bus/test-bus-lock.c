/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.raftd1.Lock over real buses: every lock client is a process of its
 * own that holds the returned fd; killing it, closing the fd or dropping
 * its bus connection releases the lock cluster-wide.  One 3-node cluster
 * for the file; every test uses lock names of its own. */

#include <inttypes.h>
#include <setjmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define SEC 1000000ULL
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static struct bus_cluster cluster;

static int setup(void **state) {
        if (cluster_start(&cluster, 3) < 0 || cluster_leader(&cluster, 20000) == 0) {
                /* cmocka runs no teardown after a failed setup. */
                (void) cluster_stop(&cluster);
                return -1;
        }
        return 0;
}

/* Clients a failed test left behind, so the cluster can stop. */
static pid_t lockers[64];
static unsigned n_lockers;

static bool stop_failed;

static int teardown(void **state) {
        for (unsigned i = 0; i < n_lockers; i++)
                if (waitpid(lockers[i], NULL, WNOHANG) == 0) {
                        kill(lockers[i], SIGKILL);
                        (void) waitpid(lockers[i], NULL, 0);
                }
        /* cmocka reports a failed group teardown but does not count it. */
        stop_failed = cluster_stop(&cluster) < 0;
        return stop_failed ? -1 : 0;
}

struct locker {
        pid_t pid;
        int ctl; /* commands: 'c' close the fd, 'd' drop the bus connection, 'w' await revocation */
        int out; /* "granted FENCE", "error NAME", "closed", "disconnected", "revoked" */
};

static void locker_child(unsigned node, const char *name, uint64_t timeout_usec, int ctl, int out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus = cluster_client(&cluster, node);
        char line[256], cmd;
        uint64_t fence;
        int fd;

        if (sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.Lock", "Acquire") < 0 ||
            sd_bus_message_append(m, "stt", name, timeout_usec, (uint64_t) 0) < 0)
                _exit(2);
        if (sd_bus_call(bus, m, timeout_usec + 10 * SEC, &e, &reply) < 0) {
                snprintf(line, sizeof(line), "error %s\n", e.name);
                (void) !write(out, line, strlen(line));
                _exit(0);
        }
        if (sd_bus_message_read(reply, "ht", &fd, &fence) < 0)
                _exit(3);
        fd = dup(fd);
        sd_bus_message_unref(reply);
        snprintf(line, sizeof(line), "granted %" PRIu64 "\n", fence);
        (void) !write(out, line, strlen(line));
        while (read(ctl, &cmd, 1) == 1) {
                if (cmd == 'c') {
                        close(fd);
                        (void) !write(out, "closed\n", 7);
                } else if (cmd == 'd') {
                        bus = sd_bus_flush_close_unref(bus);
                        (void) !write(out, "disconnected\n", 13);
                } else if (cmd == 'w') {
                        /* The daemon closed its end: POLLERR on ours. */
                        struct pollfd p = { .fd = fd, .events = POLLOUT };

                        if (poll(&p, 1, 20000) == 1 && (p.revents & POLLERR))
                                (void) !write(out, "revoked\n", 8);
                        else
                                (void) !write(out, "still-held\n", 11);
                }
        }
        _exit(0);
}

static void locker_start(struct locker *l, unsigned node, const char *name, uint64_t timeout_usec) {
        int ctl[2], out[2];

        assert_int_equal(pipe(ctl), 0);
        assert_int_equal(pipe(out), 0);
        l->pid = fork();
        assert_true(l->pid >= 0);
        if (l->pid == 0) {
                /* Hold nothing of the test's: the hosts stop on EOF of their stdin. */
                for (int fd = 3; fd < 1024; fd++)
                        if (fd != ctl[0] && fd != out[1])
                                (void) close(fd);
                locker_child(node, name, timeout_usec, ctl[0], out[1]);
        }
        assert_true(n_lockers < ELEMENTSOF(lockers));
        lockers[n_lockers++] = l->pid;
        close(ctl[0]);
        close(out[1]);
        l->ctl = ctl[1];
        l->out = out[0];
}

/* The next line the locker prints, within 20 s. */
static void locker_line(struct locker *l, char *buf, size_t size) {
        if (!cluster_read_line(l->out, buf, size, 20000))
                fail_msg("lock client %d printed nothing", (int) l->pid);
}

static uint64_t locker_granted(struct locker *l) {
        char line[256];
        uint64_t fence = 0;

        locker_line(l, line, sizeof(line));
        if (sscanf(line, "granted %" SCNu64, &fence) != 1)
                fail_msg("expected a grant, got '%s'", line);
        return fence;
}

static void locker_command(struct locker *l, char cmd, const char *ack) {
        char line[64];

        assert_int_equal(write(l->ctl, &cmd, 1), 1);
        locker_line(l, line, sizeof(line));
        assert_string_equal(line, ack);
}

static void locker_kill(struct locker *l) {
        kill(l->pid, SIGKILL);
        assert_int_equal(waitpid(l->pid, NULL, 0), l->pid);
        close(l->ctl);
        close(l->out);
}

/* Ends the client normally (closing everything it holds). */
static void locker_end(struct locker *l) {
        close(l->ctl);
        assert_int_equal(waitpid(l->pid, NULL, 0), l->pid);
        close(l->out);
}

struct lock_row {
        bool found, held;
        uint64_t node, since, fence;
        char bus_name[64], comm[64];
        uint32_t uid, pid, waiters;
};

static struct lock_row lock_list(unsigned node, const char *name) {
        sd_bus *bus = cluster_client(&cluster, node);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        struct lock_row row = {};
        const char *n, *bn, *comm;
        int held, r;

        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Lock", "List", &e, &reply, "t",
                                       (uint64_t) 0) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(sbtsuusttu)") > 0);
        while ((r = sd_bus_message_read(reply, "(sbtsuusttu)", &n, &held, &row.node, &bn, &row.uid, &row.pid, &comm,
                                        &row.since, &row.fence, &row.waiters)) > 0)
                if (strcmp(n, name) == 0) {
                        row.found = true;
                        row.held = held;
                        snprintf(row.bus_name, sizeof(row.bus_name), "%s", bn);
                        snprintf(row.comm, sizeof(row.comm), "%s", comm);
                        break;
                }
        assert_true(r >= 0);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return row;
}

/* Until node's view shows the lock with at least `waiters` waiters: queue
 * state has no signal, so poll. */
static void await_waiters(unsigned node, const char *name, uint32_t waiters) {
        for (int i = 0; i < 400; i++) {
                struct lock_row row = lock_list(node, name);

                if (row.found && row.waiters >= waiters)
                        return;
                usleep(25 * 1000);
        }
        fail_msg("lock %s never had %u waiters", name, waiters);
}

/* Until node has applied the grant to pid: Lock.List reads local state. */
static struct lock_row await_holder(unsigned node, const char *name, pid_t pid) {
        struct lock_row row = {};

        for (int i = 0; i < 400; i++) {
                row = lock_list(node, name);
                if (row.found && row.held && row.pid == (uint32_t) pid)
                        return row;
                usleep(25 * 1000);
        }
        fail_msg("node %u never showed %s held by %d", node, name, (int) pid);
        return row;
}

static void test_holder_sigkilled_next_waiter_on_another_node_gets_the_lock(void **state) {
        struct locker a, b;
        struct lock_row row;
        uint64_t fa, fb;

        locker_start(&a, 1, "/locks/kill", 10 * SEC);
        fa = locker_granted(&a);
        assert_true(fa > 0);

        row = await_holder(3, "/locks/kill", a.pid);
        assert_int_equal(row.node, 1);
        assert_int_equal(row.pid, (uint32_t) a.pid);
        assert_int_equal(row.uid, 0);
        assert_string_equal(row.comm, "test-bus-lock");
        assert_true(row.bus_name[0] == ':');
        assert_true(row.since > 0);
        assert_int_equal(row.fence, fa);

        locker_start(&b, 2, "/locks/kill", 30 * SEC);
        await_waiters(2, "/locks/kill", 1);
        locker_kill(&a);
        fb = locker_granted(&b);
        assert_true(fb > fa);
        row = await_holder(1, "/locks/kill", b.pid);
        assert_int_equal(row.node, 2);
        assert_int_equal(row.pid, (uint32_t) b.pid);
        locker_end(&b);
}

static void test_closing_the_fd_releases_and_fences_strictly_increase(void **state) {
        uint64_t last = 0;

        for (unsigned i = 0; i < 6; i++) {
                struct locker l;
                uint64_t f;

                locker_start(&l, 1 + i % 3, "/locks/close", 10 * SEC);
                f = locker_granted(&l);
                assert_true(f > last);
                last = f;
                /* The client stays alive: only the closed fd releases. */
                locker_command(&l, 'c', "closed");
                if (i % 2 == 0) {
                        struct locker next;

                        locker_start(&next, 1 + (i + 1) % 3, "/locks/close", 10 * SEC);
                        f = locker_granted(&next);
                        assert_true(f > last);
                        last = f;
                        locker_end(&next);
                }
                locker_end(&l);
        }
}

static void test_waiter_times_out_with_lock_timeout_and_holder_keeps_it(void **state) {
        struct locker a, b;
        struct lock_row row;
        char line[256];
        uint64_t fa;

        locker_start(&a, 3, "/locks/timeout", 10 * SEC);
        fa = locker_granted(&a);
        locker_start(&b, 1, "/locks/timeout", SEC / 2);
        locker_line(&b, line, sizeof(line));
        assert_string_equal(line, "error org.raftd1.LockTimeout");
        locker_end(&b);
        row = await_holder(2, "/locks/timeout", a.pid);
        assert_int_equal(row.fence, fa);
        assert_int_equal(row.pid, (uint32_t) a.pid);
        locker_end(&a);
}

static void test_dropping_the_bus_connection_releases_even_with_the_fd_open(void **state) {
        struct locker a, b;
        uint64_t fa, fb;

        locker_start(&a, 2, "/locks/disconnect", 10 * SEC);
        fa = locker_granted(&a);
        locker_start(&b, 3, "/locks/disconnect", 30 * SEC);
        await_waiters(3, "/locks/disconnect", 1);
        locker_command(&a, 'd', "disconnected");
        fb = locker_granted(&b);
        assert_true(fb > fa);
        /* The old holder can tell from its fd that the lock is gone. */
        locker_command(&a, 'w', "revoked");
        locker_end(&b);
        locker_end(&a);
}

static void test_waiter_that_dies_while_waiting_is_withdrawn(void **state) {
        struct locker a, b, c;
        uint64_t fa, fc;

        locker_start(&a, 1, "/locks/withdraw", 10 * SEC);
        fa = locker_granted(&a);
        locker_start(&b, 2, "/locks/withdraw", 60 * SEC);
        await_waiters(1, "/locks/withdraw", 1);
        locker_kill(&b);
        locker_start(&c, 3, "/locks/withdraw", 30 * SEC);
        locker_command(&a, 'c', "closed");
        /* Had b's request stayed queued, c would wait for b's 60 s. */
        fc = locker_granted(&c);
        assert_true(fc > fa);
        locker_end(&c);
        locker_end(&a);
}

static void test_bad_lock_requests_are_refused(void **state) {
        sd_bus *bus = cluster_client(&cluster, 1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Lock", "Acquire", &e, &reply, "stt",
                                       "", SEC, (uint64_t) 0) < 0);
        assert_string_equal(e.name, SD_BUS_ERROR_INVALID_ARGS);
        assert_non_null(strstr(e.message, "'name'"));
        sd_bus_error_free(&e);
        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Lock", "Acquire", &e, &reply, "stt",
                                       "/locks/bad", SEC, (uint64_t) 4) < 0);
        assert_string_equal(e.name, SD_BUS_ERROR_INVALID_ARGS);
        assert_non_null(strstr(e.message, "'flags'"));
        sd_bus_error_free(&e);
        assert_false(lock_list(1, "/locks/bad").found);
        sd_bus_flush_close_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_holder_sigkilled_next_waiter_on_another_node_gets_the_lock),
                cmocka_unit_test(test_closing_the_fd_releases_and_fences_strictly_increase),
                cmocka_unit_test(test_waiter_times_out_with_lock_timeout_and_holder_keeps_it),
                cmocka_unit_test(test_dropping_the_bus_connection_releases_even_with_the_fd_open),
                cmocka_unit_test(test_waiter_that_dies_while_waiting_is_withdrawn),
                cmocka_unit_test(test_bad_lock_requests_are_refused),
        };

        int failed = cmocka_run_group_tests(tests, setup, teardown);

        return failed > 0 ? failed : stop_failed;
}
