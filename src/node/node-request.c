/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client requests: any node serves any request.
 *
 * Writes carry a client session and a sequence number.  The leader stamps
 * its time into the command and proposes it; a follower forwards the
 * command to the leader.  A write completes when this node's own state
 * machine applies an entry with its (session, seq), so the answer never
 * depends on the leader that took it.  Until then it is retried under the
 * same (session, seq), to whoever leads by then: the state machine applies
 * it at most once and hands a replayed request the cached response (Raft
 * dissertation §6.3).
 *
 * Reads take a ReadIndex from the leader (locally when this node leads)
 * and are served here once the state machine reached it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "raft/wire.h"
#include "shared/macro.h"

#define RETRY_MS 50
#define FORWARD_RESPONSE_SIZE (1 + 4 + 8 + 8)

/* Where a write stands in its session's lists. */
enum session_list {
        SESSION_LIST_NONE,
        SESSION_LIST_BOUND,   /* has a seq: in flight */
        SESSION_LIST_BLOCKED, /* waits for room in the session's window */
};

struct node_request {
        struct node_request *prev, *next;
        struct node_request *index_next;      /* n->request_index bucket */
        struct node_request *s_prev, *s_next; /* session list */
        enum session_list s_list;
        struct node_request *due_prev, *due_next;
        uint64_t due_round; /* the kick that takes it */
        bool is_due;
        enum node_request_kind kind;
        uint64_t id;
        struct node_session *session; /* writes and registrations */
        uint64_t seq;
        uint8_t *cmd;
        size_t cmd_len;
        uint64_t deadline;
        uint64_t next_try;
        bool sent;  /* may have reached a leader: a timeout means "unknown" */
        bool local; /* read without ReadIndex */
        bool read_ready;
        raft_index read_index;
        raft_index wait_index; /* registration: the entry that does it */
        raft_term wait_term;
        raft_id origin; /* remote read: the follower and its id */
        uint64_t origin_id;
        uint8_t change_op; /* change: what, on whom; transfer: target */
        raft_id target;
        raft_id old_leader;
        node_write_done done;
        node_read_serve serve;
        void *ctx;
};

/* ---- lookups: by id, by session and seq, what is due ---- */

static size_t index_bucket(const struct raftd_node *n, uint64_t id) {
        return (size_t) (id & (n->request_index_size - 1));
}

static int index_grow(struct raftd_node *n) {
        size_t size = n->request_index_size ? 2 * n->request_index_size : 64;
        struct node_request **b = calloc(size, sizeof(*b));

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n->request_index_size; i++)
                while (n->request_index[i]) {
                        struct node_request *r = n->request_index[i];

                        n->request_index[i] = r->index_next;
                        r->index_next = b[r->id & (size - 1)];
                        b[r->id & (size - 1)] = r;
                }
        free(n->request_index);
        n->request_index = b;
        n->request_index_size = size;
        return 0;
}

static struct node_request *request_by_id(struct raftd_node *n, uint64_t id) {
        if (n->request_index_size == 0)
                return NULL;
        for (struct node_request *r = n->request_index[index_bucket(n, id)]; r; r = r->index_next)
                if (r->id == id)
                        return r;
        return NULL;
}

static void index_remove(struct raftd_node *n, struct node_request *r) {
        for (struct node_request **p = &n->request_index[index_bucket(n, r->id)]; *p; p = &(*p)->index_next)
                if (*p == r) {
                        *p = r->index_next;
                        n->n_requests--;
                        return;
                }
}

static void session_unlink(struct node_request *r) {
        struct node_session *s = r->session;
        struct node_request **head, **tail;

        if (r->s_list == SESSION_LIST_NONE)
                return;
        head = r->s_list == SESSION_LIST_BOUND ? &s->bound : &s->blocked;
        tail = r->s_list == SESSION_LIST_BOUND ? &s->bound_tail : &s->blocked_tail;
        if (r->s_prev)
                r->s_prev->s_next = r->s_next;
        else
                *head = r->s_next;
        if (r->s_next)
                r->s_next->s_prev = r->s_prev;
        else
                *tail = r->s_prev;
        if (r->s_list == SESSION_LIST_BOUND)
                s->n_bound--;
        r->s_prev = r->s_next = NULL;
        r->s_list = SESSION_LIST_NONE;
}

