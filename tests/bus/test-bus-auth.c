/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The callers' uids as the front end learns them: asked from the bus
 * driver without blocking, once per connection, with a caller's first
 * calls waiting in order for the answer; forgotten when the connection
 * closes, and never more than the bound.  One 1-node cluster on a real
 * dbus-daemon; callers under another uid are forked processes. */

#include <grp.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define MAX_CACHED_CALLERS 8
#define N_OPEN (3 * MAX_CACHED_CALLERS / 2)
#define PUT_REFUSED                                                                                                    \
        SD_BUS_ERROR_ACCESS_DENIED ": User 65534 may not use Put (no write access); ask the administrator to add "     \
                                   "the uid to the write allow-list in raftd's configuration."

static struct bus_cluster cluster;

static int setup(void **state) {
        cluster.host_args[0] = "--allow-read=65534";
        cluster.host_args[1] = "--max-cached-callers=8";
        if (cluster_start(&cluster, 1) < 0 || cluster_leader(&cluster, 20000) == 0) {
                (void) cluster_stop(&cluster);
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        return cluster_stop(&cluster) < 0 ? -1 : 0;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* One pipelined call's outcome, in the words of its reply. */
struct outcome {
        bool done;
        char text[512];
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *unused) {
        struct outcome *o = userdata;
        const sd_bus_error *e;
        const char *sig;

        if (!o)
                return 0;
        e = sd_bus_message_get_error(m);
        sig = sd_bus_message_get_signature(m, true);

        o->done = true;
        if (e) {
                snprintf(o->text, sizeof(o->text), "%s: %s", e->name, e->message);
                return 0;
        }
        if (strcmp(sig, "t") == 0) {
                uint64_t rev = 0;

                (void) sd_bus_message_read(m, "t", &rev);
                snprintf(o->text, sizeof(o->text), "rev %" PRIu64, rev);
        } else if (strcmp(sig, "ayt") == 0) {
                const void *v = NULL;
                size_t len = 0;
                uint64_t rev = 0;

                (void) sd_bus_message_read_array(m, 'y', &v, &len);
                (void) sd_bus_message_read(m, "t", &rev);
                snprintf(o->text, sizeof(o->text), "value %.*s rev %" PRIu64, (int) len, (const char *) v, rev);
        } else if (strcmp(sig, "bt") == 0) {
                int swapped = 0;
                uint64_t rev = 0;

                (void) sd_bus_message_read(m, "bt", &swapped, &rev);
                snprintf(o->text, sizeof(o->text), "swapped %d rev %" PRIu64, swapped, rev);
        } else
                snprintf(o->text, sizeof(o->text), "reply %s", sig);
        return 0;
}

static int send_put(sd_bus *bus, const char *key, const char *value, struct outcome *o) {
        return sd_bus_call_method_async(bus, NULL, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put", on_reply, o,
                                        "saytt", key, strlen(value), value[0], value[1], value[2], (uint64_t) 0,
                                        (uint64_t) 0);
}

static int send_get(sd_bus *bus, const char *key, struct outcome *o) {
        return sd_bus_call_method_async(bus, NULL, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get", on_reply, o,
                                        "st", key, (uint64_t) 0);
}

/* Every call was sent before the first reply is read. */
static bool await_outcomes(sd_bus *bus, struct outcome *o, size_t n) {
        uint64_t deadline = now_ms() + 20000;

        for (;;) {
                bool all = true;

                for (size_t i = 0; i < n; i++)
                        all = all && o[i].done;
                if (all)
                        return true;
                if (now_ms() > deadline)
                        return false;
                if (sd_bus_process(bus, NULL) > 0)
                        continue;
                if (sd_bus_wait(bus, 100000) < 0)
                        return false;
        }
}

#define PIPELINED 6

/* As nobody: Put, Get, Put, Get... all sent at once on a fresh connection,
 * so they reach the node before the driver has said who is calling.
 * Writes one line per call, in the order sent. */
static void pipelined_as_nobody(const char *address, int out) {
        struct outcome o[PIPELINED] = {};
        sd_bus *bus = NULL;
        FILE *f;

        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                _exit(1);
        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
            sd_bus_start(bus) < 0)
                _exit(2);
        for (size_t i = 0; i < PIPELINED; i++)
                if ((i % 2 == 0 ? send_put(bus, "/auth/k", "new", &o[i]) : send_get(bus, "/auth/k", &o[i])) < 0)
                        _exit(3);
        if (!await_outcomes(bus, o, PIPELINED))
                _exit(4);
        f = fdopen(out, "w");
        if (!f)
                _exit(5);
        for (size_t i = 0; i < PIPELINED; i++)
                fprintf(f, "%s\n", o[i].text);
        _exit(fclose(f) == 0 ? 0 : 6);
}

static void test_refused_caller_gets_the_reason_for_every_pipelined_first_call(void **state) {
        struct outcome put = {};
        char line[512], expect[600];
        sd_bus *root = cluster_client(&cluster, 1);
        int p[2], status;
        pid_t pid;
        FILE *f;

        assert_true(send_put(root, "/auth/k", "old", &put) >= 0);
        assert_true(await_outcomes(root, &put, 1));
        assert_true(strncmp(put.text, "rev ", 4) == 0);
        snprintf(expect, sizeof(expect), "value old %s", put.text);

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                pipelined_as_nobody(cluster.node[1].address, p[1]);
        }
        close(p[1]);
        f = fdopen(p[0], "r");
        assert_non_null(f);
        /* nobody may read (--allow-read=65534), not write. */
        for (size_t i = 0; i < PIPELINED; i++) {
                assert_non_null(fgets(line, sizeof(line), f));
                line[strcspn(line, "\n")] = 0;
                assert_string_equal(line, i % 2 == 0 ? PUT_REFUSED : expect);
        }
        fclose(f);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* Nothing was written. */
        put = (struct outcome) {};
        assert_true(send_get(root, "/auth/k", &put) >= 0);
        assert_true(await_outcomes(root, &put, 1));
        assert_string_equal(put.text, expect);
        sd_bus_flush_close_unref(root);
}

