/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* raftd's configuration file and command line: what a good file sets, that
 * every mistake is named by file, line and key, systemd's value notations,
 * and the order defaults < $STATE_DIRECTORY < file < command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pwd.h>

#include "daemon/args.h"
#include "daemon/config-value.h"
#include "daemon/config.h"

struct captured {
        char text[8192];
        unsigned lines;
};

static void capture(void *userdata, int priority, const char *message) {
        struct captured *c = userdata;
        size_t len = strlen(c->text);

        (void) snprintf(c->text + len, sizeof(c->text) - len, "%d %s\n", priority, message);
        c->lines++;
}

static int parse_text(struct daemon_config *c, const char *text, struct captured *cap) {
        struct log_sink sink = { capture, cap };

        memset(cap, 0, sizeof(*cap));
        assert_int_equal(daemon_config_init(c, NULL), 0);
        return daemon_config_parse(c, "/etc/raftd/test.conf", text, &sink);
}

static void good_file_sets_every_key(void **state) {
        static const char text[] = "# a node of three\n"
                                   "[Node]\n"
                                   "Id = 2\n"
                                   "Listen=10.0.0.2:7001\n"
                                   "DataDirectory=/srv/raftd\n"
                                   "ClusterKeyFile=/etc/raftd/k.key\n"
                                   "LogLevel=debug\n"
                                   "\n"
                                   "[Peers]\n"
                                   "1=10.0.0.1:7001\n"
                                   "2=10.0.0.2:7001\n"
                                   "3=[::1]:7003\n"
                                   "; limits\n"
                                   "[Limits]\n"
                                   "MaxKeyLength=512\n"
                                   "MaxValueSize=64K\n"
                                   "SnapshotEntries=500\n"
                                   "SnapshotTrailingEntries=2000\n"
                                   "[Timeouts]\n"
                                   "HeartbeatSec=50ms\n"
                                   "ElectionSec=1.5s\n"
                                   "RequestSec=1min 30s\n"
                                   "SessionTTLSec=20\n"
                                   "[Access]\n"
                                   "ReadUsers=*\n"
                                   "WriteUsers=root 1000\n"
                                   "WriteUsers=1001\n"
                                   "AdminUsers=\n"
                                   "[Bus]\n"
                                   "Address=unix:path=/run/raftd-test/bus\n";
        struct daemon_config c;
        struct captured cap;

        assert_int_equal(parse_text(&c, text, &cap), 0);
        assert_int_equal(cap.lines, 0);
        assert_int_equal(c.id, 2);
        assert_string_equal(c.listen, "10.0.0.2:7001");
        assert_string_equal(c.data_dir, "/srv/raftd");
        assert_string_equal(c.key_file, "/etc/raftd/k.key");
        assert_int_equal(c.log_level, LOG_DEBUG);
        assert_int_equal(c.n_peers, 3);
        assert_int_equal(c.peers[2].id, 3);
        assert_string_equal(c.peers[2].address, "[::1]:7003");
        assert_int_equal(c.max_key_len, 512);
        assert_int_equal(c.max_value_size, 64 * 1024);
        assert_int_equal(c.snapshot_entries, 500);
        assert_int_equal(c.snapshot_trailing, 2000);
        assert_int_equal(c.heartbeat_ms, 50);
        assert_int_equal(c.election_ms, 1500);
        assert_int_equal(c.request_timeout_ms, 90000);
        assert_int_equal(c.session_ttl_ms, 20000);
        assert_true(c.read_users.everyone);
        assert_true(daemon_users_contain(&c.read_users, 4242));
        assert_true(daemon_users_contain(&c.write_users, 1000));
        assert_true(daemon_users_contain(&c.write_users, 1001)); /* repeated lines accumulate */
        assert_false(daemon_users_contain(&c.write_users, 1002));
        assert_false(daemon_users_contain(&c.lock_users, 1000));
        assert_true(daemon_users_contain(&c.admin_users, 0)); /* root always */
        assert_string_equal(c.bus_address, "unix:path=/run/raftd-test/bus");
        assert_int_equal(daemon_config_validate(&c, NULL), 0);
        daemon_config_done(&c);
}

