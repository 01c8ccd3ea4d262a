/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash test with real processes: a child appends batches to the log under
 * load and reports every batch after its sync returned; the parent kills it
 * with SIGKILL at random moments, reopens the log and checks that every
 * reported batch is there with identical content and nothing else is.
 *
 * Seeded: the seed is printed and RAFTD_CRASH_SEED replays it (the same
 * batches, truncations, compactions and kill points counted in confirmed
 * batches; the extra random delay before each kill is wall-clock time, so
 * where exactly inside a write the kill lands can differ).
 * RAFTD_CRASH_ROUNDS sets the number of kill rounds (default 200). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared/macro.h"
#include "storage-test.h"
#include "storage/crc32c.h"
#include "storage/log.h"

#define ROUNDS_DEFAULT 200
#define SALT 0x5eed
#define MAXLEN 300
#define SEGMENT_SIZE (16 * 1024)
#define REPORT_TIMEOUT_MS 20000

struct rng {
        uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
        uint64_t x = (r->s += 0x9e3779b97f4a7c15ULL);

        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n) {
        return n == 0 ? 0 : rng_next(r) % n;
}

static uint32_t batch_crc(raft_index first, uint64_t count, raft_term term) {
        uint8_t buf[MAXLEN];
        uint32_t crc = 0;

        for (raft_index i = first; i < first + count; i++) {
                size_t len = test_entry_len(i, term, SALT, MAXLEN);

                test_entry_fill(i, term, SALT, buf, len);
                crc = crc32c_extend(crc, buf, len);
        }
        return crc;
}

static void report(int fd, const char *fmt, ...) {
        char line[128];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (write(fd, line, (size_t) n) != n)
                _exit(3);
}

/* The child: append, sync, report, forever, until killed. */
static _Noreturn void child_run(const char *dir, uint64_t seed, int out) {
        struct storage_log_options o = { .segment_size = SEGMENT_SIZE };
        struct rng rng = { seed };
        struct storage_log *l;
        struct raft_entry *loaded;
        raft_index last;
        raft_term term = 1;
        size_t n;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (storage_log_open(dir, &o, &l, &loaded, &n) < 0)
                _exit(2);
        if (n > 0)
                term = loaded[n - 1].term;
        storage_entries_free(loaded, n);

        for (;;) {
                struct raft_entry batch[64];
                uint8_t data[64][MAXLEN];
                raft_index first, lowest = storage_log_first_index(l);
                uint64_t count = 1 + rng_below(&rng, rng_below(&rng, 4) == 0 ? 64 : 8);

                last = storage_log_last_index(l);
                first = last + 1;
                if (last > 0 && rng_below(&rng, 10) == 0) {
                        /* A new leader overwrites an uncommitted suffix. */
                        first = MAX(lowest, last > 20 ? last - 20 : 1) + rng_below(&rng, 21);
                        first = MIN(first, last);
                        term++;
                }
                if (last > 300 && rng_below(&rng, 20) == 0) {
                        report(out, "C %" PRIu64 "\n", last - 200);
                        if (storage_log_compact(l, last - 200) < 0)
                                _exit(4);
                }
                for (uint64_t i = 0; i < count; i++) {
                        batch[i] = (struct raft_entry) { .index = first + i, .term = term, .type = RAFT_ENTRY_NORMAL };
                        batch[i].data.len = test_entry_len(first + i, term, SALT, MAXLEN);
                        batch[i].data.base = data[i];
                        test_entry_fill(first + i, term, SALT, data[i], batch[i].data.len);
                }
                report(out, "B %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", first, count, term);
                if (storage_log_append(l, batch, count) < 0 || storage_log_sync(l) < 0)
                        _exit(5);
                report(out, "S %" PRIu64 " %" PRIu64 " %" PRIu64 " %08" PRIx32 "\n", first, count, term,
                       batch_crc(first, count, term));
        }
}

/* What the parent knows the log must hold: terms of [base, base + n). */
struct model {
        raft_index base;
        raft_term *terms;
        size_t n, cap;
};

