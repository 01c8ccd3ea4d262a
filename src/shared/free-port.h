/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A TCP port on 127.0.0.1 that is free right now, for local test clusters,
 * the demo and benchmarks.  It is taken from below the kernel's ephemeral
 * range (ip_local_port_range starts at 32768): a port the kernel handed out
 * with bind(0) is released again at once and may go to the next outgoing
 * connection of any process before a node listens on it.  Returns the port,
 * or a negative errno. */
int free_tcp_port(void);
