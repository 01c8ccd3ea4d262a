/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handshake and session sealing on libsodium primitives only. */
#include <errno.h>
#include <string.h>

#include "net/handshake.h"
#include "raft/wire.h"

#define LABEL "raftd-net-v1"
#define HELLO_SIZE (1 + 8 + 8 + NET_NONCE_SIZE)
#define STREAM_HEADER_SIZE crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define AUTH_SIZE (1 + STREAM_HEADER_SIZE + crypto_auth_BYTES)
/* Which side's proof or stream a derivation is for: binds every MAC and key
 * to a direction, so nothing can be reflected back to its sender. */
#define ROLE_DIALER 'D'
#define ROLE_ACCEPTOR 'A'

void net_handshake_init(struct net_handshake *h, const struct net_key *key, bool dialer, uint64_t self_id,
                        uint64_t expected_peer) {
        *h = (struct net_handshake) {
                .dialer = dialer,
                .self_id = self_id,
                .peer_id = expected_peer,
                .key = *key,
        };
        randombytes_buf(h->self_nonce, sizeof(h->self_nonce));
}

void net_handshake_wipe(struct net_handshake *h) {
        if (h)
                sodium_memzero(h, sizeof(*h));
}

int net_handshake_write_hello(const struct net_handshake *h, struct net_buf *out) {
        uint8_t *p;
        int r;

        r = net_buf_reserve(out, NET_FRAME_HEADER_SIZE + HELLO_SIZE);
        if (r < 0)
                return r;
        p = out->data + out->len;
        net_frame_header_write(p, NET_FRAME_HELLO, HELLO_SIZE);
        p += NET_FRAME_HEADER_SIZE;
        p[0] = NET_HELLO_STEP_HELLO;
        wire_put64(p + 1, h->self_id);
        wire_put64(p + 9, h->peer_id);
        memcpy(p + 17, h->self_nonce, NET_NONCE_SIZE);
        out->len += NET_FRAME_HEADER_SIZE + HELLO_SIZE;
        return 0;
}

int net_handshake_read_hello(struct net_handshake *h, const uint8_t *p, size_t len) {
        uint64_t id, intended;

        if (h->have_peer_hello || len != HELLO_SIZE || p[0] != NET_HELLO_STEP_HELLO)
                return -EBADMSG;
        id = wire_get64(p + 1);
        intended = wire_get64(p + 9);
        if (id == 0)
                return -EBADMSG;
        if (h->dialer && id != h->peer_id)
                return -EPROTO;
        h->peer_id = id;
        /* The acceptor's HELLO left "intended" at 0: it only learns who dialed
         * from the dialer's HELLO. */
        if (intended != 0 && intended != h->self_id)
                return -EPROTO;
        if (!h->dialer && intended == 0)
                return -EPROTO;
        memcpy(h->peer_nonce, p + 17, NET_NONCE_SIZE);
        h->have_peer_hello = true;
        return 0;
}

/* transcript = label | dialer id | acceptor id | dialer nonce | acceptor nonce */
static void transcript_update(const struct net_handshake *h, crypto_generichash_state *st) {
        uint8_t ids[16];
        uint64_t dialer_id = h->dialer ? h->self_id : h->peer_id;
        uint64_t acceptor_id = h->dialer ? h->peer_id : h->self_id;

        wire_put64(ids, dialer_id);
        wire_put64(ids + 8, acceptor_id);
        crypto_generichash_update(st, (const uint8_t *) LABEL, sizeof(LABEL));
        crypto_generichash_update(st, ids, sizeof(ids));
        crypto_generichash_update(st, h->dialer ? h->self_nonce : h->peer_nonce, NET_NONCE_SIZE);
        crypto_generichash_update(st, h->dialer ? h->peer_nonce : h->self_nonce, NET_NONCE_SIZE);
}

/* A 32-byte value keyed by the cluster key, bound to the transcript, a
 * purpose and a direction. */
static void derive(const struct net_handshake *h, const char *purpose, uint8_t role, uint8_t out[32]) {
        crypto_generichash_state st;

        crypto_generichash_init(&st, h->key.bytes, sizeof(h->key.bytes), 32);
        transcript_update(h, &st);
        crypto_generichash_update(&st, (const uint8_t *) purpose, strlen(purpose) + 1);
        crypto_generichash_update(&st, &role, 1);
        crypto_generichash_final(&st, out, 32);
        sodium_memzero(&st, sizeof(st));
}