static void shipped_example_config_loads_and_validates(void **state) {
        struct daemon_config c;
        struct captured cap = { 0 };
        struct log_sink sink = { capture, &cap };

        assert_int_equal(daemon_config_init(&c, NULL), 0);
        assert_int_equal(daemon_config_load(&c, EXAMPLE_CONFIG, &sink), 0);
        assert_int_equal(daemon_config_validate(&c, &sink), 0);
        assert_int_equal(cap.lines, 0);
        assert_int_equal(c.id, 1);
        assert_int_equal(c.n_peers, 3);
        daemon_config_done(&c);
}

static void defaults_are_libraftds_and_access_is_root_only(void **state) {
        struct daemon_config c;
        struct raftd_config d;

        raftd_config_init(&d);
        assert_int_equal(daemon_config_init(&c, NULL), 0);
        assert_string_equal(c.data_dir, "/var/lib/raftd");
        assert_string_equal(c.key_file, "/etc/raftd/cluster.key");
        assert_int_equal(c.heartbeat_ms, d.heartbeat_ms);
        assert_int_equal(c.max_value_size, d.max_value_size);
        assert_null(c.bus_address);
        assert_false(c.user_bus);
        assert_true(daemon_users_contain(&c.admin_users, 0));
        assert_false(daemon_users_contain(&c.admin_users, 1000));
        assert_false(daemon_users_contain(&c.read_users, 1000));
        daemon_config_done(&c);
}

struct bad_case {
        const char *text;
        const char *expect; /* a substring of the one error line */
};

