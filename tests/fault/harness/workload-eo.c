/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exactly-once workload: writers put unique values through their
 * nodes (a forwarded put that is retried across a leader change must apply
 * once); a watcher on another node logs every Changed signal it sees with
 * its revision.  A value applied twice shows up as two revisions. */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "shared/macro.h"

#define EO_PREFIX "/fault/eo/"

int workload_eo_writer(struct client *c) {
        unsigned keys = c->keys > 0 ? c->keys : 3;
        int r = 0;

        while (r >= 0 && client_running(c)) {
                unsigned k = (unsigned) client_below(c, keys);
                uint64_t value = client_unique_value(c);
                char path[64], op[64];
                struct call_status s;

                snprintf(path, sizeof(path), EO_PREFIX "e%u", k);
                snprintf(op, sizeof(op), "put e%u %" PRIu64, k, value);
                r = client_invoke(c, op);
                if (r < 0)
                        break;
                s = call_put(&c->caller, path, value);
                r = client_complete(c, &s, op, op);
        }
        return r;
}

struct watcher {
        struct client *client;
        uint64_t last_revision;
        /* The node's bus name changed hands: changes may have gone by unseen. */
        bool gap_pending;
        int error;
};

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct watcher *w = userdata;
        const char *key;
        uint64_t revision;
        int deleted;
        const void *p;
        size_t n;
        char value[24];
        int r;

        r = sd_bus_message_read(m, "stb", &key, &revision, &deleted);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r < 0 || strncmp(key, EO_PREFIX, strlen(EO_PREFIX)) != 0 || n >= sizeof(value)) {
                fprintf(stderr, "watcher: malformed Changed signal\n");
                w->error = -EBADMSG;
                return 0;
        }
        /* A restarted node may apply (and announce) its log again. */
        if (revision <= w->last_revision)
                return 0;
        if (w->gap_pending) {
                r = history_comment(&w->client->history, "gap %" PRIu64 " %" PRIu64, w->last_revision, revision);
                if (r < 0)
                        w->error = r;
                w->gap_pending = false;
        }
        memcpy(value, p, n);
        value[n] = 0;
        r = history_log(&w->client->history, "ok", "applied %s %s %" PRIu64, key + strlen(EO_PREFIX),
                        deleted ? "-" : value, revision);
        if (r < 0)
                w->error = r;
        w->last_revision = revision;
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct watcher *w = userdata;

        w->gap_pending = true;
        return 0;
}

/* Runs until stdin closes (the orchestrator's "the cluster has caught up"). */
int workload_eo_watcher(struct client *c) {
        struct watcher w = { .client = c };
        sd_bus *bus = c->caller.bus;
        int r;

        r = sd_bus_add_match(bus, NULL,
                             "type='signal',interface='org.raftd1.KV',member='Changed',arg0path='" EO_PREFIX "'",
                             on_changed, &w);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',"
                                     "arg0='org.raftd1'",
                                     on_owner_changed, &w);
        if (r < 0) {
                fprintf(stderr, "watcher: cannot subscribe: %s\n", strerror(-r));
                return r;
        }
        /* The orchestrator starts the writers only after this line. */
        printf("ready\n");
        fflush(stdout);

        while (w.error == 0) {
                uint64_t until = UINT64_MAX;
                int timeout_ms = -1;

                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "watcher: bus: %s\n", strerror(-r));
                        return r;
                }
                if (r > 0)
                        continue;
                /* What to wait for is known only after processing. */
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = (short) sd_bus_get_events(bus) },
                        { .fd = STDIN_FILENO, .events = POLLIN },
                };
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        uint64_t now = monotonic_ns() / 1000;

                        timeout_ms = until > now ? (int) MIN((until - now + 999) / 1000, 1000) : 0;
                }
                if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
                        return -errno;
                if (p[1].revents) {
                        char buf[64];

                        if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                                break;
                }
        }
        /* The orchestrator saw the node apply everything; the signals it
         * sent before may still be on their way.  A round trip to the node
         * is a barrier: the bus keeps one sender's messages in order. */
        r = sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                               "");
        if (r < 0) {
                fprintf(stderr, "watcher: the node did not answer the final ping: %s\n", strerror(-r));
                return r;
        }
        while (w.error == 0 && sd_bus_process(bus, NULL) > 0)
                ;
        if (w.gap_pending && w.error == 0)
                w.error = history_comment(&c->history, "gap %" PRIu64 " %" PRIu64, w.last_revision, UINT64_MAX);
        return w.error;
}
