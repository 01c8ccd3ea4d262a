/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots of the state machine: every record but the local marker, the
 * applied index and apply clock, and a digest that proves the load. */
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "kv/kv-internal.h"
#include "raft/wire.h"
#include "shared/macro.h"

/* Layout, version 1 (little-endian):
 *   "RAFTDKV\n", u32 version, u64 applied index, u64 apply clock,
 *   records: u8 1, u32 key length, u32 data length, key, data  (TDB records)
 *   trailer: u8 0, u64 record count, 16-byte kv_digest() of the state. */
static const uint8_t magic[8] = "RAFTDKV\n";
#define HEADER_SIZE (8 + 4 + 8 + 8)
#define MAX_RECORD_SIZE (256U * 1024 * 1024)

struct out {
        int fd;
        uint8_t buf[64 * 1024];
        size_t len;
        uint64_t count;
        struct kv_digest_sum digest;
        int error;
};

static int out_flush(struct out *o) {
        size_t done = 0;

        while (done < o->len) {
                ssize_t n = write(o->fd, o->buf + done, o->len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return o->error = -errno;
                }
                done += (size_t) n;
        }
        o->len = 0;
        return 0;
}

static int out_write(struct out *o, const void *p, size_t n) {
        const uint8_t *b = p;

        while (n > 0) {
                size_t k;

                if (o->len == sizeof(o->buf) && out_flush(o) < 0)
                        return o->error;
                k = MIN(n, sizeof(o->buf) - o->len);
                memcpy(o->buf + o->len, b, k);
                o->len += k;
                b += k;
                n -= k;
        }
        return 0;
}

static int write_one(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *userdata) {
        struct out *o = userdata;
        uint8_t h[9];

        if (key.dsize == 1 && (key.dptr[0] == KV_TAG_META || key.dptr[0] == KV_TAG_MARKER))
                return 0;
        h[0] = 1;
        wire_put32(h + 1, (uint32_t) key.dsize);
        wire_put32(h + 5, (uint32_t) data.dsize);
        if (out_write(o, h, sizeof(h)) < 0 || out_write(o, key.dptr, key.dsize) < 0 ||
            out_write(o, data.dptr, data.dsize) < 0)
                return -1;
        kv_digest_add(&o->digest, key, data);
        o->count++;
        return 0;
}

int kv_snapshot_write(struct kv *kv, int fd) {
        _cleanup_free_ struct out *o = NULL;
        uint8_t h[HEADER_SIZE], t[1 + 8 + KV_DIGEST_SIZE];
        int r;

        if (!kv || fd < 0)
                return -EINVAL;
        if (kv->broken)
                return -EIO;
        if (kv->in_batch)
                return -EBUSY;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->fd = fd;

        memcpy(h, magic, sizeof(magic));
        wire_put32(h + 8, KV_SNAPSHOT_VERSION);
        wire_put64(h + 12, kv->applied);
        wire_put64(h + 20, kv->clock);
        (void) out_write(o, h, sizeof(h));
        if (sodium_init() < 0)
                return -EIO;
        /* One read lock on the whole file: TDB then skips its per-chain
         * locks (one fcntl() per hash chain was most of the cost).  One
         * walk copies and hashes: a second one for kv_digest() was a
         * quarter of a leader's CPU under a stream of puts. */
        if (tdb_lockall_read(kv->tdb) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, EIO, _("Failed to lock the state file for a snapshot."));
        r = tdb_traverse_read(kv->tdb, write_one, o);
        (void) tdb_unlockall_read(kv->tdb);
        if (r < 0 && o->error == 0)
                o->error = -EIO;
        if (o->error < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, o->error, _("Failed to write a state snapshot: %m"));
        t[0] = 0;
        wire_put64(t + 1, o->count);
        kv_digest_finish(kv, &o->digest, t + 9);
        if (out_write(o, t, sizeof(t)) < 0 || out_flush(o) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, o->error, _("Failed to write a state snapshot: %m"));
        return 0;
}

struct in {
        int fd;
        uint8_t buf[64 * 1024];
        size_t pos, len;
};

