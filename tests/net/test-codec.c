/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire codec: round trips of every message type, and refusal of
 * truncated, oversized, trailing and out-of-range input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/codec.h"
#include "raft/wire.h"
#include "shared/macro.h"
#include "samples.h"

/* Encode sample i into b; returns the payload (after the header). */
static const uint8_t *encode_sample(unsigned i, struct net_buf *b, uint32_t *payload_len) {
        struct raft_message m;
        uint8_t type;

        sample_message(i, 1, 2, &m);
        b->len = 0;
        assert_int_equal(net_encode_raft(b, &m), 0);
        assert_int_equal(net_frame_header_parse(b->data, NET_FRAME_PAYLOAD_MAX, &type, payload_len), 0);
        assert_int_equal(type, NET_FRAME_RAFT);
        assert_int_equal(*payload_len + NET_FRAME_HEADER_SIZE, b->len);
        assert_int_equal(*payload_len, net_raft_encoded_size(&m));
        return b->data + NET_FRAME_HEADER_SIZE;
}

static void every_message_type_round_trips(void **state) {
        struct net_buf b = {};
        bool seen[_RAFT_MSG_TYPE_MAX] = {};

        for (unsigned i = 0; i < SAMPLE_COUNT; i++) {
                struct net_raft_message d;
                struct raft_message m;
                uint32_t len;
                const uint8_t *p = encode_sample(i, &b, &len);

                sample_message(i, 1, 2, &m);
                assert_int_equal(net_decode_raft(p, len, &d), 0);
                assert_true(messages_equal(&m, &d.msg));
                seen[m.type] = true;
                net_raft_message_done(&d);
        }
        for (unsigned t = RAFT_MSG_APPEND; t < _RAFT_MSG_TYPE_MAX; t++)
                assert_true(seen[t]);
        net_buf_done(&b);
}

static void decoded_entries_and_chunks_point_into_the_frame(void **state) {
        struct net_buf b = {};
        struct net_raft_message d;
        uint32_t len;
        const uint8_t *p;

        p = encode_sample(1, &b, &len);
        assert_int_equal(net_decode_raft(p, len, &d), 0);
        assert_int_equal(d.msg.append.n_entries, 3);
        assert_ptr_equal(d.msg.append.entries, d.entries);
        for (unsigned i = 0; i < 3; i++)
                if (d.entries[i].data.len > 0)
                        assert_true((const uint8_t *) d.entries[i].data.base >= p &&
                                    (const uint8_t *) d.entries[i].data.base + d.entries[i].data.len <= p + len);
        net_raft_message_done(&d);

        p = encode_sample(7, &b, &len);
        assert_int_equal(net_decode_raft(p, len, &d), 0);
        assert_true((const uint8_t *) d.msg.snapshot.data.base >= p &&
                    (const uint8_t *) d.msg.snapshot.data.base + d.msg.snapshot.data.len <= p + len);
        net_raft_message_done(&d);
        net_buf_done(&b);
}

static void every_truncation_is_refused(void **state) {
        struct net_buf b = {};

        for (unsigned i = 0; i < SAMPLE_COUNT; i++) {
                uint32_t len;
                const uint8_t *p = encode_sample(i, &b, &len);

                for (uint32_t cut = 0; cut < len; cut++) {
                        struct net_raft_message d;
                        /* An exact-size copy, so a read past the end is an
                         * ASan error rather than luck. */
                        uint8_t *copy = malloc(cut ? cut : 1);

                        assert_non_null(copy);
                        memcpy(copy, p, cut);
                        assert_int_equal(net_decode_raft(copy, cut, &d), -EBADMSG);
                        assert_null(d.entries);
                        free(copy);
                }
        }
        net_buf_done(&b);
}

static void trailing_bytes_are_refused(void **state) {
        struct net_buf b = {};
        struct net_raft_message d;
        uint32_t len;

        encode_sample(3, &b, &len);
        assert_int_equal(net_buf_append(&b, "x", 1), 0);
        assert_int_equal(net_decode_raft(b.data + NET_FRAME_HEADER_SIZE, len + 1, &d), -EBADMSG);
        net_buf_done(&b);
}

