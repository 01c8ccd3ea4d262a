/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The smallest complete program that embeds a raftd node: a one-member
 * cluster in DATA_DIR, one put, one linearizable get of the same key.
 * docs/embedding.md walks through it; tests/lib/ builds it against the
 * installed library with pkg-config and runs it, so it stays correct.
 *
 *   cc -o embed-minimal embed-minimal.c $(pkg-config --cflags --libs raftd) -lev
 *   ./embed-minimal /var/tmp/raftd-example
 */
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <raftd.h>

#define KEY "greeting"
#define VALUE "hello"

struct example {
        struct ev_loop *loop;
        struct raftd_node *node;
        int result; /* 0 once the value read back matches; negative errno otherwise */
};

static void log_line(void *userdata, int priority, const char *message) {
        (void) userdata;
        if (priority <= LOG_WARNING)
                fprintf(stderr, "raftd: %s\n", message);
}

static void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        struct example *e = userdata;

        if (error < 0) {
                fprintf(stderr, "get failed: %s\n", strerror(-error));
                e->result = error;
        } else if (len != strlen(VALUE) || memcmp(value, VALUE, len) != 0) {
                fprintf(stderr, "get returned \"%.*s\", expected \"%s\"\n", (int) len, (const char *) value, VALUE);
                e->result = -EBADMSG;
        } else {
                printf("%s = %.*s (revision %" PRIu64 ")\n", KEY, (int) len, (const char *) value, revision);
                e->result = 0;
        }
        /* Never free the node inside one of its callbacks: leave the loop,
         * and free it after ev_run() returns. */
        ev_break(e->loop, EVBREAK_ALL);
}

static void put_done(void *userdata, int error, uint64_t revision) {
        struct example *e = userdata;
        int r;

        if (error < 0) {
                fprintf(stderr, "put failed: %s\n", strerror(-error));
                e->result = error;
                ev_break(e->loop, EVBREAK_ALL);
                return;
        }
        printf("put %s, revision %" PRIu64 "\n", KEY, revision);
        /* Starting the next operation from a callback is fine. */
        r = raftd_get(e->node, KEY, strlen(KEY), 0, get_done, e);
        if (r < 0) {
                fprintf(stderr, "get refused: %s\n", strerror(-r));
                e->result = r;
                ev_break(e->loop, EVBREAK_ALL);
        }
}

int main(int argc, char **argv) {
        /* The only voter is this node; its address is used for no
         * connection since there is nobody to connect to (no listen). */
        const struct raftd_peer self = { .id = 1, .address = "127.0.0.1:7001" };
        struct example e = { .result = -EINPROGRESS };
        struct raftd_config c;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }

        raftd_config_init(&c); /* defaults for everything not set below */
        c.id = 1;
        c.data_dir = argv[1];
        c.peers = &self;
        c.n_peers = 1;
        c.log = log_line;

        e.loop = ev_default_loop(0);
        r = raftd_node_new(e.loop, &c, &e.node);
        if (r < 0) {
                fprintf(stderr, "raftd_node_new: %s\n", strerror(-r));
                return 1;
        }
        r = raftd_node_start(e.node);
        if (r < 0) {
                fprintf(stderr, "raftd_node_start: %s\n", strerror(-r));
                raftd_node_free(e.node);
                return 1;
        }

        /* Operations may be issued before the node has elected itself:
         * they wait (up to request_timeout_ms) for a leader. */
        r = raftd_put(e.node, KEY, strlen(KEY), VALUE, strlen(VALUE), put_done, &e);
        if (r < 0) {
                fprintf(stderr, "put refused: %s\n", strerror(-r));
                raftd_node_free(e.node);
                return 1;
        }

        ev_run(e.loop, 0);
        e.node = raftd_node_free(e.node);
        ev_loop_destroy(e.loop);
        return e.result == 0 ? 0 : 1;
}
