/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/args.h"
#include "daemon/config-value.h"
#include "shared/macro.h"

enum {
        ARG_VERSION = 0x100,
        ARG_CONFIG,
        ARG_INSTANCE,
        ARG_ID,
        ARG_LISTEN,
        ARG_DATA_DIR,
        ARG_BUS_ADDRESS,
        ARG_PEER,
        ARG_NO_BUS,
        ARG_LOG_LEVEL,
};

static void help(FILE *out, const char *prog) {
        fprintf(out,
                _("%s [OPTIONS...]\n\n"
                  "Run a raftd node: a member of a Raft key-value and lock cluster,\n"
                  "serving local programs on D-Bus (org.raftd1).\n\n"
                  "  -h --help                Show this help\n"
                  "     --version            Show the version\n"
                  "  -c --config=FILE         Read FILE (default %s)\n"
                  "     --instance=NAME      Instance NAME: %s/NAME.conf, %s/NAME\n"
                  "     --id=N               This node's id\n"
                  "     --listen=HOST:PORT   Address for peer traffic\n"
                  "     --data-dir=DIR       State directory\n"
                  "     --peer=ID=HOST:PORT  An initial voter (repeatable)\n"
                  "     --bus-address=ADDR   Serve on this D-Bus bus instead of the system bus\n"
                  "     --no-bus             Run without the D-Bus front end (embedded-style tests)\n"
                  "     --log-level=LEVEL    emerg, alert, crit, err, warning, notice, info, debug\n\n"
                  "Options override the file.  Exit status: 0 after a clean stop, 1 for a bad\n"
                  "configuration or command line, 2 when the node cannot start, 3 when it\n"
                  "failed while running.  See raftd(8) and raftd.conf(5).\n"),
                prog, DAEMON_CONFIG_FILE, DAEMON_CONFIG_DIR, DAEMON_STATE_DIR);
}

static bool instance_is_valid(const char *s) {
        return *s && *s != '.' && !strchr(s, '/') && strlen(s) <= 200;
}

int daemon_args_parse(struct daemon_args *a, int argc, char **argv, FILE *out, const struct log_sink *log) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "instance", required_argument, NULL, ARG_INSTANCE },
                { "id", required_argument, NULL, ARG_ID },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "data-dir", required_argument, NULL, ARG_DATA_DIR },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "peer", required_argument, NULL, ARG_PEER },
                { "no-bus", no_argument, NULL, ARG_NO_BUS },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                {},
        };
        int opt;

        *a = (struct daemon_args) { .log_level = -1 };
        optind = 0; /* getopt state may be reused (tests parse several times) */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":hc:", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        help(out, program_invocation_short_name);
                        return DAEMON_ARGS_EXIT;
                case ARG_VERSION:
                        fprintf(out, "raftd %s\n", PACKAGE_VERSION);
                        return DAEMON_ARGS_EXIT;
                case 'c':
                        a->config_path = optarg;
                        break;
                case ARG_INSTANCE:
                        if (!instance_is_valid(optarg))
                                return log_sink_errno(log, LOG_ERR, EINVAL,
                                                      _("--instance=%s: expected a name without '/' that does not "
                                                        "start with '.'"),
                                                      optarg);
                        a->instance = optarg;
                        break;
                case ARG_ID:
                        if (parse_uint64(optarg, &a->id) < 0 || a->id == 0)
                                return log_sink_errno(log, LOG_ERR, EINVAL,
                                                      _("--id=%s: expected a node id (a positive integer)"), optarg);
                        break;
                case ARG_LISTEN:
                        if (!address_is_valid(optarg))
                                return log_sink_errno(log, LOG_ERR, EINVAL,
                                                      _("--listen=%s: expected a numeric address and port such as 10.0.0.1:7001 or [::1]:7001"),
                                                      optarg);
                        a->listen = optarg;
                        break;
                case ARG_DATA_DIR:
                        if (!*optarg)
                                return log_sink_errno(log, LOG_ERR, EINVAL, _("--data-dir: expected a directory"));
                        a->data_dir = optarg;
                        break;
                case ARG_BUS_ADDRESS:
                        a->bus_address = optarg;
                        break;
                case ARG_PEER: {
                        const char **p;
                        const char *eq = strchr(optarg, '=');
                        _cleanup_free_ char *id = eq ? strndup(optarg, (size_t) (eq - optarg)) : NULL;
                        uint64_t v;

                        if (!eq || !id || parse_uint64(id, &v) < 0 || v == 0 || !address_is_valid(eq + 1))
                                return log_sink_errno(log, LOG_ERR, EINVAL,
                                                      _("--peer=%s: expected ID=ADDRESS:PORT with a positive node id and a numeric address"),
                                                      optarg);
                        p = reallocarray(a->peers, a->n_peers + 1, sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        a->peers = p;
                        a->peers[a->n_peers++] = optarg;
                        break;
                }
                case ARG_NO_BUS:
                        a->no_bus = true;
                        break;
                case ARG_LOG_LEVEL:
                        if (parse_log_level(optarg, &a->log_level) < 0)
                                return log_sink_errno(log, LOG_ERR, EINVAL,
                                                      _("--log-level=%s: expected emerg, alert, crit, err, warning, "
                                                        "notice, info or debug"),
                                                      optarg);
                        break;
                case ':':
                        return log_sink_errno(log, LOG_ERR, EINVAL, _("Option %s needs an argument"),
                                              argv[optind - 1]);
                default:
                        return log_sink_errno(log, LOG_ERR, EINVAL, _("Unknown option %s (see --help)"),
                                              argv[optind - 1]);
                }
        }
        if (optind < argc)
                return log_sink_errno(log, LOG_ERR, EINVAL, _("Unexpected argument \"%s\" (see --help)"), argv[optind]);
        return DAEMON_ARGS_RUN;
}

