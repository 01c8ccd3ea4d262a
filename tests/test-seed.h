/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seed of a randomised test: from the environment variable `env`, or
 * from the clock; printed either way so a failing run can be replayed. */
#pragma once

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t test_seed(const char *env) {
        const char *s = getenv(env);
        uint64_t seed;

        if (s)
                seed = strtoull(s, NULL, 0);
        else {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                seed = (uint64_t) ts.tv_sec * 1000003u ^ (uint64_t) ts.tv_nsec;
        }
        printf("# seed: %s=%" PRIu64 "\n", env, seed);
        fflush(stdout);
        return seed;
}
