/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The simulator's only source of randomness: xoshiro256** seeded through
 * splitmix64, so one 64-bit seed fixes a whole run. */

#include <stdbool.h>
#include <stdint.h>

struct prng {
        uint64_t s[4];
};

void prng_seed(struct prng *p, uint64_t seed);
uint64_t prng_next(struct prng *p);
/* Uniform in [lo, hi]; lo <= hi. */
uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi);
/* True with probability permille / 1000. */
bool prng_chance(struct prng *p, unsigned permille);
