/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When its bus goes away the front end reports it (bus_options.disconnected)
 * instead of spinning or ignoring it: the test host then exits with 3. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus-cluster.h"

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static void test_losing_the_bus_is_reported(void **state) {
        char line[64];
        int status;

        c = (struct bus_cluster) {};
        assert_int_equal(cluster_start(&c, 1), 0);
        assert_int_equal(kill(c.node[1].daemon, SIGKILL), 0);
        c.node[1].daemon = 0;
        /* EOF on its stdout: the host ended. */
        assert_false(cluster_read_line(c.node[1].host_out, line, sizeof(line), 20000));
        assert_int_equal(waitpid(c.node[1].host, &status, 0), c.node[1].host);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 3);
        c.node[1].host = 0;
        close(c.node[1].host_in);
        close(c.node[1].host_out);
        assert_int_equal(cluster_stop(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_losing_the_bus_is_reported, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
