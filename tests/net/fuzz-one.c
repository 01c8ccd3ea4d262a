/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "fuzz-one.h"
#include "net/codec.h"
#include "net/handshake.h"

static bool reencodes_to(const struct net_buf *b, const uint8_t *frame, size_t len) {
        return b->len == len && memcmp(b->data, frame, len) == 0;
}

bool fuzz_codec_one(const uint8_t *data, size_t len) {
        struct net_buf b = {};
        uint32_t payload_len;
        uint8_t type, *payload;
        bool ok = true;

        if (len < NET_FRAME_HEADER_SIZE)
                return true;
        if (net_frame_header_parse(data, NET_FRAME_PAYLOAD_MAX, &type, &payload_len) < 0)
                return true;
        if (payload_len > len - NET_FRAME_HEADER_SIZE)
                return true; /* incomplete: the transport waits for more */
        payload = malloc(payload_len ? payload_len : 1);
        if (!payload)
                return true;
        memcpy(payload, data + NET_FRAME_HEADER_SIZE, payload_len);

        switch (type) {
        case NET_FRAME_RAFT: {
                struct net_raft_message m;

                if (net_decode_raft(payload, payload_len, &m) < 0)
                        break;
                ok = net_encode_raft(&b, &m.msg) == 0 &&
                     reencodes_to(&b, data, NET_FRAME_HEADER_SIZE + payload_len);
                net_raft_message_done(&m);
                break;
        }
        case NET_FRAME_FORWARD_REQUEST:
        case NET_FRAME_FORWARD_RESPONSE: {
                struct net_forward f;

                if (net_decode_forward(payload, payload_len, &f) < 0)
                        break;
                ok = net_encode_forward(&b, type, f.request_id, f.payload, f.len) == 0 &&
                     reencodes_to(&b, data, NET_FRAME_HEADER_SIZE + payload_len);
                break;
        }
        case NET_FRAME_HELLO: {
                struct net_key key = {};
                struct net_handshake h;

                net_handshake_init(&h, &key, payload_len % 2 == 0, 2, 1);
                if (net_handshake_read_hello(&h, payload, payload_len) == 0)
                        ok = net_handshake_write_auth(&h, &b) == 0;
                else {
                        /* An AUTH out of order must be refused. */
                        ok = net_handshake_read_auth(&h, payload, payload_len) == -EBADMSG;
                }
                net_handshake_wipe(&h);
                break;
        }
        }
        free(payload);
        net_buf_done(&b);
        return ok;
}
