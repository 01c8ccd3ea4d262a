/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void log_line(void *userdata, int priority, const char *message);
static bool never(struct fixture *f, void *arg);



void write_done(void *userdata, int error, uint64_t revision) {
        struct op *o = userdata;

        o->done = true;
        o->error = error;
        o->revision = revision;
}

void cas_done(void *userdata, int error, bool swapped, uint64_t revision) {
        struct op *o = userdata;

        o->done = true;
        o->error = error;
        o->swapped = swapped;
        o->revision = revision;
}

void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        struct op *o = userdata;

        o->done = true;
        o->error = error;
        o->revision = revision;
        o->len = len < sizeof(o->value) ? len : sizeof(o->value) - 1;
        if (value)
                memcpy(o->value, value, o->len);
        o->value[o->len] = 0;
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
        *(bool *) w->data = true;
}

/* Run the loop until cond holds; the deadline only fails the test. */
void run_until(struct fixture *f, bool (*cond)(struct fixture *f, void *arg), void *arg, double seconds) {
        bool expired = false;
        ev_timer t;

        ev_timer_init(&t, timeout_cb, seconds, 0.0);
        t.data = &expired;
        ev_timer_start(f->loop, &t);
        while (!cond(f, arg) && !expired)
                ev_run(f->loop, EVRUN_ONCE);
        ev_timer_stop(f->loop, &t);
        assert_false(expired);
}

bool op_done(struct fixture *f, void *arg) {
        return ((struct op *) arg)->done;
}

void index_done(void *userdata, int error, uint64_t index) {
        struct index_op *o = userdata;

        o->done = true;
        o->error = error;
        o->index = index;
}

bool index_op_done(struct fixture *f, void *arg) {
        return ((struct index_op *) arg)->done;
}

raft_id leader_of(struct fixture *f) {
        for (raft_id id = 1; id <= HUB_MAX; id++) {
                struct raftd_status s;

                if (!f->nodes[id])
                        continue;
                raftd_status(f->nodes[id], &s);
                if (s.role == RAFTD_LEADER)
                        return id;
        }
        return 0;
}

bool ready(struct fixture *f, void *arg) {
        if (!leader_of(f))
                return false;
        for (raft_id id = 1; id <= N; id++)
                if (f->nodes[id] && raftd_node_session(f->nodes[id]) == 0)
                        return false;
        return true;
}

static void log_line(void *userdata, int priority, const char *message) {
        if (getenv("RAFTD_TEST_VERBOSE"))
                fprintf(stderr, "n%" PRIu64 ": %s\n", (uint64_t) (uintptr_t) userdata, message);
}

unsigned count_snapshots(struct fixture *f, raft_id id) {
        char path[160];
        unsigned k = 0;
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "%s/n%" PRIu64 "/snapshots", f->dir, id);
        d = opendir(path);
        assert_non_null(d);
        while ((de = readdir(d)))
                k += strncmp(de->d_name, "snapshot-", 9) == 0;
        closedir(d);
        return k;
}

static void start(struct fixture *f, raft_id id, bool join) {
        struct raftd_peer peers[N];
        struct raftd_config c;
        char dir[128];

        for (unsigned i = 0; i < N; i++)
                peers[i] = (struct raftd_peer) { .id = i + 1 };
        raftd_config_init(&c);
        snprintf(dir, sizeof(dir), "%s/n%" PRIu64, f->dir, id);
        c.id = id;
        c.data_dir = dir;
        c.peers = join ? NULL : peers;
        c.n_peers = join ? 0 : N;
        c.join = join;
        c.heartbeat_ms = 20;
        c.election_ms = 200;
        c.request_timeout_ms = 4000;
        c.log = log_line;
        c.log_userdata = (void *) (uintptr_t) id;
        if (f->snapshot_entries) {
                /* These tests want snapshots sent to a node a few dozen
                 * entries behind. */
                c.snapshot_entries = f->snapshot_entries;
                c.snapshot_trailing = f->snapshot_entries / 2;
        }
        if (f->session_ttl_ms)
                c.session_ttl_ms = f->session_ttl_ms;
        assert_int_equal(raftd_node_new(f->loop, &c, &f->nodes[id]), 0);
        hub_attach(f->hub, id, f->nodes[id]);
        assert_int_equal(raftd_node_start(f->nodes[id]), 0);
}

void start_node(struct fixture *f, raft_id id) {
        start(f, id, false);
}

void start_joining_node(struct fixture *f, raft_id id) {
        start(f, id, true);
}

void stop_node(struct fixture *f, raft_id id) {
        hub_attach(f->hub, id, NULL);
        f->nodes[id] = raftd_node_free(f->nodes[id]);
}

struct fixture *cluster_ttl(uint64_t snapshot_entries, uint64_t session_ttl_ms) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->session_ttl_ms = session_ttl_ms;
        f->loop = ev_loop_new(EVFLAG_AUTO);
        f->hub = hub_new(f->loop);
        f->snapshot_entries = snapshot_entries;
        strcpy(f->dir, "/tmp/raftd-engine-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        for (raft_id id = 1; id <= N; id++)
                start_node(f, id);
        run_until(f, ready, NULL, 10);
        return f;
}

struct fixture *cluster(uint64_t snapshot_entries) {
        return cluster_ttl(snapshot_entries, 0);
}

static bool never(struct fixture *f, void *arg) {
        return false;
}

/* Let time pass with the cluster running (the scenario, not a wait for an
 * event). */
void run_for(struct fixture *f, double seconds) {
        bool expired = false;
        ev_timer t;

        ev_timer_init(&t, timeout_cb, seconds, 0.0);
        t.data = &expired;
        ev_timer_start(f->loop, &t);
        while (!expired && !never(f, NULL))
                ev_run(f->loop, EVRUN_ONCE);
        ev_timer_stop(f->loop, &t);
}

void cluster_free(struct fixture *f) {
        char cmd[128];

        for (raft_id id = 1; id <= HUB_MAX; id++)
                if (f->nodes[id])
                        stop_node(f, id);
        hub_free(f->hub);
        ev_loop_destroy(f->loop);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
}

raft_id follower_of(struct fixture *f, raft_id not) {
        raft_id l = leader_of(f);

        for (raft_id id = 1; id <= HUB_MAX; id++)
                if (id != l && id != not && f->nodes[id])
                        return id;
        return 0;
}

void put(struct fixture *f, raft_id id, const char *key, const char *value) {
        struct op o = { 0 };

        assert_int_equal(raftd_put(f->nodes[id], key, strlen(key), value, strlen(value), write_done, &o), 0);
        run_until(f, op_done, &o, 10);
        assert_int_equal(o.error, 0);
        assert_true(o.revision > 0);
}

void get(struct fixture *f, raft_id id, const char *key, uint64_t flags, struct op *o) {
        memset(o, 0, sizeof(*o));
        assert_int_equal(raftd_get(f->nodes[id], key, strlen(key), flags, get_done, o), 0);
        run_until(f, op_done, o, 10);
}

