/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario.h"

struct call {
        char tag[32];
        struct answer *a;
};

static void on_line(struct procs *ps, unsigned id, const char *line, void *userdata) {
        struct call *c = userdata;
        size_t tl = strlen(c->tag);
        struct answer *a = c->a;
        const char *rest;

        if (strncmp(line, c->tag, tl) != 0 || line[tl] != ' ')
                return; /* a late answer to an earlier call */
        rest = line + tl + 1;
        a->done = true;
        if (sscanf(rest, "ok %" SCNu64, &a->revision) == 1)
                strcpy(a->kind, "ok");
        else if (sscanf(rest, "val %" SCNu64 " %255s", &a->revision, a->value) == 2)
                strcpy(a->kind, "val");
        else if (sscanf(rest, "cas %d %" SCNu64, (int *) &a->error, &a->revision) == 2) {
                strcpy(a->kind, "cas");
                a->swapped = a->error != 0;
                a->error = 0;
        } else if (sscanf(rest, "err %d", &a->error) == 1)
                strcpy(a->kind, "err");
        else if (sscanf(rest, "members %255s", a->value) == 1)
                strcpy(a->kind, "members");
        else if (sscanf(rest, "status %u %" SCNu64 " %" SCNu64, &a->role, &a->term, &a->leader) == 3)
                strcpy(a->kind, "status");
        else
                strcpy(a->kind, "?");
}

static bool answered(struct procs *ps, void *arg) {
        return ((struct answer *) arg)->done;
}

bool scenario_call(struct procs *ps, unsigned id, struct answer *a, int deadline_ms, const char *fmt, ...) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";
        struct call c = { .a = a };
        char line[512];
        va_list ap;
        bool ok;

        memset(a, 0, sizeof(*a));
        /* A fresh tag per call so a late answer cannot be mistaken. */
        for (int i = 0; i < 12; i++)
                c.tag[i] = alphabet[rand() % 26];
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        ps->on_line = on_line;
        ps->userdata = &c;
        procs_send(ps, id, "%s %s", c.tag, line);
        ok = procs_wait(ps, answered, a, deadline_ms);
        ps->on_line = NULL;
        ps->userdata = NULL;
        return ok;
}

bool scenario_get(struct procs *ps, unsigned id, const char *key, struct answer *a, int deadline_ms) {
        for (int attempt = 0; attempt * 1000 < deadline_ms; attempt++)
                if (scenario_call(ps, id, a, 1000, "get %s", key) &&
                    (strcmp(a->kind, "val") == 0 || (strcmp(a->kind, "err") == 0 && a->error == -2)))
                        return true;
        return false;
}

bool scenario_put_range(struct procs *ps, unsigned via, int from, int to) {
        struct answer a;

        for (int i = from; i < to; i++)
                if (!scenario_call(ps, via, &a, 20000, "put /k/%d v%d", i, i) || strcmp(a.kind, "ok") != 0)
                        return false;
        return true;
}

struct local_key {
        unsigned id;
        const char *key;
};

static bool has_key_locally(struct procs *ps, void *arg) {
        struct local_key *k = arg;
        struct answer a;

        return scenario_call(ps, k->id, &a, 1000, "lget %s", k->key) && strcmp(a.kind, "val") == 0;
}

bool scenario_wait_local(struct procs *ps, unsigned id, const char *key, int deadline_ms) {
        struct local_key k = { id, key };

        return procs_wait(ps, has_key_locally, &k, deadline_ms);
}

uint64_t scenario_seed(const char *test) {
        const char *e = getenv("RAFTD_TEST_SEED");
        uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t) time(NULL);

        fprintf(stderr, "%s: seed %" PRIu64 " (replay: RAFTD_TEST_SEED=%" PRIu64 ")\n", test, seed, seed);
        srand((unsigned) seed);
        return seed;
}

void scenario_start(struct procs *ps, unsigned n, uint64_t snapshot_entries) {
        procs_init(ps, n);
        ps->snapshot_entries = snapshot_entries;
        procs_start_all(ps);
        if (!procs_wait(ps, procs_all_ready, NULL, 20000)) {
                fprintf(stderr, "cluster did not become ready\n");
                abort();
        }
}