static void session_link(struct node_request *r, enum session_list list) {
        struct node_session *s = r->session;
        struct node_request **head = list == SESSION_LIST_BOUND ? &s->bound : &s->blocked;
        struct node_request **tail = list == SESSION_LIST_BOUND ? &s->bound_tail : &s->blocked_tail;

        r->s_prev = *tail;
        r->s_next = NULL;
        if (*tail)
                (*tail)->s_next = r;
        else
                *head = r;
        *tail = r;
        r->s_list = list;
        if (list == SESSION_LIST_BOUND)
                s->n_bound++;
}

static void due_unlink(struct raftd_node *n, struct node_request *r) {
        if (!r->is_due)
                return;
        if (r->due_prev)
                r->due_prev->due_next = r->due_next;
        else
                n->due = r->due_next;
        if (r->due_next)
                r->due_next->due_prev = r->due_prev;
        else
                n->due_tail = r->due_prev;
        r->due_prev = r->due_next = NULL;
        r->is_due = false;
}

static void kick(struct raftd_node *n) {
        /* Completions run from the loop, never inside the caller's call. */
        if (!ev_is_active(&n->kick))
                ev_timer_start(n->loop, &n->kick);
}

/* Submit (again) from the kick, without waiting for the retry timer. */
static void due_now(struct raftd_node *n, struct node_request *r) {
        r->next_try = 0;
        if (!r->is_due) {
                r->due_round = n->kick_round;
                r->due_prev = n->due_tail;
                r->due_next = NULL;
                if (n->due_tail)
                        n->due_tail->due_next = r;
                else
                        n->due = r;
                n->due_tail = r;
                r->is_due = true;
        }
        kick(n);
}

/* A read that got its index; served once this node applied that far. */
static void mark_read_ready(struct raftd_node *n, struct node_request *r) {
        if (!r->read_ready)
                n->n_reads_ready++;
        r->read_ready = true;
}

static struct node_request *request_new(struct raftd_node *n, enum node_request_kind kind) {
        struct node_request *r;

        if (n->n_requests >= n->request_index_size && index_grow(n) < 0)
                return NULL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->kind = kind;
        r->id = ++n->next_request_id;
        r->index_next = n->request_index[index_bucket(n, r->id)];
        n->request_index[index_bucket(n, r->id)] = r;
        n->n_requests++;
        n->n_registering += kind == REQUEST_REGISTER;
        r->deadline = node_now_ms(n) + n->cfg.request_timeout_ms;
        r->prev = n->requests_tail;
        if (n->requests_tail)
                n->requests_tail->next = r;
        else
                n->requests = r;
        n->requests_tail = r;
        return r;
}

static void request_free(struct raftd_node *n, struct node_request *r) {
        struct node_session *s = r->session;
        bool was_bound = r->s_list == SESSION_LIST_BOUND;

        index_remove(n, r);
        session_unlink(r);
        due_unlink(n, r);
        n->n_registering -= r->kind == REQUEST_REGISTER;
        n->n_reads_ready -= r->read_ready;
        /* Room in the window: the oldest write waiting for it goes. */
        if (was_bound && s->blocked && s->n_bound < NODE_SESSION_WINDOW) {
                struct node_request *w = s->blocked;

                session_unlink(w);
                due_now(n, w);
        }
        if (r->prev)
                r->prev->next = r->next;
        else
                n->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                n->requests_tail = r->prev;
        free(r->cmd);
        free(r);
}

static void try_submit(struct raftd_node *n, struct node_request *r);

/* Unlinks first: the completion may submit new requests.  Completions
 * often run in the flush, i.e. in the loop's prepare phase, after the
 * caller's own prepare watchers (which may now have work: issue the next
 * request, write a D-Bus reply): the kick makes the loop go round once
 * more instead of sleeping until the next timer or message. */
