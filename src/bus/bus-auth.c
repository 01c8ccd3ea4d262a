/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization from the sender's credentials: the bus driver vouches for
 * the uid, so a client cannot claim another. */

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

int bus_authorize(struct bus *b, sd_bus_message *m, enum bus_access access, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, _("Cannot determine the caller's credentials: %s"),
                                               strerror(-r));
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, _("Cannot determine the caller's user id: %s"),
                                               strerror(-r));
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