static void oversized_frames_are_refused(void **state) {
        uint8_t h[NET_FRAME_HEADER_SIZE];
        struct net_buf b = {};
        struct raft_message m;
        struct raft_entry e = { .term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL };
        uint32_t len;
        uint8_t type;

        /* Header announcing more than the limit. */
        net_frame_header_write(h, NET_FRAME_RAFT, NET_FRAME_PAYLOAD_MAX + 1);
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EMSGSIZE);
        wire_put32(h, UINT32_MAX);
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EMSGSIZE);
        net_frame_header_write(h, NET_FRAME_RAFT, NET_FRAME_PAYLOAD_MAX);
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), 0);
        assert_int_equal(len, NET_FRAME_PAYLOAD_MAX);

        /* The encoder refuses to build one. */
        e.data.len = NET_FRAME_PAYLOAD_MAX;
        e.data.base = calloc(1, e.data.len);
        assert_non_null(e.data.base);
        sample_message(0, 1, 2, &m);
        m.append.n_entries = 1;
        m.append.entries = &e;
        assert_int_equal(net_encode_raft(&b, &m), -EMSGSIZE);
        assert_int_equal(b.len, 0);
        assert_int_equal(net_encode_forward(&b, NET_FRAME_FORWARD_REQUEST, 1, e.data.base, e.data.len), -EMSGSIZE);
        free(e.data.base);

        /* More entries than a message may carry. */
        m.append.n_entries = NET_MSG_ENTRIES_MAX + 1;
        assert_int_equal(net_encode_raft(&b, &m), -EINVAL);
        net_buf_done(&b);
}

static void too_many_entries_are_refused_by_the_decoder(void **state) {
        struct net_buf b = {};
        struct net_raft_message d;
        uint32_t len;
        uint8_t *p;

        encode_sample(0, &b, &len);
        p = b.data + NET_FRAME_HEADER_SIZE;
        /* n_entries sits after the 25-byte head and four u64 fields. */
        wire_put32(p + 25 + 32, NET_MSG_ENTRIES_MAX + 1);
        assert_int_equal(net_decode_raft(p, len, &d), -EBADMSG);
        /* A count the remaining bytes cannot hold. */
        wire_put32(p + 25 + 32, 1000);
        assert_int_equal(net_decode_raft(p, len, &d), -EBADMSG);
        net_buf_done(&b);
}

/* Patch byte `at` of sample i's payload to v; expect refusal. */
static void expect_refused_with(unsigned i, size_t at, uint8_t v) {
        struct net_buf b = {};
        struct net_raft_message d;
        uint32_t len;
        uint8_t *p;

        encode_sample(i, &b, &len);
        p = b.data + NET_FRAME_HEADER_SIZE;
        assert_true(at < len);
        p[at] = v;
        assert_int_equal(net_decode_raft(p, len, &d), -EBADMSG);
        net_buf_done(&b);
}

static void out_of_range_enums_and_bools_are_refused(void **state) {
        uint8_t h[NET_FRAME_HEADER_SIZE];
        uint32_t len;
        uint8_t type;

        /* Message type. */
        expect_refused_with(9, 0, 0);
        expect_refused_with(9, 0, _RAFT_MSG_TYPE_MAX);
        /* Entry type of the first entry: head 25 + 4*8 + 4 + term 8 + index 8. */
        expect_refused_with(1, 25 + 36 + 16, 0);
        expect_refused_with(1, 25 + 36 + 16, RAFT_ENTRY_CONFIG + 1);
        /* Booleans: append_result.success, vote.transfer, vote_result.granted. */
        expect_refused_with(2, 25, 2);
        expect_refused_with(3, 25 + 16, 0x80);
        expect_refused_with(4, 25, 2);
        /* Snapshot config: n, role, id 0. */
        expect_refused_with(7, 25 + 16, RAFT_CONFIG_MAX + 1);
        expect_refused_with(7, 25 + 16 + 4 + 8, RAFT_LEARNER + 1);
        expect_refused_with(7, 25 + 16 + 4 + 8, 0);
        /* from = 0 */
        {
                struct net_buf b = {};
                struct net_raft_message d;
                uint8_t *p;

                encode_sample(9, &b, &len);
                p = b.data + NET_FRAME_HEADER_SIZE;
                memset(p + 1, 0, 8);
                assert_int_equal(net_decode_raft(p, len, &d), -EBADMSG);
                net_buf_done(&b);
        }
        /* Frame header: type and version. */
        net_frame_header_write(h, 0, 10);
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EBADMSG);
        net_frame_header_write(h, _NET_FRAME_TYPE_MAX, 10);
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EBADMSG);
        net_frame_header_write(h, NET_FRAME_RAFT, 10);
        h[4] = NET_WIRE_VERSION + 1;
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EPROTONOSUPPORT);
        wire_put32(h, 1); /* shorter than version + type */
        h[4] = NET_WIRE_VERSION;
        assert_int_equal(net_frame_header_parse(h, NET_FRAME_PAYLOAD_MAX, &type, &len), -EBADMSG);
}

