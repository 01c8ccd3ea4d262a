/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a snapshot costs the child that writes it: kv_snapshot_write() of a
 * state of KEYS records into a memory file (no disk: the walk, the copy and
 * the digest), and kv_digest() alone for comparison, each the median of
 * ROUNDS runs.
 *
 *   raftd-bench-snapshot [-k KEYS] [-v VALUE_BYTES] [-r ROUNDS] [-d DIR]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kv/kv.h"

struct bench {
        const char *dir;
        uint64_t keys;
        size_t value_size;
        unsigned rounds;
};

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

static int fill(struct kv *kv, const struct bench *b) {
        char *value = malloc(b->value_size);
        int r = 0;

        if (!value)
                return -ENOMEM;
        memset(value, 'x', b->value_size);
        for (uint64_t i = 0; i < b->keys && r >= 0;) {
                r = kv_batch_begin(kv);
                for (uint64_t k = 0; k < 256 && i < b->keys && r >= 0; k++, i++) {
                        char key[32];
                        struct kv_command c = { .type = KV_CMD_PUT, .time_ms = i };
                        struct kv_result res;
                        uint8_t *cmd;
                        size_t len;

                        snprintf(key, sizeof(key), "/bench/%08" PRIu64, i);
                        c.key = (struct kv_blob) { (const uint8_t *) key, strlen(key) };
                        c.value = (struct kv_blob) { (const uint8_t *) value, b->value_size };
                        r = kv_command_encode(&c, &cmd, &len);
                        if (r < 0)
                                break;
                        r = kv_apply(kv, i + 1, cmd, len, &res);
                        free(cmd);
                }
                if (r >= 0)
                        r = kv_batch_commit(kv);
        }
        free(value);
        return r;
}

static int run(const struct bench *b) {
        double *write_s = calloc(b->rounds, sizeof(double)), *digest_s = calloc(b->rounds, sizeof(double));
        uint8_t digest[KV_DIGEST_SIZE];
        char path[4096];
        struct kv *kv = NULL;
        struct stat st = {};
        int fd = -1, r;

        if (!write_s || !digest_s)
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/raftd-bench-snapshot-%d.tdb", b->dir, getpid());
        (void) unlink(path);
        r = kv_open(path, NULL, &kv);
        if (r >= 0)
                r = fill(kv, b);
        if (r >= 0) {
                fd = memfd_create("raftd-bench-snapshot", MFD_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        for (unsigned i = 0; i < b->rounds && r >= 0; i++) {
                double start;

                if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
                        r = -errno;
                        break;
                }
                start = now_s();
                r = kv_snapshot_write(kv, fd);
                write_s[i] = now_s() - start;
                if (r < 0)
                        break;
                start = now_s();
                r = kv_digest(kv, digest);
                digest_s[i] = now_s() - start;
        }
        if (r >= 0 && fstat(fd, &st) < 0)
                r = -errno;
        if (r >= 0) {
                qsort(write_s, b->rounds, sizeof(double), cmp_double);
                qsort(digest_s, b->rounds, sizeof(double), cmp_double);
                printf("%-22s %10.1f ms  (%.0f records/s, %.1f MiB image)\n", "kv_snapshot_write",
                       write_s[b->rounds / 2] * 1e3, (double) b->keys / write_s[b->rounds / 2],
                       (double) st.st_size / (1 << 20));
                printf("%-22s %10.1f ms\n", "kv_digest alone", digest_s[b->rounds / 2] * 1e3);
        }
        if (fd >= 0)
                close(fd);
        kv_close(kv);
        (void) unlink(path);
        free(write_s);
        free(digest_s);
        return r;
}

int main(int argc, char *argv[]) {
        struct bench b = { .dir = "/tmp", .keys = 100000, .value_size = 64, .rounds = 5 };
        int opt, r;

        while ((opt = getopt(argc, argv, "k:v:r:d:")) >= 0)
                switch (opt) {
                case 'k':
                        b.keys = strtoull(optarg, NULL, 0);
                        break;
                case 'v':
                        b.value_size = strtoull(optarg, NULL, 0);
                        break;
                case 'r':
                        b.rounds = (unsigned) strtoul(optarg, NULL, 0);
                        break;
                case 'd':
                        b.dir = optarg;
                        break;
                default:
                        fprintf(stderr, "usage: %s [-k KEYS] [-v VALUE_BYTES] [-r ROUNDS] [-d DIR]\n", argv[0]);
                        return 2;
                }
        if (b.keys == 0 || b.rounds == 0)
                return 2;
        printf("# %" PRIu64 " keys, %zu-byte values, median of %u rounds, TDB file in %s\n", b.keys, b.value_size,
               b.rounds, b.dir);
        r = run(&b);
        if (r < 0) {
                fprintf(stderr, "benchmark failed: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
