/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internal state of the Raft core, shared by its modules.  Nothing here is
 * visible outside src/raft/. */

#include "raft/raft.h"

#define MIN_U64(a, b) ((uint64_t) (a) < (uint64_t) (b) ? (uint64_t) (a) : (uint64_t) (b))
#define MAX_U64(a, b) ((uint64_t) (a) > (uint64_t) (b) ? (uint64_t) (a) : (uint64_t) (b))

/* The in-memory log: entries (offset, last]; the entry at `offset` itself
 * is gone (compacted or covered by a snapshot) but its term is kept so
 * that an append right after it can carry prev_term. */
struct raft_log {
        struct raft_entry *entries;
        size_t n;
        size_t cap;
        raft_index offset;
        raft_term offset_term;
};

/* Bound of options.max_inflight: the ring of appends in flight is fixed. */
#define RAFT_INFLIGHT_CAP 256

enum progress_state {
        PROGRESS_PROBE = 1, /* one append per heartbeat until the match is found */
        PROGRESS_REPLICATE, /* pipelined appends within the inflight window */
        PROGRESS_SNAPSHOT,  /* sending a snapshot in chunks */
};

/* What the leader knows about one other server. */
struct progress {
        raft_id id;
        uint8_t role; /* RAFT_VOTER / RAFT_LEARNER */
        uint8_t state;
        bool probe_paused;
        bool recent_active;    /* heard from since the last quorum check */
        raft_index match;
        raft_index next;
        raft_index match_at_heartbeat; /* match seen at the previous heartbeat */
        uint64_t read_ack;     /* highest heartbeat round it acknowledged */
        raft_index commit_sent; /* commit index it was last told (as it reads it) */
        /* Inflight appends as a ring of their last indexes. */
        raft_index inflight[RAFT_INFLIGHT_CAP];
        unsigned inflight_start;
        unsigned inflight_count;
        /* Snapshot transfer: the snapshot it began with, kept to the end. */
        raft_index snap_index;
        uint64_t snap_offset;
        struct raft_snapshot_meta snap_meta;
        uint64_t snap_heard; /* when the transfer began or last answered */
};

struct pending_read {
        uint64_t id;
        raft_index index;
        uint64_t round; /* heartbeat round that confirms it; 0 = next round */
};

struct raft {
        struct raft_options o;

        /* Persistent (hard) state. */
        struct raft_hard_state hs;
        bool hs_dirty;

        struct raft_log log;
        struct raft_snapshot_meta snap;

        struct raft_config config; /* latest in the log: in force */
        raft_index config_index;   /* entry that carried it; 0 = snapshot/none */

        enum raft_role role;
        raft_id leader;
        raft_index commit;
        raft_index persisted; /* last durable entry of the current log */
        raft_index applied;   /* handed out as committed */

        /* Time. */
        uint64_t now;
        bool started;
        uint64_t election_deadline;
        uint64_t heartbeat_deadline;
        uint64_t quorum_deadline;
        uint64_t last_leader_contact; /* for leader stickiness */

        /* Elections. */
        raft_id votes[RAFT_CONFIG_MAX]; /* voters that granted */
        unsigned n_votes;
        unsigned n_rejects;
        bool campaign_transfer;

        /* Leader. */
        struct progress prs[RAFT_CONFIG_MAX];
        unsigned n_prs;
        raft_index term_start; /* index of this leader's no-op */
        raft_id transferee;
        uint64_t transfer_deadline;
        bool transfer_sent;

        /* ReadIndex. */
        struct pending_read *reads;
        size_t n_reads;
        size_t cap_reads;
        uint64_t read_round_sent;      /* last heartbeat round started */
        uint64_t read_round_confirmed; /* last round a quorum acknowledged */

        /* Snapshot being received (follower).  A transfer belongs to one
         * sender in one term: two leaders' images of the same snapshot
         * hold the same state but need not be the same bytes. */
        struct raft_snapshot_meta rx_meta;
        raft_id rx_from;
        raft_term rx_term;
        uint64_t rx_offset;
        bool rx_active;
        struct raft_snapshot_chunk rx_chunk;
        void *rx_buf;
        size_t rx_buf_cap;

