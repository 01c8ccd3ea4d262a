/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The register workload: gets, puts, compare-and-swaps and deletes on a few
 * keys, every written value unique, so a checker can tell which write a
 * read saw.  CAS expects the value this client last saw for the key, which
 * is often stale under faults: both outcomes get exercised. */

#include <errno.h>
#include <stdio.h>

#include "client.h"

#define REGISTER_PREFIX "/fault/reg/"
#define REGISTER_KEYS_MAX 16

struct known {
        bool present;
        uint64_t value;
};

static void key_path(char path[static 64], unsigned k) {
        snprintf(path, 64, REGISTER_PREFIX "r%u", k);
}

static int do_get(struct client *c, unsigned k, struct known *seen, bool *read) {
        char path[64], op[64], ok[96], v[24];
        struct call_status s;
        bool present;
        uint64_t value = 0;
        int r;

        key_path(path, k);
        snprintf(op, sizeof(op), "get r%u", k);
        r = client_invoke(c, op);
        if (r < 0)
                return r;
        s = call_get(&c->caller, path, &present, &value);
        snprintf(ok, sizeof(ok), "get r%u %s", k, value_token(v, present, value));
        *read = s.outcome == OUTCOME_OK;
        if (*read)
                *seen = (struct known) { present, value };
        return client_complete(c, &s, op, ok);
}

static int do_put(struct client *c, unsigned k, struct known *seen) {
        char path[64], op[64];
        struct call_status s;
        uint64_t value = client_unique_value(c);
        int r;

        key_path(path, k);
        snprintf(op, sizeof(op), "put r%u %lu", k, (unsigned long) value);
        r = client_invoke(c, op);
        if (r < 0)
                return r;
        s = call_put(&c->caller, path, value);
        if (s.outcome == OUTCOME_OK)
                *seen = (struct known) { true, value };
        return client_complete(c, &s, op, op);
}

static int do_delete(struct client *c, unsigned k, struct known *seen) {
        char path[64], op[64];
        struct call_status s;
        int r;

        key_path(path, k);
        snprintf(op, sizeof(op), "del r%u", k);
        r = client_invoke(c, op);
        if (r < 0)
                return r;
        s = call_delete(&c->caller, path);
        if (s.outcome == OUTCOME_OK)
                *seen = (struct known) { false, 0 };
        return client_complete(c, &s, op, op);
}

static int do_cas(struct client *c, unsigned k, struct known *seen) {
        char path[64], op[96], e[24], n[24];
        struct call_status s;
        /* One in ten swaps deletes: absent keys keep "-" expectations alive. */
        bool new_present = client_below(c, 10) != 0;
        uint64_t new_value = new_present ? client_unique_value(c) : 0;
        int r;

        key_path(path, k);
        snprintf(op, sizeof(op), "cas r%u %s %s", k, value_token(e, seen->present, seen->value),
                 value_token(n, new_present, new_value));
        r = client_invoke(c, op);
        if (r < 0)
                return r;
        s = call_cas(&c->caller, path, seen->present, seen->value, new_present, new_value);
        if (s.outcome == OUTCOME_OK)
                *seen = (struct known) { new_present, new_value };
        return client_complete(c, &s, op, op);
}

int workload_register(struct client *c) {
        struct known seen[REGISTER_KEYS_MAX] = {};
        unsigned keys = c->keys > 0 && c->keys <= REGISTER_KEYS_MAX ? c->keys : 3;
        int r = 0;

        while (r >= 0 && client_running(c)) {
                unsigned k = (unsigned) client_below(c, keys);
                uint64_t dice = client_below(c, 100);
                bool read;

                if (dice < 40)
                        r = do_get(c, k, &seen[k], &read);
                else if (dice < 65)
                        r = do_put(c, k, &seen[k]);
                else if (dice < 95)
                        r = do_cas(c, k, &seen[k]);
                else
                        r = do_delete(c, k, &seen[k]);
        }
        return r;
}

/* After the cluster healed: one successful read of every key, retried
 * (each try is its own operation) until the deadline. */
int workload_register_final(struct client *c) {
        unsigned keys = c->keys > 0 && c->keys <= REGISTER_KEYS_MAX ? c->keys : 3;

        for (unsigned k = 0; k < keys; k++) {
                struct known seen = {};
                bool done = false;

                while (!done) {
                        int r;

                        if (!client_running(c)) {
                                fprintf(stderr, "client %lu: no final read of r%u before the deadline\n",
                                        (unsigned long) c->index, k);
                                return -ETIMEDOUT;
                        }
                        r = do_get(c, k, &seen, &done);
                        if (r < 0)
                                return r;
                        if (!done)
                                client_backoff();
                }
        }
        return 0;
}
