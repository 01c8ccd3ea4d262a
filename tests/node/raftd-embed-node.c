/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program that embeds a raftd node (libraftd) on its own libev loop and
 * takes requests as lines on stdin, answering on stdout.  The multi-process
 * engine tests drive it; it is also the example of the embedded API.
 *
 *   raftd-embed-node --id 1 --dir /var/tmp/n1 --listen 127.0.0.1:7001 \
 *       --key cluster.key --peer 1=127.0.0.1:7001 --peer 2=127.0.0.1:7002 ...
 *
 * Requests (TAG is any word, echoed back; values are words):
 *   TAG put KEY VALUE          ->  TAG ok REVISION        | TAG err ERRNO
 *   TAG get KEY                ->  TAG val REVISION VALUE | TAG err ERRNO
 *   TAG lget KEY               ->  (local, possibly stale read)
 *   TAG cas KEY EXPECTED NEW   ->  TAG cas SWAPPED REVISION (- means absent)
 *   TAG del KEY                ->  TAG ok REVISION
 *   TAG status                 ->  TAG status ROLE TERM LEADER COMMIT APPLIED
 *   TAG add ID HOST:PORT       ->  TAG ok REVISION  (a learner; also promote ID,
 *                                  remove ID)
 *   TAG members                ->  TAG members ID{v|l}[,...]  (v: voter)
 *   TAG snapshot               ->  TAG ok INDEX
 * With --join (and no --peer) it starts empty and waits to be added.
 * It prints "ready" once its client session is registered.
 */
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raftd.h"

/* Internal, for the "ready" line. */
uint64_t raftd_node_session(const struct raftd_node *n);

struct app {
        struct ev_loop *loop;
        struct raftd_node *node;
        ev_io in;
        ev_timer ready_check;
        char buf[65536];
        size_t len;
        bool verbose;
        uint64_t id; /* names the node in its log lines: tests run several */
};

struct pending {
        char tag[64];
};

static struct pending *pending_new(const char *tag) {
        struct pending *p = calloc(1, sizeof(*p));

        if (!p)
                abort();
        snprintf(p->tag, sizeof(p->tag), "%s", tag);
        return p;
}

static void write_done(void *userdata, int error, uint64_t revision) {
        struct pending *p = userdata;

        if (error < 0)
                printf("%s err %d\n", p->tag, error);
        else
                printf("%s ok %" PRIu64 "\n", p->tag, revision);
        fflush(stdout);
        free(p);
}

static void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        struct pending *p = userdata;

        if (error < 0)
                printf("%s err %d\n", p->tag, error);
        else
                printf("%s val %" PRIu64 " %.*s\n", p->tag, revision, (int) len, (const char *) value);
        fflush(stdout);
        free(p);
}

static void cas_done(void *userdata, int error, bool swapped, uint64_t revision) {
        struct pending *p = userdata;

        if (error < 0)
                printf("%s err %d\n", p->tag, error);
        else
                printf("%s cas %d %" PRIu64 "\n", p->tag, swapped, revision);
        fflush(stdout);
        free(p);
}

static void index_done(void *userdata, int error, uint64_t index) {
        write_done(userdata, error, index);
}

static void print_members(struct app *a, const char *tag) {
        struct raftd_member m[32];
        int k = raftd_members(a->node, m, 32);

        printf("%s members ", tag);
        for (int i = 0; i < k; i++)
                printf("%s%" PRIu64 "%c", i > 0 ? "," : "", m[i].id, m[i].voter ? 'v' : 'l');
        printf("%s\n", k <= 0 ? "-" : "");
        fflush(stdout);
}

