/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The simulated replicated state machine: a fixed set of registers written
 * by client commands, plus the running digest of everything applied.  Its
 * image (the snapshot bytes) is several chunks long on purpose. */

#include <stdint.h>

#include "raft/raft.h"

#define SM_KEYS 24
#define SM_COMMAND_SIZE 12
#define SM_IMAGE_SIZE (3 * 8 + SM_KEYS * 8)

struct sm {
        raft_index applied;
        raft_term applied_term;
        uint64_t digest;
        /* The configuration in force at the applied index (the last CONFIG
         * entry applied, or the one a snapshot carried). */
        struct raft_config config;
        uint64_t values[SM_KEYS];
};

void sm_init(struct sm *s);
/* Encode "set register key to value". */
void sm_command(uint8_t buf[SM_COMMAND_SIZE], uint32_t key, uint64_t value);
/* -EINVAL: e is not the next index; -EBADMSG: malformed payload. */
int sm_apply(struct sm *s, const struct raft_entry *e);
void sm_encode(const struct sm *s, uint8_t image[SM_IMAGE_SIZE]);
/* Replace s with a snapshot image; the snapshot's meta supplies the
 * configuration.  -EBADMSG: not an image. */
int sm_decode(struct sm *s, const void *image, size_t len, const struct raft_config *config);
