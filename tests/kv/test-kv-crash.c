/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash test with real processes: a child applies a seeded workload in
 * batches and reports every committed batch; the parent SIGKILLs it at a
 * random moment and reopens the file.  The outcome must be either a state
 * at an applied index no older than the last report, equal (by digest) to
 * a fresh replay of the same commands up to that index, or a detected
 * "needs rebuild" -- never silently different data.
 *
 * KV_CRASH_SEED replays a run; KV_CRASH_ROUNDS sets the rounds (default 200). */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "kv-test.h"

#define BOOT_ID "crash-test-boot"
#define N_KEYS 64
#define SESSION_EVERY 53
#define LEASE_EVERY 71

/* The command at index i, from (seed, i) alone, so child and parent agree
 * without talking.  Stamped time moves 10 ms per index, so sessions and
 * leases registered along the way also expire along the way. */
struct workload_command {
        struct kv_command c;
        char key[32], value[256], expected[32], owner[32];
};

static void workload_command(uint64_t seed, raft_index i, struct workload_command *w) {
        uint64_t rng = seed ^ (i * 0x9e3779b97f4a7c15ULL), kind;
        uint64_t session = i > SESSION_EVERY ? (i / SESSION_EVERY) * SESSION_EVERY : 0;
        uint64_t lease = i > LEASE_EVERY ? (i / LEASE_EVERY) * LEASE_EVERY : 0;
        size_t vlen;

        memset(w, 0, sizeof(*w));
        w->c.time_ms = i * 10;
        snprintf(w->key, sizeof(w->key), "/crash/%02" PRIu64, rnd_next(&rng) % N_KEYS);
        vlen = rnd_next(&rng) % sizeof(w->value);
        for (size_t k = 0; k < vlen; k++)
                w->value[k] = (char) ('a' + rnd_next(&rng) % 26);
        snprintf(w->expected, sizeof(w->expected), "%c", (char) ('a' + rnd_next(&rng) % 26));
        snprintf(w->owner, sizeof(w->owner), "node/:1.%" PRIu64 "/0/1/crash", i);
        w->c.key = (struct kv_blob) { (const uint8_t *) w->key, strlen(w->key) };
        w->c.value = (struct kv_blob) { (const uint8_t *) w->value, vlen };

        if (i % SESSION_EVERY == 0) {
                w->c.type = KV_CMD_SESSION_REGISTER;
                w->c.ttl_ms = 400;
                return;
        }
        if (i % LEASE_EVERY == 0) {
                w->c.type = KV_CMD_LEASE_GRANT;
                w->c.ttl_ms = 300;
                return;
        }
        kind = rnd_next(&rng) % 100;
        if (kind < 45)
                w->c.type = KV_CMD_PUT;
        else if (kind < 55) {
                w->c.type = KV_CMD_PUT;
                w->c.lease = lease;
        } else if (kind < 65)
                w->c.type = KV_CMD_DELETE;
        else if (kind < 80) {
                w->c.type = KV_CMD_COMPARE_AND_SWAP;
                w->c.expected_present = rnd_next(&rng) % 2;
                w->c.new_present = rnd_next(&rng) % 4 != 0;
                w->c.expected = (struct kv_blob) { (const uint8_t *) w->expected, strlen(w->expected) };
        } else if (kind < 90) {
                w->c.type = KV_CMD_LOCK_ACQUIRE;
                snprintf(w->key, sizeof(w->key), "lock-%" PRIu64, rnd_next(&rng) % 4);
                w->c.key = (struct kv_blob) { (const uint8_t *) w->key, strlen(w->key) };
                w->c.owner = (struct kv_blob) { (const uint8_t *) w->owner, strlen(w->owner) };
                w->c.lease = rnd_next(&rng) % 3 == 0 ? lease : 0;
        } else {
                w->c.type = KV_CMD_LOCK_RELEASE;
                snprintf(w->key, sizeof(w->key), "lock-%" PRIu64, rnd_next(&rng) % 4);
                w->c.key = (struct kv_blob) { (const uint8_t *) w->key, strlen(w->key) };
        }
        /* Most requests ride a session; some repeat a seq (a retry). */
        if (session != 0 && (w->c.type == KV_CMD_LOCK_ACQUIRE || w->c.type == KV_CMD_LOCK_RELEASE ||
                             rnd_next(&rng) % 2)) {
                w->c.session = session;
                w->c.seq = i - session - (rnd_next(&rng) % 5 == 0 ? 1 : 0);
                w->c.lowest_unacked = w->c.seq > 8 ? w->c.seq - 8 : 1;
        }
        if ((w->c.type == KV_CMD_LOCK_ACQUIRE || w->c.type == KV_CMD_LOCK_RELEASE) && session == 0)
                w->c.type = KV_CMD_DELETE;
}

