/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "raft/wire.h"
#include "storage/crc32c.h"
#include "storage/record.h"

void log_record_header_encode(const struct log_record_header *h, uint8_t out[LOG_RECORD_HEADER_SIZE]) {
        memset(out, 0, LOG_RECORD_HEADER_SIZE);
        wire_put32(out + 4, h->data_crc);
        wire_put64(out + 8, h->index);
        wire_put64(out + 16, h->term);
        wire_put64(out + 24, h->batch_first);
        wire_put32(out + 32, h->data_len);
        out[36] = h->type;
        wire_put32(out, crc32c(out + 4, LOG_RECORD_HEADER_SIZE - 4));
}

int log_record_header_decode(const uint8_t in[LOG_RECORD_HEADER_SIZE], uint32_t data_max,
                             struct log_record_header *ret) {
        struct log_record_header h;

        if (wire_get32(in) != crc32c(in + 4, LOG_RECORD_HEADER_SIZE - 4))
                return -EBADMSG;
        h = (struct log_record_header) {
                .data_crc = wire_get32(in + 4),
                .index = wire_get64(in + 8),
                .term = wire_get64(in + 16),
                .batch_first = wire_get64(in + 24),
                .data_len = wire_get32(in + 32),
                .type = in[36],
        };
        if (h.index == 0 || h.batch_first == 0 || h.batch_first > h.index || h.data_len > data_max ||
            h.type < RAFT_ENTRY_NORMAL || h.type > RAFT_ENTRY_CONFIG || in[37] || in[38] || in[39])
                return -EBADMSG;
        *ret = h;
        return 0;
}

void log_segment_header_encode(uint64_t seq, uint8_t out[LOG_SEGMENT_HEADER_SIZE]) {
        memset(out, 0, LOG_SEGMENT_HEADER_SIZE);
        memcpy(out, LOG_SEGMENT_MAGIC, 8);
        wire_put32(out + 8, LOG_SEGMENT_VERSION);
        wire_put64(out + 16, seq);
        wire_put32(out + 28, crc32c(out, 28));
}

int log_segment_header_decode(const uint8_t in[LOG_SEGMENT_HEADER_SIZE], uint64_t *ret_seq) {
        if (memcmp(in, LOG_SEGMENT_MAGIC, 8) != 0 || wire_get32(in + 28) != crc32c(in, 28))
                return -EBADMSG;
        if (wire_get32(in + 8) != LOG_SEGMENT_VERSION)
                return -EPROTONOSUPPORT;
        *ret_seq = wire_get64(in + 16);
        return 0;
}
