/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fenced resource's socket address, for its server and its clients. */

#include <sys/un.h>

/* Fills sa for path; -ENAMETOOLONG if it does not fit. */
int unix_address(const char *path, struct sockaddr_un *sa);
