/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftctl: the command line, help texts and dispatch.  See raftctl(1). */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl/ctl.h"
#include "shared/macro.h"

struct command {
        const char *name;
        int (*run)(struct ctl *c);
        int (*check)(const struct ctl *c); /* optional, before connecting */
        unsigned options; /* enum ctl_option bits */
        int min_args, max_args; /* -1: no maximum */
        bool needs_bus;
        bool first_is_name; /* args[0] is a key or lock name: not empty */
        bool posix_order; /* options end at the first argument after the first */
        const char *usage;
        const char *summary;
        const char *details;
};

static const struct command commands[] = {
        {
                .name = "get", .run = ctl_get, .first_is_name = true, .needs_bus = true,
                .options = CTL_OPT_LOCAL | CTL_OPT_RAW, .min_args = 1, .max_args = 1,
                .usage = N_("get KEY"),
                .summary = N_("Print the value of KEY"),
                .details = N_("The value is written raw when standard output is not a terminal or with --raw, and\n"
                              "with C-style escapes otherwise.  A missing key exits with status 3.\n\n"
                              "  -l --local         Read this node's state (possibly stale) instead of a\n"
                              "                     linearizable read\n"
                              "  -r --raw           Write the bytes unchanged even to a terminal\n"),
        },
        {
                .name = "put", .run = ctl_put, .first_is_name = true, .check = ctl_put_check, .needs_bus = true,
                .options = CTL_OPT_FILE | CTL_OPT_LEASE, .min_args = 1, .max_args = 2,
                .usage = N_("put KEY [VALUE|-]"),
                .summary = N_("Set KEY to VALUE and print the revision"),
                .details = N_("The value is the argument, standard input for \"-\", or the file named with\n"
                              "--file; it is stored byte for byte.\n\n"
                              "  -f --file=PATH     Take the value from PATH\n"
                              "     --lease=ID      Bind the key to a lease (see org.raftd1.KV.GrantLease)\n"),
        },
        {
                .name = "del", .run = ctl_del, .first_is_name = true, .needs_bus = true,
                .min_args = 1, .max_args = 1,
                .usage = N_("del KEY"),
                .summary = N_("Delete KEY and print the revision"),
        },
        {
                .name = "cas", .run = ctl_cas, .first_is_name = true, .check = ctl_cas_check, .needs_bus = true,
                .options = CTL_OPT_FILE | CTL_OPT_EXPECTED_FILE | CTL_OPT_ABSENT | CTL_OPT_DELETE,
                .min_args = 1, .max_args = 3,
                .usage = N_("cas KEY [EXPECTED|-] [NEW|-]"),
                .summary = N_("Compare-and-swap: set KEY to NEW if its value is EXPECTED"),
                .details = N_("Prints the revision when the value was swapped; exits with status 4 when the\n"
                              "key's value was not the expected one.\n\n"
                              "     --absent        Expect the key not to exist (no EXPECTED argument)\n"
                              "     --delete        Delete the key instead of setting it (no NEW argument)\n"
                              "     --expected-file=PATH  Take EXPECTED from PATH\n"
                              "  -f --file=PATH     Take NEW from PATH\n"),
        },
        {
                .name = "list", .run = ctl_list, .needs_bus = true,
                .options = CTL_OPT_LOCAL, .min_args = 0, .max_args = 1,
                .usage = N_("list [PREFIX]"),
                .summary = N_("List the keys under PREFIX with their revisions and values"),
                .details = N_("  -l --local         List this node's state (possibly stale)\n"),
        },
        {
                .name = "watch", .run = ctl_watch, .needs_bus = true,
                .min_args = 0, .max_args = 1,
                .usage = N_("watch [PREFIX]"),
                .summary = N_("Print every change of keys under PREFIX as it is applied"),
                .details = N_("Runs until interrupted (exit status 0) or until raftd leaves the bus (status 5).\n"
                              "Keys are selected as by list: those that start with PREFIX.  With --json, one\n"
                              "JSON object per line.\n"),
        },
        {
                /* CMD's own options are not raftctl's. */
                .name = "lock", .run = ctl_lock, .first_is_name = true, .needs_bus = true, .posix_order = true,
                .options = CTL_OPT_TIMEOUT, .min_args = 2, .max_args = -1,
                .usage = N_("lock NAME [--timeout=SEC] [--] CMD [ARG...]"),
                .summary = N_("Run CMD while holding the cluster-wide lock NAME"),
                .details = N_("Waits until the lock is granted, runs CMD with $RAFTD_LOCK_FENCE and\n"
                              "$RAFTD_LOCK_NAME set, and releases the lock when CMD ends; exits with CMD's\n"
                              "status (128+N if a signal N killed it).  If raftctl dies, the lock is released\n"
                              "too.  SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to CMD.\n\n"
                              "  -t --timeout=SEC   Give up after SEC seconds (exit status 5); default: wait\n"
                              "                     as long as it takes\n"),
        },
        {
                .name = "status", .run = ctl_status, .needs_bus = true,
                .min_args = 0, .max_args = 0,
                .usage = N_("status"),
                .summary = N_("Show this node's role, term, leader and the members"),
        },
        {
                .name = "members", .run = ctl_members, .check = ctl_members_check, .needs_bus = true,
                .min_args = 2, .max_args = 3,
                .usage = N_("members add ID ADDRESS:PORT | promote ID | remove ID"),
                .summary = N_("Change the cluster's membership"),
                .details = N_("A new member is added as a learner; promote it to a voter once it has caught\n"
                              "up.\n"),
        },
        {
                .name = "transfer-leader", .run = ctl_transfer_leader, .check = ctl_transfer_leader_check,
                .needs_bus = true, .min_args = 0, .max_args = 1,
                .usage = N_("transfer-leader [ID]"),
                .summary = N_("Hand leadership to member ID (default: the most up-to-date voter)"),
        },
        {
                .name = "snapshot", .run = ctl_snapshot, .needs_bus = true,
                .min_args = 0, .max_args = 0,
                .usage = N_("snapshot"),
                .summary = N_("Take a snapshot on this node now"),
        },
        {
                .name = "backup", .run = ctl_backup, .needs_bus = true,
                .options = CTL_OPT_FORCE, .min_args = 1, .max_args = 1,
                .usage = N_("backup FILE"),
                .summary = N_("Write a consistent backup of the data to FILE"),
                .details = N_("FILE gets mode 0600 and appears only once the backup is complete.\n\n"
                              "     --force         Replace an existing FILE\n"),
        },
        {
                /* Local: no bus. */
                .name = "keygen", .run = ctl_keygen,
                .options = CTL_OPT_FORCE, .min_args = 0, .max_args = 1,
                .usage = N_("keygen [FILE]"),
                .summary = N_("Create a new cluster key file (default /etc/raftd/cluster.key)"),
                .details = N_("Local only; the file gets mode 0600.  Every node of a cluster needs the same\n"
                              "key.\n\n"
                              "     --force         Replace an existing key file\n"),
        },
};

