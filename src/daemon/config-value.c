/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/config-value.h"
#include "shared/macro.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)

static const struct {
        const char *suffix;
        uint64_t usec;
} time_units[] = {
        /* Longer suffixes first where one is a prefix of another ("ms" vs "m"). */
        { "usec", 1 },
        { "us", 1 },
        { "msec", USEC_PER_MSEC },
        { "ms", USEC_PER_MSEC },
        { "seconds", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC },
        { "hour", 3600 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
};

/* One "<number>[.<fraction>]<unit>" term; advances *p past it. */
static int parse_time_term(const char **p, uint64_t *ret) {
        const char *s = *p, *unit;
        uint64_t whole = 0, frac = 0, frac_div = 1, mult = USEC_PER_SEC;
        size_t unit_len;
        bool digits = false;

        for (; isdigit((unsigned char) *s); s++) {
                if (whole > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*s - '0');
                digits = true;
        }
        if (*s == '.') {
                s++;
                for (; isdigit((unsigned char) *s); s++) {
                        if (frac_div < UINT64_C(1000000000)) {
                                frac = frac * 10 + (uint64_t) (*s - '0');
                                frac_div *= 10;
                        }
                        digits = true;
                }
        }
        if (!digits)
                return -EINVAL;
        while (*s == ' ')
                s++;
        unit = s;
        while (isalpha((unsigned char) *s))
                s++;
        unit_len = (size_t) (s - unit);
        if (unit_len > 0) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(time_units); i++)
                        if (strlen(time_units[i].suffix) == unit_len &&
                            strncmp(unit, time_units[i].suffix, unit_len) == 0)
                                break;
                if (i == ELEMENTSOF(time_units))
                        return -EINVAL;
                mult = time_units[i].usec;
        } else {
                /* A bare number (seconds) only as the whole span's last term:
                 * "1.5.2s" is a typo, not 1.5s + 0.2s. */
                while (*s == ' ')
                        s++;
                if (*s)
                        return -EINVAL;
        }
        if (whole > UINT64_MAX / mult)
                return -ERANGE;
        *ret = whole * mult + frac * mult / frac_div;
        *p = s;
        return 0;
}

int parse_timespan_usec(const char *s, uint64_t *ret) {
        uint64_t total = 0;
        int r;

        while (*s == ' ')
                s++;
        if (*s == 0)
                return -EINVAL;
        while (*s) {
                uint64_t term;

                r = parse_time_term(&s, &term);
                if (r < 0)
                        return r;
                if (total > UINT64_MAX - term)
                        return -ERANGE;
                total += term;
                while (*s == ' ')
                        s++;
        }
        *ret = total;
        return 0;
}

int parse_timespan_ms(const char *s, uint64_t max_ms, uint64_t *ret) {
        uint64_t usec;
        int r = parse_timespan_usec(s, &usec);

        if (r < 0)
                return r;
        if (usec < USEC_PER_MSEC || usec / USEC_PER_MSEC > max_ms)
                return -ERANGE;
        *ret = usec / USEC_PER_MSEC;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL; /* no sign, no space */
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const char units[] = "KMGT";
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end) {
                const char *u = strchr(units, toupper((unsigned char) *end));

                if (!u)
                        return -EINVAL;
                for (const char *k = units; k <= u; k++)
                        mult *= 1024;
                end++;
                if (*end == 'i' && end[1] == 'B')
                        end += 2;
                else if (*end == 'B')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_user(const char *s, uid_t *ret) {
        struct passwd pw, *found = NULL;
        char buf[4096];
        uint64_t uid;

        if (parse_uint64(s, &uid) == 0) {
                /* (uid_t) -1 means "no user" to the kernel: never a member. */
                if (uid >= UINT32_MAX)
                        return -ERANGE;
                *ret = (uid_t) uid;
                return 0;
        }
        if (getpwnam_r(s, &pw, buf, sizeof(buf), &found) != 0 || !found)
                return -ESRCH;
        *ret = found->pw_uid;
        return 0;
}

static const char *const log_levels[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int parse_log_level(const char *s, int *ret) {
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (strcasecmp(s, log_levels[i]) == 0) {
                        *ret = (int) i;
                        return 0;
                }
        if (parse_uint64(s, &v) == 0 && v <= LOG_DEBUG) {
                *ret = (int) v;
                return 0;
        }
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(log_levels))
                return "?";
        return log_levels[level];
}

bool address_is_valid(const char *s) {
        const char *colon = strrchr(s, ':');
        unsigned char addr[16];
        char host[64];
        size_t len;
        uint64_t port;

        if (!colon || colon == s)
                return false;
        if (parse_uint64(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return false;
        len = (size_t) (colon - s);
        if (s[0] == '[') {
                /* [IPv6]:port */
                if (len < 3 || s[len - 1] != ']')
                        return false;
                s++;
                len -= 2;
        }
        if (len >= sizeof(host))
                return false;
        memcpy(host, s, len);
        host[len] = 0;
        /* Numeric only, as libraftd takes it: a name would make start-up
         * depend on the resolver. */
        return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}
