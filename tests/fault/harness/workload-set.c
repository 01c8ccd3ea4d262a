/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The set workload: every client adds unique elements (a Put of
 * /fault/set/<S>/<E>); after the faults one linearizable List reads the
 * set back.  Every acknowledged add must be in it. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "shared/macro.h"

int workload_set(struct client *c) {
        int r = 0;

        while (r >= 0 && client_running(c)) {
                char path[96], op[96];
                uint64_t e = client_unique_value(c);
                struct call_status s;

                snprintf(path, sizeof(path), "/fault/set/%s/%" PRIu64, c->name, e);
                snprintf(op, sizeof(op), "add %s %" PRIu64, c->name, e);
                r = client_invoke(c, op);
                if (r < 0)
                        break;
                s = call_put(&c->caller, path, e);
                r = client_complete(c, &s, op, op);
        }
        return r;
}

/* The elements read so far, as the history line's comma-separated list. */
struct elements {
        char *text;
        size_t len, size;
        int error;
};

static void element_add(void *userdata, const char *key, uint64_t value) {
        struct elements *el = userdata;
        char item[32];
        int n;

        /* The key names the element; the value repeats it as a cross-check. */
        if (strtoull(key, NULL, 10) != value) {
                el->error = -EBADMSG;
                return;
        }
        n = snprintf(item, sizeof(item), "%s%" PRIu64, el->len > 0 ? "," : "", value);
        if (el->len + (size_t) n + 1 > el->size) {
                size_t size = MAX(el->size * 2, el->len + (size_t) n + 1024);
                char *text = realloc(el->text, size);

                if (!text) {
                        el->error = -ENOMEM;
                        return;
                }
                el->text = text;
                el->size = size;
        }
        memcpy(el->text + el->len, item, (size_t) n + 1);
        el->len += (size_t) n;
}

/* One try of the final read: every page, or the first failure. */
static struct call_status read_all(struct client *c, const char *prefix, struct elements *el) {
        char after[128] = "";
        bool more = true;
        struct call_status s = { .outcome = OUTCOME_OK };

        while (more && s.outcome == OUTCOME_OK) {
                char last[128];

                snprintf(last, sizeof(last), "%s", after);
                s = call_list_page(&c->caller, prefix, after, last, sizeof(last), &more, element_add, el);
                snprintf(after, sizeof(after), "%s", last);
                if (el->error < 0) {
                        s.outcome = OUTCOME_BROKEN;
                        snprintf(s.reason, sizeof(s.reason), "set element key and value differ or out of memory");
                }
        }
        return s;
}

int workload_set_final(struct client *c) {
        char prefix[96], op[96];

        snprintf(prefix, sizeof(prefix), "/fault/set/%s/", c->name);
        snprintf(op, sizeof(op), "read-set %s", c->name);
        for (;;) {
                struct elements el = {};
                struct call_status s;
                char *ok;
                int r;

                if (!client_running(c)) {
                        fprintf(stderr, "client %" PRIu64 ": no final read of set %s before the deadline\n", c->index,
                                c->name);
                        return -ETIMEDOUT;
                }
                r = client_invoke(c, op);
                if (r < 0)
                        return r;
                s = read_all(c, prefix, &el);
                if (asprintf(&ok, "read-set %s %s", c->name, el.len > 0 ? el.text : "-") < 0) {
                        free(el.text);
                        return -ENOMEM;
                }
                free(el.text);
                r = client_complete(c, &s, op, ok);
                free(ok);
                if (r < 0 || s.outcome == OUTCOME_OK)
                        return r;
                client_backoff();
        }
}
