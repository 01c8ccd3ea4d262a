/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Randomised: histories made by running a sequential register under
 * clients whose operations overlap at random (some fail, some end unknown
 * and take effect later or never) are linearizable by construction, so the
 * checker must accept them; the same history with one read changed to a
 * value no linearization allows must be rejected.
 * FAULT_CHECK_SEED=N replays a run; FAULT_CHECK_ROUNDS sets the number of
 * histories (default 300). */
#include "fault/check/check-test.h"

enum sim_kind { SIM_PUT, SIM_GET, SIM_CAS, SIM_DEL };
enum sim_phase { SIM_IDLE, SIM_INVOKED, SIM_APPLIED };

struct sim_op {
        enum sim_kind kind;
        unsigned key;
        struct reg_value value, expected;
        bool cas_matched;
};

struct sim_client {
        uint64_t process;
        enum sim_phase phase;
        struct sim_op op;
};

/* One ok get, as generated: where its completion line is. */
struct sim_read {
        size_t line;
        unsigned key;
        uint64_t t_return;
};

/* Every value written (values are unique), by whom and when invoked. */
struct sim_write {
        uint64_t value;
        unsigned key;
        uint64_t t_invoke;
};

struct sim {
        uint64_t rng;
        uint64_t t;
        struct reg_value regs[4];
        unsigned n_keys;
        struct sim_client clients[8];
        unsigned n_clients;
        uint64_t next_process, next_value;
        struct sim_op zombies[64]; /* unknown ops that may still take effect */
        size_t n_zombies;
        char **lines;
        size_t n_lines, lines_alloc;
        struct sim_read *reads;
        size_t n_reads, reads_alloc;
        struct sim_write *writes;
        size_t n_writes, writes_alloc;
        unsigned pct_fail, pct_unknown;
};

