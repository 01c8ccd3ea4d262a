/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How fast raftd-check's register checker decides a long history: a
 * generated linearizable one (valid), and with -c the same with one read
 * near the end made stale - changed to a value a completed write had
 * overwritten before the read began, which only the search can rule out
 * (violation, window included).
 *
 *   raftd-bench-check [-n OPS] [-k KEYS] [-p CLIENTS] [-f PCT_FAIL] [-u PCT_UNKNOWN] [-s SEED] [-c]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault/check/check.h"
#include "fault/check/history-sim.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Make the last read that can be stale so, and the history must be
 * searched to its end. */
static int corrupt_one_read(struct sim *s) {
        const struct sim_read *rd = NULL;
        uint64_t v = 0;

        for (size_t i = s->n_reads; i > 0 && v == 0; i--) {
                rd = &s->reads[i - 1];
                v = sim_stale_value(s, rd);
        }
        if (v == 0)
                return -ENOENT;
        return sim_set_read(s, rd, v);
}

int main(int argc, char **argv) {
        struct sim s = { .rng = 1, .n_keys = 1, .n_clients = 5, .pct_fail = 2, .pct_unknown = 1 };
        size_t ops = 20000;
        bool corrupt = false;
        struct history_error error;
        struct check_result res = {};
        struct history *h = NULL;
        double t0, t1, t2;
        char *text;
        int c, r;

        while ((c = getopt(argc, argv, "n:k:p:f:u:s:c")) >= 0)
                switch (c) {
                case 'n':
                        ops = strtoull(optarg, NULL, 10);
                        break;
                case 'k':
                        s.n_keys = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'p':
                        s.n_clients = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'f':
                        s.pct_fail = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'u':
                        s.pct_unknown = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        s.rng = strtoull(optarg, NULL, 10);
                        break;
                case 'c':
                        corrupt = true;
                        break;
                default:
                        fprintf(stderr, "usage: raftd-bench-check [-n OPS] [-k KEYS 1-4] [-p CLIENTS 1-8] "
                                        "[-f PCT_FAIL] [-u PCT_UNKNOWN] [-s SEED] [-c]\n");
                        return 2;
                }
        if (s.n_keys < 1 || s.n_keys > 4 || s.n_clients < 1 || s.n_clients > 8) {
                fprintf(stderr, "raftd-bench-check: 1-4 keys and 1-8 clients\n");
                return 2;
        }
        printf("%zu ops, %u key(s), %u clients, %u%% fail, %u%% unknown, seed %" PRIu64 "%s\n", ops, s.n_keys,
               s.n_clients, s.pct_fail, s.pct_unknown, s.rng, corrupt ? ", last read stale" : "");
        r = sim_run(&s, ops);
        if (r >= 0 && corrupt)
                r = corrupt_one_read(&s);
        text = r >= 0 ? sim_text(&s) : NULL;
        if (!text) {
                fprintf(stderr, "raftd-bench-check: cannot generate the history: %s\n", strerror(r < 0 ? -r : ENOMEM));
                sim_done(&s);
                return 1;
        }
        t0 = now_s();
        r = history_parse(text, strlen(text), &h, &error);
        t1 = now_s();
        if (r < 0) {
                fprintf(stderr, "raftd-bench-check: line %zu: %s\n", error.line_no, error.message);
                return 1;
        }
        r = check_register(h, CHECK_DEFAULT_BUDGET, &res);
        t2 = now_s();
        if (r < 0) {
                fprintf(stderr, "raftd-bench-check: %s\n", strerror(-r));
                return 1;
        }
        printf("  history: %zu lines, %zu bytes\n", s.n_lines, strlen(text));
        printf("  parse:   %.3f s\n", t1 - t0);
        printf("  check:   %.3f s, %" PRIu64 " model steps, %s\n", t2 - t1, res.search_steps,
               res.verdict == CHECK_VALID ? "valid" : res.verdict == CHECK_VIOLATION ? "violation" : "undecided");
        if (res.verdict == CHECK_VIOLATION)
                printf("  window:  %zu lines\n", res.findings[0].n_events);
        check_result_done(&res);
        history_free(h);
        free(text);
        sim_done(&s);
        return 0;
}
