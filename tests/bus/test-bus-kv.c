/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.raftd1.KV over real buses: busctl lines as the README shows them,
 * Changed signals across nodes, refusals of bad input and of callers
 * without permission.  One 3-node cluster for the file; every test uses
 * keys of its own. */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define BUSCTL "busctl --address='%s' "
#define KV "org.raftd1 /org/raftd1 org.raftd1.KV "
#define NOBODY "setpriv --reuid=nobody --regid=nogroup --clear-groups "
#define MAX_KEY_LEN 64
#define MAX_VALUE_SIZE 1024

static struct bus_cluster cluster;

static int setup(void **state) {
        cluster.host_args[0] = "--allow-read=65534";
        cluster.host_args[1] = "--max-key-len=64";
        cluster.host_args[2] = "--max-value-size=1024";
        if (cluster_start(&cluster, 3) < 0 || cluster_leader(&cluster, 20000) == 0) {
                /* cmocka runs no teardown after a failed setup. */
                (void) cluster_stop(&cluster);
                return -1;
        }
        return 0;
}

static bool stop_failed;

static int teardown(void **state) {
        /* cmocka reports a failed group teardown but does not count it. */
        stop_failed = cluster_stop(&cluster) < 0;
        return stop_failed ? -1 : 0;
}

static const char *addr(unsigned id) {
        return cluster.node[id].address;
}

static void test_busctl_put_get_delete_through_different_nodes(void **state) {
        char out[1024];
        uint64_t rev_put = 0, rev_get = 0, rev_del = 0;

        /* "hello" as busctl spells an ay: its length, then the bytes. */
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt /kv/greeting 5 104 101 108 108 111 0 0",
                             addr(1)),
                         0);
        assert_int_equal(sscanf(out, "t %" SCNu64, &rev_put), 1);
        assert_true(rev_put > 0);

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /kv/greeting 0", addr(3)), 0);
        assert_int_equal(sscanf(out, "ayt 5 104 101 108 108 111 %" SCNu64, &rev_get), 1);
        assert_int_equal(rev_get, rev_put);

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Delete st /kv/greeting 0", addr(2)), 0);
        assert_int_equal(sscanf(out, "t %" SCNu64, &rev_del), 1);
        assert_true(rev_del > rev_put);

        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /kv/greeting 0", addr(3)), 0);
        assert_non_null(strstr(out, "does not exist"));
}

static void test_busctl_compare_and_swap_absent_present_absent(void **state) {
        char out[1024];
        uint64_t rev;

        /* expected absent -> "a": swaps once, then refuses. */
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "CompareAndSwap sbaybayt /kv/cas false 0 true 1 97 0",
                             addr(2)),
                         0);
        assert_int_equal(sscanf(out, "bt true %" SCNu64, &rev), 1);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "CompareAndSwap sbaybayt /kv/cas false 0 true 1 98 0",
                             addr(3)),
                         0);
        assert_non_null(strstr(out, "bt false"));
        /* "a" -> absent deletes. */
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "CompareAndSwap sbaybayt /kv/cas true 1 97 false 0 0",
                             addr(1)),
                         0);
        assert_non_null(strstr(out, "bt true"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /kv/cas 0", addr(1)), 0);
        assert_non_null(strstr(out, "does not exist"));
}

static void test_busctl_list_pages_through_a_prefix(void **state) {
        char out[2048];

        for (char k = 'a'; k <= 'c'; k++)
                assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt /list/%c 1 %d 0 0", addr(1), k, k),
                                 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "List ssut /list/ '' 2 0", addr(2)), 0);
        assert_true(strncmp(out, "a(sayt)b 2 \"/list/a\" 1 97 ", 26) == 0);
        assert_non_null(strstr(out, "\"/list/b\" 1 98 "));
        assert_null(strstr(out, "/list/c"));
        assert_true(strlen(out) > 5 && strcmp(out + strlen(out) - 5, " true") == 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "List ssut /list/ /list/b 2 0", addr(3)), 0);
        assert_true(strncmp(out, "a(sayt)b 1 \"/list/c\" 1 99 ", 26) == 0);
        assert_true(strlen(out) > 6 && strcmp(out + strlen(out) - 6, " false") == 0);
        /* A local read may be stale but sees at least what it applied. */
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "List ssut /list/ '' 0 1", addr(1)), 0);
        assert_non_null(strstr(out, "/list/c"));
}

