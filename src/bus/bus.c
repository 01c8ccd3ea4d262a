/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Setting up and tearing down the D-Bus front end. */

#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

/* libraftd's defaults (raftd.h), for the messages that name the limits. */
#define DEFAULT_MAX_KEY_LEN 4096
#define DEFAULT_MAX_VALUE_SIZE (1024 * 1024)

static int connect_bus(const struct bus_options *o, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (!o->address) {
                r = o->user_bus ? sd_bus_open_user_with_description(&bus, "raftd")
                                : sd_bus_open_system_with_description(&bus, "raftd");
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(bus);
                return 0;
        }
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_description(bus, "raftd");
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, o->address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_negotiate_fds(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static void bus_freep(struct bus **b) {
        bus_free(*b);
}

int bus_new(struct ev_loop *loop, struct raftd_node *node, const struct bus_options *o, const struct log_sink *log,
            struct bus **ret) {
        static const struct {
                const char *interface;
                const sd_bus_vtable *vtable;
        } interfaces[] = {
                { "org.raftd1.KV", bus_kv_vtable },
                { "org.raftd1.Lock", bus_lock_vtable },
                { "org.raftd1.Cluster", bus_cluster_vtable },
        };
        _cleanup_(bus_freep) struct bus *b = NULL;
        int r;

        if (!loop || !node || !o || !ret)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->loop = loop;
        b->node = node;
        b->options = *o;
        memset(b->options.acl, 0, sizeof(b->options.acl));
        if (b->options.max_key_len == 0)
                b->options.max_key_len = DEFAULT_MAX_KEY_LEN;
        if (b->options.max_value_size == 0)
                b->options.max_value_size = DEFAULT_MAX_VALUE_SIZE;
        if (log)
                b->log = *log;
        /* Harmless until the status timer is initialised below. */
        ev_timer_init(&b->status_timer, NULL, 0., 0.);

        bus_callers_init(&b->callers, o->max_cached_callers);

        r = bus_acl_copy(b->acl, o->acl);
        if (r < 0)
                return r;

        r = connect_bus(o, &b->bus);
        if (r < 0) {
                log_sink_errno(&b->log, LOG_ERR, r, _("Failed to connect to the D-Bus bus %s: %s"),
                               o->address ?: (o->user_bus ? "user" : "system"), strerror(-r));
                return r;
        }

        r = bus_callers_watch(b);
        if (r < 0) {
                log_sink_errno(&b->log, LOG_ERR, r, _("Failed to watch the bus for callers that leave: %s"),
                               strerror(-r));
                return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++) {
                r = sd_bus_add_object_vtable(b->bus, NULL, BUS_PATH, interfaces[i].interface, interfaces[i].vtable, b);
                if (r < 0) {
                        log_sink_errno(&b->log, LOG_ERR, r, _("Failed to register %s: %s"), interfaces[i].interface,
                                       strerror(-r));
                        return r;
                }
        }

        bus_cluster_start(b);
        raftd_on_status(node, bus_cluster_status, b);
        r = raftd_watch(node, NULL, 0, bus_kv_changed, b, &b->watch_handle);
        if (r < 0) {
                log_sink_errno(&b->log, LOG_ERR, r, _("Failed to watch the key space: %s"), strerror(-r));
                return r;
        }
        b->watching = true;

        /* Last: once the name is ours, calls arrive and must find everything
         * in place. */
        r = sd_bus_request_name(b->bus, BUS_NAME, 0);
        if (r < 0) {
                if (r == -EEXIST)
                        log_sink_errno(&b->log, LOG_ERR, r,
                                       _("The bus name %s is owned by another process; is raftd already running "
                                         "on this bus?"),
                                       BUS_NAME);
                else
                        log_sink_errno(&b->log, LOG_ERR, r, _("Failed to acquire the bus name %s: %s"), BUS_NAME,
                                       strerror(-r));
                return r;
        }

        bus_loop_start(b);
        *ret = TAKE_PTR(b);
        return 0;
}

void bus_set_limits(struct bus *b, size_t max_key_len, size_t max_value_size) {
        if (!b)
                return;
        if (max_key_len > 0)
                b->options.max_key_len = max_key_len;
        if (max_value_size > 0)
                b->options.max_value_size = max_value_size;
}

struct bus *bus_free(struct bus *b) {
        if (!b)
                return NULL;
        if (b->watching)
                (void) raftd_unwatch(b->node, b->watch_handle);
        raftd_on_status(b->node, NULL, NULL);
        bus_locks_free_all(b);
        bus_calls_detach(b);
        bus_cluster_stop(b);
        bus_loop_stop(b);
        /* Calls still waiting for their sender's uid go unanswered, as
         * every other pending call. */
        bus_callers_done(&b->callers);
        b->callers_gone = sd_bus_slot_unref(b->callers_gone);
        if (b->bus) {
                if (!b->broken)
                        (void) sd_bus_flush(b->bus);
                b->bus = sd_bus_close_unref(b->bus);
        }
        bus_acl_done(b->acl);
        free(b);
        return NULL;
}
