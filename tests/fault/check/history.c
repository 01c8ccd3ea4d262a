/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strict parser for history format v1.  Anything the format does not
 * allow is an error naming its line: a checker that guessed at a damaged
 * history could call a broken run valid. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fault/check/history.h"
#include "shared/macro.h"

#define MAX_FIELDS 12

struct field {
        const char *p;
        size_t len;
};

/* The argument shapes of each kind, after `<t> <process> <type> <f>`. */
enum arg_type {
        ARG_KEY,
        ARG_U64,
        ARG_VALUE, /* u64 or `-` */
        ARG_ELEMENTS,
};

struct kind_shape {
        const char *name;
        bool observation;
        uint8_t n_invoke;      /* arguments of invoke, and of fail/unknown */
        uint8_t n_ok;          /* arguments of ok */
        enum arg_type args[5]; /* the longest of the two */
};

static const struct kind_shape shapes[_OP_KIND_MAX] = {
        [OP_PUT] = { "put", false, 2, 2, { ARG_KEY, ARG_U64 } },
        [OP_DEL] = { "del", false, 1, 1, { ARG_KEY } },
        [OP_GET] = { "get", false, 1, 2, { ARG_KEY, ARG_VALUE } },
        [OP_CAS] = { "cas", false, 3, 3, { ARG_KEY, ARG_VALUE, ARG_VALUE } },
        [OP_ADD] = { "add", false, 2, 2, { ARG_KEY, ARG_U64 } },
        [OP_READ_SET] = { "read-set", false, 1, 2, { ARG_KEY, ARG_ELEMENTS } },
        [OP_INCR] = { "incr", false, 1, 2, { ARG_KEY, ARG_U64 } },
        [OP_WRITE_FENCED] = { "write-fenced", true, 5, 5, { ARG_KEY, ARG_U64, ARG_U64, ARG_U64, ARG_U64 } },
        [OP_APPLIED] = { "applied", true, 3, 3, { ARG_KEY, ARG_VALUE, ARG_U64 } },
};

const char *op_kind_to_string(enum op_kind k) {
        return k < _OP_KIND_MAX ? shapes[k].name : "?";
}

/* Per process: its outstanding op, or that it is retired after `unknown`. */
struct process_slot {
        uint64_t id;
        size_t op; /* outstanding op index, or NO_EVENT */
        bool retired;
        bool used;
};

struct parser {
        struct history *h;
        struct history_error *error;
        size_t line_no;
        size_t ops_alloc, events_alloc, gaps_alloc;
        /* Open addressing: processes and interned keys. */
        struct process_slot *procs;
        size_t procs_size, procs_used;
        size_t *key_slots; /* index+1 into h->keys, 0 = empty */
        size_t key_slots_size, keys_alloc;
};

