/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raft safety invariants (Raft paper, figure 3) checked on reported
 * history.  Global facts are kept for the whole run ("ever"), not just for
 * the current state, so a violation that heals itself is still caught. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "digest.h"
#include "shared/macro.h"

/* What one (index, term) pair looked like the first time it was seen in
 * any log.  Log Matching by induction: equal (index, term) must always
 * carry the same content and sit on the same term at index - 1. */
struct seen_entry {
        raft_index index; /* 0: free slot */
        raft_term term;
        raft_term prev_term; /* valid when prev_known */
        bool prev_known;
        uint64_t digest;
};

/* An index that some node handed out as committed. */
struct committed_entry {
        bool set;
        raft_term term;
        /* The lowest current term of a node that applied it: the entry was
         * committed in this term or earlier, so every leader of this term
         * or later must hold it. */
        raft_term commit_term;
        uint64_t digest;
        uint64_t chain; /* state machine digest after applying it */
};

struct node_history {
        unsigned incarnation; /* restarts so far: a restarted node is a new leader */
        raft_index applied;
        uint64_t chain;
        raft_index commit;
        /* The log terms this node held when last seen as leader of
         * leader_term (0: not a leader), indices leader_first.. */
        raft_term leader_term;
        raft_index leader_first;
        raft_term *leader_log;
        size_t n_leader_log, cap_leader_log;
        raft_index completeness_checked;
};

struct term_leader {
        raft_id node; /* 0: none seen */
        unsigned incarnation;
};

struct pending_read {
        uint64_t id;
        raft_index min_index;
        bool ready;
};

struct checker {
        char failure[512];
        bool failed;

        struct term_leader *leader_of_term; /* indexed by term */
        size_t n_terms;

        struct seen_entry *seen;
        size_t n_seen, cap_seen; /* cap is a power of two */

        struct committed_entry *committed; /* indexed by log index */
        size_t cap_committed;
        raft_index committed_max;

        struct node_history nodes[CHECKER_MAX_NODES];

        struct pending_read *reads;
        size_t n_reads, cap_reads;
};

static int grow(void **p, size_t *cap, size_t need, size_t size) {
        size_t n = *cap ? *cap : 16;
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        memset((char *) q + *cap * size, 0, (n - *cap) * size);
        *p = q;
        *cap = n;
        return 0;
}

__attribute__((format(printf, 2, 3))) static int fail(struct checker *c, const char *fmt, ...) {
        va_list ap;

        if (!c->failed) {
                va_start(ap, fmt);
                vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
                va_end(ap);
                c->failed = true;
        }
        return -EPROTO;
}

int checker_new(struct checker **ret) {
        struct checker *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        for (unsigned i = 0; i < CHECKER_MAX_NODES; i++)
                c->nodes[i].chain = DIGEST_CHAIN_START;
        *ret = c;
        return 0;
}

struct checker *checker_free(struct checker *c) {
        if (!c)
                return NULL;
        for (unsigned i = 0; i < CHECKER_MAX_NODES; i++)
                free(c->nodes[i].leader_log);
        free(c->leader_of_term);
        free(c->seen);
        free(c->committed);
        free(c->reads);
        free(c);
        return NULL;
}

const char *checker_failure(const struct checker *c) {
        return c->failed ? c->failure : NULL;
}

raft_index checker_committed_max(const struct checker *c) {
        return c->committed_max;
}

static struct node_history *node_get(struct checker *c, raft_id node) {
        if (node == 0 || node >= CHECKER_MAX_NODES)
                return NULL;
        return &c->nodes[node];
}

/* At most one leader per term, ever.  A node that leads a term again after
 * a restart counts as a second leader: a candidate always starts a new
 * term, so this means the term it led was not durable. */
