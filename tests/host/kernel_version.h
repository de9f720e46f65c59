/* SPDX-License-Identifier: MIT */
/*
 * The running kernel's version, for tests whose expectation depends on it
 * (host tests and, through kmod_util.h's include path, the kmod tests).
 */
#ifndef FA_TEST_KERNEL_VERSION_H
#define FA_TEST_KERNEL_VERSION_H

#include <stdio.h>
#include <sys/utsname.h>

/* 1 if the running kernel is maj.min or later, 0 if older or unknown. */
static inline int fa_kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return 0;
	return a > maj || (a == maj && b >= min);
}

#endif /* FA_TEST_KERNEL_VERSION_H */
