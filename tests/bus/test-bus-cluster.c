/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.raftd1.Cluster over real buses: the properties describe the
 * cluster, PropertiesChanged follows leadership and commits, and the admin
 * methods answer through busctl. */

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define BUSCTL "busctl --address='%s' "
#define CLUSTER "org.raftd1 /org/raftd1 org.raftd1.Cluster "

static struct bus_cluster cluster;

static int setup(void **state) {
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

static uint64_t property_u64(unsigned node, const char *name) {
        char out[256];
        uint64_t v = 0;

        assert_int_equal(run(out, sizeof(out), BUSCTL "get-property " CLUSTER "%s", addr(node), name), 0);
        if (sscanf(out, "t %" SCNu64, &v) != 1)
                fail_msg("%s: '%s'", name, out);
        return v;
}

static void test_properties_describe_the_cluster(void **state) {
        unsigned leader = cluster_leader(&cluster, 20000), leaders = 0;
        char out[512];

        assert_true(leader > 0);
        for (unsigned id = 1; id <= 3; id++) {
                assert_int_equal(property_u64(id, "NodeId"), id);
                assert_true(property_u64(id, "Term") > 0);
                assert_int_equal(run(out, sizeof(out), BUSCTL "get-property " CLUSTER "Role", addr(id)), 0);
                leaders += strcmp(out, "s \"leader\"") == 0;
                assert_true(strcmp(out, "s \"leader\"") == 0 || strcmp(out, "s \"follower\"") == 0);
        }
        assert_int_equal(leaders, 1);
        /* Leader knowledge spreads with heartbeats; the leader knows itself. */
        assert_int_equal(property_u64(leader, "Leader"), leader);
        assert_int_equal(run(out, sizeof(out), BUSCTL "get-property " CLUSTER "Members", addr(leader)), 0);
        assert_true(strncmp(out, "a(tbbtb) 3 1 true ", 18) == 0);
}

struct changes {
        bool role, leader;
        uint64_t commit; /* the highest CommitIndex announced */
};

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct changes *c = userdata;
        const char *iface, *name;

        assert_int_equal(sd_bus_message_read(m, "s", &iface), 1);
        assert_string_equal(iface, "org.raftd1.Cluster");
        /* EMITS_CHANGE: the new values come along in the dictionary. */
        assert_true(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                assert_int_equal(sd_bus_message_read(m, "s", &name), 1);
                c->role |= strcmp(name, "Role") == 0;
                c->leader |= strcmp(name, "Leader") == 0;
                if (strcmp(name, "CommitIndex") == 0) {
                        uint64_t v;

                        assert_int_equal(sd_bus_message_read(m, "v", "t", &v), 1);
                        if (v > c->commit)
                                c->commit = v;
                } else
                        assert_true(sd_bus_message_skip(m, "v") >= 0);
                assert_true(sd_bus_message_exit_container(m) >= 0);
        }
        return 0;
}

static sd_bus *watch_properties(unsigned node, struct changes *c) {
        sd_bus *bus = cluster_client(&cluster, node);

        assert_true(sd_bus_match_signal(bus, NULL, "org.raftd1", "/org/raftd1", "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, c) >= 0);
        return bus;
}

static void await_changes(sd_bus *bus, const struct changes *c, bool (*done)(const struct changes *c, uint64_t arg),
                          uint64_t arg) {
        time_t end = time(NULL) + 20;

        while (!done(c, arg) && time(NULL) < end) {
                int r = sd_bus_process(bus, NULL);

                assert_true(r >= 0);
                if (r == 0)
                        assert_true(sd_bus_wait(bus, 1000000) >= 0);
        }
        assert_true(done(c, arg));
}

static bool saw_leader_change(const struct changes *c, uint64_t unused) {
        return c->role && c->leader;
}

static bool saw_commit(const struct changes *c, uint64_t index) {
        return c->commit >= index;
}

static void test_leadership_transfer_is_announced_with_properties_changed(void **state) {
        unsigned leader = cluster_leader(&cluster, 20000), target = leader % 3 + 1;
        struct changes old_leader = {}, new_leader = {};
        sd_bus *w_old = watch_properties(leader, &old_leader), *w_new = watch_properties(target, &new_leader);
        char out[512];

        assert_int_equal(run(out, sizeof(out), BUSCTL "call " CLUSTER "TransferLeadership tt %u 0", addr(leader), target),
                         0);
        await_changes(w_old, &old_leader, saw_leader_change, 0);
        await_changes(w_new, &new_leader, saw_leader_change, 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "get-property " CLUSTER "Role", addr(target)), 0);
        assert_string_equal(out, "s \"leader\"");
        sd_bus_flush_close_unref(w_old);
        sd_bus_flush_close_unref(w_new);
}

static void test_commits_are_announced_on_every_node(void **state) {
        struct changes c = {};
        sd_bus *w = watch_properties(3, &c);
        char out[512];
        uint64_t rev = 0;

        assert_int_equal(run(out, sizeof(out),
                             BUSCTL "call org.raftd1 /org/raftd1 org.raftd1.KV Put saytt /cluster/k 1 49 0 0", addr(1)),
                         0);
        assert_int_equal(sscanf(out, "t %" SCNu64, &rev), 1);
        await_changes(w, &c, saw_commit, rev);
        sd_bus_flush_close_unref(w);
}

static void test_admin_methods_through_busctl(void **state) {
        unsigned leader = cluster_leader(&cluster, 20000);
        char out[512], path[160];
        uint64_t index = 0;
        struct stat st;
        sd_bus *bus;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int fd, p[2];

        assert_true(leader > 0);
        assert_int_equal(run(out, sizeof(out), BUSCTL "call " CLUSTER "Snapshot t 0", addr(2)), 0);
        assert_int_equal(sscanf(out, "t %" SCNu64, &index), 1);
        assert_true(index > 0);

        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " CLUSTER "RemoveMember tt 99 0", addr(leader)), 0);
        assert_non_null(strstr(out, "No such member"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " CLUSTER "AddMember tst 0 127.0.0.1:1 0", addr(leader)),
                             0);
        assert_non_null(strstr(out, "'id'"));
        assert_int_not_equal(run(out, sizeof(out), BUSCTL "call " CLUSTER "AddMember tst 9 nowhere 0", addr(leader)), 0);
        assert_non_null(strstr(out, "host:port"));

        /* busctl cannot pass a descriptor: Backup through sd-bus. */
        bus = cluster_client(&cluster, 1);
        snprintf(path, sizeof(path), "%s/backup.img", cluster.dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Cluster", "Backup", &e, &reply, "ht",
                                       fd, (uint64_t) 0) >= 0);
        assert_int_equal(sd_bus_message_read(reply, "t", &index), 1);
        assert_true(index > 0);
        reply = sd_bus_message_unref(reply);
        close(fd);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 0);

        /* A pipe could stall the node: refused. */
        assert_int_equal(pipe(p), 0);
        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.Cluster", "Backup", &e, &reply, "ht",
                                       p[1], (uint64_t) 0) < 0);
        assert_string_equal(e.name, SD_BUS_ERROR_INVALID_ARGS);
        sd_bus_error_free(&e);
        close(p[0]);
        close(p[1]);
        sd_bus_flush_close_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_properties_describe_the_cluster),
                cmocka_unit_test(test_commits_are_announced_on_every_node),
                cmocka_unit_test(test_admin_methods_through_busctl),
                cmocka_unit_test(test_leadership_transfer_is_announced_with_properties_changed),
        };

        int failed = cmocka_run_group_tests(tests, setup, teardown);

        return failed > 0 ? failed : stop_failed;
}
