/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status, members, transfer-leader, snapshot, backup: org.raftd1.Cluster. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

#define MEMBERS_MAX 256

struct member {
        uint64_t id, match;
        int voter, leader, reachable;
};

struct cluster_status {
        uint64_t node_id, term, leader, commit_index, applied_index;
        char *role;
        struct member members[MEMBERS_MAX];
        size_t n_members;
};

static int read_members(sd_bus_message *m, struct cluster_status *s) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(tbbtb)");
        if (r < 0)
                return r;
        for (;;) {
                struct member x;

                r = sd_bus_message_read(m, "(tbbtb)", &x.id, &x.voter, &x.leader, &x.match, &x.reachable);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (s->n_members < MEMBERS_MAX)
                        s->members[s->n_members++] = x;
        }
        return sd_bus_message_exit_container(m);
}

static int read_status(struct ctl *c, struct cluster_status *s) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(c->bus, CTL_BUS_NAME, CTL_BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", CTL_IFACE_CLUSTER);
        if (r < 0)
                return ctl_call_failed(_("status"), &error, r, false);
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0) {
                const char *name;

                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        break;
                if (strcmp(name, "NodeId") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &s->node_id);
                else if (strcmp(name, "Term") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &s->term);
                else if (strcmp(name, "Leader") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &s->leader);
                else if (strcmp(name, "CommitIndex") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &s->commit_index);
                else if (strcmp(name, "AppliedIndex") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &s->applied_index);
                else if (strcmp(name, "Role") == 0) {
                        const char *role;

                        r = sd_bus_message_read(reply, "v", "s", &role);
                        if (r >= 0 && !(s->role = strdup(role)))
                                r = -ENOMEM;
                } else if (strcmp(name, "Members") == 0) {
                        r = sd_bus_message_enter_container(reply, 'v', "a(tbbtb)");
                        if (r >= 0)
                                r = read_members(reply, s);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return ctl_parse_failed(r);
        return CTL_EXIT_OK;
}

/* The node's own role as the bus names it, in the reader's language. */
static const char *node_role(const char *role) {
        if (!role)
                return "?";
        if (strcmp(role, "leader") == 0)
                return _("leader");
        if (strcmp(role, "follower") == 0)
                return _("follower");
        if (strcmp(role, "candidate") == 0)
                return _("candidate");
        return role;
}

static const char *member_role(const struct member *m) {
        return m->leader ? _("leader") : m->voter ? _("voter") : _("learner");
}

int ctl_status(struct ctl *c) {
        struct cluster_status s = {};
        bool is_leader;
        int r;

        r = read_status(c, &s);
        if (r != CTL_EXIT_OK) {
                free(s.role);
                return r;
        }
        is_leader = s.leader != 0 && s.leader == s.node_id;
        if (c->json) {
                printf("{\"node_id\":%" PRIu64 ",\"role\":", s.node_id);
                ctl_json_string(stdout, s.role ?: "", strlen(s.role ?: ""));
                printf(",\"term\":%" PRIu64 ",\"leader\":%" PRIu64 ",\"commit_index\":%" PRIu64
                       ",\"applied_index\":%" PRIu64 ",\"members\":[",
                       s.term, s.leader, s.commit_index, s.applied_index);
                for (size_t i = 0; i < s.n_members; i++) {
                        const struct member *m = &s.members[i];

                        printf("%s{\"id\":%" PRIu64 ",\"voter\":%s,\"leader\":%s,", i ? "," : "", m->id,
                               m->voter ? "true" : "false", m->leader ? "true" : "false");
                        /* The match index is known on the leader only. */
                        if (is_leader)
                                printf("\"match_index\":%" PRIu64 ",", m->match);
                        else
                                fputs("\"match_index\":null,", stdout);
                        printf("\"reachable\":%s}", m->reachable ? "true" : "false");
                }
                fputs("]}\n", stdout);
        } else {
                /* Whole sentences, so that translations can reorder them. */
                if (s.leader)
                        printf(_("Node %" PRIu64 ": %s, term %" PRIu64 ", leader node %" PRIu64
                                 ", commit index %" PRIu64 ", applied index %" PRIu64 "\n\n"),
                               s.node_id, node_role(s.role), s.term, s.leader, s.commit_index, s.applied_index);
                else
                        printf(_("Node %" PRIu64 ": %s, term %" PRIu64 ", no leader known, commit index %" PRIu64
                                 ", applied index %" PRIu64 "\n\n"),
                               s.node_id, node_role(s.role), s.term, s.commit_index, s.applied_index);
                ctl_print_padded(stdout, _("ID"), 6);
                fputc(' ', stdout);
                ctl_print_padded(stdout, _("ROLE"), 8);
                printf(" %10s  %s\n", _("MATCH"), _("REACHABLE"));
                for (size_t i = 0; i < s.n_members; i++) {
                        const struct member *m = &s.members[i];
                        char match[32] = "-";

                        if (is_leader)
                                (void) snprintf(match, sizeof(match), "%" PRIu64, m->match);
                        printf("%-6" PRIu64 " ", m->id);
                        ctl_print_padded(stdout, member_role(m), 8);
                        printf(" %10s  %s%s\n", match,
                               m->reachable ? _("yes") : _("no"), m->id == s.node_id ? _(" (this node)") : "");
                }
                if (!is_leader && s.n_members > 0)
                        printf(_("\nMatch indexes are known on the leader only: ask node %" PRIu64 ".\n"),
                               s.leader);
        }
        free(s.role);
        return ctl_flush_stdout();
}

static int parse_id(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-') {
                ctl_error(_("Invalid member id \"%s\": expected a positive integer"), s);
                return CTL_EXIT_USAGE;
        }
        return CTL_EXIT_OK;
}

