/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Values of the config file and the command line, in systemd's notation:
 * time spans ("100ms", "1.5s", "5min", "1min 30s"; a bare number is
 * seconds), sizes ("64K", "1M", 1024-based; a bare number is bytes), users
 * (a name or a numeric uid) and peers ("ID=HOST:PORT").  Each returns 0 or
 * -EINVAL/-ERANGE; the caller says where the value came from. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

int parse_timespan_usec(const char *s, uint64_t *ret);
/* A time span in whole milliseconds, at least 1ms and at most max_ms. */
int parse_timespan_ms(const char *s, uint64_t max_ms, uint64_t *ret);
int parse_size(const char *s, uint64_t *ret);
int parse_uint64(const char *s, uint64_t *ret);
int parse_boolean(const char *s, bool *ret);
/* A user name known to the system, or a decimal uid. */
int parse_user(const char *s, uid_t *ret);
/* Syslog priority by name ("debug", "info", "notice", "warning", "err",
 * "crit", "alert", "emerg") or number 0-7. */
int parse_log_level(const char *s, int *ret);
const char *log_level_to_string(int level);
/* "a.b.c.d:port" or "[v6]:port", numeric, port 1-65535. */
bool address_is_valid(const char *s);
