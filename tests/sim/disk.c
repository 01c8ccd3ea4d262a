/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "message.h"
#include "shared/macro.h"

void disk_init(struct disk *d) {
        memset(d, 0, sizeof(*d));
}

void disk_write_free(struct disk_write *w) {
        entries_free(w->entries, w->n_entries);
        free(w->chunk.data.base);
        for (unsigned i = 0; i < w->n_held; i++)
                message_free(w->held[i]);
        free(w->held);
        memset(w, 0, sizeof(*w));
}

void disk_crash(struct disk *d) {
        for (size_t i = 0; i < d->n_pending; i++)
                disk_write_free(&d->pending[i]);
        d->n_pending = 0;
}

void disk_done(struct disk *d) {
        disk_crash(d);
        free(d->pending);
        entries_free(d->log, (unsigned) d->n_log);
        memset(d, 0, sizeof(*d));
}

uint64_t disk_last_done_at(const struct disk *d) {
        return d->n_pending ? d->pending[d->n_pending - 1].done_at : 0;
}

int disk_queue(struct disk *d, const struct raft_update *u, uint64_t done_at) {
        struct disk_write w = { .done_at = done_at };
        int r;

        if (!u->hard_state && u->n_entries == 0 && !u->snapshot_chunk)
                return 0;
        if (d->n_pending == d->cap_pending) {
                size_t cap = d->cap_pending ? d->cap_pending * 2 : 16;
                struct disk_write *p = realloc(d->pending, cap * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                d->pending = p;
                d->cap_pending = cap;
        }
        if (u->hard_state) {
                w.has_hard_state = true;
                w.hard_state = *u->hard_state;
        }
        r = entries_copy(u->entries, u->n_entries, &w.entries);
        if (r < 0)
                return r;
        w.n_entries = u->n_entries;
        if (u->snapshot_chunk) {
                w.has_chunk = true;
                w.chunk = *u->snapshot_chunk;
                w.chunk.data = (struct raft_buf) {};
                if (u->snapshot_chunk->data.len > 0) {
                        w.chunk.data.base = malloc(u->snapshot_chunk->data.len);
                        if (!w.chunk.data.base) {
                                disk_write_free(&w);
                                return -ENOMEM;
                        }
                        memcpy(w.chunk.data.base, u->snapshot_chunk->data.base, u->snapshot_chunk->data.len);
                        w.chunk.data.len = u->snapshot_chunk->data.len;
                }
        }
        d->pending[d->n_pending++] = w;
        return 1;
}

int disk_hold(struct disk *d, const struct raft_message *m) {
        struct disk_write *w;
        struct raft_message **held, *copy;
        int r;

        if (d->n_pending == 0)
                return -ENOENT;
        w = &d->pending[d->n_pending - 1];
        held = realloc(w->held, (w->n_held + 1) * sizeof(*held));
        if (!held)
                return -ENOMEM;
        w->held = held;
        r = message_copy(m, &copy);
        if (r < 0)
                return r;
        w->held[w->n_held++] = copy;
        return 0;
}

static void log_truncate(struct disk *d, size_t keep) {
        for (size_t i = keep; i < d->n_log; i++)
                free(d->log[i].data.base);
        d->n_log = keep;
}

static int write_chunk(struct disk *d, const struct raft_snapshot_chunk *c) {
        if (c->offset == 0 || !d->has_partial || d->partial_meta.index != c->meta.index ||
            d->partial_meta.term != c->meta.term) {
                d->has_partial = true;
                d->partial_meta = c->meta;
                d->partial_len = 0;
        }
        if (c->offset > d->partial_len || c->offset + c->data.len > DISK_SNAPSHOT_MAX)
                return -EILSEQ;
        if (c->data.len)
                memcpy(d->partial + c->offset, c->data.base, c->data.len);
        d->partial_len = c->offset + c->data.len;
        if (!c->done)
                return 0;
        /* Installed: the log restarts after the snapshot.  A newer snapshot
         * of our own stays (only possible if the core applied past an
         * install that was not yet durable, which the caller checks). */
        if (!d->has_snapshot || d->snapshot_meta.index <= d->partial_meta.index) {
                d->has_snapshot = true;
                d->snapshot_meta = d->partial_meta;
                memcpy(d->snapshot, d->partial, d->partial_len);
                d->snapshot_len = d->partial_len;
        }
        d->has_partial = false;
        log_truncate(d, 0);
        return 0;
}

static int append_entries(struct disk *d, struct disk_write *w) {
        raft_index first = w->entries[0].index, log_first;
        size_t keep;

        log_first = d->n_log ? d->log[0].index : (d->has_snapshot ? d->snapshot_meta.index + 1 : 1);
        if (first > disk_last_index(d) + 1)
                return -EILSEQ;
        keep = first > log_first ? (size_t) (first - log_first) : 0;
        log_truncate(d, MIN(keep, d->n_log));
        if (d->n_log + w->n_entries > d->cap_log) {
                size_t cap = d->cap_log ? d->cap_log : 64;
                struct raft_entry *l;

                while (cap < d->n_log + w->n_entries)
                        cap *= 2;
                l = realloc(d->log, cap * sizeof(*l));
                if (!l)
                        return -ENOMEM;
                d->log = l;
                d->cap_log = cap;
        }
        /* Take the entries' data over from the write; n_entries stays set
         * so the caller sees that this write carried entries. */
        memcpy(d->log + d->n_log, w->entries, w->n_entries * sizeof(*w->entries));
        d->n_log += w->n_entries;
        free(w->entries);
        w->entries = NULL;
        return 0;
}

int disk_complete(struct disk *d, struct disk_write *ret) {
        struct disk_write w;
        int r = 0;

        if (d->n_pending == 0)
                return -ENOENT;
        w = d->pending[0];
        memmove(d->pending, d->pending + 1, (d->n_pending - 1) * sizeof(*d->pending));
        d->n_pending--;

        if (w.has_chunk)
                r = write_chunk(d, &w.chunk);
        if (r >= 0 && w.has_hard_state)
                d->hard_state = w.hard_state;
        if (r >= 0 && w.n_entries > 0)
                r = append_entries(d, &w);
        *ret = w;
        return r;
}

int disk_save_snapshot(struct disk *d, const struct raft_snapshot_meta *meta, const void *image, size_t len,
                       raft_index trailing) {
        raft_index keep_from = meta->index > trailing ? meta->index - trailing + 1 : 1;
        size_t drop = 0;

        if (len > DISK_SNAPSHOT_MAX)
                return -EFBIG;
        d->has_snapshot = true;
        d->snapshot_meta = *meta;
        memcpy(d->snapshot, image, len);
        d->snapshot_len = len;
        while (drop < d->n_log && d->log[drop].index < keep_from)
                free(d->log[drop++].data.base);
        memmove(d->log, d->log + drop, (d->n_log - drop) * sizeof(*d->log));
        d->n_log -= drop;
        return 0;
}

raft_index disk_last_index(const struct disk *d) {
        if (d->n_log)
                return d->log[d->n_log - 1].index;
        return d->has_snapshot ? d->snapshot_meta.index : 0;
}

raft_term disk_last_term(const struct disk *d) {
        if (d->n_log)
                return d->log[d->n_log - 1].term;
        return d->has_snapshot ? d->snapshot_meta.term : 0;
}
