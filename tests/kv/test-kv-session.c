/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client sessions: exactly-once application of replayed requests, several
 * requests in flight, acknowledgement, and expiry on stamped time. */
#include "kv-test.h"

static struct kv_command session_put(uint64_t session, uint64_t seq, uint64_t acked, uint64_t now, const char *key,
                                     const char *value) {
        return (struct kv_command) {
                .type = KV_CMD_PUT,
                .time_ms = now,
                .session = session,
                .seq = seq,
                .lowest_unacked = acked,
                .key = BLOB(key),
                .value = BLOB(value),
        };
}

static void replayed_request_is_applied_once_and_answered_from_cache(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 1000, 10000);
        struct kv_command c = session_put(s, 1, 1, 1000, "/x", "first");
        struct kv_result r1, r2;
        struct kv_value v;

        r1 = apply_ok(kv, 2, &c);
        assert_int_equal(r1.status, KV_STATUS_OK);
        assert_false(r1.replayed);
        assert_int_equal(r1.revision, 2);

        /* Someone changes the key; then the client's retry of seq 1 (say,
         * after a leader change) commits again at index 4. */
        {
                struct kv_command other = { .type = KV_CMD_PUT, .time_ms = 1001, .key = BLOB("/x"),
                                            .value = BLOB("other") };
                apply_ok(kv, 3, &other);
        }
        c.value = BLOB("retry");
        r2 = apply_ok(kv, 4, &c);
        assert_true(r2.replayed);
        assert_int_equal(r2.status, KV_STATUS_OK);
        assert_int_equal(r2.revision, 2); /* the original answer */

        assert_int_equal(kv_get(kv, "/x", 2, &v), 0);
        assert_int_equal(v.mod_revision, 3); /* not overwritten by the replay */
        assert_memory_equal(v.data, "other", 5);
        kv_value_done(&v);
        kv_close(kv);
}

static void several_in_flight_seqs_are_each_applied_once_in_any_order(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 0, 10000);
        struct kv_command c;
        struct kv_result r;
        raft_index idx = 2;
        uint64_t seqs[] = { 2, 1, 3, 2, 1, 3 };
        raft_index first[4] = {};

        for (size_t i = 0; i < ELEMENTSOF(seqs); i++) {
                char key[8];

                snprintf(key, sizeof(key), "/s%" PRIu64, seqs[i]);
                c = session_put(s, seqs[i], 1, 10, key, "v");
                r = apply_ok(kv, idx, &c);
                if (i < 3) {
                        assert_false(r.replayed);
                        first[seqs[i]] = idx;
                } else {
                        assert_true(r.replayed);
                        assert_int_equal(r.revision, first[seqs[i]]);
                }
                idx++;
        }
        kv_close(kv);
}

static void acknowledged_responses_are_forgotten_and_their_replay_refused(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 0, 10000);
        struct kv_command c;
        struct kv_result r;
        struct kv_value v;

        c = session_put(s, 1, 1, 10, "/a", "1");
        apply_ok(kv, 2, &c);
        c = session_put(s, 2, 2, 10, "/b", "2"); /* seq 1's response was received */
        apply_ok(kv, 3, &c);

        /* A very late duplicate of seq 1: its answer is gone, and it must
         * not apply again. */
        c = session_put(s, 1, 1, 10, "/a", "again");
        r = apply_ok(kv, 4, &c);
        assert_int_equal(r.status, KV_STATUS_SEQUENCE_FORGOTTEN);
        assert_int_equal(r.error, -ESTALE);
        assert_int_equal(kv_get(kv, "/a", 2, &v), 0);
        assert_int_equal(v.mod_revision, 2);
        assert_memory_equal(v.data, "1", 1);
        kv_value_done(&v);
        kv_close(kv);
}

static void cached_responses_are_bounded_per_session(void **state) {
        struct kv_options o = { .max_cached_responses = 4 };
        struct kv *kv = open_memory(&o);
        uint64_t s = register_session(kv, 1, 0, 10000);
        struct kv_command c;
        struct kv_result r;

        /* A client that never acknowledges. */
        for (uint64_t seq = 1; seq <= 10; seq++) {
                c = session_put(s, seq, 1, 10, "/k", "v");
                r = apply_ok(kv, 1 + seq, &c);
                assert_false(r.replayed);
        }
        c = session_put(s, 10, 1, 10, "/k", "v");
        assert_true(apply_ok(kv, 20, &c).replayed);
        c = session_put(s, 7, 1, 10, "/k", "v");
        assert_true(apply_ok(kv, 21, &c).replayed);
        c = session_put(s, 6, 1, 10, "/k", "v");
        assert_int_equal(apply_ok(kv, 22, &c).status, KV_STATUS_SEQUENCE_FORGOTTEN);
        kv_close(kv);
}

