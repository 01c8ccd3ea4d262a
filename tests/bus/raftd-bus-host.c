/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stand-in for the raftd daemon in the D-Bus tests: a libraftd node plus
 * the D-Bus front end on one libev loop, on the bus given by address.
 *
 *   raftd-bus-host --bus=unix:path=/tmp/x/bus --id 1 --dir /tmp/x/n1 \
 *       --listen 127.0.0.1:7001 --key cluster.key --peer 1=127.0.0.1:7001 ... \
 *       [--allow-read=UID,UID|*] [--allow-write=...] [--allow-lock=...] [--allow-admin=...]
 *       [--max-key-len=N] [--max-value-size=N] [--acl-file=PATH]
 *       [--snapshot-entries=N] [--request-timeout-ms=N] [--max-cached-callers=N] [--verbose]
 *
 * --acl-file holds lines "read|write|lock|admin UID,UID...|*"; it is read
 * again on SIGHUP (as the daemon reloads its configuration), and the host
 * prints "reloaded" once the new lists are in force.  On SIGUSR1 it prints
 * "callers N": how many callers' credentials the front end holds.
 *
 * Prints "ready" once the name is owned and the node's client session is
 * registered.  Exits with status 3 if the bus connection breaks.  Stops on SIGTERM or SIGINT, and when stdin is a pipe, on its
 * EOF (the test driving it went away).
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "raftd.h"

/* Internal, for the "ready" line. */
uint64_t raftd_node_session(const struct raftd_node *n);

#define MAX_UIDS 16

struct host {
        struct raftd_node *node;
        ev_io in;
        ev_signal term, interrupt, hangup, usr1;
        ev_timer ready_check;
        bool verbose;
        uid_t uids[_BUS_ACCESS_MAX][MAX_UIDS];
        const char *acl_file;
        struct bus *bus;
        struct ev_loop *loop;
        bool bus_lost;
};

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents) {
        char buf[256];

        if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                ev_break(loop, EVBREAK_ALL);
}

/* As the daemon will: without its bus a node is useless to local
 * programs, so stop and let the service manager restart it. */
static void on_bus_lost(void *userdata) {
        struct host *h = userdata;

        h->bus_lost = true;
        ev_break(h->loop, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents) {
        ev_break(loop, EVBREAK_ALL);
}

static void on_ready_check(struct ev_loop *loop, ev_timer *w, int revents) {
        struct host *h = w->data;

        if (raftd_node_session(h->node) == 0)
                return;
        printf("ready\n");
        fflush(stdout);
        ev_timer_stop(loop, w);
}

static void log_line(void *userdata, int priority, const char *message) {
        const struct host *h = userdata;

        if (h->verbose || priority <= 3)
                fprintf(stderr, "%s\n", message);
}

static int parse_acl(char *arg, struct bus_acl *acl, uid_t *uids) {
        char *save = NULL;

        if (strcmp(arg, "*") == 0) {
                acl->everyone = true;
                return 0;
        }
        acl->uids = uids;
        acl->n_uids = 0;
        for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (acl->n_uids == MAX_UIDS)
                        return -1;
                uids[acl->n_uids++] = (uid_t) strtoul(t, NULL, 10);
        }
        return 0;
}

static int load_acl_file(struct host *h, struct bus_acl acl[_BUS_ACCESS_MAX]) {
        static const char *const names[_BUS_ACCESS_MAX] = { "read", "write", "lock", "admin" };
        char line[512], list[480], what[16];
        FILE *f = fopen(h->acl_file, "re");

        if (!f)
                return -errno;
        for (unsigned i = 0; i < _BUS_ACCESS_MAX; i++)
                acl[i] = (struct bus_acl) {};
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%15s %479s", what, list) == 2)
                        for (unsigned i = 0; i < _BUS_ACCESS_MAX; i++)
                                if (strcmp(what, names[i]) == 0 && parse_acl(list, &acl[i], h->uids[i]) < 0) {
                                        fclose(f);
                                        return -E2BIG;
                                }
        fclose(f);
        return 0;
}

static void on_hangup(struct ev_loop *loop, ev_signal *w, int revents) {
        struct host *h = w->data;
        struct bus_acl acl[_BUS_ACCESS_MAX];
        int r = h->acl_file ? load_acl_file(h, acl) : -ENOENT;

        if (r >= 0)
                r = bus_set_acl(h->bus, acl);
        if (r < 0)
                fprintf(stderr, "reload failed: %s\n", strerror(-r));
        else {
                printf("reloaded\n");
                fflush(stdout);
        }
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents) {
        struct host *h = w->data;

        printf("callers %zu\n", bus_cached_callers(h->bus));
        fflush(stdout);
}

