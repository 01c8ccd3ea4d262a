/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration codec: round trip, and refusal of malformed payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "raft/raft.h"

static void config_round_trip_keeps_ids_and_roles(void **state) {
        struct raft_config c = { .n = 3 }, d;
        uint8_t buf[256];

        c.servers[0] = (struct raft_server) { 1, RAFT_VOTER };
        c.servers[1] = (struct raft_server) { 0x1122334455667788ULL, RAFT_LEARNER };
        c.servers[2] = (struct raft_server) { 3, RAFT_VOTER };
        assert_true(raft_config_encoded_size(&c) <= sizeof(buf));
        raft_config_encode(&c, buf);
        assert_int_equal(raft_config_decode(buf, raft_config_encoded_size(&c), &d), 0);
        assert_int_equal(d.n, 3);
        assert_memory_equal(c.servers, d.servers, 3 * sizeof(struct raft_server));
        assert_int_equal(raft_config_voters(&d), 2);
        assert_non_null(raft_config_get(&d, 0x1122334455667788ULL));
        assert_null(raft_config_get(&d, 2));
}

static void config_decode_refuses_malformed(void **state) {
        struct raft_config c = { .n = 2 }, d;
        uint8_t buf[64];
        size_t len;

        c.servers[0] = (struct raft_server) { 1, RAFT_VOTER };
        c.servers[1] = (struct raft_server) { 2, RAFT_VOTER };
        len = raft_config_encoded_size(&c);
        raft_config_encode(&c, buf);

        assert_int_equal(raft_config_decode(buf, len - 1, &d), -EINVAL); /* short */
        assert_int_equal(raft_config_decode(buf, 3, &d), -EINVAL);       /* no header */
        buf[0] = 9;                                                       /* version */
        assert_int_equal(raft_config_decode(buf, len, &d), -EINVAL);
        buf[0] = 1;
        buf[4 + 8] = 7; /* role */
        assert_int_equal(raft_config_decode(buf, len, &d), -EINVAL);
        buf[4 + 8] = RAFT_VOTER;
        memcpy(buf + 4 + 9, buf + 4, 8); /* duplicate id */
        assert_int_equal(raft_config_decode(buf, len, &d), -EINVAL);
        memset(buf + 4, 0, 8); /* id 0 */
        assert_int_equal(raft_config_decode(buf, len, &d), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(config_round_trip_keeps_ids_and_roles),
                cmocka_unit_test(config_decode_refuses_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