static int send_cas(sd_bus *bus, const char *key, const char *expected, const char *new_value, struct outcome *o) {
        return sd_bus_call_method_async(bus, NULL, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "CompareAndSwap",
                                        on_reply, o, "sbaybayt", key, 1, strlen(expected), expected[0], expected[1],
                                        expected[2], 1, strlen(new_value), new_value[0], new_value[1], new_value[2],
                                        (uint64_t) 0);
}

/* The CAS waits behind the Put for the driver's answer and is submitted
 * after it, so it finds the Put's value.  (A pipelined Get would prove
 * nothing: operations in flight together are not ordered among
 * themselves, docs/embedding.md "Ordering"; writes are, by revision.) */
static void test_pipelined_put_then_cas_from_a_new_connection_run_in_order(void **state) {
        for (unsigned i = 0; i < 20; i++) {
                struct outcome o[3] = {};
                char key[32], value[4], expect[600];
                sd_bus *bus = cluster_client(&cluster, 1);
                uint64_t put_rev = 0, cas_rev = 0;
                unsigned swapped = 0;

                snprintf(key, sizeof(key), "/auth/order/%u", i);
                snprintf(value, sizeof(value), "%03u", i);
                assert_true(send_put(bus, key, value, &o[0]) >= 0);
                assert_true(send_cas(bus, key, value, "new", &o[1]) >= 0);
                assert_true(await_outcomes(bus, o, 2));
                assert_int_equal(sscanf(o[0].text, "rev %" SCNu64, &put_rev), 1);
                assert_int_equal(sscanf(o[1].text, "swapped %u rev %" SCNu64, &swapped, &cas_rev), 2);
                assert_int_equal(swapped, 1);
                assert_true(cas_rev > put_rev);
                /* Read after both answers: the CAS's value. */
                assert_true(send_get(bus, key, &o[2]) >= 0);
                assert_true(await_outcomes(bus, &o[2], 1));
                snprintf(expect, sizeof(expect), "value new rev %" PRIu64, cas_rev);
                assert_string_equal(o[2].text, expect);
                sd_bus_flush_close_unref(bus);
        }
}

