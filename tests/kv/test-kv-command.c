/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command codec: every command round-trips; malformed input is refused
 * without reading out of bounds (also under random and mutated bytes). */
#include <time.h>

#include "kv-test.h"

static struct kv_command sample(enum kv_command_type t) {
        struct kv_command c = {
                .type = t,
                .time_ms = 123456789,
        };

        switch (t) {
        case KV_CMD_PUT:
                c.key = BLOB("/config/a");
                c.value = BLOB("value");
                c.lease = 77;
                break;
        case KV_CMD_DELETE:
        case KV_CMD_LOCK_RELEASE:
                c.key = BLOB("/config/a");
                break;
        case KV_CMD_COMPARE_AND_SWAP:
                c.key = BLOB("k");
                c.expected_present = true;
                c.expected = BLOB("old");
                c.new_present = true;
                c.value = BLOB("new");
                break;
        case KV_CMD_SESSION_REGISTER:
        case KV_CMD_LEASE_GRANT:
                c.ttl_ms = 5000;
                break;
        case KV_CMD_LOCK_ACQUIRE:
                c.key = BLOB("backup");
                c.owner = BLOB("node1/:1.42/0/100/backupd");
                c.lease = 9;
                break;
        case KV_CMD_LEASE_KEEPALIVE:
        case KV_CMD_LEASE_REVOKE:
                c.lease = 9;
                break;
        default:
                break;
        }
        if (t == KV_CMD_SESSION_KEEPALIVE || t == KV_CMD_SESSION_CLOSE || t == KV_CMD_LOCK_ACQUIRE ||
            t == KV_CMD_LOCK_RELEASE || t == KV_CMD_PUT) {
                c.session = 5;
                c.seq = 17;
                c.lowest_unacked = 15;
        }
        return c;
}

static void assert_blob_equal(struct kv_blob a, struct kv_blob b) {
        assert_int_equal(a.len, b.len);
        if (a.len > 0)
                assert_memory_equal(a.data, b.data, a.len);
}

static void every_command_round_trips(void **state) {
        for (int t = KV_CMD_PUT; t < _KV_CMD_MAX; t++) {
                struct kv_command c = sample(t), d;
                uint8_t *buf;
                size_t len;

                assert_non_null(kv_command_type_to_string(t));
                assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
                assert_int_equal(buf[0], KV_COMMAND_VERSION);
                assert_int_equal(kv_command_decode(buf, len, &d), 0);
                assert_int_equal(d.type, c.type);
                assert_int_equal(d.time_ms, c.time_ms);
                assert_int_equal(d.session, c.session);
                assert_int_equal(d.seq, c.seq);
                assert_int_equal(d.lowest_unacked, c.lowest_unacked);
                assert_int_equal(d.lease, c.lease);
                assert_int_equal(d.ttl_ms, c.ttl_ms);
                assert_int_equal(d.expected_present, c.expected_present);
                assert_int_equal(d.new_present, c.new_present);
                assert_blob_equal(d.key, c.key);
                assert_blob_equal(d.value, c.value);
                assert_blob_equal(d.expected, c.expected);
                assert_blob_equal(d.owner, c.owner);
                free(buf);
        }
}

/* The node stamps the leader's time and binds the session in place: the
 * bytes must be what encoding the changed command gives. */
static void time_and_session_set_in_place_equal_a_fresh_encoding(void **state) {
        for (int t = KV_CMD_PUT; t < _KV_CMD_MAX; t++) {
                struct kv_command c = sample(t);
                uint8_t *buf, *want;
                size_t len, want_len;

                assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
                c.time_ms = 987654321;
                assert_int_equal(kv_command_set_time(buf, len, c.time_ms), 0);
                if (c.session != 0) {
                        c.session = 6;
                        c.seq = 40;
                        c.lowest_unacked = 33;
                        assert_int_equal(kv_command_set_session(buf, len, 6, 40, 33), 0);
                        assert_int_equal(kv_command_set_session(buf, len, 0, 40, 33), -EINVAL);
                } else
                        assert_int_equal(kv_command_set_session(buf, len, 6, 40, 33), -EBADMSG);
                assert_int_equal(kv_command_encode(&c, &want, &want_len), 0);
                assert_int_equal(len, want_len);
                assert_memory_equal(buf, want, len);
                assert_int_equal(kv_command_set_time(buf, 10, 1), -EBADMSG);
                buf[0] = KV_COMMAND_VERSION + 1;
                assert_int_equal(kv_command_set_time(buf, len, 1), -EBADMSG);
                free(want);
                free(buf);
        }
}

static void cas_absent_expectation_and_deletion_round_trip(void **state) {
        struct kv_command c = { .type = KV_CMD_COMPARE_AND_SWAP, .key = BLOB("k") }, d;
        uint8_t *buf;
        size_t len;

        assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
        assert_int_equal(kv_command_decode(buf, len, &d), 0);
        assert_false(d.expected_present);
        assert_false(d.new_present);
        free(buf);
}

static void encoder_refuses_commands_without_encoding(void **state) {
        struct kv_command c = { .type = KV_CMD_LOCK_ACQUIRE, .key = BLOB("l") };
        uint8_t *buf;
        size_t len;

        assert_int_equal(kv_command_encode(&c, &buf, &len), -EINVAL); /* no session */
        c.type = _KV_CMD_MAX;
        assert_int_equal(kv_command_encode(&c, &buf, &len), -EINVAL);
}

