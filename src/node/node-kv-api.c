/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key-value and lease calls of libraftd. */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "shared/macro.h"

struct kv_call {
        raftd_write_cb write;
        raftd_cas_cb cas;
        raftd_lease_cb lease;
        raftd_get_cb get;
        raftd_list_cb list;
        void *userdata;
        uint8_t *key;
        size_t key_len;
        uint8_t *after;
        size_t after_len;
        size_t limit;
};

static struct kv_call *call_new(void *userdata) {
        struct kv_call *c = calloc(1, sizeof(*c));

        if (c)
                c->userdata = userdata;
        return c;
}

static void call_free(struct kv_call *c) {
        free(c->key);
        free(c->after);
        free(c);
}

/* What a command's outcome means to the caller. */
static int result_error(int error, const struct kv_result *res) {
        if (error < 0)
                return error;
        switch (res->status) {
        case KV_STATUS_OK:
        case KV_STATUS_COMPARE_FAILED:
                return 0;
        case KV_STATUS_NO_SUCH_KEY:
                return RAFTD_E_NO_SUCH_KEY;
        case KV_STATUS_SEQUENCE_FORGOTTEN:
                return RAFTD_E_OUTCOME_UNKNOWN; /* its cached answer is gone */
        case KV_STATUS_KEY_TOO_LONG:
        case KV_STATUS_VALUE_TOO_LARGE:
        case KV_STATUS_OWNER_TOO_LONG:
                return RAFTD_E_TOO_LARGE;
        default:
                return res->error < 0 ? res->error : -EIO;
        }
}

static void write_done(struct raftd_node *n, void *ctx, int error, const struct kv_result *res) {
        struct kv_call *c = ctx;

        error = result_error(error, res);
        if (c->cas)
                c->cas(c->userdata, error, error == 0 && res->status == KV_STATUS_OK, error == 0 ? res->revision : 0);
        else if (c->lease)
                c->lease(c->userdata, error, error == 0 ? res->id : 0);
        else if (c->write)
                c->write(c->userdata, error, error == 0 ? res->revision : 0);
        call_free(c);
}

static int submit(struct raftd_node *n, const struct kv_command *cmd, struct kv_call *c) {
        int k;

        if (!c)
                return -ENOMEM;
        k = node_submit_write(n, node_session_default(n), cmd, write_done, c);
        if (k < 0)
                call_free(c);
        return k;
}

static int check_key(const struct raftd_node *n, const void *key, size_t key_len) {
        if (!key || key_len == 0)
                return -EINVAL;
        if (key_len > n->cfg.max_key_len)
                return RAFTD_E_TOO_LARGE;
        return 0;
}

int raftd_put_lease(struct raftd_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                    uint64_t lease, raftd_write_cb cb, void *userdata) {
        struct kv_command cmd = { .type = KV_CMD_PUT, .lease = lease };
        struct kv_call *c;
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if (value_len > n->cfg.max_value_size)
                return RAFTD_E_TOO_LARGE;
        cmd.key = (struct kv_blob) { key, key_len };
        cmd.value = (struct kv_blob) { value, value_len };
        c = call_new(userdata);
        if (c)
                c->write = cb;
        return submit(n, &cmd, c);
}

int raftd_put(struct raftd_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
              raftd_write_cb cb, void *userdata) {
        return raftd_put_lease(n, key, key_len, value, value_len, 0, cb, userdata);
}

int raftd_delete(struct raftd_node *n, const void *key, size_t key_len, raftd_write_cb cb, void *userdata) {
        struct kv_command cmd = { .type = KV_CMD_DELETE };
        struct kv_call *c;
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        cmd.key = (struct kv_blob) { key, key_len };
        c = call_new(userdata);
        if (c)
                c->write = cb;
        return submit(n, &cmd, c);
}

int raftd_cas(struct raftd_node *n, const void *key, size_t key_len, const void *expected, size_t expected_len,
              const void *new_value, size_t new_len, raftd_cas_cb cb, void *userdata) {
        struct kv_command cmd = { .type = KV_CMD_COMPARE_AND_SWAP };
        struct kv_call *c;
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if ((new_value && new_len > n->cfg.max_value_size) || (expected && expected_len > n->cfg.max_value_size))
                return RAFTD_E_TOO_LARGE;
        cmd.key = (struct kv_blob) { key, key_len };
        cmd.expected_present = expected != NULL;
        if (expected)
                cmd.expected = (struct kv_blob) { expected, expected_len };
        cmd.new_present = new_value != NULL;
        if (new_value)
                cmd.value = (struct kv_blob) { new_value, new_len };
        c = call_new(userdata);
        if (c)
                c->cas = cb;
        return submit(n, &cmd, c);
}

