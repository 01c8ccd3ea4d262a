/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The contract docs/embedding.md promises embedders, checked through
 * libraftd.so and raftd.h alone (no internal header, no static library):
 * a refused call returns an error and never calls back; an accepted one
 * calls back exactly once, from the loop, never inside the call; freeing a
 * node cancels what is pending; no quorum means RAFTD_E_UNAVAILABLE; the
 * documented outcomes of get, delete and CAS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ev.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raftd.h"

struct op {
        int calls;
        int error;
        bool swapped;
        uint64_t revision;
        char value[64];
        size_t len;
        bool called_inside_a_call;
};

struct fixture {
        struct ev_loop *loop;
        char dir[256];
        char data_dir[272];
        struct raftd_node *node;
        bool in_call; /* set around each API call */
        enum raftd_role last_role;
        uint64_t last_leader;
};

/* The callbacks below see the fixture through this; cmocka runs tests one
 * after another in one thread. */
static struct fixture *current;

static void note_call(struct op *o) {
        o->calls++;
        if (current->in_call)
                o->called_inside_a_call = true;
}

static void write_done(void *userdata, int error, uint64_t revision) {
        struct op *o = userdata;

        note_call(o);
        o->error = error;
        o->revision = revision;
}

static void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        struct op *o = userdata;

        note_call(o);
        o->error = error;
        o->revision = revision;
        o->len = len;
        if (value && len < sizeof(o->value)) {
                memcpy(o->value, value, len);
                o->value[len] = 0;
        }
}

static void cas_done(void *userdata, int error, bool swapped, uint64_t revision) {
        struct op *o = userdata;

        note_call(o);
        o->error = error;
        o->swapped = swapped;
        o->revision = revision;
}

static void status_changed(void *userdata, const struct raftd_status *s) {
        struct fixture *f = userdata;

        f->last_role = s->role;
        f->last_leader = s->leader;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static void deadline_passed(struct ev_loop *loop, ev_timer *w, int revents) {
        *(bool *) w->data = true;
}

/* Run the loop until *done, or fail the test after `seconds` (a guard
 * against a hang, not a timing assertion). */
static void run_until_done(struct fixture *f, const struct op *o, double seconds) {
        bool expired = false;
        ev_timer t;

        ev_timer_init(&t, deadline_passed, seconds, 0.0);
        t.data = &expired;
        ev_timer_start(f->loop, &t);
        while (o->calls == 0 && !expired)
                ev_run(f->loop, EVRUN_ONCE);
        ev_timer_stop(f->loop, &t);
        assert_int_not_equal(o->calls, 0);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/raftd-lib-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->data_dir, sizeof(f->data_dir), "%s/node", f->dir);
        f->loop = ev_loop_new(EVFLAG_AUTO);
        assert_non_null(f->loop);
        current = f;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        f->node = raftd_node_free(f->node);
        ev_loop_destroy(f->loop);
        (void) nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        current = NULL;
        free(f);
        return 0;
}

/* peers: the initial voters, 1 (this node) and 2..n_voters, which never
 * run: with more than one voter the node can never elect itself. */
static void start_node(struct fixture *f, size_t n_voters, uint32_t request_timeout_ms) {
        static const struct raftd_peer voters[] = {
                { 1, "127.0.0.1:1" },
                { 2, "127.0.0.1:2" },
                { 3, "127.0.0.1:3" },
        };
        struct raftd_config c;

        assert_true(n_voters >= 1 && n_voters <= 3);
        raftd_config_init(&c);
        c.id = 1;
        c.data_dir = f->data_dir;
        c.peers = voters;
        c.n_peers = n_voters;
        c.heartbeat_ms = 10;
        c.election_ms = 50;
        c.request_timeout_ms = request_timeout_ms;
        c.max_key_len = 16;
        c.max_value_size = 32;
        assert_int_equal(raftd_node_new(f->loop, &c, &f->node), 0);
        raftd_on_status(f->node, status_changed, f);
        assert_int_equal(raftd_node_start(f->node), 0);
}

static void invalid_configurations_are_refused(void **state) {
        struct fixture *f = *state;
        struct raftd_node *n = NULL;
        struct raftd_config c;

        raftd_config_init(&c);
        c.data_dir = f->data_dir;
        assert_int_equal(raftd_node_new(f->loop, &c, &n), -EINVAL); /* id 0 */
        c.id = 1;
        c.data_dir = NULL;
        assert_int_equal(raftd_node_new(f->loop, &c, &n), -EINVAL);
        c.data_dir = f->data_dir;
        c.election_ms = c.heartbeat_ms;
        assert_int_equal(raftd_node_new(f->loop, &c, &n), -EINVAL);
        raftd_config_init(&c);
        c.id = 1;
        c.data_dir = f->data_dir;
        c.max_key_len = 0;
        assert_int_equal(raftd_node_new(f->loop, &c, &n), -EINVAL);
        assert_null(n);
        assert_null(raftd_node_free(NULL));
}

