/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening a node's data directory, recovery, and snapshots of the state
 * machine.
 *
 * Layout: <data_dir>/meta (hard state), <data_dir>/log (segments),
 * <data_dir>/snapshots, <data_dir>/state.tdb (the state machine, written
 * without sync and rebuilt from the newest snapshot plus the log when it
 * cannot be trusted). */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/node.h"
#include "shared/macro.h"

static char *path_join(const char *a, const char *b) {
        char *p;

        if (asprintf(&p, "%s/%s", a, b) < 0)
                return NULL;
        return p;
}

/* The state machine's image travels through a memfd: kv writes and reads
 * streams, the snapshot store reads and writes at offsets. */
static int snapshot_data_to_memfd(const struct storage_snapshot *snap, int *ret_fd) {
        _cleanup_close_ int fd = memfd_create("raftd-snapshot", MFD_CLOEXEC);
        uint8_t buf[64 * 1024];
        uint64_t size = storage_snapshot_data_size(snap), off = 0;

        if (fd < 0)
                return -errno;
        while (off < size) {
                ssize_t k = storage_snapshot_read_data(snap, off, buf, MIN(sizeof(buf), size - off));

                if (k <= 0)
                        return k < 0 ? (int) k : -EBADMSG;
                if (write(fd, buf, (size_t) k) != k)
                        return -errno;
                off += (uint64_t) k;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int load_snapshot_into_kv(struct raftd_node *n) {
        _cleanup_close_ int fd = -1;
        int r;

        r = snapshot_data_to_memfd(n->snap, &fd);
        if (r < 0)
                return r;
        return kv_snapshot_load(n->kv, fd);
}

/* flock() is held by every copy of the descriptor: a snapshot child
 * forked by another node of the same process (an embedder may run several)
 * holds this node's lock until it has written its snapshot, for a moment.
 * A restart waits for that rather than fail; another live node on the
 * directory holds it for good and is refused after the wait. */
static int lock_data_dir(int fd) {
        for (unsigned tries = 0;; tries++) {
                if (flock(fd, LOCK_EX | LOCK_NB) >= 0)
                        return 0;
                if (errno != EWOULDBLOCK)
                        return -errno;
                if (tries >= 100)
                        return -EBUSY;
                (void) nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
}

static int open_kv(struct raftd_node *n) {
        _cleanup_free_ char *path = path_join(n->data_dir, "state.tdb");
        /* The configured limits are checked where a request enters
         * (raftd_put() and friends), and may change at runtime
         * (raftd_node_set_limits()).  Applying a committed entry must give
         * the same result on every node whatever its configuration, so the
         * state machine only holds entries to the format's bounds. */
        struct kv_options o = {
                .max_key_len = KV_COMMAND_KEY_MAX,
                .max_value_size = KV_COMMAND_VALUE_MAX,
                .max_cached_responses = 2 * NODE_SESSION_WINDOW,
                .on_event = node_on_kv_event,
                .userdata = n,
                .log = n->log,
        };
        int r;

        if (!path)
                return -ENOMEM;
        r = kv_open(path, &o, &n->kv);
        if (r == -EUCLEAN) {
                /* Not trustworthy: start empty; the snapshot and the log
                 * rebuild it. */
                log_sink(&n->log, LOG_WARNING, _("Rebuilding the state machine %s from the snapshot and the log."),
                         path);
                if (unlink(path) < 0 && errno != ENOENT)
                        return log_sink_errno(&n->log, LOG_ERR, errno, _("Failed to remove %s: %m"), path);
                r = kv_open(path, &o, &n->kv);
        }
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to open the state machine %s: %m"), path);
        if (n->snap && kv_applied_index(n->kv) < storage_snapshot_meta(n->snap)->index) {
                r = load_snapshot_into_kv(n);
                if (r < 0)
                        return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to load the snapshot into %s: %m"),
                                              path);
        }
        return 0;
}

static int bootstrap(struct raftd_node *n, struct raft_hard_state *hs, struct raft_entry **entries, size_t *n_entries) {
        struct raft_config c = { 0 };
        uint8_t buf[4 + RAFT_CONFIG_MAX * 9];
        struct raft_entry e = { .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = { buf, 0 } };
        struct storage_meta_state st = { .hs = { .term = 1 } };
        bool self = false;
        int r;

        if (n->cfg.n_peers > RAFT_CONFIG_MAX)
                return log_sink_errno(&n->log, LOG_ERR, EINVAL, _("At most %d initial members are supported."),
                                      RAFT_CONFIG_MAX);
        for (size_t i = 0; i < n->cfg.n_peers; i++) {
                c.servers[c.n++] = (struct raft_server) { .id = n->cfg.peers[i].id, .role = RAFT_VOTER };
                self = self || n->cfg.peers[i].id == n->cfg.id;
        }
        if (!self)
                return log_sink_errno(&n->log, LOG_ERR, EINVAL,
                                      _("The initial members do not include this node (id %" PRIu64 ")."), n->cfg.id);
        raft_config_encode(&c, buf);
        e.data.len = raft_config_encoded_size(&c);
        r = storage_log_append(n->slog, &e, 1);
        if (r >= 0)
                r = storage_log_sync(n->slog);
        if (r >= 0)
                r = storage_meta_save(n->meta, &st);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to bootstrap the cluster: %m"));
        log_sink(&n->log, LOG_INFO, _("Bootstrapped a new cluster of %zu members."), n->cfg.n_peers);
        *hs = st.hs;
        *entries = calloc(1, sizeof(**entries));
        if (!*entries)
                return -ENOMEM;
        (*entries)[0] = e;
        (*entries)[0].data.base = malloc(e.data.len);
        if (!(*entries)[0].data.base)
                return -ENOMEM;
        memcpy((*entries)[0].data.base, buf, e.data.len);
        *n_entries = 1;
        return 0;
}

int node_storage_open(struct raftd_node *n) {
        _cleanup_free_ char *meta_dir = path_join(n->data_dir, "meta");
        _cleanup_free_ char *log_dir = path_join(n->data_dir, "log");
        _cleanup_free_ char *snap_dir = path_join(n->data_dir, "snapshots");
        struct storage_log_options lo = { .log = &n->log, .sync_notify = node_sync_notify, .sync_userdata = n };
        struct storage_meta_state st;
        struct raft_entry *entries = NULL;
        size_t n_entries = 0;
        const struct raft_snapshot_meta *sm = NULL;
        int r;

        if (!meta_dir || !log_dir || !snap_dir)
                return -ENOMEM;
        if (mkdir(n->data_dir, 0700) < 0 && errno != EEXIST)
                return log_sink_errno(&n->log, LOG_ERR, errno, _("Failed to create %s: %m"), n->data_dir);
        /* Two nodes on one directory would corrupt it. */
        n->dir_lock_fd = open(n->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (n->dir_lock_fd < 0)
                return log_sink_errno(&n->log, LOG_ERR, errno, _("Failed to open %s: %m"), n->data_dir);
        r = lock_data_dir(n->dir_lock_fd);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, -r,
                                      _("Data directory %s is in use by another process: %m"), n->data_dir);

        r = storage_meta_open(meta_dir, &n->log, &n->meta, &st);
        if (r < 0)
                return r;
        r = storage_snapshots_open(snap_dir, &n->log, &n->snaps);
        if (r < 0)
                return r;
        r = storage_snapshot_open_latest(n->snaps, &n->snap);
        if (r < 0 && r != -ENOENT)
                return r;
        if (n->snap) {
                sm = storage_snapshot_meta(n->snap);
                n->last_snapshot_index = sm->index;
        }
        r = storage_log_open(log_dir, &lo, &n->slog, &entries, &n_entries);
        if (r < 0)
                return r;
        if (sm) {
                /* A crash between installing a received snapshot and
                 * resetting the log leaves a log the snapshot replaced. */
                r = storage_log_fit_snapshot(n->slog, sm);
                if (r < 0)
                        goto finish;
                if (r > 0) {
                        storage_entries_free(entries, n_entries);
                        entries = NULL;
                        n_entries = 0;
                }
        }

        if (st.hs.term == 0 && n_entries == 0 && !sm && !n->cfg.join && n->cfg.n_peers > 0) {
                r = bootstrap(n, &st.hs, &entries, &n_entries);
                if (r < 0)
                        goto finish;
        }
        n->hs = st.hs;

        r = open_kv(n);
        if (r < 0)
                goto finish;
        r = raft_load(n->raft, &st.hs, sm, entries, (unsigned) n_entries);
        if (r < 0)
                log_sink_errno(&n->log, LOG_ERR, r,
                               _("The log in %s does not fit the hard state or the snapshot; refusing to start."),
                               log_dir);
        n->appended_index = storage_log_last_index(n->slog);
finish:
        storage_entries_free(entries, n_entries);
        return r;
}

/* The newest snapshot becomes n->snap.  The one it replaces stays open
 * while a follower is still being sent it (an open file outlives its name,
 * which storage removes), and those no transfer needs any more are closed. */
static int snapshot_reopen_latest(struct raftd_node *n) {
        size_t k = 0;

        for (size_t i = 0; i < n->n_snap_sending; i++) {
                struct storage_snapshot *s = n->snap_sending[i];

                if (raft_snapshot_in_transfer(n->raft, storage_snapshot_meta(s)->index))
                        n->snap_sending[k++] = s;
                else
                        storage_snapshot_close(s);
        }
        n->n_snap_sending = k;
        if (n->snap && raft_snapshot_in_transfer(n->raft, storage_snapshot_meta(n->snap)->index)) {
                struct storage_snapshot **a = reallocarray(n->snap_sending, k + 1, sizeof(*a));

                if (!a)
                        return -ENOMEM;
                a[n->n_snap_sending++] = n->snap;
                n->snap_sending = a;
                n->snap = NULL;
        }
        n->snap = storage_snapshot_close(n->snap);
        return storage_snapshot_open_latest(n->snaps, &n->snap);
}

static void snapshots_sending_close(struct raftd_node *n) {
        for (size_t i = 0; i < n->n_snap_sending; i++)
                storage_snapshot_close(n->snap_sending[i]);
        free(n->snap_sending);
        n->snap_sending = NULL;
        n->n_snap_sending = 0;
}

void node_storage_close(struct raftd_node *n) {
        if (n->kv)
                (void) node_kv_checkpoint(n); /* a failure leaves the file marked dirty */
        n->kv = kv_close(n->kv);
        n->slog = storage_log_close(n->slog);
        n->meta = storage_meta_close(n->meta);
        n->snap = storage_snapshot_close(n->snap);
        snapshots_sending_close(n);
        n->snaps = storage_snapshots_close(n->snaps);
        if (n->dir_lock_fd >= 0)
                (void) close(n->dir_lock_fd);
        n->dir_lock_fd = -1;
}

/* The one byte a snapshot child writes once its file is durable. */
#define SNAPSHOT_CHILD_OK 'k'
/* The fewest log entries kept behind a snapshot by default. */
#define SNAPSHOT_TRAILING_MIN 1000

/* Entries kept behind a snapshot let a follower that is a little behind
 * catch up from the log.  The floor matters with a small snapshot_entries
 * under load: a follower that has just installed a snapshot is already
 * more than half an interval behind again, is sent the next snapshot, and
 * never catches up (a joining learner under the fault suite's
 * SnapshotEntries=100 and a write rate of ~600/s). */
static raft_index snapshot_trailing(const struct raftd_config *c) {
        if (c->snapshot_trailing > 0)
                return c->snapshot_trailing;
        return MAX(c->snapshot_entries / 2, (uint64_t) SNAPSHOT_TRAILING_MIN);
}

struct snapshot_waiter {
        struct snapshot_waiter *next;
        void (*done)(struct raftd_node *n, void *ctx, int error, raft_index index);
        void *ctx;
};

/* In the child: the state machine's image into a new snapshot file,
 * fsynced and renamed into place.  Nothing here touches the loop. */
static int write_snapshot(struct raftd_node *n, const struct raft_snapshot_meta *meta) {
        _cleanup_close_ int fd = memfd_create("raftd-snapshot", MFD_CLOEXEC);
        struct storage_snapshot_writer *w = NULL;
        uint8_t buf[64 * 1024];
        ssize_t k;
        int r;

        if (fd < 0)
                return -errno;
        r = kv_snapshot_write(n->kv, fd);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = storage_snapshot_writer_begin(n->snaps, meta, &w);
        while (r >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
                r = storage_snapshot_writer_write(w, buf, (size_t) k);
        if (r >= 0)
                r = storage_snapshot_writer_commit(w);
        storage_snapshot_writer_free(w);
        return r;
}

static void snapshot_finished(struct raftd_node *n, bool written) {
        struct snapshot_waiter *waiters = n->snap_waiters;
        raft_index index = n->snap_meta.index;
        raft_index trailing = snapshot_trailing(&n->cfg);
        int r = 0;

        n->snap_waiters = NULL;
        if (index < raft_snapshot_index(n->raft)) {
                /* A snapshot received from the leader while the child wrote
                 * covers this one; storage kept the newer file. */
                log_sink(&n->log, LOG_INFO,
                         _("The snapshot at index %" PRIu64 " was superseded by the one received at index %" PRIu64 "."),
                         index, raft_snapshot_index(n->raft));
                index = raft_snapshot_index(n->raft);
        } else if (!written)
                r = log_sink_errno(&n->log, LOG_ERR, EIO, _("Writing the snapshot at index %" PRIu64 " failed."), index);
        else if (index > n->last_snapshot_index) {
                struct raft_event ev = { .type = RAFT_EVENT_SNAPSHOT_TAKEN };

                r = snapshot_reopen_latest(n);
                if (r >= 0) {
                        /* Apply first: the core keeps the deferred entries
                         * only until it compacts. */
                        r = node_apply_deferred(n);
                        ev.snapshot_taken.index = index;
                        ev.snapshot_taken.trailing = trailing;
                        if (r >= 0)
                                r = node_step(n, &ev);
                }
                if (r >= 0) {
                        if (index > trailing)
                                (void) storage_log_compact(n->slog, index - trailing);
                        n->last_snapshot_index = index;
                        log_sink(&n->log, LOG_INFO, _("Took a snapshot at index %" PRIu64 "."), index);
                }
        }
        if (node_apply_deferred(n) < 0 && r >= 0)
                r = -EIO;
        /* What was applied meanwhile waited in the open transaction. */
        if (node_kv_checkpoint(n) < 0) {
                n->failed = -EIO;
                ev_break(n->loop, EVBREAK_ONE);
                if (r >= 0)
                        r = -EIO;
        }
        while (waiters) {
                struct snapshot_waiter *w = waiters;

                waiters = w->next;
                w->done(n, w->ctx, r, r < 0 ? 0 : index);
                free(w);
        }
}

/* The child's word, not its exit status, says the snapshot is on disk:
 * libev's SIGCHLD handler may reap the child before waitpid() here does,
 * and a missing status must never pass for success. */
static void read_child_report(struct raftd_node *n, bool block) {
        char c;
        ssize_t k;

        for (;;) {
                k = read(n->snap_pipe, &c, 1);
                if (k == 1) {
                        n->snap_ok = c == SNAPSHOT_CHILD_OK;
                        continue;
                }
                if (k == 0)
                        n->snap_eof = true;
                else if (errno == EINTR || (errno == EAGAIN && block))
                        continue;
                return;
        }
}

static void reap(struct raftd_node *n, bool block) {
        pid_t pid = n->snap_pid;
        int status = 0;
        bool ok;

        if (pid <= 0)
                return;
        if (block) {
                (void) fcntl(n->snap_pipe, F_SETFL, 0);
                read_child_report(n, true);
        }
        if (!n->snap_eof)
                return;
        (void) waitpid(pid, &status, 0);
        ok = n->snap_ok;
        ev_io_stop(n->loop, &n->snap_watch);
        (void) close(n->snap_pipe);
        n->snap_pipe = -1;
        n->snap_pid = 0;
        n->snap_ok = n->snap_eof = false;
        snapshot_finished(n, ok);
}

static void on_snapshot_child(struct ev_loop *loop, ev_io *w, int revents) {
        struct raftd_node *n = w->data;

        read_child_report(n, false);
        if (n->snap_eof)
                reap(n, false);
}

void node_snapshot_wait(struct raftd_node *n) {
        reap(n, true);
}

int node_snapshot_start(struct raftd_node *n, void (*done)(struct raftd_node *n, void *ctx, int error, raft_index index),
                        void *ctx) {
        struct snapshot_waiter *w = NULL;
        int p[2], r;
        pid_t pid, parent;

        if (done) {
                w = calloc(1, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                w->done = done;
                w->ctx = ctx;
        }
        if (n->snap_pid > 0) {
                /* One at a time; a waiter joins the running one. */
                if (!w)
                        return -EBUSY;
                w->next = n->snap_waiters;
                n->snap_waiters = w;
                return 0;
        }
        r = node_kv_checkpoint(n); /* the child writes the file as committed */
        if (r >= 0)
                r = raft_snapshot_meta_at(n->raft, kv_applied_index(n->kv), &n->snap_meta);
        if (r < 0 || pipe2(p, O_CLOEXEC) < 0) {
                free(w);
                return r < 0 ? r : -errno;
        }
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = -errno;
                (void) close(p[0]);
                (void) close(p[1]);
                free(w);
                return log_sink_errno(&n->log, LOG_ERR, -r, _("Failed to start the snapshot process: %m"));
        }
        if (pid == 0) {
                /* The child writes the state machine's file as of the fork
                 * (the parent commits nothing until the child is gone).  It
                 * dies with the parent, and it lets go of the data
                 * directory's flock() (which its copy of the descriptor
                 * would hold past the parent's death): a restarted node must
                 * not find its directory busy or a snapshot moving in. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(1);
                if (n->dir_lock_fd >= 0)
                        (void) close(n->dir_lock_fd);
                (void) close(p[0]);
                if (write_snapshot(n, &n->snap_meta) < 0)
                        _exit(1);
                _exit(write(p[1], &(char){ SNAPSHOT_CHILD_OK }, 1) == 1 ? 0 : 1);
        }
        (void) close(p[1]);
        n->snap_pid = pid;
        n->snap_pipe = p[0];
        n->snap_ok = n->snap_eof = false;
        (void) fcntl(p[0], F_SETFL, O_NONBLOCK);
        ev_io_init(&n->snap_watch, on_snapshot_child, p[0], EV_READ);
        n->snap_watch.data = n;
        ev_io_start(n->loop, &n->snap_watch);
        if (w) {
                w->next = n->snap_waiters;
                n->snap_waiters = w;
        }
        return 0;
}

/* The leader's core leaves a chunk's bytes to us. */
int node_snapshot_fill_chunk(struct raftd_node *n, struct raft_message *m, void **buf) {
        struct raft_snapshot_chunk *c = &m->snapshot;
        bool done = false;
        ssize_t k;

        struct storage_snapshot *snap = n->snap && storage_snapshot_meta(n->snap)->index == c->meta.index ? n->snap
                                                                                                              : NULL;

        for (size_t i = 0; !snap && i < n->n_snap_sending; i++)
                if (storage_snapshot_meta(n->snap_sending[i])->index == c->meta.index)
                        snap = n->snap_sending[i];
        if (!snap)
                return -ESTALE;
        *buf = malloc(c->chunk_max ? c->chunk_max : 1);
        if (!*buf)
                return -ENOMEM;
        k = storage_snapshot_read_chunk(snap, c->offset, *buf, c->chunk_max, &done);
        if (k < 0)
                return (int) k;
        c->data.base = *buf;
        c->data.len = (size_t) k;
        c->done = done;
        return 0;
}

/* A chunk the core accepted: store it; on the last one, install. */
int node_snapshot_receive(struct raftd_node *n, const struct raft_snapshot_chunk *c) {
        uint64_t next;
        bool installed;
        int r;

        r = storage_snapshots_receive(n->snaps, c, &next, &installed);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to store a snapshot chunk at offset %" PRIu64 ": %m"),
                                      c->offset);
        if (!c->done)
                return 0;
        /* The snapshot replaces the entries deferred for a running snapshot
         * child (the core dropped them with its log) and what the child
         * writes (storage keeps the newer file). */
        n->deferred_to = 0;
        node_snapshot_wait(n);
        if (!installed)
                return log_sink_errno(&n->log, LOG_ERR, EBADMSG, _("Received snapshot at index %" PRIu64 " is incomplete."),
                                      c->meta.index);
        r = snapshot_reopen_latest(n);
        if (r >= 0)
                r = node_kv_checkpoint(n);
        if (r >= 0)
                r = load_snapshot_into_kv(n);
        if (r >= 0)
                r = storage_log_reset(n->slog);
        if (r < 0)
                return log_sink_errno(&n->log, LOG_ERR, r, _("Failed to install the snapshot at index %" PRIu64 ": %m"),
                                      c->meta.index);
        n->last_snapshot_index = c->meta.index;
        /* The address book came with the snapshot, without apply events. */
        node_admin_learn_members(n);
        /* The core learns the install is durable from PERSISTED with the
         * snapshot's index and term, sent by the next flush. */
        n->appended_index = c->meta.index;
        n->appended_term = c->meta.term;
        n->log_dirty = true;
        log_sink(&n->log, LOG_INFO, _("Installed a snapshot at index %" PRIu64 " from the leader."), c->meta.index);
        return 0;
}
