/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd-writer ADDRESS KEY [PROGRESS_FILE]: one KV.Put at a time through the
 * node serving on the D-Bus bus at ADDRESS, until SIGTERM or SIGINT, then a
 * summary line on stdout:
 *
 *   writes 812 failures 0 longest_gap_ms 143.2
 *
 * The longest gap is the longest time between two successful writes (from
 * the first success on): what a client sees of a leader change.  After
 * every success the count of successes so far is written to PROGRESS_FILE,
 * so a test can wait for progress without reading a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"

#define CALL_TIMEOUT_USEC (30 * 1000000ULL)
#define ERRORS_SHOWN 5

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int bus_open_address(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int put(sd_bus *bus, const char *key, uint64_t n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.raftd1", "/org/raftd1", "org.raftd1.KV", "Put");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', &n, sizeof(n));
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tt", UINT64_C(0), UINT64_C(0));
        if (r < 0)
                return r;
        return sd_bus_call(bus, m, CALL_TIMEOUT_USEC, error, &reply);
}

static void write_progress(int fd, uint64_t writes) {
        char line[32];
        int len = snprintf(line, sizeof(line), "%-20" PRIu64 "\n", writes);

        /* Fixed width, so the reader never sees a shorter number's tail. */
        if (fd >= 0 && pwrite(fd, line, (size_t) len, 0) != len)
                fprintf(stderr, "raftd-writer: cannot write the progress file: %m\n");
}

int main(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int progress = -1;
        uint64_t writes = 0, failures = 0, last_ok = 0, longest_gap = 0;
        const struct timespec no_wait = {};
        sigset_t stop;
        int r;

        if (argc < 3 || argc > 4) {
                fprintf(stderr, "usage: %s ADDRESS KEY [PROGRESS_FILE]\n", argv[0]);
                return 2;
        }
        /* Stop requests are taken between two calls, never in the middle
         * of one: the summary counts only calls whose outcome is known. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
                return 1;
        if (argc == 4) {
                progress = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (progress < 0) {
                        fprintf(stderr, "raftd-writer: cannot open %s: %m\n", argv[3]);
                        return 1;
                }
        }
        r = bus_open_address(argv[1], &bus);
        if (r < 0) {
                fprintf(stderr, "raftd-writer: cannot connect to %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        while (sigtimedwait(&stop, NULL, &no_wait) < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t t;

                r = put(bus, argv[2], writes, &error);
                t = now_usec();
                if (r < 0) {
                        if (failures++ < ERRORS_SHOWN)
                                fprintf(stderr, "raftd-writer: Put failed: %s: %s\n",
                                        error.name ?: "(no D-Bus error)", error.message ?: strerror(-r));
                        if (!sd_bus_is_open(bus)) {
                                fprintf(stderr, "raftd-writer: the bus connection closed\n");
                                return 1;
                        }
                        continue;
                }
                if (last_ok && t - last_ok > longest_gap)
                        longest_gap = t - last_ok;
                last_ok = t;
                write_progress(progress, ++writes);
        }
        printf("writes %" PRIu64 " failures %" PRIu64 " longest_gap_ms %.1f\n", writes, failures,
               (double) longest_gap / 1000.0);
        return 0;
}
