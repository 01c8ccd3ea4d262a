/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening, trusting and closing the TDB file; its transactions (batches). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "kv/kv-internal.h"
#include "raft/wire.h"
#include "shared/macro.h"

#define DEFAULT_MAX_KEY_LEN 4096
#define DEFAULT_MAX_VALUE_SIZE (1024 * 1024)
#define DEFAULT_MAX_CACHED_RESPONSES 128

/* TDB chains are linked lists: with its default of 131 heads, lookups walk
 * long chains once there are many keys.  Fixed when the file is created. */
#define KV_TDB_HASH_SIZE 65521

/* The marker record: version, clean flag, boot id (text). */
enum { MARKER_DIRTY = 0, MARKER_CLEAN = 1 };

__attribute__((format(printf, 3, 4))) static void tdb_log(struct tdb_context *tdb, enum tdb_debug_level level, const char *fmt, ...) {
        const struct kv *kv = tdb_get_logging_private(tdb);
        char line[512];
        va_list ap;

        if (!kv || level > TDB_DEBUG_WARNING)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        line[strcspn(line, "\n")] = 0;
        log_sink(&kv->opts.log, level == TDB_DEBUG_WARNING ? LOG_WARNING : LOG_ERR, _("TDB %s: %s"),
                 kv->path ?: "(memory)", line);
}

int kv_errno_from_tdb(struct kv *kv) {
        switch (tdb_error(kv->tdb)) {
        case TDB_SUCCESS:
                return -EIO;
        case TDB_ERR_OOM:
                return -ENOMEM;
        case TDB_ERR_CORRUPT:
                return -EUCLEAN;
        case TDB_ERR_NOEXIST:
                return -ENOENT;
        case TDB_ERR_EINVAL:
                return -EINVAL;
        case TDB_ERR_RDONLY:
                return -EROFS;
        default:
                return -EIO;
        }
}

static int store(struct kv *kv, TDB_DATA key, const TDB_DATA *parts, int n_parts, int flag) {
        if (tdb_storev(kv->tdb, key, parts, n_parts, flag) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to store a record in %s: %s"), kv->path ?: "(memory)",
                                      tdb_errorstr(kv->tdb));
        return 0;
}

int kv_store_put(struct kv *kv, TDB_DATA key, const TDB_DATA *parts, int n_parts) {
        return store(kv, key, parts, n_parts, TDB_REPLACE);
}

/* TDB_REPLACE walks the key's hash chain twice (update in place, else
 * delete) before it inserts; TDB_INSERT once.  (TDB_MODIFY for keys known
 * to exist made test-kv-crash fail, cause not found: not used.) */
int kv_store_put_new(struct kv *kv, TDB_DATA key, const TDB_DATA *parts, int n_parts) {
        return store(kv, key, parts, n_parts, TDB_INSERT);
}

int kv_store_delete(struct kv *kv, TDB_DATA key) {
        if (tdb_delete(kv->tdb, key) < 0 && tdb_error(kv->tdb) != TDB_ERR_NOEXIST)
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to delete a record in %s: %s"), kv->path ?: "(memory)",
                                      tdb_errorstr(kv->tdb));
        return 0;
}

int kv_store_meta(struct kv *kv) {
        uint8_t v[17], k = KV_TAG_META;
        TDB_DATA d = { .dptr = v, .dsize = sizeof(v) };

        v[0] = KV_RECORD_VERSION;
        wire_put64(v + 1, kv->applied);
        wire_put64(v + 9, kv->clock);
        return kv_store_put(kv, (TDB_DATA) { .dptr = &k, .dsize = 1 }, &d, 1);
}

