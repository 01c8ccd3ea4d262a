/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One fuzz input for the frame decoder, shared by the libFuzzer target and
 * the seeded cmocka fuzz test. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode data as one plaintext frame, as the transport does after opening
 * it, and feed HELLO payloads to a handshake.  Returns false if a property
 * broke: a frame that decodes must re-encode to exactly its bytes.  Memory
 * errors are for the sanitizers to catch: the payload is copied to a buffer
 * of its exact size. */
bool fuzz_codec_one(const uint8_t *data, size_t len);
