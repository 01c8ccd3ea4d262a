/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "digest.h"
#include "raft/wire.h"
#include "sm.h"

void sm_init(struct sm *s) {
        *s = (struct sm) { .digest = DIGEST_CHAIN_START };
}

void sm_command(uint8_t buf[SM_COMMAND_SIZE], uint32_t key, uint64_t value) {
        wire_put32(buf, key);
        wire_put64(buf + 4, value);
}

int sm_apply(struct sm *s, const struct raft_entry *e) {
        if (e->index != s->applied + 1)
                return -EINVAL;
        switch (e->type) {
        case RAFT_ENTRY_NORMAL: {
                uint32_t key;

                if (e->data.len != SM_COMMAND_SIZE)
                        return -EBADMSG;
                key = wire_get32(e->data.base);
                if (key >= SM_KEYS)
                        return -EBADMSG;
                s->values[key] = wire_get64((const uint8_t *) e->data.base + 4);
                break;
        }
        case RAFT_ENTRY_CONFIG:
                if (raft_config_decode(e->data.base, e->data.len, &s->config) < 0)
                        return -EBADMSG;
                break;
        case RAFT_ENTRY_NOOP:
                break;
        default:
                return -EBADMSG;
        }
        s->applied = e->index;
        s->applied_term = e->term;
        s->digest = digest_chain(s->digest, e);
        return 0;
}

void sm_encode(const struct sm *s, uint8_t image[SM_IMAGE_SIZE]) {
        wire_put64(image, s->applied);
        wire_put64(image + 8, s->applied_term);
        wire_put64(image + 16, s->digest);
        for (unsigned i = 0; i < SM_KEYS; i++)
                wire_put64(image + 24 + 8 * i, s->values[i]);
}

int sm_decode(struct sm *s, const void *image, size_t len, const struct raft_config *config) {
        const uint8_t *p = image;

        if (len != SM_IMAGE_SIZE)
                return -EBADMSG;
        s->applied = wire_get64(p);
        s->applied_term = wire_get64(p + 8);
        s->digest = wire_get64(p + 16);
        for (unsigned i = 0; i < SM_KEYS; i++)
                s->values[i] = wire_get64(p + 24 + 8 * i);
        s->config = *config;
        return 0;
}
