/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* raftd's command line, and how it combines with the config file:
 * built-in defaults < $STATE_DIRECTORY < the file < the command line. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "shared/log.h"

struct daemon_args {
        const char *config_path; /* --config; NULL: from --instance, or DAEMON_CONFIG_FILE */
        const char *instance;    /* --instance NAME (raftd@NAME.service) */
        uint64_t id;             /* 0: not given */
        const char *listen;
        const char *data_dir;
        const char *bus_address;
        const char **peers; /* "ID=HOST:PORT" as given */
        size_t n_peers;
        bool no_bus;
        int log_level; /* -1: not given */
};

enum {
        DAEMON_ARGS_RUN = 0,
        DAEMON_ARGS_EXIT = 1, /* --help or --version was answered */
};

/* DAEMON_ARGS_RUN, DAEMON_ARGS_EXIT, or -EINVAL after a log line. */
int daemon_args_parse(struct daemon_args *a, int argc, char **argv, FILE *out, const struct log_sink *log);
void daemon_args_done(struct daemon_args *a);

/* The whole configuration: defaults, the file, the overrides, checked.
 * Used at start and again on reload. */
int daemon_config_read(struct daemon_config *c, const struct daemon_args *a, const struct log_sink *log);
int daemon_config_apply_args(struct daemon_config *c, const struct daemon_args *a, const struct log_sink *log);
/* The config file's path (allocated). */
char *daemon_args_config_path(const struct daemon_args *a);
