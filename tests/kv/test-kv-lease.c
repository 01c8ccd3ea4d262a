/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leases: bound keys disappear at expiry (on stamped time), keep-alive
 * postpones it, revoke ends it, rebinding moves a key. */
#include "kv-test.h"

static struct kv_command put_on(const char *key, uint64_t lease, uint64_t now) {
        return (struct kv_command) { .type = KV_CMD_PUT, .time_ms = now, .key = BLOB(key), .value = BLOB("v"),
                                     .lease = lease };
}

static void lease_expiry_removes_bound_keys(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t lease = grant_lease(kv, 1, 1000, 300);
        struct kv_command c;

        c = put_on("/svc/a", lease, 1000);
        apply_ok(kv, 2, &c);
        c = put_on("/svc/b", lease, 1100);
        apply_ok(kv, 3, &c);
        c = put_on("/keep", 0, 1100);
        apply_ok(kv, 4, &c);

        c = put_on("/tick", 0, 1299);
        apply_ok(kv, 5, &c);
        assert_value(kv, "/svc/a", "v");
        c = put_on("/tick", 0, 1300);
        apply_ok(kv, 6, &c);
        assert_value(kv, "/svc/a", NULL);
        assert_value(kv, "/svc/b", NULL);
        assert_value(kv, "/keep", "v");
        assert_false(kv_lease_exists(kv, lease));

        /* A put on the dead lease is refused. */
        c = put_on("/svc/a", lease, 1300);
        assert_int_equal(apply_ok(kv, 7, &c).status, KV_STATUS_NO_SUCH_LEASE);
        assert_value(kv, "/svc/a", NULL);
        kv_close(kv);
}

static void keepalive_postpones_expiry(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t lease = grant_lease(kv, 1, 0, 100);
        struct kv_command c;

        c = put_on("/a", lease, 0);
        apply_ok(kv, 2, &c);
        c = (struct kv_command) { .type = KV_CMD_LEASE_KEEPALIVE, .time_ms = 90, .lease = lease };
        assert_int_equal(apply_ok(kv, 3, &c).status, KV_STATUS_OK);
        c = put_on("/tick", 0, 150);
        apply_ok(kv, 4, &c);
        assert_value(kv, "/a", "v");
        c = put_on("/tick", 0, 190);
        apply_ok(kv, 5, &c);
        assert_value(kv, "/a", NULL);
        c = (struct kv_command) { .type = KV_CMD_LEASE_KEEPALIVE, .time_ms = 190, .lease = lease };
        assert_int_equal(apply_ok(kv, 6, &c).status, KV_STATUS_NO_SUCH_LEASE);
        kv_close(kv);
}

static void revoke_removes_bound_keys_at_once(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t lease = grant_lease(kv, 1, 0, 100000);
        struct kv_command c;
        struct kv_result r;

        c = put_on("/a", lease, 0);
        apply_ok(kv, 2, &c);
        c = (struct kv_command) { .type = KV_CMD_LEASE_REVOKE, .time_ms = 1, .lease = lease };
        r = apply_ok(kv, 3, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_value(kv, "/a", NULL);
        r = apply_ok(kv, 4, &c);
        assert_int_equal(r.status, KV_STATUS_NO_SUCH_LEASE);
        kv_close(kv);
}

static void rebinding_or_plain_put_detaches_a_key_from_its_lease(void **state) {
        struct kv *kv = open_memory(NULL);
        uint64_t l1 = grant_lease(kv, 1, 0, 100), l2 = grant_lease(kv, 2, 0, 1000);
        struct kv_command c;
        struct kv_value v;

        c = put_on("/moved", l1, 0);
        apply_ok(kv, 3, &c);
        c = put_on("/moved", l2, 0);
        apply_ok(kv, 4, &c);
        c = put_on("/plain", l1, 0);
        apply_ok(kv, 5, &c);
        c = put_on("/plain", 0, 0);
        apply_ok(kv, 6, &c);
        c = put_on("/deleted", l1, 0);
        apply_ok(kv, 7, &c);
        c = (struct kv_command) { .type = KV_CMD_DELETE, .key = BLOB("/deleted") };
        apply_ok(kv, 8, &c);

        c = put_on("/tick", 0, 100); /* l1 expires */
        apply_ok(kv, 9, &c);
        assert_int_equal(kv_get(kv, "/moved", 6, &v), 0);
        assert_int_equal(v.lease, l2);
        kv_value_done(&v);
        assert_value(kv, "/plain", "v");
        assert_value(kv, "/deleted", NULL);
        c = put_on("/tick", 0, 1000); /* l2 expires */
        apply_ok(kv, 10, &c);
        assert_value(kv, "/moved", NULL);
        kv_close(kv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lease_expiry_removes_bound_keys),
                cmocka_unit_test(keepalive_postpones_expiry),
                cmocka_unit_test(revoke_removes_bound_keys_at_once),
                cmocka_unit_test(rebinding_or_plain_put_detaches_a_key_from_its_lease),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