/* Reads exactly n bytes: a snapshot that ends early is damaged. */
static int in_read(struct in *i, void *p, size_t n) {
        uint8_t *b = p;

        while (n > 0) {
                size_t k;

                if (i->pos == i->len) {
                        ssize_t got = read(i->fd, i->buf, sizeof(i->buf));
                        if (got < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (got == 0)
                                return -EBADMSG;
                        i->pos = 0;
                        i->len = (size_t) got;
                }
                k = MIN(n, i->len - i->pos);
                memcpy(b, i->buf + i->pos, k);
                i->pos += k;
                b += k;
                n -= k;
        }
        return 0;
}

static int in_at_end(struct in *i) {
        uint8_t c;
        int r = in_read(i, &c, 1);

        return r == -EBADMSG ? 1 : r < 0 ? r : 0;
}

static int wipe_one(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *userdata) {
        if (key.dsize == 1 && key.dptr[0] == KV_TAG_MARKER)
                return 0;
        return tdb_delete(tdb, key) < 0 ? -1 : 0;
}

static int load_records(struct kv *kv, struct in *in, uint64_t *count, uint8_t digest[static KV_DIGEST_SIZE]) {
        _cleanup_free_ uint8_t *rec = NULL;
        size_t cap = 0;
        uint64_t n = 0;
        int r;

        for (;;) {
                uint8_t h[9], *p;
                uint32_t klen, dlen;
                TDB_DATA key, data;

                r = in_read(in, h, 1);
                if (r < 0)
                        return r;
                if (h[0] == 0)
                        break;
                if (h[0] != 1)
                        return -EBADMSG;
                r = in_read(in, h + 1, 8);
                if (r < 0)
                        return r;
                klen = wire_get32(h + 1);
                dlen = wire_get32(h + 5);
                if (klen == 0 || klen > KV_COMMAND_KEY_MAX + 1 || dlen > MAX_RECORD_SIZE)
                        return -EBADMSG;
                if ((size_t) klen + dlen > cap) {
                        cap = (size_t) klen + dlen;
                        p = realloc(rec, cap);
                        if (!p)
                                return -ENOMEM;
                        rec = p;
                }
                r = in_read(in, rec, (size_t) klen + dlen);
                if (r < 0)
                        return r;
                key = (TDB_DATA) { .dptr = rec, .dsize = klen };
                data = (TDB_DATA) { .dptr = rec + klen, .dsize = dlen };
                /* Only what a store of this version would hold; never the
                 * local marker or meta, which the header carries. */
                if ((key.dsize == 1 && (rec[0] == KV_TAG_META || rec[0] == KV_TAG_MARKER)) ||
                    kv_record_validate(key, data) < 0)
                        return -EBADMSG;
                if (tdb_store(kv->tdb, key, data, TDB_INSERT) < 0)
                        return tdb_error(kv->tdb) == TDB_ERR_EXISTS ? -EBADMSG : -EIO;
                n++;
        }
        {
                uint8_t t[8 + KV_DIGEST_SIZE];

                r = in_read(in, t, sizeof(t));
                if (r < 0)
                        return r;
                if (wire_get64(t) != n)
                        return -EBADMSG;
                memcpy(digest, t + 8, KV_DIGEST_SIZE);
        }
        *count = n;
        r = in_at_end(in);
        if (r < 0)
                return r;
        return r == 1 ? 0 : -EBADMSG;
}

int kv_snapshot_load(struct kv *kv, int fd) {
        _cleanup_free_ struct in *in = NULL;
        uint8_t h[HEADER_SIZE], want[KV_DIGEST_SIZE], got[KV_DIGEST_SIZE];
        raft_index old_applied;
        uint64_t old_clock, count, version;
        int r;

        if (!kv || fd < 0)
                return -EINVAL;
        if (kv->broken)
                return -EIO;
        if (kv->in_batch)
                return -EBUSY;
        in = calloc(1, sizeof(*in));
        if (!in)
                return -ENOMEM;
        in->fd = fd;

        r = in_read(in, h, sizeof(h));
        if (r < 0 || memcmp(h, magic, sizeof(magic)) != 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, r < 0 && r != -EBADMSG ? r : EBADMSG,
                                      _("Not a state snapshot, or truncated."));
        version = wire_get32(h + 8);
        if (version > KV_SNAPSHOT_VERSION)
                return log_sink_errno(&kv->opts.log, LOG_ERR, EPROTONOSUPPORT,
                                      _("State snapshot has format version %" PRIu64 ", this node reads up to %u: upgrade it first."),
                                      version, KV_SNAPSHOT_VERSION);
        if (version == 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, EBADMSG, _("State snapshot has format version 0."));

        old_applied = kv->applied;
        old_clock = kv->clock;
        r = kv_batch_begin(kv);
        if (r < 0)
                return r;
        if (tdb_traverse(kv->tdb, wipe_one, NULL) < 0)
                r = -EIO;
        if (r >= 0)
                r = load_records(kv, in, &count, want);
        if (r >= 0) {
                kv->applied = wire_get64(h + 12);
                kv->clock = wire_get64(h + 20);
                r = kv_store_meta(kv);
        }
        if (r >= 0)
                r = kv_tables_load(kv);
        if (r >= 0)
                r = kv_digest(kv, got);
        if (r >= 0 && memcmp(want, got, sizeof(got)) != 0)
                r = -EBADMSG;
        if (r < 0) {
                /* Back to the state before the load, as if never tried. */
                kv->in_batch = false;
                (void) tdb_transaction_cancel(kv->tdb);
                kv->applied = old_applied;
                kv->clock = old_clock;
                if (kv_tables_load(kv) < 0)
                        kv->broken = true;
                return log_sink_errno(&kv->opts.log, LOG_ERR, r, _("Failed to load a state snapshot: %s"),
                                      r == -EBADMSG ? _("it is damaged") : strerror(-r));
        }
        r = kv_batch_commit(kv);
        if (r < 0)
                return r;
        log_sink(&kv->opts.log, LOG_INFO, _("Loaded a state snapshot at applied index %" PRIu64 " (%" PRIu64 " records)."),
                 kv->applied, count);
        return 0;
}
