/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv/command.h"
#include "raft/wire.h"
#include "shared/macro.h"

/* Version 1 layout (little-endian):
 *   u8 version, u8 type, u8 flags, u64 time_ms,
 *   [u64 session, u64 seq, u64 lowest_unacked]   if FLAG_SESSION
 *   type-specific body, then nothing: trailing bytes are malformed.
 * Keys, names and owners are u16-length-prefixed, values u32-prefixed. */
enum {
        FLAG_SESSION = 1 << 0,
        FLAG_EXPECTED_PRESENT = 1 << 1, /* CAS only */
        FLAG_NEW_PRESENT = 1 << 2,      /* CAS only */
};

static const char *const type_names[_KV_CMD_MAX] = {
        [KV_CMD_PUT] = "put",
        [KV_CMD_DELETE] = "delete",
        [KV_CMD_COMPARE_AND_SWAP] = "compare-and-swap",
        [KV_CMD_SESSION_REGISTER] = "session-register",
        [KV_CMD_SESSION_KEEPALIVE] = "session-keepalive",
        [KV_CMD_SESSION_CLOSE] = "session-close",
        [KV_CMD_LOCK_ACQUIRE] = "lock-acquire",
        [KV_CMD_LOCK_RELEASE] = "lock-release",
        [KV_CMD_LEASE_GRANT] = "lease-grant",
        [KV_CMD_LEASE_KEEPALIVE] = "lease-keepalive",
        [KV_CMD_LEASE_REVOKE] = "lease-revoke",
};

const char *kv_command_type_to_string(enum kv_command_type t) {
        if ((int) t <= 0 || t >= _KV_CMD_MAX)
                return NULL;
        return type_names[t];
}

/* Commands that only make sense on behalf of a session: the session is the
 * thing kept alive or closed, or the lock holder. */
static bool type_needs_session(enum kv_command_type t) {
        return t == KV_CMD_SESSION_KEEPALIVE || t == KV_CMD_SESSION_CLOSE ||
               t == KV_CMD_LOCK_ACQUIRE || t == KV_CMD_LOCK_RELEASE;
}

#define OFFSET_FLAGS 2
#define OFFSET_TIME 3
#define OFFSET_SESSION 11
#define HEADER_SIZE_SESSION (OFFSET_SESSION + 3 * 8)

int kv_command_set_time(void *buf, size_t len, uint64_t time_ms) {
        uint8_t *p = buf;

        if (!p || len < OFFSET_SESSION || p[0] != KV_COMMAND_VERSION)
                return -EBADMSG;
        wire_put64(p + OFFSET_TIME, time_ms);
        return 0;
}

int kv_command_set_session(void *buf, size_t len, uint64_t session, uint64_t seq, uint64_t lowest_unacked) {
        uint8_t *p = buf;

        if (session == 0)
                return -EINVAL;
        if (!p || len < HEADER_SIZE_SESSION || p[0] != KV_COMMAND_VERSION || !(p[OFFSET_FLAGS] & FLAG_SESSION))
                return -EBADMSG;
        wire_put64(p + OFFSET_SESSION, session);
        wire_put64(p + OFFSET_SESSION + 8, seq);
        wire_put64(p + OFFSET_SESSION + 16, lowest_unacked);
        return 0;
}

/* A bounded writer: the first pass only counts (buf == NULL). */
struct writer {
        uint8_t *buf;
        size_t pos;
};

static void put_u8(struct writer *w, uint8_t v) {
        if (w->buf)
                w->buf[w->pos] = v;
        w->pos += 1;
}

static void put_u64(struct writer *w, uint64_t v) {
        if (w->buf)
                wire_put64(w->buf + w->pos, v);
        w->pos += 8;
}

static void put_blob(struct writer *w, const struct kv_blob *b, unsigned width) {
        if (w->buf) {
                if (width == 2)
                        wire_put16(w->buf + w->pos, (uint16_t) b->len);
                else
                        wire_put32(w->buf + w->pos, (uint32_t) b->len);
                if (b->len > 0)
                        memcpy(w->buf + w->pos + width, b->data, b->len);
        }
        w->pos += width + b->len;
}

static void encode_body(struct writer *w, const struct kv_command *c) {
        uint8_t flags = c->session != 0 ? FLAG_SESSION : 0;

        if (c->type == KV_CMD_COMPARE_AND_SWAP)
                flags |= (c->expected_present ? FLAG_EXPECTED_PRESENT : 0) |
                         (c->new_present ? FLAG_NEW_PRESENT : 0);

        put_u8(w, KV_COMMAND_VERSION);
        put_u8(w, (uint8_t) c->type);
        put_u8(w, flags);
        put_u64(w, c->time_ms);
        if (c->session != 0) {
                put_u64(w, c->session);
                put_u64(w, c->seq);
                put_u64(w, c->lowest_unacked);
        }

        switch (c->type) {
        case KV_CMD_PUT:
                put_blob(w, &c->key, 2);
                put_blob(w, &c->value, 4);
                put_u64(w, c->lease);
                break;
        case KV_CMD_DELETE:
        case KV_CMD_LOCK_RELEASE:
                put_blob(w, &c->key, 2);
                break;
        case KV_CMD_COMPARE_AND_SWAP:
                put_blob(w, &c->key, 2);
                if (c->expected_present)
                        put_blob(w, &c->expected, 4);
                if (c->new_present)
                        put_blob(w, &c->value, 4);
                break;
        case KV_CMD_SESSION_REGISTER:
        case KV_CMD_LEASE_GRANT:
                put_u64(w, c->ttl_ms);
                break;
        case KV_CMD_SESSION_KEEPALIVE:
        case KV_CMD_SESSION_CLOSE:
                break;
        case KV_CMD_LOCK_ACQUIRE:
                put_blob(w, &c->key, 2);
                put_blob(w, &c->owner, 2);
                put_u64(w, c->lease);
                break;
        case KV_CMD_LEASE_KEEPALIVE:
        case KV_CMD_LEASE_REVOKE:
                put_u64(w, c->lease);
                break;
        default:
                break;
        }
}

