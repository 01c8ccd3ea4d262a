/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deferred replies and the mapping from libraftd's errors to D-Bus errors
 * whose message tells the caller what to do next. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

struct bus_call *bus_call_new(struct bus *b, sd_bus_message *m, const char *enoent_error) {
        struct bus_call *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->bus = b;
        c->message = sd_bus_message_ref(m);
        c->enoent_error = enoent_error;
        c->backup_fd = -1;
        c->next = b->calls;
        if (b->calls)
                b->calls->prev = c;
        b->calls = c;
        return c;
}

struct bus_call *bus_call_free(struct bus_call *c) {
        if (!c)
                return NULL;
        if (c->bus) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->bus->calls = c->next;
                if (c->next)
                        c->next->prev = c->prev;
        }
        sd_bus_message_unref(c->message);
        if (c->backup_fd >= 0)
                (void) close(c->backup_fd);
        free(c);
        return NULL;
}

void bus_calls_detach(struct bus *b) {
        while (b->calls) {
                struct bus_call *c = b->calls;

                b->calls = c->next;
                c->bus = NULL;
                c->prev = c->next = NULL;
                /* The message pins the connection; the caller gets no answer
                 * (its call fails with NoReply or Disconnected). */
                c->message = sd_bus_message_unref(c->message);
        }
}

static int error_for(struct bus *b, sd_bus_error *error, int r, const char *enoent_error) {
        switch (r) {
        case -ENOENT:
                if (enoent_error && strcmp(enoent_error, BUS_ERROR_NO_SUCH_LEASE) == 0)
                        return sd_bus_error_set(error, BUS_ERROR_NO_SUCH_LEASE,
                                                _("No such lease: it was never granted, was revoked or has expired; "
                                                  "grant a new one."));
                if (enoent_error && strcmp(enoent_error, BUS_ERROR_NO_SUCH_MEMBER) == 0)
                        return sd_bus_error_set(error, BUS_ERROR_NO_SUCH_MEMBER,
                                                _("No such member in the cluster configuration; see the Members "
                                                  "property."));
                return sd_bus_error_set(error, BUS_ERROR_NO_SUCH_KEY, _("The key does not exist."));
        case -EEXIST:
        case -EALREADY:
                /* Only membership changes say these; a retried change
                 * whose first answer was lost meets them too. */
                if (!enoent_error || strcmp(enoent_error, BUS_ERROR_NO_SUCH_MEMBER) != 0)
                        break;
                if (r == -EEXIST)
                        return sd_bus_error_set(error, BUS_ERROR_MEMBER_EXISTS,
                                                _("The server is already a member of the cluster configuration; see "
                                                  "the Members property."));
                return sd_bus_error_set(error, BUS_ERROR_ALREADY_VOTER,
                                        _("The member is already a voter; see the Members property."));
        case RAFTD_E_UNAVAILABLE:
                return sd_bus_error_set(error, BUS_ERROR_UNAVAILABLE,
                                        _("No leader with a quorum was reachable within the request timeout; the "
                                          "request did not take effect. Retry later, and check the cluster with "
                                          "the Cluster properties."));
        case RAFTD_E_OUTCOME_UNKNOWN:
                return sd_bus_error_set(error, BUS_ERROR_OUTCOME_UNKNOWN,
                                        _("The request reached a leader but its outcome is unknown: it may have "
                                          "been applied. Read the key to find out before retrying."));
        case RAFTD_E_TOO_LARGE:
                return sd_bus_error_setf(error, BUS_ERROR_TOO_LARGE,
                                         _("Key, name or value over the configured limit (key length %zu bytes, "
                                           "value size %zu bytes); shorten it."),
                                         b ? b->options.max_key_len : 0, b ? b->options.max_value_size : 0);
        case RAFTD_E_LOCK_TIMEOUT:
                return sd_bus_error_set(error, BUS_ERROR_LOCK_TIMEOUT,
                                        _("The lock was not granted within the timeout: someone else holds it "
                                          "(see Lock.List), or the timeout was shorter than a round trip through "
                                          "the cluster. Retry, or wait longer."));
        case -EBUSY:
                return sd_bus_error_set(error, BUS_ERROR_BUSY,
                                        _("Another membership change or leadership transfer is running; retry "
                                          "when it has finished."));
        case -ECANCELED:
        case -ENOTCONN:
        case -ECONNRESET:
                return sd_bus_error_set(error, BUS_ERROR_UNAVAILABLE,
                                        _("The node is stopping or lost its session with the cluster; the request "
                                          "did not complete. Retry on a running node."));
        case -EINVAL:
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, _("Invalid arguments."));
        default:
                break;
        }
        return sd_bus_error_set_errnof(error, r, _("Request failed: %s"), strerror(-r));
}

int bus_error_from_errno(struct bus *b, sd_bus_error *error, int r, const char *enoent_error) {
        return error_for(b, error, r, enoent_error);
}

int bus_call_submitted(struct bus_call *c, int r, sd_bus_error *error) {
        struct bus *b;
        const char *enoent_error;

        /* Accepted: c belongs to the completion now, which may even have
         * run already. */
        if (r >= 0)
                return 1;
        b = c->bus;
        enoent_error = c->enoent_error;
        bus_call_free(c);
        return error_for(b, error, r, enoent_error);
}

int bus_reply_errno(struct bus_call *c, int error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        (void) error_for(c->bus, &e, error, c->enoent_error);
        return sd_bus_reply_method_error(c->message, &e);
}

/* The end of every deferred call: r < 0 turns into the matching D-Bus
 * error; a detached call (the bus went away) just goes. */
void bus_call_finish(struct bus_call *c, int r) {
        if (c->bus) {
                if (r < 0)
                        r = bus_reply_errno(c, r);
                if (r < 0)
                        log_sink_errno(&c->bus->log, LOG_DEBUG, r, _("Failed to send a reply: %s"), strerror(-r));
        }
        bus_call_free(c);
}

/* Completion of every write that answers with a revision. */
void bus_call_reply_u64(void *userdata, int error, uint64_t revision) {
        struct bus_call *c = userdata;

        bus_call_finish(c, c->bus && error >= 0 ? sd_bus_reply_method_return(c->message, "t", revision) : error);
}

void bus_call_reply_empty(void *userdata, int error, uint64_t revision) {
        struct bus_call *c = userdata;

        bus_call_finish(c, c->bus && error >= 0 ? sd_bus_reply_method_return(c->message, NULL) : error);
}

int bus_check_flags(uint64_t flags, uint64_t allowed, sd_bus_error *error) {
        if (flags & ~allowed)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         _("Unknown bits 0x%" PRIx64 " in argument 'flags'; this version "
                                           "knows 0x%" PRIx64 "."),
                                         flags & ~allowed, allowed);
        return 0;
}

/* Keys written through libraftd need not be UTF-8, but a D-Bus string must be. */
bool bus_utf8_valid(const void *p, size_t len) {
        const unsigned char *s = p;

        for (size_t i = 0; i < len;) {
                unsigned char c = s[i];
                size_t n;
                uint32_t cp;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        n = 1, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        n = 2, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                if (i + n >= len)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n + 1;
        }
        return true;
}