__attribute__((format(printf, 2, 3))) static int parse_fail(struct parser *p, const char *fmt, ...) {
        va_list ap;

        p->error->line_no = p->line_no;
        va_start(ap, fmt);
        (void) vsnprintf(p->error->message, sizeof(p->error->message), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static uint64_t hash_bytes(const void *data, size_t len) {
        const unsigned char *b = data;
        uint64_t x = 0xcbf29ce484222325u; /* FNV-1a */

        for (size_t i = 0; i < len; i++)
                x = (x ^ b[i]) * 0x100000001b3u;
        return x;
}

static int grow(void **array, size_t *alloc, size_t need, size_t elem) {
        size_t n;
        void *a;

        if (need <= *alloc)
                return 0;
        n = MAX(need, *alloc * 2);
        n = MAX(n, 16u);
        a = reallocarray(*array, n, elem);
        if (!a)
                return -ENOMEM;
        *array = a;
        *alloc = n;
        return 0;
}

static int intern_key(struct parser *p, const struct field *f, const char **ret) {
        struct history *h = p->h;
        size_t mask, i;
        char *copy;
        int r;

        if (h->n_keys * 2 >= p->key_slots_size) {
                size_t n = MAX(p->key_slots_size * 2, 64u);
                size_t *slots = calloc(n, sizeof(size_t));

                if (!slots)
                        return -ENOMEM;
                for (size_t k = 0; k < h->n_keys; k++) {
                        i = hash_bytes(h->keys[k], strlen(h->keys[k])) & (n - 1);
                        while (slots[i])
                                i = (i + 1) & (n - 1);
                        slots[i] = k + 1;
                }
                free(p->key_slots);
                p->key_slots = slots;
                p->key_slots_size = n;
        }
        mask = p->key_slots_size - 1;
        for (i = hash_bytes(f->p, f->len) & mask; p->key_slots[i]; i = (i + 1) & mask) {
                const char *k = h->keys[p->key_slots[i] - 1];

                if (strlen(k) == f->len && memcmp(k, f->p, f->len) == 0) {
                        *ret = k;
                        return 0;
                }
        }
        r = grow((void **) &h->keys, &p->keys_alloc, h->n_keys + 1, sizeof(char *));
        if (r < 0)
                return r;
        copy = strndup(f->p, f->len);
        if (!copy)
                return -ENOMEM;
        h->keys[h->n_keys++] = copy;
        p->key_slots[i] = h->n_keys;
        *ret = copy;
        return 0;
}

static int lookup_process(struct parser *p, uint64_t id, struct process_slot **ret) {
        size_t mask, i;

        if (p->procs_used * 2 >= p->procs_size) {
                size_t n = MAX(p->procs_size * 2, 64u);
                struct process_slot *t = calloc(n, sizeof(*t));

                if (!t)
                        return -ENOMEM;
                for (size_t k = 0; k < p->procs_size; k++) {
                        if (!p->procs[k].used)
                                continue;
                        i = hash_bytes(&p->procs[k].id, sizeof(uint64_t)) & (n - 1);
                        while (t[i].used)
                                i = (i + 1) & (n - 1);
                        t[i] = p->procs[k];
                }
                free(p->procs);
                p->procs = t;
                p->procs_size = n;
        }
        mask = p->procs_size - 1;
        for (i = hash_bytes(&id, sizeof(id)) & mask; p->procs[i].used; i = (i + 1) & mask)
                if (p->procs[i].id == id) {
                        *ret = &p->procs[i];
                        return 0;
                }
        p->procs[i] = (struct process_slot) { .id = id, .op = NO_EVENT, .used = true };
        p->procs_used++;
        *ret = &p->procs[i];
        return 0;
}

static bool field_is(const struct field *f, const char *s) {
        return strlen(s) == f->len && memcmp(f->p, s, f->len) == 0;
}

/* Decimal u64: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned d;

                if (s[i] < '0' || s[i] > '9')
                        return false;
                d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

static int field_u64(struct parser *p, const struct field *f, const char *what, uint64_t *ret) {
        if (!parse_u64(f->p, f->len, ret))
                return parse_fail(p, _("%s '%.*s' is not a decimal unsigned 64-bit number"), what,
                                  (int) MIN(f->len, 64u), f->p);
        return 0;
}

static int field_value(struct parser *p, const struct field *f, struct reg_value *ret) {
        if (field_is(f, "-")) {
                *ret = (struct reg_value) { .present = false };
                return 0;
        }
        ret->present = true;
        return field_u64(p, f, _("value"), &ret->v);
}

static int field_elements(struct parser *p, const struct field *f, struct op *op) {
        size_t n = 1, start = 0;

        if (field_is(f, "-"))
                return 0;
        for (size_t i = 0; i < f->len; i++)
                n += f->p[i] == ',';
        op->elements = calloc(n, sizeof(uint64_t));
        if (!op->elements)
                return -ENOMEM;
        for (size_t i = 0; i <= f->len; i++) {
                if (i < f->len && f->p[i] != ',')
                        continue;
                if (!parse_u64(f->p + start, i - start, &op->elements[op->n_elements]))
                        return parse_fail(p, _("element list '%.*s' is not '-' or decimal numbers separated by commas"),
                                          (int) MIN(f->len, 64u), f->p);
                op->n_elements++;
                start = i + 1;
        }
        return 0;
}

/* Split on single spaces; an empty field is an error, as is any control
 * character (tabs, carriage returns). */
static int split_fields(struct parser *p, const char *line, size_t len, struct field *fields, size_t *n) {
        size_t start = 0;

        *n = 0;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && (unsigned char) line[i] < 0x20)
                        return parse_fail(p, _("control character 0x%02x in the line"), (unsigned char) line[i]);
                if (i < len && line[i] == 0x7f)
                        return parse_fail(p, _("control character 0x7f in the line"));
                if (i < len && line[i] != ' ')
                        continue;
                if (i == start)
                        return parse_fail(p, _("empty field (fields are separated by exactly one space)"));
                if (*n == MAX_FIELDS)
                        return parse_fail(p, _("too many fields"));
                fields[(*n)++] = (struct field) { line + start, i - start };
                start = i + 1;
        }
        return 0;
}

