/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine with real storage and state machine files, three nodes on one
 * loop joined by the in-process hub (the TCP transport has its own tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

static void any_node_serves_writes_and_linearizable_reads(void **state) {
        struct fixture *f = cluster(0);
        raft_id a = follower_of(f, 0), b = follower_of(f, a);
        struct op o;

        put(f, a, "/cfg/x", "1");
        /* Read on the other follower right after the write returned. */
        get(f, b, "/cfg/x", 0, &o);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "1");
        get(f, leader_of(f), "/cfg/x", 0, &o);
        assert_string_equal(o.value, "1");
        get(f, b, "/cfg/missing", 0, &o);
        assert_int_equal(o.error, RAFTD_E_NO_SUCH_KEY);
        cluster_free(f);
}

static bool all_done(struct fixture *f, void *arg) {
        struct op *o = arg;

        for (int i = 0; i < N; i++)
                if (!o[i].done)
                        return false;
        return true;
}

static void exactly_one_of_racing_cas_from_absent_wins(void **state) {
        struct fixture *f = cluster(0);
        struct op o[N] = { 0 }, g;
        char ids[N][8];
        int winners = 0, winner = -1;

        for (int i = 0; i < N; i++) {
                snprintf(ids[i], sizeof(ids[i]), "id%d", i + 1);
                assert_int_equal(raftd_cas(f->nodes[i + 1], "/lock", 5, NULL, 0, ids[i], strlen(ids[i]), cas_done,
                                           &o[i]),
                                 0);
        }
        run_until(f, all_done, o, 10);
        for (int i = 0; i < N; i++) {
                assert_int_equal(o[i].error, 0);
                if (o[i].swapped) {
                        winners++;
                        winner = i;
                }
        }
        assert_int_equal(winners, 1);
        get(f, 1, "/lock", 0, &g);
        assert_string_equal(g.value, ids[winner]);
        /* Release by the owner: CAS(id -> absent). */
        memset(&o[0], 0, sizeof(o[0]));
        assert_int_equal(raftd_cas(f->nodes[winner + 1], "/lock", 5, ids[winner], strlen(ids[winner]), NULL, 0,
                                   cas_done, &o[0]),
                         0);
        run_until(f, op_done, &o[0], 10);
        assert_true(o[0].swapped);
        get(f, 2, "/lock", 0, &g);
        assert_int_equal(g.error, RAFTD_E_NO_SUCH_KEY);
        cluster_free(f);
}

static void acknowledged_writes_survive_restart_of_every_node(void **state) {
        struct fixture *f = cluster(0);
        char key[32], val[32];
        struct op o;

        for (int i = 0; i < 30; i++) {
                snprintf(key, sizeof(key), "/k/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                put(f, (raft_id) (i % N) + 1, key, val);
        }
        for (raft_id id = 1; id <= N; id++)
                stop_node(f, id);
        for (raft_id id = 1; id <= N; id++)
                start_node(f, id);
        run_until(f, ready, NULL, 10);
        for (int i = 0; i < 30; i++) {
                snprintf(key, sizeof(key), "/k/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                get(f, (raft_id) (i % N) + 1, key, 0, &o);
                assert_int_equal(o.error, 0);
                assert_string_equal(o.value, val);
        }
        cluster_free(f);
}

/* The cut-off leader may not have noticed yet (check-quorum needs an
 * election timeout): look for a leader among the others. */
static bool has_new_leader(struct fixture *f, void *arg) {
        for (raft_id id = 1; id <= N; id++) {
                struct raftd_status s;

                if (id == *(raft_id *) arg || !f->nodes[id])
                        continue;
                raftd_status(f->nodes[id], &s);
                if (s.role == RAFTD_LEADER)
                        return true;
        }
        return false;
}

static void write_through_follower_completes_after_leader_is_cut_off(void **state) {
        struct fixture *f = cluster(0);
        raft_id old = leader_of(f), a = follower_of(f, 0);
        struct op o = { 0 }, g;

        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, old, id, true);
        assert_int_equal(raftd_put(f->nodes[a], "/after", 6, "y", 1, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        assert_true(has_new_leader(f, &old));
        get(f, a, "/after", 0, &g);
        assert_string_equal(g.value, "y");
        cluster_free(f);
}

static bool caught_up(struct fixture *f, void *arg) {
        raft_id id = *(raft_id *) arg;
        struct raftd_status s, l;

        raftd_status(f->nodes[id], &s);
        raftd_status(f->nodes[leader_of(f) ? leader_of(f) : id], &l);
        return s.applied_index >= l.commit_index;
}

static void lagging_node_catches_up_from_a_snapshot(void **state) {
        struct fixture *f = cluster(20);
        raft_id lag = follower_of(f, 0);
        char key[32], val[32];
        struct op o;

        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, lag, id, true);
        for (int i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "/s/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                put(f, leader_of(f), key, val);
        }
        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, lag, id, false);
        assert_int_equal(count_snapshots(f, lag), 0);
        run_until(f, caught_up, &lag, 10);
        assert_int_equal(count_snapshots(f, lag), 1);
        get(f, lag, "/s/7", RAFTD_GET_LOCAL, &o);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "v7");
        get(f, lag, "/s/99", RAFTD_GET_LOCAL, &o);
        assert_string_equal(o.value, "v99");
        cluster_free(f);
}