int raftd_lease_grant(struct raftd_node *n, uint64_t ttl_ms, raftd_lease_cb cb, void *userdata) {
        struct kv_command cmd = { .type = KV_CMD_LEASE_GRANT, .ttl_ms = ttl_ms };
        struct kv_call *c;

        if (ttl_ms == 0)
                return -EINVAL;
        c = call_new(userdata);
        if (c)
                c->lease = cb;
        return submit(n, &cmd, c);
}

static int lease_op(struct raftd_node *n, enum kv_command_type type, uint64_t lease, raftd_write_cb cb, void *userdata) {
        struct kv_command cmd = { .type = type, .lease = lease };
        struct kv_call *c;

        if (lease == 0)
                return -EINVAL;
        c = call_new(userdata);
        if (c)
                c->write = cb;
        return submit(n, &cmd, c);
}

int raftd_lease_keepalive(struct raftd_node *n, uint64_t lease, raftd_write_cb cb, void *userdata) {
        return lease_op(n, KV_CMD_LEASE_KEEPALIVE, lease, cb, userdata);
}

int raftd_lease_revoke(struct raftd_node *n, uint64_t lease, raftd_write_cb cb, void *userdata) {
        return lease_op(n, KV_CMD_LEASE_REVOKE, lease, cb, userdata);
}

/* ---- reads ---- */

static void serve_get(struct raftd_node *n, void *ctx, int error) {
        struct kv_call *c = ctx;
        struct kv_value v = { 0 };

        if (error >= 0)
                error = kv_get(n->kv, c->key, c->key_len, &v);
        if (error < 0)
                c->get(c->userdata, error == -ENOENT ? RAFTD_E_NO_SUCH_KEY : error, NULL, 0, 0);
        else
                c->get(c->userdata, 0, v.data, v.len, v.mod_revision);
        kv_value_done(&v);
        call_free(c);
}

static void *memdup_or_null(const void *p, size_t len, bool *oom) {
        void *d;

        if (!p || len == 0)
                return NULL;
        d = malloc(len);
        if (!d) {
                *oom = true;
                return NULL;
        }
        memcpy(d, p, len);
        return d;
}

int raftd_get(struct raftd_node *n, const void *key, size_t key_len, uint64_t flags, raftd_get_cb cb,
              void *userdata) {
        struct kv_call *c;
        bool oom = false;
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if (!cb)
                return -EINVAL;
        c = call_new(userdata);
        if (!c)
                return -ENOMEM;
        c->get = cb;
        c->key = memdup_or_null(key, key_len, &oom);
        c->key_len = key_len;
        if (oom) {
                call_free(c);
                return -ENOMEM;
        }
        k = node_submit_read(n, flags & RAFTD_GET_LOCAL, serve_get, c);
        if (k < 0)
                call_free(c);
        return k;
}

static void serve_list(struct raftd_node *n, void *ctx, int error) {
        struct kv_call *c = ctx;
        struct kv_entry *e = NULL;
        struct raftd_kv *out = NULL;
        size_t count = 0;
        bool more = false;

        if (error >= 0)
                error = kv_list(n->kv, c->key, c->key_len, c->after, c->after_len, c->limit, &e, &count, &more);
        if (error >= 0 && count > 0) {
                out = calloc(count, sizeof(*out));
                if (!out)
                        error = -ENOMEM;
        }
        if (error < 0)
                c->list(c->userdata, error, NULL, 0, false);
        else {
                for (size_t i = 0; i < count; i++)
                        out[i] = (struct raftd_kv) {
                                .key = e[i].key,
                                .key_len = e[i].key_len,
                                .value = e[i].value.data,
                                .value_len = e[i].value.len,
                                .create_revision = e[i].value.create_revision,
                                .mod_revision = e[i].value.mod_revision,
                                .lease = e[i].value.lease,
                        };
                c->list(c->userdata, 0, out, count, more);
        }
        free(out);
        kv_entries_free(e, count);
        call_free(c);
}

int raftd_list(struct raftd_node *n, const void *prefix, size_t prefix_len, const void *after, size_t after_len,
               size_t limit, uint64_t flags, raftd_list_cb cb, void *userdata) {
        struct kv_call *c;
        bool oom = false;
        int k;

        if (!cb || prefix_len > n->cfg.max_key_len || after_len > n->cfg.max_key_len)
                return -EINVAL;
        c = call_new(userdata);
        if (!c)
                return -ENOMEM;
        c->list = cb;
        c->key = memdup_or_null(prefix, prefix_len, &oom);
        c->key_len = prefix_len;
        c->after = memdup_or_null(after, after_len, &oom);
        c->after_len = after ? after_len : 0;
        /* Pages are bounded so a listing never holds the whole store. */
        c->limit = limit == 0 || limit > 1000 ? 1000 : limit;
        if (oom) {
                call_free(c);
                return -ENOMEM;
        }
        k = node_submit_read(n, flags & RAFTD_GET_LOCAL, serve_list, c);
        if (k < 0)
                call_free(c);
        return k;
}