static void finish_write(struct raftd_node *n, struct node_request *r, int error, const struct kv_result *res) {
        node_write_done done = r->done;
        void *ctx = r->ctx;

        request_free(n, r);
        kick(n);
        if (done)
                done(n, ctx, error, res);
}

static void finish_read(struct raftd_node *n, struct node_request *r, int error) {
        node_read_serve serve = r->serve;
        void *ctx = r->ctx;

        request_free(n, r);
        kick(n);
        if (serve)
                serve(n, ctx, error);
}

/* ---- completion ---- */

void node_requests_applied(struct raftd_node *n, raft_index index, raft_term term, const struct kv_command *c,
                           const struct kv_result *res) {
        struct node_session *s = c->session != 0 ? node_session_by_id(n, c->session) : NULL;

        /* In seq order, and entries mostly apply in seq order: the first. */
        for (struct node_request *r = s ? s->bound : NULL; r; r = r->s_next)
                if (r->seq == c->seq) {
                        if (res->status == KV_STATUS_NO_SUCH_SESSION) {
                                /* Expired while this node was cut off: nothing of
                                 * it applied.  The session decides what next. */
                                node_session_lost(n, s);
                                return;
                        }
                        finish_write(n, r, 0, res);
                        return;
                }
        if (n->n_registering == 0)
                return;
        for (struct node_request *r = n->requests; r; r = r->next) {
                if (r->kind == REQUEST_REGISTER && index == r->wait_index) {
                        if (term == r->wait_term && c->type == KV_CMD_SESSION_REGISTER && res->status == KV_STATUS_OK) {
                                struct node_session *registered = r->session;

                                request_free(n, r);
                                node_session_registered(n, registered, res->id);
                        } else
                                r->next_try = 0; /* lost to another leader: again */
                        return;
                }
        }
}

static void finish_change(struct raftd_node *n, struct node_request *r, int error, raft_index index) {
        struct kv_result res = { .revision = index };

        finish_write(n, r, error, error < 0 ? NULL : &res);
}

void node_requests_entry_applied(struct raftd_node *n, raft_index index, raft_term term) {
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_CHANGE && r->wait_index == index) {
                        if (r->wait_term == term)
                                finish_change(n, r, 0, index);
                        else
                                r->next_try = 0; /* lost to another leader: again */
                        return;
                }
}

/* The answer to a forwarded change or registration may arrive after this
 * node applied the entry, when the apply hook has already passed it by:
 * settle it from the term the entry was applied with. */
static void settle_if_applied(struct raftd_node *n, struct node_request *r) {
        const struct raft_entry *e;

        if (r->wait_index == 0 || r->wait_index > kv_applied_index(n->kv))
                return;
        e = raft_entry_at(n->raft, r->wait_index);
        if (e && e->term == r->wait_term && r->kind == REQUEST_CHANGE)
                finish_change(n, r, 0, r->wait_index);
        else if (e && e->term == r->wait_term && r->kind == REQUEST_REGISTER &&
                 kv_session_exists(n->kv, r->wait_index)) {
                struct node_session *s = r->session;
                uint64_t id = r->wait_index; /* a session's id is its entry's index */

                request_free(n, r);
                node_session_registered(n, s, id);
        } else
                r->next_try = 0; /* lost to another leader, or unknown: again */
}

void node_requests_applied_to(struct raftd_node *n, raft_index applied) {
        if (n->n_reads_ready == 0)
                return;
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_READ && r->read_ready && r->read_index <= applied) {
                        kick(n);
                        return;
                }
}

void node_requests_kick(struct raftd_node *n) {
        uint64_t round = n->kick_round++;
        raft_index applied;
        struct node_request *r;

        /* What became due until now (not what completions queue meanwhile:
         * that is the next kick's); timeouts and timed retries are the
         * retry timer's. */
        while ((r = n->due) && r->due_round <= round) {
                due_unlink(n, r);
                if (!r->read_ready)
                        try_submit(n, r);
        }
        if (n->n_reads_ready == 0)
                return;
        applied = kv_applied_index(n->kv);
        r = n->requests;

        /* Restart from the head after each completion: it may change the list. */
        while (r) {
                if (r->kind == REQUEST_READ && r->read_ready && r->read_index <= applied) {
                        finish_read(n, r, 0);
                        r = n->requests;
                } else
                        r = r->next;
        }
}

