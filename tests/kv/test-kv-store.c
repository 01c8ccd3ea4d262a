/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TDB file and snapshots: a snapshot loads to an identical state on
 * another node; bad snapshots are refused with nothing changed; an unclean
 * or damaged file is detected, never silently served. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tdb.h>

#include "kv-test.h"

struct captured {
        char text[4096];
};

static void capture(void *userdata, int priority, const char *message) {
        struct captured *c = userdata;
        size_t n = strlen(c->text);

        snprintf(c->text + n, sizeof(c->text) - n, "%s\n", message);
}

/* Keys, sessions with cached responses, a held lock with a waiter, a lease
 * with bound keys: everything a snapshot must carry. */
static raft_index build_rich_state(struct kv *kv) {
        uint64_t a = register_session(kv, 1, 100, 5000), b = register_session(kv, 2, 100, 7000), sa = 0, sb = 0;
        uint64_t lease = grant_lease(kv, 3, 100, 3000);
        raft_index idx = 4;
        struct kv_command c;

        for (int i = 0; i < 40; i++) {
                char key[32], value[32];

                snprintf(key, sizeof(key), "/data/%02d", i);
                snprintf(value, sizeof(value), "value-%d", i * i);
                c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 200 + i, .key = BLOB(key),
                                          .value = BLOB(value), .lease = i % 5 == 0 ? lease : 0 };
                if (i % 3 == 0) {
                        c.session = a;
                        c.seq = ++sa;
                        c.lowest_unacked = sa > 2 ? sa - 2 : 1;
                }
                apply_ok(kv, idx++, &c);
        }
        c = lock_command(KV_CMD_LOCK_ACQUIRE, a, &sa, 300, "backup", "n1/:1.5/0/42/backupd", lease);
        apply_ok(kv, idx++, &c);
        c = lock_command(KV_CMD_LOCK_ACQUIRE, b, &sb, 301, "backup", "n2/:1.9/0/43/backupd", 0);
        apply_ok(kv, idx++, &c);
        c = (struct kv_command) { .type = KV_CMD_DELETE, .time_ms = 302, .key = BLOB("/data/07") };
        apply_ok(kv, idx++, &c);
        return idx - 1;
}

