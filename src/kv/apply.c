/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applying committed entries: decoding, the apply clock, expiry, session
 * deduplication, and the key-value commands. */
#include <inttypes.h>
#include <string.h>

#include "kv/kv-internal.h"
#include "shared/macro.h"

static const struct {
        int error;
        const char *name;
} status_table[_KV_STATUS_MAX] = {
        [KV_STATUS_OK] = { 0, "ok" },
        [KV_STATUS_NO_SUCH_KEY] = { 0, "no-such-key" },
        [KV_STATUS_COMPARE_FAILED] = { 0, "compare-failed" },
        [KV_STATUS_LOCK_QUEUED] = { 0, "lock-queued" },
        [KV_STATUS_KEY_TOO_LONG] = { -ENAMETOOLONG, "key-too-long" },
        [KV_STATUS_VALUE_TOO_LARGE] = { -EFBIG, "value-too-large" },
        [KV_STATUS_OWNER_TOO_LONG] = { -ENAMETOOLONG, "owner-too-long" },
        [KV_STATUS_MALFORMED] = { -EBADMSG, "malformed-command" },
        [KV_STATUS_UNSUPPORTED_VERSION] = { -EPROTONOSUPPORT, "unsupported-version" },
        [KV_STATUS_NO_SUCH_SESSION] = { -ENOENT, "no-such-session" },
        [KV_STATUS_SEQUENCE_FORGOTTEN] = { -ESTALE, "sequence-forgotten" },
        [KV_STATUS_NO_SUCH_LEASE] = { -ENOENT, "no-such-lease" },
        [KV_STATUS_NOT_LOCK_HOLDER] = { -EPERM, "not-lock-holder" },
        [KV_STATUS_INVALID_TTL] = { -EINVAL, "invalid-ttl" },
};

const char *kv_status_to_string(enum kv_status s) {
        if ((int) s < 0 || s >= _KV_STATUS_MAX)
                return NULL;
        return status_table[s].name;
}

void kv_result_set(struct kv_result *r, enum kv_status s) {
        r->status = s;
        r->error = status_table[s].error;
}

void kv_emit(struct kv *kv, const struct kv_event *e) {
        if (kv->opts.on_event)
                kv->opts.on_event(kv->opts.userdata, e);
}

/* next_deadline 0 means "unknown, scan": it stays so until a scan. */
void kv_deadline_note(struct kv *kv, uint64_t deadline_ms) {
        if (kv->next_deadline != 0 && deadline_ms < kv->next_deadline)
                kv->next_deadline = deadline_ms;
}

/* Expires, in id order, every session and lease whose deadline the apply
 * clock has reached.  Driven only by stamped time, so every node expires
 * the same things at the same index. */
static int expire(struct kv *kv, raft_index index) {
        uint64_t next = UINT64_MAX;
        int r;

        if (kv->next_deadline != 0 && kv->clock < kv->next_deadline)
                return 0;

        /* Waits first, so no lock is handed to a waiter that is expiring in
         * this same entry. */
        for (size_t i = 0; i < kv->n_sessions; i++)
                if (kv->sessions[i]->deadline_ms <= kv->clock &&
                    (r = kv_locks_drop(kv, index, kv->sessions[i]->id, 0, true)) < 0)
                        return r;
        for (size_t i = 0; i < kv->n_leases; i++)
                if (kv->leases[i]->deadline_ms <= kv->clock &&
                    (r = kv_locks_drop(kv, index, 0, kv->leases[i]->id, true)) < 0)
                        return r;

        for (size_t i = 0; i < kv->n_sessions;) {
                if (kv->sessions[i]->deadline_ms <= kv->clock) {
                        r = kv_session_remove(kv, index, kv->sessions[i]->id, true);
                        if (r < 0)
                                return r;
                } else
                        i++;
        }
        for (size_t i = 0; i < kv->n_leases;) {
                if (kv->leases[i]->deadline_ms <= kv->clock) {
                        r = kv_lease_remove(kv, index, kv->leases[i]->id, true);
                        if (r < 0)
                                return r;
                } else
                        i++;
        }

        for (size_t i = 0; i < kv->n_sessions; i++)
                next = MIN(next, kv->sessions[i]->deadline_ms);
        for (size_t i = 0; i < kv->n_leases; i++)
                next = MIN(next, kv->leases[i]->deadline_ms);
        kv->next_deadline = next;
        return 0;
}

