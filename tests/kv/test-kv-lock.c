/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Locks: FIFO waiters, fence tokens that only grow (also across snapshot
 * and restore), release on request, session expiry and lease expiry. */
#include <sys/mman.h>

#include "kv-test.h"

struct grants {
        uint64_t session[16];
        uint64_t fence[16];
        size_t n;
};

static void record_grant(void *userdata, const struct kv_event *e) {
        struct grants *g = userdata;

        if (e->type != KV_EVENT_LOCK_GRANTED)
                return;
        assert_true(g->n < 16);
        g->session[g->n] = e->session;
        g->fence[g->n] = e->fence;
        g->n++;
}

struct listing {
        char holder_owner[64];
        uint64_t holder, since, waiters[8];
        size_t n_waiters, n_locks;
};

static int list_lock(void *userdata, const struct kv_lock_info *l) {
        struct listing *s = userdata;

        s->n_locks++;
        s->holder = l->held ? l->holder.session : 0;
        s->since = l->holder.since_ms;
        snprintf(s->holder_owner, sizeof(s->holder_owner), "%.*s", (int) l->holder.owner_len,
                 (const char *) l->holder.owner);
        s->n_waiters = l->n_waiters;
        for (size_t i = 0; i < l->n_waiters && i < 8; i++)
                s->waiters[i] = l->waiters[i].session;
        return 0;
}

static void waiters_are_granted_first_come_first_served(void **state) {
        struct grants g = {};
        struct kv_options o = { .on_event = record_grant, .userdata = &g };
        struct kv *kv = open_memory(&o);
        uint64_t s[4], seq[4] = {}, last_fence = 0;
        struct kv_command c;
        struct kv_result r;
        struct listing l = {};
        raft_index idx = 1;

        for (int i = 0; i < 4; i++)
                s[i] = register_session(kv, idx++, 0, 100000);
        /* s0 takes it; s2, s1, s3 queue in that order. */
        c = lock_command(KV_CMD_LOCK_ACQUIRE, s[0], &seq[0], 10, "backup", "n1/:1.1/0/10/a", 0);
        r = apply_ok(kv, idx++, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_true(r.fence > 0);
        last_fence = r.fence;
        for (int i = 0; i < 3; i++) {
                int who = (int[]) { 2, 1, 3 }[i];
                c = lock_command(KV_CMD_LOCK_ACQUIRE, s[who], &seq[who], 20 + i, "backup", "n2/:1.2/0/20/b", 0);
                r = apply_ok(kv, idx++, &c);
                assert_int_equal(r.status, KV_STATUS_LOCK_QUEUED);
                assert_int_equal(r.fence, 0);
        }
        /* Asking again while queued keeps the place, not a second one. */
        c = lock_command(KV_CMD_LOCK_ACQUIRE, s[1], &seq[1], 25, "backup", "n2/:1.2/0/20/b", 0);
        assert_int_equal(apply_ok(kv, idx++, &c).status, KV_STATUS_LOCK_QUEUED);

        assert_int_equal(kv_lock_foreach(kv, list_lock, &l), 0);
        assert_int_equal(l.n_locks, 1);
        assert_int_equal(l.holder, s[0]);
        assert_string_equal(l.holder_owner, "n1/:1.1/0/10/a");
        assert_int_equal(l.since, 10);
        assert_int_equal(l.n_waiters, 3);
        assert_int_equal(l.waiters[0], s[2]);
        assert_int_equal(l.waiters[1], s[1]);
        assert_int_equal(l.waiters[2], s[3]);

        g.n = 0;
        for (int i = 0; i < 4; i++) {
                int who = (int[]) { 0, 2, 1, 3 }[i];
                c = lock_command(KV_CMD_LOCK_RELEASE, s[who], &seq[who], 30 + i, "backup", NULL, 0);
                r = apply_ok(kv, idx++, &c);
                assert_int_equal(r.status, KV_STATUS_OK);
        }
        assert_int_equal(g.n, 3);
        assert_int_equal(g.session[0], s[2]);
        assert_int_equal(g.session[1], s[1]);
        assert_int_equal(g.session[2], s[3]);
        for (int i = 0; i < 3; i++) {
                assert_true(g.fence[i] > last_fence);
                last_fence = g.fence[i];
        }
        l = (struct listing) {};
        assert_int_equal(kv_lock_foreach(kv, list_lock, &l), 0);
        assert_int_equal(l.n_locks, 0);
        kv_close(kv);
}

static void holder_reacquire_returns_its_fence_and_strangers_cannot_release(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t a = register_session(kv, 1, 0, 100000), b = register_session(kv, 2, 0, 100000), sa = 0, sb = 0;
        struct kv_command c;
        struct kv_result r1, r2;

        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 1, "l", "a", 0);
        r1 = apply_ok(kv, 3, &c);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 1, "l", "a", 0);
        r2 = apply_ok(kv, 4, &c);
        assert_int_equal(r2.status, KV_STATUS_OK);
        assert_int_equal(r1.fence, r2.fence);

        c = lock_command(KV_CMD_LOCK_RELEASE, b, &sb, 1, "l", NULL, 0);
        r2 = apply_ok(kv, 5, &c);
        assert_int_equal(r2.status, KV_STATUS_NOT_LOCK_HOLDER);
        assert_int_equal(r2.error, -EPERM);
        c = lock_command(KV_CMD_LOCK_RELEASE, b, &sb, 1, "unknown", NULL, 0);
        assert_int_equal(apply_ok(kv, 6, &c).status, KV_STATUS_NOT_LOCK_HOLDER);

        /* A waiter that gives up leaves the queue. */
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 1, "l", "b", 0);
        assert_int_equal(apply_ok(kv, 7, &c).status, KV_STATUS_LOCK_QUEUED);
        c = lock_command(KV_CMD_LOCK_RELEASE, b, &sb, 1, "l", NULL, 0);
        assert_int_equal(apply_ok(kv, 8, &c).status, KV_STATUS_OK);
        c = lock_command(KV_CMD_LOCK_RELEASE, a, &sa, 1, "l", NULL, 0);
        assert_int_equal(apply_ok(kv, 9, &c).status, KV_STATUS_OK);
        {
                struct listing l = {};
                assert_int_equal(kv_lock_foreach(kv, list_lock, &l), 0);
                assert_int_equal(l.n_locks, 0); /* not handed to the one who left */
        }
        kv_close(kv);
}