static int snapshot_fd(struct kv *kv) {
        int fd = memfd_create("kv-snapshot", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(kv_snapshot_write(kv, fd), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void snapshot_loads_to_an_identical_state_on_another_node(void **state) {
        struct kv *kv = open_memory(NULL), *other = open_memory(NULL);
        struct kv_command c = { .type = KV_CMD_PUT, .key = BLOB("/stale"), .value = BLOB("x") };
        raft_index last = build_rich_state(kv);
        struct kv_value v;
        int fd;

        apply_ok(other, 1, &c); /* replaced by the load */
        fd = snapshot_fd(kv);
        assert_int_equal(kv_snapshot_load(other, fd), 0);
        close(fd);
        assert_same_digest(kv, other);
        assert_int_equal(kv_applied_index(other), last);
        assert_int_equal(kv_apply_clock(other), kv_apply_clock(kv));
        assert_value(other, "/stale", NULL);
        assert_int_equal(kv_get(other, "/data/05", 8, &v), 0);
        assert_memory_equal(v.data, "value-25", 8);
        kv_value_done(&v);

        /* Both go on alike: the lease and session a expire at the same
         * index, the waiter gets the lock with the same fence. */
        c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 6000, .key = BLOB("/t"), .value = BLOB("") };
        apply_ok(kv, last + 1, &c);
        apply_ok(other, last + 1, &c);
        assert_same_digest(kv, other);
        assert_value(other, "/data/05", NULL);
        kv_close(kv);
        kv_close(other);
}

static void assert_load_refused_with_nothing_changed(const uint8_t *image, size_t len, int want) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = { .type = KV_CMD_PUT, .key = BLOB("/mine"), .value = BLOB("x") };
        uint8_t before[KV_DIGEST_SIZE], after[KV_DIGEST_SIZE];
        int fd = memfd_create("kv-bad-snapshot", MFD_CLOEXEC);

        apply_ok(kv, 1, &c);
        assert_int_equal(kv_digest(kv, before), 0);
        assert_int_equal(write(fd, image, len), (ssize_t) len);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(kv_snapshot_load(kv, fd), want);
        close(fd);
        assert_int_equal(kv_digest(kv, after), 0);
        assert_memory_equal(before, after, KV_DIGEST_SIZE);
        assert_value(kv, "/mine", "x");
        assert_int_equal(kv_applied_index(kv), 1);
        /* And the handle still applies. */
        c.value = BLOB("y");
        apply_ok(kv, 2, &c);
        assert_value(kv, "/mine", "y");
        kv_close(kv);
}

static uint8_t *snapshot_bytes(size_t *len) {
        struct kv *kv = open_memory(NULL);
        int fd;
        struct stat st;
        uint8_t *image;

        build_rich_state(kv);
        fd = snapshot_fd(kv);
        assert_int_equal(fstat(fd, &st), 0);
        image = malloc(st.st_size);
        assert_int_equal(read(fd, image, st.st_size), st.st_size);
        close(fd);
        kv_close(kv);
        *len = st.st_size;
        return image;
}

static void snapshot_of_a_future_version_is_refused_with_nothing_changed(void **state) {
        size_t len;
        uint8_t *image = snapshot_bytes(&len);

        image[8] = KV_SNAPSHOT_VERSION + 1;
        assert_load_refused_with_nothing_changed(image, len, -EPROTONOSUPPORT);
        free(image);
}

static void damaged_snapshot_is_refused_with_nothing_changed(void **state) {
        uint64_t seed = test_seed("KV_SNAPSHOT_SEED"), rng = seed;
        size_t len;
        uint8_t *image = snapshot_bytes(&len);

        /* Truncated anywhere, including mid-record and before the trailer. */
        for (int i = 0; i < 24; i++)
                assert_load_refused_with_nothing_changed(image, rnd_next(&rng) % len, -EBADMSG);
        assert_load_refused_with_nothing_changed(image, len - 1, -EBADMSG);
        /* Not a snapshot. */
        assert_load_refused_with_nothing_changed((const uint8_t *) "hello", 5, -EBADMSG);
        /* A flipped bit after the header: a record, its framing or the
         * digest no longer matches. */
        for (int i = 0; i < 24; i++) {
                size_t at = 28 + rnd_next(&rng) % (len - 28);
                uint8_t mask = (uint8_t) (1u << (rnd_next(&rng) % 8));

                image[at] ^= mask;
                assert_load_refused_with_nothing_changed(image, len, -EBADMSG);
                image[at] ^= mask;
        }
        /* Trailing garbage. */
        image = realloc(image, len + 1);
        image[len] = 0;
        assert_load_refused_with_nothing_changed(image, len + 1, -EBADMSG);
        free(image);
}

static char *temp_dir(void) {
        char *d = strdup("/tmp/raftd-kv-test-XXXXXX");

        assert_non_null(mkdtemp(d));
        return d;
}

static void remove_dir(char *dir, const char *path) {
        unlink(path);
        rmdir(dir);
        free(dir);
}

static void clean_close_and_reopen_keeps_the_state(void **state) {
        char *dir = temp_dir(), path[256];
        struct kv_options o = { .boot_id = "boot-1" };
        struct kv *kv;
        uint8_t before[KV_DIGEST_SIZE], after[KV_DIGEST_SIZE];
        raft_index last;

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, &o, &kv), 0);
        last = build_rich_state(kv);
        assert_int_equal(kv_digest(kv, before), 0);
        kv_close(kv);

        /* Even from another boot: a clean file was synced before marking. */
        o.boot_id = "boot-2";
        assert_int_equal(kv_open(path, &o, &kv), 0);
        assert_int_equal(kv_applied_index(kv), last);
        assert_int_equal(kv_digest(kv, after), 0);
        assert_memory_equal(before, after, KV_DIGEST_SIZE);
        kv_close(kv);
        remove_dir(dir, path);
}

/* The node forks a snapshot child right after a commit and keeps applying
 * in an open batch (committing nothing) while the child writes the image:
 * TDB must keep an open transaction's writes, file growth included, out of
 * the file, so the child's image is the state at the fork. */