static raft_term model_term(const struct model *m, raft_index i) {
        return i >= m->base && i < m->base + m->n ? m->terms[i - m->base] : 0;
}

static void model_apply(struct model *m, raft_index first, uint64_t count, raft_term term) {
        if (m->n == 0)
                m->base = first;
        assert_true(first >= m->base && first <= m->base + m->n);
        m->n = first - m->base;
        for (uint64_t i = 0; i < count; i++) {
                if (m->n == m->cap) {
                        m->cap = MAX(m->cap * 2, (size_t) 1024);
                        m->terms = reallocarray(m->terms, m->cap, sizeof(*m->terms));
                        assert_non_null(m->terms);
                }
                m->terms[m->n++] = term;
        }
}

struct pending {
        bool active;
        raft_index first;
        uint64_t count;
        raft_term term;
};

struct round_reports {
        struct pending pending;
        raft_index compacted; /* entries up to here may be gone */
        unsigned synced;
        char buf[4096];
        size_t len;
};

static void handle_line(struct model *m, struct round_reports *rr, const char *line, uint64_t seed) {
        raft_index first;
        uint64_t count;
        raft_term term;
        uint32_t crc;

        if (sscanf(line, "B %" SCNu64 " %" SCNu64 " %" SCNu64, &first, &count, &term) == 3)
                rr->pending = (struct pending) { true, first, count, term };
        else if (sscanf(line, "S %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNx32, &first, &count, &term, &crc) == 4) {
                if (crc != batch_crc(first, count, term))
                        fail_msg("seed %" PRIu64 ": child reported batch %" PRIu64 "+%" PRIu64 " with a wrong checksum",
                                 seed, first, count);
                model_apply(m, first, count, term);
                rr->pending.active = false;
                rr->synced++;
        } else if (sscanf(line, "C %" SCNu64, &first) == 1)
                rr->compacted = MAX(rr->compacted, first);
        else
                fail_msg("seed %" PRIu64 ": bad report line '%s'", seed, line);
}

/* Read reports; returns false at end of file. */
static bool read_reports(int fd, struct model *m, struct round_reports *rr, uint64_t seed) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t k;
        char *nl;

        if (poll(&p, 1, REPORT_TIMEOUT_MS) == 0)
                fail_msg("seed %" PRIu64 ": child reported nothing for %d ms", seed, REPORT_TIMEOUT_MS);
        k = read(fd, rr->buf + rr->len, sizeof(rr->buf) - 1 - rr->len);
        if (k < 0 && errno == EINTR)
                return true;
        assert_true(k >= 0);
        if (k == 0)
                return false;
        rr->len += (size_t) k;
        rr->buf[rr->len] = 0;
        while ((nl = strchr(rr->buf, '\n'))) {
                *nl = 0;
                handle_line(m, rr, rr->buf, seed);
                rr->len -= (size_t) (nl + 1 - rr->buf);
                memmove(rr->buf, nl + 1, rr->len + 1);
        }
        return true;
}

