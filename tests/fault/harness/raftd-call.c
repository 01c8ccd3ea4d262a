/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "raftd-call.h"

#define DEST "org.raftd1"
#define PATH "/org/raftd1"

int caller_connect(struct caller *c, const char *address, uint64_t timeout_usec) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        c->bus = bus;
        c->timeout_usec = timeout_usec;
        return 0;
}

void caller_close(struct caller *c) {
        c->bus = sd_bus_flush_close_unref(c->bus);
}

static struct call_status status(enum outcome o, const char *reason) {
        struct call_status s = { .outcome = o };

        snprintf(s.reason, sizeof(s.reason), "%s", reason ? reason : "");
        return s;
}

/* The daemon's own answers say whether a request may have taken effect;
 * the bus's answers say whether it ever reached the daemon. */
static struct call_status classify(int r, const sd_bus_error *e) {
        static const struct {
                const char *name;
                enum outcome outcome;
                const char *reason;
        } map[] = {
                { "org.raftd1.Unavailable", OUTCOME_FAIL, "unavailable" },
                { "org.raftd1.OutcomeUnknown", OUTCOME_UNKNOWN, "outcome-unknown" },
                { "org.raftd1.LockTimeout", OUTCOME_FAIL, "lock-timeout" },
                /* Not delivered: no node owns the name right now. */
                { SD_BUS_ERROR_SERVICE_UNKNOWN, OUTCOME_FAIL, "no-node" },
                { SD_BUS_ERROR_NAME_HAS_NO_OWNER, OUTCOME_FAIL, "no-node" },
                /* Delivered, then the node died or stopped answering. */
                { SD_BUS_ERROR_NO_REPLY, OUTCOME_UNKNOWN, "no-reply" },
                { SD_BUS_ERROR_TIMEOUT, OUTCOME_UNKNOWN, "timeout" },
                { SD_BUS_ERROR_DISCONNECTED, OUTCOME_UNKNOWN, "disconnected" },
        };

        if (sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ELEMENTSOF(map); i++)
                        if (strcmp(e->name, map[i].name) == 0)
                                return status(map[i].outcome, map[i].reason);
                /* Arguments and permissions are the harness's own doing;
                 * any other error is the daemon's, and nothing says whether
                 * the request took effect.  The history names the error. */
                if (strcmp(e->name, SD_BUS_ERROR_INVALID_ARGS) == 0 || strcmp(e->name, SD_BUS_ERROR_ACCESS_DENIED) == 0 ||
                    strcmp(e->name, "org.raftd1.NoSuchKey") == 0 || strcmp(e->name, "org.raftd1.TooLarge") == 0) {
                        char why[128];

                        snprintf(why, sizeof(why), "%s: %s", e->name, e->message ? e->message : "");
                        return status(OUTCOME_BROKEN, why);
                }
                fprintf(stderr, "unexpected error %s: %s\n", e->name, e->message ? e->message : "");
                return status(OUTCOME_UNKNOWN, e->name);
        }
        if (r == -ETIMEDOUT)
                return status(OUTCOME_UNKNOWN, "timeout");
        if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN)
                return status(OUTCOME_UNKNOWN, "disconnected");
        return status(OUTCOME_BROKEN, strerror(-r));
}

static struct call_status call(struct caller *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **reply) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        struct call_status s;
        int r;

        r = sd_bus_call(c->bus, m, timeout_usec, &e, reply);
        s = r >= 0 ? status(OUTCOME_OK, NULL) : classify(r, &e);
        sd_bus_error_free(&e);
        return s;
}

static int new_call(struct caller *c, sd_bus_message **m, const char *iface, const char *member) {
        return sd_bus_message_new_method_call(c->bus, m, DEST, PATH, iface, member);
}

static int append_value(sd_bus_message *m, uint64_t value) {
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, value);

        return sd_bus_message_append_array(m, 'y', buf, (size_t) n);
}

static int read_value(sd_bus_message *m, uint64_t *value) {
        const void *p;
        size_t n;
        char buf[24];
        char *end;
        int r;

        r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r < 0)
                return r;
        if (n == 0 || n >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, p, n);
        buf[n] = 0;
        errno = 0;
        *value = strtoull(buf, &end, 10);
        if (errno != 0 || *end != 0)
                return -EBADMSG;
        return 0;
}

static struct call_status broken(const char *what, int r) {
        char why[128];

        snprintf(why, sizeof(why), "%s: %s", what, strerror(-r));
        return status(OUTCOME_BROKEN, why);
}

struct call_status call_put(struct caller *c, const char *key, uint64_t value) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int r;

        r = new_call(c, &m, "org.raftd1.KV", "Put");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = append_value(m, value);
        if (r >= 0)
                r = sd_bus_message_append(m, "tt", UINT64_C(0), UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("Put message", r);
        }
        s = call(c, m, c->timeout_usec, &reply);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return s;
}

