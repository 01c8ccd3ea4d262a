/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Clusters of real processes for the engine tests: every node is a
 * raftd-embed-node process on 127.0.0.1, driven through its stdin and
 * stdout, killed with real signals and restarted on its data directory. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCS_MAX 5

struct proc {
        pid_t pid;
        int in_fd;
        int out_fd;
        bool ready;
        char buf[1 << 16];
        size_t len;
};

struct procs {
        unsigned n;
        char dir[64];
        char key[96];
        int ports[PROCS_MAX + 1];
        uint64_t snapshot_entries;
        uint64_t snapshot_trailing; /* log entries kept behind a snapshot; 0: the default */
        /* Started with --join and no peers, and left out of the others'
         * initial peers: a node to be added with raftd_member_change(). */
        bool join[PROCS_MAX + 1];
        struct proc p[PROCS_MAX + 1];
        /* Called for every line a node prints (except "ready"). */
        void (*on_line)(struct procs *ps, unsigned id, const char *line, void *userdata);
        void *userdata;
};

/* Make the directory, the cluster key and pick free ports; start nothing. */
void procs_init(struct procs *ps, unsigned n);
void procs_start(struct procs *ps, unsigned id);
void procs_start_all(struct procs *ps);
/* Real signal; SIGKILL also reaps the process. */
void procs_signal(struct procs *ps, unsigned id, int sig);
bool procs_alive(const struct procs *ps, unsigned id);
void procs_send(struct procs *ps, unsigned id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Read whatever the nodes printed, for at most timeout_ms; returns false
 * once the timeout passed without output. */
bool procs_poll(struct procs *ps, int timeout_ms);
/* Poll until cond() holds; false if deadline_ms passed first. */
bool procs_wait(struct procs *ps, bool (*cond)(struct procs *ps, void *arg), void *arg, int deadline_ms);
bool procs_all_ready(struct procs *ps, void *arg);
/* Ask every live node for its status and return the leader all agree on, 0 if none yet. */
unsigned procs_leader(struct procs *ps, int deadline_ms);
void procs_destroy(struct procs *ps);
