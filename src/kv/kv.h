/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The replicated state machine: keys with revisions, client sessions for
 * exactly-once, locks with fence tokens, and leases, kept in one TDB file.
 *
 * Apply is deterministic: the same committed entries give the same state on
 * every node.  Time enters only through the leader-stamped time carried in
 * each command; nothing here reads a clock while applying.
 *
 * Durability (see docs/state-machine.md): the TDB file is written without
 * sync and is rebuildable from the last snapshot plus the Raft log.  Apply
 * batches are TDB transactions, so a killed process leaves the file at the
 * end of its last committed batch; kv_open() refuses with -EUCLEAN a file
 * that cannot be trusted (damaged, or left dirty by a previous boot), and the
 * node then rebuilds it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/command.h"
#include "raft/raft.h"
#include "shared/log.h"

struct kv;

/* What a command did, in words a client can act on.  Each refusal names the
 * rule or limit that refused it. */
enum kv_status {
        KV_STATUS_OK,
        KV_STATUS_NO_SUCH_KEY,          /* Delete of an absent key: nothing to do */
        KV_STATUS_COMPARE_FAILED,       /* CAS: the expectation did not hold */
        KV_STATUS_LOCK_QUEUED,          /* Acquire: held by another session, now waiting */
        KV_STATUS_KEY_TOO_LONG,         /* -ENAMETOOLONG: key or lock name over max_key_len */
        KV_STATUS_VALUE_TOO_LARGE,      /* -EFBIG: value over max_value_size */
        KV_STATUS_OWNER_TOO_LONG,       /* -ENAMETOOLONG: lock owner over max_key_len */
        KV_STATUS_MALFORMED,            /* -EBADMSG: the entry does not decode */
        KV_STATUS_UNSUPPORTED_VERSION,  /* -EPROTONOSUPPORT: written by a newer node */
        KV_STATUS_NO_SUCH_SESSION,      /* -ENOENT: unknown, closed or expired session */
        KV_STATUS_SEQUENCE_FORGOTTEN,   /* -ESTALE: seq below the cached window; fate unknown */
        KV_STATUS_NO_SUCH_LEASE,        /* -ENOENT: unknown, revoked or expired lease */
        KV_STATUS_NOT_LOCK_HOLDER,      /* -EPERM: release by a session neither holding nor waiting */
        KV_STATUS_INVALID_TTL,          /* -EINVAL: ttl 0 */
        _KV_STATUS_MAX,
};

const char *kv_status_to_string(enum kv_status s);

struct kv_result {
        int error;           /* 0, or a negative errno matching status */
        enum kv_status status;
        raft_index revision; /* the index that wrote; 0 when nothing was written */
        uint64_t id;         /* session or lease id created (its index) */
        uint64_t fence;      /* lock grant: strictly increasing per lock */
        bool replayed;       /* a cached response to a request applied before */
};

enum kv_event_type {
        KV_EVENT_PUT,
        KV_EVENT_DELETE,
        KV_EVENT_LOCK_GRANTED,  /* key = lock name; session, fence set */
        KV_EVENT_LOCK_RELEASED, /* key = lock name; session = previous holder */
        KV_EVENT_SESSION_EXPIRED,
        KV_EVENT_LEASE_EXPIRED,
};

/* Raised during apply, after the change is made and before kv_apply()
 * returns.  Pointers are valid only during the callback. */
struct kv_event {
        enum kv_event_type type;
        const uint8_t *key;
        size_t key_len;
        raft_index revision;
        const uint8_t *value; /* PUT: the new value */
        size_t value_len;
        uint64_t session;
        uint64_t lease;
        uint64_t fence;
};

struct kv_options {
        size_t max_key_len;          /* default 4096 */
        size_t max_value_size;       /* default 1 MiB */
        size_t max_cached_responses; /* per session, default 128 */
        /* The boot this process runs in (/proc/sys/kernel/random/boot_id
         * when NULL).  A dirty file from another boot may have lost page
         * cache writes and is not trusted. */
        const char *boot_id;
        /* Run tdb_check() on every open, not only after an unclean
         * shutdown (costs a pass over the file). */
        bool check_on_open;
        void (*on_event)(void *userdata, const struct kv_event *e);
        void *userdata;
        struct log_sink log;
};

