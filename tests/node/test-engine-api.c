/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The embedded API beyond put/get: locks, watches, listing, leases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fixture.h"

struct lock_op {
        bool done;
        int error;
        uint64_t fence;
        bool lost;
        uint64_t handle;
};

static void lock_done(void *userdata, int error, uint64_t fence) {
        struct lock_op *o = userdata;

        o->done = true;
        o->error = error;
        o->fence = fence;
}

static void lock_lost(void *userdata) {
        ((struct lock_op *) userdata)->lost = true;
}

static bool lock_op_done(struct fixture *f, void *arg) {
        return ((struct lock_op *) arg)->done;
}

static void acquire(struct fixture *f, raft_id id, const char *name, uint64_t timeout_ms, struct lock_op *o) {
        memset(o, 0, sizeof(*o));
        assert_int_equal(raftd_lock_acquire(f->nodes[id], name, strlen(name), "test", timeout_ms, lock_done, lock_lost,
                                            o, &o->handle),
                         0);
}

static void release(struct fixture *f, raft_id id, struct lock_op *o) {
        struct op r = { 0 };

        assert_int_equal(raftd_lock_release(f->nodes[id], o->handle, write_done, &r), 0);
        run_until(f, op_done, &r, 10);
        assert_int_equal(r.error, 0);
}

static void waiters_get_the_lock_in_order_with_growing_fences(void **state) {
        struct fixture *f = cluster(0);
        struct lock_op a, b, c;

        acquire(f, 1, "/locks/job", 10000, &a);
        run_until(f, lock_op_done, &a, 10);
        assert_int_equal(a.error, 0);
        acquire(f, 2, "/locks/job", 10000, &b);
        /* b asks first; c only once b is queued (its request applied). */
        run_for(f, 0.5);
        acquire(f, 3, "/locks/job", 10000, &c);
        run_for(f, 0.5);
        assert_false(b.done);
        assert_false(c.done);

        release(f, 1, &a);
        run_until(f, lock_op_done, &b, 10);
        assert_int_equal(b.error, 0);
        assert_true(b.fence > a.fence);
        assert_false(c.done);
        release(f, 2, &b);
        run_until(f, lock_op_done, &c, 10);
        assert_int_equal(c.error, 0);
        assert_true(c.fence > b.fence);
        release(f, 3, &c);
        cluster_free(f);
}

static void two_clients_of_one_node_exclude_each_other(void **state) {
        struct fixture *f = cluster(0);
        struct lock_op a, b;

        acquire(f, 1, "/locks/same", 10000, &a);
        run_until(f, lock_op_done, &a, 10);
        acquire(f, 1, "/locks/same", 10000, &b);
        run_for(f, 0.5);
        assert_false(b.done);
        release(f, 1, &a);
        run_until(f, lock_op_done, &b, 10);
        assert_int_equal(b.error, 0);
        assert_true(b.fence > a.fence);
        cluster_free(f);
}

static void waiting_too_long_times_out_and_leaves_the_queue(void **state) {
        struct fixture *f = cluster(0);
        struct lock_op a, b, c;

        acquire(f, 1, "/locks/t", 10000, &a);
        run_until(f, lock_op_done, &a, 10);
        acquire(f, 2, "/locks/t", 300, &b);
        run_until(f, lock_op_done, &b, 10);
        assert_int_equal(b.error, RAFTD_E_LOCK_TIMEOUT);
        /* The timed-out request must not come back as a phantom holder. */
        release(f, 1, &a);
        acquire(f, 3, "/locks/t", 10000, &c);
        run_until(f, lock_op_done, &c, 10);
        assert_int_equal(c.error, 0);
        cluster_free(f);
}

static void lock_of_a_dead_node_passes_to_the_waiter_after_the_session_ttl(void **state) {
        /* The TTL must outlast the election that follows the death (slow
         * under sanitizers), or the waiter's own session expires too. */
        struct fixture *f = cluster_ttl(0, 1500);
        struct lock_op a, b;

        acquire(f, 1, "/locks/d", 10000, &a);
        run_until(f, lock_op_done, &a, 10);
        acquire(f, 2, "/locks/d", 10000, &b);
        run_for(f, 0.3);
        assert_false(b.done);
        /* Node 1 dies without releasing: only its sessions' expiry frees it. */
        stop_node(f, 1);
        run_until(f, lock_op_done, &b, 10);
        assert_int_equal(b.error, 0);
        assert_true(b.fence > a.fence);
        cluster_free(f);
}

