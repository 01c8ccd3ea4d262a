/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config-value.h"
#include "daemon/config.h"
#include "shared/macro.h"

/* Largest config file we read: a config is small; a huge file is a mistake. */
#define CONFIG_MAX_SIZE (1024 * 1024)

enum value_kind {
        VALUE_STRING,
        VALUE_ADDRESS,
        VALUE_ID,
        VALUE_BOOL,
        VALUE_SIZE,
        VALUE_COUNT,
        VALUE_TIMESPAN_MS,
        VALUE_USERS,
        VALUE_LOG_LEVEL,
};

struct config_key {
        const char *section;
        const char *name;
        enum value_kind kind;
        size_t offset;
        uint64_t max; /* numbers and time spans (ms) */
};

#define KEY(sec, nm, k, field, mx) { sec, nm, k, offsetof(struct daemon_config, field), mx }

static const struct config_key config_keys[] = {
        KEY("Node", "Id", VALUE_ID, id, UINT64_MAX),
        KEY("Node", "Listen", VALUE_ADDRESS, listen, 0),
        KEY("Node", "DataDirectory", VALUE_STRING, data_dir, 0),
        KEY("Node", "ClusterKeyFile", VALUE_STRING, key_file, 0),
        KEY("Node", "Join", VALUE_BOOL, join, 0),
        KEY("Node", "LogLevel", VALUE_LOG_LEVEL, log_level, 0),
        KEY("Limits", "MaxKeyLength", VALUE_SIZE, max_key_len, 1024 * 1024),
        KEY("Limits", "MaxValueSize", VALUE_SIZE, max_value_size, 64 * 1024 * 1024),
        KEY("Limits", "SnapshotEntries", VALUE_COUNT, snapshot_entries, UINT64_MAX),
        KEY("Limits", "SnapshotTrailingEntries", VALUE_COUNT, snapshot_trailing, UINT64_MAX),
        KEY("Timeouts", "HeartbeatSec", VALUE_TIMESPAN_MS, heartbeat_ms, UINT32_MAX),
        KEY("Timeouts", "ElectionSec", VALUE_TIMESPAN_MS, election_ms, UINT32_MAX),
        KEY("Timeouts", "RequestSec", VALUE_TIMESPAN_MS, request_timeout_ms, UINT32_MAX),
        KEY("Timeouts", "SessionTTLSec", VALUE_TIMESPAN_MS, session_ttl_ms, UINT64_MAX / 1000),
        KEY("Access", "ReadUsers", VALUE_USERS, read_users, 0),
        KEY("Access", "WriteUsers", VALUE_USERS, write_users, 0),
        KEY("Access", "LockUsers", VALUE_USERS, lock_users, 0),
        KEY("Access", "AdminUsers", VALUE_USERS, admin_users, 0),
        KEY("Bus", "Address", VALUE_STRING, bus_address, 0),
        KEY("Bus", "UserBus", VALUE_BOOL, user_bus, 0),
};

static const char *const sections[] = { "Node", "Peers", "Limits", "Timeouts", "Access", "Bus" };

int daemon_config_init(struct daemon_config *c, const char *data_dir) {
        struct raftd_config d;

        raftd_config_init(&d);
        *c = (struct daemon_config) {
                .log_level = LOG_INFO,
                .max_key_len = d.max_key_len,
                .max_value_size = d.max_value_size,
                .snapshot_entries = d.snapshot_entries,
                .heartbeat_ms = d.heartbeat_ms,
                .election_ms = d.election_ms,
                .request_timeout_ms = d.request_timeout_ms,
                .session_ttl_ms = d.session_ttl_ms,
                .data_dir = strdup(data_dir ?: DAEMON_STATE_DIR),
                .key_file = strdup(DAEMON_KEY_FILE),
        };
        if (!c->data_dir || !c->key_file) {
                daemon_config_done(c);
                return -ENOMEM;
        }
        return 0;
}

static void users_clear(struct daemon_users *u) {
        free(u->uids);
        *u = (struct daemon_users) {};
}

static void peers_clear(struct daemon_config *c) {
        for (size_t i = 0; i < c->n_peers; i++)
                free(c->peers[i].address);
        free(c->peers);
        c->peers = NULL;
        c->n_peers = 0;
}