static void handle_line(struct app *a, char *line) {
        char *save = NULL, *tag = strtok_r(line, " ", &save), *op = strtok_r(NULL, " ", &save);
        char *k = strtok_r(NULL, " ", &save), *v1 = strtok_r(NULL, " ", &save), *v2 = strtok_r(NULL, " ", &save);
        struct pending *p;
        int r = -EINVAL;

        if (!tag || !op)
                return;
        if (strcmp(op, "status") == 0) {
                struct raftd_status s;

                raftd_status(a->node, &s);
                printf("%s status %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", tag, s.role, s.term, s.leader,
                       s.commit_index, s.applied_index);
                fflush(stdout);
                return;
        }
        if (strcmp(op, "members") == 0) {
                print_members(a, tag);
                return;
        }
        p = pending_new(tag);
        if (strcmp(op, "put") == 0 && k && v1)
                r = raftd_put(a->node, k, strlen(k), v1, strlen(v1), write_done, p);
        else if (strcmp(op, "del") == 0 && k)
                r = raftd_delete(a->node, k, strlen(k), write_done, p);
        else if (strcmp(op, "get") == 0 && k)
                r = raftd_get(a->node, k, strlen(k), 0, get_done, p);
        else if (strcmp(op, "lget") == 0 && k)
                r = raftd_get(a->node, k, strlen(k), RAFTD_GET_LOCAL, get_done, p);
        else if (strcmp(op, "cas") == 0 && k && v1 && v2) {
                bool ex = strcmp(v1, "-") != 0, nw = strcmp(v2, "-") != 0;

                r = raftd_cas(a->node, k, strlen(k), ex ? v1 : NULL, ex ? strlen(v1) : 0, nw ? v2 : NULL,
                              nw ? strlen(v2) : 0, cas_done, p);
        } else if (strcmp(op, "add") == 0 && k && v1)
                r = raftd_member_change(a->node, RAFTD_MEMBER_ADD_LEARNER, strtoull(k, NULL, 10), v1, write_done, p);
        else if (strcmp(op, "promote") == 0 && k)
                r = raftd_member_change(a->node, RAFTD_MEMBER_PROMOTE, strtoull(k, NULL, 10), NULL, write_done, p);
        else if (strcmp(op, "remove") == 0 && k)
                r = raftd_member_change(a->node, RAFTD_MEMBER_REMOVE, strtoull(k, NULL, 10), NULL, write_done, p);
        else if (strcmp(op, "transfer") == 0 && k)
                r = raftd_transfer_leadership(a->node, strtoull(k, NULL, 10), write_done, p);
        else if (strcmp(op, "snapshot") == 0)
                r = raftd_snapshot(a->node, index_done, p);
        if (r < 0) {
                printf("%s err %d\n", tag, r);
                fflush(stdout);
                free(p);
        }
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents) {
        struct app *a = w->data;
        ssize_t k = read(STDIN_FILENO, a->buf + a->len, sizeof(a->buf) - a->len - 1);
        char *start, *nl;

        if (k <= 0) {
                /* The driver went away: stop. */
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        a->len += (size_t) k;
        a->buf[a->len] = 0;
        start = a->buf;
        while ((nl = strchr(start, '\n'))) {
                *nl = 0;
                handle_line(a, start);
                start = nl + 1;
        }
        a->len -= (size_t) (start - a->buf);
        memmove(a->buf, start, a->len);
}

static void on_ready_check(struct ev_loop *loop, ev_timer *w, int revents) {
        struct app *a = w->data;

        if (raftd_node_session(a->node) == 0)
                return;
        printf("ready\n");
        fflush(stdout);
        ev_timer_stop(loop, w);
}

static void log_line(void *userdata, int priority, const char *message) {
        struct app *a = userdata;

        if (a->verbose || priority <= 3)
                fprintf(stderr, "node %" PRIu64 ": %s\n", a->id, message);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "id", required_argument, NULL, 'i' },   { "dir", required_argument, NULL, 'd' },
                { "listen", required_argument, NULL, 'l' }, { "key", required_argument, NULL, 'k' },
                { "peer", required_argument, NULL, 'p' }, { "snapshot-entries", required_argument, NULL, 's' },
                { "verbose", no_argument, NULL, 'v' },    { "join", no_argument, NULL, 'j' },
                { "snapshot-trailing", required_argument, NULL, 't' },
                {},
        };
        struct raftd_peer peers[16];
        struct raftd_config c;
        struct app a = { 0 };
        int opt, r;

        raftd_config_init(&c);
        c.n_peers = 0;
        c.heartbeat_ms = 50;
        c.election_ms = 500;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (opt) {
                case 'i':
                        c.id = a.id = strtoull(optarg, NULL, 10);
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
                case 's':
                        c.snapshot_entries = strtoull(optarg, NULL, 10);
                        break;
                case 't':
                        c.snapshot_trailing = strtoull(optarg, NULL, 10);
                        break;
                case 'v':
                        a.verbose = true;
                        break;
                case 'j':
                        c.join = true;
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
                default:
                        return 2;
                }
        c.peers = peers;
        c.log = log_line;
        c.log_userdata = &a;

        a.loop = ev_default_loop(0);
        r = raftd_node_new(a.loop, &c, &a.node);
        if (r >= 0)
                r = raftd_node_start(a.node);
        if (r < 0) {
                fprintf(stderr, "failed to start node: %s\n", strerror(-r));
                return 1;
        }
        ev_io_init(&a.in, on_stdin, STDIN_FILENO, EV_READ);
        a.in.data = &a;
        ev_io_start(a.loop, &a.in);
        ev_timer_init(&a.ready_check, on_ready_check, 0.01, 0.01);
        a.ready_check.data = &a;
        ev_timer_start(a.loop, &a.ready_check);
        ev_run(a.loop, 0);
        raftd_node_free(a.node);
        return 0;
}