static void send_forward_response(struct raftd_node *n, raft_id to, uint64_t id, uint8_t type, int error,
                                  raft_index index, raft_term term) {
        uint8_t buf[FORWARD_RESPONSE_SIZE];

        buf[0] = type;
        wire_put32(buf + 1, (uint32_t) error);
        wire_put64(buf + 5, index);
        wire_put64(buf + 13, term);
        if (n->transport.forward)
                (void) n->transport.forward(n->transport.userdata, to, id, true, buf, sizeof(buf));
}

void node_requests_read_ready(struct raftd_node *n, uint64_t id, raft_index index) {
        struct node_request *r = request_by_id(n, id);

        if (!r)
                return;
        if (r->kind == REQUEST_REMOTE_READ) {
                send_forward_response(n, r->origin, r->origin_id, NODE_FORWARD_READ_INDEX, 0, index, 0);
                request_free(n, r);
        } else {
                mark_read_ready(n, r);
                r->read_index = index;
                node_requests_applied_to(n, kv_applied_index(n->kv));
        }
}

void node_requests_read_failed(struct raftd_node *n, uint64_t id) {
        struct node_request *r = request_by_id(n, id);

        if (!r)
                return;
        if (r->kind == REQUEST_REMOTE_READ) {
                send_forward_response(n, r->origin, r->origin_id, NODE_FORWARD_READ_INDEX, RAFT_ENOTLEADER,
                                      0, 0);
                request_free(n, r);
        } else
                r->next_try = 0;
}

/* ---- submission ---- */

/* Proposals wait for the end of the loop iteration and go to the core
 * together: one append per follower for all of them. */
struct node_proposal {
        uint8_t *cmd;
        size_t len;
        uint64_t request_id; /* a local request, or ... */
        raft_id origin;      /* ... a follower's forwarded one */
        uint64_t origin_id;
};

/* The leader's time goes into the command: expiry of sessions, locks and
 * leases is decided from it on every node alike. */
static int queue_proposal(struct raftd_node *n, const uint8_t *cmd, size_t len, uint64_t request_id, raft_id origin,
                          uint64_t origin_id) {
        _cleanup_free_ uint8_t *stamped = NULL;
        size_t stamped_len = len;
        struct kv_command c;
        int k;

        if (raft_role(n->raft) != RAFT_LEADER)
                return RAFT_ENOTLEADER;
        /* A forwarded command is proposed only if it decodes. */
        k = kv_command_decode(cmd, len, &c);
        if (k < 0)
                return k;
        stamped = malloc(len);
        if (!stamped)
                return -ENOMEM;
        memcpy(stamped, cmd, len);
        k = kv_command_set_time(stamped, stamped_len, node_now_ms(n));
        if (k < 0)
                return k;
        if (n->n_proposals == n->cap_proposals) {
                size_t cap = n->cap_proposals ? 2 * n->cap_proposals : 64;
                struct node_proposal *a = realloc(n->proposals, cap * sizeof(*a));

                if (!a)
                        return -ENOMEM;
                n->proposals = a;
                n->cap_proposals = cap;
        }
        n->proposals[n->n_proposals++] = (struct node_proposal) {
                .cmd = TAKE_PTR(stamped),
                .len = stamped_len,
                .request_id = request_id,
                .origin = origin,
                .origin_id = origin_id,
        };
        return 0;
}