static void every_error_names_file_line_and_key(void **state) {
        static const struct bad_case cases[] = {
                { "[Node]\nId=1\nListn=1.2.3.4:5\n", "/etc/raftd/test.conf:3: [Node] Listn=: unknown key" },
                { "[Node]\nId=0\n", "test.conf:2: [Node] Id=: expected a node id" },
                { "[Node]\nId=x\n", "test.conf:2: [Node] Id=: expected a node id" },
                { "[Node]\n\n\nListen=nohost\n", "test.conf:4: [Node] Listen=: expected a numeric address" },
                { "[Node]\nListen=127.0.0.1:70000\n", "test.conf:2: [Node] Listen=: expected a numeric address" },
                { "[Node]\nListen=localhost:7001\n", "test.conf:2: [Node] Listen=: expected a numeric address" },
                { "[Node]\nListen=[::1:7001\n", "test.conf:2: [Node] Listen=: expected a numeric address" },
                { "[Node]\nJoin=maybe\n", "test.conf:2: [Node] Join=: expected a boolean" },
                { "[Node]\nLogLevel=loud\n", "test.conf:2: [Node] LogLevel=: expected a log level" },
                { "[Node]\nDataDirectory=\n", "test.conf:2: [Node] DataDirectory=: expected a path" },
                { "[Timeouts]\nHeartbeatSec=fast\n", "test.conf:2: [Timeouts] HeartbeatSec=: expected a time span" },
                { "[Timeouts]\nElectionSec=500us\n", "test.conf:2: [Timeouts] ElectionSec=: expected a time span" },
                { "[Timeouts]\nRequestSec=5 parsecs\n", "test.conf:2: [Timeouts] RequestSec=: expected a time span" },
                { "[Limits]\nMaxValueSize=1X\n", "test.conf:2: [Limits] MaxValueSize=: expected a size" },
                { "[Limits]\nMaxKeyLength=0\n", "test.conf:2: [Limits] MaxKeyLength=: expected a size" },
                { "[Limits]\nSnapshotEntries=-5\n", "test.conf:2: [Limits] SnapshotEntries=: expected a positive" },
                { "[Access]\nLockUsers=root no-such-user-raftd\n",
                  "test.conf:2: [Access] LockUsers=: no such user \"no-such-user-raftd\"" },
                { "[Access]\nReadUsers=4294967295\n", "test.conf:2: [Access] ReadUsers=: invalid uid" },
                { "[Peers]\nx=1.2.3.4:5\n", "test.conf:2: [Peers] x=: expected lines of the form ID=ADDRESS:PORT" },
                { "[Peers]\n2=1.2.3.4\n", "test.conf:2: [Peers] 2=: expected a numeric address" },
                { "[Bus]\nUserBus=perhaps\n", "test.conf:2: [Bus] UserBus=: expected a boolean" },
                { "[Nodes]\nId=1\n", "test.conf:1: unknown section [Nodes]" },
                { "[Node\n", "test.conf:1: expected a section header" },
                { "Id=1\n", "test.conf:1: key \"Id\" outside of a section" },
                { "[Node]\nId 1\n", "test.conf:2: expected KEY=VALUE" },
                /* A key of another section is as unknown as a typo. */
                { "[Limits]\nId=1\n", "test.conf:2: [Limits] Id=: unknown key" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct daemon_config c;
                struct captured cap;

                assert_int_equal(parse_text(&c, cases[i].text, &cap), -EINVAL);
                if (cap.lines != 1 || !strstr(cap.text, cases[i].expect))
                        fail_msg("case %zu: expected one line with \"%s\", got:\n%s", i, cases[i].expect, cap.text);
                assert_int_equal(atoi(cap.text), LOG_ERR);
                daemon_config_done(&c);
        }
}

static void every_bad_line_of_a_file_is_reported_not_just_the_first(void **state) {
        struct daemon_config c;
        struct captured cap;

        assert_int_equal(parse_text(&c, "[Node]\nId=a\nListen=b\nJoin=c\n", &cap), -EINVAL);
        assert_int_equal(cap.lines, 3);
        assert_non_null(strstr(cap.text, ":2: [Node] Id="));
        assert_non_null(strstr(cap.text, ":3: [Node] Listen="));
        assert_non_null(strstr(cap.text, ":4: [Node] Join="));
        daemon_config_done(&c);
}

static void time_spans_in_systemd_notation(void **state) {
        static const struct {
                const char *s;
                uint64_t usec;
        } good[] = {
                { "100ms", 100000 },   { "1s", 1000000 },      { "5min", 300000000 },       { "1.5s", 1500000 },
                { "1min 30s", 90000000 }, { "2", 2000000 },    { "250 msec", 250000 },      { "1h", 3600000000 },
                { "2 seconds", 2000000 }, { "10us", 10 },      { "1d", 86400000000 },        { "0.25", 250000 },
                { " 3s ", 3000000 },    { "1m1s", 61000000 },
        };
        static const char *const bad[] = { "", "abc", "5 parsecs", "-1", "1s x", ".", "1.5.2s", "s" };
        uint64_t v;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                if (parse_timespan_usec(good[i].s, &v) != 0 || v != good[i].usec)
                        fail_msg("\"%s\": expected %" PRIu64 "us, got %" PRIu64, good[i].s, good[i].usec, v);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse_timespan_usec(bad[i], &v) >= 0)
                        fail_msg("\"%s\" was accepted as %" PRIu64 "us", bad[i], v);
        assert_int_equal(parse_timespan_usec("99999999999999999999s", &v), -ERANGE);
        assert_int_equal(parse_timespan_ms("500us", 1000, &v), -ERANGE);
        assert_int_equal(parse_timespan_ms("2s", 1000, &v), -ERANGE);
        assert_int_equal(parse_timespan_ms("1s", 1000, &v), 0);
        assert_int_equal(v, 1000);
}