static void refused_calls_return_an_error_and_never_call_back(void **state) {
        struct fixture *f = *state;
        char long_key[17], big_value[33];
        struct op refused = { 0 }, put = { 0 };
        struct raftd_config c;

        memset(long_key, 'k', sizeof(long_key));
        memset(big_value, 'v', sizeof(big_value));

        /* Before start: nothing is accepted. */
        raftd_config_init(&c);
        c.id = 1;
        c.data_dir = f->data_dir;
        assert_int_equal(raftd_node_new(f->loop, &c, &f->node), 0);
        assert_int_equal(raftd_put(f->node, "k", 1, "v", 1, write_done, &refused), -ENOTCONN);
        assert_int_equal(raftd_get(f->node, "k", 1, 0, get_done, &refused), -ENOTCONN);
        f->node = raftd_node_free(f->node);

        start_node(f, 1, 5000);
        assert_int_equal(raftd_node_start(f->node), -EALREADY);
        assert_int_equal(raftd_put(f->node, "", 0, "v", 1, write_done, &refused), -EINVAL);
        assert_int_equal(raftd_put(f->node, NULL, 1, "v", 1, write_done, &refused), -EINVAL);
        assert_int_equal(raftd_get(f->node, "", 0, 0, get_done, &refused), -EINVAL);
        assert_int_equal(raftd_delete(f->node, NULL, 0, write_done, &refused), -EINVAL);
        assert_int_equal(raftd_put(f->node, long_key, sizeof(long_key), "v", 1, write_done, &refused),
                         RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_put(f->node, "k", 1, big_value, sizeof(big_value), write_done, &refused),
                         RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_get(f->node, long_key, sizeof(long_key), 0, get_done, &refused), RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_cas(f->node, "k", 1, big_value, sizeof(big_value), "v", 1, cas_done, &refused),
                         RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_cas(f->node, "k", 1, NULL, 0, big_value, sizeof(big_value), cas_done, &refused),
                         RAFTD_E_TOO_LARGE);

        /* A write accepted after the refusals completes only after the
         * loop ran through several iterations: had any refused call been
         * queued anyway, its callback would have run by then. */
        assert_int_equal(raftd_put(f->node, "k", 1, "v", 1, write_done, &put), 0);
        run_until_done(f, &put, 10.0);
        assert_int_equal(put.error, 0);
        assert_int_equal(refused.calls, 0);
}