void node_proposals_flush(struct raftd_node *n) {
        struct node_proposal *q = n->proposals;
        size_t count = n->n_proposals;
        _cleanup_free_ struct raft_buf *batch = NULL;
        struct raft_event ev = { .type = RAFT_EVENT_PROPOSE };
        raft_index first = 0;
        raft_term term = 0;
        uint64_t now = node_now_ms(n);
        int k;

        if (count == 0)
                return;
        /* Detached first: answering may queue more for the next round. */
        n->proposals = NULL;
        n->n_proposals = n->cap_proposals = 0;
        batch = calloc(count, sizeof(*batch));
        if (!batch)
                k = -ENOMEM;
        else {
                for (size_t i = 0; i < count; i++)
                        batch[i] = (struct raft_buf) { q[i].cmd, q[i].len };
                ev.propose.type = RAFT_ENTRY_NORMAL;
                ev.propose.batch = batch;
                ev.propose.n_batch = (unsigned) count;
                k = node_step_proposed(n, &ev, &first, &term);
        }
        for (size_t i = 0; i < count; i++) {
                raft_index index = k < 0 ? 0 : first + i;

                if (q[i].origin) {
                        send_forward_response(n, q[i].origin, q[i].origin_id, NODE_FORWARD_PROPOSE, k, index,
                                              k < 0 ? 0 : term);
                } else {
                        struct node_request *r = request_by_id(n, q[i].request_id);

                        if (r && k < 0)
                                r->next_try = now + RETRY_MS;
                        else if (r) {
                                r->wait_index = index;
                                r->wait_term = term;
                                r->sent = true;
                        }
                }
                free(q[i].cmd);
        }
        free(q);
}

void node_proposals_free(struct raftd_node *n) {
        for (size_t i = 0; i < n->n_proposals; i++)
                free(n->proposals[i].cmd);
        free(n->proposals);
        n->proposals = NULL;
        n->n_proposals = n->cap_proposals = 0;
}

static int forward(struct raftd_node *n, raft_id to, struct node_request *r, uint8_t type) {
        _cleanup_free_ uint8_t *buf = malloc(1 + r->cmd_len);

        if (!buf)
                return -ENOMEM;
        buf[0] = type;
        if (r->cmd_len > 0)
                memcpy(buf + 1, r->cmd, r->cmd_len);
        if (!n->transport.forward)
                return -ENOTCONN;
        return n->transport.forward(n->transport.userdata, to, r->id, false, buf,
                                    type == NODE_FORWARD_READ_INDEX ? 1 : 1 + r->cmd_len);
}


/* Session and seq are fixed at the first submission under a registered
 * session; retries resend the very same command. */
static int bind_session(struct raftd_node *n, struct node_request *r) {
        r->seq = r->session->next_seq++;
        session_link(r, SESSION_LIST_BOUND);
        /* Encoded with a placeholder session: the fields are there. */
        return kv_command_set_session(r->cmd, r->cmd_len, r->session->id, r->seq,
                                      r->session->bound->seq /* the lowest in flight, r at the latest */);
}

static int step_change(struct raftd_node *n, uint8_t op, raft_id id, raft_index *index, raft_term *term) {
        struct raft_event ev = { .type = RAFT_EVENT_CHANGE };

        ev.change.op = op;
        ev.change.id = id;
        return node_step_proposed(n, &ev, index, term);
}

static int step_transfer(struct raftd_node *n, raft_id target) {
        struct raft_event ev = { .type = RAFT_EVENT_TRANSFER };

        ev.transfer.target = target;
        return node_step(n, &ev);
}

static int local_change(struct raftd_node *n, struct node_request *r) {
        int k = step_change(n, r->change_op, r->target, &r->wait_index, &r->wait_term);

        if (k == 0)
                r->sent = true;
        return k;
}

static int local_transfer(struct raftd_node *n, struct node_request *r) {
        int k = step_transfer(n, r->target);

        /* Already under way is as good as started. */
        return k == RAFT_EBUSY ? 0 : k;
}

