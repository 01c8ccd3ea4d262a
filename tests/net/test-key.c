/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster key file: generation, and refusal of unsafe or wrong files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/key.h"

struct captured {
        char last[1024];
        unsigned n;
};

static void capture(void *userdata, int priority, const char *message) {
        struct captured *c = userdata;

        (void) snprintf(c->last, sizeof(c->last), "%s", message);
        c->n++;
}

static char dir[] = "/tmp/raftd-test-key-XXXXXX";

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];

        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char *out, size_t n, const char *name) {
        (void) snprintf(out, n, "%s/%s", dir, name);
}

static void generated_key_is_private_and_loads(void **state) {
        struct net_key a, b;
        struct stat st;
        char path[256], path2[256];

        path_in_dir(path, sizeof(path), "k1");
        path_in_dir(path2, sizeof(path2), "k2");
        assert_int_equal(net_key_generate(path, NULL), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, NET_KEY_SIZE);
        assert_int_equal(net_key_load(path, &a, NULL), 0);
        assert_int_equal(net_key_generate(path2, NULL), 0);
        assert_int_equal(net_key_load(path2, &b, NULL), 0);
        assert_memory_not_equal(a.bytes, b.bytes, NET_KEY_SIZE);
}

static void existing_key_is_never_overwritten(void **state) {
        struct captured log = {};
        struct log_sink sink = { capture, &log };
        struct net_key before, after;
        char path[256];

        path_in_dir(path, sizeof(path), "k3");
        assert_int_equal(net_key_generate(path, NULL), 0);
        assert_int_equal(net_key_load(path, &before, NULL), 0);
        assert_int_equal(net_key_generate(path, &sink), -EEXIST);
        assert_int_equal(log.n, 1);
        assert_non_null(strstr(log.last, path));
        assert_int_equal(net_key_load(path, &after, NULL), 0);
        assert_memory_equal(before.bytes, after.bytes, NET_KEY_SIZE);
}

static void group_or_world_accessible_key_is_refused(void **state) {
        struct captured log = {};
        struct log_sink sink = { capture, &log };
        struct net_key k;
        char path[256];

        path_in_dir(path, sizeof(path), "k4");
        assert_int_equal(net_key_generate(path, NULL), 0);
        assert_int_equal(chmod(path, 0640), 0);
        assert_int_equal(net_key_load(path, &k, &sink), -EPERM);
        assert_non_null(strstr(log.last, path));
        assert_non_null(strstr(log.last, "0640"));
        assert_int_equal(chmod(path, 0604), 0);
        assert_int_equal(net_key_load(path, &k, &sink), -EPERM);
        assert_int_equal(chmod(path, 0400), 0);
        assert_int_equal(net_key_load(path, &k, &sink), 0);
}

static void wrong_size_key_is_refused(void **state) {
        struct captured log = {};
        struct log_sink sink = { capture, &log };
        struct net_key k;
        char path[256];
        FILE *f;

        path_in_dir(path, sizeof(path), "k5");
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite("0123456789abcdef0123456789abcdef\n", 1, 33, f), 33);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(net_key_load(path, &k, &sink), -EBADMSG);
        assert_non_null(strstr(log.last, "33"));
        assert_int_equal(truncate(path, 31), 0);
        assert_int_equal(net_key_load(path, &k, &sink), -EBADMSG);
        path_in_dir(path, sizeof(path), "missing");
        assert_int_equal(net_key_load(path, &k, &sink), -ENOENT);
        assert_int_equal(net_key_load(dir, &k, &sink), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(generated_key_is_private_and_loads),
                cmocka_unit_test(existing_key_is_never_overwritten),
                cmocka_unit_test(group_or_world_accessible_key_is_refused),
                cmocka_unit_test(wrong_size_key_is_refused),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
