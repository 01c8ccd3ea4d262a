/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CRC32C: the published check value, and the hardware path equal to the
 * table at every length, alignment and split of a chained computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "storage/crc32c.h"

static void check_value_of_123456789_is_e3069283(void **state) {
        assert_int_equal(crc32c("123456789", 9), 0xe3069283U);
        assert_int_equal(crc32c_extend_portable(0, "123456789", 9), 0xe3069283U);
        assert_int_equal(crc32c("", 0), 0);
}

static uint64_t next_random(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void every_length_alignment_and_split_matches_the_table(void **state) {
        const char *env = getenv("RAFTD_CRC_SEED");
        uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t) time(NULL), s;
        uint8_t buf[300];

        fprintf(stderr, "# seed: RAFTD_CRC_SEED=%llu\n", (unsigned long long) seed);
        s = seed | 1;
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t) next_random(&s);
        for (size_t off = 0; off < 8; off++)
                for (size_t len = 0; off + len <= sizeof(buf); len++) {
                        uint32_t want = crc32c_extend_portable(0, buf + off, len);
                        size_t split = len ? next_random(&s) % (len + 1) : 0;

                        assert_int_equal(crc32c(buf + off, len), want);
                        assert_int_equal(crc32c_extend(crc32c(buf + off, split), buf + off + split, len - split), want);
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(check_value_of_123456789_is_e3069283),
                cmocka_unit_test(every_length_alignment_and_split_matches_the_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