static void try_submit(struct raftd_node *n, struct node_request *r) {
        raft_id leader = raft_leader(n->raft);
        uint64_t now = node_now_ms(n);
        int k = -EAGAIN;

        due_unlink(n, r);
        r->next_try = now + RETRY_MS;
        if (r->kind == REQUEST_READ && r->local) {
                mark_read_ready(n, r);
                r->read_index = 0;
                kick(n);
                return;
        }
        if (r->kind == REQUEST_WRITE && r->seq == 0) {
                if (r->session->id == 0)
                        return; /* waits for its session */
                /* The state machine caches responses for a bounded window
                 * of a session's requests; a retry must find its answer. */
                if (r->session->n_bound >= NODE_SESSION_WINDOW) {
                        /* Goes as soon as one of them completes. */
                        if (r->s_list == SESSION_LIST_NONE)
                                session_link(r, SESSION_LIST_BLOCKED);
                        return;
                }
                session_unlink(r); /* from the blocked list, if there */
                k = bind_session(n, r);
                if (k < 0) {
                        finish_write(n, r, k, NULL);
                        return;
                }
        }
        if (r->session)
                r->session->last_used = now;
        if (leader == 0)
                return;
        if (r->kind == REQUEST_TRANSFER && r->old_leader == 0)
                r->old_leader = leader;
        if (r->kind == REQUEST_TRANSFER && leader != r->old_leader) {
                finish_change(n, r, 0, 0);
                return;
        }
        if (leader == raft_id_self(n->raft) && (r->kind == REQUEST_CHANGE || r->kind == REQUEST_TRANSFER)) {
                k = r->kind == REQUEST_CHANGE ? local_change(n, r) : local_transfer(n, r);
                if (k == RAFT_EAGAIN || k == RAFT_EBUSY)
                        r->next_try = now + 2 * RETRY_MS; /* learner catching up, or one change at a time */
                else if (k < 0)
                        finish_change(n, r, k, 0);
                else
                        r->next_try = now + 4 * (uint64_t) n->cfg.election_ms;
                return;
        }
        if (leader == raft_id_self(n->raft)) {
                if (r->kind == REQUEST_READ) {
                        struct raft_event ev = { .type = RAFT_EVENT_READ };

                        ev.read.id = r->id;
                        k = node_step(n, &ev);
                } else
                        k = queue_proposal(n, r->cmd, r->cmd_len, r->id, 0, 0);
                /* A proposal lost to a leader change shows only as silence;
                 * the retry under the same seq is harmless. */
                r->next_try = now + (k == 0 ? 4 * (uint64_t) n->cfg.election_ms : RETRY_MS);
                return;
        }
        k = forward(n, leader, r,
                    r->kind == REQUEST_READ       ? NODE_FORWARD_READ_INDEX
                    : r->kind == REQUEST_CHANGE   ? NODE_FORWARD_CHANGE
                    : r->kind == REQUEST_TRANSFER ? NODE_FORWARD_TRANSFER
                                                  : NODE_FORWARD_PROPOSE);
        if (k == 0) {
                r->sent = r->sent || r->kind != REQUEST_READ;
                r->next_try = now + 4 * (uint64_t) n->cfg.election_ms;
        }
}

void node_requests_retry(struct raftd_node *n) {
        uint64_t now = node_now_ms(n);
        struct node_request *r = n->requests;

        while (r) {
                struct node_request *next = r->next;

                if (r->kind == REQUEST_REMOTE_READ) {
                        r = next;
                        continue;
                }
                if (now >= r->deadline) {
                        if (r->kind == REQUEST_READ)
                                finish_read(n, r, RAFTD_E_UNAVAILABLE);
                        else if (r->kind == REQUEST_REGISTER) {
                                /* Keep trying: nothing works without it. */
                                r->deadline = now + n->cfg.request_timeout_ms;
                                r->next_try = 0;
                        } else if (r->kind == REQUEST_TRANSFER)
                                finish_write(n, r, RAFTD_E_UNAVAILABLE, NULL);
                        else
                                finish_write(n, r, r->sent ? RAFTD_E_OUTCOME_UNKNOWN : RAFTD_E_UNAVAILABLE, NULL);
                        /* A completion may have changed the list. */
                        r = n->requests;
                        continue;
                }
                if (!r->read_ready && now >= r->next_try)
                        try_submit(n, r);
                r = next;
        }
}

void node_requests_role_changed(struct raftd_node *n) {
        /* Whatever went to the old leader goes to the new one now; a
         * transfer is done once someone else leads. */
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind != REQUEST_REMOTE_READ && !r->read_ready)
                        due_now(n, r);
        kick(n);
}

