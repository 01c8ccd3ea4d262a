/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the files of src/kv/; not part of the API. */

#include <sys/types.h>
#include <tdb.h>

#include <stdlib.h>

#include "kv/kv.h"

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* A TTL from the log must not wrap a deadline into the past. */
static inline uint64_t deadline_after(uint64_t clock_ms, uint64_t ttl_ms) {
        return ttl_ms > UINT64_MAX - clock_ms ? UINT64_MAX : clock_ms + ttl_ms;
}

/* The response a session request produced, kept until the client
 * acknowledges it (§6.3 of the Raft dissertation). */
struct kv_cached_response {
        uint64_t seq;
        struct kv_result result;
};

struct kv_session {
        uint64_t id; /* the index that registered it */
        uint64_t ttl_ms;
        uint64_t deadline_ms; /* expires once the apply clock reaches this */
        uint64_t floor;       /* seqs below were acknowledged or forgotten */
        /* Sorted by seq: the live ones are cached[first .. first + n_cached),
         * so acknowledging drops from the front without moving the rest. */
        struct kv_cached_response *cached;
        size_t first, n_cached, cap;
        bool dirty; /* changed in this batch: stored once, at its commit */
};

struct kv_lock {
        uint8_t *name;
        size_t name_len;
        uint64_t last_fence;
        bool held;
        struct kv_lock_holder holder; /* owner strings are owned by the lock */
        struct kv_lock_holder *waiters;
        size_t n_waiters;
};

struct kv_lease {
        uint64_t id; /* the index that granted it */
        uint64_t ttl_ms;
        uint64_t deadline_ms;
        struct kv_blob *keys; /* bound keys; data owned by the lease */
        size_t n_keys;
};

struct kv {
        struct tdb_context *tdb;
        char *path;
        struct kv_options opts;
        char boot_id[64];

        raft_index applied;
        uint64_t clock; /* the largest leader-stamped time applied */
        bool in_batch;
        bool broken; /* a store write failed: the handle must be reopened */

        /* Sessions, locks and leases are few and consulted on every apply
         * (expiry), so they live in memory and are written through to TDB.
         * Sessions and leases are sorted by id, which is their index. */
        struct kv_session **sessions;
        size_t n_sessions;
        struct kv_lock **locks;
        size_t n_locks;
        struct kv_lease **leases;
        size_t n_leases;
        uint64_t next_deadline; /* no session or lease expires before this */
};

/* TDB keys: one tag byte, then the name. */
enum {
        KV_TAG_DATA = 'k',    /* 'k' + key */
        KV_TAG_SESSION = 's', /* 's' + u64 id (big-endian, so ids sort) */
        KV_TAG_LOCK = 'l',    /* 'l' + lock name */
        KV_TAG_LEASE = 'e',   /* 'e' + u64 id (big-endian) */
        KV_TAG_META = 'm',    /* "m": applied index, apply clock */
        KV_TAG_MARKER = 'M',  /* "M": clean/dirty + boot id; local, never in snapshots */
};

#define KV_RECORD_VERSION 1

/* A TDB key assembled from a tag and a name. */
struct kv_tkey {
        uint8_t small[128];
        uint8_t *heap;
        TDB_DATA d;
};
int kv_tkey_make(struct kv_tkey *k, uint8_t tag, const void *name, size_t len);
void kv_tkey_id(struct kv_tkey *k, uint8_t tag, uint64_t id);
void kv_tkey_done(struct kv_tkey *k);

/* A growable byte buffer for encoding records. */
struct kv_buf {
        uint8_t *data;
        size_t len, cap;
        bool oom;
};
void kv_buf_u8(struct kv_buf *b, uint8_t v);
void kv_buf_u32(struct kv_buf *b, uint32_t v);
void kv_buf_u64(struct kv_buf *b, uint64_t v);
void kv_buf_bytes(struct kv_buf *b, const void *p, size_t n);
void kv_buf_blob16(struct kv_buf *b, const void *p, size_t n);
void kv_buf_done(struct kv_buf *b);

/* Bounds-checked reading of a record. */
struct kv_rd {
        const uint8_t *p;
        size_t left;
        bool bad;
};
uint8_t kv_rd_u8(struct kv_rd *r);
uint32_t kv_rd_u32(struct kv_rd *r);
uint64_t kv_rd_u64(struct kv_rd *r);
const uint8_t *kv_rd_bytes(struct kv_rd *r, size_t n);
const uint8_t *kv_rd_blob16(struct kv_rd *r, size_t *len);

