/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot files: write, read back in chunks, receive in chunks, install
 * only when complete and verified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "raft/wire.h"
#include "shared/macro.h"
#include "storage-test.h"
#include "storage/crc32c.h"
#include "storage/snapshot.h"

#define DATA_SIZE (300 * 1000 + 17)
#define NO_CORRUPTION UINT64_MAX
#define SNAP_NAME(i, t) "snapshot-" i "-" t

struct fixture {
        char *dir, *peer_dir;
        struct test_sink sink;
        struct storage_snapshots *local, *peer;
        uint8_t *data;
        struct raft_snapshot_meta meta;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        f->dir = test_dir_new();
        f->peer_dir = test_dir_new();
        test_sink_init(&f->sink);
        assert_int_equal(storage_snapshots_open(f->dir, &f->sink.sink, &f->local), 0);
        assert_int_equal(storage_snapshots_open(f->peer_dir, &f->sink.sink, &f->peer), 0);
        f->data = malloc(DATA_SIZE);
        test_entry_fill(1, 1, 1, f->data, DATA_SIZE);
        f->meta = (struct raft_snapshot_meta) { .index = 1000, .term = 7, .config = { .n = 2 } };
        f->meta.config.servers[0] = (struct raft_server) { 1, RAFT_VOTER };
        f->meta.config.servers[1] = (struct raft_server) { 2, RAFT_LEARNER };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        storage_snapshots_close(f->local);
        storage_snapshots_close(f->peer);
        test_dir_remove(f->dir);
        test_dir_remove(f->peer_dir);
        test_sink_clear(&f->sink);
        free(f->data);
        free(f);
        return 0;
}

static struct storage_snapshot_writer *writer_fill(struct fixture *f, struct storage_snapshots *s,
                                                  const struct raft_snapshot_meta *meta) {
        struct storage_snapshot_writer *w;

        assert_int_equal(storage_snapshot_writer_begin(s, meta, &w), 0);
        /* In uneven pieces, as a state machine would stream it. */
        for (size_t off = 0; off < DATA_SIZE; off += 77777)
                assert_int_equal(storage_snapshot_writer_write(w, f->data + off, MIN((size_t) 77777, DATA_SIZE - off)),
                                 0);
        return w;
}

/* The commit's result. */
static int write_snapshot_into(struct fixture *f, struct storage_snapshots *s, const struct raft_snapshot_meta *meta) {
        struct storage_snapshot_writer *w = writer_fill(f, s, meta);
        int r = storage_snapshot_writer_commit(w);

        storage_snapshot_writer_free(w);
        return r;
}

static void write_snapshot(struct fixture *f, const struct raft_snapshot_meta *meta) {
        assert_int_equal(write_snapshot_into(f, f->local, meta), 0);
}

static void assert_snapshot(struct storage_snapshots *s, const struct raft_snapshot_meta *meta, const uint8_t *data) {
        struct storage_snapshot *snap;
        uint8_t *back = malloc(DATA_SIZE + 10);

        assert_int_equal(storage_snapshot_open_latest(s, &snap), 0);
        assert_int_equal(storage_snapshot_meta(snap)->index, meta->index);
        assert_int_equal(storage_snapshot_meta(snap)->term, meta->term);
        assert_int_equal(storage_snapshot_meta(snap)->config.n, meta->config.n);
        assert_memory_equal(storage_snapshot_meta(snap)->config.servers, meta->config.servers,
                            meta->config.n * sizeof(struct raft_server));
        assert_int_equal(storage_snapshot_data_size(snap), DATA_SIZE);
        assert_int_equal(storage_snapshot_read_data(snap, 0, back, DATA_SIZE + 10), DATA_SIZE);
        assert_memory_equal(back, data, DATA_SIZE);
        assert_int_equal(storage_snapshot_read_data(snap, DATA_SIZE - 5, back, 100), 5);
        storage_snapshot_close(snap);
        free(back);
}

