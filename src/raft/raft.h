/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Raft consensus core.
 *
 * A pure state machine: it performs no I/O, reads no clock and draws no
 * random numbers.  The caller feeds it events (raft_step()) and carries out
 * what the returned update asks for: persist hard state and entries, write
 * snapshot chunks, send messages, apply committed entries, answer reads.
 *
 * Contract with the caller (the node engine, or the test simulator):
 *
 *  - Every pointer inside a struct raft_update (entries, message payloads,
 *    committed entries) stays valid only until the next raft_step() or
 *    raft_fini() on the same struct raft.  Copy or encode what must live
 *    longer.
 *  - Persistence requested by an update (update->hard_state,
 *    update->entries, update->snapshot_chunk) must be carried out in update
 *    order.  A message with `after_persist` set may only be sent once all
 *    persistence requested by this update and every earlier one is durable.
 *    Messages without the flag may be sent at once (the leader replicates
 *    in parallel with its own disk write, Raft dissertation §10.2.1).
 *  - Once entries are durable, the caller reports so with
 *    RAFT_EVENT_PERSISTED (index and term of the last durable entry).  The
 *    core hands out committed entries only up to that index.  After
 *    installing a received snapshot, the caller reports it the same way
 *    once the install is durable (the snapshot's index and term when no
 *    entry follows it).
 *  - A message addressed to the core's own id (a candidate's own vote,
 *    always after_persist) is handed back to it with RAFT_EVENT_RECEIVE
 *    once it may be sent.
 *  - Entries in update->entries replace every entry of the caller's log at
 *    an index >= entries[0].index (truncate the suffix first, then append).
 *  - Every event carries the caller's monotonic time in milliseconds and a
 *    fresh random number; the core uses them for timeouts only.
 *    update->next_timeout says when the caller must deliver RAFT_EVENT_TICK
 *    at the latest.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;    /* a server's id; 0 means "none" */
typedef uint64_t raft_index; /* log position; 0 means "before the first entry" */
typedef uint64_t raft_term;

/* Upper bound of servers (voters + learners) in one configuration. */
#define RAFT_CONFIG_MAX 32

struct raft_buf {
        void *base;
        size_t len;
};

enum raft_entry_type {
        RAFT_ENTRY_NORMAL = 1, /* a command for the state machine */
        RAFT_ENTRY_NOOP = 2,   /* appended by every new leader */
        RAFT_ENTRY_CONFIG = 3, /* an encoded struct raft_config */
};

struct raft_entry {
        raft_term term;
        raft_index index;
        uint8_t type; /* enum raft_entry_type */
        struct raft_buf data;
};

enum raft_server_role {
        RAFT_VOTER = 1,
        RAFT_LEARNER = 2,
};

struct raft_server {
        raft_id id;
        uint8_t role; /* enum raft_server_role */
};

struct raft_config {
        unsigned n;
        struct raft_server servers[RAFT_CONFIG_MAX];
};

struct raft_hard_state {
        raft_term term;
        raft_id vote;
};

/* What identifies a snapshot: the last entry it covers and the
 * configuration in force at that entry. */
struct raft_snapshot_meta {
        raft_index index;
        raft_term term;
        struct raft_config config;
};

enum raft_message_type {
        RAFT_MSG_APPEND = 1, /* entries, or none as heartbeat */
        RAFT_MSG_APPEND_RESULT,
        RAFT_MSG_VOTE,
        RAFT_MSG_VOTE_RESULT,
        RAFT_MSG_PRE_VOTE,
        RAFT_MSG_PRE_VOTE_RESULT,
        RAFT_MSG_SNAPSHOT, /* one chunk of a snapshot */
        RAFT_MSG_SNAPSHOT_RESULT,
        RAFT_MSG_TIMEOUT_NOW, /* leadership transfer: campaign now */
        _RAFT_MSG_TYPE_MAX,
};

struct raft_append {
        raft_index prev_index;
        raft_term prev_term;
        raft_index commit;
        uint64_t read_ctx; /* heartbeat round, echoed back (ReadIndex) */
        unsigned n_entries;
        struct raft_entry *entries;
};