static void entries_breaking_log_invariants_are_refused(void **state) {
        struct net_buf b = {};
        struct net_raft_message d;
        struct raft_message m;
        struct raft_entry e[2] = {
                { .term = 3, .index = 5, .type = RAFT_ENTRY_NORMAL },
                { .term = 3, .index = 6, .type = RAFT_ENTRY_NORMAL },
        };
        const struct {
                raft_index prev;
                raft_term t0, t1;
                raft_index i1;
                int expect;
        } cases[] = {
                { 4, 3, 3, 6, 0 },        /* contiguous after prev_index */
                { 4, 2, 3, 6, 0 },        /* terms may grow */
                { 3, 3, 3, 6, -EBADMSG }, /* gap after prev_index */
                { 4, 3, 3, 7, -EBADMSG }, /* gap between entries */
                { 4, 3, 2, 6, -EBADMSG }, /* term going back */
                { 4, 0, 3, 6, -EBADMSG }, /* term 0 */
                { 4, 3, 5, 6, -EBADMSG }, /* entry newer than the message's term */
                { UINT64_MAX - 1, 3, 3, 0, -EBADMSG }, /* index wraps */
        };

        for (unsigned k = 0; k < ELEMENTSOF(cases); k++) {
                m = (struct raft_message) { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4 };
                m.append.prev_index = cases[k].prev;
                m.append.n_entries = 2;
                m.append.entries = e;
                e[0].index = cases[k].prev + 1;
                e[0].term = cases[k].t0;
                e[1].term = cases[k].t1;
                e[1].index = cases[k].i1;
                b.len = 0;
                assert_int_equal(net_encode_raft(&b, &m), 0);
                assert_int_equal(net_decode_raft(b.data + NET_FRAME_HEADER_SIZE, b.len - NET_FRAME_HEADER_SIZE, &d),
                                 cases[k].expect);
                net_raft_message_done(&d);
        }
        net_buf_done(&b);
}

static void invalid_messages_are_not_encoded(void **state) {
        struct net_buf b = {};
        struct raft_message m;

        sample_message(9, 1, 2, &m);
        m.type = 0;
        assert_int_equal(net_encode_raft(&b, &m), -EINVAL);
        sample_message(7, 1, 2, &m);
        m.snapshot.meta.config.n = RAFT_CONFIG_MAX + 1;
        assert_int_equal(net_encode_raft(&b, &m), -EINVAL);
        assert_int_equal(b.len, 0);
        net_buf_done(&b);
}

static void forward_frames_round_trip(void **state) {
        struct net_buf b = {};
        struct net_forward f;
        uint32_t len;
        uint8_t type;

        assert_int_equal(net_encode_forward(&b, NET_FRAME_FORWARD_RESPONSE, 0x0102030405060708ULL, "abc", 3), 0);
        assert_int_equal(net_encode_forward(&b, NET_FRAME_FORWARD_REQUEST, 9, NULL, 0), 0);
        assert_int_equal(net_frame_header_parse(b.data, NET_FRAME_PAYLOAD_MAX, &type, &len), 0);
        assert_int_equal(type, NET_FRAME_FORWARD_RESPONSE);
        assert_int_equal(net_decode_forward(b.data + NET_FRAME_HEADER_SIZE, len, &f), 0);
        assert_int_equal(f.request_id, 0x0102030405060708ULL);
        assert_int_equal(f.len, 3);
        assert_memory_equal(f.payload, "abc", 3);
        assert_int_equal(net_decode_forward(b.data + NET_FRAME_HEADER_SIZE, 7, &f), -EBADMSG);

        assert_int_equal(net_frame_header_parse(b.data + NET_FRAME_HEADER_SIZE + len, NET_FRAME_PAYLOAD_MAX, &type,
                                                &len),
                         0);
        assert_int_equal(type, NET_FRAME_FORWARD_REQUEST);
        assert_int_equal(len, 8);
        assert_int_equal(net_encode_forward(&b, NET_FRAME_RAFT, 1, NULL, 0), -EINVAL);
        net_buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_message_type_round_trips),
                cmocka_unit_test(decoded_entries_and_chunks_point_into_the_frame),
                cmocka_unit_test(every_truncation_is_refused),
                cmocka_unit_test(trailing_bytes_are_refused),
                cmocka_unit_test(oversized_frames_are_refused),
                cmocka_unit_test(too_many_entries_are_refused_by_the_decoder),
                cmocka_unit_test(out_of_range_enums_and_bools_are_refused),
                cmocka_unit_test(entries_breaking_log_invariants_are_refused),
                cmocka_unit_test(invalid_messages_are_not_encoded),
                cmocka_unit_test(forward_frames_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
