/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client requests: any node serves any request.
 *
 * Writes carry this node's client session and a sequence number.  The
 * leader stamps its time into the command and proposes it; a follower
 * forwards the command to the leader.  A request completes when this
 * node's own state machine applies an entry with its (session, seq), so
 * the answer never depends on the leader that took it.  Until then it is
 * retried under the same (session, seq), to whoever leads by then: the
 * state machine applies it at most once and hands a replayed request the
 * cached response (Raft dissertation §6.3).
 *
 * Linearizable reads take a ReadIndex from the leader (locally when this
 * node leads) and are served here once the state machine reached it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "raft/wire.h"
#include "shared/macro.h"

#define RETRY_MS 50
#define FORWARD_RESPONSE_SIZE (1 + 4 + 8 + 8)

enum request_kind {
        REQUEST_WRITE = 1,
        REQUEST_SESSION,     /* registering this node's session */
        REQUEST_READ,        /* linearizable or local get */
        REQUEST_REMOTE_READ, /* leader side: a ReadIndex for a follower */
};

struct node_request {
        struct node_request *prev, *next;
        enum request_kind kind;
        uint64_t id;
        uint64_t seq;
        enum kv_command_type cmd_type;
        uint8_t *cmd;
        size_t cmd_len;
        uint64_t deadline;
        uint64_t next_try;
        bool sent; /* may have reached a leader: a timeout means "unknown" */
        bool local; /* RAFTD_GET_LOCAL */
        bool read_ready;
        raft_index read_index;
        raft_index wait_index; /* session: the entry that registers it */
        raft_term wait_term;
        raft_id origin;        /* remote read: the follower and its id */
        uint64_t origin_id;
        uint8_t *key;
        size_t key_len;
        union {
                raftd_write_cb write;
                raftd_get_cb get;
                raftd_cas_cb cas;
        } cb;
        void *userdata;
};

static void request_link(struct raftd_node *n, struct node_request *r) {
        r->prev = n->requests_tail;
        r->next = NULL;
        if (n->requests_tail)
                n->requests_tail->next = r;
        else
                n->requests = r;
        n->requests_tail = r;
}

static void request_unlink_free(struct raftd_node *n, struct node_request *r) {
        if (r->prev)
                r->prev->next = r->next;
        else
                n->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                n->requests_tail = r->prev;
        free(r->cmd);
        free(r->key);
        free(r);
}

static struct node_request *request_new(struct raftd_node *n, enum request_kind kind) {
        struct node_request *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->kind = kind;
        r->id = ++n->next_request_id;
        r->deadline = node_now_ms(n) + n->cfg.request_timeout_ms;
        request_link(n, r);
        return r;
}

static void kick(struct raftd_node *n) {
        /* Completions run from the loop, never inside the caller's call. */
        if (!ev_is_active(&n->kick))
                ev_timer_start(n->loop, &n->kick);
}

/* ---- completion ---- */

static void complete_write(struct raftd_node *n, struct node_request *r, int error, const struct kv_result *res) {
        switch (r->cmd_type) {
        case KV_CMD_COMPARE_AND_SWAP:
                if (r->cb.cas)
                        r->cb.cas(r->userdata, error,
                                  error == 0 && res && res->status == KV_STATUS_OK,
                                  res ? res->revision : 0);
                break;
        default:
                if (r->cb.write)
                        r->cb.write(r->userdata, error, res ? res->revision : 0);
                break;
        }
        request_unlink_free(n, r);
}

static int result_error(const struct kv_result *res) {
        switch (res->status) {
        case KV_STATUS_OK:
        case KV_STATUS_COMPARE_FAILED:
                return 0;
        case KV_STATUS_NO_SUCH_KEY:
                return RAFTD_E_NO_SUCH_KEY;
        case KV_STATUS_KEY_TOO_LONG:
        case KV_STATUS_VALUE_TOO_LARGE:
                return RAFTD_E_TOO_LARGE;
        default:
                return res->error < 0 ? res->error : -EIO;
        }
}