static void sim_line(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sim_line(struct sim *s, const char *fmt, ...) {
        va_list ap;
        char *line;

        va_start(ap, fmt);
        assert_true(vasprintf(&line, fmt, ap) >= 0);
        va_end(ap);
        if (s->n_lines == s->lines_alloc) {
                s->lines_alloc = MAX(s->lines_alloc * 2, 256u);
                s->lines = realloc(s->lines, s->lines_alloc * sizeof(char *));
                assert_non_null(s->lines);
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

static void sim_record_write(struct sim *s, const struct sim_op *op) {
        if (!op->value.present || (op->kind != SIM_PUT && op->kind != SIM_CAS))
                return;
        if (s->n_writes == s->writes_alloc) {
                s->writes_alloc = MAX(s->writes_alloc * 2, 256u);
                s->writes = realloc(s->writes, s->writes_alloc * sizeof(*s->writes));
                assert_non_null(s->writes);
        }
        s->writes[s->n_writes++] = (struct sim_write) { op->value.v, op->key, s->t };
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
        sim_line_op(s, c->process, "invoke", op, "");
        sim_record_write(s, op);
        c->phase = SIM_INVOKED;
}

static void sim_complete(struct sim *s, struct sim_client *c) {
        struct sim_op *op = &c->op;
        char a[24];

        c->phase = SIM_IDLE;
        if (op->kind == SIM_GET) {
                if (s->n_reads == s->reads_alloc) {
                        s->reads_alloc = MAX(s->reads_alloc * 2, 256u);
                        s->reads = realloc(s->reads, s->reads_alloc * sizeof(*s->reads));
                        assert_non_null(s->reads);
                }
                s->reads[s->n_reads++] = (struct sim_read) { s->n_lines, op->key, s->t };
                sim_line(s, "%" PRIu64 " %" PRIu64 " ok get k%u %s", s->t, c->process, op->key, fmt_value(op->value, a));
        } else if (op->kind == SIM_CAS && !op->cas_matched)
                sim_line_op(s, c->process, "fail", op, " mismatch");
        else
                sim_line_op(s, c->process, "ok", op, "");
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

static void sim_run(struct sim *s, size_t n_ops) {
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
}

static char *sim_text(const struct sim *s) {
        struct text t = {};

        for (size_t i = 0; i < s->n_lines; i++)
                text_printf(&t, "%s\n", s->lines[i]);
        return t.p;
}

static void sim_done(struct sim *s) {
        for (size_t i = 0; i < s->n_lines; i++)
                free(s->lines[i]);
        free(s->lines);
        free(s->reads);
        free(s->writes);
}

/* A value the read cannot have seen: never written; written only to
 * another key; or written to its key by an op invoked after it returned. */
static uint64_t impossible_value(struct sim *s, const struct sim_read *rd) {
        uint64_t dice = rng_below(&s->rng, 3);

        for (size_t i = 0; i < s->n_writes && dice > 0; i++) {
                const struct sim_write *w = &s->writes[rng_below(&s->rng, s->n_writes)];

                /* Values are unique: one writer each. */
                if (dice == 1 && w->key != rd->key)
                        return w->value;
                if (dice == 2 && w->key == rd->key && w->t_invoke > rd->t_return)
                        return w->value;
        }
        return UINT64_C(1) << 40 | rng_below(&s->rng, 1000);
}

/* Keep a history the checker got wrong, for raftd-check to replay. */
static void save_failed(const char *text, unsigned round) {
        char path[64];
        FILE *f;

        snprintf(path, sizeof(path), "fault-check-round-%u.hist", round);
        f = fopen(path, "we");
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
        printf("# history saved as %s\n", path);
}

static void run_round(uint64_t *rng, unsigned round) {
        struct sim s = {
                .rng = rng_next(rng),
                .n_keys = 1 + (unsigned) rng_below(rng, 3),
                .n_clients = 2 + (unsigned) rng_below(rng, 5),
                .pct_fail = (unsigned) rng_below(rng, 8),
                .pct_unknown = (unsigned) rng_below(rng, 8),
        };
        size_t n_ops = 10 + rng_below(rng, 300);
        _cleanup_free_ char *valid = NULL, *corrupt = NULL;
        const struct sim_read *rd;
        char *old;
        uint64_t v;

        sim_run(&s, n_ops);
        valid = sim_text(&s);
        if (check_text(valid) != CHECK_VALID) {
                save_failed(valid, round);
                fail_msg("round %u: a linearizable history was rejected", round);
        }
        if (s.n_reads == 0) {
                sim_done(&s);
                return;
        }
        rd = &s.reads[rng_below(&s.rng, s.n_reads)];
        v = impossible_value(&s, rd);
        old = s.lines[rd->line];
        *strrchr(old, ' ') = '\0';
        sim_line(&s, "%s %" PRIu64, old, v);
        s.lines[rd->line] = s.lines[--s.n_lines];
        free(old);
        corrupt = sim_text(&s);
        if (check_text(corrupt) != CHECK_VIOLATION) {
                save_failed(corrupt, round);
                fail_msg("round %u: a read of %" PRIu64 " on line %zu was accepted", round, v, rd->line + 1);
        }
        sim_done(&s);
}

static void generated_linearizable_histories_pass_and_one_bad_read_fails(void **state) {
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        const char *env = getenv("FAULT_CHECK_ROUNDS");
        unsigned rounds = env ? (unsigned) strtoul(env, NULL, 10) : 300;

        for (unsigned i = 0; i < rounds; i++)
                run_round(&rng, i);
}

static void long_single_key_history_is_decided_within_the_default_budget(void **state) {
        uint64_t rng = test_seed("FAULT_CHECK_SEED");
        struct sim s = { .rng = rng, .n_keys = 1, .n_clients = 5, .pct_fail = 2, .pct_unknown = 1 };
        _cleanup_free_ char *text = NULL;
        struct check_result res;

        sim_run(&s, 20000);
        text = sim_text(&s);
        if (check_text_budget(text, WORKLOAD_REGISTER, CHECK_DEFAULT_BUDGET, &res) != CHECK_VALID) {
                save_failed(text, 0);
                fail_msg("%s", res.findings[0].message);
        }
        printf("# 20000 ops on one key: %" PRIu64 " search steps\n", res.search_steps);
        check_result_done(&res);
        sim_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(generated_linearizable_histories_pass_and_one_bad_read_fails),
                cmocka_unit_test(long_single_key_history_is_decided_within_the_default_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
