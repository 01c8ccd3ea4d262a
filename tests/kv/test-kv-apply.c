/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applying key-value commands: revisions, CAS, listing, limits, refusals,
 * change events. */
#include "kv-test.h"

static struct kv_command put(const char *key, const char *value) {
        return (struct kv_command) { .type = KV_CMD_PUT, .key = BLOB(key), .value = BLOB(value) };
}

static void put_sets_create_and_mod_revisions_to_the_index(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = put("/a", "1");
        struct kv_result r;
        struct kv_value v;

        r = apply_ok(kv, 3, &c);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_int_equal(r.revision, 3);
        c = put("/a", "22");
        r = apply_ok(kv, 7, &c);
        assert_int_equal(r.revision, 7);

        assert_int_equal(kv_get(kv, "/a", 2, &v), 0);
        assert_int_equal(v.create_revision, 3);
        assert_int_equal(v.mod_revision, 7);
        assert_int_equal(v.len, 2);
        assert_memory_equal(v.data, "22", 2);
        kv_value_done(&v);
        assert_int_equal(kv_applied_index(kv), 7);
        kv_close(kv);
}

static void delete_removes_key_and_absent_key_is_a_noop(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = put("/a", "1");
        struct kv_result r;

        apply_ok(kv, 1, &c);
        c = (struct kv_command) { .type = KV_CMD_DELETE, .key = BLOB("/a") };
        r = apply_ok(kv, 2, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_int_equal(r.revision, 2);
        assert_value(kv, "/a", NULL);
        r = apply_ok(kv, 3, &c);
        assert_int_equal(r.status, KV_STATUS_NO_SUCH_KEY);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.revision, 0);
        kv_close(kv);
}

static struct kv_command cas(const char *key, const char *expected, const char *new) {
        return (struct kv_command) {
                .type = KV_CMD_COMPARE_AND_SWAP,
                .key = BLOB(key),
                .expected_present = expected != NULL,
                .expected = expected ? BLOB(expected) : (struct kv_blob) {},
                .new_present = new != NULL,
                .value = new ? BLOB(new) : (struct kv_blob) {},
        };
}