static void session_expires_on_stamped_time_not_before(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 1000, 500);
        struct kv_command c;
        struct kv_result r;

        /* Activity at 1400 keeps it alive until 1900. */
        c = session_put(s, 1, 1, 1400, "/a", "1");
        assert_int_equal(apply_ok(kv, 2, &c).status, KV_STATUS_OK);
        c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 1899, .key = BLOB("/t"), .value = BLOB("") };
        apply_ok(kv, 3, &c);
        assert_true(kv_session_exists(kv, s));
        c.time_ms = 1900;
        apply_ok(kv, 4, &c);
        assert_false(kv_session_exists(kv, s));

        c = session_put(s, 2, 1, 1900, "/a", "2");
        r = apply_ok(kv, 5, &c);
        assert_int_equal(r.status, KV_STATUS_NO_SUCH_SESSION);
        assert_int_equal(r.error, -ENOENT);
        assert_value(kv, "/a", "1");
        kv_close(kv);
}

static void stamped_time_going_backwards_does_not_rewind_the_apply_clock(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 5000, 1000);
        struct kv_command c = { .type = KV_CMD_PUT, .time_ms = 7000, .key = BLOB("/t"), .value = BLOB("") };

        apply_ok(kv, 2, &c); /* expires the session at 7000 */
        assert_false(kv_session_exists(kv, s));
        c.time_ms = 100; /* a new leader with a slower clock */
        apply_ok(kv, 3, &c);
        assert_int_equal(kv_apply_clock(kv), 7000);
        kv_close(kv);
}

static void keepalive_extends_and_close_ends_a_session(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 0, 100);
        struct kv_command c = { .type = KV_CMD_SESSION_KEEPALIVE, .time_ms = 90, .session = s, .seq = 1,
                                .lowest_unacked = 1 };

        assert_int_equal(apply_ok(kv, 2, &c).status, KV_STATUS_OK);
        c = (struct kv_command) { .type = KV_CMD_PUT, .time_ms = 150, .key = BLOB("/t"), .value = BLOB("") };
        apply_ok(kv, 3, &c);
        assert_true(kv_session_exists(kv, s)); /* 90 + 100 > 150 */
        c = (struct kv_command) { .type = KV_CMD_SESSION_CLOSE, .time_ms = 150, .session = s, .seq = 2,
                                  .lowest_unacked = 2 };
        assert_int_equal(apply_ok(kv, 4, &c).status, KV_STATUS_OK);
        assert_false(kv_session_exists(kv, s));
        c = (struct kv_command) { .type = KV_CMD_SESSION_REGISTER, .time_ms = 150 };
        assert_int_equal(apply_ok(kv, 5, &c).status, KV_STATUS_INVALID_TTL);
        kv_close(kv);
}

static void huge_ttl_does_not_wrap_into_immediate_expiry(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t s = register_session(kv, 1, 1000, UINT64_MAX);
        uint64_t l = grant_lease(kv, 2, 1000, UINT64_MAX);
        struct kv_command c = { .type = KV_CMD_PUT, .time_ms = 5000, .key = BLOB("/t"), .value = BLOB("") };

        apply_ok(kv, 3, &c);
        assert_true(kv_session_exists(kv, s));
        assert_true(kv_lease_exists(kv, l));
        kv_close(kv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(replayed_request_is_applied_once_and_answered_from_cache),
                cmocka_unit_test(several_in_flight_seqs_are_each_applied_once_in_any_order),
                cmocka_unit_test(acknowledged_responses_are_forgotten_and_their_replay_refused),
                cmocka_unit_test(cached_responses_are_bounded_per_session),
                cmocka_unit_test(session_expires_on_stamped_time_not_before),
                cmocka_unit_test(stamped_time_going_backwards_does_not_rewind_the_apply_clock),
                cmocka_unit_test(keepalive_extends_and_close_ends_a_session),
                cmocka_unit_test(huge_ttl_does_not_wrap_into_immediate_expiry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