/* Send the local snapshot to the peer in chunks of chunk_max bytes; stop
 * after stop_after bytes (marking that chunk done) if nonzero; flip one
 * bit at corrupt_at unless it is NO_CORRUPTION.  Returns the last receive result. */
static int transfer(struct fixture *f, uint32_t chunk_max, uint64_t stop_after, uint64_t corrupt_at,
                    const struct raft_snapshot_meta *claimed, bool *installed) {
        struct storage_snapshot *snap;
        uint8_t *buf = malloc(chunk_max);
        uint64_t off = 0, next;
        bool done = false;
        int r = 0;

        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), 0);
        *installed = false;
        while (!done) {
                struct raft_snapshot_chunk c = { .meta = claimed ? *claimed : *storage_snapshot_meta(snap),
                                                 .offset = off, .chunk_max = chunk_max };
                ssize_t k = storage_snapshot_read_chunk(snap, off, buf, chunk_max, &done);

                assert_true(k >= 0);
                if (stop_after && off + (uint64_t) k >= stop_after) {
                        k = (ssize_t) (stop_after - off);
                        done = true;
                }
                if (corrupt_at >= off && corrupt_at < off + (uint64_t) k)
                        buf[corrupt_at - off] ^= 0x10;
                c.data = (struct raft_buf) { buf, (size_t) k };
                c.done = done;
                r = storage_snapshots_receive(f->peer, &c, &next, installed);
                if (r < 0)
                        break;
                assert_int_equal(next, off + (uint64_t) k);
                assert_true(*installed == done);
                if (!done) {
                        struct storage_snapshot *none;

                        assert_int_equal(storage_snapshot_open_latest(f->peer, &none), -ENOENT);
                }
                off = next;
        }
        storage_snapshot_close(snap);
        free(buf);
        return r;
}

/* Send bytes [from, to) of the leader's newest snapshot (f->local) to the
 * peer in 64 KiB chunks, the chunk that ends the file marked done.
 * Returns the last receive result. */
static int send_range(struct fixture *f, uint64_t from, uint64_t to, bool *installed) {
        struct storage_snapshot *snap;
        uint8_t *buf = malloc(65536);
        uint64_t off = from, next;
        int r = 0;

        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), 0);
        *installed = false;
        while (off < to) {
                struct raft_snapshot_chunk c = { .meta = *storage_snapshot_meta(snap), .offset = off, .chunk_max = 65536 };
                bool done = false;
                ssize_t k = storage_snapshot_read_chunk(snap, off, buf, (size_t) MIN((uint64_t) 65536, to - off), &done);

                assert_true(k > 0);
                c.data = (struct raft_buf) { buf, (size_t) k };
                c.done = done;
                r = storage_snapshots_receive(f->peer, &c, &next, installed);
                if (r < 0)
                        break;
                assert_int_equal(next, off + (uint64_t) k);
                off = next;
        }
        storage_snapshot_close(snap);
        free(buf);
        return r;
}

static uint64_t local_file_size(struct fixture *f) {
        return test_file_size(f->dir, SNAP_NAME("00000000000003e8", "0000000000000007"));
}

#define RECEIVED_PARTIAL ".snapshot-00000000000003e8-0000000000000007.partial"

/* The receiver's own snapshot process finished while a newer snapshot
 * (index 1000) was half received: the transfer goes on and installs.
 * (The fault suite saw the partial file deleted and the install fail.) */
static void snapshot_written_during_a_receive_spares_the_newer_transfer(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta older = f->meta;
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(send_range(f, 0, 100000, &installed), 0);
        assert_false(installed);

        older.index = 500;
        older.term = 6;
        assert_int_equal(write_snapshot_into(f, f->peer, &older), 0);
        assert_true(test_file_exists(f->peer_dir, RECEIVED_PARTIAL));

        assert_int_equal(send_range(f, 100000, local_file_size(f), &installed), 0);
        assert_true(installed);
        assert_snapshot(f->peer, &f->meta, f->data);
        /* The received one covers the older local one. */
        assert_false(test_file_exists(f->peer_dir, SNAP_NAME("00000000000001f4", "0000000000000006")));
        assert_false(test_file_exists(f->peer_dir, RECEIVED_PARTIAL));
}

