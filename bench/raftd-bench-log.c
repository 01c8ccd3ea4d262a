/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log append throughput and latency with group commit, against a raw loop
 * of one small write + fdatasync, in the same directory in the same run.
 *
 *   raftd-bench-log [DIR] [SECONDS-PER-MODE]
 *
 * DIR defaults to /var/tmp; a scratch directory is created inside it and
 * removed afterwards.  Not a test: nothing is asserted. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "storage/log.h"

#define ENTRY_SIZE 128
#define MAX_SAMPLES 200000

struct result {
        const char *name;
        unsigned batch;
        uint64_t syncs, entries;
        double seconds, p50_ms, p99_ms, max_ms;
};

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static void summarize(struct result *res, uint64_t *lat, uint64_t n, uint64_t total_ns) {
        qsort(lat, n, sizeof(*lat), cmp_u64);
        res->syncs = n;
        res->seconds = (double) total_ns / 1e9;
        res->p50_ms = (double) lat[n / 2] / 1e6;
        res->p99_ms = (double) lat[n * 99 / 100] / 1e6;
        res->max_ms = (double) lat[n - 1] / 1e6;
}

static int bench_raw(const char *dir, double seconds, uint64_t *lat, struct result *res) {
        uint8_t rec[ENTRY_SIZE];
        uint64_t start, n = 0;
        char *path;
        int fd;

        if (asprintf(&path, "%s/raw", dir) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        free(path);
        if (fd < 0)
                return -errno;
        start = now_ns();
        memset(rec, 0x5a, sizeof(rec));
        while (n < MAX_SAMPLES && now_ns() - start < (uint64_t) (seconds * 1e9)) {
                uint64_t t = now_ns();

                if (write(fd, rec, sizeof(rec)) != (ssize_t) sizeof(rec) || fdatasync(fd) < 0) {
                        close(fd);
                        return -EIO;
                }
                lat[n++] = now_ns() - t;
        }
        close(fd);
        *res = (struct result) { .name = "raw write+fdatasync", .batch = 1, .entries = n };
        summarize(res, lat, n, now_ns() - start);
        return 0;
}

static int bench_log(const char *parent, unsigned batch, double seconds, uint64_t *lat, struct result *res) {
        struct storage_log_options o = {};
        struct raft_entry *entries = calloc(batch, sizeof(*entries));
        uint8_t *data = calloc(batch, ENTRY_SIZE);
        struct storage_log *l;
        struct raft_entry *loaded;
        char *dir;
        raft_index next = 1;
        uint64_t start, n = 0;
        size_t n_loaded;
        int r;

        if (!entries || !data || asprintf(&dir, "%s/log-%u", parent, batch) < 0) {
                free(entries);
                free(data);
                return -ENOMEM;
        }
        r = storage_log_open(dir, &o, &l, &loaded, &n_loaded);
        free(dir);
        if (r < 0) {
                free(entries);
                free(data);
                return r;
        }
        storage_entries_free(loaded, n_loaded);
        memset(data, 0xa5, (size_t) batch * ENTRY_SIZE);
        start = now_ns();
        while (r >= 0 && n < MAX_SAMPLES && now_ns() - start < (uint64_t) (seconds * 1e9)) {
                uint64_t t = now_ns();

                for (unsigned i = 0; i < batch; i++)
                        entries[i] = (struct raft_entry) { .index = next + i, .term = 1, .type = RAFT_ENTRY_NORMAL,
                                                           .data = { data + (size_t) i * ENTRY_SIZE, ENTRY_SIZE } };
                /* As the node engine does: one append per update, one sync
                 * per loop iteration. */
                r = storage_log_append(l, entries, batch);
                if (r >= 0)
                        r = storage_log_sync(l);
                next += batch;
                lat[n++] = now_ns() - t;
        }
        storage_log_close(l);
        free(entries);
        free(data);
        if (r < 0)
                return r;
        *res = (struct result) { .name = "log append+sync", .batch = batch, .entries = n * batch };
        summarize(res, lat, n, now_ns() - start);
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int main(int argc, char **argv) {
        const char *parent = argc > 1 ? argv[1] : "/var/tmp";
        double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
        const unsigned batches[] = { 1, 16, 256 };
        struct result res[4];
        uint64_t *lat = calloc(MAX_SAMPLES, sizeof(*lat));
        char dir[4096];
        struct utsname u;
        time_t now = time(NULL);
        int r;

        snprintf(dir, sizeof(dir), "%s/raftd-bench-log.XXXXXX", parent);
        if (!lat || !mkdtemp(dir)) {
                fprintf(stderr, "cannot create a scratch directory in %s: %m\n", parent);
                return 1;
        }
        r = bench_raw(dir, seconds, lat, &res[0]);
        for (unsigned i = 0; r >= 0 && i < 3; i++)
                r = bench_log(dir, batches[i], seconds, lat, &res[i + 1]);
        (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(lat);
        if (r < 0) {
                fprintf(stderr, "benchmark failed: %s\n", strerror(-r));
                return 1;
        }

        uname(&u);
        printf("raftd-bench-log: %s %s, %s, directory %s, %d-byte entries, %.1f s per mode, %s", u.sysname,
               u.release, u.machine, parent, ENTRY_SIZE, seconds, ctime(&now));
        printf("%-22s %8s %9s %12s %9s %9s %9s\n", "mode", "batch", "syncs", "appends/s", "p50 ms", "p99 ms",
               "max ms");
        for (unsigned i = 0; i < 4; i++)
                printf("%-22s %8u %9" PRIu64 " %12.0f %9.3f %9.3f %9.3f\n", res[i].name, res[i].batch, res[i].syncs,
                       (double) res[i].entries / res[i].seconds, res[i].p50_ms, res[i].p99_ms, res[i].max_ms);
        printf("batch-256 appends/s vs raw single-write fdatasync rate: %.1fx\n",
               ((double) res[3].entries / res[3].seconds) / ((double) res[0].entries / res[0].seconds));
        return 0;
}