static int snapshot_fd(struct kv *kv) {
        int fd = memfd_create("kv-snapshot", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(kv_snapshot_write(kv, fd), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void fence_keeps_growing_across_snapshot_and_restore(void **state) {
        struct kv *kv = open_memory(NULL), *restored = open_memory(NULL);
        uint64_t a = register_session(kv, 1, 0, 100000), b = register_session(kv, 2, 0, 100000), sa = 0, sb = 0;
        uint64_t fences[8];
        struct kv_command c;
        struct kv_result r;
        raft_index idx = 3;
        int fd;

        /* Hand "l" back and forth, and leave b waiting on it. */
        for (int i = 0; i < 3; i++) {
                c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 5, "l", "a", 0);
                fences[i] = apply_ok(kv, idx++, &c).fence;
                c = lock_command(KV_CMD_LOCK_RELEASE, a, &sa, 5, "l", NULL, 0);
                apply_ok(kv, idx++, &c);
                if (i > 0)
                        assert_true(fences[i] > fences[i - 1]);
        }
        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 5, "l", "a", 0);
        fences[3] = apply_ok(kv, idx++, &c).fence;
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 5, "l", "b", 0);
        assert_int_equal(apply_ok(kv, idx++, &c).status, KV_STATUS_LOCK_QUEUED);

        fd = snapshot_fd(kv);
        assert_int_equal(kv_snapshot_load(restored, fd), 0);
        close(fd);
        assert_same_digest(kv, restored);
        assert_int_equal(kv_applied_index(restored), idx - 1);

        /* The same next entries on both: b gets the lock with a larger
         * fence, the same on both nodes. */
        c = lock_command(KV_CMD_LOCK_RELEASE, a, &sa, 6, "l", NULL, 0);
        apply_ok(kv, idx, &c);
        r = apply_ok(restored, idx, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        idx++;
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 6, "l", "b", 0);
        r = apply_ok(restored, idx, &c);
        assert_true(r.fence > fences[3]);
        assert_int_equal(apply_ok(kv, idx, &c).fence, r.fence);
        assert_same_digest(kv, restored);
        kv_close(kv);
        kv_close(restored);
}