static int election_safety(struct checker *c, raft_id node, raft_term term) {
        struct term_leader *l;
        unsigned incarnation = c->nodes[node].incarnation;
        int r;

        r = grow((void **) &c->leader_of_term, &c->n_terms, term + 1, sizeof(*c->leader_of_term));
        if (r < 0)
                return r;
        l = &c->leader_of_term[term];
        if (l->node == 0)
                *l = (struct term_leader) { node, incarnation };
        else if (l->node != node)
                return fail(c, "Election Safety: n%" PRIu64 " and n%" PRIu64 " both leader in term %" PRIu64, l->node,
                            node, term);
        else if (l->incarnation != incarnation)
                return fail(c, "Election Safety: n%" PRIu64 " leader in term %" PRIu64
                            " again after a restart (the term it led was not durable)",
                            node, term);
        return 0;
}

static size_t seen_hash(raft_index index, raft_term term, size_t mask) {
        uint64_t h = index * 0x9e3779b97f4a7c15ULL ^ term * 0xc2b2ae3d27d4eb4fULL;

        return (size_t) (h ^ (h >> 29)) & mask;
}

static struct seen_entry *seen_slot(struct checker *c, raft_index index, raft_term term) {
        size_t mask = c->cap_seen - 1, i = seen_hash(index, term, mask);

        while (c->seen[i].index != 0 && (c->seen[i].index != index || c->seen[i].term != term))
                i = (i + 1) & mask;
        return &c->seen[i];
}

static int seen_reserve(struct checker *c) {
        struct seen_entry *old = c->seen;
        size_t old_cap = c->cap_seen, cap = old_cap ? old_cap * 2 : 1024;

        if ((c->n_seen + 1) * 2 <= old_cap)
                return 0;
        c->seen = calloc(cap, sizeof(*c->seen));
        if (!c->seen) {
                c->seen = old;
                return -ENOMEM;
        }
        c->cap_seen = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].index != 0)
                        *seen_slot(c, old[i].index, old[i].term) = old[i];
        free(old);
        return 0;
}

static int log_matching(struct checker *c, raft_id node, const struct checker_log *log) {
        raft_index i;
        int r;

        for (i = log->last_index; i > 0; i--) {
                const struct raft_entry *e = log->entry_at(log->log, i), *prev;
                struct seen_entry *s;

                if (!e) {
                        if (i > log->snapshot_index)
                                return fail(c, "Log: n%" PRIu64 " has no entry at %" PRIu64
                                            " between snapshot %" PRIu64 " and last %" PRIu64,
                                            node, i, log->snapshot_index, log->last_index);
                        break;
                }
                if (e->index != i)
                        return fail(c, "Log: n%" PRIu64 " entry at %" PRIu64 " says index %" PRIu64, node, i,
                                    e->index);
                prev = i > 1 ? log->entry_at(log->log, i - 1) : NULL;
                if (prev && prev->term > e->term)
                        return fail(c, "Log: n%" PRIu64 " term falls from %" PRIu64 " to %" PRIu64 " at %" PRIu64,
                                    node, prev->term, e->term, i);

                r = seen_reserve(c);
                if (r < 0)
                        return r;
                s = seen_slot(c, i, e->term);
                if (s->index == 0) {
                        *s = (struct seen_entry) {
                                .index = i,
                                .term = e->term,
                                .prev_term = prev ? prev->term : 0,
                                .prev_known = prev != NULL,
                                .digest = digest_entry(e),
                        };
                        c->n_seen++;
                        continue;
                }
                if (s->digest != digest_entry(e))
                        return fail(c, "Log Matching: n%" PRIu64 " holds a different entry %" PRIu64 "/%" PRIu64
                                    " than another log did",
                                    node, i, e->term);
                if (prev && s->prev_known && s->prev_term != prev->term)
                        return fail(c, "Log Matching: n%" PRIu64 " entry %" PRIu64 "/%" PRIu64 " follows term %" PRIu64
                                    ", another log had it after term %" PRIu64,
                                    node, i, e->term, prev->term, s->prev_term);
                if (prev && !s->prev_known) {
                        s->prev_term = prev->term;
                        s->prev_known = true;
                }
        }
        return 0;
}

