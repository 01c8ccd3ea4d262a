/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd-check: judge a fault-suite history (docs/fault-history.md).
 * Exit 0 valid, 1 violation found, 2 bad input or usage, 3 undecided. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fault/check/check.h"
#include "shared/macro.h"

enum {
        EXIT_VALID = 0,
        EXIT_VIOLATION = 1,
        EXIT_BAD_INPUT = 2,
        EXIT_UNDECIDED = 3,
};

static void usage(FILE *f) {
        fprintf(f, _("Usage: raftd-check [--workload=register|set|lock|exactly-once|auto] [--budget=N] FILE\n"
                     "Check a raftd fault-suite history.\n\n"
                     "  --workload=W  which checkers to run (default: auto, from the operations)\n"
                     "  --budget=N    model steps the linearizability search may try per key\n"
                     "                (default %" PRIu64 ")\n\n"
                     "Exit status: 0 valid, 1 violation found, 2 bad input or usage,\n"
                     "3 undecided (search budget exhausted, or nothing to check against).\n"),
                CHECK_DEFAULT_BUDGET);
}

static void print_finding(const struct history *h, const struct check_finding *f) {
        printf("%s: %s\n", f->verdict == CHECK_VIOLATION ? _("VIOLATION") : _("UNDECIDED"), f->message);
        for (size_t i = 0; i < f->n_events; i++) {
                const struct event *e = &h->events[f->events[i]];

                printf("  %6zu: %s\n", e->line_no, e->text);
        }
}

static int parse_budget(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        *ret = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || *ret == 0)
                return -EINVAL;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "workload", required_argument, NULL, 'w' },
                { "budget", required_argument, NULL, 'b' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(history_freep) struct history *h = NULL;
        struct check_result res = {};
        struct history_error error;
        enum workload w = WORKLOAD_AUTO;
        uint64_t budget = CHECK_DEFAULT_BUDGET;
        const char *path, *a, *b;
        int c, r;

        (void) setlocale(LC_ALL, "");
        (void) bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'w':
                        if (workload_from_string(optarg, &w) < 0) {
                                fprintf(stderr, _("raftd-check: unknown workload '%s'\n"), optarg);
                                return EXIT_BAD_INPUT;
                        }
                        break;
                case 'b':
                        if (parse_budget(optarg, &budget) < 0) {
                                fprintf(stderr, _("raftd-check: the budget '%s' is not a positive number\n"), optarg);
                                return EXIT_BAD_INPUT;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_VALID;
                default:
                        usage(stderr);
                        return EXIT_BAD_INPUT;
                }
        if (optind + 1 != argc) {
                usage(stderr);
                return EXIT_BAD_INPUT;
        }
        path = argv[optind];

        r = history_parse_file(path, &h, &error);
        if (r < 0) {
                if (error.line_no > 0)
                        fprintf(stderr, _("raftd-check: %s:%zu: %s\n"), path, error.line_no, error.message);
                else
                        fprintf(stderr, "raftd-check: %s\n", error.message);
                return EXIT_BAD_INPUT;
        }
        if (w == WORKLOAD_AUTO && workload_detect(h, &w, &a, &b) < 0) {
                fprintf(stderr, _("raftd-check: %s: the history mixes workloads ('%s' and '%s' lines); choose one with --workload\n"),
                        path, a, b);
                return EXIT_BAD_INPUT;
        }
        if (!workload_admits(h, w, &a)) {
                fprintf(stderr, _("raftd-check: %s: the %s workload has no '%s' lines\n"), path, workload_to_string(w), a);
                return EXIT_BAD_INPUT;
        }
        r = check_history(h, w, budget, &res);
        if (r < 0) {
                fprintf(stderr, _("raftd-check: %s: checking failed: %s\n"), path, strerror(-r));
                check_result_done(&res);
                return EXIT_BAD_INPUT;
        }
        for (size_t i = 0; i < res.n_findings; i++)
                print_finding(h, &res.findings[i]);
        switch (res.verdict) {
        case CHECK_VALID:
                printf(_("%s: valid (%s workload, %zu operations, seed %" PRIu64 ")\n"), path, workload_to_string(w),
                       h->n_ops, h->seed);
                r = EXIT_VALID;
                break;
        case CHECK_VIOLATION:
                printf(_("%s: NOT VALID: %zu findings (%s workload, seed %" PRIu64 ")\n"), path, res.n_findings,
                       workload_to_string(w), h->seed);
                r = EXIT_VIOLATION;
                break;
        default:
                printf(_("%s: undecided (%s workload, seed %" PRIu64 ")\n"), path, workload_to_string(w), h->seed);
                r = EXIT_UNDECIDED;
        }
        check_result_done(&res);
        return r;
}
