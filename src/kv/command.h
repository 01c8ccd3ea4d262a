/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The commands the replicated state machine applies, and their log encoding.
 *
 * Every command starts with a version byte, so a newer node can still read
 * the log an older node wrote: the decoder keeps a branch for every version
 * it ever produced.  The layout of version 1 is in docs/state-machine.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_COMMAND_VERSION 1

enum kv_command_type {
        KV_CMD_PUT = 1, /* with lease != 0: the key is bound to that lease */
        KV_CMD_DELETE,
        KV_CMD_COMPARE_AND_SWAP,
        KV_CMD_SESSION_REGISTER,
        KV_CMD_SESSION_KEEPALIVE,
        KV_CMD_SESSION_CLOSE,
        KV_CMD_LOCK_ACQUIRE,
        KV_CMD_LOCK_RELEASE,
        KV_CMD_LEASE_GRANT,
        KV_CMD_LEASE_KEEPALIVE,
        KV_CMD_LEASE_REVOKE,
        _KV_CMD_MAX,
};

/* A view into a caller's buffer; decoding copies nothing. */
struct kv_blob {
        const uint8_t *data;
        size_t len;
};

struct kv_command {
        enum kv_command_type type;
        uint64_t time_ms; /* stamped by the leader when it proposed the entry */

        /* Session-bound requests (session != 0) are applied at most once per
         * (session, seq); responses below lowest_unacked may be forgotten. */
        uint64_t session;
        uint64_t seq;
        uint64_t lowest_unacked;

        struct kv_blob key;      /* key, or lock name */
        struct kv_blob value;    /* Put value; CAS new value */
        struct kv_blob expected; /* CAS expected value */
        bool expected_present;   /* CAS: false = the key must not exist */
        bool new_present;        /* CAS: false = delete the key */
        struct kv_blob owner;    /* lock holder identity, "node/busname/uid/pid/comm" */
        uint64_t lease;          /* Put / lock acquire binding; lease keep-alive / revoke target */
        uint64_t ttl_ms;         /* session register, lease grant */
};

/* Keys and lock names are at most 65535 bytes on the wire, values at most
 * 4 GiB - 1; the configured limits are far lower and enforced on apply. */
#define KV_COMMAND_KEY_MAX UINT16_MAX
#define KV_COMMAND_VALUE_MAX UINT32_MAX

/* Encodes into a newly allocated buffer.  -EINVAL for a command that has no
 * encoding (unknown type, oversized field, missing session). */
int kv_command_encode(const struct kv_command *c, uint8_t **ret, size_t *ret_len);

/* Decodes a command; the blobs in *c point into buf.  Returns -EBADMSG for
 * malformed input (short, trailing bytes, unknown type or flags) and
 * -EPROTONOSUPPORT for a version newer than this node understands.  Never
 * reads outside [buf, buf + len). */
int kv_command_decode(const void *buf, size_t len, struct kv_command *c);

/* Rewrite the leader's time, or the session fields, of an encoded command
 * in place: the same bytes as decode, change and encode again, without the
 * copy (they sit at fixed offsets).  -EBADMSG if buf is not a command of
 * this version or, for the session, not a session-bound one; -EINVAL for
 * session 0. */
int kv_command_set_time(void *buf, size_t len, uint64_t time_ms);
int kv_command_set_session(void *buf, size_t len, uint64_t session, uint64_t seq, uint64_t lowest_unacked);

const char *kv_command_type_to_string(enum kv_command_type t);