static void sizes_are_1024_based_with_optional_suffix(void **state) {
        uint64_t v;

        assert_int_equal(parse_size("512", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(parse_size("64K", &v), 0);
        assert_int_equal(v, 65536);
        assert_int_equal(parse_size("1M", &v), 0);
        assert_int_equal(v, 1048576);
        assert_int_equal(parse_size("1MiB", &v), 0);
        assert_int_equal(v, 1048576);
        assert_int_equal(parse_size("2G", &v), 0);
        assert_int_equal(v, UINT64_C(2) << 30);
        assert_int_equal(parse_size("1X", &v), -EINVAL);
        assert_int_equal(parse_size("K", &v), -EINVAL);
        assert_int_equal(parse_size("-1", &v), -EINVAL);
        assert_int_equal(parse_size("1Kx", &v), -EINVAL);
        assert_int_equal(parse_size("99999999999T", &v), -ERANGE);
}

static void users_by_name_and_uid(void **state) {
        struct passwd *nobody = getpwnam("nobody");
        struct daemon_config c;
        struct captured cap;
        uid_t uid;

        assert_non_null(nobody);
        assert_int_equal(parse_user("root", &uid), 0);
        assert_int_equal(uid, 0);
        assert_int_equal(parse_user("1234", &uid), 0);
        assert_int_equal(uid, 1234);
        assert_int_equal(parse_user("nobody", &uid), 0);
        assert_int_equal(uid, nobody->pw_uid);
        assert_int_equal(parse_user("no-such-user-raftd", &uid), -ESRCH);

        assert_int_equal(parse_text(&c, "[Access]\nLockUsers=nobody 1234\n", &cap), 0);
        assert_true(daemon_users_contain(&c.lock_users, nobody->pw_uid));
        assert_true(daemon_users_contain(&c.lock_users, 1234));
        assert_false(daemon_users_contain(&c.lock_users, 1235));
        daemon_config_done(&c);

        /* An empty assignment empties what earlier lines set. */
        assert_int_equal(parse_text(&c, "[Access]\nReadUsers=* 1234\nReadUsers=\nReadUsers=55\n", &cap), 0);
        assert_false(c.read_users.everyone);
        assert_false(daemon_users_contain(&c.read_users, 1234));
        assert_true(daemon_users_contain(&c.read_users, 55));
        daemon_config_done(&c);
}

static char tmpdir[64];

static int make_tmpdir(void **state) {
        strcpy(tmpdir, "/tmp/raftd-config-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        (void) unsetenv("STATE_DIRECTORY");
        return 0;
}

static int remove_tmpdir(void **state) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        (void) !system(cmd);
        return 0;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int parse_args(struct daemon_args *a, struct captured *cap, char **argv) {
        struct log_sink sink = { capture, cap };
        FILE *out = fopen("/dev/null", "we");
        int argc = 0, r;

        memset(cap, 0, sizeof(*cap));
        while (argv[argc])
                argc++;
        r = daemon_args_parse(a, argc, argv, out, &sink);
        fclose(out);
        return r;
}

static void command_line_overrides_win_over_the_file(void **state) {
        char path[128], config_arg[160];
        struct daemon_config c;
        struct daemon_args a;
        struct captured cap;
        struct log_sink sink = { capture, &cap };

        snprintf(path, sizeof(path), "%s/node.conf", tmpdir);
        write_file(path, "[Node]\nId=1\nListen=127.0.0.1:7001\nDataDirectory=/from/file\n"
                         "[Peers]\n1=127.0.0.1:7001\n2=127.0.0.1:7002\n"
                         "[Bus]\nUserBus=yes\n");
        snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
        char *argv[] = { "raftd", config_arg, "--id", "2", "--listen=127.0.0.1:9002", "--data-dir=/from/args",
                         "--peer=2=127.0.0.1:9002", "--peer", "3=127.0.0.1:9003", "--bus-address=unix:path=/x",
                         "--log-level=warning", "--no-bus", NULL };

        assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_RUN);
        assert_int_equal(daemon_config_read(&c, &a, &sink), 0);
        assert_int_equal(c.id, 2);
        assert_string_equal(c.listen, "127.0.0.1:9002");
        assert_string_equal(c.data_dir, "/from/args");
        assert_int_equal(c.n_peers, 3);
        assert_string_equal(c.peers[0].address, "127.0.0.1:7001");
        assert_string_equal(c.peers[1].address, "127.0.0.1:9002"); /* replaced, not duplicated */
        assert_string_equal(c.peers[2].address, "127.0.0.1:9003");
        assert_string_equal(c.bus_address, "unix:path=/x");
        assert_false(c.user_bus); /* an explicit address wins over UserBus= */
        assert_int_equal(c.log_level, LOG_WARNING);
        assert_true(c.no_bus);
        daemon_config_done(&c);
        daemon_args_done(&a);
}

static void state_directory_from_systemd_is_the_default_data_dir_but_the_file_wins(void **state) {
        char path[128], config_arg[160];
        struct daemon_config c;
        struct daemon_args a;
        struct captured cap;
        struct log_sink sink = { capture, &cap };

        snprintf(path, sizeof(path), "%s/sd.conf", tmpdir);
        write_file(path, "[Node]\nId=1\nListen=127.0.0.1:7001\n[Peers]\n1=127.0.0.1:7001\n");
        snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
        char *argv[] = { "raftd", config_arg, NULL };

        assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/raftd/b:/var/lib/other", 1), 0);
        assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_RUN);
        assert_int_equal(daemon_config_read(&c, &a, &sink), 0);
        assert_string_equal(c.data_dir, "/var/lib/raftd/b");
        daemon_config_done(&c);
        daemon_args_done(&a);

        write_file(path, "[Node]\nId=1\nListen=127.0.0.1:7001\nDataDirectory=/srv/n1\n[Peers]\n1=127.0.0.1:7001\n");
        assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_RUN);
        assert_int_equal(daemon_config_read(&c, &a, &sink), 0);
        assert_string_equal(c.data_dir, "/srv/n1");
        daemon_config_done(&c);
        daemon_args_done(&a);
        assert_int_equal(unsetenv("STATE_DIRECTORY"), 0);
}