static void decoder_refuses_every_truncation_and_trailing_byte(void **state) {
        for (int t = KV_CMD_PUT; t < _KV_CMD_MAX; t++) {
                struct kv_command c = sample(t), d;
                uint8_t *buf, *copy;
                size_t len;

                assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
                for (size_t n = 0; n < len; n++) {
                        /* An exact-size heap copy, so ASan sees any overread. */
                        copy = malloc(n ? n : 1);
                        memcpy(copy, buf, n);
                        assert_int_equal(kv_command_decode(copy, n, &d), -EBADMSG);
                        free(copy);
                }
                copy = malloc(len + 1);
                memcpy(copy, buf, len);
                copy[len] = 0;
                assert_int_equal(kv_command_decode(copy, len + 1, &d), -EBADMSG);
                free(copy);
                free(buf);
        }
}

static void decoder_refuses_bad_header_fields(void **state) {
        struct kv_command c = sample(KV_CMD_DELETE), d;
        uint8_t *buf;
        size_t len;

        assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
        buf[0] = 0; /* version 0 never existed */
        assert_int_equal(kv_command_decode(buf, len, &d), -EBADMSG);
        buf[0] = KV_COMMAND_VERSION + 1;
        assert_int_equal(kv_command_decode(buf, len, &d), -EPROTONOSUPPORT);
        buf[0] = KV_COMMAND_VERSION;
        buf[1] = _KV_CMD_MAX; /* unknown type */
        assert_int_equal(kv_command_decode(buf, len, &d), -EBADMSG);
        buf[1] = 0;
        assert_int_equal(kv_command_decode(buf, len, &d), -EBADMSG);
        buf[1] = KV_CMD_DELETE;
        buf[2] = 0x80; /* unknown flag */
        assert_int_equal(kv_command_decode(buf, len, &d), -EBADMSG);
        buf[2] = 0x02; /* a CAS flag on a delete */
        assert_int_equal(kv_command_decode(buf, len, &d), -EBADMSG);
        buf[2] = 0;
        assert_int_equal(kv_command_decode(buf, len, &d), 0);
        free(buf);

        /* A keep-alive without the session it keeps alive. */
        c = (struct kv_command) { .type = KV_CMD_SESSION_KEEPALIVE, .session = 3, .seq = 1 };
        assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
        buf[2] = 0;
        assert_int_equal(kv_command_decode(buf, len - 24, &d), -EBADMSG);
        free(buf);
}

static void decoder_survives_random_and_mutated_bytes(void **state) {
        uint64_t seed = test_seed("KV_FUZZ_SEED"), rng = seed;
        uint64_t iterations = env_u64("KV_FUZZ_ITERATIONS", 200000);
        unsigned accepted = 0;

        for (uint64_t i = 0; i < iterations; i++) {
                struct kv_command c = sample(KV_CMD_PUT + (int) (rnd_next(&rng) % (_KV_CMD_MAX - 1))), d;
                uint8_t *buf, *copy;
                size_t len, n;
                int r;

                assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
                if (rnd_next(&rng) % 4 == 0) {
                        /* Pure noise of random length. */
                        n = rnd_next(&rng) % 96;
                        copy = malloc(n ? n : 1);
                        for (size_t j = 0; j < n; j++)
                                copy[j] = (uint8_t) rnd_next(&rng);
                        if (n > 0 && rnd_next(&rng) % 2)
                                copy[0] = KV_COMMAND_VERSION;
                } else {
                        /* A valid command with a few bytes flipped and maybe cut. */
                        n = rnd_next(&rng) % 3 == 0 ? rnd_next(&rng) % (len + 1) : len;
                        copy = malloc(n ? n : 1);
                        memcpy(copy, buf, n);
                        for (unsigned k = 1 + rnd_next(&rng) % 3; n > 0 && k > 0; k--)
                                copy[rnd_next(&rng) % n] ^= (uint8_t) (1u << (rnd_next(&rng) % 8));
                }
                r = kv_command_decode(copy, n, &d);
                if (r == 0) {
                        /* Whatever decodes must point inside the input. */
                        accepted++;
                        if (d.key.len)
                                assert_true(d.key.data >= copy && d.key.data + d.key.len <= copy + n);
                        if (d.value.len)
                                assert_true(d.value.data >= copy && d.value.data + d.value.len <= copy + n);
                        if (d.owner.len)
                                assert_true(d.owner.data >= copy && d.owner.data + d.owner.len <= copy + n);
                } else
                        assert_true(r == -EBADMSG || r == -EPROTONOSUPPORT);
                free(copy);
                free(buf);
        }
        printf("# %" PRIu64 " inputs, %u decoded\n", iterations, accepted);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_command_round_trips),
                cmocka_unit_test(cas_absent_expectation_and_deletion_round_trip),
                cmocka_unit_test(time_and_session_set_in_place_equal_a_fresh_encoding),
                cmocka_unit_test(encoder_refuses_commands_without_encoding),
                cmocka_unit_test(decoder_refuses_every_truncation_and_trailing_byte),
                cmocka_unit_test(decoder_refuses_bad_header_fields),
                cmocka_unit_test(decoder_survives_random_and_mutated_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
