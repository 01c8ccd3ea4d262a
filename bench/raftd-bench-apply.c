/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Apply throughput of the state machine: Put and CompareAndSwap, one TDB
 * transaction per batch of 1, 16 and 256 entries, on a real file.
 *
 *   raftd-bench-apply [-n OPS] [-d DIR] [-k KEYS] [-v VALUE_BYTES]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv/kv.h"

struct bench {
        const char *dir;
        uint64_t ops, keys;
        size_t value_size;
};

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int encode_put(uint64_t i, const struct bench *b, const char *value, uint8_t **buf, size_t *len) {
        char key[32];
        struct kv_command c = { .type = KV_CMD_PUT, .time_ms = i };

        snprintf(key, sizeof(key), "/bench/%08" PRIu64, i % b->keys);
        c.key = (struct kv_blob) { (const uint8_t *) key, strlen(key) };
        c.value = (struct kv_blob) { (const uint8_t *) value, b->value_size };
        return kv_command_encode(&c, buf, len);
}

/* Each CAS expects the value the previous one wrote, so all succeed. */
static int encode_cas(uint64_t i, const struct bench *b, uint8_t **buf, size_t *len) {
        char key[32], expected[32], value[32];
        struct kv_command c = { .type = KV_CMD_COMPARE_AND_SWAP, .time_ms = i, .new_present = true };
        uint64_t round = i / b->keys;

        snprintf(key, sizeof(key), "/bench/%08" PRIu64, i % b->keys);
        snprintf(expected, sizeof(expected), "%" PRIu64, round);
        snprintf(value, sizeof(value), "%" PRIu64, round + 1);
        c.key = (struct kv_blob) { (const uint8_t *) key, strlen(key) };
        c.expected_present = round > 0;
        c.expected = (struct kv_blob) { (const uint8_t *) expected, strlen(expected) };
        c.value = (struct kv_blob) { (const uint8_t *) value, strlen(value) };
        return kv_command_encode(&c, buf, len);
}

static int run(const struct bench *b, bool cas, uint64_t batch, double *ops_per_s) {
        char path[4096];
        struct kv *kv;
        char *value;
        uint8_t **cmds;
        size_t *lens;
        double start;
        uint64_t failed = 0;
        int r;

        snprintf(path, sizeof(path), "%s/raftd-bench-apply-%d.tdb", b->dir, getpid());
        (void) unlink(path);
        r = kv_open(path, NULL, &kv);
        if (r < 0)
                return r;
        value = malloc(b->value_size + 1);
        cmds = calloc(b->ops, sizeof(*cmds));
        lens = calloc(b->ops, sizeof(*lens));
        if (!value || !cmds || !lens)
                return -ENOMEM;
        memset(value, 'x', b->value_size);
        /* Encoding is the leader's work, not apply's: done up front. */
        for (uint64_t i = 0; i < b->ops; i++) {
                r = cas ? encode_cas(i, b, &cmds[i], &lens[i]) : encode_put(i, b, value, &cmds[i], &lens[i]);
                if (r < 0)
                        return r;
        }

        start = now_s();
        for (uint64_t i = 0; i < b->ops;) {
                r = kv_batch_begin(kv);
                if (r < 0)
                        return r;
                for (uint64_t k = 0; k < batch && i < b->ops; k++, i++) {
                        struct kv_result res;

                        r = kv_apply(kv, i + 1, cmds[i], lens[i], &res);
                        if (r < 0)
                                return r;
                        failed += res.status != KV_STATUS_OK;
                }
                r = kv_batch_commit(kv);
                if (r < 0)
                        return r;
        }
        *ops_per_s = (double) b->ops / (now_s() - start);

        kv_close(kv);
        (void) unlink(path);
        for (uint64_t i = 0; i < b->ops; i++)
                free(cmds[i]);
        free(cmds);
        free(lens);
        free(value);
        if (failed > 0) {
                fprintf(stderr, "%" PRIu64 " commands did not succeed\n", failed);
                return -EPROTO;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        struct bench b = { .dir = "/tmp", .ops = 100000, .keys = 10000, .value_size = 100 };
        const uint64_t batches[] = { 1, 16, 256 };
        int opt;

        while ((opt = getopt(argc, argv, "n:d:k:v:")) >= 0)
                switch (opt) {
                case 'n':
                        b.ops = strtoull(optarg, NULL, 0);
                        break;
                case 'd':
                        b.dir = optarg;
                        break;
                case 'k':
                        b.keys = strtoull(optarg, NULL, 0);
                        break;
                case 'v':
                        b.value_size = strtoull(optarg, NULL, 0);
                        break;
                default:
                        fprintf(stderr, "usage: %s [-n OPS] [-d DIR] [-k KEYS] [-v VALUE_BYTES]\n", argv[0]);
                        return 2;
                }
        if (b.ops == 0 || b.keys == 0)
                return 2;

        printf("# %" PRIu64 " ops over %" PRIu64 " keys, %zu-byte values, TDB file in %s\n", b.ops, b.keys,
               b.value_size, b.dir);
        printf("%-5s %6s %12s\n", "op", "batch", "ops/s");
        for (int cas = 0; cas < 2; cas++)
                for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
                        double rate;
                        int r = run(&b, cas, batches[i], &rate);

                        if (r < 0) {
                                fprintf(stderr, "benchmark failed: %s\n", strerror(-r));
                                return 1;
                        }
                        printf("%-5s %6" PRIu64 " %12.0f\n", cas ? "cas" : "put", batches[i], rate);
                        fflush(stdout);
                }
        return 0;
}
