/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Not part of raftd: an object that reads the clock, to prove that
 * check-core-symbols.sh rejects such a core (the test expects failure). */
#include <time.h>

long impure_core_fixture_now(void);

long impure_core_fixture_now(void) {
        return (long) time(NULL);
}