/* Reads a key's record; *found false when absent.  ret->dptr is owned by
 * the caller. */
static int data_fetch(struct kv *kv, const struct kv_blob *key, TDB_DATA *ret, struct kv_data_header *h) {
        struct kv_tkey k;
        int r;

        r = kv_tkey_make(&k, KV_TAG_DATA, key->data, key->len);
        if (r < 0)
                return r;
        *ret = tdb_fetch(kv->tdb, k.d);
        kv_tkey_done(&k);
        if (!ret->dptr)
                return tdb_error(kv->tdb) == TDB_ERR_NOEXIST ? 0 : -EIO;
        if (kv_data_header_decode(ret->dptr, ret->dsize, h) < 0) {
                *ret = (TDB_DATA) { .dptr = mfree(ret->dptr) };
                return log_sink_errno(&kv->opts.log, LOG_ERR, EUCLEAN,
                                      _("State file %s holds a damaged record, rebuild it from the last snapshot and the log."),
                                      kv->path ?: "(memory)");
        }
        return 1;
}

static int data_write(struct kv *kv, raft_index index, const struct kv_blob *key, const struct kv_blob *value,
                      uint64_t lease) {
        struct kv_data_header old = {}, h;
        uint8_t header[KV_DATA_HEADER_SIZE];
        TDB_DATA cur, parts[2];
        struct kv_tkey k;
        int r, found;

        found = data_fetch(kv, key, &cur, &old);
        if (found < 0)
                return found;
        free(cur.dptr);

        h = (struct kv_data_header) {
                .create_revision = found ? old.create_revision : index,
                .mod_revision = index,
                .lease = lease,
        };
        kv_data_header_encode(&h, header);
        parts[0] = (TDB_DATA) { .dptr = header, .dsize = sizeof(header) };
        parts[1] = (TDB_DATA) { .dptr = (uint8_t *) value->data, .dsize = value->len };

        r = kv_tkey_make(&k, KV_TAG_DATA, key->data, key->len);
        if (r < 0)
                return r;
        r = found ? kv_store_put(kv, k.d, parts, 2) : kv_store_put_new(kv, k.d, parts, 2);
        kv_tkey_done(&k);
        if (r < 0)
                return r;

        if (found && old.lease != 0 && old.lease != lease) {
                r = kv_lease_unbind(kv, old.lease, key->data, key->len);
                if (r < 0)
                        return r;
        }
        if (lease != 0 && (!found || old.lease != lease)) {
                r = kv_lease_bind(kv, lease, key->data, key->len);
                if (r < 0)
                        return r;
        }

        kv_emit(kv, &(struct kv_event) {
                .type = KV_EVENT_PUT,
                .key = key->data,
                .key_len = key->len,
                .revision = index,
                .value = value->data,
                .value_len = value->len,
                .lease = lease,
        });
        return 0;
}

int kv_data_delete(struct kv *kv, raft_index index, const uint8_t *key, size_t key_len, bool *found) {
        struct kv_blob b = { .data = key, .len = key_len };
        struct kv_data_header old;
        struct kv_tkey k;
        TDB_DATA cur;
        int r;

        r = data_fetch(kv, &b, &cur, &old);
        if (r < 0)
                return r;
        free(cur.dptr);
        *found = r > 0;
        if (!*found)
                return 0;

        r = kv_tkey_make(&k, KV_TAG_DATA, key, key_len);
        if (r < 0)
                return r;
        r = kv_store_delete(kv, k.d);
        kv_tkey_done(&k);
        if (r < 0)
                return r;
        if (old.lease != 0) {
                r = kv_lease_unbind(kv, old.lease, key, key_len);
                if (r < 0)
                        return r;
        }
        kv_emit(kv, &(struct kv_event) {
                .type = KV_EVENT_DELETE,
                .key = key,
                .key_len = key_len,
                .revision = index,
                .lease = old.lease,
        });
        return 0;
}

