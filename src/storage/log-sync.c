/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "shared/macro.h"
#include "storage/log-sync.h"

struct log_syncer {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;     /* a job or the stop request arrived */
        pthread_cond_t finished; /* a job ended */
        void (*notify)(void *userdata);
        void *userdata;

        /* Under lock. */
        int fd;       /* the job waiting or running; -1: none */
        bool running; /* submitted, result not collected */
        bool done;
        int error;
        bool stop;
};

static void *syncer_main(void *arg) {
        struct log_syncer *s = arg;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                int fd, error = 0;

                while (s->fd < 0 && !s->stop)
                        pthread_cond_wait(&s->wake, &s->lock);
                if (s->fd < 0)
                        break;
                fd = s->fd;
                pthread_mutex_unlock(&s->lock);

                if (fdatasync(fd) < 0)
                        error = -errno;

                pthread_mutex_lock(&s->lock);
                s->fd = -1;
                s->error = error;
                s->done = true;
                pthread_cond_broadcast(&s->finished);
                /* Under the lock, so log_syncer_free() cannot return (and
                 * the notified object go away) in between. */
                if (s->notify)
                        s->notify(s->userdata);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int log_syncer_new(void (*notify)(void *userdata), void *userdata, struct log_syncer **ret) {
        struct log_syncer *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        *s = (struct log_syncer) { .notify = notify, .userdata = userdata, .fd = -1 };
        (void) pthread_mutex_init(&s->lock, NULL);
        (void) pthread_cond_init(&s->wake, NULL);
        (void) pthread_cond_init(&s->finished, NULL);
        r = pthread_create(&s->thread, NULL, syncer_main, s);
        if (r != 0) {
                (void) pthread_cond_destroy(&s->finished);
                (void) pthread_cond_destroy(&s->wake);
                (void) pthread_mutex_destroy(&s->lock);
                free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

struct log_syncer *log_syncer_free(struct log_syncer *s) {
        if (!s)
                return NULL;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        /* The thread finishes a job in flight before it sees stop. */
        (void) pthread_join(s->thread, NULL);
        (void) pthread_cond_destroy(&s->finished);
        (void) pthread_cond_destroy(&s->wake);
        (void) pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int log_syncer_submit(struct log_syncer *s, int fd) {
        int r = 0;

        pthread_mutex_lock(&s->lock);
        if (s->running)
                r = -EBUSY;
        else {
                s->fd = fd;
                s->running = true;
                s->done = false;
                pthread_cond_signal(&s->wake);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int log_syncer_collect(struct log_syncer *s, bool wait, int *ret_error) {
        int r = 1;

        pthread_mutex_lock(&s->lock);
        if (!s->running)
                r = -ENOENT;
        else {
                while (wait && !s->done)
                        pthread_cond_wait(&s->finished, &s->lock);
                if (!s->done)
                        r = 0;
                else {
                        *ret_error = s->error;
                        s->running = false;
                        s->done = false;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}
