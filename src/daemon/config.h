/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* raftd's configuration: a systemd-style INI file (raftd.conf(5), see
 * systemd/raftd.conf.example), then command-line overrides.
 *
 *   [Node]     Id= Listen= DataDirectory= ClusterKeyFile= Join= LogLevel=
 *   [Peers]    one line per initial voter: <id>=<host>:<port>
 *   [Limits]   MaxKeyLength= MaxValueSize= SnapshotEntries=
 *              SnapshotTrailingEntries=
 *   [Timeouts] HeartbeatSec= ElectionSec= RequestSec= SessionTTLSec=
 *   [Access]   ReadUsers= WriteUsers= LockUsers= AdminUsers=
 *   [Bus]      Address= UserBus=
 *
 * Lines are "Key=Value"; '#' and ';' start comments; keys are
 * case-sensitive.  An unknown section or key is an error, not a warning: a
 * typo must not silently leave a default in force.  Every error names the
 * file, the line and the key and says what was expected; the load then
 * fails with -EINVAL.  The *Users= lists take user names or uids separated
 * by spaces, accumulate over repeated lines, and an empty assignment
 * empties the list (as in systemd); "*" allows every user.  root may always
 * do everything. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raftd.h"
#include "shared/log.h"

#define DAEMON_CONFIG_DIR "/etc/raftd"
#define DAEMON_STATE_DIR "/var/lib/raftd"
#define DAEMON_CONFIG_FILE DAEMON_CONFIG_DIR "/raftd.conf"
#define DAEMON_KEY_FILE DAEMON_CONFIG_DIR "/cluster.key"

struct daemon_users {
        uid_t *uids;
        size_t n;
        bool everyone;
};

struct daemon_peer {
        uint64_t id;
        char *address;
};

struct daemon_config {
        uint64_t id;
        char *listen;
        char *data_dir;
        char *key_file;
        bool join;
        int log_level; /* the highest syslog priority logged */

        struct daemon_peer *peers;
        size_t n_peers;

        uint64_t max_key_len;
        uint64_t max_value_size;
        uint64_t snapshot_entries;
        uint64_t snapshot_trailing; /* 0: the library's default */

        uint64_t heartbeat_ms;
        uint64_t election_ms;
        uint64_t request_timeout_ms;
        uint64_t session_ttl_ms;

        struct daemon_users read_users;
        struct daemon_users write_users;
        struct daemon_users lock_users;
        struct daemon_users admin_users;

        char *bus_address; /* NULL: the system bus (or the user bus with user_bus) */
        bool user_bus;
        bool no_bus;       /* command line only: run without the D-Bus front end */
};

/* Defaults: libraftd's timeouts and limits, state in data_dir (may be
 * NULL: DAEMON_STATE_DIR), key in DAEMON_KEY_FILE, access for root only. */
int daemon_config_init(struct daemon_config *c, const char *data_dir);
void daemon_config_done(struct daemon_config *c);

/* Read path over what c holds.  A missing file is -ENOENT with a log line
 * (the caller decides whether that is fatal). */
int daemon_config_load(struct daemon_config *c, const char *path, const struct log_sink *log);
/* Parse a whole file's text; `path` only names it in messages. */
int daemon_config_parse(struct daemon_config *c, const char *path, const char *text, const struct log_sink *log);

/* A complete configuration: an id, a listen address, peers that include
 * this node (unless joining), no duplicate peers, timeouts that make
 * sense.  Logs each problem; -EINVAL if any. */
int daemon_config_validate(const struct daemon_config *c, const struct log_sink *log);

int daemon_config_add_peer(struct daemon_config *c, uint64_t id, const char *address);
bool daemon_users_contain(const struct daemon_users *u, uid_t uid);

/* Fill a libraftd configuration that points into c. */
void daemon_config_to_node(const struct daemon_config *c, struct raftd_config *out, struct raftd_peer *peers);
