/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization from the sender's credentials: the bus driver vouches for
 * the uid, so a client cannot claim another.  The driver is asked once per
 * connection, without waiting: a caller's first calls wait (parked, in
 * order) for the answer while the loop goes on, and the answer is kept
 * until the connection ends (bus-creds-cache.c). */

#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

static const char *const access_names[_BUS_ACCESS_MAX] = {
        [BUS_ACCESS_READ] = "read",
        [BUS_ACCESS_WRITE] = "write",
        [BUS_ACCESS_LOCK] = "lock",
        [BUS_ACCESS_ADMIN] = "admin",
};

void bus_acl_done(struct bus_acl_owned acl[_BUS_ACCESS_MAX]) {
        for (unsigned i = 0; i < _BUS_ACCESS_MAX; i++) {
                free(acl[i].uids);
                acl[i] = (struct bus_acl_owned) {};
        }
}

int bus_acl_copy(struct bus_acl_owned dst[_BUS_ACCESS_MAX], const struct bus_acl src[_BUS_ACCESS_MAX]) {
        struct bus_acl_owned n[_BUS_ACCESS_MAX] = {};

        for (unsigned i = 0; i < _BUS_ACCESS_MAX; i++) {
                n[i].everyone = src[i].everyone;
                if (src[i].n_uids == 0)
                        continue;
                if (!src[i].uids) {
                        bus_acl_done(n);
                        return -EINVAL;
                }
                n[i].uids = calloc(src[i].n_uids, sizeof(uid_t));
                if (!n[i].uids) {
                        bus_acl_done(n);
                        return -ENOMEM;
                }
                memcpy(n[i].uids, src[i].uids, src[i].n_uids * sizeof(uid_t));
                n[i].n_uids = src[i].n_uids;
        }
        bus_acl_done(dst);
        memcpy(dst, n, sizeof(n));
        return 0;
}

int bus_set_acl(struct bus *b, const struct bus_acl acl[_BUS_ACCESS_MAX]) {
        if (!b || !acl)
                return -EINVAL;
        return bus_acl_copy(b->acl, acl);
}

static bool acl_allows(const struct bus_acl_owned *a, uid_t uid) {
        if (uid == 0 || a->everyone)
                return true;
        for (size_t i = 0; i < a->n_uids; i++)
                if (a->uids[i] == uid)
                        return true;
        return false;
}

static void log_unknown_uid(struct bus *b, sd_bus_message *m, int r) {
        log_sink_errno(&b->log, LOG_WARNING, r, _("Refused %s.%s from %s: cannot determine its user id: %m"),
                       sd_bus_message_get_interface(m) ?: "*", sd_bus_message_get_member(m),
                       sd_bus_message_get_sender(m) ?: "?");
}

/* Never allowed without a uid: refused like a uid that is not on the
 * list, saying why. */
static int set_unknown_uid_error(sd_bus_message *m, int r, sd_bus_error *error) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 _("Cannot determine the caller's user id (%s), so %s is refused."), strerror(-r),
                                 sd_bus_message_get_member(m));
}

static int check_acl(struct bus *b, sd_bus_message *m, enum bus_access access, uid_t uid, sd_bus_error *error) {
        if (acl_allows(&b->acl[access], uid))
                return 0;
        /* A method call may leave out the interface. */
        log_sink(&b->log, LOG_NOTICE, _("Refused %s.%s from uid %u: no %s access."),
                 sd_bus_message_get_interface(m) ?: "*", sd_bus_message_get_member(m), (unsigned) uid,
                 access_names[access]);
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 _("User %u may not use %s (no %s access); ask the administrator to add the uid to "
                                   "the %s allow-list in raftd's configuration."),
                                 (unsigned) uid, sd_bus_message_get_member(m), access_names[access],
                                 access_names[access]);
}

/* The handler's outcome, answered as sd-bus answers a handler's return. */
static void reply_outcome(struct bus *b, sd_bus_message *m, int r, sd_bus_error *error) {
        if (r >= 0 && !sd_bus_error_is_set(error))
                return;
        r = sd_bus_error_is_set(error) ? sd_bus_reply_method_error(m, error) : sd_bus_reply_method_errno(m, r, NULL);
        if (r < 0)
                log_sink_errno(&b->log, LOG_DEBUG, r, _("Failed to send a reply: %s"), strerror(-r));
}

static void run_parked(struct bus *b, struct bus_parked *q, int question_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (question_error < 0) {
                log_unknown_uid(b, q->message, question_error);
                r = set_unknown_uid_error(q->message, question_error, &error);
        } else {
                r = sd_bus_message_rewind(q->message, true);
                if (r >= 0)
                        r = q->handler(q->message, q->userdata, &error);
        }
        reply_outcome(b, q->message, r, &error);
}

