/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Content digests shared by the state machine and the checker: both must
 * compute the chain the same way for a snapshot to be comparable with the
 * history of applied entries. */

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define DIGEST_CHAIN_START UINT64_C(0x6a09e667f3bcc908)

static inline uint64_t digest_bytes(uint64_t h, const void *p, size_t n) {
        const uint8_t *b = p;

        /* FNV-1a, then a final avalanche so nearby inputs spread. */
        h ^= 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 0x100000001b3ULL;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h;
}

/* What an entry means to the state machine: its type and payload. */
static inline uint64_t digest_entry(const struct raft_entry *e) {
        return digest_bytes(e->type, e->data.base, e->data.len);
}

/* The state machine's running digest after applying e on top of prev. */
static inline uint64_t digest_chain(uint64_t prev, const struct raft_entry *e) {
        uint64_t d = digest_entry(e);

        return digest_bytes(prev, &d, sizeof(d));
}
