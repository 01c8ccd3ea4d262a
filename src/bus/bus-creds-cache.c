/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The callers' credentials as the bus driver reported them, by unique bus
 * name.  A bus never hands out a unique name twice and a connection's uid
 * and pid are those of the process that connected, so an entry stays true
 * for the life of the connection; bus-auth.c drops it when the driver
 * announces that the name is gone.
 *
 * A chained hash table with a fixed bucket array: the bound keeps the
 * chains short without ever resizing, and removal (one per disconnecting
 * caller) is as cheap as lookup, which hsearch_r() cannot do at all and a
 * sorted array only with a memmove.  Unique names are chosen by the bus
 * daemon, not by callers, so an unkeyed hash cannot be steered into one
 * chain.
 */

#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "shared/macro.h"

static size_t bucket_of(const char *name) {
        /* FNV-1a */
        uint64_t h = 0xcbf29ce484222325u;

        for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
                h ^= *p;
                h *= 0x100000001b3u;
        }
        return (size_t) (h % BUS_CALLERS_BUCKETS);
}

void bus_callers_init(struct bus_callers *c, size_t max) {
        *c = (struct bus_callers) { .max = max > 0 ? max : BUS_CALLERS_MAX_DEFAULT };
}

struct bus_caller *bus_callers_get(struct bus_callers *c, const char *name) {
        for (struct bus_caller *p = c->buckets[bucket_of(name)]; p; p = p->hash_next)
                if (strcmp(p->name, name) == 0)
                        return p;
        return NULL;
}

static void known_unlink(struct bus_callers *c, struct bus_caller *p) {
        if (p->older)
                p->older->newer = p->newer;
        else
                c->oldest = p->newer;
        if (p->newer)
                p->newer->older = p->older;
        else
                c->newest = p->older;
        p->older = p->newer = NULL;
}

static void parked_free_all(struct bus_parked *q) {
        while (q) {
                struct bus_parked *next = q->next;

                sd_bus_message_unref(q->message);
                free(q);
                q = next;
        }
}

void bus_callers_remove(struct bus_callers *c, struct bus_caller *p) {
        struct bus_caller **pp;

        if (!p)
                return;
        for (pp = &c->buckets[bucket_of(p->name)]; *pp; pp = &(*pp)->hash_next)
                if (*pp == p) {
                        *pp = p->hash_next;
                        break;
                }
        if (p->known)
                known_unlink(c, p);
        c->n--;
        sd_bus_slot_unref(p->question);
        parked_free_all(p->parked);
        free(p->name);
        free(p);
}

int bus_callers_add(struct bus_callers *c, const char *name, struct bus_caller **ret) {
        struct bus_caller *p;
        size_t i;

        /* At the bound the longest-known callers are forgotten: their next
         * call asks the driver again.  Callers still waiting for their
         * answer are never dropped (their calls are parked on the entry),
         * so they may take the count over the bound for a while; there is
         * at most one per connection with calls in flight, which the bus
         * daemon itself limits. */
        while (c->n >= c->max && c->oldest)
                bus_callers_remove(c, c->oldest);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->name = strdup(name);
        if (!p->name) {
                free(p);
                return -ENOMEM;
        }
        p->uid = (uid_t) -1;
        i = bucket_of(name);
        p->hash_next = c->buckets[i];
        c->buckets[i] = p;
        c->n++;
        *ret = p;
        return 0;
}

void bus_callers_learned(struct bus_callers *c, struct bus_caller *p, uid_t uid, pid_t pid) {
        p->uid = uid;
        p->pid = pid;
        if (p->known)
                return;
        p->known = true;
        p->older = c->newest;
        if (c->newest)
                c->newest->newer = p;
        else
                c->oldest = p;
        c->newest = p;
}

void bus_callers_done(struct bus_callers *c) {
        for (size_t i = 0; i < BUS_CALLERS_BUCKETS; i++)
                while (c->buckets[i])
                        bus_callers_remove(c, c->buckets[i]);
}