void node_requests_fail_session(struct raftd_node *n, struct node_session *s, int error) {
        struct node_request *r = n->requests;

        while (r) {
                if (r->session == s) {
                        if (r->kind == REQUEST_WRITE)
                                finish_write(n, r, error, NULL);
                        else
                                request_free(n, r);
                        r = n->requests;
                } else
                        r = r->next;
        }
}

void node_requests_cancel_all(struct raftd_node *n) {
        while (n->requests) {
                struct node_request *r = n->requests;

                if (r->kind == REQUEST_READ)
                        finish_read(n, r, -ECANCELED);
                else if (r->kind == REQUEST_WRITE)
                        finish_write(n, r, -ECANCELED, NULL);
                else
                        request_free(n, r);
        }
}

int node_submit_register(struct raftd_node *n, struct node_session *s) {
        struct kv_command c = { .type = KV_CMD_SESSION_REGISTER, .ttl_ms = n->cfg.session_ttl_ms };
        struct node_request *r;
        int k;

        for (r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_REGISTER && r->session == s)
                        return 0; /* already under way */
        r = request_new(n, REQUEST_REGISTER);
        if (!r)
                return -ENOMEM;
        k = kv_command_encode(&c, &r->cmd, &r->cmd_len);
        if (k < 0) {
                request_free(n, r);
                return k;
        }
        r->session = s;
        due_now(n, r);
        return 0;
}

int node_submit_write(struct raftd_node *n, struct node_session *s, const struct kv_command *c, node_write_done done,
                      void *ctx) {
        struct kv_command placeholder = *c;
        struct node_request *r;
        int k;

        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_WRITE);
        if (!r)
                return -ENOMEM;
        /* Session and seq are filled in when the session is registered (see
         * bind_session()); a placeholder keeps session-only commands
         * encodable until then. */
        placeholder.session = UINT64_MAX;
        k = kv_command_encode(&placeholder, &r->cmd, &r->cmd_len);
        if (k < 0) {
                request_free(n, r);
                return k;
        }
        r->session = s;
        r->done = done;
        r->ctx = ctx;
        /* Submitted from the loop: a completion never runs inside the
         * caller's call, not even a refusal. */
        due_now(n, r);
        return 0;
}

int node_submit_change(struct raftd_node *n, uint8_t op, raft_id id, node_write_done done, void *ctx) {
        struct node_request *r;

        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_CHANGE);
        if (!r)
                return -ENOMEM;
        r->cmd = malloc(1 + 8);
        if (!r->cmd) {
                request_free(n, r);
                return -ENOMEM;
        }
        r->cmd[0] = op;
        wire_put64(r->cmd + 1, id);
        r->cmd_len = 9;
        r->change_op = op;
        r->target = id;
        r->done = done;
        r->ctx = ctx;
        /* Promotion waits for the learner to catch up: allow for that. */
        r->deadline = node_now_ms(n) + 4 * (uint64_t) n->cfg.request_timeout_ms;
        /* Submitted from the loop: a completion never runs inside the
         * caller's call, not even a refusal. */
        due_now(n, r);
        return 0;
}

int node_submit_transfer(struct raftd_node *n, raft_id target, node_write_done done, void *ctx) {
        struct node_request *r;

        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_TRANSFER);
        if (!r)
                return -ENOMEM;
        r->cmd = malloc(8);
        if (!r->cmd) {
                request_free(n, r);
                return -ENOMEM;
        }
        wire_put64(r->cmd, target);
        r->cmd_len = 8;
        r->target = target;
        r->done = done;
        r->ctx = ctx;
        /* Submitted from the loop: a completion never runs inside the
         * caller's call, not even a refusal. */
        due_now(n, r);
        return 0;
}

int node_submit_read(struct raftd_node *n, bool local, node_read_serve serve, void *ctx) {
        struct node_request *r;

        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_READ);
        if (!r)
                return -ENOMEM;
        r->local = local;
        r->serve = serve;
        r->ctx = ctx;
        /* Submitted from the loop: a completion never runs inside the
         * caller's call, not even a refusal. */
        due_now(n, r);
        return 0;
}

/* ---- frames from peers ---- */