enum {
        ARG_VERSION = 0x100,
        ARG_BUS_ADDRESS,
        ARG_USER,
        ARG_SYSTEM,
        ARG_EXPECTED_FILE,
        ARG_ABSENT,
        ARG_DELETE,
        ARG_LEASE,
        ARG_FORCE,
};

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "json", no_argument, NULL, 'j' },
        { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
        { "user", no_argument, NULL, ARG_USER },
        { "system", no_argument, NULL, ARG_SYSTEM },
        { "file", required_argument, NULL, 'f' },
        { "expected-file", required_argument, NULL, ARG_EXPECTED_FILE },
        { "absent", no_argument, NULL, ARG_ABSENT },
        { "delete", no_argument, NULL, ARG_DELETE },
        { "lease", required_argument, NULL, ARG_LEASE },
        { "local", no_argument, NULL, 'l' },
        { "raw", no_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "force", no_argument, NULL, ARG_FORCE },
        {},
};

static void help_common(FILE *out) {
        fputs(_("Common options:\n"
                "  -h --help             Show this help\n"
                "  -j --json             Print JSON (one document; watch: one object per line)\n"
                "     --bus-address=ADDR Talk to the node on this bus (default: the system bus,\n"
                "                        or $DBUS_SYSTEM_BUS_ADDRESS)\n"
                "     --user             Talk to a node on the user bus\n"
                "     --system           Talk to a node on the system bus (the default)\n"),
              out);
}

