/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A D-Bus load generator for raftd: keeps K method calls in flight on one
 * node's bus (closed loop: each reply is answered with a new call) and
 * prints ops/s and latency percentiles, as etcd's own `benchmark` tool does
 * for etcd, so the two can be compared in one run (bench/compare-etcd.sh).
 *
 *   raftd-bench [OPTIONS] OP
 *
 * OP:
 *   put        KV.Put of sequential keys (a fresh key per call, as etcd's
 *              benchmark put --sequential-keys)
 *   get        KV.Get (linearizable) of one key written before the run
 *   get-local  KV.Get with flag 1 (this node's state, possibly stale)
 *   cas        KV.CompareAndSwap: each slot swaps its own key from the value
 *              it wrote last, so every call swaps
 *   lock       Lock.Acquire of a lock of the slot's own, released (fd
 *              closed) as soon as it is granted: one call is the cycle
 *              acquire -> grant -> release, the release being committed
 *              before the slot's next Acquire of the same lock is granted
 *   echo       an empty method of `raftd-bench serve-echo` on the same kind
 *              of bus: the D-Bus round-trip ceiling for the same K
 *   serve-echo serve that empty method (org.raftd1.BenchEcho) until killed
 *   failover   one Put in flight; after --kill-after seconds send --signal
 *              to --kill-pid and report the time from the signal to the
 *              first successful Put issued after it
 *
 * Options: --address=ADDR (bus address, default the session bus),
 * --in-flight=K (1), --conns=N bus connections the K calls are spread over
 * (1), --seconds=S measured (5), --warmup=S (1), --total=N (stop after N
 * successful calls, no warm-up: for loading data), --key-size=B (8),
 * --val-size=B (64), --first-key=N (the first put key's counter, 0),
 * --timeout=S per call (30), --kill-pid, --signal=KILL|TERM,
 * --kill-after=S (1).
 *
 * The last line of output is machine-readable:
 *   RESULT op=put in_flight=64 conns=8 ops=N seconds=S ops_per_s=R
 *          p50_ms=... p99_ms=... p999_ms=... max_ms=... errors=E
 * (failover: RESULT op=failover signal=KILL gap_ms=G errors=E signal_at=T, T
 * the wall-clock time the signal was sent, in seconds since the epoch).
 *
 * Not a test: nothing is asserted and meson test does not run it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"
#include "shared/macro.h"

#define RAFTD_NAME "org.raftd1"
#define RAFTD_PATH "/org/raftd1"
#define ECHO_NAME "org.raftd1.BenchEcho"
#define ECHO_PATH "/org/raftd1/BenchEcho"
#define ECHO_IFACE "org.raftd1.BenchEcho"
#define MAX_CONNS 256
#define MAX_IN_FLIGHT 65536
#define MAX_VAL 65536
#define FLAG_LOCAL_READ 1

enum op { OP_PUT, OP_GET, OP_GET_LOCAL, OP_CAS, OP_LOCK, OP_ECHO, OP_SERVE_ECHO, OP_FAILOVER };

static const char *const op_names[] = {
        [OP_PUT] = "put",           [OP_GET] = "get",   [OP_GET_LOCAL] = "get-local",
        [OP_CAS] = "cas",           [OP_LOCK] = "lock", [OP_ECHO] = "echo",
        [OP_SERVE_ECHO] = "serve-echo", [OP_FAILOVER] = "failover",
};

struct options {
        enum op op;
        const char *address;
        unsigned in_flight, conns;
        double seconds, warmup, timeout_s, kill_after;
        uint64_t total;
        unsigned key_size, val_size;
        uint64_t first_key;
        pid_t kill_pid;
        int kill_signal;
};

struct bench;

struct slot {
        struct bench *b;
        unsigned id;
        sd_bus *bus;
        uint64_t started_ns;
        uint64_t cas_value; /* the counter this slot's CAS key holds */
};

struct bench {
        struct options o;
        sd_event *event;
        sd_bus *buses[MAX_CONNS];
        struct slot *slots;
        uint64_t next_key;
        uint64_t measure_start_ns, measure_end_ns;
        bool measuring, stopping;
        uint64_t ok_total; /* successful calls, any phase */
        uint64_t *lat;     /* ns, calls completed in the measured window */
        size_t n_lat, cap_lat;
        uint64_t errors;
        char last_error[256];
        uint8_t value[MAX_VAL];
        int fatal;
        /* failover */
        uint64_t kill_ns; /* 0: not sent yet */
        uint64_t gap_ns;  /* 0: no successful write after the signal yet */
        struct timespec kill_wall; /* to line up with other tools' timestamps */
};

static int record_latency(struct bench *b, uint64_t ns) {
        if (b->n_lat == b->cap_lat) {
                size_t cap = b->cap_lat ? b->cap_lat * 2 : 65536;
                uint64_t *p = realloc(b->lat, cap * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                b->lat = p;
                b->cap_lat = cap;
        }
        b->lat[b->n_lat++] = ns;
        return 0;
}

/* Keys are D-Bus strings, so the counter is written in hex digits:
 * "/" + a letter naming the workload + the counter modulo 16^(key_size-2),
 * zero-padded, key_size bytes in all (etcd's benchmark writes key_size
 * binary bytes). */
static void format_key(const struct bench *b, char *buf, size_t size, char kind, uint64_t n) {
        unsigned digits = b->o.key_size - 2;

        if (digits < 16)
                n &= (UINT64_C(1) << (4 * digits)) - 1;
        snprintf(buf, size, "/%c%0*" PRIx64, kind, (int) digits, n);
}

static int issue(struct slot *s);

static void finish(struct bench *b, int r) {
        if (r < 0 && !b->fatal)
                b->fatal = r;
        b->stopping = true;
        (void) sd_event_exit(b->event, r < 0 ? 1 : 0);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct slot *s = userdata;
        struct bench *b = s->b;
        uint64_t end = now_ns();
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        if (e) {
                b->errors++;
                snprintf(b->last_error, sizeof(b->last_error), "%s: %s", e->name, e->message ?: "");
        } else {
                if (b->o.op == OP_CAS) {
                        int swapped = 0;
                        uint64_t rev;

                        r = sd_bus_message_read(m, "bt", &swapped, &rev);
                        if (r < 0 || !swapped) {
                                /* Every CAS of a slot expects what the slot wrote last:
                                 * a failed swap means the benchmark itself is wrong. */
                                fprintf(stderr, "raftd-bench: CAS of slot %u did not swap\n", s->id);
                                finish(b, r < 0 ? r : -EPROTO);
                                return 0;
                        }
                        s->cas_value++;
                }
                /* OP_LOCK: the fd in the reply is the lock; it is closed when the
                 * message is freed after this callback, which releases it. */
                b->ok_total++;
                if (b->measuring && end <= b->measure_end_ns) {
                        r = record_latency(b, end - s->started_ns);
                        if (r < 0) {
                                finish(b, r);
                                return 0;
                        }
                }
                if (b->o.op == OP_FAILOVER && b->kill_ns && s->started_ns >= b->kill_ns && !b->gap_ns) {
                        b->gap_ns = end - b->kill_ns;
                        finish(b, 0);
                        return 0;
                }
                if (b->o.total && b->ok_total >= b->o.total) {
                        b->measure_end_ns = end;
                        finish(b, 0);
                        return 0;
                }
        }
        if (b->stopping)
                return 0;
        r = issue(s);
        if (r < 0)
                finish(b, r);
        return 0;
}

static int append_value(sd_bus_message *m, const struct bench *b, uint64_t stamp) {
        uint8_t v[MAX_VAL];

        memcpy(v, b->value, b->o.val_size);
        memcpy(v, &stamp, MIN(sizeof(stamp), (size_t) b->o.val_size));
        return sd_bus_message_append_array(m, 'y', v, b->o.val_size);
}

/* Put(key, value, lease 0, flags 0), the value stamped so that values differ. */
static int new_put(const struct bench *b, sd_bus *bus, const char *key, uint64_t stamp, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, RAFTD_NAME, RAFTD_PATH, "org.raftd1.KV", "Put");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = append_value(m, b, stamp);
        if (r >= 0)
                r = sd_bus_message_append(m, "tt", UINT64_C(0), UINT64_C(0));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static int issue(struct slot *s) {
        struct bench *b = s->b;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char key[512];
        int r;

        switch (b->o.op) {
        case OP_PUT:
        case OP_FAILOVER:
                format_key(b, key, sizeof(key), 'p', b->next_key++);
                r = new_put(b, s->bus, key, b->next_key, &m);
                break;
        case OP_GET:
        case OP_GET_LOCAL:
                format_key(b, key, sizeof(key), 'g', 0);
                r = sd_bus_message_new_method_call(s->bus, &m, RAFTD_NAME, RAFTD_PATH, "org.raftd1.KV", "Get");
                if (r >= 0)
                        r = sd_bus_message_append(m, "st", key,
                                                  (uint64_t) (b->o.op == OP_GET_LOCAL ? FLAG_LOCAL_READ : 0));
                break;
        case OP_CAS:
                format_key(b, key, sizeof(key), 'c', s->id);
                r = sd_bus_message_new_method_call(s->bus, &m, RAFTD_NAME, RAFTD_PATH, "org.raftd1.KV",
                                                   "CompareAndSwap");
                if (r >= 0)
                        r = sd_bus_message_append(m, "sb", key, 1);
                if (r >= 0)
                        r = append_value(m, b, s->cas_value);
                if (r >= 0)
                        r = sd_bus_message_append(m, "b", 1);
                if (r >= 0)
                        r = append_value(m, b, s->cas_value + 1);
                if (r >= 0)
                        r = sd_bus_message_append(m, "t", UINT64_C(0));
                break;
        case OP_LOCK:
                format_key(b, key, sizeof(key), 'l', s->id);
                r = sd_bus_message_new_method_call(s->bus, &m, RAFTD_NAME, RAFTD_PATH, "org.raftd1.Lock",
                                                   "Acquire");
                if (r >= 0)
                        r = sd_bus_message_append(m, "stt", key, (uint64_t) (b->o.timeout_s * 1e6 / 2),
                                                  UINT64_C(0));
                break;
        case OP_ECHO:
                r = sd_bus_message_new_method_call(s->bus, &m, ECHO_NAME, ECHO_PATH, ECHO_IFACE, "Ping");
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        s->started_ns = now_ns();
        r = sd_bus_call_async(s->bus, NULL, m, on_reply, s, (uint64_t) (b->o.timeout_s * 1e6));
        if (r < 0)
                return r;
        return 0;
}

/* A synchronous call for the set-up of get and cas: their keys must exist. */
static int put_sync(struct bench *b, const char *key, uint64_t stamp) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = new_put(b, b->buses[0], key, stamp, &m);
        if (r >= 0)
                r = sd_bus_call(b->buses[0], m, (uint64_t) (b->o.timeout_s * 1e6), &e, &reply);
        if (r < 0)
                fprintf(stderr, "raftd-bench: Put %s: %s\n", key, e.message ?: strerror(-r));
        sd_bus_error_free(&e);
        return r;
}

static int open_bus(const struct options *o, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (!o->address)
                return sd_bus_open_user(ret);
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, o->address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int on_warmup_done(sd_event_source *es, uint64_t usec, void *userdata) {
        struct bench *b = userdata;

        b->measuring = true;
        b->measure_start_ns = now_ns();
        b->measure_end_ns = b->measure_start_ns + (uint64_t) (b->o.seconds * 1e9);
        return 0;
}

static int on_measure_done(sd_event_source *es, uint64_t usec, void *userdata) {
        finish(userdata, 0);
        return 0;
}

static int on_kill_time(sd_event_source *es, uint64_t usec, void *userdata) {
        struct bench *b = userdata;

        if (b->ok_total == 0) {
                fprintf(stderr, "raftd-bench: no successful Put before the signal: %s\n", b->last_error);
                finish(b, -EIO);
                return 0;
        }
        b->kill_ns = now_ns();
        (void) clock_gettime(CLOCK_REALTIME, &b->kill_wall);
        if (kill(b->o.kill_pid, b->o.kill_signal) < 0) {
                fprintf(stderr, "raftd-bench: kill %d: %m\n", (int) b->o.kill_pid);
                finish(b, -errno);
        }
        return 0;
}

static int add_timer(struct bench *b, double after_s, sd_event_time_handler_t cb) {
        uint64_t now;
        int r;

        r = sd_event_now(b->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        return sd_event_add_time(b->event, NULL, CLOCK_MONOTONIC, now + (uint64_t) (after_s * 1e6), 1000, cb, b);
}

static int method_ping(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Ping", "", "", method_ping, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* The other side of the round-trip ceiling: one sd-bus connection on an
 * event loop, answering an empty method, as a daemon answers its calls. */
static int serve_echo(struct bench *b) {
        sigset_t mask;
        int r;

        /* sd-event takes signals through a signalfd: they must be blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_bus_add_object_vtable(b->buses[0], NULL, ECHO_PATH, ECHO_IFACE, echo_vtable, b);
        if (r >= 0)
                r = sd_bus_request_name(b->buses[0], ECHO_NAME, 0);
        if (r >= 0)
                r = sd_bus_attach_event(b->buses[0], b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_event_add_signal(b->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(b->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return r;
        printf("serving %s\n", ECHO_NAME);
        fflush(stdout);
        return sd_event_loop(b->event);
}

static int prepare_keys(struct bench *b) {
        char key[512];
        int r;

        if (b->o.op == OP_GET || b->o.op == OP_GET_LOCAL) {
                format_key(b, key, sizeof(key), 'g', 0);
                return put_sync(b, key, 0);
        }
        if (b->o.op != OP_CAS)
                return 0;
        for (unsigned i = 0; i < b->o.in_flight; i++) {
                format_key(b, key, sizeof(key), 'c', i);
                b->slots[i].cas_value = (uint64_t) now_ns();
                r = put_sync(b, key, b->slots[i].cas_value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void print_result(struct bench *b) {
        double secs;

        if (b->o.op == OP_FAILOVER) {
                printf("RESULT op=failover signal=%s gap_ms=%.3f errors=%" PRIu64 " signal_at=%lld.%06ld\n",
                       sigabbrev_np(b->o.kill_signal), b->gap_ns ? (double) b->gap_ns / 1e6 : -1.0, b->errors,
                       (long long) b->kill_wall.tv_sec, b->kill_wall.tv_nsec / 1000);
                return;
        }
        if (b->o.total) {
                /* Loading mode: every successful call counts, no warm-up. */
                secs = (double) (b->measure_end_ns - b->measure_start_ns) / 1e9;
                printf("RESULT op=%s in_flight=%u conns=%u ops=%" PRIu64 " seconds=%.3f ops_per_s=%.1f errors=%" PRIu64
                       "\n",
                       op_names[b->o.op], b->o.in_flight, b->o.conns, b->ok_total, secs,
                       secs > 0 ? (double) b->ok_total / secs : 0, b->errors);
                return;
        }
        qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_u64);
        secs = b->o.seconds;
        printf("RESULT op=%s in_flight=%u conns=%u ops=%zu seconds=%.3f ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
               "p999_ms=%.3f max_ms=%.3f errors=%" PRIu64 "\n",
               op_names[b->o.op], b->o.in_flight, b->o.conns, b->n_lat, secs, (double) b->n_lat / secs,
               percentile_ms(b->lat, b->n_lat, 0.50), percentile_ms(b->lat, b->n_lat, 0.99),
               percentile_ms(b->lat, b->n_lat, 0.999), percentile_ms(b->lat, b->n_lat, 1.0), b->errors);
}

static int run(struct bench *b) {
        int r;

        for (unsigned i = 0; i < b->o.conns; i++) {
                r = open_bus(&b->o, &b->buses[i]);
                if (r < 0) {
                        fprintf(stderr, "raftd-bench: connecting to %s: %s\n", b->o.address ?: "the session bus",
                                strerror(-r));
                        return r;
                }
        }
        r = sd_event_new(&b->event);
        if (r < 0)
                return r;
        if (b->o.op == OP_SERVE_ECHO)
                return serve_echo(b);

        b->slots = calloc(b->o.in_flight, sizeof(*b->slots));
        if (!b->slots)
                return -ENOMEM;
        for (unsigned i = 0; i < b->o.in_flight; i++)
                b->slots[i] = (struct slot) { .b = b, .id = i, .bus = b->buses[i % b->o.conns] };
        r = prepare_keys(b);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < b->o.conns; i++) {
                r = sd_bus_attach_event(b->buses[i], b->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return r;
        }
        b->next_key = b->o.first_key;
        if (b->o.op == OP_FAILOVER)
                r = add_timer(b, b->o.kill_after, on_kill_time);
        else if (b->o.total)
                b->measure_start_ns = now_ns();
        else {
                r = add_timer(b, b->o.warmup, on_warmup_done);
                if (r >= 0)
                        r = add_timer(b, b->o.warmup + b->o.seconds, on_measure_done);
        }
        if (r < 0)
                return r;
        /* A bound on the whole run, whatever happens to the cluster. */
        r = add_timer(b, b->o.warmup + b->o.seconds + b->o.kill_after + 2 * b->o.timeout_s + 60, on_measure_done);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < b->o.in_flight; i++) {
                r = issue(&b->slots[i]);
                if (r < 0)
                        return r;
        }
        r = sd_event_loop(b->event);
        if (b->fatal)
                return b->fatal;
        if (r < 0)
                return r;
        if (b->o.total && b->ok_total < b->o.total) {
                fprintf(stderr, "raftd-bench: only %" PRIu64 " of %" PRIu64 " calls succeeded\n", b->ok_total,
                        b->o.total);
                return -ETIMEDOUT;
        }
        return 0;
}

static int parse_unsigned(const char *s, unsigned long long max, unsigned long long *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_seconds(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= 0) || v > 1e6)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "usage: raftd-bench [--address=ADDR] [--in-flight=K] [--conns=N] [--seconds=S] [--warmup=S]\n"
                   "                   [--total=N] [--key-size=B] [--val-size=B] [--first-key=N] [--timeout=S]\n"
                   "                   [--kill-pid=PID --signal=KILL|TERM --kill-after=S] OP\n"
                   "OP: put get get-local cas lock echo serve-echo failover\n");
}

