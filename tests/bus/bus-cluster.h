/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Clusters for the D-Bus tests: every node is a raftd-bus-host process on
 * 127.0.0.1 with a private dbus-daemon of its own (as each machine has its
 * own system bus), clients are sd-bus connections or busctl processes. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#define CLUSTER_MAX 5

struct bus_node {
        pid_t host;
        int host_in;  /* closing it stops the host */
        int host_out; /* "ready" */
        pid_t daemon;
        char address[256];
};

struct bus_cluster {
        unsigned n;
        char dir[64];
        char key[128];
        int ports[CLUSTER_MAX + 1];
        struct bus_node node[CLUSTER_MAX + 1];
        /* Extra host arguments, e.g. "--allow-write=65534"; NULL-terminated. */
        const char *host_args[8];
        /* A system-bus-like config that includes this policy file; NULL:
         * a permissive bus. */
        const char *policy;
};

/* Start n buses and n hosts and wait until every host is ready; -1 if one
 * did not become ready (call cluster_stop() either way). */
int cluster_start(struct bus_cluster *c, unsigned n);
/* Stops everything; -1 if a host did not end cleanly (e.g. a sanitizer
 * report).  Again on a stopped cluster: nothing, 0. */
int cluster_stop(struct bus_cluster *c);
/* SIGKILL, reaped. */
void cluster_kill_host(struct bus_cluster *c, unsigned id);
/* Start node id again on its data directory (killing it first if it runs)
 * and wait until it is ready; -1 if it does not become ready. */
int cluster_restart_host(struct bus_cluster *c, unsigned id);
/* The two halves, for restarting several nodes at once (a node is ready
 * only once a quorum runs). */
void cluster_spawn_host(struct bus_cluster *c, unsigned id);
int cluster_await_ready(struct bus_cluster *c, unsigned id);
/* The node that every node calls leader, 0 if none within deadline_ms. */
unsigned cluster_leader(struct bus_cluster *c, int deadline_ms);

/* A client connection to node id's bus. */
sd_bus *cluster_client(struct bus_cluster *c, unsigned id);

/* Read one line (without its newline) within deadline_ms; false on timeout or EOF. */
bool cluster_read_line(int fd, char *buf, size_t size, int deadline_ms);

/* Run a shell command line; returns its exit status, stdout+stderr in out. */
int run(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