static void child_snapshot_is_the_state_at_fork_while_a_batch_stays_open(void **state) {
        char *dir = temp_dir(), path[256];
        struct kv_options o = { .boot_id = "boot-1" };
        uint8_t at_fork[KV_DIGEST_SIZE];
        struct kv *kv, *other = open_memory(NULL);
        char value[1024];
        int go[2], fd, status;
        raft_index last;
        pid_t pid;

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, &o, &kv), 0);
        last = build_rich_state(kv);
        assert_int_equal(kv_digest(kv, at_fork), 0);
        fd = memfd_create("kv-snapshot", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pipe(go), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char c;

                /* Reads only after the parent wrote plenty. */
                _exit(read(go[0], &c, 1) == 1 && kv_snapshot_write(kv, fd) == 0 ? 0 : 1);
        }
        memset(value, 'x', sizeof(value));
        assert_int_equal(kv_batch_begin(kv), 0);
        for (int i = 0; i < 3000; i++) {
                char key[32];
                struct kv_command c;

                snprintf(key, sizeof(key), "/grow/%04d", i);
                c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 400, .key = BLOB(key),
                                          .value = { (const uint8_t *) value, sizeof(value) } };
                apply_ok(kv, last + 1 + (raft_index) i, &c);
        }
        assert_int_equal(write(go[1], "g", 1), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(kv_batch_commit(kv), 0);

        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(kv_snapshot_load(other, fd), 0);
        assert_int_equal(kv_applied_index(other), last);
        {
                uint8_t got[KV_DIGEST_SIZE];

                assert_int_equal(kv_digest(other, got), 0);
                assert_memory_equal(got, at_fork, KV_DIGEST_SIZE);
        }
        {
                struct kv_value v;

                assert_int_equal(kv_get(kv, "/grow/2999", 10, &v), 0);
                assert_int_equal(v.len, sizeof(value));
                kv_value_done(&v);
        }
        close(fd);
        close(go[0]);
        close(go[1]);
        kv_close(other);
        kv_close(kv);
        remove_dir(dir, path);
}

static void unclean_shutdown_in_the_same_boot_is_checked_and_trusted(void **state) {
        char *dir = temp_dir(), path[256];
        struct captured log = {};
        struct kv_options o = { .boot_id = "boot-1", .log = { capture, &log } };
        struct kv *kv;
        uint8_t before[KV_DIGEST_SIZE], after[KV_DIGEST_SIZE];

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, &o, &kv), 0);
        build_rich_state(kv);
        assert_int_equal(kv_digest(kv, before), 0);
        kv_abandon(kv);

        assert_int_equal(kv_open(path, &o, &kv), 0);
        assert_non_null(strstr(log.text, "not closed cleanly"));
        assert_int_equal(kv_digest(kv, after), 0);
        assert_memory_equal(before, after, KV_DIGEST_SIZE);
        kv_close(kv);
        remove_dir(dir, path);
}

static void unclean_shutdown_from_another_boot_needs_rebuild(void **state) {
        char *dir = temp_dir(), path[256];
        struct captured log = {};
        struct kv_options o = { .boot_id = "boot-1", .log = { capture, &log } };
        struct kv *kv;

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, &o, &kv), 0);
        build_rich_state(kv);
        kv_abandon(kv);

        o.boot_id = "boot-2"; /* the machine crashed: writes may be lost */
        kv = NULL;
        assert_int_equal(kv_open(path, &o, &kv), -EUCLEAN);
        assert_null(kv);
        assert_non_null(strstr(log.text, "rebuild it from the last snapshot and the log"));
        remove_dir(dir, path);
}

/* Finds needle in the file and changes the byte at offset delta from it. */
static void damage_file_near(const char *path, const char *needle, long delta, uint8_t value) {
        int fd = open(path, O_RDWR);
        struct stat st;
        uint8_t *map;
        void *at;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(map != MAP_FAILED);
        at = memmem(map, st.st_size, needle, strlen(needle));
        assert_non_null(at);
        ((uint8_t *) at)[delta] = value;
        munmap(map, st.st_size);
        close(fd);
}

