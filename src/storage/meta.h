/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Hard state (term, vote) and the latest configuration, replaced
 * atomically: two files, metadata1 and metadata2, written alternately, each
 * with a sequence number and a checksum.  On open the valid file with the
 * higher sequence number wins, so a torn write of the newer file falls back
 * to the older one, which was complete and synced. */

#include <stdbool.h>

#include "raft/raft.h"
#include "shared/log.h"

struct storage_meta_state {
        struct raft_hard_state hs;
        raft_index config_index; /* 0: no configuration stored */
        struct raft_config config;
};

struct storage_meta;

/* Opens (creating the directory and files if missing) and returns the
 * newest valid state, all zero if none was ever saved.  -EBADMSG if files
 * exist but none is valid: the vote would be forgotten, so never guess. */
int storage_meta_open(const char *dir, const struct log_sink *log, struct storage_meta **ret,
                      struct storage_meta_state *ret_state);
/* Durable (fdatasync'd) on return 0. */
int storage_meta_save(struct storage_meta *m, const struct storage_meta_state *state);
struct storage_meta *storage_meta_close(struct storage_meta *m);
