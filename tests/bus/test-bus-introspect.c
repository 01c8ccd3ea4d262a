/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The API contract in dbus/org.raftd1.xml is what a running node serves:
 * interfaces, methods, signals, arguments (names, types, directions) and
 * properties (names, types, access), ignoring the standard interfaces,
 * annotations, comments and layout. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#include "bus-cluster.h"

#ifndef API_XML_PATH
#error "API_XML_PATH must name dbus/org.raftd1.xml"
#endif

/* The value of attribute name in the tag [tag, end), or "". */
static void attr(const char *tag, const char *end, const char *name, char *out, size_t size) {
        size_t n = strlen(name);

        out[0] = 0;
        for (const char *p = tag + 1; p + n + 2 < end; p++)
                if ((p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && strncmp(p, name, n) == 0 && p[n] == '=' &&
                    (p[n + 1] == '"' || p[n + 1] == '\'')) {
                        const char *v = p + n + 2, *q = memchr(v, p[n + 1], (size_t) (end - v));

                        if (q && (size_t) (q - v) < size) {
                                memcpy(out, v, (size_t) (q - v));
                                out[q - v] = 0;
                        }
                        return;
                }
}

static int compare_lines(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* One line per interface, member, argument (numbered) and property,
 * sorted: the order of interfaces and members carries no meaning. */
static char *canonical(const char *xml) {
        char *out = NULL, iface[256] = "", member[256] = "", *lines[512], *sorted = NULL, *save = NULL;
        size_t size = 0, n = 0;
        unsigned arg = 0;
        bool skip = false, in_signal = false;
        FILE *f = open_memstream(&out, &size);
        const char *p = xml;

        assert_non_null(f);
        while ((p = strchr(p, '<'))) {
                const char *end;
                char name[256], type[256], dir[32], access[32];

                if (strncmp(p, "<!--", 4) == 0) {
                        end = strstr(p, "-->");
                        assert_non_null(end);
                        p = end + 3;
                        continue;
                }
                end = strchr(p, '>');
                assert_non_null(end);
                attr(p, end, "name", name, sizeof(name));
                attr(p, end, "type", type, sizeof(type));
                attr(p, end, "direction", dir, sizeof(dir));
                attr(p, end, "access", access, sizeof(access));
                if (strncmp(p, "<interface ", 11) == 0) {
                        snprintf(iface, sizeof(iface), "%s", name);
                        skip = strncmp(iface, "org.freedesktop.DBus.", 21) == 0;
                        if (!skip)
                                fprintf(f, "interface %s\n", iface);
                } else if (skip) {
                        /* A standard interface's members. */
                } else if (strncmp(p, "<method ", 8) == 0 || strncmp(p, "<signal ", 8) == 0) {
                        in_signal = p[1] == 's';
                        snprintf(member, sizeof(member), "%s", name);
                        arg = 0;
                        fprintf(f, "%s.%s %s\n", iface, member, in_signal ? "signal" : "method");
                } else if (strncmp(p, "<arg ", 5) == 0)
                        /* Signal arguments are "out" by definition. */
                        fprintf(f, "%s.%s arg%u %s %s %s\n", iface, member, arg++, name, type,
                                in_signal ? "out" : dir[0] ? dir : "in");
                else if (strncmp(p, "<property ", 10) == 0)
                        fprintf(f, "%s.%s property %s %s\n", iface, name, type, access);
                p = end + 1;
        }
        fclose(f);

        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                assert_true(n < ELEMENTSOF(lines));
                lines[n++] = l;
        }
        qsort(lines, n, sizeof(lines[0]), compare_lines);
        f = open_memstream(&sorted, &size);
        assert_non_null(f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\n", lines[i]);
        fclose(f);
        free(out);
        return sorted;
}

/* Print the lines of a that b lacks. */
static void report_missing(const char *title, const char *a, const char *b) {
        for (const char *l = a, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
                bool found = false;

                for (const char *m = b, *ml; (ml = strchr(m, '\n')) && !found; m = ml + 1)
                        found = ml - m == nl - l && strncmp(m, l, (size_t) (nl - l)) == 0;
                if (!found)
                        fprintf(stderr, "%s: %.*s\n", title, (int) (nl - l), l);
        }
}

static struct bus_cluster c;

static int setup(void **state) {
        if (cluster_start(&c, 1) < 0) {
                /* cmocka runs no teardown after a failed setup. */
                (void) cluster_stop(&c);
                return -1;
        }
        return 0;
}

static bool stop_failed;

static int teardown(void **state) {
        /* cmocka reports a failed group teardown but does not count it. */
        stop_failed = cluster_stop(&c) < 0;
        return stop_failed ? -1 : 0;
}

static void test_served_api_equals_the_xml_contract(void **state) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *served;
        char *contract = NULL, *want, *got;
        size_t len = 0;
        FILE *f;
        sd_bus *bus;

        f = fopen(API_XML_PATH, "re");
        assert_non_null(f);
        assert_true(getdelim(&contract, &len, 0, f) > 0);
        fclose(f);

        bus = cluster_client(&c, 1);
        assert_int_equal(sd_bus_call_method(bus, "org.raftd1", "/org/raftd1", "org.freedesktop.DBus.Introspectable",
                                            "Introspect", &e, &reply, ""),
                         1);
        assert_int_equal(sd_bus_message_read(reply, "s", &served), 1);

        want = canonical(contract);
        got = canonical(served);
        /* Guard the guard: the contract has all three interfaces. */
        assert_non_null(strstr(want, "interface org.raftd1.KV\n"));
        assert_non_null(strstr(want, "interface org.raftd1.Lock\n"));
        assert_non_null(strstr(want, "interface org.raftd1.Cluster\n"));
        report_missing("only in dbus/org.raftd1.xml", want, got);
        report_missing("only in the served API", got, want);
        assert_true(strcmp(want, got) == 0);

        free(want);
        free(got);
        free(contract);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_served_api_equals_the_xml_contract),
        };

        int failed = cmocka_run_group_tests(tests, setup, teardown);

        return failed > 0 ? failed : stop_failed;
}