/* members add ID ADDRESS | promote ID | remove ID */
int ctl_members_check(const struct ctl *c) {
        const char *action = c->n_args > 0 ? c->args[0] : "";
        uint64_t id;

        if ((strcmp(action, "add") == 0 && c->n_args != 3) ||
            ((strcmp(action, "promote") == 0 || strcmp(action, "remove") == 0) && c->n_args != 2) ||
            (strcmp(action, "add") != 0 && strcmp(action, "promote") != 0 && strcmp(action, "remove") != 0)) {
                ctl_error(_("Usage: raftctl members add ID ADDRESS:PORT | promote ID | remove ID"));
                return CTL_EXIT_USAGE;
        }
        return parse_id(c->args[1], &id);
}

int ctl_members(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *action = c->args[0];
        uint64_t id;
        int r;

        r = parse_id(c->args[1], &id);
        if (r != CTL_EXIT_OK)
                return r;
        if (strcmp(action, "add") == 0)
                r = ctl_call(c, CTL_IFACE_CLUSTER, "AddMember", 0, &reply, &error, "tst", id, c->args[2],
                             UINT64_C(0));
        else
                r = ctl_call(c, CTL_IFACE_CLUSTER, strcmp(action, "promote") == 0 ? "PromoteMember" : "RemoveMember",
                             0, &reply, &error, "tt", id, UINT64_C(0));
        if (r < 0)
                return ctl_call_failed(c->args[1], &error, r, true);
        if (c->json)
                printf("{\"id\":%" PRIu64 "}\n", id);
        return ctl_flush_stdout();
}

int ctl_transfer_leader_check(const struct ctl *c) {
        uint64_t target;

        return c->n_args > 0 ? parse_id(c->args[0], &target) : CTL_EXIT_OK;
}

int ctl_transfer_leader(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t target = 0, leader = 0;
        int r;

        if (c->n_args > 0) {
                r = parse_id(c->args[0], &target);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        r = ctl_call(c, CTL_IFACE_CLUSTER, "TransferLeadership", 0, &reply, &error, "tt", target, UINT64_C(0));
        if (r < 0)
                return ctl_call_failed(_("transfer-leader"), &error, r, true);
        /* The reply comes once another node leads; this node knows which. */
        sd_bus_error_free(&error);
        r = sd_bus_get_property_trivial(c->bus, CTL_BUS_NAME, CTL_BUS_PATH, CTL_IFACE_CLUSTER, "Leader", &error,
                                        't', &leader);
        if (r < 0)
                return ctl_call_failed(_("transfer-leader"), &error, r, false);
        if (c->json)
                printf("{\"leader\":%" PRIu64 "}\n", leader);
        else
                printf(_("Node %" PRIu64 " leads now.\n"), leader);
        return ctl_flush_stdout();
}

int ctl_snapshot(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t index;
        int r;

        r = ctl_call(c, CTL_IFACE_CLUSTER, "Snapshot", 0, &reply, &error, "t", UINT64_C(0));
        if (r < 0)
                return ctl_call_failed(_("snapshot"), &error, r, false);
        r = sd_bus_message_read(reply, "t", &index);
        if (r < 0)
                return ctl_parse_failed(r);
        if (c->json)
                printf("{\"index\":%" PRIu64 "}\n", index);
        else
                printf(_("Snapshot taken at index %" PRIu64 ".\n"), index);
        return ctl_flush_stdout();
}

/* The node writes into a temporary file next to FILE, which replaces FILE
 * only once the backup is complete and on disk: a failed backup never
 * leaves a truncated file under the name of a good one. */
int ctl_backup(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        const char *path = c->args[0];
        uint64_t index;
        int r;

        if (!c->force && access(path, F_OK) == 0) {
                ctl_error(_("%s exists; use --force to replace it"), path);
                return CTL_EXIT_FAILURE;
        }
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
                ctl_error(_("Out of memory"));
                return CTL_EXIT_FAILURE;
        }
        /* A backup holds every value: readable by its owner only. */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                ctl_error(_("Failed to create %s: %s"), tmp, strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        r = ctl_call(c, CTL_IFACE_CLUSTER, "Backup", 0, &reply, &error, "ht", fd, UINT64_C(0));
        if (r < 0) {
                (void) unlink(tmp);
                return ctl_call_failed(_("backup"), &error, r, false);
        }
        r = sd_bus_message_read(reply, "t", &index);
        if (r < 0) {
                (void) unlink(tmp);
                return ctl_parse_failed(r);
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                ctl_error(_("Failed to store the backup as %s: %s"), path, strerror(errno));
                (void) unlink(tmp);
                return CTL_EXIT_FAILURE;
        }
        if (c->json) {
                fputs("{\"path\":", stdout);
                ctl_json_string(stdout, path, strlen(path));
                printf(",\"index\":%" PRIu64 "}\n", index);
        } else
                printf(_("Backup at index %" PRIu64 " written to %s.\n"), index, path);
        return ctl_flush_stdout();
}