static int read_credentials(sd_bus_message *reply, uid_t *ret_uid, pid_t *ret_pid) {
        uint32_t uid = UINT32_MAX, pid = 0;
        const char *key;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                if (strcmp(key, "UnixUserID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", &uid);
                else if (strcmp(key, "ProcessID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", &pid);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (uid == UINT32_MAX)
                return -ENODATA; /* a bus without uids (not on Unix sockets) */
        *ret_uid = (uid_t) uid;
        *ret_pid = (pid_t) pid;
        return 0;
}

static int on_credentials(sd_bus_message *reply, void *userdata, sd_bus_error *unused) {
        struct bus_caller *p = userdata;
        struct bus *b = p->bus;
        struct bus_parked *q;
        uid_t uid = (uid_t) -1;
        pid_t pid = 0;
        int r;

        p->question = sd_bus_slot_unref(p->question);
        r = sd_bus_message_get_errno(reply);
        r = sd_bus_message_is_method_error(reply, NULL) ? -(r ?: EIO) : read_credentials(reply, &uid, &pid);

        /* Taken off the entry first: the parked calls run in arrival order,
         * and each finds the entry known (or, after an error, asks again). */
        q = TAKE_PTR(p->parked);
        p->parked_last = NULL;
        if (r >= 0)
                bus_callers_learned(&b->callers, p, uid, pid);
        else
                bus_callers_remove(&b->callers, TAKE_PTR(p));

        while (q) {
                struct bus_parked *next = q->next;

                run_parked(b, q, r);
                sd_bus_message_unref(q->message);
                free(q);
                q = next;
        }
        /* Its calls ran with what the driver said while it was connected;
         * nothing more will come from it. */
        if (p && p->gone)
                bus_callers_remove(&b->callers, p);
        return 0;
}

static int ask_driver(struct bus *b, struct bus_caller *p) {
        return sd_bus_call_method_async(b->bus, &p->question, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetConnectionCredentials", on_credentials, p, "s",
                                        p->name);
}

static int park(struct bus *b, struct bus_caller *p, sd_bus_message *m) {
        struct bus_parked *q;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        /* The handler that is running now is the one to run again. */
        q->handler = sd_bus_get_current_handler(b->bus);
        q->userdata = sd_bus_get_current_userdata(b->bus);
        if (!q->handler) {
                free(q);
                return -EINVAL;
        }
        q->message = sd_bus_message_ref(m);
        if (p->parked_last)
                p->parked_last->next = q;
        else
                p->parked = q;
        p->parked_last = q;
        return 1;
}

static int authorize(struct bus *b, sd_bus_message *m, enum bus_access access, bool need_sender,
                     struct bus_sender *ret, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);
        struct bus_caller *p;
        int r;

        /* Every connection through a bus daemon has a unique name. */
        if (!sender) {
                log_unknown_uid(b, m, -ENXIO);
                return set_unknown_uid_error(m, -ENXIO, error);
        }
        p = bus_callers_get(&b->callers, sender);
        if (p && p->known) {
                r = check_acl(b, m, access, p->uid, error);
                if (r < 0)
                        return r;
                if (ret)
                        *ret = (struct bus_sender) { .uid = p->uid, .pid = p->pid, .gone = p->gone };
                return 0;
        }
        /* Nobody needs the uid then; but behind calls still waiting for it,
         * so that one caller's calls keep their order. */
        if (!p && !need_sender && b->acl[access].everyone)
                return 0;

        if (!p) {
                r = bus_callers_add(&b->callers, sender, &p);
                if (r >= 0) {
                        p->bus = b;
                        r = ask_driver(b, p);
                        if (r < 0)
                                bus_callers_remove(&b->callers, TAKE_PTR(p));
                }
                if (r < 0) {
                        log_unknown_uid(b, m, r);
                        return set_unknown_uid_error(m, r, error);
                }
        }
        r = park(b, p, m);
        if (r < 0) {
                log_unknown_uid(b, m, r);
                return set_unknown_uid_error(m, r, error);
        }
        return 1;
}

int bus_authorize_sender(struct bus *b, sd_bus_message *m, enum bus_access access, struct bus_sender *ret,
                         sd_bus_error *error) {
        return authorize(b, m, access, true, ret, error);
}

int bus_authorize(struct bus *b, sd_bus_message *m, enum bus_access access, sd_bus_error *error) {
        return authorize(b, m, access, false, NULL, error);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *unused) {
        struct bus *b = userdata;
        const char *name, *old_owner, *new_owner;
        struct bus_caller *p;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] != ':' || new_owner[0] != 0)
                return 0;
        bus_locks_caller_gone(b, name);
        p = bus_callers_get(&b->callers, name);
        if (!p)
                return 0;
        /* Its parked calls still get their answer first. */
        if (p->question)
                p->gone = true;
        else
                bus_callers_remove(&b->callers, p);
        return 0;
}

int bus_callers_watch(struct bus *b) {
        /* arg2='': only names that lost their owner. */
        return sd_bus_add_match(b->bus, &b->callers_gone,
                                "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                                on_name_owner_changed, b);
}

size_t bus_cached_callers(const struct bus *b) {
        return b ? b->callers.n : 0;
}