static void test_busctl_lease_binds_keys_and_revoke_removes_them(void **state) {
        char out[1024];
        uint64_t lease = 0;

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "GrantLease tt 60000000 0", addr(2)), 0);
        assert_int_equal(sscanf(out, "t %" SCNu64, &lease), 1);
        assert_true(lease > 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt /lease/k 1 49 %" PRIu64 " 0", addr(3), lease),
                         0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "KeepAliveLease tt %" PRIu64 " 0", addr(1), lease), 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /lease/k 0", addr(1)), 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "RevokeLease tt %" PRIu64 " 0", addr(1), lease), 0);
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /lease/k 0", addr(2)), 0);
        assert_non_null(strstr(out, "does not exist"));
        /* The revoked lease is gone for good. */
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "KeepAliveLease tt %" PRIu64 " 0", addr(3), lease),
                             0);
        assert_non_null(strstr(out, "No such lease"));
}

struct seen {
        unsigned n;
        char keys[64][32];
        uint64_t revisions[64];
        bool deleted[64];
};

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct seen *s = userdata;
        const char *key;
        uint64_t rev;
        int deleted;

        assert_int_equal(sd_bus_message_read(m, "stb", &key, &rev, &deleted), 1);
        assert_true(s->n < 64);
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
        s->revisions[s->n] = rev;
        s->deleted[s->n] = deleted;
        s->n++;
        return 0;
}

static uint64_t put(sd_bus *bus, const char *key, const char *value) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        uint64_t rev = 0;

        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put"), 0);
        assert_true(sd_bus_message_append(m, "s", key) >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', value, strlen(value)) >= 0);
        assert_true(sd_bus_message_append(m, "tt", (uint64_t) 0, (uint64_t) 0) >= 0);
        if (sd_bus_call(bus, m, 0, &e, &reply) < 0)
                fail_msg("Put %s: %s: %s", key, e.name, e.message);
        assert_int_equal(sd_bus_message_read(reply, "t", &rev), 1);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return rev;
}

static void test_changed_on_node3_follows_writes_through_node1_in_revision_order(void **state) {
        sd_bus *writer = cluster_client(&cluster, 1), *watcher = cluster_client(&cluster, 3);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint64_t want[32];
        struct seen seen = {};
        unsigned n = 0;
        time_t end;

        assert_true(sd_bus_add_match(watcher, NULL,
                                     "type='signal',sender='org.raftd1',interface='org.raftd1.KV',member='Changed',"
                                     "arg0path='/watch/'",
                                     on_changed, &seen) >= 0);
        for (unsigned i = 0; i < 10; i++) {
                char key[32];

                snprintf(key, sizeof(key), "/watch/k%u", i % 4);
                want[n++] = put(writer, key, "v");
                /* Outside the subtree: must not arrive. */
                (void) put(writer, "/unwatched/x", "v");
        }
        assert_true(sd_bus_call_method(writer, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Delete", &e, &reply, "st",
                                       "/watch/k0", (uint64_t) 0) >= 0);
        assert_int_equal(sd_bus_message_read(reply, "t", &want[n]), 1);
        n++;
        sd_bus_message_unref(reply);

        end = time(NULL) + 20;
        while (seen.n < n && time(NULL) < end) {
                int r = sd_bus_process(watcher, NULL);

                assert_true(r >= 0);
                if (r == 0)
                        assert_true(sd_bus_wait(watcher, 1000000) >= 0);
        }
        assert_int_equal(seen.n, n);
        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(seen.revisions[i], want[i]);
                assert_true(strncmp(seen.keys[i], "/watch/", 7) == 0);
                assert_int_equal(seen.deleted[i], i == n - 1);
        }
        sd_bus_flush_close_unref(writer);
        sd_bus_flush_close_unref(watcher);
}