static int parse_header(struct parser *p, const char *line, size_t len) {
        struct field f[MAX_FIELDS];
        size_t n;
        int r;

        if (len == 0 || line[0] != '#')
                return parse_fail(p, _("the first line must be '# raftd-history 1 seed=<SEED>'"));
        r = split_fields(p, line, len, f, &n);
        if (r < 0)
                return r;
        if (n < 4 || !field_is(&f[0], "#") || !field_is(&f[1], "raftd-history"))
                return parse_fail(p, _("the first line must be '# raftd-history 1 seed=<SEED>'"));
        if (!field_is(&f[2], "1"))
                return parse_fail(p, _("unsupported history format version '%.*s' (this checker reads version 1)"),
                                  (int) MIN(f[2].len, 64u), f[2].p);
        if (f[3].len < 5 || memcmp(f[3].p, "seed=", 5) != 0 || !parse_u64(f[3].p + 5, f[3].len - 5, &p->h->seed))
                return parse_fail(p, _("the header's third field must be seed=<decimal number>"));
        /* Later fields are name=value annotations a newer harness may add. */
        for (size_t i = 4; i < n; i++)
                if (!memchr(f[i].p, '=', f[i].len))
                        return parse_fail(p, _("header field '%.*s' is not name=value"), (int) MIN(f[i].len, 64u),
                                          f[i].p);
        return 0;
}

static int parse_comment(struct parser *p, const char *line, size_t len) {
        struct history_gap *g;
        struct field f[MAX_FIELDS];
        size_t n;
        int r;

        /* Only `# gap FROM TO` means something; other comments are free text. */
        if (len < 6 || memcmp(line, "# gap ", 6) != 0)
                return 0;
        r = split_fields(p, line, len, f, &n);
        if (r < 0)
                return r;
        if (n != 4)
                return parse_fail(p, _("a gap comment is '# gap FROM TO'"));
        r = grow((void **) &p->h->gaps, &p->gaps_alloc, p->h->n_gaps + 1, sizeof(struct history_gap));
        if (r < 0)
                return r;
        g = &p->h->gaps[p->h->n_gaps];
        g->line_no = p->line_no;
        r = field_u64(p, &f[2], _("gap start"), &g->from);
        if (r < 0)
                return r;
        r = field_u64(p, &f[3], _("gap end"), &g->to);
        if (r < 0)
                return r;
        if (g->to < g->from)
                return parse_fail(p, _("gap ends (%" PRIu64 ") before it starts (%" PRIu64 ")"), g->to, g->from);
        p->h->n_gaps++;
        return 0;
}

static const char *event_type_to_string(enum event_type t) {
        static const char *const names[] = { "invoke", "ok", "fail", "unknown" };
        return names[t];
}

/* Fill op's arguments from fields (after the kind); `is_invoke` says which
 * shape applies; with `match` the arguments must equal that op's. */
