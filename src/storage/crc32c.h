/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C over buf.  Start with crc32c(buf, len) or pass 0 as the
 * initial crc; chaining calls gives the checksum of the concatenation. */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);
/* The same, table-driven, without the CPU's crc32 instruction (which
 * crc32c_extend() uses where there is one); the tests hold them equal. */
uint32_t crc32c_extend_portable(uint32_t crc, const void *buf, size_t len);

static inline uint32_t crc32c(const void *buf, size_t len) {
        return crc32c_extend(0, buf, len);
}
