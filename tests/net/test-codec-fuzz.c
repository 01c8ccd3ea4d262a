/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seeded fuzzing of the frame decoder for every compiler: random frames and
 * valid frames with random mutations.  Prints its seed; replay with
 * NET_FUZZ_SEED=<seed>, run longer with NET_FUZZ_ITERATIONS=<n>. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "fuzz-one.h"
#include "net/codec.h"
#include "raft/wire.h"
#include "samples.h"

static uint64_t seed;

/* splitmix64: a small, reproducible generator for the test's own use. */
static uint64_t next(uint64_t *s) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void mutate(uint64_t *rng, struct net_buf *b) {
        unsigned n = 1 + (unsigned) (next(rng) % 4);

        for (unsigned k = 0; k < n && b->len > 0; k++) {
                size_t at = next(rng) % b->len;

                switch (next(rng) % 5) {
                case 0: /* flip a bit */
                        b->data[at] ^= (uint8_t) (1u << (next(rng) % 8));
                        break;
                case 1: /* an interesting byte */
                        b->data[at] = (const uint8_t[]) { 0, 1, 2, 0x7f, 0x80, 0xff }[next(rng) % 6];
                        break;
                case 2: /* truncate, keeping the header's claim */
                        b->len = at;
                        break;
                case 3: /* a boundary u32, e.g. into a count or a length */
                        if (at + 4 <= b->len)
                                wire_put32(b->data + at, (const uint32_t[]) { 0, 1, UINT32_MAX, 0x7fffffff,
                                                                              NET_MSG_ENTRIES_MAX + 1 }[next(rng) % 5]);
                        break;
                default: /* random bytes appended */
                        for (unsigned i = next(rng) % 16; i > 0; i--)
                                (void) net_buf_append(b, &(uint8_t) { (uint8_t) next(rng) }, 1);
                        break;
                }
        }
        /* Most mutations keep the header consistent, so the payload decoder
         * rather than the length check sees them. */
        if (b->len >= NET_FRAME_HEADER_SIZE && next(rng) % 4 != 0)
                wire_put32(b->data, (uint32_t) (b->len - 4));
}

static void decoder_survives_mutated_valid_frames(void **state) {
        unsigned long iterations = 200000;
        const char *e = getenv("NET_FUZZ_ITERATIONS");
        struct net_buf b = {};
        uint64_t rng = seed;

        if (e)
                iterations = strtoul(e, NULL, 10);
        for (unsigned long i = 0; i < iterations; i++) {
                unsigned kind = (unsigned) (next(&rng) % (SAMPLE_COUNT + 3));

                b.len = 0;
                if (kind < SAMPLE_COUNT) {
                        struct raft_message m;

                        sample_message(kind, 1 + next(&rng) % 3, 1 + next(&rng) % 3, &m);
                        assert_int_equal(net_encode_raft(&b, &m), 0);
                } else if (kind == SAMPLE_COUNT) {
                        assert_int_equal(net_encode_forward(&b, NET_FRAME_FORWARD_REQUEST, next(&rng), "req", 3), 0);
                } else if (kind == SAMPLE_COUNT + 1) {
                        uint8_t hello[NET_FRAME_HEADER_SIZE + 49] = {};

                        net_frame_header_write(hello, NET_FRAME_HELLO, 49);
                        hello[6] = (uint8_t) (1 + next(&rng) % 2);
                        wire_put64(hello + 7, 1);
                        wire_put64(hello + 15, 2);
                        assert_int_equal(net_buf_append(&b, hello, sizeof(hello)), 0);
                } else {
                        size_t n = next(&rng) % 200;

                        for (size_t k = 0; k < n; k++)
                                (void) net_buf_append(&b, &(uint8_t) { (uint8_t) next(&rng) }, 1);
                }
                if (kind != SAMPLE_COUNT + 2)
                        mutate(&rng, &b);
                if (!fuzz_codec_one(b.data, b.len))
                        fail_msg("property broken at iteration %lu (NET_FUZZ_SEED=%" PRIu64 ")", i, seed);
        }
        net_buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(decoder_survives_mutated_valid_frames),
        };
        const char *e = getenv("NET_FUZZ_SEED");

        if (sodium_init() < 0)
                return 1;
        seed = e ? strtoull(e, NULL, 0) : ((uint64_t) randombytes_random() << 32 | randombytes_random());
        printf("NET_FUZZ_SEED=%" PRIu64 "\n", seed);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
