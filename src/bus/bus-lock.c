/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.raftd1.Lock.  As with logind's Inhibit(), the caller gets one end of
 * a pipe and the daemon watches the other: when every copy of the caller's
 * end is closed (by close() or by the kernel when the process dies) the
 * read end sees EOF and the lock is released cluster-wide.  The caller's
 * bus connection is tracked too, so a caller that disconnects while
 * waiting withdraws its request, and one that disconnects while holding
 * releases it even if it passed the fd on.  The tracking is the driver's
 * NameOwnerChanged that bus-auth.c watches anyway: no match and no name
 * check per lock (sd_bus_track's would be two bus round trips, one of them
 * synchronous).  A name cannot go before its Acquire is read: the bus
 * daemon delivers the call first; a call that waited for its sender's uid
 * while the sender left is refused (bus_sender.gone).
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

struct bus_lock {
        struct bus *bus;
        uint64_t handle;
        sd_bus_message *request; /* until answered */
        char *sender; /* the caller's unique name */
        int fd; /* our end: the read end of the pipe once granted */
        ev_io io;
        bool releasing;
        struct bus_lock *prev, *next;
};

static struct bus_lock *bus_lock_free(struct bus_lock *l) {
        if (!l)
                return NULL;
        if (l->prev)
                l->prev->next = l->next;
        else
                l->bus->locks = l->next;
        if (l->next)
                l->next->prev = l->prev;
        ev_io_stop(l->bus->loop, &l->io);
        if (l->fd >= 0)
                (void) close(l->fd);
        free(l->sender);
        sd_bus_message_unref(l->request);
        free(l);
        return NULL;
}

/* Give the lock back (or withdraw the request) and forget it. */
static void bus_lock_release(struct bus_lock *l, const char *why) {
        int r;

        l->releasing = true;
        log_sink(&l->bus->log, LOG_DEBUG, _("Releasing lock request %" PRIu64 ": %s"), l->handle, why);
        r = raftd_lock_release(l->bus->node, l->handle, NULL, NULL);
        if (r < 0 && r != -ENOENT)
                log_sink_errno(&l->bus->log, LOG_WARNING, r, _("Failed to release lock request %" PRIu64 ": %s"),
                               l->handle, strerror(-r));
        bus_lock_free(l);
}

static void on_fd(struct ev_loop *loop, ev_io *w, int revents) {
        struct bus_lock *l = w->data;
        char buf[256];
        ssize_t n;

        /* Whatever the holder writes is ignored; only EOF matters. */
        n = read(l->fd, buf, sizeof(buf));
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
                return;
        bus_lock_release(l, n == 0 ? _("every copy of the lock fd was closed") : _("reading the lock fd failed"));
}

void bus_locks_caller_gone(struct bus *b, const char *name) {
        /* From the head again after each release: a release may end other
         * requests of the list through their callbacks. */
        for (;;) {
                struct bus_lock *l = b->locks;

                while (l && !(l->sender && strcmp(l->sender, name) == 0))
                        l = l->next;
                if (!l)
                        return;
                bus_lock_release(l, _("the caller's bus connection closed"));
        }
}

static void on_lost(void *userdata) {
        struct bus_lock *l = userdata;

        /* The cluster already freed the lock (our session expired): close
         * our end so the holder's writes fail with EPIPE. */
        log_sink(&l->bus->log, LOG_WARNING, _("Lock request %" PRIu64 " lost: this node's session expired."),
                 l->handle);
        l->releasing = true;
        bus_lock_free(l);
}

static int send_grant(struct bus_lock *l, uint64_t fence) {
        _cleanup_close_ int read_end = -1, write_end = -1;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        read_end = fds[0];
        write_end = fds[1];
        /* sd-bus duplicates the fd into the message; ours closes below, so
         * the caller's copies are the only write ends left. */
        r = sd_bus_reply_method_return(l->request, "ht", write_end, fence);
        if (r < 0)
                return r;
        l->fd = TAKE_FD(read_end);
        ev_io_init(&l->io, on_fd, l->fd, EV_READ);
        l->io.data = l;
        ev_io_start(l->bus->loop, &l->io);
        return 0;
}

static void on_granted(void *userdata, int error, uint64_t fence) {
        struct bus_lock *l = userdata;
        int r;

        if (l->releasing)
                return; /* our own withdrawal: the caller is gone */
        if (error < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                (void) bus_error_from_errno(l->bus, &e, error, NULL);
                r = sd_bus_reply_method_error(l->request, &e);
                if (r < 0)
                        log_sink_errno(&l->bus->log, LOG_DEBUG, r, _("Failed to send a reply: %s"), strerror(-r));
                /* libraftd already dropped the request. */
                l->releasing = true;
                bus_lock_free(l);
                return;
        }
        r = send_grant(l, fence);
        l->request = sd_bus_message_unref(l->request);
        if (r < 0) {
                log_sink_errno(&l->bus->log, LOG_WARNING, r, _("Failed to hand out a granted lock: %s"), strerror(-r));
                bus_lock_release(l, _("the grant could not be sent"));
        }
}

static uint64_t node_id(struct bus *b) {
        struct raftd_status s;

        raftd_status(b->node, &s);
        return s.id;
}