static int parse_args(int argc, char **argv, struct options *o) {
        enum { ARG_ADDRESS = 0x100, ARG_KEY_SIZE, ARG_VAL_SIZE, ARG_FIRST_KEY, ARG_TIMEOUT, ARG_KILL_PID, ARG_SIGNAL,
               ARG_KILL_AFTER, ARG_WARMUP };
        static const struct option longopts[] = {
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "in-flight", required_argument, NULL, 'k' },
                { "conns", required_argument, NULL, 'c' },
                { "seconds", required_argument, NULL, 'd' },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "total", required_argument, NULL, 'n' },
                { "key-size", required_argument, NULL, ARG_KEY_SIZE },
                { "val-size", required_argument, NULL, ARG_VAL_SIZE },
                { "first-key", required_argument, NULL, ARG_FIRST_KEY },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "kill-pid", required_argument, NULL, ARG_KILL_PID },
                { "signal", required_argument, NULL, ARG_SIGNAL },
                { "kill-after", required_argument, NULL, ARG_KILL_AFTER },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        unsigned long long v;
        int c, r = 0;

        *o = (struct options) {
                .in_flight = 1, .conns = 1, .seconds = 5, .warmup = 1, .timeout_s = 30, .kill_after = 1,
                .key_size = 8, .val_size = 64, .kill_signal = SIGKILL,
        };
        while ((c = getopt_long(argc, argv, "k:c:d:n:h", longopts, NULL)) >= 0) {
                switch (c) {
                case ARG_ADDRESS:
                        o->address = optarg;
                        break;
                case 'k':
                        r = parse_unsigned(optarg, MAX_IN_FLIGHT, &v);
                        o->in_flight = (unsigned) v;
                        break;
                case 'c':
                        r = parse_unsigned(optarg, MAX_CONNS, &v);
                        o->conns = (unsigned) v;
                        break;
                case 'd':
                        r = parse_seconds(optarg, &o->seconds);
                        break;
                case ARG_WARMUP:
                        r = parse_seconds(optarg, &o->warmup);
                        break;
                case 'n':
                        r = parse_unsigned(optarg, UINT64_MAX, &v);
                        o->total = v;
                        break;
                case ARG_KEY_SIZE:
                        r = parse_unsigned(optarg, 18, &v);
                        o->key_size = (unsigned) v;
                        break;
                case ARG_VAL_SIZE:
                        r = parse_unsigned(optarg, MAX_VAL, &v);
                        o->val_size = (unsigned) v;
                        break;
                case ARG_FIRST_KEY:
                        r = parse_unsigned(optarg, UINT64_MAX, &v);
                        o->first_key = v;
                        break;
                case ARG_TIMEOUT:
                        r = parse_seconds(optarg, &o->timeout_s);
                        break;
                case ARG_KILL_PID:
                        r = parse_unsigned(optarg, INT32_MAX, &v);
                        o->kill_pid = (pid_t) v;
                        break;
                case ARG_SIGNAL:
                        if (strcmp(optarg, "KILL") == 0)
                                o->kill_signal = SIGKILL;
                        else if (strcmp(optarg, "TERM") == 0)
                                o->kill_signal = SIGTERM;
                        else
                                r = -EINVAL;
                        break;
                case ARG_KILL_AFTER:
                        r = parse_seconds(optarg, &o->kill_after);
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "raftd-bench: bad value for an option: %s\n", optarg);
                        return r;
                }
        }
        if (optind + 1 != argc)
                return -EINVAL;
        r = -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(op_names); i++)
                if (strcmp(argv[optind], op_names[i]) == 0) {
                        o->op = (enum op) i;
                        r = 0;
                }
        if (r < 0) {
                fprintf(stderr, "raftd-bench: unknown operation %s\n", argv[optind]);
                return r;
        }
        if (o->key_size < 3) {
                fprintf(stderr, "raftd-bench: --key-size must be at least 3\n");
                return -EINVAL;
        }
        if (o->in_flight == 0 || o->conns == 0 || o->timeout_s <= 0 || o->seconds <= 0) {
                fprintf(stderr, "raftd-bench: --in-flight, --conns, --seconds and --timeout must be positive\n");
                return -EINVAL;
        }
        if (o->op == OP_SERVE_ECHO)
                o->conns = 1;
        if (o->op == OP_FAILOVER) {
                if (o->kill_pid <= 0) {
                        fprintf(stderr, "raftd-bench: failover needs --kill-pid\n");
                        return -EINVAL;
                }
                o->in_flight = o->conns = 1;
                o->warmup = o->seconds = 0;
        } else
                o->kill_after = 0;
        if (o->conns > o->in_flight)
                o->conns = o->in_flight;
        return 0;
}

int main(int argc, char **argv) {
        struct bench *b;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return EXIT_FAILURE;
        if (parse_args(argc, argv, &b->o) < 0) {
                usage(stderr);
                free(b);
                return 2;
        }
        memset(b->value, 'v', sizeof(b->value));
        r = run(b);
        if (r >= 0 && b->o.op != OP_SERVE_ECHO)
                print_result(b);
        if (r < 0)
                fprintf(stderr, "raftd-bench: %s failed: %s%s%s\n", op_names[b->o.op], strerror(-r),
                        b->last_error[0] ? "; last call error: " : "", b->last_error);
        else if (b->errors)
                fprintf(stderr, "raftd-bench: %" PRIu64 " calls failed; last: %s\n", b->errors, b->last_error);
        for (unsigned i = 0; i < MAX_CONNS; i++)
                sd_bus_flush_close_unref(b->buses[i]);
        sd_event_unref(b->event);
        free(b->slots);
        free(b->lat);
        free(b);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
