/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "prng.h"

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

void prng_seed(struct prng *p, uint64_t seed) {
        for (unsigned i = 0; i < 4; i++)
                p->s[i] = splitmix64(&seed);
}

uint64_t prng_next(struct prng *p) {
        uint64_t *s = p->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi) {
        uint64_t span = hi - lo + 1;

        if (span == 0) /* the full 64-bit range */
                return prng_next(p);
        /* The modulo bias is irrelevant for fault injection. */
        return lo + prng_next(p) % span;
}

bool prng_chance(struct prng *p, unsigned permille) {
        return prng_next(p) % 1000 < permille;
}