static int apply_put(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        int r;

        if (c->lease != 0 && !kv_lease_find(kv, c->lease)) {
                kv_result_set(res, KV_STATUS_NO_SUCH_LEASE);
                return 0;
        }
        r = data_write(kv, index, &c->key, &c->value, c->lease);
        if (r < 0)
                return r;
        res->revision = index;
        return 0;
}

static int apply_delete(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        bool found;
        int r;

        r = kv_data_delete(kv, index, c->key.data, c->key.len, &found);
        if (r < 0)
                return r;
        if (found)
                res->revision = index;
        else
                kv_result_set(res, KV_STATUS_NO_SUCH_KEY);
        return 0;
}

/* The seed semantics: expected absent = the key must not exist; new
 * absent = delete.  Applied entries are serialised, so of several CAS with
 * the same expectation exactly the first one matches. */
static int apply_cas(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        struct kv_data_header h;
        TDB_DATA cur;
        bool match;
        int found, r;

        found = data_fetch(kv, &c->key, &cur, &h);
        if (found < 0)
                return found;
        if (!c->expected_present)
                match = !found;
        else
                match = found && cur.dsize - KV_DATA_HEADER_SIZE == c->expected.len &&
                        (c->expected.len == 0 ||
                         memcmp(cur.dptr + KV_DATA_HEADER_SIZE, c->expected.data, c->expected.len) == 0);
        free(cur.dptr);
        if (!match) {
                kv_result_set(res, KV_STATUS_COMPARE_FAILED);
                return 0;
        }

        if (c->new_present)
                r = data_write(kv, index, &c->key, &c->value, 0);
        else {
                bool deleted;
                r = kv_data_delete(kv, index, c->key.data, c->key.len, &deleted);
        }
        if (r < 0)
                return r;
        res->revision = index;
        return 0;
}

/* Limits are checked before anything changes, so a refusal is a no-op. */
static bool check_limits(struct kv *kv, const struct kv_command *c, struct kv_result *res) {
        switch (c->type) {
        case KV_CMD_PUT:
        case KV_CMD_DELETE:
        case KV_CMD_COMPARE_AND_SWAP:
        case KV_CMD_LOCK_ACQUIRE:
        case KV_CMD_LOCK_RELEASE:
                if (c->key.len > kv->opts.max_key_len) {
                        kv_result_set(res, KV_STATUS_KEY_TOO_LONG);
                        return false;
                }
                break;
        default:
                break;
        }
        if (c->value.len > kv->opts.max_value_size || c->expected.len > kv->opts.max_value_size) {
                kv_result_set(res, KV_STATUS_VALUE_TOO_LARGE);
                return false;
        }
        if (c->owner.len > kv->opts.max_key_len) {
                kv_result_set(res, KV_STATUS_OWNER_TOO_LONG);
                return false;
        }
        return true;
}

static int dispatch(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        if (!check_limits(kv, c, res))
                return 0;

        switch (c->type) {
        case KV_CMD_PUT:
                return apply_put(kv, index, c, res);
        case KV_CMD_DELETE:
                return apply_delete(kv, index, c, res);
        case KV_CMD_COMPARE_AND_SWAP:
                return apply_cas(kv, index, c, res);
        case KV_CMD_SESSION_REGISTER:
                return kv_session_register(kv, index, c->ttl_ms, res);
        case KV_CMD_SESSION_KEEPALIVE:
                return 0; /* every session request keeps its session alive */
        case KV_CMD_SESSION_CLOSE:
                return kv_session_remove(kv, index, c->session, false);
        case KV_CMD_LOCK_ACQUIRE:
                return kv_lock_acquire(kv, index, c, res);
        case KV_CMD_LOCK_RELEASE:
                return kv_lock_release(kv, index, c, res);
        case KV_CMD_LEASE_GRANT:
                return kv_lease_grant(kv, index, c->ttl_ms, res);
        case KV_CMD_LEASE_KEEPALIVE:
                return kv_lease_keepalive(kv, c->lease, res);
        case KV_CMD_LEASE_REVOKE:
                if (!kv_lease_find(kv, c->lease)) {
                        kv_result_set(res, KV_STATUS_NO_SUCH_LEASE);
                        return 0;
                }
                return kv_lease_remove(kv, index, c->lease, false);
        default:
                kv_result_set(res, KV_STATUS_MALFORMED);
                return 0;
        }
}

