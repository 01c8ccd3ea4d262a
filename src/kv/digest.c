/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A digest of the logical state, independent of TDB's record order. */
#include <sodium.h>
#include <string.h>

#include "kv/kv-internal.h"
#include "raft/wire.h"

/* Hashes each record on its own and adds the hashes: the sum does not
 * depend on the order TDB walks them in (addition, unlike xor, does not
 * cancel two equal records). */
void kv_digest_add(struct kv_digest_sum *sum, TDB_DATA key, TDB_DATA data) {
        crypto_generichash_state st;
        uint8_t len[8], h[16];

        if (key.dsize == 1 && (key.dptr[0] == KV_TAG_META || key.dptr[0] == KV_TAG_MARKER))
                return;
        crypto_generichash_init(&st, NULL, 0, sizeof(h));
        wire_put32(len, (uint32_t) key.dsize);
        wire_put32(len + 4, (uint32_t) data.dsize);
        crypto_generichash_update(&st, len, sizeof(len));
        crypto_generichash_update(&st, key.dptr, key.dsize);
        crypto_generichash_update(&st, data.dptr, data.dsize);
        crypto_generichash_final(&st, h, sizeof(h));
        sum->sum[0] += wire_get64(h);
        sum->sum[1] += wire_get64(h + 8);
        sum->count++;
}

void kv_digest_finish(const struct kv *kv, const struct kv_digest_sum *sum, uint8_t ret[static KV_DIGEST_SIZE]) {
        uint8_t tail[5 * 8];

        wire_put64(tail, sum->sum[0]);
        wire_put64(tail + 8, sum->sum[1]);
        wire_put64(tail + 16, sum->count);
        wire_put64(tail + 24, kv->applied);
        wire_put64(tail + 32, kv->clock);
        crypto_generichash(ret, KV_DIGEST_SIZE, tail, sizeof(tail), NULL, 0);
}

static int digest_one(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *userdata) {
        kv_digest_add(userdata, key, data);
        return 0;
}

int kv_digest(struct kv *kv, uint8_t ret[static KV_DIGEST_SIZE]) {
        struct kv_digest_sum sum = {};

        if (!kv || !ret)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;
        if (tdb_traverse_read(kv->tdb, digest_one, &sum) < 0)
                return -EIO;
        kv_digest_finish(kv, &sum, ret);
        return 0;
}
