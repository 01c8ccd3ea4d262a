/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sequential register run by clients whose operations overlap at
 * random: the histories it writes are linearizable by construction.  Some
 * operations fail (never applied), some end unknown and take effect later
 * or never, some are still pending at the end. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault/check/history-sim.h"
#include "shared/macro.h"

/* Out of memory is remembered in s->error and reported by sim_run(). */
static bool sim_grow(struct sim *s, void **array, size_t *alloc, size_t n, size_t elem) {
        void *a;

        if (n < *alloc)
                return true;
        a = reallocarray(*array, MAX(*alloc * 2, 256u), elem);
        if (!a) {
                s->error = -ENOMEM;
                return false;
        }
        *array = a;
        *alloc = MAX(*alloc * 2, 256u);
        return true;
}

void sim_line(struct sim *s, const char *fmt, ...) {
        va_list ap;
        char *line;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (r < 0) {
                s->error = -ENOMEM;
                return;
        }
        if (!sim_grow(s, (void **) &s->lines, &s->lines_alloc, s->n_lines, sizeof(char *))) {
                free(line);
                return;
        }
        s->lines[s->n_lines++] = line;
}

static const char *fmt_value(struct reg_value v, char buf[static 24]) {
        if (!v.present)
                return "-";
        snprintf(buf, 24, "%" PRIu64, v.v);
        return buf;
}

static void sim_apply(struct sim *s, struct sim_op *op) {
        struct reg_value *reg = &s->regs[op->key];

        switch (op->kind) {
        case SIM_PUT:
                *reg = op->value;
                break;
        case SIM_DEL:
                *reg = (struct reg_value) {};
                break;
        case SIM_GET:
                op->value = *reg;
                break;
        case SIM_CAS:
                op->cas_matched = reg->present == op->expected.present && (!reg->present || reg->v == op->expected.v);
                if (op->cas_matched)
                        *reg = op->value;
                break;
        }
}

static void sim_line_op(struct sim *s, uint64_t process, const char *type, const struct sim_op *op, const char *tail) {
        char a[24], b[24];

        switch (op->kind) {
        case SIM_PUT:
                sim_line(s, "%" PRIu64 " %" PRIu64 " %s put k%u %s%s", s->t, process, type, op->key,
                         fmt_value(op->value, a), tail);
                break;
        case SIM_DEL:
                sim_line(s, "%" PRIu64 " %" PRIu64 " %s del k%u%s", s->t, process, type, op->key, tail);
                break;
        case SIM_GET:
                sim_line(s, "%" PRIu64 " %" PRIu64 " %s get k%u%s", s->t, process, type, op->key, tail);
                break;
        case SIM_CAS:
                sim_line(s, "%" PRIu64 " %" PRIu64 " %s cas k%u %s %s%s", s->t, process, type, op->key,
                         fmt_value(op->expected, a), fmt_value(op->value, b), tail);
                break;
        }
}

static void sim_record_write(struct sim *s, struct sim_op *op) {
        op->write = SIZE_MAX;
        if (op->kind == SIM_GET)
                return;
        if (!sim_grow(s, (void **) &s->writes, &s->writes_alloc, s->n_writes, sizeof(*s->writes)))
                return;
        op->write = s->n_writes;
        s->writes[s->n_writes++] = (struct sim_write) { op->kind == SIM_DEL ? (struct reg_value) {} : op->value, op->key,
                                                        s->t, UINT64_MAX };
}

static void sim_invoke(struct sim *s, struct sim_client *c) {
        uint64_t dice = rng_below(&s->rng, 100);
        struct sim_op *op = &c->op;

        *op = (struct sim_op) { .key = (unsigned) rng_below(&s->rng, s->n_keys) };
        if (dice < 40) {
                op->kind = SIM_PUT;
                op->value = (struct reg_value) { true, s->next_value++ };
        } else if (dice < 75)
                op->kind = SIM_GET;
        else if (dice < 92) {
                op->kind = SIM_CAS;
                /* Mostly the value it holds now, so some succeed. */
                if (rng_below(&s->rng, 2) == 0)
                        op->expected = s->regs[op->key];
                else if (s->next_value > 1 && rng_below(&s->rng, 4) != 0)
                        op->expected = (struct reg_value) { true, 1 + rng_below(&s->rng, s->next_value - 1) };
                if (rng_below(&s->rng, 10) != 0)
                        op->value = (struct reg_value) { true, s->next_value++ };
        } else
                op->kind = SIM_DEL;
        op->t_invoke = s->t;
        sim_line_op(s, c->process, "invoke", op, "");
        sim_record_write(s, op);
        c->phase = SIM_INVOKED;
}

static void sim_complete(struct sim *s, struct sim_client *c) {
        struct sim_op *op = &c->op;
        char a[24];

        c->phase = SIM_IDLE;
        if (op->kind == SIM_GET) {
                if (sim_grow(s, (void **) &s->reads, &s->reads_alloc, s->n_reads, sizeof(*s->reads)))
                        s->reads[s->n_reads++] = (struct sim_read) { s->n_lines, op->key, op->t_invoke, s->t };
                sim_line(s, "%" PRIu64 " %" PRIu64 " ok get k%u %s", s->t, c->process, op->key, fmt_value(op->value, a));
        } else if (op->kind == SIM_CAS && !op->cas_matched)
                sim_line_op(s, c->process, "fail", op, " mismatch");
        else {
                sim_line_op(s, c->process, "ok", op, "");
                if (op->write != SIZE_MAX)
                        s->writes[op->write].t_complete = s->t;
        }
}