static void help(FILE *out) {
        fprintf(out, _("%s [OPTIONS...] COMMAND ...\n\nControl a raftd cluster through the local node "
                       "(D-Bus org.raftd1).\n\nCommands:\n"),
                program_invocation_short_name);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                const char *usage = _(commands[i].usage);

                fputs("  ", out);
                if (ctl_text_width(usage) > 30) {
                        fprintf(out, "%s\n  ", usage);
                        ctl_print_padded(out, "", 30);
                } else
                        ctl_print_padded(out, usage, 30);
                fprintf(out, " %s\n", _(commands[i].summary));
        }
        fputc('\n', out);
        help_common(out);
        fputs(_("     --version          Show the version\n\n"
                "Exit status: 0 success, 1 failure, 2 usage error, 3 no such key or member,\n"
                "4 compare-and-swap not swapped, 5 unavailable or timed out (nothing happened),\n"
                "6 outcome unknown (a write may have been applied), 7 access denied.\n"
                "\"raftctl COMMAND --help\" shows a command's options.  See raftctl(1).\n"),
              out);
}

static void help_command(FILE *out, const struct command *cmd) {
        fprintf(out, _("%s [OPTIONS...] %s\n\n%s.\n\n"), program_invocation_short_name, _(cmd->usage),
                _(cmd->summary));
        if (cmd->details)
                fprintf(out, "%s\n", _(cmd->details));
        help_common(out);
}

static const struct command *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

static int parse_seconds(const char *s, uint64_t *ret_usec) {
        locale_t c_locale;
        char *end;
        double d;

        /* "0.5" whatever the locale's decimal separator: scripts and the
         * manual write it so. */
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
        if (!c_locale)
                return -errno;
        errno = 0;
        d = strtod_l(s, &end, c_locale);
        freelocale(c_locale);
        if (errno != 0 || end == s || *end != 0 || !isfinite(d) || d < 0 || d > 1e9)
                return -EINVAL;
        *ret_usec = (uint64_t) (d * 1e6);
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-')
                return -EINVAL;
        return 0;
}

/* One option; cmd NULL: before the command (only the common ones and the
 * global --help/--version).  Returns -1 to go on, or an exit code. */
static int handle_option(struct ctl *c, const struct command *cmd, int opt, const char *arg,
                         const char *spelled) {
        static const struct {
                int opt;
                unsigned bit;
        } command_options[] = {
                { 'f', CTL_OPT_FILE },     { ARG_EXPECTED_FILE, CTL_OPT_EXPECTED_FILE },
                { ARG_ABSENT, CTL_OPT_ABSENT }, { ARG_DELETE, CTL_OPT_DELETE },
                { ARG_LEASE, CTL_OPT_LEASE }, { 'l', CTL_OPT_LOCAL },
                { 'r', CTL_OPT_RAW },      { 't', CTL_OPT_TIMEOUT },
                { ARG_FORCE, CTL_OPT_FORCE },
        };

        for (size_t i = 0; i < ELEMENTSOF(command_options); i++)
                if (command_options[i].opt == opt && (!cmd || !(cmd->options & command_options[i].bit))) {
                        if (cmd)
                                ctl_error(_("Option %s does not apply to '%s'; see raftctl %s --help"), spelled,
                                          cmd->name, cmd->name);
                        else
                                ctl_error(_("Option %s belongs after the command; see raftctl --help"), spelled);
                        return CTL_EXIT_USAGE;
                }

        switch (opt) {
        case 'h':
                if (cmd)
                        help_command(stdout, cmd);
                else
                        help(stdout);
                return CTL_EXIT_OK;
        case ARG_VERSION:
                printf("raftctl %s\n", PACKAGE_VERSION);
                return CTL_EXIT_OK;
        case 'j':
                c->json = true;
                break;
        case ARG_BUS_ADDRESS:
                c->bus_kind = CTL_BUS_ADDRESS;
                c->bus_address = arg;
                break;
        case ARG_USER:
                c->bus_kind = CTL_BUS_USER;
                break;
        case ARG_SYSTEM:
                c->bus_kind = CTL_BUS_SYSTEM;
                break;
        case 'f':
                c->file = arg;
                break;
        case ARG_EXPECTED_FILE:
                c->expected_file = arg;
                break;
        case ARG_ABSENT:
                c->expect_absent = true;
                break;
        case ARG_DELETE:
                c->swap_to_absent = true;
                break;
        case ARG_LEASE:
                if (parse_u64(arg, &c->lease) < 0) {
                        ctl_error(_("Invalid lease id \"%s\": expected a number"), arg);
                        return CTL_EXIT_USAGE;
                }
                break;
        case 'l':
                c->local = true;
                break;
        case 'r':
                c->raw = true;
                break;
        case 't':
                if (parse_seconds(arg, &c->timeout_usec) < 0) {
                        ctl_error(_("Invalid timeout \"%s\": expected seconds, e.g. 10 or 0.5"), arg);
                        return CTL_EXIT_USAGE;
                }
                c->has_timeout = true;
                break;
        case ARG_FORCE:
                c->force = true;
                break;
        case ':':
                ctl_error(_("Option %s needs an argument"), spelled);
                return CTL_EXIT_USAGE;
        default:
                ctl_error(_("Unknown option %s; see raftctl --help"), spelled);
                return CTL_EXIT_USAGE;
        }
        return -1;
}