/* The other order: the received snapshot is installed first, the older
 * local one finishes afterwards.  It must not replace (or delete) the
 * newer one; it is discarded and the writer says so. */
static void snapshot_written_before_a_newer_one_was_received_is_discarded(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta older = f->meta;
        struct storage_snapshot_writer *w;
        bool installed;

        write_snapshot(f, &f->meta);
        older.index = 500;
        older.term = 6;
        w = writer_fill(f, f->peer, &older);
        assert_int_equal(send_range(f, 0, local_file_size(f), &installed), 0);
        assert_true(installed);

        assert_int_equal(storage_snapshot_writer_commit(w), -ESTALE);
        storage_snapshot_writer_free(w);
        assert_non_null(test_sink_find(&f->sink, "snapshot-00000000000001f4-0000000000000006", "newer snapshot",
                                       "index 1000", "discarded", NULL));
        assert_snapshot(f->peer, &f->meta, f->data);
        assert_false(test_file_exists(f->peer_dir, SNAP_NAME("00000000000001f4", "0000000000000006")));
        assert_false(test_file_exists(f->peer_dir, ".snapshot-00000000000001f4-0000000000000006.tmp"));
}

/* Whichever is newer wins, received or local: a received snapshot older
 * than the one on disk is discarded, and the newer local one stays. */
static void snapshot_received_older_than_the_one_on_disk_is_discarded(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta newer = f->meta;
        bool installed;

        write_snapshot(f, &f->meta);
        newer.index = 2000;
        newer.term = 8;
        assert_int_equal(write_snapshot_into(f, f->peer, &newer), 0);

        assert_int_equal(send_range(f, 0, local_file_size(f), &installed), -ESTALE);
        assert_snapshot(f->peer, &newer, f->data);
        assert_false(test_file_exists(f->peer_dir, SNAP_NAME("00000000000003e8", "0000000000000007")));
        assert_false(test_file_exists(f->peer_dir, RECEIVED_PARTIAL));
}

/* A local snapshot at or beyond a transfer's index makes the transfer
 * useless: its partial file goes with the other covered files. */
static void snapshot_written_removes_transfers_it_covers(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta newer = f->meta;
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(send_range(f, 0, 100000, &installed), 0);
        newer.index = 2000;
        newer.term = 8;
        assert_int_equal(write_snapshot_into(f, f->peer, &newer), 0);
        assert_false(test_file_exists(f->peer_dir, RECEIVED_PARTIAL));
        assert_snapshot(f->peer, &newer, f->data);
}

static void snapshot_written_is_read_back_whole_and_in_chunks(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        uint8_t chunk[4096];
        uint64_t off = 0, total = 0;
        bool done = false;

        write_snapshot(f, &f->meta);
        assert_snapshot(f->local, &f->meta, f->data);
        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), 0);
        while (!done) {
                ssize_t k = storage_snapshot_read_chunk(snap, off, chunk, sizeof(chunk), &done);

                assert_true(k > 0);
                off += (uint64_t) k;
                total += (uint64_t) k;
        }
        /* The file carries a header in front of the data. */
        assert_true(total > DATA_SIZE);
        assert_int_equal(storage_snapshot_read_chunk(snap, total + 1, chunk, sizeof(chunk), &done), -ERANGE);
        storage_snapshot_close(snap);
}

static void snapshot_newer_replaces_older(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta newer = f->meta;

        write_snapshot(f, &f->meta);
        newer.index = 2000;
        newer.term = 8;
        write_snapshot(f, &newer);
        assert_snapshot(f->local, &newer, f->data);
        assert_false(test_file_exists(f->dir, SNAP_NAME("00000000000003e8", "0000000000000007")));
        assert_true(test_file_exists(f->dir, SNAP_NAME("00000000000007d0", "0000000000000008")));
}