static void accepted_operations_call_back_once_from_the_loop_never_inside_the_call(void **state) {
        struct fixture *f = *state;
        struct op put = { 0 }, get = { 0 }, missing = { 0 }, del_missing = { 0 }, cas_fail = { 0 },
                  cas_ok = { 0 }, del = { 0 }, get_deleted = { 0 }, last = { 0 };
        const struct op *all[] = { &put, &get, &missing, &del_missing, &cas_fail, &cas_ok, &del, &get_deleted, &last };
        char value[8] = "first";

        start_node(f, 1, 5000);

        /* Issued before the node has elected itself: it waits for it. */
        f->in_call = true;
        assert_int_equal(raftd_put(f->node, "a", 1, value, strlen(value), write_done, &put), 0);
        /* The value was copied during the call. */
        strcpy(value, "XXXXX");
        f->in_call = false;
        run_until_done(f, &put, 10.0);

        /* Operations in flight together are not ordered among themselves
         * (a read may overtake a write issued before it): these four do
         * not depend on each other. */
        f->in_call = true;
        assert_int_equal(raftd_get(f->node, "a", 1, 0, get_done, &get), 0);
        assert_int_equal(raftd_get(f->node, "nope", 4, 0, get_done, &missing), 0);
        assert_int_equal(raftd_delete(f->node, "nope", 4, write_done, &del_missing), 0);
        assert_int_equal(raftd_cas(f->node, "a", 1, "other", 5, "second", 6, cas_done, &cas_fail), 0);
        f->in_call = false;
        run_until_done(f, &get, 10.0);
        run_until_done(f, &missing, 10.0);
        run_until_done(f, &del_missing, 10.0);
        run_until_done(f, &cas_fail, 10.0);
        f->in_call = true;
        assert_int_equal(raftd_cas(f->node, "a", 1, "first", 5, "second", 6, cas_done, &cas_ok), 0);
        f->in_call = false;
        run_until_done(f, &cas_ok, 10.0);

        assert_int_equal(f->last_role, RAFTD_LEADER);
        assert_int_equal(f->last_leader, 1);

        assert_int_equal(put.error, 0);
        assert_true(put.revision > 0);
        assert_int_equal(get.error, 0);
        assert_string_equal(get.value, "first");
        assert_int_equal(get.revision, put.revision);
        assert_int_equal(missing.error, RAFTD_E_NO_SUCH_KEY);
        assert_int_equal(del_missing.error, RAFTD_E_NO_SUCH_KEY);
        /* A failed comparison is an outcome, not an error. */
        assert_int_equal(cas_fail.error, 0);
        assert_false(cas_fail.swapped);
        assert_int_equal(cas_ok.error, 0);
        assert_true(cas_ok.swapped);
        assert_true(cas_ok.revision > put.revision);

        /* Then the key goes away, and a read says so. */
        f->in_call = true;
        assert_int_equal(raftd_delete(f->node, "a", 1, write_done, &del), 0);
        f->in_call = false;
        run_until_done(f, &del, 10.0);
        assert_int_equal(del.error, 0);
        assert_true(del.revision > cas_ok.revision);
        assert_int_equal(raftd_get(f->node, "a", 1, 0, get_done, &get_deleted), 0);
        run_until_done(f, &get_deleted, 10.0);
        assert_int_equal(get_deleted.error, RAFTD_E_NO_SUCH_KEY);

        /* Let the loop go on past one more write: no callback runs twice. */
        assert_int_equal(raftd_put(f->node, "b", 1, "v", 1, write_done, &last), 0);
        run_until_done(f, &last, 10.0);
        f->node = raftd_node_free(f->node);
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                assert_int_equal(all[i]->calls, 1);
                assert_false(all[i]->called_inside_a_call);
        }
}

static void free_completes_pending_operations_with_ecanceled(void **state) {
        struct fixture *f = *state;
        struct op put = { 0 }, get = { 0 }, cas = { 0 }, del = { 0 };
        const struct op *all[] = { &put, &get, &cas, &del };

        /* Two voters, one of which never runs: nothing can complete. */
        start_node(f, 2, 60000);
        assert_int_equal(raftd_put(f->node, "a", 1, "v", 1, write_done, &put), 0);
        assert_int_equal(raftd_get(f->node, "a", 1, 0, get_done, &get), 0);
        assert_int_equal(raftd_cas(f->node, "a", 1, NULL, 0, "v", 1, cas_done, &cas), 0);
        assert_int_equal(raftd_delete(f->node, "a", 1, write_done, &del), 0);
        for (int i = 0; i < 10; i++)
                ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(put.calls + get.calls + cas.calls + del.calls, 0);

        f->node = raftd_node_free(f->node);
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                assert_int_equal(all[i]->calls, 1);
                assert_int_equal(all[i]->error, -ECANCELED);
        }
}

static void without_a_quorum_operations_fail_as_unavailable(void **state) {
        struct fixture *f = *state;
        struct op put = { 0 }, get = { 0 }, local = { 0 };

        start_node(f, 3, 200);
        assert_int_equal(raftd_put(f->node, "a", 1, "v", 1, write_done, &put), 0);
        assert_int_equal(raftd_get(f->node, "a", 1, 0, get_done, &get), 0);
        /* A local read needs no leader. */
        assert_int_equal(raftd_get(f->node, "a", 1, RAFTD_GET_LOCAL, get_done, &local), 0);
        run_until_done(f, &local, 10.0);
        assert_int_equal(local.error, RAFTD_E_NO_SUCH_KEY);
        assert_int_equal(get.calls + put.calls, 0);

        run_until_done(f, &put, 10.0);
        run_until_done(f, &get, 10.0);
        /* Never accepted by a leader, so it did not take effect. */
        assert_int_equal(put.error, RAFTD_E_UNAVAILABLE);
        assert_int_equal(get.error, RAFTD_E_UNAVAILABLE);
        assert_int_equal(f->last_leader, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(invalid_configurations_are_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(refused_calls_return_an_error_and_never_call_back, setup, teardown),
                cmocka_unit_test_setup_teardown(accepted_operations_call_back_once_from_the_loop_never_inside_the_call,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(free_completes_pending_operations_with_ecanceled, setup, teardown),
                cmocka_unit_test_setup_teardown(without_a_quorum_operations_fail_as_unavailable, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