static void proof(const struct net_handshake *h, uint8_t role, const uint8_t *stream_header,
                  uint8_t mac[crypto_auth_BYTES]) {
        uint8_t auth_key[crypto_auth_KEYBYTES];
        uint8_t msg[32 + STREAM_HEADER_SIZE];

        /* The MAC key is fixed per cluster; the transcript digest makes each
         * proof fresh. */
        crypto_kdf_derive_from_key(auth_key, sizeof(auth_key), 1, "raftdhs1", h->key.bytes);
        derive(h, "transcript", role, msg);
        memcpy(msg + 32, stream_header, STREAM_HEADER_SIZE);
        crypto_auth(mac, msg, sizeof(msg), auth_key);
        sodium_memzero(auth_key, sizeof(auth_key));
}

static uint8_t self_role(const struct net_handshake *h) {
        return h->dialer ? ROLE_DIALER : ROLE_ACCEPTOR;
}
static uint8_t peer_role(const struct net_handshake *h) {
        return h->dialer ? ROLE_ACCEPTOR : ROLE_DIALER;
}

int net_handshake_write_auth(struct net_handshake *h, struct net_buf *out) {
        uint8_t stream_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        uint8_t *p;
        int r;

        if (!h->have_peer_hello || h->sent_auth)
                return -EINVAL;
        r = net_buf_reserve(out, NET_FRAME_HEADER_SIZE + AUTH_SIZE);
        if (r < 0)
                return r;
        p = out->data + out->len;
        net_frame_header_write(p, NET_FRAME_HELLO, AUTH_SIZE);
        p += NET_FRAME_HEADER_SIZE;
        p[0] = NET_HELLO_STEP_AUTH;
        derive(h, "stream", self_role(h), stream_key);
        crypto_secretstream_xchacha20poly1305_init_push(&h->session.tx, p + 1, stream_key);
        sodium_memzero(stream_key, sizeof(stream_key));
        proof(h, self_role(h), p + 1, p + 1 + STREAM_HEADER_SIZE);
        out->len += NET_FRAME_HEADER_SIZE + AUTH_SIZE;
        h->sent_auth = true;
        return 0;
}

int net_handshake_read_auth(struct net_handshake *h, const uint8_t *p, size_t len) {
        uint8_t stream_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        uint8_t expected[crypto_auth_BYTES];
        int r;

        if (!h->have_peer_hello || h->peer_authenticated || len != AUTH_SIZE || p[0] != NET_HELLO_STEP_AUTH)
                return -EBADMSG;
        proof(h, peer_role(h), p + 1, expected);
        /* Constant-time comparison. */
        r = sodium_memcmp(expected, p + 1 + STREAM_HEADER_SIZE, sizeof(expected));
        sodium_memzero(expected, sizeof(expected));
        if (r != 0)
                return -EACCES;
        derive(h, "stream", peer_role(h), stream_key);
        r = crypto_secretstream_xchacha20poly1305_init_pull(&h->session.rx, p + 1, stream_key);
        sodium_memzero(stream_key, sizeof(stream_key));
        if (r != 0)
                return -EBADMSG;
        h->peer_authenticated = true;
        return 0;
}

int net_session_seal(struct net_session *s, const uint8_t *frame, size_t len, struct net_buf *out) {
        size_t plain = len - NET_FRAME_HEADER_SIZE;
        uint8_t *p;
        int r;

        if (len < NET_FRAME_HEADER_SIZE || plain > UINT32_MAX - NET_FRAME_PREFIX_SIZE - NET_SEAL_OVERHEAD)
                return -EINVAL;
        r = net_buf_reserve(out, len + NET_SEAL_OVERHEAD);
        if (r < 0)
                return r;
        p = out->data + out->len;
        net_frame_header_write(p, frame[5], (uint32_t) (plain + NET_SEAL_OVERHEAD));
        if (crypto_secretstream_xchacha20poly1305_push(&s->tx, p + NET_FRAME_HEADER_SIZE, NULL,
                                                       frame + NET_FRAME_HEADER_SIZE, plain, p,
                                                       NET_FRAME_HEADER_SIZE, 0) != 0)
                return -EIO;
        out->len += len + NET_SEAL_OVERHEAD;
        return 0;
}

int net_session_open(struct net_session *s, const uint8_t *header, const uint8_t *payload, size_t len,
                     uint8_t *out, size_t *plain_len) {
        unsigned long long mlen = 0;
        unsigned char tag = 0;

        if (len < NET_SEAL_OVERHEAD)
                return -EBADMSG;
        if (crypto_secretstream_xchacha20poly1305_pull(&s->rx, out, &mlen, &tag, payload, len, header,
                                                       NET_FRAME_HEADER_SIZE) != 0)
                return -EBADMSG;
        if (tag != 0)
                return -EBADMSG;
        *plain_len = (size_t) mlen;
        return 0;
}
