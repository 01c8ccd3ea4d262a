/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization from the sender's credentials: the bus driver vouches for
 * the uid, so a client cannot claim another. */

#include <pthread.h>
#include <signal.h>
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

/* The bus driver's word on the sender: with dbus-daemon a message carries
 * no credentials, so sd-bus asks the driver with a synchronous call.  On
 * systemd 252 that call fails with -EINTR when a signal handler runs while
 * it waits (libev's SIGCHLD handler whenever a snapshot child ends, or any
 * signal handler of the embedding program).  Signals wait for the round
 * trip instead: they stay pending and are handled right after.  (Asking
 * again on EINTR is no cure: under a burst of signals every retry is
 * interrupted too, and the late replies fill sd-bus's read queue.) */
static int sender_creds(sd_bus_message *m, uint64_t mask, sd_bus_creds **ret) {
        sigset_t all, saved;
        int r;

        (void) sigfillset(&all);
        r = -pthread_sigmask(SIG_BLOCK, &all, &saved);
        if (r < 0)
                return r;
        r = sd_bus_query_sender_creds(m, mask, ret);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        return r;
}

int bus_authorize_creds(struct bus *b, sd_bus_message *m, enum bus_access access, uint64_t mask,
                        sd_bus_creds **ret_creds, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(m) ?: "?";
        uid_t uid;
        int r;

        r = sender_creds(m, mask | SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0) {
                /* Never allowed without a uid: refused like a uid that is
                 * not on the list, saying why. */
                log_sink_errno(&b->log, LOG_WARNING, r, _("Refused %s.%s from %s: cannot determine its user id: %m"),
                               sd_bus_message_get_interface(m) ?: "*", sd_bus_message_get_member(m), sender);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         _("Cannot determine the caller's user id (%s), so %s is refused."),
                                         strerror(-r), sd_bus_message_get_member(m));
        }
        if (acl_allows(&b->acl[access], uid)) {
                if (ret_creds)
                        *ret_creds = TAKE_PTR(creds);
                return 0;
        }
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

int bus_authorize(struct bus *b, sd_bus_message *m, enum bus_access access, sd_bus_error *error) {
        return bus_authorize_creds(b, m, access, 0, NULL, error);
}
