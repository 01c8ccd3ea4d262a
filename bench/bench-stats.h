/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The clock and latency percentiles of the benchmarks in bench/. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* qsort() comparator for latencies. */
static inline int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* The p-quantile (0..1, nearest rank) of n sorted nanosecond samples, in ms. */
static inline double percentile_ms(const uint64_t *sorted, size_t n, double p) {
        if (n == 0)
                return 0;
        return (double) sorted[(size_t) (p * (double) (n - 1) + 0.5)] / 1e6;
}
