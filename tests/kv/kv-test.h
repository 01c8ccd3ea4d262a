/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the kv tests: building and applying commands, seeds. */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kv/kv.h"
#include "shared/macro.h"
#include "../test-seed.h"

#define BLOB(s) ((struct kv_blob) { .data = (const uint8_t *) (s), .len = strlen(s) })

static inline int apply_command(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *r) {
        uint8_t *buf;
        size_t len;
        int ret;

        assert_int_equal(kv_command_encode(c, &buf, &len), 0);
        ret = kv_apply(kv, index, buf, len, r);
        free(buf);
        return ret;
}

/* Applies and insists the store accepted the entry. */
static inline struct kv_result apply_ok(struct kv *kv, raft_index index, const struct kv_command *c) {
        struct kv_result r;

        assert_int_equal(apply_command(kv, index, c, &r), 0);
        return r;
}

static inline struct kv *open_memory(const struct kv_options *o) {
        struct kv *kv = NULL;

        assert_int_equal(kv_open(NULL, o, &kv), 0);
        return kv;
}

static inline void assert_value(struct kv *kv, const char *key, const char *want) {
        struct kv_value v;

        if (!want) {
                assert_int_equal(kv_get(kv, key, strlen(key), &v), -ENOENT);
                return;
        }
        assert_int_equal(kv_get(kv, key, strlen(key), &v), 0);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data, want, v.len);
        kv_value_done(&v);
}

static inline void assert_same_digest(struct kv *a, struct kv *b) {
        uint8_t da[KV_DIGEST_SIZE], db[KV_DIGEST_SIZE];

        assert_int_equal(kv_digest(a, da), 0);
        assert_int_equal(kv_digest(b, db), 0);
        assert_memory_equal(da, db, KV_DIGEST_SIZE);
}

/* splitmix64: small, seedable, the same everywhere. */
static inline uint64_t rnd_next(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static inline uint64_t env_u64(const char *name, uint64_t dflt) {
        const char *s = getenv(name);

        return s ? strtoull(s, NULL, 0) : dflt;
}

static inline uint64_t register_session(struct kv *kv, raft_index index, uint64_t now, uint64_t ttl) {
        struct kv_command c = { .type = KV_CMD_SESSION_REGISTER, .time_ms = now, .ttl_ms = ttl };
        struct kv_result r = apply_ok(kv, index, &c);

        assert_int_equal(r.status, KV_STATUS_OK);
        assert_int_equal(r.id, index);
        return r.id;
}

static inline uint64_t grant_lease(struct kv *kv, raft_index index, uint64_t now, uint64_t ttl) {
        struct kv_command c = { .type = KV_CMD_LEASE_GRANT, .time_ms = now, .ttl_ms = ttl };
        struct kv_result r = apply_ok(kv, index, &c);

        assert_int_equal(r.status, KV_STATUS_OK);
        assert_int_equal(r.id, index);
        return r.id;
}

/* Session requests with a per-test sequence counter. */
static inline struct kv_command lock_command(enum kv_command_type t, uint64_t session, uint64_t *seq, uint64_t now,
                                             const char *name, const char *owner, uint64_t lease) {
        (*seq)++;
        return (struct kv_command) {
                .type = t,
                .time_ms = now,
                .session = session,
                .seq = *seq,
                .lowest_unacked = *seq,
                .key = BLOB(name),
                .owner = owner ? BLOB(owner) : (struct kv_blob) {},
                .lease = lease,
        };
}
