/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration codec: the payload of RAFT_ENTRY_CONFIG entries.
 *
 * Layout (little endian): u8 version (1), u8 reserved, u16 n, then n times
 * { u64 id, u8 role }.  Fixed width so a config entry's size is known from n. */
#include <string.h>

#include "raft/raft.h"
#include "raft/wire.h"

#define CONFIG_VERSION 1
#define CONFIG_HEADER 4
#define CONFIG_SERVER 9

size_t raft_config_encoded_size(const struct raft_config *c) {
        return CONFIG_HEADER + (size_t) c->n * CONFIG_SERVER;
}

void raft_config_encode(const struct raft_config *c, void *buf) {
        uint8_t *p = buf;

        p[0] = CONFIG_VERSION;
        p[1] = 0;
        wire_put16(p + 2, (uint16_t) c->n);
        p += CONFIG_HEADER;
        for (unsigned i = 0; i < c->n; i++, p += CONFIG_SERVER) {
                wire_put64(p, c->servers[i].id);
                p[8] = c->servers[i].role;
        }
}

int raft_config_decode(const void *buf, size_t len, struct raft_config *c) {
        const uint8_t *p = buf;
        unsigned n;

        if (len < CONFIG_HEADER || p[0] != CONFIG_VERSION)
                return -EINVAL;
        n = wire_get16(p + 2);
        if (n > RAFT_CONFIG_MAX || len != CONFIG_HEADER + (size_t) n * CONFIG_SERVER)
                return -EINVAL;
        memset(c, 0, sizeof(*c));
        p += CONFIG_HEADER;
        for (unsigned i = 0; i < n; i++, p += CONFIG_SERVER) {
                raft_id id = wire_get64(p);
                uint8_t role = p[8];

                if (id == 0 || (role != RAFT_VOTER && role != RAFT_LEARNER))
                        return -EINVAL;
                for (unsigned j = 0; j < i; j++)
                        if (c->servers[j].id == id)
                                return -EINVAL;
                c->servers[i].id = id;
                c->servers[i].role = role;
        }
        c->n = n;
        return 0;
}

const struct raft_server *raft_config_get(const struct raft_config *c, raft_id id) {
        for (unsigned i = 0; i < c->n; i++)
                if (c->servers[i].id == id)
                        return &c->servers[i];
        return NULL;
}

unsigned raft_config_voters(const struct raft_config *c) {
        unsigned v = 0;

        for (unsigned i = 0; i < c->n; i++)
                v += c->servers[i].role == RAFT_VOTER;
        return v;
}
