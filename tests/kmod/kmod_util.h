/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the /dev/finalloc VM tests: ioctl wrappers, sysfs and
 * node meminfo readers, and a sigsetjmp probe that reports whether touching
 * an address raised SIGSEGV.
 */
#ifndef FA_KMOD_UTIL_H
#define FA_KMOD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uapi/linux/finalloc.h>

#include "node_meminfo.h"

#define KB    ((uint64_t)1024)
#define MB    (KB * 1024)
#define SZ_2M (2 * MB)
#define SYSFS FINALLOC_SYSFS_PATH

static inline int fa_open(void)
{
	return open(FINALLOC_DEV_PATH, O_RDWR | O_CLOEXEC);
}

/* 0 or -errno; *rc gets id, offset and data_bytes.  flags: FINALLOC_REGION_*. */
static inline int fa_create_flags(int fd, uint64_t size, int node, unsigned int shift,
                                  uint32_t lead, uint32_t trail, uint32_t interval, uint32_t flags,
                                  struct finalloc_region_create *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->argsz = sizeof(*rc);
	rc->flags = flags;
	rc->size = size;
	rc->node = node;
	rc->page_shift = shift;
	rc->guard_lead = lead;
	rc->guard_trail = trail;
	rc->guard_interval = interval;
	return ioctl(fd, FINALLOC_IOC_REGION_CREATE, rc) ? -errno : 0;
}

static inline int fa_create(int fd, uint64_t size, int node, unsigned int shift, uint32_t lead,
                            uint32_t trail, uint32_t interval, struct finalloc_region_create *rc)
{
	return fa_create_flags(fd, size, node, shift, lead, trail, interval, 0, rc);
}

static inline int fa_destroy(int fd, uint32_t id)
{
	struct finalloc_region_destroy d = { .argsz = sizeof(d), .id = id };

	return ioctl(fd, FINALLOC_IOC_REGION_DESTROY, &d) ? -errno : 0;
}

static inline int fa_info(int fd, struct finalloc_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return ioctl(fd, FINALLOC_IOC_INFO, info) ? -errno : 0;
}

static inline int fa_region_info(int fd, uint32_t id, struct finalloc_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->id = id;
	return ioctl(fd, FINALLOC_IOC_REGION_INFO, ri) ? -errno : 0;
}

static inline int fa_node_of(int fd, uint32_t id, uint64_t off, struct finalloc_node_of *no)
{
	memset(no, 0, sizeof(*no));
	no->argsz = sizeof(*no);
	no->id = id;
	no->offset = off;
	return ioctl(fd, FINALLOC_IOC_NODE_OF, no) ? -errno : 0;
}

static inline void *fa_map(int fd, const struct finalloc_region_create *rc)
{
	return mmap(NULL, rc->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, rc->offset);
}

/* A child that maps rc of fd anew (mappings are not inherited) and stops
 * under PTRACE_TRACEME, as a debugger's tracee: its pid, and in *addr where
 * the region is mapped in it; -1 if any step failed.  The caller kills and
 * reaps it. */
static inline pid_t fa_traced_child(int fd, const struct finalloc_region_create *rc,
                                    uintptr_t *addr)
{
	int pipefd[2], status;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *q = fa_map(fd, rc);
		uintptr_t a = q == MAP_FAILED ? 0 : (uintptr_t)q;

		if (write(pipefd[1], &a, sizeof(a)) != sizeof(a) || !a)
			_exit(1);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid > 0 && (read(pipefd[0], addr, sizeof(*addr)) != sizeof(*addr) || !*addr ||
	                waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(pipefd[0]);
	return pid;
}

/* A sysfs number, or -1 when the file cannot be read. */
static inline long long read_ll(const char *path)
{
	char buf[64];
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 0);
	fclose(f);
	return v;
}

static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

static inline long long fa_stat(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS "/%s", name);
	return read_ll(path);
}

static inline long long fa_node_stat(int node, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS "/node%d/%s", node, name);
	return read_ll(path);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to ms for a counter to reach want (release may be deferred). */
static inline long long fa_wait_stat(const char *name, long long want, long ms)
{
	long long v = fa_stat(name);

	for (; v != want && ms > 0; ms -= 10) {
		sleep_ms(10);
		v = fa_stat(name);
	}
	return v;
}

static inline int count_vmas(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* Nodes with memory, from the info ioctl; -1 on error. */
static inline int fa_nodes(int fd, uint64_t *mask)
{
	struct finalloc_info info;

	if (fa_info(fd, &info))
		return -1;
	*mask = info.node_mask;
	return __builtin_popcountll(info.node_mask);
}

static sigjmp_buf fa_probe_env;

static inline void fa_probe_handler(int sig)
{
	(void)sig;
	siglongjmp(fa_probe_env, 1);
}

/* True when reading (or writing, if write) *p raises SIGSEGV. */
static inline bool probe_segv(volatile char *p, bool write)
{
	struct sigaction sa = { .sa_handler = fa_probe_handler }, old;
	bool segv = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(fa_probe_env, 1)) {
		segv = true;
	} else {
		if (write)
			*p = *p;
		else
			(void)*p;
	}
	sigaction(SIGSEGV, &old, NULL);
	return segv;
}

/* Where the VM rig puts the module under test. */
#define FA_KO "/finalloc.ko"

/* rmmod and insmod of the module: 0 or an errno value. */
static inline int fa_module_unload(void)
{
	return syscall(SYS_delete_module, "finalloc", O_NONBLOCK) ? errno : 0;
}

static inline int fa_module_load(void)
{
	int fd = open(FA_KO, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? errno : 0;
	close(fd);
	return ret;
}

#endif /* FA_KMOD_UTIL_H */