/* getopt_long over argv[0..argc): argv[0] is skipped (the program or the
 * command name).  posix: stop at the first non-option.  Returns -1 and the
 * index of the first argument left in *ret_index, or an exit code. */
static int parse(struct ctl *c, const struct command *cmd, int argc, char **argv, bool posix, int *ret_index) {
        int opt, r;

        optind = 0; /* full reinitialisation: each part is parsed on its own */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, posix ? "+:hjf:lrt:" : ":hjf:lrt:", options, NULL)) >= 0) {
                char spelled[64];
                const char *current = argv[optind - 1];

                if (opt == '?' || opt == ':') {
                        if (optopt && optopt < 0x100)
                                (void) snprintf(spelled, sizeof(spelled), "-%c", optopt);
                        else
                                (void) snprintf(spelled, sizeof(spelled), "%s", current);
                } else if (opt < 0x100)
                        (void) snprintf(spelled, sizeof(spelled), "-%c", opt);
                else
                        (void) snprintf(spelled, sizeof(spelled), "%s", current);
                r = handle_option(c, cmd, opt, optarg, spelled);
                if (r >= 0)
                        return r;
        }
        *ret_index = optind;
        return -1;
}

static int parse_command_line(struct ctl *c, int argc, char **argv, const struct command **ret_cmd) {
        const struct command *cmd;
        char **rest;
        int n, index, r;

        /* Common options may come before the command. */
        r = parse(c, NULL, argc, argv, true, &index);
        if (r >= 0)
                return r;
        if (index >= argc) {
                ctl_error(_("No command given; see raftctl --help"));
                return CTL_EXIT_USAGE;
        }
        cmd = find_command(argv[index]);
        if (!cmd) {
                ctl_error(_("Unknown command '%s'; see raftctl --help"), argv[index]);
                return CTL_EXIT_USAGE;
        }
        rest = argv + index;
        n = argc - index;
        if (cmd->posix_order) {
                /* lock [OPTIONS] NAME [OPTIONS] [--] CMD...: options may
                 * come before and after NAME, never inside CMD. */
                r = parse(c, cmd, n, rest, true, &index);
                if (r >= 0)
                        return r;
                if (index < n) {
                        char **name = rest + index;
                        int name_index = index;

                        r = parse(c, cmd, n - index, name, true, &index);
                        if (r >= 0)
                                return r;
                        /* Move NAME next to CMD: it is args[0], CMD follows. */
                        name[index - 1] = rest[name_index];
                        c->args = name + index - 1;
                        c->n_args = n - name_index - index + 1;
                } else {
                        c->args = rest + index;
                        c->n_args = 0;
                }
        } else {
                r = parse(c, cmd, n, rest, false, &index);
                if (r >= 0)
                        return r;
                c->args = rest + index;
                c->n_args = n - index;
        }
        if (c->n_args < cmd->min_args || (cmd->max_args >= 0 && c->n_args > cmd->max_args)) {
                ctl_error(_("Wrong number of arguments; usage: raftctl %s"), _(cmd->usage));
                return CTL_EXIT_USAGE;
        }
        if (cmd->first_is_name && c->args[0][0] == 0) {
                ctl_error(_("The key or lock name must not be empty"));
                return CTL_EXIT_USAGE;
        }
        c->command = cmd->name;
        if (cmd->check) {
                r = cmd->check(c);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        *ret_cmd = cmd;
        return -1;
}

int main(int argc, char **argv) {
        struct ctl c = { .bus_kind = CTL_BUS_SYSTEM };
        const struct command *cmd = NULL;
        int r;

        (void) setlocale(LC_ALL, "");
        (void) bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        /* A reader that goes away (raftctl list | head) ends us quietly. */
        (void) signal(SIGPIPE, SIG_DFL);

        r = parse_command_line(&c, argc, argv, &cmd);
        if (r >= 0)
                return r;
        if (cmd->needs_bus) {
                r = ctl_connect(&c);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        r = cmd->run(&c);
        sd_bus_flush_close_unref(c.bus);
        return r;
}