/* Continues a stopped snapshot child once the main thread waits for it:
 * only then has the received snapshot been installed. */
struct resume_child {
        pid_t child;
        pid_t waiter_tid;
        int report_fd; /* the engine's end of the child's report pipe */
        bool resumed;
};

/* The engine waits for its snapshot child by reading the child's report
 * pipe to its end (then wait4()): blocked in either means it waits. */
static bool waits_for_child(pid_t tid, int report_fd) {
        char path[64], line[64] = "", *arg;
        long nr;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int) tid);
        fp = fopen(path, "re");
        if (!fp)
                return false;
        if (!fgets(line, sizeof(line), fp))
                line[0] = 0;
        fclose(fp);
        nr = strtol(line, &arg, 10);
        /* /proc/.../syscall: the number, then the arguments in hex. */
        return nr == SYS_wait4 || (nr == SYS_read && strtol(arg, NULL, 16) == report_fd);
}

static void *resume_child_when_waited_for(void *arg) {
        struct resume_child *rc = arg;
        struct timespec poll = { .tv_nsec = 1000 * 1000 };

        /* A deadline only bounds a failure: 20 s of 1 ms polls. */
        for (int i = 0; i < 20000 && !waits_for_child(rc->waiter_tid, rc->report_fd); i++)
                (void) nanosleep(&poll, NULL);
        rc->resumed = kill(rc->child, SIGCONT) == 0;
        return NULL;
}

/* What a snapshot's caller heard, and the snapshot in force right then: the
 * node may take its next snapshot of its own soon after (its threshold is
 * low here), so "in force" is only true at the moment of the callback. */
struct snapshot_heard {
        struct index_op op;
        struct raftd_node *node;
        raft_index in_force;
};

static void snapshot_heard_done(void *userdata, int error, uint64_t index) {
        struct snapshot_heard *h = userdata;

        h->in_force = raft_snapshot_index(h->node->raft);
        index_done(&h->op, error, index);
}

/* The lagging node's own snapshot is still being written (its child is
 * stopped) when the snapshot from the leader arrives; the child finishes
 * only after the received one was installed.  The older local one must
 * neither replace nor delete the received one, nor be reported to the core:
 * the node serves the leader's data, from the received snapshot. */
static void snapshot_received_while_the_own_one_is_written_wins(void **state) {
        struct fixture *f = cluster(20);
        raft_id lag = follower_of(f, 0);
        struct resume_child rc = { .waiter_tid = gettid() };
        struct snapshot_heard own = { 0 };
        char key[32], val[32];
        raft_index written;
        pthread_t thread;
        struct op o;

        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, lag, id, true);
        for (int i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "/w/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                put(f, leader_of(f), key, val);
        }
        /* Once the leader has not heard from the lagging node for an
         * election timeout (200 ms) it no longer keeps the log after an
         * older snapshot for it: a snapshot of its own now compacts past
         * everything the lagging node has, which can only get the
         * leader's snapshot. */
        {
                struct index_op compacted = { 0 };

                run_for(f, 0.5);
                assert_int_equal(raftd_snapshot(f->nodes[leader_of(f)], index_done, &compacted), 0);
                run_until(f, index_op_done, &compacted, 10);
                assert_int_equal(compacted.error, 0);
        }
        own.node = f->nodes[lag];
        assert_int_equal(raftd_snapshot(f->nodes[lag], snapshot_heard_done, &own), 0);
        rc.child = f->nodes[lag]->snap_pid;
        rc.report_fd = f->nodes[lag]->snap_pipe;
        assert_true(rc.child > 0);
        written = f->nodes[lag]->snap_meta.index;
        assert_int_equal(kill(rc.child, SIGSTOP), 0);
        assert_int_equal(pthread_create(&thread, NULL, resume_child_when_waited_for, &rc), 0);

        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, lag, id, false);
        run_until(f, caught_up, &lag, 10);
        assert_int_equal(pthread_join(thread, NULL), 0);
        assert_true(rc.resumed);
        run_until(f, index_op_done, &own.op, 10);

        assert_int_equal(raftd_node_failed(f->nodes[lag]), 0);
        /* Superseded: the caller hears of the snapshot in force. */
        assert_int_equal(own.op.error, 0);
        assert_true(own.op.index > written);
        assert_int_equal(own.op.index, own.in_force);
        assert_int_equal(count_snapshots(f, lag), 1);
        get(f, lag, "/w/0", RAFTD_GET_LOCAL, &o);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "v0");
        get(f, lag, "/w/99", RAFTD_GET_LOCAL, &o);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "v99");
        put(f, lag, "/w/after", "yes");
        cluster_free(f);
}