int main(int argc, char **argv) {
        enum { OPT_BUS = 256, OPT_READ, OPT_WRITE, OPT_LOCK, OPT_ADMIN, OPT_MAX_KEY, OPT_MAX_VALUE, OPT_ACL_FILE, OPT_SNAPSHOT_ENTRIES, OPT_REQUEST_TIMEOUT,
               OPT_MAX_CACHED_CALLERS };
        static const struct option opts[] = {
                { "id", required_argument, NULL, 'i' },
                { "dir", required_argument, NULL, 'd' },
                { "listen", required_argument, NULL, 'l' },
                { "key", required_argument, NULL, 'k' },
                { "peer", required_argument, NULL, 'p' },
                { "verbose", no_argument, NULL, 'v' },
                { "bus", required_argument, NULL, OPT_BUS },
                { "allow-read", required_argument, NULL, OPT_READ },
                { "allow-write", required_argument, NULL, OPT_WRITE },
                { "allow-lock", required_argument, NULL, OPT_LOCK },
                { "allow-admin", required_argument, NULL, OPT_ADMIN },
                { "max-key-len", required_argument, NULL, OPT_MAX_KEY },
                { "max-value-size", required_argument, NULL, OPT_MAX_VALUE },
                { "acl-file", required_argument, NULL, OPT_ACL_FILE },
                { "snapshot-entries", required_argument, NULL, OPT_SNAPSHOT_ENTRIES },
                { "request-timeout-ms", required_argument, NULL, OPT_REQUEST_TIMEOUT },
                { "max-cached-callers", required_argument, NULL, OPT_MAX_CACHED_CALLERS },
                {},
        };
        struct raftd_peer peers[16];
        struct raftd_config c;
        struct bus_options o = {};
        struct log_sink sink;
        struct host h = {};
        struct ev_loop *loop;
        struct bus *bus = NULL;
        struct stat st;
        int opt, r;

        raftd_config_init(&c);
        c.n_peers = 0;
        c.heartbeat_ms = 50;
        c.election_ms = 500;
        c.session_ttl_ms = 3000;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (opt) {
                case 'i':
                        c.id = strtoull(optarg, NULL, 10);
                        break;
                case 'd':
                        c.data_dir = optarg;
                        break;
                case 'l':
                        c.listen = optarg;
                        break;
                case 'k':
                        c.key_file = optarg;
                        break;
                case 'v':
                        h.verbose = true;
                        break;
                case 'p': {
                        char *eq = strchr(optarg, '=');

                        if (!eq || c.n_peers == 16) {
                                fprintf(stderr, "bad --peer %s\n", optarg);
                                return 2;
                        }
                        *eq = 0;
                        peers[c.n_peers++] = (struct raftd_peer) { .id = strtoull(optarg, NULL, 10), .address = eq + 1 };
                        break;
                }
                case OPT_BUS:
                        o.address = optarg;
                        break;
                case OPT_READ:
                case OPT_WRITE:
                case OPT_LOCK:
                case OPT_ADMIN: {
                        unsigned a = (unsigned) (opt - OPT_READ);

                        if (parse_acl(optarg, &o.acl[a], h.uids[a]) < 0) {
                                fprintf(stderr, "too many uids\n");
                                return 2;
                        }
                        break;
                }
                case OPT_MAX_KEY:
                        c.max_key_len = o.max_key_len = strtoull(optarg, NULL, 10);
                        break;
                case OPT_REQUEST_TIMEOUT:
                        c.request_timeout_ms = (uint32_t) strtoul(optarg, NULL, 10);
                        break;
                case OPT_SNAPSHOT_ENTRIES:
                        c.snapshot_entries = strtoull(optarg, NULL, 10);
                        break;
                case OPT_MAX_CACHED_CALLERS:
                        o.max_cached_callers = strtoull(optarg, NULL, 10);
                        break;
                case OPT_ACL_FILE:
                        h.acl_file = optarg;
                        break;
                case OPT_MAX_VALUE:
                        c.max_value_size = o.max_value_size = strtoull(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        if (h.acl_file && load_acl_file(&h, o.acl) < 0) {
                fprintf(stderr, "cannot read %s\n", h.acl_file);
                return 2;
        }
        if (!o.address) {
                fprintf(stderr, "--bus= is required\n");
                return 2;
        }
        c.peers = peers;
        c.log = log_line;
        c.log_userdata = &h;
        sink = (struct log_sink) { .write = log_line, .userdata = &h };

        loop = ev_default_loop(0);
        r = raftd_node_new(loop, &c, &h.node);
        if (r >= 0)
                r = raftd_node_start(h.node);
        if (r < 0) {
                fprintf(stderr, "failed to start node: %s\n", strerror(-r));
                return 1;
        }
        h.loop = loop;
        o.disconnected = on_bus_lost;
        o.userdata = &h;
        r = bus_new(loop, h.node, &o, &sink, &bus);
        if (r < 0) {
                fprintf(stderr, "failed to start the bus front end: %s\n", strerror(-r));
                raftd_node_free(h.node);
                return 1;
        }
        if (fstat(STDIN_FILENO, &st) >= 0 && S_ISFIFO(st.st_mode)) {
                ev_io_init(&h.in, on_stdin, STDIN_FILENO, EV_READ);
                ev_io_start(loop, &h.in);
        }
        ev_signal_init(&h.term, on_stop_signal, SIGTERM);
        ev_signal_start(loop, &h.term);
        ev_signal_init(&h.interrupt, on_stop_signal, SIGINT);
        ev_signal_start(loop, &h.interrupt);
        h.bus = bus;
        ev_signal_init(&h.hangup, on_hangup, SIGHUP);
        h.hangup.data = &h;
        ev_signal_start(loop, &h.hangup);
        ev_signal_init(&h.usr1, on_usr1, SIGUSR1);
        h.usr1.data = &h;
        ev_signal_start(loop, &h.usr1);
        ev_timer_init(&h.ready_check, on_ready_check, 0.01, 0.01);
        h.ready_check.data = &h;
        ev_timer_start(loop, &h.ready_check);
        ev_run(loop, 0);
        bus_free(bus);
        raftd_node_free(h.node);
        return h.bus_lost ? 3 : 0;
}
