/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "samples.h"

static char entry_data[3][16] = { "put a=1", "", "config" };
static struct raft_entry entries[3];
static char chunk_data[] = "snapshot chunk bytes \x00\x01\x02\xff";

void sample_message(unsigned i, raft_id from, raft_id to, struct raft_message *m) {
        *m = (struct raft_message) { .from = from, .to = to, .term = 7 + i };
        switch (i) {
        case 0: /* heartbeat */
                m->type = RAFT_MSG_APPEND;
                m->append = (struct raft_append) { .prev_index = 5, .prev_term = 6, .commit = 4, .read_ctx = 99 };
                break;
        case 1: /* with entries, one of them empty */
                for (unsigned k = 0; k < 3; k++)
                        entries[k] = (struct raft_entry) {
                                .term = 7,
                                .index = 10 + k,
                                .type = (uint8_t) (k == 2 ? RAFT_ENTRY_CONFIG : k == 1 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL),
                                .data = { entry_data[k], strlen(entry_data[k]) },
                        };
                m->type = RAFT_MSG_APPEND;
                m->append = (struct raft_append) { .prev_index = 9, .prev_term = 6, .commit = 8, .read_ctx = 3,
                                                   .n_entries = 3, .entries = entries };
                break;
        case 2:
                m->type = RAFT_MSG_APPEND_RESULT;
                m->append_result = (struct raft_append_result) { .success = false, .index = 12, .conflict_term = 3,
                                                                 .conflict_index = 8, .read_ctx = 77 };
                break;
        case 3:
                m->type = RAFT_MSG_VOTE;
                m->vote = (struct raft_vote) { .last_index = 100, .last_term = 6, .transfer = true };
                break;
        case 4:
                m->type = RAFT_MSG_VOTE_RESULT;
                m->vote_result.granted = true;
                break;
        case 5:
                m->type = RAFT_MSG_PRE_VOTE;
                m->vote = (struct raft_vote) { .last_index = UINT64_MAX, .last_term = 1, .transfer = false };
                break;
        case 6:
                m->type = RAFT_MSG_PRE_VOTE_RESULT;
                m->vote_result.granted = false;
                break;
        case 7: /* a snapshot chunk with data and a configuration */
                m->type = RAFT_MSG_SNAPSHOT;
                m->snapshot.meta.index = 1000;
                m->snapshot.meta.term = 5;
                m->snapshot.meta.config.n = 3;
                m->snapshot.meta.config.servers[0] = (struct raft_server) { 1, RAFT_VOTER };
                m->snapshot.meta.config.servers[1] = (struct raft_server) { 2, RAFT_VOTER };
                m->snapshot.meta.config.servers[2] = (struct raft_server) { 0xfedcba9876543210ULL, RAFT_LEARNER };
                m->snapshot.offset = 65536;
                m->snapshot.chunk_max = 65536;
                m->snapshot.done = true;
                m->snapshot.data = (struct raft_buf) { chunk_data, sizeof(chunk_data) };
                break;
        case 8:
                m->type = RAFT_MSG_SNAPSHOT_RESULT;
                m->snapshot_result = (struct raft_snapshot_result) { .index = 1000, .next_offset = 131072, .done = true };
                break;
        case 9:
                m->type = RAFT_MSG_TIMEOUT_NOW;
                break;
        default: /* the leader core's empty chunk request shape */
                m->type = RAFT_MSG_SNAPSHOT;
                m->snapshot.meta.index = 1;
                m->snapshot.meta.term = 1;
                m->snapshot.chunk_max = 4096;
                break;
        }
}

static bool bufs_equal(const struct raft_buf *a, const struct raft_buf *b) {
        return a->len == b->len && (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

bool messages_equal(const struct raft_message *a, const struct raft_message *b) {
        if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term)
                return false;
        switch (a->type) {
        case RAFT_MSG_APPEND:
                if (a->append.prev_index != b->append.prev_index || a->append.prev_term != b->append.prev_term ||
                    a->append.commit != b->append.commit || a->append.read_ctx != b->append.read_ctx ||
                    a->append.n_entries != b->append.n_entries)
                        return false;
                for (unsigned i = 0; i < a->append.n_entries; i++) {
                        const struct raft_entry *x = &a->append.entries[i], *y = &b->append.entries[i];

                        if (x->term != y->term || x->index != y->index || x->type != y->type ||
                            !bufs_equal(&x->data, &y->data))
                                return false;
                }
                return true;
        case RAFT_MSG_APPEND_RESULT:
                return a->append_result.success == b->append_result.success &&
                       a->append_result.index == b->append_result.index &&
                       a->append_result.conflict_term == b->append_result.conflict_term &&
                       a->append_result.conflict_index == b->append_result.conflict_index &&
                       a->append_result.read_ctx == b->append_result.read_ctx;
        case RAFT_MSG_VOTE:
        case RAFT_MSG_PRE_VOTE:
                return a->vote.last_index == b->vote.last_index && a->vote.last_term == b->vote.last_term &&
                       a->vote.transfer == b->vote.transfer;
        case RAFT_MSG_VOTE_RESULT:
        case RAFT_MSG_PRE_VOTE_RESULT:
                return a->vote_result.granted == b->vote_result.granted;
        case RAFT_MSG_SNAPSHOT: {
                const struct raft_snapshot_chunk *x = &a->snapshot, *y = &b->snapshot;

                if (x->meta.index != y->meta.index || x->meta.term != y->meta.term ||
                    x->meta.config.n != y->meta.config.n || x->offset != y->offset ||
                    x->chunk_max != y->chunk_max || x->done != y->done || !bufs_equal(&x->data, &y->data))
                        return false;
                for (unsigned i = 0; i < x->meta.config.n; i++)
                        if (x->meta.config.servers[i].id != y->meta.config.servers[i].id ||
                            x->meta.config.servers[i].role != y->meta.config.servers[i].role)
                                return false;
                return true;
        }
        case RAFT_MSG_SNAPSHOT_RESULT:
                return a->snapshot_result.index == b->snapshot_result.index &&
                       a->snapshot_result.next_offset == b->snapshot_result.next_offset &&
                       a->snapshot_result.done == b->snapshot_result.done;
        case RAFT_MSG_TIMEOUT_NOW:
                return true;
        default:
                return false;
        }
}
