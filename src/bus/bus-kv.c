/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.raftd1.KV: the key-value methods, leases and the Changed signal. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

#define KV_LIST_MAX 1000

static int check_key(struct bus *b, const char *arg, const char *key, bool may_be_empty, sd_bus_error *error) {
        size_t len = strlen(key);

        if (len == 0 && !may_be_empty)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, _("Argument '%s' must not be empty."), arg);
        if (len > b->options.max_key_len)
                return sd_bus_error_setf(error, BUS_ERROR_TOO_LARGE,
                                         _("Argument '%s' is %zu bytes long, over the key length limit of %zu "
                                           "bytes; use a shorter key."),
                                         arg, len, b->options.max_key_len);
        return 0;
}

static int check_value(struct bus *b, const char *arg, size_t len, sd_bus_error *error) {
        if (len > b->options.max_value_size)
                return sd_bus_error_setf(error, BUS_ERROR_TOO_LARGE,
                                         _("Argument '%s' is %zu bytes, over the value size limit of %zu bytes; "
                                           "store large data elsewhere and keep a reference here."),
                                         arg, len, b->options.max_value_size);
        return 0;
}

static int method_put(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        const char *key;
        const void *value;
        size_t value_len;
        uint64_t lease, flags;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &value, &value_len);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "tt", &lease, &flags);
        if (r < 0)
                return r;

        r = check_key(b, "key", key, false, error);
        if (r < 0)
                return r;
        r = check_value(b, "value", value_len, error);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_WRITE, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_LEASE);
        if (!c)
                return -ENOMEM;
        r = raftd_put_lease(b->node, key, strlen(key), value, value_len, lease, bus_call_reply_u64, c);
        return bus_call_submitted(c, r, error);
}

static int send_value(struct bus_call *c, const void *value, size_t len, uint64_t revision) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(c->message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', value, len);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "t", revision);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static void get_done(void *userdata, int error, const void *value, size_t len, uint64_t revision) {
        struct bus_call *c = userdata;

        bus_call_finish(c, c->bus && error >= 0 ? send_value(c, value, len, revision) : error);
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        const char *key;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "st", &key, &flags);
        if (r < 0)
                return r;
        r = check_key(b, "key", key, false, error);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, RAFTD_GET_LOCAL, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_READ, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_KEY);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_get(b->node, key, strlen(key), flags, get_done, c), error);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        const char *key;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "st", &key, &flags);
        if (r < 0)
                return r;
        r = check_key(b, "key", key, false, error);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_WRITE, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_KEY);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_delete(b->node, key, strlen(key), bus_call_reply_u64, c), error);
}

static void cas_done(void *userdata, int error, bool swapped, uint64_t revision) {
        struct bus_call *c = userdata;

        bus_call_finish(c, c->bus && error >= 0 ? sd_bus_reply_method_return(c->message, "bt", (int) swapped, revision)
                                                 : error);
}

static int method_compare_and_swap(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        const char *key;
        int expected_present, new_present;
        const void *expected, *new_value;
        size_t expected_len, new_len;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "sb", &key, &expected_present);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &expected, &expected_len);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "b", &new_present);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &new_value, &new_len);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "t", &flags);
        if (r < 0)
                return r;

        r = check_key(b, "key", key, false, error);
        if (r < 0)
                return r;
        if (!expected_present && expected_len > 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Argument 'expected' must be empty when 'expected_present' is false."));
        if (!new_present && new_len > 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Argument 'new_value' must be empty when 'new_present' is false."));
        r = check_value(b, "expected", expected_len, error);
        if (r < 0)
                return r;
        r = check_value(b, "new_value", new_len, error);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_WRITE, error);
        if (r != 0)
                return r;

        /* An empty present value still needs a non-NULL pointer: NULL means absent. */
        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_KEY);
        if (!c)
                return -ENOMEM;
        r = raftd_cas(b->node, key, strlen(key), expected_present ? (expected ?: "") : NULL, expected_len,
                      new_present ? (new_value ?: "") : NULL, new_len, cas_done, c);
        return bus_call_submitted(c, r, error);
}

