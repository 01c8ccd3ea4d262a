/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The search (Lowe, "Testing for linearizability", 2017; Porcupine's
 * checkSingle).  Definite operations sit in a list of call and return
 * entries in time order; an operation may be linearized next when its call
 * comes before the first return still in the list.  Operations of unknown
 * outcome have no return: they sit in a second list and are tried only
 * after every definite candidate, since leaving them out is always allowed
 * and most are best left out.  The cache key of a state is the register's
 * value plus the linearized set, stored as "all operations below P" and the
 * few above it, which keeps the cache small on long histories. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault/check/register-search.h"
#include "shared/macro.h"

enum state_tag {
        STATE_ABSENT,
        STATE_VALUE,
        STATE_ANY, /* a window's start: not observed yet */
};

struct reg_state {
        enum state_tag tag;
        uint64_t v;
};

struct entry {
        struct entry *prev, *next;
        struct entry *match; /* a call's return entry; NULL for a return or an optional call */
        size_t op;           /* bit index: definite ops first, then optional ones */
        uint64_t t;
        bool is_call;
};

struct frame {
        size_t op;
        size_t p;
        struct reg_state state;
};

struct cache_slot {
        uint64_t hash;
        size_t offset; /* into the arena */
        uint32_t len;  /* 0: empty slot (a key has at least 4 words) */
};

struct search {
        const struct reg_search_input *in;
        const struct reg_op **ops; /* by bit index */
        struct entry *calls;       /* by bit index */
        struct entry *returns;     /* by bit index, definite ops only */
        size_t n, n_definite;
        struct entry main_head, main_tail, opt_head, opt_tail;
        uint64_t *bits;
        size_t p, n_set; /* ops [0, p) are all linearized; n_set in total */
        struct frame *stack;
        size_t depth;
        struct reg_state state;
        uint32_t *key;
        uint32_t *arena;
        size_t arena_len, arena_alloc;
        struct cache_slot *slots;
        size_t slots_size, slots_used;
};

