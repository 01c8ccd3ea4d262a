/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Mutual authentication of two peers holding the same cluster key, and the
 * encrypted session that follows (docs/wire-format.md, "Security").
 *
 * Each side sends HELLO {id, expected peer id, 32-byte random nonce} as soon
 * as the TCP connection is up; once it has the other side's HELLO it sends
 * AUTH {secretstream header, HMAC-SHA512-256 over the transcript}.  Session
 * keys are derived per direction from the cluster key and both nonces, so
 * every connection has fresh keys.  Pure: no I/O, the transport moves bytes.
 */

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/codec.h"
#include "net/key.h"

#define NET_NONCE_SIZE 32u
#define NET_SEAL_OVERHEAD crypto_secretstream_xchacha20poly1305_ABYTES

enum net_hello_step {
        NET_HELLO_STEP_HELLO = 1,
        NET_HELLO_STEP_AUTH = 2,
};

struct net_session {
        crypto_secretstream_xchacha20poly1305_state tx;
        crypto_secretstream_xchacha20poly1305_state rx;
};

struct net_handshake {
        bool dialer;
        bool have_peer_hello;
        bool sent_auth;
        bool peer_authenticated;
        uint64_t self_id;
        uint64_t peer_id; /* expected (dialer) or claimed (acceptor, after HELLO) */
        uint8_t self_nonce[NET_NONCE_SIZE];
        uint8_t peer_nonce[NET_NONCE_SIZE];
        struct net_key key;
        struct net_session session;
};

/* expected_peer: the id the dialer wants to reach; 0 on the accepting side. */
void net_handshake_init(struct net_handshake *h, const struct net_key *key, bool dialer, uint64_t self_id,
                        uint64_t expected_peer);
void net_handshake_wipe(struct net_handshake *h);

/* Append our HELLO frame. */
int net_handshake_write_hello(const struct net_handshake *h, struct net_buf *out);
/* Take the peer's HELLO payload.  -EBADMSG if malformed, -EPROTO if the peer
 * is not who the dialer expected or did not mean to reach us. */
int net_handshake_read_hello(struct net_handshake *h, const uint8_t *p, size_t len);
/* After read_hello: append our AUTH frame and start our sending stream. */
int net_handshake_write_auth(struct net_handshake *h, struct net_buf *out);
/* Verify the peer's AUTH.  -EBADMSG if malformed, -EACCES if the proof is
 * wrong (the peer lacks our cluster key). */
int net_handshake_read_auth(struct net_handshake *h, const uint8_t *p, size_t len);

static inline bool net_handshake_done(const struct net_handshake *h) {
        return h->sent_auth && h->peer_authenticated;
}

/* Seal one plaintext frame (header + payload, as the codec wrote it) and
 * append the sealed frame to out: the header stays in clear with its length
 * grown by NET_SEAL_OVERHEAD and is authenticated as additional data. */
int net_session_seal(struct net_session *s, const uint8_t *frame, size_t len, struct net_buf *out);
/* Open a sealed payload into out (room for len bytes); header is its clear
 * frame header.  -EBADMSG if it was forged, replayed, reordered or
 * truncated. */
int net_session_open(struct net_session *s, const uint8_t *header, const uint8_t *payload, size_t len,
                     uint8_t *out, size_t *plain_len);
