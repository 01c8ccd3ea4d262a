/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the frame decoder (built with clang only). */
#include <stdlib.h>

#include "fuzz-one.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
        if (!fuzz_codec_one(data, len))
                abort();
        return 0;
}
