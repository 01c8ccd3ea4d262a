/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The handshake and sealed sessions, without sockets: who can complete it,
 * and what a sealed stream refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/handshake.h"

static const uint8_t *payload_of(const struct net_buf *b, size_t frame_off, uint32_t *len) {
        uint8_t type;

        assert_int_equal(net_frame_header_parse(b->data + frame_off, 4096, &type, len), 0);
        assert_int_equal(type, NET_FRAME_HELLO);
        return b->data + frame_off + NET_FRAME_HEADER_SIZE;
}

/* Run the handshake between a dialer (id 1) and an acceptor (id 2).
 * Returns what the acceptor's read_auth of the dialer's proof said. */
static int run_handshake(const struct net_key *kd, const struct net_key *ka, struct net_handshake *d,
                         struct net_handshake *a, int *dialer_verdict) {
        struct net_buf db = {}, ab = {};
        const uint8_t *p;
        uint32_t len;
        int r;

        net_handshake_init(d, kd, true, 1, 2);
        net_handshake_init(a, ka, false, 2, 0);
        assert_int_equal(net_handshake_write_hello(d, &db), 0);
        assert_int_equal(net_handshake_write_hello(a, &ab), 0);
        p = payload_of(&db, 0, &len);
        assert_int_equal(net_handshake_read_hello(a, p, len), 0);
        assert_int_equal(a->peer_id, 1);
        p = payload_of(&ab, 0, &len);
        assert_int_equal(net_handshake_read_hello(d, p, len), 0);
        assert_int_equal(net_handshake_write_auth(d, &db), 0);
        assert_int_equal(net_handshake_write_auth(a, &ab), 0);
        p = payload_of(&ab, NET_FRAME_HEADER_SIZE + len, &len);
        *dialer_verdict = net_handshake_read_auth(d, p, len);
        p = payload_of(&db, NET_FRAME_HEADER_SIZE + 49, &len);
        r = net_handshake_read_auth(a, p, len);
        net_buf_done(&db);
        net_buf_done(&ab);
        return r;
}

static void same_key_completes_and_sessions_carry_frames(void **state) {
        struct net_handshake d, a;
        struct net_key k;
        struct net_buf plain = {}, sealed = {};
        uint8_t out[256];
        size_t out_len;
        int dv;

        randombytes_buf(k.bytes, sizeof(k.bytes));
        assert_int_equal(run_handshake(&k, &k, &d, &a, &dv), 0);
        assert_int_equal(dv, 0);
        assert_true(net_handshake_done(&d) && net_handshake_done(&a));

        assert_int_equal(net_encode_forward(&plain, NET_FRAME_FORWARD_REQUEST, 5, "hello", 5), 0);
        assert_int_equal(net_session_seal(&d.session, plain.data, plain.len, &sealed), 0);
        assert_int_equal(sealed.len, plain.len + NET_SEAL_OVERHEAD);
        /* Encrypted: the plaintext does not show through. */
        assert_null(memmem(sealed.data, sealed.len, "hello", 5));
        assert_int_equal(net_session_open(&a.session, sealed.data, sealed.data + NET_FRAME_HEADER_SIZE,
                                          sealed.len - NET_FRAME_HEADER_SIZE, out, &out_len),
                         0);
        assert_int_equal(out_len, plain.len - NET_FRAME_HEADER_SIZE);
        assert_memory_equal(out, plain.data + NET_FRAME_HEADER_SIZE, out_len);

        /* The same sealed frame again: a replay within the connection. */
        assert_int_equal(net_session_open(&a.session, sealed.data, sealed.data + NET_FRAME_HEADER_SIZE,
                                          sealed.len - NET_FRAME_HEADER_SIZE, out, &out_len),
                         -EBADMSG);
        /* The other direction has its own key: the dialer cannot open its
         * own frame (no reflection). */
        assert_int_equal(net_session_open(&d.session, sealed.data, sealed.data + NET_FRAME_HEADER_SIZE,
                                          sealed.len - NET_FRAME_HEADER_SIZE, out, &out_len),
                         -EBADMSG);
        net_buf_done(&plain);
        net_buf_done(&sealed);
        net_handshake_wipe(&d);
        net_handshake_wipe(&a);
}

