/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sd-bus driven by the node's libev loop: before every poll the io watcher
 * and the timer are set from what sd-bus asks for; on wake-up sd-bus
 * processes what it can. */

#include <poll.h>
#include <string.h>
#include <time.h>

#include "bus-internal.h"
#include "shared/macro.h"

/* Bounded, so a flood of calls cannot starve the node; sd-bus reports a
 * zero timeout while messages remain queued, so the rest follows on the
 * next loop iteration. */
#define PROCESS_BURST 64

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void bus_broke(struct bus *b, int r) {
        if (b->broken)
                return;
        b->broken = true;
        log_sink_errno(&b->log, LOG_ERR, r, _("Connection to the D-Bus bus lost: %s"), strerror(-r));
        ev_io_stop(b->loop, &b->io);
        ev_timer_stop(b->loop, &b->timeout);
        ev_prepare_stop(b->loop, &b->prepare);
        if (b->options.disconnected)
                b->options.disconnected(b->options.userdata);
}

static void process(struct bus *b) {
        for (unsigned i = 0; i < PROCESS_BURST && !b->broken; i++) {
                int r = sd_bus_process(b->bus, NULL);

                if (r < 0) {
                        bus_broke(b, r);
                        return;
                }
                if (r == 0)
                        return;
        }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
        process(w->data);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
        process(w->data);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
        struct bus *b = w->data;
        int events, want = 0, fd;
        uint64_t until;

        if (b->broken)
                return;
        fd = sd_bus_get_fd(b->bus);
        events = sd_bus_get_events(b->bus);
        if (fd < 0 || events < 0) {
                bus_broke(b, fd < 0 ? fd : events);
                return;
        }
        if (events & POLLIN)
                want |= EV_READ;
        if (events & POLLOUT)
                want |= EV_WRITE;
        if (!ev_is_active(&b->io) || b->io.fd != fd || (b->io.events & (EV_READ | EV_WRITE)) != want) {
                ev_io_stop(loop, &b->io);
                ev_io_set(&b->io, fd, want);
                if (want)
                        ev_io_start(loop, &b->io);
        }

        ev_timer_stop(loop, &b->timeout);
        if (sd_bus_get_timeout(b->bus, &until) > 0 && until != UINT64_MAX) {
                uint64_t now = now_monotonic_usec();

                ev_timer_set(&b->timeout, until > now ? (double) (until - now) / 1e6 : 0., 0.);
                ev_timer_start(loop, &b->timeout);
        }
}

void bus_loop_start(struct bus *b) {
        ev_io_init(&b->io, on_io, sd_bus_get_fd(b->bus), EV_READ);
        b->io.data = b;
        ev_timer_init(&b->timeout, on_timeout, 0., 0.);
        b->timeout.data = b;
        ev_prepare_init(&b->prepare, on_prepare);
        b->prepare.data = b;
        ev_prepare_start(b->loop, &b->prepare);
}

void bus_loop_stop(struct bus *b) {
        ev_io_stop(b->loop, &b->io);
        ev_timer_stop(b->loop, &b->timeout);
        ev_prepare_stop(b->loop, &b->prepare);
}
