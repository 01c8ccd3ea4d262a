/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * raftd-demo: a local three-node cluster on embedded defaults, showing what
 * raftd does.  The nodes run in this process on one libev loop (the
 * embedded mode of libraftd) and talk over real TCP on 127.0.0.1 with a
 * fresh cluster key; their data lives in a scratch directory that is
 * removed at the end.  It shows put/get through different nodes, racing
 * compare-and-swap, a cluster-wide lock with fences, then kills the leader
 * and shows the cluster electing a new one and serving on.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <inttypes.h>
#include <libintl.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/free-port.h"
#include "net/key.h"
#include "raftd.h"

#define _(s) dgettext("raftd", s)
#define NODES 3

struct demo {
        struct ev_loop *loop;
        char dir[64];
        char key[96];
        char listen[NODES + 1][32];
        struct raftd_peer peers[NODES];
        struct raftd_node *node[NODES + 1];
};

struct result {
        bool done;
        int error;
        bool swapped;
        uint64_t revision;
        uint64_t fence;
        char value[128];
};

static void on_write(void *u, int error, uint64_t revision) {
        struct result *r = u;

        r->done = true;
        r->error = error;
        r->revision = revision;
}

static void on_get(void *u, int error, const void *value, size_t len, uint64_t revision) {
        struct result *r = u;

        r->done = true;
        r->error = error;
        r->revision = revision;
        snprintf(r->value, sizeof(r->value), "%.*s", (int) len, value ? (const char *) value : "");
}

static void on_cas(void *u, int error, bool swapped, uint64_t revision) {
        struct result *r = u;

        r->done = true;
        r->error = error;
        r->swapped = swapped;
        r->revision = revision;
}

static void on_lock(void *u, int error, uint64_t fence) {
        struct result *r = u;

        r->done = true;
        r->error = error;
        r->fence = fence;
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents) {
        *(bool *) w->data = true;
}

/* Run the loop until every result is done; false after seconds. */
static bool wait_for(struct demo *d, struct result *r, unsigned n, double seconds) {
        bool expired = false, all;
        ev_timer t;

        ev_timer_init(&t, on_deadline, seconds, 0.0);
        t.data = &expired;
        ev_timer_start(d->loop, &t);
        do {
                all = true;
                for (unsigned i = 0; i < n; i++)
                        all = all && r[i].done;
                if (!all)
                        ev_run(d->loop, EVRUN_ONCE);
        } while (!all && !expired);
        ev_timer_stop(d->loop, &t);
        return all;
}

static unsigned leader(struct demo *d) {
        for (unsigned id = 1; id <= NODES; id++) {
                struct raftd_status s;

                if (!d->node[id])
                        continue;
                raftd_status(d->node[id], &s);
                if (s.role == RAFTD_LEADER)
                        return id;
        }
        return 0;
}

static unsigned other_than(struct demo *d, unsigned a, unsigned b) {
        for (unsigned id = 1; id <= NODES; id++)
                if (id != a && id != b && d->node[id])
                        return id;
        return 0;
}

static int free_port(void) {
        int port = free_tcp_port();

        if (port < 0)
                abort(); /* no free port below the ephemeral range */
        return port;
}

static int start(struct demo *d, unsigned id) {
        struct raftd_config c;
        char dir[128];
        int r;

        raftd_config_init(&c);
        snprintf(dir, sizeof(dir), "%s/node%u", d->dir, id);
        c.id = id;
        c.data_dir = dir;
        c.listen = d->listen[id];
        c.key_file = d->key;
        c.peers = d->peers;
        c.n_peers = NODES;
        c.heartbeat_ms = 50;
        c.election_ms = 500;
        r = raftd_node_new(d->loop, &c, &d->node[id]);
        if (r >= 0)
                r = raftd_node_start(d->node[id]);
        if (r < 0)
                fprintf(stderr, _("Failed to start node %u: %s\n"), id, strerror(-r));
        return r;
}

static bool wait_leader(struct demo *d, unsigned not) {
        for (int i = 0; i < 100; i++) {
                struct result tick = { 0 };
                unsigned l = leader(d);

                if (l && l != not) {
                        /* The leader can commit: a write through it succeeds. */
                        if (raftd_put(d->node[l], "/demo/ping", 10, "1", 1, on_write, &tick) == 0 &&
                            wait_for(d, &tick, 1, 5) && tick.error == 0)
                                return true;
                }
                tick.done = false;
                wait_for(d, &tick, 1, 0.1);
        }
        return false;
}

#define CHECK(cond, ...)                                                                                               \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        fprintf(stderr, __VA_ARGS__);                                                                  \
                        goto fail;                                                                                     \
                }                                                                                                      \
        } while (0)