static int leader_append_only(struct checker *c, raft_id node, raft_term term, const struct checker_log *log) {
        struct node_history *h = node_get(c, node);
        raft_index first = log->snapshot_index + 1;
        int r;

        if (h->leader_term == term) {
                for (size_t k = 0; k < h->n_leader_log; k++) {
                        raft_index i = h->leader_first + k;
                        const struct raft_entry *e;

                        if (i <= log->snapshot_index)
                                continue; /* compacted into a snapshot */
                        if (i > log->last_index)
                                return fail(c, "Leader Append-Only: leader n%" PRIu64 " of term %" PRIu64
                                            " dropped its entry %" PRIu64 " (last now %" PRIu64 ")",
                                            node, term, i, log->last_index);
                        e = log->entry_at(log->log, i);
                        if (!e || e->term != h->leader_log[k])
                                return fail(c, "Leader Append-Only: leader n%" PRIu64 " of term %" PRIu64
                                            " overwrote its entry %" PRIu64 " of term %" PRIu64,
                                            node, term, i, h->leader_log[k]);
                }
        }

        h->leader_term = term;
        h->leader_first = first;
        h->n_leader_log = 0;
        if (log->last_index < first)
                return 0;
        r = grow((void **) &h->leader_log, &h->cap_leader_log, log->last_index - first + 1, sizeof(raft_term));
        if (r < 0)
                return r;
        for (raft_index i = first; i <= log->last_index; i++) {
                const struct raft_entry *e = log->entry_at(log->log, i);

                h->leader_log[h->n_leader_log++] = e ? e->term : 0;
        }
        return 0;
}

static int leader_completeness(struct checker *c, raft_id node, raft_term term, const struct checker_log *log) {
        for (raft_index i = log->snapshot_index + 1; i <= c->committed_max; i++) {
                const struct committed_entry *ce = &c->committed[i];
                const struct raft_entry *e;

                if (!ce->set || ce->commit_term > term)
                        continue;
                e = i <= log->last_index ? log->entry_at(log->log, i) : NULL;
                if (!e || e->term != ce->term)
                        return fail(c, "Leader Completeness: leader n%" PRIu64 " of term %" PRIu64
                                    " lacks committed entry %" PRIu64 "/%" PRIu64 " (committed by term %" PRIu64 ")",
                                    node, term, i, ce->term, ce->commit_term);
        }
        return 0;
}

/* Raft §5.4.2: a leader commits by counting replicas only entries of its
 * own term (earlier ones follow by Log Matching), so while it leads, its
 * commit index moves only onto entries of its term. */
static int leader_commit_rule(struct checker *c, raft_id node, raft_term term, raft_index commit,
                              const struct checker_log *log) {
        const struct raft_entry *e = log->entry_at(log->log, commit);

        if (e && e->term != term)
                return fail(c, "Commit rule: leader n%" PRIu64 " of term %" PRIu64 " advanced its commit index to %" PRIu64
                            ", an entry of term %" PRIu64, node, term, commit, e->term);
        return 0;
}

int checker_observe(struct checker *c, raft_id node, raft_term term, bool leader, raft_index commit,
                    const struct checker_log *log, bool log_changed) {
        struct node_history *h = node_get(c, node);
        bool new_leader;
        int r;

        if (!h)
                return fail(c, "checker: node id %" PRIu64 " out of range", node);
        if (commit < h->commit)
                return fail(c, "Commit: n%" PRIu64 " commit index went back from %" PRIu64 " to %" PRIu64, node,
                            h->commit, commit);
        if (leader && h->leader_term == term && commit > h->commit) {
                r = leader_commit_rule(c, node, term, commit, log);
                if (r < 0)
                        return r;
        }
        h->commit = commit;

        if (log_changed) {
                r = log_matching(c, node, log);
                if (r < 0)
                        return r;
        }
        if (!leader) {
                h->leader_term = 0;
                return 0;
        }

        r = election_safety(c, node, term);
        if (r < 0)
                return r;
        new_leader = h->leader_term != term;
        if (new_leader || log_changed) {
                r = leader_append_only(c, node, term, log);
                if (r < 0)
                        return r;
        }
        if (new_leader || log_changed || h->completeness_checked != c->committed_max) {
                r = leader_completeness(c, node, term, log);
                if (r < 0)
                        return r;
                h->completeness_checked = c->committed_max;
        }
        return 0;
}