void daemon_args_done(struct daemon_args *a) {
        free(a->peers);
        a->peers = NULL;
        a->n_peers = 0;
}

char *daemon_args_config_path(const struct daemon_args *a) {
        char *p;

        if (a->config_path)
                return strdup(a->config_path);
        if (a->instance)
                return asprintf(&p, "%s/%s.conf", DAEMON_CONFIG_DIR, a->instance) < 0 ? NULL : p;
        return strdup(DAEMON_CONFIG_FILE);
}

/* systemd's StateDirectory= hands the directory (or several, ':'
 * separated: the first is ours) in $STATE_DIRECTORY. */
static char *default_data_dir(const struct daemon_args *a) {
        const char *e = getenv("STATE_DIRECTORY");
        char *p;

        if (e && *e)
                return strndup(e, strcspn(e, ":"));
        if (a->instance)
                return asprintf(&p, "%s/%s", DAEMON_STATE_DIR, a->instance) < 0 ? NULL : p;
        return strdup(DAEMON_STATE_DIR);
}

int daemon_config_apply_args(struct daemon_config *c, const struct daemon_args *a, const struct log_sink *log) {
        char *s;
        int r;

        if (a->id)
                c->id = a->id;
        if (a->listen) {
                s = strdup(a->listen);
                if (!s)
                        return -ENOMEM;
                free(c->listen);
                c->listen = s;
        }
        if (a->data_dir) {
                s = strdup(a->data_dir);
                if (!s)
                        return -ENOMEM;
                free(c->data_dir);
                c->data_dir = s;
        }
        if (a->bus_address) {
                s = strdup(a->bus_address);
                if (!s)
                        return -ENOMEM;
                free(c->bus_address);
                c->bus_address = s;
                c->user_bus = false;
        }
        for (size_t i = 0; i < a->n_peers; i++) {
                const char *eq = strchr(a->peers[i], '=');

                r = daemon_config_add_peer(c, strtoull(a->peers[i], NULL, 10), eq + 1);
                if (r < 0)
                        return r;
        }
        if (a->no_bus)
                c->no_bus = true;
        if (a->log_level >= 0)
                c->log_level = a->log_level;
        return 0;
}

int daemon_config_read(struct daemon_config *c, const struct daemon_args *a, const struct log_sink *log) {
        _cleanup_free_ char *path = daemon_args_config_path(a), *data_dir = default_data_dir(a);
        struct daemon_config n;
        int r;

        if (!path || !data_dir)
                return -ENOMEM;
        r = daemon_config_init(&n, data_dir);
        if (r < 0)
                return r;
        r = daemon_config_load(&n, path, log);
        /* Without --config a missing file is fine: everything may come from
         * the command line.  A file named explicitly must exist. */
        if (r == -ENOENT && !a->config_path) {
                log_sink(log, LOG_INFO, _("No configuration file %s, using the command line and defaults"), path);
                r = 0;
        } else if (r == -ENOENT)
                log_sink(log, LOG_ERR, _("Configuration file %s does not exist"), path);
        if (r >= 0)
                r = daemon_config_apply_args(&n, a, log);
        if (r >= 0)
                r = daemon_config_validate(&n, log);
        if (r < 0) {
                daemon_config_done(&n);
                return r;
        }
        *c = n;
        return 0;
}
