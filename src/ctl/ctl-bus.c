/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connection to the node's bus, method calls, and what a failed call
 * tells the user (a sentence in their language and an exit code). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

void ctl_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int ctl_connect(struct ctl *c) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        switch (c->bus_kind) {
        case CTL_BUS_USER:
                r = sd_bus_open_user(&bus);
                break;
        case CTL_BUS_ADDRESS:
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, c->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
                break;
        case CTL_BUS_SYSTEM:
        default:
                /* Honours $DBUS_SYSTEM_BUS_ADDRESS (dev clusters on private buses). */
                r = sd_bus_open_system(&bus);
                break;
        }
        if (r < 0) {
                ctl_error(_("Failed to connect to the bus%s%s: %s"), c->bus_address ? " " : "",
                          c->bus_address ?: "", strerror(-r));
                return CTL_EXIT_UNAVAILABLE;
        }
        c->bus = TAKE_PTR(bus);
        return CTL_EXIT_OK;
}

struct error_map {
        const char *name;
        int exit;
        const char *text;
        bool show_detail; /* the node's message names an argument or a limit */
};

static const struct error_map error_maps[] = {
        { "org.raftd1.NoSuchKey", CTL_EXIT_NOT_FOUND, N_("the key does not exist"), false },
        { "org.raftd1.NoSuchMember", CTL_EXIT_NOT_FOUND, N_("no such member in the cluster configuration"), false },
        { "org.raftd1.MemberExists", CTL_EXIT_FAILURE, N_("the server is already a member of the cluster"), false },
        { "org.raftd1.AlreadyVoter", CTL_EXIT_FAILURE, N_("the member is already a voter"), false },
        { "org.raftd1.NoSuchLease", CTL_EXIT_NOT_FOUND, N_("no such lease: never granted, revoked or expired"),
          false },
        { "org.raftd1.Unavailable", CTL_EXIT_UNAVAILABLE,
          N_("the cluster is unavailable (no leader with a quorum, or the node is stopping); the request did not "
             "take effect, retry later"),
          false },
        { "org.raftd1.OutcomeUnknown", CTL_EXIT_OUTCOME_UNKNOWN,
          N_("the outcome is unknown: the request reached a leader and may have been applied; read before "
             "retrying"),
          false },
        { "org.raftd1.TooLarge", CTL_EXIT_FAILURE, N_("over a configured limit"), true },
        { "org.raftd1.LockTimeout", CTL_EXIT_UNAVAILABLE,
          N_("the lock was not granted within the timeout (see the holder with busctl's Lock.List)"), false },
        { "org.raftd1.Busy", CTL_EXIT_UNAVAILABLE,
          N_("another membership change or leadership transfer is running; retry when it has finished"), false },
        { SD_BUS_ERROR_ACCESS_DENIED, CTL_EXIT_ACCESS_DENIED, N_("access denied"), true },
        { SD_BUS_ERROR_INVALID_ARGS, CTL_EXIT_FAILURE, N_("invalid arguments"), true },
        { SD_BUS_ERROR_SERVICE_UNKNOWN, CTL_EXIT_UNAVAILABLE,
          N_("raftd is not running on this bus (no owner of org.raftd1)"), false },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER, CTL_EXIT_UNAVAILABLE,
          N_("raftd is not running on this bus (no owner of org.raftd1)"), false },
        { SD_BUS_ERROR_UNKNOWN_METHOD, CTL_EXIT_FAILURE, N_("the node does not know this method (older raftd?)"),
          true },
        { SD_BUS_ERROR_UNKNOWN_INTERFACE, CTL_EXIT_FAILURE,
          N_("the node does not know this interface (older raftd?)"), true },
};

/* A reply that never came: a read did nothing, a write may have. */
static bool error_is_lost_reply(const sd_bus_error *error, int r) {
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_TIMEOUT) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_DISCONNECTED))
                return true;
        return r == -ETIMEDOUT || r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE;
}

int ctl_call_failed(const char *what, const sd_bus_error *error, int r, bool writes) {
        if (error && sd_bus_error_is_set(error)) {
                for (size_t i = 0; i < ELEMENTSOF(error_maps); i++) {
                        const struct error_map *m = &error_maps[i];

                        if (!sd_bus_error_has_name(error, m->name))
                                continue;
                        if (m->show_detail && error->message)
                                ctl_error("%s: %s: %s", what, _(m->text), error->message);
                        else
                                ctl_error("%s: %s", what, _(m->text));
                        return m->exit;
                }
        }
        if (error_is_lost_reply(error, r)) {
                if (writes) {
                        ctl_error(_("%s: no answer from the node (%s); the outcome is unknown: the request may "
                                    "have been applied, read before retrying"),
                                  what, strerror(-r));
                        return CTL_EXIT_OUTCOME_UNKNOWN;
                }
                ctl_error(_("%s: no answer from the node (%s)"), what, strerror(-r));
                return CTL_EXIT_UNAVAILABLE;
        }
        if (error && sd_bus_error_is_set(error))
                ctl_error("%s: %s (%s)", what, error->message ?: strerror(-r), error->name);
        else
                ctl_error("%s: %s", what, strerror(-r));
        return CTL_EXIT_FAILURE;
}

int ctl_parse_failed(int r) {
        ctl_error(_("Failed to parse the node's reply: %s"), strerror(-r));
        return CTL_EXIT_FAILURE;
}

int ctl_call(struct ctl *c, const char *iface, const char *member, uint64_t timeout_usec, sd_bus_message **reply,
             sd_bus_error *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, CTL_BUS_NAME, CTL_BUS_PATH, iface, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return sd_bus_call(c->bus, m, timeout_usec, error, reply);
}
