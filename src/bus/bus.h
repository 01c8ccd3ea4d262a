/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The D-Bus front end of raftd: serves org.raftd1.KV, org.raftd1.Lock and
 * org.raftd1.Cluster on /org/raftd1 under the name org.raftd1, on the
 * node's own libev loop (no second loop, no threads).  Writes are answered
 * only after commit (deferred replies); locks are handed out as file
 * descriptors; every applied change is broadcast as KV.Changed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "raftd.h"
#include "shared/log.h"

struct ev_loop;
struct bus;

/* Who may do what.  uid 0 is always allowed; everyone = true allows every
 * uid (the config's "*"). */
enum bus_access {
        BUS_ACCESS_READ,  /* KV.Get, KV.List, Lock.List */
        BUS_ACCESS_WRITE, /* KV.Put, Delete, CompareAndSwap, leases */
        BUS_ACCESS_LOCK,  /* Lock.Acquire */
        BUS_ACCESS_ADMIN, /* Cluster methods */
        _BUS_ACCESS_MAX,
};

struct bus_acl {
        const uid_t *uids;
        size_t n_uids;
        bool everyone;
};

struct bus_options {
        const char *address; /* NULL: the system bus (or the user bus with user_bus) */
        bool user_bus;
        /* Zero-initialised: root only, for every kind of access. */
        struct bus_acl acl[_BUS_ACCESS_MAX];
        /* The node's limits, so refusals can name them; 0: libraftd's defaults. */
        size_t max_key_len;
        size_t max_value_size;
        /* How many callers' credentials to keep (one entry per connection
         * that called; the longest-known goes first at the bound); 0: 4096. */
        size_t max_cached_callers;
        /* The bus owns the node's raftd_on_status() hook and forwards every
         * status here (e.g. for sd_notify STATUS=); optional. */
        void (*status_changed)(void *userdata, const struct raftd_status *s);
        /* The connection to the bus broke: the daemon should exit and let
         * its service manager restart it; optional. */
        void (*disconnected)(void *userdata);
        void *userdata;
};

/* Connects, registers the interfaces, watches the node and takes the name
 * org.raftd1 (-EEXIST if another process owns it). */
int bus_new(struct ev_loop *loop, struct raftd_node *node, const struct bus_options *o, const struct log_sink *log,
            struct bus **ret);
/* Pending calls are dropped unanswered, held locks released.  Call it
 * before raftd_node_free(): it hands the locks back through the node. */
struct bus *bus_free(struct bus *b);

/* Replace the authorization lists (on SIGHUP); the arrays are copied. */
int bus_set_acl(struct bus *b, const struct bus_acl acl[_BUS_ACCESS_MAX]);
/* The node's new limits (after raftd_node_set_limits() on SIGHUP), so the
 * bus checks arguments against them and refusals name them; 0 keeps a
 * limit. */
void bus_set_limits(struct bus *b, size_t max_key_len, size_t max_value_size);

/* How many callers' credentials are held now (those still being asked for
 * included); for tests and diagnostics. */
size_t bus_cached_callers(const struct bus *b);