static void cas_follows_seed_semantics_for_absent(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c;
        struct kv_result r;

        c = cas("/l", "x", "y"); /* expects a value, key absent */
        r = apply_ok(kv, 1, &c);
        assert_int_equal(r.status, KV_STATUS_COMPARE_FAILED);
        assert_value(kv, "/l", NULL);

        c = cas("/l", NULL, "mine"); /* expected absent: create */
        r = apply_ok(kv, 2, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_int_equal(r.revision, 2);
        assert_value(kv, "/l", "mine");

        c = cas("/l", NULL, "theirs"); /* absent no longer holds */
        r = apply_ok(kv, 3, &c);
        assert_int_equal(r.status, KV_STATUS_COMPARE_FAILED);
        assert_value(kv, "/l", "mine");

        c = cas("/l", "other", NULL);
        r = apply_ok(kv, 4, &c);
        assert_int_equal(r.status, KV_STATUS_COMPARE_FAILED);
        assert_value(kv, "/l", "mine");

        c = cas("/l", "mine", NULL); /* new absent: delete */
        r = apply_ok(kv, 5, &c);
        assert_int_equal(r.status, KV_STATUS_OK);
        assert_value(kv, "/l", NULL);
        kv_close(kv);
}

static void cas_race_in_one_batch_lets_exactly_one_win(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command setup = put("/leader", "none");
        struct kv_result r[8];
        char who[8][8];
        unsigned won = 0;

        apply_ok(kv, 1, &setup);
        /* Eight clients all saw "none" and race in the same batch; then the
         * same race on an absent key. */
        for (int round = 0; round < 2; round++) {
                assert_int_equal(kv_batch_begin(kv), 0);
                for (int i = 0; i < 8; i++) {
                        struct kv_command c;

                        snprintf(who[i], sizeof(who[i]), "n%d", i);
                        c = round == 0 ? cas("/leader", "none", who[i]) : cas("/absent", NULL, who[i]);
                        assert_int_equal(apply_command(kv, 2 + round * 8 + i, &c, &r[i]), 0);
                }
                assert_int_equal(kv_batch_commit(kv), 0);
                won = 0;
                for (int i = 0; i < 8; i++)
                        if (r[i].status == KV_STATUS_OK) {
                                won++;
                                assert_int_equal(i, 0); /* the first in log order */
                        } else
                                assert_int_equal(r[i].status, KV_STATUS_COMPARE_FAILED);
                assert_int_equal(won, 1);
                assert_value(kv, round == 0 ? "/leader" : "/absent", "n0");
        }
        kv_close(kv);
}

static void list_pages_in_key_order_with_continuation(void **state) {
        struct kv *kv = open_memory(NULL);
        char key[32], seen[64][32];
        size_t n_seen = 0;
        const char *after = NULL;
        raft_index idx = 1;

        /* 50 keys under /p/ in shuffled order, plus some outside. */
        for (int i = 0; i < 50; i++) {
                struct kv_command c;
                snprintf(key, sizeof(key), "/p/%03d", (i * 37) % 50);
                c = put(key, "v");
                apply_ok(kv, idx++, &c);
        }
        for (int i = 0; i < 5; i++) {
                struct kv_command c;
                snprintf(key, sizeof(key), "/q/%d", i);
                c = put(key, "v");
                apply_ok(kv, idx++, &c);
        }

        for (;;) {
                struct kv_entry *e;
                size_t n;
                bool more;

                assert_int_equal(kv_list(kv, "/p/", 3, after, after ? strlen(after) : 0, 7, &e, &n, &more), 0);
                assert_true(n <= 7);
                for (size_t i = 0; i < n; i++) {
                        assert_true(n_seen < 64);
                        snprintf(seen[n_seen++], 32, "%s", (char *) e[i].key);
                        assert_int_equal(e[i].value.len, 1);
                }
                kv_entries_free(e, n);
                if (!more)
                        break;
                after = seen[n_seen - 1];
        }
        assert_int_equal(n_seen, 50);
        for (size_t i = 0; i < n_seen; i++) {
                snprintf(key, sizeof(key), "/p/%03zu", i);
                assert_string_equal(seen[i], key);
        }
        kv_close(kv);
}

/* The node keeps a batch open across loop iterations: reads between its
 * applies must see them, before the batch commits. */
static void reads_inside_an_open_batch_see_its_applies(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = put("/b/1", "one");
        struct kv_entry *e;
        struct kv_value v;
        size_t n;
        bool more;

        assert_int_equal(kv_batch_begin(kv), 0);
        apply_ok(kv, 1, &c);
        c = put("/b/2", "two");
        apply_ok(kv, 2, &c);
        assert_int_equal(kv_get(kv, "/b/2", 4, &v), 0);
        assert_int_equal(v.mod_revision, 2);
        kv_value_done(&v);
        assert_int_equal(kv_list(kv, "/b/", 3, NULL, 0, 10, &e, &n, &more), 0);
        assert_int_equal(n, 2);
        assert_false(more);
        assert_string_equal((char *) e[0].key, "/b/1");
        kv_entries_free(e, n);
        assert_int_equal(kv_batch_commit(kv), 0);
        assert_int_equal(kv_list(kv, "/b/", 3, NULL, 0, 10, &e, &n, &more), 0);
        assert_int_equal(n, 2);
        kv_entries_free(e, n);
        kv_close(kv);
}

static void list_edges_empty_exact_page_and_refused_limit(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command a = put("/e/a", "1"), b = put("/e/b", "2");
        struct kv_entry *e;
        size_t n;
        bool more = true;

        apply_ok(kv, 1, &a);
        apply_ok(kv, 2, &b);
        assert_int_equal(kv_list(kv, "/e/", 3, NULL, 0, 0, &e, &n, &more), -EINVAL);

        assert_int_equal(kv_list(kv, "/none/", 6, NULL, 0, 5, &e, &n, &more), 0);
        assert_int_equal(n, 0);
        assert_false(more);
        e = kv_entries_free(e, n);

        /* Exactly a page: no further page announced. */
        assert_int_equal(kv_list(kv, "/e/", 3, NULL, 0, 2, &e, &n, &more), 0);
        assert_int_equal(n, 2);
        assert_false(more);
        assert_int_equal(e[0].value.create_revision, 1);
        assert_int_equal(e[1].value.create_revision, 2);
        e = kv_entries_free(e, n);

        /* An empty prefix lists everything; after the last key, nothing. */
        assert_int_equal(kv_list(kv, NULL, 0, "/e/b", 4, 10, &e, &n, &more), 0);
        assert_int_equal(n, 0);
        assert_null(kv_entries_free(e, n));
        kv_close(kv);
}

/* A twin that skipped the same index: equal digests mean nothing but the
 * applied index moved. */
static void assert_refused_without_change(const struct kv_options *o, const struct kv_command *c,
                                          enum kv_status want, int want_error) {
        struct kv *kv = open_memory(o), *twin = open_memory(o);
        struct kv_command seed = put("/k", "v");
        struct kv_result r;

        apply_ok(kv, 1, &seed);
        apply_ok(twin, 1, &seed);
        r = apply_ok(kv, 2, c);
        assert_int_equal(r.status, want);
        assert_int_equal(r.error, want_error);
        assert_non_null(kv_status_to_string(r.status));
        assert_int_equal(kv_skip(twin, 2), 0);
        assert_same_digest(kv, twin);
        kv_close(kv);
        kv_close(twin);
}

static void oversized_key_and_value_are_refused_with_nothing_changed(void **state) {
        struct kv_options o = { .max_key_len = 8, .max_value_size = 4 };
        struct kv_command c;

        c = put("/k/too-long", "v");
        assert_refused_without_change(&o, &c, KV_STATUS_KEY_TOO_LONG, -ENAMETOOLONG);
        c = put("/k", "12345");
        assert_refused_without_change(&o, &c, KV_STATUS_VALUE_TOO_LARGE, -EFBIG);
        c = cas("/k", "v", "12345");
        assert_refused_without_change(&o, &c, KV_STATUS_VALUE_TOO_LARGE, -EFBIG);
        c = (struct kv_command) { .type = KV_CMD_DELETE, .key = BLOB("/k/too-long") };
        assert_refused_without_change(&o, &c, KV_STATUS_KEY_TOO_LONG, -ENAMETOOLONG);
        c = put("/k", "1234"); /* at the limit is fine */
        {
                struct kv *kv = open_memory(&o);
                assert_int_equal(apply_ok(kv, 1, &c).status, KV_STATUS_OK);
                kv_close(kv);
        }
}

static void put_with_unknown_lease_is_refused_with_nothing_changed(void **state) {
        struct kv_command c = put("/k", "x");

        c.lease = 99;
        assert_refused_without_change(NULL, &c, KV_STATUS_NO_SUCH_LEASE, -ENOENT);
}

static void malformed_entry_is_refused_with_nothing_changed(void **state) {
        struct kv *kv = open_memory(NULL), *twin = open_memory(NULL);
        struct kv_command seed = put("/k", "v");
        const uint8_t garbage[] = { KV_COMMAND_VERSION, KV_CMD_PUT, 0, 1, 2 };
        struct kv_result r;

        apply_ok(kv, 1, &seed);
        apply_ok(twin, 1, &seed);
        assert_int_equal(kv_apply(kv, 2, garbage, sizeof(garbage), &r), 0);
        assert_int_equal(r.status, KV_STATUS_MALFORMED);
        assert_int_equal(r.error, -EBADMSG);
        assert_int_equal(kv_apply(kv, 3, NULL, 0, &r), 0);
        assert_int_equal(r.status, KV_STATUS_MALFORMED);
        assert_int_equal(kv_skip(twin, 2), 0);
        assert_int_equal(kv_skip(twin, 3), 0);
        assert_same_digest(kv, twin);
        kv_close(kv);
        kv_close(twin);
}

static void entry_from_a_newer_version_stops_apply_without_advancing(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = put("/k", "v");
        uint8_t *buf;
        size_t len;
        struct kv_result r;

        assert_int_equal(kv_command_encode(&c, &buf, &len), 0);
        buf[0] = KV_COMMAND_VERSION + 1;
        assert_int_equal(kv_apply(kv, 1, buf, len, &r), -EPROTONOSUPPORT);
        assert_int_equal(r.status, KV_STATUS_UNSUPPORTED_VERSION);
        assert_int_equal(kv_applied_index(kv), 0);
        free(buf);
        /* The handle still works once the node is upgraded and retries. */
        assert_int_equal(apply_ok(kv, 1, &c).status, KV_STATUS_OK);
        kv_close(kv);
}

static void apply_refuses_an_index_not_past_the_applied_one(void **state) {
        struct kv *kv = open_memory(NULL);
        struct kv_command c = put("/k", "v");
        struct kv_result r;

        apply_ok(kv, 5, &c);
        assert_int_equal(apply_command(kv, 5, &c, &r), -ESTALE);
        assert_int_equal(apply_command(kv, 4, &c, &r), -ESTALE);
        assert_int_equal(kv_skip(kv, 5), -ESTALE);
        kv_close(kv);
}

struct recorded {
        struct kv_event e[16];
        char keys[16][32];
        char values[16][32];
        size_t n;
};

static void record_event(void *userdata, const struct kv_event *e) {
        struct recorded *rec = userdata;

        assert_true(rec->n < 16);
        rec->e[rec->n] = *e;
        snprintf(rec->keys[rec->n], 32, "%.*s", (int) e->key_len, (const char *) e->key);
        snprintf(rec->values[rec->n], 32, "%.*s", (int) e->value_len, (const char *) e->value);
        rec->n++;
}

static void apply_raises_change_events_with_revision_and_value(void **state) {
        struct recorded rec = {};
        struct kv_options o = { .on_event = record_event, .userdata = &rec };
        struct kv *kv = open_memory(&o);
        struct kv_command c;

        c = put("/w", "1");
        apply_ok(kv, 1, &c);
        c = cas("/w", "1", "2");
        apply_ok(kv, 2, &c);
        c = cas("/w", "1", "3"); /* fails: no event */
        apply_ok(kv, 3, &c);
        c = (struct kv_command) { .type = KV_CMD_DELETE, .key = BLOB("/w") };
        apply_ok(kv, 4, &c);

        assert_int_equal(rec.n, 3);
        assert_int_equal(rec.e[0].type, KV_EVENT_PUT);
        assert_int_equal(rec.e[0].revision, 1);
        assert_string_equal(rec.values[0], "1");
        assert_int_equal(rec.e[1].type, KV_EVENT_PUT);
        assert_int_equal(rec.e[1].revision, 2);
        assert_string_equal(rec.values[1], "2");
        assert_int_equal(rec.e[2].type, KV_EVENT_DELETE);
        assert_int_equal(rec.e[2].revision, 4);
        for (size_t i = 0; i < rec.n; i++)
                assert_string_equal(rec.keys[i], "/w");
        kv_close(kv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(put_sets_create_and_mod_revisions_to_the_index),
                cmocka_unit_test(delete_removes_key_and_absent_key_is_a_noop),
                cmocka_unit_test(cas_follows_seed_semantics_for_absent),
                cmocka_unit_test(cas_race_in_one_batch_lets_exactly_one_win),
                cmocka_unit_test(list_pages_in_key_order_with_continuation),
                cmocka_unit_test(list_edges_empty_exact_page_and_refused_limit),
                cmocka_unit_test(reads_inside_an_open_batch_see_its_applies),
                cmocka_unit_test(oversized_key_and_value_are_refused_with_nothing_changed),
                cmocka_unit_test(put_with_unknown_lease_is_refused_with_nothing_changed),
                cmocka_unit_test(malformed_entry_is_refused_with_nothing_changed),
                cmocka_unit_test(entry_from_a_newer_version_stops_apply_without_advancing),
                cmocka_unit_test(apply_refuses_an_index_not_past_the_applied_one),
                cmocka_unit_test(apply_raises_change_events_with_revision_and_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