static void session_lost(struct raftd_node *n) {
        bool registering = false;

        log_sink(&n->log, LOG_WARNING, _("Client session %" PRIu64 " expired, registering a new one."), n->session);
        n->session = 0;
        for (struct node_request *r = n->requests; r; r = r->next) {
                if (r->kind == REQUEST_SESSION)
                        registering = true;
                if (r->kind == REQUEST_WRITE) {
                        r->seq = 0;
                        r->next_try = 0;
                }
        }
        if (!registering)
                (void) node_session_open(n);
}

void node_requests_applied(struct raftd_node *n, raft_index index, raft_term term, const struct kv_command *c,
                           const struct kv_result *res) {
        for (struct node_request *r = n->requests, *next; r; r = next) {
                next = r->next;
                if (r->kind == REQUEST_WRITE && c->session != 0 && c->session == n->session && c->seq == r->seq) {
                        if (res->status == KV_STATUS_NO_SUCH_SESSION) {
                                /* The session expired (this node was cut off for
                                 * longer than its TTL): nothing of it applied.
                                 * Register anew and resubmit under the new one. */
                                session_lost(n);
                                return;
                        }
                        complete_write(n, r, result_error(res), res);
                        return;
                }
                if (r->kind == REQUEST_SESSION && index == r->wait_index) {
                        if (term == r->wait_term && c->type == KV_CMD_SESSION_REGISTER && res->status == KV_STATUS_OK) {
                                n->session = res->id;
                                log_sink(&n->log, LOG_INFO, _("Client session %" PRIu64 " registered."), n->session);
                                request_unlink_free(n, r);
                                node_requests_retry(n); /* writes waiting for it */
                        } else
                                r->next_try = 0; /* lost to another leader: try again */
                        return;
                }
        }
}

static void serve_read(struct raftd_node *n, struct node_request *r) {
        struct kv_value v = { 0 };
        int k = kv_get(n->kv, r->key, r->key_len, &v);

        if (r->cb.get) {
                if (k < 0)
                        r->cb.get(r->userdata, k == -ENOENT ? RAFTD_E_NO_SUCH_KEY : k, NULL, 0, 0);
                else
                        r->cb.get(r->userdata, 0, v.data, v.len, v.mod_revision);
        }
        kv_value_done(&v);
        request_unlink_free(n, r);
}

void node_requests_applied_to(struct raftd_node *n, raft_index applied) {
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_READ && r->read_ready && r->read_index <= applied) {
                        kick(n);
                        return;
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
        for (struct node_request *r = n->requests; r; r = r->next) {
                if (r->id != id)
                        continue;
                if (r->kind == REQUEST_REMOTE_READ) {
                        send_forward_response(n, r->origin, r->origin_id, NODE_FORWARD_READ_INDEX, 0, index, 0);
                        request_unlink_free(n, r);
                } else {
                        r->read_ready = true;
                        r->read_index = index;
                        node_requests_applied_to(n, kv_applied_index(n->kv));
                }
                return;
        }
}

void node_requests_read_failed(struct raftd_node *n, uint64_t id) {
        for (struct node_request *r = n->requests; r; r = r->next) {
                if (r->id != id)
                        continue;
                if (r->kind == REQUEST_REMOTE_READ) {
                        send_forward_response(n, r->origin, r->origin_id, NODE_FORWARD_READ_INDEX, RAFT_ENOTLEADER,
                                              0, 0);
                        request_unlink_free(n, r);
                } else
                        r->next_try = 0;
                return;
        }
}

/* ---- submission ---- */

/* The leader's time goes into the command: expiry of sessions, locks and
 * leases is decided from it on every node alike. */
