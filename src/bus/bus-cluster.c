/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.raftd1.Cluster: the node's view of the cluster as properties, and
 * the admin methods. */

#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "bus-internal.h"
#include "shared/macro.h"

/* Index changes on a busy node are announced at most this often; role,
 * term and leader changes at once. */
#define STATUS_COALESCE_SEC 0.1

static const char *role_name(enum raftd_role r) {
        switch (r) {
        case RAFTD_LEADER:
                return "leader";
        case RAFTD_CANDIDATE:
                return "candidate";
        default:
                return "follower";
        }
}

static int property_get_status(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct raftd_status s;

        raftd_status(b->node, &s);
        if (strcmp(property, "Role") == 0)
                return sd_bus_message_append(reply, "s", role_name(s.role));
        if (strcmp(property, "NodeId") == 0)
                return sd_bus_message_append(reply, "t", s.id);
        if (strcmp(property, "Term") == 0)
                return sd_bus_message_append(reply, "t", s.term);
        if (strcmp(property, "Leader") == 0)
                return sd_bus_message_append(reply, "t", s.leader);
        if (strcmp(property, "CommitIndex") == 0)
                return sd_bus_message_append(reply, "t", s.commit_index);
        if (strcmp(property, "AppliedIndex") == 0)
                return sd_bus_message_append(reply, "t", s.applied_index);
        return -ENOENT;
}

static int property_get_members(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct raftd_member members[BUS_MEMBERS_MAX];
        int n, r;

        n = raftd_members(b->node, members, BUS_MEMBERS_MAX);
        if (n < 0)
                return n;
        r = sd_bus_message_open_container(reply, 'a', "(tbbtb)");
        if (r < 0)
                return r;
        for (int i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "(tbbtb)", members[i].id, (int) members[i].voter,
                                          (int) members[i].leader, members[i].match, (int) members[i].reachable);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static bool members_equal(const struct raftd_member *a, const struct raftd_member *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (a[i].id != b[i].id || a[i].voter != b[i].voter || a[i].leader != b[i].leader ||
                    a[i].match != b[i].match || a[i].reachable != b[i].reachable)
                        return false;
        return true;
}

/* Announce what differs from the last announcement. */
static void announce(struct bus *b) {
        struct raftd_member members[BUS_MEMBERS_MAX];
        const char *changed[8];
        struct raftd_status s;
        size_t k = 0;
        int n, r;

        ev_timer_stop(b->loop, &b->status_timer);
        raftd_status(b->node, &s);
        n = raftd_members(b->node, members, BUS_MEMBERS_MAX);
        if (s.role != b->announced.role)
                changed[k++] = "Role";
        if (s.term != b->announced.term)
                changed[k++] = "Term";
        if (s.leader != b->announced.leader)
                changed[k++] = "Leader";
        if (s.commit_index != b->announced.commit_index)
                changed[k++] = "CommitIndex";
        if (s.applied_index != b->announced.applied_index)
                changed[k++] = "AppliedIndex";
        if (n >= 0 && ((size_t) n != b->n_members || !members_equal(members, b->members, (size_t) n))) {
                changed[k++] = "Members";
                memcpy(b->members, members, (size_t) n * sizeof(members[0]));
                b->n_members = (size_t) n;
        }
        changed[k] = NULL;
        b->announced = s;
        if (k == 0 || b->broken)
                return;
        r = sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, "org.raftd1.Cluster", (char **) changed);
        if (r < 0)
                log_sink_errno(&b->log, LOG_WARNING, r, _("Failed to emit PropertiesChanged: %s"), strerror(-r));
}

static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        announce(w->data);
}

void bus_cluster_status(void *userdata, const struct raftd_status *s) {
        struct bus *b = userdata;

        if (b->options.status_changed)
                b->options.status_changed(b->options.userdata, s);
        if (s->role != b->announced.role || s->term != b->announced.term || s->leader != b->announced.leader)
                announce(b);
        else if (!ev_is_active(&b->status_timer))
                /* Members' match indexes and reachability ride along. */
                ev_timer_start(b->loop, &b->status_timer);
}

void bus_cluster_start(struct bus *b) {
        struct raftd_member members[BUS_MEMBERS_MAX];
        int n;

        ev_timer_init(&b->status_timer, on_status_timer, STATUS_COALESCE_SEC, 0.);
        b->status_timer.data = b;
        raftd_status(b->node, &b->announced);
        n = raftd_members(b->node, members, BUS_MEMBERS_MAX);
        if (n > 0) {
                memcpy(b->members, members, (size_t) n * sizeof(members[0]));
                b->n_members = (size_t) n;
        }
}