static void idle_node_keeps_its_session_alive(void **state) {
        struct fixture *f = cluster_ttl(0, 600);
        raft_id a = follower_of(f, 0);
        uint64_t session = raftd_node_session(f->nodes[a]);

        run_for(f, 2.0); /* over three TTLs without a client write */
        assert_int_equal(raftd_node_session(f->nodes[a]), session);
        put(f, a, "/idle", "ok");
        assert_int_equal(raftd_node_session(f->nodes[a]), session);
        cluster_free(f);
}

static void node_cut_off_past_its_session_ttl_registers_anew_and_writes(void **state) {
        struct fixture *f = cluster_ttl(0, 600);
        raft_id a = follower_of(f, 0);
        uint64_t session = raftd_node_session(f->nodes[a]);
        struct op o = { 0 }, g;

        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, a, id, true);
        run_for(f, 1.5);
        /* The others' clock expired it meanwhile; a new write heals. */
        put(f, follower_of(f, a) ? follower_of(f, a) : leader_of(f), "/tick", "1");
        for (raft_id id = 1; id <= N; id++)
                hub_cut(f->hub, a, id, false);
        assert_int_equal(raftd_put(f->nodes[a], "/back", 5, "yes", 3, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        assert_int_not_equal(raftd_node_session(f->nodes[a]), session);
        get(f, leader_of(f), "/back", 0, &g);
        assert_string_equal(g.value, "yes");
        cluster_free(f);
}

static void second_node_on_the_same_data_directory_is_refused(void **state) {
        struct fixture *f = cluster(0);
        struct raftd_node *twin = NULL;
        struct raftd_config c;
        char dir[128];

        raftd_config_init(&c);
        snprintf(dir, sizeof(dir), "%s/n1", f->dir);
        c.id = 1;
        c.data_dir = dir;
        assert_int_equal(raftd_node_new(f->loop, &c, &twin), 0);
        assert_int_equal(raftd_node_start(twin), -EBUSY);
        raftd_node_free(twin);
        /* The running node is unharmed. */
        put(f, 1, "/still", "fine");
        cluster_free(f);
}

static void damaged_state_file_is_rebuilt_from_snapshot_and_log(void **state) {
        struct fixture *f = cluster(20);
        char key[32], val[32], path[160];
        struct op o;
        FILE *fp;

        for (int i = 0; i < 50; i++) {
                snprintf(key, sizeof(key), "/r/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                put(f, 1, key, val);
        }
        stop_node(f, 2);
        /* Garbage over the state file's header and first records. */
        snprintf(path, sizeof(path), "%s/n2/state.tdb", f->dir);
        fp = fopen(path, "r+");
        assert_non_null(fp);
        for (int i = 0; i < 4096; i++)
                fputc(0x5a, fp);
        fclose(fp);
        start_node(f, 2);
        run_until(f, ready, NULL, 10);
        for (int i = 0; i < 50; i += 7) {
                snprintf(key, sizeof(key), "/r/%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                get(f, 2, key, RAFTD_GET_LOCAL, &o);
                assert_int_equal(o.error, 0);
                assert_string_equal(o.value, val);
        }
        cluster_free(f);
}

static void record_leader_seen(void *userdata, const struct raftd_status *s) {
        bool *seen = userdata;

        /* The status callback is where a daemon learns it became ready. */
        *seen = *seen || s->leader != 0;
}

struct ready_probe {
        struct raftd_node *node;
        bool seen_ready;
};

static void probe_ready(void *userdata, const struct raftd_status *s) {
        struct ready_probe *p = userdata;

        if (raftd_node_ready(p->node))
                p->seen_ready = true;
}

static bool probe_saw_ready(struct fixture *f, void *arg) {
        return ((struct ready_probe *) arg)->seen_ready;
}

static void node_is_ready_only_once_a_leader_is_known_and_its_session_is_up(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct ready_probe probe = { 0 };
        bool leader_seen = false;

        assert_non_null(f);
        f->loop = ev_loop_new(EVFLAG_AUTO);
        f->hub = hub_new(f->loop);
        strcpy(f->dir, "/tmp/raftd-engine-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        start_node(f, 1);
        raftd_on_status(f->nodes[1], record_leader_seen, &leader_seen);
        run_for(f, 0.6); /* three election timeouts alone: no quorum */
        assert_false(leader_seen);
        assert_false(raftd_node_ready(f->nodes[1]));
        assert_int_equal(raftd_node_failed(f->nodes[1]), 0);

        probe.node = f->nodes[1];
        raftd_on_status(f->nodes[1], probe_ready, &probe);
        start_node(f, 2);
        start_node(f, 3);
        /* Readiness must become visible from a status callback, not only by
         * polling: the daemon sends READY=1 from there. */
        run_until(f, probe_saw_ready, &probe, 10);
        assert_true(raftd_node_ready(f->nodes[1]));
        assert_int_not_equal(raftd_node_session(f->nodes[1]), 0);
        cluster_free(f);
}

static void lowered_value_limit_refuses_a_put_at_once_and_raised_allows_it(void **state) {
        struct fixture *f = cluster(0);
        raft_id a = follower_of(f, 0);
        struct op o = { 0 };

        assert_int_equal(raftd_node_set_limits(f->nodes[a], 64, 4), 0);
        assert_int_equal(raftd_put(f->nodes[a], "/k", 2, "12345", 5, write_done, &o), RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_node_set_limits(f->nodes[a], 1, 100), 0);
        assert_int_equal(raftd_put(f->nodes[a], "/k", 2, "12345", 5, write_done, &o), RAFTD_E_TOO_LARGE);
        assert_int_equal(raftd_node_set_limits(f->nodes[a], 0, 100), -EINVAL);
        assert_int_equal(raftd_node_set_limits(f->nodes[a], 64, 0), -EINVAL);
        assert_int_equal(raftd_node_set_limits(f->nodes[a], 64, 5), 0);
        assert_int_equal(raftd_put(f->nodes[a], "/k", 2, "12345", 5, write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        cluster_free(f);
}

/* Put /dev/zero behind node id's open log segment: its writes go
 * through, its fdatasync (on the node's sync thread) fails with EINVAL. */
static void make_log_sync_fail(struct fixture *f, raft_id id) {
        char prefix[128];
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int zero = open("/dev/zero", O_RDWR | O_CLOEXEC), hits = 0;

        assert_non_null(d);
        assert_true(zero >= 0);
        snprintf(prefix, sizeof(prefix), "%s/n%" PRIu64 "/log/log-", f->dir, id);
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

                if (k <= 0)
                        continue;
                target[k] = 0;
                if (strncmp(target, prefix, strlen(prefix)) == 0) {
                        assert_true(dup3(zero, atoi(de->d_name), O_CLOEXEC) >= 0);
                        hits++;
                }
        }
        closedir(d);
        (void) close(zero);
        assert_int_equal(hits, 1);
}

static bool node_failed(struct fixture *f, void *arg) {
        return raftd_node_failed(f->nodes[*(raft_id *) arg]) < 0;
}

/* A sync that fails on the sync thread stops that node (no retried
 * fdatasync, no acknowledgement of what it could not make durable); the
 * other two go on. */
static void follower_whose_log_sync_fails_stops_and_the_others_go_on(void **state) {
        struct fixture *f = cluster(0);
        raft_id l = leader_of(f), bad = follower_of(f, 0);
        struct op o = { 0 };

        put(f, l, "/before", "1");
        make_log_sync_fail(f, bad);
        assert_int_equal(raftd_put(f->nodes[l], "/after", 6, "2", 1, write_done, &o), 0);
        run_until(f, node_failed, &bad, 10);
        assert_int_equal(raftd_node_failed(f->nodes[bad]), -EINVAL);
        /* A failed node breaks its loop at every iteration (the daemon
         * exits); this loop is shared, so take it out. */
        stop_node(f, bad);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        put(f, l, "/later", "3");
        get(f, l, "/after", 0, &o);
        assert_int_equal(o.error, 0);
        assert_string_equal(o.value, "2");
        cluster_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(any_node_serves_writes_and_linearizable_reads),
                cmocka_unit_test(exactly_one_of_racing_cas_from_absent_wins),
                cmocka_unit_test(acknowledged_writes_survive_restart_of_every_node),
                cmocka_unit_test(write_through_follower_completes_after_leader_is_cut_off),
                cmocka_unit_test(lagging_node_catches_up_from_a_snapshot),
                cmocka_unit_test(snapshot_received_while_the_own_one_is_written_wins),
                cmocka_unit_test(idle_node_keeps_its_session_alive),
                cmocka_unit_test(second_node_on_the_same_data_directory_is_refused),
                cmocka_unit_test(damaged_state_file_is_rebuilt_from_snapshot_and_log),
                cmocka_unit_test(node_cut_off_past_its_session_ttl_registers_anew_and_writes),
                cmocka_unit_test(node_is_ready_only_once_a_leader_is_known_and_its_session_is_up),
                cmocka_unit_test(lowered_value_limit_refuses_a_put_at_once_and_raised_allows_it),
                cmocka_unit_test(follower_whose_log_sync_fails_stops_and_the_others_go_on),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