static void instance_names_its_config_file_and_state_directory(void **state) {
        char *argv[] = { "raftd", "--instance=raftd-test-no-such-instance", "--id=1", "--listen=127.0.0.1:7001",
                         "--peer=1=127.0.0.1:7001", NULL };
        struct daemon_config c;
        struct daemon_args a;
        struct captured cap;
        struct log_sink sink = { capture, &cap };
        char *path;

        assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_RUN);
        path = daemon_args_config_path(&a);
        assert_string_equal(path, "/etc/raftd/raftd-test-no-such-instance.conf");
        free(path);
        /* The instance's file does not exist: not fatal without --config. */
        assert_int_equal(daemon_config_read(&c, &a, &sink), 0);
        assert_string_equal(c.data_dir, "/var/lib/raftd/raftd-test-no-such-instance");
        assert_non_null(strstr(cap.text, "No configuration file /etc/raftd/raftd-test-no-such-instance.conf"));
        daemon_config_done(&c);
        daemon_args_done(&a);
}

static void a_missing_explicit_config_file_is_an_error(void **state) {
        char *argv[] = { "raftd", "--config=/nonexistent/raftd.conf", "--id=1", "--listen=127.0.0.1:7001",
                         "--peer=1=127.0.0.1:7001", NULL };
        struct daemon_config c;
        struct daemon_args a;
        struct captured cap;
        struct log_sink sink = { capture, &cap };

        assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_RUN);
        assert_int_equal(daemon_config_read(&c, &a, &sink), -ENOENT);
        assert_non_null(strstr(cap.text, "/nonexistent/raftd.conf"));
        daemon_args_done(&a);
}