static size_t cached_callers(void) {
        char line[64];
        size_t n;

        assert_int_equal(kill(cluster.node[1].host, SIGUSR1), 0);
        assert_true(cluster_read_line(cluster.node[1].host_out, line, sizeof(line), 10000));
        assert_int_equal(sscanf(line, "callers %zu", &n), 1);
        return n;
}

static void await_no_cached_callers(void) {
        uint64_t deadline = now_ms() + 20000;
        size_t n;

        while ((n = cached_callers()) > 0) {
                if (now_ms() > deadline)
                        fail_msg("%zu callers still cached 20 s after their connections closed", n);
                (void) usleep(20000);
        }
}

static void test_cached_callers_go_with_their_connections_and_stay_under_the_bound(void **state) {
        sd_bus *open[N_OPEN];

        await_no_cached_callers();

        /* More live callers than the bound: every one is served, the
         * oldest are forgotten. */
        for (size_t i = 0; i < N_OPEN; i++) {
                struct outcome o = {};

                open[i] = cluster_client(&cluster, 1);
                assert_true(send_get(open[i], "/auth/k", &o) >= 0);
                assert_true(await_outcomes(open[i], &o, 1));
                assert_true(strncmp(o.text, "value ", 6) == 0);
                assert_true(cached_callers() <= MAX_CACHED_CALLERS);
        }
        assert_int_equal(cached_callers(), MAX_CACHED_CALLERS);
        /* A forgotten one is asked about again, and served. */
        for (size_t i = 0; i < N_OPEN; i++) {
                struct outcome o = {};

                assert_true(send_get(open[i], "/auth/k", &o) >= 0);
                assert_true(await_outcomes(open[i], &o, 1));
                assert_true(strncmp(o.text, "value ", 6) == 0);
        }
        for (size_t i = 0; i < N_OPEN; i++)
                sd_bus_flush_close_unref(open[i]);
        await_no_cached_callers();

        /* Many short-lived callers, each leaving before the next comes. */
        for (unsigned i = 0; i < 40; i++) {
                struct outcome o = {};
                sd_bus *bus = cluster_client(&cluster, 1);

                assert_true(send_get(bus, "/auth/k", &o) >= 0);
                assert_true(await_outcomes(bus, &o, 1));
                assert_true(strncmp(o.text, "value ", 6) == 0);
                sd_bus_flush_close_unref(bus);
        }
        await_no_cached_callers();
}

/* Callers that send and leave at once: the driver's answer comes after the
 * name went (or says it is gone); their parked calls are answered into the
 * void or refused, and nothing of them stays. */
static void test_callers_that_leave_before_the_answer_leave_nothing_behind(void **state) {
        struct outcome o = {};
        sd_bus *bus;

        await_no_cached_callers();
        for (unsigned i = 0; i < 30; i++) {
                bus = cluster_client(&cluster, 1);
                for (unsigned j = 0; j < 3; j++)
                        assert_true(send_put(bus, "/auth/gone", "bye", NULL) >= 0);
                sd_bus_flush_close_unref(bus);
        }
        await_no_cached_callers();

        bus = cluster_client(&cluster, 1);
        assert_true(send_get(bus, "/auth/k", &o) >= 0);
        assert_true(await_outcomes(bus, &o, 1));
        assert_true(strncmp(o.text, "value ", 6) == 0);
        sd_bus_flush_close_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refused_caller_gets_the_reason_for_every_pipelined_first_call),
                cmocka_unit_test(test_pipelined_put_then_cas_from_a_new_connection_run_in_order),
                cmocka_unit_test(test_cached_callers_go_with_their_connections_and_stay_under_the_bound),
                cmocka_unit_test(test_callers_that_leave_before_the_answer_leave_nothing_behind),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
