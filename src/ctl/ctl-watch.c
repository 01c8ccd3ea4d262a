/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watch [PREFIX]: print every KV.Changed the local node emits for keys
 * under PREFIX, in revision order, until interrupted or the node goes. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

struct watch {
        struct ctl *c;
        const char *prefix;
        int exit;
        bool done;
};

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct watch *w = userdata;
        const char *key;
        uint64_t revision;
        int deleted, r;
        const void *value;
        size_t len;

        r = sd_bus_message_read(m, "stb", &key, &revision, &deleted);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &value, &len);
        if (r < 0) {
                ctl_error(_("Ignoring a malformed Changed signal: %s"), strerror(-r));
                return 0;
        }
        /* arg0path also matches keys that are a directory above the prefix;
         * without arg0path every key arrives. */
        if (strncmp(key, w->prefix, strlen(w->prefix)) != 0)
                return 0;
        if (w->c->json) {
                fputs("{\"key\":", stdout);
                ctl_json_string(stdout, key, strlen(key));
                printf(",\"revision\":%" PRIu64 ",\"deleted\":%s", revision, deleted ? "true" : "false");
                if (!deleted)
                        ctl_json_value_field(stdout, value, len);
                fputs("}\n", stdout);
        } else if (deleted) {
                printf("%" PRIu64 " %s ", revision, _("deleted"));
                ctl_escaped(stdout, key, strlen(key));
                fputc('\n', stdout);
        } else {
                printf("%" PRIu64 " %s ", revision, _("put"));
                ctl_escaped(stdout, key, strlen(key));
                fputc(' ', stdout);
                ctl_escaped(stdout, value, len);
                fputc('\n', stdout);
        }
        /* One line at a time for whoever reads the pipe. */
        if (ctl_flush_stdout() != CTL_EXIT_OK) {
                w->exit = CTL_EXIT_FAILURE;
                w->done = true;
        }
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct watch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (strcmp(name, CTL_BUS_NAME) != 0 || new_owner[0] != 0)
                return 0;
        ctl_error(_("raftd left the bus; changes from now on would be missed"));
        w->exit = CTL_EXIT_UNAVAILABLE;
        w->done = true;
        return 0;
}

/* How long poll() may sleep before sd-bus has a timeout to handle. */
static int bus_poll_timeout_ms(sd_bus *bus) {
        struct timespec ts;
        uint64_t until, now;

        if (sd_bus_get_timeout(bus, &until) < 0 || until == UINT64_MAX)
                return -1;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        if (until <= now)
                return 0;
        return (int) MIN((until - now + 999) / 1000, (uint64_t) INT32_MAX);
}

int ctl_watch(struct ctl *c) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *changed = NULL, *owner = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *rule = NULL;
        struct watch w = { .c = c, .prefix = c->n_args > 0 ? c->args[0] : "", .exit = CTL_EXIT_OK };
        _cleanup_close_ int stop_fd = -1;
        sigset_t stop;
        uint64_t id;
        int r;

        /* A prefix that ends in "/" is a subtree the bus can select (arg0path);
         * any other is matched here, so that watch PREFIX sees the keys that
         * list PREFIX shows.  (A quote cannot go into a match rule.) */
        if (w.prefix[0] && w.prefix[strlen(w.prefix) - 1] == '/' && !strchr(w.prefix, '\''))
                r = asprintf(&rule,
                             "type='signal',sender='" CTL_BUS_NAME "',path='" CTL_BUS_PATH
                             "',interface='" CTL_IFACE_KV "',member='Changed',arg0path='%s'",
                             w.prefix);
        else
                r = asprintf(&rule, "type='signal',sender='" CTL_BUS_NAME "',path='" CTL_BUS_PATH
                                    "',interface='" CTL_IFACE_KV "',member='Changed'");
        if (r < 0) {
                ctl_error(_("Out of memory"));
                return CTL_EXIT_FAILURE;
        }
        r = sd_bus_add_match(c->bus, &changed, rule, on_changed, &w);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &owner, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, &w);
        if (r < 0) {
                ctl_error(_("Failed to subscribe to changes: %s"), strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        /* The matches are in place: now check that a node is there at all. */
        r = sd_bus_get_property_trivial(c->bus, CTL_BUS_NAME, CTL_BUS_PATH, CTL_IFACE_CLUSTER, "NodeId", &error,
                                        't', &id);
        if (r < 0)
                return ctl_call_failed(_("watch"), &error, r, false);

        /* SIGINT, SIGTERM and SIGHUP end the watch normally (exit 0). */
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 || (stop_fd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
                ctl_error(_("Failed to set up signal handling: %s"), strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        for (;;) {
                struct pollfd p[2];

                r = sd_bus_process(c->bus, NULL);
                if (r < 0) {
                        ctl_error(_("Lost the connection to the bus: %s"), strerror(-r));
                        return CTL_EXIT_UNAVAILABLE;
                }
                if (w.done)
                        break;
                if (r > 0)
                        continue;
                r = sd_bus_get_events(c->bus);
                if (r < 0) {
                        ctl_error(_("Lost the connection to the bus: %s"), strerror(-r));
                        return CTL_EXIT_UNAVAILABLE;
                }
                p[0] = (struct pollfd) { .fd = sd_bus_get_fd(c->bus), .events = (short) r };
                p[1] = (struct pollfd) { .fd = stop_fd, .events = POLLIN };
                if (poll(p, ELEMENTSOF(p), bus_poll_timeout_ms(c->bus)) < 0 && errno != EINTR) {
                        ctl_error(_("Failed to wait for changes: %s"), strerror(errno));
                        return CTL_EXIT_FAILURE;
                }
                if (p[1].revents)
                        break;
        }
        return w.exit;
}