static void bad_command_lines_are_refused_with_the_option_named(void **state) {
        static const struct {
                char *arg;
                const char *expect;
        } cases[] = {
                { "--id=0", "--id=0" },
                { "--id=-3", "--id=-3" },
                { "--listen=localhost", "--listen=localhost" },
                { "--peer=1:127.0.0.1:1", "--peer=1:127.0.0.1:1" },
                { "--peer=0=127.0.0.1:1", "--peer=0=127.0.0.1:1" },
                { "--instance=../etc", "--instance=../etc" },
                { "--log-level=chatty", "--log-level=chatty" },
                { "--frobnicate", "--frobnicate" },
                { "stray", "\"stray\"" },
        };
        struct daemon_args a;
        struct captured cap;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *argv[] = { "raftd", cases[i].arg, NULL };

                assert_int_equal(parse_args(&a, &cap, argv), -EINVAL);
                if (!strstr(cap.text, cases[i].expect))
                        fail_msg("%s: expected a line naming \"%s\", got: %s", cases[i].arg, cases[i].expect, cap.text);
                daemon_args_done(&a);
        }
        {
                char *argv[] = { "raftd", "--id", NULL };

                assert_int_equal(parse_args(&a, &cap, argv), -EINVAL);
                assert_non_null(strstr(cap.text, "needs an argument"));
                daemon_args_done(&a);
        }
        {
                char *argv[] = { "raftd", "--help", NULL };

                assert_int_equal(parse_args(&a, &cap, argv), DAEMON_ARGS_EXIT);
                daemon_args_done(&a);
        }
}

static void validation_names_what_is_missing_or_inconsistent(void **state) {
        static const struct bad_case cases[] = {
                { "[Node]\nListen=127.0.0.1:1\n", "No node id" },
                { "[Node]\nId=1\n[Peers]\n1=127.0.0.1:1\n", "No listen address" },
                { "[Node]\nId=3\nListen=127.0.0.1:1\n[Peers]\n1=127.0.0.1:1\n", "Node 3 is not among its [Peers]" },
                { "[Node]\nId=1\nJoin=yes\nListen=127.0.0.1:1\n[Peers]\n1=127.0.0.1:1\n", "Join=yes and [Peers]" },
                { "[Node]\nId=1\nListen=127.0.0.1:1\n[Peers]\n1=127.0.0.1:1\n[Timeouts]\nHeartbeatSec=1s\n"
                  "ElectionSec=1s\n",
                  "ElectionSec= (1000ms) must be at least twice HeartbeatSec= (1000ms)" },
                { "[Node]\nId=1\nListen=127.0.0.1:1\n[Peers]\n1=127.0.0.1:1\n[Bus]\nAddress=unix:path=/x\nUserBus=1\n",
                  "Address= and UserBus=yes" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct daemon_config c;
                struct captured cap;
                struct log_sink sink = { capture, &cap };

                assert_int_equal(parse_text(&c, cases[i].text, &cap), 0);
                assert_int_equal(daemon_config_validate(&c, &sink), -EINVAL);
                if (!strstr(cap.text, cases[i].expect))
                        fail_msg("case %zu: expected \"%s\", got:\n%s", i, cases[i].expect, cap.text);
                daemon_config_done(&c);
        }
        {
                /* A joining node needs no peers. */
                struct daemon_config c;
                struct captured cap;

                assert_int_equal(parse_text(&c, "[Node]\nId=4\nJoin=yes\nListen=127.0.0.1:1\n", &cap), 0);
                assert_int_equal(daemon_config_validate(&c, NULL), 0);
                daemon_config_done(&c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(good_file_sets_every_key),
                cmocka_unit_test(defaults_are_libraftds_and_access_is_root_only),
                cmocka_unit_test(shipped_example_config_loads_and_validates),
                cmocka_unit_test(every_error_names_file_line_and_key),
                cmocka_unit_test(every_bad_line_of_a_file_is_reported_not_just_the_first),
                cmocka_unit_test(time_spans_in_systemd_notation),
                cmocka_unit_test(sizes_are_1024_based_with_optional_suffix),
                cmocka_unit_test(users_by_name_and_uid),
                cmocka_unit_test(command_line_overrides_win_over_the_file),
                cmocka_unit_test(state_directory_from_systemd_is_the_default_data_dir_but_the_file_wins),
                cmocka_unit_test(instance_names_its_config_file_and_state_directory),
                cmocka_unit_test(a_missing_explicit_config_file_is_an_error),
                cmocka_unit_test(bad_command_lines_are_refused_with_the_option_named),
                cmocka_unit_test(validation_names_what_is_missing_or_inconsistent),
        };
        return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
