/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* On-disk framing of the Raft log (see docs/storage-format.md).
 *
 * A segment file starts with a 32-byte header: magic "RAFTDLOG", u32 format
 * version, u32 zero, u64 segment sequence number, u32 zero, u32 CRC32C of the
 * preceding 28 bytes.  Records follow back to back, each padded to 8 bytes:
 *
 *   u32 header_crc   CRC32C of bytes 4..39 of this header
 *   u32 data_crc     CRC32C of the entry data
 *   u64 index, u64 term
 *   u64 batch_first  lowest index appended since the previous sync
 *   u32 data_len, u8 type, 3 bytes zero
 *   data_len bytes, zero padding to a multiple of 8
 *
 * All integers little endian.  batch_first lets the loader tell a torn
 * (never synced) tail from damage to synced data. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define LOG_SEGMENT_MAGIC "RAFTDLOG"
#define LOG_SEGMENT_VERSION 1
#define LOG_SEGMENT_HEADER_SIZE 32
#define LOG_RECORD_HEADER_SIZE 40
#define LOG_RECORD_ALIGN 8

struct log_record_header {
        uint32_t data_crc;
        raft_index index;
        raft_term term;
        raft_index batch_first;
        uint32_t data_len;
        uint8_t type;
};

static inline uint64_t log_record_size(uint64_t data_len) {
        return (LOG_RECORD_HEADER_SIZE + data_len + LOG_RECORD_ALIGN - 1) & ~(uint64_t) (LOG_RECORD_ALIGN - 1);
}

void log_record_header_encode(const struct log_record_header *h, uint8_t out[LOG_RECORD_HEADER_SIZE]);
/* -EBADMSG unless the header checksum matches and the fields are sane. */
int log_record_header_decode(const uint8_t in[LOG_RECORD_HEADER_SIZE], uint32_t data_max,
                             struct log_record_header *ret);

void log_segment_header_encode(uint64_t seq, uint8_t out[LOG_SEGMENT_HEADER_SIZE]);
/* -EBADMSG on a bad magic or checksum, -EPROTONOSUPPORT on an unknown version. */
int log_segment_header_decode(const uint8_t in[LOG_SEGMENT_HEADER_SIZE], uint64_t *ret_seq);
