/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd-fault-client: one client process of the fault suite.  It talks to
 * one node over that node's bus and appends its operations to its own
 * history file (history.h).
 *
 * raftd-fault-client WORKLOAD --bus ADDRESS --history FILE --index N
 *         --process ID --stride S --seed SEED --seconds T
 *         [--keys K] [--name NAME] [--resource SOCKET] [--work-ms MS] [--timeout-ms MS]
 *
 * WORKLOAD: register, register-final, set, set-final, eo-writer,
 * eo-watcher, lock.  Exit status 0, or 1 when the client met something a
 * correct daemon never answers (the run fails). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static const struct {
        const char *name;
        int (*run)(struct client *c);
} workloads[] = {
        { "register", workload_register },   { "register-final", workload_register_final },
        { "set", workload_set },             { "set-final", workload_set_final },
        { "eo-writer", workload_eo_writer }, { "eo-watcher", workload_eo_watcher },
        { "lock", workload_lock },
};

static int parse_u64(const char *arg, const char *what, uint64_t *ret) {
        char *end;

        errno = 0;
        *ret = strtoull(arg, &end, 10);
        if (errno != 0 || *end != 0 || end == arg) {
                fprintf(stderr, "--%s: not a number: %s\n", what, arg);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "bus", required_argument, NULL, 'b' },      { "history", required_argument, NULL, 'H' },
                { "index", required_argument, NULL, 'i' },    { "process", required_argument, NULL, 'p' },
                { "stride", required_argument, NULL, 'S' },   { "seed", required_argument, NULL, 's' },
                { "seconds", required_argument, NULL, 't' },  { "keys", required_argument, NULL, 'k' },
                { "name", required_argument, NULL, 'n' },     { "resource", required_argument, NULL, 'r' },
                { "work-ms", required_argument, NULL, 'w' },  { "timeout-ms", required_argument, NULL, 'T' },
                {},
        };
        struct client c = { .name = "s0", .work_max_ms = 200 };
        const char *bus = NULL, *history = NULL;
        uint64_t process = 0, stride = 1, seed = 0, seconds = 10, keys = 3, timeout_ms = 6000;
        int (*run)(struct client *c) = NULL;
        int opt, r = 0;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (opt) {
                case 'b':
                        bus = optarg;
                        break;
                case 'H':
                        history = optarg;
                        break;
                case 'i':
                        r = parse_u64(optarg, "index", &c.index);
                        break;
                case 'p':
                        r = parse_u64(optarg, "process", &process);
                        break;
                case 'S':
                        r = parse_u64(optarg, "stride", &stride);
                        break;
                case 's':
                        r = parse_u64(optarg, "seed", &seed);
                        break;
                case 't':
                        r = parse_u64(optarg, "seconds", &seconds);
                        break;
                case 'k':
                        r = parse_u64(optarg, "keys", &keys);
                        break;
                case 'n':
                        c.name = optarg;
                        break;
                case 'r':
                        c.resource = optarg;
                        break;
                case 'w':
                        r = parse_u64(optarg, "work-ms", &c.work_max_ms);
                        break;
                case 'T':
                        r = parse_u64(optarg, "timeout-ms", &timeout_ms);
                        break;
                default:
                        return 2;
                }
                if (r < 0)
                        return 2;
        }
        for (size_t i = 0; optind < argc && i < sizeof(workloads) / sizeof(workloads[0]); i++)
                if (strcmp(argv[optind], workloads[i].name) == 0)
                        run = workloads[i].run;
        if (!run || !bus || !history || c.index == 0 || (run == workload_lock && !c.resource)) {
                fprintf(stderr, "usage: %s WORKLOAD --bus ADDRESS --history FILE --index N --process ID "
                                "[--stride S] [--seed SEED] [--seconds T] [--keys K] [--name NAME] "
                                "[--resource SOCKET] [--work-ms MS] [--timeout-ms MS]\n",
                        argv[0]);
                return 2;
        }
        c.keys = (unsigned) keys;
        /* Every client's random stream follows from the run's seed. */
        c.rng = seed ^ (c.index * UINT64_C(0x9e3779b97f4a7c15));
        c.deadline_ns = monotonic_ns() + seconds * UINT64_C(1000000000);

        r = history_open(&c.history, history, process, stride);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", history, strerror(-r));
                return 1;
        }
        r = caller_connect(&c.caller, bus, timeout_ms * 1000);
        if (r < 0) {
                fprintf(stderr, "cannot connect to %s: %s\n", bus, strerror(-r));
                history_close(&c.history);
                return 1;
        }
        r = run(&c);
        caller_close(&c.caller);
        history_close(&c.history);
        if (r < 0) {
                fprintf(stderr, "%s client %" PRIu64 " failed: %s\n", argv[optind], c.index, strerror(-r));
                return 1;
        }
        return 0;
}
