/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.raftd1 calls as a fault-suite client makes them, each answered with
 * the outcome a history needs: it took effect (ok), it definitely did not
 * (fail), or nobody can tell (unknown).  Anything else (bad arguments,
 * access denied, a reply of the wrong type) is a harness or daemon bug and
 * comes back as OUTCOME_BROKEN, which ends the client with an error. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

enum outcome {
        OUTCOME_OK,
        OUTCOME_FAIL,
        OUTCOME_UNKNOWN,
        OUTCOME_BROKEN,
};

/* Why a call failed or is unknown, as one history token ("unavailable",
 * "timeout", ...), or the D-Bus error for a broken call. */
struct call_status {
        enum outcome outcome;
        char reason[128];
};

/* A connection to one node's bus.  timeout_usec is how long a client
 * waits for any one reply: longer than the daemon's RequestSec= so that
 * most failures are the daemon's own answer. */
struct caller {
        sd_bus *bus;
        uint64_t timeout_usec;
};

/* Connects to the bus at address.  Returns 0 or a negative errno. */
int caller_connect(struct caller *c, const char *address, uint64_t timeout_usec);
void caller_close(struct caller *c);

/* Values are decimal u64 in ASCII. present == false: the key is absent. */
struct call_status call_put(struct caller *c, const char *key, uint64_t value);
struct call_status call_delete(struct caller *c, const char *key);
struct call_status call_get(struct caller *c, const char *key, bool *present, uint64_t *value);
/* A precondition that did not hold is OUTCOME_FAIL with reason "mismatch". */
struct call_status call_cas(struct caller *c, const char *key, bool expected_present, uint64_t expected,
                            bool new_present, uint64_t new_value);

/* One page of List(prefix, after): calls fn for each entry's key suffix and
 * value; *more says whether another page follows, *last is the last key. */
struct call_status call_list_page(struct caller *c, const char *prefix, const char *after, char *last, size_t last_size,
                                  bool *more, void (*fn)(void *userdata, const char *key, uint64_t value),
                                  void *userdata);

/* Lock.Acquire: *fd is the lock (close it to release), *fence its token.
 * A lock that was not granted in time is OUTCOME_FAIL "lock-timeout". */
struct call_status call_acquire(struct caller *c, const char *name, uint64_t timeout_usec, int *fd, uint64_t *fence);