static int propose_stamped(struct raftd_node *n, const uint8_t *cmd, size_t len, raft_index *ret_index,
                           raft_term *ret_term) {
        _cleanup_free_ uint8_t *stamped = NULL;
        size_t stamped_len;
        struct kv_command c;
        struct raft_event ev = { .type = RAFT_EVENT_PROPOSE };
        int k;

        k = kv_command_decode(cmd, len, &c);
        if (k < 0)
                return k;
        c.time_ms = node_now_ms(n);
        k = kv_command_encode(&c, &stamped, &stamped_len);
        if (k < 0)
                return k;
        ev.propose.type = RAFT_ENTRY_NORMAL;
        ev.propose.data.base = stamped;
        ev.propose.data.len = stamped_len;
        return node_step_proposed(n, &ev, ret_index, ret_term);
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
                                    type == NODE_FORWARD_PROPOSE ? 1 + r->cmd_len : 1);
}

static uint64_t lowest_unacked(struct raftd_node *n) {
        uint64_t low = n->next_seq;

        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_WRITE && r->seq < low)
                        low = r->seq;
        return low;
}

static void try_submit(struct raftd_node *n, struct node_request *r) {
        raft_id leader = raft_leader(n->raft);
        uint64_t now = node_now_ms(n);
        int k = -EAGAIN;

        r->next_try = now + RETRY_MS;
        if (r->kind == REQUEST_READ && r->local) {
                r->read_ready = true;
                r->read_index = 0;
                kick(n);
                return;
        }
        if (r->kind == REQUEST_WRITE && r->seq == 0) {
                /* Session and seq are fixed at the first submission under a
                 * session; retries resend the very same command. */
                struct kv_command c;
                _cleanup_free_ uint8_t *enc = NULL;
                size_t enc_len;

                if (n->session == 0)
                        return; /* waits for the session */
                r->seq = n->next_seq++;
                if (kv_command_decode(r->cmd, r->cmd_len, &c) == 0) {
                        c.session = n->session;
                        c.seq = r->seq;
                        c.lowest_unacked = lowest_unacked(n);
                        if (kv_command_encode(&c, &enc, &enc_len) == 0) {
                                free(r->cmd);
                                r->cmd = TAKE_PTR(enc);
                                r->cmd_len = enc_len;
                        }
                }
        }
        if (leader == 0)
                return;
        if (leader == raft_id_self(n->raft)) {
                if (r->kind == REQUEST_READ) {
                        struct raft_event ev = { .type = RAFT_EVENT_READ };

                        ev.read.id = r->id;
                        k = node_step(n, &ev);
                } else
                        k = propose_stamped(n, r->cmd, r->cmd_len, &r->wait_index, &r->wait_term);
                if (k == 0 && r->kind != REQUEST_READ)
                        r->sent = true;
                /* A proposal lost to a leader change shows only as silence;
                 * the retry under the same seq is harmless. */
                r->next_try = now + 4 * (uint64_t) n->cfg.election_ms;
                if (k < 0)
                        r->next_try = now + RETRY_MS;
                return;
        }
        k = forward(n, leader, r, r->kind == REQUEST_READ ? NODE_FORWARD_READ_INDEX : NODE_FORWARD_PROPOSE);
        if (k == 0) {
                r->sent = r->kind != REQUEST_READ;
                r->next_try = now + 4 * (uint64_t) n->cfg.election_ms;
        }
}

void node_requests_retry(struct raftd_node *n) {
        uint64_t now = node_now_ms(n);

        for (struct node_request *r = n->requests, *next; r; r = next) {
                next = r->next;
                if (r->kind == REQUEST_REMOTE_READ)
                        continue;
                if (now >= r->deadline) {
                        int error = r->sent ? RAFTD_E_OUTCOME_UNKNOWN : RAFTD_E_UNAVAILABLE;

                        if (r->kind == REQUEST_READ) {
                                if (r->cb.get)
                                        r->cb.get(r->userdata, RAFTD_E_UNAVAILABLE, NULL, 0, 0);
                                request_unlink_free(n, r);
                        } else if (r->kind == REQUEST_SESSION) {
                                /* Keep trying: nothing works without it. */
                                r->deadline = now + n->cfg.request_timeout_ms;
                                r->next_try = 0;
                        } else
                                complete_write(n, r, error, NULL);
                        continue;
                }
                if (!r->read_ready && now >= r->next_try)
                        try_submit(n, r);
        }
}