int checker_restarted(struct checker *c, raft_id node, raft_index snapshot_index, uint64_t digest) {
        struct node_history *h = node_get(c, node);

        if (!h)
                return fail(c, "checker: node id %" PRIu64 " out of range", node);
        h->incarnation++;
        h->commit = 0;
        h->leader_term = 0;
        h->n_leader_log = 0;
        if (snapshot_index == 0) {
                h->applied = 0;
                h->chain = DIGEST_CHAIN_START;
                return 0;
        }
        return checker_snapshot(c, node, snapshot_index, digest);
}

int checker_applied(struct checker *c, raft_id node, raft_term term, const struct raft_entry *e) {
        struct node_history *h = node_get(c, node);
        struct committed_entry *ce;
        uint64_t d;
        int r;

        if (!h)
                return fail(c, "checker: node id %" PRIu64 " out of range", node);
        if (e->index != h->applied + 1)
                return fail(c, "State Machine Safety: n%" PRIu64 " applied index %" PRIu64 " after %" PRIu64, node,
                            e->index, h->applied);
        h->applied = e->index;
        h->chain = digest_chain(h->chain, e);
        d = digest_entry(e);

        r = grow((void **) &c->committed, &c->cap_committed, e->index + 1, sizeof(*c->committed));
        if (r < 0)
                return r;
        ce = &c->committed[e->index];
        if (!ce->set) {
                *ce = (struct committed_entry) {
                        .set = true,
                        .term = e->term,
                        .commit_term = term,
                        .digest = d,
                        .chain = h->chain,
                };
                if (e->index > c->committed_max)
                        c->committed_max = e->index;
                return 0;
        }
        if (ce->term != e->term || ce->digest != d)
                return fail(c, "State Machine Safety: n%" PRIu64 " applied %" PRIu64 "/%" PRIu64
                            " but another node applied %" PRIu64 "/%" PRIu64 " with %s content there",
                            node, e->index, e->term, e->index, ce->term, ce->digest == d ? "the same" : "other");
        if (ce->chain != h->chain)
                return fail(c, "State Machine Safety: n%" PRIu64 " state after index %" PRIu64
                            " differs from the cluster's (diverged earlier, e.g. through a snapshot)",
                            node, e->index);
        if (term < ce->commit_term)
                ce->commit_term = term;
        return 0;
}

int checker_snapshot(struct checker *c, raft_id node, raft_index index, uint64_t digest) {
        struct node_history *h = node_get(c, node);

        if (!h)
                return fail(c, "checker: node id %" PRIu64 " out of range", node);
        if (index < c->cap_committed && c->committed[index].set && c->committed[index].chain != digest)
                return fail(c, "State Machine Safety: n%" PRIu64 " snapshot at %" PRIu64
                            " does not match the state the cluster applied up to there",
                            node, index);
        h->applied = index;
        h->chain = digest;
        return 0;
}

int checker_read_issued(struct checker *c, uint64_t id, raft_index commit_seen) {
        int r;

        r = grow((void **) &c->reads, &c->cap_reads, c->n_reads + 1, sizeof(*c->reads));
        if (r < 0)
                return r;
        c->reads[c->n_reads++] = (struct pending_read) {
                .id = id,
                .min_index = MAX(commit_seen, c->committed_max),
        };
        return 0;
}

int checker_read_ready(struct checker *c, uint64_t id, raft_index index) {
        size_t lo = 0, hi = c->n_reads;

        /* Read ids are handed out in increasing order. */
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (c->reads[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == c->n_reads || c->reads[lo].id != id)
                return fail(c, "ReadIndex: read %" PRIu64 " became ready but was never issued", id);
        if (c->reads[lo].ready)
                return fail(c, "ReadIndex: read %" PRIu64 " became ready twice", id);
        c->reads[lo].ready = true;
        if (index < c->reads[lo].min_index)
                return fail(c, "ReadIndex safety: read %" PRIu64 " ready at index %" PRIu64
                            " but index %" PRIu64 " was already committed when it was issued",
                            id, index, c->reads[lo].min_index);
        return 0;
}
