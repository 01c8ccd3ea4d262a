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

struct writer {
        struct reg_value value;
        size_t bit;
};

struct frame {
        size_t op;
        size_t p;
        struct reg_state state;
};

/* The cache maps (value, definite ops linearized) to the sets of
 * optional ops linearized with them.  A state whose optional set contains
 * one already seen is dominated: leaving an optional op unused keeps every
 * future open, so nothing new can be found from it.  Without this the
 * states multiply by every subset of unknown ops. */
struct cache_slot {
        uint64_t hash;
        size_t offset; /* into the arena */
        uint32_t len;  /* 0: empty slot (a key has at least 4 words) */
        size_t first;  /* optional sets: index + 1 into optionals, 0 none */
};

struct optional_set {
        size_t offset; /* into the arena */
        uint32_t len;
        size_t next; /* index + 1, 0: end */
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
        struct optional_set *optionals;
        size_t n_optionals, optionals_alloc;
        /* At the node whose optional candidates are being tried: the
         * observers that could come right after one, as the states they
         * accept - a value, or (mismatch) anything but a value. */
        struct reg_value *accepts, *rejects;
        size_t n_accepts, n_rejects;
        size_t *optional_cas; /* bit indices of optional CAS ops */
        size_t n_optional_cas;
        struct writer *writers; /* optional ops by the value they leave */
        size_t n_writers;
        size_t *candidates; /* optional ops to try at this node, ascending */
        size_t n_candidates;
        uint64_t *candidate_mark; /* per bit: the collection that added it */
        uint64_t collection;
        /* Values optional put/del ops write, and per value how many ops
         * not yet linearized mention it (read it, expect it in a CAS or a
         * mismatch).  At zero the value is dead: its writers can only
         * serve to move the register off a mismatch's value, and for that
         * any one of them does as well as another. */
        size_t *mention_slot; /* per bit: slot of the value op mentions, or SIZE_MAX */
        size_t *write_slot;   /* per bit: slot of the value an optional put/del writes, or SIZE_MAX */
        size_t *mentions;     /* per slot */
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
                /* An optional CAS that would not swap is best left out, as
                 * is one from "any" value, which can only narrow it. */
                if (op->optional && s.tag == STATE_ANY)
                        return false;
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

/* The cache key of the state after an op: value, whether only an observer
 * may follow, P, linearized ops above P; *split: where the optional ones
 * begin. */
static size_t build_key(struct search *s, struct reg_state st, bool observer_next, size_t *split) {
        size_t n = 0, above = s->n_set - s->p;

        /* Whether only an observer may come next is part of the state. */
        s->key[n++] = st.tag | (uint32_t) observer_next << 8;
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
        *split = n;
        while (*split > 4 && s->key[*split - 1] >= s->n_definite)
                (*split)--;
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

static int arena_append(struct search *s, const uint32_t *words, size_t len, size_t *offset) {
        if (s->arena_len + len > s->arena_alloc) {
                size_t n = MAX(s->arena_alloc * 2, s->arena_len + len + 4096);
                uint32_t *a = reallocarray(s->arena, n, sizeof(uint32_t));

                if (!a)
                        return -ENOMEM;
                s->arena = a;
                s->arena_alloc = n;
        }
        memcpy(s->arena + s->arena_len, words, len * sizeof(uint32_t));
        *offset = s->arena_len;
        s->arena_len += len;
        return 0;
}

/* Both sorted ascending. */
static bool is_subset(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
        size_t j = 0;

        for (size_t i = 0; i < na; i++) {
                while (j < nb && b[j] < a[i])
                        j++;
                if (j == nb || b[j] != a[i])
                        return false;
                j++;
        }
        return true;
}

static int optional_set_add(struct search *s, struct cache_slot *slot, const uint32_t *ids, size_t n) {
        struct optional_set *o;
        int r;

        if (s->n_optionals == s->optionals_alloc) {
                size_t k = MAX(s->optionals_alloc * 2, 1024u);
                struct optional_set *a = reallocarray(s->optionals, k, sizeof(*a));

                if (!a)
                        return -ENOMEM;
                s->optionals = a;
                s->optionals_alloc = k;
        }
        o = &s->optionals[s->n_optionals];
        r = arena_append(s, ids, n, &o->offset);
        if (r < 0)
                return r;
        o->len = (uint32_t) n;
        o->next = slot->first;
        slot->first = ++s->n_optionals;
        return 0;
}

/* The key is s->key[0, len): value, P and the linearized ops above P;
 * those from `split` on are optional.  1: a new state, 0: one seen, or
 * dominated by one seen. */
static int cache_visit(struct search *s, size_t split, size_t len) {
        uint64_t h = hash_key(s->key, split);
        const uint32_t *ids = s->key + split;
        size_t i, mask, n = len - split;
        int r;

        if (s->slots_used * 2 >= s->slots_size) {
                r = cache_grow(s);
                if (r < 0)
                        return r;
        }
        mask = s->slots_size - 1;
        for (i = h & mask; s->slots[i].len; i = (i + 1) & mask)
                if (s->slots[i].hash == h && s->slots[i].len == split &&
                    memcmp(s->arena + s->slots[i].offset, s->key, split * sizeof(uint32_t)) == 0)
                        break;
        if (!s->slots[i].len) {
                r = arena_append(s, s->key, split, &s->slots[i].offset);
                if (r < 0)
                        return r;
                s->slots[i].hash = h;
                s->slots[i].len = (uint32_t) split;
                s->slots[i].first = 0;
                s->slots_used++;
        } else
                for (size_t o = s->slots[i].first; o; o = s->optionals[o - 1].next)
                        if (is_subset(s->arena + s->optionals[o - 1].offset, s->optionals[o - 1].len, ids, n))
                                return 0;
        r = optional_set_add(s, &s->slots[i], ids, n);
        return r < 0 ? r : 1;
}

static void bit_set(struct search *s, size_t i) {
        s->bits[i / 64] |= UINT64_C(1) << (i % 64);
        s->n_set++;
        if (s->mention_slot[i] != SIZE_MAX)
                s->mentions[s->mention_slot[i]]--;
        while (s->p < s->n && (s->bits[s->p / 64] & (UINT64_C(1) << (s->p % 64))))
                s->p++;
}

static void bit_clear(struct search *s, size_t i, size_t p) {
        s->bits[i / 64] &= ~(UINT64_C(1) << (i % 64));
        s->n_set--;
        s->p = p;
        if (s->mention_slot[i] != SIZE_MAX)
                s->mentions[s->mention_slot[i]]++;
}

/* Whether op's outcome depends on the register's value.  An optional op
 * followed by one that does not (a put or delete) could be left out of the
 * linearization with nothing changed, so the search only places an optional
 * op right before an op that observes what it wrote.  Every linearization
 * shrinks to one of that form, and the branching on unknown ops (which may
 * go anywhere after their call) falls from "every point" to "before a
 * read that needs them". */
static bool observes_state(const struct reg_op *op) {
        return op->kind == REG_GET || op->kind == REG_CAS || op->kind == REG_CAS_MISMATCH;
}

static void add_observer(struct search *s, const struct reg_op *op) {
        if (op->kind == REG_CAS_MISMATCH) {
                /* A mismatch needs an optional op before it only where the
                 * value is the one it expected: elsewhere it can go first
                 * and the optional op after it, to the same effect. */
                if (s->state.tag != STATE_ANY && state_is(s->in, s->state, op->expected))
                        s->rejects[s->n_rejects++] = op->expected;
        } else
                s->accepts[s->n_accepts++] = op->kind == REG_GET ? op->value : op->expected;
}

static bool is_linearized(const struct search *s, size_t bit) {
        return s->bits[bit / 64] & (UINT64_C(1) << (bit % 64));
}

static int cmp_writers(const void *a, const void *b) {
        const struct writer *x = a, *y = b;

        if (x->value.present != y->value.present)
                return x->value.present ? 1 : -1;
        if (x->value.v != y->value.v)
                return x->value.v < y->value.v ? -1 : 1;
        return x->bit < y->bit ? -1 : x->bit > y->bit;
}

static int cmp_bits(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return x < y ? -1 : x > y;
}

/* Optional ops (called by limit, not yet linearized) that leave the
 * register in state v. */
static void add_writers_of(struct search *s, struct reg_value v, uint64_t limit) {
        struct writer key = { .value = v, .bit = 0 };
        size_t lo = 0, hi = s->n_writers;

        while (lo < hi) { /* the first writer >= key */
                size_t mid = lo + (hi - lo) / 2;

                if (cmp_writers(&s->writers[mid], &key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < s->n_writers && s->writers[lo].value.present == v.present &&
               (!v.present || s->writers[lo].value.v == v.v);
             lo++) {
                size_t bit = s->writers[lo].bit;

                if (s->ops[bit]->t_call <= limit && !is_linearized(s, bit) &&
                    s->candidate_mark[bit] != s->collection) {
                        s->candidate_mark[bit] = s->collection;
                        s->candidates[s->n_candidates++] = bit;
                }
        }
}

/* At a node whose definite candidates are exhausted: which optional ops
 * to try.  Only one that some observer could follow right away - a
 * definite candidate, or an optional CAS - is worth a try, and with unique
 * values that is usually the one writer of the value a read saw. */
static void collect_candidates(struct search *s) {
        struct entry *e;
        uint64_t limit;

        s->n_accepts = s->n_rejects = s->n_candidates = 0;
        s->collection++;
        for (e = s->main_head.next; e->is_call; e = e->next)
                if (observes_state(s->ops[e->op]))
                        add_observer(s, s->ops[e->op]);
        limit = e->t;
        for (size_t i = 0; i < s->n_optional_cas; i++) {
                size_t bit = s->optional_cas[i];

                if (s->ops[bit]->t_call <= limit && !is_linearized(s, bit))
                        add_observer(s, s->ops[bit]);
        }
        if (s->n_rejects > 0) {
                /* A mismatch accepts almost any value: every writer, but
                 * of the writers of dead values only the first. */
                bool dead_seen = false;

                /* The optional list holds those not linearized, by call. */
                for (e = s->opt_head.next; e != &s->opt_tail && e->t <= limit; e = e->next) {
                        bool dead = s->write_slot[e->op] != SIZE_MAX && s->mentions[s->write_slot[e->op]] == 0;

                        if (dead && dead_seen)
                                continue;
                        dead_seen |= dead;
                        s->candidates[s->n_candidates++] = e->op;
                }
                /* Resuming after an undone candidate needs bit order. */
                qsort(s->candidates, s->n_candidates, sizeof(size_t), cmp_bits);
                return;
        }
        for (size_t i = 0; i < s->n_accepts; i++)
                add_writers_of(s, s->accepts[i], limit);
        qsort(s->candidates, s->n_candidates, sizeof(size_t), cmp_bits);
}

/* Could some collected observer come right after a state of `st`? */
static bool observer_accepts(struct search *s, struct reg_state st) {
        for (size_t i = 0; i < s->n_accepts; i++)
                if (state_is(s->in, st, s->accepts[i]))
                        return true;
        for (size_t i = 0; i < s->n_rejects; i++)
                if (st.tag == STATE_ANY || !state_is(s->in, st, s->rejects[i]))
                        return true;
        return false;
}

/* Linearize the op of call entry c next, unless the model refuses it or
 * the resulting state was explored before.  1: done, 0: not, <0: error. */
static int try_linearize(struct search *s, struct entry *c) {
        struct reg_state next;
        size_t p = s->p, split, len;
        int r;

        if (s->depth > 0 && s->stack[s->depth - 1].op >= s->n_definite && !observes_state(s->ops[c->op]))
                return 0;
        if (!model_step(s->in, s->ops[c->op], s->state, &next))
                return 0;
        /* An optional op nothing could observe right after is a dead end;
         * skip it before paying for its cache entry. */
        if (c->op >= s->n_definite && !observer_accepts(s, next))
                return 0;
        bit_set(s, c->op);
        len = build_key(s, next, c->op >= s->n_definite, &split);
        r = cache_visit(s, split, len);
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

/* The slot of value v among the writers' values (the index of its first
 * writer), or SIZE_MAX. */
static size_t writer_slot(const struct search *s, struct reg_value v) {
        size_t lo = 0, hi = s->n_writers;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct reg_value *w = &s->writers[mid].value;

                if (w->present < v.present || (w->present == v.present && v.present && w->v < v.v))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < s->n_writers && s->writers[lo].value.present == v.present &&
            (!v.present || s->writers[lo].value.v == v.v))
                return lo;
        return SIZE_MAX;
}

static void index_mentions(struct search *s) {
        for (size_t bit = 0; bit < s->n; bit++) {
                const struct reg_op *op = s->ops[bit];

                s->mention_slot[bit] = op->kind == REG_GET ? writer_slot(s, op->value)
                                       : op->kind == REG_CAS || op->kind == REG_CAS_MISMATCH ? writer_slot(s, op->expected)
                                                                                              : SIZE_MAX;
                if (s->mention_slot[bit] != SIZE_MAX)
                        s->mentions[s->mention_slot[bit]]++;
                s->write_slot[bit] = op->optional && (op->kind == REG_PUT || op->kind == REG_DEL)
                                             ? writer_slot(s, op->kind == REG_DEL ? (struct reg_value) {} : op->value)
                                             : SIZE_MAX;
        }
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
        s->accepts = calloc(s->n + 1, sizeof(struct reg_value));
        s->rejects = calloc(s->n + 1, sizeof(struct reg_value));
        s->optional_cas = calloc(s->n + 1, sizeof(size_t));
        s->writers = calloc(s->n + 1, sizeof(struct writer));
        s->candidates = calloc(s->n + 1, sizeof(size_t));
        s->candidate_mark = calloc(s->n + 1, sizeof(uint64_t));
        s->mention_slot = calloc(s->n + 1, sizeof(size_t));
        s->write_slot = calloc(s->n + 1, sizeof(size_t));
        s->mentions = calloc(s->n + 1, sizeof(size_t));
        sorted = calloc(2 * s->n + 1, sizeof(struct entry *));
        if (!s->ops || !s->calls || !s->returns || !s->bits || !s->stack || !s->key || !sorted || !s->accepts || !s->rejects ||
            !s->optional_cas || !s->writers || !s->candidates || !s->candidate_mark ||
            !s->mention_slot || !s->write_slot || !s->mentions)
                return -ENOMEM;
        o = s->n_definite;
        for (size_t i = 0; i < in->n_ops; i++) {
                const struct reg_op *op = &in->ops[i];
                size_t bit = op->optional ? o++ : d++;

                s->ops[bit] = op;
                if (op->optional && op->kind == REG_CAS)
                        s->optional_cas[s->n_optional_cas++] = bit;
                if (op->optional)
                        s->writers[s->n_writers++] = (struct writer) {
                                .value = op->kind == REG_DEL ? (struct reg_value) {} : op->value, .bit = bit
                        };
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
        qsort(s->writers, s->n_writers, sizeof(struct writer), cmp_writers);
        index_mentions(s);
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
        free(s->optionals);
        free(s->accepts);
        free(s->rejects);
        free(s->optional_cas);
        free(s->writers);
        free(s->candidates);
        free(s->candidate_mark);
        free(s->mention_slot);
        free(s->write_slot);
        free(s->mentions);
}

static int search_run(struct search *s, enum reg_search_result *ret, uint64_t *steps) {
        struct entry *e = s->main_head.next, *c;
        bool in_optional = false;
        size_t next_candidate = 0;
        int r;

        for (;;) {
                if (s->main_head.next == &s->main_tail) {
                        *ret = REG_LINEARIZABLE;
                        return 0;
                }
                if (!in_optional && !e->is_call) {
                        /* First return: every definite candidate was tried. */
                        collect_candidates(s);
                        in_optional = true;
                        next_candidate = 0;
                        continue;
                }
                if (!in_optional || next_candidate < s->n_candidates) {
                        c = in_optional ? &s->calls[s->candidates[next_candidate++]] : e;
                        if (*steps >= s->in->budget) {
                                *ret = REG_BUDGET_EXHAUSTED;
                                return 0;
                        }
                        (*steps)++;
                        r = try_linearize(s, c);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                in_optional = false;
                                e = s->main_head.next;
                        } else if (!in_optional)
                                e = e->next;
                        continue;
                }
                if (s->depth == 0) {
                        *ret = REG_NOT_LINEARIZABLE;
                        return 0;
                }
                c = undo_last(s);
                in_optional = c->op >= s->n_definite;
                if (in_optional) {
                        /* The same node, so the same candidates: go on
                         * after the one just undone. */
                        collect_candidates(s);
                        for (next_candidate = 0;
                             next_candidate < s->n_candidates && s->candidates[next_candidate] <= c->op;
                             next_candidate++)
                                ;
                } else
                        e = c->next;
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