static void session_expiry_releases_locks_to_the_next_waiter(void **state) {
        struct grants g = {};
        struct kv_options o = { .on_event = record_grant, .userdata = &g };
        struct kv *kv = open_memory(&o);
        uint64_t a = register_session(kv, 1, 0, 1000), b = register_session(kv, 2, 0, 60000), sa = 0, sb = 0;
        uint64_t fa;
        struct kv_command c;
        struct listing l = {};

        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 100, "l", "a", 0);
        fa = apply_ok(kv, 3, &c).fence;
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 200, "l", "b", 0);
        assert_int_equal(apply_ok(kv, 4, &c).status, KV_STATUS_LOCK_QUEUED);
        /* a also waits on a lock b holds: that wait goes too. */
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 200, "m", "b", 0);
        apply_ok(kv, 5, &c);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 300, "m", "a", 0);
        assert_int_equal(apply_ok(kv, 6, &c).status, KV_STATUS_LOCK_QUEUED);

        g.n = 0;
        /* a was last heard of at 300: gone at 1300, by b's keep-alive. */
        sb++;
        c = (struct kv_command) { .type = KV_CMD_SESSION_KEEPALIVE, .time_ms = 1299, .session = b, .seq = sb,
                                  .lowest_unacked = sb };
        apply_ok(kv, 7, &c);
        assert_int_equal(g.n, 0);
        c.time_ms = 1300;
        c.seq = c.lowest_unacked = ++sb;
        apply_ok(kv, 8, &c);
        assert_false(kv_session_exists(kv, a));
        assert_int_equal(g.n, 1);
        assert_int_equal(g.session[0], b);
        assert_true(g.fence[0] > fa);

        assert_int_equal(kv_lock_foreach(kv, list_lock, &l), 0);
        assert_int_equal(l.n_locks, 2);
        kv_close(kv);
}

static void lease_expiry_releases_a_lock_bound_to_it(void **state) {
        struct grants g = {};
        struct kv_options o = { .on_event = record_grant, .userdata = &g };
        struct kv *kv = open_memory(&o);
        uint64_t a = register_session(kv, 1, 0, 100000), b = register_session(kv, 2, 0, 100000), sa = 0, sb = 0;
        uint64_t lease = grant_lease(kv, 3, 0, 500);
        struct kv_command c;

        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 10, "l", "a", lease);
        assert_int_equal(apply_ok(kv, 4, &c).status, KV_STATUS_OK);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 10, "l", "b", 0);
        assert_int_equal(apply_ok(kv, 5, &c).status, KV_STATUS_LOCK_QUEUED);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 10, "other", "b", 99);
        assert_int_equal(apply_ok(kv, 6, &c).status, KV_STATUS_NO_SUCH_LEASE);

        g.n = 0;
        c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 500, .key = BLOB("/t"), .value = BLOB("") };
        apply_ok(kv, 7, &c);
        assert_false(kv_lease_exists(kv, lease));
        assert_true(kv_session_exists(kv, a));
        assert_int_equal(g.n, 1);
        assert_int_equal(g.session[0], b);
        kv_close(kv);
}

static void lock_skips_a_waiter_expiring_in_the_same_entry(void **state) {
        struct grants g = {};
        struct kv_options o = { .on_event = record_grant, .userdata = &g };
        struct kv *kv = open_memory(&o);
        uint64_t a = register_session(kv, 1, 0, 1000), b = register_session(kv, 2, 0, 1000),
                 c3 = register_session(kv, 3, 0, 60000), sa = 0, sb = 0, sc = 0;
        struct kv_command c;

        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 0, "l", "a", 0);
        apply_ok(kv, 4, &c);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 0, "l", "b", 0);
        apply_ok(kv, 5, &c);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, c3, &sc, 0, "l", "c", 0);
        apply_ok(kv, 6, &c);

        /* a and b expire in the same entry: c, not b, gets the lock. */
        g.n = 0;
        c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 1000, .key = BLOB("/t"), .value = BLOB("") };
        apply_ok(kv, 7, &c);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.session[0], c3);
        kv_close(kv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(waiters_are_granted_first_come_first_served),
                cmocka_unit_test(holder_reacquire_returns_its_fence_and_strangers_cannot_release),
                cmocka_unit_test(fence_keeps_growing_across_snapshot_and_restore),
                cmocka_unit_test(session_expiry_releases_locks_to_the_next_waiter),
                cmocka_unit_test(lease_expiry_releases_a_lock_bound_to_it),
                cmocka_unit_test(lock_skips_a_waiter_expiring_in_the_same_entry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
