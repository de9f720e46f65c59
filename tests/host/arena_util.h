/* SPDX-License-Identifier: MIT */
/* Helpers for the backend, arena and trace tests: fault probes, counters. */
#ifndef ARENA_UTIL_H
#define ARENA_UTIL_H

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static sigjmp_buf probe_jb;

static void probe_handler(int sig)
{
	siglongjmp(probe_jb, sig);
}

/* Does touching p (write or read) raise SIGSEGV/SIGBUS?  Returns the signal or 0. */
static inline int probe(volatile char *p, bool write)
{
	struct sigaction sa, old_segv, old_bus;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_handler;
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	sig = sigsetjmp(probe_jb, 1);
	if (sig == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return sig;
}

static inline long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Write one byte per step, uninstrumented: under ASan an instrumented loop
 * would fault in shadow pages and hide what the mapping itself does. */
__attribute__((no_sanitize_address, noinline, unused)) static void touch(char *p, size_t size,
                                                                         size_t step)
{
	for (size_t i = 0; i < size; i += step)
		((volatile char *)p)[i] = (char)i;
}

static inline long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static inline bool write_long(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY);
	int n = snprintf(buf, sizeof(buf), "%ld\n", v);
	bool ok = fd >= 0 && write(fd, buf, (size_t)n) == n;

	if (fd >= 0)
		close(fd);
	return ok;
}

#define NR_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

/*
 * Make sure want 2 MiB hugetlb pages are reserved, reserving them if we
 * may (root); *saved gets the old count to restore (-1: nothing to restore).
 * Returns false when the host has fewer and we cannot change that.
 */
/* Reserve hugetlb pages of one size (path: its nr_hugepages) for a test
 * when allowed; *saved is what to put back (-1: nothing changed). */
static inline bool reserve_huge(const char *path, long want, long *saved)
{
	long cur = read_long(path);

	*saved = -1;
	if (cur >= want)
		return true;
	if (cur < 0 || !write_long(path, want))
		return false;
	*saved = cur;
	if (read_long(path) < want) {
		write_long(path, cur);
		*saved = -1;
		return false;
	}
	return true;
}

static inline void restore_huge(const char *path, long saved)
{
	if (saved >= 0)
		write_long(path, saved);
}

static inline bool reserve_2m(long want, long *saved)
{
	return reserve_huge(NR_2M, want, saved);
}

static inline void restore_2m(long saved)
{
	restore_huge(NR_2M, saved);
}

static inline bool thp_enabled(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 && !strstr(buf, "[never]");
}

#endif
