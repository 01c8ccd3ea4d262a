/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes one valid frame of every kind into a directory: the starting
 * corpus of the libFuzzer target. */
#include <stdio.h>

#include "net/codec.h"
#include "raft/wire.h"
#include "samples.h"

static int write_seed(const char *dir, unsigned i, const struct net_buf *b) {
        char path[4096];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/seed-%02u", dir, i);
        f = fopen(path, "we");
        if (!f || fwrite(b->data, 1, b->len, f) != b->len) {
                perror(path);
                return -1;
        }
        return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
        struct net_buf b = {};
        uint8_t hello[NET_FRAME_HEADER_SIZE + 49] = {};

        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return 2;
        }
        for (unsigned i = 0; i < SAMPLE_COUNT; i++) {
                struct raft_message m;

                sample_message(i, 1, 2, &m);
                b.len = 0;
                if (net_encode_raft(&b, &m) < 0 || write_seed(argv[1], i, &b) < 0)
                        return 1;
        }
        b.len = 0;
        if (net_encode_forward(&b, NET_FRAME_FORWARD_RESPONSE, 7, "response", 8) < 0 ||
            write_seed(argv[1], SAMPLE_COUNT, &b) < 0)
                return 1;
        b.len = 0;
        net_frame_header_write(hello, NET_FRAME_HELLO, 49);
        hello[6] = 1;
        wire_put64(hello + 7, 1);
        wire_put64(hello + 15, 2);
        if (net_buf_append(&b, hello, sizeof(hello)) < 0 || write_seed(argv[1], SAMPLE_COUNT + 1, &b) < 0)
                return 1;
        net_buf_done(&b);
        return 0;
}
