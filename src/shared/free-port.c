/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/free-port.h"

#define PORT_LOW 20000
#define PORT_HIGH 32000 /* below the default ephemeral range */

int free_tcp_port(void) {
        uint32_t start = 0;

        /* A random start keeps parallel test processes apart. */
        if (getrandom(&start, sizeof(start), 0) != sizeof(start))
                start = (uint32_t) getpid();
        for (uint32_t i = 0; i < PORT_HIGH - PORT_LOW; i++) {
                struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int port = PORT_LOW + (int) ((start + i) % (PORT_HIGH - PORT_LOW));
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

                if (fd < 0)
                        return -errno;
                a.sin_port = htons((uint16_t) port);
                r = bind(fd, (struct sockaddr *) &a, sizeof(a));
                (void) close(fd);
                if (r == 0)
                        return port;
        }
        return -EADDRINUSE;
}