/* The client gives up on an invoked op: it failed (never applied), or its
 * outcome is unknown and it may take effect later or never. */
static void sim_abandon(struct sim *s, struct sim_client *c, bool unknown, bool applied) {
        c->phase = SIM_IDLE;
        if (!unknown) {
                sim_line_op(s, c->process, "fail", &c->op, " unavailable");
                return;
        }
        sim_line_op(s, c->process, "unknown", &c->op, "");
        if (!applied && c->op.kind != SIM_GET && s->n_zombies < ELEMENTSOF(s->zombies) && rng_below(&s->rng, 2) == 0)
                s->zombies[s->n_zombies++] = c->op;
        c->process = s->next_process++;
}

static void sim_step(struct sim *s, size_t *ops_left) {
        struct sim_client *c = &s->clients[rng_below(&s->rng, s->n_clients)];

        s->t += 1 + rng_below(&s->rng, 5);
        if (s->n_zombies > 0 && rng_below(&s->rng, 20) == 0) {
                size_t z = rng_below(&s->rng, s->n_zombies);

                sim_apply(s, &s->zombies[z]);
                s->zombies[z] = s->zombies[--s->n_zombies];
                return;
        }
        switch (c->phase) {
        case SIM_IDLE:
                if (*ops_left == 0)
                        return;
                (*ops_left)--;
                sim_invoke(s, c);
                break;
        case SIM_INVOKED:
                if (rng_below(&s->rng, 100) < s->pct_fail)
                        sim_abandon(s, c, false, false);
                else if (rng_below(&s->rng, 100) < s->pct_unknown)
                        sim_abandon(s, c, true, false);
                else {
                        sim_apply(s, &c->op);
                        c->phase = SIM_APPLIED;
                }
                break;
        case SIM_APPLIED:
                if (rng_below(&s->rng, 100) < s->pct_unknown)
                        sim_abandon(s, c, true, true); /* applied, reply lost */
                else
                        sim_complete(s, c);
                break;
        }
}

int sim_run(struct sim *s, size_t n_ops) {
        size_t ops_left = n_ops;

        s->next_process = 1;
        s->next_value = 1;
        sim_line(s, "# raftd-history 1 seed=1");
        for (unsigned i = 0; i < s->n_clients; i++)
                s->clients[i] = (struct sim_client) { .process = s->next_process++ };
        /* Until every op was invoked, and a little beyond: some stay
         * pending at the end, as in a real run. */
        while (ops_left > 0)
                sim_step(s, &ops_left);
        for (unsigned i = 0; i < 3 * s->n_clients; i++)
                sim_step(s, &ops_left);
        return s->error;
}

char *sim_text(const struct sim *s) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < s->n_lines; i++)
                fprintf(f, "%s\n", s->lines[i]);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

int sim_set_read(struct sim *s, const struct sim_read *rd, uint64_t v) {
        char *old = s->lines[rd->line], *space = strrchr(old, ' ');

        *space = '\0'; /* the value read is the last field */
        sim_line(s, "%s %" PRIu64, old, v);
        if (s->error < 0) {
                *space = ' ';
                return s->error;
        }
        s->lines[rd->line] = s->lines[--s->n_lines];
        free(old);
        return 0;
}

void sim_done(struct sim *s) {
        for (size_t i = 0; i < s->n_lines; i++)
                free(s->lines[i]);
        free(s->lines);
        free(s->reads);
        free(s->writes);
}

uint64_t sim_stale_value(const struct sim *s, const struct sim_read *rd) {
        const struct sim_write *over = NULL;

        for (size_t i = 0; i < s->n_writes; i++) {
                const struct sim_write *w = &s->writes[i];

                if (w->key == rd->key && w->t_complete < rd->t_invoke && (!over || w->t_complete > over->t_complete))
                        over = w;
        }
        for (size_t i = 0; over && i < s->n_writes; i++) {
                const struct sim_write *w = &s->writes[s->n_writes - 1 - i];

                if (w->key == rd->key && w->value.present && w->t_complete < over->t_invoke)
                        return w->value.v;
        }
        return 0;
}

uint64_t sim_impossible_value(struct sim *s, const struct sim_read *rd) {
        uint64_t dice = rng_below(&s->rng, 4);

        if (dice == 3) {
                uint64_t v = sim_stale_value(s, rd);

                if (v > 0)
                        return v;
        }
        for (size_t i = 0; i < s->n_writes && (dice == 1 || dice == 2); i++) {
                const struct sim_write *w = &s->writes[rng_below(&s->rng, s->n_writes)];

                /* Values are unique: one writer each. */
                if (!w->value.present)
                        continue;
                if (dice == 1 && w->key != rd->key)
                        return w->value.v;
                if (dice == 2 && w->key == rd->key && w->t_invoke > rd->t_return)
                        return w->value.v;
        }
        return UINT64_C(1) << 40 | rng_below(&s->rng, 1000);
}

