/* SPDX-License-Identifier: MIT */
/*
 * Per-node memory use for placement and leak tests (VM rig).  MemUsed
 * counts free pages parked on the per-CPU free lists, which since 5.14 also
 * hold 2 MiB pages: an allocation may take pages MemUsed already counted,
 * and a free may park them there, so tests compare MemUsed less those lists.
 */
#ifndef FA_TEST_NODE_MEMINFO_H
#define FA_TEST_NODE_MEMINFO_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Node MemUsed in bytes from /sys/devices/system/node/nodeN/meminfo. */
static inline long long node_memused(int node)
{
	char path[96], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "MemUsed:");

		if (p) {
			kb = strtoll(p + 8, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Bytes of free pages on the node's per-CPU lists (/proc/zoneinfo). */
static inline long long node_pcp_bytes(int node)
{
	char line[256];
	long long pages = 0;
	int cur = -1;
	FILE *f = fopen("/proc/zoneinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		long long n;

		if (sscanf(line, "Node %d, zone", &cur) == 1)
			continue;
		if (cur == node && sscanf(line, " count: %lld", &n) == 1)
			pages += n;
	}
	fclose(f);
	return pages * 4096;
}

/*
 * Each CPU batches its free-page counter updates (vmstat's stat_threshold,
 * tens of pages); writing stat_refresh folds them in (root), so MemUsed is
 * exact rather than some 100 KiB off.
 */
static inline void vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* EINVAL after folding negative counters is harmless */
		ssize_t r = write(fd, "1", 1);

		(void)r;
		close(fd);
	}
}

/* MemUsed without what sits on the per-CPU free lists. */
static inline long long node_used(int node)
{
	vmstat_refresh();
	return node_memused(node) - node_pcp_bytes(node);
}

static inline void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
}

#endif /* FA_TEST_NODE_MEMINFO_H */