static bool lock_was_lost(struct fixture *f, void *arg) {
        return ((struct lock_op *) arg)->lost;
}

static void holder_cut_off_past_the_ttl_is_told_it_lost_the_lock(void **state) {
        struct fixture *f = cluster_ttl(0, 600);
        raft_id holder = follower_of(f, 0);
        struct lock_op a;

        acquire(f, holder, "/locks/cut", 10000, &a);
        run_until(f, lock_op_done, &a, 10);
        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, holder, id, true);
        run_for(f, 1.2);
        /* The majority moved on: a write there expires the session. */
        put(f, follower_of(f, holder) ? follower_of(f, holder) : leader_of(f), "/tick", "1");
        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, holder, id, false);
        run_until(f, lock_was_lost, &a, 10);
        cluster_free(f);
}

struct seen {
        unsigned n;
        char keys[16][32];
        bool deleted[16];
        uint64_t revisions[16];
};

static void on_change(void *userdata, const struct raftd_change *c) {
        struct seen *s = userdata;

        if (s->n == 16)
                return;
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%.*s", (int) c->key_len, (const char *) c->key);
        s->deleted[s->n] = c->value == NULL;
        s->revisions[s->n] = c->revision;
        s->n++;
}

static bool seen_three(struct fixture *f, void *arg) {
        return ((struct seen *) arg)->n >= 3;
}