static int method_acquire(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_free_ char *owner = NULL;
        struct bus *b = userdata;
        const char *name, *sender, *comm = "";
        uint64_t timeout_usec, flags, timeout_ms;
        struct bus_sender who;
        struct bus_lock *l;
        int r;

        r = sd_bus_message_read(m, "stt", &name, &timeout_usec, &flags);
        if (r < 0)
                return r;
        if (name[0] == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, _("Argument 'name' must not be empty."));
        if (strlen(name) > b->options.max_key_len)
                return sd_bus_error_setf(error, BUS_ERROR_TOO_LARGE,
                                         _("Argument 'name' is %zu bytes long, over the limit of %zu bytes; use a "
                                           "shorter lock name."),
                                         strlen(name), b->options.max_key_len);
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        /* Who holds it, for Lock.List; informational except the uid. */
        r = bus_authorize_sender(b, m, BUS_ACCESS_LOCK, &who, error);
        if (r != 0)
                return r;
        /* It left while its uid was being asked for: nobody to hand the
         * lock to, and its NameOwnerChanged has been seen already. */
        if (who.gone)
                return sd_bus_error_set(error, SD_BUS_ERROR_DISCONNECTED, _("The caller has left the bus."));
        /* The command as the caller's process is named now: read from
         * /proc, which does not block. */
        if (who.pid > 0 && sd_bus_creds_new_from_pid(&creds, who.pid, SD_BUS_CREDS_COMM) >= 0)
                (void) sd_bus_creds_get_comm(creds, &comm);
        sender = sd_bus_message_get_sender(m);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Locks need a bus connection with a unique name."));
        if (asprintf(&owner, "%" PRIu64 "/%s/%u/%u/%s", node_id(b), sender, (unsigned) who.uid,
                     (unsigned) who.pid, comm ?: "") < 0)
                return -ENOMEM;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->bus = b;
        l->fd = -1;
        ev_init(&l->io, on_fd);
        l->next = b->locks;
        if (b->locks)
                b->locks->prev = l;
        b->locks = l;

        l->sender = strdup(sender);
        if (!l->sender) {
                l->releasing = true;
                bus_lock_free(l);
                return -ENOMEM;
        }
        l->request = sd_bus_message_ref(m);

        /* Round up: a caller that asks for 1 µs still gets one try. */
        timeout_ms = timeout_usec / 1000 + (timeout_usec % 1000 != 0);
        r = raftd_lock_acquire(b->node, name, strlen(name), owner, timeout_ms, on_granted, on_lost, l, &l->handle);
        if (r < 0) {
                l->releasing = true;
                bus_lock_free(l);
                return bus_error_from_errno(b, error, r, NULL);
        }
        return 1;
}

struct list_ctx {
        sd_bus_message *reply;
        int r;
};

/* Owners are "node/busname/uid/pid/comm"; the command may itself hold '/'. */
static void list_one(void *userdata, const struct raftd_lock_info *info) {
        struct list_ctx *ctx = userdata;
        _cleanup_free_ char *name = NULL, *owner = NULL;
        const char *bus_name = "", *comm = "";
        uint64_t node = 0;
        unsigned uid = 0, pid = 0;

        if (ctx->r < 0 || !bus_utf8_valid(info->name, info->name_len))
                return;
        name = strndup(info->name, info->name_len);
        if (!name) {
                ctx->r = -ENOMEM;
                return;
        }
        if (info->owner) {
                char *f[5] = {}, *p;

                owner = strdup(info->owner);
                if (!owner) {
                        ctx->r = -ENOMEM;
                        return;
                }
                p = owner;
                for (unsigned i = 0; i < 4 && p; i++) {
                        f[i] = p;
                        p = strchr(p, '/');
                        if (p)
                                *p++ = 0;
                }
                f[4] = p;
                if (f[4]) {
                        node = strtoull(f[0], NULL, 10);
                        bus_name = f[1];
                        uid = (unsigned) strtoul(f[2], NULL, 10);
                        pid = (unsigned) strtoul(f[3], NULL, 10);
                        comm = f[4];
                }
                /* Otherwise an embedded program's own owner string: shown as the command. */
                else
                        comm = info->owner;
                if (!bus_utf8_valid(comm, strlen(comm)))
                        comm = "";
                if (!bus_utf8_valid(bus_name, strlen(bus_name)))
                        bus_name = "";
        }
        ctx->r = sd_bus_message_append(ctx->reply, "(sbtsuusttu)", name, (int) info->held, node, bus_name, uid, pid,
                                       comm, info->since_ms * 1000, info->fence, (uint32_t) info->n_waiters);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct bus *b = userdata;
        struct list_ctx ctx = {};
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "t", &flags);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_READ, error);
        if (r != 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sbtsuusttu)");
        if (r < 0)
                return r;
        ctx.reply = reply;
        r = raftd_lock_list(b->node, list_one, &ctx);
        if (r < 0)
                return bus_error_from_errno(b, error, r, NULL);
        if (ctx.r < 0)
                return ctx.r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

void bus_locks_free_all(struct bus *b) {
        while (b->locks)
                bus_lock_release(b->locks, _("the D-Bus front end stops"));
}

const sd_bus_vtable bus_lock_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Acquire", SD_BUS_ARGS("s", name, "t", timeout_usec, "t", flags),
                                SD_BUS_RESULT("h", fd, "t", fence), method_acquire, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("t", flags), SD_BUS_RESULT("a(sbtsuusttu)", locks), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