void bus_cluster_stop(struct bus *b) {
        ev_timer_stop(b->loop, &b->status_timer);
}

static int member_method(sd_bus_message *m, struct bus *b, sd_bus_error *error, enum raftd_member_op op) {
        const char *address = NULL;
        uint64_t id, flags;
        struct bus_call *c;
        int r;

        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        if (op == RAFTD_MEMBER_ADD_LEARNER) {
                r = sd_bus_message_read(m, "s", &address);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_read(m, "t", &flags);
        if (r < 0)
                return r;
        if (id == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, _("Argument 'id' must not be 0."));
        if (address && !strchr(address, ':'))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         _("Argument 'address' must be host:port, got '%s'."), address);
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_ADMIN, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_MEMBER);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_member_change(b->node, op, id, address, bus_call_reply_empty, c), error);
}

static int method_add_member(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return member_method(m, userdata, error, RAFTD_MEMBER_ADD_LEARNER);
}

static int method_promote_member(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return member_method(m, userdata, error, RAFTD_MEMBER_PROMOTE);
}

static int method_remove_member(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return member_method(m, userdata, error, RAFTD_MEMBER_REMOVE);
}

static int method_transfer_leadership(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        uint64_t target, flags;
        int r;

        r = sd_bus_message_read(m, "tt", &target, &flags);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_ADMIN, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, BUS_ERROR_NO_SUCH_MEMBER);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_transfer_leadership(b->node, target, bus_call_reply_empty, c), error);
}

static int method_snapshot(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bus *b = userdata;
        struct bus_call *c;
        uint64_t flags;
        int r;

        r = sd_bus_message_read(m, "t", &flags);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;

        r = bus_authorize(b, m, BUS_ACCESS_ADMIN, error);
        if (r != 0)
                return r;

        c = bus_call_new(b, m, NULL);
        if (!c)
                return -ENOMEM;
        return bus_call_submitted(c, raftd_snapshot(b->node, bus_call_reply_u64, c), error);
}

static int method_backup(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int copy = -1;
        struct bus *b = userdata;
        struct bus_call *c;
        struct stat st;
        uint64_t flags;
        int fd, mode, r;

        r = sd_bus_message_read(m, "ht", &fd, &flags);
        if (r < 0)
                return r;
        r = bus_check_flags(flags, 0, error);
        if (r < 0)
                return r;
        /* The image is written from the loop: a pipe whose reader stalls
         * would stall the node, so only files are accepted. */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Argument 'fd' must be a regular file opened for writing."));
        mode = fcntl(fd, F_GETFL);
        if (mode < 0)
                return -errno;
        if ((mode & O_ACCMODE) == O_RDONLY)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        _("Argument 'fd' must be opened for writing."));

        r = bus_authorize(b, m, BUS_ACCESS_ADMIN, error);
        if (r != 0)
                return r;

        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -errno;
        c = bus_call_new(b, m, NULL);
        if (!c)
                return -ENOMEM;
        c->backup_fd = TAKE_FD(copy);
        r = raftd_backup(b->node, c->backup_fd, bus_call_reply_u64, c);
        if (r < 0) {
                bus_call_free(c);
                return bus_error_from_errno(b, error, r, NULL);
        }
        return 1;
}

#define STATUS_PROPERTY(name, sig)                                                                                     \
        SD_BUS_PROPERTY(name, sig, property_get_status, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

const sd_bus_vtable bus_cluster_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("NodeId", "t", property_get_status, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        STATUS_PROPERTY("Role", "s"),
        STATUS_PROPERTY("Term", "t"),
        STATUS_PROPERTY("Leader", "t"),
        STATUS_PROPERTY("CommitIndex", "t"),
        STATUS_PROPERTY("AppliedIndex", "t"),
        SD_BUS_PROPERTY("Members", "a(tbbtb)", property_get_members, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("AddMember", SD_BUS_ARGS("t", id, "s", address, "t", flags), SD_BUS_NO_RESULT,
                                method_add_member, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PromoteMember", SD_BUS_ARGS("t", id, "t", flags), SD_BUS_NO_RESULT,
                                method_promote_member, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveMember", SD_BUS_ARGS("t", id, "t", flags), SD_BUS_NO_RESULT,
                                method_remove_member, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TransferLeadership", SD_BUS_ARGS("t", target, "t", flags), SD_BUS_NO_RESULT,
                                method_transfer_leadership, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Snapshot", SD_BUS_ARGS("t", flags), SD_BUS_RESULT("t", index), method_snapshot,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Backup", SD_BUS_ARGS("h", fd, "t", flags), SD_BUS_RESULT("t", index), method_backup,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