/* Exactly-once for session requests: a seq seen before returns its cached
 * response; a seq below the window can no longer be answered. */
static int apply_in_session(struct kv *kv, raft_index index, const struct kv_command *c, struct kv_result *res) {
        struct kv_session *s = kv_session_find(kv, c->session);
        const struct kv_result *cached;
        int r;

        if (!s) {
                kv_result_set(res, KV_STATUS_NO_SUCH_SESSION);
                return 0;
        }
        s->deadline_ms = deadline_after(kv->clock, s->ttl_ms);
        kv_deadline_note(kv, s->deadline_ms);
        kv_session_acknowledge(kv, s, c->lowest_unacked);

        if (c->seq < s->floor) {
                kv_result_set(res, KV_STATUS_SEQUENCE_FORGOTTEN);
                return kv_session_save(kv, s);
        }
        cached = kv_session_cached(s, c->seq);
        if (cached) {
                *res = *cached;
                res->replayed = true;
                return kv_session_save(kv, s);
        }

        r = dispatch(kv, index, c, res);
        if (r < 0)
                return r;
        s = kv_session_find(kv, c->session); /* closing removed it */
        if (!s)
                return 0;
        return kv_session_remember(kv, s, c->seq, res);
}

static int apply_entry(struct kv *kv, raft_index index, const void *cmd, size_t len, struct kv_result *res) {
        struct kv_command c;
        int r;

        r = kv_command_decode(cmd, len, &c);
        if (r == -EBADMSG) {
                /* Every node decodes the same bytes the same way: applying a
                 * malformed entry as a refused no-op keeps them in step. */
                log_sink(&kv->opts.log, LOG_WARNING, _("Entry %" PRIu64 " holds a malformed command, skipping it."),
                         index);
                kv_result_set(res, KV_STATUS_MALFORMED);
                return 0;
        }
        if (r < 0)
                return r;

        kv->clock = MAX(kv->clock, c.time_ms);
        r = expire(kv, index);
        if (r < 0)
                return r;

        if (c.session != 0 && c.type != KV_CMD_SESSION_REGISTER)
                return apply_in_session(kv, index, &c, res);
        return dispatch(kv, index, &c, res);
}

int kv_apply(struct kv *kv, raft_index index, const void *cmd, size_t len, struct kv_result *result) {
        struct kv_result local;
        bool own_batch;
        int r;

        if (!kv || (!cmd && len > 0))
                return -EINVAL;
        if (!result)
                result = &local;
        *result = (struct kv_result) {};
        if (kv->broken)
                return -EIO;
        if (index <= kv->applied)
                return -ESTALE;

        /* A log entry this node cannot read must stop it, not be skipped:
         * skipping would let its state diverge from the newer nodes. */
        if (len > 0 && ((const uint8_t *) cmd)[0] > KV_COMMAND_VERSION) {
                kv_result_set(result, KV_STATUS_UNSUPPORTED_VERSION);
                return log_sink_errno(&kv->opts.log, LOG_ERR, EPROTONOSUPPORT,
                                      _("Entry %" PRIu64 " was written by a newer version (command format %u), upgrade this node."),
                                      index, ((const uint8_t *) cmd)[0]);
        }

        own_batch = !kv->in_batch;
        if (own_batch) {
                r = kv_batch_begin(kv);
                if (r < 0)
                        return r;
        }
        r = apply_entry(kv, index, cmd, len, result);
        if (r < 0) {
                kv->broken = true;
                if (own_batch)
                        (void) kv_batch_commit(kv);
                return log_sink_errno(&kv->opts.log, LOG_ERR, r, _("Failed to apply entry %" PRIu64 ": %m"), index);
        }
        kv->applied = index;
        if (own_batch)
                return kv_batch_commit(kv);
        return 0;
}

int kv_skip(struct kv *kv, raft_index index) {
        if (!kv)
                return -EINVAL;
        if (kv->broken)
                return -EIO;
        if (index <= kv->applied)
                return -ESTALE;
        kv->applied = index;
        if (!kv->in_batch) {
                int r = kv_batch_begin(kv);
                if (r < 0)
                        return r;
                return kv_batch_commit(kv);
        }
        return 0;
}
