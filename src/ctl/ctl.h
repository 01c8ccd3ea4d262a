/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* raftctl: a D-Bus client of the local raftd node (org.raftd1).  It never
 * opens a network socket; keygen is the one local-only command.  The parts
 * share this header: the parsed command line, the exit codes, the bus
 * connection and error mapping, value input and output formatting. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#define CTL_BUS_NAME "org.raftd1"
#define CTL_BUS_PATH "/org/raftd1"
#define CTL_IFACE_KV "org.raftd1.KV"
#define CTL_IFACE_LOCK "org.raftd1.Lock"
#define CTL_IFACE_CLUSTER "org.raftd1.Cluster"

/* Documented in raftctl(1) and docs/raftctl.md; scripts depend on them. */
enum ctl_exit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_NOT_FOUND = 3,       /* no such key, member or lease */
        CTL_EXIT_CAS_FAILED = 4,      /* cas: the expectation did not hold */
        CTL_EXIT_UNAVAILABLE = 5,     /* no quorum, busy, lock or call timeout, no daemon: nothing happened */
        CTL_EXIT_OUTCOME_UNKNOWN = 6, /* a write may or may not have been applied */
        CTL_EXIT_ACCESS_DENIED = 7,
};

/* Options a command may accept (a command lists its own in its table entry;
 * the bus and output options are accepted by every command). */
enum ctl_option {
        CTL_OPT_FILE = 1u << 0,
        CTL_OPT_EXPECTED_FILE = 1u << 1,
        CTL_OPT_ABSENT = 1u << 2,
        CTL_OPT_DELETE = 1u << 3,
        CTL_OPT_LEASE = 1u << 4,
        CTL_OPT_LOCAL = 1u << 5,
        CTL_OPT_RAW = 1u << 6,
        CTL_OPT_TIMEOUT = 1u << 7,
        CTL_OPT_FORCE = 1u << 8,
};

enum ctl_bus_kind {
        CTL_BUS_SYSTEM,
        CTL_BUS_USER,
        CTL_BUS_ADDRESS,
};

struct ctl {
        /* Common to every command. */
        bool json;
        enum ctl_bus_kind bus_kind;
        const char *bus_address;
        sd_bus *bus; /* connected before a command that needs it runs */

        /* Command options; which are allowed depends on the command. */
        const char *file;
        const char *expected_file;
        bool expect_absent;
        bool swap_to_absent;
        uint64_t lease;
        bool local;
        bool raw;
        bool has_timeout;
        uint64_t timeout_usec;
        bool force;

        /* The command and its positional arguments. */
        const char *command;
        char **args;
        int n_args;
};

/* ctl-bus.c */
/* Connect c->bus as the options say; returns an exit code. */
int ctl_connect(struct ctl *c);
/* Print why a call failed (gettext'd, with the node's details where they
 * help) and return the exit code for it.  writes: the call changes state, so
 * a lost reply means the outcome is unknown rather than that nothing
 * happened. */
int ctl_call_failed(const char *what, const sd_bus_error *error, int r, bool writes);
int ctl_call(struct ctl *c, const char *iface, const char *member, uint64_t timeout_usec, sd_bus_message **reply,
             sd_bus_error *error, const char *types, ...);
int ctl_parse_failed(int r);
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ctl-value.c */
struct ctl_value {
        uint8_t *data;
        size_t len;
};
void ctl_value_done(struct ctl_value *v);
/* From an argument, "-" (stdin) or a file; returns an exit code. */
int ctl_value_from_arg(const char *arg, struct ctl_value *ret);
int ctl_value_from_file(const char *path, struct ctl_value *ret);

/* ctl-output.c */
bool ctl_utf8_valid(const void *p, size_t len);
/* A JSON string literal. */
void ctl_json_string(FILE *f, const void *p, size_t len);
/* ,"value":"..." for UTF-8 values, ,"value_base64":"..." otherwise. */
void ctl_json_value_field(FILE *f, const void *p, size_t len);
/* Printable for a terminal: C escapes for control bytes, backslash and
 * bytes that are not UTF-8. */
void ctl_escaped(FILE *f, const void *p, size_t len);
int ctl_flush_stdout(void);
/* Width on a terminal, in columns (bytes if s is not valid in the locale). */
size_t ctl_text_width(const char *s);
/* s, then spaces up to width columns. */
void ctl_print_padded(FILE *f, const char *s, size_t width);

/* Argument checks that need more than a count, run before connecting:
 * each returns an exit code. */
int ctl_put_check(const struct ctl *c);
int ctl_cas_check(const struct ctl *c);
int ctl_members_check(const struct ctl *c);
int ctl_transfer_leader_check(const struct ctl *c);

/* Commands: each returns an exit code. */
int ctl_get(struct ctl *c);
int ctl_put(struct ctl *c);
int ctl_del(struct ctl *c);
int ctl_cas(struct ctl *c);
int ctl_list(struct ctl *c);
int ctl_watch(struct ctl *c);
int ctl_lock(struct ctl *c);
int ctl_status(struct ctl *c);
int ctl_members(struct ctl *c);
int ctl_transfer_leader(struct ctl *c);
int ctl_snapshot(struct ctl *c);
int ctl_backup(struct ctl *c);
int ctl_keygen(struct ctl *c);
