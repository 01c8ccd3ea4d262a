/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pre-shared cluster key: 32 random bytes in a file of mode 0600.  Every
 * node of a cluster holds the same key; it proves cluster membership during
 * the handshake and seeds the per-connection session keys. */

#include <stdint.h>

#include "shared/log.h"

#define NET_KEY_SIZE 32u

struct net_key {
        uint8_t bytes[NET_KEY_SIZE];
};

/* Create path (it must not exist: -EEXIST, a cluster key is never
 * overwritten) with mode 0600 and fresh random bytes from libsodium. */
int net_key_generate(const char *path, const struct log_sink *log);

/* Read the key.  Refuses, with a log line that says why: a file that is not
 * a regular file, any group or other permission bit (-EPERM), a size other
 * than NET_KEY_SIZE (-EBADMSG). */
int net_key_load(const char *path, struct net_key *ret, const struct log_sink *log);

void net_key_wipe(struct net_key *k);