struct call_status call_delete(struct caller *c, const char *key) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int r;

        r = new_call(c, &m, "org.raftd1.KV", "Delete");
        if (r >= 0)
                r = sd_bus_message_append(m, "st", key, UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("Delete message", r);
        }
        s = call(c, m, c->timeout_usec, &reply);
        /* Deleting an absent key leaves it absent: the effect is the same. */
        if (s.outcome == OUTCOME_BROKEN && strncmp(s.reason, "org.raftd1.NoSuchKey:", 21) == 0)
                s = status(OUTCOME_OK, NULL);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return s;
}

struct call_status call_get(struct caller *c, const char *key, bool *present, uint64_t *value) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int r;

        r = new_call(c, &m, "org.raftd1.KV", "Get");
        if (r >= 0)
                r = sd_bus_message_append(m, "st", key, UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("Get message", r);
        }
        s = call(c, m, c->timeout_usec, &reply);
        sd_bus_message_unref(m);
        *present = false;
        if (s.outcome == OUTCOME_BROKEN && strncmp(s.reason, "org.raftd1.NoSuchKey:", 21) == 0)
                s = status(OUTCOME_OK, NULL);
        else if (s.outcome == OUTCOME_OK) {
                r = read_value(reply, value);
                if (r < 0)
                        s = broken("Get reply", r);
                else
                        *present = true;
        }
        sd_bus_message_unref(reply);
        return s;
}

static int append_optional(sd_bus_message *m, bool present, uint64_t value) {
        int r = sd_bus_message_append(m, "b", (int) present);

        if (r < 0)
                return r;
        return present ? append_value(m, value) : sd_bus_message_append_array(m, 'y', NULL, 0);
}

struct call_status call_cas(struct caller *c, const char *key, bool expected_present, uint64_t expected,
                            bool new_present, uint64_t new_value) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int swapped = 0;
        uint64_t revision;
        int r;

        r = new_call(c, &m, "org.raftd1.KV", "CompareAndSwap");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = append_optional(m, expected_present, expected);
        if (r >= 0)
                r = append_optional(m, new_present, new_value);
        if (r >= 0)
                r = sd_bus_message_append(m, "t", UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("CompareAndSwap message", r);
        }
        s = call(c, m, c->timeout_usec, &reply);
        sd_bus_message_unref(m);
        if (s.outcome == OUTCOME_OK) {
                r = sd_bus_message_read(reply, "bt", &swapped, &revision);
                if (r < 0)
                        s = broken("CompareAndSwap reply", r);
                else if (!swapped)
                        s = status(OUTCOME_FAIL, "mismatch");
        }
        sd_bus_message_unref(reply);
        return s;
}

struct call_status call_list_page(struct caller *c, const char *prefix, const char *after, char *last, size_t last_size,
                                  bool *more, void (*fn)(void *userdata, const char *key, uint64_t value),
                                  void *userdata) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int more_flag = 0;
        int r;

        r = new_call(c, &m, "org.raftd1.KV", "List");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssut", prefix, after, 1000u, UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("List message", r);
        }
        s = call(c, m, c->timeout_usec, &reply);
        sd_bus_message_unref(m);
        if (s.outcome != OUTCOME_OK) {
                sd_bus_message_unref(reply);
                return s;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(sayt)");
        while (r >= 0) {
                const char *key;
                uint64_t value, revision;

                r = sd_bus_message_enter_container(reply, 'r', "sayt");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0)
                        r = read_value(reply, &value);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "t", &revision);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        break;
                snprintf(last, last_size, "%s", key);
                fn(userdata, key + strlen(prefix), value);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &more_flag);
        if (r < 0)
                s = broken("List reply", r);
        *more = more_flag;
        sd_bus_message_unref(reply);
        return s;
}

struct call_status call_acquire(struct caller *c, const char *name, uint64_t timeout_usec, int *fd, uint64_t *fence) {
        sd_bus_message *m = NULL, *reply = NULL;
        struct call_status s;
        int lock_fd;
        int r;

        r = new_call(c, &m, "org.raftd1.Lock", "Acquire");
        if (r >= 0)
                r = sd_bus_message_append(m, "stt", name, timeout_usec, UINT64_C(0));
        if (r < 0) {
                sd_bus_message_unref(m);
                return broken("Acquire message", r);
        }
        /* The call itself may wait the whole lock timeout. */
        s = call(c, m, c->timeout_usec + timeout_usec, &reply);
        sd_bus_message_unref(m);
        if (s.outcome == OUTCOME_OK) {
                r = sd_bus_message_read(reply, "ht", &lock_fd, fence);
                if (r >= 0) {
                        *fd = fcntl(lock_fd, F_DUPFD_CLOEXEC, 3);
                        if (*fd < 0)
                                r = -errno;
                }
                if (r < 0)
                        s = broken("Acquire reply", r);
        }
        sd_bus_message_unref(reply);
        return s;
}