/* Reopen after the kill and compare with the reports. */
static void verify(const char *dir, struct model *m, const struct round_reports *rr, uint64_t seed, unsigned round,
                   unsigned *torn) {
        struct test_sink sink;
        struct storage_log_options o = { .segment_size = SEGMENT_SIZE, .log = &sink.sink };
        const struct pending *p = &rr->pending;
        struct storage_log *l;
        struct raft_entry *e;
        size_t n;
        int r;
        bool from_pending = false;

        test_sink_init(&sink);
        r = storage_log_open(dir, &o, &l, &e, &n);
        if (r < 0)
                fail_msg("seed %" PRIu64 " round %u: log does not open after SIGKILL: %s (%s)", seed, round,
                         strerror(-r), sink.n > 0 ? sink.lines[0] : "");
        if (test_sink_find(&sink, "torn", NULL))
                (*torn)++;

        /* Every reported entry above the compaction point is present,
         * except where the unconfirmed batch may have cut the suffix. */
        for (raft_index i = MAX(m->base, rr->compacted + 1); i < m->base + m->n; i++) {
                if (p->active && i >= p->first)
                        break;
                if (n == 0 || i < e[0].index || i > e[n - 1].index)
                        fail_msg("seed %" PRIu64 " round %u: reported entry %" PRIu64 " lost", seed, round, i);
        }
        for (size_t k = 0; k < n; k++) {
                raft_index i = e[k].index;
                raft_term want = model_term(m, i);

                if (p->active && i >= p->first) {
                        /* Either the old suffix, untouched, or a prefix of
                         * the unconfirmed batch: never a mix. */
                        bool is_pending = e[k].term == p->term && i < p->first + p->count;

                        if (i == p->first)
                                from_pending = is_pending;
                        if (from_pending ? !is_pending : e[k].term != want)
                                fail_msg("seed %" PRIu64 " round %u: entry %" PRIu64 " term %" PRIu64
                                         " is neither reported nor the unconfirmed batch",
                                         seed, round, i, e[k].term);
                        want = e[k].term;
                } else if (e[k].term != want)
                        fail_msg("seed %" PRIu64 " round %u: entry %" PRIu64 " has term %" PRIu64 ", reported %" PRIu64,
                                 seed, round, i, e[k].term, want);
                if (!test_entry_matches(&e[k], want, SALT, MAXLEN))
                        fail_msg("seed %" PRIu64 " round %u: entry %" PRIu64 " content differs", seed, round, i);
        }

        /* What survived is the truth for the next round. */
        m->n = 0;
        for (size_t k = 0; k < n; k++)
                model_apply(m, e[k].index, 1, e[k].term);
        storage_entries_free(e, n);
        storage_log_close(l);
        test_sink_clear(&sink);
}

static void log_keeps_every_synced_batch_across_sigkill(void **state) {
        const char *env_seed = getenv("RAFTD_CRASH_SEED"), *env_rounds = getenv("RAFTD_CRASH_ROUNDS");
        unsigned rounds = env_rounds ? (unsigned) strtoul(env_rounds, NULL, 10) : ROUNDS_DEFAULT;
        uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
        struct model m = {};
        struct rng rng = { seed };
        char *dir = test_dir_new();
        unsigned torn = 0, synced = 0, mid_batch = 0;

        printf("crash test: seed %" PRIu64 ", %u rounds (replay: RAFTD_CRASH_SEED=%" PRIu64 ")\n", seed, rounds,
               seed);
        fflush(stdout);
        for (unsigned round = 0; round < rounds; round++) {
                struct round_reports rr = {};
                uint64_t child_seed = rng_next(&rng);
                unsigned kill_after = (unsigned) rng_below(&rng, 12);
                struct timespec delay = { 0, (long) rng_below(&rng, 3000) * 1000 };
                int fds[2], status;
                pid_t pid;

                assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(fds[0]);
                        child_run(dir, child_seed, fds[1]);
                }
                close(fds[1]);
                /* Kill after a random number of confirmed batches, then at
                 * a random moment inside the following ones. */
                while (rr.synced < kill_after && read_reports(fds[0], &m, &rr, seed))
                        ;
                (void) nanosleep(&delay, NULL);
                assert_int_equal(kill(pid, SIGKILL), 0);
                while (read_reports(fds[0], &m, &rr, seed))
                        ;
                close(fds[0]);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                if (!WIFSIGNALED(status))
                        fail_msg("seed %" PRIu64 " round %u: child exited with status %d", seed, round,
                                 WEXITSTATUS(status));
                synced += rr.synced;
                mid_batch += rr.pending.active;
                verify(dir, &m, &rr, seed, round, &torn);
        }
        printf("crash test: %u rounds, %u batches confirmed, %u kills inside a batch, %u torn tails cut, "
               "%zu entries at the end, none lost\n",
               rounds, synced, mid_batch, torn, m.n);
        free(m.terms);
        test_dir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(log_keeps_every_synced_batch_across_sigkill),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