void daemon_config_done(struct daemon_config *c) {
        free(c->listen);
        free(c->data_dir);
        free(c->key_file);
        free(c->bus_address);
        peers_clear(c);
        users_clear(&c->read_users);
        users_clear(&c->write_users);
        users_clear(&c->lock_users);
        users_clear(&c->admin_users);
        *c = (struct daemon_config) {};
}

bool daemon_users_contain(const struct daemon_users *u, uid_t uid) {
        if (uid == 0 || u->everyone)
                return true;
        for (size_t i = 0; i < u->n; i++)
                if (u->uids[i] == uid)
                        return true;
        return false;
}

static int users_add(struct daemon_users *u, uid_t uid) {
        uid_t *p;

        if (daemon_users_contain(u, uid) && uid != 0)
                return 0;
        p = reallocarray(u->uids, u->n + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        u->uids = p;
        u->uids[u->n++] = uid;
        return 0;
}

int daemon_config_add_peer(struct daemon_config *c, uint64_t id, const char *address) {
        struct daemon_peer *p;
        char *a;

        /* A later line for the same id replaces the earlier one (overrides). */
        for (size_t i = 0; i < c->n_peers; i++)
                if (c->peers[i].id == id) {
                        a = strdup(address);
                        if (!a)
                                return -ENOMEM;
                        free(c->peers[i].address);
                        c->peers[i].address = a;
                        return 0;
                }
        p = reallocarray(c->peers, c->n_peers + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        c->peers = p;
        a = strdup(address);
        if (!a)
                return -ENOMEM;
        c->peers[c->n_peers++] = (struct daemon_peer) { .id = id, .address = a };
        return 0;
}

/* Where a line came from, for messages. */
struct location {
        const char *path;
        unsigned line;
        const char *section;
        const char *key;
        const struct log_sink *log;
};

__attribute__((format(printf, 2, 3))) static int bad(const struct location *l, const char *fmt, ...) {
        char what[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (l->key)
                log_sink(l->log, LOG_ERR, _("%s:%u: [%s] %s=: %s"), l->path, l->line, l->section, l->key, what);
        else
                log_sink(l->log, LOG_ERR, _("%s:%u: %s"), l->path, l->line, what);
        return -EINVAL;
}

static int parse_users(struct daemon_users *u, const struct location *l, const char *value) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        if (*value == 0) {
                users_clear(u);
                return 0;
        }
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                uid_t uid;

                if (strcmp(w, "*") == 0) {
                        u->everyone = true;
                        continue;
                }
                r = parse_user(w, &uid);
                if (r == -ESRCH)
                        return bad(l, _("no such user \"%s\" (expected user names or numeric uids, or \"*\")"), w);
                if (r < 0)
                        return bad(l, _("invalid uid \"%s\" (expected user names or numeric uids, or \"*\")"), w);
                r = users_add(u, uid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int set_string(char **field, const char *value) {
        char *s = NULL;

        if (*value) {
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
        }
        free(*field);
        *field = s;
        return 0;
}

static int assign(struct daemon_config *c, const struct config_key *k, const struct location *l, const char *value) {
        void *field = (uint8_t *) c + k->offset;
        uint64_t v;
        int r;

        switch (k->kind) {
        case VALUE_STRING:
                if (*value == 0 && (field == &c->data_dir || field == &c->key_file))
                        return bad(l, _("expected a path, got an empty value"));
                return set_string(field, value);
        case VALUE_ADDRESS:
                if (!address_is_valid(value))
                        return bad(l, _("expected a numeric address and port such as 10.0.0.1:7001 or [::1]:7001, got \"%s\""), value);
                return set_string(field, value);
        case VALUE_ID:
                if (parse_uint64(value, &v) < 0 || v == 0)
                        return bad(l, _("expected a node id (a positive integer), got \"%s\""), value);
                *(uint64_t *) field = v;
                return 0;
        case VALUE_BOOL:
                if (parse_boolean(value, field) < 0)
                        return bad(l, _("expected a boolean (yes/no, true/false, 1/0, on/off), got \"%s\""), value);
                return 0;
        case VALUE_SIZE:
                r = parse_size(value, &v);
                if (r < 0 || v == 0 || v > k->max)
                        return bad(l, _("expected a size from 1 to %" PRIu64 " bytes (suffixes K, M, G), got \"%s\""),
                                   k->max, value);
                *(uint64_t *) field = v;
                return 0;
        case VALUE_COUNT:
                if (parse_uint64(value, &v) < 0 || v == 0)
                        return bad(l, _("expected a positive integer, got \"%s\""), value);
                *(uint64_t *) field = v;
                return 0;
        case VALUE_TIMESPAN_MS:
                if (parse_timespan_ms(value, k->max, &v) < 0)
                        return bad(l, _("expected a time span of at least 1ms, such as 100ms, 1.5s or 5min, got \"%s\""),
                                   value);
                *(uint64_t *) field = v;
                return 0;
        case VALUE_USERS:
                return parse_users(field, l, value);
        case VALUE_LOG_LEVEL:
                if (parse_log_level(value, field) < 0)
                        return bad(l, _("expected a log level (emerg, alert, crit, err, warning, notice, info, debug), got \"%s\""),
                                   value);
                return 0;
        }
        return -EINVAL;
}

static int assign_peer(struct daemon_config *c, const struct location *l, const char *key, const char *value) {
        uint64_t id;

        if (parse_uint64(key, &id) < 0 || id == 0)
                return bad(l, _("expected lines of the form ID=ADDRESS:PORT with a positive node id, got key \"%s\""), key);
        if (!address_is_valid(value))
                return bad(l, _("expected a numeric address and port such as 10.0.0.1:7001 or [::1]:7001, got \"%s\""), value);
        return daemon_config_add_peer(c, id, value);
}

static char *strip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = 0;
        return s;
}

static int parse_line(struct daemon_config *c, struct location *l, char *line, const char **section) {
        char *eq, *key, *value;

        line = strip(line);
        if (*line == 0 || *line == '#' || *line == ';')
                return 0;
        l->key = NULL;
        if (*line == '[') {
                size_t n = strlen(line);

                if (n < 3 || line[n - 1] != ']')
                        return bad(l, _("expected a section header such as [Node], got \"%s\""), line);
                line[n - 1] = 0;
                for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                        if (strcmp(line + 1, sections[i]) == 0) {
                                *section = sections[i];
                                return 0;
                        }
                /* Reported once; its keys are skipped, not reported again. */
                *section = "";
                return bad(l, _("unknown section [%s] (expected [Node], [Peers], [Limits], [Timeouts], [Access] or [Bus])"),
                           line + 1);
        }
        eq = strchr(line, '=');
        if (!eq)
                return bad(l, _("expected KEY=VALUE, got \"%s\""), line);
        *eq = 0;
        key = strip(line);
        value = strip(eq + 1);
        if (!*section)
                return bad(l, _("key \"%s\" outside of a section (expected a section header such as [Node] first)"), key);
        if (**section == 0)
                return 0;
        l->section = *section;
        if (strcmp(*section, "Peers") == 0) {
                l->key = key;
                return assign_peer(c, l, key, value);
        }
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (strcmp(config_keys[i].section, *section) == 0 && strcmp(config_keys[i].name, key) == 0) {
                        l->key = key;
                        return assign(c, &config_keys[i], l, value);
                }
        l->key = key;
        return bad(l, _("unknown key (see raftd.conf(5) for the keys of this section)"));
}

int daemon_config_parse(struct daemon_config *c, const char *path, const char *text, const struct log_sink *log) {
        _cleanup_free_ char *copy = strdup(text);
        struct location l = { .path = path, .log = log };
        const char *section = NULL;
        char *line, *p;
        int r = 0, k;

        if (!copy)
                return -ENOMEM;
        /* Line by line, keeping empty lines so the numbers stay right. */
        p = copy;
        while (p) {
                line = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = 0;
                l.line++;
                k = parse_line(c, &l, line, &section);
                if (k == -ENOMEM)
                        return k;
                /* Report every bad line of the file, not just the first. */
                if (k < 0)
                        r = k;
        }
        return r;
}

int daemon_config_load(struct daemon_config *c, const char *path, const struct log_sink *log) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_sink_errno(log, errno == ENOENT ? LOG_DEBUG : LOG_ERR, errno,
                                      _("Failed to open configuration file %s: %m"), path);
        if (fstat(fd, &st) < 0)
                return log_sink_errno(log, LOG_ERR, errno, _("Failed to stat %s: %m"), path);
        if (!S_ISREG(st.st_mode))
                return log_sink_errno(log, LOG_ERR, EINVAL, _("Configuration file %s is not a regular file"), path);
        if (st.st_size > CONFIG_MAX_SIZE)
                return log_sink_errno(log, LOG_ERR, EFBIG, _("Configuration file %s is larger than %d bytes"), path,
                                      CONFIG_MAX_SIZE);
        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, text + len, (size_t) st.st_size - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return log_sink_errno(log, LOG_ERR, errno, _("Failed to read %s: %m"), path);
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        text[len] = 0;
        if (strlen(text) != len)
                return log_sink_errno(log, LOG_ERR, EINVAL, _("Configuration file %s contains a NUL byte"), path);
        return daemon_config_parse(c, path, text, log);
}

int daemon_config_validate(const struct daemon_config *c, const struct log_sink *log) {
        bool self = false;
        int r = 0;

        if (c->id == 0)
                r = log_sink_errno(log, LOG_ERR, EINVAL, _("No node id: set Id= in [Node] or pass --id"));
        if (!c->listen)
                r = log_sink_errno(log, LOG_ERR, EINVAL,
                                   _("No listen address: set Listen= in [Node] or pass --listen (HOST:PORT)"));
        for (size_t i = 0; i < c->n_peers; i++)
                if (c->peers[i].id == c->id) {
                        self = true;
                        if (c->listen && strcmp(c->peers[i].address, c->listen) != 0)
                                log_sink(log, LOG_WARNING,
                                         _("Peer %" PRIu64 " (this node) has address %s but Listen= is %s; "
                                           "the others connect to %s"),
                                         c->id, c->peers[i].address, c->listen, c->peers[i].address);
                }
        if (c->id != 0 && !c->join && !self)
                r = log_sink_errno(log, LOG_ERR, EINVAL,
                                   _("Node %" PRIu64 " is not among its [Peers]: list every initial voter, this node "
                                     "included, or set Join=yes to wait to be added"),
                                   c->id);
        if (c->join && c->n_peers > 0)
                r = log_sink_errno(log, LOG_ERR, EINVAL,
                                   _("Join=yes and [Peers] exclude each other: a joining node starts empty and learns "
                                     "the members from the leader"));
        if (c->election_ms < 2 * c->heartbeat_ms)
                r = log_sink_errno(log, LOG_ERR, EINVAL,
                                   _("ElectionSec= (%" PRIu64 "ms) must be at least twice HeartbeatSec= (%" PRIu64 "ms)"),
                                   c->election_ms, c->heartbeat_ms);
        if (c->bus_address && c->user_bus)
                r = log_sink_errno(log, LOG_ERR, EINVAL, _("[Bus] Address= and UserBus=yes exclude each other"));
        return r;
}

void daemon_config_to_node(const struct daemon_config *c, struct raftd_config *out, struct raftd_peer *peers) {
        raftd_config_init(out);
        out->id = c->id;
        out->data_dir = c->data_dir;
        out->listen = c->listen;
        out->key_file = c->key_file;
        out->join = c->join;
        for (size_t i = 0; i < c->n_peers; i++)
                peers[i] = (struct raftd_peer) { .id = c->peers[i].id, .address = c->peers[i].address };
        out->peers = peers;
        out->n_peers = c->n_peers;
        out->heartbeat_ms = (uint32_t) c->heartbeat_ms;
        out->election_ms = (uint32_t) c->election_ms;
        out->request_timeout_ms = (uint32_t) c->request_timeout_ms;
        out->session_ttl_ms = c->session_ttl_ms;
        out->snapshot_entries = c->snapshot_entries;
        out->snapshot_trailing = c->snapshot_trailing;
        out->max_key_len = c->max_key_len;
        out->max_value_size = c->max_value_size;
}
