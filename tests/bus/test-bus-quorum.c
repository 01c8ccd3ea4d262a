/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without a quorum a write is answered after the request timeout with
 * org.raftd1.Unavailable (or OutcomeUnknown when it was forwarded to a
 * leader that died) and takes no effect; while it waits, the node keeps
 * serving other calls (the reply is deferred, nothing blocks). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bus-cluster.h"

struct pending_put {
        bool done;
        char error[128];
};

/* Every test's cluster, stopped by the teardown even when the test fails. */
static struct bus_cluster c;

static int stop_cluster(void **state) {
        return cluster_stop(&c) < 0 ? -1 : 0;
}

static int on_put_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct pending_put *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        p->done = true;
        snprintf(p->error, sizeof(p->error), "%s", e ? e->name : "");
        return 0;
}

static sd_bus_message *put_message(sd_bus *bus, const char *key, const char *value) {
        sd_bus_message *m = NULL;

        assert_true(sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put") >= 0);
        assert_true(sd_bus_message_append(m, "s", key) >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', value, strlen(value)) >= 0);
        assert_true(sd_bus_message_append(m, "tt", (uint64_t) 0, (uint64_t) 0) >= 0);
        return m;
}

static void get_local(sd_bus *bus, const char *key, char *value, size_t size) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const void *v;
        size_t len;

        if (sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get", &e, &reply, "st", key,
                               (uint64_t) 1) < 0)
                fail_msg("local Get %s: %s: %s", key, e.name, e.message);
        assert_true(sd_bus_message_read_array(reply, 'y', &v, &len) >= 0);
        assert_true(len < size);
        memcpy(value, v, len);
        value[len] = 0;
        sd_bus_message_unref(reply);
}

static void test_write_without_quorum_is_unavailable_and_node_keeps_serving(void **state) {
        struct pending_put p = {};
        sd_bus_message *m, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        unsigned leader, survivor;
        char value[64];
        sd_bus *bus;
        time_t end;

        c = (struct bus_cluster) { .host_args = { "--request-timeout-ms=1500" } };
        assert_int_equal(cluster_start(&c, 3), 0);
        leader = cluster_leader(&c, 20000);
        assert_true(leader > 0);
        survivor = leader % 3 + 1;
        bus = cluster_client(&c, survivor);
        m = put_message(bus, "/q/k", "before");
        assert_true(sd_bus_call(bus, m, 0, &e, &reply) >= 0);
        m = sd_bus_message_unref(m);
        reply = sd_bus_message_unref(reply);

        for (unsigned id = 1; id <= 3; id++)
                if (id != survivor)
                        cluster_kill_host(&c, id);

        m = put_message(bus, "/q/k", "after");
        assert_true(sd_bus_call_async(bus, NULL, m, on_put_reply, &p, 30 * 1000000ULL) >= 0);
        m = sd_bus_message_unref(m);
        /* The put waits for a quorum; meanwhile the node answers at once. */
        get_local(bus, "/q/k", value, sizeof(value));
        assert_string_equal(value, "before");
        assert_false(p.done);

        end = time(NULL) + 20;
        while (!p.done && time(NULL) < end) {
                int r = sd_bus_process(bus, NULL);

                assert_true(r >= 0);
                if (r == 0)
                        assert_true(sd_bus_wait(bus, 1000000) >= 0);
        }
        assert_true(p.done);
        /* The survivor may have forwarded to the dead leader before it
         * noticed: then it cannot know, and says so. */
        fprintf(stderr, "write without quorum: %s\n", p.error);
        assert_true(strcmp(p.error, "org.raftd1.Unavailable") == 0 ||
                    strcmp(p.error, "org.raftd1.OutcomeUnknown") == 0);

        /* Back to a quorum: an Unavailable write did not take effect; an
         * OutcomeUnknown one may have (it reached a log), and then it is
         * applied exactly as sent. */
        for (unsigned id = 1; id <= 3; id++)
                if (id != survivor)
                        cluster_spawn_host(&c, id);
        for (unsigned id = 1; id <= 3; id++)
                if (id != survivor)
                        assert_int_equal(cluster_await_ready(&c, id), 0);
        assert_true(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Get", &e, &reply, "st",
                                       "/q/k", (uint64_t) 0) >= 0);
        {
                const void *v;
                size_t len;

                assert_true(sd_bus_message_read_array(reply, 'y', &v, &len) >= 0);
                if (strcmp(p.error, "org.raftd1.Unavailable") == 0 || len == 6) {
                        assert_int_equal(len, 6);
                        assert_memory_equal(v, "before", 6);
                } else {
                        assert_int_equal(len, 5);
                        assert_memory_equal(v, "after", 5);
                }
        }
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        assert_int_equal(cluster_stop(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_write_without_quorum_is_unavailable_and_node_keeps_serving, stop_cluster),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