static void damaged_tdb_file_is_detected(void **state) {
        struct {
                bool clean_close;
                long delta;
                uint8_t value;
        } cases[] = {
                { false, 9, 0x7f },   /* our record header after the key "k/victim/x" */
                { false, -24, 0xff }, /* TDB's record header before the key */
                { true, 9, 0x7f },    /* clean, with check_on_open */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *dir = temp_dir(), path[256];
                struct captured log = {};
                struct kv_options o = { .boot_id = "boot-1", .log = { capture, &log }, .check_on_open = true };
                struct kv_command c = { .type = KV_CMD_PUT, .key = BLOB("/victim/x"), .value = BLOB("payload") };
                struct kv *kv;

                snprintf(path, sizeof(path), "%s/state.tdb", dir);
                assert_int_equal(kv_open(path, &o, &kv), 0);
                build_rich_state(kv);
                apply_ok(kv, 1000, &c);
                if (cases[i].clean_close)
                        kv_close(kv);
                else
                        kv_abandon(kv);

                damage_file_near(path, "k/victim/x", cases[i].delta, cases[i].value);
                kv = NULL;
                assert_int_equal(kv_open(path, &o, &kv), -EUCLEAN);
                assert_null(kv);
                assert_non_null(strstr(log.text, "rebuild it from the last snapshot and the log"));
                remove_dir(dir, path);
        }
}

/* TDB formats a file whose header it cannot read when asked to create:
 * that must never happen to an existing state file. */
static void state_file_with_a_damaged_header_is_refused_not_reformatted(void **state) {
        char *dir = temp_dir(), path[256];
        struct kv_options o = { .boot_id = "boot-1" };
        struct kv *kv;
        FILE *f;

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, &o, &kv), 0);
        build_rich_state(kv);
        kv_close(kv);
        f = fopen(path, "r+");
        assert_non_null(f);
        for (int i = 0; i < 256; i++)
                fputc(0x5a, f);
        fclose(f);
        kv = NULL;
        assert_int_equal(kv_open(path, &o, &kv), -EUCLEAN);
        assert_null(kv);
        remove_dir(dir, path);
}

static void the_running_boot_is_used_when_none_is_given(void **state) {
        char *dir = temp_dir(), path[256];
        struct kv *kv;
        raft_index last;

        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        assert_int_equal(kv_open(path, NULL, &kv), 0);
        last = build_rich_state(kv);
        kv_abandon(kv);
        /* Same boot, so a dirty file is checked and trusted. */
        assert_int_equal(kv_open(path, NULL, &kv), 0);
        assert_int_equal(kv_applied_index(kv), last);
        kv_close(kv);
        remove_dir(dir, path);
}

static void foreign_tdb_file_is_not_served(void **state) {
        char *dir = temp_dir(), path[256];
        struct captured log = {};
        struct kv_options o = { .boot_id = "boot-1", .log = { capture, &log } };
        struct tdb_context *tdb;
        struct kv *kv = NULL;
        TDB_DATA key = { .dptr = (uint8_t *) "kfoo", .dsize = 4 }, data = { .dptr = (uint8_t *) "bar", .dsize = 3 };

        /* A TDB file with data but never marked by kv_open(). */
        snprintf(path, sizeof(path), "%s/state.tdb", dir);
        tdb = tdb_open(path, 0, 0, O_RDWR | O_CREAT, 0600);
        assert_non_null(tdb);
        assert_int_equal(tdb_store(tdb, key, data, TDB_INSERT), 0);
        tdb_close(tdb);
        assert_int_equal(kv_open(path, &o, &kv), -EUCLEAN);
        assert_null(kv);
        assert_non_null(strstr(log.text, "no shutdown marker"));
        remove_dir(dir, path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(snapshot_loads_to_an_identical_state_on_another_node),
                cmocka_unit_test(snapshot_of_a_future_version_is_refused_with_nothing_changed),
                cmocka_unit_test(damaged_snapshot_is_refused_with_nothing_changed),
                cmocka_unit_test(clean_close_and_reopen_keeps_the_state),
                cmocka_unit_test(child_snapshot_is_the_state_at_fork_while_a_batch_stays_open),
                cmocka_unit_test(unclean_shutdown_in_the_same_boot_is_checked_and_trusted),
                cmocka_unit_test(unclean_shutdown_from_another_boot_needs_rebuild),
                cmocka_unit_test(damaged_tdb_file_is_detected),
                cmocka_unit_test(state_file_with_a_damaged_header_is_refused_not_reformatted),
                cmocka_unit_test(the_running_boot_is_used_when_none_is_given),
                cmocka_unit_test(foreign_tdb_file_is_not_served),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
