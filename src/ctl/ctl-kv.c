/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* get, put, del, cas, list: org.raftd1.KV. */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

#define KV_FLAG_LOCAL UINT64_C(1)
#define LIST_PAGE 1000u

static void print_key_revision_json(const char *key, uint64_t revision) {
        fputs("{\"key\":", stdout);
        ctl_json_string(stdout, key, strlen(key));
        printf(",\"revision\":%" PRIu64 "}\n", revision);
}

int ctl_get(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key = c->args[0];
        const void *value;
        size_t len;
        uint64_t revision;
        int r;

        r = ctl_call(c, CTL_IFACE_KV, "Get", 0, &reply, &error, "st", key, c->local ? KV_FLAG_LOCAL : 0);
        if (r < 0)
                return ctl_call_failed(key, &error, r, false);
        r = sd_bus_message_read_array(reply, 'y', &value, &len);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &revision);
        if (r < 0)
                return ctl_parse_failed(r);

        if (c->json) {
                fputs("{\"key\":", stdout);
                ctl_json_string(stdout, key, strlen(key));
                printf(",\"revision\":%" PRIu64, revision);
                ctl_json_value_field(stdout, value, len);
                fputs("}\n", stdout);
        } else if (c->raw || !isatty(STDOUT_FILENO)) {
                fwrite(value, 1, len, stdout);
        } else {
                ctl_escaped(stdout, value, len);
                fputc('\n', stdout);
        }
        return ctl_flush_stdout();
}

static int print_revision(struct ctl *c, const char *key, sd_bus_message *reply) {
        uint64_t revision;
        int r;

        r = sd_bus_message_read(reply, "t", &revision);
        if (r < 0)
                return ctl_parse_failed(r);
        if (c->json)
                print_key_revision_json(key, revision);
        else
                printf("%" PRIu64 "\n", revision);
        return ctl_flush_stdout();
}

int ctl_put_check(const struct ctl *c) {
        if (c->n_args != (c->file ? 1 : 2)) {
                ctl_error(_("put takes KEY and VALUE (or \"-\" for standard input), or KEY and --file=PATH"));
                return CTL_EXIT_USAGE;
        }
        return CTL_EXIT_OK;
}

int ctl_put(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(ctl_value_done) struct ctl_value value = {};
        const char *key = c->args[0];
        int r;

        if (c->file)
                r = ctl_value_from_file(c->file, &value);
        else
                r = ctl_value_from_arg(c->args[1], &value);
        if (r != CTL_EXIT_OK)
                return r;

        r = sd_bus_message_new_method_call(c->bus, &call, CTL_BUS_NAME, CTL_BUS_PATH, CTL_IFACE_KV, "Put");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", key);
        if (r >= 0)
                r = sd_bus_message_append_array(call, 'y', value.data, value.len);
        if (r >= 0)
                r = sd_bus_message_append(call, "tt", c->lease, UINT64_C(0));
        if (r >= 0)
                r = sd_bus_call(c->bus, call, 0, &error, &reply);
        if (r < 0)
                return ctl_call_failed(key, &error, r, true);
        return print_revision(c, key, reply);
}

int ctl_del(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key = c->args[0];
        int r;

        r = ctl_call(c, CTL_IFACE_KV, "Delete", 0, &reply, &error, "st", key, UINT64_C(0));
        if (r < 0)
                return ctl_call_failed(key, &error, r, true);
        return print_revision(c, key, reply);
}

/* cas KEY [EXPECTED] [NEW]: --absent drops EXPECTED (the key must not
 * exist), --delete drops NEW (swap to absent); --expected-file and --file
 * take them from files instead. */
int ctl_cas_check(const struct ctl *c) {
        if (c->expect_absent && c->expected_file) {
                ctl_error(_("--absent and --expected-file exclude each other"));
                return CTL_EXIT_USAGE;
        }
        if (c->swap_to_absent && c->file) {
                ctl_error(_("--delete and --file exclude each other"));
                return CTL_EXIT_USAGE;
        }
        if (c->n_args != 1 + (!c->expect_absent && !c->expected_file) + (!c->swap_to_absent && !c->file)) {
                ctl_error(_("cas takes KEY, then EXPECTED unless --absent or --expected-file, then NEW unless "
                            "--delete or --file; see raftctl cas --help"));
                return CTL_EXIT_USAGE;
        }
        if ((c->expected_file && strcmp(c->expected_file, "-") == 0) + (c->file && strcmp(c->file, "-") == 0) +
                    (!c->expect_absent && !c->expected_file && strcmp(c->args[1], "-") == 0) +
                    (!c->swap_to_absent && !c->file && strcmp(c->args[c->n_args - 1], "-") == 0) >
            1) {
                ctl_error(_("Only one value can come from standard input"));
                return CTL_EXIT_USAGE;
        }
        return CTL_EXIT_OK;
}