static void snapshot_uncommitted_writer_leaves_nothing(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot_writer *w;
        struct storage_snapshot *snap;

        assert_int_equal(storage_snapshot_writer_begin(f->local, &f->meta, &w), 0);
        assert_int_equal(storage_snapshot_writer_write(w, f->data, 1000), 0);
        storage_snapshot_writer_free(w);
        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), -ENOENT);
}

static void snapshot_received_in_chunks_is_installed_when_complete(void **state) {
        struct fixture *f = *state;
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(transfer(f, 65536, 0, NO_CORRUPTION, NULL, &installed), 0);
        assert_true(installed);
        assert_snapshot(f->peer, &f->meta, f->data);
        /* Nothing partial is left behind. */
        assert_false(test_file_exists(f->peer_dir, ".snapshot-00000000000003e8-0000000000000007.partial"));
}

static void snapshot_chunk_beyond_held_bytes_is_refused(void **state) {
        struct fixture *f = *state;
        uint8_t buf[100] = {};
        struct raft_snapshot_chunk c = { .meta = f->meta, .offset = 0, .data = { buf, sizeof(buf) } };
        uint64_t next;
        bool installed;

        assert_int_equal(storage_snapshots_receive(f->peer, &c, &next, &installed), 0);
        assert_int_equal(next, 100);
        c.offset = 500;
        assert_int_equal(storage_snapshots_receive(f->peer, &c, &next, &installed), -ERANGE);
        assert_int_equal(next, 100); /* where the sender resumes */
        /* A resent chunk is harmless. */
        c.offset = 0;
        assert_int_equal(storage_snapshots_receive(f->peer, &c, &next, &installed), 0);
        assert_int_equal(next, 100);
        assert_false(installed);
}

/* Two leaders' images of one snapshot hold the same state in other bytes,
 * maybe fewer: a transfer that starts over at offset 0 (a new leader) keeps
 * no byte of the longer partial file the old leader left. */
static void snapshot_transfer_started_over_keeps_nothing_of_the_old_image(void **state) {
        struct fixture *f = *state;
        char *new_leader_dir = test_dir_new();
        struct storage_snapshot_writer *w;
        struct storage_snapshot *snap;
        uint8_t back[1000];
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(send_range(f, 0, local_file_size(f) - 100, &installed), 0);
        assert_false(installed);
        /* The new leader's image: the same snapshot, a tenth as long. */
        storage_snapshots_close(f->local);
        assert_int_equal(storage_snapshots_open(new_leader_dir, &f->sink.sink, &f->local), 0);
        memset(f->data, 0x5a, DATA_SIZE / 10);
        assert_int_equal(storage_snapshot_writer_begin(f->local, &f->meta, &w), 0);
        assert_int_equal(storage_snapshot_writer_write(w, f->data, DATA_SIZE / 10), 0);
        assert_int_equal(storage_snapshot_writer_commit(w), 0);
        storage_snapshot_writer_free(w);
        assert_int_equal(send_range(f, 0, test_file_size(new_leader_dir, SNAP_NAME("00000000000003e8", "0000000000000007")),
                                    &installed),
                         0);
        assert_true(installed);
        assert_int_equal(storage_snapshot_open_latest(f->peer, &snap), 0);
        assert_int_equal(storage_snapshot_data_size(snap), DATA_SIZE / 10);
        assert_int_equal(storage_snapshot_read_data(snap, DATA_SIZE / 10 - sizeof(back), back, sizeof(back)),
                         sizeof(back));
        assert_memory_equal(back, f->data, sizeof(back));
        storage_snapshot_close(snap);
        test_dir_remove(new_leader_dir);
}