static void tampered_header_or_payload_is_refused(void **state) {
        struct net_buf plain = {}, sealed = {};
        struct net_handshake d, a;
        struct net_key k;
        uint8_t out[256];
        size_t out_len;
        int dv;

        randombytes_buf(k.bytes, sizeof(k.bytes));
        assert_int_equal(run_handshake(&k, &k, &d, &a, &dv), 0);
        assert_int_equal(net_encode_forward(&plain, NET_FRAME_FORWARD_REQUEST, 5, "hello", 5), 0);
        assert_int_equal(net_session_seal(&d.session, plain.data, plain.len, &sealed), 0);
        sealed.data[5] = NET_FRAME_FORWARD_RESPONSE; /* frame type is authenticated */
        assert_int_equal(net_session_open(&a.session, sealed.data, sealed.data + NET_FRAME_HEADER_SIZE,
                                          sealed.len - NET_FRAME_HEADER_SIZE, out, &out_len),
                         -EBADMSG);
        net_handshake_wipe(&d);
        net_handshake_wipe(&a);

        assert_int_equal(run_handshake(&k, &k, &d, &a, &dv), 0);
        sealed.len = 0;
        assert_int_equal(net_session_seal(&d.session, plain.data, plain.len, &sealed), 0);
        sealed.data[sealed.len - 1] ^= 1;
        assert_int_equal(net_session_open(&a.session, sealed.data, sealed.data + NET_FRAME_HEADER_SIZE,
                                          sealed.len - NET_FRAME_HEADER_SIZE, out, &out_len),
                         -EBADMSG);
        net_buf_done(&plain);
        net_buf_done(&sealed);
        net_handshake_wipe(&d);
        net_handshake_wipe(&a);
}

static void another_clusters_key_fails_both_ways(void **state) {
        struct net_handshake d, a;
        struct net_key k1, k2;
        int dv;

        randombytes_buf(k1.bytes, sizeof(k1.bytes));
        randombytes_buf(k2.bytes, sizeof(k2.bytes));
        assert_int_equal(run_handshake(&k1, &k2, &d, &a, &dv), -EACCES);
        assert_int_equal(dv, -EACCES);
        assert_false(net_handshake_done(&d) || net_handshake_done(&a));
        net_handshake_wipe(&d);
        net_handshake_wipe(&a);
}

static void own_proof_reflected_back_is_refused(void **state) {
        struct net_buf db = {}, ab = {};
        struct net_handshake d, a;
        struct net_key k;
        uint32_t len;
        const uint8_t *p;

        randombytes_buf(k.bytes, sizeof(k.bytes));
        net_handshake_init(&d, &k, true, 1, 2);
        net_handshake_init(&a, &k, false, 2, 0);
        assert_int_equal(net_handshake_write_hello(&d, &db), 0);
        assert_int_equal(net_handshake_write_hello(&a, &ab), 0);
        p = payload_of(&ab, 0, &len);
        assert_int_equal(net_handshake_read_hello(&d, p, len), 0);
        assert_int_equal(net_handshake_write_auth(&d, &db), 0);
        p = payload_of(&db, NET_FRAME_HEADER_SIZE + 49, &len);
        assert_int_equal(net_handshake_read_auth(&d, p, len), -EACCES);
        net_buf_done(&db);
        net_buf_done(&ab);
        net_handshake_wipe(&d);
        net_handshake_wipe(&a);
}

static void wrong_peer_ids_are_refused(void **state) {
        struct net_buf b = {};
        struct net_handshake d, a, other;
        struct net_key k = {};
        const uint8_t *p;
        uint32_t len;

        /* The dialer reached node 3 where it expected node 2. */
        net_handshake_init(&d, &k, true, 1, 2);
        net_handshake_init(&other, &k, false, 3, 0);
        assert_int_equal(net_handshake_write_hello(&other, &b), 0);
        p = payload_of(&b, 0, &len);
        assert_int_equal(net_handshake_read_hello(&d, p, len), -EPROTO);
        /* A dialer that meant to reach node 2 arrives at node 3. */
        b.len = 0;
        net_handshake_init(&d, &k, true, 1, 2);
        net_handshake_init(&a, &k, false, 3, 0);
        assert_int_equal(net_handshake_write_hello(&d, &b), 0);
        p = payload_of(&b, 0, &len);
        assert_int_equal(net_handshake_read_hello(&a, p, len), -EPROTO);
        /* AUTH before HELLO. */
        net_handshake_init(&a, &k, false, 2, 0);
        assert_int_equal(net_handshake_read_auth(&a, p, len), -EBADMSG);
        assert_int_equal(net_handshake_write_auth(&a, &b), -EINVAL);
        net_buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(same_key_completes_and_sessions_carry_frames),
                cmocka_unit_test(tampered_header_or_payload_is_refused),
                cmocka_unit_test(another_clusters_key_fails_both_ways),
                cmocka_unit_test(own_proof_reflected_back_is_refused),
                cmocka_unit_test(wrong_peer_ids_are_refused),
        };

        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