/* path NULL: a scratch store in an unlinked file under $TMPDIR or /tmp
 * (tests, replay).  Returns -EUCLEAN when the file exists but must be
 * rebuilt (damaged, or unclean from another boot), after logging why. */
int kv_open(const char *path, const struct kv_options *opts, struct kv **ret);
/* Syncs the file and marks it clean.  Accepts NULL, returns NULL. */
struct kv *kv_close(struct kv *kv);
/* Closes without syncing or marking clean, as a crash would (tests). */
struct kv *kv_abandon(struct kv *kv);

raft_index kv_applied_index(const struct kv *kv);
uint64_t kv_apply_clock(const struct kv *kv);

/* Group several applies into one TDB transaction.  kv_apply() outside a
 * batch runs in a transaction of its own. */
int kv_batch_begin(struct kv *kv);
int kv_batch_commit(struct kv *kv);

/* Applies the committed entry at index (> kv_applied_index()).  Returns 0
 * when the entry was applied, whatever the command's outcome (in *result),
 * so every node advances alike; a negative errno only when the store
 * failed, after which the handle refuses everything and must be reopened.
 * -ESTALE if index is not past the applied index; -EPROTONOSUPPORT, without
 * advancing, for an entry written by a newer command format (the node must
 * stop rather than skip it). */
int kv_apply(struct kv *kv, raft_index index, const void *cmd, size_t len, struct kv_result *result);
/* An entry without a command (no-op, configuration): only advances the
 * applied index. */
int kv_skip(struct kv *kv, raft_index index);

struct kv_value {
        uint8_t *data; /* owned by the caller; NUL-terminated for convenience */
        size_t len;
        raft_index create_revision;
        raft_index mod_revision;
        uint64_t lease;
};

int kv_get(struct kv *kv, const void *key, size_t key_len, struct kv_value *ret);
void kv_value_done(struct kv_value *v);

struct kv_entry {
        uint8_t *key;
        size_t key_len;
        struct kv_value value;
};

/* One page of keys with the prefix, in byte order, strictly after `after`
 * (NULL for the first page).  At most limit entries; *more tells whether
 * another page follows (continue with the last key returned). */
int kv_list(struct kv *kv, const void *prefix, size_t prefix_len, const void *after, size_t after_len,
            size_t limit, struct kv_entry **ret, size_t *ret_n, bool *more);
/* Accepts NULL, returns NULL. */
struct kv_entry *kv_entries_free(struct kv_entry *e, size_t n);

struct kv_lock_holder {
        uint64_t session;
        uint64_t lease;
        uint64_t since_ms; /* apply clock at grant (holder) or request (waiter) */
        uint64_t fence;    /* holder only */
        const uint8_t *owner;
        size_t owner_len;
};

struct kv_lock_info {
        const uint8_t *name;
        size_t name_len;
        bool held;
        struct kv_lock_holder holder;
        const struct kv_lock_holder *waiters; /* first-come first-served order */
        size_t n_waiters;
};

/* Calls fn for every lock that is held or waited for.  Stops and returns
 * fn's value when it is non-zero. */
int kv_lock_foreach(struct kv *kv, int (*fn)(void *userdata, const struct kv_lock_info *l), void *userdata);

/* Whether a session or lease is alive at the current apply clock. */
bool kv_session_exists(struct kv *kv, uint64_t session);
bool kv_lease_exists(struct kv *kv, uint64_t lease);

/* A digest of the whole logical state (data, sessions, locks, leases, fences,
 * applied index, apply clock), independent of TDB's layout: two stores
 * with equal digests hold equal states. */
#define KV_DIGEST_SIZE 16
int kv_digest(struct kv *kv, uint8_t ret[static KV_DIGEST_SIZE]);

/* Snapshots.  Write a consistent image to fd (outside a batch); load one
 * into kv, replacing its whole state.  A snapshot of a future version is
 * refused with -EPROTONOSUPPORT, a damaged one with -EBADMSG; either way
 * the state is unchanged. */
#define KV_SNAPSHOT_VERSION 1
int kv_snapshot_write(struct kv *kv, int fd);
int kv_snapshot_load(struct kv *kv, int fd);
