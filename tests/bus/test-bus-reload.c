/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus_set_acl(): the allow-lists change at run time (the daemon's SIGHUP),
 * for calls from a separate process under another uid. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

#define NOBODY_PUT                                                                                                     \
        "setpriv --reuid=nobody --regid=nogroup --clear-groups busctl --address='%s' "                                \
        "call org.raftd1 /org/raftd1 org.raftd1.KV Put saytt /reload/k 1 49 0 0"

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static void write_acl(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void reload(struct bus_cluster *cluster) {
        char line[64];

        assert_int_equal(kill(cluster->node[1].host, SIGHUP), 0);
        assert_true(cluster_read_line(cluster->node[1].host_out, line, sizeof(line), 10000));
        assert_string_equal(line, "reloaded");
}

static void test_reloaded_allow_lists_take_effect_at_once(void **state) {
        char acl[64] = "/tmp/raftd-acl-XXXXXX", arg[96], out[512];
        int fd = mkstemp(acl);

        c = (struct bus_cluster) {};
        assert_true(fd >= 0);
        close(fd);
        write_acl(acl, "read *\n");
        snprintf(arg, sizeof(arg), "--acl-file=%s", acl);
        c.host_args[0] = arg;
        assert_int_equal(cluster_start(&c, 1), 0);
        assert_true(cluster_leader(&c, 20000) == 1);

        assert_int_not_equal(run(out, sizeof(out), NOBODY_PUT, c.node[1].address), 0);
        assert_non_null(strstr(out, "Access denied"));

        write_acl(acl, "read *\nwrite 1,65534\n");
        reload(&c);
        assert_int_equal(run(out, sizeof(out), NOBODY_PUT, c.node[1].address), 0);
        assert_true(strncmp(out, "t ", 2) == 0);

        write_acl(acl, "read *\nwrite 1\n");
        reload(&c);
        assert_int_not_equal(run(out, sizeof(out), NOBODY_PUT, c.node[1].address), 0);
        assert_non_null(strstr(out, "Access denied"));

        assert_int_equal(cluster_stop(&c), 0);
        unlink(acl);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_reloaded_allow_lists_take_effect_at_once, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