void node_requests_role_changed(struct raftd_node *n) {
        /* Whatever went to the old leader goes to the new one now. */
        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind != REQUEST_REMOTE_READ && !r->read_ready)
                        r->next_try = 0;
}

void node_requests_cancel_all(struct raftd_node *n) {
        while (n->requests) {
                struct node_request *r = n->requests;

                if (r->kind == REQUEST_READ && r->cb.get)
                        r->cb.get(r->userdata, -ECANCELED, NULL, 0, 0);
                else if (r->kind == REQUEST_WRITE) {
                        complete_write(n, r, -ECANCELED, NULL);
                        continue;
                }
                request_unlink_free(n, r);
        }
}

/* Completes reads whose index the state machine reached. */
void node_requests_kick(struct raftd_node *n) {
        raft_index applied = kv_applied_index(n->kv);

        for (struct node_request *r = n->requests, *next; r; r = next) {
                next = r->next;
                if (r->kind == REQUEST_READ && r->read_ready && r->read_index <= applied)
                        serve_read(n, r);
        }
}

int node_session_open(struct raftd_node *n) {
        struct kv_command c = { .type = KV_CMD_SESSION_REGISTER, .ttl_ms = n->cfg.session_ttl_ms };
        struct node_request *r = request_new(n, REQUEST_SESSION);
        int k;

        if (!r)
                return -ENOMEM;
        k = kv_command_encode(&c, &r->cmd, &r->cmd_len);
        if (k < 0) {
                request_unlink_free(n, r);
                return k;
        }
        r->cmd_type = c.type;
        r->next_try = 0;
        return 0;
}

/* ---- the API ---- */

static int submit_write(struct raftd_node *n, const struct kv_command *c, void (*cb)(void), void *userdata);

void node_session_keepalive(struct raftd_node *n) {
        struct kv_command c = { .type = KV_CMD_SESSION_KEEPALIVE };

        for (struct node_request *r = n->requests; r; r = r->next)
                if (r->kind == REQUEST_WRITE || r->kind == REQUEST_SESSION)
                        return; /* any session request keeps it alive */
        if (n->session != 0) {
                int k = submit_write(n, &c, NULL, NULL);

                if (k < 0)
                        log_sink_errno(&n->log, LOG_WARNING, k, _("Failed to queue a session keep-alive, ignoring: %m"));
        }
}

static int submit_write(struct raftd_node *n, const struct kv_command *c, void (*cb)(void), void *userdata) {
        struct kv_command placeholder = *c;
        struct node_request *r;
        int k;

        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_WRITE);
        if (!r)
                return -ENOMEM;
        /* Session and seq are filled in at the first submission (see
         * try_submit()); until then a placeholder keeps session-only
         * commands encodable. */
        placeholder.session = UINT64_MAX;
        k = kv_command_encode(&placeholder, &r->cmd, &r->cmd_len);
        if (k < 0) {
                request_unlink_free(n, r);
                return k;
        }
        r->cmd_type = c->type;
        if (c->type == KV_CMD_COMPARE_AND_SWAP)
                r->cb.cas = (raftd_cas_cb) cb;
        else
                r->cb.write = (raftd_write_cb) cb;
        r->userdata = userdata;
        try_submit(n, r);
        return 0;
}

static int check_key(const struct raftd_node *n, const void *key, size_t key_len) {
        if (!key || key_len == 0)
                return -EINVAL;
        if (key_len > n->cfg.max_key_len)
                return RAFTD_E_TOO_LARGE;
        return 0;
}