int kv_command_encode(const struct kv_command *c, uint8_t **ret, size_t *ret_len) {
        struct writer w = {};
        uint8_t *buf;

        if (!c || !ret || !ret_len)
                return -EINVAL;
        if (!kv_command_type_to_string(c->type))
                return -EINVAL;
        if (type_needs_session(c->type) && c->session == 0)
                return -EINVAL;
        if (c->key.len > KV_COMMAND_KEY_MAX || c->owner.len > KV_COMMAND_KEY_MAX ||
            c->value.len > KV_COMMAND_VALUE_MAX || c->expected.len > KV_COMMAND_VALUE_MAX)
                return -EINVAL;

        encode_body(&w, c);
        buf = malloc(w.pos);
        if (!buf)
                return -ENOMEM;
        w = (struct writer) { .buf = buf };
        encode_body(&w, c);

        *ret = buf;
        *ret_len = w.pos;
        return 0;
}

/* A reader that fails closed: once short, every later read fails too. */
struct reader {
        const uint8_t *p;
        size_t left;
        bool bad;
};

static bool take(struct reader *r, size_t n, const uint8_t **ret) {
        if (r->bad || r->left < n) {
                r->bad = true;
                return false;
        }
        *ret = r->p;
        r->p += n;
        r->left -= n;
        return true;
}

static uint8_t get_u8(struct reader *r) {
        const uint8_t *p;

        return take(r, 1, &p) ? p[0] : 0;
}

static uint64_t get_u64(struct reader *r) {
        const uint8_t *p;

        return take(r, 8, &p) ? wire_get64(p) : 0;
}

static void get_blob(struct reader *r, struct kv_blob *b, unsigned width) {
        const uint8_t *p;
        size_t len;

        *b = (struct kv_blob) {};
        if (!take(r, width, &p))
                return;
        len = width == 2 ? wire_get16(p) : wire_get32(p);
        if (!take(r, len, &p))
                return;
        *b = (struct kv_blob) { .data = len > 0 ? p : NULL, .len = len };
}

static int decode_v1(struct reader *r, struct kv_command *c) {
        uint8_t type, flags, allowed = FLAG_SESSION;

        type = get_u8(r);
        flags = get_u8(r);
        c->time_ms = get_u64(r);
        if (r->bad)
                return -EBADMSG;
        if (!kv_command_type_to_string((enum kv_command_type) type))
                return -EBADMSG;
        c->type = (enum kv_command_type) type;
        if (c->type == KV_CMD_COMPARE_AND_SWAP)
                allowed |= FLAG_EXPECTED_PRESENT | FLAG_NEW_PRESENT;
        if (flags & ~allowed)
                return -EBADMSG;

        if (flags & FLAG_SESSION) {
                c->session = get_u64(r);
                c->seq = get_u64(r);
                c->lowest_unacked = get_u64(r);
                if (!r->bad && c->session == 0)
                        return -EBADMSG;
        } else if (type_needs_session(c->type))
                return -EBADMSG;

        switch (c->type) {
        case KV_CMD_PUT:
                get_blob(r, &c->key, 2);
                get_blob(r, &c->value, 4);
                c->lease = get_u64(r);
                break;
        case KV_CMD_DELETE:
        case KV_CMD_LOCK_RELEASE:
                get_blob(r, &c->key, 2);
                break;
        case KV_CMD_COMPARE_AND_SWAP:
                c->expected_present = flags & FLAG_EXPECTED_PRESENT;
                c->new_present = flags & FLAG_NEW_PRESENT;
                get_blob(r, &c->key, 2);
                if (c->expected_present)
                        get_blob(r, &c->expected, 4);
                if (c->new_present)
                        get_blob(r, &c->value, 4);
                break;
        case KV_CMD_SESSION_REGISTER:
        case KV_CMD_LEASE_GRANT:
                c->ttl_ms = get_u64(r);
                break;
        case KV_CMD_SESSION_KEEPALIVE:
        case KV_CMD_SESSION_CLOSE:
                break;
        case KV_CMD_LOCK_ACQUIRE:
                get_blob(r, &c->key, 2);
                get_blob(r, &c->owner, 2);
                c->lease = get_u64(r);
                break;
        case KV_CMD_LEASE_KEEPALIVE:
        case KV_CMD_LEASE_REVOKE:
                c->lease = get_u64(r);
                break;
        default:
                return -EBADMSG;
        }

        if (r->bad || r->left != 0)
                return -EBADMSG;
        return 0;
}

int kv_command_decode(const void *buf, size_t len, struct kv_command *c) {
        struct reader r = { .p = buf, .left = len };
        uint8_t version;
        int ret;

        if (!c || (!buf && len > 0))
                return -EINVAL;
        *c = (struct kv_command) {};

        version = get_u8(&r);
        if (r.bad || version == 0)
                ret = -EBADMSG;
        else if (version > KV_COMMAND_VERSION)
                ret = -EPROTONOSUPPORT;
        else
                ret = decode_v1(&r, c);
        if (ret < 0)
                *c = (struct kv_command) {};
        return ret;
}
