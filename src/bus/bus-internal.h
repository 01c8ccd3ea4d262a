/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the files of the D-Bus front end; not an API. */

#include <ev.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "bus.h"

#define BUS_NAME "org.raftd1"
#define BUS_PATH "/org/raftd1"
#define BUS_MEMBERS_MAX 64

#define BUS_ERROR_NO_SUCH_KEY "org.raftd1.NoSuchKey"
#define BUS_ERROR_UNAVAILABLE "org.raftd1.Unavailable"
#define BUS_ERROR_OUTCOME_UNKNOWN "org.raftd1.OutcomeUnknown"
#define BUS_ERROR_TOO_LARGE "org.raftd1.TooLarge"
#define BUS_ERROR_LOCK_TIMEOUT "org.raftd1.LockTimeout"
#define BUS_ERROR_NO_SUCH_LEASE "org.raftd1.NoSuchLease"
#define BUS_ERROR_NO_SUCH_MEMBER "org.raftd1.NoSuchMember"
#define BUS_ERROR_BUSY "org.raftd1.Busy"
#define BUS_ERROR_MEMBER_EXISTS "org.raftd1.MemberExists"
#define BUS_ERROR_ALREADY_VOTER "org.raftd1.AlreadyVoter"

struct bus_acl_owned {
        uid_t *uids;
        size_t n_uids;
        bool everyone;
};

/* A method call whose reply waits for libraftd's callback. */
struct bus_call {
        struct bus *bus; /* NULL once the bus is gone: drop the result */
        sd_bus_message *message;
        /* What -ENOENT means for this call: NoSuchKey, NoSuchLease, NoSuchMember. */
        const char *enoent_error;
        int backup_fd;
        struct bus_call *prev, *next;
};

struct bus_lock;

/* A method call waiting for its sender's credentials: run again through
 * its handler once the bus driver has answered. */
struct bus_parked {
        sd_bus_message *message;
        sd_bus_message_handler_t handler;
        void *userdata;
        struct bus_parked *next;
};

/* What the bus driver said about one caller (a unique name).  Until
 * known, the question is out and the caller's calls wait in arrival
 * order. */
struct bus_caller {
        char *name;
        struct bus *bus;
        uid_t uid;
        pid_t pid;
        bool known;
        bool gone; /* the name left while the question was out */
        sd_bus_slot *question;
        struct bus_parked *parked, *parked_last;
        struct bus_caller *hash_next;
        struct bus_caller *older, *newer; /* known callers, oldest first */
};

#define BUS_CALLERS_BUCKETS 1024
#define BUS_CALLERS_MAX_DEFAULT 4096

struct bus_callers {
        struct bus_caller *buckets[BUS_CALLERS_BUCKETS];
        struct bus_caller *oldest, *newest;
        size_t n, max;
};

/* What a method handler learns about an authorized caller. */
struct bus_sender {
        uid_t uid;
        pid_t pid; /* 0 if the driver did not say */
        bool gone; /* its name left while the call waited for the uid */
};

struct bus {
        struct ev_loop *loop;
        struct raftd_node *node;
        sd_bus *bus;
        struct log_sink log;
        struct bus_options options; /* callbacks and limits; acl copied below */
        struct bus_acl_owned acl[_BUS_ACCESS_MAX];

        ev_io io;
        ev_timer timeout;
        ev_prepare prepare;
        bool broken;

        uint64_t watch_handle;
        bool watching;

        /* The Cluster properties as last announced, and a timer that
         * coalesces index changes. */
        struct raftd_status announced;
        struct raftd_member members[BUS_MEMBERS_MAX];
        size_t n_members;
        ev_timer status_timer;

        struct bus_call *calls;
        struct bus_lock *locks;

        struct bus_callers callers;
        sd_bus_slot *callers_gone;
};

/* bus-loop.c */
void bus_loop_start(struct bus *b);
void bus_loop_stop(struct bus *b);

/* bus-creds-cache.c */
void bus_callers_init(struct bus_callers *c, size_t max);
struct bus_caller *bus_callers_get(struct bus_callers *c, const char *name);
/* A new entry, not yet known; at the bound the oldest known ones go. */
int bus_callers_add(struct bus_callers *c, const char *name, struct bus_caller **ret);
void bus_callers_learned(struct bus_callers *c, struct bus_caller *p, uid_t uid, pid_t pid);
/* Frees the entry; its parked calls are dropped unanswered. */
void bus_callers_remove(struct bus_callers *c, struct bus_caller *p);
void bus_callers_done(struct bus_callers *c);

/* bus-auth.c */
int bus_acl_copy(struct bus_acl_owned dst[_BUS_ACCESS_MAX], const struct bus_acl src[_BUS_ACCESS_MAX]);
void bus_acl_done(struct bus_acl_owned acl[_BUS_ACCESS_MAX]);
/* Watch the driver for callers that leave, so their entries go. */
int bus_callers_watch(struct bus *b);
/* Call from a method handler, and return r from it unless r == 0.
 *   0: the sender may;
 *   > 0: the sender's uid is not known yet: the call is parked and the
 *        handler runs again from the start (message rewound) once the
 *        bus driver has answered, or the call is refused then;
 *   < 0: refused, the AccessDenied error that says why is in *error. */
int bus_authorize(struct bus *b, sd_bus_message *m, enum bus_access access, sd_bus_error *error);
/* The same, and on success the sender's uid and pid. */
int bus_authorize_sender(struct bus *b, sd_bus_message *m, enum bus_access access, struct bus_sender *ret,
                         sd_bus_error *error);

/* bus-call.c */
struct bus_call *bus_call_new(struct bus *b, sd_bus_message *m, const char *enoent_error);
/* Unlinks and frees; returns NULL. */
struct bus_call *bus_call_free(struct bus_call *c);
/* Detach every pending call from a bus that goes away. */
void bus_calls_detach(struct bus *b);
/* Reply to a libraftd error with the org.raftd1 error that names it. */
int bus_reply_errno(struct bus_call *c, int error);
/* For errors libraftd returns at once, from inside a method handler. */
int bus_error_from_errno(struct bus *b, sd_bus_error *error, int r, const char *enoent_error);
/* Completions: reply with one "t" (revision, lease, index), or with nothing. */
void bus_call_finish(struct bus_call *c, int r);
void bus_call_reply_u64(void *userdata, int error, uint64_t value);
void bus_call_reply_empty(void *userdata, int error, uint64_t unused);
/* After handing c to libraftd: r < 0 means it was refused at once, so free
 * c and turn r into the method's error; otherwise the reply is deferred. */
int bus_call_submitted(struct bus_call *c, int r, sd_bus_error *error);
bool bus_utf8_valid(const void *s, size_t len);
int bus_check_flags(uint64_t flags, uint64_t allowed, sd_bus_error *error);

/* bus-kv.c */
extern const sd_bus_vtable bus_kv_vtable[];
void bus_kv_changed(void *userdata, const struct raftd_change *c);

/* bus-lock.c */
extern const sd_bus_vtable bus_lock_vtable[];
void bus_locks_free_all(struct bus *b);
/* The driver says the unique name left: withdraw or release its locks. */
void bus_locks_caller_gone(struct bus *b, const char *name);

/* bus-cluster.c */
extern const sd_bus_vtable bus_cluster_vtable[];
void bus_cluster_status(void *userdata, const struct raftd_status *s);
void bus_cluster_start(struct bus *b);
void bus_cluster_stop(struct bus *b);