static int parse_args(struct parser *p, enum op_kind kind, enum event_type type, const struct field *f, size_t n,
                      struct op *op) {
        const struct kind_shape *s = &shapes[kind];
        size_t want = type == EVENT_OK ? s->n_ok : s->n_invoke;
        int r;

        if (n < want || n > want + (type == EVENT_FAIL || type == EVENT_UNKNOWN))
                return parse_fail(p, _("'%s %s' takes %zu arguments%s, not %zu"), event_type_to_string(type), s->name,
                                  want, type == EVENT_FAIL || type == EVENT_UNKNOWN ? _(" and an optional reason") : "",
                                  n);
        for (size_t i = 0; i < want; i++) {
                switch (s->args[i]) {
                case ARG_KEY:
                        r = intern_key(p, &f[i], &op->key);
                        break;
                case ARG_U64:
                        if (kind == OP_PUT || kind == OP_ADD) {
                                op->value.present = true;
                                r = field_u64(p, &f[i], _("value"), &op->value.v);
                        } else if (kind == OP_INCR) {
                                op->value.present = true;
                                r = field_u64(p, &f[i], _("new value"), &op->value.v);
                        } else if (kind == OP_APPLIED)
                                r = field_u64(p, &f[i], _("revision"), &op->num[0]);
                        else
                                r = field_u64(p, &f[i], _("number"), &op->num[i - 1]);
                        break;
                case ARG_VALUE:
                        r = field_value(p, &f[i], kind == OP_CAS && i == 1 ? &op->expected : &op->value);
                        break;
                case ARG_ELEMENTS:
                        r = field_elements(p, &f[i], op);
                        break;
                default:
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        if (n > want) {
                op->reason = strndup(f[want].p, f[want].len);
                if (!op->reason)
                        return -ENOMEM;
        }
        return 0;
}

static bool same_invoke_args(const struct op *a, const struct op *b) {
        if (a->key != b->key) /* interned */
                return false;
        switch (a->kind) {
        case OP_PUT:
        case OP_ADD:
                return a->value.v == b->value.v;
        case OP_CAS:
                return a->expected.present == b->expected.present && a->expected.v == b->expected.v &&
                       a->value.present == b->value.present && a->value.v == b->value.v;
        default:
                return true;
        }
}

static void op_done(struct op *op) {
        free(op->elements);
        free(op->reason);
}

static int parse_event(struct parser *p, const char *line, size_t len) {
        struct history *h = p->h;
        struct field f[MAX_FIELDS];
        struct process_slot *proc;
        struct event ev = { .line_no = p->line_no };
        struct op parsed = { .ev_invoke = NO_EVENT, .ev_complete = NO_EVENT };
        const struct kind_shape *s;
        size_t n, k;
        int r;

        r = split_fields(p, line, len, f, &n);
        if (r < 0)
                return r;
        if (n < 4)
                return parse_fail(p, _("an event is '<t_ns> <process> <type> <f> [args...]'"));
        r = field_u64(p, &f[0], _("time"), &ev.t_ns);
        if (r < 0)
                return r;
        r = field_u64(p, &f[1], _("process"), &ev.process);
        if (r < 0)
                return r;
        for (k = 0; k < 4 && !field_is(&f[2], event_type_to_string(k)); k++)
                ;
        if (k == 4)
                return parse_fail(p, _("unknown event type '%.*s' (invoke, ok, fail or unknown)"),
                                  (int) MIN(f[2].len, 64u), f[2].p);
        ev.type = k;
        for (k = 0; k < _OP_KIND_MAX && !field_is(&f[3], shapes[k].name); k++)
                ;
        if (k == _OP_KIND_MAX)
                return parse_fail(p, _("unknown operation '%.*s'"), (int) MIN(f[3].len, 64u), f[3].p);
        ev.kind = k;
        s = &shapes[k];

        parsed.kind = ev.kind;
        parsed.process = ev.process;
        r = parse_args(p, ev.kind, ev.type, f + 4, n - 4, &parsed);
        if (r < 0)
                goto fail;

        r = grow((void **) &h->events, &p->events_alloc, h->n_events + 1, sizeof(struct event));
        if (r < 0)
                goto fail;
        r = grow((void **) &h->ops, &p->ops_alloc, h->n_ops + 1, sizeof(struct op));
        if (r < 0)
                goto fail;

        if (s->observation) {
                if (ev.type != EVENT_OK && ev.type != EVENT_FAIL) {
                        r = parse_fail(p, _("'%s' is an observation: only 'ok' or 'fail' lines"), s->name);
                        goto fail;
                }
                if (ev.type == EVENT_OK && parsed.reason) {
                        r = parse_fail(p, _("an 'ok' line has no reason"));
                        goto fail;
                }
                if (ev.type == EVENT_FAIL && (ev.kind != OP_WRITE_FENCED || !parsed.reason ||
                                              strcmp(parsed.reason, "stale") != 0)) {
                        r = parse_fail(p, _("only 'fail write-fenced ... stale' is a failed observation"));
                        goto fail;
                }
                parsed.result = ev.type == EVENT_OK ? RESULT_OBSERVED_OK : RESULT_OBSERVED_FAIL;
                parsed.t_invoke = parsed.t_complete = ev.t_ns;
                parsed.ev_complete = h->n_events;
                h->ops[h->n_ops++] = parsed;
        } else {
                r = lookup_process(p, ev.process, &proc);
                if (r < 0)
                        goto fail;
                if (proc->retired) {
                        r = parse_fail(p, _("process %" PRIu64 " is used again after its 'unknown' completion"),
                                       ev.process);
                        goto fail;
                }
                if (ev.type == EVENT_INVOKE) {
                        if (proc->op != NO_EVENT) {
                                r = parse_fail(p, _("process %" PRIu64 " invokes while its operation from line %zu is outstanding"),
                                               ev.process, h->events[h->ops[proc->op].ev_invoke].line_no);
                                goto fail;
                        }
                        parsed.result = RESULT_PENDING;
                        parsed.t_invoke = ev.t_ns;
                        parsed.t_complete = UINT64_MAX;
                        parsed.ev_invoke = h->n_events;
                        proc->op = h->n_ops;
                        h->ops[h->n_ops++] = parsed;
                } else {
                        struct op *op;

                        if (proc->op == NO_EVENT) {
                                r = parse_fail(p, _("process %" PRIu64 " completes an operation it did not invoke"),
                                               ev.process);
                                goto fail;
                        }
                        op = &h->ops[proc->op];
                        if (op->kind != parsed.kind || !same_invoke_args(op, &parsed)) {
                                r = parse_fail(p, _("completion does not match the invoke of process %" PRIu64 " on line %zu"),
                                               ev.process, h->events[op->ev_invoke].line_no);
                                goto fail;
                        }
                        if (ev.t_ns < op->t_invoke) {
                                r = parse_fail(p, _("completion at %" PRIu64 " precedes its invoke at %" PRIu64),
                                               ev.t_ns, op->t_invoke);
                                goto fail;
                        }
                        if (ev.type == EVENT_OK && parsed.reason) {
                                r = parse_fail(p, _("an 'ok' line has no reason"));
                                goto fail;
                        }
                        /* What the completion adds: the value read, the
                         * elements read, the incremented value. */
                        if (ev.type == EVENT_OK && (op->kind == OP_GET || op->kind == OP_INCR))
                                op->value = parsed.value;
                        op->elements = TAKE_PTR(parsed.elements);
                        op->n_elements = parsed.n_elements;
                        op->reason = TAKE_PTR(parsed.reason);
                        op->result = ev.type == EVENT_OK   ? RESULT_OK
                                     : ev.type == EVENT_FAIL ? RESULT_FAIL
                                                             : RESULT_UNKNOWN;
                        op->t_complete = ev.t_ns;
                        op->ev_complete = h->n_events;
                        proc->op = NO_EVENT;
                        proc->retired = ev.type == EVENT_UNKNOWN;
                        op_done(&parsed);
                }
        }
        ev.text = strndup(line, len);
        if (!ev.text)
                return -ENOMEM; /* the op is in place and freed with h */
        h->events[h->n_events++] = ev;
        return 0;
fail:
        op_done(&parsed);
        return r;
}

static int parse_line(struct parser *p, const char *line, size_t len) {
        if (memchr(line, '\0', len))
                return parse_fail(p, _("NUL byte in the line"));
        if (p->line_no == 1)
                return parse_header(p, line, len);
        if (len == 0)
                return parse_fail(p, _("empty line"));
        if (line[0] == '#')
                return parse_comment(p, line, len);
        return parse_event(p, line, len);
}

int history_parse(const char *data, size_t size, struct history **ret, struct history_error *error) {
        struct parser p = { .error = error };
        size_t pos = 0;
        int r = 0;

        *error = (struct history_error) {};
        p.h = calloc(1, sizeof(struct history));
        if (!p.h)
                return -ENOMEM;
        while (pos < size) {
                const char *nl = memchr(data + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;

                p.line_no++;
                r = parse_line(&p, data + pos, len);
                if (r < 0)
                        break;
                pos += len + 1;
        }
        if (r == 0 && p.line_no == 0) {
                p.line_no = 1;
                r = parse_fail(&p, _("empty history: the first line must be '# raftd-history 1 seed=<SEED>'"));
        }
        free(p.procs);
        free(p.key_slots);
        if (r < 0) {
                if (r == -ENOMEM)
                        (void) snprintf(error->message, sizeof(error->message), "%s", _("out of memory"));
                history_free(p.h);
                return r;
        }
        *ret = p.h;
        return 0;
}

int history_parse_file(const char *path, struct history **ret, struct history_error *error) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        size_t size = 0, alloc = 0;
        struct stat st;

        *error = (struct history_error) {};
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;

                (void) snprintf(error->message, sizeof(error->message), _("cannot read %s: %s"), path, strerror(-r));
                return r;
        }
        for (;;) {
                ssize_t k;

                if (grow((void **) &data, &alloc, size + 65536, 1) < 0)
                        return -ENOMEM;
                k = read(fd, data + size, alloc - size);
                if (k < 0) {
                        int r = -errno;

                        (void) snprintf(error->message, sizeof(error->message), _("cannot read %s: %s"), path,
                                        strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        return history_parse(data, size, ret, error);
}

struct history *history_free(struct history *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_events; i++)
                free(h->events[i].text);
        for (size_t i = 0; i < h->n_ops; i++)
                op_done(&h->ops[i]);
        for (size_t i = 0; i < h->n_keys; i++)
                free(h->keys[i]);
        free(h->events);
        free(h->ops);
        free(h->gaps);
        free(h->keys);
        free(h);
        return NULL;
}