static int apply_workload(struct kv *kv, uint64_t seed, raft_index i) {
        struct workload_command w;
        struct kv_result r;
        uint8_t *buf;
        size_t len;
        int ret;

        workload_command(seed, i, &w);
        ret = kv_command_encode(&w.c, &buf, &len);
        if (ret < 0)
                return ret;
        ret = kv_apply(kv, i, buf, len, &r);
        free(buf);
        return ret;
}

/* The child: apply batches forever, report each committed one. */
_Noreturn static void run_child(const char *path, uint64_t seed, uint64_t round, int report_fd) {
        struct kv_options o = { .boot_id = BOOT_ID };
        uint64_t rng = seed ^ (round * 0xd1b54a32d192ed03ULL);
        struct kv *kv;
        raft_index next;

        if (kv_open(path, &o, &kv) < 0)
                _exit(3);
        next = kv_applied_index(kv) + 1;
        for (;;) {
                uint64_t n = 1 + rnd_next(&rng) % 32;

                if (kv_batch_begin(kv) < 0)
                        _exit(4);
                for (uint64_t k = 0; k < n; k++)
                        if (apply_workload(kv, seed, next++) < 0)
                                _exit(5);
                if (kv_batch_commit(kv) < 0)
                        _exit(6);
                raft_index done = next - 1;
                if (write(report_fd, &done, sizeof(done)) != sizeof(done))
                        _exit(7);
        }
}

static void sigkill_during_apply_leaves_replayable_state_or_detected_rebuild(void **state) {
        uint64_t seed = test_seed("KV_CRASH_SEED"), rng = seed;
        uint64_t rounds = env_u64("KV_CRASH_ROUNDS", 200), rebuilds = 0, dirty_reopens = 0;
        char dir[] = "/tmp/raftd-kv-crash-XXXXXX", path[128];
        struct kv_options o = { .boot_id = BOOT_ID };
        struct kv *reference = open_memory(NULL);
        raft_index last_reported = 0, max_applied = 0;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/state.tdb", dir);

        for (uint64_t round = 0; round < rounds; round++) {
                /* One round in eight kills at once, while the child may
                 * still be opening, checking or marking the file. */
                uint64_t wait_for = rnd_next(&rng) % 8 == 0 ? 0 : 1 + rnd_next(&rng) % 24;
                raft_index reported = 0, applied;
                uint8_t want[KV_DIGEST_SIZE], got[KV_DIGEST_SIZE];
                int fds[2], status, r;
                struct kv *kv = NULL;
                pid_t pid;

                assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(fds[0]);
                        run_child(path, seed, round, fds[1]);
                }
                close(fds[1]);
                /* Otherwise kill right after the k-th report: the child is
                 * then somewhere inside a later batch. */
                for (uint64_t k = 0; k < wait_for; k++) {
                        ssize_t n = read(fds[0], &reported, sizeof(reported));
                        if (n != sizeof(reported)) {
                                (void) kill(pid, SIGKILL);
                                (void) waitpid(pid, &status, 0);
                                fail_msg("round %" PRIu64 ": the child stopped on its own (status 0x%x)", round,
                                         (unsigned) status);
                        }
                }
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                /* Reports written before the kill still count. */
                while (read(fds[0], &reported, sizeof(reported)) == sizeof(reported))
                        ;
                close(fds[0]);
                last_reported = MAX(last_reported, reported);

                r = kv_open(path, &o, &kv);
                if (r == -EUCLEAN) {
                        /* Detected: rebuild by replaying the log, as a node
                         * would from its last snapshot. */
                        rebuilds++;
                        assert_int_equal(unlink(path), 0);
                        assert_int_equal(kv_open(path, &o, &kv), 0);
                        for (raft_index i = 1; i <= last_reported; i++)
                                assert_int_equal(apply_workload(kv, seed, i), 0);
                } else
                        assert_int_equal(r, 0);
                dirty_reopens++;

                applied = kv_applied_index(kv);
                assert_true(applied >= last_reported); /* no reported batch lost */
                assert_true(applied >= max_applied);
                max_applied = applied;

                while (kv_applied_index(reference) < applied)
                        assert_int_equal(apply_workload(reference, seed, kv_applied_index(reference) + 1), 0);
                assert_int_equal(kv_digest(kv, got), 0);
                assert_int_equal(kv_digest(reference, want), 0);
                if (memcmp(want, got, sizeof(want)) != 0)
                        fail_msg("round %" PRIu64 ": state at index %" PRIu64 " differs from a fresh replay", round,
                                 applied);
                /* Half the time leave it dirty for the next child too. */
                if (rnd_next(&rng) % 2)
                        kv_close(kv);
                else
                        kv_abandon(kv);
        }
        printf("# %" PRIu64 " kill rounds, %" PRIu64 " reopened after SIGKILL, %" PRIu64
               " detected rebuilds, final applied index %" PRIu64 "\n",
               rounds, dirty_reopens, rebuilds, max_applied);
        kv_close(reference);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sigkill_during_apply_leaves_replayable_state_or_detected_rebuild),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
