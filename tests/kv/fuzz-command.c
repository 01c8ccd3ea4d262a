/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the command decoder.  Built only with clang and
 * -fsanitize=fuzzer (see docs/state-machine.md for how to run it). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct kv_command c, d;
        uint8_t *buf;
        size_t len;

        if (kv_command_decode(data, size, &c) < 0)
                return 0;
        /* Whatever decodes re-encodes to the same bytes and decodes alike. */
        if (kv_command_encode(&c, &buf, &len) < 0)
                abort();
        if (len != size || memcmp(buf, data, size) != 0)
                abort();
        if (kv_command_decode(buf, len, &d) < 0 || d.type != c.type)
                abort();
        free(buf);
        return 0;
}
