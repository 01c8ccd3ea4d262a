/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the history parser and the checkers behind it.
 * Built only with clang and -fsanitize=fuzzer (docs/fault-history.md says
 * how to run it).  Invariants: a refusal names a line the input has and
 * says why; whatever parses can be checked as every workload. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fault/check/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct history_error error;
        struct history *h = NULL;
        size_t lines = 1;
        int r;

        for (size_t i = 0; i + 1 < size; i++)
                lines += data[i] == '\n';
        r = history_parse((const char *) data, size, &h, &error);
        if (r < 0) {
                if (r != -EINVAL || error.line_no < 1 || error.line_no > lines || error.message[0] == '\0')
                        abort();
                return 0;
        }
        for (enum workload w = WORKLOAD_REGISTER; w < _WORKLOAD_MAX; w++) {
                struct check_result res = {};

                /* A small budget: the fuzzer looks for crashes, not for
                 * hard search problems. */
                if (check_history(h, w, 2000, &res) < 0)
                        abort();
                for (size_t i = 0; i < res.n_findings; i++)
                        for (size_t j = 0; j < res.findings[i].n_events; j++)
                                if (res.findings[i].events[j] >= h->n_events)
                                        abort();
                check_result_done(&res);
        }
        history_free(h);
        return 0;
}