/* Call Get and return the D-Bus error name ("" on success), value into out. */
static const char *call_error(sd_bus *bus, sd_bus_message *m, char *name, size_t size) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        name[0] = 0;
        if (sd_bus_call(bus, m, 0, &e, &reply) < 0)
                snprintf(name, size, "%s", e.name);
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return name;
}

static sd_bus_message *put_message(sd_bus *bus, const char *key, size_t value_len, uint64_t flags) {
        sd_bus_message *m = NULL;
        char *value = calloc(1, value_len + 1);

        assert_non_null(value);
        memset(value, 'x', value_len);
        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put"), 0);
        assert_true(sd_bus_message_append(m, "s", key) >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', value, value_len) >= 0);
        assert_true(sd_bus_message_append(m, "tt", (uint64_t) 0, flags) >= 0);
        free(value);
        return m;
}

static void test_bad_input_gets_clear_errors_and_leaves_data_unchanged(void **state) {
        sd_bus *bus = cluster_client(&cluster, 2);
        char name[256], long_key[MAX_KEY_LEN + 8], out[1024];
        sd_bus_message *m = NULL;
        uint64_t rev = put(bus, "/bad/k", "orig");

        memset(long_key, 'k', sizeof(long_key) - 1);
        long_key[0] = '/';
        long_key[sizeof(long_key) - 1] = 0;

        assert_string_equal(call_error(bus, put_message(bus, "", 1, 0), name, sizeof(name)),
                            SD_BUS_ERROR_INVALID_ARGS);
        assert_string_equal(call_error(bus, put_message(bus, long_key, 1, 0), name, sizeof(name)),
                            "org.raftd1.TooLarge");
        assert_string_equal(call_error(bus, put_message(bus, "/bad/k", MAX_VALUE_SIZE + 1, 0), name, sizeof(name)),
                            "org.raftd1.TooLarge");
        assert_string_equal(call_error(bus, put_message(bus, "/bad/k", 1, 1u << 7), name, sizeof(name)),
                            SD_BUS_ERROR_INVALID_ARGS);
        /* The limit itself is fine. */
        assert_string_equal(call_error(bus, put_message(bus, "/bad/at-limit", MAX_VALUE_SIZE, 0), name, sizeof(name)), "");

        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get"), 0);
        assert_true(sd_bus_message_append(m, "st", "/bad/k", (uint64_t) 2) >= 0);
        assert_string_equal(call_error(bus, m, name, sizeof(name)), SD_BUS_ERROR_INVALID_ARGS);

        /* Wrong signature and unknown method, as busctl users meet them. */
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Put st /bad/k 0", addr(2)), 0);
        assert_non_null(strstr(out, "expecting 'saytt'"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Frobnicate", addr(2)), 0);
        assert_non_null(strstr(out, "Frobnicate"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt '' 1 120 0 0", addr(2)), 0);
        assert_non_null(strstr(out, "'key' must not be empty"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt /bad/k 1 120 0 8", addr(2)), 0);
        assert_non_null(strstr(out, "'flags'"));

        /* Nothing of the above took effect. */
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /bad/k 0", addr(3)), 0);
        snprintf(name, sizeof(name), "ayt 4 111 114 105 103 %" PRIu64, rev);
        assert_string_equal(out, name);
        sd_bus_flush_close_unref(bus);
}

/* A Put from a separate process running as nobody, over sd-bus: busctl
 * shows every AccessDenied as "Access denied", so the message that tells
 * the caller what to do is checked here. */
static void put_as_nobody(const char *address, char *error, size_t size) {
        int p[2];
        pid_t pid;
        ssize_t n;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                sd_bus *bus = NULL;
                char line[1024];

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(1);
                if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
                    sd_bus_start(bus) < 0)
                        _exit(2);
                if (sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put", &e, &reply, "saytt",
                                       "/acl/k", (size_t) 1, (uint8_t) 50, (uint64_t) 0, (uint64_t) 0) >= 0)
                        snprintf(line, sizeof(line), "ok");
                else
                        snprintf(line, sizeof(line), "%s: %s", e.name, e.message);
                if (write(p[1], line, strlen(line)) < 0)
                        _exit(3);
                _exit(0);
        }
        close(p[1]);
        n = read(p[0], error, size - 1);
        error[n > 0 ? n : 0] = 0;
        close(p[0]);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_uid_without_permission_is_denied_and_changes_nothing(void **state) {
        char out[1024];

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Put saytt /acl/k 1 49 0 0", addr(1)), 0);
        /* nobody is on the read list (--allow-read=65534) but not the write list. */
        assert_int_equal(run(out, sizeof(out), NOBODY BUSCTL "call " KV "Get st /acl/k 0", addr(2)), 0);
        assert_true(strncmp(out, "ayt 1 49 ", 9) == 0);
        assert_int_not_equal(run(out, sizeof(out), NOBODY BUSCTL "call " KV "Put saytt /acl/k 1 50 0 0", addr(2)), 0);
        assert_non_null(strstr(out, "Access denied"));
        assert_int_not_equal(run(out, sizeof(out), NOBODY BUSCTL "call " KV "Delete st /acl/k 0", addr(3)), 0);
        assert_non_null(strstr(out, "Access denied"));
        assert_int_not_equal(run(out, sizeof(out),
                                 NOBODY BUSCTL "call org.raftd1 /org/raftd1 org.raftd1.Cluster Snapshot t 0", addr(3)),
                             0);
        assert_non_null(strstr(out, "Access denied"));
        put_as_nobody(addr(1), out, sizeof(out));
        assert_string_equal(out, SD_BUS_ERROR_ACCESS_DENIED
                            ": User 65534 may not use Put (no write access); ask the administrator to add the uid to "
                            "the write allow-list in raftd's configuration.");

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " KV "Get st /acl/k 0", addr(3)), 0);
        assert_true(strncmp(out, "ayt 1 49 ", 9) == 0);
}

/* SIGCHLD at the node host in a tight loop, until killed. */
static pid_t signal_storm_start(pid_t target) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                for (;;)
                        if (kill(target, SIGCHLD) < 0)
                                _exit(1);
        }
        return pid;
}

/* The uid check asks the bus driver with a synchronous call, which a
 * signal handler running meanwhile interrupts (libev's SIGCHLD handler runs
 * whenever a snapshot child ends): the fault suite saw calls answered with
 * System.Error.EINTR.  Under a storm of signals every call must be
 * authorized and served. */
static void test_calls_during_a_signal_storm_are_authorized_not_interrupted(void **state) {
        sd_bus *bus = cluster_client(&cluster, 1);
        unsigned failed = 0;
        char first[512] = "";
        pid_t storm;

        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put", NULL, NULL, "saytt",
                                       "/storm/k", (size_t) 1, (uint8_t) 49, (uint64_t) 0, (uint64_t) 0) >= 0);
        storm = signal_storm_start(cluster.node[1].host);
        for (unsigned i = 0; i < 3000; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;

                if (sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get", &e, &reply, "st",
                                       "/storm/k", (uint64_t) 1) < 0) {
                        if (failed++ == 0)
                                snprintf(first, sizeof(first), "%s: %s", e.name, e.message);
                }
                sd_bus_error_free(&e);
                sd_bus_message_unref(reply);
        }
        assert_int_equal(kill(storm, SIGKILL), 0);
        assert_int_equal(waitpid(storm, NULL, 0), storm);
        if (failed > 0)
                fail_msg("%u of 3000 Get calls failed, the first with %s", failed, first);
        sd_bus_flush_close_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_busctl_put_get_delete_through_different_nodes),
                cmocka_unit_test(test_busctl_compare_and_swap_absent_present_absent),
                cmocka_unit_test(test_busctl_list_pages_through_a_prefix),
                cmocka_unit_test(test_busctl_lease_binds_keys_and_revoke_removes_them),
                cmocka_unit_test(test_changed_on_node3_follows_writes_through_node1_in_revision_order),
                cmocka_unit_test(test_bad_input_gets_clear_errors_and_leaves_data_unchanged),
                cmocka_unit_test(test_uid_without_permission_is_denied_and_changes_nothing),
                cmocka_unit_test(test_calls_during_a_signal_storm_are_authorized_not_interrupted),
        };

        int failed = cmocka_run_group_tests(tests, setup, teardown);

        return failed > 0 ? failed : stop_failed;
}