void node_receive_message(struct raftd_node *n, const struct raft_message *m) {
        struct raft_event ev = { .type = RAFT_EVENT_RECEIVE, .message = m };

        (void) node_step(n, &ev);
}

static void receive_forward_request(struct raftd_node *n, raft_id from, uint64_t id, const uint8_t *p, size_t len) {
        raft_index index = 0;
        raft_term term = 0;
        int k;

        if (len < 1)
                return;
        switch (p[0]) {
        case NODE_FORWARD_PROPOSE:
                k = queue_proposal(n, p + 1, len - 1, 0, from, id);
                if (k < 0) /* otherwise answered when the batch is proposed */
                        send_forward_response(n, from, id, NODE_FORWARD_PROPOSE, k, index, term);
                break;
        case NODE_FORWARD_READ_INDEX: {
                struct node_request *r = request_new(n, REQUEST_REMOTE_READ);
                struct raft_event ev = { .type = RAFT_EVENT_READ };

                if (!r)
                        return;
                r->origin = from;
                r->origin_id = id;
                ev.read.id = r->id;
                k = node_step(n, &ev);
                if (k < 0) {
                        send_forward_response(n, from, id, NODE_FORWARD_READ_INDEX, k, 0, 0);
                        request_free(n, r);
                }
                break;
        }
        case NODE_FORWARD_CHANGE:
                if (len != 1 + 1 + 8)
                        return;
                k = step_change(n, p[1], wire_get64(p + 2), &index, &term);
                send_forward_response(n, from, id, NODE_FORWARD_CHANGE, k, index, term);
                break;
        case NODE_FORWARD_TRANSFER:
                if (len != 1 + 8)
                        return;
                k = step_transfer(n, wire_get64(p + 1));
                send_forward_response(n, from, id, NODE_FORWARD_TRANSFER, k == RAFT_EBUSY ? 0 : k, 0, 0);
                break;
        default:
                log_sink(&n->log, LOG_WARNING, _("Peer %" PRIu64 " forwarded an unknown request type %u, ignoring."),
                         from, p[0]);
        }
}

static void receive_forward_response(struct raftd_node *n, uint64_t id, const uint8_t *p, size_t len) {
        struct node_request *r = request_by_id(n, id);
        int error;

        if (len != FORWARD_RESPONSE_SIZE)
                return;
        error = (int) wire_get32(p + 1);
        if (!r)
                return;
        if (error < 0) {
                bool final = r->kind == REQUEST_CHANGE && error != RAFT_ENOTLEADER && error != RAFT_EAGAIN &&
                             error != RAFT_EBUSY;

                /* Final refusals end the request; "not the leader" or
                 * "not yet" are tried again soon. */
                if (final)
                        finish_change(n, r, error, 0);
                else
                        r->next_try = node_now_ms(n) + 2 * RETRY_MS;
                return;
        }
        if (p[0] == NODE_FORWARD_CHANGE && r->kind == REQUEST_CHANGE) {
                r->wait_index = wire_get64(p + 5);
                r->wait_term = wire_get64(p + 13);
                r->sent = true;
                settle_if_applied(n, r);
                return;
        }
        if (p[0] == NODE_FORWARD_READ_INDEX && r->kind == REQUEST_READ) {
                mark_read_ready(n, r);
                r->read_index = wire_get64(p + 5);
                node_requests_applied_to(n, kv_applied_index(n->kv));
        } else if (p[0] == NODE_FORWARD_PROPOSE) {
                r->wait_index = wire_get64(p + 5);
                r->wait_term = wire_get64(p + 13);
                if (r->kind == REQUEST_REGISTER)
                        settle_if_applied(n, r);
        }
}

void node_receive_forward(struct raftd_node *n, raft_id from, uint64_t request_id, bool response,
                          const void *payload, size_t len) {
        if (response)
                receive_forward_response(n, request_id, payload, len);
        else
                receive_forward_request(n, from, request_id, payload, len);
}

void node_requests_rebind_session(struct raftd_node *n, struct node_session *s) {
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_WRITE && r->session == s) {
                        session_unlink(r);
                        r->seq = 0;
                        r->sent = false;
                        due_now(n, r);
                }
}