struct raft_append_result {
        bool success;
        /* On success: the follower's log matches the leader's up to here.
         * On reject: the prev_index that was rejected. */
        raft_index index;
        /* On reject: hint for fast back-off.  conflict_term is the term of
         * the follower's entry at the rejected index (0 if it has none);
         * conflict_index is the first index of that term in the follower's
         * log, or the follower's last index + 1 if its log is too short. */
        raft_term conflict_term;
        raft_index conflict_index;
        uint64_t read_ctx;
};

struct raft_vote {
        raft_index last_index;
        raft_term last_term;
        bool transfer; /* sent because of TimeoutNow: ignore leader stickiness */
};

struct raft_vote_result {
        bool granted;
};

struct raft_snapshot_chunk {
        struct raft_snapshot_meta meta;
        uint64_t offset;
        /* Leader's core leaves data empty and sets chunk_max; the caller
         * fills data with up to chunk_max bytes of its snapshot of
         * meta.index at offset and sets done on the last chunk. */
        uint32_t chunk_max;
        bool done;
        struct raft_buf data;
};

struct raft_snapshot_result {
        raft_index index;     /* the snapshot this answers */
        uint64_t next_offset; /* bytes the follower holds; resume from here */
        bool done;            /* installed */
};

struct raft_message {
        uint8_t type; /* enum raft_message_type */
        raft_id from;
        raft_id to;
        raft_term term;
        union {
                struct raft_append append;
                struct raft_append_result append_result;
                struct raft_vote vote; /* VOTE and PRE_VOTE */
                struct raft_vote_result vote_result;
                struct raft_snapshot_chunk snapshot;
                struct raft_snapshot_result snapshot_result;
        };
};

enum raft_role {
        RAFT_FOLLOWER = 1,
        RAFT_PRE_CANDIDATE,
        RAFT_CANDIDATE,
        RAFT_LEADER,
};

enum raft_change_op {
        RAFT_CHANGE_ADD_LEARNER = 1,
        RAFT_CHANGE_PROMOTE, /* learner -> voter; refused until caught up */
        RAFT_CHANGE_REMOVE,
};

enum raft_event_type {
        RAFT_EVENT_TICK = 1,
        RAFT_EVENT_RECEIVE,
        RAFT_EVENT_PERSISTED,
        RAFT_EVENT_PROPOSE,
        RAFT_EVENT_READ,
        RAFT_EVENT_TRANSFER,
        RAFT_EVENT_CHANGE,
        RAFT_EVENT_SNAPSHOT_TAKEN,
};

struct raft_event {
        uint8_t type;      /* enum raft_event_type */
        uint64_t now;      /* caller's monotonic clock, milliseconds */
        uint32_t random;   /* fresh random number from the caller */
        union {
                const struct raft_message *message; /* RECEIVE */
                struct {
                        raft_index index;
                        raft_term term;
                } persisted;
                struct {
                        uint8_t type; /* RAFT_ENTRY_NORMAL */
                        /* One entry, or with n_batch > 0 the n_batch entries
                         * of batch (consecutive indexes from
                         * update->proposed_index), replicated together. */
                        struct raft_buf data;
                        const struct raft_buf *batch;
                        unsigned n_batch;
                } propose;
                struct {
                        uint64_t id; /* caller's handle for the read */
                } read;
                struct {
                        raft_id target; /* 0 = the most up-to-date voter */
                } transfer;
                struct {
                        uint8_t op; /* enum raft_change_op */
                        raft_id id;
                } change;
                struct {
                        /* The caller durably wrote a snapshot of its state
                         * machine at this applied index. */
                        raft_index index;
                        /* Entries to keep before index for slow followers. */
                        raft_index trailing;
                } snapshot_taken;
        };
};

struct raft_read_ready {
        uint64_t id;
        raft_index index; /* serve the read once applied >= index */
};

struct raft_update {
        /* Persist before any after_persist message of this update. */
        const struct raft_hard_state *hard_state; /* NULL: unchanged */
        struct raft_entry *entries;               /* truncate then append */
        unsigned n_entries;
        /* Follower: write this received chunk at its offset; a chunk at
         * offset 0 starts a transfer over (another sender's image may
         * differ byte for byte), so drop what was held.  When done is
         * set the snapshot is complete and must be installed: replace the
         * state machine with it and drop the whole log; the log restarts
         * after meta.index (the core drops its in-memory log likewise). */
        const struct raft_snapshot_chunk *snapshot_chunk;

        struct raft_message *messages;
        bool *after_persist; /* per message */
        unsigned n_messages;

