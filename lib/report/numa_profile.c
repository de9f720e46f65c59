// SPDX-License-Identifier: MIT
/*
 * NUMA profiler: per node, the library's numbers (in use, fragmented,
 * idle) merged with /sys/kernel/finalloc/node<N>/ and the system's
 * /sys/devices/system/node/node<N>/meminfo.
 */
#include "numa/numa.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uapi/linux/finalloc.h"

static void read_kstats(struct fa_numa_profile_node *pn)
{
	char dir[96], path[384];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), FINALLOC_SYSFS_PATH "/node%d", pn->node);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && pn->nr_kstats < FA_NUMA_KSTATS) {
		uint64_t v;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(pn->kstat[0].name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fa__read_u64(path, &v))
			continue;
		strcpy(pn->kstat[pn->nr_kstats].name, de->d_name);
		pn->kstat[pn->nr_kstats++].value = v;
		if (!strcmp(de->d_name, "pinned_bytes"))
			pn->kmod_pinned = v;
	}
	closedir(d);
}

static void read_meminfo(struct fa_numa_profile_node *pn)
{
	char path[96], line[160], key[64];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", pn->node);
	f = fopen(path, "re");
	if (!f)
		return;
	/* "Node 0 MemTotal:       1013000 kB"; HugePages_* are counts */
	while (fgets(line, sizeof(line), f)) {
		int node;

		if (sscanf(line, "Node %d %63[^:]: %llu", &node, key, &v) != 3)
			continue;
		if (!strcmp(key, "MemTotal"))
			pn->mem_total = v << 10;
		else if (!strcmp(key, "MemFree"))
			pn->mem_free = v << 10;
		else if (!strcmp(key, "MemUsed"))
			pn->mem_used = v << 10;
		else if (!strcmp(key, "FilePages"))
			pn->file_pages = v << 10;
		else if (!strcmp(key, "AnonPages"))
			pn->anon_pages = v << 10;
		else if (!strcmp(key, "HugePages_Total"))
			pn->huge_total = v;
		else if (!strcmp(key, "HugePages_Free"))
			pn->huge_free = v;
	}
	fclose(f);
}

/* No per-node meminfo (kernel without NUMA): the whole machine. */
static void read_global_meminfo(struct fa_numa_profile_node *pn)
{
	char line[160], key[64];
	unsigned long long v;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "MemTotal"))
			pn->mem_total = v << 10;
		else if (!strcmp(key, "MemFree"))
			pn->mem_free = v << 10;
		else if (!strcmp(key, "AnonPages"))
			pn->anon_pages = v << 10;
		else if (!strcmp(key, "Cached"))
			pn->file_pages = v << 10;
		else if (!strcmp(key, "HugePages_Total"))
			pn->huge_total = v;
		else if (!strcmp(key, "HugePages_Free"))
			pn->huge_free = v;
	}
	fclose(f);
	pn->mem_used = pn->mem_total - pn->mem_free;
}

struct collect {
	struct fa_numa *only;
	struct fa_numa_profile *p;
};

static void add_allocator(struct fa_numa *n, void *arg)
{
	struct collect *c = arg;
	struct fa_numa_profile *p = c->p;

	if (c->only && c->only != n)
		return;
	p->nr_allocators++;
	for (int i = 0; i < p->nr_nodes; i++) {
		struct fa_numa_profile_node *pn = &p->node[i];

		if (pn->node <= n->max_node && n->node[pn->node].present &&
		    n->node[pn->node].has_memory)
			fa__numa_node_usage(n, pn->node, &pn->lib);
	}
}

int fa_numa_profile(struct fa_numa *n, struct fa_numa_profile *p)
{
	const struct fa_topology *t;
	struct collect c = { n, p };
	struct timespec ts;
	int nt;

	if (!p)
		return -EINVAL;
	t = fa__numa_topo();
	if (t->nr_nodes < 1)
		return -EIO;
	memset(p, 0, sizeof(*p));
	clock_gettime(CLOCK_REALTIME, &ts);
	p->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	p->nr_nodes = t->nr_nodes;
	p->kmod_loaded = fa__read_u64(FINALLOC_SYSFS_PATH "/pinned_bytes", &p->kmod_pinned) == 0;
	if (!p->kmod_loaded) {
		FILE *f = fopen(FINALLOC_SYSFS_PATH "/version", "re");

		p->kmod_loaded = f != NULL;
		if (f)
			fclose(f);
	}
	for (int i = 0; i < t->nr_nodes; i++) {
		struct fa_numa_profile_node *pn = &p->node[i];
		int home = t->node[i].node;

		pn->node = home;
		pn->has_memory = t->node[i].has_memory;
		pn->nr_cpus = t->node[i].nr_cpus;
		pn->mem_node = home;
		if (!pn->has_memory) {
			/* nearest memory node, as fa_numa serves it */
			int best = -1;

			for (int j = 0; j < t->nr_nodes; j++)
				if (t->node[j].has_memory &&
				    (best < 0 || t->distance[i][j] < t->distance[i][best]))
					best = j;
			if (best >= 0)
				pn->mem_node = t->node[best].node;
		}
		pn->lib.node = home;
		pn->lib.mem_node = pn->mem_node;
		pn->lib.has_memory = pn->has_memory;
		for (int j = 0; j < t->nr_nodes; j++)
			p->distance[i][j] = t->distance[i][j];
		read_kstats(pn);
		if (t->numa_available)
			read_meminfo(pn);
		if (!pn->mem_total && t->nr_nodes == 1)
			read_global_meminfo(pn);
	}
	fa__numa_each(add_allocator, &c);
	nt = fa_numa_threads(NULL, 0);
	p->nr_threads = nt > 0 ? nt : 0;
	return 0;
}
