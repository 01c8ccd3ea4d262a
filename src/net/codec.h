/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The peer wire codec: versioned, length-prefixed frames (docs/wire-format.md).
 *
 *   frame = u32 length | u8 version | u8 type | payload      (little endian)
 *
 * length counts the bytes after the length field (version, type, payload).
 * The codec knows plaintext frames only; the transport seals payloads after
 * the handshake (see handshake.h).
 *
 * Decoded messages are zero-copy: entry data and snapshot chunk data point
 * into the payload buffer handed to the decoder, so they live exactly as long
 * as that buffer.  Only the entry array is allocated; it belongs to the
 * struct net_raft_message and is released by net_raft_message_done().
 */

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define NET_WIRE_VERSION 1
#define NET_FRAME_HEADER_SIZE 6u
/* Bytes after the length field: version + type. */
#define NET_FRAME_PREFIX_SIZE 2u
/* Upper bound of a frame's payload; larger frames are refused on both ends. */
#define NET_FRAME_PAYLOAD_MAX (16u * 1024u * 1024u)
/* Upper bound of entries in one RAFT frame. */
#define NET_MSG_ENTRIES_MAX 8192u

enum net_frame_type {
        NET_FRAME_HELLO = 1,
        NET_FRAME_RAFT = 2,
        NET_FRAME_FORWARD_REQUEST = 3,
        NET_FRAME_FORWARD_RESPONSE = 4,
        _NET_FRAME_TYPE_MAX,
};

/* A growable byte buffer for encoders and the transport's queues. */
struct net_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
};

int net_buf_reserve(struct net_buf *b, size_t extra);
int net_buf_append(struct net_buf *b, const void *p, size_t n);
/* Drop the first n bytes. */
void net_buf_consume(struct net_buf *b, size_t n);
void net_buf_done(struct net_buf *b);

/* Frame header parsing: validates version, type and size.  Needs
 * NET_FRAME_HEADER_SIZE bytes; payload_max bounds *payload_len. */
int net_frame_header_parse(const uint8_t *p, size_t payload_max, uint8_t *type, uint32_t *payload_len);
void net_frame_header_write(uint8_t *p, uint8_t type, uint32_t payload_len);

/* Encoders append one complete plaintext frame to b.  -EMSGSIZE if the
 * payload would exceed NET_FRAME_PAYLOAD_MAX, -EINVAL if m is not valid
 * (unknown type, too many entries), -ENOMEM. */
int net_encode_raft(struct net_buf *b, const struct raft_message *m);
int net_encode_forward(struct net_buf *b, uint8_t type, uint64_t request_id, const void *payload, size_t len);
size_t net_raft_encoded_size(const struct raft_message *m);

struct net_raft_message {
        struct raft_message msg;
        struct raft_entry *entries; /* owned; msg.append.entries points here */
};

/* Decoders of one payload (the bytes after the frame header).  Every
 * malformed input yields -EBADMSG; nothing outside [p, p+len) is read. */
int net_decode_raft(const uint8_t *p, size_t len, struct net_raft_message *out);
void net_raft_message_done(struct net_raft_message *m);

struct net_forward {
        uint64_t request_id;
        const uint8_t *payload; /* points into the decoded buffer */
        size_t len;
};
int net_decode_forward(const uint8_t *p, size_t len, struct net_forward *out);
