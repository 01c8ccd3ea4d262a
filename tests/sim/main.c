/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raft-sim: run the deterministic Raft cluster simulator over a range of
 * seeds; a failing seed prints the one command that replays it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "sim.h"

static void usage(FILE *f, const char *argv0) {
        fprintf(f, _("usage: %s --seed S [--seeds N] [--steps K] [--nodes M] [--no-disk-stalls] [--verbose]\n"
                     "Runs seeds S .. S+N-1; --verbose prints the story of each run;\n"
                     "--no-disk-stalls turns off the slow disk writes (50..300 ms more) of the fault mix.\n"),
                argv0);
}

/* The verdict and the one command that replays the run exactly. */
static void print_failure(const char *argv0, const struct sim_options *o, const char *failure) {
        char extra[160] = "";

        fflush(stdout); /* the story first, then the verdict */
        if (o->steps != SIM_DEFAULT_STEPS)
                snprintf(extra, sizeof(extra), " --steps %" PRIu64, o->steps);
        if (o->nodes)
                snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --nodes %u", o->nodes);
        if (!o->disk_stalls)
                snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --no-disk-stalls");
        fprintf(stderr, _("seed %" PRIu64 " FAILED: %s\n  replay: %s --seed %" PRIu64 "%s --verbose\n"), o->seed,
                failure, argv0, o->seed, extra);
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno || end == s || *end || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "seed", required_argument, NULL, 's' },
                { "seeds", required_argument, NULL, 'n' },
                { "steps", required_argument, NULL, 'k' },
                { "nodes", required_argument, NULL, 'm' },
                { "verbose", no_argument, NULL, 'v' },
                { "disk-stalls", no_argument, NULL, 'D' },
                { "no-disk-stalls", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct sim_options o = { .seed = 1, .steps = SIM_DEFAULT_STEPS, .disk_stalls = true };
        uint64_t seeds = 1, nodes = 0, failures = 0, steps = 0, sim_ms = 0, leaders = 0, applied = 0;
        int c;

        while ((c = getopt_long(argc, argv, "s:n:k:m:vDdh", options, NULL)) >= 0) {
                uint64_t *target = NULL;

                switch (c) {
                case 's':
                        target = &o.seed;
                        break;
                case 'n':
                        target = &seeds;
                        break;
                case 'k':
                        target = &o.steps;
                        break;
                case 'm':
                        target = &nodes;
                        break;
                case 'v':
                        o.trace = stdout;
                        continue;
                case 'D':
                        o.disk_stalls = true;
                        continue;
                case 'd':
                        o.disk_stalls = false;
                        continue;
                case 'h':
                        usage(stdout, argv[0]);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr, argv[0]);
                        return EXIT_FAILURE;
                }
                if (parse_u64(optarg, target) < 0) {
                        fprintf(stderr, _("%s: invalid number '%s'\n"), argv[0], optarg);
                        return EXIT_FAILURE;
                }
        }
        if (optind < argc || (nodes != 0 && (nodes < 1 || nodes > 5))) {
                usage(stderr, argv[0]);
                return EXIT_FAILURE;
        }
        o.nodes = (unsigned) nodes;

        for (uint64_t i = 0; i < seeds; i++) {
                struct sim_options run = o;
                struct sim_stats st;
                char failure[1024] = "";
                int r;

                run.seed = o.seed + i;
                r = sim_run(&run, &st, failure, sizeof(failure));
                steps += st.steps;
                sim_ms += st.sim_ms;
                leaders += st.leaders;
                applied += st.applied;
                if (o.trace)
                        printf(_("seed %" PRIu64 ": %" PRIu64 " steps, %" PRIu64 "ms simulated, %" PRIu64
                                 " applied, %" PRIu64 " proposals, %" PRIu64 " reads, %" PRIu64 " crashes, %" PRIu64
                                 " snapshots installed, %" PRIu64 " config changes, %" PRIu64 " transfers\n"),
                               run.seed, st.steps, st.sim_ms, st.applied, st.proposals, st.reads, st.crashes,
                               st.snapshots_installed, st.config_changes, st.transfers);
                if (r == 0)
                        continue;
                failures++;
                print_failure(argv[0], &run, failure);
        }
        printf(_("%" PRIu64 " of %" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 ") passed: %" PRIu64 " core steps, %" PRIu64
                 "s simulated, %" PRIu64 " leaders elected, %" PRIu64 " entries applied\n"),
               seeds - failures, seeds, o.seed, o.seed + seeds - 1, steps, sim_ms / 1000, leaders, applied);
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
