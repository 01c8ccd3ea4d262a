/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* free-ports N: prints N distinct TCP ports on 127.0.0.1 that are free now,
 * from the range every test of raftd takes its ports from (free-port.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/free-port.h"

#define PORTS_MAX 16

int main(int argc, char **argv) {
        int ports[PORTS_MAX];
        long n = argc == 2 ? strtol(argv[1], NULL, 10) : 0;

        if (n < 1 || n > PORTS_MAX) {
                fprintf(stderr, "usage: %s N (1..%d)\n", argv[0], PORTS_MAX);
                return 2;
        }
        for (long i = 0; i < n; i++) {
                bool again;
                int p;

                do {
                        p = free_tcp_port();
                        if (p < 0) {
                                fprintf(stderr, "no free port: %s\n", strerror(-p));
                                return 1;
                        }
                        again = false;
                        for (long j = 0; j < i; j++)
                                again |= ports[j] == p;
                } while (again);
                ports[i] = p;
                printf("%d\n", p);
        }
        return 0;
}