int main(void) {
        struct demo d = { 0 };
        struct result r[NODES], lk[2];
        uint64_t h1 = 0, h2 = 0;
        unsigned l, a, b, winner = 0;
        char cmd[128];
        int rc = 1;

        (void) setlocale(LC_ALL, "");
        (void) bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        d.loop = ev_default_loop(0);
        strcpy(d.dir, "/tmp/raftd-demo-XXXXXX");
        if (!mkdtemp(d.dir))
                return 1;
        snprintf(d.key, sizeof(d.key), "%s/cluster.key", d.dir);
        if (net_key_generate(d.key, NULL) < 0)
                goto fail;
        for (unsigned id = 1; id <= NODES; id++) {
                snprintf(d.listen[id], sizeof(d.listen[id]), "127.0.0.1:%d", free_port());
                d.peers[id - 1] = (struct raftd_peer) { .id = id, .address = d.listen[id] };
        }
        printf(_("Starting a 3-node cluster on %s, %s, %s (data in %s).\n"), d.listen[1], d.listen[2], d.listen[3],
               d.dir);
        for (unsigned id = 1; id <= NODES; id++)
                if (start(&d, id) < 0)
                        goto fail;
        CHECK(wait_leader(&d, 0), _("No leader was elected.\n"));
        l = leader(&d);
        a = other_than(&d, l, 0);
        b = other_than(&d, l, a);
        printf(_("Node %u leads.\n\n"), l);

        memset(r, 0, sizeof(r));
        raftd_put(d.node[a], "/config/mode", 12, "active", 6, on_write, &r[0]);
        CHECK(wait_for(&d, r, 1, 10) && r[0].error == 0, _("Put failed.\n"));
        printf(_("put  /config/mode = active   via node %u (a follower): revision %" PRIu64 "\n"), a, r[0].revision);
        memset(r, 0, sizeof(r));
        raftd_get(d.node[b], "/config/mode", 12, 0, on_get, &r[0]);
        CHECK(wait_for(&d, r, 1, 10) && r[0].error == 0, _("Get failed.\n"));
        printf(_("get  /config/mode            via node %u: \"%s\" at revision %" PRIu64 " (linearizable)\n\n"), b,
               r[0].value, r[0].revision);

        printf(_("Three clients race compare-and-swap(/lock/backup: absent -> their name), one per node:\n"));
        memset(r, 0, sizeof(r));
        for (unsigned id = 1; id <= NODES; id++) {
                char name[16];

                snprintf(name, sizeof(name), "client%u", id);
                raftd_cas(d.node[id], "/lock/backup", 12, NULL, 0, name, strlen(name), on_cas, &r[id - 1]);
        }
        CHECK(wait_for(&d, r, NODES, 10), _("CAS did not complete.\n"));
        for (unsigned id = 1; id <= NODES; id++) {
                printf(_("  client%u: %s\n"), id, r[id - 1].swapped ? _("swapped (owns it)") : _("refused"));
                if (r[id - 1].swapped)
                        winner = id;
        }
        CHECK(winner != 0, _("Nobody won the CAS.\n"));

        printf(_("\nCluster-wide lock \"nightly-backup\": node %u takes it, node %u waits.\n"), a, b);
        memset(lk, 0, sizeof(lk));
        raftd_lock_acquire(d.node[a], "nightly-backup", 14, "demo/a", 10000, on_lock, NULL, &lk[0], &h1);
        CHECK(wait_for(&d, lk, 1, 10) && lk[0].error == 0, _("Lock failed.\n"));
        printf(_("  node %u holds it, fence %" PRIu64 "\n"), a, lk[0].fence);
        raftd_lock_acquire(d.node[b], "nightly-backup", 14, "demo/b", 10000, on_lock, NULL, &lk[1], &h2);
        wait_for(&d, &lk[1], 1, 0.5);
        printf(_("  node %u: %s\n"), b, lk[1].done ? _("granted?!") : _("waiting"));
        CHECK(!lk[1].done, _("The lock was granted twice.\n"));
        memset(r, 0, sizeof(r));
        raftd_lock_release(d.node[a], h1, on_write, &r[0]);
        CHECK(wait_for(&d, &lk[1], 1, 10) && lk[1].error == 0, _("The waiter did not get the lock.\n"));
        printf(_("  node %u released; node %u holds it now, fence %" PRIu64 " (fences only grow)\n"), a, b,
               lk[1].fence);

        printf(_("\nKilling the leader, node %u.\n"), l);
        d.node[l] = raftd_node_free(d.node[l]);
        CHECK(wait_leader(&d, l), _("No new leader.\n"));
        printf(_("Node %u leads now.\n"), leader(&d));
        memset(r, 0, sizeof(r));
        raftd_get(d.node[other_than(&d, 0, 0)], "/config/mode", 12, 0, on_get, &r[0]);
        CHECK(wait_for(&d, r, 1, 10) && r[0].error == 0, _("Get failed after failover.\n"));
        printf(_("get  /config/mode: \"%s\" — nothing acknowledged was lost.\n"), r[0].value);
        printf(_("Restarting node %u from its data directory.\n"), l);
        CHECK(start(&d, l) == 0, _("Restart failed.\n"));
        memset(r, 0, sizeof(r));
        raftd_put(d.node[l], "/config/mode", 12, "standby", 7, on_write, &r[0]);
        CHECK(wait_for(&d, r, 1, 10) && r[0].error == 0, _("Put through the restarted node failed.\n"));
        printf(_("put  /config/mode = standby  via the restarted node %u: revision %" PRIu64 "\n"), l, r[0].revision);
        printf(_("\nDone.\n"));
        rc = 0;
fail:
        for (unsigned id = 1; id <= NODES; id++)
                raftd_node_free(d.node[id]);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", d.dir);
        if (system(cmd) != 0)
                fprintf(stderr, _("Could not remove %s.\n"), d.dir);
        return rc;
}