static bool written_contains(const struct reg_search_input *in, uint64_t v) {
        size_t lo = 0, hi = in->n_written;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (in->written[mid] == v)
                        return true;
                if (in->written[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

static bool state_is(const struct reg_search_input *in, struct reg_state s, struct reg_value v) {
        switch (s.tag) {
        case STATE_ABSENT:
                return !v.present;
        case STATE_VALUE:
                return v.present && v.v == s.v;
        default: /* any start value: absent or something some op wrote */
                return !v.present || written_contains(in, v.v);
        }
}

static struct reg_state state_of(struct reg_value v) {
        return v.present ? (struct reg_state) { STATE_VALUE, v.v } : (struct reg_state) { STATE_ABSENT, 0 };
}

/* The register model.  Returns whether op can take effect in state s. */
static bool model_step(const struct reg_search_input *in, const struct reg_op *op, struct reg_state s,
                       struct reg_state *next) {
        switch (op->kind) {
        case REG_PUT:
                *next = state_of(op->value);
                return true;
        case REG_DEL:
                *next = (struct reg_state) { STATE_ABSENT, 0 };
                return true;
        case REG_GET:
                if (!state_is(in, s, op->value))
                        return false;
                *next = state_of(op->value);
                return true;
        case REG_CAS:
                if (op->optional && !state_is(in, s, op->expected)) {
                        *next = s; /* it may just as well have failed */
                        return true;
                }
                if (op->optional && s.tag == STATE_ANY) {
                        *next = s; /* swapped or not: still any value */
                        return true;
                }
                if (!state_is(in, s, op->expected))
                        return false;
                *next = state_of(op->value);
                return true;
        case REG_CAS_MISMATCH:
                /* From "any", a value other than expected is still "any"
                 * (a slight over-approximation, fine for a window). */
                if (s.tag != STATE_ANY && state_is(in, s, op->expected))
                        return false;
                *next = s;
                return true;
        }
        return false;
}

static void lift(struct entry *c) {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        if (c->match) {
                c->match->prev->next = c->match->next;
                c->match->next->prev = c->match->prev;
        }
}

static void unlift(struct entry *c) {
        if (c->match) {
                c->match->prev->next = c->match;
                c->match->next->prev = c->match;
        }
        c->prev->next = c;
        c->next->prev = c;
}

static uint64_t hash_key(const uint32_t *k, size_t n) {
        uint64_t x = 0x9e3779b97f4a7c15u;

        for (size_t i = 0; i < n; i++) {
                x ^= k[i];
                x *= 0xbf58476d1ce4e5b9u;
                x ^= x >> 31;
        }
        return x;
}

/* The cache key of the current state: value, P, linearized ops above P. */
static size_t build_key(struct search *s, struct reg_state st) {
        size_t n = 0, above = s->n_set - s->p;

        s->key[n++] = st.tag;
        s->key[n++] = (uint32_t) (st.v >> 32);
        s->key[n++] = (uint32_t) st.v;
        s->key[n++] = (uint32_t) s->p;
        for (size_t w = s->p / 64; above > 0; w++) {
                uint64_t word = s->bits[w];

                if (w == s->p / 64)
                        word &= ~UINT64_C(0) << (s->p % 64);
                for (; word; word &= word - 1, above--)
                        s->key[n++] = (uint32_t) (w * 64 + (size_t) __builtin_ctzll(word));
        }
        return n;
}

static int cache_grow(struct search *s) {
        size_t n = MAX(s->slots_size * 2, 1024u);
        struct cache_slot *t = calloc(n, sizeof(*t));

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < s->slots_size; i++) {
                size_t j;

                if (!s->slots[i].len)
                        continue;
                for (j = s->slots[i].hash & (n - 1); t[j].len; j = (j + 1) & (n - 1))
                        ;
                t[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = t;
        s->slots_size = n;
        return 0;
}

/* 1: added, 0: already there. */
static int cache_add(struct search *s, size_t len) {
        uint64_t h = hash_key(s->key, len);
        size_t i, mask;
        int r;

        if (s->slots_used * 2 >= s->slots_size) {
                r = cache_grow(s);
                if (r < 0)
                        return r;
        }
        mask = s->slots_size - 1;
        for (i = h & mask; s->slots[i].len; i = (i + 1) & mask)
                if (s->slots[i].hash == h && s->slots[i].len == len &&
                    memcmp(s->arena + s->slots[i].offset, s->key, len * sizeof(uint32_t)) == 0)
                        return 0;
        if (s->arena_len + len > s->arena_alloc) {
                size_t n = MAX(s->arena_alloc * 2, s->arena_len + len + 4096);
                uint32_t *a = reallocarray(s->arena, n, sizeof(uint32_t));

                if (!a)
                        return -ENOMEM;
                s->arena = a;
                s->arena_alloc = n;
        }
        memcpy(s->arena + s->arena_len, s->key, len * sizeof(uint32_t));
        s->slots[i] = (struct cache_slot) { .hash = h, .offset = s->arena_len, .len = (uint32_t) len };
        s->arena_len += len;
        s->slots_used++;
        return 1;
}

static void bit_set(struct search *s, size_t i) {
        s->bits[i / 64] |= UINT64_C(1) << (i % 64);
        s->n_set++;
        while (s->p < s->n && (s->bits[s->p / 64] & (UINT64_C(1) << (s->p % 64))))
                s->p++;
}

static void bit_clear(struct search *s, size_t i, size_t p) {
        s->bits[i / 64] &= ~(UINT64_C(1) << (i % 64));
        s->n_set--;
        s->p = p;
}

/* Linearize the op of call entry c next, unless the model refuses it or
 * the resulting state was explored before.  1: done, 0: not, <0: error. */
static int try_linearize(struct search *s, struct entry *c) {
        struct reg_state next;
        size_t p = s->p;
        int r;

        if (!model_step(s->in, s->ops[c->op], s->state, &next))
                return 0;
        bit_set(s, c->op);
        r = cache_add(s, build_key(s, next));
        if (r <= 0) {
                bit_clear(s, c->op, p);
                return r;
        }
        s->stack[s->depth++] = (struct frame) { .op = c->op, .p = p, .state = s->state };
        s->state = next;
        lift(c);
        return 1;
}

static struct entry *undo_last(struct search *s) {
        struct frame *f = &s->stack[--s->depth];
        struct entry *c = &s->calls[f->op];

        unlift(c);
        bit_clear(s, f->op, f->p);
        s->state = f->state;
        return c;
}

static uint64_t first_return_time(struct search *s) {
        struct entry *e = s->main_head.next;

        while (e->is_call)
                e = e->next;
        return e->t;
}

static int cmp_entries(const void *a, const void *b) {
        const struct entry *x = *(struct entry *const *) a, *y = *(struct entry *const *) b;

        if (x->t != y->t)
                return x->t < y->t ? -1 : 1;
        /* At equal times calls go first: touching intervals overlap. */
        if (x->is_call != y->is_call)
                return x->is_call ? -1 : 1;
        return x->op < y->op ? -1 : x->op > y->op;
}

static void link_sorted(struct entry *head, struct entry *tail, struct entry **sorted, size_t n) {
        struct entry *prev = head;

        for (size_t i = 0; i < n; i++) {
                prev->next = sorted[i];
                sorted[i]->prev = prev;
                prev = sorted[i];
        }
        prev->next = tail;
        tail->prev = prev;
}

static int search_init(struct search *s, const struct reg_search_input *in) {
        _cleanup_free_ struct entry **sorted = NULL;
        size_t d = 0, o, n_opt;

        s->in = in;
        s->n = in->n_ops;
        for (size_t i = 0; i < in->n_ops; i++)
                s->n_definite += !in->ops[i].optional;
        n_opt = s->n - s->n_definite;
        s->ops = calloc(s->n + 1, sizeof(*s->ops));
        s->calls = calloc(s->n + 1, sizeof(struct entry));
        s->returns = calloc(s->n_definite + 1, sizeof(struct entry));
        s->bits = calloc(s->n / 64 + 2, sizeof(uint64_t));
        s->stack = calloc(s->n + 1, sizeof(struct frame));
        s->key = calloc(s->n + 8, sizeof(uint32_t));
        sorted = calloc(2 * s->n + 1, sizeof(struct entry *));
        if (!s->ops || !s->calls || !s->returns || !s->bits || !s->stack || !s->key || !sorted)
                return -ENOMEM;
        o = s->n_definite;
        for (size_t i = 0; i < in->n_ops; i++) {
                const struct reg_op *op = &in->ops[i];
                size_t bit = op->optional ? o++ : d++;

                s->ops[bit] = op;
                s->calls[bit] = (struct entry) { .op = bit, .t = op->t_call, .is_call = true };
                if (!op->optional) {
                        s->returns[bit] = (struct entry) { .op = bit, .t = op->t_return };
                        s->calls[bit].match = &s->returns[bit];
                }
        }
        for (size_t i = 0; i < s->n_definite; i++) {
                sorted[2 * i] = &s->calls[i];
                sorted[2 * i + 1] = &s->returns[i];
        }
        qsort(sorted, 2 * s->n_definite, sizeof(*sorted), cmp_entries);
        link_sorted(&s->main_head, &s->main_tail, sorted, 2 * s->n_definite);
        for (size_t i = 0; i < n_opt; i++)
                sorted[i] = &s->calls[s->n_definite + i];
        qsort(sorted, n_opt, sizeof(*sorted), cmp_entries);
        link_sorted(&s->opt_head, &s->opt_tail, sorted, n_opt);
        s->state = in->any_start ? (struct reg_state) { STATE_ANY, 0 } : (struct reg_state) { STATE_ABSENT, 0 };
        return 0;
}

static void search_done(struct search *s) {
        free(s->ops);
        free(s->returns);
        free(s->calls);
        free(s->bits);
        free(s->stack);
        free(s->key);
        free(s->arena);
        free(s->slots);
}

static int search_run(struct search *s, enum reg_search_result *ret, uint64_t *steps) {
        struct entry *e = s->main_head.next;
        bool in_optional = false;
        uint64_t limit = 0;
        int r;

        for (;;) {
                if (s->main_head.next == &s->main_tail) {
                        *ret = REG_LINEARIZABLE;
                        return 0;
                }
                if (!in_optional && !e->is_call) {
                        /* First return: every definite candidate was tried. */
                        limit = e->t;
                        in_optional = true;
                        e = s->opt_head.next;
                        continue;
                }
                if (!in_optional || (e != &s->opt_tail && e->t <= limit)) {
                        if (*steps >= s->in->budget) {
                                *ret = REG_BUDGET_EXHAUSTED;
                                return 0;
                        }
                        (*steps)++;
                        r = try_linearize(s, e);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                in_optional = false;
                                e = s->main_head.next;
                        } else
                                e = e->next;
                        continue;
                }
                if (s->depth == 0) {
                        *ret = REG_NOT_LINEARIZABLE;
                        return 0;
                }
                e = undo_last(s);
                in_optional = e->op >= s->n_definite;
                if (in_optional)
                        limit = first_return_time(s);
                e = e->next;
        }
}

int reg_search(const struct reg_search_input *in, enum reg_search_result *ret, uint64_t *steps) {
        struct search s = {};
        int r;

        r = search_init(&s, in);
        if (r >= 0)
                r = search_run(&s, ret, steps);
        search_done(&s);
        return r;
}
