/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dbus/org.raftd1.conf on a bus as strict as the system bus: only the
 * raftd user may own org.raftd1, and everyone may call it (raftd then
 * authorizes each call itself). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus-cluster.h"

#ifndef POLICY_PATH
#error "POLICY_PATH must name dbus/org.raftd1.conf"
#endif

#define NOBODY "setpriv --reuid=nobody --regid=nogroup --clear-groups "
#define BUSCTL "busctl --address='%s' "

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static void test_root_may_not_own_the_name_under_the_shipped_policy(void **state) {
        c = (struct bus_cluster) { .policy = POLICY_PATH };

        assert_int_equal(cluster_start(&c, 1), -1);
        (void) cluster_stop(&c);
}

/* The shipped policy with root in the raftd user's place, so the test host
 * (run as root) may own the name. */
static void write_policy_for_root(char *path, size_t size) {
        FILE *in = fopen(POLICY_PATH, "re"), *out;
        char *text = NULL, *at;
        size_t len = 0;
        int fd;

        assert_non_null(in);
        assert_true(getdelim(&text, &len, 0, in) > 0);
        fclose(in);
        at = strstr(text, "<policy user=\"raftd\">");
        assert_non_null(at);
        snprintf(path, size, "/tmp/raftd-policy-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        out = fdopen(fd, "w");
        assert_non_null(out);
        fprintf(out, "%.*s<policy user=\"root\">%s", (int) (at - text), text, at + strlen("<policy user=\"raftd\">"));
        fclose(out);
        free(text);
}

static void test_everyone_may_call_and_raftd_decides(void **state) {
        char policy[64], out[1024];

        c = (struct bus_cluster) { .host_args = { "--allow-read=*" } };
        write_policy_for_root(policy, sizeof(policy));
        c.policy = policy;
        assert_int_equal(cluster_start(&c, 1), 0);

        /* The call reaches raftd, which allows the read: NoSuchKey. */
        assert_int_not_equal(run(out, sizeof(out), NOBODY BUSCTL "call org.raftd1 /org/raftd1 org.raftd1.KV Get st /p 0",
                                 c.node[1].address),
                             0);
        assert_non_null(strstr(out, "does not exist"));
        assert_int_equal(run(out, sizeof(out), NOBODY BUSCTL "get-property org.raftd1 /org/raftd1 org.raftd1.Cluster NodeId",
                             c.node[1].address),
                         0);
        assert_string_equal(out, "t 1");
        assert_int_equal(run(out, sizeof(out), NOBODY BUSCTL "introspect org.raftd1 /org/raftd1", c.node[1].address), 0);
        /* Writes reach raftd too, which refuses them for nobody. */
        assert_int_not_equal(run(out, sizeof(out),
                                 NOBODY BUSCTL "call org.raftd1 /org/raftd1 org.raftd1.KV Put saytt /p 1 49 0 0",
                                 c.node[1].address),
                             0);
        assert_non_null(strstr(out, "Access denied"));
        /* And nobody may not take the name. */
        assert_int_not_equal(run(out, sizeof(out), NOBODY
                                                          "busctl --address='%s' call org.freedesktop.DBus "
                                                          "/org/freedesktop/DBus org.freedesktop.DBus RequestName su "
                                                          "org.raftd1 0",
                                 c.node[1].address),
                             0);
        assert_int_equal(cluster_stop(&c), 0);
        unlink(policy);
}

/* What the policy does not allow is refused by dbus-daemon itself, before
 * raftd sees it: Properties.Set, and interfaces the policy does not list.
 * dbus-send shows the bus's own message ("Rejected send message"), which
 * busctl reduces to "Access denied" like raftd's own refusals. */
#define DBUS_SEND "dbus-send --bus='%s' --print-reply --dest=org.raftd1 /org/raftd1 "

static void test_the_bus_refuses_what_the_policy_does_not_allow(void **state) {
        char policy[64], out[1024];

        c = (struct bus_cluster) { .host_args = { "--allow-read=*" } };
        write_policy_for_root(policy, sizeof(policy));
        c.policy = policy;
        assert_int_equal(cluster_start(&c, 1), 0);

        assert_int_not_equal(run(out, sizeof(out),
                                 NOBODY DBUS_SEND "org.freedesktop.DBus.Properties.Set string:org.raftd1.Cluster "
                                                  "string:Leader variant:uint64:1",
                                 c.node[1].address),
                             0);
        assert_non_null(strstr(out, "Rejected send message"));
        assert_int_not_equal(run(out, sizeof(out), NOBODY DBUS_SEND "org.raftd1.Internal.Get", c.node[1].address), 0);
        assert_non_null(strstr(out, "Rejected send message"));
        /* An allowed call passes the bus: raftd answers it. */
        assert_int_equal(run(out, sizeof(out), NOBODY DBUS_SEND "org.freedesktop.DBus.Properties.Get "
                                                               "string:org.raftd1.Cluster string:NodeId",
                             c.node[1].address),
                         0);
        assert_non_null(strstr(out, "uint64 1"));
        /* Root may send anything to org.raftd1: the bus lets it through
         * and raftd answers that it has no such interface. */
        assert_int_not_equal(run(out, sizeof(out), DBUS_SEND "org.raftd1.Internal.Get", c.node[1].address), 0);
        assert_null(strstr(out, "Rejected send message"));
        assert_non_null(strstr(out, "UnknownMethod"));
        assert_int_equal(cluster_stop(&c), 0);
        unlink(policy);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_root_may_not_own_the_name_under_the_shipped_policy, stop_cluster),
                cmocka_unit_test_teardown(test_everyone_may_call_and_raftd_decides, stop_cluster),
                cmocka_unit_test_teardown(test_the_bus_refuses_what_the_policy_does_not_allow, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