static void snapshot_truncated_transfer_is_refused(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(transfer(f, 65536, 200000, NO_CORRUPTION, NULL, &installed), -EBADMSG);
        assert_false(installed);
        assert_non_null(test_sink_find(&f->sink, "incomplete or corrupted", NULL));
        assert_int_equal(storage_snapshot_open_latest(f->peer, &snap), -ENOENT);
        assert_false(test_file_exists(f->peer_dir, ".snapshot-00000000000003e8-0000000000000007.partial"));
}

static void snapshot_corrupted_transfer_is_refused(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        bool installed;

        write_snapshot(f, &f->meta);
        assert_int_equal(transfer(f, 50000, 0, 123456, NULL, &installed), -EBADMSG);
        assert_false(installed);
        assert_int_equal(storage_snapshot_open_latest(f->peer, &snap), -ENOENT);
}

static void snapshot_transfer_with_other_meta_is_refused(void **state) {
        struct fixture *f = *state;
        struct raft_snapshot_meta claimed = f->meta;
        struct storage_snapshot *snap;
        bool installed;

        write_snapshot(f, &f->meta);
        claimed.config.servers[1].role = RAFT_VOTER;
        assert_int_equal(transfer(f, 65536, 0, NO_CORRUPTION, &claimed, &installed), -EBADMSG);
        assert_int_equal(storage_snapshot_open_latest(f->peer, &snap), -ENOENT);
}

static void snapshot_truncated_file_is_refused_on_open(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        const char *name = SNAP_NAME("00000000000003e8", "0000000000000007");

        write_snapshot(f, &f->meta);
        test_file_truncate(f->dir, name, test_file_size(f->dir, name) - 1);
        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "damaged snapshot", name, NULL));
}

static void snapshot_flipped_bit_is_refused_on_open(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        const char *name = SNAP_NAME("00000000000003e8", "0000000000000007");

        write_snapshot(f, &f->meta);
        test_file_flip_bit(f->dir, name, 1000, 0);
        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), -EBADMSG);
        assert_non_null(test_sink_find(&f->sink, "damaged snapshot", name, NULL));
}

static void snapshot_of_future_format_version_is_refused(void **state) {
        struct fixture *f = *state;
        struct storage_snapshot *snap;
        const char *name = SNAP_NAME("00000000000003e8", "0000000000000007");
        /* Two servers: the configuration takes 4 + 2 * 9 bytes, the header
         * checksum follows it at 48 + 22. */
        uint8_t header[74];
        char *path = test_path(f->dir, name);
        FILE *file;

        write_snapshot(f, &f->meta);
        file = fopen(path, "r+");
        assert_non_null(file);
        assert_int_equal(fread(header, 1, sizeof(header), file), sizeof(header));
        assert_int_equal(wire_get32(header + 70), crc32c(header, 70));
        wire_put32(header + 8, 2);
        wire_put32(header + 70, crc32c(header, 70));
        rewind(file);
        assert_int_equal(fwrite(header, 1, sizeof(header), file), sizeof(header));
        fclose(file);
        free(path);
        assert_int_equal(storage_snapshot_open_latest(f->local, &snap), -EPROTONOSUPPORT);
        assert_non_null(test_sink_find(&f->sink, "unsupported snapshot format version", name, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(snapshot_written_is_read_back_whole_and_in_chunks, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_newer_replaces_older, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_uncommitted_writer_leaves_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_received_in_chunks_is_installed_when_complete, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(snapshot_chunk_beyond_held_bytes_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_truncated_transfer_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_transfer_started_over_keeps_nothing_of_the_old_image, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(snapshot_corrupted_transfer_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_transfer_with_other_meta_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_truncated_file_is_refused_on_open, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_flipped_bit_is_refused_on_open, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_of_future_format_version_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(snapshot_written_during_a_receive_spares_the_newer_transfer, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(snapshot_written_before_a_newer_one_was_received_is_discarded, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(snapshot_received_older_than_the_one_on_disk_is_discarded, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(snapshot_written_removes_transfers_it_covers, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