int raftd_put(struct raftd_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
              raftd_write_cb cb, void *userdata) {
        struct kv_command c = { .type = KV_CMD_PUT };
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if (value_len > n->cfg.max_value_size)
                return RAFTD_E_TOO_LARGE;
        c.key = (struct kv_blob) { key, key_len };
        c.value = (struct kv_blob) { value, value_len };
        return submit_write(n, &c, (void (*)(void)) cb, userdata);
}

int raftd_delete(struct raftd_node *n, const void *key, size_t key_len, raftd_write_cb cb, void *userdata) {
        struct kv_command c = { .type = KV_CMD_DELETE };
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        c.key = (struct kv_blob) { key, key_len };
        return submit_write(n, &c, (void (*)(void)) cb, userdata);
}

int raftd_cas(struct raftd_node *n, const void *key, size_t key_len, const void *expected, size_t expected_len,
              const void *new_value, size_t new_len, raftd_cas_cb cb, void *userdata) {
        struct kv_command c = { .type = KV_CMD_COMPARE_AND_SWAP };
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if ((new_value && new_len > n->cfg.max_value_size) || (expected && expected_len > n->cfg.max_value_size))
                return RAFTD_E_TOO_LARGE;
        c.key = (struct kv_blob) { key, key_len };
        c.expected_present = expected != NULL;
        if (expected)
                c.expected = (struct kv_blob) { expected, expected_len };
        c.new_present = new_value != NULL;
        if (new_value)
                c.value = (struct kv_blob) { new_value, new_len };
        return submit_write(n, &c, (void (*)(void)) cb, userdata);
}

int raftd_get(struct raftd_node *n, const void *key, size_t key_len, uint64_t flags, raftd_get_cb cb,
              void *userdata) {
        struct node_request *r;
        int k = check_key(n, key, key_len);

        if (k < 0)
                return k;
        if (!n->started || n->failed)
                return -ENOTCONN;
        r = request_new(n, REQUEST_READ);
        if (!r)
                return -ENOMEM;
        r->key = malloc(key_len);
        if (!r->key) {
                request_unlink_free(n, r);
                return -ENOMEM;
        }
        memcpy(r->key, key, key_len);
        r->key_len = key_len;
        r->local = flags & RAFTD_GET_LOCAL;
        r->cb.get = cb;
        r->userdata = userdata;
        try_submit(n, r);
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
                k = propose_stamped(n, p + 1, len - 1, &index, &term);
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
                        request_unlink_free(n, r);
                }
                break;
        }
        default:
                log_sink(&n->log, LOG_WARNING, _("Peer %" PRIu64 " forwarded an unknown request type %u, ignoring."),
                         from, p[0]);
        }
}

static void receive_forward_response(struct raftd_node *n, uint64_t id, const uint8_t *p, size_t len) {
        int error;
        raft_index index;
        raft_term term;

        if (len != FORWARD_RESPONSE_SIZE)
                return;
        error = (int) wire_get32(p + 1);
        index = wire_get64(p + 5);
        term = wire_get64(p + 13);
        for (struct node_request *r = n->requests; r; r = r->next) {
                if (r->id != id)
                        continue;
                if (error < 0) {
                        /* Not (or no longer) the leader: retry soon. */
                        r->next_try = node_now_ms(n) + RETRY_MS;
                        return;
                }
                if (p[0] == NODE_FORWARD_READ_INDEX && r->kind == REQUEST_READ) {
                        r->read_ready = true;
                        r->read_index = index;
                        node_requests_applied_to(n, kv_applied_index(n->kv));
                } else if (p[0] == NODE_FORWARD_PROPOSE) {
                        r->wait_index = index;
                        r->wait_term = term;
                }
                return;
        }
}

void node_receive_forward(struct raftd_node *n, raft_id from, uint64_t request_id, bool response,
                          const void *payload, size_t len) {
        if (response)
                receive_forward_response(n, request_id, payload, len);
        else
                receive_forward_request(n, from, request_id, payload, len);
}