        /* Entries newly committed and durable here, in order, to apply. */
        const struct raft_entry *committed;
        unsigned n_committed;

        struct raft_read_ready *reads_ready;
        unsigned n_reads_ready;
        uint64_t *reads_failed; /* ids of reads dropped: leadership lost */
        unsigned n_reads_failed;

        /* RAFT_EVENT_PROPOSE / CHANGE: where the entry went. */
        raft_index proposed_index;
        raft_term proposed_term;

        bool role_changed;    /* role, term or known leader changed */
        bool config_changed;  /* the configuration in force changed */
        uint64_t next_timeout; /* deliver RAFT_EVENT_TICK by this time */
};

struct raft_options {
        raft_id id;
        uint32_t heartbeat_ms;    /* leader's heartbeat interval */
        uint32_t election_ms;     /* base election timeout; randomised to [1x, 2x) */
        uint32_t max_inflight;    /* append messages in flight per follower */
        uint32_t max_msg_entries; /* entries per append message */
        uint32_t max_msg_bytes;   /* payload bytes per append message */
        uint32_t snapshot_chunk;  /* bytes per snapshot chunk */
        bool pre_vote;            /* on by default; off only for tests */
        bool check_quorum;        /* on by default; off only for tests */
};

/* Errors returned by raft_step(), negative errno style. */
#define RAFT_ENOTLEADER (-EREMOTE) /* ask raft_leader() instead */
#define RAFT_EBUSY (-EBUSY)        /* transfer or config change in progress */
#define RAFT_EAGAIN (-EAGAIN)      /* leader has not committed in its term yet, or learner behind */

struct raft;

void raft_options_default(struct raft_options *o, raft_id id);

/* Allocate a core.  The persisted state is handed over with raft_load()
 * before the first raft_step(). */
int raft_new(const struct raft_options *o, struct raft **ret);
struct raft *raft_free(struct raft *r);

/* Hand the core what the caller found on disk: the hard state, the newest
 * snapshot's meta (NULL if none) and the log entries, contiguous and in
 * order; entries[0].index may lie at or below snap->index + 1 (trailing
 * entries kept after compaction), never above it.  Entry data is copied.
 * Bootstrap of a new cluster: every initial member starts with hard state
 * {term 1, vote 0} and one entry {index 1, term 1, RAFT_ENTRY_CONFIG}.  A node without any configuration (a new node
 * waiting to be added) never campaigns. */
int raft_load(struct raft *r, const struct raft_hard_state *hs, const struct raft_snapshot_meta *snap,
              const struct raft_entry *entries, unsigned n);

int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *u);

/* Introspection. */
enum raft_role raft_role(const struct raft *r);
raft_id raft_id_self(const struct raft *r);
raft_term raft_term_current(const struct raft *r);
raft_id raft_leader(const struct raft *r);
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_index raft_snapshot_index(const struct raft *r);
/* Whether this leader is sending the snapshot at index to a follower: its
 * file must stay readable until then, even after newer snapshots. */
bool raft_snapshot_in_transfer(const struct raft *r, raft_index index);
const struct raft_config *raft_config_current(const struct raft *r);
/* The meta a snapshot of the state machine at applied index `index` must
 * carry (term and configuration at that index).  -ERANGE if index is not
 * applied yet or not in the log. */
int raft_snapshot_meta_at(const struct raft *r, raft_index index, struct raft_snapshot_meta *ret);
/* Entry at index from the in-memory log, or NULL if compacted/absent. */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);

struct raft_progress_info {
        raft_id id;
        uint8_t role;
        raft_index match;
        raft_index next;
        bool recent_active;
};
/* Leader only: per-server replication progress. Returns count written. */
unsigned raft_progress(const struct raft *r, struct raft_progress_info *out, unsigned max);

/* Configuration codec (the payload of RAFT_ENTRY_CONFIG entries). */
size_t raft_config_encoded_size(const struct raft_config *c);
void raft_config_encode(const struct raft_config *c, void *buf);
int raft_config_decode(const void *buf, size_t len, struct raft_config *c);
const struct raft_server *raft_config_get(const struct raft_config *c, raft_id id);
unsigned raft_config_voters(const struct raft_config *c);

const char *raft_role_name(enum raft_role role);
const char *raft_message_type_name(enum raft_message_type t);