static int read_boot_id(char *buf, size_t size) {
        _cleanup_close_ int fd = -1;
        ssize_t n;

        fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

static int marker_write(struct kv *kv, uint8_t state) {
        uint8_t v[2 + sizeof(kv->boot_id)], k = KV_TAG_MARKER;
        size_t n = strlen(kv->boot_id);
        TDB_DATA d = { .dptr = v, .dsize = 2 + n };
        int r;

        v[0] = KV_RECORD_VERSION;
        v[1] = state;
        memcpy(v + 2, kv->boot_id, n);
        /* The marker is ordered against the data by the fsyncs around it. */
        if (fsync(tdb_fd(kv->tdb)) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, errno, _("Failed to sync %s: %m"), kv->path);
        /* In a transaction of its own, so a crash cannot tear the file. */
        if (tdb_transaction_start(kv->tdb) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to start a transaction on %s: %s"), kv->path, tdb_errorstr(kv->tdb));
        r = kv_store_put(kv, (TDB_DATA) { .dptr = &k, .dsize = 1 }, &d, 1);
        if (r < 0) {
                (void) tdb_transaction_cancel(kv->tdb);
                return r;
        }
        if (tdb_transaction_commit(kv->tdb) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to commit a transaction on %s: %s"), kv->path, tdb_errorstr(kv->tdb));
        if (fsync(tdb_fd(kv->tdb)) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, errno, _("Failed to sync %s: %m"), kv->path);
        return 0;
}

static int check_record(TDB_DATA key, TDB_DATA data, void *userdata) {
        return kv_record_validate(key, data) < 0 ? -1 : 0;
}

/* Decides whether the file can be used as it is: clean, or left dirty by a
 * crashed process of this boot (the page cache kept every write, and TDB
 * recovers an interrupted transaction on open) and structurally sound. */
static int trust_file(struct kv *kv, bool *fresh) {
        uint8_t k = KV_TAG_MARKER;
        TDB_DATA d = tdb_fetch(kv->tdb, (TDB_DATA) { .dptr = &k, .dsize = 1 });
        bool clean, same_boot;
        size_t n;

        *fresh = false;
        if (!d.dptr) {
                if (tdb_error(kv->tdb) != TDB_ERR_NOEXIST)
                        return log_sink_errno(&kv->opts.log, LOG_ERR, EUCLEAN,
                                              _("State file %s is unreadable, rebuild it from the last snapshot and the log."),
                                              kv->path);
                /* Never marked: new, unless it holds anything already. */
                if (tdb_traverse_read(kv->tdb, NULL, NULL) != 0)
                        return log_sink_errno(&kv->opts.log, LOG_ERR, EUCLEAN,
                                              _("State file %s has data but no shutdown marker, rebuild it from the last snapshot and the log."),
                                              kv->path);
                *fresh = true;
                return 0;
        }
        clean = d.dsize >= 2 && d.dptr[0] == KV_RECORD_VERSION && d.dptr[1] == MARKER_CLEAN;
        n = d.dsize >= 2 ? d.dsize - 2 : 0;
        same_boot = d.dsize >= 2 && n == strlen(kv->boot_id) && memcmp(d.dptr + 2, kv->boot_id, n) == 0;
        free(d.dptr);

        if (!clean && !same_boot)
                return log_sink_errno(&kv->opts.log, LOG_ERR, EUCLEAN,
                                      _("State file %s was not closed cleanly before the machine restarted and may have lost writes, rebuild it from the last snapshot and the log."),
                                      kv->path);
        if (!clean || kv->opts.check_on_open) {
                if (!clean)
                        log_sink(&kv->opts.log, LOG_WARNING, _("State file %s was not closed cleanly, checking it."),
                                 kv->path);
                if (tdb_check(kv->tdb, check_record, kv) < 0)
                        return log_sink_errno(&kv->opts.log, LOG_ERR, EUCLEAN,
                                              _("State file %s is damaged, rebuild it from the last snapshot and the log."),
                                              kv->path);
        }
        return 0;
}

int kv_open(const char *path, const struct kv_options *opts, struct kv **ret) {
        struct tdb_logging_context log_ctx = { .log_fn = tdb_log };
        struct kv *kv;
        bool fresh = true;
        int r;

        if (!ret)
                return -EINVAL;
        kv = calloc(1, sizeof(*kv));
        if (!kv)
                return -ENOMEM;
        if (opts)
                kv->opts = *opts;
        if (kv->opts.max_key_len == 0)
                kv->opts.max_key_len = DEFAULT_MAX_KEY_LEN;
        kv->opts.max_key_len = MIN(kv->opts.max_key_len, (size_t) KV_COMMAND_KEY_MAX);
        if (kv->opts.max_value_size == 0)
                kv->opts.max_value_size = DEFAULT_MAX_VALUE_SIZE;
        if (kv->opts.max_cached_responses == 0)
                kv->opts.max_cached_responses = DEFAULT_MAX_CACHED_RESPONSES;
        kv->opts.boot_id = NULL;
        log_ctx.log_private = kv;

        if (path) {
                kv->path = strdup(path);
                if (!kv->path) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (opts && opts->boot_id)
                        (void) snprintf(kv->boot_id, sizeof(kv->boot_id), "%s", opts->boot_id);
                else if ((r = read_boot_id(kv->boot_id, sizeof(kv->boot_id))) < 0) {
                        log_sink_errno(&kv->opts.log, LOG_ERR, r, _("Failed to read the boot id: %m"));
                        goto fail;
                }
                /* Unsynced transactions: the file is rebuildable, see kv.h.
                 * O_CREAT only for a file that does not exist: TDB formats
                 * an existing file whose header it cannot read anew, which
                 * would hide the damage.  TDB_NOLOCK: one process owns the
                 * file (the node flock()s its data directory) and a
                 * snapshot child reads only while the owner writes nothing,
                 * so TDB's fcntl() locks bought nothing but system calls
                 * (apply of single commands ran at half the speed). */
                kv->tdb = tdb_open_ex(path, KV_TDB_HASH_SIZE, TDB_NOSYNC | TDB_NOLOCK,
                                      O_RDWR | O_CLOEXEC | (access(path, F_OK) < 0 && errno == ENOENT ? O_CREAT : 0),
                                      0600, &log_ctx, NULL);
        } else {
                /* TDB_INTERNAL has no transactions, which batches and the
                 * all-or-nothing snapshot load need: use an unlinked file. */
                _cleanup_free_ char *tmp = NULL;
                _cleanup_close_ int fd = -1;

                if (asprintf(&tmp, "%s/raftd-kv-XXXXXX", secure_getenv("TMPDIR") ?: "/tmp") < 0) {
                        tmp = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
                fd = mkostemp(tmp, O_CLOEXEC);
                if (fd < 0) {
                        r = log_sink_errno(&kv->opts.log, LOG_ERR, errno, _("Failed to create a scratch state file: %m"));
                        goto fail;
                }
                kv->tdb = tdb_open_ex(tmp, KV_TDB_HASH_SIZE, TDB_NOSYNC, O_RDWR | O_CREAT | O_CLOEXEC, 0600, &log_ctx, NULL);
                (void) unlink(tmp);
        }
        if (!kv->tdb) {
                r = errno == ENOMEM ? -ENOMEM : (errno == EACCES || errno == ENOENT) ? -errno : -EUCLEAN;
                log_sink_errno(&kv->opts.log, LOG_ERR, r, _("Failed to open state file %s: %m"),
                               path ?: "(memory)");
                goto fail;
        }

        if (path && (r = trust_file(kv, &fresh)) < 0)
                goto fail;
        r = kv_tables_load(kv);
        if (r < 0) {
                log_sink_errno(&kv->opts.log, LOG_ERR, r,
                               _("State file %s holds unreadable records, rebuild it from the last snapshot and the log."),
                               path ?: "(memory)");
                goto fail;
        }
        if (path && (r = marker_write(kv, MARKER_DIRTY)) < 0)
                goto fail;
        if (path && !fresh)
                log_sink(&kv->opts.log, LOG_INFO, _("State file %s opened at applied index %" PRIu64 "."), path,
                         kv->applied);
        *ret = kv;
        return 0;
fail:
        kv_abandon(kv);
        return r;
}

struct kv *kv_abandon(struct kv *kv) {
        if (!kv)
                return NULL;
        if (kv->tdb) {
                if (kv->in_batch)
                        (void) tdb_transaction_cancel(kv->tdb);
                (void) tdb_close(kv->tdb);
        }
        kv_tables_clear(kv);
        free(kv->path);
        free(kv);
        return NULL;
}

struct kv *kv_close(struct kv *kv) {
        if (!kv)
                return NULL;
        if (kv->in_batch && kv_batch_commit(kv) < 0)
                kv->broken = true;
        /* A broken handle stays dirty so the next open does not trust it. */
        if (kv->path && kv->tdb && !kv->broken)
                (void) marker_write(kv, MARKER_CLEAN);
        return kv_abandon(kv);
}

raft_index kv_applied_index(const struct kv *kv) {
        return kv->applied;
}

uint64_t kv_apply_clock(const struct kv *kv) {
        return kv->clock;
}

int kv_batch_begin(struct kv *kv) {
        if (kv->broken)
                return -EIO;
        if (kv->in_batch)
                return -EBUSY;
        if (tdb_transaction_start(kv->tdb) < 0)
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to start a transaction on %s: %s"), kv->path ?: "(memory)",
                                      tdb_errorstr(kv->tdb));
        kv->in_batch = true;
        return 0;
}

int kv_batch_commit(struct kv *kv) {
        int r;

        if (!kv->in_batch)
                return -EINVAL;
        kv->in_batch = false;
        if (kv->broken) {
                (void) tdb_transaction_cancel(kv->tdb);
                return -EIO;
        }
        r = kv_sessions_flush(kv);
        if (r >= 0)
                r = kv_store_meta(kv);
        if (r < 0) {
                (void) tdb_transaction_cancel(kv->tdb);
                kv->broken = true;
                return r;
        }
        if (tdb_transaction_commit(kv->tdb) < 0) {
                kv->broken = true;
                return log_sink_errno(&kv->opts.log, LOG_ERR, kv_errno_from_tdb(kv),
                                      _("Failed to commit a transaction on %s: %s"), kv->path ?: "(memory)",
                                      tdb_errorstr(kv->tdb));
        }
        return 0;
}
