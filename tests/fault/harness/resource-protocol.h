/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fenced resource's line protocol over a unix stream socket (lock
 * workload).  Both requests carry the lock's fence: a read raises the
 * highest fence seen as a write does, so a holder that was paused between
 * its read and its write cannot write back a value read before a newer
 * holder's read.
 *
 *   read R FENCE\n               -> "ok VALUE\n" | "stale\n"
 *   write R FENCE BASE NEW\n     -> "ok\n" | "stale\n"
 *
 * Without fence checks (the counter-example) nothing is ever stale. */

#define RESOURCE_LINE_MAX 256