        /* The update under construction. */
        struct raft_update *u;
        raft_index persist_from;
        struct raft_message *msgs;
        bool *msgs_after_persist;
        size_t n_msgs;
        size_t cap_msgs;
        struct raft_read_ready *ready;
        size_t n_ready;
        size_t cap_ready;
        uint64_t *failed;
        size_t n_failed;
        size_t cap_failed;
        int oom; /* allocation failure seen while building the update */
        /* Written instead of a message when memory ran out; never sent. */
        struct raft_message discard;
        uint32_t cur_random; /* the current event's random number */
};

/* log.c */
void log_init(struct raft_log *l);
void log_clear(struct raft_log *l);
raft_index log_last_index(const struct raft_log *l);
raft_term log_last_term(const struct raft_log *l);
/* Term of the entry at index, or 0 if it is not known (compacted or past
 * the end).  Index 0 has term 0. */
raft_term log_term_at(const struct raft_log *l, raft_index index);
struct raft_entry *log_get(const struct raft_log *l, raft_index index);
int log_append(struct raft_log *l, raft_term term, uint8_t type, const void *data, size_t len);
void log_truncate(struct raft_log *l, raft_index from);
/* Forget entries up to and including index (index <= last). */
void log_compact(struct raft_log *l, raft_index index);
/* Drop every entry; the log restarts after index. */
void log_reset(struct raft_log *l, raft_index index, raft_term term);

/* core.c */
struct raft_message *core_message(struct raft *r, uint8_t type, raft_id to, bool after_persist);
void core_set_term(struct raft *r, raft_term term);
void core_reset_election_timer(struct raft *r);
bool core_is_voter(const struct raft *r, raft_id id);
unsigned core_quorum(const struct raft *r);
void core_apply_config(struct raft *r, const struct raft_config *c, raft_index index);
void core_config_from_log(struct raft *r);
void core_read_ready(struct raft *r, uint64_t id, raft_index index);
void core_read_failed(struct raft *r, uint64_t id);

/* progress.c */
void progress_reset_all(struct raft *r);
void progress_sync_config(struct raft *r);
struct progress *progress_find(struct raft *r, raft_id id);
bool progress_can_send(const struct raft *r, const struct progress *p);
void progress_inflight_add(struct progress *p, raft_index last);
void progress_inflight_free_to(struct progress *p, raft_index index);
bool progress_inflight_full(const struct raft *r, const struct progress *p);
void progress_become_probe(struct progress *p);
void progress_become_replicate(struct progress *p);

/* election.c */
void election_tick(struct raft *r);
void election_campaign(struct raft *r, bool pre_vote, bool transfer);
void election_become_follower(struct raft *r, raft_term term, raft_id leader);
void election_handle_vote(struct raft *r, const struct raft_message *m);
void election_handle_vote_result(struct raft *r, const struct raft_message *m);
void election_handle_timeout_now(struct raft *r, const struct raft_message *m);
bool election_in_lease(const struct raft *r);

/* replication.c */
void replication_send_append(struct raft *r, struct progress *p);
void replication_send_heartbeats(struct raft *r);
void replication_broadcast(struct raft *r);
void replication_handle_append(struct raft *r, const struct raft_message *m);
void replication_handle_append_result(struct raft *r, const struct raft_message *m);
void replication_maybe_commit(struct raft *r);
void replication_leader_tick(struct raft *r);
int replication_propose(struct raft *r, uint8_t type, const struct raft_buf *entries, unsigned n);

/* snapshot.c */
void snapshot_send_chunk(struct raft *r, struct progress *p);
void snapshot_handle_chunk(struct raft *r, const struct raft_message *m);
void snapshot_handle_result(struct raft *r, const struct raft_message *m);
int snapshot_taken(struct raft *r, raft_index index, raft_index trailing);

/* read.c */
int read_request(struct raft *r, uint64_t id);
void read_handle_ack(struct raft *r, struct progress *p, uint64_t round);
void read_start_round(struct raft *r);
void read_fail_all(struct raft *r);

/* membership.c */
int membership_change(struct raft *r, uint8_t op, raft_id id);

/* transfer.c */
int transfer_start(struct raft *r, raft_id target);
void transfer_progress(struct raft *r, struct progress *p);
void transfer_tick(struct raft *r);
void transfer_abort(struct raft *r);