static void watcher_on_another_node_sees_prefix_changes_in_revision_order(void **state) {
        struct fixture *f = cluster(0);
        struct seen s = { 0 };
        struct op o = { 0 };
        uint64_t handle;

        assert_int_equal(raftd_watch(f->nodes[3], "/w/", 3, on_change, &s, &handle), 0);
        put(f, 1, "/w/a", "1");
        put(f, 1, "/other", "x");
        put(f, 2, "/w/b", "2");
        assert_int_equal(raftd_delete(f->nodes[1], "/w/a", 4, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        run_until(f, seen_three, &s, 10);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.keys[0], "/w/a");
        assert_string_equal(s.keys[1], "/w/b");
        assert_string_equal(s.keys[2], "/w/a");
        assert_false(s.deleted[0]);
        assert_true(s.deleted[2]);
        assert_true(s.revisions[0] < s.revisions[1] && s.revisions[1] < s.revisions[2]);
        assert_int_equal(raftd_unwatch(f->nodes[3], handle), 0);
        put(f, 1, "/w/c", "3");
        assert_int_equal(s.n, 3);
        assert_int_equal(raftd_unwatch(f->nodes[3], handle), -ENOENT);
        cluster_free(f);
}

struct page {
        bool done;
        int error;
        size_t n;
        bool more;
        char last[32];
};

static void on_page(void *userdata, int error, const struct raftd_kv *e, size_t n, bool more) {
        struct page *p = userdata;

        p->done = true;
        p->error = error;
        p->n = n;
        p->more = more;
        if (n > 0)
                snprintf(p->last, sizeof(p->last), "%.*s", (int) e[n - 1].key_len, (const char *) e[n - 1].key);
}

static bool page_done(struct fixture *f, void *arg) {
        return ((struct page *) arg)->done;
}

static void list_walks_a_prefix_in_bounded_pages(void **state) {
        struct fixture *f = cluster(0);
        struct page p = { 0 };
        char key[32];
        size_t total = 0;
        unsigned pages = 0;

        for (int i = 0; i < 25; i++) {
                snprintf(key, sizeof(key), "/l/%02d", i);
                put(f, (raft_id) (i % N) + 1, key, "v");
        }
        put(f, 1, "/m/outside", "v");
        do {
                const char *after = pages == 0 ? NULL : p.last;
                char prev[32];

                snprintf(prev, sizeof(prev), "%s", p.last);
                memset(&p, 0, sizeof(p));
                assert_int_equal(raftd_list(f->nodes[2], "/l/", 3, after ? prev : NULL, after ? strlen(prev) : 0, 10,
                                            0, on_page, &p),
                                 0);
                run_until(f, page_done, &p, 10);
                assert_int_equal(p.error, 0);
                assert_true(p.n <= 10);
                total += p.n;
                pages++;
        } while (p.more);
        assert_int_equal(total, 25);
        assert_int_equal(pages, 3);
        assert_string_equal(p.last, "/l/24");
        cluster_free(f);
}

struct lease_op {
        bool done;
        int error;
        uint64_t lease;
};

static void lease_done(void *userdata, int error, uint64_t lease) {
        struct lease_op *o = userdata;

        o->done = true;
        o->error = error;
        o->lease = lease;
}

static bool lease_op_done(struct fixture *f, void *arg) {
        return ((struct lease_op *) arg)->done;
}

static bool key_gone(struct fixture *f, void *arg) {
        struct op o;

        get(f, 1, arg, 0, &o);
        return o.error == RAFTD_E_NO_SUCH_KEY;
}

static void key_bound_to_an_expired_lease_disappears(void **state) {
        struct fixture *f = cluster(0);
        struct lease_op l = { 0 };
        struct op o = { 0 }, g;

        assert_int_equal(raftd_lease_grant(f->nodes[2], 400, lease_done, &l), 0);
        run_until(f, lease_op_done, &l, 10);
        assert_int_equal(l.error, 0);
        assert_int_not_equal(l.lease, 0);
        assert_int_equal(raftd_put_lease(f->nodes[2], "/eph", 4, "x", 1, l.lease, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        get(f, 3, "/eph", 0, &g);
        assert_string_equal(g.value, "x");
        /* Nobody keeps it alive; the sessions' keep-alives move the clock. */
        run_until(f, key_gone, (void *) "/eph", 10);
        memset(&o, 0, sizeof(o));
        assert_int_equal(raftd_lease_keepalive(f->nodes[1], l.lease, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, -ENOENT);
        cluster_free(f);
}

static void snapshot_on_demand_and_backup_to_a_callers_fd(void **state) {
        struct fixture *f = cluster(0);
        struct index_op s = { 0 }, b = { 0 };
        struct raftd_status st;
        int fd = memfd_create("backup", MFD_CLOEXEC);

        put(f, 2, "/b/1", "x");
        assert_true(fd >= 0);
        assert_int_equal(raftd_snapshot(f->nodes[2], index_done, &s), 0);
        assert_false(s.done); /* callbacks come from the loop */
        run_until(f, index_op_done, &s, 10);
        assert_int_equal(s.error, 0);
        raftd_status(f->nodes[2], &st);
        assert_int_equal(s.index, st.applied_index);
        assert_int_equal(count_snapshots(f, 2), 1);

        assert_int_equal(raftd_backup(f->nodes[2], fd, index_done, &b), 0);
        run_until(f, index_op_done, &b, 10);
        assert_int_equal(b.error, 0);
        assert_true(b.index >= s.index);
        assert_true(lseek(fd, 0, SEEK_END) > 0);
        close(fd);
        cluster_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(waiters_get_the_lock_in_order_with_growing_fences),
                cmocka_unit_test(two_clients_of_one_node_exclude_each_other),
                cmocka_unit_test(waiting_too_long_times_out_and_leaves_the_queue),
                cmocka_unit_test(lock_of_a_dead_node_passes_to_the_waiter_after_the_session_ttl),
                cmocka_unit_test(holder_cut_off_past_the_ttl_is_told_it_lost_the_lock),
                cmocka_unit_test(watcher_on_another_node_sees_prefix_changes_in_revision_order),
                cmocka_unit_test(list_walks_a_prefix_in_bounded_pages),
                cmocka_unit_test(key_bound_to_an_expired_lease_disappears),
                cmocka_unit_test(snapshot_on_demand_and_backup_to_a_callers_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