static int append_entry(sd_bus_message *reply, const struct raftd_kv *e) {
        _cleanup_free_ char *key = NULL;
        int r;

        /* Written through libraftd with bytes a D-Bus string cannot carry. */
        if (!bus_utf8_valid(e->key, e->key_len))
                return 0;
        key = strndup(e->key, e->key_len);
        if (!key)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'r', "sayt");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', e->value, e->value_len);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "t", e->mod_revision);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int send_entries(struct bus_call *c, const struct raftd_kv *entries, size_t n, bool more) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(c->message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sayt)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = append_entry(reply, &entries[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "b", (int) more);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static void list_done(void *userdata, int error, const struct raftd_kv *entries, size_t n, bool more) {
        struct bus_call *c = userdata;

        bus_call_finish(c, c->bus && error >= 0 ? send_entries(c, entries, n, more) : error);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        const char *prefix, *after;
        uint32_t limit;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "ssut", &prefix, &after, &limit, &flags);
        if (r < 0)
                return r;
        r = check_key(b, "prefix", prefix, true, error);
        if (r < 0)
                return r;
        r = check_key(b, "after", after, true, error);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, RAFTD_GET_LOCAL, error);
        if (r < 0)
                return r;
        if (limit == 0 || limit > KV_LIST_MAX)
                limit = KV_LIST_MAX;

        r = bus_authorize(b, m, BUS_ACCESS_READ, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_KEY);
        if (!c)
                return -ENOMEM;
        r = raftd_list(b->node, prefix, strlen(prefix), after[0] ? after : NULL, strlen(after), limit, flags,
                       list_done, c);
        return bus_call_submitted(c, r, error);
}

static int method_grant_lease(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        uint64_t ttl_usec, flags;
        int r;

        r = sd_bus_message_read(m, "tt", &ttl_usec, &flags);
        if (r < 0)
                return r;
        if (ttl_usec < 1000)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Argument 'ttl_usec' must be at least 1000 (one millisecond)."));
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_WRITE, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_LEASE);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_lease_grant(b->node, ttl_usec / 1000, bus_call_reply_u64, c), error);
}

static int lease_method(sd_bus_message *m, struct bus *b, sd_bus_error *error, bool revoke) {
        uint64_t lease, flags;
        struct bus_call *c;
        int r;

        r = sd_bus_message_read(m, "tt", &lease, &flags);
        if (r < 0)
                return r;
        if (lease == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, _("Argument 'lease' must not be 0."));
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_WRITE, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_LEASE);
        if (!c)
                return -ENOMEM;
        if (revoke)
                return bus_call_submitted(c, raftd_lease_revoke(b->node, lease, bus_call_reply_empty, c), error);
        return bus_call_submitted(c, raftd_lease_keepalive(b->node, lease, bus_call_reply_empty, c), error);
}

static int method_keep_alive_lease(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return lease_method(m, userdata, error, false);
}

static int method_revoke_lease(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return lease_method(m, userdata, error, true);
}

void bus_kv_changed(void *userdata, const struct raftd_change *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *key = NULL;
        struct bus *b = userdata;
        int r;

        if (b->broken)
                return;
        if (!bus_utf8_valid(c->key, c->key_len)) {
                log_sink(&b->log, LOG_DEBUG,
                         _("Not signalling a change of a key that is not UTF-8 (revision %" PRIu64 ")."), c->revision);
                return;
        }
        key = strndup(c->key, c->key_len);
        if (!key)
                return (void) log_sink_errno(&b->log, LOG_ERR, -ENOMEM, _("Out of memory for a Changed signal."));
        r = sd_bus_message_new_signal(b->bus, &m, BUS_PATH, "org.raftd1.KV", "Changed");
        if (r >= 0)
                r = sd_bus_message_append(m, "stb", key, c->revision, (int) !c->value);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', c->value ?: "", c->value ? c->value_len : 0);
        if (r >= 0)
                r = sd_bus_send(b->bus, m, NULL);
        if (r < 0)
                log_sink_errno(&b->log, LOG_WARNING, r, _("Failed to emit Changed for revision %" PRIu64 ": %s"),
                               c->revision, strerror(-r));
}

const sd_bus_vtable bus_kv_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Put", SD_BUS_ARGS("s", key, "ay", value, "t", lease, "t", flags),
                                SD_BUS_RESULT("t", revision), method_put, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", key, "t", flags), SD_BUS_RESULT("ay", value, "t", revision),
                                method_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("s", key, "t", flags), SD_BUS_RESULT("t", revision),
                                method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CompareAndSwap",
                                SD_BUS_ARGS("s", key, "b", expected_present, "ay", expected, "b", new_present, "ay",
                                            new_value, "t", flags),
                                SD_BUS_RESULT("b", swapped, "t", revision), method_compare_and_swap,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", prefix, "s", after, "u", limit, "t", flags),
                                SD_BUS_RESULT("a(sayt)", entries, "b", more), method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GrantLease", SD_BUS_ARGS("t", ttl_usec, "t", flags), SD_BUS_RESULT("t", lease),
                                method_grant_lease, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KeepAliveLease", SD_BUS_ARGS("t", lease, "t", flags), SD_BUS_NO_RESULT,
                                method_keep_alive_lease, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RevokeLease", SD_BUS_ARGS("t", lease, "t", flags), SD_BUS_NO_RESULT,
                                method_revoke_lease, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("s", key, "t", revision, "b", deleted, "ay", value), 0),
        SD_BUS_VTABLE_END,
};