/* Data records: header then the value bytes. */
#define KV_DATA_HEADER_SIZE (1 + 3 * 8)
struct kv_data_header {
        raft_index create_revision, mod_revision;
        uint64_t lease;
};
void kv_data_header_encode(const struct kv_data_header *h, uint8_t out[static KV_DATA_HEADER_SIZE]);
int kv_data_header_decode(const uint8_t *p, size_t len, struct kv_data_header *h);

int kv_session_encode(const struct kv_session *s, struct kv_buf *b);
int kv_session_decode(const uint8_t *p, size_t len, struct kv_session **ret);
struct kv_session *kv_session_free(struct kv_session *s);

int kv_lock_encode(const struct kv_lock *l, struct kv_buf *b);
int kv_lock_decode(const uint8_t *name, size_t name_len, const uint8_t *p, size_t len, struct kv_lock **ret);
struct kv_lock *kv_lock_free(struct kv_lock *l);

int kv_lease_encode(const struct kv_lease *l, struct kv_buf *b);
int kv_lease_decode(const uint8_t *p, size_t len, struct kv_lease **ret);
struct kv_lease *kv_lease_free(struct kv_lease *l);

/* Validates any record by its tag, for tdb_check and snapshot loading. */
int kv_record_validate(TDB_DATA key, TDB_DATA data);

/* store.c: the file and its transactions */
int kv_errno_from_tdb(struct kv *kv);
int kv_store_put(struct kv *kv, TDB_DATA key, const TDB_DATA *parts, int n_parts);
/* The same for a key the caller just found absent (cheaper). */
int kv_store_put_new(struct kv *kv, TDB_DATA key, const TDB_DATA *parts, int n_parts);
int kv_store_delete(struct kv *kv, TDB_DATA key);
int kv_store_meta(struct kv *kv);

/* digest.c: kv_digest() in parts, for a walk that does something else too
 * (the snapshot writer hashes while it copies).  sodium_init() first. */
struct kv_digest_sum {
        uint64_t sum[2];
        uint64_t count;
};
void kv_digest_add(struct kv_digest_sum *sum, TDB_DATA key, TDB_DATA data);
void kv_digest_finish(const struct kv *kv, const struct kv_digest_sum *sum, uint8_t ret[static KV_DIGEST_SIZE]);

/* tables.c */
int kv_tables_load(struct kv *kv);
void kv_tables_clear(struct kv *kv);

/* session.c */
struct kv_session *kv_session_find(struct kv *kv, uint64_t id);
int kv_session_save(struct kv *kv, struct kv_session *s);
/* Store the sessions a batch changed (called before it commits). */
int kv_sessions_flush(struct kv *kv);
int kv_session_register(struct kv *kv, raft_index index, uint64_t ttl_ms, struct kv_result *r);
int kv_session_remove(struct kv *kv, raft_index index, uint64_t id, bool expired);
const struct kv_result *kv_session_cached(const struct kv_session *s, uint64_t seq);
int kv_session_remember(struct kv *kv, struct kv_session *s, uint64_t seq, const struct kv_result *r);
void kv_session_acknowledge(struct kv *kv, struct kv_session *s, uint64_t lowest_unacked);

/* lock.c */
int kv_lock_acquire(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *r);
int kv_lock_release(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *r);
/* Drops every wait, and unless waits_only every hold, of a session
 * (session != 0) or bound to a lease (lease != 0). */
int kv_locks_drop(struct kv *kv, raft_index index, uint64_t session, uint64_t lease, bool waits_only);

/* lease.c */
struct kv_lease *kv_lease_find(struct kv *kv, uint64_t id);
int kv_lease_save(struct kv *kv, const struct kv_lease *l);
int kv_lease_grant(struct kv *kv, raft_index index, uint64_t ttl_ms, struct kv_result *r);
int kv_lease_keepalive(struct kv *kv, uint64_t id, struct kv_result *r);
int kv_lease_remove(struct kv *kv, raft_index index, uint64_t id, bool expired);
int kv_lease_bind(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len);
int kv_lease_unbind(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len);

/* apply.c */
void kv_emit(struct kv *kv, const struct kv_event *e);
void kv_deadline_note(struct kv *kv, uint64_t deadline_ms);
void kv_result_set(struct kv_result *r, enum kv_status s);
int kv_data_delete(struct kv *kv, raft_index index, const uint8_t *key, size_t key_len, bool *found);