int ctl_cas(struct ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(ctl_value_done) struct ctl_value expected = {}, new_value = {};
        const char *key = c->args[0];
        int next = 1, swapped, r;
        uint64_t revision;

        r = CTL_EXIT_OK;
        if (c->expected_file)
                r = ctl_value_from_file(c->expected_file, &expected);
        else if (!c->expect_absent)
                r = ctl_value_from_arg(c->args[next++], &expected);
        if (r != CTL_EXIT_OK)
                return r;
        if (c->file)
                r = ctl_value_from_file(c->file, &new_value);
        else if (!c->swap_to_absent)
                r = ctl_value_from_arg(c->args[next++], &new_value);
        if (r != CTL_EXIT_OK)
                return r;

        r = sd_bus_message_new_method_call(c->bus, &call, CTL_BUS_NAME, CTL_BUS_PATH, CTL_IFACE_KV,
                                           "CompareAndSwap");
        if (r >= 0)
                r = sd_bus_message_append(call, "sb", key, (int) !c->expect_absent);
        if (r >= 0)
                r = sd_bus_message_append_array(call, 'y', expected.data, expected.len);
        if (r >= 0)
                r = sd_bus_message_append(call, "b", (int) !c->swap_to_absent);
        if (r >= 0)
                r = sd_bus_message_append_array(call, 'y', new_value.data, new_value.len);
        if (r >= 0)
                r = sd_bus_message_append(call, "t", UINT64_C(0));
        if (r >= 0)
                r = sd_bus_call(c->bus, call, 0, &error, &reply);
        if (r < 0)
                return ctl_call_failed(key, &error, r, true);
        r = sd_bus_message_read(reply, "bt", &swapped, &revision);
        if (r < 0)
                return ctl_parse_failed(r);

        if (c->json) {
                fputs("{\"key\":", stdout);
                ctl_json_string(stdout, key, strlen(key));
                printf(",\"swapped\":%s,\"revision\":%" PRIu64 "}\n", swapped ? "true" : "false", revision);
        } else if (swapped)
                printf("%" PRIu64 "\n", revision);
        r = ctl_flush_stdout();
        if (r != CTL_EXIT_OK)
                return r;
        if (!swapped) {
                ctl_error(_("%s: not swapped: the key's value is not the expected one"), key);
                return CTL_EXIT_CAS_FAILED;
        }
        return CTL_EXIT_OK;
}

struct list_columns {
        size_t key_width;
        bool header_done;
};

static void list_print_human(struct list_columns *cols, const char *key, const void *value, size_t len,
                             uint64_t revision) {
        if (!cols->header_done) {
                ctl_print_padded(stdout, _("KEY"), cols->key_width);
                printf(" %10s  %s\n", _("REVISION"), _("VALUE"));
                cols->header_done = true;
        }
        ctl_print_padded(stdout, key, cols->key_width);
        printf(" %10" PRIu64 "  ", revision);
        ctl_escaped(stdout, value, len);
        fputc('\n', stdout);
}

/* Every page in turn, each printed before the next is asked for: memory
 * stays bounded by one page however many keys there are. */
int ctl_list(struct ctl *c) {
        _cleanup_free_ char *after = strdup("");
        const char *prefix = c->n_args > 0 ? c->args[0] : "";
        struct list_columns cols = { .key_width = ctl_text_width(_("KEY")) };
        size_t n_entries = 0;
        int more = 1, r;

        if (!after) {
                ctl_error(_("Out of memory"));
                return CTL_EXIT_FAILURE;
        }
        if (c->json)
                fputs("{\"entries\":[", stdout);
        while (more) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *key = NULL;
                const void *value;
                uint64_t revision;
                size_t len;

                r = ctl_call(c, CTL_IFACE_KV, "List", 0, &reply, &error, "ssut", prefix, after, LIST_PAGE,
                             c->local ? KV_FLAG_LOCAL : 0);
                if (r < 0) {
                        if (c->json && n_entries > 0)
                                fputs("]}\n", stdout);
                        (void) fflush(stdout);
                        return ctl_call_failed(prefix[0] ? prefix : _("list"), &error, r, false);
                }
                /* The widest key of the first page sets the column. */
                if (!c->json && !cols.header_done) {
                        r = sd_bus_message_enter_container(reply, 'a', "(sayt)");
                        while (r > 0) {
                                r = sd_bus_message_enter_container(reply, 'r', "sayt");
                                if (r <= 0)
                                        break;
                                r = sd_bus_message_read(reply, "s", &key);
                                if (r >= 0)
                                        r = sd_bus_message_skip(reply, "ayt");
                                if (r >= 0)
                                        r = sd_bus_message_exit_container(reply);
                                if (r >= 0)
                                        cols.key_width = MAX(cols.key_width, ctl_text_width(key));
                        }
                        if (r < 0)
                                return ctl_parse_failed(r);
                        r = sd_bus_message_rewind(reply, true);
                        if (r < 0)
                                return ctl_parse_failed(r);
                }
                r = sd_bus_message_enter_container(reply, 'a', "(sayt)");
                if (r < 0)
                        return ctl_parse_failed(r);
                for (;;) {
                        r = sd_bus_message_enter_container(reply, 'r', "sayt");
                        if (r < 0)
                                return ctl_parse_failed(r);
                        if (r == 0)
                                break;
                        r = sd_bus_message_read(reply, "s", &key);
                        if (r >= 0)
                                r = sd_bus_message_read_array(reply, 'y', &value, &len);
                        if (r >= 0)
                                r = sd_bus_message_read(reply, "t", &revision);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                return ctl_parse_failed(r);
                        if (c->json) {
                                fputs(n_entries > 0 ? ",{\"key\":" : "{\"key\":", stdout);
                                ctl_json_string(stdout, key, strlen(key));
                                printf(",\"revision\":%" PRIu64, revision);
                                ctl_json_value_field(stdout, value, len);
                                fputc('}', stdout);
                        } else
                                list_print_human(&cols, key, value, len, revision);
                        n_entries++;
                }
                r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "b", &more);
                if (r < 0)
                        return ctl_parse_failed(r);
                if (more) {
                        if (!key) {
                                ctl_error(_("The node announced another page after an empty one"));
                                return CTL_EXIT_FAILURE;
                        }
                        free(after);
                        after = strdup(key);
                        if (!after) {
                                ctl_error(_("Out of memory"));
                                return CTL_EXIT_FAILURE;
                        }
                }
                r = ctl_flush_stdout();
                if (r != CTL_EXIT_OK)
                        return r;
        }
        if (c->json)
                fputs("]}\n", stdout);
        return ctl_flush_stdout();
}
